//! One media channel per kind: its attached socket, the thread that reads it
//! into the kind's sinks, the sender that writes our own media to it, and the
//! sequence counter that numbers our frames across off and on.
//!
//! The main loop keeps a `PerKind<MediaChannel>` and never touches a media
//! socket itself: opening, sharing, stopping and half-closing happen here, in
//! one place per kind instead of one array per field.
//!
//! A channel outlives its socket. The server closes a media socket it cannot
//! write to for its write timeout (a client stopped or stalled for half a
//! minute), and the network can break one; without a new socket that kind of
//! media would be gone for the rest of the session. So the reader thread,
//! when its socket ends without us closing it, says so (`MediaDown`),
//! attaches a new socket with the session's token, with back-off, and hands
//! it to the sender through `CurrentSocket` (`MediaUp`). The reader keeps its
//! sinks throughout, so recordings and the view go on where they were.

pub mod sender;
mod socket;

pub use socket::CurrentSocket;

use crate::events::AppEvent;
use crate::link::{MediaSocket, Refused, Session};
use crate::media::audio::codec::AudioDecoders;
use crate::sink::{self, AudioSink, ScreenSink, SharedFrame, VideoSink};
use crate::stats::ClientStats;
use common::{ClientId, Event, FrameKind, FrameReader, Layer, MediaHeader, MediaKind};
use crossbeam_channel::Sender;
use meeting_screen::codec::ScreenDecoder;
use sender::{Producer, RunningSender, SenderContext};
use std::collections::HashMap;
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::time::{Duration, Instant};
use transport::Socket;

/// The consumers of one media socket's frames, by the kind's body format.
pub enum Sinks {
    /// JPEG frames, shared without copying.
    Video(Vec<Box<dyn VideoSink>>),
    /// 20 ms of mono s16 PCM per frame.
    Audio(Vec<Box<dyn AudioSink>>),
    /// Changed tiles of shared screens, put together per sender first.
    Screen(ScreenReceiver),
}

/// A decoder per member sharing a screen, and where the pictures go.
pub struct ScreenReceiver {
    sinks: Vec<Box<dyn ScreenSink>>,
    decoders: HashMap<ClientId, (ScreenDecoder, Instant)>,
    /// When each sender was last asked for a keyframe.
    asked: HashMap<ClientId, Instant>,
}

/// A sender whose screen has been silent this long is forgotten (its canvas
/// is memory: up to 100 MB for the largest screen the format allows).
const SCREEN_FORGOTTEN_AFTER: Duration = Duration::from_secs(60);

impl ScreenReceiver {
    pub fn new(sinks: Vec<Box<dyn ScreenSink>>) -> ScreenReceiver {
        ScreenReceiver {
            sinks,
            decoders: HashMap::new(),
            asked: HashMap::new(),
        }
    }

