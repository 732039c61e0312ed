//! Everything that leaves the server for one socket goes through an `Outbox`: a
//! bounded queue drained by that socket's own writer thread, so a receiver that
//! stops reading only ever blocks its own writer.
//!
//! Media that does not fit is dropped oldest-first (the newest frame is the one
//! worth showing) and counted. Control messages are never dropped. A control
//! queue past its capacity is not by itself a reason to disconnect: a burst
//! (another member's flood of chat) can fill an honest reader's queue faster
//! than one write drains it. Only a client whose writer makes no progress for
//! `CONTROL_STALL` while its queue is full, or whose queue reaches
//! `CONTROL_HARD_LIMIT` times its capacity, overflows; then `push_control`
//! says so and the registry disconnects that client.
//!
//! Fast path: when a media socket's queue is empty and nobody is writing to
//! it, `push_media` writes the frame itself, without blocking (MSG_DONTWAIT).
//! At conference rates that is nearly every frame, and it saves waking the
//! writer thread, two context switches per frame and receiver. Whatever the
//! socket does not take at once goes to the writer as before, in order. On a
//! TLS socket the frame is sealed first, and what the socket did not take is
//! the writer's to send as it is (sealed records cannot be taken back).

use crate::stats::{ServerStats, TrafficCounters};
use bytes::Bytes;
use common::{FrameKind, PerKind};
use std::collections::VecDeque;
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use transport::{Socket, Unsent};

/// A writer that has written nothing for this long, with a full control
/// queue, belongs to a client that is not reading.
pub const CONTROL_STALL: Duration = Duration::from_secs(5);
/// A control queue never holds more than this many times its capacity, even
/// for a client that reads (memory is finite; so is a reader's patience).
pub const CONTROL_HARD_LIMIT: usize = 16;

/// Counters of one outbox, readable while it runs.
#[derive(Default, Debug)]
pub struct OutboxStats {
    pub queued: AtomicU64,
    pub dropped: AtomicU64,
}

/// The queue itself. A plain mutex and condition variable, rather than a
/// channel: the writer takes everything queued in one lock, and waiting for
/// work parks at once (a channel's receive spins and yields first, which cost
/// a third of the server's CPU at 30 frames per second).
struct Queue {
    frames: VecDeque<Bytes>,
    capacity: usize,
    /// Live `Outbox` handles; at zero the writer finishes what is queued and ends.
    outboxes: usize,
    /// The writer has stopped (its socket failed): new frames go nowhere.
    writer_gone: bool,
    writer_waiting: bool,
    /// The writer, or a pusher on the fast path, is writing to the socket
    /// now; nobody else may.
    writer_writing: bool,
    pusher_writing: bool,
    /// The unwritten rest of a frame the fast path started (on a TLS socket,
    /// sealed): written first, as it is, never dropped (the receiver
    /// already has its beginning, or the connection its sequence number).
    partial: Option<Bytes>,
    /// When the writer last finished a batch (or started): a writer that is
    /// writing and has not finished for long is stuck on a full socket.
    last_progress: Instant,
}

impl Queue {
    fn has_work(&self) -> bool {
        !self.frames.is_empty() || self.partial.is_some()
    }
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    stats: OutboxStats,
    /// The server-wide counters of this queue's frame type.
    traffic: Arc<TrafficCounters>,
    /// The socket, for the fast path (media sockets only).
    direct: Option<Socket>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic elsewhere must not take the other sockets down with it.
        common::sync::lock(&self.queue)
    }
}

/// The sending side of one socket's queue; cheap to clone.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The writer's side of the queue.
pub struct WriterQueue {
    shared: Arc<Shared>,
}

/// The control queue of a client is full: it is not reading its events.
#[derive(Debug)]
pub struct Overflow;

impl Outbox {
    /// A queue of `capacity` frames and the side its writer thread drains.
    pub fn new(capacity: usize, traffic: Arc<TrafficCounters>) -> (Outbox, WriterQueue) {
        Outbox::with_direct(capacity, traffic, None)
    }

