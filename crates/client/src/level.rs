//! How loud a member is: the level of s16 PCM in dBFS, and a meter that holds
//! the peak and lets it fall slowly, so a speaker stays "speaking" between
//! words instead of flickering with every 20 ms frame.
//!
//! Kept free of the view and the protocol so the server can compute the same
//! figure when levels go over the wire.

use common::ClientId;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The quietest level reported: digital silence is -inf, which helps nobody.
pub const FLOOR_DBFS: f32 = -96.0;

/// Above this a member counts as speaking (a quiet voice near a laptop
/// microphone is around -40 dBFS, room noise below -55).
pub const SPEAKING_DBFS: f32 = -45.0;

/// Whether a level is speech: above `SPEAKING_DBFS`. The view's highlight,
/// the voice gate, the jitter buffer's pauses and the recorder's all ask
/// this one question.
pub fn is_speech(dbfs: f32) -> bool {
    dbfs > SPEAKING_DBFS
}

/// RMS level of `pcm` in dB relative to a full-scale square wave (0 dBFS),
/// never below `FLOOR_DBFS`. Empty input is the floor.
pub fn rms_dbfs(pcm: &[i16]) -> f32 {
    dbfs_of(pcm.iter().map(|&s| f64::from(s)), pcm.len())
}

/// `rms_dbfs` of samples on the same scale held as floats (the mix's).
pub fn rms_dbfs_f32(pcm: &[f32]) -> f32 {
    dbfs_of(pcm.iter().map(|&s| f64::from(s)), pcm.len())
}

fn dbfs_of(samples: impl Iterator<Item = f64>, count: usize) -> f32 {
    if count == 0 {
        return FLOOR_DBFS;
    }
    let sum: f64 = samples.map(|s| s * s).sum();
    let rms = (sum / count as f64).sqrt() / f64::from(i16::MAX);
    if rms <= 0.0 {
        return FLOOR_DBFS;
    }
    ((20.0 * rms.log10()) as f32).clamp(FLOOR_DBFS, 0.0)
}

/// Peak-hold meter: a new level replaces a lower one at once; without new
/// frames the level falls by `FALL_DB_PER_SECOND`.
#[derive(Clone, Copy, Debug)]
pub struct LevelMeter {
    level: f32,
    at: Instant,
}

/// 30 dB a second: a voice at -20 dBFS reads as speaking for about 0.8 s after
/// its last frame.
pub const FALL_DB_PER_SECOND: f32 = 30.0;

impl LevelMeter {
    pub fn new(now: Instant) -> LevelMeter {
        LevelMeter {
            level: FLOOR_DBFS,
            at: now,
        }
    }

    /// Takes the level of one frame measured at `now`.
    pub fn update(&mut self, frame_dbfs: f32, now: Instant) {
        let current = self.level_at(now);
        self.level = current.max(frame_dbfs);
        self.at = now;
    }

    /// The held level, fallen for the time since the last update.
    pub fn level_at(&self, now: Instant) -> f32 {
        let fallen = now.saturating_duration_since(self.at).as_secs_f32() * FALL_DB_PER_SECOND;
        (self.level - fallen).max(FLOOR_DBFS)
    }

    pub fn speaking_at(&self, now: Instant) -> bool {
        is_speech(self.level_at(now))
    }
}

/// How long after the last frame a meter may still read as speaking.
pub fn hold_time(from_dbfs: f32) -> Duration {
    Duration::from_secs_f32(((from_dbfs - SPEAKING_DBFS) / FALL_DB_PER_SECOND).max(0.0))
}

/// Every member's meter, fed by the audio reader (an `AudioSink`) and read by
/// the view. Cloning shares the meters.
#[derive(Clone, Default)]
pub struct MemberLevels(Arc<Mutex<HashMap<ClientId, LevelMeter>>>);

impl MemberLevels {
    fn meters(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, LevelMeter>> {
        common::sync::lock(&self.0)
    }

    /// Takes one frame of `member`'s audio, heard at `now`.
    pub fn heard(&self, member: ClientId, pcm: &[i16], now: Instant) {
        let level = rms_dbfs(pcm);
        self.meters()
            .entry(member)
            .or_insert_with(|| LevelMeter::new(now))
            .update(level, now);
    }

    /// `member`'s held level at `now`; `None` if they never sent audio.
    pub fn level(&self, member: ClientId, now: Instant) -> Option<f32> {
        self.meters().get(&member).map(|meter| meter.level_at(now))
    }

    /// Who is speaking at `now`.
    pub fn speaking(&self, now: Instant) -> BTreeSet<ClientId> {
        self.meters()
            .iter()
            .filter(|(_, meter)| meter.speaking_at(now))
            .map(|(member, _)| *member)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_known_signals() {
        assert_eq!(rms_dbfs(&[]), FLOOR_DBFS);
        assert_eq!(rms_dbfs(&[0; 960]), FLOOR_DBFS);
        // A full-scale square wave is 0 dBFS.
        let square: Vec<i16> = (0..960)
            .map(|i| if i % 2 == 0 { i16::MAX } else { -i16::MAX })
            .collect();
        assert!(rms_dbfs(&square).abs() < 0.01);
        // A sine at a quarter of full scale (the `tone` source): 20*log10(0.25/sqrt 2) = -15.05 dB.
        let sine: Vec<i16> = (0..960)
            .map(|i| {
                let phase = std::f64::consts::TAU * 440.0 * f64::from(i) / 48_000.0;
                (phase.sin() * f64::from(i16::MAX) / 4.0).round() as i16
            })
            .collect();
        assert!((rms_dbfs(&sine) + 15.05).abs() < 0.1, "{}", rms_dbfs(&sine));
        // One LSB of noise is far below speech.
        assert!(rms_dbfs(&[1, -1, 1, -1]) < -90.0);
    }

    #[test]
    fn meter_holds_peaks_and_falls_slowly() {
        let start = Instant::now();
        let mut meter = LevelMeter::new(start);
        assert!(!meter.speaking_at(start));
        meter.update(-15.0, start);
        assert!(meter.speaking_at(start));
        // A quieter frame does not pull the held peak down at once.
        meter.update(-80.0, start + Duration::from_millis(20));
        assert!((meter.level_at(start + Duration::from_millis(20)) - -15.6).abs() < 0.01);
        let hold = hold_time(-15.0);
        assert!(meter.speaking_at(start + hold - Duration::from_millis(50)));
        assert!(!meter.speaking_at(start + hold + Duration::from_millis(50)));
        assert_eq!(meter.level_at(start + Duration::from_secs(60)), FLOOR_DBFS);
    }
}
