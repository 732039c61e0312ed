//! The meeting registry: the meeting rules (`rules`) joined to the transport
//! that carries them out: each client's control outbox, its media sockets, and
//! the media routes. Shared state behind one cheap-to-clone handle.
//!
//! Every event about a meeting is queued while the registry lock is held, so all
//! members see meeting events and chat in one order. Queueing never blocks (see
//! `outbox`), so the lock is never held across network I/O; sockets that must be
//! closed are collected and shut down after the lock is released.
//!
//! A session outlives a control connection that broke (an error or silence,
//! not a clean close): it is *held* for the server's hold time, still in its
//! meeting, while the client reconnects and `resume`s it. Every control event
//! queued for a session is numbered and the last ones kept (`EventLog`), and
//! its handled requests are counted, so a resume replays exactly what the
//! client missed and the client re-sends exactly what the server never read.
//! Held sessions are bounded per address and in all, and one timer ends
//! those not resumed in time (`holds`).
//!
//! Media does not go through the lock at all: each client has a `RouteSlot` with
//! the outboxes of everyone it sends to, republished here whenever membership
//! or attachments change, and read by that client's media readers alone.

use crate::layers::{ReceiverView, SenderLayers};
use crate::outbox::Outbox;
use crate::rules::{Effect, MeetingRules};
use bytes::Bytes;
use common::protocol::MAX_MEETING_MEMBERS;
use common::protocol::{PROTOCOL_VERSION, REPLAY_BYTES, REPLAY_EVENTS};
use common::{
    ClientId, Event, Frame, MediaKind, MeetingId, MemberView, PerKind, PixelSize, ReceiverLayer,
    Request, SessionToken,
};
use holds::Holds;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

pub use crate::rules::validate_name;
pub use holds::{DEFAULT_MAX_HELD, DEFAULT_MAX_HELD_PER_ADDRESS, HoldLimits};

mod holds;

/// Where one client's media goes: the outboxes of the other members of its
/// meeting, per kind.
#[derive(Default)]
pub struct Route {
    pub meeting: Option<MeetingId>,
    receivers: PerKind<Vec<RouteReceiver>>,
}

/// One receiver of a route: its socket's queue and what it draws (which
/// video layer it gets).
pub struct RouteReceiver {
    pub outbox: Outbox,
    pub view: Arc<ReceiverView>,
}

impl Route {
    pub fn receivers(&self, kind: MediaKind) -> &[RouteReceiver] {
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
    /// The layers this client's video is known to come in (video only).
    pub layers: Arc<SenderLayers>,
}

struct MediaSocket {
    attachment: u64,
    outbox: Outbox,
    closer: Closer,
}

/// The control events queued for one session, numbered from 1 (`welcome`),
/// and the last of them (at most `REPLAY_EVENTS`, `REPLAY_BYTES`) for a
/// `resume` to replay.
#[derive(Default)]
struct EventLog {
    sent: u64,
    kept: VecDeque<Bytes>,
    kept_bytes: usize,
}

impl EventLog {
    fn record(&mut self, frame: Bytes) {
        self.sent += 1;
        self.kept_bytes += frame.len();
        self.kept.push_back(frame);
        while self.kept.len() > REPLAY_EVENTS || self.kept_bytes > REPLAY_BYTES {
            match self.kept.pop_front() {
                Some(old) => self.kept_bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The events after the first `seen`; or, if some of them are no longer
    /// kept, none and how many were sent after `seen` (all of them count as
    /// lost: a tail without its start would be wrong).
    fn after(&self, seen: u64) -> Result<Vec<Bytes>, u64> {
        let seen = seen.min(self.sent);
        let before_kept = self.sent - self.kept.len() as u64;
        if seen < before_kept {
            return Err(self.sent - seen);
        }
        let skip = usize::try_from(seen - before_kept).unwrap_or(usize::MAX);
        Ok(self.kept.iter().skip(skip).cloned().collect())
    }
}

/// One client's side of the transport: where its events and media go.
struct Connection {
    token: SessionToken,
    /// None while the session is held (its control connection broke).
    control: Option<Outbox>,
    control_closer: Closer,
    /// Which control connection is the session's: each `resume` makes a new
    /// one, and what an older one reads or says is ignored.
    control_epoch: u64,
    events: EventLog,
    /// Requests read from the session's control connections and carried out.
    requests_handled: u64,
    /// Where its control connection comes from (held sessions are counted
    /// per address).
    address: Option<IpAddr>,
    media: PerKind<Option<MediaSocket>>,
    route: Arc<RouteSlot>,
    /// What it draws of the others' video (`view`).
    view: Arc<ReceiverView>,
    /// The layers its own video comes in, and what it was told to encode.
    layers: Arc<SenderLayers>,
}

#[derive(Default)]
struct State {
    rules: MeetingRules,
    holds: Holds,
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
    /// Sessions held for a resume (counted among `clients`).
    pub held: usize,
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

    /// A registry that holds broken sessions within `limits`.
    pub fn with_holds(limits: HoldLimits) -> MeetingRegistry {
        let registry = MeetingRegistry::default();
        lock(&registry.state).holds = Holds::new(limits);
        registry
    }

    /// Starts the one timer that ends held sessions not resumed in time; it
    /// stops when the registry is dropped or shut down.
    pub fn spawn_hold_timer(&self) -> std::io::Result<()> {
        let state = Arc::downgrade(&self.state);
        std::thread::Builder::new()
            .name("hold-timer".into())
            .spawn(move || run_hold_timer(&state))
            .map(drop)
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
        let address = peer_address(&closer);
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
                control: Some(control),
                control_closer: closer,
                control_epoch: 0,
                events: EventLog::default(),
                requests_handled: 0,
                address,
                media: PerKind::default(),
                route: Arc::default(),
                view: Arc::default(),
                layers: Arc::default(),
            };
            state.connections.insert(id, connection);
            state.rules.arrive(id, name, address);
            state.rules.tell(id, welcome);
            Ok(id)
        })
    }

