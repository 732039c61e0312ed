//! The jitter buffer and the mixer under synthetic timing: a sender's 20 ms
//! frames (or 10 ms ones) of a continuous 440 Hz sine (or of talk: a sine and
//! pauses) reach the buffer late, lost, reordered, in bursts or from a
//! drifting clock, while a perfect 10 ms playback clock pulls. Spans and counts are in 10 ms slots. Each test
//! checks the delay bound and that the output never jumps more than a clean
//! sine can (no clicks).

use super::jitter::{JitterBounds, JitterBuffer, JitterStats, SLOT};
use super::mixer::{Mixer, soft_clip};
use common::protocol::AUDIO_FRAME_SAMPLES;
use common::{ClientId, MediaHeader};
use std::time::{Duration, Instant};

const FRAME: usize = AUDIO_FRAME_SAMPLES;
const AMPLITUDE: f64 = 8191.0; // a quarter of full scale, like the tone source
const HZ: f64 = 440.0;

/// The largest sample-to-sample step of a clean sine of `AMPLITUDE` at `HZ`.
fn natural_step() -> f32 {
    (AMPLITUDE * std::f64::consts::TAU * HZ / 48_000.0) as f32
}

/// Steps above this are clicks: a 5 ms crossfade between two phases of the
/// tone adds at most 2 * AMPLITUDE / 240 = 68 to the natural step.
fn click_threshold() -> f32 {
    natural_step() * 1.3
}

fn sine_frame(k: u32) -> Vec<i16> {
    sine_frame_of(FRAME, k)
}

/// Frame `k` of the sine cut in frames of `len` samples.
fn sine_frame_of(len: usize, k: u32) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let n = f64::from(k) * len as f64 + i as f64;
            ((std::f64::consts::TAU * HZ * n / 48_000.0).sin() * AMPLITUDE).round() as i16
        })
        .collect()
}

/// What a simulated run produced.
struct Run {
    stats: JitterStats,
    output: Vec<f32>,
    /// Largest span seen right after a frame arrived or a tick played.
    max_span: usize,
    /// Largest span over the last second of the run.
    final_span: usize,
}

impl Run {
    fn largest_step(&self) -> f32 {
        self.output
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }
}

/// Plays `frames` 20 ms frames sent every `interval_us` (the sender's
/// clock), each arriving after `delay_us(k)` µs (`None`: lost), against a
/// 10 ms clock.
fn simulate(frames: u32, interval_us: f64, delay_us: impl Fn(u32) -> Option<u64>) -> Run {
    simulate_frames(FRAME, frames, interval_us, delay_us)
}

/// `simulate`, with frames of `len` samples.
fn simulate_frames(
    len: usize,
    frames: u32,
    interval_us: f64,
    delay_us: impl Fn(u32) -> Option<u64>,
) -> Run {
    let frame_us = (len as f64 / 48_000.0 * 1e6) as u64;
    let start = Instant::now();
    let at = |us: u64| start + Duration::from_micros(us);
    let mut arrivals: Vec<(u64, u32)> = (0..frames)
        .filter_map(|k| {
            let sent = (f64::from(k) * interval_us) as u64;
            delay_us(k).map(|d| (sent + d, k))
        })
        .collect();
    arrivals.sort();
    let end = arrivals.last().map_or(0, |a| a.0) + 500_000;
    let mut buffer = JitterBuffer::new(JitterBounds::default());
    let mut output = Vec::new();
    let mut max_span = 0;
    let mut final_span = 0;
    let mut next_arrival = arrivals.iter().peekable();
    let mut scratch = vec![0.0; SLOT];
    // The clock's phase is unrelated to the sender's.
    let mut tick = 7_300u64;
    while tick < end {
        while let Some(&&(time, k)) = next_arrival.peek() {
            if time > tick {
                break;
            }
            let timestamp = u64::from(k) * frame_us;
            buffer.push(k, timestamp, &sine_frame_of(len, k), at(time));
            max_span = max_span.max(buffer.span());
            next_arrival.next();
        }
        buffer.pull(at(tick), &mut scratch);
        output.extend_from_slice(&scratch);
        max_span = max_span.max(buffer.span());
        if tick + 1_500_000 > end && tick + 500_000 < end {
            final_span = final_span.max(buffer.span());
        }
        tick += 10_000;
    }
    Run {
        stats: buffer.stats(),
        output,
        max_span,
        final_span,
    }
}

