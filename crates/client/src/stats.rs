//! Counters of what this client sent and received, shared between the media
//! threads that count and the main loop that reports them (`/stats`). The main
//! loop adds what other parts own: each member's audio level and jitter buffer
//! figures, and the playback clock's.

use crate::media::audio::codec::DecodeStats;
use crate::playback::PlaybackStats;
use crate::playback::jitter::JitterStats;
use common::{ClientId, Event, Layer, LayerSet, MediaKind, PerKind, PixelSize};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::collections::{BTreeMap, HashMap};
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
    /// The member's audio codec and what its decoder made up for losses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_decoding: Option<DecodeStats>,
    /// The layer of the member's video we got last: `full`, `half`, `quarter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_layer: Option<Layer>,
    /// Its size in pixels (absent for a single-layer sender's frames).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_size: Option<PixelSize>,
    /// What we told the server we draw the member at (`view`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_asked: Option<PixelSize>,
}

/// What our own video sender encodes.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SentLayers {
    /// The layers the server asked for last (absent: it never said, so only
    /// the full size, without a layer header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wanted: Option<LayerSet>,
    /// Frames and bytes sent of each layer: full, half, quarter, eighth,
    /// sixteenth.
    pub full: Counter,
    pub half: Counter,
    pub quarter: Counter,
    pub eighth: Counter,
    pub sixteenth: Counter,
    /// Microseconds spent encoding, per captured picture, over all layers.
    pub encode_us_per_picture: u64,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct StatsSnapshot {
    /// What we sent, as `sent_video`, `sent_audio`, ... (one key per kind).
    #[serde(flatten, serialize_with = "keys_with_sent_prefix")]
    pub sent: PerKind<Counter>,
    pub received: Vec<PerMember>,
    /// Our video's layers.
    pub sent_video_layers: Box<SentLayers>,
    /// What we asked the server for members not listed in `received`
    /// (`view` others): absent, none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_asked_others: Option<PixelSize>,
    /// The playback clock, while audio is played.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playback: Option<PlaybackStats>,
    /// Our audio frames not sent because we were silent (the voice gate).
    pub audio_held_silent: u64,
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
    decoded: HashMap<ClientId, DecodeStats>,
    /// Each sender's last sequence per kind, for counting lost frames. It
    /// is kept across media sockets (what was lost while a channel was down
    /// counts too) but forgotten when a sender (re)appears in our meeting:
    /// what they sent while we were not in it together was never ours to lose.
    last_sequence: HashMap<(ClientId, MediaKind), u32>,
    layers: SentLayers,
    encode_us_total: u64,
    pictures: u64,
    received_layer: HashMap<ClientId, (Layer, Option<PixelSize>)>,
    asked: HashMap<ClientId, PixelSize>,
    asked_others: Option<PixelSize>,
    audio_held_silent: u64,
}

#[derive(Default)]
pub struct ClientStats(Mutex<Inner>);

