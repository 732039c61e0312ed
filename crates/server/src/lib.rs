//! The meeting server as a library: the binary in `main.rs` is only its command
//! line, which fills `config`. `rules` owns what may happen in a meeting and
//! who is told, `registry` carries it out on the sockets, `outbox` the
//! per-socket send queues,
//! `admission` who may connect and who makes way when there is no room,
//! `connection` the handshake and the per-socket read loops, `server` the
//! accept loop and shutdown, `stats` the traffic counters, and `metrics` the
//! optional HTTP listener that shows them to Prometheus; `cluster` the
//! servers a server works with (`--cluster`, over NATS).

pub mod admission;
pub mod announce;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod lan;
pub mod layers;
pub mod metrics;
pub mod outbox;
pub mod registry;
pub mod relay;
pub mod rules;
pub mod server;
pub mod speakers;
pub mod stats;

pub use config::ServerConfig;
pub use registry::MeetingRegistry;
pub use server::Server;
