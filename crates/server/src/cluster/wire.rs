//! What the servers of a cluster say to each other about a meeting that
//! spans them, and on which NATS subjects.
//!
//! A meeting has one *holder*: the server whose rules decide everything in
//! it (who is in, the lobby, the host's powers, the order of chat). A member
//! connected to another server (its *edge*) has a *seat* at the holder: the
//! edge hands the holder the member's requests, and the holder hands the
//! edge the member's events, on the subject of the server they are for:
//!
//! - `mtg.<cluster>.srv.<server>`: `Relay` messages (JSON) for one server.
//!   Core NATS keeps the order of one publisher's messages, so a member's
//!   events reach its edge in the order the holder's rules made them.
//! - `mtg.<cluster>.m.<meeting>.audio`, `.screen`, `.video.<layer>`: the
//!   meeting's media, each frame published once by the server of its
//!   sender (already stamped with the sender), and taken only by servers
//!   whose members want that kind and layer.
//!
//! Member ids are unique across the cluster (`ids`), so a member keeps its
//! id whichever server holds its meeting, and a frame's sender means the
//! same member everywhere.

use common::{ClientId, Event, Layer, LayerSet, MediaKind, MeetingId, PerKind, Request};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A relay as it travels: with the server that sent it, which is what a
/// relay is checked against (a seat's events count only from the server it
/// is seated at).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub from: String,
    pub relay: Relay,
}

/// One message from a server to another, about seats and spans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "relay", rename_all = "snake_case")]
pub enum Relay {
    /// Edge to holder: `client` of server `from` asks to come in with
    /// `request` (a join or a rejoin).
    Seat {
        from: String,
        client: ClientId,
        name: String,
        address: Option<IpAddr>,
        request: Request,
    },
    /// Edge to holder: a further request of a seated member.
    Ask {
        client: ClientId,
        request: Request,
    },
    /// Edge to holder: the member's connection broke (it is held), came
    /// back, or ended for good.
    Held {
        client: ClientId,
    },
    Back {
        client: ClientId,
    },
    Gone {
        client: ClientId,
    },
    /// Holder to edge: an event for a seated member.
    Tell {
        client: ClientId,
        event: Event,
    },
    /// Holder to edge: a request asked for a member with no seat here
    /// (its seat ended while the request was on its way): the edge
    /// carries it out as if it had never been passed on.
    Refused {
        client: ClientId,
        request: Request,
    },
    /// Holder to edge: the member has no seat any more (after the events
    /// that said why: left, removed, turned away, a failed join).
    Unseat {
        client: ClientId,
    },
    /// Holder to edges: who is in the meeting, on which server, and what
    /// the host stopped; sent whenever that changes.
    Roster {
        meeting: MeetingId,
        members: Vec<RosterMember>,
    },
    /// Any server of a meeting to the others: which video layers of each
    /// sender its own members want now.
    Wants {
        meeting: MeetingId,
        server: String,
        video: Vec<(ClientId, LayerSet)>,
    },
}

/// One member of a meeting that spans servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterMember {
    pub id: ClientId,
    pub server: String,
    /// Kinds the host stopped: nobody receives them.
    pub blocked: PerKind<bool>,
}

/// The subjects of one cluster.
#[derive(Clone, Debug)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(cluster: &str) -> Subjects {
        Subjects {
            prefix: format!("mtg.{cluster}"),
        }
    }

    /// Where `server` hears relays.
    pub fn server(&self, server: &str) -> String {
        format!("{}.srv.{server}", self.prefix)
    }

    /// Where `meeting`'s chat is kept (`chat`).
    pub fn chat(&self, meeting: &MeetingId) -> String {
        format!("{}.chat.{meeting}", self.prefix)
    }

    /// Every meeting's kept chat.
    pub fn all_chat(&self) -> String {
        format!("{}.chat.*", self.prefix)
    }

    /// Where `meeting`'s frames of `kind` travel; video in `layer`.
    pub fn media(&self, meeting: &MeetingId, kind: MediaKind, layer: Layer) -> String {
        match kind {
            MediaKind::Video => format!("{}.m.{meeting}.video.{}", self.prefix, layer.0),
            kind => format!("{}.m.{meeting}.{kind}", self.prefix),
        }
    }

    /// The subjects a server takes of `meeting`: every kind but video
    /// whole, and video in the layers of `video`.
    pub fn interest(&self, meeting: &MeetingId, video: LayerSet) -> Vec<(String, MediaKind)> {
        let mut subjects: Vec<(String, MediaKind)> = MediaKind::ALL
            .into_iter()
            .filter(|kind| *kind != MediaKind::Video)
            .map(|kind| (self.media(meeting, kind, Layer::FULL), kind))
            .collect();
        for layer in video.iter() {
            subjects.push((
                self.media(meeting, MediaKind::Video, layer),
                MediaKind::Video,
            ));
        }
        subjects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_survive_the_wire() {
        let relays = vec![
            Relay::Seat {
                from: "a-1".into(),
                client: ClientId(65),
                name: "ana".into(),
                address: Some(std::net::IpAddr::from([127, 0, 0, 1])),
                request: Request::Join {
                    meeting: "k7m-q2x".into(),
                    passcode: None,
                },
            },
            Relay::Tell {
                client: ClientId(65),
                event: Event::Pong,
            },
            Relay::Roster {
                meeting: MeetingId::parse("k7m-q2x").expect("an id"),
                members: vec![RosterMember {
                    id: ClientId(65),
                    server: "a-1".into(),
                    blocked: PerKind::default(),
                }],
            },
        ];
        for relay in relays {
            let json = serde_json::to_vec(&relay).expect("serialises");
            assert_eq!(
                serde_json::from_slice::<Relay>(&json).expect("parses"),
                relay
            );
        }
    }

    #[test]
    fn a_server_takes_only_the_layers_it_wants() {
        let subjects = Subjects::new("office");
        let meeting = MeetingId::parse("k7m-q2x").expect("an id");
        let wanted = LayerSet::only(Layer(2));
        let taken: Vec<String> = subjects
            .interest(&meeting, wanted)
            .into_iter()
            .map(|(subject, _)| subject)
            .collect();
        assert!(taken.contains(&"mtg.office.m.k7m-q2x.video.2".to_string()));
        assert!(taken.contains(&"mtg.office.m.k7m-q2x.audio".to_string()));
        assert!(!taken.iter().any(|s| s.ends_with("video.0")));
    }
}
