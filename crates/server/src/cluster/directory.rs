//! What this server knows of its cluster: the servers heard from lately and
//! the meetings each holds, as the backbone's watches deliver them. Plain
//! data behind its own lock (never the registry's), read when a client asks
//! for the meeting list or joins a meeting held elsewhere.
//!
//! A server is alive while its heartbeat keeps coming (`SERVER_SILENCE`);
//! the meetings of a server that went silent are neither listed nor joined
//! through it. Records age out of NATS on their own (the buckets' maximum
//! age), but a watch does not see that happen, so silence is judged here.

use crate::rules::Handoff;
use common::{ClientId, MeetingId, MeetingSummary};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How often a server says it is alive.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// A server not heard from for this long is taken for gone (and another
/// may take its meetings over when their members come to it).
pub const SERVER_SILENCE: Duration = Duration::from_secs(2);

/// A server's record (key: its name): where its clients connect, and the
/// key they will see there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRecord {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// A meeting's record (key: its id): who holds it, and its line in the list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingRecord {
    pub server: String,
    pub host: String,
    pub host_id: ClientId,
    pub members: usize,
    pub private: bool,
    pub locked: bool,
    /// Set while the meeting travels to `server` from one that stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Handoff>,
}

impl MeetingRecord {
    pub fn of(server: &str, summary: &MeetingSummary) -> MeetingRecord {
        MeetingRecord {
            server: server.to_string(),
            host: summary.host.clone(),
            host_id: summary.host_id,
            members: summary.members,
            private: summary.private,
            locked: summary.locked,
            handoff: None,
        }
    }
}

/// Where a meeting held by another server is joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub server: String,
    pub address: String,
    pub fingerprint: Option<String>,
}

struct KnownServer {
    record: ServerRecord,
    heard: Instant,
}

/// The cluster as this server last heard it.
pub struct Directory {
    me: String,
    servers: HashMap<String, KnownServer>,
    /// In the order they were first heard of (the list shows oldest
    /// first), with the record's revision in NATS.
    meetings: HashMap<MeetingId, (u64, MeetingRecord, u64)>,
    heard_meetings: u64,
}

impl Directory {
    pub fn new(me: &str) -> Directory {
        Directory {
            me: me.to_string(),
            servers: HashMap::new(),
            meetings: HashMap::new(),
            heard_meetings: 0,
        }
    }

    pub fn server_heard(&mut self, name: &str, record: ServerRecord, now: Instant) {
        self.servers
            .insert(name.to_string(), KnownServer { record, heard: now });
    }

    pub fn server_gone(&mut self, name: &str) {
        self.servers.remove(name);
    }

    pub fn meeting_heard(&mut self, meeting: MeetingId, record: MeetingRecord, revision: u64) {
        self.heard_meetings += 1;
        let order = self
            .meetings
            .get(&meeting)
            .map_or(self.heard_meetings, |(order, _, _)| *order);
        self.meetings.insert(meeting, (order, record, revision));
    }

    pub fn meeting_gone(&mut self, meeting: &MeetingId) {
        self.meetings.remove(meeting);
    }

    fn alive(&self, name: &str, now: Instant) -> Option<&ServerRecord> {
        let server = self.servers.get(name)?;
        (now.saturating_duration_since(server.heard) < SERVER_SILENCE).then_some(&server.record)
    }

    pub fn is_alive(&self, name: &str, now: Instant) -> bool {
        self.alive(name, now).is_some()
    }

    /// The other servers alive now, by name.
    /// Where the live other servers' clients connect, and their keys.
    pub fn addresses(&self, now: Instant) -> Vec<common::ServerAddress> {
        self.peers(now)
            .iter()
            .filter_map(|name| self.alive(name, now))
            .map(|record| common::ServerAddress {
                server: record.address.clone(),
                fingerprint: record.fingerprint.clone(),
            })
            .collect()
    }

    pub fn peers(&self, now: Instant) -> Vec<String> {
        let mut peers: Vec<String> = self
            .servers
            .keys()
            .filter(|name| **name != self.me && self.alive(name, now).is_some())
            .cloned()
            .collect();
        peers.sort();
        peers
    }

    /// Where `meeting` is, if another server alive now holds it.
    pub fn locate(&self, meeting: &MeetingId, now: Instant) -> Option<Location> {
        let (_, record, _) = self.meetings.get(meeting)?;
        if record.server == self.me {
            return None;
        }
        let server = self.alive(&record.server, now)?;
        Some(Location {
            server: record.server.clone(),
            address: server.address.clone(),
            fingerprint: server.fingerprint.clone(),
        })
    }

    /// The handoff of `meeting`, if another server handed it over to this one.
    pub fn handoff(&self, meeting: &MeetingId) -> Option<Handoff> {
        let (_, record, _) = self.meetings.get(meeting)?;
        (record.server == self.me)
            .then(|| record.handoff.clone())
            .flatten()
    }

    /// The member whose standing ticket for `meeting` is `ticket`, as the
    /// meeting's record says, whoever holds it.
    pub fn ticket_member(&self, meeting: &MeetingId, ticket: &str) -> Option<common::ClientId> {
        let (_, record, _) = self.meetings.get(meeting)?;
        record.handoff.as_ref()?.member_of(ticket)
    }

