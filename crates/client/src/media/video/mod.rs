//! The video driver: JPEG pictures from a source (a moving test pattern,
//! image files, a camera), sent at each size (layer) the server asks for,
//! and shown in the full-screen view's self-view; received, they go to the
//! recording (`record`) and the view's tiles.
//!
//! Like librespot's audio back-ends, every source is one file and one row in
//! the table (`VIDEO_SOURCES`: its name, what it is, how it opens), so
//! `/help` and `--help` list what really exists; the camera joins behind a
//! cargo feature.

#[cfg(feature = "camera")]
pub(super) mod camera;
pub(crate) mod frames;
mod images;
pub(crate) mod pattern;
mod present;
pub mod record;
mod sync;

use super::driver::{
    Driver, DriverSpec, Opened, Outlet, Outputs, Producer, Received, Receiver, Source, Takes,
    about, open_source,
};
use super::options::MediaOptions;
use crate::sink::SharedFrame;
use crate::tui::tiles::TileFeed;
use common::{Frame, Layer, LayerHeader, LayerSet, MediaHeader, MediaKind, PixelSize};
use image::RgbImage;
use record::VideoRecorder;
use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, Instant};

pub use crate::media::options::VideoSettings;
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

/// The video sources, the default first.
pub const VIDEO_SOURCES: &[Source<Box<dyn VideoSource>>] = &[
    Source {
        name: "test",
        help: "a moving test pattern at --video-size and --fps (the default)",
        takes: Takes::Word("test"),
        open: |_, options| Ok(Box::new(TestPattern::new(options.video))),
    },
    Source {
        name: "sync",
        help: "a dark picture that flashes white once a second, with the sync audio's beep (for lip sync)",
        takes: Takes::Word("sync"),
        open: |_, options| Ok(Box::new(sync::SyncFlash::new(options.video))),
    },
    Source {
        name: "PATH",
        help: "a JPEG or PNG file, or a folder of them played in name order, looped",
        takes: Takes::Other,
        open: |path, options| Ok(Box::new(ImageFiles::open(Path::new(path), options.video)?)),
    },
    Source {
        name: "camera[:N]",
        help: if cfg!(feature = "camera") {
            "a camera: N (index or name), else --camera, else the first (see --list-devices)"
        } else {
            "a camera (this build has no camera support: see --list-devices)"
        },
        takes: Takes::Word("camera"),
        open: |spec, options| {
            let name = spec.strip_prefix("camera:").or(options.camera.as_deref());
            open_camera(name, options.video)
        },
    },
];

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

/// Video's row of the kind table.
pub const DRIVER: DriverSpec = DriverSpec {
    kind: MediaKind::Video,
    sources: || about(VIDEO_SOURCES),
    start: |outputs| Box::new(Video::new(outputs)),
};

/// Where received video goes: the recording, the view's tiles.
pub trait VideoSink: Send {
    /// Takes one frame; an error stops this sink (the others go on).
    fn frame(&mut self, header: &MediaHeader, frame: &SharedFrame) -> anyhow::Result<()>;

    /// How long after taking a picture it is seen: it gets each picture
    /// this much before the picture's sound is heard (`present`).
    fn lead(&self) -> Duration {
        Duration::ZERO
    }
}

/// The view's tiles show each member's newest frame; the self-view's feed
/// shows ours.
impl VideoSink for TileFeed {
    fn frame(&mut self, header: &MediaHeader, frame: &SharedFrame) -> anyhow::Result<()> {
        self.show_video(header.sender, frame);
        Ok(())
    }

    /// A picture is decoded (a few ms) and drawn at the view's next redraw,
    /// from 0 to 33 ms later: on average about 20 ms.
    fn lead(&self) -> Duration {
        Duration::from_millis(20)
    }
}

/// The video driver: sends a source at the layers the server wants (and,
/// in the full-screen view, shows it in the self-view); hands what it
/// receives to the recording and the view's tiles.
struct Video {
    outputs: Outputs,
}

impl Video {
    fn new(outputs: &Outputs) -> Video {
        Video {
            outputs: outputs.clone(),
        }
    }
}

