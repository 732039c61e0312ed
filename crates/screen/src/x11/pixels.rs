//! Turning a ZPixmap image as the X server lays it out into RGB. The layout is
//! whatever the server says (bits per pixel, scanline padding, byte order, the
//! visual's colour masks), so this is a small interpreter of those facts with a
//! fast path for the layout nearly every desktop has (32 bits per pixel, least
//! significant byte first, 0xRRGGBB masks), which is a plain byte shuffle.
//!
//! It knows nothing of connections, so it is tested on hand-made bytes.

use image::RgbImage;

/// One colour channel of a TrueColor visual: where its bits are in a pixel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Channel {
    shift: u32,
    bits: u32,
}

impl Channel {
    /// `None` unless the mask is one run of 1 to 16 set bits, which is what
    /// TrueColor visuals have.
    fn from_mask(mask: u32) -> Option<Channel> {
        if mask == 0 {
            return None;
        }
        let shift = mask.trailing_zeros();
        let bits = mask.count_ones();
        let contiguous = (mask >> shift).checked_add(1)?.is_power_of_two();
        (contiguous && bits <= 16).then_some(Channel { shift, bits })
    }

    /// This channel of `pixel`, scaled to 8 bits.
    fn to_u8(self, pixel: u32) -> u8 {
        let max = (1u32 << self.bits) - 1;
        let value = (pixel >> self.shift) & max;
        if self.bits >= 8 {
            // Keep the high bits: 10-bit 1023 becomes 255.
            (value >> (self.bits - 8)) as u8
        } else {
            // Stretch to the full range: 5-bit 31 becomes 255, not 248.
            ((value * 255 + max / 2) / max) as u8
        }
    }
}

/// How the pixels of one screen are laid out in a ZPixmap image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PixelFormat {
    bytes_per_pixel: usize,
    scanline_pad_bits: u32,
    most_significant_byte_first: bool,
    red: Channel,
    green: Channel,
    blue: Channel,
}

/// Why a screen's pixel format is not one we convert.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnsupportedFormat;

impl PixelFormat {
    /// The format of a TrueColor visual with these masks, stored at
    /// `bits_per_pixel` (24 or 32) with rows padded to `scanline_pad_bits`.
    pub(crate) fn new(
        bits_per_pixel: u8,
        scanline_pad_bits: u8,
        most_significant_byte_first: bool,
        [red_mask, green_mask, blue_mask]: [u32; 3],
    ) -> Result<PixelFormat, UnsupportedFormat> {
        let bytes_per_pixel = match bits_per_pixel {
            24 => 3,
            32 => 4,
            _ => return Err(UnsupportedFormat),
        };
        if ![8, 16, 32].contains(&scanline_pad_bits) {
            return Err(UnsupportedFormat);
        }
        let channel = |mask: u32| {
            let channel = Channel::from_mask(mask).ok_or(UnsupportedFormat)?;
            if channel.shift + channel.bits > u32::from(bits_per_pixel) {
                return Err(UnsupportedFormat);
            }
            Ok(channel)
        };
        Ok(PixelFormat {
            bytes_per_pixel,
            scanline_pad_bits: u32::from(scanline_pad_bits),
            most_significant_byte_first,
            red: channel(red_mask)?,
            green: channel(green_mask)?,
            blue: channel(blue_mask)?,
        })
    }

    /// Bytes from the start of one row to the start of the next.
    pub(crate) fn stride(&self, width: u32) -> usize {
        let pad_bytes = (self.scanline_pad_bits / 8) as usize;
        (width as usize * self.bytes_per_pixel).div_ceil(pad_bytes) * pad_bytes
    }

    /// Bytes of a `width`x`height` image.
    pub(crate) fn image_len(&self, width: u32, height: u32) -> usize {
        self.stride(width) * height as usize
    }

    /// Converts a `width`x`height` image in this format to RGB. `None` when
    /// `data` is shorter than such an image.
    pub(crate) fn rgb_image(&self, data: &[u8], width: u32, height: u32) -> Option<RgbImage> {
        let stride = self.stride(width);
        let row_len = width as usize * self.bytes_per_pixel;
        if data.len() < self.image_len(width, height) {
            return None;
        }
        let mut rgb = vec![0u8; width as usize * height as usize * 3];
        if width > 0 {
            let rows = data
                .chunks(stride)
                .zip(rgb.chunks_exact_mut(width as usize * 3));
            for (source_row, rgb_row) in rows {
                self.convert_row(&source_row[..row_len], rgb_row);
            }
        }
        RgbImage::from_raw(width, height, rgb)
    }

