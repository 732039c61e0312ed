//! `--record DIR`: what this client receives, saved for people and tests.
//!
//! ```text
//! DIR/chat.log                  one line per chat message, cleaned (`output::clean`)
//! DIR/video/<member id>/<seq>.jpg  every video frame, byte for byte
//! DIR/audio/<member id>.wav      each member's audio, 48 kHz mono s16
//! DIR/screen/<member id>/<seq>.jpg each complete picture of a shared screen
//! DIR/screen/<member id>/latest.png the last picture, losslessly (for checking text)
//! ```
//!
//! Each part is owned by the thread that receives its media (no locks). Audio
//! lost on the way is filled with silence so a recording keeps its timing; the
//! WAV header is rewritten every second, so a killed client leaves valid files.

use crate::output::clean;
use crate::sink::{AudioSink, ScreenSink, SharedFrame, VideoSink};
use anyhow::Context;
use common::protocol::{AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE};
use common::{ClientId, MediaHeader, MeetingId};
use hound::{SampleFormat, WavSpec, WavWriter};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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

struct Track {
    writer: WavWriter<BufWriter<File>>,
    next_sequence: u32,
    unflushed: u32,
}

pub struct AudioRecorder {
    dir: PathBuf,
    tracks: HashMap<ClientId, Track>,
}

impl AudioRecorder {
    pub fn new(root: &Path) -> AudioRecorder {
        AudioRecorder {
            dir: root.join("audio"),
            tracks: HashMap::new(),
        }
    }

    pub fn record(&mut self, header: &MediaHeader, pcm: &[i16]) -> anyhow::Result<()> {
        if !self.tracks.contains_key(&header.sender) {
            std::fs::create_dir_all(&self.dir)
                .with_context(|| format!("could not create {}", self.dir.display()))?;
            let path = self.dir.join(format!("{}.wav", header.sender));
            let spec = WavSpec {
                channels: 1,
                sample_rate: AUDIO_SAMPLE_RATE,
                bits_per_sample: 16,
                sample_format: SampleFormat::Int,
            };
            let writer = WavWriter::create(&path, spec)
                .with_context(|| format!("could not create {}", path.display()))?;
            self.tracks.insert(
                header.sender,
                Track {
                    writer,
                    next_sequence: header.sequence,
                    unflushed: 0,
                },
            );
        }
        let Some(track) = self.tracks.get_mut(&header.sender) else {
            return Ok(());
        };
        if header.sequence < track.next_sequence {
            return Ok(()); // a repeat: nothing new
        }
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

impl AudioSink for AudioRecorder {
    fn frame(&mut self, header: &MediaHeader, pcm: &[i16]) -> anyhow::Result<()> {
        self.record(header, pcm)
    }
}

impl Drop for AudioRecorder {
    fn drop(&mut self) {
        for (_, track) in self.tracks.drain() {
            if let Err(err) = track.writer.finalize() {
                tracing::warn!("could not finish a WAV recording: {err}");
            }
        }
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
            let mut recorder = AudioRecorder::new(dir.path());
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
