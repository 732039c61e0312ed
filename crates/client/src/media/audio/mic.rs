//! The `mic` audio source: a real microphone through cpal (cargo feature `audio`).
//!
//! The device is opened at its own rate, format and channel count, as it
//! prefers; its callback mixes the channels down to mono f32 and hands chunks
//! to this source, which resamples them to the wire's 48 kHz with rubato (a
//! band-limited FFT resampler, not dropped or repeated samples) and cuts
//! frames of the length the sender asks for (10 or 20 ms). The cpal stream
//! lives on a thread of its own (`microphone-device`), since streams need not
//! be `Send` on every platform.
//!
//! The device keeps the time: the sender waits for each frame and sends it
//! the moment it is complete. The device is asked for its smallest buffer
//! (`CAPTURE_PERIOD`, within what it allows): a frame completes only when the
//! device hands over the buffer holding its last sample, so a 10 ms buffer
//! out of step with the frames could hold a complete frame back for up to
//! 10 ms. When more than `MAX_BACKLOG` is waiting, the oldest samples are
//! dropped, so delay never grows; a device that stalls is padded with
//! silence. Both are counted.

use super::AudioSource;
use crate::media::devices::{self, DelayLog, Direction};
use anyhow::{Context, anyhow};
use common::protocol::{AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE};
use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rubato::{FftFixedOut, Resampler};
use std::collections::VecDeque;
use std::time::Duration;

/// At most this much audio (at 48 kHz) waits for the sender: 60 ms.
const MAX_BACKLOG: usize = 3 * AUDIO_FRAME_SAMPLES;
/// The device buffer asked for: 2.5 ms, a quarter of a frame.
const CAPTURE_PERIOD: Duration = Duration::from_micros(2_500);

pub struct Microphone {
    name: String,
    native_rate: u32,
    /// The device buffer asked for and granted, in native frames (`None`:
    /// the device's own choice).
    buffer_frames: Option<u32>,
    chunks: Receiver<Vec<f32>>,
    /// Native-rate mono samples not resampled yet.
    native: Vec<f32>,
    resampler: Option<FftFixedOut<f32>>,
    /// 48 kHz samples ready for frames.
    ready: VecDeque<f32>,
    /// Dropping this ends the device thread and closes the stream.
    _stop: Sender<()>,
    /// Capture-to-callback delay the device reports.
    device_delay: std::sync::Arc<DelayLog>,
    pub dropped_samples: u64,
    pub padded_samples: u64,
}

impl Microphone {
    /// Opens `name` (as `--list-devices` shows it), or the default input.
    pub fn open(name: Option<&str>) -> anyhow::Result<Microphone> {
        let (chunks_tx, chunks) = crossbeam_channel::bounded::<Vec<f32>>(256);
        let wanted = name.map(str::to_string);
        let device_delay = std::sync::Arc::new(DelayLog::default());
        let delays = device_delay.clone();
        let ((name, native_rate, buffer_frames), stop) =
            devices::hold_on_thread("microphone", move || {
                start_stream(wanted.as_deref(), chunks_tx, delays)
            })?;
        let resampler = if native_rate == AUDIO_SAMPLE_RATE {
            None
        } else {
            Some(
                FftFixedOut::<f32>::new(
                    native_rate as usize,
                    AUDIO_SAMPLE_RATE as usize,
                    AUDIO_FRAME_SAMPLES,
                    2,
                    1,
                )
                .map_err(|err| anyhow!("cannot resample {native_rate} Hz to 48 kHz: {err}"))?,
            )
        };
        Ok(Microphone {
            name,
            native_rate,
            buffer_frames,
            chunks,
            native: Vec::new(),
            resampler,
            ready: VecDeque::new(),
            _stop: stop,
            device_delay,
            dropped_samples: 0,
            padded_samples: 0,
        })
    }

    /// Moves what the device delivered through the resampler into `ready`.
    fn convert(&mut self) -> anyhow::Result<()> {
        let Some(resampler) = &mut self.resampler else {
            self.ready.extend(self.native.drain(..));
            return Ok(());
        };
        while self.native.len() >= resampler.input_frames_next() {
            let take = resampler.input_frames_next();
            let output = resampler
                .process(&[&self.native[..take]], None)
                .map_err(|err| anyhow!("resampling the microphone failed: {err}"))?;
            self.native.drain(..take);
            if let Some(mono) = output.first() {
                self.ready.extend(mono.iter().copied());
            }
        }
        Ok(())
    }
}

impl AudioSource for Microphone {
    fn describe(&self) -> String {
        let buffer = match self.buffer_frames {
            Some(frames) => format!(
                ", {:.1} ms buffer",
                f64::from(frames) * 1000.0 / f64::from(self.native_rate.max(1))
            ),
            None => String::new(),
        };
        format!("microphone {} ({} Hz{buffer})", self.name, self.native_rate)
    }

    fn paced(&self) -> bool {
        true
    }

