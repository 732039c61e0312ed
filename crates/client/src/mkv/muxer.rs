//! What goes into `meeting.mkv`, as plain logic with the time given: the
//! tracks (the mix, a video track per member and per shared screen, the
//! chat), made as each first appears, and the clusters, each about a
//! second of blocks sorted by time. The recording thread (`recording`)
//! owns a `Muxer` and calls it with the time; the tests call it with
//! made-up times.
//!
//! Blocks arrive a little out of order (the mix in 20 ms blocks, pictures
//! as they are shown), so a cluster is written only `LATE_MS` after its
//! second is over; a block later than that is moved to the first moment
//! not yet written (a cluster's blocks must be in order, and clusters too).

use super::writer::{Block, MkvWriter, Track, TrackKind, TracksFull};
use common::ClientId;
use common::protocol::AUDIO_SAMPLE_RATE;
use std::collections::HashMap;
use std::io::{Seek, Write};

/// The longest a cluster spans: a killed client loses at most this much
/// (and `LATE_MS`) of the end.
pub const CLUSTER_MS: u64 = 1000;
/// How long a cluster waits for blocks that come late.
pub const LATE_MS: u64 = 200;
/// The mix is written in blocks this long (20 ms: 960 samples).
const MIX_BLOCK_MS: u64 = 20;
const MIX_BLOCK_SAMPLES: usize = (AUDIO_SAMPLE_RATE as u64 * MIX_BLOCK_MS / 1000) as usize;
/// A mix that arrives this far from where its samples would put it
/// started again (playback stopped and started, `/speaker`): it goes on
/// from its new time instead of drifting off.
const MIX_RESTART_MS: u64 = 200;
/// How long a chat line is shown.
pub const CHAT_SHOWN_MS: u64 = 5000;

/// What the recording is told, each at a time (ms since it started).
#[derive(Debug)]
pub enum Recorded {
    /// The next stretch of the mix that was played (or would have been).
    Mix(Vec<i16>),
    /// A member's video picture, as received.
    Video { member: ClientId, jpeg: Vec<u8> },
    /// A complete picture of a member's shared screen.
    Screen { member: ClientId, jpeg: Vec<u8> },
    /// A chat line, "name: text", cleaned.
    Chat(String),
    /// A member's name, for their tracks.
    MemberName { member: ClientId, name: String },
}

/// Whose pictures a video track holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pictures {
    Camera(ClientId),
    Screen(ClientId),
}

impl Pictures {
    fn member(self) -> ClientId {
        match self {
            Pictures::Camera(member) | Pictures::Screen(member) => member,
        }
    }

    fn track_name(self, name: Option<&String>) -> String {
        let member = match name {
            Some(name) => name.clone(),
            None => format!("member {}", self.member()),
        };
        match self {
            Pictures::Camera(_) => member,
            Pictures::Screen(_) => format!("screen of {member}"),
        }
    }
}

/// The mix, cut into blocks that follow each other sample by sample.
#[derive(Default)]
struct MixBlocks {
    /// When the run of samples began, and how many were cut into blocks.
    started_ms: Option<u64>,
    samples: u64,
    partial: Vec<i16>,
}

impl MixBlocks {
    fn at_ms(&self, started_ms: u64, samples: u64) -> u64 {
        started_ms + samples * 1000 / u64::from(AUDIO_SAMPLE_RATE)
    }

    /// Takes `pcm` heard at `at_ms`; returns the blocks it completes.
    fn take(&mut self, at_ms: u64, pcm: &[i16]) -> Vec<(u64, Vec<i16>)> {
        let mut done = Vec::new();
        let expected = self
            .started_ms
            .map(|started| self.at_ms(started, self.samples + self.partial.len() as u64));
        if expected.is_none_or(|expected| expected.abs_diff(at_ms) > MIX_RESTART_MS) {
            done.extend(self.rest());
            self.started_ms = Some(at_ms);
            self.samples = 0;
        }
        self.partial.extend_from_slice(pcm);
        while self.partial.len() >= MIX_BLOCK_SAMPLES {
            let rest = self.partial.split_off(MIX_BLOCK_SAMPLES);
            let block = std::mem::replace(&mut self.partial, rest);
            done.push(self.block(block));
        }
        done
    }

