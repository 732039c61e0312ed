//! The sending side: which tiles go in this frame, and how each is coded.
//!
//! The encoder keeps a model of what every in-sync receiver holds: the
//! `reference` picture (the source pixels of the last version of each tile it
//! sent) and, per tile, whether receivers hold it exactly, approximately (a
//! JPEG) or not at all (since the last keyframe started). A tile is sent when
//! its pixels differ from the reference, or when receivers hold only a JPEG of
//! it and it has been still for `refine_after` (then losslessly: refinement).
//!
//! Each frame's body is capped at `frame_budget` bytes. Tiles that do not fit
//! stay pending and go first in the next frame (oldest change first, so a
//! region that changes every frame cannot starve the rest), and refinements
//! wait behind changes. A keyframe is therefore not one body but an *epoch*:
//! its first body has `KEY_START` and makes every tile pending; the tiles go
//! out over as many bodies as the budget needs, and the body that sends the
//! last of them carries `REFRESH_COMPLETE`.

use super::error::ScreenCodecError;
use super::format::{
    BodyWriter, FLAG_KEY_START, FLAG_REFRESH_COMPLETE, MAX_TILE_SIDE, Rect, TileEncoding,
    check_screen_size, tile_wire_len,
};
use super::scroll::{find_vertical_copies, same_pixels};
use super::tile::{self, Colours, MAX_PALETTE_COLOURS};
use image::RgbImage;
use std::time::{Duration, Instant};

/// How the encoder cuts, codes and paces the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncoderConfig {
    /// The side of the square tiles the screen is cut into, 16 to 256 pixels
    /// (tiles at the right and bottom edges may be smaller). Smaller tiles
    /// send less around small changes but cost more per tile.
    pub tile_size: u32,
    /// JPEG quality (1 to 100) for photographic tiles on their first sending.
    pub jpeg_quality: u8,
    /// Time between periodic keyframes, so a receiver that lost frames
    /// without saying so still recovers; `None` for keyframes only on request
    /// and on size changes.
    pub keyframe_interval: Option<Duration>,
    /// The most bytes one body may have. Tiles beyond it wait for the next
    /// frame; a body always carries at least one tile, so it can exceed the
    /// budget by at most one tile.
    pub frame_budget: usize,
    /// Tiles with at most this many colours (1 to 256) are sent losslessly
    /// as a palette from the start; more colourful ones as JPEG first.
    pub max_palette_colours: usize,
    /// How long a JPEG tile must stay unchanged before it is sent again
    /// losslessly.
    pub refine_after: Duration,
    /// Deflate level for lossless tiles, 0 (store) to 10 (slowest).
    pub deflate_level: u8,
    /// Look for tiles that moved vertically (scrolling) and send them as
    /// copies of what receivers hold.
    pub detect_scrolling: bool,
}

impl Default for EncoderConfig {
    fn default() -> EncoderConfig {
        EncoderConfig {
            tile_size: 64,
            jpeg_quality: 70,
            keyframe_interval: Some(Duration::from_secs(10)),
            frame_budget: 512 * 1024,
            max_palette_colours: 16,
            refine_after: Duration::from_millis(300),
            deflate_level: 6,
            detect_scrolling: true,
        }
    }
}

impl EncoderConfig {
    /// The same settings, each brought within its documented range.
    fn clamped(mut self) -> EncoderConfig {
        self.tile_size = self.tile_size.clamp(16, MAX_TILE_SIDE);
        self.jpeg_quality = self.jpeg_quality.clamp(1, 100);
        self.max_palette_colours = self.max_palette_colours.clamp(1, MAX_PALETTE_COLOURS);
        self.deflate_level = self.deflate_level.min(10);
        self
    }
}

/// Tiles and bytes of one encoding in one body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodingCount {
    pub tiles: usize,
    /// Bytes on the wire, each tile's 9-byte record header included.
    pub bytes: usize,
}

