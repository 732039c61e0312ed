//! `--speaker [NAME]` / `--audio-out speaker[:NAME]`: the mix through a real
//! output device, via cpal (cargo feature `audio`).
//!
//! The playback clock hands over 20 ms of 48 kHz mono every 20 ms, as it does
//! to the WAV back-end; this back-end converts it to the device's rate (rubato)
//! and channel count and queues it for the device's callback. The two clocks
//! differ a little: the queue holds at most `MAX_QUEUED` (older audio is
//! dropped, so delay never grows) and plays silence when it runs dry (counted
//! as underruns). The cpal stream lives on a thread of its own, since streams
//! need not be `Send` on every platform.

use super::PlaybackSink;
use crate::media::devices::{self, DelayLog, Direction};
use anyhow::{Context, anyhow};
use common::protocol::{AUDIO_FRAME_SAMPLES, AUDIO_SAMPLE_RATE};
use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use rubato::{FftFixedIn, Resampler};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// At most this much audio (in device frames) waits for the device: 60 ms.
fn max_queued(rate: u32) -> usize {
    rate as usize * 60 / 1000
}

/// Mono samples at the device's rate, shared with its callback.
#[derive(Default)]
struct Queue {
    samples: Mutex<VecDeque<f32>>,
    underruns: AtomicU64,
    dropped: AtomicU64,
    /// The most frames the device asked for in one callback.
    largest_request: std::sync::atomic::AtomicUsize,
    /// Callback to playback, as the device reports it, plus what waited in
    /// this queue: the playback side of the delay budget.
    delay: DelayLog,
}

pub struct Speaker {
    name: String,
    rate: u32,
    queue: Arc<Queue>,
    resampler: Option<FftFixedIn<f32>>,
    /// Dropping this ends the device thread and closes the stream.
    stop: Option<crossbeam_channel::Sender<()>>,
}

impl Speaker {
    /// Opens `name` (part of a name or id from `--list-devices`), or the default output.
    pub fn open(name: Option<&str>) -> anyhow::Result<Speaker> {
        let queue = Arc::new(Queue::default());
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let (opened_tx, opened) = crossbeam_channel::bounded::<anyhow::Result<(String, u32)>>(1);
        let wanted = name.map(str::to_string);
        let device_queue = queue.clone();
        std::thread::Builder::new()
            .name("speaker-device".into())
            .spawn(
                move || match start_stream(wanted.as_deref(), device_queue) {
                    Ok((stream, name, rate)) => {
                        let _ = opened_tx.send(Ok((name, rate)));
                        let _ = stopped.recv();
                        drop(stream);
                    }
                    Err(err) => {
                        let _ = opened_tx.send(Err(err));
                    }
                },
            )
            .context("could not start the speaker thread")?;
        let (name, rate) = opened
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| anyhow!("the speaker did not open within 5 s"))??;
        let resampler = if rate == AUDIO_SAMPLE_RATE {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(
                    AUDIO_SAMPLE_RATE as usize,
                    rate as usize,
                    AUDIO_FRAME_SAMPLES,
                    2,
                    1,
                )
                .map_err(|err| {
                    anyhow!("cannot resample 48 kHz to the speaker's {rate} Hz: {err}")
                })?,
            )
        };
        Ok(Speaker {
            name,
            rate,
            queue,
            resampler,
            stop: Some(stop),
        })
    }
}

impl PlaybackSink for Speaker {
    fn describe(&self) -> String {
        format!("speaker {} ({} Hz)", self.name, self.rate)
    }

    fn play(&mut self, pcm: &[i16; AUDIO_FRAME_SAMPLES]) -> anyhow::Result<()> {
        let mono: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let converted = match &mut self.resampler {
            None => mono,
            Some(resampler) => resampler
                .process(&[&mono], None)
                .map_err(|err| anyhow!("resampling for the speaker failed: {err}"))?
                .swap_remove(0),
        };
        let mut samples = self
            .queue
            .samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        samples.extend(converted);
        // Room for what the device takes at once, or it would starve.
        let largest = self.queue.largest_request.load(Ordering::Relaxed);
        let limit = max_queued(self.rate).max(2 * largest + AUDIO_FRAME_SAMPLES);
        if samples.len() > limit {
            let excess = samples.len() - limit;
            samples.drain(..excess);
            self.queue
                .dropped
                .fetch_add(excess as u64, Ordering::Relaxed);
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(delay) = self.queue.delay.summary() {
            tracing::info!("speaker {}: playback delay {delay}", self.name);
        }
        let underruns = self.queue.underruns.load(Ordering::Relaxed);
        let dropped = self.queue.dropped.load(Ordering::Relaxed);
        if underruns > 0 || dropped > 0 {
            tracing::info!(
                "speaker {}: {underruns} samples of silence filled in, {dropped} dropped to keep the delay",
                self.name
            );
        }
        drop(self.stop.take());
        Ok(())
    }
}

fn start_stream(
    wanted: Option<&str>,
    queue: Arc<Queue>,
) -> anyhow::Result<(cpal::Stream, String, u32)> {
    let (device, name) = devices::find(Direction::Output, wanted)?;
    let config = device
        .default_output_config()
        .with_context(|| format!("the speaker {name} reports no usable format"))?;
    let rate = config.sample_rate();
    let channels = usize::from(config.channels());
    let stream_config = devices::low_latency(&config);
    let on_error = |err| tracing::warn!("speaker: {err}");
    let stream = match config.sample_format() {
        SampleFormat::F32 => build::<f32>(&device, &stream_config, channels, rate, queue, on_error),
        SampleFormat::I16 => build::<i16>(&device, &stream_config, channels, rate, queue, on_error),
        SampleFormat::U16 => build::<u16>(&device, &stream_config, channels, rate, queue, on_error),
        SampleFormat::I32 => build::<i32>(&device, &stream_config, channels, rate, queue, on_error),
        other => {
            return Err(anyhow!(
                "the speaker {name} wants {other}, which this client does not write"
            ));
        }
    }
    .with_context(|| format!("could not open the speaker {name}"))?;
    stream
        .play()
        .with_context(|| format!("could not start the speaker {name}"))?;
    Ok((stream, name, rate))
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    channels: usize,
    rate: u32,
    queue: Arc<Queue>,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    device.build_output_stream(
        *config,
        move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
            let mut samples = queue
                .samples
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let frames = data.len() / channels.max(1);
            queue.largest_request.fetch_max(frames, Ordering::Relaxed);
            let when = info.timestamp();
            let queued = Duration::from_secs_f64(samples.len() as f64 / f64::from(rate));
            queue
                .delay
                .record(when.playback.duration_since(when.callback) + queued);
            for frame in data.chunks_mut(channels.max(1)) {
                let value = samples.pop_front().unwrap_or_else(|| {
                    queue.underruns.fetch_add(1, Ordering::Relaxed);
                    0.0
                });
                frame.fill(T::from_sample(value));
            }
        },
        on_error,
        None,
    )
}
