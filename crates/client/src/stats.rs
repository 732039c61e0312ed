//! Counters of what this client sent and received, shared between the media
//! threads that count and the main loop that reports them (`/stats`). The main
//! loop adds what other parts own: each member's audio level and jitter buffer
//! figures, and the playback clock's.

use crate::playback::PlaybackStats;
use crate::playback::jitter::JitterStats;
use common::{ClientId, MediaKind};
use serde::Serialize;
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
    pub video: Counter,
    pub audio: Counter,
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
    pub sent_video: Counter,
    pub sent_audio: Counter,
    pub received: Vec<PerMember>,
    /// The playback clock, while audio is played.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playback: Option<PlaybackStats>,
}

#[derive(Default)]
struct Inner {
    sent: [Counter; 2],
    received: BTreeMap<ClientId, [Counter; 2]>,
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
        let counter = &mut self.inner().sent[kind.index()];
        counter.frames += 1;
        counter.bytes += bytes as u64;
    }

    pub fn received(&self, from: ClientId, kind: MediaKind, bytes: usize, lost: u64) {
        let mut inner = self.inner();
        let counter = &mut inner.received.entry(from).or_default()[kind.index()];
        counter.frames += 1;
        counter.bytes += bytes as u64;
        counter.lost += lost;
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let inner = self.inner();
        StatsSnapshot {
            sent_video: inner.sent[MediaKind::Video.index()],
            sent_audio: inner.sent[MediaKind::Audio.index()],
            received: inner
                .received
                .iter()
                .map(|(member, [video, audio])| PerMember {
                    member: *member,
                    video: *video,
                    audio: *audio,
                    audio_level_dbfs: None,
                    playback: None,
                })
                .collect(),
            playback: None,
        }
    }
}
