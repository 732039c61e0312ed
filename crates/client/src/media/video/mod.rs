//! Video: JPEG pictures from a source (a moving test pattern, image files,
//! a camera), sent at each size (layer) the server asks for.
//!
//! Like librespot's audio back-ends, every source is one file and one row in
//! the table (`VIDEO_SOURCES`), so `/help` and `--help` list what really
//! exists; the camera joins behind a cargo feature. `record` writes what is
//! received under `--record`.

#[cfg(feature = "camera")]
pub(super) mod camera;
pub(crate) mod frames;
mod images;
pub(crate) mod pattern;
pub mod record;

use common::{Layer, LayerSet, PixelSize};
use image::RgbImage;
use std::borrow::Cow;
use std::path::Path;

#[cfg(feature = "camera")]
pub use camera::Camera;
pub use images::ImageFiles;
pub use pattern::TestPattern;

/// Produces JPEG frames, one per call, at the sender's pace.
pub trait VideoSource: Send {
    /// What it is, for people ("test pattern 640x360").
    fn describe(&self) -> String;
    /// The next frame as JPEG bytes.
    fn next_jpeg(&mut self) -> anyhow::Result<Vec<u8>>;

    /// The next frame at each size in `layers` (full, half, ... sixteenth of the
    /// sending size), smallest last. A source that has the pixels overrides
    /// this to encode each size from them; this one decodes its own JPEG.
    fn next_layers(&mut self, layers: LayerSet) -> anyhow::Result<Vec<EncodedLayer>> {
        let jpeg = self.next_jpeg()?;
        if layers == LayerSet::only(Layer::FULL) {
            let (width, height) = image::ImageReader::with_format(
                std::io::Cursor::new(&jpeg),
                image::ImageFormat::Jpeg,
            )
            .into_dimensions()?;
            let size = PixelSize::new(
                u16::try_from(width).unwrap_or(u16::MAX),
                u16::try_from(height).unwrap_or(u16::MAX),
            );
            return Ok(vec![EncodedLayer {
                layer: Layer::FULL,
                size,
                jpeg,
            }]);
        }
        let picture = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)?;
        encode_layers(&picture.into_rgb8(), layers, LAYER_QUALITY)
    }
}

/// The JPEG quality of layers a source re-encodes from its own JPEG.
const LAYER_QUALITY: u8 = 75;

/// One size of one picture, as JPEG.
pub struct EncodedLayer {
    pub layer: Layer,
    pub size: PixelSize,
    pub jpeg: Vec<u8>,
}

/// Encodes `picture` (the full size) at each size in `layers`: each smaller
/// size is the one before halved (2x2 averages), so no size costs a filter.
pub fn encode_layers(
    picture: &RgbImage,
    layers: LayerSet,
    quality: u8,
) -> anyhow::Result<Vec<EncodedLayer>> {
    let mut out = Vec::new();
    let mut current = Cow::Borrowed(picture);
    for layer in Layer::ALL {
        if !layers.iter().any(|wanted| wanted >= layer) {
            break;
        }
        if layer != Layer::FULL {
            current = Cow::Owned(frames::halve(&current));
        }
        if layers.contains(layer) {
            let (width, height) = current.dimensions();
            out.push(EncodedLayer {
                layer,
                size: PixelSize::new(
                    u16::try_from(width).unwrap_or(u16::MAX),
                    u16::try_from(height).unwrap_or(u16::MAX),
                ),
                jpeg: frames::encode_jpeg(current.as_raw(), width, height, quality)?,
            });
        }
    }
    Ok(out)
}

/// How video is produced when the source does not decide.
#[derive(Clone, Copy, Debug)]
pub struct VideoSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub quality: u8,
}

impl Default for VideoSettings {
    fn default() -> VideoSettings {
        VideoSettings {
            width: 640,
            height: 360,
            fps: 15,
            quality: 75,
        }
    }
}

/// The video sources: (how to name it, what it is).
pub const VIDEO_SOURCES: &[(&str, &str)] = &[
    (
        "test",
        "a moving test pattern at --video-size and --fps (the default)",
    ),
    (
        "PATH",
        "a JPEG or PNG file, or a folder of them played in name order, looped",
    ),
    (
        "camera[:N]",
        if cfg!(feature = "camera") {
            "a camera: N (index or name), else --camera, else the first (see --list-devices)"
        } else {
            "a camera (this build has no camera support: see --list-devices)"
        },
    ),
];

/// Opens a video source; `camera` is the camera `--camera` chose, if any.
pub fn open_video_source(
    spec: Option<&str>,
    settings: VideoSettings,
    camera: Option<&str>,
) -> anyhow::Result<Box<dyn VideoSource>> {
    match spec.unwrap_or("test") {
        "test" => Ok(Box::new(TestPattern::new(settings))),
        spec if spec == "camera" || spec.starts_with("camera:") => {
            open_camera(spec.strip_prefix("camera:").or(camera), settings)
        }
        path => Ok(Box::new(ImageFiles::open(Path::new(path), settings)?)),
    }
}

#[cfg(feature = "camera")]
fn open_camera(
    name: Option<&str>,
    settings: VideoSettings,
) -> anyhow::Result<Box<dyn VideoSource>> {
    Ok(Box::new(Camera::open(name, settings)?))
}

#[cfg(not(feature = "camera"))]
fn open_camera(
    _name: Option<&str>,
    _settings: VideoSettings,
) -> anyhow::Result<Box<dyn VideoSource>> {
    anyhow::bail!("{}", super::devices::CAMERA_BUILD_HINT)
}
