//! What becomes of spanning meetings when a server goes away (`spans`
//! has how they span): a holder that stops hands its meetings over and an
//! edge rejoins its members there for them; a holder that dies is taken over
//! and the edges rejoin their members there; an edge that stops sends its
//! members to the holder with their standing tickets; a seat whose edge
//! falls silent ends, its ticket kept a while; and a server cut off from
//! NATS tells its members their meeting is split, and whole again.

use super::session::Link;
use super::{MeetingRegistry, Route, State, event_bytes};
use crate::cluster::wire::Relay;
use common::{ClientId, Event, MeetingId, Request};

/// A member whose meeting's holder went away, and its way back.
pub(super) struct Stranded {
    client: ClientId,
    meeting: MeetingId,
    ticket: String,
    /// The number of the last chat message it was told there.
    chat_seen: u64,
    /// The server that held the meeting when it was stranded.
    left: Option<String>,
}

/// How long a stranded member's rejoin waits for the cluster's directory
/// to stop naming the server it left as the meeting's holder.
const NEW_HOLDER_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl MeetingRegistry {
    /// Members whose meeting moved (its holder handed it over, or died)
    /// rejoin it where it goes on, with their tickets, on a thread of their
    /// own: finding where may wait for the cluster to agree.
    pub(super) fn rejoin_stranded(&self, stranded: Vec<Stranded>) {
        if stranded.is_empty() {
            return;
        }
        let registry = self.clone();
        let spawned = std::thread::Builder::new()
            .name("cluster-rejoin".into())
            .spawn(move || {
                for member in stranded {
                    registry.rejoin_for(member);
                }
            });
        if let Err(err) = spawned {
            tracing::error!("cluster: no thread to rejoin moved meetings: {err}");
        }
    }

    /// Rejoins a stranded member's meeting: here, if this server holds it
    /// now (handed over here, or taken over from a dead server), else as a
    /// seat at the server that does.
    fn rejoin_for(&self, member: Stranded) {
        let Stranded {
            client,
            meeting,
            ticket,
            chat_seen,
            left,
        } = member;
        // Its client never left: it is told the chat it missed after the
        // last it was told (all of the meeting's new life, if that numbers
        // its chat anew).
        let request = Request::Rejoin {
            meeting: meeting.to_string(),
            ticket,
            chat_seen: Some(chat_seen),
        };
        let prepared = self.prepare(client, &request);
        let cluster = self.cluster.as_deref();
        // A stopping holder says where the meeting went before the record
        // that says so may have reached this server: not back to it.
        if let (Some(cluster), Some(left), None) = (cluster, &left, &prepared.handoff) {
            let deadline = std::time::Instant::now() + NEW_HOLDER_WAIT;
            while cluster.holder_of(&meeting).as_ref() == Some(left)
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        tracing::info!(%client, %meeting, here = prepared.handoff.is_some(), "cluster: rejoining a meeting whose holder went away");
        self.with_state(|state| {
            if !state.sessions.contains_key(&client) {
                return;
            }
            let here = prepared.handoff.is_some() || state.rules.knows_meeting(&meeting);
            let holder = cluster.and_then(|cluster| cluster.holder_of(&meeting));
            match (here, holder, state.me()) {
                (false, Some(holder), Some(me)) => {
                    state.seat_at(client, holder, me, request);
                }
                _ => state.handle(client, request, prepared, cluster),
            }
        })
    }
}

impl State {
    /// Members seated at a server that stopped answering (it died, or the
    /// backbone is cut) are this server's again: those with a standing
    /// ticket are returned, to rejoin their meeting where it goes on; the
    /// others are told they are out of it. Seats here of such a server end.
    pub(super) fn strand_seats_of_the_silent(&mut self) -> Vec<Stranded> {
        let Some(cluster) = self.cluster.clone() else {
            return Vec::new();
        };
        // Cut off from NATS ourselves, or just back, every server looks
        // silent: nothing is taken for dead on that alone.
        if !cluster.is_settled() {
            return Vec::new();
        }
        let silent: Vec<(ClientId, Link)> = self
            .sessions
            .iter()
            .filter(|(id, _)| !self.holds.is_held(**id))
            .filter_map(|(id, session)| match &session.link {
                Link::SeatedAt(server) | Link::SeatOf(server) if !cluster.is_alive(server) => {
                    Some((*id, session.link.clone()))
                }
                _ => None,
            })
            .collect();
        let mut stranded = Vec::new();
        for (id, link) in silent {
            match link {
                Link::SeatOf(server) => {
                    tracing::info!(client = %id, "cluster: its server {server} stopped answering");
                    self.hold_seat(id);
                }
                Link::SeatedAt(server) => {
                    tracing::info!(client = %id, "cluster: {server} holds its meeting and stopped answering");
                    stranded.extend(self.strand(id));
                }
                Link::Local => {}
            }
        }
        stranded
    }

    /// A seat whose server stopped answering, or sent its member here as
    /// it stops, is held as a session whose connection broke: its member's
    /// client comes back through another server (`returns`), and the
    /// others see it reconnecting meanwhile. With no hold, it ends, its
    /// ticket kept.
    pub(super) fn hold_seat(&mut self, id: ClientId) {
        if !self.holds.enabled() {
            return self.end_seat(id);
        }
        self.hold(id);
    }

    /// Holds session `id` for its member to come back (its meeting hears
    /// it is reconnecting); held sessions over their bounds end, oldest
    /// first.
    pub(super) fn hold(&mut self, id: ClientId) {
        let address = self.sessions.get(&id).and_then(|session| session.address);
        let evicted = self.holds.hold(id, address, std::time::Instant::now());
        self.rules.reconnecting(id);
        for old in evicted {
            tracing::info!(client = %old, "released a held session to make room for another");
            self.end_seat(old);
        }
    }

    /// Ends a session; a seat's standing ticket stays good a while, for its
    /// member to come back as a new one.
    pub(super) fn end_seat(&mut self, id: ClientId) {
        if self.seats.contains(&id) {
            self.rules.keep_ticket_of(id);
        }
        self.remove_client(id, false);
    }

    /// A member seated elsewhere is this server's again, out of the span;
    /// with its standing ticket it is returned to rejoin, without it it is
    /// told it is out.
    pub(super) fn strand(&mut self, id: ClientId) -> Option<Stranded> {
        let meeting = self.meeting_here(id);
        let left = self.seated_at(id);
        let (standing, chat_seen) = self
            .sessions
            .get_mut(&id)
            .map(|session| {
                session.link = Link::Local;
                session.route.set(Route::default());
                (session.standing.take(), session.chat_seen)
            })
            .unwrap_or_default();
        if let Some(meeting) = &meeting {
            self.reroute_span(meeting);
        }
        if let Some(Event::Ticket {
            meeting, ticket, ..
        }) = standing
        {
            return Some(Stranded {
                client: id,
                meeting,
                ticket,
                chat_seen,
                left,
            });
        }
        if let Some(meeting) = &meeting {
            self.send(
                id,
                event_bytes(&Event::Left {
                    meeting: meeting.clone(),
                }),
            );
        }
        let message = format!(
            "the server holding {} stopped answering; you are out of it",
            meeting.map_or_else(|| "the meeting".to_string(), |m| m.to_string())
        );
        self.send(id, event_bytes(&Event::Error { message }));
        None
    }

    /// This server stops: its members seated elsewhere are sent to their
    /// meeting's holder with their standing tickets (`meeting_moved`, as a
    /// handover tells them), and the holder hears they are reconnecting
    /// rather than gone, so that their tickets let them back as they were.
    pub(super) fn send_seated_home(&mut self, elsewhere: &dyn crate::rules::Elsewhere) {
        let seated: Vec<(ClientId, String, MeetingId, String)> = self
            .sessions
            .iter()
            .filter_map(|(id, session)| match (&session.link, &session.standing) {
                (
                    Link::SeatedAt(server),
                    Some(Event::Ticket {
                        meeting, ticket, ..
                    }),
                ) => Some((*id, server.clone(), meeting.clone(), ticket.clone())),
                _ => None,
            })
            .collect();
        for (id, server, meeting, ticket) in seated {
            let Some(holder) = elsewhere.locate(&meeting) else {
                continue;
            };
            self.relay(&server, &Relay::Held { client: id });
            if let Some(session) = self.sessions.get_mut(&id) {
                session.link = Link::Local;
            }
            let moved = Event::MeetingMoved {
                meeting,
                server: holder.address,
                fingerprint: holder.fingerprint,
                ticket,
            };
            self.send(id, event_bytes(&moved));
        }
    }

    /// Tells this server's members of spanning meetings when it loses the
    /// backbone (the meeting is split: they hear only each other) and when
    /// it is back; the holder then sends its rosters again, since what it
    /// sent meanwhile may be lost.
    pub(super) fn tell_splits(&mut self) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let split = !cluster.is_connected();
        let changed: Vec<MeetingId> = self
            .spans
            .iter_mut()
            .filter(|(_, span)| span.split != split)
            .map(|(meeting, span)| {
                span.split = split;
                meeting.clone()
            })
            .collect();
        for meeting in changed {
            let local = self
                .spans
                .get(&meeting)
                .map(|span| span.local.clone())
                .unwrap_or_default();
            let told = event_bytes(&Event::Split {
                meeting: meeting.clone(),
                split,
            });
            for id in local {
                self.send(id, told.clone());
            }
            if !split
                && self
                    .spans
                    .get(&meeting)
                    .is_some_and(|span| span.held_here())
            {
                self.reroute_held(&meeting);
            }
        }
    }
}
