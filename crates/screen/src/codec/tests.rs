//! The encoder and decoder together: round trips, costs, keyframes, losses,
//! budgets, and hostile bodies.

use super::format::{FLAG_KEY_START, parse_body};
use super::*;
use crate::desktop::{Scene, TestDesktop};
use image::{Rgb, RgbImage};
use std::time::{Duration, Instant};

const FRAME: Duration = Duration::from_millis(100);

/// Feeds pictures to an encoder and every body to a decoder.
struct Link {
    encoder: ScreenEncoder,
    decoder: ScreenDecoder,
    start: Instant,
    frames: u32,
}

impl Link {
    fn new(config: EncoderConfig) -> Link {
        Link {
            encoder: ScreenEncoder::new(config),
            decoder: ScreenDecoder::new(),
            start: Instant::now(),
            frames: 0,
        }
    }

    fn now(&self) -> Instant {
        self.start + FRAME * self.frames
    }

    /// Encodes one picture (the clock moves one frame) and returns the body.
    fn encode(&mut self, image: &RgbImage) -> Option<Vec<u8>> {
        let now = self.now();
        self.frames += 1;
        self.encoder
            .encode(image, now)
            .expect("picture within limits")
    }

    /// Encodes and decodes one picture.
    fn send(&mut self, image: &RgbImage) -> Option<Applied> {
        let body = self.encode(image)?;
        Some(self.decoder.apply(&body).expect("own bodies decode"))
    }

    fn canvas(&self) -> &RgbImage {
        self.decoder.canvas().expect("decoder has a canvas")
    }
}

