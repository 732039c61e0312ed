//! The presentation layout: while another member shares a screen, that screen
//! takes most of the video area and everyone's camera tiles shrink to a strip,
//! along the bottom or down the side, whichever leaves the screen bigger.
//!
//! The shape is a pure function of the area and the screen's proportions
//! (`presentation_layout`), so tests check it without drawing; `draw` puts
//! the tiles in it and reports where the screen's picture landed, which is
//! what control mode maps the mouse with.

use super::model::ScreenPlacement;
use super::model::ViewModel;
use super::tile::{TileLook, TileView, draw_tile, member_tile};
use super::tiles::{ReadyTiles, TileKey, fit_cells};
use crate::clean::clean;
use common::MemberInfo;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect, Size};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Paragraph};
use ratatui_image::FontSize;
use std::time::Instant;

/// Cell proportions for layout: a terminal cell is about twice as high as
/// wide (and half-blocks draw exactly two pixels in one).
const CELL: FontSize = FontSize::new(1, 2);

/// A strip tile along the bottom needs a border and one line for the name.
const MIN_STRIP_ROWS: u16 = 3;
/// A strip down the side narrower than this shows no useful name or video.
const MIN_STRIP_COLUMNS: u16 = 16;
/// Strip tiles along the bottom narrower than this are too small for a name:
/// the last one says how many more there are instead.
const MIN_TILE_COLUMNS: u16 = 12;

/// The proportions assumed until the screen's first picture arrives.
const ASSUMED_SCREEN: (u32, u32) = (16, 9);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StripSide {
    Bottom,
    Side,
}

/// Where the screen and the strip go in the video area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresentationLayout {
    pub screen: Rect,
    pub strip: Rect,
    pub side: StripSide,
}

/// How many cells a `pixels`-sized picture covers inside a bordered tile.
fn picture_cells(pixels: (u32, u32), tile: Rect) -> u32 {
    let inner = Size::new(tile.width.saturating_sub(2), tile.height.saturating_sub(2));
    let fit = fit_cells(pixels.0, pixels.1, inner, CELL);
    u32::from(fit.width) * u32::from(fit.height)
}

/// Splits `area` between a screen of `pixels` proportions and the strip: the
/// screen gets all it can use across the full width (strip along the bottom)
/// or the full height (strip down the side), the strip what is left but at
/// least enough for a name and at most a third; the side that leaves the
/// bigger picture wins, the bottom on a tie.
pub fn presentation_layout(area: Rect, pixels: (u32, u32)) -> PresentationLayout {
    let pixels = if pixels.0 == 0 || pixels.1 == 0 {
        ASSUMED_SCREEN
    } else {
        pixels
    };
    let unbounded = u16::MAX;
    let full_width = fit_cells(
        pixels.0,
        pixels.1,
        Size::new(area.width.saturating_sub(2), unbounded),
        CELL,
    );
    let strip_rows = area
        .height
        .saturating_sub(full_width.height + 2)
        .clamp(MIN_STRIP_ROWS, (area.height / 3).max(MIN_STRIP_ROWS));
    let [screen_above, strip_below] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(strip_rows)]).areas(area);
    let full_height = fit_cells(
        pixels.0,
        pixels.1,
        Size::new(unbounded, area.height.saturating_sub(2)),
        CELL,
    );
    let strip_columns = area
        .width
        .saturating_sub(full_height.width + 2)
        .clamp(MIN_STRIP_COLUMNS, (area.width / 3).max(MIN_STRIP_COLUMNS));
    let [screen_left, strip_right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(strip_columns)]).areas(area);
    if picture_cells(pixels, screen_left) > picture_cells(pixels, screen_above) {
        PresentationLayout {
            screen: screen_left,
            strip: strip_right,
            side: StripSide::Side,
        }
    } else {
        PresentationLayout {
            screen: screen_above,
            strip: strip_below,
            side: StripSide::Bottom,
        }
    }
}

/// What a presentation put on screen.
pub struct DrawnPresentation {
    pub tiles: Vec<(TileKey, Size)>,
    pub screen: Option<ScreenPlacement>,
}

