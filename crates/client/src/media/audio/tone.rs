//! The `tone` audio source: a continuous sine wave at a quarter of full scale.

use super::AudioSource;
use anyhow::bail;
use common::protocol::AUDIO_SAMPLE_RATE;

pub struct Tone {
    hz: f64,
    /// Samples produced so far; the phase is computed from it, so it never drifts.
    position: u64,
}

impl Tone {
    pub fn new(hz: f64) -> anyhow::Result<Tone> {
        let nyquist = f64::from(AUDIO_SAMPLE_RATE) / 2.0;
        if !(hz > 0.0 && hz < nyquist) {
            bail!("tone:{hz}: the frequency must be above 0 and below {nyquist} Hz");
        }
        Ok(Tone { hz, position: 0 })
    }
}

impl AudioSource for Tone {
    fn describe(&self) -> String {
        format!("{} Hz tone", self.hz)
    }

    fn fill(&mut self, frame: &mut [i16]) -> anyhow::Result<()> {
        let step = std::f64::consts::TAU * self.hz / f64::from(AUDIO_SAMPLE_RATE);
        for sample in frame.iter_mut() {
            let phase = (self.position as f64 * step) % std::f64::consts::TAU;
            *sample = (phase.sin() * f64::from(i16::MAX) / 4.0).round() as i16;
            self.position += 1;
        }
        Ok(())
    }
}