    fn block(&mut self, samples: Vec<i16>) -> (u64, Vec<i16>) {
        let at = self.at_ms(self.started_ms.unwrap_or(0), self.samples);
        self.samples += samples.len() as u64;
        (at, samples)
    }

    /// What is left of the run, as a shorter block.
    fn rest(&mut self) -> Option<(u64, Vec<i16>)> {
        if self.partial.is_empty() {
            return None;
        }
        let partial = std::mem::take(&mut self.partial);
        Some(self.block(partial))
    }

    /// Where the mix written so far ends.
    fn end_ms(&self) -> u64 {
        self.started_ms
            .map_or(0, |started| self.at_ms(started, self.samples))
    }
}

/// The tracks of one recording and the cluster being gathered.
pub struct Muxer<W: Write + Seek> {
    writer: MkvWriter<W>,
    mix_track: u64,
    mix: MixBlocks,
    chat_track: Option<u64>,
    pictures: HashMap<Pictures, u64>,
    names: HashMap<ClientId, String>,
    /// Set once the room for tracks is full: said once, then later
    /// members' pictures are left out.
    tracks_full: bool,
    /// Blocks not yet written, in the order they came.
    pending: Vec<Block>,
    /// Everything before this is written.
    written_until_ms: u64,
}

impl<W: Write + Seek> Muxer<W> {
    /// A recording with its mix track.
    pub fn new(mut writer: MkvWriter<W>) -> anyhow::Result<Muxer<W>> {
        let mix_track = writer.add_track(Track {
            kind: TrackKind::PcmAudio {
                rate: AUDIO_SAMPLE_RATE,
                channels: 1,
                bits: 16,
            },
            name: "what this member heard".to_string(),
            default: true,
        })?;
        Ok(Muxer {
            writer,
            mix_track,
            mix: MixBlocks::default(),
            chat_track: None,
            pictures: HashMap::new(),
            names: HashMap::new(),
            tracks_full: false,
            pending: Vec::new(),
            written_until_ms: 0,
        })
    }

    /// Takes what happened at `at_ms`. An error is the file's: the
    /// recording cannot go on.
    pub fn take(&mut self, at_ms: u64, recorded: Recorded) -> anyhow::Result<()> {
        match recorded {
            Recorded::Mix(pcm) => {
                for (at_ms, samples) in self.mix.take(at_ms, &pcm) {
                    self.mix_block(at_ms, &samples);
                }
            }
            Recorded::Video { member, jpeg } => {
                self.picture(at_ms, Pictures::Camera(member), jpeg)?;
            }
            Recorded::Screen { member, jpeg } => {
                self.picture(at_ms, Pictures::Screen(member), jpeg)?;
            }
            Recorded::Chat(line) => {
                let track = match self.chat_track {
                    Some(track) => Some(track),
                    None => self.add_track(TrackKind::TextSubtitles, "chat".to_string(), true)?,
                };
                self.chat_track = track;
                if let Some(track) = track {
                    let mut block = self.block(track, at_ms, line.into_bytes());
                    block.duration_ms = Some(CHAT_SHOWN_MS);
                    self.pending.push(block);
                }
            }
            Recorded::MemberName { member, name } => {
                if self.names.get(&member) == Some(&name) {
                    return Ok(());
                }
                self.names.insert(member, name);
                let named: Vec<(u64, String)> = self
                    .pictures
                    .iter()
                    .filter(|(pictures, _)| pictures.member() == member)
                    .map(|(pictures, &track)| (track, pictures.track_name(self.names.get(&member))))
                    .collect();
                for (track, name) in named {
                    self.writer.rename_track(track, &name)?;
                }
            }
        }
        Ok(())
    }

