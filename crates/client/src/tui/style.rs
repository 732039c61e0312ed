//! The view's colours and emphases, in one place, for every part that draws.

use ratatui::style::{Color, Modifier, Style};

/// Who speaks: a tile's border, a name in the members list, the prompt.
pub const SPEAKING: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const BAR: Style = Style::new().fg(Color::Black).bg(Color::Cyan);
/// Remote control: the border of the screen we control, and its banners.
pub const CONTROL: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
pub const CONTROL_BAR: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Magenta)
    .add_modifier(Modifier::BOLD);
/// A question waiting for the user's answer.
pub const ASKING_BAR: Style = Style::new()
    .fg(Color::Black)
    .bg(Color::Yellow)
    .add_modifier(Modifier::BOLD);
