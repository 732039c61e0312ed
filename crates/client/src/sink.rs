//! Where received media goes: every consumer of video (the `--record` writer,
//! the terminal tiles) is a `VideoSink`, every consumer of audio (the WAV
//! writer, the speaking meter) an `AudioSink`, every consumer of a shared
//! screen (the recorder, the presentation tile) a `ScreenSink`. A media reader thread owns its
//! sinks and hands each frame to all of them, so adding a consumer (a speaker,
//! a window) is one new type, not a change to the reader.

use common::layers::split_video_body;
use common::{Frame, LayerHeader, MediaHeader};
use image::RgbImage;
use meeting_screen::codec::Applied;
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

pub trait VideoSink: Send {
    /// Takes one frame; an error stops this sink (the others go on).
    fn frame(&mut self, header: &MediaHeader, frame: &SharedFrame) -> anyhow::Result<()>;
}

pub trait AudioSink: Send {
    /// Takes 20 ms of mono s16 PCM; an error stops this sink (the others go on).
    fn frame(&mut self, header: &MediaHeader, pcm: &[i16]) -> anyhow::Result<()>;
}

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

/// Hands `item` to every sink and drops the sinks that fail, saying why once.
pub fn deliver<S: ?Sized>(
    sinks: &mut Vec<Box<S>>,
    mut each: impl FnMut(&mut S) -> anyhow::Result<()>,
) {
    sinks.retain_mut(|sink| match each(sink) {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!("a media sink stopped: {err:#}");
            false
        }
    });
}
