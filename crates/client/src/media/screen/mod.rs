//! Screen sharing: pictures of a screen (the test desktop, an X display,
//! image files; `sources`) turned into bodies that carry only the tiles that
//! changed (`meeting_screen::codec`), with a whole picture (a keyframe) when a
//! receiver asks. `record` writes the pictures received under `--record`.

pub mod record;
mod sources;

use common::protocol::KEYFRAME_REQUEST_INTERVAL;
use meeting_screen::codec::{EncoderConfig, ScreenEncoder};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use sources::{InputTarget, OpenedScreen, SCREEN_SOURCES, ScreenSource, open_screen_source};

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
