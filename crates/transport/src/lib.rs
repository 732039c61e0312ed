//! The meeting system's connections: every socket is TLS unless the server
//! was started with `--no-tls`.
//!
//! - `socket`: `Socket`, one connection shared by a reader and writers, as
//!   plain TCP or TLS;
//! - `server`: the server's key and certificate (made on first start, kept in
//!   its state directory) and the handshake of each accepted connection;
//! - `client`: the client's handshake, trusting a key by its fingerprint;
//! - `known_hosts`: the fingerprints a client remembers, per `host:port`;
//! - `fingerprint`: SHA-256 of a certificate, printed to be read aloud;
//! - `crypto` and `handshake`: what both sides' handshakes share (the cipher
//!   suites, and driving a handshake within a deadline).
//!
//! Modules use each other one way only: `client` and `server` use `socket`,
//! `crypto`, `handshake` and `fingerprint`, none of which uses them back.

pub mod client;
mod crypto;
pub mod fingerprint;
mod handshake;
pub mod known_hosts;
pub mod server;
pub mod socket;

pub use client::{TlsConnectError, connect};
pub use fingerprint::Fingerprint;
pub use known_hosts::{Known, KnownHosts};
pub use server::{ServerIdentity, TLS_HANDSHAKE_BYTE};
pub use socket::{Socket, Unsent};
