//! Everything that can be wrong with a screen body or a picture to encode.
//!
//! One enum for both sides: the encoder only rejects pictures it cannot
//! describe (the format's size limits), the decoder everything else. The
//! variants carry what a log line needs to find the culprit, not the bytes.

use super::limits::{FORMAT_VERSION, MAX_SCREEN_HEIGHT, MAX_SCREEN_WIDTH};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScreenCodecError {
    #[error(
        "screen body truncated: {what} needs {needed} bytes at offset {offset}, {available} left"
    )]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("screen body version {0} is not supported (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("screen body has unknown flags {0:#04x}")]
    UnknownFlags(u8),
    #[error(
        "screen size {width}x{height} is outside 1x1 to {MAX_SCREEN_WIDTH}x{MAX_SCREEN_HEIGHT}"
    )]
    BadScreenSize { width: u32, height: u32 },
    #[error("screen body tile {index}: {reason}")]
    BadTile { index: usize, reason: &'static str },
    #[error("screen body has {0} bytes after its last tile")]
    TrailingBytes(usize),
    /// A delta arrived while the decoder has no keyframe to apply it to (it
    /// never had one, or the caller reported lost frames). Not corruption:
    /// ask the sender for a keyframe and carry on.
    #[error("screen delta refused: the decoder needs a keyframe")]
    NeedsKeyframe,
    /// A delta from another keyframe epoch than the decoder's: a keyframe was
    /// lost without the caller noticing a sequence gap.
    #[error("screen delta belongs to keyframe epoch {got}, the decoder is in epoch {expected}")]
    EpochMismatch { expected: u16, got: u16 },
    #[error(
        "screen delta is for a {got_width}x{got_height} screen, the canvas is {width}x{height}"
    )]
    SizeMismatch {
        width: u32,
        height: u32,
        got_width: u32,
        got_height: u32,
    },
}
