//! The screen codec (being written): the body format and per-tile coding
//! first, the encoder and decoder state next.

mod error;
mod format;
mod tile;

pub use error::ScreenCodecError;
pub use format::{
    FORMAT_VERSION, MAX_SCREEN_HEIGHT, MAX_SCREEN_WIDTH, MAX_TILE_SIDE, Rect, TileEncoding,
};
