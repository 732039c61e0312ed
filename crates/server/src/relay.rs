//! What happens to one frame a member sends: stamped with its sender and
//! handed to everyone on the sender's route, without the registry lock.
//! Audio and screen frames go to every receiver whole; video goes to each
//! receiver in the one layer chosen for it (`layers::VideoRelay`), audio
//! to the receivers that hear its sender now (`speakers`). A sender in no
//! meeting is told once that its media goes nowhere.

use crate::layers::{SenderLayers, VideoFrame, VideoRelay};
use crate::outbox::Outbox;
use crate::registry::{Attachment, MeetingRegistry, RouteSlot};
use crate::speakers::Audience;
use bytes::Bytes;
use common::{ClientId, Frame, Layer, MediaKind, VoiceLevel};
use std::sync::Arc;
use std::time::Instant;

/// One media connection's way to its receivers.
pub struct MediaRelay {
    kind: MediaKind,
    sender: ClientId,
    route: Arc<RouteSlot>,
    layers: Arc<SenderLayers>,
    /// The sender's own socket's queue (for `layers` events).
    own: Outbox,
    registry: MeetingRegistry,
    reported_outside: bool,
    video: Option<VideoRelay>,
}

impl MediaRelay {
    pub fn new(
        kind: MediaKind,
        sender: ClientId,
        attachment: &Attachment,
        own: Outbox,
        registry: MeetingRegistry,
    ) -> MediaRelay {
        MediaRelay {
            kind,
            sender,
            route: attachment.route.clone(),
            layers: attachment.layers.clone(),
            own,
            registry,
            reported_outside: false,
            video: (kind == MediaKind::Video).then(|| VideoRelay::new(sender)),
        }
    }

    /// Forwards one frame the sender sent.
    pub fn forward(&mut self, mut frame: Frame) {
        let video = self.video.as_ref().map(|_| VideoFrame::of(&frame));
        // The sender's level rides in the field the server stamps.
        let level = match self.kind {
            MediaKind::Audio => frame
                .media_header()
                .ok()
                .and_then(|header| VoiceLevel::from_sender_field(header.sender.0)),
            _ => None,
        };
        frame.stamp_sender(self.sender);
        let bytes = Bytes::from(frame.into_bytes());
        let route = self.route.current();
        if route.meeting.is_none() {
            if !self.reported_outside {
                self.registry.media_outside_meeting(self.sender, self.kind);
                self.reported_outside = true;
            }
            return;
        }
        self.reported_outside = false;
        let audience = match (&route.speakers, self.kind) {
            (Some(speakers), MediaKind::Audio) => {
                speakers.frame(self.sender, level, Instant::now())
            }
            _ => Audience::Everyone,
        };
        if audience == Audience::Nobody {
            return;
        }
        if let Some(outlet) = route.outlet(self.kind) {
            let layer = video.as_ref().map_or(Layer::FULL, VideoFrame::layer);
            outlet.publish(self.kind, layer, self.sender, &bytes);
        }
        if let (Some(relay), Some(video)) = (&mut self.video, video) {
            return relay.forward(&video, &bytes, &route, &self.layers, &self.own);
        }
        for receiver in route.receivers(self.kind) {
            if !audience.includes(receiver.id) {
                continue;
            }
            let kept = receiver.outbox.push_media(bytes.clone());
            // Sound matters more than pictures: a receiver whose audio
            // backs up gets smaller video, to make room.
            if !kept && self.kind == MediaKind::Audio {
                receiver.view.dropped(Instant::now());
            }
        }
    }
}