/// A small deterministic random generator (no dependency for tests).
fn lcg(seed: u32) -> impl FnMut() -> u32 {
    let mut state = seed;
    move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        state >> 16
    }
}

fn assert_no_clicks(run: &Run, what: &str) {
    let step = run.largest_step();
    eprintln!(
        "{what}: largest step {step:.0} (clean tone {:.0}), span max {} final {}, {:?}",
        natural_step(),
        run.max_span,
        run.final_span,
        run.stats
    );
    assert!(
        step <= click_threshold(),
        "{what}: a step of {step} (a clean tone steps at most {}); {:?}",
        natural_step(),
        run.stats
    );
}

#[test]
fn steady_frames_play_untouched_after_the_target_delay() {
    let run = simulate(500, 20_000.0, |_| Some(300));
    assert_eq!(run.stats.played, 1000);
    assert_eq!(run.stats.concealed, 0);
    assert_eq!(run.stats.dropped + run.stats.stretched, 0);
    // One slot beyond the frame: its first half waits 10 to 20 ms.
    assert!(run.stats.delay_ms_p99 <= 30, "{:?}", run.stats);
    // Bit exact: the output is the input, delayed.
    let first = run.output.iter().position(|&s| s != 0.0).unwrap_or(0) - 1;
    for k in 0..500u32 {
        let played = &run.output[first + k as usize * FRAME..][..FRAME];
        let sent: Vec<f32> = sine_frame(k).iter().map(|&s| f32::from(s)).collect();
        assert_eq!(played, &sent[..], "frame {k}");
    }
}

#[test]
fn ten_ms_frames_play_whole_and_wait_the_hold_and_at_most_a_pull_more() {
    let run = simulate_frames(SLOT, 1000, 10_000.0, |_| Some(300));
    assert_eq!(run.stats.played, 1000, "{:?}", run.stats);
    assert_eq!(
        run.stats.concealed + run.stats.dropped + run.stats.stretched,
        0
    );
    // A frame plus the 2 ms hold.
    assert_eq!(run.stats.target_ms, 12, "{:?}", run.stats);
    assert!(run.stats.delay_ms_p99 <= 12, "{:?}", run.stats);
    let first = run.output.iter().position(|&s| s != 0.0).unwrap_or(0) - 1;
    for k in 0..1000u32 {
        let played = &run.output[first + k as usize * SLOT..][..SLOT];
        let sent: Vec<f32> = sine_frame_of(SLOT, k)
            .iter()
            .map(|&s| f32::from(s))
            .collect();
        assert_eq!(played, &sent[..], "frame {k}");
    }
}

#[test]
fn wherever_frames_land_between_pulls_they_wait_from_the_hold_to_a_pull_more() {
    // Counting whole slots, a frame waited for the next one and then for a
    // pull: 10 to 20 ms. Now the hold (2 ms here) and then a pull: 2 to 12.
    for phase_us in (0..10_000).step_by(700) {
        let run = simulate_frames(SLOT, 500, 10_000.0, |_| Some(phase_us));
        let stats = &run.stats;
        assert_eq!(stats.played, 500, "landing at {phase_us} µs: {stats:?}");
        assert_eq!(
            stats.concealed + stats.dropped + stats.stretched,
            0,
            "landing at {phase_us} µs: {stats:?}"
        );
        assert!(
            (2..=12).contains(&stats.delay_ms_p50) && stats.delay_ms_p99 <= 12,
            "landing at {phase_us} µs: {stats:?}"
        );
    }
}

