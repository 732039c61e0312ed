//! The screen codec: a shared screen as tiles, of which only the changed ones
//! travel, each coded by what it shows.
//!
//! Screens are mostly still and mostly text, so sending a JPEG per frame wastes
//! the link on pixels nobody changed and blurs the text people came to read.
//! Instead (as VNC's tight encoding does) the [`ScreenEncoder`] cuts each
//! captured picture into tiles, compares them with what receivers already hold
//! and sends only the differences: a tile of one colour as that colour, a tile
//! of few colours (text, UI) losslessly as a deflated palette picture, a
//! photographic tile as JPEG, and a tile that moved up or down (scrolling) as a
//! copy of pixels the receiver already has. A JPEG tile that then holds still
//! is sent again losslessly, so text ends up sharp.
//!
//! Frames can be lost on the way (the relay drops the oldest frames of a
//! receiver that cannot keep up), so the stream is cut into keyframe *epochs*:
//! a keyframe starts a full refresh, and the [`ScreenDecoder`] refuses deltas
//! until it has one. The body layout, byte by byte, is in the workspace's
//! `docs/SCREEN.md` (and, briefly, at the top of `format.rs`).
//!
//! Modules: `format` owns the bytes (layout, limits, parsing before
//! allocating); `tile` the per-tile coding of pixels; `scroll` the search for
//! tiles that are copies of what receivers hold; `encoder` and `decoder` the
//! state on either side. Nothing here touches sockets, threads or clocks: time
//! comes in as an argument.

mod decoder;
mod encoder;
mod error;
mod format;
mod limits;
mod scroll;
mod tile;

pub use decoder::{Applied, ScreenDecoder};
pub use encoder::{EncoderConfig, EncodingCount, FrameStats, ScreenEncoder};
pub use error::ScreenCodecError;
pub use format::{
    FORMAT_VERSION, MAX_SCREEN_HEIGHT, MAX_SCREEN_WIDTH, MAX_TILE_SIDE, Rect, TileEncoding,
};

#[cfg(test)]
mod tests;
