//! Meetings that span servers of a cluster, as the registry carries them
//! out (the messages and subjects are in `cluster::wire`).
//!
//! On the meeting's *holder*, a member connected to another server is a
//! *seat*: a session with no sockets whose events go to its server as
//! relays, and whose requests come from there. The holder's rules treat it
//! as any member, which is why everything a meeting has (the lobby, the
//! host's powers, chat in one order) holds across servers without a rule
//! of its own. A seat ends once its member is neither in the meeting nor
//! at its door; its server is told (`Unseat`) after the events that said why.
//!
//! On the member's own server (its *edge*), the session is *seated at* the
//! holder: its requests go there, the events that come back are numbered
//! and kept as any (so a resume at the edge replays them), and what it
//! draws (`view`) stays here, where its video is chosen.
//!
//! Every server with members in a spanning meeting keeps a `Span`: the
//! roster the holder sent (or made), the routes of its own members (each
//! other directly, and the others through the `Outlet`), and the `Inlet`
//! that hands them the others' frames. Media never goes through the holder
//! unless its sender or receivers are there. What becomes of all this when
//! a server stops, dies or is cut off is in `departures`.

use super::session::Link;
use super::{MeetingRegistry, Route, State, event_bytes};
use crate::cluster::media::{Inlet, InletRoute, Outlet};
use crate::cluster::wire::{Envelope, Relay, RosterMember};
use common::{ClientId, Event, LayerSet, MediaKind, MeetingId, PerKind, Request, SessionToken};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a server's members want of the others' video is said again this
/// often even unchanged (relays are at most once).
const WANTS_AGAIN: Duration = Duration::from_secs(2);

/// A meeting with members on more than one server, as this one sees it.
pub(super) struct Span {
    /// The server that holds it; None: this one (its rules decide).
    holder: Option<String>,
    roster: Vec<RosterMember>,
    /// Its members on this server.
    pub(super) local: Vec<ClientId>,
    /// The other servers with members in it.
    others: HashSet<String>,
    pub(super) outlet: Arc<Outlet>,
    inlet: Arc<Inlet>,
    /// What was last said of the others' video, and when.
    wants_said: Option<(Vec<(ClientId, LayerSet)>, Instant)>,
    /// The video layers taken from the backbone now.
    taken: Option<LayerSet>,
    /// Its members here were told it is split (this server lost NATS).
    pub(super) split: bool,
}

impl Span {
    pub(super) fn held_here(&self) -> bool {
        self.holder.is_none()
    }

    pub(super) fn blocked(&self, id: ClientId, kind: MediaKind) -> bool {
        self.roster
            .iter()
            .any(|member| member.id == id && member.blocked[kind])
    }
}

impl MeetingRegistry {
    /// Hands the registry a relay from another server.
    pub fn from_cluster(&self, envelope: Envelope) {
        let Envelope { from, relay } = envelope;
        tracing::debug!("cluster: from {from}: {relay:?}");
        match relay {
            // A rejoin may wait for the cluster (up to a second for its
            // handoff): not on the thread every relay goes through.
            Relay::Seat {
                client,
                name,
                address,
                request: request @ Request::Rejoin { .. },
                ..
            } => self.aside(move |registry| registry.seat(from, client, name, address, request)),
            Relay::Seat {
                client,
                name,
                address,
                request,
                ..
            } => self.seat(from, client, name, address, request),
            Relay::Ask { client, request } => self.ask_for_seat(&from, client, request),
            Relay::Refused { client, request } => {
                self.aside(move |registry| registry.handle_refused(&from, client, request))
            }
            relay => {
                let stranded = self.with_state(|state| {
                    state.relayed(&from, relay);
                    std::mem::take(&mut state.stranded)
                });
                self.rejoin_stranded(stranded);
            }
        }
    }

    /// Chat message `seq` of `meeting`, held here, is kept in the cluster
    /// (or could not be): its members are told it now.
    pub fn chat_kept(&self, meeting: &MeetingId, seq: u64) {
        self.with_state(|state| state.rules.chat_kept(meeting, seq));
    }