fn mean_abs_error(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

#[test]
fn round_trip_ends_pixel_exact_once_the_screen_holds_still() {
    let mut desktop = TestDesktop::new(640, 360);
    let mut link = Link::new(EncoderConfig::default());
    for index in 0..20 {
        let picture = desktop.frame(index).clone();
        link.send(&picture);
        // While things move, JPEG tiles make the canvas close, not exact.
        let error = mean_abs_error(link.canvas(), &picture);
        assert!(error < 2.0, "frame {index}: mean error {error:.2}");
    }
    let still = desktop.frame(20).clone();
    for _ in 0..6 {
        link.send(&still);
    }
    assert!(
        link.canvas() == &still,
        "canvas differs after the screen held still"
    );
    assert!(!link.decoder.needs_keyframe());
    assert!(link.decoder.refresh_complete());
    // And then there is nothing left to send.
    assert_eq!(link.encode(&still), None);
}

#[test]
fn a_still_screen_costs_nothing_after_the_first_frame() {
    let mut desktop = TestDesktop::with_scene(640, 360, Scene::BlinkingCursor);
    let mut link = Link::new(EncoderConfig::default());
    let first = link
        .encode(&desktop.frame(0).clone())
        .expect("first frame is a keyframe");
    assert!(parse_body(&first).expect("parses").header.key_start());
    // The cursor blinks every 500 ms and the clock ticks every second: one
    // or two small tiles, then nothing, until the next periodic keyframe.
    let mut sent = Vec::new();
    for index in 1..50 {
        if let Some(body) = link.encode(&desktop.frame(index).clone()) {
            sent.push((index, body.len(), link.encoder.last_stats().tiles_sent));
        }
    }
    assert!(sent.len() <= 10, "bodies sent: {sent:?}");
    for &(index, len, tiles) in &sent {
        assert!(
            tiles <= 2 && len < 1500,
            "frame {index}: {tiles} tiles, {len} bytes"
        );
    }

    // A screen that does not change at all sends nothing.
    let mut link = Link::new(EncoderConfig::default());
    let still = desktop.frame(0).clone();
    assert!(link.encode(&still).is_some());
    for _ in 0..20 {
        assert_eq!(link.encode(&still), None);
    }
}

#[test]
fn keyframes_come_on_request_and_periodically() {
    let picture = TestDesktop::new(320, 240).frame(3).clone();
    let config = EncoderConfig {
        keyframe_interval: Some(Duration::from_secs(2)),
        ..EncoderConfig::default()
    };
    let mut link = Link::new(config);
    link.send(&picture).expect("first body");
    for _ in 0..4 {
        link.send(&picture); // refinements, then nothing
    }
    assert_eq!(link.encode(&picture), None);

    // A member joins: the next body is a keyframe a fresh decoder can use.
    link.encoder.request_keyframe();
    let body = link.encode(&picture).expect("a keyframe");
    assert!(link.encoder.last_stats().keyframe);
    let mut late = ScreenDecoder::new();
    assert!(late.needs_keyframe());
    let applied = late
        .apply(&body)
        .expect("a keyframe applies to a fresh decoder");
    assert!(applied.keyframe && applied.refresh_complete);
    assert_eq!((applied.width, applied.height), (320, 240));
    link.decoder.apply(&body).expect("and to a synced one");

    // Without requests, one every two seconds (20 frames at 10 fps).
    let keyframes: Vec<u32> = (0..45)
        .filter_map(|_| {
            link.encode(&picture)?;
            link.encoder.last_stats().keyframe.then_some(link.frames)
        })
        .collect();
    assert_eq!(keyframes.len(), 2, "keyframes at frames {keyframes:?}");
    assert_eq!(keyframes[1] - keyframes[0], 20);
}

#[test]
fn a_keyframe_resends_refined_tiles_losslessly() {
    // The demo's photo window: JPEG first, lossless once still.
    let still = TestDesktop::new(640, 360).frame(12).clone();
    let mut link = Link::new(EncoderConfig::default());
    link.send(&still);
    assert!(link.encoder.last_stats().encoding(TileEncoding::Jpeg).tiles > 0);
    for _ in 0..5 {
        link.send(&still);
    }
    assert!(link.canvas() == &still);

    // A keyframe of the same still screen needs no JPEG and no refinement.
    link.encoder.request_keyframe();
    link.send(&still).expect("a keyframe");
    let stats = link.encoder.last_stats().clone();
    assert!(stats.keyframe && stats.refresh_complete);
    assert_eq!(stats.encoding(TileEncoding::Jpeg).tiles, 0);
    assert!(stats.encoding(TileEncoding::DeflateRgb).tiles > 0);
    assert!(link.canvas() == &still);
    assert_eq!(link.encode(&still), None);
}

#[test]
fn a_size_change_starts_a_keyframe_at_the_new_size() {
    let mut link = Link::new(EncoderConfig::default());
    let small = TestDesktop::new(320, 240).frame(0).clone();
    let large = TestDesktop::new(400, 300).frame(0).clone();
    link.send(&small);
    let applied = link.send(&large).expect("a body at the new size");
    assert!(applied.keyframe);
    assert_eq!((applied.width, applied.height), (400, 300));
    for _ in 0..4 {
        link.send(&large);
    }
    assert!(link.canvas() == &large);
}

#[test]
fn a_lost_delta_is_refused_until_the_next_keyframe() {
    let mut desktop = TestDesktop::new(320, 240);
    let mut link = Link::new(EncoderConfig::default());
    let mut receiver = ScreenDecoder::new();
    let mut sequence = 0u32;
    let deliver = |receiver: &mut ScreenDecoder, body: &[u8], sequence: &mut u32| {
        *sequence += 1;
        receiver.apply_sequenced(*sequence, body)
    };

    let first = link.encode(&desktop.frame(0).clone()).expect("keyframe");
    deliver(&mut receiver, &first, &mut sequence).expect("keyframe applies");
    let second = link.encode(&desktop.frame(1).clone()).expect("a delta");
    deliver(&mut receiver, &second, &mut sequence).expect("delta applies");

    // The relay drops a body: the receiver sees the gap in the sequence.
    let _lost = link.encode(&desktop.frame(2).clone()).expect("a delta");
    sequence += 1;
    let next = link.encode(&desktop.frame(3).clone()).expect("a delta");
    assert_eq!(
        deliver(&mut receiver, &next, &mut sequence),
        Err(ScreenCodecError::NeedsKeyframe)
    );
    assert!(receiver.needs_keyframe());
    // It keeps refusing deltas (and keeps its old picture meanwhile).
    let more = link.encode(&desktop.frame(4).clone()).expect("a delta");
    assert_eq!(
        deliver(&mut receiver, &more, &mut sequence),
        Err(ScreenCodecError::NeedsKeyframe)
    );
    assert!(receiver.canvas().is_some());

    // It asks; the sender's next body is a keyframe and the receiver is back.
    link.encoder.request_keyframe();
    let still = desktop.frame(5).clone();
    let key = link.encode(&still).expect("keyframe");
    let applied = deliver(&mut receiver, &key, &mut sequence).expect("keyframe applies");
    assert!(applied.keyframe);
    assert!(!receiver.needs_keyframe());
    for _ in 0..5 {
        if let Some(body) = link.encode(&still) {
            deliver(&mut receiver, &body, &mut sequence).expect("delta applies");
        }
    }
    assert!(receiver.canvas() == Some(&still));

    // The caller may also report the loss directly.
    receiver.lost_sync();
    assert!(receiver.needs_keyframe());
}

#[test]
fn a_delta_from_another_epoch_is_refused() {
    let mut desktop = TestDesktop::new(320, 240);
    let mut link = Link::new(EncoderConfig::default());
    let mut receiver = ScreenDecoder::new();
    receiver
        .apply(&link.encode(&desktop.frame(0).clone()).expect("keyframe"))
        .expect("applies");
    link.encoder.request_keyframe();
    let _lost_keyframe = link.encode(&desktop.frame(1).clone());
    let delta = link.encode(&desktop.frame(2).clone()).expect("a delta");
    assert!(matches!(
        receiver.apply(&delta),
        Err(ScreenCodecError::EpochMismatch { .. })
    ));
    assert!(receiver.needs_keyframe());
}

#[test]
fn deltas_are_refused_before_any_keyframe() {
    let mut desktop = TestDesktop::new(320, 240);
    let mut link = Link::new(EncoderConfig::default());
    link.encode(&desktop.frame(0).clone());
    let delta = link.encode(&desktop.frame(1).clone()).expect("a delta");
    let mut late = ScreenDecoder::new();
    assert_eq!(late.apply(&delta), Err(ScreenCodecError::NeedsKeyframe));
    assert!(late.canvas().is_none());
}

#[test]
fn bodies_respect_the_budget_and_keyframes_span_frames() {
    let budget = 12 * 1024;
    let config = EncoderConfig {
        frame_budget: budget,
        ..EncoderConfig::default()
    };
    let mut desktop = TestDesktop::new(960, 540);
    let mut link = Link::new(config);
    let mut keyframe_bodies = 0;
    let mut completed_at = None;
    for index in 0..40 {
        let picture = desktop.frame(index.min(20)).clone();
        let Some(body) = link.encode(&picture) else {
            continue;
        };
        let stats = link.encoder.last_stats().clone();
        assert_eq!(stats.body_bytes, body.len());
        assert!(
            body.len() <= budget || stats.tiles_sent == 1,
            "frame {index}: {} bytes in {} tiles",
            body.len(),
            stats.tiles_sent
        );
        let applied = link.decoder.apply(&body).expect("applies");
        if completed_at.is_none() {
            keyframe_bodies += 1;
            if applied.refresh_complete {
                completed_at = Some(index);
            }
        }
    }
    assert!(
        keyframe_bodies > 1,
        "a 960x540 keyframe does not fit in {budget} bytes"
    );
    assert!(completed_at.is_some(), "the keyframe's refresh completed");
    assert!(
        link.canvas() == desktop.frame(20),
        "everything arrived in the end"
    );
}

#[test]
fn scrolling_is_sent_as_copies() {
    let mut desktop = TestDesktop::with_scene(640, 360, Scene::Scrolling);
    let mut link = Link::new(EncoderConfig::default());
    for index in 0..4 {
        let picture = desktop.frame(0).clone();
        link.send(&picture);
        let _ = index;
    }
    let mut copies = 0;
    for index in 1..6 {
        let picture = desktop.frame(index).clone();
        link.send(&picture);
        copies += link.encoder.last_stats().encoding(TileEncoding::Copy).tiles;
        assert!(
            link.canvas() == &picture,
            "frame {index}: text tiles are lossless"
        );
    }
    assert!(copies > 10, "{copies} copy tiles");
}

#[test]
fn bodies_of_every_encoding_decode() {
    let corpus = sample_bodies();
    let mut seen = [false; 6];
    for body in &corpus {
        for tile in parse_body(body).expect("parses").tiles {
            seen[tile.payload.encoding().index()] = true;
        }
    }
    for encoding in TileEncoding::ALL {
        assert!(
            seen[encoding.index()],
            "no {} tile in the corpus",
            encoding.name()
        );
    }
}

/// A stream of bodies that uses every encoding, from a small screen.
fn sample_bodies() -> Vec<Vec<u8>> {
    let config = EncoderConfig {
        tile_size: 32,
        refine_after: Duration::ZERO,
        ..EncoderConfig::default()
    };
    let mut bodies = Vec::new();
    let mut link = Link::new(config);
    let mut demo = TestDesktop::new(256, 160);
    for index in [0, 1, 2, 2, 2] {
        let mut picture = demo.frame(index).clone();
        // A block of one colour, for solid tiles.
        for (x, y, pixel) in picture.enumerate_pixels_mut() {
            if x < 64 && (64..128).contains(&y) {
                *pixel = Rgb([200, 10, 10]);
            }
        }
        bodies.extend(link.encode(&picture));
    }
    let mut scrolling = TestDesktop::with_scene(256, 160, Scene::Scrolling);
    for index in [0, 0, 1, 2] {
        bodies.extend(link.encode(&scrolling.frame(index).clone()));
    }
    bodies
}

/// xorshift64*: a deterministic source of mutations, no crate needed.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn mutate(&mut self, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(body.len());
            match self.below(8) {
                0 => body.truncate(at),
                1 => {
                    if let Some(byte) = body.get_mut(at) {
                        *byte ^= 1 << self.below(8);
                    }
                }
                2 => {
                    if let Some(byte) = body.get_mut(at) {
                        *byte = self.next() as u8;
                    }
                }
                3 => {
                    // Extreme values where lengths and coordinates live.
                    let value = [0x00u8, 0xFF, 0x7F, 0x80][self.below(4)];
                    for byte in body.iter_mut().skip(at).take(1 + self.below(4)) {
                        *byte = value;
                    }
                }
                4 => {
                    let extra: Vec<u8> =
                        (0..1 + self.below(16)).map(|_| self.next() as u8).collect();
                    body.splice(at..at, extra);
                }
                5 => {
                    let end = (at + 1 + self.below(64)).min(body.len());
                    body.drain(at..end);
                }
                6 => {
                    // A slice of the body repeated elsewhere (tiles, lengths).
                    let end = (at + 1 + self.below(64)).min(body.len());
                    let slice = body[at..end].to_vec();
                    let to = self.below(body.len());
                    body.splice(to..to, slice);
                }
                _ => {
                    // Header fields: flags, epoch, size, count.
                    let field = self.below(10);
                    if let Some(byte) = body.get_mut(field) {
                        *byte = self.next() as u8;
                    }
                }
            }
        }
        body
    }
}