    /// The same, with `socket` for `push_media` to write to directly when the
    /// queue is idle.
    pub fn with_direct(
        capacity: usize,
        traffic: Arc<TrafficCounters>,
        socket: Option<Socket>,
    ) -> (Outbox, WriterQueue) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                frames: VecDeque::with_capacity(capacity.clamp(1, 64)),
                capacity: capacity.max(1),
                outboxes: 1,
                writer_gone: false,
                writer_waiting: false,
                writer_writing: false,
                pusher_writing: false,
                partial: None,
                last_progress: Instant::now(),
            }),
            ready: Condvar::new(),
            stats: OutboxStats::default(),
            traffic,
            direct: socket,
        });
        (
            Outbox {
                shared: shared.clone(),
            },
            WriterQueue { shared },
        )
    }

    /// Queues a frame for the writer; wakes it if it waits.
    fn push(&self, frame: Bytes, queue: &mut Queue) {
        queue.frames.push_back(frame);
        self.shared.traffic.queue_length(queue.frames.len());
        self.wake_writer(queue);
    }

    fn wake_writer(&self, queue: &mut Queue) {
        if queue.writer_waiting && queue.has_work() && !queue.pusher_writing {
            queue.writer_waiting = false;
            self.shared.ready.notify_one();
        }
    }

    /// The socket, if the fast path may write to it now: a media socket
    /// with nothing queued and nobody writing.
    fn idle_socket(&self, queue: &Queue) -> Option<&Socket> {
        let busy = queue.has_work() || queue.writer_writing || queue.pusher_writing;
        self.shared.direct.as_ref().filter(|_| !busy)
    }

    /// The fast path: writes `frame` to an idle `socket` without blocking;
    /// what the socket does not take goes to the writer.
    fn write_direct(&self, frame: Bytes, socket: &Socket, mut queue: MutexGuard<'_, Queue>) {
        queue.pusher_writing = true;
        drop(queue);
        let unsent = socket.try_send(&frame);
        let mut queue = self.shared.lock();
        queue.pusher_writing = false;
        let started = match unsent {
            Ok(Unsent::Nothing) => None,
            Ok(Unsent::FrameFrom(n)) => Some(frame.slice(n..)),
            Ok(Unsent::Sealed(rest)) => Some(Bytes::from(rest)),
            // Would block, or failed: the writer takes it from here, and
            // meets the error itself if there is one.
            Ok(Unsent::Frame) | Err(_) => {
                queue.frames.push_front(frame);
                self.wake_writer(&mut queue);
                return;
            }
        };
        self.shared.traffic.sent(1, frame.len());
        queue.partial = started;
        self.wake_writer(&mut queue);
    }

    /// Queues a media frame, dropping the oldest queued frame if there is no room.
    /// Returns false if a frame was dropped.
    pub fn push_media(&self, frame: Bytes) -> bool {
        self.shared.stats.queued.fetch_add(1, Ordering::Relaxed);
        let mut queue = self.shared.lock();
        if queue.writer_gone {
            return true;
        }
        if let Some(socket) = self.idle_socket(&queue) {
            self.write_direct(frame, socket, queue);
            return true;
        }
        let full = queue.frames.len() >= queue.capacity;
        if full {
            // Only media is ever dropped: a control event (a media socket's
            // `attached` or error) in the queue stays where it is.
            let oldest_media = queue.frames.iter().position(|f| {
                f.first()
                    .is_some_and(|&kind| kind != FrameKind::Control.byte())
            });
            self.shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.shared.traffic.dropped(1);
            match oldest_media {
                Some(at) => drop(queue.frames.remove(at)),
                None => return false, // a queue full of events: this frame goes
            }
        }
        self.push(frame, &mut queue);
        !full
    }

    /// Queues a control frame; never drops it.
    pub fn push_control(&self, frame: Bytes) -> Result<(), Overflow> {
        self.shared.stats.queued.fetch_add(1, Ordering::Relaxed);
        let mut queue = self.shared.lock();
        // A gone writer means the client is on its way out; nothing to do.
        if queue.writer_gone {
            return Ok(());
        }
        let queued = queue.frames.len();
        let stalled = queue.writer_writing && queue.last_progress.elapsed() >= CONTROL_STALL;
        if queued >= queue.capacity.saturating_mul(CONTROL_HARD_LIMIT)
            || (queued >= queue.capacity && stalled)
        {
            return Err(Overflow);
        }
        self.push(frame, &mut queue);
        Ok(())
    }

    /// Frames waiting now, and the queue's capacity.
    pub fn backlog(&self) -> (usize, usize) {
        let queue = self.shared.lock();
        (queue.frames.len(), queue.capacity)
    }

    pub fn stats(&self) -> &OutboxStats {
        &self.shared.stats
    }

    /// True if both are the same queue.
    pub fn same_as(&self, other: &Outbox) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Outbox {
        self.shared.lock().outboxes += 1;
        Outbox {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut queue = self.shared.lock();
        queue.outboxes -= 1;
        if queue.outboxes == 0 {
            self.shared.ready.notify_one();
        }
    }
}

