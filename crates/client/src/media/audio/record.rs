//! `--record`'s audio: each member's audio as `SESSION/audio/<member
//! id>.wav`, 48 kHz mono s16. Audio lost on the way, and the pauses a
//! sender's voice gate did not send, are filled with silence so a recording
//! keeps its timing; the WAV header is rewritten every
//! second, so a killed client leaves valid files.

use super::AudioSink;
use anyhow::Context;
use common::protocol::AUDIO_SAMPLE_RATE;
use common::{ClientId, MediaHeader};
use hound::{SampleFormat, WavSpec, WavWriter};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most silence inserted for frames missing from the sequence: a second.
const MAX_GAP_FRAMES: u32 = 50;
/// Most silence inserted for a pause in the sender's time (its voice gate
/// sends a frame a second in silence, so longer pauses are a restart).
const MAX_PAUSE_US: u64 = 2_000_000;

/// A member's audio goes unwritten this long before its file is finished
/// (the WAV header written, the file closed); a later frame reopens it.
const IDLE_TRACK_FINISHED_AFTER: Duration = Duration::from_secs(30);
/// How often the audio reader looks for idle tracks.
const IDLE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

struct Track {
    writer: WavWriter<BufWriter<File>>,
    next_sequence: u32,
    /// When the next frame's last sample is due on the sender's clock, if
    /// it sends on, after a frame below speech: a later one followed a pause
    /// of its voice gate. (After speech, a late stamp is only a sender
    /// that woke late, and its frames are all there.)
    next_timestamp_us: Option<u64>,
    unflushed: u32,
    last_frame: Instant,
}

/// Each member's audio as a WAV file, holding a file open only while the
/// member is heard.
///
/// A client that records a long meeting hears many members come and go; one
/// open file per member ever heard runs out of file descriptors, and then
/// recording stops for good. So a member's file is finished when:
///
/// - the member leaves (or we leave the meeting): the main loop knows the
///   roster, the audio reader does not, so the main loop calls `finish`
///   through its own handle. That is why the tracks sit behind a mutex
///   instead of being owned by the reader alone: a message to the reader
///   would wait for the next audio frame, and after the last member left
///   there may be none. The reader holds the lock only while it hands one
///   frame to a buffered writer; the main loop takes a track out and
///   finishes it after releasing the lock.
/// - its audio stopped for `IDLE_TRACK_FINISHED_AFTER`, checked by the reader
///   on every frame: media and control travel on different sockets, so a
///   frame can arrive after the member's `member_left` and reopen its file;
///   and a member who stays but is silent for long needs no open file.
///
/// A finished file is appended to if its member is heard again, never
/// overwritten.
#[derive(Clone)]
pub struct AudioRecorder {
    tracks: Arc<Mutex<Tracks>>,
}

struct Tracks {
    dir: PathBuf,
    open: HashMap<ClientId, Track>,
    /// Members whose file this recorder wrote and finished, with the next
    /// sequence each expects: heard again, they continue their file.
    finished: HashMap<ClientId, u32>,
    last_idle_check: Option<Instant>,
}

impl AudioRecorder {
    pub fn new(root: &Path) -> AudioRecorder {
        AudioRecorder {
            tracks: Arc::new(Mutex::new(Tracks {
                dir: root.join("audio"),
                open: HashMap::new(),
                finished: HashMap::new(),
                last_idle_check: None,
            })),
        }
    }

    fn tracks(&self) -> MutexGuard<'_, Tracks> {
        // A panic elsewhere leaves the tracks as they were: still usable.
        common::sync::lock(&self.tracks)
    }

    pub fn record(&self, header: &MediaHeader, pcm: &[i16]) -> anyhow::Result<()> {
        self.record_at(header, pcm, Instant::now())
    }

    /// `record` with the time given, for tests of the idle check.
    fn record_at(&self, header: &MediaHeader, pcm: &[i16], now: Instant) -> anyhow::Result<()> {
        let idle = {
            let mut tracks = self.tracks();
            let idle = tracks.take_idle(now);
            tracks.write(header, pcm, now)?;
            idle
        };
        finish_tracks(idle);
        Ok(())
    }

    /// The member left: finish its file now.
    pub fn finish(&self, member: ClientId) {
        let track = self.tracks().take(member);
        finish_tracks(track);
    }

    /// We left the meeting: finish every file.
    pub fn finish_all(&self) {
        let tracks = {
            let mut tracks = self.tracks();
            let members: Vec<ClientId> = tracks.open.keys().copied().collect();
            members
                .into_iter()
                .filter_map(|member| tracks.take(member))
                .collect::<Vec<_>>()
        };
        finish_tracks(tracks);
    }

    /// How many WAV files are open.
    pub fn open_files(&self) -> usize {
        self.tracks().open.len()
    }
}

impl Tracks {
    /// Removes `member`'s open track, remembering where it stopped.
    fn take(&mut self, member: ClientId) -> Option<Track> {
        let track = self.open.remove(&member)?;
        self.finished.insert(member, track.next_sequence);
        Some(track)
    }

