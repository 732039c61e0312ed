//! One tile's pixels, coded and decoded: colour analysis, palette packing,
//! deflate, JPEG and the JPEG table sharing.
//!
//! Everything here works on a tile's pixels as one contiguous RGB buffer
//! (rows of `width * 3` bytes), which the encoder cuts out of the screen and
//! the decoder pastes into the canvas. Decoders write into caller-owned
//! scratch buffers sized exactly for the tile, so corrupt or hostile data can
//! fail but never make them allocate more than the tile needs.

use miniz_oxide::inflate::decompress_slice_iter_to_slice;
use std::ops::Range;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// The most colours a palette tile can have (its indices are at most 8 bits).
pub const MAX_PALETTE_COLOURS: usize = 256;

/// What a tile's colours allow.
#[derive(Debug, PartialEq, Eq)]
pub enum Colours {
    Solid([u8; 3]),
    /// 2 to 256 colours, in order of first appearance, and one index per pixel.
    Few {
        palette: Vec<[u8; 3]>,
        indices: Vec<u8>,
    },
    /// More than 256 colours.
    Many,
}

/// Counts a tile's colours, giving up at the 257th. One pass with a small
/// open-addressing table; runs of one colour (most of any screen) skip the
/// lookup.
pub fn analyse(rgb: &[u8]) -> Colours {
    const SLOTS: usize = 1024; // a power of two, at most a quarter full
    const EMPTY: u32 = u32::MAX; // no 24-bit colour has this key
    let mut keys = [EMPTY; SLOTS];
    let mut slot_index = [0u8; SLOTS];
    let mut palette: Vec<[u8; 3]> = Vec::new();
    let mut indices = Vec::with_capacity(rgb.len() / 3);
    let mut last_key = EMPTY;
    let mut last_index = 0u8;
    for pixel in rgb.chunks_exact(3) {
        let key = u32::from_be_bytes([0, pixel[0], pixel[1], pixel[2]]);
        if key != last_key {
            let mut slot = (key.wrapping_mul(0x9E37_79B1) >> 22) as usize;
            loop {
                if keys[slot] == key {
                    last_index = slot_index[slot];
                    break;
                }
                if keys[slot] == EMPTY {
                    if palette.len() == MAX_PALETTE_COLOURS {
                        return Colours::Many;
                    }
                    // At most 255 here, as the palette is not full.
                    last_index = palette.len() as u8;
                    keys[slot] = key;
                    slot_index[slot] = last_index;
                    palette.push([pixel[0], pixel[1], pixel[2]]);
                    break;
                }
                slot = (slot + 1) & (SLOTS - 1);
            }
            last_key = key;
        }
        indices.push(last_index);
    }
    match palette.as_slice() {
        [] => Colours::Solid([0, 0, 0]),
        [only] => Colours::Solid(*only),
        _ => Colours::Few { palette, indices },
    }
}

/// Bits per palette index: the fewest of 1, 2, 4, 8 that can name every colour.
pub fn bits_per_index(colour_count: usize) -> u32 {
    match colour_count {
        0..=2 => 1,
        3..=4 => 2,
        5..=16 => 4,
        _ => 8,
    }
}

/// Bytes per row of packed indices (rows start on a byte).
pub fn packed_row_len(width: u32, bits: u32) -> usize {
    (width as usize * bits as usize).div_ceil(8)
}

fn deflate(data: &[u8], level: u8) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec(data, level.min(10))
}

/// Inflates `deflated` into exactly `out` (which the caller sized for the
/// tile). More or less data than that is an error: a deflate bomb stops at
/// the end of `out`.
fn inflate_exact(deflated: &[u8], out: &mut [u8]) -> Result<(), &'static str> {
    match decompress_slice_iter_to_slice(out, std::iter::once(deflated), false, true) {
        Ok(written) if written == out.len() => Ok(()),
        Ok(_) => Err("deflated data is shorter than the tile"),
        Err(_) => Err("deflated data is corrupt or longer than the tile"),
    }
}

fn push_sized(payload: &mut Vec<u8>, data: &[u8]) {
    // Tiles are at most 256x256x3 bytes, and deflate or JPEG never grows
    // that past u32.
    payload.extend_from_slice(&(data.len() as u32).to_be_bytes());
    payload.extend_from_slice(data);
}

