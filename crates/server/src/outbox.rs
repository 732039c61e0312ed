//! Everything that leaves the server for one socket goes through an `Outbox`: a
//! bounded queue drained by that socket's own writer thread, so a receiver that
//! stops reading only ever blocks its own writer.
//!
//! Media that does not fit is dropped oldest-first (the newest frame is the one
//! worth showing) and counted. Control messages are never dropped: if one does
//! not fit, `push_control` says so and the registry disconnects that client.

use crate::stats::{ServerStats, TrafficCounters};
use bytes::Bytes;
use common::FrameKind;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::io::{ErrorKind, IoSlice, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one outbox, readable while it runs.
#[derive(Default, Debug)]
pub struct OutboxStats {
    pub queued: AtomicU64,
    pub dropped: AtomicU64,
}

/// The sending side of one socket's queue; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    tx: Sender<Bytes>,
    // Held to drop the oldest frame when the queue is full.
    rx: Receiver<Bytes>,
    stats: Arc<OutboxStats>,
    /// The server-wide counters of this queue's frame type.
    traffic: Arc<TrafficCounters>,
}

/// The control queue of a client is full: it is not reading its events.
#[derive(Debug)]
pub struct Overflow;

impl Outbox {
    /// A queue of `capacity` frames and the receiver its writer thread drains.
    pub fn new(capacity: usize, traffic: Arc<TrafficCounters>) -> (Outbox, Receiver<Bytes>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        let outbox = Outbox {
            tx,
            rx: rx.clone(),
            stats: Arc::default(),
            traffic,
        };
        (outbox, rx)
    }

    /// Queues a media frame, dropping the oldest queued frame if there is no room.
    /// Returns false if a frame was dropped.
    pub fn push_media(&self, frame: Bytes) -> bool {
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let kept = match self.tx.try_send(frame) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => true,
            Err(TrySendError::Full(frame)) => {
                let _oldest = self.rx.try_recv();
                let mut dropped = 1;
                if self.tx.try_send(frame).is_err() {
                    dropped += 1;
                }
                self.stats.dropped.fetch_add(dropped, Ordering::Relaxed);
                self.traffic.dropped(dropped);
                false
            }
        };
        self.traffic.queue_length(self.tx.len());
        kept
    }

    /// Queues a control frame; never drops it.
    pub fn push_control(&self, frame: Bytes) -> Result<(), Overflow> {
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let result = match self.tx.try_send(frame) {
            // A gone writer means the client is on its way out; nothing to do.
            Ok(()) | Err(TrySendError::Disconnected(_)) => Ok(()),
            Err(TrySendError::Full(_)) => Err(Overflow),
        };
        self.traffic.queue_length(self.tx.len());
        result
    }

    pub fn stats(&self) -> &OutboxStats {
        &self.stats
    }

    /// True if both are the same queue.
    pub fn same_as(&self, other: &Outbox) -> bool {
        Arc::ptr_eq(&self.stats, &other.stats)
    }
}

/// Frames written with one system call at most; well under every IOV_MAX.
const MAX_BATCH: usize = 64;

/// Drains `queue` into `stream` until every `Outbox` of it is gone or the socket
/// fails, then shuts the socket down so its reader wakes up too.
///
/// Frames queued together go out in one vectored write straight from their
/// shared buffers: nothing is copied per receiver, and a burst costs one
/// system call instead of one per frame.
pub fn run_writer(stream: TcpStream, queue: Receiver<Bytes>, stats: &ServerStats) {
    let mut out = &stream;
    let mut batch: Vec<Bytes> = Vec::with_capacity(MAX_BATCH);
    let result = (|| -> std::io::Result<()> {
        while let Ok(frame) = queue.recv() {
            batch.push(frame);
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            write_all_vectored(&mut out, &batch)?;
            count_sent(&batch, stats);
            batch.clear();
        }
        Ok(())
    })();
    if let Err(err) = result {
        tracing::debug!("writer stopped: {err}");
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Counts written frames by their own type: a media socket carries a control
/// event or two besides its media.
fn count_sent(batch: &[Bytes], stats: &ServerStats) {
    let mut media = [(0, 0); 2];
    for frame in batch {
        match frame.first().copied().and_then(FrameKind::from_byte) {
            Some(FrameKind::Video) => {
                media[0].0 += 1;
                media[0].1 += frame.len();
            }
            Some(FrameKind::Audio) => {
                media[1].0 += 1;
                media[1].1 += frame.len();
            }
            _ => stats.traffic(FrameKind::Control).sent(1, frame.len()),
        }
    }
    for ((frames, bytes), kind) in media.into_iter().zip([FrameKind::Video, FrameKind::Audio]) {
        if frames > 0 {
            stats.traffic(kind).sent(frames, bytes);
        }
    }
}

/// Writes every frame of `frames` (at most `MAX_BATCH`) in order.
fn write_all_vectored(out: &mut impl Write, frames: &[Bytes]) -> std::io::Result<()> {
    let mut slices = [IoSlice::new(&[]); MAX_BATCH];
    let count = frames.len().min(MAX_BATCH);
    for (slice, frame) in slices.iter_mut().zip(frames) {
        *slice = IoSlice::new(frame);
    }
    let mut pending = &mut slices[..count];
    while !pending.is_empty() {
        match out.write_vectored(pending) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut pending, written),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_media_queue_keeps_the_newest_frames() {
        let (outbox, rx) = Outbox::new(2, Arc::default());
        for n in 0u8..5 {
            outbox.push_media(Bytes::from(vec![n]));
        }
        let kept: Vec<u8> = rx.try_iter().map(|b| b[0]).collect();
        assert_eq!(kept, vec![3, 4]);
        assert_eq!(outbox.stats().dropped.load(Ordering::Relaxed), 3);
    }

    /// Accepts at most `limit` bytes per call, like a socket with a full buffer.
    struct Trickle {
        written: Vec<u8>,
        limit: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.limit);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
            let mut room = self.limit;
            for buf in bufs {
                let n = buf.len().min(room);
                self.written.extend_from_slice(&buf[..n]);
                room -= n;
                if room == 0 {
                    break;
                }
            }
            Ok(self.limit - room)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn vectored_writes_survive_partial_writes_in_order() {
        let frames: Vec<Bytes> = (0u8..10)
            .map(|n| Bytes::from(vec![n; 1 + n as usize * 7]))
            .collect();
        let expected: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        let mut out = Trickle {
            written: Vec::new(),
            limit: 13,
        };
        write_all_vectored(&mut out, &frames).expect("writes");
        assert_eq!(out.written, expected);
    }

    #[test]
    fn full_control_queue_reports_overflow_and_drops_nothing() {
        let (outbox, rx) = Outbox::new(2, Arc::default());
        assert!(outbox.push_control(Bytes::from_static(b"a")).is_ok());
        assert!(outbox.push_control(Bytes::from_static(b"b")).is_ok());
        assert!(outbox.push_control(Bytes::from_static(b"c")).is_err());
        let kept: Vec<Bytes> = rx.try_iter().collect();
        assert_eq!(
            kept,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
    }
}