/// Draws `sharer`'s screen large and the other members' tiles in a strip.
pub fn draw(
    frame: &mut Frame,
    model: &ViewModel,
    tiles: &ReadyTiles,
    area: Rect,
    sharer: &MemberInfo,
    now: Instant,
) -> DrawnPresentation {
    let key = TileKey::Screen(sharer.id);
    let picture = tiles.get(&key);
    let pixels = picture.map_or(ASSUMED_SCREEN, |p| p.pixels);
    let layout = presentation_layout(area, pixels);
    let controlling = model.in_control_mode();
    let note = match model.state.controller_of(sharer.id) {
        Some(_) if controlling => Some("control mode".to_string()),
        Some(controller) if controller == model.me => Some("you may control it".to_string()),
        Some(controller) => Some(format!(
            "{} controls it",
            clean(&model.state.name_of(controller))
        )),
        None => None,
    };
    let name = format!("{}'s screen", clean(&sharer.name));
    let drawn = draw_tile(
        frame,
        layout.screen,
        &TileView {
            name: &name,
            note,
            look: if controlling {
                TileLook::Controlled
            } else {
                TileLook::Plain
            },
            picture,
            missing: "waiting for the screen",
            // A still screen sends nothing: its last picture is still true.
            ages: false,
        },
        now,
    );
    let screen = match (drawn.picture, picture) {
        (Some(at), Some(picture)) => Some(ScreenPlacement {
            owner: sharer.id,
            picture: at,
            visible: at.intersection(drawn.inner),
            pixels: picture.pixels,
        }),
        _ => None,
    };
    let mut shown = vec![(key, drawn.inner.as_size())];
    shown.extend(draw_strip(frame, model, tiles, &layout, now));
    DrawnPresentation {
        tiles: shown,
        screen,
    }
}

/// The members' camera tiles in the strip; when they do not all fit, the last
/// place says how many more there are.
fn draw_strip(
    frame: &mut Frame,
    model: &ViewModel,
    tiles: &ReadyTiles,
    layout: &PresentationLayout,
    now: Instant,
) -> Vec<(TileKey, Size)> {
    let strip = layout.strip;
    let others: Vec<&MemberInfo> = model.others().collect();
    let room = match layout.side {
        StripSide::Bottom => strip.width / MIN_TILE_COLUMNS,
        StripSide::Side => strip.height / MIN_STRIP_ROWS,
    };
    let room = usize::from(room.max(1));
    let (members, more) = if others.len() > room {
        (&others[..room - 1], others.len() - (room - 1))
    } else {
        (&others[..], 0)
    };
    let places = members.len() + usize::from(more > 0);
    if places == 0 {
        return Vec::new();
    }
    let areas = match layout.side {
        StripSide::Bottom => {
            Layout::horizontal(vec![Constraint::Ratio(1, places as u32); places]).split(strip)
        }
        StripSide::Side => {
            // As high as a 16:9 picture as wide as the strip needs, not the
            // whole column: tall tiles would only add empty rows.
            let picture_rows = fit_cells(
                16,
                9,
                Size::new(strip.width.saturating_sub(2), u16::MAX),
                CELL,
            )
            .height;
            let height = (picture_rows + 2)
                .min(strip.height / places as u16)
                .max(MIN_STRIP_ROWS);
            let mut constraints = vec![Constraint::Length(height); places];
            constraints.push(Constraint::Min(0));
            Layout::vertical(constraints).split(strip)
        }
    };
    let mut shown = Vec::new();
    for (area, member) in areas.iter().zip(members) {
        if let Some(tile) = member_tile(frame, model, tiles, *area, member, now) {
            shown.push(tile);
        }
    }
    if more > 0
        && let Some(area) = areas.get(members.len())
    {
        let block = Block::bordered().border_type(BorderType::Rounded);
        let inner = block.inner(*area);
        frame.render_widget(block, *area);
        let text = Line::styled(
            format!("+{more} more"),
            Style::new().add_modifier(Modifier::BOLD),
        );
        let middle = inner.centered_vertically(Constraint::Length(1));
        frame.render_widget(Paragraph::new(text).centered(), middle);
    }
    shown
}