    fn mix_block(&mut self, at_ms: u64, samples: &[i16]) {
        let bytes = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let block = self.block(self.mix_track, at_ms, bytes);
        self.pending.push(block);
    }

    /// A block at `at_ms`, or at the first moment not written if later.
    fn block(&self, track: u64, at_ms: u64, data: Vec<u8>) -> Block {
        Block {
            track,
            timestamp_ms: at_ms.max(self.written_until_ms),
            data,
            duration_ms: None,
        }
    }

    fn picture(&mut self, at_ms: u64, whose: Pictures, jpeg: Vec<u8>) -> anyhow::Result<()> {
        let track = match self.pictures.get(&whose) {
            Some(&track) => track,
            None => {
                let Some((width, height)) = jpeg_size(&jpeg) else {
                    tracing::debug!("meeting.mkv: a picture that is no JPEG, left out");
                    return Ok(());
                };
                let kind = TrackKind::JpegVideo { width, height };
                // Players show the first video track: the others are there to switch to.
                let first = self.pictures.is_empty();
                let name = whose.track_name(self.names.get(&whose.member()));
                let Some(track) = self.add_track(kind, name, first)? else {
                    return Ok(());
                };
                self.pictures.insert(whose, track);
                track
            }
        };
        let block = self.block(track, at_ms, jpeg);
        self.pending.push(block);
        Ok(())
    }

    /// A new track, or `None` when there is no room for more (said once).
    fn add_track(
        &mut self,
        kind: TrackKind,
        name: String,
        default: bool,
    ) -> anyhow::Result<Option<u64>> {
        if self.tracks_full {
            return Ok(None);
        }
        let track = Track {
            kind,
            name,
            default,
        };
        match self.writer.add_track(track) {
            Ok(track) => Ok(Some(track)),
            Err(err) if err.downcast_ref::<TracksFull>().is_some() => {
                tracing::warn!("meeting.mkv: {err}; what comes from later members is left out");
                self.tracks_full = true;
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Writes every cluster whose second is over (and `LATE_MS` more) at
    /// `now_ms`.
    pub fn write_due(&mut self, now_ms: u64) -> anyhow::Result<()> {
        while let Some(start) = self.pending.iter().map(|b| b.timestamp_ms).min() {
            if now_ms < start + CLUSTER_MS + LATE_MS {
                break;
            }
            self.write_cluster(start)?;
        }
        Ok(())
    }

    /// Writes the blocks of the second from `start_ms` as one cluster.
    fn write_cluster(&mut self, start_ms: u64) -> anyhow::Result<()> {
        let end_ms = start_ms + CLUSTER_MS;
        let (mut cluster, later): (Vec<Block>, Vec<Block>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|b| b.timestamp_ms < end_ms);
        self.pending = later;
        // Stable: blocks at the same ms keep the order they came in.
        cluster.sort_by_key(|b| b.timestamp_ms);
        self.written_until_ms = self.written_until_ms.max(end_ms);
        self.writer.write_cluster(&cluster)
    }

    /// Writes what is gathered and finishes the file (seeking, duration).
    pub fn finish(mut self) -> anyhow::Result<W> {
        if let Some((at_ms, samples)) = self.mix.rest() {
            self.mix_block(at_ms, &samples);
        }
        while let Some(start) = self.pending.iter().map(|b| b.timestamp_ms).min() {
            self.write_cluster(start)?;
        }
        let end_ms = self.mix.end_ms();
        self.writer.finish(end_ms)
    }
}

/// A JPEG's width and height, from its header (nothing is decoded).
pub fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::with_format(std::io::Cursor::new(jpeg), image::ImageFormat::Jpeg)
        .into_dimensions()
        .ok()
}

#[cfg(test)]
mod tests;
