//! The sender threads: one per shared kind, each pacing its source against a
//! clock (not by sleeping a fixed time after each frame, which drifts) and
//! writing frames to its media socket.
//!
//! A sender that falls behind skips ahead instead of sending a burst: late video
//! is worth less than the next frame. While the client is in no meeting, or
//! its channel is down (attaching a new socket), the sender keeps pace but
//! sends nothing: the server would drop it, or there is nowhere to send it.
//! A failed write is no reason to stop sharing: it marks the socket broken,
//! and the sender goes on with the socket its channel attaches next.
//! A video sender may also hand each frame it sent to a preview sink (the
//! full-screen view's self-view), sharing the bytes rather than copying them.

use super::CurrentSocket;
use crate::events::AppEvent;
use crate::media::audio::AudioSource;
use crate::media::audio::codec::AudioEncoder;
use crate::media::screen::ScreenProducer;
use crate::media::video::VideoSource;
use crate::sink::{SharedFrame, VideoSink};
use crate::stats::ClientStats;
use common::protocol::{AUDIO_FRAME, AUDIO_FRAME_SAMPLES};
use common::{ClientId, Frame, Layer, LayerHeader, LayerSet, MediaHeader, MediaKind};
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a sender needs besides its source.
#[derive(Clone)]
pub struct SenderContext {
    /// The channel's socket, replaced when the channel attaches a new one.
    pub socket: Arc<CurrentSocket>,
    pub in_meeting: Arc<AtomicBool>,
    /// Continues across off/on, so a receiver never sees a sequence number twice.
    pub sequence: Arc<AtomicU32>,
    /// The clock media timestamps count from.
    pub epoch: Instant,
    pub stats: Arc<ClientStats>,
    pub events: Sender<AppEvent>,
}

pub enum Producer {
    Video(Box<dyn VideoSource>, Duration),
    /// A microphone or other source, and what encodes its frames (Opus or PCM).
    Audio(Box<dyn AudioSource>, AudioEncoder),
    /// A screen, looked at every interval; only changes are sent.
    Screen(Box<ScreenProducer>, Duration),
}

impl Producer {
    fn kind(&self) -> MediaKind {
        match self {
            Producer::Video(..) => MediaKind::Video,
            Producer::Audio(..) => MediaKind::Audio,
            Producer::Screen(..) => MediaKind::Screen,
        }
    }

    fn interval(&self) -> Duration {
        match self {
            Producer::Video(_, interval) | Producer::Screen(_, interval) => *interval,
            Producer::Audio(..) => AUDIO_FRAME,
        }
    }

    /// The next body; `None` when there is nothing new to send this time.
    fn produce(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Producer::Video(source, _) => source.next_jpeg().map(Some),
            Producer::Audio(source, encoder) => {
                let mut pcm = [0i16; AUDIO_FRAME_SAMPLES];
                source.fill(&mut pcm)?;
                encoder.encode(&pcm).map(Some)
            }
            Producer::Screen(producer, _) => producer.produce(),
        }
    }
}

/// A running sender; `stop` ends it and waits for it.
pub struct RunningSender {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl RunningSender {
    /// Starts sending; `preview`, if any, sees every video frame sent.
    pub fn spawn(
        producer: Producer,
        ctx: SenderContext,
        preview: Option<Box<dyn VideoSink>>,
    ) -> std::io::Result<RunningSender> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let kind = producer.kind();
        let thread = std::thread::Builder::new()
            .name(format!("{kind}-send"))
            .spawn(move || {
                if let Err(message) = send_loop(producer, &ctx, &stopped, preview) {
                    let _ = ctx.events.send(AppEvent::SenderFailed(kind, message));
                }
            })?;
        Ok(RunningSender { stop, thread })
    }