#[test]
fn a_sender_that_changes_its_frame_length_is_followed_without_a_click() {
    // 20 ms frames for 2 s, then 10 ms frames of the same tone, numbered anew.
    let mut buffer = JitterBuffer::default();
    let start = Instant::now();
    let mut out = vec![0.0; SLOT];
    let mut output = Vec::new();
    let mut tick = 3_100u64;
    let mut pull_until = |buffer: &mut JitterBuffer, until: u64, output: &mut Vec<f32>| {
        while tick <= until {
            buffer.pull(start + Duration::from_micros(tick), &mut out);
            output.extend_from_slice(&out);
            tick += 10_000;
        }
    };
    for k in 0..100u32 {
        let at = u64::from(k) * 20_000 + 500;
        pull_until(&mut buffer, at, &mut output);
        buffer.push(
            k,
            u64::from(k) * 20_000,
            &sine_frame(k),
            start + Duration::from_micros(at),
        );
    }
    for k in 0..200u32 {
        let at = 2_000_000 + u64::from(k) * 10_000 + 500;
        pull_until(&mut buffer, at, &mut output);
        // The tone goes on where the 20 ms frames left it.
        buffer.push(
            k,
            u64::from(k) * 10_000,
            &sine_frame_of(SLOT, 200 + k),
            start + Duration::from_micros(at),
        );
    }
    pull_until(&mut buffer, 4_200_000, &mut output);
    let stats = buffer.stats();
    assert!(stats.played >= 390, "{stats:?}");
    let run = Run {
        stats,
        output,
        max_span: 0,
        final_span: 0,
    };
    assert_no_clicks(&run, "20 ms frames, then 10 ms ones");
}

#[test]
fn a_lost_frame_is_concealed_without_a_click() {
    let mut random = lcg(7);
    let lost: Vec<bool> = (0..1500).map(|_| random().is_multiple_of(20)).collect();
    let run = simulate(1500, 20_000.0, |k| (!lost[k as usize]).then_some(500));
    let lost_count = lost.iter().filter(|&&l| l).count() as u64;
    assert_eq!(run.stats.played, 2 * (1500 - lost_count));
    // Every frame that came was played; a lost newest frame is an underrun
    // (the buffer waits for the next), any other is concealed.
    assert!(run.stats.concealed + run.stats.underruns > 0);
    assert!(run.max_span <= 12);
    assert_no_clicks(&run, "5% loss");
}

#[test]
fn a_late_frame_is_concealed_and_then_ignored() {
    let run = simulate(300, 20_000.0, |k| {
        Some(if k == 100 { 150_000 } else { 500 })
    });
    assert_eq!(run.stats.late, 1, "{:?}", run.stats);
    // Its turn came with nothing behind it (a lean buffer): filled in as
    // an underrun, and the frame after it played as it came.
    assert!(
        run.stats.concealed + run.stats.underruns >= 2,
        "{:?}",
        run.stats
    );
    assert_eq!(run.stats.played, 2 * 299);
    assert_no_clicks(&run, "late frame");
}

#[test]
fn reordered_frames_within_the_target_play_in_order() {
    // Every fifth pair swaps: frame k+1 overtakes frame k by 5 ms.
    let run = simulate(1000, 20_000.0, |k| {
        Some(match k % 10 {
            4 => 26_000,
            _ => 1_000,
        })
    });
    assert_eq!(run.stats.concealed, 0, "{:?}", run.stats);
    assert_eq!(run.stats.played, 2000);
    assert_no_clicks(&run, "reordering");
}