/// The payload of a palette tile (after the encoding byte).
pub fn palette_payload(palette: &[[u8; 3]], indices: &[u8], width: u32, level: u8) -> Vec<u8> {
    let bits = bits_per_index(palette.len());
    let row_len = packed_row_len(width, bits);
    let per_byte = (8 / bits) as usize;
    let mut packed = Vec::with_capacity(row_len * indices.len() / width.max(1) as usize);
    for row in indices.chunks(width.max(1) as usize) {
        for group in row.chunks(per_byte) {
            let mut byte = 0u8;
            for (position, &index) in group.iter().enumerate() {
                // Most significant bits first, as PNG does.
                byte |= index << (8 - bits as usize * (position + 1));
            }
            packed.push(byte);
        }
    }
    let deflated = deflate(&packed, level);
    let mut payload = Vec::with_capacity(1 + palette.len() * 3 + 4 + deflated.len());
    payload.push((palette.len() - 1) as u8);
    for colour in palette {
        payload.extend_from_slice(colour);
    }
    push_sized(&mut payload, &deflated);
    payload
}

/// Decodes a palette tile into `out` (resized to `width * height * 3`).
pub fn decode_palette(
    colours: &[u8],
    deflated: &[u8],
    width: u32,
    height: u32,
    packed: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    let colour_count = colours.len() / 3;
    let bits = bits_per_index(colour_count);
    let row_len = packed_row_len(width, bits);
    packed.clear();
    packed.resize(row_len * height as usize, 0);
    inflate_exact(deflated, packed)?;
    let per_byte = (8 / bits) as usize;
    let mask = ((1u16 << bits) - 1) as u8;
    out.clear();
    out.reserve(width as usize * height as usize * 3);
    for row in packed.chunks_exact(row_len) {
        for x in 0..width as usize {
            let byte = row[x / per_byte];
            let shift = 8 - bits as usize * (x % per_byte + 1);
            let index = usize::from((byte >> shift) & mask);
            let colour = colours
                .get(index * 3..index * 3 + 3)
                .ok_or("palette index beyond the palette")?;
            out.extend_from_slice(colour);
        }
    }
    Ok(())
}

/// The payload of a deflate-rgb tile: each byte minus the same channel of the
/// pixel to its left (photographs change smoothly, so the differences are
/// small and deflate well), then deflated.
pub fn deflate_rgb_payload(rgb: &[u8], width: u32, level: u8) -> Vec<u8> {
    let row_len = width.max(1) as usize * 3;
    let mut filtered = Vec::with_capacity(rgb.len());
    for row in rgb.chunks(row_len) {
        for (i, &byte) in row.iter().enumerate() {
            let left = if i >= 3 { row[i - 3] } else { 0 };
            filtered.push(byte.wrapping_sub(left));
        }
    }
    let deflated = deflate(&filtered, level);
    let mut payload = Vec::with_capacity(4 + deflated.len());
    push_sized(&mut payload, &deflated);
    payload
}

/// Decodes a deflate-rgb tile into `out` (resized to `width * height * 3`).
pub fn decode_deflate_rgb(
    deflated: &[u8],
    width: u32,
    height: u32,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    let row_len = width as usize * 3;
    out.clear();
    out.resize(row_len * height as usize, 0);
    inflate_exact(deflated, out)?;
    for row in out.chunks_exact_mut(row_len) {
        for i in 3..row.len() {
            row[i] = row[i].wrapping_add(row[i - 3]);
        }
    }
    Ok(())
}

/// A complete JPEG of the tile, or None if the encoder refused (it should not
/// for any tile size the format allows).
pub fn encode_jpeg(rgb: &[u8], width: u32, height: u32, quality: u8) -> Option<Vec<u8>> {
    let mut jpeg = Vec::with_capacity(4096);
    let width = u16::try_from(width).ok()?;
    let height = u16::try_from(height).ok()?;
    jpeg_encoder::Encoder::new(&mut jpeg, quality.clamp(1, 100))
        .encode(rgb, width, height, jpeg_encoder::ColorType::Rgb)
        .ok()?;
    Some(jpeg)
}

const MARKER_SOI: u8 = 0xD8;
const MARKER_EOI: u8 = 0xD9;
const MARKER_SOS: u8 = 0xDA;
const MARKER_DQT: u8 = 0xDB;
const MARKER_DHT: u8 = 0xC4;
const MARKER_COM: u8 = 0xFE;

/// A JPEG's layout up to its scan.
struct JpegLayout {
    /// Each marker segment: its marker and its bytes (marker included).
    segments: Vec<(u8, Range<usize>)>,
    /// Where the scan (the SOS marker) starts; everything after is the scan.
    scan_start: usize,
}

