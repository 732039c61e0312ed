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

use crate::servers::{self, Addresses, ServerName};
use anyhow::{Context, anyhow, bail};
use common::handshake::{self, HandshakeError};
use common::protocol::HANDSHAKE_TIMEOUT;
use common::{
    ClientId, Event, FrameKind, FrameReader, MediaKind, MeetingId, PerKind, Request, Returning,
};
use std::fmt;
use std::net::{SocketAddr, TcpStream};
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
        /// The key the server announced on the LAN (`client` without an
        /// address): not trust, but a server showing another key is refused.
        announced: Option<Fingerprint>,
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
    /// The server that holds this session.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

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
    /// The server refused: the session is gone there. Give up.
    Never(String),
    /// Nothing listens there (connection refused): the server's process is
    /// gone, so no resume will work. Another server of its cluster may
    /// take its meetings over (`app::failover`); without one, give up.
    Gone(String),
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
                return Err(ResumeError::Gone(format!(
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
    Err(anyhow!(Unreachable { addr: *addr, err }))
}

/// No TCP connection to `addr`: the server is not running there, or the
/// network does not reach it. A type of its own so that `connect` adds the
/// hint for it once, however many addresses said it.
#[derive(Debug)]
struct Unreachable {
    addr: SocketAddr,
    err: std::io::Error,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not connect to {}: {}", self.addr, self.err)
    }
}

impl std::error::Error for Unreachable {}

/// Where the key a connection expects came from, for the message if it differs.
enum KeyOrigin {
    Pinned,
    KnownHosts {
        file: PathBuf,
        line: usize,
    },
    Session,
    /// Another server of the cluster named the key (`connect_vouched`).
    Vouched,
    /// The server announced the key on the LAN (`discover`).
    Announced,
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
        KeyOrigin::Vouched => format!(
            "refusing {server}: its key is {seen}, but the server you were on vouched for \
             {expected}. Someone may be between you and it"
        ),
        KeyOrigin::Announced => announced_differs(server, expected, seen),
        KeyOrigin::Session => format!(
            "refusing a media connection to {server}: its key changed during the session \
             (was {expected}, now {seen})"
        ),
    }
}

fn announced_differs(server: &str, announced: Fingerprint, seen: Fingerprint) -> String {
    format!(
        "refusing {server}: it announced the key {announced} on the LAN, but shows {seen}. \
         Someone on the LAN may be pretending to be that server; ask its operator for the \
         fingerprint it printed when it started"
    )
}

