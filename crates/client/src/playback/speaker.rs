//! `--speaker [NAME]` / `--audio-out speaker[:NAME]`: the mix through a real
//! output device, via cpal (cargo feature `audio`).
//!
//! The device keeps the time: its callback pulls 5 ms of the mix from the
//! mixer whenever it needs more (`Playback::pull`), converts it to the device's
//! rate (rubato) and channel count, and plays it. There is no second clock to
//! drift against the device's, so nothing piles up and nothing is dropped; at
//! most 5 ms of the mix waits between pulls. The cpal stream lives on a thread
//! of its own, since streams need not be `Send` on every platform.

use super::{PULL, Playback, PlaybackSink};
use crate::media::devices::{self, DelayLog, Direction};
use anyhow::{Context, anyhow};
use common::protocol::AUDIO_SAMPLE_RATE;
use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use rubato::{FftFixedIn, Resampler};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Speaker {
    wanted: Option<String>,
    name: String,
    /// Callback to playback as the device reports it, plus what waited here.
    delay: Arc<DelayLog>,
    /// Dropping this ends the device thread and closes the stream.
    stop: Option<crossbeam_channel::Sender<()>>,
}

impl Speaker {
    /// Finds `name` (part of a name or id from `--list-devices`), or the
    /// default output; the stream starts when playback drives it.
    pub fn open(name: Option<&str>) -> anyhow::Result<Speaker> {
        let (_, found) = devices::find(Direction::Output, name)?;
        Ok(Speaker {
            wanted: name.map(str::to_string),
            name: found,
            delay: Arc::default(),
            stop: None,
        })
    }
}

impl PlaybackSink for Speaker {
    fn describe(&self) -> String {
        format!("speaker {}", self.name)
    }

    fn play(&mut self, _pcm: &[i16]) -> anyhow::Result<()> {
        Err(anyhow!(
            "the speaker pulls the mix itself; nothing should push to it"
        ))
    }

    fn drive(&mut self, playback: &Playback) -> anyhow::Result<bool> {
        let wanted = self.wanted.clone();
        let playback = playback.clone();
        let delay = self.delay.clone();
        let (rate, stop) = devices::hold_on_thread("speaker", move || {
            start_stream(wanted.as_deref(), playback, delay)
        })?;
        self.name = format!("{} ({rate} Hz)", self.name);
        self.stop = Some(stop);
        Ok(true)
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        drop(self.stop.take());
        if let Some(delay) = self.delay.summary() {
            tracing::info!("speaker {}: playback delay {delay}", self.name);
        }
        Ok(())
    }
}

fn start_stream(
    wanted: Option<&str>,
    playback: Playback,
    delay: Arc<DelayLog>,
) -> anyhow::Result<(cpal::Stream, u32)> {
    let (device, name) = devices::find(Direction::Output, wanted)?;
    let config = device
        .default_output_config()
        .with_context(|| format!("the speaker {name} reports no usable format"))?;
    let rate = config.sample_rate();
    // 5 ms: the callback pulls the mix 5 ms at a time (`PULL`).
    let (stream_config, _) = devices::low_latency(&config, Duration::from_millis(5));
    let feed = Feed::new(playback, rate, usize::from(config.channels()), delay)?;
    let on_error = |err| tracing::warn!("speaker: {err}");
    let stream = match config.sample_format() {
        SampleFormat::F32 => build::<f32>(&device, &stream_config, feed, on_error),
        SampleFormat::I16 => build::<i16>(&device, &stream_config, feed, on_error),
        SampleFormat::U16 => build::<u16>(&device, &stream_config, feed, on_error),
        SampleFormat::I32 => build::<i32>(&device, &stream_config, feed, on_error),
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
    Ok((stream, rate))
}

/// What the device callback owns: the mixer, and the mix not played yet.
struct Feed {
    playback: Playback,
    rate: u32,
    channels: usize,
    resampler: Option<FftFixedIn<f32>>,
    /// Mono samples at the device's rate, pulled but not played yet.
    pending: VecDeque<f32>,
    frame: [i16; PULL],
    delay: Arc<DelayLog>,
}

impl Feed {
    fn new(
        playback: Playback,
        rate: u32,
        channels: usize,
        delay: Arc<DelayLog>,
    ) -> anyhow::Result<Feed> {
        let resampler = if rate == AUDIO_SAMPLE_RATE {
            None
        } else {
            Some(
                FftFixedIn::<f32>::new(AUDIO_SAMPLE_RATE as usize, rate as usize, PULL, 2, 1)
                    .map_err(|err| {
                        anyhow!("cannot resample 48 kHz to the speaker's {rate} Hz: {err}")
                    })?,
            )
        };
        Ok(Feed {
            playback,
            rate,
            channels: channels.max(1),
            resampler,
            pending: VecDeque::new(),
            frame: [0; PULL],
            delay,
        })
    }

    /// Pulls 5 ms of the mix at a time until `frames` device frames wait.
    fn fill(&mut self, frames: usize) {
        while self.pending.len() < frames {
            self.playback.pull(Instant::now(), &mut self.frame);
            let mono: Vec<f32> = self.frame.iter().map(|&s| f32::from(s) / 32768.0).collect();
            match &mut self.resampler {
                None => self.pending.extend(mono),
                Some(resampler) => match resampler.process(&[&mono], None) {
                    Ok(mut out) => self.pending.extend(out.swap_remove(0)),
                    Err(err) => {
                        tracing::warn!("speaker: resampling failed: {err}");
                        self.pending.extend(std::iter::repeat_n(0.0, frames));
                    }
                },
            }
        }
    }
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut feed: Feed,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    device.build_output_stream(
        *config,
        move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
            let frames = data.len() / feed.channels;
            let waiting = Duration::from_secs_f64(feed.pending.len() as f64 / f64::from(feed.rate));
            let when = info.timestamp();
            let delay = when.playback.duration_since(when.callback) + waiting;
            feed.delay.record(delay);
            feed.playback.set_output_delay(delay);
            feed.fill(frames);
            for out in data.chunks_mut(feed.channels) {
                let value = feed.pending.pop_front().unwrap_or(0.0);
                out.fill(T::from_sample(value));
            }
        },
        on_error,
        None,
    )
}
