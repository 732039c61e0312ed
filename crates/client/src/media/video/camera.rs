//! The `camera` video source: a real camera through nokhwa (cargo feature
//! `camera`; V4L2 on Linux).
//!
//! Three stages, each on its own thread, with a newest-frame-only handoff
//! between them (`frames::latest`), so nothing waits on the device and a slow
//! stage drops stale frames instead of queueing them:
//!
//! - `camera-device` opens the camera (nokhwa's handle need not be `Send`, so
//!   it lives there), negotiates a mode (`choose_mode`) and reads raw frames;
//! - `camera-encode` converts them to RGB, scales them to fit the sending size
//!   and encodes JPEG (`frames::frame_to_jpeg`);
//! - the sender calls `next_jpeg` at `--fps` and gets the newest JPEG.

use super::frames::{self, RawFormat, RawFrame};
use super::{VideoSettings, VideoSource};
use anyhow::{Context, anyhow, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, CameraInfo, FrameFormat, RequestedFormat,
    RequestedFormatType,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What to say when there is no camera to open.
pub const NO_CAMERA: &str = "no camera found (`client --list-devices` shows what there is); \
     share `test` (a moving test pattern) or a JPEG/PNG file or folder instead";

/// How long a camera may take to deliver its first frame, and any later one.
const FIRST_FRAME: Duration = Duration::from_secs(5);
/// How long `next_jpeg` waits for a new frame before sending the last again.
const FRESH_FRAME: Duration = Duration::from_millis(100);

/// The formats this client reads, best first (MJPEG costs the USB bus less).
const READABLE: [FrameFormat; 2] = [FrameFormat::MJPEG, FrameFormat::YUYV];

pub struct Camera {
    name: String,
    mode: CameraFormat,
    jpegs: Receiver<Result<Vec<u8>, String>>,
    last: Option<Vec<u8>>,
    /// Dropping this ends the device thread (after its next frame), and with
    /// it the encoder.
    _stop: Sender<()>,
    /// Raw frames the encoder had no time for.
    pub stale_raw: Arc<AtomicU64>,
    /// Encoded frames the sender had no time for.
    pub stale_jpeg: Arc<AtomicU64>,
}

impl Camera {
    /// Opens the camera `wanted` names (an index or part of a name from
    /// `--list-devices`), or the first one.
    pub fn open(wanted: Option<&str>, settings: VideoSettings) -> anyhow::Result<Camera> {
        let (raw_tx, raw_rx, stale_raw) = frames::latest::<Result<RawFrame, String>>();
        let (jpeg_tx, jpegs, stale_jpeg) = frames::latest::<Result<Vec<u8>, String>>();
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let (opened_tx, opened) =
            crossbeam_channel::bounded::<anyhow::Result<(String, CameraFormat)>>(1);
        let wanted = wanted.map(str::to_string);
        let errors = jpeg_tx;
        std::thread::Builder::new()
            .name("camera-device".into())
            .spawn(move || {
                let (mut camera, name, mode) = match open_camera(wanted.as_deref(), settings) {
                    Ok(opened) => opened,
                    Err(err) => {
                        let _ = opened_tx.send(Err(err));
                        return;
                    }
                };
                let _ = opened_tx.send(Ok((name.clone(), mode)));
                let format = match mode.format() {
                    FrameFormat::MJPEG => RawFormat::Mjpeg,
                    _ => RawFormat::Yuyv,
                };
                let encoder = spawn_encoder(raw_rx, errors, settings);
                while let Err(TryRecvError::Empty) = stopped.try_recv() {
                    match camera.frame_raw() {
                        Ok(data) => raw_tx.send(Ok(RawFrame {
                            format,
                            width: mode.width(),
                            height: mode.height(),
                            data: data.into_owned(),
                        })),
                        Err(err) => {
                            raw_tx.send(Err(format!("reading a frame failed: {err}")));
                            break;
                        }
                    }
                }
                let _ = camera.stop_stream();
                drop(raw_tx);
                if let Ok(encoder) = encoder {
                    let _ = encoder.join();
                }
            })
            .context("could not start the camera thread")?;
        let (name, mode) = opened
            .recv_timeout(FIRST_FRAME)
            .map_err(|_| anyhow!("the camera did not open within {FIRST_FRAME:?}"))??;
        Ok(Camera {
            name,
            mode,
            jpegs,
            last: None,
            _stop: stop,
            stale_raw,
            stale_jpeg,
        })
    }
}

/// The encoder stage: raw frames in, JPEGs (or the error that ended it) out.
fn spawn_encoder(
    raw: Receiver<Result<RawFrame, String>>,
    jpegs: frames::LatestSender<Result<Vec<u8>, String>>,
    settings: VideoSettings,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("camera-encode".into())
        .spawn(move || {
            // Ends when the device thread drops its sender.
            while let Ok(frame) = raw.recv() {
                let jpeg = frame.and_then(|frame| {
                    frames::frame_to_jpeg(&frame, settings.width, settings.height, settings.quality)
                        .map_err(|err| format!("{err:#}"))
                });
                let failed = jpeg.is_err();
                jpegs.send(jpeg);
                if failed {
                    return;
                }
            }
            jpegs.send(Err("the camera stopped delivering frames".into()));
        })
}

impl VideoSource for Camera {
    fn describe(&self) -> String {
        format!(
            "camera {} ({}x{} {} at {} fps)",
            self.name,
            self.mode.width(),
            self.mode.height(),
            self.mode.format(),
            self.mode.frame_rate()
        )
    }

    fn next_jpeg(&mut self) -> anyhow::Result<Vec<u8>> {
        let wait = if self.last.is_some() {
            FRESH_FRAME
        } else {
            FIRST_FRAME
        };
        match self.jpegs.recv_timeout(wait) {
            Ok(Ok(jpeg)) => {
                self.last = Some(jpeg.clone());
                Ok(jpeg)
            }
            Ok(Err(err)) => bail!("camera {}: {err}", self.name),
            Err(RecvTimeoutError::Timeout) => match &self.last {
                // The camera is slower than --fps: send the last frame again.
                Some(last) => Ok(last.clone()),
                None => bail!(
                    "camera {} delivered no frame within {FIRST_FRAME:?}",
                    self.name
                ),
            },
            Err(RecvTimeoutError::Disconnected) => bail!("camera {} stopped", self.name),
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let (raw, jpeg) = (
            self.stale_raw.load(Ordering::Relaxed),
            self.stale_jpeg.load(Ordering::Relaxed),
        );
        if raw + jpeg > 0 {
            tracing::info!(
                "camera {}: dropped {raw} stale raw and {jpeg} stale encoded frames",
                self.name
            );
        }
    }
}

/// A camera mode, as `choose_mode` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub mjpeg: bool,
}

/// The best mode for sending `width` x `height` at `fps`: MJPEG or YUYV
/// (`modes` holds only those), from 640x360 up to 1280x720 when the camera
/// has one, the smallest that covers the sending size, up to 30 fps and at
/// least `fps` when it can; MJPEG before YUYV when all else is equal.
pub fn choose_mode(modes: &[Mode], width: u32, height: u32, fps: u32) -> Option<Mode> {
    let want_fps = fps.clamp(1, 30);
    modes.iter().copied().min_by_key(|m| {
        let in_range = (640..=1280).contains(&m.width) && (360..=720).contains(&m.height);
        let covers = m.width >= width && m.height >= height;
        let rate_ok = (want_fps..=30).contains(&m.fps);
        (
            !in_range,
            !rate_ok,
            !covers,
            // Smallest that covers; else the largest.
            if covers {
                i64::from(m.width) * i64::from(m.height)
            } else {
                -(i64::from(m.width) * i64::from(m.height))
            },
            !m.mjpeg,
            // The nearest rate to what is sent, above rather than below.
            m.fps.abs_diff(want_fps) * 2 + u32::from(m.fps < want_fps),
        )
    })
}

fn mode_of(format: &CameraFormat) -> Option<Mode> {
    let mjpeg = match format.format() {
        FrameFormat::MJPEG => true,
        FrameFormat::YUYV => false,
        _ => return None,
    };
    Some(Mode {
        width: format.width(),
        height: format.height(),
        fps: format.frame_rate(),
        mjpeg,
    })
}

/// The cameras there are.
pub fn cameras() -> anyhow::Result<Vec<CameraInfo>> {
    nokhwa::query(ApiBackend::Auto).map_err(|err| anyhow!("could not list the cameras: {err}"))
}

/// The camera `wanted` names: its index, or part of its name (case ignored).
fn find(wanted: Option<&str>) -> anyhow::Result<CameraInfo> {
    let all = cameras()?;
    let Some(wanted) = wanted else {
        return all.into_iter().next().ok_or_else(|| anyhow!("{NO_CAMERA}"));
    };
    if all.is_empty() {
        bail!("{NO_CAMERA}");
    }
    let needle = wanted.to_lowercase();
    all.into_iter()
        .find(|c| {
            c.index().as_index().ok().map(|i| i.to_string()).as_deref() == Some(wanted)
                || c.human_name().to_lowercase().contains(&needle)
        })
        .ok_or_else(|| {
            anyhow!("no camera matches '{wanted}'; `client --list-devices` shows what there is")
        })
}

/// Opens a camera in a mode this client reads.
fn opened(index: &CameraIndex) -> anyhow::Result<nokhwa::Camera> {
    nokhwa::Camera::new(
        index.clone(),
        RequestedFormat::with_formats(RequestedFormatType::None, &READABLE),
    )
    .map_err(|err| {
        anyhow!("could not open the camera (busy, not permitted, or offering neither MJPEG nor YUYV): {err}")
    })
}

/// Opens, negotiates and starts a camera; with its name and mode.
fn open_camera(
    wanted: Option<&str>,
    settings: VideoSettings,
) -> anyhow::Result<(nokhwa::Camera, String, CameraFormat)> {
    let info = find(wanted)?;
    let name = info.human_name();
    let mut camera = opened(info.index()).with_context(|| format!("camera {name}"))?;
    let formats = camera
        .compatible_camera_formats()
        .map_err(|err| anyhow!("camera {name} does not list its formats: {err}"))?;
    let modes: Vec<Mode> = formats.iter().filter_map(mode_of).collect();
    let best = choose_mode(&modes, settings.width, settings.height, settings.fps)
        .ok_or_else(|| anyhow!("camera {name} offers neither MJPEG nor YUYV"))?;
    let format = CameraFormat::new_from(
        best.width,
        best.height,
        if best.mjpeg {
            FrameFormat::MJPEG
        } else {
            FrameFormat::YUYV
        },
        best.fps,
    );
    let wanted_format = [format.format()];
    camera
        .set_camera_requset(RequestedFormat::with_formats(
            RequestedFormatType::Exact(format),
            &wanted_format,
        ))
        .map_err(|err| anyhow!("camera {name} refused {format}: {err}"))?;
    camera
        .open_stream()
        .map_err(|err| anyhow!("could not start camera {name}: {err}"))?;
    let mode = camera.camera_format();
    Ok((camera, name, mode))
}

/// `--list-devices` lines: every camera with its formats.
pub fn lines() -> Vec<String> {
    let all = match cameras() {
        Ok(all) => all,
        Err(err) => return vec![format!("  error: {err:#}")],
    };
    if all.is_empty() {
        return vec![
            "  none found (share `test` or a JPEG/PNG file or folder instead)".to_string(),
        ];
    }
    let mut out = Vec::new();
    for info in all {
        let index = info
            .index()
            .as_index()
            .map_or_else(|_| info.index().as_string(), |i| i.to_string());
        out.push(format!(
            "  {}  [{index}]  {}",
            info.human_name(),
            info.description()
        ));
        let formats = opened(info.index()).and_then(|mut camera| {
            camera
                .compatible_camera_formats()
                .map_err(|err| anyhow!("{err}"))
        });
        match formats {
            Ok(formats) => out.extend(format_lines(&formats)),
            Err(err) => out.push(format!("    formats unknown: {err:#}")),
        }
    }
    out
}

/// One line per pixel format: its sizes, each with its frame rates.
fn format_lines(formats: &[CameraFormat]) -> Vec<String> {
    let mut formats = formats.to_vec();
    formats.sort_by_key(|f| (f.format(), f.width(), f.height(), f.frame_rate()));
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<(FrameFormat, u32, u32)> = None;
    for f in &formats {
        let key = (f.format(), f.width(), f.height());
        if current.map(|c| c.0) != Some(f.format()) {
            out.push(format!("    {}:", f.format()));
        }
        let line = out.last_mut().expect("a line per format");
        if current == Some(key) {
            line.push_str(&format!("/{}", f.frame_rate()));
        } else {
            line.push_str(&format!(" {}x{}@{}", f.width(), f.height(), f.frame_rate()));
        }
        current = Some(key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(width: u32, height: u32, fps: u32, mjpeg: bool) -> Mode {
        Mode {
            width,
            height,
            fps,
            mjpeg,
        }
    }

    #[test]
    fn a_sensible_mode_is_chosen() {
        // A typical laptop camera: YUYV at full rate only when small, MJPEG up to 1080p.
        let laptop = [
            mode(640, 480, 30, false),
            mode(1280, 720, 10, false),
            mode(640, 360, 30, true),
            mode(640, 480, 30, true),
            mode(1280, 720, 30, true),
            mode(1280, 720, 60, true),
            mode(1920, 1080, 30, true),
        ];
        assert_eq!(
            choose_mode(&laptop, 640, 360, 15),
            Some(mode(640, 360, 30, true))
        );
        assert_eq!(
            choose_mode(&laptop, 1280, 720, 30),
            Some(mode(1280, 720, 30, true)),
            "not 60 fps, not 1080p"
        );
        // YUYV only: the small mode at a full rate beats 720p at 10 fps.
        let yuyv = [mode(640, 480, 30, false), mode(1280, 720, 10, false)];
        assert_eq!(
            choose_mode(&yuyv, 1280, 720, 15),
            Some(mode(640, 480, 30, false))
        );
        // Nothing in range: the best there is.
        assert_eq!(
            choose_mode(
                &[mode(320, 240, 30, false), mode(160, 120, 30, false)],
                640,
                360,
                15
            ),
            Some(mode(320, 240, 30, false))
        );
        assert_eq!(choose_mode(&[], 640, 360, 15), None);
    }

    #[test]
    fn formats_are_listed_one_line_per_pixel_format() {
        let formats = [
            CameraFormat::new_from(640, 480, FrameFormat::YUYV, 30),
            CameraFormat::new_from(640, 480, FrameFormat::YUYV, 15),
            CameraFormat::new_from(1280, 720, FrameFormat::MJPEG, 30),
        ];
        assert_eq!(
            format_lines(&formats),
            vec!["    MJPEG: 1280x720@30", "    YUYV: 640x480@15/30"]
        );
    }

    #[test]
    fn no_camera_here_is_said_clearly() {
        // This machine may have a camera; only check when it has none.
        if cameras().is_ok_and(|c| c.is_empty()) {
            let err = Camera::open(None, VideoSettings::default())
                .err()
                .expect("no camera to open");
            assert!(format!("{err:#}").contains("no camera found"), "{err:#}");
            assert!(lines()[0].contains("none found"));
        }
    }
}
