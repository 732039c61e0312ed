//! The receiving side: a canvas kept up to date from screen bodies, and the
//! knowledge of when it cannot be trusted.
//!
//! The decoder is *in sync* from the first body of a keyframe epoch
//! (`KEY_START`) until frames are lost. It cannot see losses itself (the
//! sequence numbers are in the media header, which is not its business), so
//! the caller reports them with [`ScreenDecoder::lost_sync`], or hands the
//! sequence number to [`ScreenDecoder::apply_sequenced`]. Out of sync, it
//! refuses deltas with [`ScreenCodecError::NeedsKeyframe`] until a keyframe
//! starts, and [`ScreenDecoder::needs_keyframe`] says to ask for one.
//!
//! A body that fails to decode half-way may have changed part of the canvas,
//! so every error leaves the decoder out of sync: a broken body is a lost one.

use super::error::ScreenCodecError;
use super::format::{ParsedBody, Rect, TilePayload, parse_body};
use super::tile;
use image::RgbImage;

/// What one body did to the canvas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The body started a keyframe epoch.
    pub keyframe: bool,
    /// Every tile of the screen has arrived since the epoch started, so the
    /// canvas shows one coherent picture. Until then, parts of it may be
    /// older (or black, after a size change).
    pub refresh_complete: bool,
    pub width: u32,
    pub height: u32,
    /// The rectangles whose pixels the body set, in body order.
    pub changed: Vec<Rect>,
}

/// Rebuilds a shared screen from its bodies.
#[derive(Clone, Default)]
pub struct ScreenDecoder {
    canvas: Option<RgbImage>,
    epoch: u16,
    in_sync: bool,
    refresh_complete: bool,
    last_sequence: Option<u32>,
    /// One tile's pixels.
    pixels: Vec<u8>,
    /// Packed palette indices of one tile.
    packed: Vec<u8>,
    /// A shared-table JPEG made whole.
    jpeg: Vec<u8>,
    /// The pixels this body's copy tiles read, one source after another,
    /// taken before the body changed the canvas.
    copy_sources: Vec<u8>,
}

impl ScreenDecoder {
    pub fn new() -> ScreenDecoder {
        ScreenDecoder::default()
    }

    /// The screen as far as it is known; `None` before the first keyframe.
    /// Kept when sync is lost (it is the best picture there is), so check
    /// [`ScreenDecoder::needs_keyframe`] to know whether it is current.
    pub fn canvas(&self) -> Option<&RgbImage> {
        self.canvas.as_ref()
    }

    /// Whether deltas are refused until a keyframe arrives: ask the sender
    /// for one. True before the first keyframe and after any loss or error.
    pub fn needs_keyframe(&self) -> bool {
        !self.in_sync
    }

    /// Whether the whole canvas has been refreshed since the current keyframe
    /// epoch started (see [`Applied::refresh_complete`]).
    pub fn refresh_complete(&self) -> bool {
        self.in_sync && self.refresh_complete
    }

    /// Reports that bodies were lost (a gap in the media header's sequence
    /// numbers): deltas are refused until the next keyframe.
    pub fn lost_sync(&mut self) {
        self.in_sync = false;
    }

    /// [`ScreenDecoder::apply`] for a body with the media header's sequence
    /// number: a number that does not follow the last one means bodies were
    /// lost, and sync with them.
    pub fn apply_sequenced(
        &mut self,
        sequence: u32,
        body: &[u8],
    ) -> Result<Applied, ScreenCodecError> {
        if self
            .last_sequence
            .is_some_and(|last| sequence != last.wrapping_add(1))
        {
            self.lost_sync();
        }
        self.last_sequence = Some(sequence);
        self.apply(body)
    }

    /// Applies one body to the canvas. Any error leaves the decoder needing a
    /// keyframe; `NeedsKeyframe` means it already did.
    pub fn apply(&mut self, body: &[u8]) -> Result<Applied, ScreenCodecError> {
        let result = parse_body(body).and_then(|parsed| self.apply_parsed(&parsed));
        if result.is_err() {
            self.in_sync = false;
        }
        result
    }

