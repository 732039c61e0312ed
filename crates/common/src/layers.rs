//! Video layers: the same picture at a few sizes, so each receiver gets the
//! one that fits what it draws.
//!
//! A layered sender puts a 6-byte layer header before the JPEG of each video
//! body: which layer it is and its size. A body without one (a JPEG starts
//! with `0xFF`) is what a single-layer sender sends: the full-size layer. All
//! layers of one captured picture share its `sequence` and `timestamp_us`.
//!
//! ```text
//!  0      1       2           4            6
//! +------+-------+-----------+------------+-----------+
//! | 0x4C | layer | width u16 | height u16 | JPEG ...  |
//! +------+-------+-----------+------------+-----------+
//! ```
//!
//! Layer `n` is the full size halved `n` times (rounded down, at least one
//! pixel), so a receiver and a server that know one layer's size know them all.

use crate::ids::ClientId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many layers a sender may offer: full, half, quarter, eighth and
/// sixteenth size. The small ones are what a terminal grid draws: at 80x24
/// with eight members a half-block tile is about 15x12 pixels, which the
/// sixteenth of 640x360 (40x22) still covers.
pub const VIDEO_LAYERS: usize = 5;
/// The first byte of a layer header (`L`); a JPEG starts with `0xFF` instead.
pub const LAYER_TAG: u8 = 0x4C;

/// One of the sizes of a sender's picture: 0 is full, 1 half, 2 quarter,
/// 3 eighth, 4 sixteenth (each side halved again, rounded down).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Layer(pub u8);

impl Layer {
    pub const FULL: Layer = Layer(0);
    pub const ALL: [Layer; VIDEO_LAYERS] = [Layer(0), Layer(1), Layer(2), Layer(3), Layer(4)];

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// This layer's size when the full picture is `full`.
    pub fn size_of(self, full: PixelSize) -> PixelSize {
        let shift = u32::from(self.0.min(15));
        PixelSize {
            width: (full.width >> shift).max(1),
            height: (full.height >> shift).max(1),
        }
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "full",
            1 => "half",
            2 => "quarter",
            3 => "eighth",
            4 => "sixteenth",
            _ => "smaller",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A picture's size in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PixelSize {
    pub width: u16,
    pub height: u16,
}

impl PixelSize {
    /// As large as the protocol can say: "the full picture, whatever its size".
    pub const FULL: PixelSize = PixelSize {
        width: u16::MAX,
        height: u16::MAX,
    };

    pub fn new(width: u16, height: u16) -> PixelSize {
        PixelSize { width, height }
    }

    /// True if a picture of this size, fitted into `need` keeping its shape,
    /// is not enlarged: it fills `need` in at least one direction.
    pub fn covers(self, need: PixelSize) -> bool {
        self.width >= need.width || self.height >= need.height
    }

    pub fn is_empty(self) -> bool {
        self.width == 0 || self.height == 0
    }
}

impl fmt::Display for PixelSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// The layer header of a video body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerHeader {
    pub layer: Layer,
    pub size: PixelSize,
}

impl LayerHeader {
    pub const LEN: usize = 6;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let w = self.size.width.to_be_bytes();
        let h = self.size.height.to_be_bytes();
        [LAYER_TAG, self.layer.0, w[0], w[1], h[0], h[1]]
    }
}

/// A video body split into its layer (None: a single-layer sender's body,
/// the full size, whose size only its JPEG knows) and its JPEG.
///
/// A body is layered only if it starts with a whole layer header (the tag, a
/// layer that exists, a size that is not empty) followed by a JPEG's start
/// marker. Anything else is a single-layer body and passes whole: the video
/// body was opaque bytes before layers existed, and a load generator or an
/// older tool whose bytes happen to begin with the tag must not be cut off
/// or misread (a random body passes all four checks about once in 10^9).
pub fn split_video_body(body: &[u8]) -> (Option<LayerHeader>, &[u8]) {
    match layer_header(body) {
        Some(header) => (Some(header), &body[LayerHeader::LEN..]),
        None => (None, body),
    }
}

fn layer_header(body: &[u8]) -> Option<LayerHeader> {
    let head = body.get(..LayerHeader::LEN)?;
    let layer = Layer(head[1]);
    let size = PixelSize::new(
        u16::from_be_bytes([head[2], head[3]]),
        u16::from_be_bytes([head[4], head[5]]),
    );
    let jpeg_follows = body.get(LayerHeader::LEN..LayerHeader::LEN + 2) == Some(&JPEG_START[..]);
    let valid = head[0] == LAYER_TAG
        && layer.index() < VIDEO_LAYERS
        && size.width > 0
        && size.height > 0
        && jpeg_follows;
    valid.then_some(LayerHeader { layer, size })
}

