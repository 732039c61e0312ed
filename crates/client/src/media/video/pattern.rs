//! The `test` video source: colour bars that scroll, a bouncing white square and
//! a frame counter in binary, so every frame differs and motion is visible.

use super::{EncodedLayer, VideoSettings, VideoSource, encode_layers, frames};
use common::LayerSet;

pub struct TestPattern {
    settings: VideoSettings,
    frame: u64,
    pixels: Vec<u8>,
}

/// The colour bars, left to right (the full-screen view's tests check them).
pub(crate) const BARS: [[u8; 3]; 7] = [
    [192, 192, 192],
    [192, 192, 0],
    [0, 192, 192],
    [0, 192, 0],
    [192, 0, 192],
    [192, 0, 0],
    [0, 0, 192],
];

impl TestPattern {
    pub fn new(settings: VideoSettings) -> TestPattern {
        let settings = VideoSettings {
            width: settings.width.max(16),
            height: settings.height.max(16),
            ..settings
        };
        let pixels = vec![0; (settings.width * settings.height * 3) as usize];
        TestPattern {
            settings,
            frame: 0,
            pixels,
        }
    }

    fn draw(&mut self) {
        let (w, h) = (self.settings.width as usize, self.settings.height as usize);
        let shift = (self.frame as usize * 4) % w;
        let bar_width = w.div_ceil(BARS.len());
        for y in 0..h {
            for x in 0..w {
                let colour = BARS[((x + shift) % w) / bar_width % BARS.len()];
                let at = (y * w + x) * 3;
                self.pixels[at..at + 3].copy_from_slice(&colour);
            }
        }
        // A square bouncing between the edges.
        let side = h / 6;
        let span_x = (w - side) as u64;
        let span_y = (h - side) as u64;
        let bounce = |t: u64, span: u64| -> usize {
            let t = t % (2 * span.max(1));
            (if t < span { t } else { 2 * span - t }) as usize
        };
        let (sx, sy) = (
            bounce(self.frame * 7, span_x),
            bounce(self.frame * 5, span_y),
        );
        self.fill_rect(sx, sy, side, side, [255, 255, 255]);
        // The frame number, 16 bits as black/white cells along the bottom.
        let cell = (w / 32).max(2);
        for bit in 0..16 {
            let on = (self.frame >> (15 - bit)) & 1 == 1;
            let colour = if on { [255, 255, 255] } else { [0, 0, 0] };
            self.fill_rect(bit * cell, h - cell, cell, cell, colour);
        }
    }

    fn fill_rect(&mut self, x0: usize, y0: usize, width: usize, height: usize, colour: [u8; 3]) {
        let (w, h) = (self.settings.width as usize, self.settings.height as usize);
        for y in y0..(y0 + height).min(h) {
            for x in x0..(x0 + width).min(w) {
                let at = (y * w + x) * 3;
                self.pixels[at..at + 3].copy_from_slice(&colour);
            }
        }
    }
}

impl VideoSource for TestPattern {
    fn describe(&self) -> String {
        format!(
            "test pattern {}x{} at {} fps",
            self.settings.width, self.settings.height, self.settings.fps
        )
    }

    fn next_jpeg(&mut self) -> anyhow::Result<Vec<u8>> {
        self.draw();
        self.frame += 1;
        frames::encode_jpeg(
            &self.pixels,
            self.settings.width,
            self.settings.height,
            self.settings.quality,
        )
    }

    fn next_layers(&mut self, layers: LayerSet) -> anyhow::Result<Vec<EncodedLayer>> {
        self.draw();
        self.frame += 1;
        let (w, h) = (self.settings.width, self.settings.height);
        let picture = image::RgbImage::from_raw(w, h, std::mem::take(&mut self.pixels))
            .ok_or_else(|| anyhow::anyhow!("the test pattern is not {w}x{h}"))?;
        let encoded = encode_layers(&picture, layers, self.settings.quality);
        self.pixels = picture.into_raw();
        encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_jpegs_of_the_set_size_and_change_every_time() {
        let mut source = TestPattern::new(VideoSettings {
            width: 160,
            height: 90,
            fps: 15,
            quality: 70,
        });
        let first = source.next_jpeg().expect("encodes");
        let second = source.next_jpeg().expect("encodes");
        assert_ne!(first, second);
        let decoded = image::load_from_memory(&first).expect("valid JPEG");
        assert_eq!((decoded.width(), decoded.height()), (160, 90));
    }

    fn pattern_640x360() -> TestPattern {
        TestPattern::new(VideoSettings {
            width: 640,
            height: 360,
            fps: 15,
            quality: 75,
        })
    }

    /// Every layer decodes to its size, and each is smaller than the one
    /// before.
    #[test]
    fn every_layer_is_a_jpeg_of_its_size() {
        let all = common::Layer::ALL
            .into_iter()
            .fold(LayerSet::NONE, LayerSet::with);
        let layers = pattern_640x360().next_layers(all).expect("encodes");
        let sizes: Vec<(u32, u32)> = layers
            .iter()
            .map(|layer| {
                let picture = image::load_from_memory(&layer.jpeg).expect("valid JPEG");
                (picture.width(), picture.height())
            })
            .collect();
        assert_eq!(
            sizes,
            [(640, 360), (320, 180), (160, 90), (80, 45), (40, 22)]
        );
        assert!(
            layers.windows(2).all(|w| w[1].jpeg.len() < w[0].jpeg.len()),
            "{:?}",
            layers.iter().map(|l| l.jpeg.len()).collect::<Vec<_>>()
        );
    }

    /// Bytes per layer and encoding time per picture for sets of layers:
    /// `cargo test --release -p meeting-client --lib measure_layer_encoding
    /// -- --ignored --nocapture` (docs/BENCHMARKS.md).
    #[test]
    #[ignore = "a measurement; run in release"]
    fn measure_layer_encoding() {
        use common::Layer;
        let sets = [
            ("full", LayerSet::only(Layer(0))),
            ("full+half", LayerSet::only(Layer(0)).with(Layer(1))),
            ("sixteenth", LayerSet::only(Layer(4))),
            ("quarter", LayerSet::only(Layer(2))),
            (
                "all five",
                Layer::ALL.into_iter().fold(LayerSet::NONE, LayerSet::with),
            ),
        ];
        const PICTURES: u32 = 150;
        for (name, set) in sets {
            let mut source = pattern_640x360();
            let mut bytes = [0usize; common::layers::VIDEO_LAYERS];
            let started = std::time::Instant::now();
            for _ in 0..PICTURES {
                for layer in source.next_layers(set).expect("encodes") {
                    bytes[layer.layer.index()] += layer.jpeg.len();
                }
            }
            let per_picture = started.elapsed() / PICTURES;
            let sizes: Vec<String> = bytes
                .iter()
                .map(|b| format!("{}", b / PICTURES as usize))
                .collect();
            eprintln!(
                "{name}: {per_picture:?} per picture (drawing included); bytes per layer full..sixteenth: {}",
                sizes.join(" / ")
            );
        }
    }
}