/// What one call to [`ScreenEncoder::encode`] did, for measurements and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// The body starts a keyframe epoch (`KEY_START`).
    pub keyframe: bool,
    /// The body completes the epoch's refresh (`REFRESH_COMPLETE`).
    pub refresh_complete: bool,
    pub tiles_total: usize,
    /// Tiles whose pixels differ from what receivers hold (every tile, at the
    /// start of a keyframe), pending ones from earlier frames included.
    pub tiles_changed: usize,
    /// JPEG tiles still long enough to be sent again losslessly.
    pub tiles_refinable: usize,
    pub tiles_sent: usize,
    /// Of those sent, the lossless re-sendings of still JPEG tiles.
    pub refinements_sent: usize,
    /// Changed or refinable tiles the budget left for a later frame.
    pub tiles_deferred: usize,
    /// The body's length; 0 when there was nothing to send.
    pub body_bytes: usize,
    /// Indexed by [`TileEncoding::index`]; see [`FrameStats::encoding`].
    pub by_encoding: [EncodingCount; 6],
}

impl FrameStats {
    pub fn encoding(&self, encoding: TileEncoding) -> EncodingCount {
        self.by_encoding[encoding.index()]
    }
}

/// What receivers hold of a tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    /// Nothing usable since the current keyframe epoch started.
    Nothing,
    /// A JPEG of the reference's pixels, sent at that time.
    Lossy { sent_at: Instant },
    /// Exactly the reference's pixels.
    Exact,
}

struct TileSlot {
    rect: Rect,
    held: Held,
    /// Receivers held the tile exactly when the current keyframe epoch
    /// started, and it has not changed since: resend it losslessly rather
    /// than as a JPEG to be refined again.
    resend_lossless: bool,
    /// The frame number since which the tile has differed from what
    /// receivers hold: the older, the sooner it goes.
    dirty_since: Option<u64>,
}

/// Why a tile is in this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    /// Its pixels changed; `Some` if they are a copy of held pixels there.
    Changed(Option<(u32, u32)>),
    /// A keyframe resends it, unchanged since receivers held it exactly.
    Resend,
    /// It is a still JPEG tile going lossless.
    Refinement,
}

impl Reason {
    /// Whether the tile must be coded losslessly whatever it shows.
    fn wants_lossless(self) -> bool {
        matches!(self, Reason::Resend | Reason::Refinement)
    }
}

/// A tile ready to be appended, and the JPEG tables it used, if any.
struct CodedTile {
    encoding: TileEncoding,
    payload: Vec<u8>,
    jpeg_tables: Option<Vec<u8>>,
}

/// Turns captured pictures into screen bodies. One per shared screen; every
/// receiver of the stream gets the same bodies.
pub struct ScreenEncoder {
    config: EncoderConfig,
    width: u32,
    height: u32,
    /// What in-sync receivers hold (for `Lossy` tiles: the pixels the JPEG was
    /// made from).
    reference: RgbImage,
    tiles: Vec<TileSlot>,
    epoch: u16,
    frame_number: u64,
    last_keyframe_at: Option<Instant>,
    keyframe_requested: bool,
    /// A keyframe epoch started and some tile has not been sent since.
    refresh_pending: bool,
    stats: FrameStats,
    /// One tile's pixels, reused.
    pixels: Vec<u8>,
}