    fn convert_row(&self, source: &[u8], rgb: &mut [u8]) {
        let common_masks =
            self.red == channel8(16) && self.green == channel8(8) && self.blue == channel8(0);
        match (
            self.bytes_per_pixel,
            self.most_significant_byte_first,
            common_masks,
        ) {
            // 0x00RRGGBB stored B, G, R, unused: the layout of nearly every screen.
            (4, false, true) => {
                for (pixel, out) in source.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
                    out.copy_from_slice(&[pixel[2], pixel[1], pixel[0]]);
                }
            }
            // The same pixel value from a big-endian server: unused, R, G, B.
            (4, true, true) => {
                for (pixel, out) in source.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
                    out.copy_from_slice(&pixel[1..4]);
                }
            }
            _ => {
                for (pixel, out) in source
                    .chunks_exact(self.bytes_per_pixel)
                    .zip(rgb.chunks_exact_mut(3))
                {
                    let value = self.pixel_value(pixel);
                    out.copy_from_slice(&[
                        self.red.to_u8(value),
                        self.green.to_u8(value),
                        self.blue.to_u8(value),
                    ]);
                }
            }
        }
    }

    fn pixel_value(&self, bytes: &[u8]) -> u32 {
        if self.most_significant_byte_first {
            bytes
                .iter()
                .fold(0, |value, &byte| (value << 8) | u32::from(byte))
        } else {
            bytes
                .iter()
                .rev()
                .fold(0, |value, &byte| (value << 8) | u32::from(byte))
        }
    }
}

/// An 8-bit channel at `shift`.
const fn channel8(shift: u32) -> Channel {
    Channel { shift, bits: 8 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMON_MASKS: [u32; 3] = [0xff_0000, 0x00_ff00, 0x00_00ff];

    fn format(bits_per_pixel: u8, pad: u8, msb_first: bool, masks: [u32; 3]) -> PixelFormat {
        match PixelFormat::new(bits_per_pixel, pad, msb_first, masks) {
            Ok(format) => format,
            Err(UnsupportedFormat) => panic!("format should be supported"),
        }
    }

    fn convert(format: &PixelFormat, data: &[u8], width: u32, height: u32) -> Vec<u8> {
        match format.rgb_image(data, width, height) {
            Some(image) => image.into_raw(),
            None => panic!("{} bytes are too few", data.len()),
        }
    }

    #[test]
    fn common_32_bit_little_endian() {
        let format = format(32, 32, false, COMMON_MASKS);
        // Two pixels: 0x112233 and 0xaabbcc, each stored B, G, R, X.
        let data = [0x33, 0x22, 0x11, 0x00, 0xcc, 0xbb, 0xaa, 0xff];
        assert_eq!(
            convert(&format, &data, 2, 1),
            [0x11, 0x22, 0x33, 0xaa, 0xbb, 0xcc]
        );
    }

    #[test]
    fn common_32_bit_big_endian() {
        let format = format(32, 32, true, COMMON_MASKS);
        let data = [0x00, 0x11, 0x22, 0x33];
        assert_eq!(convert(&format, &data, 1, 1), [0x11, 0x22, 0x33]);
    }

    #[test]
    fn packed_24_bit_rows_are_padded() {
        let format = format(24, 32, false, COMMON_MASKS);
        // One pixel a row is 3 bytes, padded to 4.
        assert_eq!(format.stride(1), 4);
        let data = [0x03, 0x02, 0x01, 0xee, 0x06, 0x05, 0x04, 0xee];
        assert_eq!(convert(&format, &data, 1, 2), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn other_masks_use_the_masks() {
        // 0x00BBGGRR, as some servers order it.
        let format = format(32, 32, false, [0x00_00ff, 0x00_ff00, 0xff_0000]);
        let data = [0x11, 0x22, 0x33, 0x00];
        assert_eq!(convert(&format, &data, 1, 1), [0x11, 0x22, 0x33]);
    }

    #[test]
    fn deep_colour_keeps_the_high_bits() {
        // Depth 30: 10 bits a channel.
        let format = format(32, 32, false, [0x3ff0_0000, 0x000f_fc00, 0x0000_03ff]);
        let pixel: u32 = (1023 << 20) | (512 << 10) | 3;
        assert_eq!(convert(&format, &pixel.to_le_bytes(), 1, 1), [255, 128, 0]);
    }

    #[test]
    fn short_data_is_refused() {
        let format = format(32, 32, false, COMMON_MASKS);
        assert!(format.rgb_image(&[0; 7], 2, 1).is_none());
    }

    #[test]
    fn unsupported_layouts_are_refused() {
        assert_eq!(
            PixelFormat::new(16, 32, false, [0xf800, 0x07e0, 0x001f]),
            Err(UnsupportedFormat)
        );
        assert_eq!(
            PixelFormat::new(32, 32, false, [0xff_0000, 0x00_f0f0, 0xff]),
            Err(UnsupportedFormat)
        );
        assert_eq!(
            PixelFormat::new(32, 32, false, [0, 0xff00, 0xff]),
            Err(UnsupportedFormat)
        );
        assert_eq!(
            PixelFormat::new(24, 32, false, [0xff00_0000, 0xff00, 0xff]),
            Err(UnsupportedFormat)
        );
    }

    #[test]
    fn small_channels_stretch_to_full_range() {
        let five_bits = Channel { shift: 0, bits: 5 };
        assert_eq!(five_bits.to_u8(31), 255);
        assert_eq!(five_bits.to_u8(0), 0);
    }
}