    /// Runs `work`, which may wait for the cluster, on a thread of its own.
    fn aside(&self, work: impl FnOnce(&MeetingRegistry) + Send + 'static) {
        let registry = self.clone();
        let spawned = std::thread::Builder::new()
            .name("cluster-relay-aside".into())
            .spawn(move || work(&registry));
        if let Err(err) = spawned {
            tracing::error!("cluster: no thread for a relay that may wait: {err}");
        }
    }

    /// A member of server `from` asks to come into a meeting held here.
    fn seat(
        &self,
        from: String,
        client: ClientId,
        name: String,
        address: Option<IpAddr>,
        request: Request,
    ) {
        let prepared = self.prepare(client, &request);
        let cluster = self.cluster.as_deref();
        self.with_state(|state| {
            match state.sessions.get(&client).map(|s| s.link.clone()) {
                Some(Link::SeatOf(server)) if server == from => {}
                Some(Link::SeatOf(old)) if state.returns_with(client, &request) => {
                    state.move_seat(client, &old, from.clone());
                }
                Some(_) => {
                    // Ids are unique across the cluster: this is a stale
                    // or confused server, and the member here stays.
                    tracing::warn!(%client, "cluster: {from} asked a seat for a member id in use here");
                    let publisher = state.cluster.as_ref().map(|c| c.publisher().clone());
                    if let Some(publisher) = publisher {
                        let message = "this member id is in use at the meeting's server; connect again".to_string();
                        publisher.relay(&from, &Relay::Tell { client, event: Event::Error { message } });
                        publisher.relay(&from, &Relay::Unseat { client });
                    }
                    return;
                }
                None => {
                    let Ok(name) = crate::rules::validate_name(&name) else {
                        return;
                    };
                    state.sessions.insert(client, super::Session::seat(from.clone()));
                    state.seats.insert(client);
                    state.rules.arrive(client, name, address);
                }
            }
            state.handle(client, request, prepared, cluster);
        })
    }

    /// A seated member's request, from its server.
    ///
    /// Nothing is prepared for it (no id claimed, no handoff waited for): a
    /// seat is in the meeting or at its door, where `create` and `rejoin`
    /// are refused anyway.
    fn ask_for_seat(&self, from: &str, client: ClientId, request: Request) {
        let prepared = super::Prepared::default();
        let cluster = self.cluster.as_deref();
        self.with_state(|state| {
            if !state.is_seat_of(client, from) {
                return state.relay(from, &Relay::Refused { client, request });
            }
            // Its server was taken for dead, and is not: the seat goes on.
            if state.holds.release(client) {
                state.rules.back(client);
            }
            match request {
                // Answered at the member's own server.
                Request::ServerStats | Request::View { .. } => {}
                request => state.handle(client, request, prepared, cluster),
            }
        })
    }

    /// The holder had no seat for a request this server passed on: carried
    /// out here (or passed on again) unless the member is seated anew.
    fn handle_refused(&self, from: &str, client: ClientId, request: Request) {
        let prepared = self.prepare(client, &request);
        let cluster = self.cluster.as_deref();
        self.with_state(|state| {
            match state.sessions.get(&client).map(|s| &s.link) {
                Some(Link::Local) => {}
                Some(Link::SeatedAt(at)) if at != from => {}
                _ => return,
            }
            if !state.pass_on(client, &request, prepared.handoff.is_some()) {
                state.handle(client, request, prepared, cluster);
            }
        })
    }

    /// Says again what this server's members want of the others' video
    /// where it changed (or was said long ago), and takes those layers;
    /// ends what depended on a server that stopped answering.
    pub fn refresh_spans(&self) {
        let stranded = self.with_state(|state| {
            state.rules.expire_expected(Instant::now());
            state.tell_splits();
            let stranded = state.strand_seats_of_the_silent();
            let meetings: Vec<MeetingId> = state.spans.keys().cloned().collect();
            for meeting in meetings {
                state.say_wants(&meeting, false);
            }
            stranded
        });
        self.rejoin_stranded(stranded);
    }
}