#[test]
fn mutated_and_truncated_bodies_never_panic() {
    let corpus = sample_bodies();
    let mut mutator = Mutator(0x5EED_1234_ABCD_0001);
    let mut outcomes = [0usize; 2];
    // Decoders that have followed the stream up to each body, so mutated
    // deltas get applied rather than refused.
    let mut followers = vec![ScreenDecoder::new()];
    for body in &corpus {
        let mut next = followers[followers.len() - 1].clone();
        next.apply(body).expect("the corpus decodes");
        followers.push(next);
    }
    for round in 0..4000 {
        let which = mutator.below(corpus.len());
        let mutated = mutator.mutate(&corpus[which]);
        let mut synced = followers[which].clone();
        let result = synced.apply(&mutated);
        outcomes[usize::from(result.is_ok())] += 1;
        if let Ok(applied) = result {
            let canvas = synced.canvas().expect("a canvas after success");
            assert_eq!(
                canvas.dimensions(),
                (applied.width, applied.height),
                "round {round}"
            );
        }
        let _ = ScreenDecoder::new().apply(&mutated);
    }
    // Every truncation at every length, of every body.
    for body in &corpus {
        for len in 0..body.len() {
            let mut decoder = ScreenDecoder::new();
            assert!(
                decoder.apply(&body[..len]).is_err(),
                "a truncated body decoded"
            );
            assert!(decoder.needs_keyframe());
        }
    }
    assert!(
        outcomes[0] > 1000,
        "most mutations are caught: {outcomes:?}"
    );
}

