//! The cryptography both ends of a connection use: rustls with ring, TLS 1.3 only
//! (each side asks for it when it builds its configuration).

use std::sync::Arc;

/// rustls's ring provider, with AES-128-GCM first: the server seals every
/// frame once per receiver, and AES-128 needs fewer rounds than rustls's
/// default first choice, AES-256 (on this loaded 2-core machine the
/// difference was within the benchmarks' noise).
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
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