#[test]
fn bursts_are_absorbed_and_the_delay_comes_back() {
    // Every 2 s the network stalls 200 ms and delivers the backlog at once.
    let run = simulate(3000, 20_000.0, |k| {
        let sent = u64::from(k) * 20_000;
        let in_cycle = sent % 2_000_000;
        Some(if in_cycle < 200_000 {
            200_000 - in_cycle + 300
        } else {
            300
        })
    });
    assert!(run.max_span <= 24, "{:?} span {}", run.stats, run.max_span);
    assert!(run.stats.delay_ms_p99 <= 120, "{:?}", run.stats);
    assert!(
        run.final_span <= 12,
        "{:?} span {}",
        run.stats,
        run.final_span
    );
    assert_no_clicks(&run, "bursts");
}

#[test]
fn random_jitter_raises_the_target_but_stays_bounded() {
    let mut random = lcg(3);
    let delays: Vec<u64> = (0..3000).map(|_| u64::from(random() % 50_000)).collect();
    let run = simulate(3000, 20_000.0, |k| Some(delays[k as usize]));
    let stats = &run.stats;
    assert!(stats.target_ms >= 60 && stats.target_ms <= 100, "{stats:?}");
    assert!(
        stats.concealed * 100 <= 6000,
        "more than 1% concealed: {stats:?}"
    );
    assert!(stats.delay_ms_p99 <= 120, "{stats:?}");
    assert_no_clicks(&run, "50 ms jitter");
}

#[test]
fn a_fast_sender_clock_is_corrected_by_dropping() {
    // 1% fast: 60 s bring 30 frames (60 slots) too many.
    let run = simulate(3000, 19_800.0, |_| Some(500));
    let stats = &run.stats;
    assert!((50..=80).contains(&stats.dropped), "{stats:?}");
    assert_eq!(stats.concealed, 0, "{stats:?}");
    assert!(run.max_span <= 6, "span {} {stats:?}", run.max_span);
    assert!(stats.delay_ms_p99 <= 40, "{stats:?}");
    assert_no_clicks(&run, "fast clock");
}

#[test]
fn a_slow_sender_clock_is_corrected_by_stretching() {
    // 1% slow: 60 s bring 30 frames (60 slots) too few.
    let run = simulate(3000, 20_200.0, |_| Some(500));
    let stats = &run.stats;
    assert!((50..=80).contains(&stats.stretched), "{stats:?}");
    assert!(stats.underruns <= 1, "{stats:?}");
    assert!(stats.delay_ms_p99 <= 40, "{stats:?}");
    assert_no_clicks(&run, "slow clock");
}

#[test]
fn a_sender_that_stops_fades_out_and_resumes_smoothly() {
    // Frames 0..200, nothing for a second, then 250..450 (the sender was muted).
    let run = simulate(450, 20_000.0, |k| (!(200..250).contains(&k)).then_some(500));
    assert_eq!(run.stats.played, 800);
    assert!(run.stats.underruns >= 1);
    assert_no_clicks(&run, "stop and resume");
    // Silence in the middle, not a repeated tone.
    let middle = &run.output[(230 * FRAME)..(245 * FRAME)];
    assert!(middle.iter().all(|&s| s == 0.0));
}

