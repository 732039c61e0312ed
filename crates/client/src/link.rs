//! The sockets to the server and their handshake: a control socket that says
//! `hello` and receives `welcome` (our id and session token), then one socket
//! per media kind that attaches with that token. `connect` does all of it
//! before the main loop starts; afterwards `app` owns the sockets, and a media
//! channel whose socket broke attaches a new one through its `Session`.
//!
//! The exchanges themselves are `common::handshake`'s; this module opens and
//! secures the sockets, bounds each exchange by `HANDSHAKE_TIMEOUT` and says
//! what went wrong in the client's words.
//!
//! Every socket is TLS unless `--no-tls` says otherwise. The control socket
//! decides which key the server has: the one `--fingerprint` pins, else the
//! one remembered in known_hosts, else (first use) whatever it shows, which
//! is then remembered. Media sockets must show that same key.

use anyhow::{Context, anyhow, bail};
use common::handshake::{self, HandshakeError};
use common::protocol::HANDSHAKE_TIMEOUT;
use common::{ClientId, FrameKind, FrameReader, MediaKind, PerKind};
use std::fmt;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use transport::{Fingerprint, Known, KnownHosts, Socket, TlsConnectError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Shorter for a media socket attaching again: its channel tries again
/// soon anyway, and a network that came back should be noticed at once.
const ATTACH_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One connected, attached media socket.
pub struct MediaSocket {
    pub stream: Socket,
    pub reader: FrameReader<Socket>,
}

/// How the client trusts the server's key.
#[derive(Clone, Debug)]
pub enum Security {
    /// TLS, with the key pinned (`--fingerprint`) or checked against the
    /// known hosts (trusted on first use when there is none yet).
    Tls {
        pinned: Option<Fingerprint>,
        known_hosts: Option<PathBuf>,
    },
    /// `--no-tls`: plain TCP, to a server started with `--no-tls`.
    Plain,
}

/// What the client learnt of the server's key while connecting.
#[derive(Clone, Debug)]
pub struct Trust {
    /// None without TLS.
    pub fingerprint: Option<Fingerprint>,
    /// This was the first connection to this server: its key was trusted
    /// as it is, and remembered in this file (None if it could not be).
    pub first_use: Option<Option<PathBuf>>,
}

/// What attaching a media socket takes: the server's address and key, and
/// who we are there (the id and the secret token from `welcome`).
#[derive(Clone)]
pub struct Session {
    server: SocketAddr,
    /// The key every media socket must show; None without TLS.
    fingerprint: Option<Fingerprint>,
    id: ClientId,
    token: String,
}

impl fmt::Debug for Session {
    /// Never the token: it is what lets anyone attach as us.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The server answered with an `error`: asking again will not help (for an
/// `attach`, the session no longer exists). Errors from this module keep it
/// as their root, for `downcast_ref`.
pub use common::handshake::Refused;

impl Session {
    /// Opens a socket for `kind` and attaches it. A new socket replaces the
    /// one the server had for this kind, if any. A `Refused` error (find it
    /// with `downcast_ref`) means the server will not take it.
    pub fn attach(&self, kind: MediaKind) -> anyhow::Result<MediaSocket> {
        let tcp = open_within(&[self.server], ATTACH_CONNECT_TIMEOUT)?;
        let stream = match self.fingerprint {
            Some(expected) => {
                secure(
                    tcp,
                    &self.server.to_string(),
                    Some(expected),
                    KeyOrigin::Session,
                )?
                .0
            }
            None => Socket::plain(tcp),
        };
        let mut reader = FrameReader::new(
            stream.try_clone()?,
            &[FrameKind::Control, FrameKind::from(kind)],
        );
        let attached = within_handshake_timeout(&stream, || {
            handshake::attach(&mut reader, kind, self.id, &self.token)
        });
        match attached.with_context(|| format!("attaching the {kind} socket"))? {
            Ok(()) => Ok(MediaSocket { stream, reader }),
            Err(HandshakeError::Unexpected { answer, .. }) => {
                bail!("unexpected answer to attach: {answer:?}")
            }
            Err(err) => Err(reported(err)).with_context(|| format!("attaching the {kind} socket")),
        }
    }
}

/// A control connection that resumed the session (see `Session::resume`).
pub struct ResumedControl {
    pub control: Socket,
    pub reader: FrameReader<Socket>,
    /// The server had handled this many of our requests.
    pub requests_handled: u64,
    /// Events it no longer had for us: the current state follows instead.
    pub events_lost: u64,
}

/// Why a resume did not work.
#[derive(Debug)]
pub enum ResumeError {
    /// Worth another try: the network or the server did not answer.
    Again(anyhow::Error),
    /// The server refused (the session is gone) or is not running: give up.
    Never(String),
}

impl Session {
    /// Opens a new control connection to the server that holds our session
    /// (TLS pinned to the key it showed at first) and resumes it: `events_seen`
    /// control events received so far, `requests_sent` requests sent. The
    /// events after `events_seen` follow on the returned reader. `connect_for`
    /// bounds the TCP connect.
    pub fn resume(
        &self,
        events_seen: u64,
        requests_sent: u64,
        connect_for: Duration,
    ) -> Result<ResumedControl, ResumeError> {
        let tcp = match TcpStream::connect_timeout(&self.server, connect_for) {
            Ok(tcp) => tcp,
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(ResumeError::Never(format!(
                    "the server at {} is not running any more ({err})",
                    self.server
                )));
            }
            Err(err) => {
                return Err(ResumeError::Again(
                    anyhow!(err).context(format!("connecting to {}", self.server)),
                ));
            }
        };
        let _ = tcp.set_nodelay(true);
        let again = ResumeError::Again;
        let control = match self.fingerprint {
            Some(expected) => {
                let (socket, _) = secure(
                    tcp,
                    &self.server.to_string(),
                    Some(expected),
                    KeyOrigin::Session,
                )
                .map_err(again)?;
                socket
            }
            None => Socket::plain(tcp),
        };
        let mut reader = FrameReader::new(
            control.try_clone().map_err(|e| again(e.into()))?,
            &[FrameKind::Control],
        );
        let resumed = within_handshake_timeout(&control, || {
            handshake::resume(
                &mut reader,
                self.id,
                &self.token,
                events_seen,
                requests_sent,
            )
        });
        match resumed {
            Ok(Ok(resumed)) => Ok(ResumedControl {
                control,
                reader,
                requests_handled: resumed.requests_handled,
                events_lost: resumed.events_lost,
            }),
            Ok(Err(HandshakeError::Unexpected { answer, .. })) => Err(ResumeError::Never(format!(
                "the server answered resume with {answer:?}"
            ))),
            Ok(Err(HandshakeError::Refused(Refused(message)))) => Err(ResumeError::Never(format!(
                "the server refused to resume the session ({}): it no longer holds it",
                crate::clean::clean(&message)
            ))),
            Ok(Err(err)) => Err(again(err.into())),
            Err(err) => Err(again(err)),
        }
    }
}

/// A session with the server, handshakes done.
pub struct ServerLink {
    pub id: ClientId,
    pub name: String,
    pub server: SocketAddr,
    /// For attaching media sockets again.
    pub session: Session,
    pub control: Socket,
    pub control_reader: FrameReader<Socket>,
    pub trust: Trust,
    /// One attached socket per media kind.
    pub media: PerKind<MediaSocket>,
}

/// Finds the server: `host` may carry its own port (`10.0.0.5:7000`, `[::1]:7000`).
fn resolve(host: &str, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    // `127.0.0.1:99999` is an address with a bad port, not a host to look up.
    if let Some((address, port)) = host.rsplit_once(':')
        && address
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok()
    {
        bail!("'{port}' is not a port: ports are 1 to 65535 (for example {address}:6338)");
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("could not find host '{host}'"))?
        .collect();
    if addrs.is_empty() {
        bail!("host '{host}' has no address");
    }
    Ok(addrs)
}

fn open(addrs: &[SocketAddr]) -> anyhow::Result<TcpStream> {
    open_within(addrs, CONNECT_TIMEOUT)
}

fn open_within(addrs: &[SocketAddr], timeout: Duration) -> anyhow::Result<TcpStream> {
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(err) => last_error = Some((addr, err)),
        }
    }
    let (addr, err) = last_error.ok_or_else(|| anyhow!("no address to connect to"))?;
    bail!(
        "could not connect to {addr}: {err}. Is `server` running there? It listens on port {} unless started with --bind",
        common::protocol::DEFAULT_PORT
    )
}

