//! What can go wrong between two peers, as a typed error: the server turns each
//! one into an `error` event for the peer that caused it, then closes that
//! connection; the client reports it and exits.

use crate::frame_kind::FrameKind;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("unknown frame type 0x{0:02x}")]
    UnknownKind(u8),
    #[error("{0} frames are not accepted on this connection")]
    UnexpectedKind(FrameKind),
    #[error("{kind} frame of {len} bytes is over the limit of {max} bytes")]
    TooLarge { kind: FrameKind, len: u32, max: u32 },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ProtocolError {
    /// True when the peer broke the protocol (as opposed to the network failing):
    /// such a peer is told why before its connection is closed.
    pub fn is_peer_fault(&self) -> bool {
        !matches!(self, ProtocolError::Io(_) | ProtocolError::Truncated)
    }
}
