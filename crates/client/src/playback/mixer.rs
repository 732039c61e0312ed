//! The mixer: every other member's jitter buffer, their volume and mute, and
//! the sum of them all as the one stream the speakers play.
//!
//! Samples are summed in `f32`, so nothing wraps around; the sum is then soft
//! clipped: untouched up to -3 dBFS, bent smoothly (tanh) towards full scale
//! above, so two loud talkers distort gently instead of cracking. Frames from
//! our own id are refused (the server never relays them; this makes sure we
//! never hear ourselves even if it did).

use super::jitter::{JitterBuffer, JitterStats, SLOT};
use common::{ClientId, MediaHeader};
use std::collections::HashMap;
use std::time::Instant;

/// Most volume a member can be given: 400%.
pub const MAX_VOLUME_PERCENT: u32 = 400;

/// Above this (linear, -3 dBFS) the soft clipper starts bending.
const KNEE: f32 = 0.707_945_8;

/// One member's playback: its buffer and how loud it is.
struct Voice {
    buffer: JitterBuffer,
    volume: f32,
    muted: bool,
    /// The gain the last slot ended with: a change ramps over one slot
    /// (10 ms) from here, so muting or turning down never clicks.
    gain: f32,
}

impl Voice {
    fn wanted_gain(&self) -> f32 {
        if self.muted { 0.0 } else { self.volume }
    }
}

/// Volume and mute of a member, as the user set them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoiceSettings {
    pub percent: u32,
    pub muted: bool,
}

pub struct Mixer {
    me: ClientId,
    voices: HashMap<ClientId, Voice>,
    /// Settings for members who have not sent anything yet (or whose buffer
    /// was forgotten), applied when they do.
    settings: HashMap<ClientId, VoiceSettings>,
    scratch: Vec<f32>,
    sum: Vec<f32>,
    /// Samples the soft clipper bent (above the knee), for `/stats`.
    pub softened: u64,
}

impl Mixer {
    pub fn new(me: ClientId) -> Mixer {
        Mixer {
            me,
            voices: HashMap::new(),
            settings: HashMap::new(),
            scratch: vec![0.0; SLOT],
            sum: vec![0.0; SLOT],
            softened: 0,
        }
    }

    /// Takes one received frame into its sender's jitter buffer.
    pub fn push(&mut self, header: &MediaHeader, pcm: &[i16], now: Instant) {
        if header.sender == self.me {
            return;
        }
        let settings = self.settings(header.sender);
        self.voices
            .entry(header.sender)
            .or_insert_with(|| {
                let volume = settings.percent as f32 / 100.0;
                Voice {
                    buffer: JitterBuffer::default(),
                    volume,
                    muted: settings.muted,
                    gain: if settings.muted { 0.0 } else { volume },
                }
            })
            .buffer
            .push(header.sequence, header.timestamp_us, pcm, now);
    }

    /// The next stretch of the mix: `out` is filled up to 10 ms at a time
    /// (a device pulling 5 ms gets 5 ms).
    pub fn pull(&mut self, now: Instant, out: &mut [i16]) {
        for chunk in out.chunks_mut(SLOT) {
            self.pull_chunk(now, chunk);
        }
    }

    fn pull_chunk(&mut self, now: Instant, out: &mut [i16]) {
        let len = out.len();
        let (sum, scratch) = (&mut self.sum[..len], &mut self.scratch[..len]);
        sum.fill(0.0);
        for voice in self.voices.values_mut() {
            // A muted member's buffer keeps running, so unmuting is instant and in step.
            voice.buffer.pull(now, scratch);
            let (from, to) = (voice.gain, voice.wanted_gain());
            voice.gain = to;
            if from == 0.0 && to == 0.0 {
                continue;
            }
            let step = (to - from) / len as f32;
            for (i, (sum, sample)) in sum.iter_mut().zip(scratch.iter()).enumerate() {
                *sum += sample * (from + step * (i + 1) as f32);
            }
        }
        for (out, &sum) in out.iter_mut().zip(sum.iter()) {
            let x = sum / 32_768.0;
            if x.abs() > KNEE {
                self.softened += 1;
            }
            *out = (soft_clip(x) * 32_767.0).round().clamp(-32_768.0, 32_767.0) as i16;
        }
    }

    pub fn settings(&self, member: ClientId) -> VoiceSettings {
        self.settings
            .get(&member)
            .copied()
            .unwrap_or(VoiceSettings {
                percent: 100,
                muted: false,
            })
    }

    /// Sets a member's volume (0 to `MAX_VOLUME_PERCENT`) or mute; returns the result.
    pub fn set(
        &mut self,
        member: ClientId,
        percent: Option<u32>,
        muted: Option<bool>,
    ) -> VoiceSettings {
        let mut settings = self.settings(member);
        if let Some(percent) = percent {
            settings.percent = percent.min(MAX_VOLUME_PERCENT);
        }
        if let Some(muted) = muted {
            settings.muted = muted;
        }
        self.settings.insert(member, settings);
        if let Some(voice) = self.voices.get_mut(&member) {
            voice.volume = settings.percent as f32 / 100.0;
            voice.muted = settings.muted;
        }
        settings
    }

    /// Drops a member's buffer (they left); their volume and mute stay.
    pub fn forget(&mut self, member: ClientId) {
        self.voices.remove(&member);
    }

    /// We are `me` now (the session moved to another server, which gave
    /// us another id): our own voice is never mixed, whatever it is.
    pub fn set_me(&mut self, me: ClientId) {
        self.me = me;
        self.voices.clear();
    }

    /// Drops every buffer (we left the meeting).
    pub fn forget_all(&mut self) {
        self.voices.clear();
    }

    /// When `member`'s last slot was pulled, and its sender time (µs).
    pub fn heard(&self, member: ClientId) -> Option<(Instant, i64)> {
        self.voices
            .get(&member)
            .and_then(|voice| voice.buffer.heard())
    }

    pub fn stats(&self, member: ClientId) -> Option<JitterStats> {
        self.voices.get(&member).map(|voice| voice.buffer.stats())
    }
}

/// Identity up to the knee, then a tanh curve that reaches full scale only at
/// infinity; continuous in value and slope at the knee.
pub fn soft_clip(x: f32) -> f32 {
    let magnitude = x.abs();
    if magnitude <= KNEE {
        return x;
    }
    let room = 1.0 - KNEE;
    (KNEE + room * ((magnitude - KNEE) / room).tanh()).copysign(x)
}
