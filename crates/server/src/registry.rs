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
//! the outboxes of everyone it sends to, republished whenever membership
//! or attachments change, and read by that client's media readers alone.
//!
//! On a server of a cluster, the handle also holds the `Cluster`: the rules
//! consult it (as `Elsewhere`) under the lock, which costs a look in its
//! directory and never a wait on the network; claiming a new meeting's id,
//! which does wait, happens before the lock is taken.
//!
//! This file is the handle and what it carries out; its parts each own one
//! thing: `session` a client's side of the transport, `event_log` the events
//! kept for a resume, `holds` the held sessions, and `routes` where media
//! goes (and, through `crate::layers`, which video layers); on a server of
//! a cluster, `spans` the meetings that span servers and `departures` what
//! becomes of them when a server goes away.

use crate::cluster::{self, Cluster};
use crate::outbox::Outbox;
use crate::rules::{Effect, MeetingRules};
use bytes::Bytes;
use common::protocol::PROTOCOL_VERSION;
use common::{ClientId, Event, Frame, MediaKind, MeetingSummary, Request, SessionToken};
// A panic elsewhere must not take the whole server down with it.
use common::sync::lock;
use holds::Holds;
use session::{MediaSocket, Session, log_drops, peer_address};
use std::collections::{HashMap, HashSet};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

pub use crate::rules::validate_name;
pub use holds::{DEFAULT_MAX_HELD, DEFAULT_MAX_HELD_PER_ADDRESS, HoldLimits};
pub use routes::{Route, RouteReceiver, RouteSlot};
pub use session::{Attachment, Closer};

mod departures;
mod event_log;
mod handover;
mod holds;
mod returns;
mod routes;
mod session;
mod spans;

#[derive(Default)]
struct State {
    rules: MeetingRules,
    holds: Holds,
    next_client: u32,
    next_attachment: u64,
    sessions: HashMap<ClientId, Session>,
    closed: bool,
    /// Clients whose control queue overflowed while the lock was held.
    evictions: Vec<ClientId>,
    /// Sockets to shut down once the lock is released.
    to_close: Vec<TcpStream>,
    /// On a server of a cluster (`spans`): members of other servers seated
    /// in meetings held here, and the meetings that span servers.
    cluster: Option<Arc<Cluster>>,
    seats: HashSet<ClientId>,
    spans: HashMap<common::MeetingId, spans::Span>,
    /// Members whose meeting's holder handed it over, to rejoin it.
    stranded: Vec<departures::Stranded>,
    /// Each meeting's speaker selection (who is heard).
    speakers: crate::speakers::Selections,
}

/// What the cluster gave a request before the lock was taken.
#[derive(Default)]
struct Prepared {
    claimed: Option<common::MeetingId>,
    handoff: Option<(common::MeetingId, crate::rules::Handoff)>,
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
    cluster: Option<Arc<Cluster>>,
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

    /// A registry in which each receiver hears the `slots` loudest speakers
    /// of its meeting (0: everyone).
    pub fn with_speakers(self, slots: usize) -> MeetingRegistry {
        lock(&self.state).speakers = crate::speakers::Selections::new(slots);
        self
    }