    pub fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

fn send_loop(
    mut producer: Producer,
    ctx: &SenderContext,
    stopped: &crossbeam_channel::Receiver<()>,
    mut preview: Option<Box<dyn VideoSink>>,
) -> Result<(), String> {
    let kind = producer.kind();
    let interval = producer.interval();
    let mut next = Instant::now();
    loop {
        match stopped.recv_deadline(next) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return Ok(()),
        }
        next += interval;
        let now = Instant::now();
        if now > next + interval {
            next = now; // fell behind: skip, do not burst
        }
        if !ctx.in_meeting.load(Ordering::Relaxed) {
            continue;
        }
        let Some(socket) = ctx.socket.get() else {
            continue; // the channel is down: nothing to send on
        };
        if let Producer::Video(source, _) = &mut producer {
            send_layers(source.as_mut(), ctx, &socket, &mut preview)?;
            continue;
        }
        let Some(body) = producer
            .produce()
            .map_err(|err| format!("{kind} source stopped: {err:#}"))?
        else {
            continue;
        };
        let header = MediaHeader {
            sender: ClientId(0), // the server stamps the real sender
            sequence: ctx.sequence.fetch_add(1, Ordering::Relaxed),
            timestamp_us: ctx.epoch.elapsed().as_micros() as u64,
        };
        let frame = SharedFrame::new(Frame::media(kind, header, &body));
        if let Err(err) = (&*socket).write_all(frame.frame().as_bytes()) {
            // The channel's reader says so to the user and attaches again.
            tracing::debug!("{kind} connection lost while sending: {err}");
            ctx.socket.broken(&socket);
            continue;
        }
        ctx.stats.sent(kind, body.len());
        if let Some(sink) = &mut preview
            && let Err(err) = sink.frame(&header, &frame)
        {
            tracing::warn!("the self-view stopped: {err:#}");
            preview = None;
        }
    }
}

/// Encodes one picture at the layers the server asked for (the full size
/// alone if it never said) and sends each, all with one sequence number.
/// Nothing is encoded that nobody gets, but for the self-view.
fn send_layers(
    source: &mut dyn VideoSource,
    ctx: &SenderContext,
    socket: &Arc<transport::Socket>,
    preview: &mut Option<Box<dyn VideoSink>>,
) -> Result<(), String> {
    let kind = MediaKind::Video;
    // None: a server that predates layers; it gets plain JPEG bodies.
    let wanted = ctx.stats.layers_wanted();
    let send = wanted.unwrap_or(LayerSet::only(Layer::FULL));
    let encode = match (send.is_empty(), preview.is_some()) {
        (true, true) => LayerSet::only(Layer(2)), // only our own view shows it
        _ => send,
    };
    if encode.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let layers = source
        .next_layers(encode)
        .map_err(|err| format!("{kind} source stopped: {err:#}"))?;
    ctx.stats
        .encoded(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
    let header = MediaHeader {
        sender: ClientId(0), // the server stamps the real sender
        sequence: ctx.sequence.fetch_add(1, Ordering::Relaxed),
        timestamp_us: ctx.epoch.elapsed().as_micros() as u64,
    };
    let mut largest = None;
    for encoded in layers {
        let body = match wanted {
            None => encoded.jpeg,
            Some(_) => {
                let mut body = LayerHeader {
                    layer: encoded.layer,
                    size: encoded.size,
                }
                .encode()
                .to_vec();
                body.extend_from_slice(&encoded.jpeg);
                body
            }
        };
        let frame = SharedFrame::new(Frame::media(kind, header, &body));
        if send.contains(encoded.layer) {
            if let Err(err) = (&**socket).write_all(frame.frame().as_bytes()) {
                tracing::debug!("{kind} connection lost while sending: {err}");
                ctx.socket.broken(socket);
                return Ok(());
            }
            ctx.stats.sent(kind, body.len());
            ctx.stats.sent_layer(encoded.layer, body.len());
        }
        if largest.is_none() {
            largest = Some(frame);
        }
    }
    if let (Some(sink), Some(frame)) = (preview.as_mut(), largest)
        && let Err(err) = sink.frame(&header, &frame)
    {
        tracing::warn!("the self-view stopped: {err:#}");
        *preview = None;
    }
    Ok(())
}
