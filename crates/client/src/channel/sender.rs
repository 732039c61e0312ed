//! The sender threads: one per shared kind, each pacing its kind's
//! `Producer` against a clock (not by sleeping a fixed time after each
//! frame, which drifts) and handing it an `Outlet` to its media socket.
//!
//! A sender that falls behind skips ahead instead of sending a burst: late video
//! is worth less than the next frame. While the client is in no meeting, or
//! its channel is down (attaching a new socket), the sender keeps pace but
//! sends nothing: the server would drop it, or there is nowhere to send it.
//! A failed write is no reason to stop sharing: it marks the socket broken,
//! and the sender goes on with the socket its channel attaches next.

use super::CurrentSocket;
use crate::events::AppEvent;
use crate::media::driver::{Outlet, Producer};
use crate::stats::ClientStats;
use common::MediaKind;
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

/// What a sender needs besides its producer.
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

/// A running sender; `stop` ends it and waits for it.
pub struct RunningSender {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl RunningSender {
    /// Starts sending `kind` from `producer`.
    pub fn spawn(
        kind: MediaKind,
        producer: Box<dyn Producer>,
        ctx: SenderContext,
    ) -> std::io::Result<RunningSender> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name(format!("{kind}-send"))
            .spawn(move || {
                if let Err(message) = send_loop(kind, producer, &ctx, &stopped) {
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
    kind: MediaKind,
    mut producer: Box<dyn Producer>,
    ctx: &SenderContext,
    stopped: &crossbeam_channel::Receiver<()>,
) -> Result<(), String> {
    let interval = producer.interval();
    let paced_by_source = producer.paced_by_source();
    let mut next = Instant::now();
    loop {
        match stopped.recv_deadline(next) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return Ok(()),
        }
        let now = Instant::now();
        // Nothing to send on outside a meeting, or while the channel is down.
        let socket = if ctx.in_meeting.load(Ordering::Relaxed) {
            ctx.socket.get()
        } else {
            None
        };
        if paced_by_source {
            // Its `send` waits for the source; the clock only spaces the
            // tries while there is nothing to send on.
            next = if socket.is_some() {
                now
            } else {
                now + interval
            };
        } else {
            next += interval;
            if now > next + interval {
                next = now; // fell behind: skip, do not burst
            }
        }
        let Some(socket) = socket else {
            continue;
        };
        let mut out = Outlet {
            kind,
            socket,
            current: &ctx.socket,
            sequence: &ctx.sequence,
            epoch: ctx.epoch,
            stats: &ctx.stats,
        };
        producer
            .send(&mut out)
            .map_err(|err| format!("{kind} source stopped: {err:#}"))?;
    }
}
