//! From raw camera frames to the JPEGs the sender sends: YUYV or MJPEG to RGB,
//! scaled to fit the sending size, encoded with `jpeg-encoder` (SIMD). And the
//! newest-frame-only handoff between the threads that do it, so a slow stage
//! drops stale frames instead of queueing them: latency never grows.
//!
//! Nothing here touches a device, so it is tested with synthetic frames.

// Without the camera only the encoder is used (by the test pattern).
#![cfg_attr(not(feature = "camera"), allow(dead_code))]

use anyhow::{Context, bail};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use image::RgbImage;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a camera delivers its frames (the two this client reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawFormat {
    /// Motion JPEG: every frame a JPEG.
    Mjpeg,
    /// YUV 4:2:2, packed Y0 U Y1 V, BT.601 limited range.
    Yuyv,
}

/// One frame as the camera delivered it.
pub struct RawFrame {
    pub format: RawFormat,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Packed YUYV (two pixels in four bytes) to RGB, BT.601 limited range, in
/// integer arithmetic.
pub fn yuyv_to_rgb(yuyv: &[u8], width: u32, height: u32) -> anyhow::Result<RgbImage> {
    let pixels = width as usize * height as usize;
    if !width.is_multiple_of(2) || yuyv.len() < pixels * 2 {
        bail!(
            "a YUYV frame of {width}x{height} needs {} bytes and an even width, got {}",
            pixels * 2,
            yuyv.len()
        );
    }
    let mut rgb = Vec::with_capacity(pixels * 3);
    for quad in yuyv[..pixels * 2].chunks_exact(4) {
        let (u, v) = (i32::from(quad[1]) - 128, i32::from(quad[3]) - 128);
        for y in [quad[0], quad[2]] {
            let c = 298 * (i32::from(y) - 16) + 128;
            rgb.push(clamp((c + 409 * v) >> 8));
            rgb.push(clamp((c - 100 * u - 208 * v) >> 8));
            rgb.push(clamp((c + 516 * u) >> 8));
        }
    }
    RgbImage::from_raw(width, height, rgb).context("YUYV frame size")
}

fn clamp(value: i32) -> u8 {
    value.clamp(0, 255) as u8
}

/// A raw frame to RGB.
pub fn to_rgb(frame: &RawFrame) -> anyhow::Result<RgbImage> {
    match frame.format {
        RawFormat::Yuyv => yuyv_to_rgb(&frame.data, frame.width, frame.height),
        RawFormat::Mjpeg => Ok(image::load_from_memory_with_format(
            &frame.data,
            image::ImageFormat::Jpeg,
        )
        .context("the camera sent an MJPEG frame that does not decode")?
        .into_rgb8()),
    }
}

/// The largest size with the picture's aspect ratio that fits in
/// `max_width` x `max_height` (never larger than the picture itself).
pub fn fit(width: u32, height: u32, max_width: u32, max_height: u32) -> (u32, u32) {
    if width <= max_width && height <= max_height {
        return (width, height);
    }
    let by_width = (
        max_width,
        (u64::from(height) * u64::from(max_width) / u64::from(width)) as u32,
    );
    let (w, h) = if by_width.1 <= max_height {
        by_width
    } else {
        (
            (u64::from(width) * u64::from(max_height) / u64::from(height)) as u32,
            max_height,
        )
    };
    (w.max(1), h.max(1))
}

/// Scales `picture` down to fit the sending size, keeping its aspect ratio:
/// halved (2x2 averages, cheap) while it is at least twice too large, then
/// filtered the rest of the way (a 720p frame to 640x360 is one halving).
pub fn scale_to_fit(picture: RgbImage, max_width: u32, max_height: u32) -> RgbImage {
    let (w, h) = fit(picture.width(), picture.height(), max_width, max_height);
    let mut picture = picture;
    while picture.width() >= 2 * w && picture.height() >= 2 * h {
        picture = halve(&picture);
    }
    if (w, h) == picture.dimensions() {
        return picture;
    }
    image::imageops::resize(&picture, w, h, image::imageops::FilterType::Triangle)
}

/// Half the width and height, each pixel the average of a 2x2 block.
pub fn halve(picture: &RgbImage) -> RgbImage {
    let (w, h) = (picture.width() / 2, picture.height() / 2);
    let stride = picture.width() as usize * 3;
    let src = picture.as_raw();
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h as usize {
        let top = &src[2 * y * stride..][..stride];
        let bottom = &src[(2 * y + 1) * stride..][..stride];
        for x in 0..w as usize {
            for c in 0..3 {
                let at = 6 * x + c;
                let sum = u16::from(top[at])
                    + u16::from(top[at + 3])
                    + u16::from(bottom[at])
                    + u16::from(bottom[at + 3]);
                out.push(((sum + 2) / 4) as u8);
            }
        }
    }
    RgbImage::from_raw(w, h, out).unwrap_or_default()
}

/// RGB pixels (3 bytes each, row by row) to JPEG with `jpeg-encoder`.
pub fn encode_jpeg(rgb: &[u8], width: u32, height: u32, quality: u8) -> anyhow::Result<Vec<u8>> {
    let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
        bail!("{width}x{height} is too large for a JPEG");
    };
    let mut jpeg = Vec::with_capacity(64 * 1024);
    // The standard Huffman tables, always. Tables fitted to a thumbnail took
    // the 40x22 layer from about 1,000 bytes to 620, but the `image` crate's
    // decoder (zune-jpeg), which every receiver of ours uses, reads such
    // pictures with wrong colours (libjpeg-turbo reads them right):
    // `small_pictures_keep_their_colours` below.
    let encoder = jpeg_encoder::Encoder::new(&mut jpeg, quality.clamp(1, 100));
    encoder
        .encode(rgb, w, h, jpeg_encoder::ColorType::Rgb)
        .context("JPEG encoding failed")?;
    Ok(jpeg)
}

/// A raw frame all the way to a JPEG that fits the sending size.
pub fn frame_to_jpeg(
    frame: &RawFrame,
    max_width: u32,
    max_height: u32,
    quality: u8,
) -> anyhow::Result<Vec<u8>> {
    let picture = scale_to_fit(to_rgb(frame)?, max_width, max_height);
    encode_jpeg(picture.as_raw(), picture.width(), picture.height(), quality)
}

/// The sending half of a one-slot handoff: a new value replaces the one still
/// waiting (counted in `replaced`), so the receiver always gets the newest and
/// the sender never blocks.
pub struct LatestSender<T> {
    tx: Sender<T>,
    /// Our own handle on the slot, to take out what is stale.
    slot: Receiver<T>,
    replaced: Arc<AtomicU64>,
}

/// A one-slot newest-value handoff: (sender, receiver, how many were replaced).
pub fn latest<T>() -> (LatestSender<T>, Receiver<T>, Arc<AtomicU64>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let replaced = Arc::new(AtomicU64::new(0));
    let sender = LatestSender {
        tx,
        slot: rx.clone(),
        replaced: replaced.clone(),
    };
    (sender, rx, replaced)
}

impl<T> LatestSender<T> {
    pub fn send(&self, value: T) {
        let mut value = value;
        loop {
            match self.tx.try_send(value) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    if self.slot.try_recv().is_ok() {
                        self.replaced.fetch_add(1, Ordering::Relaxed);
                    }
                    value = back;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size a layer comes in, from the full 640x360 to the 40x22
    /// sixteenth, decodes (with the decoder our receivers use) to the
    /// colours it was made of: grey, a colour, and both side by side.
    #[test]
    fn small_pictures_keep_their_colours() {
        for (w, h) in [(640u32, 360u32), (160, 90), (80, 45), (40, 22)] {
            for (left, right) in [
                ([32u8, 32, 32], [32u8, 32, 32]),
                ([20, 40, 200], [20, 40, 200]),
                ([100, 100, 100], [200, 30, 30]),
            ] {
                let rgb: Vec<u8> = (0..w * h)
                    .flat_map(|i| if i % w < w / 2 { left } else { right })
                    .collect();
                let jpeg = encode_jpeg(&rgb, w, h, 75).expect("encodes");
                let decoded = image::load_from_memory(&jpeg).expect("a JPEG").into_rgb8();
                for (x, wanted) in [(2, left), (w - 3, right)] {
                    let got = decoded.get_pixel(x, h / 2).0;
                    let off = got.iter().zip(wanted).map(|(g, w)| g.abs_diff(w)).max();
                    assert!(
                        off.unwrap_or(0) <= 12,
                        "{w}x{h}: {got:?} where {wanted:?} was"
                    );
                }
            }
        }
    }

    /// RGB to one YUYV pixel pair of the same colour (BT.601 limited range).
    fn yuyv_of(rgb: [u8; 3]) -> [u8; 4] {
        let [r, g, b] = rgb.map(f64::from);
        let y = 16.0 + 0.257 * r + 0.504 * g + 0.098 * b;
        let u = 128.0 - 0.148 * r - 0.291 * g + 0.439 * b;
        let v = 128.0 + 0.439 * r - 0.368 * g - 0.071 * b;
        let [y, u, v] = [y, u, v].map(|c| c.round().clamp(0.0, 255.0) as u8);
        [y, u, y, v]
    }

    const COLOURS: [[u8; 3]; 7] = [
        [0, 0, 0],
        [255, 255, 255],
        [255, 0, 0],
        [0, 255, 0],
        [0, 0, 255],
        [192, 192, 0],
        [128, 128, 128],
    ];

    fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
        a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
    }

    /// A YUYV frame of vertical bars, one per colour in `COLOURS`.
    fn yuyv_bars(width: u32, height: u32) -> Vec<u8> {
        let bar = width / COLOURS.len() as u32;
        let mut data = Vec::new();
        for _ in 0..height {
            for x in (0..width).step_by(2) {
                let colour = COLOURS[((x / bar) as usize).min(COLOURS.len() - 1)];
                data.extend_from_slice(&yuyv_of(colour));
            }
        }
        data
    }

    #[test]
    fn yuyv_known_colours_convert_to_rgb() {
        assert_eq!(
            yuyv_to_rgb(&[16, 128, 16, 128], 2, 1)
                .expect("converts")
                .as_raw(),
            &[0, 0, 0, 0, 0, 0],
            "studio black"
        );
        assert_eq!(
            yuyv_to_rgb(&[235, 128, 235, 128], 2, 1)
                .expect("converts")
                .as_raw(),
            &[255, 255, 255, 255, 255, 255],
            "studio white"
        );
        for colour in COLOURS {
            let rgb = yuyv_to_rgb(&yuyv_of(colour), 2, 1).expect("converts");
            let got = rgb.get_pixel(1, 0).0;
            assert!(close(got, colour, 3), "{colour:?} came back as {got:?}");
        }
        // Each pixel of a pair keeps its own brightness.
        let pair = yuyv_to_rgb(&[16, 128, 235, 128], 2, 1).expect("converts");
        assert_eq!(pair.as_raw(), &[0, 0, 0, 255, 255, 255]);
        assert!(yuyv_to_rgb(&[0; 10], 4, 2).is_err(), "short frame");
        assert!(yuyv_to_rgb(&[0; 12], 3, 2).is_err(), "odd width");
    }

    #[test]
    fn pictures_scale_to_fit_the_sending_size_keeping_their_shape() {
        assert_eq!(fit(1280, 720, 640, 360), (640, 360));
        assert_eq!(fit(640, 480, 640, 360), (480, 360));
        assert_eq!(fit(1920, 1080, 640, 480), (640, 360));
        assert_eq!(fit(320, 240, 640, 360), (320, 240), "never upscaled");
        let picture = RgbImage::from_pixel(1280, 720, image::Rgb([10, 200, 30]));
        let scaled = scale_to_fit(picture, 640, 360);
        assert_eq!(scaled.dimensions(), (640, 360));
        assert_eq!(scaled.get_pixel(320, 180).0, [10, 200, 30]);
        // Halving averages 2x2 blocks: a fine checkerboard becomes grey.
        let checker = RgbImage::from_fn(1920, 1080, |x, y| {
            image::Rgb(if (x + y) % 2 == 0 { [0; 3] } else { [200; 3] })
        });
        let scaled = scale_to_fit(checker, 640, 360);
        assert_eq!(scaled.dimensions(), (640, 360));
        assert!(
            scaled
                .pixels()
                .all(|p| p.0.iter().all(|&c| c.abs_diff(100) <= 2))
        );
    }

    #[test]
    fn yuyv_frames_become_jpegs_of_the_sending_size_and_colours() {
        let frame = RawFrame {
            format: RawFormat::Yuyv,
            width: 1280,
            height: 720,
            data: yuyv_bars(1280, 720),
        };
        let jpeg = frame_to_jpeg(&frame, 640, 360, 90).expect("encodes");
        let decoded = image::load_from_memory(&jpeg)
            .expect("valid JPEG")
            .into_rgb8();
        assert_eq!(decoded.dimensions(), (640, 360));
        let bar = 640 / COLOURS.len() as u32;
        for (i, colour) in COLOURS.iter().enumerate() {
            let got = decoded.get_pixel(i as u32 * bar + bar / 2, 180).0;
            assert!(
                close(got, *colour, 12),
                "bar {i}: {colour:?} came back as {got:?}"
            );
        }
    }

    #[test]
    fn mjpeg_frames_are_decoded_scaled_and_reencoded() {
        let picture = RgbImage::from_pixel(640, 480, image::Rgb([200, 40, 40]));
        let mut mjpeg = Vec::new();
        picture
            .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut mjpeg, 90,
            ))
            .expect("encodes");
        let frame = RawFrame {
            format: RawFormat::Mjpeg,
            width: 640,
            height: 480,
            data: mjpeg,
        };
        let jpeg = frame_to_jpeg(&frame, 640, 360, 80).expect("encodes");
        let decoded = image::load_from_memory(&jpeg)
            .expect("valid JPEG")
            .into_rgb8();
        assert_eq!(decoded.dimensions(), (480, 360));
        let got = decoded.get_pixel(240, 180).0;
        assert!(close(got, [200, 40, 40], 8), "{got:?}");
        let broken = RawFrame {
            data: vec![0xff, 0xd8, 0, 1, 2],
            ..frame
        };
        assert!(frame_to_jpeg(&broken, 640, 360, 80).is_err());
    }

    #[test]
    fn the_handoff_keeps_only_the_newest_frame() {
        let (tx, rx, replaced) = latest::<u32>();
        for n in 1..=5 {
            tx.send(n);
        }
        assert_eq!(rx.try_recv().ok(), Some(5), "the newest, not the oldest");
        assert!(rx.try_recv().is_err(), "nothing stale queued behind it");
        assert_eq!(replaced.load(Ordering::Relaxed), 4);
        tx.send(6);
        assert_eq!(rx.try_recv().ok(), Some(6));
        assert_eq!(replaced.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_slow_consumer_never_sees_a_backlog() {
        let (tx, rx, replaced) = latest::<u32>();
        let producer = std::thread::spawn(move || {
            for n in 0..10_000 {
                tx.send(n);
            }
        });
        let mut last = None;
        while let Ok(n) = rx.recv() {
            assert!(
                last.is_none_or(|l| n > l),
                "{n} after {last:?}: out of order"
            );
            last = Some(n);
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        producer.join().expect("producer");
        assert_eq!(last, Some(9_999), "the last frame arrives");
        assert!(
            replaced.load(Ordering::Relaxed) > 0,
            "stale frames were dropped"
        );
    }
}

/// Per-frame costs, for people: `cargo test --release -p meeting-client
/// --features camera encode_costs -- --ignored --nocapture`.
#[cfg(test)]
mod costs {
    use super::*;
    use std::time::Instant;

    fn per_frame(runs: u32, mut work: impl FnMut()) -> f64 {
        work();
        let started = Instant::now();
        for _ in 0..runs {
            work();
        }
        started.elapsed().as_secs_f64() * 1000.0 / f64::from(runs)
    }

    #[test]
    #[ignore = "a measurement, not a test"]
    fn encode_costs() {
        let mut pattern =
            crate::media::video::TestPattern::new(crate::media::video::VideoSettings {
                width: 640,
                height: 480,
                fps: 30,
                quality: 70,
            });
        let jpeg = crate::media::video::VideoSource::next_jpeg(&mut pattern).expect("encodes");
        let rgb = image::load_from_memory(&jpeg).expect("decodes").into_rgb8();
        let image_ms = per_frame(50, || {
            let mut out = Vec::new();
            rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out, 70,
            ))
            .expect("encodes");
        });
        let jpeg_encoder_ms = per_frame(50, || {
            encode_jpeg(rgb.as_raw(), 640, 480, 70).expect("encodes");
        });
        eprintln!("640x480 q70: image {image_ms:.2} ms, jpeg-encoder {jpeg_encoder_ms:.2} ms");
        let yuyv: Vec<u8> = (0..1280 * 720 * 2).map(|i| (i % 251) as u8).collect();
        let frame = RawFrame {
            format: RawFormat::Yuyv,
            width: 1280,
            height: 720,
            data: yuyv,
        };
        let convert_ms = per_frame(20, || {
            yuyv_to_rgb(&frame.data, 1280, 720).expect("converts");
        });
        let big = yuyv_to_rgb(&frame.data, 1280, 720).expect("converts");
        let scale_ms = per_frame(20, || {
            scale_to_fit(big.clone(), 640, 360);
        });
        let whole_ms = per_frame(20, || {
            frame_to_jpeg(&frame, 640, 360, 70).expect("encodes");
        });
        let mjpeg = RawFrame {
            format: RawFormat::Mjpeg,
            width: 1280,
            height: 720,
            data: encode_jpeg(big.as_raw(), 1280, 720, 80).expect("encodes"),
        };
        let mjpeg_ms = per_frame(20, || {
            frame_to_jpeg(&mjpeg, 640, 360, 70).expect("encodes");
        });
        eprintln!("1280x720 MJPEG: whole frame to a 640x360 JPEG {mjpeg_ms:.2} ms");
        eprintln!(
            "1280x720 YUYV: to RGB {convert_ms:.2} ms, scaled to 640x360 {scale_ms:.2} ms, \
             whole frame to JPEG {whole_ms:.2} ms"
        );
    }
}
