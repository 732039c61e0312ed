//! `--record`'s video: every frame received, byte for byte, as
//! `SESSION/video/<member id>/<seq>.jpg` and as a frame of the member's
//! track in `meeting.mkv`, and beside the files `times.csv`: for
//! each, when its sender captured it (µs on the sender's clock) and when it
//! was shown here (µs since the Unix epoch; with its sound, see
//! `present`), so the pictures can be put back on the audio's timeline.

use super::VideoSink;
use crate::mkv::MkvFeed;
use crate::sink::SharedFrame;
use anyhow::Context;
use common::{ClientId, MediaHeader};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The header line of each `times.csv`.
pub const TIMES_HEADER: &str = "sequence,captured_us,shown_unix_us";

pub struct VideoRecorder {
    dir: PathBuf,
    /// Each sender's folder and its `times.csv`.
    created: HashMap<ClientId, (PathBuf, File)>,
    mkv: Option<MkvFeed>,
}

impl VideoRecorder {
    pub fn new(root: &Path, mkv: Option<MkvFeed>) -> VideoRecorder {
        VideoRecorder {
            dir: root.join("video"),
            created: HashMap::new(),
            mkv,
        }
    }

    pub fn record(&mut self, header: &MediaHeader, jpeg: &[u8]) -> anyhow::Result<()> {
        // First: a folder that cannot be written leaves meeting.mkv whole.
        if let Some(mkv) = &self.mkv {
            mkv.video(header.sender, jpeg);
        }
        let (folder, times) = match self.created.get_mut(&header.sender) {
            Some(created) => created,
            None => {
                let folder = self.dir.join(header.sender.to_string());
                std::fs::create_dir_all(&folder)
                    .with_context(|| format!("could not create {}", folder.display()))?;
                let path = folder.join("times.csv");
                let mut times = File::create(&path)
                    .with_context(|| format!("could not create {}", path.display()))?;
                writeln!(times, "{TIMES_HEADER}")?;
                self.created.entry(header.sender).or_insert((folder, times))
            }
        };
        let path = folder.join(format!("{:08}.jpg", header.sequence));
        std::fs::write(&path, jpeg)
            .with_context(|| format!("could not write {}", path.display()))?;
        let shown = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_micros());
        writeln!(times, "{},{},{shown}", header.sequence, header.timestamp_us)
            .context("could not write the video's times.csv")
    }
}

impl VideoSink for VideoRecorder {
    fn frame(&mut self, header: &MediaHeader, frame: &SharedFrame) -> anyhow::Result<()> {
        self.record(header, frame.jpeg())
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
    fn video_frames_land_in_a_folder_per_sender() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut recorder = VideoRecorder::new(dir.path(), None);
        recorder
            .record(&header(7, 3), b"jpeg bytes")
            .expect("records");
        assert_eq!(
            std::fs::read(dir.path().join("video/7/00000003.jpg")).expect("file"),
            b"jpeg bytes"
        );
        let times = std::fs::read_to_string(dir.path().join("video/7/times.csv")).expect("times");
        let lines: Vec<&str> = times.lines().collect();
        assert_eq!(lines[0], TIMES_HEADER);
        assert!(lines[1].starts_with("3,0,"), "{times}");
    }
}