    fn apply_parsed(&mut self, body: &ParsedBody<'_>) -> Result<Applied, ScreenCodecError> {
        let header = body.header;
        let (width, height) = (header.width, header.height);
        if header.key_start() {
            let reusable = self
                .canvas
                .as_ref()
                .is_some_and(|canvas| canvas.dimensions() == (width, height));
            if !reusable {
                // Bounded by the format's screen limit (7680x4320x3 bytes).
                self.canvas = Some(RgbImage::new(width, height));
            }
            self.epoch = header.epoch;
            self.in_sync = true;
            self.refresh_complete = false;
        } else {
            if !self.in_sync {
                return Err(ScreenCodecError::NeedsKeyframe);
            }
            if header.epoch != self.epoch {
                return Err(ScreenCodecError::EpochMismatch {
                    expected: self.epoch,
                    got: header.epoch,
                });
            }
        }
        let Some(canvas) = self.canvas.as_mut() else {
            return Err(ScreenCodecError::NeedsKeyframe);
        };
        if canvas.dimensions() != (width, height) {
            return Err(ScreenCodecError::SizeMismatch {
                width: canvas.width(),
                height: canvas.height(),
                got_width: width,
                got_height: height,
            });
        }

        // Copies read the canvas as it was before this body.
        snapshot_copy_sources(body, canvas, &mut self.copy_sources);
        let mut copy_read = 0;
        let mut first_jpeg: Option<&[u8]> = None;
        let mut shared_tables: Option<Vec<u8>> = None;
        let mut changed = Vec::with_capacity(body.tiles.len());
        for (index, record) in body.tiles.iter().enumerate() {
            let rect = record.rect;
            let bad = |reason| ScreenCodecError::BadTile { index, reason };
            match record.payload {
                TilePayload::Solid(colour) => fill_rect(canvas, rect, colour),
                TilePayload::Palette { colours, indices } => {
                    tile::decode_palette(
                        colours,
                        indices,
                        rect.width,
                        rect.height,
                        &mut self.packed,
                        &mut self.pixels,
                    )
                    .map_err(bad)?;
                    paste(canvas, rect, &self.pixels);
                }
                TilePayload::Jpeg(jpeg) => {
                    first_jpeg.get_or_insert(jpeg);
                    tile::decode_jpeg(jpeg, rect.width, rect.height, &mut self.pixels)
                        .map_err(bad)?;
                    paste(canvas, rect, &self.pixels);
                }
                TilePayload::JpegSharedTables(abbreviated) => {
                    if shared_tables.is_none() {
                        // The parser made sure a JPEG tile came first.
                        let jpeg = first_jpeg.ok_or(bad("no JPEG tile to share tables with"))?;
                        shared_tables = Some(tile::jpeg_tables(jpeg).map_err(bad)?);
                    }
                    let tables = shared_tables.as_deref().unwrap_or_default();
                    tile::join_jpeg(tables, abbreviated, &mut self.jpeg);
                    tile::decode_jpeg(&self.jpeg, rect.width, rect.height, &mut self.pixels)
                        .map_err(bad)?;
                    paste(canvas, rect, &self.pixels);
                }
                TilePayload::DeflateRgb(deflated) => {
                    tile::decode_deflate_rgb(deflated, rect.width, rect.height, &mut self.pixels)
                        .map_err(bad)?;
                    paste(canvas, rect, &self.pixels);
                }
                TilePayload::Copy { .. } => {
                    let len = rect.width as usize * rect.height as usize * 3;
                    let pixels = self
                        .copy_sources
                        .get(copy_read..copy_read + len)
                        .ok_or(bad("copy source not taken"))?;
                    copy_read += len;
                    paste(canvas, rect, pixels);
                }
            }
            changed.push(rect);
        }
        if header.refresh_complete() {
            self.refresh_complete = true;
        }
        Ok(Applied {
            keyframe: header.key_start(),
            refresh_complete: self.refresh_complete,
            width,
            height,
            changed,
        })
    }
}

// The parser checked that every rectangle lies inside the screen, and the
// canvas has the screen's size, so the slicing below stays in bounds.

/// Takes what `body`'s copy tiles will read, before any tile changes the
/// canvas: each copy's source rectangle, in tile order. A 23-byte body with
/// one copy tile on an 8K screen used to clone the whole 99.5 MB canvas; now
/// the cost follows the copies' own size (which the parser bounds, with all
/// the body's tiles, by the screen's area).
fn snapshot_copy_sources(body: &ParsedBody<'_>, canvas: &RgbImage, into: &mut Vec<u8>) {
    into.clear();
    let stride = canvas.width() as usize * 3;
    let pixels = canvas.as_raw();
    for tile in &body.tiles {
        let TilePayload::Copy { source_x, source_y } = tile.payload else {
            continue;
        };
        let row_len = tile.rect.width as usize * 3;
        for y in source_y..source_y + tile.rect.height {
            let start = y as usize * stride + source_x as usize * 3;
            into.extend_from_slice(&pixels[start..start + row_len]);
        }
    }
}

fn fill_rect(canvas: &mut RgbImage, rect: Rect, colour: [u8; 3]) {
    let stride = canvas.width() as usize * 3;
    let buffer: &mut [u8] = canvas;
    for y in rect.y..rect.bottom() {
        let start = y as usize * stride + rect.x as usize * 3;
        for pixel in buffer[start..start + rect.width as usize * 3].chunks_exact_mut(3) {
            pixel.copy_from_slice(&colour);
        }
    }
}

fn paste(canvas: &mut RgbImage, rect: Rect, pixels: &[u8]) {
    let stride = canvas.width() as usize * 3;
    let row_len = rect.width as usize * 3;
    let buffer: &mut [u8] = canvas;
    for (row, y) in pixels.chunks_exact(row_len).zip(rect.y..rect.bottom()) {
        let start = y as usize * stride + rect.x as usize * 3;
        buffer[start..start + row_len].copy_from_slice(row);
    }
}
