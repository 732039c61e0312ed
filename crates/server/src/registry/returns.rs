//! A member whose own server died comes back through another server of
//! the cluster as the member it was: same id, same place in the meeting,
//! the chat it missed told once.
//!
//! Its client says hello with who it was (`returning`: id, meeting and
//! standing ticket). The ticket proves it, checked against this server's
//! rules if the meeting is held here, else against the meeting's record in
//! the cluster; proved, the session here takes that id. Then the client
//! `rejoin`s with the ticket and the number of the last chat message it
//! saw, and the holder, which kept its seat while its server was silent
//! (`strand_seats_of_the_silent` holds it as a broken session is held),
//! moves the seat to this server and tells it the meeting as it is now and
//! what it missed. When this server is the holder, the seat itself comes
//! home: it becomes the client's session.

use super::session::Link;
use super::{State, peer_address};
use crate::cluster::ids::STRIDE;
use crate::cluster::wire::Relay;
use common::{ClientId, MeetingId, Request, Returning};

impl State {
    /// The id a client saying hello as `returning` may take back: proved by
    /// its ticket, of another server's block, and not a session here
    /// (unless it is its own seat, coming home).
    pub(super) fn returning_id(&self, returning: &Returning) -> Option<ClientId> {
        let cluster = self.cluster.as_ref()?;
        let Returning {
            id,
            meeting,
            ticket,
        } = returning;
        let proved = self.rules.ticket_member(meeting, ticket) == Some(*id)
            || cluster.ticket_member(meeting, ticket) == Some(*id);
        if !proved || id.0 % STRIDE == cluster.ids().block() {
            return None;
        }
        match self.sessions.get(id).map(|session| &session.link) {
            None | Some(Link::SeatOf(_)) => Some(*id),
            Some(_) => None,
        }
    }

    /// A member seated here from a server that died connects here itself:
    /// its seat becomes its session, on this control connection. Its old
    /// server, should it still live, lets go of it.
    pub(super) fn bring_seat_home(&mut self, id: ClientId, session: super::Session) {
        let Some(seat) = self.sessions.get_mut(&id) else {
            self.sessions.insert(id, session);
            return;
        };
        let old = std::mem::replace(&mut seat.link, Link::Local);
        seat.token = session.token;
        seat.control = session.control;
        seat.control_closer = session.control_closer;
        seat.address = peer_address(&seat.control_closer).or(seat.address);
        self.seats.remove(&id);
        self.holds.release(id);
        if let Link::SeatOf(server) = old {
            tracing::info!(client = %id, "cluster: a member seated from {server} is back as a client of this server");
            self.relay(&server, &Relay::Unseat { client: id });
        }
    }

    /// Whether `request` is `client`'s rejoin with its own standing ticket
    /// for a meeting held here: it comes back through another server.
    pub(super) fn returns_with(&self, client: ClientId, request: &Request) -> bool {
        let Request::Rejoin {
            meeting, ticket, ..
        } = request
        else {
            return false;
        };
        MeetingId::parse(meeting)
            .is_some_and(|meeting| self.rules.ticket_member(&meeting, ticket) == Some(client))
    }

    /// `client`'s seat, of server `old`, is now of server `from`, through
    /// which its member came back.
    pub(super) fn move_seat(&mut self, client: ClientId, old: &str, from: String) {
        tracing::info!(%client, "cluster: a member seated from {old} is back through {from}");
        if let Some(seat) = self.sessions.get_mut(&client) {
            seat.link = Link::SeatOf(from);
        }
        self.holds.release(client);
        self.relay(old, &Relay::Unseat { client });
    }
}
