//! The meeting system's connections: every socket is TLS unless the server
//! was started with `--no-tls`.
//!
//! - `socket`: `Socket`, one connection shared by a reader and writers, as
//!   plain TCP or TLS;
//! - `server`: the server's key and certificate (made on first start, kept in
//!   its state directory) and the handshake of each accepted connection;
//! - `client`: the client's handshake, trusting a key by its fingerprint;
//! - `known_hosts`: the fingerprints a client remembers, per `host:port`;
//! - `fingerprint`: SHA-256 of a certificate, printed to be read aloud.

pub mod client;
pub mod fingerprint;
mod handshake;
pub mod known_hosts;
pub mod server;
pub mod socket;

pub use client::{TlsConnectError, connect};

use std::sync::Arc;

/// rustls's ring provider, with AES-128-GCM first: the server seals every
/// frame once per receiver, and AES-128 needs fewer rounds than rustls's
/// default first choice, AES-256 (on this loaded 2-core machine the
/// difference was within the benchmarks' noise).
pub(crate) fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::{cipher_suite, default_provider};
    Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS13_AES_256_GCM_SHA384,
            cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        ],
        ..default_provider()
    })
}
pub use fingerprint::Fingerprint;
pub use known_hosts::{Known, KnownHosts};
pub use server::{ServerIdentity, TLS_HANDSHAKE_BYTE};
pub use socket::{Socket, Unsent};
