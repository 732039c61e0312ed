//! The screen driver: pictures of a screen (the test desktop, an X display,
//! image files; `sources`) turned into bodies that carry only the tiles that
//! changed (`meeting_screen::codec`), with a whole picture (a keyframe) when a
//! receiver asks or a member joins. Received, each sender's changes are put
//! together into its screen for the recording (`record`) and the view's
//! presentation; a receiver that cannot asks the sender for a keyframe.

pub mod record;
mod sources;

use super::driver::{
    Driver, DriverSpec, Opened, Outlet, Outputs, Producer, Received, Receiver, about, open_source,
};
use super::options::MediaOptions;
use crate::sink;
use crate::tui::tiles::TileFeed;
use common::protocol::KEYFRAME_REQUEST_INTERVAL;
use common::{ClientId, Event, Frame, MediaHeader, MediaKind};
use image::RgbImage;
use meeting_screen::codec::{Applied, EncoderConfig, ScreenDecoder, ScreenEncoder};
use record::ScreenRecorder;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use sources::{OpenedScreen, SCREEN_SOURCES, ScreenSource, open_screen_source};

/// Frames per second a shared screen is looked at (unchanged ones cost nothing).
pub const SCREEN_FPS: u32 = 8;
/// Asks a running screen producer for a complete picture (a member joined,
/// or a receiver lost frames). Cheap to clone; many asks before the next
/// frame are one keyframe.
#[derive(Clone, Default)]
pub struct KeyframeRequest(Arc<AtomicBool>);

