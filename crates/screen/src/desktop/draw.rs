//! Pixels for the desktop: rectangles that may hang off the screen, and
//! filling them.

use image::{Rgb, RgbImage};

/// A rectangle in signed pixel coordinates, so things can hang off the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Area {
    pub(super) x: i64,
    pub(super) y: i64,
    pub(super) width: i64,
    pub(super) height: i64,
}

impl Area {
    pub(super) fn new(x: i64, y: i64, width: i64, height: i64) -> Area {
        Area {
            x,
            y,
            width: width.max(0),
            height: height.max(0),
        }
    }

    pub(super) fn of_image(image: &RgbImage) -> Area {
        Area::new(0, 0, i64::from(image.width()), i64::from(image.height()))
    }

    pub(super) fn right(self) -> i64 {
        self.x + self.width
    }

    pub(super) fn bottom(self) -> i64 {
        self.y + self.height
    }

    pub(super) fn intersect(self, other: Area) -> Area {
        let x = self.x.max(other.x);
        let y = self.y.max(other.y);
        Area::new(
            x,
            y,
            self.right().min(other.right()) - x,
            self.bottom().min(other.bottom()) - y,
        )
    }

    pub(super) fn is_empty(self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Shrinks the area by `by` pixels on every side.
    pub(super) fn inset(self, by: i64) -> Area {
        Area::new(
            self.x + by,
            self.y + by,
            self.width - 2 * by,
            self.height - 2 * by,
        )
    }
}

/// The byte range of row `y`, columns `x0..x1` (all already clipped to the image).
pub(super) fn row_span(image: &RgbImage, y: i64, x0: i64, x1: i64) -> std::ops::Range<usize> {
    let stride = image.width() as usize * 3;
    let start = y as usize * stride + x0 as usize * 3;
    start..start + (x1 - x0) as usize * 3
}

pub(super) fn fill(image: &mut RgbImage, area: Area, colour: Rgb<u8>) {
    let area = area.intersect(Area::of_image(image));
    if area.is_empty() {
        return;
    }
    for y in area.y..area.bottom() {
        let span = row_span(image, y, area.x, area.right());
        let buffer: &mut [u8] = image;
        for pixel in buffer[span].chunks_exact_mut(3) {
            pixel.copy_from_slice(&colour.0);
        }
    }
}
