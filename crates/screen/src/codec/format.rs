//! The screen body on the wire: its layout, its limits, and the parser that
//! checks every length and coordinate before anything is allocated for it.
//!
//! All numbers are big-endian. `docs/SCREEN.md` has the same layout with a worked
//! example.
//!
//! ```text
//! body   = header tile*
//! header = version u8 (= 1) | flags u8 | epoch u16 | width u16 | height u16 | tile_count u16
//! tile   = x u16 | y u16 | width u16 | height u16 | encoding u8 | payload
//!
//! encoding 0 solid        r u8 | g u8 | b u8
//! encoding 1 palette      colours_minus_one u8 | colours * (r g b) | length u32 | raw deflate of
//!                         the packed indices (1, 2, 4 or 8 bits each, rows padded to a byte)
//! encoding 2 jpeg         length u32 | a complete JPEG of exactly the tile's size
//! encoding 3 jpeg-shared  length u32 | a JPEG without SOI and tables: the tables are those of
//!                         the body's first `jpeg` tile
//! encoding 4 deflate-rgb  length u32 | raw deflate of the tile's RGB rows, each byte stored
//!                         minus the same channel of the pixel to its left (mod 256)
//! encoding 5 copy         source_x u16 | source_y u16: the tile's pixels are the canvas's
//!                         pixels at that place *before this body* (scrolling)
//! ```
//!
//! Flags: bit 0 `KEY_START` (this body starts a keyframe epoch: the decoder
//! takes the size, and every tile is sent again before bit 1 is set), bit 1
//! `REFRESH_COMPLETE` (every tile has now been sent since the epoch's start).
//! Other bits must be zero.
//!
//! Limits, checked before anything is allocated or decoded: screens are 1x1
//! to 7680x4320; tiles are 1x1 to 256x256 and lie inside the screen, as do
//! copy sources; the tiles of one body cover at most the screen's area in total
//! (an honest encoder sends each tile at most once per body); every length is
//! within what is left of the body; nothing may follow the last tile.

use super::error::ScreenCodecError;

pub use super::limits::{FORMAT_VERSION, MAX_SCREEN_HEIGHT, MAX_SCREEN_WIDTH, MAX_TILE_SIDE};

/// Header bytes before the first tile.
pub const HEADER_LEN: usize = 10;
/// Bytes of a tile record before its payload.
pub const TILE_HEADER_LEN: usize = 9;
/// The smallest possible tile record (a solid tile), for bounding the tile list.
const MIN_TILE_LEN: usize = TILE_HEADER_LEN + 3;

pub const FLAG_KEY_START: u8 = 0x01;
pub const FLAG_REFRESH_COMPLETE: u8 = 0x02;
const KNOWN_FLAGS: u8 = FLAG_KEY_START | FLAG_REFRESH_COMPLETE;

/// A rectangle of screen pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub fn new(x: u32, y: u32, width: u32, height: u32) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    pub fn right(&self) -> u32 {
        self.x + self.width
    }

    pub fn bottom(&self) -> u32 {
        self.y + self.height
    }

    pub fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Whether the rectangle lies inside a `width` x `height` screen.
    pub fn fits_in(&self, width: u32, height: u32) -> bool {
        self.x.checked_add(self.width).is_some_and(|r| r <= width)
            && self.y.checked_add(self.height).is_some_and(|b| b <= height)
    }
}

/// How a tile's pixels are coded, as the byte on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TileEncoding {
    /// One colour.
    Solid = 0,
    /// Up to 256 colours, losslessly: palette and deflated indices.
    Palette = 1,
    /// Lossy, with its own JPEG tables.
    Jpeg = 2,
    /// Lossy, borrowing the tables of the body's first `Jpeg` tile (saves
    /// about 600 bytes a tile).
    JpegSharedTables = 3,
    /// Lossless true colour: deflated, left-delta filtered RGB.
    DeflateRgb = 4,
    /// Pixels the receiver already has elsewhere on its canvas.
    Copy = 5,
}

impl TileEncoding {
    pub const ALL: [TileEncoding; 6] = [
        TileEncoding::Solid,
        TileEncoding::Palette,
        TileEncoding::Jpeg,
        TileEncoding::JpegSharedTables,
        TileEncoding::DeflateRgb,
        TileEncoding::Copy,
    ];

    pub fn from_byte(byte: u8) -> Option<TileEncoding> {
        TileEncoding::ALL.get(usize::from(byte)).copied()
    }