impl KeyframeRequest {
    pub fn ask(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn pending(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn clear(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A screen source and its encoder: each call captures one picture and
/// returns the body that brings receivers up to date, if any is needed.
pub struct ScreenProducer {
    source: Box<dyn ScreenSource>,
    encoder: ScreenEncoder,
    keyframe: KeyframeRequest,
    /// When the last asked-for keyframe started: many receivers asking at
    /// once (a meeting of 50 joining, a lossy link) get one keyframe per
    /// `KEYFRAME_REQUEST_INTERVAL`, not one per frame.
    last_keyframe: Option<Instant>,
}

impl ScreenProducer {
    pub fn new(source: Box<dyn ScreenSource>, keyframe: KeyframeRequest) -> ScreenProducer {
        ScreenProducer {
            source,
            encoder: ScreenEncoder::new(EncoderConfig::default()),
            keyframe,
            last_keyframe: None,
        }
    }

    /// The next body to send, or `None` when receivers already hold the picture.
    pub fn produce(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        let picture = self.source.capture()?;
        let now = Instant::now();
        let due = self
            .last_keyframe
            .is_none_or(|last| now.duration_since(last) >= KEYFRAME_REQUEST_INTERVAL);
        // A request that is not due yet stays pending: it is served, later.
        if self.keyframe.pending() && due {
            self.keyframe.clear();
            self.last_keyframe = Some(now);
            self.encoder.request_keyframe();
        }
        Ok(self.encoder.encode(&picture, now)?)
    }
}

impl Producer for ScreenProducer {
    fn interval(&self) -> Duration {
        Duration::from_secs(1) / SCREEN_FPS
    }

    fn send(&mut self, out: &mut Outlet<'_>) -> anyhow::Result<()> {
        if let Some(body) = self.produce()? {
            out.send(&body);
        }
        Ok(())
    }
}

/// Screen's row of the kind table.
pub const DRIVER: DriverSpec = DriverSpec {
    kind: MediaKind::Screen,
    sources: || about(SCREEN_SOURCES),
    start: |outputs| Box::new(Screen::new(outputs)),
};

/// Where received screens go: the recording, the view's presentation.
pub trait ScreenSink: Send {
    /// A member's shared screen changed: `canvas` is the whole screen as now
    /// known, `applied` what this frame changed and whether the picture is
    /// coherent (every tile arrived since the last keyframe).
    fn update(
        &mut self,
        header: &MediaHeader,
        canvas: &RgbImage,
        applied: &Applied,
    ) -> anyhow::Result<()>;
}

/// The view shows each sharer's screen as now known.
impl ScreenSink for TileFeed {
    fn update(
        &mut self,
        header: &MediaHeader,
        canvas: &RgbImage,
        _applied: &Applied,
    ) -> anyhow::Result<()> {
        self.show_screen(header.sender, canvas);
        Ok(())
    }
}

/// The screen driver: while we share, a newcomer (or a receiver that lost
/// track) gets a keyframe.
struct Screen {
    outputs: Outputs,
    /// How to ask the screen we share now for a keyframe.
    keyframe: Option<KeyframeRequest>,
}

impl Screen {
    fn new(outputs: &Outputs) -> Screen {
        Screen {
            outputs: outputs.clone(),
            keyframe: None,
        }
    }
}

impl Driver for Screen {
    fn open(&mut self, source: Option<&str>, options: &MediaOptions) -> anyhow::Result<Opened> {
        let (source, input) = open_source(SCREEN_SOURCES, source, options)?;
        let keyframe = KeyframeRequest::default();
        self.keyframe = Some(keyframe.clone());
        Ok(Opened {
            description: source.describe(),
            producer: Box::new(ScreenProducer::new(source, keyframe)),
            input,
        })
    }

    fn receiver(&mut self) -> Box<dyn Receiver> {
        let mut sinks: Vec<Box<dyn ScreenSink>> = Vec::new();
        if let Some(dir) = &self.outputs.record {
            sinks.push(Box::new(ScreenRecorder::new(dir, self.outputs.mkv.clone())));
        }
        if let Some(tiles) = &self.outputs.tiles {
            sinks.push(Box::new(tiles.clone()));
        }
        Box::new(ScreenReceiver::new(sinks))
    }

    fn event(&mut self, event: &Event, _in_meeting: bool) {
        // A newcomer has no picture of our screen yet.
        if matches!(event, Event::MemberJoined { .. } | Event::Keyframe { .. })
            && let Some(keyframe) = &self.keyframe
        {
            keyframe.ask();
        }
    }

    fn stopped(&mut self) {
        self.keyframe = None;
    }
}

/// A decoder per member sharing a screen, and where the pictures go.
struct ScreenReceiver {
    sinks: Vec<Box<dyn ScreenSink>>,
    decoders: HashMap<ClientId, (ScreenDecoder, Instant)>,
    /// When each sender was last asked for a keyframe.
    asked: HashMap<ClientId, Instant>,
}

/// A sender whose screen has been silent this long is forgotten (its canvas
/// is memory: up to 100 MB for the largest screen the format allows).
const SCREEN_FORGOTTEN_AFTER: Duration = Duration::from_secs(60);

impl ScreenReceiver {
    fn new(sinks: Vec<Box<dyn ScreenSink>>) -> ScreenReceiver {
        ScreenReceiver {
            sinks,
            decoders: HashMap::new(),
            asked: HashMap::new(),
        }
    }

    fn apply(&mut self, header: &MediaHeader, body: &[u8], ctx: &dyn Received) {
        let now = Instant::now();
        self.decoders
            .retain(|_, (_, last)| now.duration_since(*last) < SCREEN_FORGOTTEN_AFTER);
        let (decoder, last) = self
            .decoders
            .entry(header.sender)
            .or_insert_with(|| (ScreenDecoder::new(), now));
        *last = now;
        match decoder.apply_sequenced(header.sequence, body) {
            Ok(applied) => {
                if let Some(canvas) = decoder.canvas() {
                    sink::deliver(&mut self.sinks, |s| s.update(header, canvas, &applied));
                }
            }
            Err(err) => {
                tracing::debug!(sender = %header.sender, "screen update not applied: {err}")
            }
        }
        // Out of sync (joined late, frames lost, a broken body): ask the
        // sender for a whole picture, once a second at most.
        let recently_asked = self.asked.get(&header.sender).is_some_and(|at| {
            now.duration_since(*at) < common::protocol::KEYFRAME_REQUEST_INTERVAL
        });
        if decoder.needs_keyframe() && !recently_asked {
            self.asked.insert(header.sender, now);
            ctx.keyframe_needed(header.sender);
        }
    }
}

impl Receiver for ScreenReceiver {
    fn frame(&mut self, header: &MediaHeader, frame: Frame, ctx: &dyn Received) {
        self.apply(header, frame.media_body(), ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::sources::TEST_DESKTOP;
    use super::*;
    use meeting_screen::codec::ScreenDecoder;

    #[test]
    fn the_test_desktop_reaches_a_decoder_whole() {
        let keyframe = KeyframeRequest::default();
        let (source, _) = open_screen_source(Some("test")).expect("test source");
        let mut producer = ScreenProducer::new(source, keyframe.clone());
        let mut decoder = ScreenDecoder::new();
        let body = producer
            .produce()
            .expect("captures")
            .expect("the first picture is sent");
        let applied = decoder.apply(&body).expect("decodes");
        assert!(applied.keyframe);
        assert_eq!((applied.width, applied.height), TEST_DESKTOP);
        keyframe.ask();
        let body = producer.produce().expect("captures").expect("a keyframe");
        assert!(decoder.apply(&body).expect("decodes").keyframe);
        // Asked again at once: served after the interval, not now.
        keyframe.ask();
        let soon = producer.produce().expect("captures");
        assert!(
            soon.is_none_or(|body| !decoder.apply(&body).expect("decodes").keyframe),
            "a second keyframe within {KEYFRAME_REQUEST_INTERVAL:?}"
        );
        assert!(keyframe.pending(), "the request waits, it is not lost");
    }
}
