//! One accepted socket, from its first frame to its end.
//!
//! A TLS server first completes the TLS handshake (a peer that speaks the raw
//! protocol instead is told so in the raw protocol). Then the first frame
//! decides what the socket is: `hello` makes it a client's
//! control socket, `resume` (with the session token) a new control socket of
//! a session whose connection broke, `attach` (with the session token from
//! `welcome`) one of its media sockets. After that, the accepting thread is the socket's reader and a
//! second thread (see `outbox`) its writer.
//!
//! A peer that breaks the protocol is sent an `error` event saying why, its
//! input is drained briefly so the error is not lost to a TCP reset, and its
//! connection is closed. Nobody else notices. `control` serves control
//! sockets, `media` media sockets (whose frames `relay` forwards).
//!
//! The connection's `Place` (see `admission`) is shared by its reader and
//! writer threads: it is given back when the last of them ends, and marked
//! done with its handshake once the first frame is accepted. A thread that
//! cannot be had refuses this connection (with a reason) and nothing else.

mod control;
mod media;

use crate::admission::Place;
use crate::config::{Encryption, ServerConfig};
use crate::outbox::{WriterQueue, run_writer};
use crate::registry::MeetingRegistry;
use crate::stats::ServerStats;
use common::{Event, Frame, FrameKind, FrameReader, ProtocolError, Request};
use crossbeam_channel::Sender;
use socket2::{SockRef, TcpKeepalive};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use transport::{ServerIdentity, Socket, TLS_HANDSHAKE_BYTE};

/// Unsent bytes a media socket may hold in the kernel (TCP_NOTSENT_LOWAT).
const MEDIA_UNSENT_LIMIT: u32 = 256 * 1024;

/// What every connection thread shares.
#[derive(Clone)]
pub struct ConnectionContext {
    pub registry: MeetingRegistry,
    pub config: Arc<ServerConfig>,
    pub stats: Arc<ServerStats>,
    /// Held by every writer thread: the server waits for all of them at shutdown.
    pub writers_alive: Sender<()>,
}

/// The socket as its frame reader sees it. Until the handshake is done, reads
/// share one deadline for the whole first frame: a peer that trickles a byte
/// every few seconds is cut off when the deadline passes, not kept forever.
pub struct SocketReader {
    stream: Socket,
    deadline: Option<Instant>,
}

impl SocketReader {
    fn new(stream: Socket, deadline: Instant) -> SocketReader {
        SocketReader {
            stream,
            deadline: Some(deadline),
        }
    }

    /// The handshake is done: reads wait as long as the peer is quiet.
    fn handshake_done(&mut self) {
        self.deadline = None;
        let _ = self.stream.tcp().set_read_timeout(None);
    }

    fn stream(&self) -> &Socket {
        &self.stream
    }
}

impl Read for SocketReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            self.stream.tcp().set_read_timeout(Some(left))?;
        }
        (&self.stream).read(buf)
    }
}

/// Counts a connection as open for as long as it lives.
struct OpenConnection(Arc<ServerStats>);

