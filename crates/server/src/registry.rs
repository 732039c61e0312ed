//! The meeting registry: who is connected, which meetings exist, who is in them
//! and who shares what. Shared state behind one cheap-to-clone handle.
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
use bytes::Bytes;
use common::protocol::{
    MAX_CHAT_BYTES, MAX_LISTED_MEETINGS, MAX_MEETING_MEMBERS, MAX_NAME_CHARS, PROTOCOL_VERSION,
};
use common::{
    ClientId, Event, Frame, MediaKind, MeetingId, MeetingSummary, MemberInfo, MemberRef, Request,
    SessionToken,
};
use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where one client's media goes: the outboxes of the other members of its
/// meeting, per kind.
#[derive(Default)]
pub struct Route {
    pub meeting: Option<MeetingId>,
    receivers: [Vec<Outbox>; 2],
}

impl Route {
    pub fn receivers(&self, kind: MediaKind) -> &[Outbox] {
        &self.receivers[kind.index()]
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

struct Client {
    name: String,
    token: SessionToken,
    control: Outbox,
    control_closer: Closer,
    media: [Option<MediaSocket>; 2],
    sharing: [bool; 2],
    meeting: Option<MeetingId>,
    warned_outside: [bool; 2],
    route: Arc<RouteSlot>,
}

impl Client {
    /// Forgets the client's meeting: its media goes nowhere, and media sent
    /// outside a meeting is worth one warning again.
    fn leave_meeting(&mut self) -> Option<MeetingId> {
        let meeting = self.meeting.take()?;
        self.warned_outside = [false, false];
        self.route.set(Route::default());
        Some(meeting)
    }
}

struct Meeting {
    host: ClientId,
    /// In order of arrival: the first is the next host.
    members: Vec<ClientId>,
    created: u64,
}

#[derive(Default)]
struct State {
    next_client: u32,
    next_attachment: u64,
    next_meeting: u64,
    clients: HashMap<ClientId, Client>,
    meetings: HashMap<MeetingId, Meeting>,
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

/// Checks a display name: what a person would want to see in a member list.
pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(format!(
            "a name must be 1 to {MAX_NAME_CHARS} characters, without control characters"
        ));
    }
    Ok(name.to_string())
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
            while let Some(id) = state.evictions.pop() {
                if state.clients.contains_key(&id) {
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
            let client = Client {
                name,
                token,
                control,
                control_closer: closer,
                media: [None, None],
                sharing: [false, false],
                meeting: None,
                warned_outside: [false, false],
                route: Arc::default(),
            };
            state.clients.insert(id, client);
            state.tell(id, &welcome);
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
            let client = match state.clients.get_mut(&id) {
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
            if let Some(old) = client.media[kind.index()].replace(socket) {
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
            let Some(client) = state.clients.get_mut(&id) else {
                return;
            };
            let slot = &mut client.media[kind.index()];
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
            state.tell(
                id,
                &Event::Error {
                    message: reason.to_string(),
                },
            );
            state.remove_client(id, false);
        })
    }

    /// Media arrived from `id` while it is in no meeting: tell it once.
    pub fn media_outside_meeting(&self, id: ClientId, kind: MediaKind) {
        self.with_state(|state| {
            let Some(client) = state.clients.get_mut(&id) else { return };
            if client.meeting.is_none() && !client.warned_outside[kind.index()] {
                client.warned_outside[kind.index()] = true;
                let message = format!("you are not in a meeting: {kind} frames go nowhere until you create or join one");
                state.tell(id, &Event::Error { message });
            }
        })
    }

    /// Tells every client the server is stopping and lets them all go.
    pub fn shutdown(&self, message: &str) {
        self.with_state(|state| {
            state.closed = true;
            let everyone: Vec<ClientId> = state.clients.keys().copied().collect();
            state.tell_all(
                &everyone,
                &Event::Shutdown {
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
            clients: state.clients.len(),
            meetings: state.meetings.len(),
        }
    }

    /// Queues one event for client `id`, if it is still connected.
    pub fn tell(&self, id: ClientId, event: &Event) {
        self.with_state(|state| state.tell(id, event))
    }

    /// Carries out one request of client `id` after the handshake.
    pub fn handle(&self, id: ClientId, request: Request) {
        self.with_state(|state| {
            if !state.clients.contains_key(&id) {
                return;
            }
            let result = match request {
                Request::Create => state.create(id),
                Request::Join { meeting } => state.join(id, &meeting),
                Request::Leave => state.leave(id),
                Request::Cancel => state.cancel(id),
                Request::Meetings => state.list_meetings(id),
                Request::Members => state.list_members(id),
                Request::Chat { text } => state.chat(id, text),
                Request::Media { kind, on } => state.set_sharing(id, kind, on),
                Request::ServerStats => {
                    Err("server_stats is answered by the connection, not the registry".to_string())
                }
                Request::Hello { .. } | Request::Attach { .. } => Err(
                    "hello and attach are only valid as the first message of a connection"
                        .to_string(),
                ),
            };
            if let Err(message) = result {
                state.tell(id, &Event::Error { message });
            }
        })
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

const NOT_IN_MEETING: &str = "you are not in a meeting: /create one or /join ID first";

impl State {
    fn tell(&mut self, to: ClientId, event: &Event) {
        self.send(to, event_bytes(event));
    }

    fn tell_all(&mut self, to: &[ClientId], event: &Event) {
        let bytes = event_bytes(event);
        for &id in to {
            self.send(id, bytes.clone());
        }
    }

    fn send(&mut self, to: ClientId, bytes: Bytes) {
        if let Some(client) = self.clients.get(&to) {
            if client.control.push_control(bytes).is_err() {
                self.evictions.push(to);
            }
        }
    }

    fn member_ref(&self, id: ClientId) -> MemberRef {
        let name = self
            .clients
            .get(&id)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        MemberRef { id, name }
    }

    fn members_of(&self, meeting: &MeetingId) -> Vec<MemberInfo> {
        let Some(m) = self.meetings.get(meeting) else {
            return Vec::new();
        };
        m.members
            .iter()
            .filter_map(|id| {
                let c = self.clients.get(id)?;
                Some(MemberInfo {
                    id: *id,
                    name: c.name.clone(),
                    host: m.host == *id,
                    video: c.sharing[MediaKind::Video.index()],
                    audio: c.sharing[MediaKind::Audio.index()],
                })
            })
            .collect()
    }

    fn current_meeting(&self, id: ClientId) -> Result<MeetingId, String> {
        self.clients
            .get(&id)
            .and_then(|c| c.meeting.clone())
            .ok_or_else(|| NOT_IN_MEETING.to_string())
    }

    fn ensure_not_in_meeting(&self, id: ClientId) -> Result<(), String> {
        match self.clients.get(&id).and_then(|c| c.meeting.as_ref()) {
            Some(meeting) => Err(format!(
                "you are already in meeting {meeting}: /leave it first"
            )),
            None => Ok(()),
        }
    }

    fn new_meeting_id(&self) -> Result<MeetingId, String> {
        loop {
            let mut bytes = [0u8; 16];
            random_bytes(&mut bytes)?;
            if let Some(id) = MeetingId::from_random_bytes(&bytes) {
                if !self.meetings.contains_key(&id) {
                    return Ok(id);
                }
            }
        }
    }

    fn create(&mut self, id: ClientId) -> Result<(), String> {
        self.ensure_not_in_meeting(id)?;
        let meeting = self.new_meeting_id()?;
        self.next_meeting += 1;
        self.meetings.insert(
            meeting.clone(),
            Meeting {
                host: id,
                members: vec![id],
                created: self.next_meeting,
            },
        );
        self.enter(id, &meeting);
        self.tell(
            id,
            &Event::Created {
                meeting: meeting.clone(),
            },
        );
        let members = self.members_of(&meeting);
        self.tell(id, &Event::Joined { meeting, members });
        Ok(())
    }

    fn join(&mut self, id: ClientId, requested: &str) -> Result<(), String> {
        let unknown = || {
            format!(
                "there is no meeting '{requested}' (ids look like k7m-q2x; /meetings lists them)"
            )
        };
        let meeting = MeetingId::parse(requested).ok_or_else(unknown)?;
        if self.clients.get(&id).and_then(|c| c.meeting.as_ref()) == Some(&meeting) {
            return Err(format!("you are already in meeting {meeting}"));
        }
        self.ensure_not_in_meeting(id)?;
        let m = self.meetings.get_mut(&meeting).ok_or_else(unknown)?;
        if m.members.len() >= MAX_MEETING_MEMBERS {
            return Err(format!(
                "meeting {meeting} is full ({MAX_MEETING_MEMBERS} members)"
            ));
        }
        let others = m.members.clone();
        m.members.push(id);
        self.enter(id, &meeting);
        let member = self.member_ref(id);
        self.tell_all(
            &others,
            &Event::MemberJoined {
                meeting: meeting.clone(),
                member,
            },
        );
        let members = self.members_of(&meeting);
        self.tell(id, &Event::Joined { meeting, members });
        Ok(())
    }

    fn enter(&mut self, id: ClientId, meeting: &MeetingId) {
        if let Some(client) = self.clients.get_mut(&id) {
            client.meeting = Some(meeting.clone());
            client.warned_outside = [false, false];
        }
        self.reroute(meeting);
    }

    fn leave(&mut self, id: ClientId) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        self.depart(id);
        self.tell(id, &Event::Left { meeting });
        Ok(())
    }

    /// Takes `id` out of its meeting: the others are told, the host role passes
    /// on, an empty meeting is removed.
    fn depart(&mut self, id: ClientId) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let Some(meeting) = client.leave_meeting() else {
            return;
        };
        let Some(m) = self.meetings.get_mut(&meeting) else {
            return;
        };
        m.members.retain(|member| *member != id);
        let Some(&successor) = m.members.first() else {
            self.meetings.remove(&meeting);
            return;
        };
        let host_left = m.host == id;
        if host_left {
            m.host = successor;
        }
        let remaining = m.members.clone();
        let member = self.member_ref(id);
        self.tell_all(
            &remaining,
            &Event::MemberLeft {
                meeting: meeting.clone(),
                member,
            },
        );
        if host_left {
            let host = self.member_ref(successor);
            self.tell_all(
                &remaining,
                &Event::HostChanged {
                    meeting: meeting.clone(),
                    host,
                },
            );
        }
        self.reroute(&meeting);
    }

    fn cancel(&mut self, id: ClientId) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        let host = self.meetings.get(&meeting).map(|m| m.host);
        if host != Some(id) {
            let host_name = host.map(|h| self.member_ref(h).name).unwrap_or_default();
            return Err(format!(
                "only the host ({host_name}) can cancel meeting {meeting}; /leave leaves it"
            ));
        }
        let members = self
            .meetings
            .remove(&meeting)
            .map(|m| m.members)
            .unwrap_or_default();
        self.tell_all(&members, &Event::Ended { meeting });
        for member in members {
            if let Some(client) = self.clients.get_mut(&member) {
                client.leave_meeting();
            }
        }
        Ok(())
    }

    fn list_meetings(&mut self, id: ClientId) -> Result<(), String> {
        let mut meetings: Vec<(&MeetingId, &Meeting)> = self.meetings.iter().collect();
        meetings.sort_by_key(|(_, m)| m.created);
        let total = meetings.len();
        let meetings = meetings
            .into_iter()
            .take(MAX_LISTED_MEETINGS)
            .map(|(meeting, m)| {
                let host = self.member_ref(m.host);
                MeetingSummary {
                    id: meeting.clone(),
                    host: host.name,
                    host_id: host.id,
                    members: m.members.len(),
                }
            })
            .collect();
        self.tell(id, &Event::Meetings { meetings, total });
        Ok(())
    }

    fn list_members(&mut self, id: ClientId) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        let members = self.members_of(&meeting);
        self.tell(id, &Event::Members { meeting, members });
        Ok(())
    }

    fn chat(&mut self, id: ClientId, text: String) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        if text.trim().is_empty() {
            return Err("an empty chat message was not sent".to_string());
        }
        if text.len() > MAX_CHAT_BYTES {
            return Err(format!(
                "a chat message is at most {MAX_CHAT_BYTES} bytes (this one has {})",
                text.len()
            ));
        }
        if text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(
                "a chat message cannot contain control characters or line breaks".to_string(),
            );
        }
        let from = self.member_ref(id);
        let members = self
            .meetings
            .get(&meeting)
            .map(|m| m.members.clone())
            .unwrap_or_default();
        self.tell_all(
            &members,
            &Event::Chat {
                meeting,
                from: from.name,
                from_id: id,
                text,
            },
        );
        Ok(())
    }

    fn set_sharing(&mut self, id: ClientId, kind: MediaKind, on: bool) -> Result<(), String> {
        let Some(client) = self.clients.get_mut(&id) else {
            return Ok(());
        };
        let changed = client.sharing[kind.index()] != on;
        client.sharing[kind.index()] = on;
        let Some(meeting) = client.meeting.clone() else {
            return Ok(());
        };
        if changed {
            let members = self
                .meetings
                .get(&meeting)
                .map(|m| m.members.clone())
                .unwrap_or_default();
            let member = self.member_ref(id);
            self.tell_all(
                &members,
                &Event::Media {
                    meeting,
                    member,
                    kind,
                    on,
                },
            );
        }
        Ok(())
    }

    /// Removes a client for good; `close_control` when it is being evicted
    /// (otherwise its control writer closes the socket after the last event).
    fn remove_client(&mut self, id: ClientId, close_control: bool) {
        self.depart(id);
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        for (kind, socket) in MediaKind::ALL.into_iter().zip(client.media) {
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
        if let Some(meeting) = self.clients.get(&id).and_then(|c| c.meeting.clone()) {
            self.reroute(&meeting);
        }
    }

    /// Republishes the route of every member of `meeting`.
    fn reroute(&mut self, meeting: &MeetingId) {
        let Some(m) = self.meetings.get(meeting) else {
            return;
        };
        for &member in &m.members {
            let mut route = Route {
                meeting: Some(meeting.clone()),
                receivers: Default::default(),
            };
            for &other in m.members.iter().filter(|&&other| other != member) {
                let Some(client) = self.clients.get(&other) else {
                    continue;
                };
                for kind in MediaKind::ALL {
                    if let Some(socket) = &client.media[kind.index()] {
                        route.receivers[kind.index()].push(socket.outbox.clone());
                    }
                }
            }
            if let Some(client) = self.clients.get(&member) {
                client.route.set(route);
            }
        }
    }
}

#[cfg(test)]
mod tests;
