//! Counters of what this client sent and received, shared between the media
//! threads that count and the main loop that reports them (`/stats`). The main
//! loop adds what other parts own: each member's audio level and jitter buffer
//! figures, and the playback clock's.

use crate::playback::PlaybackStats;
use crate::playback::jitter::JitterStats;
use common::{ClientId, MediaKind, PerKind};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counter {
    pub frames: u64,
    pub bytes: u64,
    /// Frames missing from the sequence (dropped on the way).
    pub lost: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PerMember {
    pub member: ClientId,
    /// One key per media kind (`"video": {...}`).
    #[serde(flatten)]
    pub received: PerKind<Counter>,
    /// The member's held audio level in dBFS (-96 is silence), as the speaking
    /// indicator shows it; `None` before any audio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_level_dbfs: Option<f32>,
    /// The member's jitter buffer, while audio is played (`--audio-out`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playback: Option<JitterStats>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct StatsSnapshot {
    /// What we sent, as `sent_video`, `sent_audio`, ... (one key per kind).
    #[serde(flatten, serialize_with = "keys_with_sent_prefix")]
    pub sent: PerKind<Counter>,
    pub received: Vec<PerMember>,
    /// The playback clock, while audio is played.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playback: Option<PlaybackStats>,
}

/// `sent_<kind>` keys, as documented before kinds were a table.
fn keys_with_sent_prefix<S: Serializer>(
    sent: &PerKind<Counter>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(MediaKind::COUNT))?;
    for (kind, counter) in sent.iter() {
        map.serialize_entry(&format!("sent_{kind}"), counter)?;
    }
    map.end()
}

#[derive(Default)]
struct Inner {
    sent: PerKind<Counter>,
    received: BTreeMap<ClientId, PerKind<Counter>>,
}

#[derive(Default)]
pub struct ClientStats(Mutex<Inner>);

impl ClientStats {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn sent(&self, kind: MediaKind, bytes: usize) {
        let counter = &mut self.inner().sent[kind];
        counter.frames += 1;
        counter.bytes += bytes as u64;
    }

    pub fn received(&self, from: ClientId, kind: MediaKind, bytes: usize, lost: u64) {
        let mut inner = self.inner();
        let counter = &mut inner.received.entry(from).or_default()[kind];
        counter.frames += 1;
        counter.bytes += bytes as u64;
        counter.lost += lost;
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let inner = self.inner();
        StatsSnapshot {
            sent: inner.sent,
            received: inner
                .received
                .iter()
                .map(|(member, received)| PerMember {
                    member: *member,
                    received: *received,
                    audio_level_dbfs: None,
                    playback: None,
                })
                .collect(),
            playback: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_sent_kind_and_per_member_kind_keys() {
        let stats = ClientStats::default();
        stats.sent(MediaKind::Audio, 1920);
        stats.received(ClientId(4), MediaKind::Video, 5000, 2);
        let json = serde_json::to_value(stats.snapshot()).expect("serialises");
        assert_eq!(json["sent_audio"]["frames"], 1);
        assert_eq!(json["sent_video"]["frames"], 0);
        assert_eq!(json["received"][0]["member"], 4);
        assert_eq!(json["received"][0]["video"]["lost"], 2);
        assert_eq!(json["received"][0]["audio"]["frames"], 0);
    }
}