impl OpenConnection {
    fn new(stats: &Arc<ServerStats>) -> OpenConnection {
        stats.connection_opened();
        OpenConnection(stats.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

/// What a connection is told when the server has no thread for it.
const NO_THREAD: &str = "the server cannot start another thread now; try again later";

/// Serves one accepted connection until it ends.
pub fn serve(tcp: TcpStream, ctx: ConnectionContext, place: Arc<Place>) {
    let _open = OpenConnection::new(&ctx.stats);
    let peer = tcp
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "unknown peer".into());
    if let Err(err) = tune_socket(&tcp, &ctx.config) {
        tracing::warn!(%peer, "could not set socket options: {err}");
    }
    let handshake = ctx.config.handshake_timeout;
    // One deadline for the TLS handshake and the first frame together.
    let deadline = Instant::now() + handshake;
    let stream = match &ctx.config.encryption {
        Encryption::Tls(identity) => match secure(tcp, identity, deadline) {
            Ok(stream) => stream,
            Err(Refusal::Quietly(err)) => {
                return tracing::debug!(%peer, "no TLS handshake: {err}");
            }
            Err(Refusal::Plainly(stream)) => {
                tracing::warn!(%peer, "refused a connection without TLS");
                let Ok(read_half) = stream.try_clone() else {
                    return;
                };
                let reader = FrameReader::new(
                    SocketReader::new(read_half, deadline),
                    &[FrameKind::Control],
                );
                return refuse(&stream, reader, NEEDS_TLS);
            }
        },
        Encryption::Plain => Socket::plain(tcp),
    };
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = FrameReader::new(
        SocketReader::new(read_half, deadline),
        &[FrameKind::Control],
    );
    let request = match reader.read_frame().and_then(|frame| match frame {
        Some(frame) => frame.parse_control::<Request>().map(Some),
        None => Ok(None),
    }) {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(err) => {
            tracing::warn!(%peer, "bad handshake: {err}");
            return refuse(&stream, reader, &handshake_error(&err, handshake));
        }
    };
    match request {
        Request::Hello {
            protocol,
            name,
            returning,
        } => {
            let hello = control::Hello {
                protocol,
                name: &name,
                returning: returning.as_ref(),
            };
            let Some(session) = control::hello(&stream, reader, hello, &peer, &ctx, &place) else {
                return;
            };
            control::control_session(stream, session, &peer, ctx)
        }
        Request::Resume {
            id,
            token,
            events_seen,
            requests_sent,
        } => {
            let Some(session) = control::resume(
                &stream,
                reader,
                (id, &token, events_seen),
                &peer,
                &ctx,
                &place,
            ) else {
                return;
            };
            tracing::info!(client = %id, %peer, events_seen, requests_sent, "resumed");
            control::control_session(stream, session, &peer, ctx)
        }
        Request::Attach { kind, id, token } => {
            media::media_session(stream, reader, (kind, id, &token), &peer, ctx, &place)
        }
        _ => refuse(
            &stream,
            reader,
            "the first message on a connection must be hello, resume or attach",
        ),
    }
}

const NEEDS_TLS: &str = "this server encrypts every connection (TLS); use a meeting client, or ask its operator for a server started with --no-tls for raw-protocol tools";

/// Why a connection did not become a TLS one.
enum Refusal {
    /// It failed or timed out during the handshake: nothing to tell it.
    Quietly(std::io::Error),
    /// It speaks the raw protocol: told so in the raw protocol.
    Plainly(Socket),
}

/// The TLS handshake of an accepted connection, by `deadline`.
fn secure(tcp: TcpStream, identity: &ServerIdentity, deadline: Instant) -> Result<Socket, Refusal> {
    let left = deadline.saturating_duration_since(Instant::now());
    let mut first = [0u8; 1];
    let peeked = tcp
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .and_then(|()| tcp.peek(&mut first));
    match peeked {
        Ok(0) => Err(Refusal::Quietly(std::io::ErrorKind::UnexpectedEof.into())),
        Ok(_) if first[0] != TLS_HANDSHAKE_BYTE => Err(Refusal::Plainly(Socket::plain(tcp))),
        Ok(_) => identity.accept(tcp, deadline).map_err(Refusal::Quietly),
        Err(err) => Err(Refusal::Quietly(err)),
    }
}

fn handshake_error(err: &ProtocolError, handshake: Duration) -> String {
    match err {
        ProtocolError::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            format!("no hello, resume or attach within {handshake:?}")
        }
        _ => format!("{err}; is this a meeting client?"),
    }
}

fn tune_socket(stream: &TcpStream, config: &ServerConfig) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    // Notice peers that vanish without a FIN (power loss, cable pulled).
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(10))
        .with_interval(Duration::from_secs(5))
        .with_retries(3);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
}

/// Sends an error on a connection that never got a writer thread, then closes it.
fn refuse(stream: &Socket, reader: FrameReader<SocketReader>, message: &str) {
    let frame = Frame::control(&Event::Error {
        message: message.to_string(),
    });
    let _ = stream.tcp().set_write_timeout(Some(Duration::from_secs(1)));
    let _ = (&*stream).write_all(frame.as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
    drain_input(reader);
}

/// Reads and discards what the peer still sends, for a moment: closing a socket
/// with unread input resets the connection, and the peer would lose our error.
fn drain_input(reader: FrameReader<SocketReader>) {
    let stream = reader.get_ref().stream();
    let deadline = Instant::now() + Duration::from_secs(1);
    let _ = stream
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 16 * 1024];
    let mut budget = 4 * 1024 * 1024usize;
    let mut stream = stream;
    while Instant::now() < deadline && budget > 0 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => budget = budget.saturating_sub(n),
        }
    }
}

/// Starts the socket's writer thread, which shares the connection's place;
/// false (and logged) if it could not be had.
fn spawn_writer(
    name: String,
    stream: &Socket,
    queue: WriterQueue,
    ctx: &ConnectionContext,
    place: &Arc<Place>,
) -> bool {
    let stream = match stream.try_clone() {
        Ok(stream) => stream,
        Err(err) => {
            tracing::warn!("no socket for a writer: {err}");
            return false;
        }
    };
    let alive = ctx.writers_alive.clone();
    let stats = ctx.stats.clone();
    let place = place.clone();
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        run_writer(stream, queue, &stats);
        drop(alive);
        drop(place);
    });
    match spawned {
        Ok(_) => true,
        Err(err) => {
            tracing::error!("could not start a writer thread: {err}");
            false
        }
    }
}
