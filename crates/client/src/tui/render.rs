//! Draws the view from the model: a status bar on top, banners about remote
//! control under it, the video grid (or a shared screen large, see
//! `presentation`), your self-view, the members and the chat in a column on
//! the right, the input line at the bottom, and the `?` overlay over
//! everything. Pure drawing into a ratatui `Frame`, so tests render it into a
//! `TestBackend`.
//!
//! In 80 columns the side column takes 30 and the grid the rest; from 120
//! columns on the side column grows to 40 and the grid gets what is left.

use super::help::draw_help;
use super::model::ScreenPlacement;
use super::model::{ChatLine, ClickMap, Connection, Figures, ViewModel};
use super::presentation;
use super::shortcuts::key_hints;
use super::style::{ASKING_BAR, BAR, CONTROL_BAR, DIM, SPEAKING};
use super::text::{fitting, textwrap_words, wrap};
use super::tile::{TileLook, TileView, draw_tile, member_tile};
use super::tiles::{ReadyTiles, TileKey};
use crate::clean::clean;
use common::{MediaKind, MemberInfo, PerKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect, Size};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};
use std::time::Instant;

/// What a draw put on screen, for the UI loop.
#[derive(Debug, Default)]
pub struct Drawn {
    /// The tiles on screen and their inner sizes, for the decoder to scale
    /// pictures to.
    pub tiles: Vec<(TileKey, Size)>,
    /// Where the shown screen's picture is, for the mouse in control mode.
    pub screen: Option<ScreenPlacement>,
    /// Where the chat, the members and the tiles went, for clicks.
    pub clicks: ClickMap,
    /// How far the help overlay can scroll, and the rows it shows at once.
    pub help_max_scroll: usize,
    pub help_page: usize,
}

/// Draws everything.
pub fn draw(frame: &mut Frame, model: &ViewModel, tiles: &ReadyTiles, now: Instant) -> Drawn {
    let banners = banners(model);
    let [status, banner_area, body, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banners.len() as u16),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let side_width = match body.width {
        w if w >= 120 => 40,
        w if w >= 60 => 30,
        w => w / 2,
    };
    let [video, side] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(side_width)]).areas(body);
    let self_view_on = model.sharing(MediaKind::Video) && model.state.meeting.is_some();
    let self_view_height = if self_view_on {
        // A 16:9 picture as wide as the column, but never more than a third of it.
        (side_width * 9 / 32 + 2).clamp(5, (side.height / 3).max(5))
    } else {
        0
    };
    let [self_view, side] =
        Layout::vertical([Constraint::Length(self_view_height), Constraint::Min(0)]).areas(side);
    // Room for who waits in the lobby (⧗) too, below the members.
    let rows = model.state.members.len() + model.state.waiting.len();
    let members_height = (u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2))
        .clamp(3, (side.height / 3).max(3));
    let [members, chat] =
        Layout::vertical([Constraint::Length(members_height), Constraint::Min(0)]).areas(side);

    draw_status(frame, model, status);
    for (line, row) in banners.into_iter().zip(banner_area.rows()) {
        frame.render_widget(line, row);
    }
    let mut drawn = match model.presentation() {
        Some(sharer) => {
            let p = presentation::draw(frame, model, tiles, video, sharer, now);
            Drawn {
                tiles: p.tiles,
                screen: p.screen,
                ..Drawn::default()
            }
        }
        None => {
            let mut clicks = ClickMap::default();
            let tiles = draw_grid(frame, model, tiles, video, now, &mut clicks);
            Drawn {
                tiles,
                clicks,
                ..Drawn::default()
            }
        }
    };
    if self_view_on {
        let tile = TileView {
            name: "you",
            note: None,
            look: TileLook::Plain,
            picture: tiles.get(&TileKey::You),
            missing: "starting",
            ages: true,
        };
        let inner = draw_tile(frame, self_view, &tile, now).inner;
        drawn.tiles.push((TileKey::You, inner.as_size()));
    }
    drawn.clicks.member_rows = draw_members(frame, model, members, now);
    drawn.clicks.chat = chat;
    draw_chat(frame, model, chat);
    draw_input(frame, model, input);
    if model.members_menu.is_some() {
        draw_members_menu(frame, model, frame.area());
    }
    if model.help_open {
        (drawn.help_max_scroll, drawn.help_page) = draw_help(frame, model, frame.area());
    }
    drawn
}