#[test]
fn after_a_pause_speech_plays_at_once_and_a_silent_lead_in_is_skipped() {
    // A talk spurt, a pause the sender's gate did not send (its last frame
    // below speech), then the gate opens: the silent frame before the onset
    // and the first loud one arrive together. The loud one must play at the
    // first pull after the hold, not a slot later behind the silence.
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut buffer = JitterBuffer::new(JitterBounds::default());
    let silence = vec![0i16; SLOT];
    let mut out = vec![0.0; SLOT / 2];
    // 20 frames of sine sent every 10 ms (each at its own time), then one
    // of silence, pulled every 5 ms.
    let mut tick = 0u64;
    while tick < 500 {
        let sent = tick / 10;
        if tick.is_multiple_of(10) && sent <= 20 {
            let pcm = if sent < 20 {
                sine_frame_of(SLOT, sent as u32)
            } else {
                silence.clone()
            };
            buffer.push(sent as u32, tick * 1_000, &pcm, at(tick));
        }
        buffer.pull(at(tick), &mut out);
        tick += 5;
    }
    assert_eq!(buffer.stats().pauses, 1, "{:?}", buffer.stats());
    // The gate opens at 800 ms: 790's silent frame, then 800's loud one.
    tick = 800;
    buffer.push(21, 790_000, &silence, at(800));
    buffer.push(22, 800_000, &sine_frame_of(SLOT, 0), at(800));
    let mut heard_at = None;
    while tick < 900 && heard_at.is_none() {
        buffer.pull(at(tick), &mut out);
        if out.iter().any(|s| s.abs() > 100.0) {
            heard_at = Some(tick);
        }
        tick += 5;
    }
    let heard_at = heard_at.expect("the speech after the pause was played");
    assert!(
        heard_at <= 800 + 2 + 5,
        "speech arriving at 800 ms was heard at {heard_at} ms"
    );
    assert_eq!(buffer.stats().underruns, 0, "{:?}", buffer.stats());
}

#[test]
fn a_sequence_that_jumps_far_ahead_or_back_is_followed() {
    let mut buffer = JitterBuffer::default();
    let start = Instant::now();
    let mut out = vec![0.0; SLOT];
    let mut played_after = |buffer: &mut JitterBuffer, first: u32, count: u32, from_ms: u64| {
        let before = buffer.stats().played;
        for i in 0..count {
            let now = start + Duration::from_millis(from_ms + u64::from(i) * 20);
            buffer.push(
                first.wrapping_add(i),
                u64::from(i) * 20_000,
                &sine_frame(i),
                now,
            );
            buffer.pull(now + Duration::from_millis(5), &mut out);
            buffer.pull(now + Duration::from_millis(15), &mut out);
        }
        (buffer.stats().played - before) / 2
    };
    assert!(played_after(&mut buffer, 0, 100, 0) >= 98);
    // Far ahead: skipped in one step, not frame by frame.
    let ahead = played_after(&mut buffer, 3_000_000_000, 100, 2_000);
    assert!(ahead >= 95, "{ahead} played after the jump ahead");
    // Back to 0 (a restarted sender): late for half a second, then followed.
    let back = played_after(&mut buffer, 0, 100, 4_000);
    assert!(back >= 70, "{back} played after the jump back");
}

fn header(sender: u32, sequence: u32) -> MediaHeader {
    MediaHeader {
        sender: ClientId(sender),
        sequence,
        timestamp_us: u64::from(sequence) * 20_000,
    }
}

/// Mixes 10 frames of each sender's constant `value` (sequence numbers from
/// `first`), returns the last output.
fn mix_constant(mixer: &mut Mixer, senders: &[(u32, i16)], first: u32) -> Vec<i16> {
    let start = Instant::now();
    let mut out = [0i16; FRAME];
    for k in first..first + 10 {
        let now = start + Duration::from_millis(u64::from(k - first) * 20);
        for &(sender, value) in senders {
            mixer.push(&header(sender, k), &[value; FRAME], now);
        }
        mixer.pull(now + Duration::from_millis(1), &mut out);
    }
    out.to_vec()
}

#[test]
fn loud_senders_mix_without_wrapping_around() {
    let mut mixer = Mixer::new(ClientId(1));
    let out = mix_constant(&mut mixer, &[(2, 30_000), (3, 30_000), (4, 30_000)], 100);
    assert!(out.iter().all(|&s| s > 30_000), "{:?}", &out[..4]);
    let out = mix_constant(&mut mixer, &[(2, -30_000), (3, -30_000), (4, -30_000)], 200);
    assert!(out.iter().all(|&s| s < -30_000), "{:?}", &out[..4]);
    assert!(mixer.softened > 0);
}

