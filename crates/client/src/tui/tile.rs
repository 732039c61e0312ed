//! One tile: a member's camera or a shared screen in a border titled with
//! the name (highlighted while speaking or controlled), with its picture, or
//! a placeholder when there is none or it is stale. The grid (`render`) and
//! the presentation (`presentation`) both draw their tiles here.

use super::model::ViewModel;
use super::style::{CONTROL, DIM, SPEAKING};
use super::tiles::{ReadyTiles, RenderedTile, TileKey};
use crate::clean::clean;
use common::{MediaKind, MemberInfo};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect, Size};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};
use ratatui_image::Image;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A tile whose newest picture is older than this shows a placeholder.
pub const STALE_AFTER: Duration = Duration::from_secs(2);

/// One member's camera tile, in the grid or the presentation's strip;
/// returns the tile the decoder should fill, if the member shares video.
pub fn member_tile(
    frame: &mut Frame,
    model: &ViewModel,
    tiles: &ReadyTiles,
    area: Rect,
    member: &MemberInfo,
    now: Instant,
) -> Option<(TileKey, Size)> {
    let key = TileKey::Member(member.id);
    let video = member.sharing[MediaKind::Video];
    let name = clean(&member.name);
    let DrawnTile { inner, .. } = draw_tile(
        frame,
        area,
        &TileView {
            name: &name,
            note: member_note(model, member, now),
            look: if model.speaking.contains(&member.id) {
                TileLook::Speaking
            } else {
                TileLook::Plain
            },
            picture: video.then(|| tiles.get(&key)).flatten(),
            missing: if video {
                "waiting for video"
            } else {
                "camera off"
            },
            ages: true,
        },
        now,
    );
    video.then(|| (key, inner.as_size()))
}

/// A raised hand and a fresh reaction, for a member's tile title.
fn member_note(model: &ViewModel, member: &MemberInfo, now: Instant) -> Option<String> {
    let hand = member.hand.then_some("✋ hand up");
    let reaction = model.reaction(member.id, now);
    let focused = (model.focused == Some(member.id)).then_some("click or Esc: all tiles");
    let parts: Vec<&str> = hand.into_iter().chain(reaction).chain(focused).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// How a tile's border looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileLook {
    Plain,
    /// The member is speaking: a thick yellow border and a ♪.
    Speaking,
    /// Our keys and mouse go to this screen (control mode).
    Controlled,
}

/// What one tile shows.
pub struct TileView<'a> {
    /// In the border, and in the placeholder.
    pub name: &'a str,
    /// Said in the border after the name (`bo controls it`).
    pub note: Option<String>,
    pub look: TileLook,
    pub picture: Option<&'a Arc<RenderedTile>>,
    /// What the placeholder says when there is no picture.
    pub missing: &'a str,
    /// Whether an old picture is replaced by "paused": a camera keeps
    /// sending while it is on, a still screen sends nothing.
    pub ages: bool,
}

/// Where a tile went: inside its border, and the cells its picture covers
/// (the whole picture, also where the tile cuts it), if it has one.
#[derive(Clone, Copy, Debug)]
pub struct DrawnTile {
    pub inner: Rect,
    pub picture: Option<Rect>,
}

/// One tile: a border titled with the name (highlighted while speaking or
/// controlled), and the picture, or a placeholder when there is none or it is
/// stale.
pub fn draw_tile(frame: &mut Frame, area: Rect, tile: &TileView, now: Instant) -> DrawnTile {
    let name = tile.name;
    let border = match tile.look {
        TileLook::Plain => Style::new(),
        TileLook::Speaking => SPEAKING,
        TileLook::Controlled => CONTROL,
    };
    let mut title = format!(" {name} ");
    if tile.look == TileLook::Speaking {
        title.push_str("♪ ");
    }
    if let Some(note) = &tile.note {
        title.push_str(&format!("· {note} "));
    }
    let block = Block::bordered()
        .border_type(match tile.look {
            TileLook::Plain => BorderType::Rounded,
            TileLook::Speaking | TileLook::Controlled => BorderType::Thick,
        })
        .border_style(border)
        .title(Span::styled(title, border.add_modifier(Modifier::BOLD)));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let fresh = tile
        .picture
        .filter(|p| !tile.ages || now.saturating_duration_since(p.received) < STALE_AFTER);
    match fresh {
        Some(picture) => {
            let size = picture.image.size();
            let whole = Rect {
                x: inner.x + inner.width.saturating_sub(size.width) / 2,
                y: inner.y + inner.height.saturating_sub(size.height) / 2,
                width: size.width,
                height: size.height,
            };
            let at = Rect {
                width: size.width.min(inner.width),
                height: size.height.min(inner.height),
                ..whole
            };
            frame.render_widget(Image::new(&picture.image), at);
            DrawnTile {
                inner,
                picture: Some(whole),
            }
        }
        None => {
            let text = match tile.picture {
                Some(_) => "video paused",
                None => tile.missing,
            };
            let lines = vec![
                Line::styled(name.to_string(), Style::new().add_modifier(Modifier::BOLD)),
                Line::styled(text, DIM),
            ];
            let middle = inner.centered_vertically(Constraint::Length(2));
            frame.render_widget(Paragraph::new(lines).centered(), middle);
            DrawnTile {
                inner,
                picture: None,
            }
        }
    }
}
