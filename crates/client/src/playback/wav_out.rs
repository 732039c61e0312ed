//! `--audio-out PATH.wav`: the device-less playback back-end. It writes the mix
//! exactly as a speaker would get it, one 10 ms period per tick of the playback
//! clock, so sample n of the file was played n/48000 s after playback started.
//! The header is rewritten every second, so a killed client leaves a valid file.

use super::PlaybackSink;
use anyhow::Context;
use common::protocol::AUDIO_SAMPLE_RATE;
use hound::{SampleFormat, WavSpec, WavWriter};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Periods between header rewrites: one second of 5 ms periods.
const FLUSH_EVERY: u32 = 200;

pub struct WavOut {
    path: PathBuf,
    writer: Option<WavWriter<BufWriter<File>>>,
    unflushed: u32,
}

impl WavOut {
    pub fn create(path: &Path) -> anyhow::Result<WavOut> {
        let spec = WavSpec {
            channels: 1,
            sample_rate: AUDIO_SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let writer = WavWriter::create(path, spec)
            .with_context(|| format!("--audio-out: could not create {}", path.display()))?;
        Ok(WavOut {
            path: path.to_path_buf(),
            writer: Some(writer),
            unflushed: 0,
        })
    }
}

impl PlaybackSink for WavOut {
    fn describe(&self) -> String {
        format!("WAV file {}", self.path.display())
    }

    fn play(&mut self, pcm: &[i16]) -> anyhow::Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            anyhow::bail!("{} is already finished", self.path.display());
        };
        let mut samples = writer.get_i16_writer(pcm.len() as u32);
        for &sample in pcm {
            samples.write_sample(sample);
        }
        samples
            .flush()
            .with_context(|| format!("could not write {}", self.path.display()))?;
        self.unflushed += 1;
        if self.unflushed >= FLUSH_EVERY {
            writer.flush()?;
            self.unflushed = 0;
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(writer) = self.writer.take() {
            writer
                .finalize()
                .with_context(|| format!("could not finish {}", self.path.display()))?;
        }
        Ok(())
    }
}
