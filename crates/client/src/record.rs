//! `--record DIR`: what this client receives, saved for people and tests.
//!
//! Each run records into a folder of its own, `DIR/<UTC start time>/` (see
//! `new_session_dir`): member ids restart with the server, so two sessions in
//! one folder would overwrite each other's `audio/<id>.wav` and mix frames.
//!
//! ```text
//! SESSION/chat.log                  one line per chat message, cleaned (`clean::clean`)
//! SESSION/video/<member id>/<seq>.jpg  every video frame, byte for byte
//! SESSION/audio/<member id>.wav      each member's audio, 48 kHz mono s16
//! SESSION/screen/<member id>/<seq>.jpg each complete picture of a shared screen
//! SESSION/screen/<member id>/latest.png the last picture, losslessly (for checking text)
//! ```
//!
//! Each part is owned by the thread that receives its media; only the audio
//! files are shared with the main loop, which finishes a member's file when
//! the member leaves (see `AudioRecorder`). Audio lost on the way is filled
//! with silence so a recording keeps its timing; the WAV header is rewritten
//! every second, so a killed client leaves valid files.

use crate::clean::clean;
use crate::sink::{AudioSink, ScreenSink, SharedFrame, VideoSink};
use anyhow::Context;
use common::protocol::{AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE};
use common::{ClientId, MediaHeader, MeetingId};
use hound::{SampleFormat, WavSpec, WavWriter};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Creates this run's recording folder in `root`: named after the start time
/// in UTC (`2026-11-23T19-30-05Z`, sorting by time), with `-2`, `-3`, ...
/// when a run in the same second took the name. Never an existing folder, so
/// nothing recorded before is overwritten.
pub fn new_session_dir(root: &Path, now: std::time::SystemTime) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(root)
        .with_context(|| format!("could not create the recording folder {}", root.display()))?;
    let stamp = humantime::format_rfc3339_seconds(now)
        .to_string()
        .replace(':', "-");
    for n in 1..1000 {
        let name = match n {
            1 => stamp.clone(),
            n => format!("{stamp}-{n}"),
        };
        let dir = root.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(err).with_context(|| format!("could not create {}", dir.display()));
            }
        }
    }
    anyhow::bail!(
        "{} already holds 999 recordings started this second",
        root.display()
    )
}

/// Most silence inserted for one gap: a second.
const MAX_GAP_FRAMES: u32 = 50;

pub struct VideoRecorder {
    dir: PathBuf,
    created: HashMap<ClientId, PathBuf>,
}

impl VideoRecorder {
    pub fn new(root: &Path) -> VideoRecorder {
        VideoRecorder {
            dir: root.join("video"),
            created: HashMap::new(),
        }
    }

    pub fn record(&mut self, header: &MediaHeader, jpeg: &[u8]) -> anyhow::Result<()> {
        let folder = match self.created.get(&header.sender) {
            Some(folder) => folder,
            None => {
                let folder = self.dir.join(header.sender.to_string());
                std::fs::create_dir_all(&folder)
                    .with_context(|| format!("could not create {}", folder.display()))?;
                self.created.entry(header.sender).or_insert(folder)
            }
        };
        let path = folder.join(format!("{:08}.jpg", header.sequence));
        std::fs::write(&path, jpeg).with_context(|| format!("could not write {}", path.display()))
    }
}

impl VideoSink for VideoRecorder {
    fn frame(&mut self, header: &MediaHeader, frame: &SharedFrame) -> anyhow::Result<()> {
        self.record(header, frame.jpeg())
    }
}

/// JPEG quality of recorded screen pictures: text stays readable.
const SCREEN_JPEG_QUALITY: u8 = 90;

/// Shared screens, as the pictures put together from their changes.
pub struct ScreenRecorder {
    dir: PathBuf,
    /// The last complete picture per sender not yet saved losslessly.
    latest: HashMap<ClientId, image::RgbImage>,
    created: HashMap<ClientId, PathBuf>,
}

impl ScreenRecorder {
    pub fn new(root: &Path) -> ScreenRecorder {
        ScreenRecorder {
            dir: root.join("screen"),
            latest: HashMap::new(),
            created: HashMap::new(),
        }
    }

    fn folder(&mut self, sender: ClientId) -> anyhow::Result<PathBuf> {
        if let Some(folder) = self.created.get(&sender) {
            return Ok(folder.clone());
        }
        let folder = self.dir.join(sender.to_string());
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("could not create {}", folder.display()))?;
        self.created.insert(sender, folder.clone());
        Ok(folder)
    }

    /// Writes each sender's last picture as PNG (called when recording ends).
    fn save_latest(&mut self) -> anyhow::Result<()> {
        for (sender, picture) in std::mem::take(&mut self.latest) {
            let path = self.folder(sender)?.join("latest.png");
            picture
                .save_with_format(&path, image::ImageFormat::Png)
                .with_context(|| format!("could not write {}", path.display()))?;
        }
        Ok(())
    }
}

impl ScreenSink for ScreenRecorder {
    fn update(
        &mut self,
        header: &MediaHeader,
        canvas: &image::RgbImage,
        applied: &meeting_screen::codec::Applied,
    ) -> anyhow::Result<()> {
        // A picture half made of the last keyframe's tiles is no picture.
        if !applied.refresh_complete {
            return Ok(());
        }
        let path = self
            .folder(header.sender)?
            .join(format!("{:08}.jpg", header.sequence));
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, SCREEN_JPEG_QUALITY)
            .encode(
                canvas.as_raw(),
                u16::try_from(canvas.width()).unwrap_or(u16::MAX),
                u16::try_from(canvas.height()).unwrap_or(u16::MAX),
                jpeg_encoder::ColorType::Rgb,
            )
            .with_context(|| format!("could not encode {}", path.display()))?;
        std::fs::write(&path, jpeg)
            .with_context(|| format!("could not write {}", path.display()))?;
        self.latest.insert(header.sender, canvas.clone());
        Ok(())
    }
}

