//! The sender threads: one per shared kind, each pacing its source against a
//! clock (not by sleeping a fixed time after each frame, which drifts) and
//! writing frames to its media socket.
//!
//! A sender that falls behind skips ahead instead of sending a burst: late video
//! is worth less than the next frame. While the client is in no meeting the
//! sender keeps pace but sends nothing (the server would drop it anyway).
//! A video sender may also hand each frame it sent to a preview sink (the
//! full-screen view's self-view), sharing the bytes rather than copying them.

use super::screen::ScreenProducer;
use super::{AudioSource, VideoSource};
use crate::events::AppEvent;
use crate::sink::{SharedFrame, VideoSink};
use crate::stats::ClientStats;
use common::protocol::{AUDIO_FRAME, AUDIO_FRAME_SAMPLES};
use common::{ClientId, Frame, MediaHeader, MediaKind};
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a sender needs besides its source.
#[derive(Clone)]
pub struct SenderContext {
    pub socket: Arc<TcpStream>,
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
    Audio(Box<dyn AudioSource>),
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
            Producer::Audio(_) => AUDIO_FRAME,
        }
    }

    /// The next body; `None` when there is nothing new to send this time.
    fn produce(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Producer::Video(source, _) => source.next_jpeg().map(Some),
            Producer::Audio(source) => {
                let mut pcm = [0i16; AUDIO_FRAME_SAMPLES];
                source.fill(&mut pcm)?;
                Ok(Some(pcm.iter().flat_map(|s| s.to_le_bytes()).collect()))
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
        (&*ctx.socket)
            .write_all(frame.frame().as_bytes())
            .map_err(|err| format!("{kind} connection lost while sending: {err}"))?;
        ctx.stats.sent(kind, body.len());
        if let Some(sink) = &mut preview
            && let Err(err) = sink.frame(&header, &frame)
        {
            tracing::warn!("the self-view stopped: {err:#}");
            preview = None;
        }
    }
}
