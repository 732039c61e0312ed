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
//! connection is closed. Nobody else notices.
//!
//! The connection's `Place` (see `admission`) is shared by its reader and
//! writer threads: it is given back when the last of them ends, and marked
//! done with its handshake once the first frame is accepted. A thread that
//! cannot be had refuses this connection (with a reason) and nothing else.

use crate::admission::Place;
use crate::config::{Encryption, ServerConfig};
use crate::layers::SeenLayers;
use crate::outbox::{Outbox, WriterQueue, run_writer};
use crate::registry::MeetingRegistry;
use crate::stats::{ServerStats, TrafficCounters};
use bytes::Bytes;
use common::layers::split_video_body;
use common::protocol::PROTOCOL_VERSION;
use common::{
    ClientId, Event, Frame, FrameKind, FrameReader, Layer, LayerSet, MediaKind, PixelSize,
    ProtocolError, Request, SessionToken,
};
use crossbeam_channel::Sender;
use socket2::{SockRef, TcpKeepalive};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use transport::{ServerIdentity, Socket, TLS_HANDSHAKE_BYTE};

/// Unsent bytes a media socket may hold in the kernel (TCP_NOTSENT_LOWAT).
const MEDIA_UNSENT_LIMIT: u32 = 256 * 1024;
/// How often a video reader checks which layers its sender must encode
/// (receivers held down or let up change it between `view`s).
const LAYER_CHECK_EVERY: Duration = Duration::from_millis(250);

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
        Request::Hello { protocol, name } => {
            let Some(session) = hello(&stream, reader, protocol, &name, &peer, &ctx, &place) else {
                return;
            };
            control_session(stream, session, &peer, ctx)
        }
        Request::Resume {
            id,
            token,
            events_seen,
            requests_sent,
        } => {
            let Some(session) = resume(
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
            control_session(stream, session, &peer, ctx)
        }
        Request::Attach { kind, id, token } => {
            media_session(stream, reader, (kind, id, &token), &peer, ctx, &place)
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

/// A control connection of a session, once its handshake is done.
struct ControlSession {
    id: ClientId,
    /// Which of the session's control connections this is (see `resume`).
    epoch: u64,
    reader: FrameReader<SocketReader>,
    traffic: Arc<TrafficCounters>,
}

/// `hello`: a new session; None if it was refused (and told so).
fn hello(
    stream: &Socket,
    reader: FrameReader<SocketReader>,
    protocol: u32,
    name: &str,
    peer: &str,
    ctx: &ConnectionContext,
    place: &Arc<Place>,
) -> Option<ControlSession> {
    if protocol != PROTOCOL_VERSION {
        let message = format!(
            "this server speaks protocol {PROTOCOL_VERSION} and the client {protocol}: use a client and server of the same release"
        );
        refuse(stream, reader, &message);
        return None;
    }
    let traffic = ctx.stats.traffic(FrameKind::Control).clone();
    let (outbox, queue) = Outbox::new(ctx.config.control_queue, traffic.clone());
    let id = match ctx
        .registry
        .register(name, outbox, stream.tcp().try_clone().ok())
    {
        Ok(id) => id,
        Err(message) => {
            refuse(stream, reader, &message);
            return None;
        }
    };
    if !spawn_writer(format!("control-out-{id}"), stream, queue, ctx, place) {
        ctx.registry.disconnect(id);
        refuse(stream, reader, NO_THREAD);
        return None;
    }
    place.handshake_done();
    tracing::info!(client = %id, %peer, name, "connected");
    Some(ControlSession {
        id,
        epoch: 0,
        reader,
        traffic,
    })
}

/// `resume`: a new control connection of session `id`; None if it was
/// refused (and told so, in the same words as a refused `attach`).
fn resume(
    stream: &Socket,
    reader: FrameReader<SocketReader>,
    (id, token, events_seen): (ClientId, &str, u64),
    peer: &str,
    ctx: &ConnectionContext,
    place: &Arc<Place>,
) -> Option<ControlSession> {
    let Some(token) = SessionToken::from_hex(token) else {
        refuse(stream, reader, "invalid session token");
        return None;
    };
    let traffic = ctx.stats.traffic(FrameKind::Control).clone();
    let (outbox, queue) = Outbox::new(ctx.config.control_queue, traffic.clone());
    let closer = stream.tcp().try_clone().ok();
    let epoch = match ctx.registry.resume(id, &token, events_seen, outbox, closer) {
        Ok(epoch) => epoch,
        Err(message) => {
            tracing::warn!(%peer, "refused resume: {message}");
            refuse(stream, reader, &message);
            return None;
        }
    };
    if !spawn_writer(format!("control-out-{id}"), stream, queue, ctx, place) {
        // Held again, for the client to try once more.
        ctx.registry.control_broke(id, epoch);
        refuse(stream, reader, NO_THREAD);
        return None;
    }
    place.handshake_done();
    Some(ControlSession {
        id,
        epoch,
        reader,
        traffic,
    })
}

/// How a control connection ended.
enum ControlEnd {
    /// The client closed it (quit, or its process ended): the session ends.
    Closed,
    /// It broke or fell silent: the session is held for a resume.
    Broke,
    /// The client broke the protocol: told so, and the session ends.
    Refused,
}

/// Reads a session's requests until its control connection ends, then ends
/// or holds the session.
fn control_session(stream: Socket, session: ControlSession, peer: &str, ctx: ConnectionContext) {
    let ControlSession {
        id,
        epoch,
        mut reader,
        traffic,
    } = session;
    reader.get_mut().handshake_done();
    let silence_limit = ctx.config.client_silence_limit;
    let mut keeps_alive = false;
    let ending = loop {
        let request = reader.read_frame().and_then(|frame| {
            frame
                .map(|f| {
                    traffic.received(f.as_bytes().len());
                    f.parse_control::<Request>()
                })
                .transpose()
        });
        match request {
            Ok(Some(request)) => {
                // A client that pings keeps talking: from now on, silence
                // means its connection is gone.
                if matches!(request, Request::Ping) && !keeps_alive {
                    keeps_alive = true;
                    let _ = stream.tcp().set_read_timeout(Some(silence_limit));
                }
                let stats = &ctx.stats;
                ctx.registry.handle_from(id, epoch, request, |counts| {
                    Event::ServerStats(Box::new(stats.report(counts.clients, counts.meetings)))
                });
            }
            Ok(None) => break ControlEnd::Closed,
            Err(err) if err.is_peer_fault() => {
                tracing::warn!(client = %id, %peer, "closing control connection: {err}");
                ctx.registry
                    .reject(id, &format!("{err}; closing the connection"));
                drain_input(reader);
                break ControlEnd::Refused;
            }
            // A cut without a goodbye (a process that ended: its kernel
            // closes the connection) is an end, not a network blip.
            Err(ProtocolError::Io(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
                break ControlEnd::Closed;
            }
            Err(err) => {
                let silent = matches!(&err, ProtocolError::Io(io) if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
                if silent {
                    tracing::info!(client = %id, %peer, "silent for {silence_limit:?}: connection dropped");
                } else {
                    tracing::info!(client = %id, %peer, "control connection broke: {err}");
                }
                break ControlEnd::Broke;
            }
        }
    };
    match ending {
        ControlEnd::Closed => {
            tracing::info!(client = %id, "disconnected");
            ctx.registry.control_closed(id, epoch);
        }
        ControlEnd::Refused => {}
        ControlEnd::Broke => {
            if ctx.registry.control_broke(id, epoch) {
                let hold = ctx.config.resume_hold;
                tracing::info!(client = %id, "held for {hold:?} to resume");
            }
        }
    }
}

fn media_session(
    stream: Socket,
    mut reader: FrameReader<SocketReader>,
    (kind, id, token): (MediaKind, ClientId, &str),
    peer: &str,
    ctx: ConnectionContext,
    place: &Arc<Place>,
) {
    let Some(token) = SessionToken::from_hex(token) else {
        return refuse(&stream, reader, "invalid session token");
    };
    let capacity = ctx.config.media_queue[kind];
    // Keep at most this much unsent media in the kernel: past it the socket
    // counts as full, frames wait in the outbox, and a receiver that cannot
    // keep up loses its oldest frames there instead of getting seconds-old
    // ones out of a multi-megabyte socket buffer.
    if let Err(err) = SockRef::from(stream.tcp()).set_tcp_notsent_lowat(MEDIA_UNSENT_LIMIT) {
        tracing::debug!(client = %id, "could not limit unsent {kind} data: {err}");
    }
    let frame_kind = FrameKind::from(kind);
    let traffic = ctx.stats.traffic(frame_kind).clone();
    let (outbox, queue) = Outbox::with_direct(capacity, traffic.clone(), stream.try_clone().ok());
    let attachment = match ctx.registry.attach(
        kind,
        id,
        &token,
        outbox.clone(),
        stream.tcp().try_clone().ok(),
    ) {
        Ok(attachment) => attachment,
        Err(message) => {
            tracing::warn!(%peer, "refused {kind} socket: {message}");
            return refuse(&stream, reader, &message);
        }
    };
    if !spawn_writer(format!("{kind}-out-{id}"), &stream, queue, &ctx, place) {
        ctx.registry.detach(id, kind, attachment.id);
        drop(outbox);
        return refuse(&stream, reader, NO_THREAD);
    }
    place.handshake_done();
    tracing::debug!(client = %id, %peer, "{kind} socket attached");
    reader.get_mut().handshake_done();
    reader.accept_only(&[frame_kind]);
    let mut reported_outside = false;
    let mut seen = SeenLayers::default();
    let mut next_layer_check = Instant::now();
    loop {
        let read = reader.read_frame().map(|frame| {
            frame.map(|frame| {
                let layer = (kind == MediaKind::Video).then(|| video_layer(&frame));
                (frame, layer)
            })
        });
        match read {
            Ok(Some((mut frame, layer))) => {
                traffic.received(frame.as_bytes().len());
                frame.stamp_sender(id);
                let frame = Bytes::from(frame.into_bytes());
                let route = attachment.route.current();
                if route.meeting.is_none() {
                    if !reported_outside {
                        ctx.registry.media_outside_meeting(id, kind);
                        reported_outside = true;
                    }
                    continue;
                }
                reported_outside = false;
                let Some((layer, size, sequence)) = layer else {
                    for receiver in route.receivers(kind) {
                        let kept = receiver.outbox.push_media(frame.clone());
                        // Sound matters more than pictures: a receiver whose
                        // audio backs up gets smaller video, to make room.
                        if !kept && kind == MediaKind::Audio {
                            receiver.view.dropped(Instant::now());
                        }
                    }
                    continue;
                };
                // Video: each receiver gets the one layer chosen for it.
                let now = Instant::now();
                seen.saw(layer, size, now);
                if let Some(full) = full_size(layer, size)
                    && attachment.layers.full() != Some(full)
                {
                    attachment.layers.set_full(full);
                }
                let produced = seen.produced(now);
                for receiver in route.receivers(kind) {
                    if !receiver.view.accepts(id, layer, sequence, &produced, now) {
                        continue;
                    }
                    if !receiver.outbox.push_media(frame.clone()) {
                        receiver.view.dropped(now);
                    }
                }
                if now >= next_layer_check {
                    next_layer_check = now + LAYER_CHECK_EVERY;
                    let views = route.receivers(kind).iter().map(|r| &*r.view);
                    let wanted = crate::layers::wanted(id, attachment.layers.full(), views);
                    attachment.layers.announce(wanted, |wanted| {
                        let _ = outbox.push_control(layers_event(wanted));
                    });
                }
            }
            Ok(None) => break,
            Err(err) if err.is_peer_fault() => {
                tracing::warn!(client = %id, %peer, "closing {kind} connection: {err}");
                let _ = outbox.push_control(Bytes::from(
                    Frame::control(&Event::Error {
                        message: format!("{err}; closing the {kind} connection"),
                    })
                    .into_bytes(),
                ));
                ctx.registry.detach(id, kind, attachment.id);
                drop(outbox);
                return drain_input(reader);
            }
            Err(err) => {
                tracing::debug!(client = %id, "{kind} connection ended: {err}");
                break;
            }
        }
    }
    ctx.registry.detach(id, kind, attachment.id);
}

/// The layer, size and picture (`sequence`: all layers of one share it) of
/// a video frame: a single-layer sender's frame is the full size (its size,
/// unknown here, shows as 0x0).
fn video_layer(frame: &Frame) -> (Layer, PixelSize, u32) {
    let (header, _) = split_video_body(frame.media_body());
    let sequence = frame.media_header().map_or(0, |h| h.sequence);
    let (layer, size) = header.map_or((Layer::FULL, PixelSize::default()), |h| (h.layer, h.size));
    (layer, size, sequence)
}

/// The full size of a sender whose `layer` is `size` (None: unknown).
fn full_size(layer: Layer, size: PixelSize) -> Option<PixelSize> {
    if size.is_empty() {
        return None;
    }
    let shift = u32::from(layer.0);
    let grow = |side: u16| u16::try_from(u32::from(side) << shift).unwrap_or(u16::MAX);
    Some(PixelSize::new(grow(size.width), grow(size.height)))
}

fn layers_event(wanted: LayerSet) -> Bytes {
    Bytes::from(
        Frame::control(&Event::Layers {
            kind: MediaKind::Video,
            wanted,
        })
        .into_bytes(),
    )
}
