//! A control socket: `hello` starts a session, `resume` takes over a held
//! one; then its requests go to the registry until it closes (the session
//! ends) or breaks (the session is held for a resume).

use super::{ConnectionContext, NO_THREAD, SocketReader, drain_input, refuse, spawn_writer};
use crate::admission::Place;
use crate::outbox::Outbox;
use crate::stats::TrafficCounters;
use common::protocol::PROTOCOL_VERSION;
use common::{ClientId, Event, FrameKind, FrameReader, ProtocolError, Request, SessionToken};
use std::sync::Arc;
use transport::Socket;

/// A control connection of a session, once its handshake is done.
pub(super) struct ControlSession {
    id: ClientId,
    /// Which of the session's control connections this is (see `resume`).
    epoch: u64,
    reader: FrameReader<SocketReader>,
    traffic: Arc<TrafficCounters>,
}

/// `hello`: a new session; None if it was refused (and told so).
/// What a `hello` said.
pub(super) struct Hello<'a> {
    pub protocol: u32,
    pub name: &'a str,
    pub returning: Option<&'a common::Returning>,
}

pub(super) fn hello(
    stream: &Socket,
    reader: FrameReader<SocketReader>,
    hello: Hello<'_>,
    peer: &str,
    ctx: &ConnectionContext,
    place: &Arc<Place>,
) -> Option<ControlSession> {
    let Hello {
        protocol,
        name,
        returning,
    } = hello;
    if protocol != PROTOCOL_VERSION {
        let message = format!(
            "this server speaks protocol {PROTOCOL_VERSION} and the client {protocol}: use a client and server of the same release"
        );
        refuse(stream, reader, &message);
        return None;
    }
    let traffic = ctx.stats.traffic(FrameKind::Control).clone();
    let (outbox, queue) = Outbox::new(ctx.config.control_queue, traffic.clone());
    let id = match ctx.registry.register_returning(
        name,
        returning,
        outbox,
        stream.tcp().try_clone().ok(),
    ) {
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
    let returned = returning.is_some_and(|returning| returning.id == id);
    tracing::info!(client = %id, %peer, name, returned, "connected");
    Some(ControlSession {
        id,
        epoch: 0,
        reader,
        traffic,
    })
}

/// `resume`: a new control connection of session `id`; None if it was
/// refused (and told so, in the same words as a refused `attach`).
pub(super) fn resume(
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
pub(super) fn control_session(
    stream: Socket,
    session: ControlSession,
    peer: &str,
    ctx: ConnectionContext,
) {
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