    /// Removes the tracks idle for `IDLE_TRACK_FINISHED_AFTER`, at most once
    /// per `IDLE_CHECK_INTERVAL`.
    fn take_idle(&mut self, now: Instant) -> Vec<Track> {
        let due = self
            .last_idle_check
            .is_none_or(|last| now.saturating_duration_since(last) >= IDLE_CHECK_INTERVAL);
        if !due {
            return Vec::new();
        }
        self.last_idle_check = Some(now);
        let idle: Vec<ClientId> = self
            .open
            .iter()
            .filter(|(_, track)| {
                now.saturating_duration_since(track.last_frame) >= IDLE_TRACK_FINISHED_AFTER
            })
            .map(|(member, _)| *member)
            .collect();
        idle.into_iter()
            .filter_map(|member| self.take(member))
            .collect()
    }

    /// Opens `member`'s file: continues it if this recorder finished it
    /// before, else starts it.
    fn open_track(&mut self, header: &MediaHeader, now: Instant) -> anyhow::Result<Track> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("could not create {}", self.dir.display()))?;
        let path = self.dir.join(format!("{}.wav", header.sender));
        let (writer, next_sequence) = match self.finished.remove(&header.sender) {
            Some(next_sequence) => (
                WavWriter::append(&path)
                    .with_context(|| format!("could not reopen {}", path.display()))?,
                next_sequence,
            ),
            None => {
                let spec = WavSpec {
                    channels: 1,
                    sample_rate: AUDIO_SAMPLE_RATE,
                    bits_per_sample: 16,
                    sample_format: SampleFormat::Int,
                };
                let writer = WavWriter::create(&path, spec)
                    .with_context(|| format!("could not create {}", path.display()))?;
                (writer, header.sequence)
            }
        };
        Ok(Track {
            writer,
            next_sequence,
            next_timestamp_us: None,
            unflushed: 0,
            last_frame: now,
        })
    }

    fn write(&mut self, header: &MediaHeader, pcm: &[i16], now: Instant) -> anyhow::Result<()> {
        if !self.open.contains_key(&header.sender) {
            let track = self.open_track(header, now)?;
            self.open.insert(header.sender, track);
        }
        let Some(track) = self.open.get_mut(&header.sender) else {
            return Ok(());
        };
        if header.sequence < track.next_sequence {
            return Ok(()); // a repeat: nothing new
        }
        track.last_frame = now;
        let gap = (header.sequence - track.next_sequence).min(MAX_GAP_FRAMES);
        // Missing frames were as long as this one (a sender's frames are of
        // one length: 10 ms, 20 ms or more).
        let missing = gap as usize * pcm.len();
        let frame_us = pcm.len() as u64 * 1_000_000 / u64::from(AUDIO_SAMPLE_RATE);
        let paused = track.next_timestamp_us.map_or(0, |due| {
            let late_us = header.timestamp_us.saturating_sub(due);
            // Whole frames only: stamps jitter by a fraction of one.
            let frames = (late_us + frame_us / 2) / frame_us.max(1);
            (frames * frame_us).min(MAX_PAUSE_US) as usize * AUDIO_SAMPLE_RATE as usize / 1_000_000
        });
        for _ in 0..missing.max(paused) {
            track.writer.write_sample(0i16)?;
        }
        for &sample in pcm {
            track.writer.write_sample(sample)?;
        }
        track.next_sequence = header.sequence.wrapping_add(1);
        let below_speech = !crate::level::is_speech(crate::level::rms_dbfs(pcm));
        track.next_timestamp_us =
            below_speech.then(|| header.timestamp_us.saturating_add(frame_us));
        track.unflushed += 1;
        if track.unflushed >= 50 {
            track.writer.flush()?;
            track.unflushed = 0;
        }
        Ok(())
    }
}

/// Writes the WAV headers and closes the files.
fn finish_tracks(tracks: impl IntoIterator<Item = Track>) {
    for track in tracks {
        if let Err(err) = track.writer.finalize() {
            tracing::warn!("could not finish a WAV recording: {err}");
        }
    }
}

impl AudioSink for AudioRecorder {
    fn frame(&mut self, header: &MediaHeader, pcm: &[i16]) -> anyhow::Result<()> {
        self.record(header, pcm)
    }
}