    /// Its place in `ALL`, for per-encoding arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the receiver ends up with exactly the sender's pixels.
    pub fn is_lossless(self) -> bool {
        !matches!(self, TileEncoding::Jpeg | TileEncoding::JpegSharedTables)
    }

    pub fn name(self) -> &'static str {
        match self {
            TileEncoding::Solid => "solid",
            TileEncoding::Palette => "palette",
            TileEncoding::Jpeg => "jpeg",
            TileEncoding::JpegSharedTables => "jpeg-shared",
            TileEncoding::DeflateRgb => "deflate-rgb",
            TileEncoding::Copy => "copy",
        }
    }
}

/// A body's header, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyHeader {
    pub flags: u8,
    pub epoch: u16,
    pub width: u32,
    pub height: u32,
}

impl BodyHeader {
    pub fn key_start(&self) -> bool {
        self.flags & FLAG_KEY_START != 0
    }

    pub fn refresh_complete(&self) -> bool {
        self.flags & FLAG_REFRESH_COMPLETE != 0
    }
}

/// A tile's payload, still coded, borrowed from the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TilePayload<'a> {
    Solid([u8; 3]),
    /// `colours` is 2 to 256 RGB triples; `indices` the raw deflate stream.
    Palette {
        colours: &'a [u8],
        indices: &'a [u8],
    },
    Jpeg(&'a [u8]),
    JpegSharedTables(&'a [u8]),
    DeflateRgb(&'a [u8]),
    Copy {
        source_x: u32,
        source_y: u32,
    },
}

impl TilePayload<'_> {
    #[cfg(test)]
    pub fn encoding(&self) -> TileEncoding {
        match self {
            TilePayload::Solid(_) => TileEncoding::Solid,
            TilePayload::Palette { .. } => TileEncoding::Palette,
            TilePayload::Jpeg(_) => TileEncoding::Jpeg,
            TilePayload::JpegSharedTables(_) => TileEncoding::JpegSharedTables,
            TilePayload::DeflateRgb(_) => TileEncoding::DeflateRgb,
            TilePayload::Copy { .. } => TileEncoding::Copy,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileRecord<'a> {
    pub rect: Rect,
    pub payload: TilePayload<'a>,
}

/// A body whose structure has been checked; payloads are still coded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedBody<'a> {
    pub header: BodyHeader,
    pub tiles: Vec<TileRecord<'a>>,
}

/// A cursor over the body that fails with `Truncated` instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    fn take(&mut self, what: &'static str, len: usize) -> Result<&'a [u8], ScreenCodecError> {
        let truncated = || ScreenCodecError::Truncated {
            what,
            offset: self.offset,
            needed: len,
            available: self.remaining(),
        };
        let end = self.offset.checked_add(len).ok_or_else(truncated)?;
        let slice = self.bytes.get(self.offset..end).ok_or_else(truncated)?;
        self.offset = end;
        Ok(slice)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ScreenCodecError> {
        Ok(self.take(what, 1)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, ScreenCodecError> {
        let bytes = self.take(what, 2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, ScreenCodecError> {
        let bytes = self.take(what, 4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A u32 length followed by that many bytes (at least one).
    fn sized(&mut self, what: &'static str) -> Result<&'a [u8], ScreenCodecError> {
        let len = self.u32(what)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len == 0 {
            return Err(ScreenCodecError::Truncated {
                what,
                offset: self.offset,
                needed: 1,
                available: 0,
            });
        }
        self.take(what, len)
    }
}

/// Checks the screen size against the format's limits.
pub fn check_screen_size(width: u32, height: u32) -> Result<(), ScreenCodecError> {
    if (1..=MAX_SCREEN_WIDTH).contains(&width) && (1..=MAX_SCREEN_HEIGHT).contains(&height) {
        Ok(())
    } else {
        Err(ScreenCodecError::BadScreenSize { width, height })
    }
}

/// Parses and checks a body's structure. Allocates only the tile list, whose
/// length is bounded by the body's length, not by the count it announces.
pub fn parse_body(body: &[u8]) -> Result<ParsedBody<'_>, ScreenCodecError> {
    let mut reader = Reader {
        bytes: body,
        offset: 0,
    };
    let version = reader.u8("version")?;
    if version != FORMAT_VERSION {
        return Err(ScreenCodecError::UnsupportedVersion(version));
    }
    let flags = reader.u8("flags")?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(ScreenCodecError::UnknownFlags(flags));
    }
    let epoch = reader.u16("epoch")?;
    let width = u32::from(reader.u16("screen width")?);
    let height = u32::from(reader.u16("screen height")?);
    check_screen_size(width, height)?;
    let tile_count = usize::from(reader.u16("tile count")?);
    let header = BodyHeader {
        flags,
        epoch,
        width,
        height,
    };

    let screen_area = u64::from(width) * u64::from(height);
    let mut covered_area = 0u64;
    let mut seen_jpeg = false;
    let mut tiles = Vec::with_capacity(tile_count.min(reader.remaining() / MIN_TILE_LEN));
    for index in 0..tile_count {
        let bad = |reason| ScreenCodecError::BadTile { index, reason };
        let x = u32::from(reader.u16("tile x")?);
        let y = u32::from(reader.u16("tile y")?);
        let tile_width = u32::from(reader.u16("tile width")?);
        let tile_height = u32::from(reader.u16("tile height")?);
        let rect = Rect::new(x, y, tile_width, tile_height);
        if !(1..=MAX_TILE_SIDE).contains(&tile_width) || !(1..=MAX_TILE_SIDE).contains(&tile_height)
        {
            return Err(bad("tile sides must be 1 to 256 pixels"));
        }
        if !rect.fits_in(width, height) {
            return Err(bad("tile lies outside the screen"));
        }
        covered_area += rect.area();
        if covered_area > screen_area {
            return Err(bad("tiles cover more than the screen's area"));
        }
        let encoding_byte = reader.u8("tile encoding")?;
        let encoding =
            TileEncoding::from_byte(encoding_byte).ok_or(bad("unknown tile encoding"))?;
        let payload = match encoding {
            TileEncoding::Solid => {
                let rgb = reader.take("solid colour", 3)?;
                TilePayload::Solid([rgb[0], rgb[1], rgb[2]])
            }
            TileEncoding::Palette => {
                let colour_count = usize::from(reader.u8("palette size")?) + 1;
                if colour_count < 2 {
                    return Err(bad("a palette needs at least two colours"));
                }
                let colours = reader.take("palette", colour_count * 3)?;
                let indices = reader.sized("palette indices")?;
                TilePayload::Palette { colours, indices }
            }
            TileEncoding::Jpeg => {
                seen_jpeg = true;
                TilePayload::Jpeg(reader.sized("jpeg data")?)
            }
            TileEncoding::JpegSharedTables => {
                if !seen_jpeg {
                    return Err(bad("shared-table JPEG before any JPEG tile in the body"));
                }
                TilePayload::JpegSharedTables(reader.sized("jpeg data")?)
            }
            TileEncoding::DeflateRgb => TilePayload::DeflateRgb(reader.sized("deflated rgb")?),
            TileEncoding::Copy => {
                let source_x = u32::from(reader.u16("copy source x")?);
                let source_y = u32::from(reader.u16("copy source y")?);
                if !Rect::new(source_x, source_y, tile_width, tile_height).fits_in(width, height) {
                    return Err(bad("copy source lies outside the screen"));
                }
                TilePayload::Copy { source_x, source_y }
            }
        };
        tiles.push(TileRecord { rect, payload });
    }
    if reader.remaining() != 0 {
        return Err(ScreenCodecError::TrailingBytes(reader.remaining()));
    }
    Ok(ParsedBody { header, tiles })
}

/// Builds a body: the header first, tiles appended as they are decided.
pub struct BodyWriter {
    bytes: Vec<u8>,
    tile_count: u16,
    has_jpeg: bool,
    /// The last copy record: where it starts, its rectangle and its source,
    /// so the next copy along the same row can widen it instead.
    last_copy: Option<(usize, Rect, u32, u32)>,
}

impl BodyWriter {
    pub fn new(flags: u8, epoch: u16, width: u32, height: u32) -> BodyWriter {
        let mut bytes = Vec::with_capacity(16 * 1024);
        bytes.push(FORMAT_VERSION);
        bytes.push(flags);
        bytes.extend_from_slice(&epoch.to_be_bytes());
        // The encoder checked the size against the limits, which fit in u16.
        bytes.extend_from_slice(&(width as u16).to_be_bytes());
        bytes.extend_from_slice(&(height as u16).to_be_bytes());
        bytes.extend_from_slice(&0u16.to_be_bytes());
        debug_assert_eq!(bytes.len(), HEADER_LEN);
        BodyWriter {
            bytes,
            tile_count: 0,
            has_jpeg: false,
            last_copy: None,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn tile_count(&self) -> u16 {
        self.tile_count
    }

    pub fn is_full(&self) -> bool {
        self.tile_count == u16::MAX
    }

    /// Whether a `Jpeg` tile is already in the body, so later JPEG tiles can
    /// borrow its tables.
    pub fn has_jpeg(&self) -> bool {
        self.has_jpeg
    }

    /// Appends a tile whose payload (everything after the encoding byte) is
    /// already coded.
    pub fn push(&mut self, rect: Rect, encoding: TileEncoding, payload: &[u8]) {
        for value in [rect.x, rect.y, rect.width, rect.height] {
            self.bytes.extend_from_slice(&(value as u16).to_be_bytes());
        }
        self.bytes.push(encoding as u8);
        self.bytes.extend_from_slice(payload);
        self.tile_count += 1;
        self.has_jpeg |= encoding == TileEncoding::Jpeg;
    }

    /// Appends a copy tile, or widens the last copy record when this one
    /// continues it to the right with the same source offset (scrolling moves
    /// whole rows of tiles by the same amount). Returns the bytes added.
    pub fn push_copy(&mut self, rect: Rect, source_x: u32, source_y: u32) -> usize {
        if let Some((at, last, last_x, last_y)) = self.last_copy {
            let continues = last.y == rect.y
                && last.height == rect.height
                && last.right() == rect.x
                && last_x + last.width == source_x
                && last_y == source_y
                && last.width + rect.width <= MAX_TILE_SIDE;
            if continues {
                let width = last.width + rect.width;
                // The width field is the third u16 of the record.
                self.bytes[at + 4..at + 6].copy_from_slice(&(width as u16).to_be_bytes());
                self.last_copy = Some((at, Rect { width, ..last }, last_x, last_y));
                return 0;
            }
        }
        let at = self.bytes.len();
        let mut payload = [0u8; 4];
        payload[..2].copy_from_slice(&(source_x as u16).to_be_bytes());
        payload[2..].copy_from_slice(&(source_y as u16).to_be_bytes());
        self.push(rect, TileEncoding::Copy, &payload);
        self.last_copy = Some((at, rect, source_x, source_y));
        tile_wire_len(payload.len())
    }

    pub fn add_flags(&mut self, flags: u8) {
        self.bytes[1] |= flags;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.bytes[HEADER_LEN - 2..HEADER_LEN].copy_from_slice(&self.tile_count.to_be_bytes());
        self.bytes
    }
}

/// The size on the wire of a tile record with a payload of `payload_len` bytes.
pub fn tile_wire_len(payload_len: usize) -> usize {
    TILE_HEADER_LEN + payload_len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u8, width: u16, height: u16, tiles: u16) -> Vec<u8> {
        let mut body = vec![FORMAT_VERSION, flags, 0, 7];
        body.extend_from_slice(&width.to_be_bytes());
        body.extend_from_slice(&height.to_be_bytes());
        body.extend_from_slice(&tiles.to_be_bytes());
        body
    }

    fn solid_tile(body: &mut Vec<u8>, x: u16, y: u16, w: u16, h: u16) {
        for v in [x, y, w, h] {
            body.extend_from_slice(&v.to_be_bytes());
        }
        body.extend_from_slice(&[0, 1, 2, 3]);
    }

    #[test]
    fn writer_output_parses_back() {
        let mut writer = BodyWriter::new(FLAG_KEY_START, 7, 100, 50);
        writer.push(Rect::new(0, 0, 64, 50), TileEncoding::Solid, &[1, 2, 3]);
        writer.push(Rect::new(64, 0, 36, 50), TileEncoding::Copy, &[0, 0, 0, 0]);
        writer.add_flags(FLAG_REFRESH_COMPLETE);
        let body = writer.finish();
        let parsed = parse_body(&body).expect("parses");
        assert!(parsed.header.key_start() && parsed.header.refresh_complete());
        assert_eq!(
            (
                parsed.header.epoch,
                parsed.header.width,
                parsed.header.height
            ),
            (7, 100, 50)
        );
        assert_eq!(parsed.tiles.len(), 2);
        assert_eq!(parsed.tiles[0].payload, TilePayload::Solid([1, 2, 3]));
        assert_eq!(
            parsed.tiles[1].payload,
            TilePayload::Copy {
                source_x: 0,
                source_y: 0
            }
        );
    }

    #[test]
    fn copies_along_a_row_share_a_record() {
        let mut writer = BodyWriter::new(0, 1, 1000, 500);
        assert_eq!(writer.push_copy(Rect::new(0, 0, 64, 64), 0, 10), 13);
        assert_eq!(writer.push_copy(Rect::new(64, 0, 64, 64), 64, 10), 0);
        // Another offset, a gap, or a full record start new records.
        assert_eq!(writer.push_copy(Rect::new(128, 0, 64, 64), 128, 12), 13);
        assert_eq!(writer.push_copy(Rect::new(256, 0, 64, 64), 256, 12), 13);
        for x in [320, 384, 448] {
            assert_eq!(writer.push_copy(Rect::new(x, 0, 64, 64), x, 12), 0);
        }
        assert_eq!(writer.push_copy(Rect::new(512, 0, 64, 64), 512, 12), 13);
        let body = writer.finish();
        let rects: Vec<Rect> = parse_body(&body)
            .expect("parses")
            .tiles
            .iter()
            .map(|tile| tile.rect)
            .collect();
        assert_eq!(
            rects,
            vec![
                Rect::new(0, 0, 128, 64),
                Rect::new(128, 0, 64, 64),
                Rect::new(256, 0, 256, 64),
                Rect::new(512, 0, 64, 64),
            ]
        );
    }

    #[test]
    fn limits_are_checked() {
        assert!(matches!(
            parse_body(&[]),
            Err(ScreenCodecError::Truncated { .. })
        ));
        let mut body = header(0, 100, 50, 0);
        body[0] = 2;
        assert_eq!(
            parse_body(&body),
            Err(ScreenCodecError::UnsupportedVersion(2))
        );
        assert_eq!(
            parse_body(&header(0x80, 100, 50, 0)),
            Err(ScreenCodecError::UnknownFlags(0x80))
        );
        assert!(matches!(
            parse_body(&header(0, 7681, 50, 0)),
            Err(ScreenCodecError::BadScreenSize { .. })
        ));
        assert!(matches!(
            parse_body(&header(0, 100, 0, 0)),
            Err(ScreenCodecError::BadScreenSize { .. })
        ));

        // A tile hanging over the right edge.
        let mut body = header(0, 100, 50, 1);
        solid_tile(&mut body, 64, 0, 64, 50);
        assert!(matches!(
            parse_body(&body),
            Err(ScreenCodecError::BadTile { index: 0, .. })
        ));
        // A tile bigger than the format allows.
        let mut body = header(0, 1000, 1000, 1);
        solid_tile(&mut body, 0, 0, 257, 10);
        assert!(matches!(
            parse_body(&body),
            Err(ScreenCodecError::BadTile { index: 0, .. })
        ));
        // The same tile twice is fine; three times covers more than the screen.
        let mut body = header(0, 10, 10, 3);
        for _ in 0..3 {
            solid_tile(&mut body, 0, 0, 10, 5);
        }
        assert!(matches!(
            parse_body(&body),
            Err(ScreenCodecError::BadTile { index: 2, .. })
        ));
        // Announcing more tiles than there are bytes allocates nothing big.
        let body = header(0, 100, 50, u16::MAX);
        assert!(matches!(
            parse_body(&body),
            Err(ScreenCodecError::Truncated { .. })
        ));
        // Trailing garbage.
        let mut body = header(0, 100, 50, 0);
        body.push(0);
        assert_eq!(parse_body(&body), Err(ScreenCodecError::TrailingBytes(1)));
    }

    #[test]
    fn lengths_beyond_the_body_are_truncation() {
        let mut body = header(0, 100, 50, 1);
        for v in [0u16, 0, 10, 10] {
            body.extend_from_slice(&v.to_be_bytes());
        }
        body.push(TileEncoding::DeflateRgb as u8);
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        body.extend_from_slice(&[0; 16]);
        assert!(matches!(
            parse_body(&body),
            Err(ScreenCodecError::Truncated { .. })
        ));
    }

    #[test]
    fn shared_tables_need_a_jpeg_first() {
        let mut body = header(0, 100, 50, 1);
        for v in [0u16, 0, 10, 10] {
            body.extend_from_slice(&v.to_be_bytes());
        }
        body.push(TileEncoding::JpegSharedTables as u8);
        body.extend_from_slice(&1u32.to_be_bytes());
        body.push(0);
        assert!(matches!(
            parse_body(&body),
            Err(ScreenCodecError::BadTile { index: 0, .. })
        ));
    }
}
