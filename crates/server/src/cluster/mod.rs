//! A server among several (`--cluster`): what it tells the others of its
//! own meetings, and what it knows of theirs. Any server lists the cluster's
//! public meetings, a joiner of a meeting another server holds is told where
//! it is (and the client moves there), and meeting ids are unique across
//! the cluster because each is claimed before it is used.
//!
//! Its parts: `config` (the flags and the rule that meeting content never
//! crosses a network in clear), `directory` (the cluster as last heard),
//! `backbone` (the one thread that talks to NATS). Without `--cluster` none
//! of it exists and the server runs exactly as alone.

pub mod backbone;
pub mod chat;
pub mod config;
pub mod directory;
pub mod ids;
pub mod media;
pub mod wire;

use crate::rules::{Elsewhere, Handoff, Handover, Holder};
use backbone::{Backbone, Command, Publisher};
use common::sync::lock;
use common::{ClientId, ClusterReport, MeetingId, MeetingSummary};
pub use config::{ClusterAuth, ClusterConfig, ClusterTls};
use directory::{Directory, MeetingRecord};
use ids::IdBlock;
use media::Inlet;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wire::Envelope;

/// How long a new meeting waits for NATS to agree its id is free.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(2);
/// Ids tried before a meeting is made with one NATS did not confirm.
const CLAIM_TRIES: usize = 4;
/// How long a stopping server waits for NATS to take its handoffs.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(3);
/// How long reading a meeting's kept chat back may take.
const CHAT_TAIL_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a `rejoin` looks for its meeting's handoff while it waits.
const HANDOFF_POLL: Duration = Duration::from_millis(10);
/// How often this server's meeting lines are compared with what the others
/// were told (a change reaches them within this, plus NATS's delay).
pub const ANNOUNCE_EVERY: Duration = Duration::from_millis(500);

/// This server's membership of its cluster; shared by the registry (which
/// asks it) and the announcer (which tells it).
pub struct Cluster {
    config: ClusterConfig,
    directory: Arc<Mutex<Directory>>,
    backbone: Mutex<Backbone>,
    /// Set once this server's meetings are being handed over: from then
    /// on it no longer tells the cluster it holds them.
    handing_over: AtomicBool,
    stopped: AtomicBool,
    ids: Arc<IdBlock>,
    publisher: Publisher,
    /// Relays from the other servers, until the server takes them.
    inbound: Mutex<Option<crossbeam_channel::Receiver<Inbound>>>,
}

/// What the backbone hands the registry, in one order.
pub enum Inbound {
    /// Another server's relay.
    Relay(Envelope),
    /// Chat message `seq` of `meeting` is kept in the cluster (or could not
    /// be): its members may be told it.
    ChatKept { meeting: MeetingId, seq: u64 },
}

/// The server a stopping one hands its meetings to.
pub struct Heir {
    pub name: String,
    pub holder: Holder,
}

impl Cluster {
    /// Joins the cluster: starts the bridge, which connects in the background.
    pub fn join(config: ClusterConfig) -> anyhow::Result<Arc<Cluster>> {
        config.check().map_err(anyhow::Error::msg)?;
        let directory = Arc::new(Mutex::new(Directory::new(&config.server)));
        let ids = Arc::new(IdBlock::drawn());
        let (relays, inbound) = crossbeam_channel::unbounded();
        let backbone = Backbone::start(config.clone(), directory.clone(), ids.clone(), relays)?;
        let publisher = backbone.publisher.clone();
        tracing::info!(
            cluster = %config.name,
            server = %config.server,
            advertise = %config.advertise,
            "joining the cluster through {}",
            config.urls.join(", ")
        );
        Ok(Arc::new(Cluster {
            config,
            directory,
            backbone: Mutex::new(backbone),
            handing_over: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            ids,
            publisher,
            inbound: Mutex::new(Some(inbound)),
        }))
    }

