//! Which capture and playback devices exist (`client --list-devices`), and
//! finding one by name. Device back-ends are cargo features (`audio` for
//! microphones and speakers through cpal, `camera` for cameras through nokhwa); a build without one says so and
//! says how to get it, instead of pretending there is nothing.

/// How to build with microphone and speaker support, for messages.
pub const AUDIO_BUILD_HINT: &str = "this client was built without microphone and speaker support; \
     install the ALSA headers (Debian: apt-get install libasound2-dev pkg-config) and build with \
     `cargo build --release -p meeting-client --features audio`";

/// How to build with camera support, for messages.
pub const CAMERA_BUILD_HINT: &str = "this client was built without camera support; install \
     libclang (Debian: apt-get install libclang-dev) and build with \
     `cargo build --release -p meeting-client --features camera`; until then share `test` \
     (a moving test pattern) or a JPEG/PNG file or folder instead";

/// Everything `--list-devices` prints.
pub fn list() -> String {
    let mut out = vec!["cameras:".to_string()];
    out.extend(camera_lines());
    out.extend(audio_lines());
    out.join("\n")
}

#[cfg(feature = "camera")]
fn camera_lines() -> Vec<String> {
    super::video::camera::lines()
}

#[cfg(not(feature = "camera"))]
fn camera_lines() -> Vec<String> {
    vec![format!("  none: {CAMERA_BUILD_HINT}")]
}

#[cfg(not(feature = "audio"))]
fn audio_lines() -> Vec<String> {
    vec![
        "audio inputs:".into(),
        format!("  none: {AUDIO_BUILD_HINT}"),
        "audio outputs:".into(),
        format!("  none: {AUDIO_BUILD_HINT}"),
    ]
}

#[cfg(feature = "audio")]
pub use with_audio::*;

#[cfg(feature = "audio")]
mod with_audio {
    use anyhow::{Context, anyhow};
    use cpal::traits::{DeviceTrait, HostTrait};
    use std::sync::Mutex;
    use std::time::Duration;

