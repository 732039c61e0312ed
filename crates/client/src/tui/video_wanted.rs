//! What the view tells the server about the size it draws each member's
//! video at (`Command::View`, as `/view tiles ...` asks), so the server sends the smallest layer that
//! still fills each tile. Tiles are in cells; the picker's font size turns
//! them into pixels (half-blocks: one pixel wide and two high per cell).
//! Sent when it changes, at most once per `REPORT_EVERY`: a drag that
//! resizes the terminal sends its end, not every step.

use super::tiles::TileKey;
use crate::command::VideoWanted;
use common::{ClientId, PixelSize};
use ratatui::layout::Size;
use ratatui_image::FontSize;
use std::time::{Duration, Instant};

pub const REPORT_EVERY: Duration = Duration::from_millis(400);

#[derive(Default)]
pub struct VideoSizeReport {
    sent: Option<Vec<(ClientId, PixelSize)>>,
    sent_at: Option<Instant>,
}

/// Each member's tile in pixels, in id order.
pub fn member_pixels(tiles: &[(TileKey, Size)], font: FontSize) -> Vec<(ClientId, PixelSize)> {
    let mut members: Vec<(ClientId, PixelSize)> = tiles
        .iter()
        .filter_map(|(key, cells)| match key {
            TileKey::Member(id) => Some((
                *id,
                PixelSize::new(
                    cells.width.saturating_mul(font.width),
                    cells.height.saturating_mul(font.height),
                ),
            )),
            TileKey::You | TileKey::Screen(_) => None,
        })
        .collect();
    members.sort_by_key(|(id, _)| id.0);
    members
}

impl VideoSizeReport {
    /// The tiles to ask for now (`/view tiles`), if they changed and the
    /// last ask went out long enough ago.
    pub fn due(
        &mut self,
        tiles: &[(TileKey, Size)],
        font: FontSize,
        now: Instant,
    ) -> Option<VideoWanted> {
        let members = member_pixels(tiles, font);
        if self.sent.as_ref() == Some(&members) {
            return None;
        }
        if self
            .sent_at
            .is_some_and(|at| now.duration_since(at) < REPORT_EVERY)
        {
            return None;
        }
        self.sent_at = Some(now);
        self.sent = Some(members.clone());
        Some(VideoWanted::Tiles(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;

    impl VideoSizeReport {
        /// The `/view tiles` line `due` asks with.
        fn line(
            &mut self,
            tiles: &[(TileKey, Size)],
            font: FontSize,
            now: Instant,
        ) -> Option<String> {
            self.due(tiles, font, now)
                .map(|wanted| Command::View(wanted).to_string())
        }
    }

    #[test]
    fn half_blocks_need_one_pixel_per_column_and_two_per_row() {
        let tiles = [
            (TileKey::Member(ClientId(5)), Size::new(26, 8)),
            (TileKey::You, Size::new(26, 8)),
            (TileKey::Member(ClientId(3)), Size::new(40, 12)),
        ];
        let mut report = VideoSizeReport::default();
        let now = Instant::now();
        let line = report.line(&tiles, FontSize::new(1, 2), now);
        assert_eq!(line.as_deref(), Some("/view tiles 3=40x24 5=26x16"));
        assert_eq!(
            report.line(&tiles, FontSize::new(1, 2), now),
            None,
            "unchanged"
        );
        // Kitty with 10x20 cells: the same tiles need 10 times the pixels.
        let later = now + REPORT_EVERY / 2;
        assert_eq!(
            report.line(&tiles, FontSize::new(10, 20), later),
            None,
            "too soon"
        );
        let line = report.line(&tiles, FontSize::new(10, 20), now + REPORT_EVERY);
        assert_eq!(line.as_deref(), Some("/view tiles 3=400x240 5=260x160"));
    }
}