/// Where the key a connection expects came from, for the message if it differs.
enum KeyOrigin {
    Pinned,
    KnownHosts { file: PathBuf, line: usize },
    Session,
}

/// The TLS handshake, checking the server's key against `expected`.
fn secure(
    tcp: TcpStream,
    server: &str,
    expected: Option<Fingerprint>,
    origin: KeyOrigin,
) -> anyhow::Result<(Socket, Fingerprint)> {
    let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    match transport::connect(tcp, host, expected, deadline) {
        Ok(connected) => Ok(connected),
        Err(TlsConnectError::WrongKey { expected, seen }) => {
            Err(anyhow!(wrong_key(server, expected, seen, &origin)))
        }
        Err(TlsConnectError::Handshake(err)) => Err(anyhow!(
            "could not set up encryption with {server}: {err}. If the server was started with \
             --no-tls, connect with --no-tls; if it is full, it closes new connections at once"
        )),
    }
}

fn wrong_key(server: &str, expected: Fingerprint, seen: Fingerprint, origin: &KeyOrigin) -> String {
    match origin {
        KeyOrigin::Pinned => format!(
            "refusing {server}: its key is {seen}, but --fingerprint says {expected}. \
             Someone may be between you and the server; check the fingerprint it printed when it started"
        ),
        KeyOrigin::KnownHosts { file, line } => format!(
            "refusing {server}: ITS KEY HAS CHANGED. Remembered: {expected}; now: {seen}. \
             Someone may be between you and the server. If its operator changed the key on purpose \
             (a new state directory), remove line {line} of {} and connect again",
            file.display()
        ),
        KeyOrigin::Session => format!(
            "refusing a media connection to {server}: its key changed during the session \
             (was {expected}, now {seen})"
        ),
    }
}

