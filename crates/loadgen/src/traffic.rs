//! The sending and receiving loops of simulated members, and what they share.
//!
//! A sender writes one reused frame buffer, patching in its sequence number,
//! its send time (microseconds since the run started, on the one clock of this
//! process) and two check words derived from its id and the sequence, so a
//! receiver can tell a corrupt or misattributed frame from a good one. The
//! header's sender field goes out as 0, as a client's does, or with
//! turn-taking (`talk`) as the frame's voice and level: either way only the
//! server's stamp can make the check words match.
//!
//! A receiver reads big chunks into one buffer and looks at frames in place,
//! so loadgen, which shares the machine with the server, spends its CPU on
//! system calls rather than copies.

use crate::payload::PayloadSizes;
use crate::scenario::CHECK_BYTES;
use crate::talk::{Utterance, Voice};
use crate::tally::{Arrival, SequenceTracker, Tally};
use common::protocol::FRAME_HEADER_LEN;
use common::{ClientId, FrameKind, MediaHeader, MediaKind, PerKind};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};
use transport::Socket;

/// How long a closed-loop sender waits for a frame that may have been dropped
/// before it gives up on it and sends on.
const WINDOW_STALL: Duration = Duration::from_millis(250);

/// Who is who, and the progress every thread can see.
pub struct Shared {
    start: Instant,
    members: usize,
    meeting_of: Vec<usize>,
    server_of: Vec<usize>,
    slow: Vec<bool>,
    index_of: HashMap<ClientId, usize>,
    ids: Vec<ClientId>,
    payload: PerKind<PayloadSizes>,
    window: Option<u32>,
    /// Per (kind, sender, receiver): frames through, for the window.
    acked: Vec<AtomicU32>,
    /// Per (kind, sender): the sending thread, woken when its frames arrive.
    senders: Vec<OnceLock<Thread>>,
    /// Frames delivered to members that keep up (the drain waits for these,
    /// and the throughput is measured to the last of them).
    delivered: AtomicU64,
    last_delivery_us: AtomicU64,
    stopping: AtomicBool,
}

/// One member as the traffic loops see it.
pub struct Peer {
    pub id: ClientId,
    pub meeting: usize,
    /// Its place in its meeting (0 created it).
    pub slot: usize,
    /// The server it is connected to.
    pub server: usize,
    pub slow: bool,
}

impl Shared {
    pub fn new(peers: &[Peer], payload: PerKind<PayloadSizes>, window: Option<u32>) -> Shared {
        let members = peers.len();
        Shared {
            start: Instant::now(),
            members,
            meeting_of: peers.iter().map(|p| p.meeting).collect(),
            server_of: peers.iter().map(|p| p.server).collect(),
            slow: peers.iter().map(|p| p.slow).collect(),
            index_of: peers.iter().enumerate().map(|(i, p)| (p.id, i)).collect(),
            ids: peers.iter().map(|p| p.id).collect(),
            payload,
            window,
            acked: (0..MediaKind::COUNT * members * members)
                .map(|_| AtomicU32::new(0))
                .collect(),
            senders: (0..MediaKind::COUNT * members)
                .map(|_| OnceLock::new())
                .collect(),
            delivered: AtomicU64::new(0),
            last_delivery_us: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// `at` as a time since the run started.
    pub fn since_start(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.start)
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// When the last frame arrived, in microseconds since the start.
    pub fn last_delivery_us(&self) -> u64 {
        self.last_delivery_us.load(Ordering::Relaxed)
    }

    /// From now on, a socket that ends is the run ending, not a failure.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn acked(&self, kind: MediaKind, sender: usize, receiver: usize) -> &AtomicU32 {
        &self.acked[(kind.index() * self.members + sender) * self.members + receiver]
    }

    fn sender_thread(&self, kind: MediaKind, sender: usize) -> &OnceLock<Thread> {
        &self.senders[kind.index() * self.members + sender]
    }

    /// True once frame `sequence - window` reached every member of the
    /// sender's meeting that keeps up.
    fn window_open(&self, kind: MediaKind, sender: usize, sequence: u32, window: u32) -> bool {
        let Some(needed) = sequence.checked_sub(window).map(|s| s + 1) else {
            return true;
        };
        (0..self.members)
            .filter(|&r| {
                r != sender && self.meeting_of[r] == self.meeting_of[sender] && !self.slow[r]
            })
            .all(|r| self.acked(kind, sender, r).load(Ordering::Acquire) >= needed)
    }
}

/// A frame's two check words: a function of who sent it, what and which.
fn check_word(sender: ClientId, kind: MediaKind, sequence: u32) -> [u8; 8] {
    // splitmix64: every input bit changes about half the output bits.
    let mut z = (u64::from(sender.0) << 33) ^ ((kind.index() as u64) << 32) ^ u64::from(sequence);
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).to_be_bytes()
}

