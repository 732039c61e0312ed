//! What every kind's sinks share: each media driver defines the sink of its
//! kind (`media::video::VideoSink`, ...), every consumer of that kind (a
//! recorder, the view, playback) implements it, and the kind's receiver
//! hands each frame to all of them with `deliver`, so adding a consumer is
//! one new type, not a change to the receiver. `SharedFrame` is a frame
//! shared without copying (a video frame's JPEG, sent and shown alike).

use common::layers::split_video_body;
use common::{Frame, LayerHeader};
use std::sync::Arc;

/// One video frame shared without copying: the frame exactly as it travelled,
/// whose media body is the JPEG. Cloning it clones a pointer.
#[derive(Clone)]
pub struct SharedFrame(Arc<Frame>);

impl SharedFrame {
    pub fn new(frame: Frame) -> SharedFrame {
        SharedFrame(Arc::new(frame))
    }

    /// The JPEG bytes (after the layer header, if there is one).
    pub fn jpeg(&self) -> &[u8] {
        split_video_body(self.0.media_body()).1
    }

    /// Which layer (size) of its sender's picture this is; None for a
    /// single-layer sender's frame (the full size).
    pub fn layer(&self) -> Option<LayerHeader> {
        split_video_body(self.0.media_body()).0
    }

    /// The whole frame, for writing it to a socket.
    pub fn frame(&self) -> &Frame {
        &self.0
    }
}

/// Hands `item` to every sink and drops the sinks that fail, saying why once.
pub fn deliver<S: ?Sized>(
    sinks: &mut Vec<Box<S>>,
    mut each: impl FnMut(&mut S) -> anyhow::Result<()>,
) {
    sinks.retain_mut(|sink| still_going(each(sink)));
}

/// `deliver` for one sink, kept in `slot` until it fails.
pub fn deliver_to<S: ?Sized>(
    slot: &mut Option<Box<S>>,
    each: impl FnOnce(&mut S) -> anyhow::Result<()>,
) {
    if let Some(sink) = slot
        && !still_going(each(sink))
    {
        *slot = None;
    }
}

/// Whether a sink that answered `result` goes on; says why when not.
fn still_going(result: anyhow::Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!("a media sink stopped: {err:#}");
            false
        }
    }
}
