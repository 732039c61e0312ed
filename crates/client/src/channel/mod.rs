//! One media channel per kind: its attached socket (`socket`), the thread
//! that reads it into the kind's `Receiver`, the sender that writes our own
//! media to it (`sender`), and the sequence counter that numbers our frames
//! across off and on. What a kind does with frames is its driver's
//! (`media::driver`); a channel only moves them.
//!
//! The main loop (`app::sharing`) keeps a `PerKind<MediaChannel>` and never
//! touches a media socket itself: opening, sharing, stopping and
//! half-closing happen here, in one place per kind instead of one array per
//! field.
//!
//! A channel outlives its socket. The server closes a media socket it cannot
//! write to for its write timeout (a client stopped or stalled for half a
//! minute), and the network can break one; without a new socket that kind of
//! media would be gone for the rest of the session. So the reader thread,
//! when its socket ends without us closing it, says so (`MediaDown`),
//! attaches a new socket with the session's token, with back-off, and hands
//! it to the sender through `CurrentSocket` (`MediaUp`). The reader keeps its
//! receiver throughout, so recordings and the view go on where they were.
//!
//! A session that moves to another server (`app::moving`) hands each channel
//! a socket attached there (`move_to`): the sender writes to it at once, the
//! old socket is shut, and the reader goes on reading the new one.

pub mod sender;
pub(crate) mod socket;

pub use socket::CurrentSocket;
use socket::{Ended, MovedTo};

use crate::events::AppEvent;
use crate::link::{MediaSocket, Refused, Session};
use crate::media::driver::{Producer, Received, Receiver};
use crate::stats::ClientStats;
use common::ClientId;
use common::{Event, FrameKind, FrameReader, MediaKind};
use crossbeam_channel::Sender;
use sender::{RunningSender, SenderContext};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::time::{Duration, Instant};
use transport::Socket;

/// What every channel's sender shares with the main loop.
#[derive(Clone)]
pub struct ChannelContext {
    /// True while we are in a meeting: senders keep pace but send nothing outside one.
    pub in_meeting: Arc<AtomicBool>,
    /// The clock media timestamps count from.
    pub epoch: Instant,
    pub stats: Arc<ClientStats>,
    pub events: Sender<AppEvent>,
}

pub struct MediaChannel {
    kind: MediaKind,
    socket: Arc<CurrentSocket>,
    sequence: Arc<AtomicU32>,
    sender: Option<RunningSender>,
}

impl MediaChannel {
    /// Takes over an attached socket and starts reading it into `receiver`;
    /// `session` attaches a new socket when this one breaks.
    pub fn open(
        kind: MediaKind,
        socket: MediaSocket,
        receiver: Box<dyn Receiver>,
        ctx: &ChannelContext,
        session: Session,
    ) -> anyhow::Result<MediaChannel> {
        let current = Arc::new(CurrentSocket::new(socket.stream));
        let reader = ChannelReader {
            kind,
            receiver,
            received: ToClient {
                kind,
                stats: ctx.stats.clone(),
                events: ctx.events.clone(),
            },
            socket: current.clone(),
            session,
        };
        std::thread::Builder::new()
            .name(format!("{kind}-in"))
            .spawn(move || reader.run(socket.reader))?;
        Ok(MediaChannel {
            kind,
            socket: current,
            sequence: Arc::default(),
            sender: None,
        })
    }

    /// Starts sending from `producer`, replacing what was sent before.
    pub fn start(
        &mut self,
        producer: Box<dyn Producer>,
        ctx: &ChannelContext,
    ) -> std::io::Result<()> {
        self.stop();
        let sender_ctx = SenderContext {
            socket: self.socket.clone(),
            in_meeting: ctx.in_meeting.clone(),
            sequence: self.sequence.clone(),
            epoch: ctx.epoch,
            stats: ctx.stats.clone(),
            events: ctx.events.clone(),
        };
        self.sender = Some(RunningSender::spawn(self.kind, producer, sender_ctx)?);
        Ok(())
    }

    /// Stops sending (waits for the sender); true if it was sending.
    pub fn stop(&mut self) -> bool {
        match self.sender.take() {
            Some(sender) => {
                sender.stop();
                true
            }
            None => false,
        }
    }

