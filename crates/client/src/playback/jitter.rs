//! The per-sender jitter buffer: turns one member's frames, which arrive early,
//! late, out of order, in bursts or not at all, into a steady 10 ms per pull of
//! the playback clock (or of the device's callback).
//!
//! Frames may be of any length the sender chose (10 ms, 20 ms, up to 120 ms):
//! the buffer cuts each into 10 ms *slots*, numbered from the frame's sequence
//! number, and everything below counts slots. A sender that changes its frame
//! length is followed as one that restarted.
//!
//! It owns everything about one sender's timing for playback:
//! - it holds slots in order and plays them in order; a frame that comes after
//!   its turn is late and dropped, a repeat is ignored;
//! - a missing slot is concealed by repeating the last pitch period of what was
//!   played, fading to silence over 40 ms; the next real slot fades in over
//!   5 ms, so neither the gap nor the resume clicks;
//! - each frame waits at least the *hold* before its first slot plays: the
//!   lateness the buffer absorbs, adapted to the jitter seen in the frames'
//!   timestamps (their 99th percentile, plus a millisecond), 2 ms on a clean
//!   network and up to 100 ms with the frame. Pulls come every 10 ms, so a
//!   frame waits from the hold to the hold plus 10 ms, depending on where it
//!   lands between pulls: a 10 ms frame on a LAN 2 to 12 ms. (Counting whole
//!   slots instead, one beyond the frame, made it wait 10 to 20.)
//! - the wait of the slots played over the last half second corrects the
//!   delay: when even the least of them is a slot more than the hold needs
//!   (a sender whose clock runs fast, or a burst that went by), one slot is
//!   dropped, preferring quiet ones; when even the longest of the last ten
//!   waited less than the hold (frames come later and later: a slow clock),
//!   one concealed slot is inserted before they miss their turn. Its *span*
//!   (the slots from the next to play to the newest, holes included) is
//!   bounded too: above 120 ms it drops at once. So the delay returns to the
//!   hold instead of growing.
//!
//! Time comes in as arguments (`now`), never from the system clock, so the unit
//! tests play hours of synthetic timing in milliseconds.

use crate::level::{is_speech, rms_dbfs, rms_dbfs_f32};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// One slot: 10 ms at 48 kHz, what each pull produces.
pub const SLOT: usize = 480;
const SLOT_US: i64 = 10_000;
/// The longest frame taken whole (120 ms, Opus's longest); longer ones are cut.
const MAX_FRAME_SLOTS: usize = 12;
/// What concealment looks back on: 20 ms of what was played.
const HISTORY: usize = 2 * SLOT;

/// The bounds of the buffer: its hold, and its span in 10 ms slots.
#[derive(Clone, Copy, Debug)]
pub struct JitterBounds {
    /// The least hold, in µs: 2 ms, so on a clean network a 10 ms frame
    /// waits 2 to 12 ms (a 20 ms frame's first slot too).
    pub min_hold_us: i64,
    /// The most the target (a frame plus the hold) adapts to: 10 slots
    /// (100 ms).
    pub max_target: usize,
    /// Above this the buffer drops at once: 12 slots, 120 ms.
    pub max_span: usize,
}

impl Default for JitterBounds {
    fn default() -> JitterBounds {
        JitterBounds {
            min_hold_us: 2_000,
            max_target: 10,
            max_span: 12,
        }
    }
}

