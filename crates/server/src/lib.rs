//! The meeting server as a library: the binary in `main.rs` is only its command
//! line. `registry` owns the meetings, `outbox` the per-socket send queues,
//! `connection` the handshake and the per-socket read loops, and `server` the
//! accept loop and shutdown.

pub mod connection;
pub mod outbox;
pub mod registry;
pub mod server;

pub use registry::MeetingRegistry;
pub use server::{Server, ServerConfig};