#[test]
fn quiet_mixes_are_exact_sums() {
    let mut mixer = Mixer::new(ClientId(1));
    let out = mix_constant(&mut mixer, &[(2, 1000), (3, -300)], 300);
    assert!(out.iter().all(|&s| s == 700));
}

#[test]
fn own_frames_are_never_played() {
    let mut mixer = Mixer::new(ClientId(5));
    let out = mix_constant(&mut mixer, &[(5, 12_000)], 400);
    assert!(out.iter().all(|&s| s == 0));
    assert!(mixer.stats(ClientId(5)).is_none());
}

#[test]
fn volume_and_mute_apply_per_member() {
    let mut mixer = Mixer::new(ClientId(1));
    mixer.set(ClientId(2), Some(50), None);
    let out = mix_constant(&mut mixer, &[(2, 1000), (3, 100)], 500);
    assert!(out.iter().all(|&s| s == 600), "{:?}", &out[..4]);
    mixer.set(ClientId(3), None, Some(true));
    let out = mix_constant(&mut mixer, &[(2, 1000), (3, 100)], 600);
    assert!(out.iter().all(|&s| s == 500), "{:?}", &out[..4]);
    let settings = mixer.set(ClientId(3), Some(1000), Some(false));
    assert_eq!(settings.percent, 400);
}

#[test]
fn soft_clip_is_smooth_and_bounded() {
    assert_eq!(soft_clip(0.5), 0.5);
    assert_eq!(soft_clip(-0.7), -0.7);
    let mut previous = soft_clip(0.0);
    for i in 1..=4000 {
        let x = i as f32 / 1000.0;
        let y = soft_clip(x);
        assert!(y >= previous && y <= 1.0, "{x}: {y}");
        assert!(y - previous <= 0.001 + 1e-6, "slope above 1 at {x}");
        assert_eq!(soft_clip(-x), -y);
        previous = y;
    }
}

/// What an hour of talk from a drifting sender came out as.
struct DriftHour {
    /// Each burst's delay from its first frame's sending to its first
    /// sample played, in ms, with the minute it started in.
    delays: Vec<(usize, f64)>,
    /// Each burst's length as played, in pulls.
    lengths: Vec<usize>,
    stats: JitterStats,
}

impl DriftHour {
    /// All `bursts` were heard, each `pulls` long (nothing dropped or
    /// inserted in speech), and nothing was concealed or ran empty.
    fn assert_every_burst_heard_whole(&self, ppm: f64, bursts: usize, pulls: usize) {
        let odd: Vec<&usize> = self
            .lengths
            .iter()
            .filter(|&&l| l != pulls)
            .take(20)
            .collect();
        assert_eq!(
            self.delays.len(),
            bursts,
            "{ppm:+} ppm: every burst was heard; lengths {odd:?}"
        );
        assert!(odd.is_empty(), "{ppm:+} ppm: burst lengths {odd:?}");
        let stats = &self.stats;
        assert_eq!(stats.concealed + stats.underruns, 0, "{stats:?}");
    }
}