    /// The sender ended on its own: forget it without waiting.
    pub fn sender_failed(&mut self) {
        self.sender = None;
    }

    /// The session moved to another server: `socket` is attached there,
    /// with `session`. The old socket is shut (its session ends with the
    /// control connection's goodbye); the reader goes on with the new one.
    pub fn move_to(&self, socket: MediaSocket, session: Session) {
        let moved = MovedTo {
            reader: socket.reader,
            session,
        };
        if let Some(Some(old)) = self.socket.move_to(socket.stream, moved) {
            old.close_notify();
            let _ = old.shutdown(Shutdown::Both);
        }
    }

    /// The session is about to move (`on`) or will not after all: see
    /// `CurrentSocket::expect_move`.
    pub fn expect_move(&self, on: bool) {
        self.socket.expect_move(on);
    }

    /// After a resumed session: attach a fresh socket now (see `renew`).
    pub fn renew(&self) {
        self.socket.renew();
    }

    pub fn sending(&self) -> bool {
        self.sender.is_some()
    }

    /// Stops sending and shuts our side of the socket; the reader reports
    /// `MediaClosed` once the server closed its side (or at once if the
    /// channel was down).
    pub fn half_close(&mut self) {
        self.stop();
        if let Some(socket) = self.socket.close()
            && let Err(err) = socket.shutdown(Shutdown::Write)
        {
            tracing::debug!("{} socket: {err}", self.kind);
        }
    }

    /// The session is lost: shuts the socket both ways first, so a sender
    /// blocked writing to a dead connection fails instead of hanging, then
    /// stops sending.
    pub fn abort(&mut self) {
        if let Some(socket) = self.socket.close() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        self.stop();
    }
}

/// The first attempt to attach again comes at once (usually the socket is
/// gone, not the server); after that the wait doubles from this...
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
/// ...up to this, so a server that is down is not hammered (and a network
/// that comes back is noticed within it).
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);

/// How long a channel whose server hands the session over waits for the
/// move before it looks again (it is woken when the move comes).
const MOVE_WAIT: Duration = MAX_RETRY_DELAY;

/// A socket up this long proved the server takes us back: the next loss
/// starts over with an immediate attempt.
const STAYED_UP: Duration = Duration::from_secs(10);

/// How long to wait before attempt `attempt` (0 is the first) to attach again.
fn retry_delay(attempt: u32) -> Duration {
    match attempt {
        0 => Duration::ZERO,
        n => FIRST_RETRY_DELAY
            .saturating_mul(1 << (n - 1).min(16))
            .min(MAX_RETRY_DELAY),
    }
}

/// What a channel's receiver tells the client: its figures, and the main
/// loop its needs.
struct ToClient {
    kind: MediaKind,
    stats: Arc<ClientStats>,
    events: Sender<AppEvent>,
}

impl Received for ToClient {
    fn stats(&self) -> &ClientStats {
        &self.stats
    }

    fn keyframe_needed(&self, member: ClientId) {
        let _ = self
            .events
            .send(AppEvent::KeyframeNeeded(self.kind, member));
    }
}

/// What a channel that was down goes on with.
enum Next {
    Closing,
    Moved(MovedTo),
    Attached(MediaSocket),
}

/// The thread that reads one channel's sockets, one after the other.
struct ChannelReader {
    kind: MediaKind,
    /// The kind's: what every frame is handed to.
    receiver: Box<dyn Receiver>,
    received: ToClient,
    socket: Arc<CurrentSocket>,
    session: Session,
}

impl ChannelReader {
    fn run(mut self, mut reader: FrameReader<Socket>) {
        // Attempts to attach again since the last socket that stayed up:
        // a server that takes a socket and drops it at once meets back-off,
        // not a loop.
        let mut attempts = 0;
        let mut up_since = Instant::now();
        loop {
            let ended = self.read(&mut reader);
            match self.socket.ended() {
                Ended::Closing => break, // we closed it
                Ended::Moved(moved) => {
                    reader = self.follow(moved);
                    up_since = Instant::now();
                    continue;
                }
                Ended::Down => {}
            }
            tracing::info!("{} connection lost: {ended}", self.kind);
            let down_since = Instant::now();
            if down_since.duration_since(up_since) >= STAYED_UP {
                attempts = 0;
            }
            let _ = self
                .received
                .events
                .send(AppEvent::MediaDown(self.kind, ended));
            reader = match self.attach_again(&mut attempts) {
                Next::Closing => break,
                Next::Moved(moved) => self.follow(moved),
                Next::Attached(socket) => match self.socket.install(socket.stream) {
                    Ended::Closing => break,
                    Ended::Moved(moved) => self.follow(moved),
                    Ended::Down => socket.reader,
                },
            };
            up_since = Instant::now();
            let _ = self
                .received
                .events
                .send(AppEvent::MediaUp(self.kind, down_since.elapsed()));
        }
        let events = self.received.events.clone();
        drop(self.receiver); // finishes the recordings before saying we are done
        let _ = events.send(AppEvent::MediaClosed(self.kind));
    }