impl super::Session {
    /// A member of another server, seated here: no sockets, no token
    /// anyone knows.
    fn seat(server: String) -> super::Session {
        let mut token = [0u8; SessionToken::BYTES];
        let _ = getrandom::fill(&mut token);
        super::Session {
            link: Link::SeatOf(server),
            ..super::Session::new(SessionToken::from_bytes(token), None, None, None)
        }
    }
}

impl State {
    pub(super) fn me(&self) -> Option<String> {
        self.cluster
            .as_ref()
            .map(|cluster| cluster.me().to_string())
    }

    /// Sends `relay` to `server`, in the order relays are made (under the lock).
    pub(super) fn relay(&self, server: &str, relay: &Relay) {
        if let Some(cluster) = &self.cluster {
            cluster.publisher().relay(server, relay);
        }
    }

    /// The server a member of this one is seated at, if it is.
    pub(super) fn seated_at(&self, id: ClientId) -> Option<String> {
        match &self.sessions.get(&id)?.link {
            Link::SeatedAt(server) => Some(server.clone()),
            _ => None,
        }
    }

    /// Hands a request of a member of this server to the holder of its
    /// meeting, if it is seated there or asks to join (or, with a ticket,
    /// rejoin) a meeting held elsewhere. True if it was.
    ///
    /// A rejoin's ticket is kept as the member's standing one: should the
    /// holder be dead already, the member rejoins where the meeting goes
    /// once the cluster notices (`strand_seats_of_the_silent`).
    pub(super) fn pass_on(&mut self, id: ClientId, request: &Request, handoff_here: bool) -> bool {
        if let Some(server) = self.seated_at(id) {
            match request {
                // What this server says of itself and of the cluster, and
                // what its member draws, are answered here.
                Request::ServerStats | Request::View { .. } | Request::Meetings => return false,
                request => {
                    self.relay(
                        &server,
                        &Relay::Ask {
                            client: id,
                            request: request.clone(),
                        },
                    );
                    return true;
                }
            }
        }
        let (meeting, ticket) = match request {
            Request::Join { meeting, .. } => (meeting, None),
            Request::Rejoin {
                meeting, ticket, ..
            } if !handoff_here => (meeting, Some(ticket)),
            _ => return false,
        };
        let Some(meeting) = MeetingId::parse(meeting) else {
            return false;
        };
        if self.rules.knows_meeting(&meeting) || self.rules.is_in_or_waiting(id) {
            return false;
        }
        let (Some(cluster), Some(me)) = (self.cluster.clone(), self.me()) else {
            return false;
        };
        let Some(holder) = cluster.holder_of(&meeting) else {
            return false;
        };
        if let (Some(ticket), Some(session)) = (ticket, self.sessions.get_mut(&id)) {
            session.standing = Some(Event::Ticket {
                meeting,
                ticket: ticket.clone(),
                chat_renumbered: false,
            });
        }
        self.seat_at(id, holder, me, request.clone())
    }

    /// Seats `id` at `holder` with `request` (its join or rejoin): from now
    /// on its requests go there. False if it is no longer here.
    pub(super) fn seat_at(
        &mut self,
        id: ClientId,
        holder: String,
        me: String,
        request: Request,
    ) -> bool {
        let Some(name) = self.rules.name_of(id) else {
            return false;
        };
        let Some(session) = self.sessions.get_mut(&id) else {
            return false;
        };
        session.link = Link::SeatedAt(holder.clone());
        let address = session.address;
        self.relay(
            &holder,
            &Relay::Seat {
                from: me,
                client: id,
                name,
                address,
                request,
            },
        );
        true
    }

