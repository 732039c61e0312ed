//! `--record`'s video: every frame received, byte for byte, as
//! `SESSION/video/<member id>/<seq>.jpg`.

use super::VideoSink;
use crate::sink::SharedFrame;
use anyhow::Context;
use common::{ClientId, MediaHeader};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
