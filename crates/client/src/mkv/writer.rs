//! The layout of a Matroska file written live, append-only:
//!
//! ```text
//! EBML header          DocType matroska, version 4 (read version 2)
//! Segment              size UNKNOWN until finished, so the file plays while written
//!   Void               room for the SeekHead, written at the finish
//!   Info               timestamps in ms; Duration, rewritten after each cluster
//!   Tracks + Void      TRACKS_ROOM bytes: rewritten in place as tracks appear
//!   Cluster ...        each written whole, with its size, at most about a second
//!   Cues               at the finish: where each cluster starts, for seeking
//! ```
//!
//! A file cut anywhere after a cluster (a killed client) is a Segment of
//! unknown size whose clusters all read, with its duration up to the last
//! one; the finish only adds what seeking needs. Tracks may appear at any time (a member's first
//! picture says its size), so their room is reserved up front instead of
//! writing them after the clusters, where a live file could not have them.

use super::ebml::{self, id};
use anyhow::{Context, ensure};
use std::io::{Seek, SeekFrom, Write};

/// Bytes reserved for the Tracks element (and the Void after it): about a
/// hundred tracks.
pub const TRACKS_ROOM: usize = 8 * 1024;
/// Bytes reserved for the SeekHead (three entries take about 70).
const SEEK_HEAD_ROOM: usize = 160;
/// A block's time relative to its cluster is an i16.
const MAX_RELATIVE_MS: u64 = i16::MAX as u64;
/// Seconds from the Unix epoch to Matroska's (2001-01-01T00:00:00Z).
const MATROSKA_EPOCH_UNIX_S: u64 = 978_307_200;

/// What a track carries, with the codec each is written in.
#[derive(Clone, Debug, PartialEq)]
pub enum TrackKind {
    /// `A_PCM/INT/LIT`: signed little-endian samples.
    PcmAudio { rate: u32, channels: u8, bits: u8 },
    /// `V_MJPEG`: each frame a JPEG picture.
    JpegVideo { width: u32, height: u32 },
    /// `S_TEXT/UTF8`: each block a line of text, shown for its duration.
    TextSubtitles,
}

impl TrackKind {
    fn codec(&self) -> &'static str {
        match self {
            TrackKind::PcmAudio { .. } => "A_PCM/INT/LIT",
            TrackKind::JpegVideo { .. } => "V_MJPEG",
            TrackKind::TextSubtitles => "S_TEXT/UTF8",
        }
    }

    fn type_code(&self) -> u64 {
        match self {
            TrackKind::JpegVideo { .. } => 1,
            TrackKind::PcmAudio { .. } => 2,
            TrackKind::TextSubtitles => 0x11,
        }
    }
}

/// The room kept for Tracks has none for one more: the file goes on
/// with the tracks it has.
#[derive(Debug)]
pub struct TracksFull {
    /// The number the track would have had.
    pub track: usize,
}

impl std::fmt::Display for TracksFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no room for track {} (the {TRACKS_ROOM} bytes kept for tracks are full)",
            self.track
        )
    }
}

impl std::error::Error for TracksFull {}

/// A track as players list it.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    pub kind: TrackKind,
    pub name: String,
    /// Players pick the default track of each type (all are, unless told).
    pub default: bool,
}

/// One frame of one track.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub track: u64,
    pub timestamp_ms: u64,
    pub data: Vec<u8>,
    /// How long it is shown (subtitles); `None`: until the next one.
    pub duration_ms: Option<u64>,
}

/// A cluster written, for the Cues.
struct CuePoint {
    timestamp_ms: u64,
    /// From the Segment's data start.
    position: u64,
    tracks: Vec<u64>,
}

/// Writes one Matroska file as its media comes, keeping it readable after
/// every cluster.
pub struct MkvWriter<W: Write + Seek> {
    out: W,
    /// Where the next byte goes (the end: nothing is written past it).
    end: u64,
    /// Where the Segment's size is, and where its data (what positions
    /// count from) starts.
    segment_size_at: u64,
    segment_data_at: u64,
    seek_head_at: u64,
    info_at: u64,
    duration_at: u64,
    tracks_at: u64,
    tracks: Vec<Track>,
    cues: Vec<CuePoint>,
    last_cluster_ms: Option<u64>,
    /// Where the last block ends: the duration.
    end_ms: u64,
}