    /// Tells a client of this server the other servers of the cluster,
    /// vouched for (before each standing ticket: where to use it).
    pub(super) fn tell_cluster_servers(&mut self, client: ClientId) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let servers = cluster.addresses();
        if !servers.is_empty() {
            self.send(client, event_bytes(&Event::ClusterServers { servers }));
        }
    }

    /// Whether `client` is a seat here of a member of `server`.
    fn is_seat_of(&self, client: ClientId, server: &str) -> bool {
        matches!(self.sessions.get(&client).map(|s| &s.link), Some(Link::SeatOf(of)) if of == server)
    }

    /// Carries out a relay about a seat or a span from server `from`; what
    /// is not about its own seats and meetings is ignored (a holder that
    /// handed a meeting over may still be heard for a moment).
    fn relayed(&mut self, from: &str, relay: Relay) {
        match relay {
            // Its server lost the member's connection, or sends it here as
            // it stops: the seat is held for the member to come back.
            Relay::Held { client } if self.is_seat_of(client, from) => {
                if self.holds.enabled() && !self.holds.is_held(client) {
                    self.hold_seat(client);
                } else {
                    self.rules.reconnecting(client);
                }
            }
            Relay::Back { client } if self.is_seat_of(client, from) => {
                self.holds.release(client);
                self.rules.back(client)
            }
            Relay::Gone { client } if self.is_seat_of(client, from) => {
                self.remove_client(client, false)
            }
            Relay::Tell { client, event } if self.seated_at(client).as_deref() == Some(from) => {
                self.told(client, event)
            }
            Relay::Unseat { client } if self.seated_at(client).as_deref() == Some(from) => {
                let meeting = self
                    .spans
                    .iter()
                    .find(|(_, span)| span.local.contains(&client))
                    .map(|(meeting, _)| meeting.clone());
                if let Some(session) = self.sessions.get_mut(&client)
                    && matches!(session.link, Link::SeatedAt(_))
                {
                    session.link = Link::Local;
                    session.route.set(Route::default());
                }
                if let Some(meeting) = meeting {
                    self.reroute_span(&meeting);
                }
            }
            Relay::Roster { meeting, members } => {
                let seated_there = members
                    .iter()
                    .any(|member| self.seated_at(member.id).as_deref() == Some(from));
                let holder = self
                    .spans
                    .get(&meeting)
                    .and_then(|span| span.holder.clone());
                if !self.rules.has_meeting(&meeting)
                    && (seated_there || holder.as_deref() == Some(from))
                {
                    self.apply_roster(&meeting, members, Some(from));
                }
            }
            Relay::Wants { meeting, video, .. } => {
                if let Some(span) = self.spans.get(&meeting) {
                    span.outlet.heard_wants(from, video);
                    self.announce_layers(&meeting);
                }
            }
            _ => {}
        }
    }

    /// An event from the holder for a member seated there.
    fn told(&mut self, client: ClientId, event: Event) {
        // The holder stops and hands the meeting over: the member rejoins
        // it where it goes, without moving.
        if let Event::MeetingMoved {
            meeting, ticket, ..
        } = &event
        {
            if let Some(session) = self.sessions.get_mut(&client) {
                session.standing = Some(Event::Ticket {
                    meeting: meeting.clone(),
                    ticket: ticket.clone(),
                    chat_renumbered: false,
                });
            }
            let stranded = self.strand(client);
            return self.stranded.extend(stranded);
        }
        match (&event, self.sessions.get_mut(&client)) {
            (
                Event::Ticket {
                    chat_renumbered, ..
                },
                Some(session),
            ) => {
                // A new stay in the meeting (or a new life of it without
                // its chat) numbers its chat from the start.
                let renumbered = *chat_renumbered
                    || session.standing.as_ref().and_then(ticket_meeting) != ticket_meeting(&event);
                if renumbered {
                    session.chat_seen = 0;
                }
                session.standing = Some(event.clone());
                self.tell_cluster_servers(client);
            }
            (Event::Chat { seq, .. } | Event::Private { seq, .. }, Some(session)) if *seq > 0 => {
                session.chat_seen = *seq;
            }
            _ => {}
        }
        self.send(client, event_bytes(&event));
    }

    /// After every change: seats whose member is no longer in the meeting
    /// or at its door end (their server is told), and spans of meetings
    /// held here that ended go.
    pub(super) fn end_idle_seats(&mut self) {
        if self.seats.is_empty() && self.spans.is_empty() {
            return;
        }
        let idle: Vec<ClientId> = self
            .seats
            .iter()
            .copied()
            .filter(|&id| !self.rules.is_in_or_waiting(id))
            .collect();
        for id in idle {
            self.remove_client(id, false);
        }
        let ended: Vec<MeetingId> = self
            .spans
            .iter()
            .filter(|(meeting, span)| span.held_here() && !self.rules.has_meeting(meeting))
            .map(|(meeting, _)| meeting.clone())
            .collect();
        for meeting in ended {
            self.reroute(&meeting);
        }
    }

    /// On the holder: the meeting as a roster, if it spans servers (or did
    /// until now, so the others must hear it no longer does).
    pub(super) fn reroute_held(&mut self, meeting: &MeetingId) -> bool {
        let Some(me) = self.me() else {
            return false;
        };
        let roster: Vec<RosterMember> = self
            .rules
            .members(meeting)
            .iter()
            .filter_map(|&id| {
                let server = match &self.sessions.get(&id)?.link {
                    Link::SeatOf(server) => server.clone(),
                    _ => me.clone(),
                };
                Some(RosterMember {
                    id,
                    server,
                    blocked: PerKind::from_fn(|kind| self.rules.blocked(id, kind)),
                })
            })
            .collect();
        let mut servers: HashSet<String> = roster
            .iter()
            .map(|member| member.server.clone())
            .filter(|server| *server != me)
            .collect();
        // Servers whose members waited at the door hear nothing of the
        // roster, but the ones that had members in it hear they left.
        let had = self.spans.get(meeting).map(|span| span.others.clone());
        if servers.is_empty() && had.is_none() {
            return false;
        }
        servers.extend(had.unwrap_or_default());
        for server in &servers {
            self.relay(
                server,
                &Relay::Roster {
                    meeting: meeting.clone(),
                    members: roster.clone(),
                },
            );
        }
        self.apply_roster(meeting, roster, None);
        true
    }

    /// Makes this server's side of a spanning meeting match `roster`: its
    /// own members' routes, the inlet, the outlet; a meeting with no
    /// members here (or, on the holder, none elsewhere) spans nothing here.
    fn apply_roster(
        &mut self,
        meeting: &MeetingId,
        roster: Vec<RosterMember>,
        holder: Option<&str>,
    ) {
        let (Some(me), Some(cluster)) = (self.me(), self.cluster.clone()) else {
            return;
        };
        let held_here = holder.is_none();
        let local: Vec<ClientId> = roster
            .iter()
            .filter(|member| member.server == me)
            .map(|member| member.id)
            .filter(
                |id| match (self.sessions.get(id).map(|s| &s.link), holder) {
                    (Some(Link::SeatedAt(at)), Some(holder)) => at == holder,
                    (Some(Link::Local), None) => true,
                    _ => false,
                },
            )
            .collect();
        let others: HashSet<String> = roster
            .iter()
            .map(|member| member.server.clone())
            .filter(|server| *server != me)
            .collect();
        if local.is_empty() || (held_here && others.is_empty()) {
            if self.spans.remove(meeting).is_some() {
                cluster.take_media(meeting, None);
            }
            if held_here {
                // Held here alone again: the plain routes.
                self.reroute_alone(meeting);
            } else {
                for id in &local {
                    if let Some(session) = self.sessions.get(id) {
                        session.route.set(Route::default());
                    }
                }
            }
            return;
        }
        let span = self.spans.entry(meeting.clone()).or_insert_with(|| Span {
            holder: None,
            roster: Vec::new(),
            local: Vec::new(),
            others: HashSet::new(),
            outlet: Arc::new(Outlet::new(
                cluster.publisher().clone(),
                cluster.publisher().subjects(),
                meeting,
            )),
            inlet: Arc::new(Inlet::default()),
            wants_said: None,
            taken: None,
            split: false,
        });
        span.outlet.keep_servers(&others);
        // Members who left this server's side no longer get its media.
        for gone in span.local.iter().filter(|id| !local.contains(id)) {
            if let Some(session) = self.sessions.get(gone) {
                session.route.set(Route::default());
            }
        }
        span.holder = holder.map(str::to_string);
        span.roster = roster;
        span.local = local.clone();
        span.others = others;
        let span = &self.spans[meeting];
        let outlet = (!span.others.is_empty()).then_some(&span.outlet);
        for &member in &local {
            let route = self.route_among(
                meeting,
                member,
                &local,
                |kind| span.blocked(member, kind),
                outlet,
            );
            if let Some(session) = self.sessions.get(&member) {
                session.route.set(route);
            }
        }
        span.inlet.set_route(InletRoute {
            receivers: PerKind::from_fn(|kind| {
                local
                    .iter()
                    .filter_map(|&id| self.receiver(id, kind))
                    .collect()
            }),
            remote: span
                .roster
                .iter()
                .filter(|member| member.server != me)
                .map(|member| (member.id, member.blocked))
                .collect(),
        });
        self.say_wants(meeting, true);
        self.announce_layers(meeting);
    }

    /// Tells the other servers of `meeting` which layers of their senders
    /// this one's members want, if it changed (or `now`), and takes them.
    pub(super) fn say_wants(&mut self, meeting: &MeetingId, now: bool) {
        let (Some(me), Some(cluster)) = (self.me(), self.cluster.clone()) else {
            return;
        };
        let Some(span) = self.spans.get_mut(meeting) else {
            return;
        };
        let (wants, all) = span.inlet.wants();
        let stale = span
            .wants_said
            .as_ref()
            .is_none_or(|(said, at)| *said != wants || at.elapsed() >= WANTS_AGAIN);
        if stale || now {
            for server in &span.others {
                cluster.publisher().relay(
                    server,
                    &Relay::Wants {
                        meeting: meeting.clone(),
                        server: me.clone(),
                        video: wants.clone(),
                    },
                );
            }
            span.wants_said = Some((wants, Instant::now()));
        }
        if span.taken != Some(all) {
            span.taken = Some(all);
            cluster.take_media(meeting, Some((span.inlet.clone(), all)));
        }
    }

    /// The meeting a member of this server is in, here or held elsewhere.
    pub(super) fn meeting_here(&self, id: ClientId) -> Option<MeetingId> {
        if let Some(meeting) = self.rules.meeting_of(id) {
            return Some(meeting.clone());
        }
        self.spans
            .iter()
            .find(|(_, span)| !span.held_here() && span.local.contains(&id))
            .map(|(meeting, _)| meeting.clone())
    }

    /// Routes of a spanning meeting again (after an attach or detach).
    pub(super) fn reroute_span(&mut self, meeting: &MeetingId) {
        if let Some(span) = self.spans.get(meeting) {
            let (roster, holder) = (span.roster.clone(), span.holder.clone());
            match holder {
                None => {
                    self.reroute_held(meeting);
                }
                Some(holder) => self.apply_roster(meeting, roster, Some(&holder)),
            }
        }
    }

    /// A member of this server seated elsewhere: its server's view of it
    /// changed (`Held`, `Back`, `Gone`).
    pub(super) fn tell_seat(&self, id: ClientId, relay: impl FnOnce(ClientId) -> Relay) {
        if let Some(server) = self.seated_at(id) {
            self.relay(&server, &relay(id));
        }
    }

    /// A session is removed: a seat's server hears it has no seat here any
    /// more, a seated member's holder hears it is gone.
    pub(super) fn end_link(&mut self, id: ClientId) {
        match self.sessions.get(&id).map(|s| s.link.clone()) {
            Some(Link::SeatOf(server)) => {
                self.seats.remove(&id);
                self.relay(&server, &Relay::Unseat { client: id });
            }
            Some(Link::SeatedAt(server)) => self.relay(&server, &Relay::Gone { client: id }),
            _ => {}
        }
    }
}

/// The meeting a standing ticket is for.
fn ticket_meeting(event: &Event) -> Option<&MeetingId> {
    match event {
        Event::Ticket { meeting, .. } => Some(meeting),
        _ => None,
    }
}
