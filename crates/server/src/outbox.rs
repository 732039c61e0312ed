//! Everything that leaves the server for one socket goes through an `Outbox`: a
//! bounded queue drained by that socket's own writer thread, so a receiver that
//! stops reading only ever blocks its own writer.
//!
//! Media that does not fit is dropped oldest-first (the newest frame is the one
//! worth showing) and counted. Control messages are never dropped: if one does
//! not fit, `push_control` says so and the registry disconnects that client.

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::io::{BufWriter, Write};
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
}

/// The control queue of a client is full: it is not reading its events.
#[derive(Debug)]
pub struct Overflow;

impl Outbox {
    /// A queue of `capacity` frames and the receiver its writer thread drains.
    pub fn new(capacity: usize) -> (Outbox, Receiver<Bytes>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        let outbox = Outbox {
            tx,
            rx: rx.clone(),
            stats: Arc::default(),
        };
        (outbox, rx)
    }

    /// Queues a media frame, dropping the oldest queued frame if there is no room.
    /// Returns false if a frame was dropped.
    pub fn push_media(&self, frame: Bytes) -> bool {
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(frame) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => true,
            Err(TrySendError::Full(frame)) => {
                let _oldest = self.rx.try_recv();
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                if self.tx.try_send(frame).is_err() {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                false
            }
        }
    }

    /// Queues a control frame; never drops it.
    pub fn push_control(&self, frame: Bytes) -> Result<(), Overflow> {
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(frame) {
            // A gone writer means the client is on its way out; nothing to do.
            Ok(()) | Err(TrySendError::Disconnected(_)) => Ok(()),
            Err(TrySendError::Full(_)) => Err(Overflow),
        }
    }

    pub fn stats(&self) -> &OutboxStats {
        &self.stats
    }

    /// True if both are the same queue.
    pub fn same_as(&self, other: &Outbox) -> bool {
        Arc::ptr_eq(&self.stats, &other.stats)
    }
}

/// Drains `queue` into `stream` until every `Outbox` of it is gone or the socket
/// fails, then shuts the socket down so its reader wakes up too. Frames queued
/// together are written with one flush.
pub fn run_writer(stream: TcpStream, queue: Receiver<Bytes>) {
    let closer = stream.try_clone();
    let mut out = BufWriter::with_capacity(64 * 1024, stream);
    let result = (|| -> std::io::Result<()> {
        while let Ok(frame) = queue.recv() {
            out.write_all(&frame)?;
            while let Ok(more) = queue.try_recv() {
                out.write_all(&more)?;
            }
            out.flush()?;
        }
        Ok(())
    })();
    if let Err(err) = result {
        tracing::debug!("writer stopped: {err}");
    }
    if let Ok(stream) = closer {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_media_queue_keeps_the_newest_frames() {
        let (outbox, rx) = Outbox::new(2);
        for n in 0u8..5 {
            outbox.push_media(Bytes::from(vec![n]));
        }
        let kept: Vec<u8> = rx.try_iter().map(|b| b[0]).collect();
        assert_eq!(kept, vec![3, 4]);
        assert_eq!(outbox.stats().dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn full_control_queue_reports_overflow_and_drops_nothing() {
        let (outbox, rx) = Outbox::new(2);
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
