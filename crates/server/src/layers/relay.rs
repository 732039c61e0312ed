//! The media reader's share of layer routing: for each video frame a sender
//! sends, which receivers get it (one layer of each picture each), and now
//! and then which layers the sender must encode.

use super::{SeenLayers, SenderLayers, routing::layers_event, wanted};
use crate::outbox::Outbox;
use crate::registry::Route;
use bytes::Bytes;
use common::layers::split_video_body;
use common::{ClientId, Frame, Layer, MediaKind, PixelSize};
use std::time::{Duration, Instant};

/// How often a video reader checks which layers its sender must encode
/// (receivers held down or let up change it between `view`s).
const LAYER_CHECK_EVERY: Duration = Duration::from_millis(250);

/// One sender's video, on its way to its receivers.
pub struct VideoRelay {
    sender: ClientId,
    seen: SeenLayers,
    next_layer_check: Instant,
}

/// One video frame's layer, size and picture (`sequence`: all layers of one
/// picture share it), read before the frame is shared.
pub struct VideoFrame {
    layer: Layer,
    size: PixelSize,
    sequence: u32,
}

impl VideoFrame {
    pub fn layer(&self) -> Layer {
        self.layer
    }

    pub fn size(&self) -> PixelSize {
        self.size
    }

    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// A single-layer sender's frame is the full size (its size, unknown
    /// here, shows as 0x0).
    pub fn of(frame: &Frame) -> VideoFrame {
        let (header, _) = split_video_body(frame.media_body());
        let sequence = frame.media_header().map_or(0, |h| h.sequence);
        let (layer, size) =
            header.map_or((Layer::FULL, PixelSize::default()), |h| (h.layer, h.size));
        VideoFrame {
            layer,
            size,
            sequence,
        }
    }
}

impl VideoRelay {
    pub fn new(sender: ClientId) -> VideoRelay {
        VideoRelay {
            sender,
            seen: SeenLayers::default(),
            next_layer_check: Instant::now(),
        }
    }

    /// Hands `bytes` (the frame `video`) to each receiver on `route` whose
    /// layer it is; `layers` is the sender's, `own` its video socket's queue
    /// (for `layers` events).
    pub fn forward(
        &mut self,
        video: &VideoFrame,
        bytes: &Bytes,
        route: &Route,
        layers: &SenderLayers,
        own: &Outbox,
    ) {
        let now = Instant::now();
        self.seen.saw(video.layer, video.size, now);
        if let Some(full) = full_size(video.layer, video.size)
            && layers.full() != Some(full)
        {
            layers.set_full(full);
        }
        let produced = self.seen.produced(now);
        let receivers = route.receivers(MediaKind::Video);
        for receiver in receivers {
            if !receiver
                .view
                .accepts(self.sender, video.layer, video.sequence, &produced, now)
            {
                continue;
            }
            if !receiver.outbox.push_media(bytes.clone()) {
                receiver.view.dropped(now);
            }
        }
        if now >= self.next_layer_check {
            self.next_layer_check = now + LAYER_CHECK_EVERY;
            let views = receivers.iter().map(|r| &*r.view);
            let mut wanted = wanted(self.sender, layers.full(), views);
            if let Some(outlet) = route.outlet(MediaKind::Video) {
                wanted = wanted.union(outlet.wants_of(self.sender));
            }
            layers.announce(wanted, |wanted| {
                let _ = own.push_control(layers_event(wanted));
            });
        }
    }
}

/// The full size of a sender whose `layer` is `size` (None: unknown).
pub fn full_size(layer: Layer, size: PixelSize) -> Option<PixelSize> {
    if size.is_empty() {
        return None;
    }
    let shift = u32::from(layer.0);
    let grow = |side: u16| u16::try_from(u32::from(side) << shift).unwrap_or(u16::MAX);
    Some(PixelSize::new(grow(size.width), grow(size.height)))
}
