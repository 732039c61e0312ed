//! `--record`'s `meeting.mkv`: the meeting as this member had it, in one
//! Matroska file any player opens (ffmpeg, mpv, VLC), playable while it is
//! written. Its tracks: the mix this member heard (PCM), each member's
//! video and each shared screen (the JPEGs as received, MJPEG), and the
//! chat (subtitles).
//!
//! No muxer crate fits a live, append-only writer on std alone, so this is
//! the small subset of Matroska the recording needs, in three layers:
//! `ebml` builds elements as bytes; `writer` lays out the file (header,
//! tracks rewritten in place as they appear, whole clusters, the finish that
//! makes it seekable); `muxer` decides the tracks and gathers each second's
//! blocks in time order; `recording` is the thread that owns the file and
//! the handles (`MkvFeed`) the client's threads send to.

pub mod ebml;
pub mod muxer;
pub mod recording;
pub mod writer;

pub use recording::{MkvFeed, MkvRecording};
