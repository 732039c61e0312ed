//! The meeting registry: the meeting rules (`rules`) joined to the transport
//! that carries them out: each client's control outbox, its media sockets, and
//! the media routes. Shared state behind one cheap-to-clone handle.
//!
//! Every event about a meeting is queued while the registry lock is held, so all
//! members see meeting events and chat in one order. Queueing never blocks (see
//! `outbox`), so the lock is never held across network I/O; sockets that must be
//! closed are collected and shut down after the lock is released.
//!
//! Media does not go through the lock at all: each client has a `RouteSlot` with
//! the outboxes of everyone it sends to, republished here whenever membership
//! or attachments change, and read by that client's media readers alone.

use crate::outbox::Outbox;
use crate::rules::{Effect, MeetingRules};
use bytes::Bytes;
use common::protocol::PROTOCOL_VERSION;
use common::{ClientId, Event, Frame, MediaKind, MeetingId, PerKind, Request, SessionToken};
use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::rules::validate_name;

/// Where one client's media goes: the outboxes of the other members of its
/// meeting, per kind.
#[derive(Default)]
pub struct Route {
    pub meeting: Option<MeetingId>,
    receivers: PerKind<Vec<Outbox>>,
}

impl Route {
    pub fn receivers(&self, kind: MediaKind) -> &[Outbox] {
        &self.receivers[kind]
    }
}

/// A client's current route; swapped by the registry, read by its media readers.
#[derive(Default)]
pub struct RouteSlot(Mutex<Arc<Route>>);

impl RouteSlot {
    pub fn current(&self) -> Arc<Route> {
        lock(&self.0).clone()
    }

    fn set(&self, route: Route) {
        *lock(&self.0) = Arc::new(route);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the whole server down with it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A socket the registry may have to close (absent in unit tests).
pub type Closer = Option<TcpStream>;

/// What a successful `attach` gives the media connection.
pub struct Attachment {
    pub id: u64,
    pub route: Arc<RouteSlot>,
}

struct MediaSocket {
    attachment: u64,
    outbox: Outbox,
    closer: Closer,
}

/// One client's side of the transport: where its events and media go.
struct Connection {
    token: SessionToken,
    control: Outbox,
    control_closer: Closer,
    media: PerKind<Option<MediaSocket>>,
    route: Arc<RouteSlot>,
}

#[derive(Default)]
struct State {
    rules: MeetingRules,
    next_client: u32,
    next_attachment: u64,
    connections: HashMap<ClientId, Connection>,
    closed: bool,
    /// Clients whose control queue overflowed while the lock was held.
    evictions: Vec<ClientId>,
    /// Sockets to shut down once the lock is released.
    to_close: Vec<TcpStream>,
}

/// Counts for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryCounts {
    pub clients: usize,
    pub meetings: usize,
}

/// The registry handle: clone it into every connection thread.
#[derive(Clone, Default)]
pub struct MeetingRegistry {
    state: Arc<Mutex<State>>,
}

/// Fills `buf` with secure random bytes.
fn random_bytes(buf: &mut [u8]) -> Result<(), String> {
    getrandom::fill(buf).map_err(|err| format!("no secure random source: {err}"))
}

impl MeetingRegistry {
    pub fn new() -> MeetingRegistry {
        MeetingRegistry::default()
    }

    /// Runs `op` under the lock, then deals with what it left behind: evicts
    /// clients that stopped reading and closes sockets outside the lock.
    fn with_state<T>(&self, op: impl FnOnce(&mut State) -> T) -> T {
        let (result, to_close) = {
            let mut state = lock(&self.state);
            let result = op(&mut state);
            state.carry_out();
            while let Some(id) = state.evictions.pop() {
                if state.connections.contains_key(&id) {
                    tracing::warn!(client = %id, "disconnecting a client that does not read its events");
                    state.remove_client(id, true);
                }
            }
            (result, std::mem::take(&mut state.to_close))
        };
        for socket in to_close {
            let _ = socket.shutdown(Shutdown::Both);
        }
        result
    }

    /// A new control connection said hello; queues its `welcome`.
    pub fn register(
        &self,
        name: &str,
        control: Outbox,
        closer: Closer,
    ) -> Result<ClientId, String> {
        // Limits on guessing (failed joins) are kept per address too.
        let address = closer
            .as_ref()
            .and_then(|socket| socket.peer_addr().ok())
            .map(|peer| peer.ip());
        let name = validate_name(name)?;
        let mut token = [0u8; SessionToken::BYTES];
        random_bytes(&mut token)?;
        let token = SessionToken::from_bytes(token);
        self.with_state(|state| {
            if state.closed {
                return Err("the server is shutting down".to_string());
            }
            state.next_client += 1;
            let id = ClientId(state.next_client);
            let welcome = Event::Welcome {
                protocol: PROTOCOL_VERSION,
                id,
                name: name.clone(),
                token: token.to_hex(),
            };
            let connection = Connection {
                token,
                control,
                control_closer: closer,
                media: PerKind::default(),
                route: Arc::default(),
            };
            state.connections.insert(id, connection);
            state.rules.arrive(id, name, address);
            state.rules.tell(id, welcome);
            Ok(id)
        })
    }

    /// Attaches a media socket to the session `id` if `token` is its token; an
    /// earlier socket of the same kind is closed. Queues `attached` on it.
    pub fn attach(
        &self,
        kind: MediaKind,
        id: ClientId,
        token: &SessionToken,
        outbox: Outbox,
        closer: Closer,
    ) -> Result<Attachment, String> {
        self.with_state(|state| {
            let attachment = state.next_attachment + 1;
            let client = match state.connections.get_mut(&id) {
                Some(client) if client.token.matches(token) => client,
                // The same answer for an unknown id: nothing to learn by probing.
                _ => return Err("invalid session token".to_string()),
            };
            state.next_attachment = attachment;
            let _ = outbox.push_control(event_bytes(&Event::Attached { kind }));
            let socket = MediaSocket {
                attachment,
                outbox,
                closer,
            };
            if let Some(old) = client.media[kind].replace(socket) {
                state.to_close.extend(old.closer);
            }
            let route = client.route.clone();
            state.reroute_of(id);
            Ok(Attachment {
                id: attachment,
                route,
            })
        })
    }