    fn fill(&mut self, frame: &mut [i16]) -> anyhow::Result<()> {
        // The frame is sent the moment the device completes it: wait for
        // it, but not past a frame and a half more (a device that stalls
        // is padded with silence rather than holding the sender up).
        let frame_time = Duration::from_micros(frame.len() as u64 * 1_000_000 / 48_000);
        let deadline = std::time::Instant::now() + frame_time * 5 / 2;
        while self.ready.len() < frame.len() {
            let wait = deadline.saturating_duration_since(std::time::Instant::now());
            match self.chunks.recv_timeout(wait) {
                Ok(chunk) => {
                    self.native.extend_from_slice(&chunk);
                    self.native.extend(self.chunks.try_iter().flatten());
                    self.convert()?;
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    anyhow::bail!("the microphone {} stopped", self.name)
                }
            }
        }
        if self.ready.len() > MAX_BACKLOG + frame.len() {
            let excess = self.ready.len() - MAX_BACKLOG;
            self.ready.drain(..excess);
            self.dropped_samples += excess as u64;
        }
        for sample in frame.iter_mut() {
            *sample = match self.ready.pop_front() {
                Some(value) => to_i16(value),
                None => {
                    self.padded_samples += 1;
                    0
                }
            };
        }
        Ok(())
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        if let Some(delay) = self.device_delay.summary() {
            tracing::info!(
                "microphone {}: capture delay {delay}; {} samples dropped, {} padded",
                self.name,
                self.dropped_samples,
                self.padded_samples
            );
        }
    }
}

fn to_i16(value: f32) -> i16 {
    (value.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16
}

/// What an opened input device is: its name, its native rate, and the
/// buffer it was asked for in frames (`None`: its own choice).
type Opened = (String, u32, Option<u32>);

/// Opens the input device and starts its stream; returns it with what it is.
fn start_stream(
    wanted: Option<&str>,
    chunks: Sender<Vec<f32>>,
    delays: std::sync::Arc<DelayLog>,
) -> anyhow::Result<(cpal::Stream, Opened)> {
    let (device, name) = devices::find(Direction::Input, wanted)?;
    let config = device
        .default_input_config()
        .with_context(|| format!("the microphone {name} reports no usable format"))?;
    let rate = config.sample_rate();
    let channels = usize::from(config.channels());
    let (stream_config, buffer_frames) = devices::low_latency(&config, CAPTURE_PERIOD);
    let on_error = |err| tracing::warn!("microphone: {err}");
    let stream = match config.sample_format() {
        SampleFormat::F32 => {
            build::<f32>(&device, &stream_config, channels, chunks, delays, on_error)
        }
        SampleFormat::I16 => {
            build::<i16>(&device, &stream_config, channels, chunks, delays, on_error)
        }
        SampleFormat::U16 => {
            build::<u16>(&device, &stream_config, channels, chunks, delays, on_error)
        }
        SampleFormat::I32 => {
            build::<i32>(&device, &stream_config, channels, chunks, delays, on_error)
        }
        SampleFormat::I8 => {
            build::<i8>(&device, &stream_config, channels, chunks, delays, on_error)
        }
        SampleFormat::U8 => {
            build::<u8>(&device, &stream_config, channels, chunks, delays, on_error)
        }
        other => {
            return Err(anyhow!(
                "the microphone {name} delivers {other}, which this client does not read"
            ));
        }
    }
    .with_context(|| format!("could not open the microphone {name}"))?;
    stream
        .play()
        .with_context(|| format!("could not start the microphone {name}"))?;
    Ok((stream, (name, rate, buffer_frames)))
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    channels: usize,
    chunks: Sender<Vec<f32>>,
    delays: std::sync::Arc<DelayLog>,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    device.build_input_stream(
        *config,
        move |data: &[T], info: &cpal::InputCallbackInfo| {
            let when = info.timestamp();
            delays.record(when.callback.duration_since(when.capture));
            let mono = downmix(data, channels);
            // A full channel means the sender stopped reading: drop, never block
            // the device's thread.
            let _ = chunks.try_send(mono);
        },
        on_error,
        None,
    )
}

/// Interleaved samples of `channels` channels to mono f32.
fn downmix<T>(data: &[T], channels: usize) -> Vec<f32>
where
    T: Sample,
    f32: FromSample<T>,
{
    let channels = channels.max(1);
    data.chunks(channels)
        .map(|frame| frame.iter().map(|&s| f32::from_sample(s)).sum::<f32>() / channels as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels_from_any_format() {
        assert_eq!(downmix(&[0.5f32, -0.5, 1.0, 0.0], 2), vec![0.0, 0.5]);
        let mono = downmix(&[i16::MAX, i16::MAX], 2);
        assert!((mono[0] - 1.0).abs() < 1e-4);
        assert_eq!(to_i16(2.0), i16::MAX, "clipped, not wrapped");
        assert_eq!(to_i16(-0.5), -16384);
    }

    #[test]
    fn a_44100_hz_tone_resamples_to_48_khz_without_losing_its_pitch() {
        let mut resampler =
            FftFixedOut::<f32>::new(44_100, 48_000, AUDIO_FRAME_SAMPLES, 2, 1).expect("resampler");
        let tone: Vec<f32> = (0..44_100)
            .map(|n| (std::f32::consts::TAU * 1000.0 * n as f32 / 44_100.0).sin() * 0.5)
            .collect();
        let mut out = Vec::new();
        let mut at = 0;
        while at + resampler.input_frames_next() <= tone.len() {
            let take = resampler.input_frames_next();
            let chunk = resampler
                .process(&[&tone[at..at + take]], None)
                .expect("process");
            out.extend_from_slice(&chunk[0]);
            at += take;
        }
        // About one second at 48 kHz, and still 1 kHz: count zero crossings
        // over the steady middle.
        assert!(
            (46_000..=48_000).contains(&out.len()),
            "{} samples",
            out.len()
        );
        let middle = &out[4_800..43_200];
        let crossings = middle
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        assert!(
            (795..=805).contains(&crossings),
            "{crossings} cycles in 0.8 s"
        );
    }
}
