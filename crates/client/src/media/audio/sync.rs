//! The `sync` audio source: silence but for a 1 kHz beep of 100 ms once a
//! second, starting to the sample at the instant the `sync` video source
//! flashes (`media::sync_clock`), for measuring lip sync at a receiver.

use super::AudioSource;
use crate::media::sync_clock::{self, BEEP_HZ, FLASH_LENGTH};
use common::protocol::AUDIO_SAMPLE_RATE;
use std::time::{Duration, Instant};

pub struct SyncBeep;

impl AudioSource for SyncBeep {
    fn describe(&self) -> String {
        "sync beep, once a second with the sync flash".to_string()
    }

    /// The frame is sent as soon as it is made, so its last sample is now.
    fn fill(&mut self, frame: &mut [i16]) -> anyhow::Result<()> {
        let rate = f64::from(AUDIO_SAMPLE_RATE);
        let now = Instant::now();
        let first = now
            .checked_sub(Duration::from_secs_f64(frame.len() as f64 / rate))
            .unwrap_or(now);
        let started = sync_clock::beep_start(first);
        for (i, sample) in frame.iter_mut().enumerate() {
            let at = first + Duration::from_secs_f64(i as f64 / rate);
            let into = at.checked_duration_since(started);
            *sample = match into {
                Some(into) if into < FLASH_LENGTH => {
                    let phase = std::f64::consts::TAU * BEEP_HZ * into.as_secs_f64();
                    (phase.sin() * f64::from(i16::MAX) / 4.0).round() as i16
                }
                _ => 0,
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_silence_or_the_beep() {
        let mut source = SyncBeep;
        let mut frame = [0i16; 480];
        source.fill(&mut frame).expect("fills");
        let loudest = frame.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(loudest <= 8192, "{loudest}");
    }
}