impl Driver for Video {
    fn open(&mut self, source: Option<&str>, options: &MediaOptions) -> anyhow::Result<Opened> {
        let source = open_source(VIDEO_SOURCES, source, options)?;
        let preview = self
            .outputs
            .tiles
            .as_ref()
            .map(|tiles| Box::new(tiles.for_self_view()) as Box<dyn VideoSink>);
        Ok(Opened {
            description: source.describe(),
            producer: Box::new(Layered {
                source,
                interval: Duration::from_secs(1) / options.video.fps.max(1),
                preview,
            }),
            input: None,
        })
    }

    fn receiver(&mut self) -> Box<dyn Receiver> {
        let mut sinks: Vec<Box<dyn VideoSink>> = Vec::new();
        if let Some(dir) = &self.outputs.record {
            sinks.push(Box::new(VideoRecorder::new(dir, self.outputs.mkv.clone())));
        }
        if let Some(tiles) = &self.outputs.tiles {
            sinks.push(Box::new(tiles.clone()));
        }
        Box::new(Receiving {
            presenter: present::Presenter::start(sinks, self.outputs.playback.clone()),
        })
    }
}

/// A video source sent at the layers the server asks for; `preview` (the
/// self-view) sees every picture sent, sharing its bytes.
struct Layered {
    source: Box<dyn VideoSource>,
    interval: Duration,
    preview: Option<Box<dyn VideoSink>>,
}

impl Producer for Layered {
    fn interval(&self) -> Duration {
        self.interval
    }

    /// Encodes one picture at the layers the server asked for (the full
    /// size alone if it never said) and sends each, all with one sequence
    /// number. Nothing is encoded that nobody gets, but for the self-view.
    fn send(&mut self, out: &mut Outlet<'_>) -> anyhow::Result<()> {
        // None: a server that predates layers; it gets plain JPEG bodies.
        let wanted = out.stats().layers_wanted();
        let send = wanted.unwrap_or(LayerSet::only(Layer::FULL));
        let encode = match (send.is_empty(), self.preview.is_some()) {
            (true, true) => LayerSet::only(Layer(2)), // only our own view shows it
            _ => send,
        };
        if encode.is_empty() {
            return Ok(());
        }
        // Stamped as it is captured, before encoding: the time the audio
        // frames' stamps are on, so a receiver can show it with its sound.
        let header = out.header();
        let started = Instant::now();
        let layers = self.source.next_layers(encode)?;
        out.stats()
            .encoded(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        let mut largest = None;
        for encoded in layers {
            let body = match wanted {
                None => encoded.jpeg,
                Some(_) => {
                    let mut body = LayerHeader {
                        layer: encoded.layer,
                        size: encoded.size,
                    }
                    .encode()
                    .to_vec();
                    body.extend_from_slice(&encoded.jpeg);
                    body
                }
            };
            let frame = out.frame(header, &body);
            if send.contains(encoded.layer) {
                if !out.write(&frame) {
                    return Ok(());
                }
                out.stats().sent_layer(encoded.layer, body.len());
            }
            if largest.is_none() {
                largest = Some(frame);
            }
        }
        if let (Some(sink), Some(frame)) = (self.preview.as_mut(), largest)
            && let Err(err) = sink.frame(&header, &frame)
        {
            tracing::warn!("the self-view stopped: {err:#}");
            self.preview = None;
        }
        Ok(())
    }
}

/// Received video: each frame counted by its layer, then to every sink,
/// shared without copying, when its sound is heard (`present`).
struct Receiving {
    presenter: present::Presenter,
}

impl Receiver for Receiving {
    fn frame(&mut self, header: &MediaHeader, frame: Frame, ctx: &dyn Received) {
        let shared = SharedFrame::new(frame);
        let (layer, size) = shared
            .layer()
            .map_or((Layer::FULL, None), |l| (l.layer, Some(l.size)));
        ctx.stats().received_layer(header.sender, layer, size);
        self.presenter.frame(header, shared);
    }
}