    /// A new control connection says `resume`: if `token` is the session's,
    /// it becomes the session's control connection (closing the old one, if
    /// the server still had it), gets `resumed`, then the events after the
    /// first `events_seen` (or, if some are lost, the current state). Returns
    /// the new connection's epoch. A held session's meeting hears it is back.
    pub fn resume(
        &self,
        id: ClientId,
        token: &SessionToken,
        events_seen: u64,
        control: Outbox,
        closer: Closer,
    ) -> Result<u64, String> {
        self.with_state(|state| {
            if state.closed {
                return Err("the server is shutting down".to_string());
            }
            let client = match state.connections.get_mut(&id) {
                Some(client) if client.token.matches(token) => client,
                // As for attach: nothing to learn by probing.
                _ => return Err("invalid session token".to_string()),
            };
            client.control_epoch += 1;
            let epoch = client.control_epoch;
            client.address = peer_address(&closer).or(client.address);
            if let Some(old) = std::mem::replace(&mut client.control_closer, closer) {
                state.to_close.push(old);
            }
            let held = state.holds.release(id);
            let replay = client.events.after(events_seen);
            let events_lost = replay.as_ref().err().copied().unwrap_or(0);
            let name = state.rules.name_of(id).unwrap_or_default();
            let resumed = Event::Resumed {
                id,
                name,
                requests_handled: client.requests_handled,
                events_lost,
            };
            // Not numbered: it is about the connection, not the session.
            let _ = control.push_control(event_bytes(&resumed));
            for frame in replay.unwrap_or_default() {
                let _ = control.push_control(frame);
            }
            // The old outbox goes: its writer ends after what it holds.
            client.control = Some(control);
            if events_lost > 0
                && let Some(snapshot) = state.rules.snapshot(id)
            {
                state.rules.tell(id, snapshot);
            }
            if held {
                state.rules.back(id);
            }
            Ok(epoch)
        })
    }

    /// The control connection `epoch` of `id` broke (an error or silence,
    /// not a clean close): the session is held, its meeting told it is
    /// reconnecting, and the hold timer ends it if it is not resumed in
    /// time. Held sessions over their bounds (per address, in all) end now,
    /// oldest first. Returns false if that connection was no longer the
    /// session's, or nothing is held (the hold is zero: it is removed now).
    pub fn control_broke(&self, id: ClientId, epoch: u64) -> bool {
        self.with_state(|state| {
            let Some(client) = state.connections.get_mut(&id) else {
                return false;
            };
            if client.control_epoch != epoch || state.holds.is_held(id) {
                return false;
            }
            if !state.holds.enabled() || state.closed {
                state.remove_client(id, true);
                return false;
            }
            client.control = None;
            state.to_close.extend(client.control_closer.take());
            let address = client.address;
            let evicted = state.holds.hold(id, address, Instant::now());
            state.rules.reconnecting(id);
            for old in evicted {
                tracing::info!(client = %old, "released a held session to make room for another");
                state.remove_client(old, false);
            }
            true
        })
    }

