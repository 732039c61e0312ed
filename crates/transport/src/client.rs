//! The client's side: the TLS handshake, and trust by fingerprint.
//!
//! There is no certificate authority on a LAN: the server signs its own
//! certificate, and the client trusts it the way SSH trusts a host, by the
//! fingerprint it remembered the first time (see `known_hosts`) or was given
//! (`--fingerprint`). The handshake's signatures are still checked, so only
//! the holder of the key can present its certificate.

use crate::fingerprint::Fingerprint;
use crate::handshake::complete_handshake;
use crate::socket::Socket;
use common::sync::lock;
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Why a TLS connection was not made.
#[derive(Debug, thiserror::Error)]
pub enum TlsConnectError {
    /// The server presented a key other than the one expected.
    #[error("the server's key is {seen}, not the expected {expected}")]
    WrongKey {
        expected: Fingerprint,
        seen: Fingerprint,
    },
    #[error("{0}")]
    Handshake(std::io::Error),
}

/// Accepts exactly the certificate with the expected fingerprint, or (with
/// none expected) any, and notes which one it saw.
#[derive(Debug)]
struct FingerprintVerifier {
    expected: Option<Fingerprint>,
    seen: Mutex<Option<Fingerprint>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Fingerprint::of_certificate(end_entity);
        *lock(&self.seen) = Some(seen);
        match self.expected {
            Some(expected) if expected != seen => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is offered.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls12NotOffered,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Makes `tcp` a TLS connection to a server whose key has the `expected`
/// fingerprint, or any key if none is expected (first use: the caller
/// decides what to do with the fingerprint returned).
pub fn connect(
    tcp: TcpStream,
    host: &str,
    expected: Option<Fingerprint>,
    deadline: Instant,
) -> Result<(Socket, Fingerprint), TlsConnectError> {
    let provider = crate::crypto::provider();
    let verifier = Arc::new(FingerprintVerifier {
        expected,
        seen: Mutex::new(None),
        algorithms: provider.signature_verification_algorithms,
    });
    let handshake = |err: String| TlsConnectError::Handshake(std::io::Error::other(err));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|err| handshake(err.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    // Names are not checked (the fingerprint is), but rustls wants one.
    let name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("meeting-server").expect("a valid name"));
    let conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|err| handshake(err.to_string()))?;
    let mut conn = rustls::Connection::from(conn);
    let result = complete_handshake(&mut conn, &tcp, deadline);
    let seen = *lock(&verifier.seen);
    match (result, seen, expected) {
        (_, Some(seen), Some(expected)) if seen != expected => {
            Err(TlsConnectError::WrongKey { expected, seen })
        }
        (Ok(()), Some(seen), _) => Ok((Socket::tls(tcp, conn), seen)),
        (Ok(()), None, _) => Err(handshake("the server showed no certificate".into())),
        (Err(err), _, _) => Err(TlsConnectError::Handshake(err)),
    }
}