#[test]
fn hostile_headers_allocate_nothing_big() {
    // The largest screen the format allows, announced by a keyframe with
    // one tile: the canvas is allocated (it is bounded), nothing else.
    let mut body = vec![FORMAT_VERSION, FLAG_KEY_START, 0, 1];
    body.extend_from_slice(&(MAX_SCREEN_WIDTH as u16).to_be_bytes());
    body.extend_from_slice(&(MAX_SCREEN_HEIGHT as u16).to_be_bytes());
    body.extend_from_slice(&1u16.to_be_bytes());
    for value in [7424u16, 4064, 256, 256] {
        body.extend_from_slice(&value.to_be_bytes());
    }
    body.push(TileEncoding::Solid as u8);
    body.extend_from_slice(&[1, 2, 3]);
    let mut decoder = ScreenDecoder::new();
    let applied = decoder.apply(&body).expect("a legal body");
    assert_eq!(applied.changed, vec![Rect::new(7424, 4064, 256, 256)]);
    let canvas = decoder.canvas().expect("canvas");
    assert_eq!(canvas.get_pixel(7679, 4319), &Rgb([1, 2, 3]));
    assert_eq!(canvas.get_pixel(0, 0), &Rgb([0, 0, 0]));

    // One pixel more is refused before anything is allocated.
    let mut too_wide = body.clone();
    too_wide[4..6].copy_from_slice(&(MAX_SCREEN_WIDTH as u16 + 1).to_be_bytes());
    assert!(matches!(
        ScreenDecoder::new().apply(&too_wide),
        Err(ScreenCodecError::BadScreenSize { .. })
    ));
}