/// A server whose key is trusted (pinned or remembered) but differs from
/// the one announced for it: one of them is not what it claims.
fn refuse_unless_announced(
    server: &str,
    announced: Option<Fingerprint>,
    seen: Fingerprint,
) -> anyhow::Result<()> {
    match announced {
        Some(announced) if announced != seen => bail!(announced_differs(server, announced, seen)),
        _ => Ok(()),
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

/// Connects to the first of `servers` that completes the handshake, trying
/// every address of every name once, in a random order (`servers`); if none
/// does, the error says what each one said.
pub fn connect(
    servers: &[ServerName],
    name: &str,
    security: &Security,
) -> anyhow::Result<ServerLink> {
    let Addresses {
        found,
        mut failures,
    } = Addresses::resolve(servers);
    let mut unreachable = false;
    let mut only_error = None;
    for addr in found {
        match connect_to(addr, name, security) {
            Ok(link) => return Ok(link),
            Err(err) => {
                tracing::info!("{addr}: {err:#}");
                unreachable |= err.downcast_ref::<Unreachable>().is_some();
                failures.push(format!("{err:#}"));
                only_error = Some(err);
            }
        }
    }
    let hint = if unreachable {
        format!(
            ". Is `server` running there? It listens on port {} unless started with --bind",
            common::protocol::DEFAULT_PORT
        )
    } else {
        String::new()
    };
    match (failures.len(), only_error) {
        // One address, one answer: the error as it was, causes and all (a
        // refusal stays a `Refused` at its root).
        (1, Some(err)) if !unreachable => Err(err),
        (1, _) => bail!("{}{hint}", failures[0]),
        _ => bail!("no server answered:\n  {}{hint}", failures.join("\n  ")),
    }
}

/// Connects to `server` and says hello, the key checked as `security` says.
fn connect_to(server: SocketAddr, name: &str, security: &Security) -> anyhow::Result<ServerLink> {
    let (control, trust) = first_control(server, security)?;
    say_hello(server, control, trust, name, None)
}

/// A control socket to `server`, its key checked as for a first connection:
/// pinned, remembered, or trusted on first use.
fn first_control(server: SocketAddr, security: &Security) -> anyhow::Result<(Socket, Trust)> {
    let tcp = open_within(&[server], CONNECT_TIMEOUT)?;
    Ok(match security {
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
            announced,
        } => secure_control(
            tcp,
            &server.to_string(),
            *pinned,
            known_hosts.clone(),
            *announced,
        )?,
    })
}

/// A server of the cluster the server we are on says holds a meeting
/// (`meeting_elsewhere`): where it is, and the key it vouches for.
#[derive(Clone, Debug)]
pub struct Vouched {
    /// `host:port`, as the server wrote it.
    pub server: String,
    /// None when the server has no TLS.
    pub fingerprint: Option<String>,
}

/// Connects to a server another one vouched for and says hello as `name`.
///
/// The vouching server spoke over a channel whose key we checked, so its
/// word replaces the first-use trust: the key it names is expected, and
/// remembered in known_hosts if none was. It never overrides what we
/// already trust: a different key in known_hosts, or `--fingerprint`
/// pinning another one, refuses the move before anything is sent.
pub fn connect_vouched(
    vouched: &Vouched,
    name: &str,
    returning: Option<Returning>,
    security: &Security,
) -> anyhow::Result<ServerLink> {
    let target = servers::parse_one(&vouched.server, common::protocol::DEFAULT_PORT)
        .map_err(|err| anyhow!("the server named where to go as {err}"))?;
    let Addresses {
        found,
        mut failures,
    } = Addresses::resolve(std::slice::from_ref(&target));
    for addr in found {
        let attempt = vouched_control(addr, vouched, security)
            .and_then(|(control, trust)| say_hello(addr, control, trust, name, returning.clone()));
        match attempt {
            Ok(link) => return Ok(link),
            Err(err) => failures.push(format!("{err:#}")),
        }
    }
    bail!("{}", failures.join("; "))
}

/// A control socket to `addr`, an address of the server `vouched` names,
/// its key checked as `connect_vouched` says.
fn vouched_control(
    addr: SocketAddr,
    vouched: &Vouched,
    security: &Security,
) -> anyhow::Result<(Socket, Trust)> {
    match security {
        Security::Plain => {
            let tcp = open_within(&[addr], CONNECT_TIMEOUT)?;
            let trust = Trust {
                fingerprint: None,
                first_use: None,
            };
            Ok((Socket::plain(tcp), trust))
        }
        Security::Tls {
            pinned,
            known_hosts,
            ..
        } => vouched_tls(addr, vouched, *pinned, known_hosts.as_deref()),
    }
}

/// The TLS side of `vouched_control`.
fn vouched_tls(
    addr: SocketAddr,
    vouched: &Vouched,
    pinned: Option<Fingerprint>,
    known_hosts: Option<&std::path::Path>,
) -> anyhow::Result<(Socket, Trust)> {
    let server = addr.to_string();
    let Some(text) = &vouched.fingerprint else {
        bail!(
            "refusing to move to {server}: the server named no key for it, and this client \
             only moves to a server whose key it is told (the server you are on may run without TLS)"
        );
    };
    let vouched_key: Fingerprint = text.parse().map_err(|err| {
        anyhow!("refusing to move to {server}: the key the server named is no fingerprint ({err})")
    })?;
    if let Some(pinned) = pinned
        && pinned != vouched_key
    {
        bail!(
            "refusing to move to {server}: the server you are on vouches for its key \
             {vouched_key}, but --fingerprint pins {pinned}"
        );
    }
    let hosts = known_hosts.map(KnownHosts::at);
    let known = match &hosts {
        Some(hosts) => hosts.lookup(&server)?,
        None => Known::New,
    };
    if let (Known::Key { fingerprint, line }, Some(hosts)) = (&known, &hosts)
        && *fingerprint != vouched_key
    {
        bail!(
            "refusing to move to {server}: the server you are on vouches for its key \
             {vouched_key}, but line {line} of {} remembers {fingerprint} for it. One of \
             them is not what it claims; if its operator changed the key on purpose, remove \
             that line and join again",
            hosts.path().display()
        );
    }
    let tcp = open_within(&[addr], CONNECT_TIMEOUT)?;
    let (control, seen) = secure(tcp, &server, Some(vouched_key), KeyOrigin::Vouched)?;
    if let (Known::New, Some(hosts)) = (&known, &hosts)
        && let Err(err) = hosts.remember(&server, seen)
    {
        tracing::warn!("{err:#}: the key of {server} is trusted for this session only");
    }
    let trust = Trust {
        fingerprint: Some(seen),
        first_use: None,
    };
    Ok((control, trust))
}

/// Says hello on a secured control socket and attaches every media socket.
fn say_hello(
    server: SocketAddr,
    control: Socket,
    trust: Trust,
    name: &str,
    returning: Option<Returning>,
) -> anyhow::Result<ServerLink> {
    hello(server, control, trust, name, returning)?.attach_media()
}

/// A control connection that said hello, its media sockets not attached
/// yet: a failover asks for the meeting first (`Greeted::rejoin`) and
/// attaches only where it is taken back.
pub struct Greeted {
    pub id: ClientId,
    pub name: String,
    pub server: SocketAddr,
    pub session: Session,
    pub control: Socket,
    pub control_reader: FrameReader<Socket>,
    pub trust: Trust,
}

/// Which key a failover expects of a server it connects to.
#[derive(Clone, Debug)]
pub enum Introduced {
    /// Named on the command line: trusted as for a first connection
    /// (`--fingerprint`, known_hosts, or first use).
    Named,
    /// Named by a server we trusted (`meeting_elsewhere`, `meeting_moved`),
    /// with the key it vouched for (`connect_vouched`'s rules).
    Vouched(Option<String>),
}

/// Connects to `addr` and says hello as `name`, media not attached, the
/// key checked as `introduced` says.
pub fn greet(
    addr: SocketAddr,
    introduced: &Introduced,
    name: &str,
    returning: Option<Returning>,
    security: &Security,
) -> anyhow::Result<Greeted> {
    let (control, trust) = match introduced {
        Introduced::Named => first_control(addr, security)?,
        Introduced::Vouched(fingerprint) => {
            let vouched = Vouched {
                server: addr.to_string(),
                fingerprint: fingerprint.clone(),
            };
            vouched_control(addr, &vouched, security)?
        }
    };
    hello(addr, control, trust, name, returning)
}

/// How a server answered a `rejoin` (`Greeted::rejoin`).
#[derive(Debug)]
pub enum RejoinAnswer {
    /// In the meeting (`joined`) or its lobby (`in_lobby`): the event.
    Back(Event),
    /// Another server holds the meeting: where, and its key.
    Elsewhere(Vouched),
    /// `error`: the server's words.
    Refused(String),
}

impl Greeted {
    /// Ends this session at once, with a goodbye, so the server does not
    /// keep it for a resume that will never come.
    pub fn goodbye(self) {
        self.control.close_notify();
        let _ = self.control.shutdown(std::net::Shutdown::Both);
    }

    /// Sends `rejoin` as the first request and reads its answer, within
    /// `HANDSHAKE_TIMEOUT`. Anything else the server says first is
    /// skipped: before we are in a meeting, nothing is ours to miss.
    pub fn rejoin(
        &mut self,
        meeting: &MeetingId,
        ticket: &str,
        chat_seen: Option<u64>,
    ) -> anyhow::Result<RejoinAnswer> {
        let request = Request::Rejoin {
            meeting: meeting.to_string(),
            ticket: ticket.to_string(),
            chat_seen,
        };
        common::Frame::control(&request)
            .write_to(&mut &self.control)
            .with_context(|| format!("sending rejoin to {}", self.server))?;
        let reader = &mut self.control_reader;
        let answer = within_handshake_timeout(&self.control, || {
            loop {
                let frame = reader
                    .read_frame()
                    .map_err(HandshakeError::Read)?
                    .ok_or(HandshakeError::Closed)?;
                let event = frame
                    .parse_control::<Event>()
                    .map_err(HandshakeError::Malformed)?;
                match event {
                    Event::Joined { .. } | Event::InLobby { .. } => {
                        return Ok(RejoinAnswer::Back(event));
                    }
                    Event::MeetingElsewhere {
                        server,
                        fingerprint,
                        ..
                    } => {
                        return Ok(RejoinAnswer::Elsewhere(Vouched {
                            server,
                            fingerprint,
                        }));
                    }
                    Event::Error { message } => {
                        return Ok(RejoinAnswer::Refused(crate::clean::clean(&message)));
                    }
                    _ => {}
                }
            }
        });
        answer
            .and_then(|answer| answer.map_err(anyhow::Error::from))
            .with_context(|| format!("waiting for {} to answer rejoin", self.server))
    }

    /// Attaches every media socket: the session there is complete.
    pub fn attach_media(self) -> anyhow::Result<ServerLink> {
        let Greeted {
            id,
            name,
            server,
            session,
            control,
            control_reader,
            trust,
        } = self;
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
}

/// Says hello on a secured control socket.
fn hello(
    server: SocketAddr,
    control: Socket,
    trust: Trust,
    name: &str,
    returning: Option<Returning>,
) -> anyhow::Result<Greeted> {
    let mut control_reader = FrameReader::new(control.try_clone()?, &[FrameKind::Control]);
    let welcome = match within_handshake_timeout(&control, || {
        handshake::hello_returning(&mut control_reader, name, returning)
    })? {
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
    Ok(Greeted {
        id,
        name,
        server,
        session,
        control,
        control_reader,
        trust,
    })
}

/// The control socket's handshake: pinned key, else the remembered one,
/// else trust on first use and remember it.
fn secure_control(
    tcp: TcpStream,
    server: &str,
    pinned: Option<Fingerprint>,
    known_hosts: Option<PathBuf>,
    announced: Option<Fingerprint>,
) -> anyhow::Result<(Socket, Trust)> {
    if let Some(pinned) = pinned {
        let (socket, seen) = secure(tcp, server, Some(pinned), KeyOrigin::Pinned)?;
        refuse_unless_announced(server, announced, seen)?;
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
            refuse_unless_announced(server, announced, seen)?;
            let trust = Trust {
                fingerprint: Some(seen),
                first_use: None,
            };
            Ok((socket, trust))
        }
        (_, hosts) => {
            // First use: a key other than the announced one is refused
            // before it could be remembered.
            let (socket, seen) = secure(tcp, server, announced, KeyOrigin::Announced)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Port 1 on loopback: nothing listens there (only root could), so a
    /// connection is refused at once.
    const NOBODY: &str = "127.0.0.1:1";

    /// Why connecting failed (`ServerLink` has no `Debug` for `unwrap_err`).
    fn failure(result: anyhow::Result<ServerLink>) -> String {
        match result {
            Ok(link) => panic!("connected to {}", link.server),
            Err(err) => format!("{err:#}"),
        }
    }

    fn tls(pinned: Option<Fingerprint>, known_hosts: Option<PathBuf>) -> Security {
        Security::Tls {
            pinned,
            known_hosts,
            announced: None,
        }
    }

    #[test]
    fn when_no_server_answers_the_error_says_what_each_one_said() {
        let servers = servers::parse_list("127.0.0.1:1,127.0.0.1:2", 6338).expect("a list");
        let text = failure(connect(&servers, "ana", &Security::Plain));
        assert!(text.contains("127.0.0.1:1"), "{text}");
        assert!(text.contains("127.0.0.1:2"), "{text}");
        assert_eq!(
            text.matches("Is `server` running there").count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn a_vouched_key_never_overrides_one_already_trusted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let known = dir.path().join("known_hosts");
        let remembered = Fingerprint::of_certificate(b"remembered");
        let vouched_key = Fingerprint::of_certificate(b"vouched");
        KnownHosts::at(&known)
            .remember(NOBODY, remembered)
            .expect("writes");
        let vouched = Vouched {
            server: NOBODY.to_string(),
            fingerprint: Some(vouched_key.to_string()),
        };
        // Refused before connecting: nothing listens there, and the error
        // is the refusal, not the connection's.
        let text = |security: &Security| failure(connect_vouched(&vouched, "ana", None, security));
        let by_known_hosts = text(&tls(None, Some(known.clone())));
        assert!(
            by_known_hosts.contains("refusing to move"),
            "{by_known_hosts}"
        );
        assert!(
            by_known_hosts.contains(&remembered.to_string()),
            "{by_known_hosts}"
        );
        let by_pin = text(&tls(Some(remembered), None));
        assert!(by_pin.contains("--fingerprint pins"), "{by_pin}");
        let keyless = Vouched {
            fingerprint: None,
            ..vouched.clone()
        };
        let without_key = failure(connect_vouched(&keyless, "ana", None, &tls(None, None)));
        assert!(without_key.contains("named no key"), "{without_key}");
        // The same key as remembered is no reason to refuse: it tries to connect.
        let same = Vouched {
            fingerprint: Some(remembered.to_string()),
            ..vouched
        };
        let unreachable = failure(connect_vouched(&same, "ana", None, &tls(None, Some(known))));
        assert!(unreachable.contains("could not connect"), "{unreachable}");
    }
}
