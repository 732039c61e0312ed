//! The `?` overlay: every key of the view (`shortcuts::SHORTCUTS`) and every
//! command (`command::help_lines`), a key or command on the left and what it
//! does wrapped in its own column, scrolled with the arrows and pages.

use super::model::ViewModel;
use super::shortcuts::SHORTCUTS;
use super::style::SPEAKING;
use super::text::{fitting, wrap};
use crate::command::help_lines;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

/// The width of the overlay's first column (keys, commands).
const HELP_KEY_COLUMN: usize = 20;

/// The overlay's text for a `width`-column box: a key or command on the left,
/// what it does wrapped in its own column on the right. A command too long
/// for its column gets a line of its own, so no two words ever touch.
pub fn help_text(width: usize) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut entries: Vec<Line<'static>> = vec![Line::styled("Keys", bold)];
    let add = |lines: &mut Vec<Line<'static>>, key: &str, what: &str| {
        let what_width = width.saturating_sub(HELP_KEY_COLUMN + 2).max(10);
        // A second form of a command (`/video off`) has no text of its own.
        let mut rows = wrap(what, what_width)
            .into_iter()
            .filter(|row| !row.is_empty());
        let key_fits = key.chars().count() < HELP_KEY_COLUMN;
        let first = if key_fits {
            rows.next().unwrap_or_default()
        } else {
            lines.push(Line::styled(format!("  {key}"), SPEAKING));
            match rows.next() {
                Some(row) => row,
                None => return,
            }
        };
        let key_text = if key_fits { key } else { "" };
        lines.push(Line::from(vec![
            Span::styled(format!("  {key_text:<HELP_KEY_COLUMN$}"), SPEAKING),
            Span::raw(first),
        ]));
        for row in rows {
            lines.push(Line::raw(format!("  {:HELP_KEY_COLUMN$}{row}", "")));
        }
    };
    for shortcut in SHORTCUTS {
        add(&mut entries, shortcut.keys, shortcut.help);
    }
    entries.push(Line::raw(""));
    entries.push(Line::styled("Commands (Enter, then type them)", bold));
    for help in help_lines() {
        add(&mut entries, &help.command, &help.description);
    }
    entries
}

/// The `?` overlay, scrolled by `model.help_scroll`; returns how far it can
/// scroll and how many rows it shows at once.
pub fn draw_help(frame: &mut Frame, model: &ViewModel, screen: Rect) -> (usize, usize) {
    let width = 90.min(screen.width);
    let lines = help_text(usize::from(width.saturating_sub(2)));
    let height = (lines.len() as u16 + 2).min(screen.height);
    let area = screen.centered(Constraint::Length(width), Constraint::Length(height));
    let shown = usize::from(height.saturating_sub(2));
    let max_scroll = lines.len().saturating_sub(shown);
    let scroll = model.help_scroll.min(max_scroll);
    // Any key but those that scroll closes it (`keys::help_key`).
    let title = if max_scroll > 0 {
        let (from, to, of) = (scroll + 1, (scroll + shown).min(lines.len()), lines.len());
        fitting(
            vec![
                format!(
                    " keys and commands {from}-{to} of {of} · ↑↓ PgUp PgDn scroll · any other key closes "
                ),
                format!(
                    " keys and commands {from}-{to} of {of} · ↑↓ PgUp PgDn scroll · other keys close "
                ),
                format!(" keys {from}-{to} of {of} · ↑↓ PgUp PgDn scroll · other keys close "),
            ],
            width,
        )
    } else {
        " keys and commands · any key closes ".to_string()
    };
    frame.render_widget(Clear, area);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .title(title);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(usize::from(u16::MAX)) as u16, 0)),
        area,
    );
    (max_scroll, shown)
}
