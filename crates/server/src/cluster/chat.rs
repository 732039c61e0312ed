//! Each meeting's chat kept in NATS, so that a meeting made again after its
//! server died goes on numbering it where it was: no number given twice,
//! none skipped, and what any member saw is there to tell the others.
//!
//! One JetStream stream per cluster, `<cluster>_chat`, one subject per
//! meeting, the last `KEPT_MESSAGES` of each kept. The meeting's holder
//! publishes each numbered message there and tells its members only once
//! JetStream acknowledged it (`spawn_keeper`, in the order they were said):
//! what died with the holder before that was seen by nobody, and its
//! sender, which never saw its echo, sends it again. A server making the
//! meeting again reads the subject back (`tail`) before the first member
//! is let in.

use super::Inbound;
use super::backbone::Counters;
use super::wire::Subjects;
use crate::rules::KeptChat;
use async_nats::jetstream::{self, consumer, stream};
use common::MeetingId;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a meeting's chat stays in NATS after its last message: longer
/// than a meeting lasts.
const CHAT_AGE: Duration = Duration::from_secs(24 * 3600);
/// Room for every meeting's kept chat together (reserved in memory on each
/// NATS server that keeps it); past it, the oldest messages go.
const CHAT_BYTES: i64 = 64 * 1024 * 1024;
/// How long a message waits for JetStream before it is told all the same
/// (the meeting does not stop for a backbone that is away).
const KEEP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long reading a meeting's chat back may take.
const TAIL_TIMEOUT: Duration = Duration::from_secs(2);
/// Messages waiting to be kept, in order; past it, one is told at once.
const KEEP_QUEUE: usize = 4096;

/// Opens the cluster's chat stream, making it if nobody has.
pub async fn open_stream(
    jetstream: &jetstream::Context,
    cluster: &str,
    subjects: &str,
    replicas: usize,
) -> Result<stream::Stream, String> {
    let config = stream::Config {
        name: format!("{cluster}_chat"),
        subjects: vec![subjects.to_string()],
        max_messages_per_subject: crate::rules::KEPT_MESSAGES as i64,
        max_age: CHAT_AGE,
        max_bytes: CHAT_BYTES,
        storage: stream::StorageType::Memory,
        discard: stream::DiscardPolicy::Old,
        num_replicas: replicas,
        ..Default::default()
    };
    jetstream
        .get_or_create_stream(config)
        .await
        .map_err(|err| format!("{cluster}_chat: {err}"))
}

/// A chat message for the keeper: `kept`, of `meeting`.
pub type ToKeep = (MeetingId, KeptChat);

/// Keeps each message handed to it in the stream, one after the other in
/// the order they came, and hands the registry `ChatKept` for each once
/// JetStream acknowledged it, or at once while NATS is away (the meeting
/// goes on without it). A task of its own: the bridge's other work (a
/// heartbeat waiting on a NATS that is away) never holds chat up.
pub fn spawn_keeper(
    jetstream: jetstream::Context,
    subjects: Subjects,
    counters: Arc<Counters>,
    inbound: crossbeam_channel::Sender<Inbound>,
) -> mpsc::Sender<ToKeep> {
    let (keeper, mut queue) = mpsc::channel::<ToKeep>(KEEP_QUEUE);
    tokio::spawn(async move {
        while let Some((meeting, kept)) = queue.recv().await {
            let seq = kept.seq;
            if counters.is_connected() {
                let subject = subjects.chat(&meeting);
                if let Err(err) = keep(&jetstream, subject, &kept).await {
                    tracing::warn!(%meeting, seq, "cluster: a chat message was not kept ({err}); told all the same");
                }
            }
            if inbound.send(Inbound::ChatKept { meeting, seq }).is_err() {
                return;
            }
        }
    });
    keeper
}

/// Publishes `kept` on `subject` and waits for JetStream to have it.
async fn keep(
    jetstream: &jetstream::Context,
    subject: String,
    kept: &KeptChat,
) -> Result<(), String> {
    let payload = bytes::Bytes::from(serde_json::to_vec(kept).map_err(|err| err.to_string())?);
    let kept = async {
        let ack = jetstream
            .publish(subject, payload)
            .await
            .map_err(|err| err.to_string())?;
        ack.await.map(drop).map_err(|err| err.to_string())
    };
    tokio::time::timeout(KEEP_TIMEOUT, kept)
        .await
        .map_err(|_| format!("no answer within {KEEP_TIMEOUT:?}"))?
}

/// What `subject` (one meeting's) keeps, oldest first.
pub async fn tail(stream: &stream::Stream, subject: String) -> Result<Vec<KeptChat>, String> {
    let read = async {
        let reader = stream
            .create_consumer(consumer::pull::Config {
                filter_subject: subject,
                deliver_policy: consumer::DeliverPolicy::All,
                ack_policy: consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(5),
                ..Default::default()
            })
            .await
            .map_err(|err| err.to_string())?;
        let mut messages = reader
            .fetch()
            .max_messages(crate::rules::KEPT_MESSAGES + 1)
            .messages()
            .await
            .map_err(|err| err.to_string())?;
        let mut tail = Vec::new();
        while let Some(message) = messages.next().await {
            let message = message.map_err(|err| err.to_string())?;
            match serde_json::from_slice::<KeptChat>(&message.payload) {
                Ok(kept) => tail.push(kept),
                Err(err) => tracing::warn!("cluster: an unreadable kept chat message: {err}"),
            }
        }
        Ok(tail)
    };
    tokio::time::timeout(TAIL_TIMEOUT, read)
        .await
        .map_err(|_| format!("not read within {TAIL_TIMEOUT:?}"))?
}