/// Runs one step of the handshake (`common::handshake`) on `stream`, waiting
/// at most `HANDSHAKE_TIMEOUT` for the answer; once answered, reads wait as
/// long as they need again. The outer error is the socket's.
fn within_handshake_timeout<T>(
    stream: &Socket,
    step: impl FnOnce() -> Result<T, HandshakeError>,
) -> anyhow::Result<Result<T, HandshakeError>> {
    stream.tcp().set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let answer = step();
    if answer.is_ok() {
        stream.tcp().set_read_timeout(None)?;
    }
    Ok(answer)
}

/// A failed handshake step as this module reports it: the server's refusal
/// stays a `Refused` at the root (callers look for it), anything else is
/// the error with its causes.
fn reported(err: HandshakeError) -> anyhow::Error {
    match err {
        HandshakeError::Refused(refused) => anyhow!(refused),
        other => anyhow!(other),
    }
}

/// Connects, secures and says hello; the key decides whom we talk to.
pub fn connect(
    host: &str,
    port: u16,
    name: &str,
    security: &Security,
) -> anyhow::Result<ServerLink> {
    let addrs = resolve(host, port)?;
    let tcp = open(&addrs)?;
    let server = tcp.peer_addr()?;
    let (control, trust) = match security {
        Security::Plain => (
            Socket::plain(tcp),
            Trust {
                fingerprint: None,
                first_use: None,
            },
        ),
        Security::Tls {
            pinned,
            known_hosts,
        } => secure_control(tcp, &server.to_string(), *pinned, known_hosts.clone())?,
    };
    let mut control_reader = FrameReader::new(control.try_clone()?, &[FrameKind::Control]);
    let welcome =
        match within_handshake_timeout(&control, || handshake::hello(&mut control_reader, name))? {
            Ok(welcome) => welcome,
            Err(HandshakeError::Unexpected { .. }) => {
                bail!("the server answered hello with something other than welcome")
            }
            Err(err) => return Err(reported(err)),
        };
    let handshake::Welcome { id, name, token } = welcome;
    let session = Session {
        server,
        fingerprint: trust.fingerprint,
        id,
        token,
    };
    let media = PerKind::try_from_fn(|kind| session.attach(kind))?;
    Ok(ServerLink {
        id,
        name,
        server,
        session,
        control,
        control_reader,
        trust,
        media,
    })
}

/// The control socket's handshake: pinned key, else the remembered one,
/// else trust on first use and remember it.
fn secure_control(
    tcp: TcpStream,
    server: &str,
    pinned: Option<Fingerprint>,
    known_hosts: Option<PathBuf>,
) -> anyhow::Result<(Socket, Trust)> {
    if let Some(pinned) = pinned {
        let (socket, seen) = secure(tcp, server, Some(pinned), KeyOrigin::Pinned)?;
        let trust = Trust {
            fingerprint: Some(seen),
            first_use: None,
        };
        return Ok((socket, trust));
    }
    let hosts = known_hosts.map(KnownHosts::at);
    let known = match &hosts {
        Some(hosts) => hosts.lookup(server)?,
        None => Known::New,
    };
    match (known, hosts) {
        (Known::Key { fingerprint, line }, Some(hosts)) => {
            let origin = KeyOrigin::KnownHosts {
                file: hosts.path().to_path_buf(),
                line,
            };
            let (socket, seen) = secure(tcp, server, Some(fingerprint), origin)?;
            let trust = Trust {
                fingerprint: Some(seen),
                first_use: None,
            };
            Ok((socket, trust))
        }
        (_, hosts) => {
            let (socket, seen) = secure(tcp, server, None, KeyOrigin::Pinned)?;
            let remembered = hosts.and_then(|hosts| match hosts.remember(server, seen) {
                Ok(()) => Some(hosts.path().to_path_buf()),
                Err(err) => {
                    tracing::warn!("{err:#}: the server's key is trusted for this session only");
                    None
                }
            });
            let trust = Trust {
                fingerprint: Some(seen),
                first_use: Some(remembered),
            };
            Ok((socket, trust))
        }
    }
}