impl ClientStats {
    /// Frames a member sent while we were not in a meeting together were
    /// never on their way to us: count losses afresh from their next frame.
    pub fn meeting_changed(&self, event: &Event) {
        match event {
            Event::Joined { .. } | Event::Left { .. } | Event::Created { .. } => {
                self.new_sequences(None);
            }
            Event::MemberJoined { member, .. } => self.new_sequences(Some(member.id)),
            Event::MemberLeft { member, .. } => self.new_sequences(Some(member.id)),
            _ => {}
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        common::sync::lock(&self.0)
    }

    pub fn sent(&self, kind: MediaKind, bytes: usize) {
        let counter = &mut self.inner().sent[kind];
        counter.frames += 1;
        counter.bytes += bytes as u64;
    }

    /// One of our audio frames was not sent: we were silent.
    pub fn audio_held_silent(&self) {
        self.inner().audio_held_silent += 1;
    }

    /// Counts a frame `from` a member, and the frames missing from the
    /// sequence since its last one of `kind`.
    pub fn received(&self, from: ClientId, kind: MediaKind, bytes: usize, sequence: u32) {
        let mut inner = self.inner();
        let lost = match inner.last_sequence.insert((from, kind), sequence) {
            Some(previous) if sequence > previous => u64::from(sequence - previous - 1),
            _ => 0,
        };
        let counter = &mut inner.received.entry(from).or_default()[kind];
        counter.frames += 1;
        counter.bytes += bytes as u64;
        counter.lost += lost;
    }

    /// The audio decoder's figures for `from`, after a frame of theirs.
    pub fn audio_decoded(&self, from: ClientId, stats: DecodeStats) {
        self.inner().decoded.insert(from, stats);
    }

    /// The server asked our video sender for `wanted` layers.
    pub fn set_layers_wanted(&self, wanted: LayerSet) {
        self.inner().layers.wanted = Some(wanted);
    }

    /// The layers the server asked for; None if it never said.
    pub fn layers_wanted(&self) -> Option<LayerSet> {
        self.inner().layers.wanted
    }

    /// One layer of a picture sent.
    pub fn sent_layer(&self, layer: Layer, bytes: usize) {
        let mut inner = self.inner();
        let counter = match layer.0 {
            0 => &mut inner.layers.full,
            1 => &mut inner.layers.half,
            2 => &mut inner.layers.quarter,
            3 => &mut inner.layers.eighth,
            _ => &mut inner.layers.sixteenth,
        };
        counter.frames += 1;
        counter.bytes += bytes as u64;
    }

    /// A captured picture took `us` microseconds to encode (all its layers).
    pub fn encoded(&self, us: u64) {
        let mut inner = self.inner();
        inner.encode_us_total += us;
        inner.pictures += 1;
    }

    /// The layer of `from`'s video we got.
    pub fn received_layer(&self, from: ClientId, layer: Layer, size: Option<PixelSize>) {
        self.inner().received_layer.insert(from, (layer, size));
    }

    /// What we told the server we draw (`view`).
    pub fn asked(&self, sizes: HashMap<ClientId, PixelSize>, others: Option<PixelSize>) {
        let mut inner = self.inner();
        inner.asked = sizes;
        inner.asked_others = others;
    }

    /// Starts counting losses afresh: for `member` when they join our
    /// meeting (or leave it), for everyone (`None`) when we join or leave one.
    pub fn new_sequences(&self, member: Option<ClientId>) {
        let mut inner = self.inner();
        match member {
            Some(member) => inner.last_sequence.retain(|(from, _), _| *from != member),
            None => inner.last_sequence.clear(),
        }
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
                    audio_decoding: inner.decoded.get(member).copied(),
                    video_layer: inner.received_layer.get(member).map(|(layer, _)| *layer),
                    video_size: inner.received_layer.get(member).and_then(|(_, size)| *size),
                    video_asked: inner.asked.get(member).copied(),
                })
                .collect(),
            sent_video_layers: Box::new(SentLayers {
                encode_us_per_picture: inner.encode_us_total / inner.pictures.max(1),
                ..inner.layers.clone()
            }),
            video_asked_others: inner.asked_others,
            playback: None,
            audio_held_silent: inner.audio_held_silent,
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
        stats.received(ClientId(4), MediaKind::Video, 5000, 7);
        stats.received(ClientId(4), MediaKind::Video, 5000, 10);
        let json = serde_json::to_value(stats.snapshot()).expect("serialises");
        assert_eq!(json["sent_audio"]["frames"], 1);
        assert_eq!(json["sent_video"]["frames"], 0);
        assert_eq!(json["received"][0]["member"], 4);
        assert_eq!(json["received"][0]["video"]["lost"], 2);
        assert_eq!(json["received"][0]["audio"]["frames"], 0);
    }

    fn lost(stats: &ClientStats, from: u32, kind: MediaKind) -> u64 {
        stats
            .snapshot()
            .received
            .iter()
            .find(|m| m.member == ClientId(from))
            .map_or(0, |m| m.received[kind].lost)
    }

    #[test]
    fn only_frames_missing_while_together_count_as_lost() {
        let stats = ClientStats::default();
        let (ana, bo) = (ClientId(2), ClientId(3));
        for sequence in [1, 2, 4] {
            stats.received(ana, MediaKind::Video, 100, sequence);
        }
        stats.received(ana, MediaKind::Audio, 10, 50);
        stats.received(bo, MediaKind::Video, 100, 7);
        assert_eq!(lost(&stats, 2, MediaKind::Video), 1, "3 went missing");
        // ana leaves and comes back 500 frames later: none of those is lost.
        stats.new_sequences(Some(ana));
        stats.received(ana, MediaKind::Video, 100, 504);
        stats.received(ana, MediaKind::Audio, 10, 900);
        assert_eq!(lost(&stats, 2, MediaKind::Video), 1);
        assert_eq!(lost(&stats, 2, MediaKind::Audio), 0);
        // bo was not forgotten: his gap still counts.
        stats.received(bo, MediaKind::Video, 100, 9);
        assert_eq!(lost(&stats, 3, MediaKind::Video), 1);
        // We join another meeting: everyone starts afresh.
        stats.new_sequences(None);
        stats.received(bo, MediaKind::Video, 100, 90);
        assert_eq!(lost(&stats, 3, MediaKind::Video), 1);
        // An older frame (reordered, or a sender that restarted) is no loss.
        stats.received(bo, MediaKind::Video, 100, 3);
        assert_eq!(lost(&stats, 3, MediaKind::Video), 1);
    }
}