/// `minutes` of 10 ms frames from a sender whose clock runs `ppm` fast
/// (negative: slow) against a steady pull of `pull_len` samples (10 ms or
/// 5 ms): it talks for 2 s (a sine) and pauses for 1 s (silence), over a LAN
/// with up to 0.4 ms of jitter.
fn drift_hour(ppm: f64, pull_len: usize, minutes: u32) -> DriftHour {
    const TALK: u32 = 200;
    const CYCLE: u32 = 300;
    let frames = minutes * 6_000;
    let interval_us = 10_000.0 / (1.0 + ppm * 1e-6);
    let sent_us = |k: u32| (f64::from(k) * interval_us) as u64;
    let start = Instant::now();
    let at = |us: u64| start + Duration::from_micros(us);
    let mut jitter = lcg(11);
    let mut buffer = JitterBuffer::new(JitterBounds::default());
    let mut out = vec![0.0; pull_len];
    let pull_us = (pull_len * 1_000_000 / 48_000) as u64;
    let silence = vec![0i16; SLOT];
    let (mut delays, mut lengths) = (Vec::new(), Vec::new());
    let mut burst: Option<usize> = None;
    let mut bursts_seen = 0u32;
    let mut k = 0u32;
    let mut tick = 3_700u64;
    let mut pending: Option<(u64, u32)> = None;
    while k < frames || pending.is_some() {
        // Every frame sent up to this tick has arrived (or is in flight).
        loop {
            let next = pending.take().or_else(|| {
                (k < frames).then(|| {
                    let arrival = sent_us(k) + 300 + u64::from(jitter() % 400);
                    k += 1;
                    (arrival, k - 1)
                })
            });
            let Some((arrival, frame)) = next else { break };
            if arrival > tick {
                pending = Some((arrival, frame));
                break;
            }
            let pcm = if frame % CYCLE < TALK {
                sine_frame_of(SLOT, frame)
            } else {
                silence.clone()
            };
            buffer.push(frame, sent_us(frame), &pcm, at(arrival));
        }
        buffer.pull(at(tick), &mut out);
        let loud = out.iter().position(|s| s.abs() > 4000.0);
        match (loud, &mut burst) {
            (Some(first), None) => {
                let played_us = tick as f64 + first as f64 / 0.048;
                let said_us = sent_us(bursts_seen * CYCLE) as f64;
                delays.push(((said_us / 60e6) as usize, (played_us - said_us) / 1000.0));
                bursts_seen += 1;
                burst = Some(1);
            }
            (Some(_), Some(length)) => *length += 1,
            (None, Some(length)) => {
                lengths.push(*length);
                burst = None;
            }
            (None, None) => {}
        }
        tick += pull_us;
    }
    DriftHour {
        delays,
        lengths,
        stats: buffer.stats(),
    }
}

#[test]
fn with_10_ms_pulls_a_clock_100_ppm_off_saws_within_a_slot_and_every_word_stays_whole() {
    for ppm in [-100.0, 100.0] {
        // 10 ms pulls (a device that asks for 10 ms): 20 minutes are enough
        // to show the saw; the hour is the 5 ms test's.
        let hour = drift_hour(ppm, SLOT, 20);
        let stats = &hour.stats;
        // Each minute's least and most delay.
        let mut minutes = vec![(f64::MAX, f64::MIN); 20];
        for &(minute, delay) in &hour.delays {
            let (low, high) = &mut minutes[minute.min(19)];
            *low = low.min(delay);
            *high = high.max(delay);
        }
        let lowest = minutes.iter().map(|m| m.0).fold(f64::MAX, f64::min);
        let highest = minutes.iter().map(|m| m.1).fold(f64::MIN, f64::max);
        eprintln!(
            "{ppm:+} ppm: delay {lowest:.1} to {highest:.1} ms over 20 minutes; by minute {:?}; {stats:?}",
            minutes
                .iter()
                .map(|(low, high)| format!("{low:.1}-{high:.1}"))
                .collect::<Vec<_>>()
        );
        hour.assert_every_burst_heard_whole(ppm, 400, 200);
        // 0.12 s of drift in 20 minutes: 12 slots taken out or put in, in pauses.
        let corrections = if ppm > 0.0 {
            stats.dropped
        } else {
            stats.stretched
        };
        assert!((9..=15).contains(&corrections), "{ppm:+} ppm: {stats:?}");
        // Flat: the delay saws within the slot the corrections work in
        // (plus the network's jitter and where the pulls fall), and does not
        // grow: 2.6 to 15.1 ms slow, 3.9 to 13.9 ms fast, every minute alike.
        assert!(
            highest - lowest <= 14.0,
            "{ppm:+} ppm: {lowest} to {highest}"
        );
        assert!(highest <= 17.0, "{ppm:+} ppm: {highest}");
    }
}

