//! The meeting server as a library: the binary in `main.rs` is only its command
//! line. `registry` owns the meetings, `outbox` the per-socket send queues,
//! `connection` the handshake and the per-socket read loops, `server` the
//! accept loop and shutdown, and `stats` the traffic counters.

pub mod connection;
pub mod outbox;
pub mod registry;
pub mod server;
pub mod stats;

pub use registry::MeetingRegistry;
pub use server::{Server, ServerConfig};
