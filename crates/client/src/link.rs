//! The sockets to the server and their handshake: a control socket that says
//! `hello` and receives `welcome` (our id and session token), then one socket
//! per media kind that attaches with that token. Everything here happens before
//! the main loop starts; afterwards `app` owns the sockets.

use anyhow::{Context, anyhow, bail};
use common::protocol::{HANDSHAKE_TIMEOUT, PROTOCOL_VERSION};
use common::{ClientId, Event, Frame, FrameKind, FrameReader, MediaKind, PerKind, Request};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One connected, attached media socket.
pub struct MediaSocket {
    pub stream: TcpStream,
    pub reader: FrameReader<TcpStream>,
}

/// A session with the server, handshakes done.
pub struct ServerLink {
    pub id: ClientId,
    pub name: String,
    pub server: SocketAddr,
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
        Event::Error { message } => bail!("the server refused: {message}"),
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
    let attach = |kind: MediaKind| -> anyhow::Result<MediaSocket> {
        let stream = open(&[server])?;
        let mut reader = FrameReader::new(
            stream.try_clone()?,
            &[FrameKind::Control, FrameKind::from(kind)],
        );
        let request = Request::Attach {
            kind,
            id,
            token: token.clone(),
        };
        match handshake(&stream, &mut reader, &request)
            .with_context(|| format!("attaching the {kind} socket"))?
        {
            Event::Attached { kind: attached } if attached == kind => {
                Ok(MediaSocket { stream, reader })
            }
            other => bail!("unexpected answer to attach: {other:?}"),
        }
    };
    let media = PerKind::try_from_fn(attach)?;
    Ok(ServerLink {
        id,
        name,
        server,
        control,
        control_reader,
        media,
    })
}