#[test]
fn a_sound_is_heard_when_its_slot_is_pulled_and_hostile_stamps_are_nobody_s_time() {
    let playback = super::Playback::new(ClientId(1));
    playback.set_playing(true);
    let start = Instant::now();
    // Member 2 sends 10 ms frames stamped when their last sample is in.
    for k in 0..2u32 {
        let header = MediaHeader {
            sender: ClientId(2),
            sequence: k,
            timestamp_us: u64::from(k + 1) * 10_000,
        };
        playback.push(&header, &sine_frame_of(SLOT, k));
    }
    let mut out = vec![0i16; SLOT];
    playback.pull(start + Duration::from_millis(50), &mut out);
    let pulled = start + Duration::from_millis(50);
    // The slot pulled is frame 0's: captured from 0 µs on the sender's clock.
    let heard = playback.heard_at(ClientId(2), 0).expect("heard lately");
    let apart = if heard > pulled {
        heard - pulled
    } else {
        pulled - heard
    };
    assert!(apart < Duration::from_millis(1), "{apart:?}");
    // 30 ms later on the sender's clock is heard 30 ms later here.
    let later = playback
        .heard_at(ClientId(2), 30_000)
        .expect("heard lately");
    assert_eq!(later.duration_since(heard), Duration::from_millis(30));
    // Stamps from a hostile sender: no time, or one far ahead (the
    // presenter waits `MAX_WAIT` at most), and no panic.
    assert_eq!(playback.heard_at(ClientId(2), u64::MAX), None);
    let far = playback.heard_at(ClientId(2), i64::MAX as u64);
    assert!(far.is_none_or(|far| far > heard), "{far:?}");
    // A member never heard: nothing to keep pictures in step with.
    assert_eq!(playback.heard_at(ClientId(3), 0), None);
}

#[test]
fn with_5_ms_pulls_an_hour_of_a_clock_100_ppm_off_stays_within_5_ms() {
    // The hour in release builds (`cargo test --release`); 20 minutes in
    // debug ones, where an hour takes 40 s of the test run.
    let minutes: u32 = if cfg!(debug_assertions) { 20 } else { 60 };
    for ppm in [-100.0, 100.0] {
        let hour = drift_hour(ppm, SLOT / 2, minutes);
        let stats = &hour.stats;
        let delays: Vec<f64> = hour.delays.iter().map(|d| d.1).collect();
        let lowest = delays.iter().copied().fold(f64::MAX, f64::min);
        let highest = delays.iter().copied().fold(f64::MIN, f64::max);
        // After the first minute, against where the second began.
        let settled: Vec<f64> = hour
            .delays
            .iter()
            .filter(|d| d.0 >= 1)
            .map(|d| d.1)
            .collect();
        let start = settled.first().copied().unwrap_or(0.0);
        let furthest = settled
            .iter()
            .map(|d| (d - start).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{ppm:+} ppm, 5 ms pulls: delay {lowest:.1} to {highest:.1} ms; at most {furthest:.1} ms from where minute 1 began; {stats:?}"
        );
        hour.assert_every_burst_heard_whole(ppm, minutes as usize * 20, 400);
        assert_eq!(
            stats.dropped + stats.stretched,
            0,
            "half slots, in pauses: {stats:?}"
        );
        // 0.36 s in an hour: 72 half slots of silence, cut or added (24 in
        // 20 minutes), give or take a sixth.
        let half_slots = (stats.samples_cut + stats.samples_added) / 240;
        let expected = u64::from(minutes) * 6 / 5;
        assert!(
            half_slots.abs_diff(expected) <= expected / 6,
            "{half_slots} half slots: {stats:?}"
        );
        assert!(furthest <= 6.5, "{ppm:+} ppm: {furthest} ms from the start");
    }
}