/// What one sending socket sent.
#[derive(Default, Debug, Clone)]
pub struct Sent {
    pub frames: u64,
    pub bytes: u64,
    /// Closed loop only: frames the window waited for in vain (dropped somewhere).
    pub window_stalls: u64,
    /// With turn-taking: its frames by what they said.
    pub talk: TalkCounts,
    pub error: Option<String>,
}

/// Audio frames sent with turn-taking, by what they said.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TalkCounts {
    pub voiced: u64,
    /// Last frames of talk spurts (no voice).
    pub ends: u64,
    pub keep_alives: u64,
}

impl TalkCounts {
    fn count(&mut self, utterance: Utterance) {
        match utterance {
            Utterance::Voiced => self.voiced += 1,
            Utterance::End => self.ends += 1,
            Utterance::KeepAlive => self.keep_alives += 1,
        }
    }

    pub fn add(&mut self, other: &TalkCounts) {
        self.voiced += other.voiced;
        self.ends += other.ends;
        self.keep_alives += other.keep_alives;
    }
}

/// How one member sends one kind of media.
pub struct SendPlan {
    pub kind: MediaKind,
    pub member: usize,
    /// None: as fast as the socket (or the window) allows.
    pub period: Option<Duration>,
    /// The first frame waits this long, so members do not all send at once.
    pub phase: Duration,
    pub stop_at: Instant,
    /// Turn-taking audio: which ticks of `period` carry a frame, and what
    /// it says. None: every tick, with no level.
    pub voice: Option<Voice>,
}

pub fn send_loop(mut stream: Socket, mut plan: SendPlan, shared: &Shared) -> Sent {
    let (kind, me) = (plan.kind, plan.member);
    let _ = shared.sender_thread(kind, me).set(std::thread::current());
    let sizes = shared.payload[kind];
    let mut frame: Vec<u8> = (0..FRAME_HEADER_LEN + sizes.largest())
        .map(|i| (i % 251) as u8)
        .collect();
    frame[0] = FrameKind::from(kind).byte();
    let body = FRAME_HEADER_LEN + MediaHeader::LEN;
    let id = shared.ids[me];
    let mut voice = plan.voice.take();

    let mut sent = Sent::default();
    let mut due = Instant::now() + plan.phase;
    let mut sequence = 0u32;
    loop {
        let mut utterance = None;
        if let Some(period) = plan.period {
            if let Some(voice) = &mut voice {
                // Skip the ticks at which the member says nothing.
                while due < plan.stop_at {
                    utterance = voice.at(shared.since_start(due));
                    if utterance.is_some() {
                        break;
                    }
                    due += period;
                }
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            } else if now - due > period {
                due = now; // fell behind: go on from here rather than burst
            }
            due += period;
        }
        if Instant::now() >= plan.stop_at {
            break;
        }
        if let Some(window) = shared.window {
            match wait_for_window(shared, &plan, sequence, window) {
                WindowWait::Open => {}
                WindowWait::Stalled => sent.window_stalls += 1,
                WindowWait::Stopped => break,
            }
        }
        let payload = sizes.of(sequence);
        let len = FRAME_HEADER_LEN + payload;
        frame[1..FRAME_HEADER_LEN].copy_from_slice(&(payload as u32).to_be_bytes());
        let header = MediaHeader {
            // The server puts the sender's id here.
            sender: ClientId(utterance.map_or(0, |u| u.level().to_sender_field())),
            sequence,
            timestamp_us: shared.now_us(),
        };
        frame[FRAME_HEADER_LEN..body].copy_from_slice(&header.encode());
        let check = check_word(id, kind, sequence);
        frame[body..body + 8].copy_from_slice(&check);
        frame[len - CHECK_BYTES / 2..len].copy_from_slice(&check);
        if let Err(err) = stream.write_all(&frame[..len]) {
            sent.error = Some(format!("{kind} send failed: {err}"));
            break;
        }
        sent.frames += 1;
        sent.bytes += len as u64;
        if let Some(utterance) = utterance {
            sent.talk.count(utterance);
        }
        sequence += 1;
    }
    sent
}