    /// A media socket closed; forgets it unless a newer one replaced it.
    pub fn detach(&self, id: ClientId, kind: MediaKind, attachment: u64) {
        self.with_state(|state| {
            let Some(client) = state.connections.get_mut(&id) else {
                return;
            };
            let slot = &mut client.media[kind];
            if slot
                .as_ref()
                .is_some_and(|socket| socket.attachment == attachment)
            {
                *slot = None;
                state.reroute_of(id);
            }
        })
    }

    /// The control connection of `id` ended: it leaves its meeting and its media
    /// sockets are closed.
    pub fn disconnect(&self, id: ClientId) {
        self.with_state(|state| state.remove_client(id, false))
    }

    /// Tells `id` its connection is closed for `reason`, then disconnects it.
    pub fn reject(&self, id: ClientId, reason: &str) {
        self.with_state(|state| {
            state.rules.tell(
                id,
                Event::Error {
                    message: reason.to_string(),
                },
            );
            state.remove_client(id, false);
        })
    }

    /// Media arrived from `id` while it is in no meeting: tell it once.
    pub fn media_outside_meeting(&self, id: ClientId, kind: MediaKind) {
        self.with_state(|state| state.rules.media_outside_meeting(id, kind))
    }

    /// Tells every client the server is stopping and lets them all go.
    pub fn shutdown(&self, message: &str) {
        self.with_state(|state| {
            state.closed = true;
            let everyone = state.rules.everyone();
            state.rules.tell_all(
                everyone.clone(),
                Event::Shutdown {
                    message: message.to_string(),
                },
            );
            for id in everyone {
                state.remove_client(id, false);
            }
        })
    }

    pub fn counts(&self) -> RegistryCounts {
        let state = lock(&self.state);
        RegistryCounts {
            clients: state.rules.client_count(),
            meetings: state.rules.meeting_count(),
        }
    }

    /// Queues one event for client `id`, if it is still connected.
    pub fn tell(&self, id: ClientId, event: &Event) {
        self.with_state(|state| state.rules.tell(id, event.clone()))
    }

    /// Carries out one request of client `id` after the handshake.
    pub fn handle(&self, id: ClientId, request: Request) {
        self.with_state(|state| state.rules.handle(id, request))
    }
}

/// Tells the operator how much media a receiver could not keep up with.
fn log_drops(id: ClientId, kind: MediaKind, socket: &MediaSocket) {
    let stats = socket.outbox.stats();
    let (queued, dropped) = (
        stats.queued.load(Ordering::Relaxed),
        stats.dropped.load(Ordering::Relaxed),
    );
    if dropped > 0 {
        tracing::info!(client = %id, "{kind}: dropped {dropped} of {queued} frames for this slow receiver");
    }
}

fn event_bytes(event: &Event) -> Bytes {
    Bytes::from(Frame::control(event).into_bytes())
}

impl State {
    /// Carries out what the rules asked for, in order.
    fn carry_out(&mut self) {
        for effect in self.rules.take_effects() {
            match effect {
                Effect::Tell { to, event } => {
                    let bytes = event_bytes(&event);
                    for id in to {
                        self.send(id, bytes.clone());
                    }
                }
                Effect::Reroute(meeting) => self.reroute(&meeting),
                Effect::Unroute(id) => {
                    if let Some(connection) = self.connections.get(&id) {
                        connection.route.set(Route::default());
                    }
                }
            }
        }
    }

    fn send(&mut self, to: ClientId, bytes: Bytes) {
        if let Some(connection) = self.connections.get(&to) {
            if connection.control.push_control(bytes).is_err() {
                self.evictions.push(to);
            }
        }
    }

    /// Removes a client for good; `close_control` when it is being evicted
    /// (otherwise its control writer closes the socket after the last event).
    fn remove_client(&mut self, id: ClientId, close_control: bool) {
        self.rules.depart_server(id);
        self.carry_out();
        let Some(client) = self.connections.remove(&id) else {
            return;
        };
        for (kind, socket) in client.media {
            if let Some(socket) = socket {
                log_drops(id, kind, &socket);
                self.to_close.extend(socket.closer);
            }
        }
        if close_control {
            self.to_close.extend(client.control_closer);
        }
    }

    fn reroute_of(&mut self, id: ClientId) {
        if let Some(meeting) = self.rules.meeting_of(id).cloned() {
            self.reroute(&meeting);
        }
    }

    /// Republishes the route of every member of `meeting`.
    fn reroute(&mut self, meeting: &MeetingId) {
        let members = self.rules.members(meeting);
        for &member in members {
            let mut route = Route {
                meeting: Some(meeting.clone()),
                receivers: PerKind::default(),
            };
            for other in members.iter().filter(|&&other| other != member) {
                let Some(connection) = self.connections.get(other) else {
                    continue;
                };
                for (kind, socket) in connection.media.iter() {
                    // Media the host stopped goes nowhere, whatever the
                    // member's client does.
                    if self.rules.blocked(member, kind) {
                        continue;
                    }
                    if let Some(socket) = socket {
                        route.receivers[kind].push(socket.outbox.clone());
                    }
                }
            }
            if let Some(connection) = self.connections.get(&member) {
                connection.route.set(route);
            }
        }
    }
}

#[cfg(test)]
mod tests;
