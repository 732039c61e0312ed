//! The WAV-file audio source: the file is read once into memory as 48 kHz mono
//! s16 and looped. Other rates are refused with the command that converts them;
//! resampling belongs to the microphone path, which has a real resampler.

use super::AudioSource;
use anyhow::{Context, bail};
use common::protocol::AUDIO_SAMPLE_RATE;
use hound::{SampleFormat, WavReader};
use std::path::{Path, PathBuf};

pub struct WavFile {
    samples: Vec<i16>,
    next: usize,
    path: PathBuf,
}

/// Longest file accepted: ten minutes.
const MAX_SECONDS: u32 = 600;

impl WavFile {
    pub fn open(path: &Path) -> anyhow::Result<WavFile> {
        let reader = WavReader::open(path).with_context(|| {
            format!(
                "audio source {}: not a readable WAV file (or use tone[:HZ])",
                path.display()
            )
        })?;
        let spec = reader.spec();
        if spec.sample_rate != AUDIO_SAMPLE_RATE {
            bail!(
                "{} is {} Hz; audio is sent at {AUDIO_SAMPLE_RATE} Hz: convert it with `sox {} -r 48000 out.wav`",
                path.display(),
                spec.sample_rate,
                path.display()
            );
        }
        if reader.duration() > MAX_SECONDS * AUDIO_SAMPLE_RATE {
            bail!("{} is longer than {MAX_SECONDS} s", path.display());
        }
        let channels = usize::from(spec.channels.max(1));
        // Everything becomes 16-bit first, exactly for integer files (a 16-bit
        // file passes through unchanged), then channels are averaged.
        let sixteen_bit: Vec<i32> = match spec.sample_format {
            SampleFormat::Float => reader
                .into_samples::<f32>()
                .map(|s| s.map(|v| (v.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i32))
                .collect::<Result<_, _>>()?,
            SampleFormat::Int => {
                let bits = i32::from(spec.bits_per_sample);
                reader
                    .into_samples::<i32>()
                    .map(|s| {
                        s.map(|v| {
                            if bits > 16 {
                                v >> (bits - 16)
                            } else {
                                v << (16 - bits)
                            }
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let samples: Vec<i16> = sixteen_bit
            .chunks(channels)
            .map(|frame| {
                (frame.iter().sum::<i32>() / frame.len() as i32)
                    .clamp(i16::MIN.into(), i16::MAX.into()) as i16
            })
            .collect();
        if samples.is_empty() {
            bail!("{} has no audio", path.display());
        }
        Ok(WavFile {
            samples,
            next: 0,
            path: path.to_path_buf(),
        })
    }
}

impl AudioSource for WavFile {
    fn describe(&self) -> String {
        format!(
            "{} ({:.1} s, looped)",
            self.path.display(),
            self.samples.len() as f64 / f64::from(AUDIO_SAMPLE_RATE)
        )
    }

    fn fill(&mut self, frame: &mut [i16]) -> anyhow::Result<()> {
        for sample in frame.iter_mut() {
            *sample = self.samples[self.next];
            self.next = (self.next + 1) % self.samples.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::protocol::AUDIO_FRAME_SAMPLES;
    use hound::{WavSpec, WavWriter};

    #[test]
    fn sixteen_bit_mono_passes_unchanged_and_loops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ramp.wav");
        let spec = WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut writer = WavWriter::create(&path, spec).expect("create");
        for v in 0..1000i16 {
            writer.write_sample(v * 3 - 1500).expect("write");
        }
        writer.finalize().expect("finalize");
        let mut source = WavFile::open(&path).expect("opens");
        assert_eq!(
            source.samples[..3],
            [-1500, -1497, -1494],
            "16-bit samples pass unchanged"
        );
        let mut frame = [0i16; AUDIO_FRAME_SAMPLES];
        source.fill(&mut frame).expect("fills");
        assert_eq!(frame[0], -1500);
        assert_eq!(frame[959], 959 * 3 - 1500);
        source.fill(&mut frame).expect("fills");
        assert_eq!(frame[39], 999 * 3 - 1500);
        assert_eq!(frame[40], -1500, "loops to the start");
    }

    #[test]
    fn other_rates_are_refused_with_a_fix() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cd.wav");
        let spec = WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut writer = WavWriter::create(&path, spec).expect("create");
        writer.write_sample(0i16).expect("write");
        writer.write_sample(0i16).expect("write");
        writer.finalize().expect("finalize");
        let err = WavFile::open(&path).err().expect("refused");
        assert!(err.to_string().contains("sox"), "{err}");
    }
}