enum WindowWait {
    Open,
    Stalled,
    Stopped,
}

fn wait_for_window(shared: &Shared, plan: &SendPlan, sequence: u32, window: u32) -> WindowWait {
    let started = Instant::now();
    loop {
        if shared.window_open(plan.kind, plan.member, sequence, window) {
            return WindowWait::Open;
        }
        let now = Instant::now();
        if now >= plan.stop_at {
            return WindowWait::Stopped;
        }
        if now - started > WINDOW_STALL {
            return WindowWait::Stalled;
        }
        // Receivers unpark this thread when its frames arrive.
        std::thread::park_timeout(Duration::from_millis(5));
    }
}

/// A reader that delivers at most `rate` bytes per second: a slow member.
struct Throttled {
    inner: Socket,
    rate: Option<f64>,
    started: Instant,
    consumed: u64,
}

impl Read for Throttled {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(rate) = self.rate else {
            return self.inner.read(buf);
        };
        let allowed_at = self.started + Duration::from_secs_f64(self.consumed as f64 / rate);
        let now = Instant::now();
        if allowed_at > now {
            std::thread::sleep(allowed_at - now);
        }
        let limit = buf.len().min(16 * 1024);
        let n = self.inner.read(&mut buf[..limit])?;
        self.consumed += n as u64;
        Ok(n)
    }
}

/// Finds whole frames in a stream, in place in one growing buffer.
pub struct Scanner {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Scanner {
    pub fn new(capacity: usize) -> Scanner {
        Scanner {
            buf: vec![0; capacity.max(FRAME_HEADER_LEN)],
            start: 0,
            end: 0,
        }
    }