#[test]
fn the_encoder_refuses_pictures_the_format_cannot_describe() {
    let mut encoder = ScreenEncoder::new(EncoderConfig::default());
    let now = Instant::now();
    assert!(matches!(
        encoder.encode(&RgbImage::new(0, 10), now),
        Err(ScreenCodecError::BadScreenSize { .. })
    ));
    assert!(matches!(
        encoder.encode(&RgbImage::new(MAX_SCREEN_WIDTH + 1, 8), now),
        Err(ScreenCodecError::BadScreenSize { .. })
    ));
    // Odd sizes (tiles smaller than the tile size at the edges) are fine.
    let mut link = Link::new(EncoderConfig::default());
    let odd = TestDesktop::new(333, 97).frame(4).clone();
    for _ in 0..5 {
        link.send(&odd);
    }
    assert!(link.canvas() == &odd);
}

/// The worked example in docs/SCREEN.md, kept true.
#[test]
fn the_worked_example_in_codec_md() {
    let mut screen = RgbImage::from_pixel(96, 32, Rgb([255, 255, 255]));
    crate::desktop::render_text(&mut screen, 70, 12, 1, "Hi", Rgb([0, 0, 128]));
    let mut encoder = ScreenEncoder::new(EncoderConfig::default());
    let body = encoder
        .encode(&screen, Instant::now())
        .expect("within limits")
        .expect("a keyframe");
    let expected_start = [
        0x01, 0x03, 0x00, 0x01, 0x00, 0x60, 0x00, 0x20, 0x00, 0x02, // header
        0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x20, 0x00, 0xff, 0xff, 0xff, // solid
        0x00, 0x40, 0x00, 0x00, 0x00, 0x20, 0x00, 0x20, 0x01, // palette tile
        0x01, 0xff, 0xff, 0xff, 0x00, 0x00, 0x80, // two colours
    ];
    assert_eq!(&body[..expected_start.len()], &expected_start);
    assert_eq!(body.len(), 77);
    let deflated = &body[expected_start.len() + 4..];
    assert_eq!(
        &body[expected_start.len()..expected_start.len() + 4],
        &[0, 0, 0, 0x23]
    );
    let indices = miniz_oxide::inflate::decompress_to_vec(deflated).expect("inflates");
    assert_eq!(indices.len(), 128);
    assert_eq!(&indices[12 * 4..13 * 4], &[0x02, 0x22, 0x00, 0x00]);

    let mut decoder = ScreenDecoder::new();
    decoder.apply(&body).expect("applies");
    assert!(decoder.canvas() == Some(&screen));

    let delta = [
        0x01, 0x00, 0x00, 0x01, 0x00, 0x60, 0x00, 0x20, 0x00, 0x02, // header
        0x00, 0x40, 0x00, 0x00, 0x00, 0x20, 0x00, 0x18, 0x05, 0x00, 0x40, 0x00, 0x08, // copy
        0x00, 0x40, 0x00, 0x18, 0x00, 0x20, 0x00, 0x08, 0x00, 0xff, 0xff, 0xff, // solid
    ];
    decoder.apply(&delta).expect("applies");
    let mut scrolled = RgbImage::from_pixel(96, 32, Rgb([255, 255, 255]));
    crate::desktop::render_text(&mut scrolled, 70, 4, 1, "Hi", Rgb([0, 0, 128]));
    assert!(decoder.canvas() == Some(&scrolled));
}