/// The marker every JPEG starts with (SOI).
const JPEG_START: [u8; 2] = [0xFF, 0xD8];

/// A set of layers (`layers` event): which ones a sender should encode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LayerSet(u8);

impl LayerSet {
    pub const NONE: LayerSet = LayerSet(0);

    pub fn only(layer: Layer) -> LayerSet {
        LayerSet::NONE.with(layer)
    }

    pub fn with(self, layer: Layer) -> LayerSet {
        LayerSet(self.0 | 1 << layer.0.min(7))
    }

    /// The layers of either set.
    pub fn union(self, other: LayerSet) -> LayerSet {
        LayerSet(self.0 | other.0)
    }

    pub fn contains(self, layer: Layer) -> bool {
        self.0 & (1 << layer.0.min(7)) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Layer> {
        Layer::ALL.into_iter().filter(move |&l| self.contains(l))
    }
}

impl Serialize for LayerSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for LayerSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<LayerSet, D::Error> {
        let layers = Vec::<Layer>::deserialize(deserializer)?;
        let mut set = LayerSet::NONE;
        for layer in layers {
            // A newer peer's extra layers mean nothing here.
            if layer.index() < VIDEO_LAYERS {
                set = set.with(layer);
            }
        }
        Ok(set)
    }
}

/// One entry of a `view` request: `member`'s picture is drawn fitted into
/// `width` x `height` pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub member: ClientId,
    pub width: u16,
    pub height: u16,
}

/// What the server forwards of one sender's video to one receiver, and why
/// (`server_stats`: `layers`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverLayer {
    pub receiver: ClientId,
    pub sender: ClientId,
    /// The layer it gets (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Layer>,
    /// That layer's size, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<PixelSize>,
    /// What the receiver said it draws the sender at (absent: it never said,
    /// so it gets the full size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<PixelSize>,
    /// Layers it is held below what it asked for, for falling behind.
    pub held_down: u8,
    /// Why this layer, in words.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layered_body_and_a_plain_jpeg_are_told_apart() {
        let header = LayerHeader {
            layer: Layer(2),
            size: PixelSize::new(160, 90),
        };
        let mut body = header.encode().to_vec();
        body.extend_from_slice(&[0xFF, 0xD8, 1, 2]);
        let (layer, jpeg) = split_video_body(&body);
        assert_eq!(layer, Some(header));
        assert_eq!(jpeg, &[0xFF, 0xD8, 1, 2]);

        let plain = [0xFF, 0xD8, 0xFF, 0xE0];
        assert_eq!(split_video_body(&plain), (None, &plain[..]));
    }

    /// Bodies that only begin like a layer header are opaque bytes (a load
    /// generator's, an older tool's): passed whole, never refused.
    #[test]
    fn a_body_that_only_looks_layered_passes_whole() {
        let not_layered: [&[u8]; 5] = [
            &[LAYER_TAG, 0, 1],                            // short
            &[LAYER_TAG, 9, 0, 1, 0, 1, 0xFF, 0xD8],       // no such layer
            &[LAYER_TAG, 1, 0, 0, 0, 9, 0xFF, 0xD8],       // empty size
            &[LAYER_TAG, 1, 0, 9, 0, 9, 0x12, 0x34, 0x56], // no JPEG after it
            &[LAYER_TAG, 1, 0, 9, 0, 9],                   // nothing after it
        ];
        for body in not_layered {
            assert_eq!(split_video_body(body), (None, body), "{body:?}");
        }
    }

    #[test]
    fn layers_halve_the_full_size_and_cover_by_fit() {
        let full = PixelSize::new(640, 360);
        assert_eq!(Layer(1).size_of(full), PixelSize::new(320, 180));
        assert_eq!(Layer(2).size_of(full), PixelSize::new(160, 90));
        // A 160x90 picture fitted into a wide 400x90 box fills its height.
        assert!(PixelSize::new(160, 90).covers(PixelSize::new(400, 90)));
        assert!(!PixelSize::new(160, 90).covers(PixelSize::new(161, 91)));
    }

    #[test]
    fn layer_sets_travel_as_lists() {
        let set = LayerSet::only(Layer(0)).with(Layer(2));
        let json = serde_json::to_string(&set).expect("serialises");
        assert_eq!(json, "[0,2]");
        let back: LayerSet = serde_json::from_str("[2,0,7]").expect("parses");
        assert_eq!(back, set);
    }
}