fn jpeg_layout(jpeg: &[u8]) -> Result<JpegLayout, &'static str> {
    if jpeg.get(0..2) != Some(&[0xFF, MARKER_SOI]) {
        return Err("JPEG does not start with SOI");
    }
    let mut segments = Vec::new();
    let mut position = 2;
    loop {
        if jpeg.get(position) != Some(&0xFF) {
            return Err("JPEG marker expected");
        }
        let start = position;
        // Any number of 0xFF fill bytes may precede a marker.
        while jpeg.get(position) == Some(&0xFF) {
            position += 1;
        }
        let marker = *jpeg.get(position).ok_or("JPEG ends inside a marker")?;
        position += 1;
        match marker {
            MARKER_SOS => {
                return Ok(JpegLayout {
                    segments,
                    scan_start: start,
                });
            }
            MARKER_EOI => return Err("JPEG ends before its scan"),
            0x01 | 0xD0..=0xD7 => continue, // markers without a length
            _ => {}
        }
        let length = jpeg
            .get(position..position + 2)
            .map(|bytes| usize::from(u16::from_be_bytes([bytes[0], bytes[1]])))
            .ok_or("JPEG ends inside a segment length")?;
        if length < 2 || position + length > jpeg.len() {
            return Err("JPEG segment length out of range");
        }
        position += length;
        segments.push((marker, start..position));
    }
}

/// Splits a complete JPEG into its tables (DQT and DHT segments) and the rest
/// without SOI, application or comment segments: what a `JpegSharedTables`
/// tile carries.
pub fn split_jpeg(jpeg: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let layout = jpeg_layout(jpeg).ok()?;
    let mut tables = Vec::new();
    let mut rest = Vec::with_capacity(jpeg.len());
    for (marker, range) in layout.segments {
        match marker {
            MARKER_DQT | MARKER_DHT => tables.extend_from_slice(jpeg.get(range)?),
            0xE0..=0xEF | MARKER_COM => {}
            _ => rest.extend_from_slice(jpeg.get(range)?),
        }
    }
    rest.extend_from_slice(jpeg.get(layout.scan_start..)?);
    Some((tables, rest))
}

/// The tables (DQT and DHT segments) of a complete JPEG, for the body's
/// shared-table tiles.
pub fn jpeg_tables(jpeg: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut tables = Vec::new();
    for (marker, range) in jpeg_layout(jpeg)?.segments {
        if matches!(marker, MARKER_DQT | MARKER_DHT) {
            tables.extend_from_slice(jpeg.get(range).ok_or("JPEG segment out of range")?);
        }
    }
    Ok(tables)
}

/// Rebuilds a complete JPEG from shared tables and an abbreviated tile.
pub fn join_jpeg(tables: &[u8], abbreviated: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(2 + tables.len() + abbreviated.len());
    out.extend_from_slice(&[0xFF, MARKER_SOI]);
    out.extend_from_slice(tables);
    out.extend_from_slice(abbreviated);
}

