//! The type of a frame: control, or one of the media kinds. It is the first
//! byte of every frame (`frame.rs`) and what an error names when a frame is
//! out of place (`error.rs`), so it sits below both and uses neither.

use crate::media::{MEDIA, MediaKind};
use crate::protocol::{CONTROL_FRAME_TYPE, MAX_CONTROL_PAYLOAD};
use std::fmt;

/// The type of a frame: control, or one of the media kinds (`media::MEDIA`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// One JSON `Request` or `Event`.
    Control,
    /// `MediaHeader` followed by the kind's body (`MediaSpec::body`).
    Media(MediaKind),
}

impl FrameKind {
    pub fn from_byte(byte: u8) -> Option<FrameKind> {
        if byte == CONTROL_FRAME_TYPE {
            return Some(FrameKind::Control);
        }
        MEDIA
            .iter()
            .find(|spec| spec.frame_type == byte)
            .map(|spec| FrameKind::Media(spec.kind))
    }

    /// The type byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            FrameKind::Control => CONTROL_FRAME_TYPE,
            FrameKind::Media(kind) => kind.spec().frame_type,
        }
    }

    /// The largest payload a frame of this type may carry.
    pub fn max_payload(self) -> u32 {
        match self {
            FrameKind::Control => MAX_CONTROL_PAYLOAD,
            FrameKind::Media(kind) => kind.spec().max_payload,
        }
    }

    pub fn media_kind(self) -> Option<MediaKind> {
        match self {
            FrameKind::Control => None,
            FrameKind::Media(kind) => Some(kind),
        }
    }
}

impl From<MediaKind> for FrameKind {
    fn from(kind: MediaKind) -> FrameKind {
        FrameKind::Media(kind)
    }
}

impl fmt::Display for FrameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameKind::Control => f.write_str("control"),
            FrameKind::Media(kind) => f.write_str(kind.name()),
        }
    }
}