    /// Runs `open` on a thread of its own, named after `what` ("microphone"),
    /// and keeps the stream it opened there, since cpal streams need not be
    /// `Send`, until the returned sender is dropped. Returns what `open`
    /// reported about the device, or its error.
    pub fn hold_on_thread<T: Send + 'static>(
        what: &str,
        open: impl FnOnce() -> anyhow::Result<(cpal::Stream, T)> + Send + 'static,
    ) -> anyhow::Result<(T, crossbeam_channel::Sender<()>)> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let (opened_tx, opened) = crossbeam_channel::bounded::<anyhow::Result<T>>(1);
        std::thread::Builder::new()
            .name(format!("{what}-device"))
            .spawn(move || match open() {
                Ok((stream, found)) => {
                    let _ = opened_tx.send(Ok(found));
                    // Keep the stream alive until the stop sender is dropped.
                    let _ = stopped.recv();
                    drop(stream);
                }
                Err(err) => {
                    let _ = opened_tx.send(Err(err));
                }
            })
            .with_context(|| format!("could not start the {what} thread"))?;
        let found = opened
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| anyhow!("the {what} did not open within 5 s"))??;
        Ok((found, stop))
    }

    /// A stream config asking for a device buffer of `period` where the
    /// device allows one (its default is often 50 ms or more, all of it
    /// delay), and the buffer asked for in frames, when the device says
    /// what it takes (`None`: its default).
    pub fn low_latency(
        config: &cpal::SupportedStreamConfig,
        period: Duration,
    ) -> (cpal::StreamConfig, Option<u32>) {
        let mut stream: cpal::StreamConfig = (*config).into();
        let wanted = (f64::from(config.sample_rate()) * period.as_secs_f64()).round() as u32;
        let mut asked = None;
        if let cpal::SupportedBufferSize::Range { min, max } = config.buffer_size() {
            let frames = wanted.clamp(*min, *max);
            stream.buffer_size = cpal::BufferSize::Fixed(frames);
            asked = Some(frames);
        }
        (stream, asked)
    }

    /// Delays a device reports in its callbacks (capture to callback, or
    /// callback to playback), for the latency budget. Keeps the last
    /// `KEEP` so a long session does not grow it.
    #[derive(Default)]
    pub struct DelayLog {
        micros: Mutex<std::collections::VecDeque<u32>>,
    }

    impl DelayLog {
        const KEEP: usize = 6000;

        pub fn record(&self, delay: Duration) {
            let mut micros = common::sync::lock(&self.micros);
            if micros.len() == Self::KEEP {
                micros.pop_front();
            }
            micros.push_back(u32::try_from(delay.as_micros()).unwrap_or(u32::MAX));
        }

        /// "p50 X ms, p99 Y ms over N callbacks", or None before any.
        pub fn summary(&self) -> Option<String> {
            let mut sorted: Vec<u32> = common::sync::lock(&self.micros).iter().copied().collect();
            if sorted.is_empty() {
                return None;
            }
            sorted.sort_unstable();
            let at = |p: usize| f64::from(sorted[(sorted.len() - 1) * p / 100]) / 1000.0;
            Some(format!(
                "p50 {:.1} ms, p99 {:.1} ms over {} callbacks",
                at(50),
                at(99),
                sorted.len()
            ))
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Direction {
        Input,
        Output,
    }

    fn name_of(device: &cpal::Device) -> String {
        device
            .description()
            .map(|d| d.to_string())
            .or_else(|_| device.id().map(|id| id.to_string()))
            .unwrap_or_else(|_| "unnamed device".to_string())
    }

    fn id_of(device: &cpal::Device) -> Option<String> {
        device.id().ok().map(|id| id.to_string())
    }

    fn devices(direction: Direction) -> anyhow::Result<Vec<cpal::Device>> {
        let host = cpal::default_host();
        let all = host.devices().context("could not list the audio devices")?;
        Ok(all
            .filter(|d| match direction {
                Direction::Input => d.supports_input(),
                Direction::Output => d.supports_output(),
            })
            .collect())
    }

    /// The device whose id or name contains `wanted` (case ignored), or the
    /// default one (no name, or `default`); with its name.
    pub fn find(
        direction: Direction,
        wanted: Option<&str>,
    ) -> anyhow::Result<(cpal::Device, String)> {
        let host = cpal::default_host();
        let what = match direction {
            Direction::Input => "microphone",
            Direction::Output => "speaker",
        };
        let Some(wanted) = wanted.filter(|w| !w.eq_ignore_ascii_case("default")) else {
            let device = match direction {
                Direction::Input => host.default_input_device(),
                Direction::Output => host.default_output_device(),
            }
            .ok_or_else(|| {
                anyhow!("no {what} found; `client --list-devices` shows what there is")
            })?;
            let name = name_of(&device);
            return Ok((device, name));
        };
        let needle = wanted.to_lowercase();
        devices(direction)?
            .into_iter()
            .find(|d| {
                id_of(d).is_some_and(|id| id.to_lowercase().contains(&needle))
                    || name_of(d).to_lowercase().contains(&needle)
            })
            .map(|d| {
                let name = name_of(&d);
                (d, name)
            })
            .ok_or_else(|| {
                anyhow!("no {what} matches '{wanted}'; `client --list-devices` shows what there is")
            })
    }

    pub(super) fn audio_lines() -> Vec<String> {
        let mut out = Vec::new();
        for (title, direction) in [
            ("audio inputs:", Direction::Input),
            ("audio outputs:", Direction::Output),
        ] {
            out.push(title.to_string());
            match devices(direction) {
                Ok(list) if list.is_empty() => out.push("  none found".into()),
                Ok(list) => {
                    for device in list {
                        let config = match direction {
                            Direction::Input => device.default_input_config(),
                            Direction::Output => device.default_output_config(),
                        };
                        let format = config.map_or_else(
                            |err| format!("no usable format: {err}"),
                            |c| {
                                format!(
                                    "{} Hz, {} ch, {}",
                                    c.sample_rate(),
                                    c.channels(),
                                    c.sample_format()
                                )
                            },
                        );
                        let id = id_of(&device).unwrap_or_default();
                        out.push(format!("  {}  [{id}]  {format}", name_of(&device)));
                    }
                }
                Err(err) => out.push(format!("  error: {err:#}")),
            }
        }
        out
    }
}
