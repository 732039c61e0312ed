//! The numbers the screen body format is made of: its version and the
//! sizes it can describe. The format (`format`) and its errors (`error`)
//! both speak of them.

/// The body layout this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// The widest screen a body may describe (8K UHD).
pub const MAX_SCREEN_WIDTH: u32 = 7680;
/// The tallest screen a body may describe.
pub const MAX_SCREEN_HEIGHT: u32 = 4320;
/// The largest tile side: bounds the decoder's scratch buffers (256 x 256 x 3 bytes).
pub const MAX_TILE_SIDE: u32 = 256;