    /// The registry of a server of `cluster`.
    pub fn in_cluster(mut self, cluster: Arc<Cluster>) -> MeetingRegistry {
        {
            let mut state = lock(&self.state);
            state.rules.give_standing_tickets();
            state.rules.keep_chat_in_cluster();
            state.cluster = Some(cluster.clone());
        }
        self.cluster = Some(cluster);
        self
    }

    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Every meeting's line, private ones too, with its standing handoff
    /// (what the cluster is told).
    pub fn cluster_lines(&self) -> Vec<(MeetingSummary, Option<crate::rules::Handoff>)> {
        let state = lock(&self.state);
        let mut handoffs = state.rules.standing_handoffs();
        state
            .rules
            .summaries()
            .into_iter()
            .map(|summary| {
                let handoff = handoffs.remove(&summary.id);
                (summary, handoff)
            })
            .collect()
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
            state.end_idle_seats();
            while let Some(id) = state.evictions.pop() {
                if state.sessions.contains_key(&id) {
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
        self.register_returning(name, None, control, closer)
    }

    /// `register`, for a client that says who it was on a server of the
    /// cluster that died: proved, it keeps that id (`returns`).
    pub fn register_returning(
        &self,
        name: &str,
        returning: Option<&common::Returning>,
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
            let hex_token = token.to_hex();
            let session = Session::new(token, Some(control), closer, address);
            let returned = returning.and_then(|returning| state.returning_id(returning));
            let id = match returned {
                Some(id) => {
                    state.bring_seat_home(id, session);
                    id
                }
                None => {
                    let id = state.new_client_id();
                    state.sessions.insert(id, session);
                    id
                }
            };
            // A seat coming home is in its meeting under its name there.
            let name = match state.rules.name_of(id) {
                Some(seated) => seated,
                None => {
                    state.rules.arrive(id, name.clone(), address);
                    name
                }
            };
            let welcome = Event::Welcome {
                protocol: PROTOCOL_VERSION,
                id,
                name,
                token: hex_token,
            };
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
            let client = match state.sessions.get_mut(&id) {
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
            if events_lost > 0 {
                for event in state.rules.snapshot(id) {
                    state.rules.tell(id, event);
                }
            }
            if held {
                state.rules.back(id);
                state.tell_seat(id, |client| cluster::wire::Relay::Back { client });
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
            let Some(client) = state.sessions.get_mut(&id) else {
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
            state.tell_seat(id, |client| cluster::wire::Relay::Held { client });
            state.hold(id);
            true
        })
    }

    /// The control connection `epoch` of `id` closed cleanly: the session
    /// ends, unless a resume replaced that connection.
    pub fn control_closed(&self, id: ClientId, epoch: u64) {
        self.with_state(|state| {
            if state
                .sessions
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
                state.end_seat(id);
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
            let client = match state.sessions.get_mut(&id) {
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
            let Some(client) = state.sessions.get_mut(&id) else {
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
        let prepared = self.prepare(id, &request);
        self.with_state(|state| {
            if let Some(client) = state.sessions.get_mut(&id) {
                client.requests_handled += 1;
            }
            if !state.pass_on(id, &request, prepared.handoff.is_some()) {
                state.handle(id, request, prepared, self.cluster.as_deref())
            }
        })
    }

    /// What a request needs from the cluster before the lock is taken: an
    /// id claimed for a meeting it creates, the handoff of a meeting it
    /// rejoins.
    fn prepare(&self, id: ClientId, request: &Request) -> Prepared {
        Prepared {
            claimed: self.claim_for(id, request),
            handoff: self.handoff_for(request),
        }
    }

    /// On a server of a cluster, an id for the meeting `request` creates,
    /// claimed across the cluster before the lock is taken.
    fn claim_for(&self, id: ClientId, request: &Request) -> Option<common::MeetingId> {
        let cluster = self.cluster.as_ref()?;
        let Request::Create { passcode } = request else {
            return None;
        };
        let host = lock(&self.state).rules.name_of(id)?;
        cluster.claim_meeting_id(id, &host, passcode.is_some())
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
        let prepared = self.prepare(id, &request);
        let cluster = self.cluster.as_deref();
        self.with_state(|state| {
            let Some(client) = state.sessions.get_mut(&id) else {
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
                        report.cluster = cluster.map(|c| c.report(counts.meetings));
                    }
                    state.rules.tell(id, event);
                }
                Request::View { sizes, others } => {
                    if state.rules.spend_request(id) {
                        state.set_view(id, sizes, others);
                    }
                }
                request if state.pass_on(id, &request, prepared.handoff.is_some()) => {}
                request => state.handle(id, request, prepared, cluster),
            }
        })
    }
}

fn event_bytes(event: &Event) -> Bytes {
    Bytes::from(Frame::control(event).into_bytes())
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
        let registry = MeetingRegistry {
            state,
            cluster: None,
        };
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
    /// Hands `request` to the rules: with the cluster's view of the other
    /// servers' meetings, and the id it claimed if it creates one.
    fn handle(
        &mut self,
        id: ClientId,
        request: Request,
        prepared: Prepared,
        cluster: Option<&Cluster>,
    ) {
        if let Some(meeting) = prepared.claimed {
            self.rules.use_claimed_id(meeting);
        }
        if let Some((meeting, handoff)) = prepared.handoff {
            self.rules.expect_handoff(meeting, handoff);
        }
        match cluster {
            Some(cluster) => self.rules.handle_in_cluster(id, request, cluster),
            None => self.rules.handle(id, request),
        }
    }

    fn counts(&self) -> RegistryCounts {
        RegistryCounts {
            clients: self.rules.client_count(),
            meetings: self.rules.meeting_count(),
            held: self.holds.len(),
        }
    }

    /// The next id for a new client. In a cluster the count starts at a
    /// random place: a member who came back through another server keeps
    /// its id there, and this server's block may be claimed again by the
    /// server that gave it, restarted.
    fn new_client_id(&mut self) -> ClientId {
        let Some(cluster) = &self.cluster else {
            self.next_client += 1;
            return ClientId(self.next_client);
        };
        if self.next_client == 0 {
            let mut start = [0u8; 4];
            let _ = getrandom::fill(&mut start);
            self.next_client = u32::from_le_bytes(start) % (1 << 20);
        }
        self.next_client += 1;
        ClientId(cluster.ids().id(self.next_client))
    }

    /// Carries out what the rules asked for, in order, and what that asked
    /// for in turn.
    fn carry_out(&mut self) {
        loop {
            let effects = self.rules.take_effects();
            if effects.is_empty() {
                return;
            }
            self.carry_out_these(effects);
        }
    }

    fn carry_out_these(&mut self, effects: Vec<Effect>) {
        // Routes change before anyone is told: a member told it was stopped
        // (or removed, or let in) may act on it at once, and its next frame
        // must already meet the new routes.
        let (tells, routes): (Vec<Effect>, Vec<Effect>) = effects
            .into_iter()
            .partition(|effect| matches!(effect, Effect::Tell { .. }));
        for effect in routes.into_iter().chain(tells) {
            match effect {
                Effect::Tell { to, event } => {
                    let bytes = event_bytes(&event);
                    for id in to {
                        if let Some(session::Link::SeatOf(server)) =
                            self.sessions.get(&id).map(|s| &s.link)
                        {
                            // The seat's own server is not stopping: its
                            // member hears it has no seat here (`Unseat`).
                            if matches!(event, Event::Shutdown { .. }) {
                                continue;
                            }
                            let relay = cluster::wire::Relay::Tell {
                                client: id,
                                event: event.clone(),
                            };
                            self.relay(server, &relay);
                            continue;
                        }
                        if matches!(event, Event::Ticket { .. }) {
                            self.tell_cluster_servers(id);
                        }
                        self.send(id, bytes.clone());
                    }
                }
                Effect::Reroute(meeting) => self.reroute(&meeting),
                Effect::Unroute(id) => {
                    if let Some(connection) = self.sessions.get(&id) {
                        connection.route.set(Route::default());
                    }
                }
                Effect::KeepChat { meeting, kept } => {
                    let seq = kept.seq;
                    let kept_there = self
                        .cluster
                        .as_ref()
                        .is_some_and(|cluster| cluster.keep_chat(meeting.clone(), kept));
                    if !kept_there {
                        self.rules.chat_kept(&meeting, seq);
                    }
                }
            }
        }
    }

    /// Numbers and keeps an event for `to`, and queues it unless its
    /// session is held.
    fn send(&mut self, to: ClientId, bytes: Bytes) {
        if let Some(connection) = self.sessions.get_mut(&to) {
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
        self.end_link(id);
        let Some(client) = self.sessions.remove(&id) else {
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
}

#[cfg(test)]
mod tests;
