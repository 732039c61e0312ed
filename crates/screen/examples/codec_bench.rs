//! Measures the screen codec against a full JPEG per frame, on the test
//! desktop's scenes at 1280x720 and 10 frames a second.
//!
//! ```text
//! cargo run --release -p meeting-screen --example codec_bench [-- SECONDS]
//! ```
//!
//! Bytes are bodies as they go on the wire (the media header excluded); the
//! JPEG column is what sending every frame as one quality-70 JPEG would
//! cost. Times are per captured frame on this machine, drawing excluded.

use image::RgbImage;
use meeting_screen::codec::{EncoderConfig, ScreenDecoder, ScreenEncoder, TileEncoding};
use meeting_screen::desktop::{Scene, TestDesktop};
use std::time::{Duration, Instant};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;
const FPS: u32 = 10;

struct Totals {
    frames: u32,
    bodies: u32,
    bytes: usize,
    keyframe_bytes: usize,
    by_encoding: [(usize, usize); 6],
    encode: Duration,
    decode: Duration,
    worst_encode: Duration,
    jpeg_bytes: usize,
    jpeg_encode: Duration,
    exact_at_end: bool,
}

fn full_jpeg(picture: &RgbImage) -> Vec<u8> {
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 70)
        .encode(
            picture.as_raw(),
            picture.width() as u16,
            picture.height() as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("the JPEG encoder takes 1280x720");
    jpeg
}

fn run(scene: Scene, seconds: u32) -> Totals {
    let mut desktop = TestDesktop::with_scene(WIDTH, HEIGHT, scene);
    let mut encoder = ScreenEncoder::new(EncoderConfig::default());
    let mut decoder = ScreenDecoder::new();
    let start = Instant::now();
    let mut totals = Totals {
        frames: 0,
        bodies: 0,
        bytes: 0,
        keyframe_bytes: 0,
        by_encoding: [(0, 0); 6],
        encode: Duration::ZERO,
        decode: Duration::ZERO,
        worst_encode: Duration::ZERO,
        jpeg_bytes: 0,
        jpeg_encode: Duration::ZERO,
        exact_at_end: false,
    };
    let mut last = RgbImage::new(1, 1);
    for index in 0..u64::from(seconds * FPS) {
        let picture = desktop.frame(index).clone();
        let now = start + TestDesktop::FRAME_INTERVAL * index as u32;

        let began = Instant::now();
        let body = encoder
            .encode(&picture, now)
            .expect("1280x720 is within limits");
        let took = began.elapsed();
        totals.encode += took;
        totals.worst_encode = totals.worst_encode.max(took);
        totals.frames += 1;
        if let Some(body) = body {
            let stats = encoder.last_stats();
            totals.bodies += 1;
            totals.bytes += body.len();
            if stats.keyframe {
                totals.keyframe_bytes += body.len();
            }
            for encoding in TileEncoding::ALL {
                let count = stats.encoding(encoding);
                totals.by_encoding[encoding.index()].0 += count.tiles;
                totals.by_encoding[encoding.index()].1 += count.bytes;
            }
            let began = Instant::now();
            decoder.apply(&body).expect("own bodies decode");
            totals.decode += began.elapsed();
        }

        let began = Instant::now();
        totals.jpeg_bytes += full_jpeg(&picture).len();
        totals.jpeg_encode += began.elapsed();
        last = picture;
    }
    totals.exact_at_end = decoder.canvas() == Some(&last);
    totals
}

fn main() {
    let seconds: u32 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(60);
    println!(
        "{WIDTH}x{HEIGHT} at {FPS} fps for {seconds} s, default EncoderConfig \
         (64x64 tiles, JPEG q70, keyframe every 10 s, refine after 300 ms)\n"
    );
    println!(
        "| scene | codec bytes/s | of which keyframes | full JPEG q70 bytes/s | ratio | \
         encode ms/frame (worst) | decode ms/frame | full JPEG encode ms/frame |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let scenes = [
        (Scene::BlinkingCursor, "(a) still, blinking cursor"),
        (Scene::Typing, "(b) typing, 3 chars/frame"),
        (Scene::Scrolling, "(c) scrolling 10 px/frame"),
        (Scene::Video, "(d) 320x240 video area"),
        (Scene::Demo, "demo: scrolling + moving window"),
    ];
    let mut breakdowns = Vec::new();
    for (scene, name) in scenes {
        let totals = run(scene, seconds);
        let per_second = |bytes: usize| bytes as f64 / f64::from(seconds);
        let per_frame_ms = |time: Duration| time.as_secs_f64() * 1000.0 / f64::from(totals.frames);
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.1}% | {:.2} ({:.1}) | {:.2} | {:.2} |",
            per_second(totals.bytes),
            per_second(totals.keyframe_bytes),
            per_second(totals.jpeg_bytes),
            100.0 * totals.bytes as f64 / totals.jpeg_bytes as f64,
            per_frame_ms(totals.encode),
            totals.worst_encode.as_secs_f64() * 1000.0,
            per_frame_ms(totals.decode),
            per_frame_ms(totals.jpeg_encode),
        );
        let parts: Vec<String> = TileEncoding::ALL
            .iter()
            .filter(|encoding| totals.by_encoding[encoding.index()].0 > 0)
            .map(|encoding| {
                let (tiles, bytes) = totals.by_encoding[encoding.index()];
                format!("{} {tiles} tiles / {bytes} B", encoding.name())
            })
            .collect();
        breakdowns.push(format!(
            "{name}: {} bodies of {} frames; {}; canvas exact at the end: {}",
            totals.bodies,
            totals.frames,
            parts.join(", "),
            totals.exact_at_end
        ));
    }
    println!();
    for line in breakdowns {
        println!("- {line}");
    }
}