impl Drop for ScreenRecorder {
    fn drop(&mut self) {
        if let Err(err) = self.save_latest() {
            tracing::warn!("screen recording: {err:#}");
        }
    }
}

/// A member's audio goes unwritten this long before its file is finished
/// (the WAV header written, the file closed); a later frame reopens it.
const IDLE_TRACK_FINISHED_AFTER: Duration = Duration::from_secs(30);
/// How often the audio reader looks for idle tracks.
const IDLE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

struct Track {
    writer: WavWriter<BufWriter<File>>,
    next_sequence: u32,
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
        crate::sync::lock(&self.tracks)
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
        for _ in 0..gap as usize * AUDIO_FRAME_SAMPLES {
            track.writer.write_sample(0i16)?;
        }
        for &sample in pcm {
            track.writer.write_sample(sample)?;
        }
        track.next_sequence = header.sequence.wrapping_add(1);
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

pub struct ChatLog {
    file: File,
}

impl ChatLog {
    pub fn open(root: &Path) -> anyhow::Result<ChatLog> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("could not create {}", root.display()))?;
        let path = root.join("chat.log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("could not open {}", path.display()))?;
        Ok(ChatLog { file })
    }

    /// One line per message, cleaned like everything shown: people read
    /// the log with `cat` and `tail -f`, and a line break in a message
    /// would forge a line of its own.
    pub fn message(&mut self, meeting: &MeetingId, from: &str, text: &str) -> anyhow::Result<()> {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        let (meeting, from, text) = (clean(meeting.as_str()), clean(from), clean(text));
        writeln!(self.file, "{now} [{meeting}] {from}: {text}")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_session_gets_a_new_folder_named_after_its_start() {
        let root = tempfile::tempdir().expect("temp dir");
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_795_462_205);
        let first = new_session_dir(root.path(), at).expect("first");
        assert_eq!(
            first.file_name().and_then(|n| n.to_str()),
            Some("2026-11-23T19-30-05Z")
        );
        std::fs::write(first.join("chat.log"), "kept").expect("write");
        let second = new_session_dir(root.path(), at).expect("second, same second");
        assert_eq!(
            second.file_name().and_then(|n| n.to_str()),
            Some("2026-11-23T19-30-05Z-2")
        );
        assert_eq!(
            std::fs::read_to_string(first.join("chat.log"))
                .ok()
                .as_deref(),
            Some("kept")
        );
        let nested = new_session_dir(&root.path().join("new/deeper"), at).expect("made");
        assert!(nested.is_dir());
    }

    fn header(sender: u32, sequence: u32) -> MediaHeader {
        MediaHeader {
            sender: ClientId(sender),
            sequence,
            timestamp_us: 0,
        }
    }

    #[test]
    fn audio_gaps_become_silence_and_files_are_valid_wav() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let recorder = AudioRecorder::new(dir.path());
            recorder
                .record(&header(4, 10), &[1; AUDIO_FRAME_SAMPLES])
                .expect("records");
            recorder
                .record(&header(4, 12), &[2; AUDIO_FRAME_SAMPLES])
                .expect("records");
            recorder
                .record(&header(4, 12), &[9; AUDIO_FRAME_SAMPLES])
                .expect("a repeat is ignored");
        }
        let samples: Vec<i16> = hound::WavReader::open(dir.path().join("audio/4.wav"))
            .expect("valid WAV")
            .into_samples()
            .collect::<Result<_, _>>()
            .expect("samples");
        assert_eq!(samples.len(), 3 * AUDIO_FRAME_SAMPLES);
        assert!(samples[..AUDIO_FRAME_SAMPLES].iter().all(|&s| s == 1));
        assert!(
            samples[AUDIO_FRAME_SAMPLES..2 * AUDIO_FRAME_SAMPLES]
                .iter()
                .all(|&s| s == 0)
        );
        assert!(samples[2 * AUDIO_FRAME_SAMPLES..].iter().all(|&s| s == 2));
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

    #[test]
    fn chat_log_lines_hold_no_escape_sequences_and_no_forged_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hostile = "\x1b]0;pwned\x07\x1b[2J\u{9b}1m\u{202e}\nforged: line";
        let meeting: MeetingId =
            serde_json::from_value(serde_json::json!(hostile)).expect("any string");
        let mut log = ChatLog::open(dir.path()).expect("opens");
        log.message(&meeting, hostile, hostile).expect("writes");
        let text = std::fs::read_to_string(dir.path().join("chat.log")).expect("log");
        assert_eq!(text.lines().count(), 1, "one message, one line: {text:?}");
        let bad: Vec<char> = text
            .trim_end_matches('\n')
            .chars()
            .filter(|&c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c))
            .collect();
        assert!(bad.is_empty(), "{bad:?} in {text:?}");
    }

    #[test]
    fn video_frames_land_in_a_folder_per_sender() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut recorder = VideoRecorder::new(dir.path());
        recorder
            .record(&header(7, 3), b"jpeg bytes")
            .expect("records");
        assert_eq!(
            std::fs::read(dir.path().join("video/7/00000003.jpg")).expect("file"),
            b"jpeg bytes"
        );
    }
}