/// Slots whose wait must all be a slot above the hold before the buffer
/// drops one: half a second, so ordinary jitter does not trigger it.
const CORRECTION_WINDOW: usize = 50;
/// How much more than a slot above the hold that is: 1 ms, so a wait that
/// only wavers around the boundary does not drop and stretch in turn.
const DROP_SLACK_US: i64 = 1_000;
/// Slots whose longest wait says whether frames come later and later: the
/// last 10. The least late frame among them shows where the stream is
/// without the jitter.
const STRETCH_WINDOW: usize = 10;
/// A hold is the 99th percentile of lateness plus this.
const HOLD_SAFETY_US: i64 = 1_000;
/// Frames whose lateness sets the target: the last five seconds.
const LATENESS_WINDOW: usize = 250;
/// Lateness is measured against the quickest frame of the last second: a
/// sender clock 1% off adds at most 10 ms to it.
const TREND_WINDOW: usize = 50;
/// A frame quieter than this may be dropped without anyone noticing.
const QUIET_DBFS: f32 = -50.0;
/// How many pulls a pending drop waits for a quiet slot before taking any,
/// when the delay is two slots and more above the hold (a burst went by).
const QUIET_PATIENCE: usize = 20;
/// The same when it is only one slot above (a drifting clock: a slot in a
/// minute or two at 100 ppm): five seconds, as speech pauses within them.
const DRIFT_PATIENCE: usize = 500;
/// This many late frames in a row mean the sender's sequence went back (a
/// restarted sender), not a slow network: half a second.
const RESTART_AFTER_LATE: usize = 25;
/// Crossfade into a real frame after concealment or a drop: 5 ms.
pub const CROSSFADE: usize = 240;
/// Concealment fades to silence over this many samples (40 ms).
const FADE_SAMPLES: f32 = 1920.0;
/// Pitch periods searched for concealment: 40 to 720 samples (1200 to 67 Hz).
const MIN_PERIOD: usize = 40;
const MAX_PERIOD: usize = 720;
/// Samples compared when looking for the pitch period.
const MATCH_LEN: usize = HISTORY - MAX_PERIOD;

/// What one buffer did, for `/stats` and the tests. Counts are of 10 ms
/// slots, but `late`, which counts frames.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct JitterStats {
    /// Slots played as they arrived.
    pub played: u64,
    /// Slots filled in because theirs was missing at its turn (lost or late).
    pub concealed: u64,
    /// Frames that arrived after their turn (already concealed).
    pub late: u64,
    /// Slots dropped to bring the delay back down.
    pub dropped: u64,
    /// Slots inserted to bring the delay back up (a slow sender).
    pub stretched: u64,
    /// Times the buffer ran empty in speech and buffered again.
    pub underruns: u64,
    /// Times it ran empty after a quiet slot: the sender stopped sending
    /// while silent (its voice gate), which is not loss.
    pub pauses: u64,
    /// Samples taken out of quiet slots, and put into them, to keep the
    /// wait at the hold when pulls are shorter than a slot.
    pub samples_cut: u64,
    pub samples_added: u64,
    /// The current target, in ms: a frame plus the hold.
    pub target_ms: u32,
    /// The hold alone, in ms (rounded up): the lateness a frame may have
    /// and still play in its turn.
    pub hold_ms: u32,
    /// Time frames waited in the buffer, from arrival to playing: median and
    /// 99th percentile, in ms.
    pub delay_ms_p50: u32,
    pub delay_ms_p99: u32,
}

struct Queued {
    pcm: Vec<f32>,
    arrived: Instant,
    /// The earliest a steady stream plays it: its frame's arrival, plus 10 ms
    /// for each slot before it in the frame.
    ready: Instant,
    /// When the sender captured its first sample, on the sender's clock (µs):
    /// what a picture of the same instant is shown against.
    sender_us: i64,
    quiet: bool,
    /// Loud enough to be speech (the sender's voice gate's measure).
    voiced: bool,
}