    /// The next whole frame (header included) as a range of `bytes()`;
    /// `Ok(None)` when the stream ends between frames.
    pub fn next_frame(&mut self, source: &mut impl Read) -> std::io::Result<Option<Range<usize>>> {
        loop {
            let available = self.end - self.start;
            let mut needed = FRAME_HEADER_LEN;
            if available >= FRAME_HEADER_LEN {
                let mut len = [0u8; 4];
                len.copy_from_slice(&self.buf[self.start + 1..self.start + FRAME_HEADER_LEN]);
                needed = FRAME_HEADER_LEN + u32::from_be_bytes(len) as usize;
                if available >= needed {
                    let frame = self.start..self.start + needed;
                    self.start += needed;
                    return Ok(Some(frame));
                }
            }
            if self.start == self.end {
                (self.start, self.end) = (0, 0);
            } else if self.buf.len() - self.start < needed.max(self.buf.len() / 2) {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, available);
            }
            if self.buf.len() < needed {
                self.buf.resize(needed, 0);
            }
            let n = loop {
                match source.read(&mut self.buf[self.end..]) {
                    Err(err) if err.kind() == ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            if n == 0 {
                return match available {
                    0 => Ok(None),
                    _ => Err(ErrorKind::UnexpectedEof.into()),
                };
            }
            self.end += n;
        }
    }

    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }
}

/// Receives one media socket of member `me` until the run stops it.
pub fn receive_loop(
    stream: Socket,
    kind: MediaKind,
    me: usize,
    rate: Option<f64>,
    shared: &Shared,
) -> Tally {
    let mut source = Throttled {
        inner: stream,
        rate,
        started: Instant::now(),
        consumed: 0,
    };
    let mut scanner = Scanner::new(512 * 1024);
    let mut trackers = vec![SequenceTracker::default(); shared.members];
    let sizes = shared.payload[kind];
    let mut tally = Tally::default();
    loop {
        let range = match scanner.next_frame(&mut source) {
            Ok(Some(range)) => range,
            Ok(None) => {
                if !shared.stopping() {
                    tally.ended_early =
                        Some(format!("the server closed member {me}'s {kind} socket"));
                }
                break;
            }
            Err(err) => {
                if !shared.stopping() {
                    tally.ended_early = Some(format!("member {me}'s {kind} socket failed: {err}"));
                }
                break;
            }
        };
        let now = shared.now_us();
        let frame = scanner.bytes(range);
        if frame[0] == FrameKind::Control.byte() {
            continue; // an event on a media socket; an error would close it next
        }
        let Ok(header) = MediaHeader::decode(&frame[FRAME_HEADER_LEN..]) else {
            tally.corrupt += 1;
            continue;
        };
        let sender = shared.index_of.get(&header.sender).copied();
        let check = check_word(header.sender, kind, header.sequence);
        let body = FRAME_HEADER_LEN + MediaHeader::LEN;
        let intact = frame[0] == FrameKind::from(kind).byte()
            && frame.len() == FRAME_HEADER_LEN + sizes.of(header.sequence)
            && frame[body..body + 8] == check
            && frame[frame.len() - 8..] == check;
        let Some(sender) = sender.filter(|_| intact) else {
            tally.corrupt += 1;
            continue;
        };
        match trackers[sender].record(header.sequence) {
            Arrival::Duplicate => {
                tally.duplicates += 1;
                continue;
            }
            Arrival::Late => tally.out_of_order += 1,
            Arrival::InOrder => {}
        }
        tally.frames += 1;
        tally.bytes += frame.len() as u64;
        let latency = u32::try_from(now.saturating_sub(header.timestamp_us)).unwrap_or(u32::MAX);
        tally.latencies_us.push(latency);
        if shared.server_of[sender] != shared.server_of[me] {
            tally.latencies_across_us.push(latency);
        }
        shared
            .acked(kind, sender, me)
            .store(trackers[sender].frames_through(), Ordering::Release);
        if shared.window.is_some()
            && let Some(thread) = shared.sender_thread(kind, sender).get()
        {
            thread.unpark();
        }
        if !shared.slow[me] {
            shared.delivered.fetch_add(1, Ordering::Relaxed);
            shared.last_delivery_us.fetch_max(now, Ordering::Relaxed);
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, like a socket under load.
    struct Dribble(Vec<u8>, usize);

    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn scanner_finds_frames_across_reads_and_grows_for_big_ones() {
        let frames: Vec<Vec<u8>> = [3usize, 0, 40, 1000, 2]
            .iter()
            .enumerate()
            .map(|(n, &len)| {
                let mut f = vec![2u8];
                f.extend_from_slice(&(len as u32).to_be_bytes());
                f.extend(std::iter::repeat_n(n as u8, len));
                f
            })
            .collect();
        let mut source = Dribble(frames.concat(), 0);
        let mut scanner = Scanner::new(16);
        let mut found = Vec::new();
        while let Some(range) = scanner.next_frame(&mut source).expect("reads") {
            found.push(scanner.bytes(range).to_vec());
        }
        assert_eq!(found, frames);
    }

    #[test]
    fn scanner_reports_a_stream_cut_mid_frame() {
        let mut source = Dribble(vec![2, 0, 0, 0, 9, 1, 2], 0);
        let mut scanner = Scanner::new(64);
        let err = scanner.next_frame(&mut source).expect_err("truncated");
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    }

    #[test]
    fn check_words_depend_on_sender_kind_and_sequence() {
        let base = check_word(ClientId(1), MediaKind::Video, 7);
        assert_ne!(base, check_word(ClientId(2), MediaKind::Video, 7));
        assert_ne!(base, check_word(ClientId(1), MediaKind::Audio, 7));
        assert_ne!(base, check_word(ClientId(1), MediaKind::Video, 8));
    }

    #[test]
    fn the_window_waits_for_members_that_keep_up_only() {
        let peers = [
            Peer {
                id: ClientId(1),
                meeting: 0,
                slot: 0,
                server: 0,
                slow: false,
            },
            Peer {
                id: ClientId(2),
                meeting: 0,
                slot: 1,
                server: 0,
                slow: false,
            },
            Peer {
                id: ClientId(3),
                meeting: 0,
                slot: 2,
                server: 0,
                slow: true,
            },
            Peer {
                id: ClientId(4),
                meeting: 1,
                slot: 0,
                server: 0,
                slow: false,
            },
        ];
        let shared = Shared::new(&peers, PerKind::splat(PayloadSizes::fixed(100)), Some(2));
        let video = MediaKind::Video;
        assert!(
            shared.window_open(video, 0, 1, 2),
            "the first frames go at once"
        );
        assert!(
            !shared.window_open(video, 0, 2, 2),
            "frame 0 not yet at member 1"
        );
        shared.acked(video, 0, 1).store(1, Ordering::Release);
        assert!(
            shared.window_open(video, 0, 2, 2),
            "member 2 is slow, member 3 elsewhere"
        );
        assert!(!shared.window_open(video, 0, 3, 2));
    }
}