/// The members menu (`M`): one row per member, the selected one marked, and
/// the keys that act on it below.
fn draw_members_menu(frame: &mut Frame, model: &ViewModel, screen: Rect) {
    let Some(menu) = &model.members_menu else {
        return;
    };
    let width = 70.min(screen.width);
    let inner_width = usize::from(width.saturating_sub(2));
    let entries = crate::tui::members_menu::entries(model);
    let mut lines: Vec<Line> = entries
        .iter()
        .map(|member| {
            let selected = member.id == menu.selected;
            let mut text = format!(
                "{} {}",
                if selected { "▶" } else { " " },
                crate::meeting::label(member.id, &clean(&member.name))
            );
            if member.id == model.me {
                text.push_str(" (you)");
            }
            if member.host {
                text.push_str(" · host");
            }
            if member.hand {
                text.push_str(" · ✋");
            }
            if member.waiting {
                text.push_str(" · ⧗ waits in the lobby");
            }
            let style = if selected {
                Style::new().reversed()
            } else {
                Style::new()
            };
            Line::styled(text, style)
        })
        .collect();
    lines.push(Line::default());
    let footer = crate::tui::members_menu::footer(model);
    for row in textwrap_words(&footer, inner_width) {
        lines.push(Line::styled(row, DIM));
    }
    let height = (lines.len() as u16 + 2).min(screen.height);
    let area = screen.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .title(" members ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// One line each for what remote control needs the user to see: a request
/// to answer, who controls our screen, whose screen we control.
pub fn banners(model: &ViewModel) -> Vec<Line<'static>> {
    let state = &model.state;
    let name = |id| clean(&state.name_of(id));
    let mut banners = Vec::new();
    if let Some(asking) = model.pending_request() {
        banners.push(Line::styled(
            format!(
                " {} asks to control your screen: g grants, n ignores ",
                name(asking)
            ),
            ASKING_BAR,
        ));
    }
    if let Some(controller) = state.controller_of(model.me) {
        banners.push(Line::styled(
            format!(" {} controls your screen — r revokes ", name(controller)),
            CONTROL_BAR,
        ));
    }
    if let Some(owner) = state.controlled_by_me() {
        let text = if model.in_control_mode() {
            format!(
                " you control {}'s screen — F2 or Ctrl-] to leave control mode ",
                name(owner)
            )
        } else {
            format!(
                " you may control {}'s screen — C enters control mode, r gives it up ",
                name(owner)
            )
        };
        banners.push(Line::styled(text, CONTROL_BAR));
    }
    banners
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// `1.2 Mbit/s`, `340 kbit/s`.
pub fn bit_rate(bits_per_second: f64) -> String {
    if bits_per_second >= 1e6 {
        format!("{:.1} Mbit/s", bits_per_second / 1e6)
    } else {
        format!("{:.0} kbit/s", bits_per_second / 1e3)
    }
}

fn draw_status(frame: &mut Frame, model: &ViewModel, area: Rect) {
    let (meeting, place_style) = match (&model.state.meeting, &model.state.waiting_for) {
        (Some(id), _) => (format!(" meeting {} ", clean(id.as_str())), BAR),
        // Waiting is not nowhere: say where, in the colour of a question.
        (None, Some(id)) => (
            format!(" waiting to enter {} ", clean(id.as_str())),
            ASKING_BAR,
        ),
        (None, None) => (" no meeting ".to_string(), BAR),
    };
    // Coloured blocks instead of separators: 80 columns hold all of it.
    let connection = match model.connection {
        Connection::Connected => Span::styled(" connected ", BAR.bg(Color::Green)),
        Connection::ServerStopping => Span::styled(" server stopping ", BAR.bg(Color::Yellow)),
        Connection::Silent => Span::styled(" server not answering ", BAR.bg(Color::Red)),
        Connection::Reconnecting => Span::styled(" reconnecting… ", BAR.bg(Color::Yellow)),
        Connection::Lost => Span::styled(" disconnected ", BAR.bg(Color::Red)),
    };
    let f = &model.figures;
    let mut spans = vec![
        Span::styled(meeting, place_style.add_modifier(Modifier::BOLD)),
        Span::styled(
            format!(
                " mic {} · cam {} ",
                on_off(model.sharing(MediaKind::Audio)),
                on_off(model.sharing(MediaKind::Video))
            ),
            Style::new().fg(Color::White).bg(Color::Blue),
        ),
    ];
    if model.sharing(MediaKind::Screen) {
        spans.push(Span::styled(" sharing screen ", CONTROL_BAR));
    }
    if let Some(shown) = model.presented_screen() {
        let sharers: Vec<_> = model.state.screen_sharers().map(|m| m.id).collect();
        let mut text = format!(" screen: {} ", clean(&shown.name));
        if let (Some(at), 2..) = (sharers.iter().position(|id| *id == shown.id), sharers.len()) {
            text.push_str(&format!("{}/{} ", at + 1, sharers.len()));
        }
        spans.push(Span::styled(text, ASKING_BAR));
    }
    spans.push(connection);
    let down: Vec<&str> = model
        .media_down
        .iter()
        .filter_map(|(kind, down)| down.then_some(kind.name()))
        .collect();
    if !down.is_empty() {
        let text = format!(" {} down, reconnecting ", down.join(" · "));
        spans.push(Span::styled(text, BAR.bg(Color::Red)));
    }
    // The figures go last and give way first: who shares what matters more.
    let used: usize = spans.iter().map(Span::width).sum();
    let room = usize::from(area.width).saturating_sub(used);
    let figures = figure_texts(f, &model.sharing)
        .into_iter()
        .find(|text| text.chars().count() <= room)
        .unwrap_or_default();
    spans.push(Span::raw(figures));
    frame.render_widget(Line::from(spans), area);
}

/// The status bar's figures, longest first: what arrives (`in`), and while
/// we share anything what we send (`out`, with its frame rate while we
/// share video), so a sender's own bar does not read as a camera that
/// failed. What gives way first: the incoming frame rate, then the
/// outgoing one, then what is sent, then losses.
fn figure_texts(f: &Figures, sharing: &PerKind<bool>) -> Vec<String> {
    let fps = |fps: f64| format!("{fps:.0} fps");
    let (rate_in, rate_out) = (
        bit_rate(f.bits_per_second),
        bit_rate(f.sent_bits_per_second),
    );
    let dropped = format!("{} dropped", f.dropped);
    let received = format!("in {rate_in} · {dropped}");
    let mut texts = Vec::new();
    if sharing.values().any(|on| *on) {
        let sent = if sharing[MediaKind::Video] {
            format!("out {} · {rate_out}", fps(f.sent_video_fps))
        } else {
            format!("out {rate_out}")
        };
        texts.push(format!(
            " in {} · {rate_in} · {dropped} · {sent}",
            fps(f.video_fps)
        ));
        texts.push(format!(" {received} · {sent}"));
        texts.push(format!(" {received} · out {rate_out}"));
    } else {
        texts.push(format!(" in {} · {rate_in} · {dropped}", fps(f.video_fps)));
    }
    texts.push(format!(" {received}"));
    texts.push(format!(" in {rate_in}"));
    texts
}

/// Columns and rows for `n` tiles in `area` that give each 16:9 picture the
/// most room (a terminal cell is about twice as high as wide).
pub fn grid_shape(n: usize, area: Size) -> (u16, u16) {
    let n = n.max(1) as u16;
    let mut best = (1, n, 0u32);
    for columns in 1..=n {
        let rows = n.div_ceil(columns);
        let inner_w = u32::from((area.width / columns).saturating_sub(2));
        let inner_h = u32::from((area.height / rows).saturating_sub(2));
        // Width a 16:9 picture gets: limited by the width, or by the height
        // (9 rows of two pixels each hold 32 columns).
        let picture_width = inner_w.min(inner_h * 32 / 9);
        if picture_width > best.2 {
            best = (columns, rows, picture_width);
        }
    }
    (best.0, best.1)
}

fn draw_grid(
    frame: &mut Frame,
    model: &ViewModel,
    tiles: &ReadyTiles,
    area: Rect,
    now: Instant,
    clicks: &mut ClickMap,
) -> Vec<(TileKey, Size)> {
    // A focused member's tile fills the area; the speaker view puts the
    // speaker above a strip of the others, where there is room for both.
    let others: Vec<&MemberInfo> = match (model.focused_member(), model.speaker()) {
        (Some(focused), _) => vec![focused],
        (None, Some(speaker)) => {
            let rest: Vec<&MemberInfo> = model.others().filter(|m| m.id != speaker.id).collect();
            let strip_height = (area.height / 4).max(5);
            if rest.is_empty() || area.height < strip_height * 3 {
                vec![speaker]
            } else {
                let [large, strip] =
                    Layout::vertical([Constraint::Min(0), Constraint::Length(strip_height)])
                        .areas(area);
                let mut shown = tiles_in(frame, model, tiles, large, &[speaker], now, clicks);
                shown.extend(tiles_in(frame, model, tiles, strip, &rest, now, clicks));
                return shown;
            }
        }
        (None, None) => model.others().collect(),
    };
    if others.is_empty() {
        let text = if let Some(join) = crate::output::wording::join_command(&model.state) {
            format!("Nobody else is here yet.\nOthers join with: {join}")
        } else if let Some(id) = &model.state.waiting_for {
            format!(
                "You wait in the lobby of meeting {}: its host lets you in (or not).\nl stops waiting.",
                clean(id.as_str())
            )
        } else {
            "You are in no meeting.\nc creates one, j joins one, ? lists the keys.".to_string()
        };
        // The rows the wrapped text takes, so none is cut.
        let width = usize::from(area.width.max(1));
        let rows: usize = text
            .lines()
            .map(|line| wrap(line, width).len().max(1))
            .sum();
        let paragraph = Paragraph::new(text)
            .style(DIM)
            .centered()
            .wrap(Wrap { trim: true });
        let rows = u16::try_from(rows).unwrap_or(u16::MAX);
        let middle = area.centered_vertically(Constraint::Length(rows));
        frame.render_widget(paragraph, middle);
        return Vec::new();
    }
    tiles_in(frame, model, tiles, area, &others, now, clicks)
}

/// `members`' tiles in a grid filling `area`; a strip when `area` is low.
fn tiles_in(
    frame: &mut Frame,
    model: &ViewModel,
    tiles: &ReadyTiles,
    area: Rect,
    others: &[&MemberInfo],
    now: Instant,
    clicks: &mut ClickMap,
) -> Vec<(TileKey, Size)> {
    let (columns, rows) = grid_shape(others.len(), area.as_size());
    let row_areas =
        Layout::vertical(vec![Constraint::Ratio(1, u32::from(rows)); rows as usize]).split(area);
    let mut shown = Vec::new();
    for (row, chunk) in row_areas.iter().zip(others.chunks(columns as usize)) {
        let cells = Layout::horizontal(vec![
            Constraint::Ratio(1, u32::from(columns));
            columns as usize
        ])
        .split(*row);
        for (cell, member) in cells.iter().zip(chunk) {
            clicks.tiles.push((member.id, *cell));
            if let Some(tile) = member_tile(frame, model, tiles, *cell, member, now) {
                shown.push(tile);
            }
        }
    }
    shown
}

/// The members list; returns each member's row, for clicks.
fn draw_members(
    frame: &mut Frame,
    model: &ViewModel,
    area: Rect,
    now: Instant,
) -> Vec<(common::ClientId, Rect)> {
    let lines: Vec<Line> = model
        .state
        .members
        .iter()
        .map(|m| {
            let mut name = clean(&m.name);
            // The id, as commands take it (`/volume bo#3 50`): two members
            // may share a name.
            let id = if m.id == model.me {
                name.push_str(" (you)");
                String::new()
            } else {
                format!("#{}", m.id)
            };
            // The hand shows as ✋ next to the name: no need to say it twice.
            let mut tags = crate::output::wording::member_tags(m);
            tags.retain(|tag| *tag != "hand up");
            let speaking = model.speaking.contains(&m.id);
            let mut marks = String::new();
            if m.hand {
                marks.push_str(" ✋");
            }
            if let Some(emoji) = model.reaction(m.id, now) {
                marks.push(' ');
                marks.push_str(emoji);
            }
            Line::from(vec![
                Span::styled(
                    if speaking { "♪ " } else { "  " },
                    if speaking { SPEAKING } else { Style::new() },
                ),
                Span::styled(
                    name,
                    if speaking {
                        SPEAKING
                    } else {
                        Style::new().add_modifier(Modifier::BOLD)
                    },
                ),
                Span::styled(id, DIM),
                Span::styled(marks, Style::new().fg(Color::Yellow)),
                Span::styled(format!(" {}", tags.join(" · ")), DIM),
            ])
        })
        .collect();
    // The host sees who waits in the lobby, after the members.
    let mut lines = lines;
    lines.extend(model.state.waiting.iter().map(|m| {
        Line::from(vec![
            Span::styled("⧗ ", Style::new().fg(Color::Yellow)),
            Span::raw(clean(&m.name)),
            Span::styled(format!("#{}", m.id), DIM),
            Span::styled(" waits · /admit or /deny", DIM),
        ])
    }));
    let members = model.state.members.len();
    let titles = match model.state.waiting.len() {
        0 => vec![format!(" members ({members}) ")],
        waiting => vec![
            format!(" members ({members}) · {waiting} in the lobby "),
            format!(" members ({members}) · {waiting} waiting "),
            format!(" members ({members}) · ⧗ {waiting} "),
            format!(" members ({members}) "),
        ],
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(fitting(titles, area.width));
    let rows = block
        .inner(area)
        .rows()
        .zip(&model.state.members)
        .map(|(row, m)| (m.id, row))
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
    rows
}

fn draw_chat(frame: &mut Frame, model: &ViewModel, area: Rect) {
    let title = match (model.chat_scroll, model.unread) {
        (0, _) => Line::raw(" chat "),
        // Scrolled back, news below: say so instead of jumping to it.
        (_, 1..) => {
            let news = fitting(
                vec![
                    format!(
                        " {} new message{} · End ",
                        model.unread,
                        if model.unread == 1 { "" } else { "s" }
                    ),
                    format!(" {} new · End ", model.unread),
                    format!(" {} new ", model.unread),
                ],
                // After " chat ".
                area.width.saturating_sub(6),
            );
            Line::from(vec![Span::raw(" chat "), Span::styled(news, ASKING_BAR)])
        }
        (back, 0) => Line::raw(fitting(
            vec![
                format!(" chat (scrolled back {back}, End returns) "),
                format!(" chat (back {back}, End returns) "),
                format!(" chat (back {back} · End) "),
                " chat ".to_string(),
            ],
            area.width,
        )),
    };
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width.max(1));
    let newest = model.chat.len().saturating_sub(model.chat_scroll);
    // Wrap from the newest visible message back until the pane is full.
    let mut lines: Vec<Line> = Vec::new();
    for entry in model.chat.range(..newest).rev() {
        let (text, style) = match entry {
            ChatLine::Message { from, text, mine } => (
                format!("{from}: {text}"),
                if *mine {
                    Style::new().fg(Color::Cyan)
                } else {
                    Style::new()
                },
            ),
            ChatLine::Private { from, to, text } => (
                format!("{from} → {to} (private): {text}"),
                Style::new().fg(Color::Magenta),
            ),
            ChatLine::Info(text) => (text.clone(), DIM),
            ChatLine::Error(text) => (text.clone(), Style::new().fg(Color::Red)),
        };
        for piece in wrap(&text, width).into_iter().rev() {
            lines.push(Line::styled(piece, style));
        }
        if lines.len() >= usize::from(inner.height) {
            break;
        }
    }
    lines.truncate(usize::from(inner.height));
    lines.reverse();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_input(frame: &mut Frame, model: &ViewModel, area: Rect) {
    if let Some(confirm) = &model.confirm {
        let line = Line::from(vec![
            Span::styled(format!(" {} ", confirm.question), ASKING_BAR),
            Span::raw(" y or Enter: yes · any other key: no"),
        ]);
        frame.render_widget(line, area);
    } else if model.input.typing {
        let prompt = "> ";
        let width = usize::from(area.width.saturating_sub(3)).max(1);
        // Show the part of a long line around the cursor: that is where
        // the typing happens.
        let chars: Vec<char> = model.input.text.chars().collect();
        let cursor = model.input.cursor_chars();
        let start = cursor.saturating_sub(width);
        let visible: String = chars[start..].iter().take(width).collect();
        let cursor_x = area.x + (prompt.len() + cursor - start) as u16;
        frame.render_widget(
            Line::from(vec![Span::styled(prompt, SPEAKING), Span::raw(visible)]),
            area,
        );
        frame.set_cursor_position((cursor_x.min(area.right().saturating_sub(1)), area.y));
    } else if model.in_control_mode() {
        let owner = model
            .state
            .controlled_by_me()
            .map(|id| clean(&model.state.name_of(id)))
            .unwrap_or_default();
        let line = Line::from(vec![
            Span::styled(" F2 ", CONTROL_BAR),
            Span::raw("leave control mode  "),
            Span::styled(
                format!("keys and mouse go to {owner}'s screen"),
                Style::new().fg(Color::Magenta),
            ),
        ]);
        frame.render_widget(line, area);
    } else {
        let mut spans = Vec::new();
        for (key, what) in key_hints(model, usize::from(area.width)) {
            spans.push(Span::styled(format!(" {key} "), BAR));
            spans.push(Span::raw(format!("{what} ")));
        }
        frame.render_widget(Line::from(spans), area);
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
