//! EBML, the binary format Matroska is written in: every element is an ID,
//! a size (a variable-length integer, "vint") and its data; a master
//! element's data is more elements. Only what `writer` needs: building
//! elements into a byte buffer, bottom up, so each size is known when it is
//! written. Nothing here touches a file.

/// The element IDs `writer` uses, as their bytes on the wire (the length
/// marker included), from the Matroska specification (RFC 9559).
pub mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const VOID: u32 = 0xEC;

    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;

    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const DATE_UTC: u32 = 0x4461;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;

    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_DEFAULT: u32 = 0x88;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const NAME: u32 = 0x536E;
    pub const LANGUAGE: u32 = 0x22_B59C;
    pub const CODEC_ID: u32 = 0x86;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const BIT_DEPTH: u32 = 0x6264;

    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const BLOCK_GROUP: u32 = 0xA0;
    pub const BLOCK: u32 = 0xA1;
    pub const BLOCK_DURATION: u32 = 0x9B;

    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

/// The size that says "unknown, up to the end of the file" (eight bytes):
/// a Segment written live has no size until it is finished.
pub const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// The largest size a vint of eight bytes holds (all ones means unknown).
const MAX_SIZE: u64 = (1 << 56) - 2;

/// An element ID, its bytes as they are written (IDs carry their length).
pub fn write_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// `size` as the shortest vint that holds it.
pub fn write_size(out: &mut Vec<u8>, size: u64) {
    // A vint of n bytes holds 7n bits of value; all ones is reserved.
    let len = (1..=8usize)
        .find(|&n| size < (1u64 << (7 * n)) - 1)
        .unwrap_or(8);
    write_size_fixed(out, size.min(MAX_SIZE), len);
}

/// `size` as a vint of exactly `len` bytes (1..=8), for sizes patched in
/// place later, which must keep their width.
pub fn write_size_fixed(out: &mut Vec<u8>, size: u64, len: usize) {
    let len = len.clamp(1, 8);
    let marked = size | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// An element with `data` as it is (binary, or a master's children).
pub fn element(out: &mut Vec<u8>, id: u32, data: &[u8]) {
    write_id(out, id);
    write_size(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// A master element whose children `build` writes.
pub fn master(out: &mut Vec<u8>, id: u32, build: impl FnOnce(&mut Vec<u8>)) {
    let mut children = Vec::new();
    build(&mut children);
    element(out, id, &children);
}

/// An unsigned integer element, in as few bytes as it needs (at least one).
pub fn uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    element(out, id, &bytes[skip..]);
}

/// A signed integer element in eight bytes (only `DateUTC` uses one).
pub fn int(out: &mut Vec<u8>, id: u32, value: i64) {
    element(out, id, &value.to_be_bytes());
}

/// A float element in eight bytes.
pub fn float(out: &mut Vec<u8>, id: u32, value: f64) {
    element(out, id, &value.to_be_bytes());
}

/// A string element (ASCII or UTF-8 by the element's definition).
pub fn string(out: &mut Vec<u8>, id: u32, value: &str) {
    element(out, id, value.as_bytes());
}

/// The bytes a float element takes: what is reserved for `Duration`.
pub const FLOAT_ELEMENT_LEN: usize = 11;

/// A Void element of exactly `len` bytes (at least 2): space kept for an
/// element written later, which readers skip.
pub fn void(out: &mut Vec<u8>, len: usize) {
    debug_assert!(len >= 2, "a Void takes at least two bytes");
    // One byte of ID, then the size in one byte when it fits, else eight.
    let (size_len, data) = match len.saturating_sub(2) {
        data if data < 127 => (1, data),
        _ => (8, len.saturating_sub(9)),
    };
    write_id(out, id::VOID);
    write_size_fixed(out, data as u64, size_len);
    out.resize(out.len() + data, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_the_shortest_vint_and_never_all_ones() {
        let sized = |size| {
            let mut out = Vec::new();
            write_size(&mut out, size);
            out
        };
        assert_eq!(sized(0), [0x80]);
        assert_eq!(sized(126), [0xFE]);
        // 127 in one byte would be all ones (unknown).
        assert_eq!(sized(127), [0x40, 0x7F]);
        assert_eq!(sized(16_382), [0x7F, 0xFE]);
        assert_eq!(sized(16_383), [0x20, 0x3F, 0xFF]);
        let mut fixed = Vec::new();
        write_size_fixed(&mut fixed, 5, 8);
        assert_eq!(fixed, [0x01, 0, 0, 0, 0, 0, 0, 5]);
    }

    #[test]
    fn ids_keep_their_length_and_integers_drop_leading_zeros() {
        let mut out = Vec::new();
        write_id(&mut out, id::VOID);
        write_id(&mut out, id::LANGUAGE);
        write_id(&mut out, id::SEGMENT);
        assert_eq!(out, [0xEC, 0x22, 0xB5, 0x9C, 0x18, 0x53, 0x80, 0x67]);
        let mut out = Vec::new();
        uint(&mut out, id::TRACK_NUMBER, 0);
        uint(&mut out, id::TIMESTAMP_SCALE, 1_000_000);
        assert_eq!(
            out,
            [0xD7, 0x81, 0, 0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40]
        );
    }

    #[test]
    fn a_void_fills_exactly_the_room_it_is_given() {
        for len in [2, 11, 128, 129, 130, 8192] {
            let mut out = Vec::new();
            void(&mut out, len);
            assert_eq!(out.len(), len, "{len}");
        }
        let mut out = Vec::new();
        float(&mut out, id::DURATION, 1.5);
        assert_eq!(out.len(), FLOAT_ELEMENT_LEN);
    }
}