impl<W: Write + Seek> MkvWriter<W> {
    /// Writes the header, the Info and the room for Tracks; `date_unix_s`
    /// is when the recording started.
    pub fn new(mut out: W, app: &str, date_unix_s: u64) -> anyhow::Result<MkvWriter<W>> {
        let start = out.stream_position()?;
        let mut head = Vec::new();
        ebml::master(&mut head, id::EBML, |b| {
            ebml::uint(b, id::EBML_VERSION, 1);
            ebml::uint(b, id::EBML_READ_VERSION, 1);
            ebml::uint(b, id::EBML_MAX_ID_LENGTH, 4);
            ebml::uint(b, id::EBML_MAX_SIZE_LENGTH, 8);
            ebml::string(b, id::DOC_TYPE, "matroska");
            ebml::uint(b, id::DOC_TYPE_VERSION, 4);
            ebml::uint(b, id::DOC_TYPE_READ_VERSION, 2);
        });
        ebml::write_id(&mut head, id::SEGMENT);
        let segment_size_at = start + head.len() as u64;
        head.extend_from_slice(&ebml::UNKNOWN_SIZE);
        let segment_data_at = start + head.len() as u64;
        ebml::void(&mut head, SEEK_HEAD_ROOM);
        let info_at = start + head.len() as u64;
        let mut info = Vec::new();
        ebml::uint(&mut info, id::TIMESTAMP_SCALE, 1_000_000);
        ebml::string(&mut info, id::MUXING_APP, app);
        ebml::string(&mut info, id::WRITING_APP, app);
        let since_epoch_s = date_unix_s.saturating_sub(MATROSKA_EPOCH_UNIX_S);
        let date_ns = i64::try_from(since_epoch_s.saturating_mul(1_000_000_000)).unwrap_or(0);
        ebml::int(&mut info, id::DATE_UTC, date_ns);
        let duration_in_info = info.len();
        ebml::void(&mut info, ebml::FLOAT_ELEMENT_LEN);
        ebml::write_id(&mut head, id::INFO);
        ebml::write_size(&mut head, info.len() as u64);
        let duration_at = start + (head.len() + duration_in_info) as u64;
        head.extend_from_slice(&info);
        let tracks_at = start + head.len() as u64;
        ebml::void(&mut head, TRACKS_ROOM);
        out.write_all(&head).context("could not write the header")?;
        Ok(MkvWriter {
            out,
            end: start + head.len() as u64,
            segment_size_at,
            segment_data_at,
            seek_head_at: segment_data_at,
            info_at,
            duration_at,
            tracks_at,
            tracks: Vec::new(),
            cues: Vec::new(),
            last_cluster_ms: None,
            end_ms: 0,
        })
    }

    /// Adds a track (rewriting Tracks in place) and returns its number; an
    /// error, and no track, when the room reserved for Tracks is full.
    pub fn add_track(&mut self, track: Track) -> anyhow::Result<u64> {
        self.tracks.push(track);
        if let Err(err) = self.write_tracks() {
            self.tracks.pop();
            return Err(err);
        }
        Ok(self.tracks.len() as u64)
    }

