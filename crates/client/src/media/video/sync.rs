//! The `sync` video source: a dark picture that flashes white for 100 ms
//! once a second, at the instant the `sync` audio source beeps
//! (`media::sync_clock`), for measuring lip sync at a receiver.

use super::{EncodedLayer, VideoSettings, VideoSource, encode_layers};
use crate::media::sync_clock;
use common::LayerSet;
use image::RgbImage;
use std::time::Instant;

/// The dark picture's grey, and the flash's.
pub const DARK: u8 = 32;
pub const WHITE: u8 = 255;

pub struct SyncFlash {
    settings: VideoSettings,
}

impl SyncFlash {
    pub fn new(settings: VideoSettings) -> SyncFlash {
        SyncFlash {
            settings: VideoSettings {
                width: settings.width.max(16),
                height: settings.height.max(16),
                ..settings
            },
        }
    }

    fn picture(&self) -> RgbImage {
        let level = if sync_clock::picture_flashes(Instant::now()) {
            WHITE
        } else {
            DARK
        };
        RgbImage::from_pixel(
            self.settings.width,
            self.settings.height,
            image::Rgb([level; 3]),
        )
    }
}

impl VideoSource for SyncFlash {
    fn describe(&self) -> String {
        format!(
            "sync flash {}x{}, once a second with the sync beep",
            self.settings.width, self.settings.height
        )
    }

    fn next_jpeg(&mut self) -> anyhow::Result<Vec<u8>> {
        let picture = self.picture();
        super::frames::encode_jpeg(
            picture.as_raw(),
            picture.width(),
            picture.height(),
            self.settings.quality,
        )
    }

    fn next_layers(&mut self, layers: LayerSet) -> anyhow::Result<Vec<EncodedLayer>> {
        encode_layers(&self.picture(), layers, self.settings.quality)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::Layer;

    #[test]
    fn pictures_are_dark_or_white_at_every_layer() {
        let mut source = SyncFlash::new(VideoSettings::default());
        let layers = source
            .next_layers(LayerSet::only(Layer::FULL).with(Layer(2)))
            .expect("encodes");
        assert_eq!(layers.len(), 2);
        for layer in layers {
            let decoded = image::load_from_memory(&layer.jpeg)
                .expect("a JPEG")
                .into_rgb8();
            let level = decoded.get_pixel(3, 3)[0];
            assert!(
                level.abs_diff(DARK) < 8 || level.abs_diff(WHITE) < 8,
                "{level} at {:?}: {:?}",
                layer.size,
                decoded.get_pixel(3, 3)
            );
        }
    }
}