    /// Goes on in the session the channel moved to: its reader is returned.
    fn follow(&mut self, moved: MovedTo) -> FrameReader<Socket> {
        tracing::debug!("{} channel moved to {:?}", self.kind, moved.session);
        self.session = moved.session;
        moved.reader
    }

    /// Attaches a new socket, trying until it works and counting the tries
    /// in `attempts`; `Closing` if the channel is closing (also after the
    /// server refused), `Moved` if the session moved meanwhile (its socket
    /// is in place).
    fn attach_again(&self, attempts: &mut u32) -> Next {
        loop {
            let expecting_move = self.socket.move_expected();
            let delay = if expecting_move {
                MOVE_WAIT
            } else {
                retry_delay(*attempts)
            };
            if self.socket.wait_unless_closing(delay) {
                return Next::Closing;
            }
            if let Some(moved) = self.socket.take_moved() {
                return Next::Moved(moved);
            }
            if self.socket.move_expected() {
                // The server we were on is stopping: attaching there again
                // would be refused, and that would close the channel.
                continue;
            }
            *attempts = attempts.saturating_add(1);
            match self.session.attach(self.kind) {
                Ok(socket) => return Next::Attached(socket),
                Err(err) if err.downcast_ref::<Refused>().is_some() => {
                    // The refusal quotes the server: cleaned like all it says.
                    let err = crate::clean::clean(&format!("{err:#}"));
                    tracing::warn!("{} stays off: {err}", self.kind);
                    return self.wait_for_move_or_close();
                }
                Err(err) => tracing::debug!("attaching {} again: {err:#}", self.kind),
            }
        }
    }

    /// The server refused to take the channel back: our session is gone
    /// there. Parked, not ended: a stopping server refuses while it hands
    /// our meeting over, possibly before the loop learnt of the handover,
    /// and then the move brings a new socket. Otherwise the session ends
    /// and the loop closes the channel.
    fn wait_for_move_or_close(&self) -> Next {
        loop {
            if self.socket.wait_unless_closing(MOVE_WAIT) {
                return Next::Closing;
            }
            if let Some(moved) = self.socket.take_moved() {
                return Next::Moved(moved);
            }
        }
    }

    /// Hands every frame of one socket to the receiver; returns how it ended.
    fn read(&mut self, reader: &mut FrameReader<Socket>) -> String {
        let kind = self.kind;
        loop {
            let frame = match reader.read_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return "the server closed it".to_string(),
                Err(err) => return err.to_string(),
            };
            if frame.kind() == FrameKind::Control {
                match frame.parse_control::<Event>() {
                    // For our video sender: which layers to encode.
                    Ok(Event::Layers { wanted, .. }) => {
                        self.received.stats.set_layers_wanted(wanted);
                    }
                    Ok(event) => {
                        let _ = self.received.events.send(AppEvent::Server(event));
                    }
                    Err(_) => {}
                }
                continue;
            }
            let Ok(header) = frame.media_header() else {
                continue;
            };
            let body_len = frame.media_body().len();
            self.received
                .stats
                .received(header.sender, kind, body_len, header.sequence);
            self.receiver.frame(&header, frame, &self.received);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attaching_again_backs_off_to_a_ceiling() {
        let delays: Vec<u64> = (0..8).map(|n| retry_delay(n).as_millis() as u64).collect();
        assert_eq!(delays, [0, 250, 500, 1000, 2000, 2000, 2000, 2000]);
        assert_eq!(retry_delay(u32::MAX), MAX_RETRY_DELAY, "no overflow");
    }
}