/// A body of copies (and a fill) on a screen of 64x64 tiles coloured `tiles`.
fn apply_copies(tiles: &[[u8; 3]], copies: &[((u32, u32), u32)], fill: Option<u32>) -> RgbImage {
    use super::format::{BodyWriter, TileEncoding};
    let width = 64 * tiles.len() as u32;
    let mut key = BodyWriter::new(FLAG_KEY_START, 1, width, 64);
    for (n, colour) in tiles.iter().enumerate() {
        key.push(
            Rect::new(64 * n as u32, 0, 64, 64),
            TileEncoding::Solid,
            colour,
        );
    }
    let mut decoder = ScreenDecoder::new();
    decoder.apply(&key.finish()).expect("keyframe");
    let mut delta = BodyWriter::new(0, 1, width, 64);
    for &((source_x, source_y), target_x) in copies {
        let mut source = (source_x as u16).to_be_bytes().to_vec();
        source.extend_from_slice(&(source_y as u16).to_be_bytes());
        delta.push(Rect::new(target_x, 0, 64, 64), TileEncoding::Copy, &source);
    }
    if let Some(x) = fill {
        delta.push(
            Rect::new(x, 0, 64, 64),
            TileEncoding::Solid,
            &[255, 255, 255],
        );
    }
    decoder.apply(&delta.finish()).expect("delta");
    decoder.canvas().expect("canvas").clone()
}

#[test]
fn copies_read_the_screen_as_it_was_before_the_body() {
    let (red, green, blue) = ([200, 0, 0], [0, 200, 0], [0, 0, 200]);
    // B gets A's red, C gets B's green from before the body, A is then filled.
    let canvas = apply_copies(
        &[red, green, blue],
        &[((0, 0), 64), ((64, 0), 128)],
        Some(0),
    );
    let colours: Vec<_> = [0, 64, 128]
        .map(|x| canvas.get_pixel(x + 10, 10).0)
        .to_vec();
    assert_eq!(colours, vec![[255, 255, 255], red, green]);

    // A swap: each copy reads what the other overwrites.
    let canvas = apply_copies(&[red, green], &[((0, 0), 64), ((64, 0), 0)], None);
    let colours: Vec<_> = [0, 64].map(|x| canvas.get_pixel(x + 10, 10).0).to_vec();
    assert_eq!(
        colours,
        vec![green, red],
        "a copy never reads another copy's result"
    );
}