pub struct JitterBuffer {
    bounds: JitterBounds,
    /// Slots by number: a frame's sequence number times `frame_slots`, plus
    /// the slot's place in it.
    frames: BTreeMap<u64, Queued>,
    /// The slots in each of this sender's frames (1 for 10 ms frames).
    frame_slots: usize,
    /// The slot whose turn is next; `None` before the first frame.
    next: Option<u64>,
    /// False while (re)buffering up to the target.
    playing: bool,
    /// The least wait before a frame's first slot plays, µs.
    hold_us: i64,
    /// A frame plus the hold, in whole slots: the most a steady stream's
    /// span reaches before a pull.
    target: usize,
    /// The last frame's worth of output, before fades: what concealment repeats.
    history: Vec<f32>,
    /// The pitch period being repeated while concealing, once found.
    period: Option<usize>,
    /// Gain of the concealed signal: 1 at the start of a gap, 0 after the fade.
    conceal_gain: f32,
    /// The output left the real signal (concealment, drop, stretch): the next
    /// real frame must fade in.
    discontinuous: bool,
    /// What would have followed the output, for the fade into a real frame
    /// after a drop (the dropped frame itself).
    continuation: Option<Vec<f32>>,
    /// The wait of the last slots played, µs: from `ready` to when their
    /// first sample is handed on.
    waits: VecDeque<i64>,
    /// What was taken of the last slot but not handed on yet (pulls shorter
    /// than a slot).
    lead: Vec<f32>,
    /// Where in the current pull the slot being taken starts, µs.
    ahead_us: i64,
    /// Samples per pull, as the last pull asked.
    pull_len: usize,
    /// Samples to take out of the next quiet slot (positive) or to put in
    /// (negative).
    trim: i64,
    /// The last slot played: when, and its `sender_us`.
    heard: Option<(Instant, i64)>,
    /// A slot is to be inserted, after the next quiet one...
    stretch_due: bool,
    /// ...or at once: frames are about to miss their turn.
    stretch_urgent: bool,
    /// Quiet slots played in a row: once they fill the history, what a
    /// stretch repeats is silence.
    quiet_run: usize,
    /// The last slot played was below speech: if nothing follows, the
    /// sender paused (its voice gate closed), it did not lose frames.
    last_unvoiced: bool,
    pending_drops: usize,
    /// How long pending drops wait for a quiet slot.
    drop_patience: usize,
    waited_for_quiet: usize,
    /// Frames in a row that came after their turn.
    late_in_a_row: usize,
    /// Arrival time minus sender timestamp, µs, for the last frames.
    transits: VecDeque<i64>,
    /// Each frame's transit above the least of the second before it: its
    /// lateness, free of the slow trend a drifting sender clock adds.
    lateness: VecDeque<i64>,
    origin: Option<Instant>,
    /// Histogram of buffer delay in ms (last bucket: that many and more).
    delays: Vec<u64>,
    stats: JitterStats,
}

impl Default for JitterBuffer {
    fn default() -> JitterBuffer {
        JitterBuffer::new(JitterBounds::default())
    }
}

impl JitterBuffer {
    pub fn new(bounds: JitterBounds) -> JitterBuffer {
        JitterBuffer {
            bounds,
            frames: BTreeMap::new(),
            frame_slots: 1,
            next: None,
            playing: false,
            hold_us: bounds.min_hold_us,
            target: 1 + slots_of(bounds.min_hold_us),
            history: vec![0.0; HISTORY],
            period: None,
            conceal_gain: 0.0,
            discontinuous: false,
            continuation: None,
            waits: VecDeque::new(),
            lead: Vec::with_capacity(2 * SLOT),
            ahead_us: 0,
            pull_len: SLOT,
            trim: 0,
            heard: None,
            stretch_due: false,
            stretch_urgent: false,
            quiet_run: 0,
            last_unvoiced: false,
            pending_drops: 0,
            drop_patience: QUIET_PATIENCE,
            waited_for_quiet: 0,
            late_in_a_row: 0,
            transits: VecDeque::new(),
            lateness: VecDeque::new(),
            origin: None,
            delays: vec![0; 1000],
            stats: JitterStats::default(),
        }
    }

