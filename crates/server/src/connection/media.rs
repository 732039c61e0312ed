//! A media socket: `attach` to a session, then every frame read is handed
//! to the `relay`, until the socket ends.

use super::{
    ConnectionContext, MEDIA_UNSENT_LIMIT, NO_THREAD, SocketReader, drain_input, refuse,
    spawn_writer,
};
use crate::admission::Place;
use crate::outbox::Outbox;
use crate::relay::MediaRelay;
use bytes::Bytes;
use common::{ClientId, Event, Frame, FrameKind, FrameReader, MediaKind, SessionToken};
use socket2::SockRef;
use std::sync::Arc;
use transport::Socket;

pub(super) fn media_session(
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
    let mut relay = MediaRelay::new(kind, id, &attachment, outbox.clone(), ctx.registry.clone());
    loop {
        match reader.read_frame() {
            Ok(Some(frame)) => {
                traffic.received(frame.as_bytes().len());
                relay.forward(frame);
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
