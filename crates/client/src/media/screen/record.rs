//! `--record`'s shared screens: each complete picture put together from a
//! member's changes, as `SESSION/screen/<member id>/<seq>.jpg` and as a
//! frame of the member's screen track in `meeting.mkv`, and the last one
//! losslessly as `latest.png` (for checking text).

use super::ScreenSink;
use crate::mkv::MkvFeed;
use anyhow::Context;
use common::{ClientId, MediaHeader};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// JPEG quality of recorded screen pictures: text stays readable.
const SCREEN_JPEG_QUALITY: u8 = 90;

/// Shared screens, as the pictures put together from their changes.
pub struct ScreenRecorder {
    dir: PathBuf,
    /// The last complete picture per sender not yet saved losslessly.
    latest: HashMap<ClientId, image::RgbImage>,
    created: HashMap<ClientId, PathBuf>,
    mkv: Option<MkvFeed>,
}

impl ScreenRecorder {
    pub fn new(root: &Path, mkv: Option<MkvFeed>) -> ScreenRecorder {
        ScreenRecorder {
            dir: root.join("screen"),
            latest: HashMap::new(),
            created: HashMap::new(),
            mkv,
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
        if let Some(mkv) = &self.mkv {
            mkv.screen(header.sender, &jpeg);
        }
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