impl ScreenEncoder {
    /// Settings out of their documented ranges are brought within them.
    pub fn new(config: EncoderConfig) -> ScreenEncoder {
        ScreenEncoder {
            config: config.clamped(),
            width: 0,
            height: 0,
            reference: RgbImage::new(0, 0),
            tiles: Vec::new(),
            epoch: 0,
            frame_number: 0,
            last_keyframe_at: None,
            keyframe_requested: true,
            refresh_pending: false,
            stats: FrameStats::default(),
            pixels: Vec::new(),
        }
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Makes the next [`ScreenEncoder::encode`] start a keyframe epoch. Call it
    /// when a member joins or a receiver reports lost frames; several calls
    /// before the next encode make one keyframe. A keyframe costs a full
    /// refresh, so callers should not pass on more than about one request a
    /// second.
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// The current keyframe epoch (wrapping), as written in every body.
    pub fn epoch(&self) -> u16 {
        self.epoch
    }

    /// What the last [`ScreenEncoder::encode`] did.
    pub fn last_stats(&self) -> &FrameStats {
        &self.stats
    }

    /// The body to send for the picture captured at `now`, or `None` when
    /// receivers already hold it and nothing is due. A picture of another
    /// size than the last starts a keyframe at the new size.
    ///
    /// Fails only for pictures the format cannot describe (empty, or larger
    /// than 7680x4320); the encoder's state is then unchanged.
    pub fn encode(
        &mut self,
        image: &RgbImage,
        now: Instant,
    ) -> Result<Option<Vec<u8>>, ScreenCodecError> {
        let (width, height) = image.dimensions();
        check_screen_size(width, height)?;
        self.frame_number += 1;
        if (width, height) != (self.width, self.height) {
            self.reset_grid(width, height);
            self.keyframe_requested = true;
        }

        let keyframe_due = self.keyframe_requested
            || match (self.last_keyframe_at, self.config.keyframe_interval) {
                (None, _) => true,
                (Some(at), Some(interval)) => now.saturating_duration_since(at) >= interval,
                (Some(_), None) => false,
            };
        let mut flags = 0;
        if keyframe_due {
            self.epoch = self.epoch.wrapping_add(1);
            self.keyframe_requested = false;
            self.last_keyframe_at = Some(now);
            self.refresh_pending = true;
            for slot in &mut self.tiles {
                slot.resend_lossless = slot.held == Held::Exact;
                slot.held = Held::Nothing;
            }
            flags |= FLAG_KEY_START;
        }

        let (changed, refinable) = self.classify(image, now);
        let copies = self.find_copies(image, &changed);
        let mut stats = FrameStats {
            keyframe: keyframe_due,
            tiles_total: self.tiles.len(),
            tiles_changed: changed.len(),
            tiles_refinable: refinable.len(),
            ..FrameStats::default()
        };

        let tiles = &self.tiles;
        let queue: Vec<(usize, Reason)> = changed
            .iter()
            .zip(copies)
            .map(|(&index, copy)| {
                let reason = match copy {
                    None if tiles[index].resend_lossless => Reason::Resend,
                    copy => Reason::Changed(copy),
                };
                (index, reason)
            })
            .chain(refinable.iter().map(|&index| (index, Reason::Refinement)))
            .collect();
        let mut body = BodyWriter::new(flags, self.epoch, width, height);
        let mut body_jpeg_tables: Option<Vec<u8>> = None;
        let mut budget_spent = false;
        for (index, reason) in queue {
            if budget_spent || body.is_full() {
                stats.tiles_deferred += 1;
                continue;
            }
            let rect = self.tiles[index].rect;
            let coded = self.code_tile(image, rect, reason, &body, body_jpeg_tables.as_deref());
            let mut wire_len = tile_wire_len(coded.payload.len());
            if body.tile_count() > 0 && body.len() + wire_len > self.config.frame_budget {
                // Stop rather than look for smaller tiles further down the
                // queue: the queue's order is the fairness.
                budget_spent = true;
                stats.tiles_deferred += 1;
                continue;
            }
            match reason {
                Reason::Changed(Some((source_x, source_y))) => {
                    wire_len = body.push_copy(rect, source_x, source_y);
                }
                _ => body.push(rect, coded.encoding, &coded.payload),
            }
            if coded.encoding == TileEncoding::Jpeg && body_jpeg_tables.is_none() {
                body_jpeg_tables = coded.jpeg_tables;
            }
            copy_rect(image, &mut self.reference, rect);
            let slot = &mut self.tiles[index];
            slot.held = if coded.encoding.is_lossless() {
                Held::Exact
            } else {
                Held::Lossy { sent_at: now }
            };
            slot.dirty_since = None;
            slot.resend_lossless = false;
            stats.tiles_sent += 1;
            if reason == Reason::Refinement {
                stats.refinements_sent += 1;
            }
            let count = &mut stats.by_encoding[coded.encoding.index()];
            count.tiles += 1;
            count.bytes += wire_len;
        }

        if self.refresh_pending && self.tiles.iter().all(|slot| slot.held != Held::Nothing) {
            self.refresh_pending = false;
            body.add_flags(FLAG_REFRESH_COMPLETE);
            stats.refresh_complete = true;
        }
        let result = if body.tile_count() == 0 {
            None
        } else {
            let bytes = body.finish();
            stats.body_bytes = bytes.len();
            Some(bytes)
        };
        self.stats = stats;
        Ok(result)
    }

    fn reset_grid(&mut self, width: u32, height: u32) {
        let size = self.config.tile_size;
        self.width = width;
        self.height = height;
        self.reference = RgbImage::new(width, height);
        self.tiles.clear();
        for y in (0..height).step_by(size as usize) {
            for x in (0..width).step_by(size as usize) {
                self.tiles.push(TileSlot {
                    rect: Rect::new(x, y, size.min(width - x), size.min(height - y)),
                    held: Held::Nothing,
                    resend_lossless: false,
                    dirty_since: None,
                });
            }
        }
    }

    /// The tiles to send for their content (oldest change first) and the
    /// still JPEG tiles due for refinement (longest held first).
    fn classify(&mut self, image: &RgbImage, now: Instant) -> (Vec<usize>, Vec<usize>) {
        let frame = self.frame_number;
        let mut changed = Vec::new();
        let mut refinable = Vec::new();
        for (index, slot) in self.tiles.iter_mut().enumerate() {
            let rect = slot.rect;
            let unchanged = same_pixels(image, rect, &self.reference, rect.x, rect.y);
            slot.resend_lossless &= unchanged;
            if slot.held == Held::Nothing || !unchanged {
                slot.dirty_since.get_or_insert(frame);
                changed.push(index);
            } else {
                // Changed and changed back before it was sent: nothing to do.
                slot.dirty_since = None;
                if let Held::Lossy { sent_at } = slot.held {
                    if now.saturating_duration_since(sent_at) >= self.config.refine_after {
                        refinable.push(index);
                    }
                }
            }
        }
        let tiles = &self.tiles;
        changed.sort_by_key(|&index| (tiles[index].dirty_since, index));
        refinable.sort_by_key(|&index| match tiles[index].held {
            Held::Lossy { sent_at } => (Some(sent_at), index),
            _ => (None, index),
        });
        (changed, refinable)
    }

    /// For each changed tile, a place where receivers hold exactly its new pixels.
    fn find_copies(&self, image: &RgbImage, changed: &[usize]) -> Vec<Option<(u32, u32)>> {
        let any_exact = self.tiles.iter().any(|slot| slot.held == Held::Exact);
        if !self.config.detect_scrolling || changed.is_empty() || !any_exact {
            return vec![None; changed.len()];
        }
        let rects: Vec<Rect> = changed
            .iter()
            .map(|&index| self.tiles[index].rect)
            .collect();
        find_vertical_copies(image, &self.reference, &rects, |source| {
            self.held_exactly(source)
        })
    }

    /// Whether receivers hold every pixel of `area` exactly.
    fn held_exactly(&self, area: Rect) -> bool {
        let size = self.config.tile_size;
        let columns = self.width.div_ceil(size);
        let (first_column, last_column) = (area.x / size, (area.right() - 1) / size);
        let (first_row, last_row) = (area.y / size, (area.bottom() - 1) / size);
        (first_row..=last_row).all(|row| {
            (first_column..=last_column).all(|column| {
                self.tiles
                    .get((row * columns + column) as usize)
                    .is_some_and(|slot| slot.held == Held::Exact)
            })
        })
    }

    /// Codes one tile by what it shows (see the module documentation).
    fn code_tile(
        &mut self,
        image: &RgbImage,
        rect: Rect,
        reason: Reason,
        body: &BodyWriter,
        body_jpeg_tables: Option<&[u8]>,
    ) -> CodedTile {
        let lossless = |encoding, payload| CodedTile {
            encoding,
            payload,
            jpeg_tables: None,
        };
        if let Reason::Changed(Some(_)) = reason {
            // The body writer codes copies (it merges them along rows); this
            // is only the size for the budget.
            return lossless(TileEncoding::Copy, vec![0; 4]);
        }
        extract(image, rect, &mut self.pixels);
        let level = self.config.deflate_level;
        match tile::analyse(&self.pixels) {
            Colours::Solid(colour) => lossless(TileEncoding::Solid, colour.to_vec()),
            Colours::Few { palette, indices }
                if palette.len() <= self.config.max_palette_colours || reason.wants_lossless() =>
            {
                let payload = tile::palette_payload(&palette, &indices, rect.width, level);
                lossless(TileEncoding::Palette, payload)
            }
            _ if reason.wants_lossless() => lossless(
                TileEncoding::DeflateRgb,
                tile::deflate_rgb_payload(&self.pixels, rect.width, level),
            ),
            _ => {
                let quality = self.config.jpeg_quality;
                let Some((tables, abbreviated)) =
                    tile::encode_jpeg(&self.pixels, rect.width, rect.height, quality)
                        .and_then(|jpeg| tile::split_jpeg(&jpeg))
                else {
                    // The JPEG encoder refused; lossless always works.
                    return lossless(
                        TileEncoding::DeflateRgb,
                        tile::deflate_rgb_payload(&self.pixels, rect.width, level),
                    );
                };
                if body.has_jpeg() && body_jpeg_tables == Some(tables.as_slice()) {
                    let mut payload = Vec::with_capacity(4 + abbreviated.len());
                    push_sized(&mut payload, &abbreviated);
                    return CodedTile {
                        encoding: TileEncoding::JpegSharedTables,
                        payload,
                        jpeg_tables: None,
                    };
                }
                let mut jpeg = Vec::new();
                tile::join_jpeg(&tables, &abbreviated, &mut jpeg);
                let mut payload = Vec::with_capacity(4 + jpeg.len());
                push_sized(&mut payload, &jpeg);
                CodedTile {
                    encoding: TileEncoding::Jpeg,
                    payload,
                    jpeg_tables: Some(tables),
                }
            }
        }
    }
}

fn push_sized(payload: &mut Vec<u8>, data: &[u8]) {
    // A tile's JPEG is far below 4 GiB.
    payload.extend_from_slice(&(data.len() as u32).to_be_bytes());
    payload.extend_from_slice(data);
}

/// Copies `rect` of `image` into `pixels` as contiguous rows.
fn extract(image: &RgbImage, rect: Rect, pixels: &mut Vec<u8>) {
    let stride = image.width() as usize * 3;
    let row_len = rect.width as usize * 3;
    pixels.clear();
    for y in rect.y..rect.bottom() {
        let start = y as usize * stride + rect.x as usize * 3;
        pixels.extend_from_slice(&image.as_raw()[start..start + row_len]);
    }
}

/// Copies `rect` from one picture to another of the same size.
fn copy_rect(from: &RgbImage, to: &mut RgbImage, rect: Rect) {
    let stride = from.width() as usize * 3;
    let row_len = rect.width as usize * 3;
    let source = from.as_raw();
    let target: &mut [u8] = to;
    for y in rect.y..rect.bottom() {
        let start = y as usize * stride + rect.x as usize * 3;
        target[start..start + row_len].copy_from_slice(&source[start..start + row_len]);
    }
}