    /// The control connection `epoch` of `id` closed cleanly: the session
    /// ends, unless a resume replaced that connection.
    pub fn control_closed(&self, id: ClientId, epoch: u64) {
        self.with_state(|state| {
            if state
                .connections
                .get(&id)
                .is_some_and(|client| client.control_epoch == epoch)
            {
                state.remove_client(id, false);
            }
        })
    }

    /// Ends the held sessions whose time is up at `now`; returns when the
    /// next one's is.
    pub fn expire_holds(&self, now: Instant) -> Option<Instant> {
        self.with_state(|state| {
            for id in state.holds.due(now) {
                tracing::info!(client = %id, "not resumed in time: removed");
                state.remove_client(id, false);
            }
            state.holds.next_due()
        })
    }

    fn is_closed(&self) -> bool {
        lock(&self.state).closed
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
            if kind == MediaKind::Video {
                // A new socket has been told nothing: `reroute` tells it.
                client.layers.reset();
            }
            let route = client.route.clone();
            let layers = client.layers.clone();
            state.reroute_of(id);
            Ok(Attachment {
                id: attachment,
                route,
                layers,
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
        lock(&self.state).counts()
    }

    /// Queues one event for client `id`, if it is still connected.
    pub fn tell(&self, id: ClientId, event: &Event) {
        self.with_state(|state| state.rules.tell(id, event.clone()))
    }

    /// Carries out one request of client `id` after the handshake.
    pub fn handle(&self, id: ClientId, request: Request) {
        self.with_state(|state| {
            if let Some(client) = state.connections.get_mut(&id) {
                client.requests_handled += 1;
            }
            state.rules.handle(id, request)
        })
    }

    /// Carries out a request read from control connection `epoch` of `id`,
    /// unless a resume replaced that connection (the client sends it again
    /// on the new one); `server_stats` is answered with `report`.
    pub fn handle_from(
        &self,
        id: ClientId,
        epoch: u64,
        request: Request,
        report: impl FnOnce(RegistryCounts) -> Event,
    ) {
        self.with_state(|state| {
            let Some(client) = state.connections.get_mut(&id) else {
                return;
            };
            if client.control_epoch != epoch {
                return;
            }
            client.requests_handled += 1;
            match request {
                Request::ServerStats => {
                    let counts = state.counts();
                    let mut event = report(counts);
                    if let Event::ServerStats(report) = &mut event {
                        report.layers = state.layers_in_meeting_of(id);
                        report.layer_totals = state.layer_totals();
                    }
                    state.rules.tell(id, event);
                }
                Request::View { sizes, others } => {
                    if state.rules.spend_request(id) {
                        state.set_view(id, sizes, others);
                    }
                }
                request => state.rules.handle(id, request),
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

fn peer_address(closer: &Closer) -> Option<IpAddr> {
    closer
        .as_ref()
        .and_then(|socket| socket.peer_addr().ok())
        .map(|peer| peer.ip().to_canonical())
}

/// The longest the hold timer sleeps: a hold that starts while it sleeps
/// ends at most this late (holds are tens of seconds).
const HOLD_TIMER_TICK: Duration = Duration::from_millis(250);

/// Ends held sessions as their time comes, until the registry goes away.
fn run_hold_timer(state: &Weak<Mutex<State>>) {
    loop {
        let Some(state) = state.upgrade() else {
            return;
        };
        let registry = MeetingRegistry { state };
        let now = Instant::now();
        let next = registry.expire_holds(now);
        if registry.is_closed() {
            return;
        }
        drop(registry);
        let sleep = next.map_or(HOLD_TIMER_TICK, |next| next.saturating_duration_since(now));
        std::thread::sleep(sleep.clamp(Duration::from_millis(1), HOLD_TIMER_TICK));
    }
}

impl State {
    fn counts(&self) -> RegistryCounts {
        RegistryCounts {
            clients: self.rules.client_count(),
            meetings: self.rules.meeting_count(),
            held: self.holds.len(),
        }
    }

    /// Carries out what the rules asked for, in order.
    fn carry_out(&mut self) {
        // Routes change before anyone is told: a member told it was stopped
        // (or removed, or let in) may act on it at once, and its next frame
        // must already meet the new routes.
        let (tells, routes): (Vec<Effect>, Vec<Effect>) = self
            .rules
            .take_effects()
            .into_iter()
            .partition(|effect| matches!(effect, Effect::Tell { .. }));
        for effect in routes.into_iter().chain(tells) {
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

    /// Numbers and keeps an event for `to`, and queues it unless its
    /// session is held.
    fn send(&mut self, to: ClientId, bytes: Bytes) {
        if let Some(connection) = self.connections.get_mut(&to) {
            connection.events.record(bytes.clone());
            if let Some(control) = &connection.control
                && control.push_control(bytes).is_err()
            {
                self.evictions.push(to);
            }
        }
    }

    /// Removes a client for good; `close_control` when it is being evicted
    /// (otherwise its control writer closes the socket after the last event).
    fn remove_client(&mut self, id: ClientId, close_control: bool) {
        self.holds.release(id);
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

    /// `id` says what it draws of each member (`view`); every sender of its
    /// meeting may now have to encode other layers.
    fn set_view(&mut self, id: ClientId, sizes: Vec<MemberView>, others: Option<PixelSize>) {
        if sizes.len() > MAX_MEETING_MEMBERS {
            let message = format!(
                "view: at most {MAX_MEETING_MEMBERS} sizes (one per member); this one was not carried out"
            );
            return self.rules.tell(id, Event::Error { message });
        }
        let Some(client) = self.connections.get(&id) else {
            return;
        };
        let sizes = sizes
            .into_iter()
            .map(|view| (view.member, PixelSize::new(view.width, view.height)))
            .collect();
        client.view.set(sizes, others);
        if let Some(meeting) = self.rules.meeting_of(id).cloned() {
            self.announce_layers(&meeting);
        }
    }

    /// Tells every member of `meeting` that sends video which layers its
    /// receivers want now, if that changed.
    fn announce_layers(&self, meeting: &MeetingId) {
        let members = self.rules.members(meeting);
        for &sender in members {
            let Some(connection) = self.connections.get(&sender) else {
                continue;
            };
            let Some(socket) = &connection.media[MediaKind::Video] else {
                continue;
            };
            let views = members
                .iter()
                .filter(|&&other| other != sender && !self.rules.blocked(sender, MediaKind::Video))
                .filter_map(|other| self.connections.get(other))
                .filter(|other| other.media[MediaKind::Video].is_some())
                .map(|other| &*other.view);
            let wanted = crate::layers::wanted(sender, connection.layers.full(), views);
            connection.layers.announce(wanted, |wanted| {
                let event = Event::Layers {
                    kind: MediaKind::Video,
                    wanted,
                };
                let _ = socket.outbox.push_control(event_bytes(&event));
            });
        }
    }

    /// What each receiver in `id`'s meeting gets of each sender, and why.
    fn layers_in_meeting_of(&self, id: ClientId) -> Vec<ReceiverLayer> {
        let Some(meeting) = self.rules.meeting_of(id) else {
            return Vec::new();
        };
        let members = self.rules.members(meeting);
        let mut layers = Vec::new();
        for &receiver in members {
            let Some(connection) = self.connections.get(&receiver) else {
                continue;
            };
            if connection.media[MediaKind::Video].is_none() {
                continue;
            }
            for &sender in members.iter().filter(|&&sender| sender != receiver) {
                let sends = self
                    .connections
                    .get(&sender)
                    .is_some_and(|c| c.media[MediaKind::Video].is_some());
                if !sends {
                    continue;
                }
                let report = connection.view.report(receiver, sender);
                if self.rules.sharing(sender, MediaKind::Video) || report.layer.is_some() {
                    layers.push(report);
                }
            }
        }
        layers
    }

    /// How many receiver-sender pairs on the server get each layer.
    fn layer_totals(&self) -> std::collections::BTreeMap<String, u64> {
        let mut totals = std::collections::BTreeMap::new();
        for meeting in self.rules.meeting_ids() {
            let members = self.rules.members(&meeting);
            for &receiver in members {
                let Some(connection) = self.connections.get(&receiver) else {
                    continue;
                };
                if connection.media[MediaKind::Video].is_none() {
                    continue;
                }
                for &sender in members.iter().filter(|&&s| s != receiver) {
                    let report = connection.view.report(receiver, sender);
                    if !self.rules.sharing(sender, MediaKind::Video) && report.layer.is_none() {
                        continue;
                    }
                    let name = report.layer.map_or("none", |layer| layer.name());
                    *totals.entry(name.to_string()).or_insert(0) += 1;
                    if report.held_down > 0 {
                        *totals.entry("held_down".to_string()).or_insert(0) += 1;
                    }
                }
            }
        }
        totals
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
                        route.receivers[kind].push(RouteReceiver {
                            outbox: socket.outbox.clone(),
                            view: connection.view.clone(),
                        });
                    }
                }
            }
            if let Some(connection) = self.connections.get(&member) {
                connection.route.set(route);
            }
        }
        self.announce_layers(meeting);
    }
}

#[cfg(test)]
mod tests;
