//! The bridge between the threaded server and NATS. One thread owns a
//! current-thread tokio runtime with the async-nats client on it; the rest
//! of the server hands it `Command`s through a bounded queue that never
//! blocks, and reads what it learns from the `Directory` (its own lock,
//! never the registry's). Only a meeting's claim waits for an answer, and
//! it waits on the thread of the client that asked, outside every lock.
//!
//! What crosses NATS, in two key-value buckets named after the cluster:
//! - `<cluster>_servers`: each server's address and key, put every
//!   heartbeat; a server whose heartbeat stops is taken for gone.
//! - `<cluster>_meetings`: each meeting's holder and list line. A new
//!   meeting's id is claimed with `create` (only if absent), which is what
//!   keeps ids unique across the cluster; lines are put again when they
//!   change and now and then, so the record of a server that died ages out.
//!
//! NATS going away is not an error to the server: the client reconnects on
//! its own, meanwhile claims are answered "unknown" and each server goes on
//! with its own meetings.

use super::Inbound;
use super::chat;
use super::config::ClusterConfig;
use super::directory::{Directory, HEARTBEAT, MeetingRecord, ServerRecord};
use super::ids::IdBlock;
use super::media::Inlet;
use super::wire::{Envelope, Relay, Subjects};
use crate::rules::KeptChat;
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use common::sync::lock;
use common::{LayerSet, MediaKind, MeetingId};
use futures_util::{FutureExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the server asks of the backbone.
pub enum Command {
    /// Claim `meeting` for this server: `Ok(true)` if nobody held it.
    Claim {
        meeting: MeetingId,
        record: MeetingRecord,
        answer: crossbeam_channel::Sender<Result<bool, String>>,
    },
    /// These meetings go to another server: their records (held by the
    /// heir, with their handoffs) are put, and this server forgets them.
    /// `Ok` once NATS has them all.
    HandOver {
        records: HashMap<MeetingId, MeetingRecord>,
        answer: crossbeam_channel::Sender<Result<(), String>>,
    },
    /// Take over `meeting`, whose server died: its record becomes `record`
    /// if it is still at `revision` (nobody took it first). `Ok(true)` if so.
    TakeOver {
        meeting: MeetingId,
        record: MeetingRecord,
        revision: u64,
        answer: crossbeam_channel::Sender<Result<bool, String>>,
    },
    /// This server's meetings now, with their lines: what changed is put,
    /// what is gone is deleted.
    Sync {
        meetings: HashMap<MeetingId, MeetingRecord>,
    },
    /// Take `meeting`'s media from the backbone into `inlet`: every kind
    /// but video, and video in the layers of `video`. None: take none.
    Interest {
        meeting: MeetingId,
        inlet: Option<(Arc<Inlet>, LayerSet)>,
    },
    /// What the cluster keeps of `meeting`'s chat, oldest first.
    ChatTail {
        meeting: MeetingId,
        answer: crossbeam_channel::Sender<Result<Vec<KeptChat>, String>>,
    },
}

/// A way to publish on the backbone from any thread, without waiting:
/// what the NATS client cannot take at once is dropped and counted.
#[derive(Clone)]
pub struct Publisher {
    /// Relays go on the control connection, frames on the media one: a
    /// backlog of media never holds up a relay or a heartbeat.
    control: Arc<OnceLock<async_nats::Client>>,
    media: Arc<OnceLock<async_nats::Client>>,
    counters: Arc<Counters>,
    subjects: Subjects,
    /// This server's name, which every relay it sends carries.
    me: String,
    /// Where chat goes to be kept (`chat`), once NATS answered.
    chat_keeper: Arc<OnceLock<mpsc::Sender<chat::ToKeep>>>,
}

impl Publisher {
    /// Hands chat message `kept` of `meeting` to be kept in the cluster;
    /// the registry hears `ChatKept` when it may be told. False if it
    /// cannot be taken (then it is told at once).
    pub fn keep_chat(&self, meeting: MeetingId, kept: KeptChat) -> bool {
        self.chat_keeper
            .get()
            .is_some_and(|keeper| keeper.try_send((meeting, kept)).is_ok())
    }

    /// Publishes a frame on the media connection.
    pub fn publish(&self, subject: async_nats::Subject, payload: bytes::Bytes) {
        self.publish_on(&self.media, subject, payload);
    }

    fn publish_on(
        &self,
        client: &OnceLock<async_nats::Client>,
        subject: async_nats::Subject,
        payload: bytes::Bytes,
    ) {
        let published = client
            .get()
            .and_then(|client| client.publish(subject, payload).now_or_never())
            .is_some_and(|sent| sent.is_ok());
        if !published {
            self.counters.dropped_out.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends `relay` to `server`; in the order of the calls.
    pub fn relay(&self, server: &str, relay: &Relay) {
        let envelope = Envelope {
            from: self.me.clone(),
            relay: relay.clone(),
        };
        let payload = match serde_json::to_vec(&envelope) {
            Ok(payload) => bytes::Bytes::from(payload),
            Err(_) => return,
        };
        self.publish_on(&self.control, self.subjects.server(server).into(), payload);
    }

    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }
}

/// Commands waiting for the bridge; past this, they are dropped and counted
/// (the next refresh puts every line again).
const COMMAND_QUEUE: usize = 4096;
/// How often this server's meeting lines are put again, unchanged or not.
const REFRESH: Duration = Duration::from_secs(5);
/// Records older than this leave NATS on their own.
const SERVER_RECORD_AGE: Duration = Duration::from_secs(10);
const MEETING_RECORD_AGE: Duration = Duration::from_secs(30);
/// The most a bucket holds (JetStream reserves it on each replica).
const BUCKET_BYTES: i64 = 64 * 1024 * 1024;
/// A first connection, or buckets that could not be opened, is tried again this often.
const RETRY: Duration = Duration::from_secs(1);

/// What the bridge counts, for `server_stats` and metrics.
#[derive(Default)]
pub struct Counters {
    /// Since when the control connection is up (None while it is down):
    /// the backbone is there as long as it is.
    pub connected_since: Mutex<Option<Instant>>,
    pub dropped_out: AtomicU64,
    /// Media from the backbone this server could not hand on in time.
    pub dropped_in: AtomicU64,
    pub slow_consumer_events: AtomicU64,
    /// Of the control connection, then the media one.
    statistics: Mutex<Vec<Arc<async_nats::Statistics>>>,
}

/// Messages and bytes in and out, as the NATS client counts them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Traffic {
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Counters {
    pub fn is_connected(&self) -> bool {
        lock(&self.connected_since).is_some()
    }

    pub fn traffic(&self) -> Traffic {
        let mut traffic = Traffic::default();
        for statistics in lock(&self.statistics).iter() {
            traffic.messages_in += statistics.in_messages.load(Ordering::Relaxed);
            traffic.messages_out += statistics.out_messages.load(Ordering::Relaxed);
            traffic.bytes_in += statistics.in_bytes.load(Ordering::Relaxed);
            traffic.bytes_out += statistics.out_bytes.load(Ordering::Relaxed);
        }
        traffic
    }
}

/// The running bridge.
pub struct Backbone {
    commands: Option<mpsc::Sender<Command>>,
    pub counters: Arc<Counters>,
    pub publisher: Publisher,
    thread: Option<JoinHandle<()>>,
}

/// Room in the control connection's queue of outgoing messages (relays,
/// records): bursts of relays wait rather than being lost.
const CLIENT_QUEUE: usize = 65_536;
/// Room in the media connection's queues, out and in: a few hundred
/// frames (well under a second of a busy meeting). Past them frames are
/// dropped and counted, as a slow receiver's are, rather than arriving
/// seconds late.
const MEDIA_QUEUE: usize = 128;
/// Frames from the backbone waiting for the thread that hands them on.
const MEDIA_IN_QUEUE: usize = 256;

impl Backbone {
    /// Starts the bridge thread; it connects in the background.
    pub fn start(
        config: ClusterConfig,
        directory: Arc<Mutex<Directory>>,
        ids: Arc<IdBlock>,
        inbound: crossbeam_channel::Sender<Inbound>,
    ) -> std::io::Result<Backbone> {
        let (commands, queue) = mpsc::channel(COMMAND_QUEUE);
        let counters = Arc::new(Counters::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let subjects = Subjects::new(&config.name);
        let publisher = Publisher {
            control: Arc::new(OnceLock::new()),
            media: Arc::new(OnceLock::new()),
            counters: counters.clone(),
            subjects: subjects.clone(),
            me: config.server.clone(),
            chat_keeper: Arc::new(OnceLock::new()),
        };
        let bridge = Bridge {
            config,
            directory,
            counters: counters.clone(),
            published: HashMap::new(),
            ids,
            inbound,
            client: publisher.control.clone(),
            media: publisher.media.clone(),
            media_in: spawn_media_in()?,
            subjects,
            interest: HashMap::new(),
            chat_keeper: publisher.chat_keeper.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("nats-bridge".into())
            .spawn(move || runtime.block_on(bridge.run(queue)))?;
        Ok(Backbone {
            commands: Some(commands),
            counters,
            publisher,
            thread: Some(thread),
        })
    }

    /// Queues `command` without waiting; false (and counted) if the bridge
    /// is too far behind or gone.
    pub fn send(&self, command: Command) -> bool {
        let sent = self
            .commands
            .as_ref()
            .is_some_and(|commands| commands.try_send(command).is_ok());
        if !sent {
            self.counters.dropped_out.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Asks to claim `meeting` for this server; the answer comes on the
    /// channel returned (wait for it after letting go of any lock).
    pub fn ask_claim(
        &self,
        meeting: MeetingId,
        record: MeetingRecord,
    ) -> Result<crossbeam_channel::Receiver<Result<bool, String>>, String> {
        let (answer, answered) = crossbeam_channel::bounded(1);
        if !self.send(Command::Claim {
            meeting,
            record,
            answer,
        }) {
            return Err("the backbone is not keeping up".into());
        }
        Ok(answered)
    }

    /// Ends the bridge: its queue closes, it takes this server's meetings
    /// and record away, and its thread ends.
    pub fn stop(&mut self) {
        self.commands.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Backbone {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The two buckets and the chat stream, once NATS answers.
struct Buckets {
    servers: kv::Store,
    meetings: kv::Store,
    chat: async_nats::jetstream::stream::Stream,
}

/// Why a connected spell ended.
enum Ended {
    /// The server is stopping (the command queue closed).
    Stopped,
    /// A watch ended or failed: open everything again.
    Lost(String),
}

struct Bridge {
    config: ClusterConfig,
    directory: Arc<Mutex<Directory>>,
    counters: Arc<Counters>,
    /// This server's meetings as last published: put again on every
    /// refresh and after a reconnection.
    published: HashMap<MeetingId, MeetingRecord>,
    ids: Arc<IdBlock>,
    /// Where relays for this server go (the registry's inbound thread).
    inbound: crossbeam_channel::Sender<Inbound>,
    /// Where chat goes to be kept (`chat`), once NATS answered.
    chat_keeper: Arc<OnceLock<mpsc::Sender<chat::ToKeep>>>,
    client: Arc<OnceLock<async_nats::Client>>,
    media: Arc<OnceLock<async_nats::Client>>,
    /// Frames taken from the backbone, for the thread that hands them on.
    media_in: crossbeam_channel::Sender<(Arc<Inlet>, MediaKind, bytes::Bytes)>,
    subjects: Subjects,
    /// The media subscriptions of each spanning meeting, by subject.
    interest: HashMap<MeetingId, HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl Bridge {
    async fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        let client = match self.connect().await {
            Ok(client) => client,
            Err(err) => {
                tracing::error!("cluster: cannot use NATS: {err}; this server runs alone");
                return self.drain(queue).await;
            }
        };
        lock(&self.counters.statistics).push(client.statistics());
        let _ = self.client.set(client.clone());
        match self.connect_media().await {
            Ok(media) => {
                lock(&self.counters.statistics).push(media.statistics());
                let _ = self.media.set(media);
            }
            Err(err) => tracing::error!("cluster: no media connection to NATS: {err}"),
        }
        // Core subscriptions outlive reconnections: made once.
        self.listen(&client).await;
        let jetstream = async_nats::jetstream::new(client.clone());
        let _ = self.chat_keeper.set(chat::spawn_keeper(
            jetstream.clone(),
            self.subjects.clone(),
            self.counters.clone(),
            self.inbound.clone(),
        ));
        let mut complained = false;
        loop {
            let buckets = match open_buckets(&jetstream, &self.config, &self.subjects).await {
                Ok(buckets) => buckets,
                Err(err) => {
                    if !complained {
                        tracing::warn!(
                            "cluster: NATS key-value buckets not available yet ({err}); is JetStream on (nats-server -js)? trying again every {RETRY:?}"
                        );
                        complained = true;
                    }
                    if self.wait_answering_unknown(&mut queue, RETRY).await {
                        break;
                    }
                    continue;
                }
            };
            if complained {
                tracing::info!("cluster: NATS key-value buckets open");
                complained = false;
            }
            self.claim_block(&buckets).await;
            match self.connected(&buckets, &mut queue).await {
                Ended::Stopped => {
                    self.farewell(&buckets).await;
                    break;
                }
                Ended::Lost(why) => {
                    tracing::warn!(
                        "cluster: lost the backbone's watches ({why}); opening them again"
                    );
                    if self.wait_answering_unknown(&mut queue, RETRY).await {
                        break;
                    }
                }
            }
        }
        // Not waited for past a moment: without NATS it would never end.
        let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    }

    async fn connect(&self) -> Result<async_nats::Client, String> {
        self.connect_as(Connection::Control, CLIENT_QUEUE, 64 * 1024)
            .await
    }

    /// The second connection, for media alone, with short queues.
    async fn connect_media(&self) -> Result<async_nats::Client, String> {
        self.connect_as(Connection::Media, MEDIA_QUEUE, MEDIA_QUEUE)
            .await
    }

    async fn connect_as(
        &self,
        which: Connection,
        queue: usize,
        subscription_queue: usize,
    ) -> Result<async_nats::Client, String> {
        let counters = self.counters.clone();
        let what = match which {
            Connection::Control => "",
            Connection::Media => " media",
        };
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("meeting-server {}{what}", self.config.server))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            // A server never wants back the media it published itself.
            .no_echo()
            .client_capacity(queue)
            .subscription_capacity(subscription_queue)
            .event_callback(move |event| {
                let counters = counters.clone();
                async move { note_event(&counters, which, event) }
            });
        let auth = &self.config.auth;
        if let Some(creds) = &auth.creds {
            options = options
                .credentials_file(creds)
                .await
                .map_err(|err| format!("--cluster-creds {}: {err}", creds.display()))?;
        }
        if let Some((user, password)) = &auth.user {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &auth.token {
            options = options.token(token.clone());
        }
        if let Some(tls) = &self.config.tls {
            options = options.require_tls(true);
            if let Some(roots) = &tls.roots {
                options = options.add_root_certificates(roots.clone());
            }
            if let Some((certificate, key)) = &tls.client {
                options = options.add_client_certificate(certificate.clone(), key.clone());
            }
        }
        let urls: Vec<async_nats::ServerAddr> = self
            .config
            .urls
            .iter()
            .map(|url| url.parse().map_err(|err| format!("--cluster {url}: {err}")))
            .collect::<Result<_, _>>()?;
        options
            .connect(urls.as_slice())
            .await
            .map_err(|err| err.to_string())
    }

    /// One spell with the buckets open: heartbeats, refreshes, the two
    /// watches and the server's commands, until a watch ends or the server stops.
    async fn connected(&mut self, buckets: &Buckets, queue: &mut mpsc::Receiver<Command>) -> Ended {
        let mut servers = match buckets.servers.watch_all().await {
            Ok(watch) => watch,
            Err(err) => return Ended::Lost(err.to_string()),
        };
        let mut meetings = match buckets.meetings.watch_all().await {
            Ok(watch) => watch,
            Err(err) => return Ended::Lost(err.to_string()),
        };
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let me = ServerRecord {
            address: self.config.advertise.clone(),
            fingerprint: self.config.fingerprint.clone(),
        };
        let me = bytes::Bytes::from(serde_json::to_vec(&me).unwrap_or_default());
        loop {
            tokio::select! {
                _ = heartbeat.tick() => {
                    if let Err(err) = buckets.servers.put(&self.config.server, me.clone()).await {
                        // NATS came back without its buckets (they live
                        // in memory): made again, and watched anew.
                        if stream_is_gone(&err) {
                            return Ended::Lost("NATS no longer has the cluster's buckets".into());
                        }
                        tracing::debug!("cluster: heartbeat not stored: {err}");
                    }
                    if self.ids.is_claimed() {
                        let block = IdBlock::key(self.ids.block());
                        let _ = buckets.servers.put(&block, self.config.server.clone().into()).await;
                    }
                }
                _ = refresh.tick() => {
                    for (meeting, record) in &self.published {
                        put_meeting(&buckets.meetings, meeting, record).await;
                    }
                }
                entry = servers.next() => match entry {
                    Some(Ok(entry)) => self.server_entry(entry),
                    Some(Err(err)) => return Ended::Lost(err.to_string()),
                    None => return Ended::Lost("the servers watch ended".into()),
                },
                entry = meetings.next() => match entry {
                    Some(Ok(entry)) => self.meeting_entry(entry),
                    Some(Err(err)) => return Ended::Lost(err.to_string()),
                    None => return Ended::Lost("the meetings watch ended".into()),
                },
                command = queue.recv() => match command {
                    Some(command) => self.carry_out(buckets, command).await,
                    None => return Ended::Stopped,
                },
            }
        }
    }

    /// Hears relays for this server, and hands them to the registry.
    async fn listen(&self, client: &async_nats::Client) {
        let subject = self.subjects.server(&self.config.server);
        let mut inbox = match client.subscribe(subject).await {
            Ok(inbox) => inbox,
            Err(err) => {
                tracing::error!("cluster: cannot hear the other servers: {err}");
                return;
            }
        };
        let inbound = self.inbound.clone();
        tokio::spawn(async move {
            while let Some(message) = inbox.next().await {
                match serde_json::from_slice::<Envelope>(&message.payload) {
                    Ok(relay) => {
                        if inbound.send(Inbound::Relay(relay)).is_err() {
                            return;
                        }
                    }
                    Err(err) => tracing::warn!("cluster: an unreadable relay: {err}"),
                }
            }
        });
    }

    /// Claims a block of member ids: the one drawn if free, else the
    /// first free one. Until then (and without NATS) the drawn one is used.
    async fn claim_block(&self, buckets: &Buckets) {
        if self.ids.is_claimed() {
            return;
        }
        let me = bytes::Bytes::from(self.config.server.clone());
        for block in self.ids.candidates() {
            match buckets
                .servers
                .create(IdBlock::key(block), me.clone())
                .await
            {
                Ok(_) => {
                    if block != self.ids.block() {
                        tracing::info!(
                            "cluster: member ids from block {block} (the one drawn was taken)"
                        );
                    }
                    self.ids.claimed(block);
                    return;
                }
                Err(err) if err.kind() == CreateErrorKind::AlreadyExists => continue,
                Err(err) => {
                    tracing::warn!(
                        "cluster: no block of member ids claimed ({err}); using the one drawn"
                    );
                    return;
                }
            }
        }
        tracing::warn!("cluster: every block of member ids is taken; using the one drawn");
    }

    /// Takes (or stops taking) a spanning meeting's media.
    async fn interest(&mut self, meeting: MeetingId, inlet: Option<(Arc<Inlet>, LayerSet)>) {
        let Some(client) = self.media.get().cloned() else {
            return;
        };
        let Some((inlet, video)) = inlet else {
            for (_, task) in self.interest.remove(&meeting).unwrap_or_default() {
                task.abort();
            }
            return;
        };
        let wanted: HashMap<String, MediaKind> = self
            .subjects
            .interest(&meeting, video)
            .into_iter()
            .collect();
        let taken = self.interest.entry(meeting).or_default();
        taken.retain(|subject, task| {
            let keep = wanted.contains_key(subject);
            if !keep {
                task.abort();
            }
            keep
        });
        for (subject, kind) in wanted {
            if taken.contains_key(&subject) {
                continue;
            }
            let mut frames = match client.subscribe(subject.clone()).await {
                Ok(frames) => frames,
                Err(err) => {
                    tracing::warn!("cluster: cannot take {subject}: {err}");
                    continue;
                }
            };
            let inlet = inlet.clone();
            let media_in = self.media_in.clone();
            let counters = self.counters.clone();
            let task = tokio::spawn(async move {
                while let Some(message) = frames.next().await {
                    if media_in
                        .try_send((inlet.clone(), kind, message.payload))
                        .is_err()
                    {
                        counters.dropped_in.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            taken.insert(subject, task);
        }
    }

    async fn carry_out(&mut self, buckets: &Buckets, command: Command) {
        match command {
            Command::Claim {
                meeting,
                record,
                answer,
            } => {
                let value = bytes::Bytes::from(serde_json::to_vec(&record).unwrap_or_default());
                let claimed = match buckets.meetings.create(meeting.as_str(), value).await {
                    Ok(_) => {
                        self.published.insert(meeting, record);
                        Ok(true)
                    }
                    Err(err) if err.kind() == CreateErrorKind::AlreadyExists => Ok(false),
                    Err(err) => Err(err.to_string()),
                };
                let _ = answer.send(claimed);
            }
            Command::HandOver { records, answer } => {
                let mut stored = Ok(());
                for (meeting, record) in &records {
                    let value = bytes::Bytes::from(serde_json::to_vec(record).unwrap_or_default());
                    if let Err(err) = buckets.meetings.put(meeting.as_str(), value).await {
                        stored = Err(format!("{meeting}: {err}"));
                    }
                    self.published.remove(meeting);
                }
                let _ = answer.send(stored);
            }
            Command::TakeOver {
                meeting,
                record,
                revision,
                answer,
            } => {
                let value = bytes::Bytes::from(serde_json::to_vec(&record).unwrap_or_default());
                let taken = match buckets
                    .meetings
                    .update(meeting.as_str(), value, revision)
                    .await
                {
                    Ok(_) => {
                        self.published.insert(meeting, record);
                        Ok(true)
                    }
                    Err(err) if err.kind() == UpdateErrorKind::WrongLastRevision => Ok(false),
                    Err(err) => Err(err.to_string()),
                };
                let _ = answer.send(taken);
            }
            Command::Interest { meeting, inlet } => self.interest(meeting, inlet).await,
            Command::ChatTail { meeting, answer } => {
                let tail = chat::tail(&buckets.chat, self.subjects.chat(&meeting)).await;
                let _ = answer.send(tail);
            }
            Command::Sync { meetings } => {
                for (meeting, record) in &meetings {
                    if self.published.get(meeting) != Some(record) {
                        put_meeting(&buckets.meetings, meeting, record).await;
                    }
                }
                for meeting in self.published.keys() {
                    if !meetings.contains_key(meeting)
                        && let Err(err) = buckets.meetings.delete(meeting.as_str()).await
                    {
                        tracing::debug!(%meeting, "cluster: meeting record not removed: {err}");
                    }
                }
                self.published = meetings;
            }
        }
    }

    fn server_entry(&self, entry: kv::Entry) {
        if IdBlock::of_key(&entry.key).is_some() {
            return;
        }
        let mut directory = lock(&self.directory);
        match entry.operation {
            Operation::Put => match serde_json::from_slice::<ServerRecord>(&entry.value) {
                Ok(record) => directory.server_heard(&entry.key, record, Instant::now()),
                Err(err) => {
                    tracing::debug!(server = %entry.key, "cluster: unreadable server record: {err}")
                }
            },
            Operation::Delete | Operation::Purge => directory.server_gone(&entry.key),
        }
    }

    fn meeting_entry(&self, entry: kv::Entry) {
        let Some(meeting) = MeetingId::parse(&entry.key) else {
            return;
        };
        let mut directory = lock(&self.directory);
        match entry.operation {
            Operation::Put => match serde_json::from_slice::<MeetingRecord>(&entry.value) {
                Ok(record) => directory.meeting_heard(meeting, record, entry.revision),
                Err(err) => tracing::debug!(%meeting, "cluster: unreadable meeting record: {err}"),
            },
            Operation::Delete | Operation::Purge => directory.meeting_gone(&meeting),
        }
    }

    /// The server stops: its meetings and its record leave at once, so the
    /// others stop listing them now rather than when they age out.
    async fn farewell(&mut self, buckets: &Buckets) {
        let farewell = async {
            for meeting in self.published.keys() {
                let _ = buckets.meetings.delete(meeting.as_str()).await;
            }
            let _ = buckets.servers.delete(&self.config.server).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), farewell).await;
    }

    /// Waits `pause` while NATS is not usable; claims asked meanwhile are
    /// answered with an error, lines are kept for later. True if the
    /// server is stopping.
    async fn wait_answering_unknown(
        &mut self,
        queue: &mut mpsc::Receiver<Command>,
        pause: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + pause;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return false,
                command = queue.recv() => match command {
                    None => return true,
                    Some(Command::Claim { answer, .. }) => {
                        let _ = answer.send(Err("the cluster's backbone is not reachable".into()));
                    }
                    Some(Command::HandOver { answer, .. }) => {
                        let _ = answer.send(Err("the cluster's backbone is not reachable".into()));
                    }
                    Some(Command::TakeOver { answer, .. }) => {
                        let _ = answer.send(Err("the cluster's backbone is not reachable".into()));
                    }
                    // Put as soon as the backbone is back (on its first refresh).
                    Some(Command::Sync { meetings }) => self.published = meetings,
                    Some(Command::Interest { meeting, inlet }) => self.interest(meeting, inlet).await,
                    Some(Command::ChatTail { answer, .. }) => {
                        let _ = answer.send(Err("the cluster's backbone is not reachable".into()));
                    }
                },
            }
        }
    }

    /// Without NATS at all (a bad address or credentials file): answers
    /// until the server stops.
    async fn drain(mut self, mut queue: mpsc::Receiver<Command>) {
        while !self
            .wait_answering_unknown(&mut queue, Duration::from_secs(3600))
            .await
        {}
    }
}

/// The thread that hands frames from the backbone to this server's
/// members, so the bridge's thread only moves bytes.
fn spawn_media_in()
-> std::io::Result<crossbeam_channel::Sender<(Arc<Inlet>, MediaKind, bytes::Bytes)>> {
    let (frames, queue) =
        crossbeam_channel::bounded::<(Arc<Inlet>, MediaKind, bytes::Bytes)>(MEDIA_IN_QUEUE);
    std::thread::Builder::new()
        .name("backbone-media-in".into())
        .spawn(move || {
            for (inlet, kind, payload) in queue {
                if let Err(refused) = inlet.forward(kind, &payload) {
                    tracing::debug!(
                        "cluster: a {kind} frame from the backbone went nowhere: {refused:?}"
                    );
                }
            }
        })?;
    Ok(frames)
}

async fn open_buckets(
    jetstream: &async_nats::jetstream::Context,
    config: &ClusterConfig,
    subjects: &Subjects,
) -> Result<Buckets, String> {
    let (cluster, replicas) = (&config.name, config.replicas);
    let servers = format!("{cluster}_servers");
    let servers = open_bucket(jetstream, servers, SERVER_RECORD_AGE, replicas).await?;
    let meetings = format!("{cluster}_meetings");
    let meetings = open_bucket(jetstream, meetings, MEETING_RECORD_AGE, replicas).await?;
    let chat = chat::open_stream(jetstream, cluster, &subjects.all_chat(), replicas).await?;
    Ok(Buckets {
        servers,
        meetings,
        chat,
    })
}

/// Opens a bucket, making it if nobody has: every server asks for the same
/// one, and JetStream takes the same request twice as one.
///
/// The bucket's stream is made here as a key-value bucket's is (`KV_<name>`,
/// one value per key, rollups allowed, deletes as markers): the client's
/// own `create_key_value` first reads the account's figures in a form that
/// nats-server 2.9 (Debian 12) does not send, and fails there.
async fn open_bucket(
    jetstream: &async_nats::jetstream::Context,
    bucket: String,
    max_age: Duration,
    replicas: usize,
) -> Result<kv::Store, String> {
    use async_nats::jetstream::stream;
    let config = stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: stream::StorageType::Memory,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        // Kept in memory on as many NATS servers: with 3, the cluster's
        // directory (and the standing handoffs a failover needs) outlives
        // the death of a NATS server.
        num_replicas: replicas,
        // Bounded: a JetStream cluster places a replicated stream only on
        // servers with room reserved for it (an unbounded one fits nowhere),
        // and records are small (a meeting's is under 1 KiB per member).
        max_bytes: BUCKET_BYTES,
        ..Default::default()
    };
    jetstream
        .get_or_create_stream(config)
        .await
        .map_err(|err| format!("{bucket}: {err}"))?;
    jetstream
        .get_key_value(bucket.clone())
        .await
        .map_err(|err| format!("{bucket}: {err}"))
}

/// Whether a bucket's put failed because JetStream has no stream for it.
fn stream_is_gone(err: &kv::PutError) -> bool {
    use async_nats::jetstream::context::{PublishError, PublishErrorKind};
    std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<PublishError>())
        .is_some_and(|publish| publish.kind() == PublishErrorKind::StreamNotFound)
}

async fn put_meeting(bucket: &kv::Store, meeting: &MeetingId, record: &MeetingRecord) {
    let value = bytes::Bytes::from(serde_json::to_vec(record).unwrap_or_default());
    if let Err(err) = bucket.put(meeting.as_str(), value).await {
        tracing::debug!(%meeting, "cluster: meeting record not stored: {err}");
    }
}

/// One of a server's two connections to NATS.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Connection {
    /// Relays, records and heartbeats: whether the backbone is there.
    Control,
    Media,
}

fn note_event(counters: &Counters, which: Connection, event: async_nats::Event) {
    match event {
        async_nats::Event::Connected if which == Connection::Control => {
            *lock(&counters.connected_since) = Some(Instant::now());
            tracing::info!("cluster: connected to NATS");
        }
        async_nats::Event::Disconnected if which == Connection::Control => {
            *lock(&counters.connected_since) = None;
            tracing::warn!("cluster: disconnected from NATS; reconnecting");
        }
        async_nats::Event::Connected | async_nats::Event::Disconnected => {
            tracing::debug!("cluster: media connection to NATS: {event}");
        }
        async_nats::Event::SlowConsumer(_) => {
            counters
                .slow_consumer_events
                .fetch_add(1, Ordering::Relaxed);
        }
        other => tracing::info!("cluster: NATS says {other}"),
    }
}