    fn frame(&mut self, header: &MediaHeader, body: &[u8], events: &Sender<AppEvent>) {
        let now = Instant::now();
        self.decoders
            .retain(|_, (_, last)| now.duration_since(*last) < SCREEN_FORGOTTEN_AFTER);
        let (decoder, last) = self
            .decoders
            .entry(header.sender)
            .or_insert_with(|| (ScreenDecoder::new(), now));
        *last = now;
        match decoder.apply_sequenced(header.sequence, body) {
            Ok(applied) => {
                if let Some(canvas) = decoder.canvas() {
                    sink::deliver(&mut self.sinks, |s| s.update(header, canvas, &applied));
                }
            }
            Err(err) => {
                tracing::debug!(sender = %header.sender, "screen update not applied: {err}")
            }
        }
        // Out of sync (joined late, frames lost, a broken body): ask the
        // sender for a whole picture, once a second at most.
        let recently_asked = self.asked.get(&header.sender).is_some_and(|at| {
            now.duration_since(*at) < common::protocol::KEYFRAME_REQUEST_INTERVAL
        });
        if decoder.needs_keyframe() && !recently_asked {
            self.asked.insert(header.sender, now);
            let _ = events.send(AppEvent::KeyframeNeeded(MediaKind::Screen, header.sender));
        }
    }
}

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
    /// Takes over an attached socket and starts reading it into `sinks`;
    /// `session` attaches a new socket when this one breaks.
    pub fn open(
        kind: MediaKind,
        socket: MediaSocket,
        sinks: Sinks,
        ctx: &ChannelContext,
        session: Session,
    ) -> anyhow::Result<MediaChannel> {
        let current = Arc::new(CurrentSocket::new(socket.stream));
        let reader = ChannelReader {
            kind,
            sinks,
            decoders: AudioDecoders::default(),
            stats: ctx.stats.clone(),
            events: ctx.events.clone(),
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

    /// Starts sending from `producer`, replacing what was sent before;
    /// `preview` sees every frame sent (the self-view).
    pub fn start(
        &mut self,
        producer: Producer,
        ctx: &ChannelContext,
        preview: Option<Box<dyn VideoSink>>,
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
        self.sender = Some(RunningSender::spawn(producer, sender_ctx, preview)?);
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

/// The thread that reads one channel's sockets, one after the other.
struct ChannelReader {
    kind: MediaKind,
    sinks: Sinks,
    /// One audio decoder per sender (unused on other kinds' channels).
    decoders: AudioDecoders,
    stats: Arc<ClientStats>,
    events: Sender<AppEvent>,
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
            if self.socket.ended() {
                break; // we closed it
            }
            tracing::info!("{} connection lost: {ended}", self.kind);
            let down_since = Instant::now();
            if down_since.duration_since(up_since) >= STAYED_UP {
                attempts = 0;
            }
            let _ = self.events.send(AppEvent::MediaDown(self.kind, ended));
            let Some(socket) = self.attach_again(&mut attempts) else {
                break;
            };
            reader = socket.reader;
            if !self.socket.install(socket.stream) {
                break;
            }
            up_since = Instant::now();
            let _ = self
                .events
                .send(AppEvent::MediaUp(self.kind, down_since.elapsed()));
        }
        drop(self.sinks); // finishes the recordings before saying we are done
        let _ = self.events.send(AppEvent::MediaClosed(self.kind));
    }

    /// Attaches a new socket, trying until it works and counting the tries
    /// in `attempts`; `None` if the channel is closing or the server refuses
    /// (our session is gone with it).
    fn attach_again(&self, attempts: &mut u32) -> Option<MediaSocket> {
        loop {
            if self.socket.wait_unless_closing(retry_delay(*attempts)) {
                return None;
            }
            *attempts = attempts.saturating_add(1);
            match self.session.attach(self.kind) {
                Ok(socket) => return Some(socket),
                Err(err) if err.downcast_ref::<Refused>().is_some() => {
                    // The refusal quotes the server: cleaned like all it says.
                    let err = crate::clean::clean(&format!("{err:#}"));
                    tracing::warn!("{} stays off: {err}", self.kind);
                    return None;
                }
                Err(err) => tracing::debug!("attaching {} again: {err:#}", self.kind),
            }
        }
    }

    /// Hands every frame of one socket to the sinks; returns how it ended.
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
                    Ok(Event::Layers { wanted, .. }) => self.stats.set_layers_wanted(wanted),
                    Ok(event) => {
                        let _ = self.events.send(AppEvent::Server(event));
                    }
                    Err(_) => {}
                }
                continue;
            }
            let Ok(header) = frame.media_header() else {
                continue;
            };
            let body_len = frame.media_body().len();
            self.stats
                .received(header.sender, kind, body_len, header.sequence);
            match &mut self.sinks {
                Sinks::Video(sinks) => {
                    let shared = SharedFrame::new(frame);
                    let (layer, size) = shared
                        .layer()
                        .map_or((Layer::FULL, None), |l| (l.layer, Some(l.size)));
                    self.stats.received_layer(header.sender, layer, size);
                    sink::deliver(sinks, |s| s.frame(&header, &shared));
                }
                Sinks::Audio(sinks) if !sinks.is_empty() => {
                    // PCM or Opus: the sinks get 20 ms PCM frames either way,
                    // frames the decoder made up for lost ones included.
                    self.decoders
                        .decode(&header, frame.media_body(), |header, pcm| {
                            sink::deliver(sinks, |s| s.frame(header, pcm));
                        });
                    if let Some(decoded) = self.decoders.stats(header.sender) {
                        self.stats.audio_decoded(header.sender, decoded);
                    }
                }
                Sinks::Screen(receiver) => {
                    receiver.frame(&header, frame.media_body(), &self.events);
                }
                _ => {}
            }
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
