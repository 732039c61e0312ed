//! Pixel formats we negotiate, conversion to packed RGB (what the client's
//! encoder takes), PPM output and the 4-quadrant test-pattern check.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The 32-bit shared-memory formats we accept. Every portal back-end offers at
/// least one of them (xdpw: BGRx; GNOME/KDE: BGRx/BGRA and RGBx/RGBA families).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    Bgrx,
    Bgra,
    Rgbx,
    Rgba,
}

impl PixelFormat {
    /// Byte offsets of R, G, B inside one 4-byte pixel (memory order).
    fn rgb_offsets(self) -> [usize; 3] {
        match self {
            PixelFormat::Bgrx | PixelFormat::Bgra => [2, 1, 0],
            PixelFormat::Rgbx | PixelFormat::Rgba => [0, 1, 2],
        }
    }
}

/// One captured picture, already converted to RGB (3 bytes a pixel, no padding).
#[derive(Clone, Debug)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
    /// What the producer sent, kept for diagnostics.
    pub source_format: PixelFormat,
    pub source_stride: u32,
    /// Time spent converting/copying this frame out of the PipeWire buffer.
    pub copy_time: Duration,
}

/// Converts a padded 32-bit buffer to tightly packed RGB, row by row, because
/// the stride can be larger than `width * 4` (alignment) and must be honoured.
/// Returns None if the buffer is too small for the declared geometry.
pub fn to_rgb(
    src: &[u8],
    width: u32,
    height: u32,
    stride: u32,
    format: PixelFormat,
) -> Option<Vec<u8>> {
    let (w, h, stride) = (width as usize, height as usize, stride as usize);
    if stride < w * 4 || src.len() < stride * (h.saturating_sub(1)) + w * 4 {
        return None;
    }
    let [r, g, b] = format.rgb_offsets();
    // Preallocated output written in place: one pass, no per-pixel push.
    let mut out = vec![0u8; w * h * 3];
    for (src_row, dst_row) in src.chunks(stride).zip(out.chunks_exact_mut(w * 3)) {
        for (px, dst) in src_row[..w * 4]
            .chunks_exact(4)
            .zip(dst_row.chunks_exact_mut(3))
        {
            dst[0] = px[r];
            dst[1] = px[g];
            dst[2] = px[b];
        }
    }
    Some(out)
}

pub fn write_ppm(frame: &Frame, path: &Path) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    write!(f, "P6\n{} {}\n255\n", frame.width, frame.height)?;
    f.write_all(&frame.rgb)?;
    f.flush()
}

/// The picture the test desktop shows (tests/wayland/mkpattern.py):
/// top-left red, top-right green, bottom-left blue, bottom-right white.
/// Samples the centre of each quadrant, with a small tolerance.
pub fn check_quadrants(frame: &Frame) -> Result<(), String> {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let at = |x: usize, y: usize| {
        let o = (y * w + x) * 3;
        [frame.rgb[o], frame.rgb[o + 1], frame.rgb[o + 2]]
    };
    let want = [
        ("TL", (w / 4, h / 4), [255u8, 0, 0]),
        ("TR", (3 * w / 4, h / 4), [0, 255, 0]),
        ("BL", (w / 4, 3 * h / 4), [0, 0, 255]),
        ("BR", (3 * w / 4, 3 * h / 4), [255, 255, 255]),
    ];
    let bad: Vec<String> = want
        .iter()
        .filter_map(|(name, (x, y), rgb)| {
            let got = at(*x, *y);
            let close = got.iter().zip(rgb).all(|(a, b)| a.abs_diff(*b) <= 8);
            (!close).then(|| format!("{name}: got {got:?}, want {rgb:?}"))
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_bgrx_with_padding() {
        // 2x2, stride 12 (4 bytes of padding a row)
        let src = [
            1, 2, 3, 0, 4, 5, 6, 0, 9, 9, 9, 9, //
            7, 8, 9, 0, 10, 11, 12, 0, 9, 9, 9, 9,
        ];
        let rgb = to_rgb(&src, 2, 2, 12, PixelFormat::Bgrx).unwrap();
        assert_eq!(rgb, [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
        assert_eq!(to_rgb(&src[..10], 2, 2, 12, PixelFormat::Rgba), None);
    }
}