    /// Renames track `number` (a member's name became known).
    pub fn rename_track(&mut self, number: u64, name: &str) -> anyhow::Result<()> {
        let index = usize::try_from(number.saturating_sub(1)).unwrap_or(usize::MAX);
        let Some(track) = self.tracks.get_mut(index) else {
            anyhow::bail!("no track {number}");
        };
        let old = std::mem::replace(&mut track.name, name.to_string());
        if let Err(err) = self.write_tracks() {
            self.tracks[index].name = old;
            return Err(err);
        }
        Ok(())
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    fn write_tracks(&mut self) -> anyhow::Result<()> {
        let mut entries = Vec::new();
        for (index, track) in self.tracks.iter().enumerate() {
            let number = index as u64 + 1;
            ebml::master(&mut entries, id::TRACK_ENTRY, |b| {
                track_entry(b, number, track)
            });
        }
        let mut size_len = (1..=8usize)
            .find(|&n| (entries.len() as u64) < (1u64 << (7 * n)) - 1)
            .unwrap_or(8);
        let used = 4 + size_len + entries.len();
        if used + 2 > TRACKS_ROOM {
            return Err(TracksFull {
                track: self.tracks.len(),
            }
            .into());
        }
        // A Void takes two bytes at least: one byte to spare goes to the size.
        if TRACKS_ROOM - used == 1 {
            size_len += 1;
        }
        let mut bytes = Vec::with_capacity(TRACKS_ROOM);
        ebml::write_id(&mut bytes, id::TRACKS);
        ebml::write_size_fixed(&mut bytes, entries.len() as u64, size_len);
        bytes.extend_from_slice(&entries);
        let rest = TRACKS_ROOM - bytes.len();
        if rest > 0 {
            ebml::void(&mut bytes, rest);
        }
        self.write_at(self.tracks_at, &bytes)
            .context("could not rewrite the tracks")
    }

    /// Writes `bytes` at `position`, before the end, and returns to the end.
    fn write_at(&mut self, position: u64, bytes: &[u8]) -> anyhow::Result<()> {
        self.out.seek(SeekFrom::Start(position))?;
        self.out.write_all(bytes)?;
        self.out.seek(SeekFrom::Start(self.end))?;
        self.out.flush()?;
        Ok(())
    }

    /// Writes `blocks`, in timestamp order and within an i16 of ms of the
    /// first, as one cluster, and flushes it to the file.
    pub fn write_cluster(&mut self, blocks: &[Block]) -> anyhow::Result<()> {
        let Some(first) = blocks.first() else {
            return Ok(());
        };
        let cluster_ms = first.timestamp_ms;
        ensure!(
            self.last_cluster_ms.is_none_or(|last| last <= cluster_ms),
            "cluster at {cluster_ms} ms after one at {:?} ms",
            self.last_cluster_ms
        );
        let mut body = Vec::new();
        ebml::uint(&mut body, id::TIMESTAMP, cluster_ms);
        let mut previous = cluster_ms;
        let mut tracks = Vec::new();
        let mut end_ms = self.end_ms;
        for block in blocks {
            ensure!(
                block.timestamp_ms >= previous,
                "blocks out of order in a cluster"
            );
            let relative = block.timestamp_ms - cluster_ms;
            ensure!(relative <= MAX_RELATIVE_MS, "a cluster longer than 32 s");
            ensure!(
                (1..=self.tracks.len() as u64).contains(&block.track),
                "a block of track {}, which is not there",
                block.track
            );
            previous = block.timestamp_ms;
            write_block(&mut body, block, relative as i16);
            if !tracks.contains(&block.track) {
                tracks.push(block.track);
            }
            let shown = block.duration_ms.unwrap_or(0);
            end_ms = end_ms.max(block.timestamp_ms.saturating_add(shown));
        }
        let mut cluster = Vec::with_capacity(body.len() + 12);
        ebml::element(&mut cluster, id::CLUSTER, &body);
        self.out
            .write_all(&cluster)
            .context("could not write a cluster")?;
        self.out.flush()?;
        tracks.sort_unstable();
        self.cues.push(CuePoint {
            timestamp_ms: cluster_ms,
            position: self.end - self.segment_data_at,
            tracks,
        });
        self.end += cluster.len() as u64;
        self.last_cluster_ms = Some(cluster_ms);
        self.end_ms = end_ms;
        // So a file cut short (a killed client) says how long it is too.
        self.write_duration(end_ms)
    }

    fn write_duration(&mut self, end_ms: u64) -> anyhow::Result<()> {
        let mut duration = Vec::new();
        ebml::float(&mut duration, id::DURATION, end_ms.max(1) as f64);
        self.write_at(self.duration_at, &duration)
            .context("could not write the duration")
    }

    /// How many clusters are written.
    pub fn clusters(&self) -> usize {
        self.cues.len()
    }

    /// How many bytes are written.
    pub fn bytes(&self) -> u64 {
        self.end
    }

    /// The end of what is written, in ms: the Duration.
    pub fn end_ms(&self) -> u64 {
        self.end_ms
    }

    /// Makes the file seekable: writes the Cues, then patches the Duration,
    /// the SeekHead and the Segment's size. Returns the output.
    pub fn finish(mut self, end_ms: u64) -> anyhow::Result<W> {
        let end_ms = end_ms.max(self.end_ms);
        let cues_at = self.end;
        let mut cues = Vec::new();
        if !self.cues.is_empty() {
            ebml::master(&mut cues, id::CUES, |b| {
                for cue in &self.cues {
                    ebml::master(b, id::CUE_POINT, |b| {
                        ebml::uint(b, id::CUE_TIME, cue.timestamp_ms);
                        for &track in &cue.tracks {
                            ebml::master(b, id::CUE_TRACK_POSITIONS, |b| {
                                ebml::uint(b, id::CUE_TRACK, track);
                                ebml::uint(b, id::CUE_CLUSTER_POSITION, cue.position);
                            });
                        }
                    });
                }
            });
            self.out
                .write_all(&cues)
                .context("could not write the cues")?;
            self.end += cues.len() as u64;
        }

        self.write_duration(end_ms)?;

        let mut entries = vec![(id::INFO, self.info_at)];
        if !self.tracks.is_empty() {
            entries.push((id::TRACKS, self.tracks_at));
        }
        if !cues.is_empty() {
            entries.push((id::CUES, cues_at));
        }
        let mut seek_head = Vec::new();
        ebml::master(&mut seek_head, id::SEEK_HEAD, |b| {
            for (element, at) in entries {
                ebml::master(b, id::SEEK, |b| {
                    let mut element_id = Vec::new();
                    ebml::write_id(&mut element_id, element);
                    ebml::element(b, id::SEEK_ID, &element_id);
                    ebml::uint(b, id::SEEK_POSITION, at - self.segment_data_at);
                });
            }
        });
        let rest = SEEK_HEAD_ROOM - seek_head.len();
        ebml::void(&mut seek_head, rest);
        self.write_at(self.seek_head_at, &seek_head)
            .context("could not write the seek head")?;

        let mut size = Vec::new();
        ebml::write_size_fixed(&mut size, self.end - self.segment_data_at, 8);
        self.write_at(self.segment_size_at, &size)
            .context("could not write the segment's size")?;
        Ok(self.out)
    }
}

fn track_entry(b: &mut Vec<u8>, number: u64, track: &Track) {
    ebml::uint(b, id::TRACK_NUMBER, number);
    // Unique in the file is all a UID must be.
    ebml::uint(b, id::TRACK_UID, number);
    ebml::uint(b, id::TRACK_TYPE, track.kind.type_code());
    ebml::uint(b, id::FLAG_DEFAULT, u64::from(track.default));
    ebml::uint(b, id::FLAG_LACING, 0);
    ebml::string(b, id::NAME, &track.name);
    ebml::string(b, id::LANGUAGE, "und");
    ebml::string(b, id::CODEC_ID, track.kind.codec());
    match track.kind {
        TrackKind::PcmAudio {
            rate,
            channels,
            bits,
        } => ebml::master(b, id::AUDIO, |b| {
            ebml::float(b, id::SAMPLING_FREQUENCY, f64::from(rate));
            ebml::uint(b, id::CHANNELS, u64::from(channels));
            ebml::uint(b, id::BIT_DEPTH, u64::from(bits));
        }),
        TrackKind::JpegVideo { width, height } => ebml::master(b, id::VIDEO, |b| {
            ebml::uint(b, id::PIXEL_WIDTH, u64::from(width));
            ebml::uint(b, id::PIXEL_HEIGHT, u64::from(height));
        }),
        TrackKind::TextSubtitles => {}
    }
}

/// A SimpleBlock (every frame here is a keyframe), or a BlockGroup when
/// the block has a duration (subtitles).
fn write_block(out: &mut Vec<u8>, block: &Block, relative_ms: i16) {
    let mut data = Vec::with_capacity(block.data.len() + 12);
    ebml::write_size(&mut data, block.track);
    data.extend_from_slice(&relative_ms.to_be_bytes());
    match block.duration_ms {
        None => {
            data.push(0x80); // keyframe, no lacing
            data.extend_from_slice(&block.data);
            ebml::element(out, id::SIMPLE_BLOCK, &data);
        }
        Some(duration) => {
            data.push(0);
            data.extend_from_slice(&block.data);
            ebml::master(out, id::BLOCK_GROUP, |b| {
                ebml::element(b, id::BLOCK, &data);
                ebml::uint(b, id::BLOCK_DURATION, duration);
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