/// Decodes a JPEG that must be exactly `width` x `height` into `out`. The
/// decoder is told the size limit before it reads the header, so a JPEG
/// claiming to be huge is refused before anything is allocated for it.
pub fn decode_jpeg(
    jpeg: &[u8],
    width: u32,
    height: u32,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    let options = DecoderOptions::default()
        .set_max_width(width as usize)
        .set_max_height(height as usize)
        .set_strict_mode(false)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(jpeg), options);
    decoder
        .decode_headers()
        .map_err(|_| "JPEG header is corrupt")?;
    if decoder.dimensions() != Some((width as usize, height as usize)) {
        return Err("JPEG size differs from the tile's");
    }
    let expected = width as usize * height as usize * 3;
    if decoder.output_buffer_size() != Some(expected) {
        return Err("JPEG does not decode to RGB");
    }
    out.clear();
    out.resize(expected, 0);
    decoder.decode_into(out).map_err(|_| "JPEG data is corrupt")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: u32, height: u32) -> Vec<u8> {
        let mut rgb = Vec::new();
        for y in 0..height {
            for x in 0..width {
                rgb.extend_from_slice(&[(x * 4) as u8, (y * 4) as u8, ((x + y) * 2) as u8]);
            }
        }
        rgb
    }

    #[test]
    fn analysis_sorts_tiles_by_colour_count() {
        assert_eq!(analyse(&[9, 8, 7].repeat(64)), Colours::Solid([9, 8, 7]));
        let two = [[0, 0, 0], [255, 255, 255]]
            .iter()
            .cycle()
            .take(64)
            .flatten()
            .copied()
            .collect::<Vec<u8>>();
        match analyse(&two) {
            Colours::Few { palette, indices } => {
                assert_eq!(palette, vec![[0, 0, 0], [255, 255, 255]]);
                assert_eq!(&indices[..4], &[0, 1, 0, 1]);
            }
            other => panic!("expected a palette, got {other:?}"),
        }
        assert_eq!(analyse(&gradient(64, 64)), Colours::Many);
    }

    #[test]
    fn palette_round_trips_at_every_index_width() {
        for colour_count in [2usize, 3, 4, 5, 16, 17, 256] {
            let (width, height) = (37u32, 13u32);
            let palette: Vec<[u8; 3]> = (0..colour_count)
                .map(|i| [i as u8, (i * 7) as u8, 3])
                .collect();
            let indices: Vec<u8> = (0..width * height)
                .map(|i| ((i * 31 + i / 5) % colour_count as u32) as u8)
                .collect();
            let payload = palette_payload(&palette, &indices, width, 6);
            let colours = &payload[1..1 + colour_count * 3];
            let deflated = &payload[1 + colour_count * 3 + 4..];
            let (mut packed, mut out) = (Vec::new(), Vec::new());
            decode_palette(colours, deflated, width, height, &mut packed, &mut out)
                .expect("decodes");
            let expected: Vec<u8> = indices
                .iter()
                .flat_map(|&i| palette[usize::from(i)])
                .collect();
            assert_eq!(out, expected, "{colour_count} colours");
        }
    }

    #[test]
    fn deflate_rgb_round_trips() {
        let rgb = gradient(50, 20);
        let payload = deflate_rgb_payload(&rgb, 50, 6);
        let mut out = Vec::new();
        decode_deflate_rgb(&payload[4..], 50, 20, &mut out).expect("decodes");
        assert_eq!(out, rgb);
    }

    #[test]
    fn a_deflate_bomb_stops_at_the_tile() {
        // 16 MiB of zeros deflates to a few kilobytes; the tile holds 12 KiB.
        let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 16 << 20], 10);
        let mut out = Vec::new();
        assert!(decode_deflate_rgb(&bomb, 64, 64, &mut out).is_err());
        assert_eq!(out.capacity(), 64 * 64 * 3);
        // Too little data is an error too.
        let short = miniz_oxide::deflate::compress_to_vec(&[0u8; 100], 6);
        assert!(decode_deflate_rgb(&short, 64, 64, &mut out).is_err());
    }

    #[test]
    fn jpeg_tiles_share_tables() {
        let (width, height) = (64, 48);
        let rgb = gradient(width, height);
        let first = encode_jpeg(&rgb, width, height, 70).expect("encodes");
        let second = encode_jpeg(&rgb[..], width, height, 70).expect("encodes");
        let (tables, _) = split_jpeg(&first).expect("splits");
        let (second_tables, abbreviated) = split_jpeg(&second).expect("splits");
        assert_eq!(tables, second_tables);
        assert_eq!(jpeg_tables(&first).expect("tables"), tables);
        assert!(
            tables.len() > 400,
            "tables are what sharing saves: {}",
            tables.len()
        );

        let mut joined = Vec::new();
        join_jpeg(&tables, &abbreviated, &mut joined);
        let (mut direct, mut rebuilt) = (Vec::new(), Vec::new());
        decode_jpeg(&first, width, height, &mut direct).expect("decodes");
        decode_jpeg(&joined, width, height, &mut rebuilt).expect("decodes");
        assert_eq!(direct, rebuilt);
        let error: u64 = direct
            .iter()
            .zip(&rgb)
            .map(|(&a, &b)| u64::from(a.abs_diff(b)))
            .sum();
        assert!(
            error / (rgb.len() as u64) < 8,
            "JPEG is close to the source"
        );
    }

    #[test]
    fn jpeg_of_the_wrong_size_is_refused() {
        let rgb = gradient(64, 64);
        let jpeg = encode_jpeg(&rgb, 64, 64, 70).expect("encodes");
        let mut out = Vec::new();
        assert!(decode_jpeg(&jpeg, 32, 32, &mut out).is_err());
        assert!(out.capacity() == 0, "nothing allocated for a refused JPEG");
        assert!(decode_jpeg(&jpeg, 64, 65, &mut out).is_err());
        assert!(decode_jpeg(&jpeg[..100], 64, 64, &mut out).is_err());
    }
}