impl Drop for Tracks {
    fn drop(&mut self) {
        finish_tracks(self.open.drain().map(|(_, track)| track));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::protocol::AUDIO_FRAME_SAMPLES;

    fn header(sender: u32, sequence: u32) -> MediaHeader {
        MediaHeader {
            sender: ClientId(sender),
            sequence,
            timestamp_us: 0,
        }
    }

    #[test]
    fn a_pause_the_sender_did_not_send_becomes_silence_of_its_length() {
        // 10 ms frames stamped on the sender's clock; after the second, its
        // voice gate held 300 ms back, but the sequence runs on.
        let dir = tempfile::tempdir().expect("temp dir");
        let len = AUDIO_FRAME_SAMPLES / 2;
        {
            let recorder = AudioRecorder::new(dir.path());
            // Quiet frames, then speech whose sender woke 20 ms late once.
            let frames = [
                (0, 10_000, 3),
                (1, 20_400, 3),
                (2, 330_000, 3),
                (3, 340_000, 10_000),
                (4, 370_000, 10_000),
            ];
            for (sequence, timestamp_us, value) in frames {
                let header = MediaHeader {
                    sender: ClientId(6),
                    sequence,
                    timestamp_us,
                };
                recorder
                    .record(&header, &vec![value; len])
                    .expect("records");
            }
        }
        let samples: Vec<i16> = hound::WavReader::open(dir.path().join("audio/6.wav"))
            .expect("valid WAV")
            .into_samples()
            .collect::<Result<_, _>>()
            .expect("samples");
        // Five frames and the 300 ms pause; stamps 0.4 ms off, or late
        // in speech, add nothing.
        assert_eq!(samples.len(), 5 * len + 48 * 300);
        assert!(samples[2 * len..2 * len + 48 * 300].iter().all(|&s| s == 0));
    }

    #[test]
    fn audio_gaps_become_silence_and_files_are_valid_wav() {
        // 20 ms frames from one sender, 10 ms ones from another: a gap is
        // as long as the frames it lacks.
        let dir = tempfile::tempdir().expect("temp dir");
        let senders = [(4, AUDIO_FRAME_SAMPLES), (5, AUDIO_FRAME_SAMPLES / 2)];
        {
            let recorder = AudioRecorder::new(dir.path());
            for (sender, len) in senders {
                recorder
                    .record(&header(sender, 10), &vec![1; len])
                    .expect("records");
                recorder
                    .record(&header(sender, 12), &vec![2; len])
                    .expect("records");
                recorder
                    .record(&header(sender, 12), &vec![9; len])
                    .expect("a repeat is ignored");
            }
        }
        for (sender, len) in senders {
            let samples: Vec<i16> =
                hound::WavReader::open(dir.path().join(format!("audio/{sender}.wav")))
                    .expect("valid WAV")
                    .into_samples()
                    .collect::<Result<_, _>>()
                    .expect("samples");
            assert_eq!(samples.len(), 3 * len);
            assert!(samples[..len].iter().all(|&s| s == 1));
            assert!(samples[len..2 * len].iter().all(|&s| s == 0));
            assert!(samples[2 * len..].iter().all(|&s| s == 2));
        }
    }

    fn wav_samples(path: &Path) -> Vec<i16> {
        hound::WavReader::open(path)
            .expect("valid WAV")
            .into_samples()
            .collect::<Result<_, _>>()
            .expect("samples")
    }

    #[test]
    fn a_member_who_left_has_a_finished_file_that_continues_if_heard_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let recorder = AudioRecorder::new(dir.path());
        for sequence in 0..2 {
            recorder
                .record(&header(4, sequence), &[1; AUDIO_FRAME_SAMPLES])
                .expect("records");
        }
        assert_eq!(recorder.open_files(), 1);
        recorder.finish(ClientId(4));
        assert_eq!(recorder.open_files(), 0, "the file is closed");
        let path = dir.path().join("audio/4.wav");
        assert_eq!(
            wav_samples(&path).len(),
            2 * AUDIO_FRAME_SAMPLES,
            "and whole"
        );
        // Heard again (a late frame, or back in the meeting): appended to.
        recorder
            .record(&header(4, 2), &[2; AUDIO_FRAME_SAMPLES])
            .expect("records");
        recorder.finish_all();
        let samples = wav_samples(&path);
        assert_eq!(samples.len(), 3 * AUDIO_FRAME_SAMPLES, "not overwritten");
        assert!(samples[..AUDIO_FRAME_SAMPLES].iter().all(|&s| s == 1));
        assert!(samples[2 * AUDIO_FRAME_SAMPLES..].iter().all(|&s| s == 2));
    }

    #[test]
    fn files_of_members_silent_for_a_while_are_finished() {
        let dir = tempfile::tempdir().expect("temp dir");
        let recorder = AudioRecorder::new(dir.path());
        let start = Instant::now();
        let pcm = [1; AUDIO_FRAME_SAMPLES];
        recorder
            .record_at(&header(4, 0), &pcm, start)
            .expect("records");
        recorder
            .record_at(&header(5, 0), &pcm, start + Duration::from_secs(10))
            .expect("records");
        let later = start + IDLE_TRACK_FINISHED_AFTER + Duration::from_secs(1);
        recorder
            .record_at(&header(5, 1), &pcm, later)
            .expect("records");
        assert_eq!(recorder.open_files(), 1, "4 fell silent, 5 still talks");
        assert_eq!(
            wav_samples(&dir.path().join("audio/4.wav")).len(),
            AUDIO_FRAME_SAMPLES
        );
    }
}