    /// Waits (at most `timeout`) for NATS to agree on this server's block
    /// of member ids, so that no client gets an id another server also
    /// gives. Without NATS, the ids come from the block drawn, unclaimed,
    /// and that is logged.
    pub fn wait_for_ids(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.ids.is_claimed() {
            if Instant::now() >= deadline {
                tracing::warn!(
                    "cluster: no block of member ids claimed within {timeout:?}; using block {} unclaimed until NATS answers",
                    self.ids.block()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// This server's name in the cluster.
    pub fn me(&self) -> &str {
        &self.config.server
    }

    /// Where this server's member ids come from.
    pub fn ids(&self) -> &IdBlock {
        &self.ids
    }

    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// The relays the other servers send this one (taken once, by the
    /// thread that hands them to the registry).
    pub fn take_inbound(&self) -> Option<crossbeam_channel::Receiver<Inbound>> {
        lock(&self.inbound).take()
    }

    /// The server alive now that holds `meeting`, if another does.
    pub fn holder_of(&self, meeting: &MeetingId) -> Option<String> {
        lock(&self.directory)
            .locate(meeting, Instant::now())
            .map(|location| location.server)
    }

    /// Whether this server's connection to NATS is up now.
    pub fn is_connected(&self) -> bool {
        lock(&self.backbone).counters.is_connected()
    }

    /// Whether this server has been connected to NATS long enough to have
    /// heard every live server's heartbeat since: only then does a silent
    /// one count as gone (right after a reconnection, all look silent).
    pub fn is_settled(&self) -> bool {
        let since = *lock(&lock(&self.backbone).counters.connected_since);
        since.is_some_and(|since| {
            since.elapsed() >= directory::SERVER_SILENCE + directory::HEARTBEAT
        })
    }

    /// Whether `server` was heard from lately.
    pub fn is_alive(&self, server: &str) -> bool {
        lock(&self.directory).is_alive(server, Instant::now())
    }

    /// Takes `meeting`'s media from the backbone into `inlet`, video in
    /// the layers of the set (None: stops taking it).
    pub fn take_media(&self, meeting: &MeetingId, inlet: Option<(Arc<Inlet>, common::LayerSet)>) {
        lock(&self.backbone).send(Command::Interest {
            meeting: meeting.clone(),
            inlet,
        });
    }

    /// Keeps chat message `kept` of `meeting` in the cluster; the registry
    /// hears `ChatKept` when it may tell it. False if the backbone cannot
    /// take it (then tell it at once).
    pub fn keep_chat(&self, meeting: MeetingId, kept: crate::rules::KeptChat) -> bool {
        self.publisher.keep_chat(meeting, kept)
    }

    /// What the cluster keeps of `meeting`'s chat (waits up to a few
    /// seconds, on the asking client's thread, outside every lock); None if
    /// it could not be read.
    pub fn chat_of(&self, meeting: &MeetingId) -> Option<Vec<crate::rules::KeptChat>> {
        if !self.is_connected() {
            return None;
        }
        let (answer, answered) = crossbeam_channel::bounded(1);
        let sent = lock(&self.backbone).send(Command::ChatTail {
            meeting: meeting.clone(),
            answer,
        });
        if !sent {
            return None;
        }
        match answered.recv_timeout(CHAT_TAIL_TIMEOUT) {
            Ok(Ok(tail)) => {
                tracing::info!(%meeting, messages = tail.len(), "cluster: the meeting's chat read back");
                Some(tail)
            }
            Ok(Err(err)) => {
                tracing::warn!(%meeting, "cluster: the meeting's chat could not be read back ({err}); it is numbered anew");
                None
            }
            Err(_) => {
                tracing::warn!(%meeting, "cluster: the meeting's chat was not read back in time; it is numbered anew");
                None
            }
        }
    }

    /// An id for a meeting `host` is about to create, claimed across the
    /// cluster; waits for NATS (on the asking client's thread, never under
    /// the registry's lock). Without NATS, an unclaimed random id at once;
    /// None if NATS could not confirm one (the registry makes its own), as
    /// alone, and that is logged.
    pub fn claim_meeting_id(
        &self,
        host_id: ClientId,
        host: &str,
        private: bool,
    ) -> Option<MeetingId> {
        let record = MeetingRecord {
            server: self.config.server.clone(),
            host: host.to_string(),
            host_id,
            members: 1,
            private,
            locked: false,
            handoff: None,
        };
        if !self.is_connected() {
            // No wait for an answer that cannot come: made as alone.
            tracing::info!("cluster: NATS unreachable; a meeting id made without claiming it");
            return random_meeting_id();
        }
        for _ in 0..CLAIM_TRIES {
            let meeting = random_meeting_id()?;
            // The backbone's lock is let go before the wait: `report`
            // takes it under the registry's lock.
            let asked = lock(&self.backbone).ask_claim(meeting.clone(), record.clone());
            let claimed = asked.and_then(|answered| {
                answered
                    .recv_timeout(CLAIM_TIMEOUT)
                    .map_err(|_| format!("no answer from NATS within {CLAIM_TIMEOUT:?}"))?
            });
            match claimed {
                Ok(true) => return Some(meeting),
                Ok(false) => tracing::debug!(%meeting, "cluster: id taken elsewhere; another"),
                Err(err) => {
                    tracing::warn!(
                        "cluster: a meeting id could not be claimed ({err}); made without"
                    );
                    return None;
                }
            }
        }
        None
    }

    /// Tells the others this server's meetings as they are now (all of
    /// them: what changed is put, what ended is taken away), each with its
    /// standing handoff, which lets another server take it over should
    /// this one die.
    pub fn announce(&self, lines: Vec<(MeetingSummary, Option<Handoff>)>) {
        let meetings: HashMap<MeetingId, MeetingRecord> = lines
            .into_iter()
            .map(|(summary, handoff)| {
                let mut record = MeetingRecord::of(&self.config.server, &summary);
                record.handoff = handoff;
                (summary.id, record)
            })
            .collect();
        let backbone = lock(&self.backbone);
        // Checked under the backbone's lock, which `store_handoffs` holds
        // while it sets it: no line of a meeting handed over follows its handoff.
        if !self.handing_over.load(Ordering::SeqCst) {
            backbone.send(Command::Sync { meetings });
        }
    }

    /// The server alive now with the fewest meetings, but this one.
    pub fn heir(&self) -> Option<Heir> {
        let location = lock(&self.directory).heir(Instant::now())?;
        Some(Heir {
            name: location.server,
            holder: Holder {
                address: location.address,
                fingerprint: location.fingerprint,
            },
        })
    }

    /// Stores each meeting's handoff as its record, held by `heir`, and
    /// waits until NATS has them all: only then may members be sent there.
    pub fn store_handoffs(&self, handovers: &[Handover], heir: &Heir) -> Result<(), String> {
        let records = handovers
            .iter()
            .map(|handover| {
                let first = handover.handoff.tickets.iter().find(|t| t.host);
                let record = MeetingRecord {
                    server: heir.name.clone(),
                    host: first.map(|t| t.name.clone()).unwrap_or_default(),
                    host_id: handover.members.first().map_or(ClientId(0), |(id, _)| *id),
                    members: handover.members.len(),
                    private: handover.handoff.passcode.is_some(),
                    locked: handover.handoff.locked,
                    handoff: Some(handover.handoff.clone()),
                };
                (handover.meeting.clone(), record)
            })
            .collect();
        let (answer, answered) = crossbeam_channel::bounded(1);
        {
            let backbone = lock(&self.backbone);
            self.handing_over.store(true, Ordering::SeqCst);
            if !backbone.send(Command::HandOver { records, answer }) {
                return Err("the backbone is not keeping up".into());
            }
        }
        answered
            .recv_timeout(HANDOVER_TIMEOUT)
            .map_err(|_| format!("NATS did not confirm within {HANDOVER_TIMEOUT:?}"))?
    }

    /// The other live servers, as their clients reach them, with their keys.
    pub fn addresses(&self) -> Vec<common::ServerAddress> {
        lock(&self.directory).addresses(Instant::now())
    }

    /// The member whose standing ticket for `meeting` is `ticket`, as the
    /// meeting's record in the cluster says (it may lag by half a second).
    pub fn ticket_member(&self, meeting: &MeetingId, ticket: &str) -> Option<common::ClientId> {
        lock(&self.directory).ticket_member(meeting, ticket)
    }

    /// What a `rejoin` of `meeting` (not here) needs: its handoff, if it
    /// was handed over to this server (waiting up to `timeout` for the
    /// directory to hear of it), or if its server died and this one takes
    /// it over first. None if another server alive holds it (the rules say
    /// where) or nobody does.
    pub fn handoff_for_rejoin(&self, meeting: &MeetingId, timeout: Duration) -> Option<Handoff> {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let (handoff, orphan, held_elsewhere) = {
                let directory = lock(&self.directory);
                (
                    directory.handoff(meeting),
                    directory.orphan(meeting, now),
                    directory.locate(meeting, now).is_some(),
                )
            };
            if handoff.is_some() {
                return handoff;
            }
            if let Some((record, revision)) = orphan {
                return self.take_over(meeting, record, revision);
            }
            if held_elsewhere || now >= deadline {
                return None;
            }
            std::thread::sleep(HANDOFF_POLL);
        }
    }

    /// Takes `meeting` over from its dead server: its record names this
    /// server now, unless another took it first.
    fn take_over(
        &self,
        meeting: &MeetingId,
        record: MeetingRecord,
        revision: u64,
    ) -> Option<Handoff> {
        let dead = record.server.clone();
        let handoff = record.handoff.clone()?;
        let mine = MeetingRecord {
            server: self.config.server.clone(),
            ..record
        };
        let (answer, answered) = crossbeam_channel::bounded(1);
        let sent = lock(&self.backbone).send(Command::TakeOver {
            meeting: meeting.clone(),
            record: mine,
            revision,
            answer,
        });
        if !sent {
            return None;
        }
        match answered.recv_timeout(CLAIM_TIMEOUT) {
            Ok(Ok(true)) => {
                tracing::info!(%meeting, "cluster: took the meeting over from {dead}, which is gone");
                Some(handoff)
            }
            Ok(Ok(false)) => {
                tracing::info!(%meeting, "cluster: another server took the meeting over first");
                None
            }
            Ok(Err(err)) => {
                tracing::warn!(%meeting, "cluster: could not take the meeting over: {err}");
                None
            }
            Err(_) => None,
        }
    }

    /// The cluster as `server_stats` shows it, with the `held` meetings
    /// this server runs.
    pub fn report(&self, held: usize) -> ClusterReport {
        let now = Instant::now();
        let (peers, meetings_elsewhere) = {
            let directory = lock(&self.directory);
            (directory.peers(now), directory.meetings_elsewhere(now))
        };
        let backbone = lock(&self.backbone);
        let counters = &backbone.counters;
        let traffic = counters.traffic();
        ClusterReport {
            name: self.config.name.clone(),
            server: self.config.server.clone(),
            connected: counters.is_connected(),
            peers,
            meetings_held: held,
            meetings_elsewhere,
            messages_in: traffic.messages_in,
            messages_out: traffic.messages_out,
            bytes_in: traffic.bytes_in,
            bytes_out: traffic.bytes_out,
            dropped_out: counters.dropped_out.load(Ordering::Relaxed),
            dropped_in: counters.dropped_in.load(Ordering::Relaxed),
            slow_consumer_events: counters.slow_consumer_events.load(Ordering::Relaxed),
        }
    }

    /// Leaves the cluster: this server's meetings and record are taken
    /// away at once (not when they age out), then the bridge ends.
    pub fn leave(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            lock(&self.backbone).stop();
        }
    }

    pub fn has_left(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

impl Elsewhere for Cluster {
    fn listing(&self) -> Vec<MeetingSummary> {
        lock(&self.directory).listing(Instant::now())
    }

    fn locate(&self, meeting: &MeetingId) -> Option<Holder> {
        let location = lock(&self.directory).locate(meeting, Instant::now())?;
        Some(Holder {
            address: location.address,
            fingerprint: location.fingerprint,
        })
    }
}

fn random_meeting_id() -> Option<MeetingId> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    MeetingId::from_random_bytes(&bytes)
}