impl WriterQueue {
    /// Moves the rest of a started frame (if any) and up to `max` queued
    /// frames into `batch`, waiting while there are none or the fast path is
    /// writing. Returns how many of the batch are the rest of a frame (0 or 1),
    /// or None once the queue is empty and every `Outbox` is gone.
    ///
    /// The socket is the writer's until its next call.
    pub fn next_batch(&self, batch: &mut Vec<Bytes>, max: usize) -> Option<usize> {
        let mut queue = self.shared.lock();
        if queue.writer_writing {
            // The last batch is written: the reader is keeping up.
            queue.last_progress = Instant::now();
        }
        queue.writer_writing = false;
        while !queue.has_work() || queue.pusher_writing {
            if queue.outboxes == 0 && !queue.has_work() {
                return None;
            }
            queue.writer_waiting = true;
            queue = self
                .shared
                .ready
                .wait(queue)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        queue.writer_writing = true;
        let partial = queue.partial.take();
        let rests = usize::from(partial.is_some());
        batch.extend(partial);
        let take = queue.frames.len().min(max);
        batch.extend(queue.frames.drain(..take));
        Some(rests)
    }

    /// Everything queued now, without waiting (for tests and inspection).
    pub fn take_all(&self) -> Vec<Bytes> {
        self.shared.lock().frames.drain(..).collect()
    }
}

impl Drop for WriterQueue {
    fn drop(&mut self) {
        let mut queue = self.shared.lock();
        queue.writer_gone = true;
        queue.frames.clear();
    }
}

/// Frames taken from the queue at a time: one vectored write on a plain
/// socket, well under every IOV_MAX.
const MAX_BATCH: usize = 64;

/// Drains `queue` into `socket` until every `Outbox` of it is gone or the
/// socket fails, then shuts the socket down so its reader wakes up too.
///
/// Frames queued together go out in one vectored write straight from their
/// shared buffers (or, with TLS, sealed together): nothing is copied per
/// receiver in plain TCP, and a burst costs one system call instead of one
/// per frame.
pub fn run_writer(socket: Socket, queue: WriterQueue, stats: &ServerStats) {
    let mut batch: Vec<Bytes> = Vec::with_capacity(MAX_BATCH);
    let result = (|| -> std::io::Result<()> {
        while let Some(rests) = queue.next_batch(&mut batch, MAX_BATCH - 1) {
            socket.write_frames(rests, &batch)?;
            // The rest of a frame was counted when its start was written.
            count_sent(&batch[rests..], stats);
            batch.clear();
        }
        Ok(())
    })();
    match result {
        // Everything was said: say goodbye in TLS too, so the peer can tell
        // an end from a cut.
        Ok(()) => socket.close_notify(),
        Err(err) => tracing::debug!("writer stopped: {err}"),
    }
    drop(queue);
    let _ = socket.shutdown(Shutdown::Both);
}

/// Counts written frames by their own type: a media socket carries a control
/// event or two besides its media.
fn count_sent(batch: &[Bytes], stats: &ServerStats) {
    let mut media: PerKind<(usize, usize)> = PerKind::default();
    for frame in batch {
        match frame.first().copied().and_then(FrameKind::from_byte) {
            Some(FrameKind::Media(kind)) => {
                media[kind].0 += 1;
                media[kind].1 += frame.len();
            }
            _ => stats.traffic(FrameKind::Control).sent(1, frame.len()),
        }
    }
    for (kind, (frames, bytes)) in media {
        if frames > 0 {
            stats.traffic(FrameKind::Media(kind)).sent(frames, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(n: u8) -> Bytes {
        Bytes::from(vec![FrameKind::Media(common::MediaKind::Video).byte(), n])
    }

    #[test]
    fn full_media_queue_keeps_the_newest_frames() {
        let (outbox, queue) = Outbox::new(2, Arc::default());
        for n in 0u8..5 {
            outbox.push_media(video(n));
        }
        let kept: Vec<u8> = queue.take_all().iter().map(|b| b[1]).collect();
        assert_eq!(kept, vec![3, 4]);
        assert_eq!(outbox.stats().dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn an_event_on_a_media_socket_is_never_dropped_for_media() {
        let traffic = Arc::new(TrafficCounters::default());
        let (outbox, queue) = Outbox::new(2, traffic.clone());
        let event = Bytes::from_static(&[common::protocol::CONTROL_FRAME_TYPE, b'e']);
        outbox.push_control(event.clone()).expect("room");
        for n in 0u8..3 {
            outbox.push_media(video(n));
        }
        assert_eq!(queue.take_all(), vec![event, video(2)]);
        assert_eq!(outbox.stats().dropped.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_writer_wakes_for_frames_and_ends_when_every_outbox_is_gone() {
        let (outbox, queue) = Outbox::new(8, Arc::default());
        let writer = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut batch = Vec::new();
            while queue.next_batch(&mut batch, 4).is_some() {
                seen.extend(batch.drain(..).map(|b| b[1]));
            }
            seen
        });
        let other = outbox.clone();
        for n in 0u8..6 {
            outbox.push_media(video(n));
        }
        drop(outbox);
        other.push_media(video(6));
        drop(other);
        let seen = writer.join().expect("writer ends");
        assert_eq!(seen, (0u8..7).collect::<Vec<_>>());
    }

    /// A connected pair of loopback sockets.
    fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connects");
        let (server, _) = listener.accept().expect("accepts");
        (server, client)
    }

    fn socket_pair() -> (Socket, Socket) {
        let (server, client) = tcp_pair();
        (Socket::plain(server), Socket::plain(client))
    }

    /// The same over TLS: the server's end and the client's.
    fn tls_pair() -> (Socket, Socket) {
        let dir = tempfile::tempdir().expect("temp dir");
        let identity =
            Arc::new(transport::ServerIdentity::load_or_create(dir.path()).expect("identity"));
        let (server, client) = tcp_pair();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let accepting = std::thread::spawn(move || identity.accept(server, deadline));
        let (client, _) =
            transport::connect(client, "127.0.0.1", None, deadline).expect("client handshake");
        let server = accepting
            .join()
            .expect("no panic")
            .expect("server handshake");
        (server, client)
    }

    fn media_frame(sequence: u32, len: usize) -> Bytes {
        let mut frame = vec![FrameKind::Media(common::MediaKind::Video).byte()];
        frame.extend_from_slice(&(len as u32 + 4).to_be_bytes());
        frame.extend_from_slice(&sequence.to_be_bytes());
        frame.resize(5 + 4 + len, (sequence % 251) as u8);
        Bytes::from(frame)
    }

    #[test]
    fn an_idle_socket_is_written_directly_without_the_writer() {
        let (socket, mut peer) = socket_pair();
        let (outbox, _queue) = Outbox::with_direct(4, Arc::default(), Some(socket));
        let frame = media_frame(7, 100);
        assert!(outbox.push_media(frame.clone()));
        let mut got = vec![0u8; frame.len()];
        std::io::Read::read_exact(&mut peer, &mut got).expect("arrives with no writer running");
        assert_eq!(got, frame);
    }

    #[test]
    fn a_full_socket_hands_over_to_the_writer_with_frames_whole_and_in_order() {
        a_full_socket_hands_over_to_the_writer(socket_pair());
    }

    #[test]
    fn a_full_tls_socket_hands_over_its_sealed_rest_to_the_writer() {
        a_full_socket_hands_over_to_the_writer(tls_pair());
    }

    fn a_full_socket_hands_over_to_the_writer((socket, peer): (Socket, Socket)) {
        let writer_socket = socket.try_clone().expect("clone");
        let traffic = Arc::new(TrafficCounters::default());
        let (outbox, queue) = Outbox::with_direct(16, traffic.clone(), Some(socket));
        // Nobody reads yet: the socket fills, a frame is cut short, and the
        // rest queue up (the oldest dropped).
        const FRAMES: u32 = 400;
        for sequence in 0..FRAMES {
            outbox.push_media(media_frame(sequence, 60_000));
        }
        let stats = Arc::new(ServerStats::default());
        let writer_stats = stats.clone();
        let writer = std::thread::spawn(move || run_writer(writer_socket, queue, &writer_stats));
        drop(outbox);
        let mut reader =
            common::FrameReader::new(peer, &[FrameKind::Media(common::MediaKind::Video)]);
        let mut sequences = Vec::new();
        while let Some(frame) = reader.read_frame().expect("whole frames only") {
            let payload = frame.payload();
            assert_eq!(payload.len(), 60_004);
            let sequence = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            assert!(payload[4..].iter().all(|&b| b == (sequence % 251) as u8));
            sequences.push(sequence);
        }
        writer.join().expect("writer ends");
        assert!(sequences.windows(2).all(|w| w[0] < w[1]), "in order");
        assert_eq!(sequences.last(), Some(&(FRAMES - 1)), "the newest arrives");
        assert!(sequences.len() < FRAMES as usize, "some were dropped");
        let direct = traffic.snapshot().frames_out;
        let by_writer = stats.report(0, 0).media[common::MediaKind::Video].frames_out;
        assert_eq!(
            direct + by_writer,
            sequences.len() as u64,
            "each frame counted once"
        );
        assert_eq!(
            traffic.snapshot().dropped + sequences.len() as u64,
            u64::from(FRAMES)
        );
    }

    #[test]
    fn frames_for_a_gone_writer_go_nowhere() {
        let (outbox, queue) = Outbox::new(1, Arc::default());
        drop(queue);
        for n in 0u8..3 {
            assert!(outbox.push_media(video(n)));
        }
        assert!(
            outbox.push_control(video(9)).is_ok(),
            "no overflow: the client is leaving"
        );
    }

    #[test]
    fn a_full_control_queue_overflows_only_when_its_writer_is_stuck_or_at_the_hard_limit() {
        let (outbox, queue) = Outbox::new(2, Arc::default());
        // A burst past capacity while the writer keeps up: kept, not refused.
        for n in 0..2 * CONTROL_HARD_LIMIT {
            assert!(
                outbox.push_control(Bytes::from(vec![n as u8])).is_ok(),
                "{n}"
            );
        }
        assert!(
            outbox.push_control(Bytes::from_static(b"x")).is_err(),
            "the hard limit holds"
        );
        let kept = queue.take_all();
        assert_eq!(kept.len(), 2 * CONTROL_HARD_LIMIT, "nothing dropped");

        // A writer stuck in a write for CONTROL_STALL: full means overflow.
        let mut batch = Vec::new();
        outbox.push_control(Bytes::from_static(b"a")).expect("room");
        assert_eq!(queue.next_batch(&mut batch, 1), Some(0));
        for event in [b"b", b"c"] {
            outbox
                .push_control(Bytes::from_static(event))
                .expect("room");
        }
        assert!(
            outbox.push_control(Bytes::from_static(b"d")).is_ok(),
            "not stuck yet"
        );
        if let Some(long_ago) = Instant::now().checked_sub(CONTROL_STALL) {
            outbox.shared.lock().last_progress = long_ago;
        }
        assert!(outbox.push_control(Bytes::from_static(b"e")).is_err());
    }
}