    /// A meeting whose server is gone, with what taking it over needs: its
    /// record (its standing handoff) and the revision to replace.
    pub fn orphan(&self, meeting: &MeetingId, now: Instant) -> Option<(MeetingRecord, u64)> {
        let (_, record, revision) = self.meetings.get(meeting)?;
        let orphaned = record.server != self.me
            && record.handoff.is_some()
            && self.alive(&record.server, now).is_none();
        orphaned.then(|| (record.clone(), *revision))
    }

    /// The server alive now that holds the fewest meetings, but this one:
    /// the heir of this server's meetings when it stops.
    pub fn heir(&self, now: Instant) -> Option<Location> {
        let held = |name: &str| {
            self.meetings
                .values()
                .filter(|(_, record, _)| record.server == name)
                .count()
        };
        let name = self
            .peers(now)
            .into_iter()
            .min_by_key(|name| (held(name), name.clone()))?;
        let server = self.alive(&name, now)?;
        Some(Location {
            server: name.clone(),
            address: server.address.clone(),
            fingerprint: server.fingerprint.clone(),
        })
    }

    /// The public meetings other servers alive now hold, oldest first.
    pub fn listing(&self, now: Instant) -> Vec<MeetingSummary> {
        let mut listed: Vec<(u64, MeetingSummary)> = self
            .meetings
            .iter()
            .filter(|(_, (_, record, _))| !record.private && record.server != self.me)
            .filter_map(|(id, (order, record, _))| {
                let server = self.alive(&record.server, now)?;
                Some((
                    *order,
                    MeetingSummary {
                        id: id.clone(),
                        host: record.host.clone(),
                        host_id: record.host_id,
                        members: record.members,
                        private: false,
                        locked: record.locked,
                        server: Some(server.address.clone()),
                    },
                ))
            })
            .collect();
        listed.sort_by_key(|(order, _)| *order);
        listed.into_iter().map(|(_, summary)| summary).collect()
    }

    /// How many meetings other servers alive now hold.
    pub fn meetings_elsewhere(&self, now: Instant) -> usize {
        self.meetings
            .values()
            .filter(|(_, record, _)| {
                record.server != self.me && self.alive(&record.server, now).is_some()
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meeting(text: &str) -> MeetingId {
        MeetingId::parse(text).expect("a meeting id")
    }

    fn record(server: &str, private: bool) -> MeetingRecord {
        MeetingRecord {
            server: server.into(),
            host: "ana".into(),
            host_id: ClientId(7),
            members: 2,
            private,
            locked: false,
            handoff: None,
        }
    }

    fn server(address: &str) -> ServerRecord {
        ServerRecord {
            address: address.into(),
            fingerprint: Some("SHA256 AAAA".into()),
        }
    }

    #[test]
    fn meetings_of_other_live_servers_are_listed_and_located() {
        let now = Instant::now();
        let mut directory = Directory::new("a");
        directory.server_heard("a", server("10.0.0.1:7000"), now);
        directory.server_heard("b", server("10.0.0.2:7000"), now);
        directory.meeting_heard(meeting("abc234"), record("b", false), 1);
        directory.meeting_heard(meeting("def567"), record("b", true), 1);
        directory.meeting_heard(meeting("ghj234"), record("a", false), 1);

        let listed = directory.listing(now);
        assert_eq!(
            listed.len(),
            1,
            "private and own meetings are not listed: {listed:?}"
        );
        assert_eq!(listed[0].server.as_deref(), Some("10.0.0.2:7000"));
        let private = directory.locate(&meeting("def567"), now).expect("located");
        assert_eq!(private.address, "10.0.0.2:7000");
        assert_eq!(private.fingerprint.as_deref(), Some("SHA256 AAAA"));
        assert_eq!(directory.locate(&meeting("ghj234"), now), None, "ours");
        assert_eq!(directory.peers(now), vec!["b".to_string()]);
        assert_eq!(directory.meetings_elsewhere(now), 2);
    }

    #[test]
    fn a_silent_server_and_its_meetings_are_forgotten() {
        let then = Instant::now();
        let mut directory = Directory::new("a");
        directory.server_heard("b", server("10.0.0.2:7000"), then);
        directory.meeting_heard(meeting("abc234"), record("b", false), 1);
        let later = then + SERVER_SILENCE;
        assert!(directory.peers(later).is_empty());
        assert!(directory.listing(later).is_empty());
        assert_eq!(directory.locate(&meeting("abc234"), later), None);
        directory.server_heard("b", server("10.0.0.2:7000"), later);
        assert!(
            directory.locate(&meeting("abc234"), later).is_some(),
            "back"
        );
    }

    #[test]
    fn the_list_keeps_the_order_meetings_were_first_heard_in() {
        let now = Instant::now();
        let mut directory = Directory::new("a");
        directory.server_heard("b", server("10.0.0.2:7000"), now);
        for id in ["zzz234", "abc234", "mmm234"] {
            directory.meeting_heard(meeting(id), record("b", false), 1);
        }
        // An update (a member more) keeps its place.
        directory.meeting_heard(meeting("zzz234"), record("b", false), 2);
        let ids: Vec<String> = directory
            .listing(now)
            .into_iter()
            .map(|summary| summary.id.to_string())
            .collect();
        assert_eq!(ids, ["zzz-234", "abc-234", "mmm-234"]);
    }
}
