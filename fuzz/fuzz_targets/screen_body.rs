//! Arbitrary bytes as screen bodies for one `ScreenDecoder`, in sequence, so
//! deltas meet the canvas a keyframe made.
//!
//! Input: bodies, each after a big-endian u32 length; a length beyond what
//! is left means "the rest" (so one body with a bad length still decodes).
//! At most `MAX_BODIES` bodies per run.
//!
//! Properties, after every body:
//! - no panic;
//! - a canvas, once there, is 1x1 to 7680x4320 and holds exactly
//!   width x height RGB pixels;
//! - an applied body reports the canvas's size, rectangles inside it, and
//!   leaves the decoder in sync; a keyframe is a body with `KEY_START`;
//! - any error leaves the decoder needing a keyframe, and "needs a
//!   keyframe" is only said to a decoder that did already or to a delta.

#![no_main]

use libfuzzer_sys::fuzz_target;
use meeting_screen::codec::{
    Applied, MAX_SCREEN_HEIGHT, MAX_SCREEN_WIDTH, ScreenCodecError, ScreenDecoder,
};

const MAX_BODIES: usize = 4;
const KEY_START: u8 = 0x01;

fn bodies(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while out.len() < MAX_BODIES && !data.is_empty() {
        let Some((len, rest)) = data.split_first_chunk::<4>() else {
            out.push(data);
            break;
        };
        let len = u32::from_be_bytes(*len) as usize;
        if len >= rest.len() || out.len() + 1 == MAX_BODIES {
            out.push(rest);
            break;
        }
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    out
}

fn check_canvas(decoder: &ScreenDecoder) {
    if let Some(canvas) = decoder.canvas() {
        let (width, height) = canvas.dimensions();
        assert!(
            (1..=MAX_SCREEN_WIDTH).contains(&width) && (1..=MAX_SCREEN_HEIGHT).contains(&height),
            "canvas {width}x{height}"
        );
        assert_eq!(canvas.as_raw().len(), width as usize * height as usize * 3);
    }
}

fn check_applied(decoder: &ScreenDecoder, body: &[u8], applied: &Applied) {
    assert!(!decoder.needs_keyframe(), "applied, yet out of sync");
    let canvas = decoder.canvas().expect("an applied body has a canvas");
    assert_eq!(canvas.dimensions(), (applied.width, applied.height));
    for rect in &applied.changed {
        assert!(rect.width >= 1 && rect.height >= 1, "{rect:?}");
        assert!(
            rect.x + rect.width <= applied.width && rect.y + rect.height <= applied.height,
            "{rect:?} outside {}x{}",
            applied.width,
            applied.height
        );
    }
    assert_eq!(applied.keyframe, body[1] & KEY_START != 0);
    assert_eq!(decoder.refresh_complete(), applied.refresh_complete);
}

fuzz_target!(|data: &[u8]| {
    let mut decoder = ScreenDecoder::new();
    for body in bodies(data) {
        let needed_keyframe = decoder.needs_keyframe();
        match decoder.apply(body) {
            Ok(applied) => check_applied(&decoder, body, &applied),
            Err(err) => {
                assert!(decoder.needs_keyframe(), "error {err}, yet in sync");
                if err == ScreenCodecError::NeedsKeyframe {
                    let delta = body.get(1).is_some_and(|flags| flags & KEY_START == 0);
                    assert!(needed_keyframe && delta, "needs a keyframe: {body:?}");
                }
            }
        }
        check_canvas(&decoder);
    }
});
