//! Media sources behind small traits (one per kind), and the paced threads that send them.
//!
//! Like librespot's audio back-ends, every source is one file and one row in a
//! table (`VIDEO_SOURCES`, `AUDIO_SOURCES`), so `/help` and `--help` list what
//! really exists. The synthetic and file sources need no device at all; camera
//! and microphone sources join the tables behind cargo features.

#[cfg(feature = "camera")]
mod camera;
pub mod devices;
pub(crate) mod frames;
mod images;
#[cfg(feature = "audio")]
mod mic;
pub(crate) mod pattern;
pub mod screen;
pub mod sender;
mod tone;
mod wav;

use common::protocol::AUDIO_FRAME_SAMPLES;
use common::{Layer, LayerSet, MediaKind, PixelSize};
use image::RgbImage;
use std::borrow::Cow;
use std::path::Path;

#[cfg(feature = "camera")]
pub use camera::Camera;
pub use images::ImageFiles;
#[cfg(feature = "audio")]
pub use mic::Microphone;
pub use pattern::TestPattern;
pub use tone::Tone;
pub use wav::WavFile;

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

/// Produces PCM frames: 20 ms of mono s16 at 48 kHz per call.
pub trait AudioSource: Send {
    fn describe(&self) -> String;
    fn fill(&mut self, frame: &mut [i16; AUDIO_FRAME_SAMPLES]) -> anyhow::Result<()>;
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

/// The audio sources: (how to name it, what it is).
pub const AUDIO_SOURCES: &[(&str, &str)] = &[
    (
        "tone[:HZ]",
        "a sine tone, 440 Hz unless HZ is given (the default)",
    ),
    (
        "PATH.wav",
        "a 48 kHz WAV file (mono or stereo, 16-bit or float), looped",
    ),
    (
        "mic[:NAME]",
        if cfg!(feature = "audio") {
            "a microphone: NAME, else --mic, else the default input (see --list-devices)"
        } else {
            "a microphone (this build has no device support: see --list-devices)"
        },
    ),
];

/// The sources of one kind: (how to name it, what it is).
pub fn sources(kind: MediaKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        MediaKind::Video => VIDEO_SOURCES,
        MediaKind::Audio => AUDIO_SOURCES,
        MediaKind::Screen => screen::SCREEN_SOURCES,
    }
}

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
    anyhow::bail!("{}", devices::CAMERA_BUILD_HINT)
}

/// Opens an audio source; `mic` is the microphone `--mic` chose, if any.
pub fn open_audio_source(
    spec: Option<&str>,
    mic: Option<&str>,
) -> anyhow::Result<Box<dyn AudioSource>> {
    let spec = spec.unwrap_or("tone");
    if spec == "mic" || spec.starts_with("mic:") {
        let name = spec.strip_prefix("mic:").or(mic);
        return open_microphone(name);
    }
    if spec == "tone" {
        return Ok(Box::new(Tone::new(440.0)?));
    }
    if let Some(hz) = spec.strip_prefix("tone:") {
        let hz: f64 = hz
            .parse()
            .map_err(|_| anyhow::anyhow!("tone:{hz}: the frequency must be a number of Hz"))?;
        return Ok(Box::new(Tone::new(hz)?));
    }
    Ok(Box::new(WavFile::open(Path::new(spec))?))
}

#[cfg(feature = "audio")]
fn open_microphone(name: Option<&str>) -> anyhow::Result<Box<dyn AudioSource>> {
    Ok(Box::new(Microphone::open(name)?))
}

#[cfg(not(feature = "audio"))]
fn open_microphone(_name: Option<&str>) -> anyhow::Result<Box<dyn AudioSource>> {
    anyhow::bail!("{}", devices::AUDIO_BUILD_HINT)
}

/// One line per source, for help texts.
pub fn describe_sources(table: &[(&str, &str)]) -> String {
    table
        .iter()
        .map(|(name, what)| format!("  {name:<12} {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}