    /// Takes one frame as it arrived at `now`: cut into 10 ms slots, the
    /// last padded with silence.
    pub fn push(&mut self, sequence: u32, timestamp_us: u64, pcm: &[i16], now: Instant) {
        let slots = pcm.len().div_ceil(SLOT).clamp(1, MAX_FRAME_SLOTS);
        if slots != self.frame_slots {
            // Another frame length: numbered anew, as a restarted sender.
            self.restart();
            self.frame_slots = slots;
            self.target = self.target.max(slots + slots_of(self.hold_us));
        }
        let first = u64::from(sequence) * slots as u64;
        if self.next.is_some_and(|next| first < next) {
            self.stats.late += 1;
            self.late_in_a_row += 1;
            if self.late_in_a_row < RESTART_AFTER_LATE {
                return;
            }
            // Not late: the sender started counting again. Follow it.
            self.restart();
        }
        self.late_in_a_row = 0;
        if self.frames.contains_key(&first) {
            return;
        }
        self.note_transit(timestamp_us, now);
        // A frame is stamped when its last sample is in (our clients send it
        // then): its first was captured a frame earlier.
        let frame_us = pcm.len() as i64 * 1_000_000 / 48_000;
        let first_us = i64::try_from(timestamp_us)
            .unwrap_or(i64::MAX)
            .saturating_sub(frame_us);
        for (place, chunk) in pcm.chunks(SLOT).take(slots).enumerate() {
            let mut samples: Vec<f32> = chunk.iter().map(|&s| f32::from(s)).collect();
            samples.resize(SLOT, 0.0);
            let level = rms_dbfs(chunk);
            let quiet = level < QUIET_DBFS;
            let voiced = is_speech(level);
            self.frames.insert(
                first + place as u64,
                Queued {
                    pcm: samples,
                    arrived: now,
                    ready: now + Duration::from_micros(SLOT_US as u64) * place as u32,
                    sender_us: first_us.saturating_add(place as i64 * SLOT_US),
                    quiet,
                    voiced,
                },
            );
        }
        // A runaway sender (or a clock jump) cannot grow memory: beyond twice
        // the hard bound the oldest go at once.
        while self.frames.len() > 2 * self.bounds.max_span {
            if let Some((_, dropped)) = self.frames.pop_first() {
                self.stats.dropped += 1;
                self.skip_to_front(Some(dropped.pcm));
            }
        }
    }

    /// Slots from the next to play to the newest, holes included. While
    /// buffering, holes before the oldest slot do not count: they will be
    /// skipped, not waited for.
    pub fn span(&self) -> usize {
        match (self.frames.first_key_value(), self.frames.last_key_value()) {
            (Some((&first, _)), Some((&last, _))) => {
                let start = match self.next {
                    Some(next) if self.playing => next.min(first),
                    _ => first,
                };
                (last - start) as usize + 1
            }
            _ => 0,
        }
    }

    /// The last slot played: when it was pulled, and when the sender
    /// captured its first sample (µs on the sender's clock). Lip sync shows
    /// the sender's pictures by it.
    pub fn heard(&self) -> Option<(Instant, i64)> {
        self.heard
    }

    /// The delay the buffer aims for, in slots of span.
    pub fn target(&self) -> usize {
        self.target
    }

    pub fn stats(&self) -> JitterStats {
        let mut stats = self.stats.clone();
        stats.hold_ms = (self.hold_us.max(0) as u64).div_ceil(1_000) as u32;
        stats.target_ms = (self.frame_slots * 10) as u32 + stats.hold_ms;
        stats.delay_ms_p50 = self.delay_percentile(0.50);
        stats.delay_ms_p99 = self.delay_percentile(0.99);
        stats
    }

    /// Produces the next stretch of this sender into `out` (overwritten):
    /// `SLOT` samples (10 ms) or fewer, a slot taken whenever the last one is
    /// all handed on.
    pub fn pull(&mut self, now: Instant, out: &mut [f32]) {
        self.pull_len = out.len().clamp(1, SLOT);
        let mut filled = 0;
        while filled < out.len() {
            if self.lead.is_empty() {
                self.ahead_us = filled as i64 * 1_000_000 / 48_000;
                let mut slot = [0.0; SLOT];
                self.next_slot(now, &mut slot);
                self.take(&slot);
            }
            let count = (out.len() - filled).min(self.lead.len());
            out[filled..filled + count].copy_from_slice(&self.lead[..count]);
            self.lead.drain(..count);
            filled += count;
        }
    }

