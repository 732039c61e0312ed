//! One media channel per kind: its attached socket, the thread that reads it
//! into the kind's sinks, the sender that writes our own media to it, and the
//! sequence counter that numbers our frames across off and on.
//!
//! The main loop keeps a `PerKind<MediaChannel>` and never touches a media
//! socket itself: opening, sharing, stopping and half-closing happen here, in
//! one place per kind instead of one array per field.

use crate::events::AppEvent;
use crate::link::MediaSocket;
use crate::media::sender::{Producer, RunningSender, SenderContext};
use crate::sink::{self, AudioSink, ScreenSink, SharedFrame, VideoSink};
use crate::stats::ClientStats;
use common::protocol::AUDIO_FRAME_SAMPLES;
use common::{ClientId, Event, FrameKind, FrameReader, MediaHeader, MediaKind};
use crossbeam_channel::Sender;
use meeting_screen::codec::ScreenDecoder;
use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::time::{Duration, Instant};

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
    socket: Arc<TcpStream>,
    sequence: Arc<AtomicU32>,
    sender: Option<RunningSender>,
}

impl MediaChannel {
    /// Takes over an attached socket and starts reading it into `sinks`.
    pub fn open(
        kind: MediaKind,
        socket: MediaSocket,
        sinks: Sinks,
        ctx: &ChannelContext,
    ) -> anyhow::Result<MediaChannel> {
        spawn_reader(kind, socket.reader, sinks, ctx)?;
        Ok(MediaChannel {
            kind,
            socket: Arc::new(socket.stream),
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

    pub fn sending(&self) -> bool {
        self.sender.is_some()
    }

    /// Stops sending and shuts our side of the socket; the reader reports
    /// `MediaClosed` once the server closed its side.
    pub fn half_close(&mut self) {
        self.stop();
        if let Err(err) = self.socket.shutdown(Shutdown::Write) {
            tracing::debug!("{} socket: {err}", self.kind);
        }
    }
}

fn spawn_reader(
    kind: MediaKind,
    mut reader: FrameReader<TcpStream>,
    mut sinks: Sinks,
    ctx: &ChannelContext,
) -> anyhow::Result<()> {
    let (stats, events) = (ctx.stats.clone(), ctx.events.clone());
    std::thread::Builder::new()
        .name(format!("{kind}-in"))
        .spawn(move || {
            let mut last_sequence = HashMap::new();
            while let Ok(Some(frame)) = reader.read_frame() {
                if frame.kind() == FrameKind::Control {
                    if let Ok(event) = frame.parse_control::<Event>() {
                        let _ = events.send(AppEvent::Server(event));
                    }
                    continue;
                }
                let Ok(header) = frame.media_header() else {
                    continue;
                };
                let body_len = frame.media_body().len();
                let lost = match last_sequence.insert(header.sender, header.sequence) {
                    Some(previous) if header.sequence > previous => {
                        u64::from(header.sequence - previous - 1)
                    }
                    _ => 0,
                };
                stats.received(header.sender, kind, body_len, lost);
                match &mut sinks {
                    Sinks::Video(sinks) if !sinks.is_empty() => {
                        let shared = SharedFrame::new(frame);
                        sink::deliver(sinks, |s| s.frame(&header, &shared));
                    }
                    Sinks::Audio(sinks) if !sinks.is_empty() => {
                        let body = frame.media_body();
                        if body.len() % 2 != 0 || body.len() > 5 * 2 * AUDIO_FRAME_SAMPLES {
                            tracing::warn!(sender = %header.sender, "audio frame of {} bytes ignored", body.len());
                            continue;
                        }
                        let pcm: Vec<i16> = body
                            .chunks_exact(2)
                            .map(|b| i16::from_le_bytes([b[0], b[1]]))
                            .collect();
                        sink::deliver(sinks, |s| s.frame(&header, &pcm));
                    }
                    Sinks::Screen(receiver) => {
                        receiver.frame(&header, frame.media_body(), &events);
                    }
                    _ => {}
                }
            }
            drop(sinks); // finishes the recordings before saying we are done
            let _ = events.send(AppEvent::MediaClosed(kind));
        })?;
    Ok(())
}
