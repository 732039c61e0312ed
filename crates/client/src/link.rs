//! The sockets to the server and their handshake: a control socket that says
//! `hello` and receives `welcome` (our id and session token), then one socket
//! per media kind that attaches with that token. `connect` does all of it
//! before the main loop starts; afterwards `app` owns the sockets, and a media
//! channel whose socket broke attaches a new one through its `Session`.

use anyhow::{Context, anyhow, bail};
use common::protocol::{HANDSHAKE_TIMEOUT, PROTOCOL_VERSION};
use common::{ClientId, Event, Frame, FrameKind, FrameReader, MediaKind, PerKind, Request};
use std::fmt;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One connected, attached media socket.
pub struct MediaSocket {
    pub stream: TcpStream,
    pub reader: FrameReader<TcpStream>,
}

/// What attaching a media socket takes: the server's address and who we
/// are there (the id and the secret token from `welcome`).
#[derive(Clone)]
pub struct Session {
    server: SocketAddr,
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
/// `attach`, the session no longer exists).
#[derive(Debug)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the server refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

impl Session {
    /// Opens a socket for `kind` and attaches it. A new socket replaces the
    /// one the server had for this kind, if any. A `Refused` error (find it
    /// with `downcast_ref`) means the server will not take it.
    pub fn attach(&self, kind: MediaKind) -> anyhow::Result<MediaSocket> {
        let stream = open(&[self.server])?;
        let mut reader = FrameReader::new(
            stream.try_clone()?,
            &[FrameKind::Control, FrameKind::from(kind)],
        );
        let request = Request::Attach {
            kind,
            id: self.id,
            token: self.token.clone(),
        };
        match handshake(&stream, &mut reader, &request)
            .with_context(|| format!("attaching the {kind} socket"))?
        {
            Event::Attached { kind: attached } if attached == kind => {
                Ok(MediaSocket { stream, reader })
            }
            other => bail!("unexpected answer to attach: {other:?}"),
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
    pub control: TcpStream,
    pub control_reader: FrameReader<TcpStream>,
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
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
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

/// Sends `request` and reads the one event that answers it.
fn handshake(
    stream: &TcpStream,
    reader: &mut FrameReader<TcpStream>,
    request: &Request,
) -> anyhow::Result<Event> {
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    (&*stream)
        .write_all(Frame::control(request).as_bytes())
        .context("could not talk to the server")?;
    let frame = reader
        .read_frame()
        .context("no answer from the server (is it a meeting server?)")?
        .ok_or_else(|| anyhow!("the server closed the connection during the handshake"))?;
    stream.set_read_timeout(None)?;
    match frame.parse_control::<Event>()? {
        Event::Error { message } => Err(Refused(message).into()),
        event => Ok(event),
    }
}

pub fn connect(host: &str, port: u16, name: &str) -> anyhow::Result<ServerLink> {
    let addrs = resolve(host, port)?;
    let control = open(&addrs)?;
    let server = control.peer_addr()?;
    let mut control_reader = FrameReader::new(control.try_clone()?, &[FrameKind::Control]);
    let hello = Request::Hello {
        protocol: PROTOCOL_VERSION,
        name: name.to_string(),
    };
    let Event::Welcome {
        id, name, token, ..
    } = handshake(&control, &mut control_reader, &hello)?
    else {
        bail!("the server answered hello with something other than welcome");
    };
    let session = Session { server, id, token };
    let media = PerKind::try_from_fn(|kind| session.attach(kind))?;
    Ok(ServerLink {
        id,
        name,
        server,
        session,
        control,
        control_reader,
        media,
    })
}