    /// Queues a slot to hand on: shortened or lengthened by the pending
    /// trim if it is quiet (resampled silence sounds as silence), as it is
    /// otherwise.
    fn take(&mut self, slot: &[f32]) {
        if self.trim == 0 || !is_quiet(slot) {
            self.lead.extend_from_slice(slot);
            return;
        }
        let length = (SLOT as i64 - self.trim).clamp(1, 2 * SLOT as i64) as usize;
        resample_into(slot, length, &mut self.lead);
        if self.trim > 0 {
            self.stats.samples_cut += self.trim.unsigned_abs();
        } else {
            self.stats.samples_added += self.trim.unsigned_abs();
        }
        self.trim = 0;
        self.waits.clear();
    }

    /// The next 10 ms slot of this sender, in its turn: played, concealed,
    /// dropped or stretched.
    fn next_slot(&mut self, now: Instant, out: &mut [f32]) {
        if !self.playing {
            // Frames lost while buffering are skipped, not concealed.
            if let Some((&first, _)) = self.frames.first_key_value()
                && self.next.is_none_or(|next| next < first)
            {
                self.next = Some(first);
            }
            let span = self.span();
            if span == 0 || (span < self.target && !self.waited_enough(now)) {
                return self.conceal(out);
            }
            self.playing = true;
            self.waits.clear();
            self.skip_silent_lead_in();
        }
        self.bound_span(self.span());
        if self.pending_drops > 0 {
            self.drop_one();
        }
        let silent_history = self.quiet_run * SLOT >= HISTORY;
        if self.stretch_due && (silent_history || self.stretch_urgent) {
            self.stretch_due = false;
            self.stretch_urgent = false;
            self.stats.stretched += 1;
            self.waits.clear();
            return self.conceal_without_fade(out);
        }
        let Some(next) = self.next else {
            return self.conceal(out);
        };
        match self.frames.remove(&next) {
            Some(frame) => {
                self.next = Some(next + 1);
                self.record_delay(now.saturating_duration_since(frame.arrived));
                self.note_wait(now, &frame);
                self.heard = Some((now, frame.sender_us));
                self.stats.played += 1;
                self.quiet_run = if frame.quiet { self.quiet_run + 1 } else { 0 };
                self.last_unvoiced = !frame.voiced;
                self.play(frame.pcm, out);
            }
            None if !self.frames.is_empty() => {
                // Lost or late: its turn is now, so fill it in and move on.
                self.next = Some(next + 1);
                self.stats.concealed += 1;
                self.conceal(out);
            }
            None => {
                // Nothing at all: keep this frame's turn (it may only be late,
                // or the sender paused) and buffer up to the target again.
                // After a slot below speech the sender's voice gate closed:
                // a pause, played as the fading rest of that quiet slot.
                if self.last_unvoiced {
                    self.stats.pauses += 1;
                } else {
                    self.stats.underruns += 1;
                }
                self.playing = false;
                self.conceal(out);
            }
        }
    }

    /// A talk spurt after a pause starts with the frame before its first
    /// loud one: the sender's voice gate sends it along so a soft onset is
    /// not cut. When that frame holds nothing audible, playing it only
    /// delays the speech behind it by a slot: it is skipped (the speech
    /// fades in from the pause as after any gap).
    fn skip_silent_lead_in(&mut self) {
        let Some(next) = self.next else { return };
        // Quiet (below QUIET_DBFS) is below speech too.
        let silent = self.frames.get(&next).is_some_and(|f| f.quiet);
        if self.last_unvoiced && silent && self.frames.contains_key(&(next + 1)) {
            self.frames.remove(&next);
            self.next = Some(next + 1);
        }
    }

    /// Whether the oldest frame is complete and has waited the hold.
    fn waited_enough(&self, now: Instant) -> bool {
        let Some((_, oldest)) = self.frames.first_key_value() else {
            return false;
        };
        self.span() >= self.frame_slots && micros_between(oldest.ready, now) >= self.hold_us
    }

