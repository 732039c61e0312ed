//! Finding changed tiles that are copies of pixels receivers already hold:
//! what scrolling produces, and the one case where every tile changes but
//! almost nothing new appears.
//!
//! Only vertical moves are searched (scrolling text, the common case). Per
//! column of tiles, every pixel row is hashed, old (what receivers hold) and
//! new; a changed tile's rows vote for the vertical offset at which they
//! appear in the old picture. The strongest offsets are then checked pixel for
//! pixel, tile by tile, so a hash collision costs a comparison, never a wrong
//! picture. Rows of one colour (margins, blank lines) and rows that appear
//! twice vote for nothing, since they would match anywhere.

use super::format::Rect;
use image::RgbImage;
use std::collections::{BTreeMap, HashMap};

/// Rows that must agree on an offset before it is tried.
const MIN_VOTES: u32 = 8;
/// Offsets tried per column of tiles, besides the screen's strongest.
const CANDIDATES_PER_COLUMN: usize = 2;

fn row_bytes(image: &RgbImage, x: u32, y: u32, width: u32) -> &[u8] {
    let stride = image.width() as usize * 3;
    let start = y as usize * stride + x as usize * 3;
    &image.as_raw()[start..start + width as usize * 3]
}

fn row_hash(bytes: &[u8]) -> u64 {
    let mut hash = 0xCBF2_9CE4_8422_2325u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        hash = (hash ^ word)
            .wrapping_mul(0x0000_0100_0000_01B3)
            .rotate_left(29);
    }
    for &byte in words.remainder() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash
}

fn is_uniform(bytes: &[u8]) -> bool {
    let first = bytes.get(0..3);
    bytes.chunks_exact(3).all(|pixel| Some(pixel) == first)
}

/// Whether `image` at `rect` equals `reference` at `rect` moved to (`x`, `y`).
pub fn same_pixels(image: &RgbImage, rect: Rect, reference: &RgbImage, x: u32, y: u32) -> bool {
    (0..rect.height).all(|row| {
        row_bytes(image, rect.x, rect.y + row, rect.width)
            == row_bytes(reference, x, y + row, rect.width)
    })
}

/// For each of `changed` (tiles whose pixels differ from `reference`), the
/// place in `reference` that holds exactly the tile's new pixels, if a
/// vertical move explains it and `source_is_usable` accepts that place (the
/// encoder only copies from what every receiver holds exactly).
pub fn find_vertical_copies(
    image: &RgbImage,
    reference: &RgbImage,
    changed: &[Rect],
    source_is_usable: impl Fn(Rect) -> bool,
) -> Vec<Option<(u32, u32)>> {
    let mut copies = vec![None; changed.len()];
    if image.dimensions() != reference.dimensions() {
        return copies;
    }
    let height = image.height();

    // Changed tiles by column (same x and width).
    let mut columns: BTreeMap<(u32, u32), Vec<usize>> = BTreeMap::new();
    for (index, rect) in changed.iter().enumerate() {
        columns.entry((rect.x, rect.width)).or_default().push(index);
    }

    let mut screen_votes: HashMap<i64, u32> = HashMap::new();
    let mut column_candidates: Vec<((u32, u32), Vec<i64>)> = Vec::new();
    for (&(x, width), tiles) in &columns {
        // Old rows that can vote: unique and not of one colour.
        let mut old_rows: HashMap<u64, Option<u32>> = HashMap::with_capacity(height as usize);
        for y in 0..height {
            let bytes = row_bytes(reference, x, y, width);
            if is_uniform(bytes) {
                continue;
            }
            old_rows
                .entry(row_hash(bytes))
                .and_modify(|row| *row = None)
                .or_insert(Some(y));
        }
        let mut votes: HashMap<i64, u32> = HashMap::new();
        for &index in tiles {
            let rect = changed[index];
            for y in rect.y..rect.bottom() {
                let bytes = row_bytes(image, x, y, width);
                if let Some(&Some(old_y)) = old_rows.get(&row_hash(bytes)) {
                    if old_y != y {
                        *votes.entry(i64::from(old_y) - i64::from(y)).or_default() += 1;
                    }
                }
            }
        }
        let mut ranked: Vec<(i64, u32)> =
            votes.into_iter().filter(|&(_, n)| n >= MIN_VOTES).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        for &(offset, count) in &ranked {
            *screen_votes.entry(offset).or_default() += count;
        }
        column_candidates.push((
            (x, width),
            ranked
                .iter()
                .take(CANDIDATES_PER_COLUMN)
                .map(|&(offset, _)| offset)
                .collect(),
        ));
    }
    let screen_best = screen_votes
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(offset, _)| offset);

    for (key, mut candidates) in column_candidates {
        if let Some(best) = screen_best {
            if !candidates.contains(&best) {
                candidates.push(best);
            }
        }
        let Some(tiles) = columns.get(&key) else {
            continue;
        };
        for &index in tiles {
            let rect = changed[index];
            for &offset in &candidates {
                let source_y = i64::from(rect.y) + offset;
                let Ok(source_y) = u32::try_from(source_y) else {
                    continue;
                };
                if source_y + rect.height > height {
                    continue;
                }
                let source = Rect::new(rect.x, source_y, rect.width, rect.height);
                if source_is_usable(source) && same_pixels(image, rect, reference, rect.x, source_y)
                {
                    copies[index] = Some((rect.x, source_y));
                    break;
                }
            }
        }
    }
    copies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desktop::{Scene, TestDesktop};

    #[test]
    fn scrolled_text_is_found_as_copies() {
        let mut desktop = TestDesktop::with_scene(320, 240, Scene::Scrolling);
        let before = desktop.frame(10).clone();
        let after = desktop.frame(11).clone();
        let tile = 64;
        let mut changed = Vec::new();
        for y in (0..240).step_by(tile) {
            for x in (0..320).step_by(tile) {
                let rect = Rect::new(x, y, (320 - x).min(64), (240 - y).min(64));
                if !same_pixels(&after, rect, &before, x, y) {
                    changed.push(rect);
                }
            }
        }
        assert!(!changed.is_empty());
        let copies = find_vertical_copies(&after, &before, &changed, |_| true);
        let found = copies.iter().flatten().count();
        assert!(
            found >= changed.len() / 3,
            "{found} of {} changed tiles are copies",
            changed.len()
        );
        for (rect, copy) in changed.iter().zip(&copies) {
            if let Some((x, y)) = *copy {
                assert_eq!(x, rect.x);
                assert_eq!(y, rect.y + 10, "the desktop scrolls 10 px a frame");
                assert!(same_pixels(&after, *rect, &before, x, y));
            }
        }
        // Sources that receivers do not hold exactly are never used.
        let refused = find_vertical_copies(&after, &before, &changed, |_| false);
        assert!(refused.iter().all(Option::is_none));
    }
}
