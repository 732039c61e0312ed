//! How the server runs: every setting the command line (`main.rs`) fills
//! in, with the defaults an in-process server gets, and how each part of the
//! server reads its own share of them.

use crate::admission::AdmissionLimits;
use crate::cluster::ClusterConfig;
use crate::registry::{DEFAULT_MAX_HELD, DEFAULT_MAX_HELD_PER_ADDRESS, HoldLimits};
use common::{MediaKind, PerKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use transport::ServerIdentity;

/// How the server runs; `main.rs` fills it from the command line.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub max_connections: usize,
    /// Most connections from one IP address (a client uses one per socket kind).
    pub max_per_address: usize,
    /// Most connections in their handshake at once; past it, the oldest
    /// handshake of the address with the most makes way (`admission`).
    pub max_handshaking: usize,
    /// New connections a second, twice that at once (`admission`); 0: no limit.
    pub max_connection_rate: u32,
    /// Events queued for one client before it counts as not reading and is cut off.
    pub control_queue: usize,
    /// Media frames queued per receiver, per kind, before the oldest are dropped.
    pub media_queue: PerKind<usize>,
    /// How long a new connection has for its whole first frame (hello or attach).
    pub handshake_timeout: Duration,
    /// A write that makes no progress for this long ends the connection.
    pub write_timeout: Duration,
    /// How often the traffic figures are logged; `None` never.
    pub stats_interval: Option<Duration>,
    /// TLS with the server's identity, or plain TCP.
    pub encryption: Encryption,
    /// Where to answer `/metrics` and `/healthz` over HTTP; `None` nowhere.
    pub metrics: Option<SocketAddr>,
    /// How long a session whose control connection broke is held for the
    /// client to `resume` it; zero ends it at once.
    pub resume_hold: Duration,
    /// Most sessions held for a resume, in all and from one address.
    pub max_held: usize,
    pub max_held_per_address: usize,
    /// A control connection that has pinged once and is then silent this
    /// long counts as broken.
    pub client_silence_limit: Duration,
    /// Speakers each member hears at once (`speakers`); 0: everyone.
    pub speakers: usize,
    /// The cluster this server joins (`--cluster`); alone without.
    pub cluster: Option<ClusterConfig>,
}

impl ServerConfig {
    pub fn admission(&self) -> AdmissionLimits {
        AdmissionLimits {
            max_connections: self.max_connections,
            max_per_address: self.max_per_address,
            max_handshaking: self.max_handshaking,
            max_connection_rate: self.max_connection_rate,
        }
    }

    pub fn holds(&self) -> HoldLimits {
        HoldLimits {
            hold: self.resume_hold,
            total: self.max_held,
            per_address: self.max_held_per_address,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], common::protocol::DEFAULT_PORT)),
            // 500 members with four sockets each (docs/BENCHMARKS.md, lan500).
            max_connections: 2048,
            max_per_address: 1024,
            max_handshaking: 512,
            max_connection_rate: 500,
            control_queue: 1024,
            media_queue: PerKind::from_fn(default_media_queue),
            handshake_timeout: common::protocol::HANDSHAKE_TIMEOUT,
            write_timeout: Duration::from_secs(30),
            stats_interval: Some(Duration::from_secs(60)),
            // The program's default is TLS (main.rs); plain here keeps
            // in-process tests free of key files.
            encryption: Encryption::Plain,
            metrics: None,
            resume_hold: common::protocol::DEFAULT_RESUME_HOLD,
            max_held: DEFAULT_MAX_HELD,
            max_held_per_address: DEFAULT_MAX_HELD_PER_ADDRESS,
            client_silence_limit: common::protocol::CLIENT_SILENCE_LIMIT,
            speakers: crate::speakers::DEFAULT_SPEAKERS,
            cluster: None,
        }
    }
}

/// How many frames of a kind wait for one receiver before the oldest go
/// (the kind table's `default_queue`, where each length is explained).
pub fn default_media_queue(kind: MediaKind) -> usize {
    kind.spec().default_queue
}

/// Whether the server encrypts its connections.
#[derive(Clone)]
pub enum Encryption {
    /// Every connection is TLS with this identity.
    Tls(Arc<ServerIdentity>),
    /// Plain TCP (`--no-tls`): for debugging and raw-protocol tools.
    Plain,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Encryption::Tls(identity) => write!(f, "Tls({})", identity.fingerprint()),
            Encryption::Plain => f.write_str("Plain"),
        }
    }
}
