//! The meeting system's wire protocol, shared by the server, the client and the tests.
//!
//! This crate owns bytes and types, never sockets policy or threads: `frame` is the
//! length-prefixed layout and its limits, `frame_kind` the type byte that
//! starts it, `message` the JSON control messages, `handshake` the first exchange on
//! every connection (hello, attach, resume) with its typed answers, `media` the media kinds and
//! their table, `ids` the identifiers people read aloud or keep secret, `lan` how a
//! server is announced on the LAN, and
//! `protocol` the numbers every peer must agree on; `sync::lock` is the one
//! way every program locks shared state. Everything above it works
//! with `Frame`, `Request` and `Event`, not with bytes.
//!
//! The modules use each other one way only, never in a circle: `protocol`
//! uses none; `media` uses `protocol`; `frame_kind` uses both; `error` uses
//! `frame_kind`; `lan` uses `protocol`; `frame` uses all of them; `handshake` uses `frame` and
//! `message`, and nothing uses it.

pub mod audio;
pub mod error;
pub mod frame;
pub mod frame_kind;
pub mod handshake;
pub mod ids;
pub mod lan;
pub mod layers;
pub mod media;
pub mod message;
pub mod protocol;
pub mod sync;
pub mod voice;

pub use audio::{AudioBody, AudioCodec};
pub use error::ProtocolError;
pub use frame::{Frame, FrameKind, FrameReader, MediaHeader};
pub use ids::{ClientId, MeetingId, SessionToken};
pub use layers::{Layer, LayerHeader, LayerSet, MemberView, PixelSize, ReceiverLayer};
pub use media::{MediaKind, PerKind};
pub use message::{
    ClusterReport, Event, InputEvent, MeetingSummary, MemberInfo, MemberRef, Request, Returning,
    ServerAddress, ServerStatsReport, TrafficStats,
};
pub use voice::VoiceLevel;