    fn play(&mut self, pcm: Vec<f32>, out: &mut [f32]) {
        out.copy_from_slice(&pcm);
        if self.discontinuous {
            let from = match self.continuation.take() {
                Some(dropped) => dropped,
                None => {
                    let mut extension = vec![0.0; CROSSFADE];
                    self.extend(&mut extension);
                    let gain = self.conceal_gain;
                    extension.iter_mut().for_each(|s| *s *= gain);
                    extension
                }
            };
            for (i, (o, f)) in out.iter_mut().zip(&from).take(CROSSFADE).enumerate() {
                let w = (i as f32 + 0.5) / CROSSFADE as f32;
                *o = *o * w + f * (1.0 - w);
            }
            self.discontinuous = false;
        }
        self.remember(&pcm);
        self.period = None;
        self.conceal_gain = 1.0;
    }

    /// Keeps the last `HISTORY` samples played, `played` the newest.
    fn remember(&mut self, played: &[f32]) {
        self.history.extend_from_slice(played);
        let keep = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..keep);
    }

    /// Fills `out` with the last pitch period repeated, fading to silence.
    fn conceal(&mut self, out: &mut [f32]) {
        if self.conceal_gain <= 0.0 {
            out.fill(0.0);
            return;
        }
        self.extend(out);
        let step = 1.0 / FADE_SAMPLES;
        for sample in out.iter_mut() {
            *sample *= self.conceal_gain;
            self.conceal_gain = (self.conceal_gain - step).max(0.0);
        }
        self.discontinuous = true;
        self.continuation = None;
    }

    /// One frame of the repeated pitch period at full level: a stretch.
    fn conceal_without_fade(&mut self, out: &mut [f32]) {
        self.extend(out);
        let gain = self.conceal_gain;
        out.iter_mut().for_each(|s| *s *= gain);
        self.discontinuous = true;
        self.continuation = None;
    }

    /// Continues the history by repeating its last pitch period, and makes the
    /// result the new history so the next call continues seamlessly.
    fn extend(&mut self, out: &mut [f32]) {
        let period = *self
            .period
            .get_or_insert_with(|| best_period(&self.history));
        let start = self.history.len() - period;
        for (i, sample) in out.iter_mut().enumerate() {
            *sample = self.history[start + i % period];
        }
        // The repeated signal is periodic with `period` from its end too.
        self.remember(out);
    }

    /// The hard bound: too far behind, back to the target now, not one by one.
    fn bound_span(&mut self, span: usize) {
        if span > self.bounds.max_span {
            self.pending_drops = self.pending_drops.max(span - self.target);
            self.waited_for_quiet = QUIET_PATIENCE;
        }
    }

    /// Notes how long a slot played now waited, and decides from the last
    /// ones whether the delay is persistently a slot too high (drop one) or
    /// about to be too low (stretch one).
    fn note_wait(&mut self, now: Instant, slot: &Queued) {
        let wait = micros_between(slot.ready, now) + self.ahead_us;
        self.waits.push_back(wait);
        if self.waits.len() > CORRECTION_WINDOW {
            self.waits.pop_front();
        }
        if self.pending_drops > 0 {
            return;
        }
        // Pulls shorter than a slot let the wait be corrected by a pull's
        // length, in quiet slots, instead of a whole slot.
        let short_pulls = self.pull_len < SLOT;
        let pull_us = self.pull_len as i64 * 1_000_000 / 48_000;
        if self.waits.len() == CORRECTION_WINDOW && !self.stretch_due {
            let least = self.waits.iter().copied().min().unwrap_or(0);
            let excess = least - self.hold_us;
            if excess >= SLOT_US + DROP_SLACK_US {
                self.pending_drops = (excess / SLOT_US) as usize;
                self.drop_patience = if excess >= 2 * SLOT_US + DROP_SLACK_US {
                    QUIET_PATIENCE
                } else {
                    DRIFT_PATIENCE
                };
                self.trim = 0;
                self.waits.clear();
                return;
            }
            if short_pulls && self.trim == 0 && excess >= pull_us + DROP_SLACK_US {
                // Every slot could have been handed on a pull earlier.
                self.trim = self.pull_len as i64;
                self.waits.clear();
                return;
            }
        }
        if self.waits.len() >= STRETCH_WINDOW {
            // Even the least late of the last frames waited less than the
            // hold: the sender's frames come later and later. Inserted after
            // a quiet slot, the inserted one is silence; close to missing
            // their turn, at once.
            if let Some(&longest) = self.waits.iter().rev().take(STRETCH_WINDOW).max() {
                if short_pulls && longest >= self.hold_us / 4 {
                    if longest < self.hold_us && self.trim == 0 {
                        self.trim = -(self.pull_len as i64);
                        self.waits.clear();
                    }
                    return;
                }
                self.stretch_due |= longest < self.hold_us;
                self.stretch_urgent = self.stretch_due && longest < self.hold_us / 4;
            }
        }
    }

    /// Drops the next frame if it is quiet, or anyway once patience runs out
    /// (or at once above the hard bound, as many as it takes). A hole at the
    /// front is skipped in one step, however long: a sender's sequence may
    /// jump far ahead.
    fn drop_one(&mut self) {
        let Some(next) = self.next else { return };
        let urgent = self.span() > self.bounds.max_span;
        let quiet = self.frames.get(&next).is_some_and(|f| f.quiet);
        // Two slots and more piled up: the patience of a burst.
        let patience = if self.span() >= self.target + 2 {
            QUIET_PATIENCE
        } else {
            self.drop_patience
        };
        if !(quiet || urgent || self.waited_for_quiet >= patience) {
            self.waited_for_quiet += 1;
            return;
        }
        self.waited_for_quiet = 0;
        while let Some(next) = self.next {
            if let Some(frame) = self.frames.remove(&next) {
                self.next = Some(next + 1);
                self.stats.dropped += 1;
                // The dropped frame is what would have followed the output.
                self.note_skip(Some(frame.pcm));
            } else if let Some((&first, _)) = self.frames.first_key_value() {
                // Frames before `first` were lost: nothing to drop, skip them.
                self.next = Some(first);
                self.note_skip(None);
            } else {
                self.pending_drops = 0;
                break;
            }
            // Never below the target, whatever a skipped hole did to the span.
            let excess = self.span().saturating_sub(self.target);
            self.pending_drops = self.pending_drops.saturating_sub(1).min(excess);
            if self.pending_drops == 0 || self.span() <= self.bounds.max_span {
                break;
            }
        }
        if self.pending_drops == 0 {
            self.waits.clear();
        }
    }

    /// Forgets the sender's numbering and timing, keeping the sound history
    /// so the new frames fade in.
    fn restart(&mut self) {
        self.frames.clear();
        self.next = None;
        self.playing = false;
        self.waits.clear();
        self.trim = 0;
        self.stretch_due = false;
        self.stretch_urgent = false;
        self.pending_drops = 0;
        self.transits.clear();
        self.lateness.clear();
        self.origin = None;
        self.late_in_a_row = 0;
    }

    fn skip_to_front(&mut self, dropped: Option<Vec<f32>>) {
        if let Some((&first, _)) = self.frames.first_key_value()
            && self.next.is_some_and(|next| next < first)
        {
            self.next = Some(first);
            self.note_skip(dropped);
        }
    }

    /// Frames were skipped: the next real frame fades in from what would have
    /// followed the output so far, which is the first skipped frame (later
    /// ones do not follow on), or else the repeated last period.
    fn note_skip(&mut self, skipped: Option<Vec<f32>>) {
        if !self.discontinuous {
            self.continuation = skipped;
            self.discontinuous = true;
        }
    }

    fn note_transit(&mut self, timestamp_us: u64, now: Instant) {
        let origin = *self.origin.get_or_insert(now);
        let arrival_us = now.saturating_duration_since(origin).as_micros() as i64;
        let transit = arrival_us.saturating_sub(i64::try_from(timestamp_us).unwrap_or(i64::MAX));
        self.transits.push_back(transit);
        if self.transits.len() > TREND_WINDOW {
            self.transits.pop_front();
        }
        let least = self.transits.iter().copied().min().unwrap_or(transit);
        let lateness = transit - least;
        self.lateness.push_back(lateness);
        if self.lateness.len() > LATENESS_WINDOW {
            self.lateness.pop_front();
        }
        if self.lateness.len().is_multiple_of(10) {
            self.adapt_hold();
        }
    }

    /// The hold covers the 99th percentile of transit variation, and a
    /// millisecond more: a frame later than its wait is concealed, the rest
    /// play in order.
    fn adapt_hold(&mut self) {
        let mut sorted: Vec<i64> = self.lateness.iter().copied().collect();
        sorted.sort_unstable();
        let p99 = sorted[(sorted.len() - 1) * 99 / 100];
        let frame_us = self.frame_slots as i64 * SLOT_US;
        let most =
            (self.bounds.max_target as i64 * SLOT_US - frame_us).max(self.bounds.min_hold_us);
        self.hold_us = (p99.max(0) + HOLD_SAFETY_US).clamp(self.bounds.min_hold_us, most);
        self.target = self.frame_slots + slots_of(self.hold_us);
    }

    fn record_delay(&mut self, delay: Duration) {
        let ms = (delay.as_millis() as usize).min(self.delays.len() - 1);
        self.delays[ms] += 1;
    }

    fn delay_percentile(&self, fraction: f64) -> u32 {
        let total: u64 = self.delays.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64 * fraction).ceil() as u64).max(1);
        let mut seen = 0;
        for (ms, &count) in self.delays.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return ms as u32;
            }
        }
        (self.delays.len() - 1) as u32
    }
}

