//! The server's side: its key and self-signed certificate, made on first
//! start and kept in the state directory, and the TLS handshake of each
//! accepted connection.

use crate::fingerprint::Fingerprint;
use crate::handshake::complete_handshake;
use crate::socket::Socket;
use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{self, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The file in the state directory holding the certificate and its key.
pub const IDENTITY_FILE: &str = "identity.pem";

/// The first byte of every TLS connection (a handshake record): how an
/// accepted socket tells a TLS client from a raw-protocol one.
pub const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// The server's certificate and key, ready to accept connections.
pub struct ServerIdentity {
    config: Arc<rustls::ServerConfig>,
    fingerprint: Fingerprint,
    path: PathBuf,
    created: bool,
}

impl ServerIdentity {
    /// Loads the identity kept in `dir`, or makes one and keeps it there.
    /// Servers starting at once on the same directory agree on one identity:
    /// the file appears whole or not at all.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<ServerIdentity> {
        let path = dir.join(IDENTITY_FILE);
        let mut created = false;
        if !path.exists() {
            create_identity(dir, &path)?;
            created = true;
        }
        let pem = std::fs::read(&path)
            .with_context(|| format!("could not read the server's key from {}", path.display()))?;
        let bad = |what: &str| format!("{} holds no usable {what}", path.display());
        let cert = CertificateDer::pem_slice_iter(&pem)
            .next()
            .with_context(|| bad("certificate"))?
            .with_context(|| bad("certificate"))?;
        let key = PrivateKeyDer::from_pem_slice(&pem).with_context(|| bad("private key"))?;
        let fingerprint = Fingerprint::of_certificate(&cert);
        let provider = crate::crypto::provider();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .context("TLS 1.3 is not available")?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .with_context(|| format!("{}: the key does not fit the certificate", path.display()))?;
        // No session tickets: nobody resumes, and they would be written after
        // the handshake, racing the first frames.
        config.send_tls13_tickets = 0;
        Ok(ServerIdentity {
            config: Arc::new(config),
            fingerprint,
            path,
            created,
        })
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Where the key is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if this start made the key (the first start on this directory).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Completes the TLS handshake of an accepted connection by `deadline`.
    pub fn accept(&self, tcp: TcpStream, deadline: Instant) -> io::Result<Socket> {
        let conn = rustls::ServerConnection::new(self.config.clone())
            .map_err(|err| io::Error::other(format!("TLS: {err}")))?;
        let mut conn = rustls::Connection::from(conn);
        complete_handshake(&mut conn, &tcp, deadline)?;
        Ok(Socket::tls(tcp, conn))
    }
}

/// Makes a key and certificate and writes them to `path` atomically,
/// readable by the owner only.
fn create_identity(dir: &Path, path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("could not create the state directory {}", dir.display()))?;
    let names = vec!["meeting-server".to_string()];
    let made = rcgen::generate_simple_self_signed(names).context("could not make a TLS key")?;
    let pem = format!("{}{}", made.cert.pem(), made.signing_key.serialize_pem());
    // A name of its own per attempt: several starts may race, in one process or many.
    static ATTEMPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let attempt = ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = dir.join(format!(".{IDENTITY_FILE}.{}.{attempt}", std::process::id()));
    let mut file = private_file(&temporary)?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("could not write {}", temporary.display()))?;
    drop(file);
    // A hard link fails if the name exists: of two servers racing, the
    // second keeps the first one's identity.
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => bail!(
            "could not keep the server's key in {}: {err}",
            path.display()
        ),
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("could not create {}", path.display()))
}