/// The lag at which the end of `history` best matches what came one lag
/// earlier (normalised correlation): the pitch period to repeat.
fn best_period(history: &[f32]) -> usize {
    let end = history.len();
    let recent = &history[end - MATCH_LEN..];
    let energy = |s: &[f32]| s.iter().map(|x| x * x).sum::<f32>();
    let recent_energy = energy(recent);
    if recent_energy <= f32::EPSILON {
        return MAX_PERIOD;
    }
    let mut best = (MAX_PERIOD, f32::MIN);
    for lag in MIN_PERIOD..=MAX_PERIOD {
        let earlier = &history[end - MATCH_LEN - lag..end - lag];
        let dot: f32 = recent.iter().zip(earlier).map(|(a, b)| a * b).sum();
        let score = dot / (recent_energy * energy(earlier)).sqrt().max(f32::EPSILON);
        if score > best.1 + 1e-4 {
            best = (lag, score);
        }
    }
    best.0
}

/// Whole slots that cover `us`.
fn slots_of(us: i64) -> usize {
    (us.max(0) as u64).div_ceil(SLOT_US as u64) as usize
}

/// `to - from` in µs, negative when `to` is earlier.
fn micros_between(from: Instant, to: Instant) -> i64 {
    match to.checked_duration_since(from) {
        Some(after) => after.as_micros() as i64,
        None => -(from.duration_since(to).as_micros() as i64),
    }
}

/// Whether 10 ms about to be handed on is too quiet for anyone to hear it
/// shortened or lengthened (below -50 dBFS).
fn is_quiet(slot: &[f32]) -> bool {
    rms_dbfs_f32(slot) < QUIET_DBFS
}

/// `slot` resampled to `length` samples (linear interpolation), appended to
/// `out`.
fn resample_into(slot: &[f32], length: usize, out: &mut Vec<f32>) {
    if length <= 1 || slot.len() <= 1 {
        out.extend(std::iter::repeat_n(0.0, length));
        return;
    }
    let step = (slot.len() - 1) as f32 / (length - 1) as f32;
    out.extend((0..length).map(|i| {
        let at = i as f32 * step;
        let below = (at as usize).min(slot.len() - 2);
        let fraction = at - below as f32;
        slot[below] * (1.0 - fraction) + slot[below + 1] * fraction
    }));
}
