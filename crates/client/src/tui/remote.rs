//! Control mode, the controller's side: what keys and mouse events become
//! when they go to the screen we were granted, and where on that screen a
//! terminal cell lands.
//!
//! Everything here is a pure function from a terminal event to the same
//! `/input` actions a user could type (`control::InputAction`), so control
//! mode adds no second path to the server: the view hands them to the main
//! loop as `Command::Input`, which sends them like any typed `/input`. The
//! one piece of state is `PendingMove`, because a drag reports every cell it
//! crosses and only the newest position is worth sending.

use super::model::ScreenPlacement;
use crate::control::{BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT, InputAction};
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::Position;

/// The pixel on the shared screen under the middle of the cell at
/// (`column`, `row`), or `None` when the cell shows no part of the screen.
pub fn cell_to_pixel(at: &ScreenPlacement, column: u16, row: u16) -> Option<(u32, u32)> {
    let (width, height) = at.pixels;
    if width == 0 || height == 0 || !at.visible.contains(Position::new(column, row)) {
        return None;
    }
    // `visible` lies inside `picture`, so the offsets cannot underflow and the
    // picture is at least one cell in each direction.
    let scale = |offset: u16, cells: u16, pixels: u32| {
        let middle = u64::from(offset) * 2 + 1;
        let pixel = middle * u64::from(pixels) / (2 * u64::from(cells.max(1)));
        u32::try_from(pixel).unwrap_or(u32::MAX).min(pixels - 1)
    };
    let x = scale(column.checked_sub(at.picture.x)?, at.picture.width, width);
    let y = scale(row.checked_sub(at.picture.y)?, at.picture.height, height);
    Some((x, y))
}

/// The key that ends control mode (F2, or Ctrl-]): the key table's to say.
pub fn leaves_control_mode(key: &KeyEvent) -> bool {
    super::shortcuts::action(key, super::shortcuts::When::ControlMode).is_some()
}

/// The `/input key` name of a key that has one (`crate::control::NAMED_KEYS`).
fn key_name(code: KeyCode) -> Option<String> {
    let name = match code {
        KeyCode::Enter => "Return",
        KeyCode::Backspace => "BackSpace",
        KeyCode::Tab | KeyCode::BackTab => "Tab",
        KeyCode::Esc => "Escape",
        KeyCode::Left => "Left",
        KeyCode::Right => "Right",
        KeyCode::Up => "Up",
        KeyCode::Down => "Down",
        KeyCode::Home => "Home",
        KeyCode::End => "End",
        KeyCode::PageUp => "PageUp",
        KeyCode::PageDown => "PageDown",
        KeyCode::Delete => "Delete",
        KeyCode::Insert => "Insert",
        KeyCode::F(n @ 1..=12) => return Some(format!("F{n}")),
        // `/input type` takes the rest of the line verbatim, so a space
        // typed alone would be trimmed away: it travels as a named key.
        KeyCode::Char(' ') => "space",
        // A single character is a key name too (`/input key c`).
        KeyCode::Char(c) => return Some(c.to_string()),
        _ => return None,
    };
    Some(name.to_string())
}

/// What a key typed in control mode sends to the remote screen: a character
/// as `/input type`, a named key as `/input key`, and a key held with Ctrl,
/// Alt or (for named keys) Shift as that modifier held down around the key.
/// Ctrl-C and the control-mode exit never get here.
pub fn key_input(key: &KeyEvent) -> Vec<InputAction> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    if let KeyCode::Char(c) = key.code
        && c != ' '
        && !ctrl
        && !alt
    {
        // Shift is already in the character ('A', '?').
        return vec![InputAction::Type(c.to_string())];
    }
    let Some(name) = key_name(key.code) else {
        return Vec::new();
    };
    // Shift with a character is the character itself; with a named key
    // (Shift-Tab, Shift-arrows) it is a modifier to hold.
    let shift = key.code == KeyCode::BackTab
        || (key.modifiers.contains(KeyModifiers::SHIFT) && !matches!(key.code, KeyCode::Char(_)));
    let held: Vec<&str> = [(ctrl, "Control"), (alt, "Alt"), (shift, "Shift")]
        .into_iter()
        .filter_map(|(on, modifier)| on.then_some(modifier))
        .collect();
    let modifier = |name: &str, down: bool| InputAction::key(name, Some(down));
    let mut actions: Vec<InputAction> = held.iter().filter_map(|m| modifier(m, true)).collect();
    actions.extend(InputAction::key(&name, None));
    actions.extend(held.iter().rev().filter_map(|m| modifier(m, false)));
    actions
}

/// What a mouse event over the shared screen sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoteInput {
    /// An `/input` line to send now (a click, a wheel turn).
    Line(InputAction),
    /// The pointer moved to this pixel (a drag): only the newest is sent.
    Move(u32, u32),
}

fn button_number(button: MouseButton) -> u8 {
    match button {
        MouseButton::Left => BUTTON_LEFT,
        MouseButton::Middle => BUTTON_MIDDLE,
        MouseButton::Right => BUTTON_RIGHT,
    }
}

/// What a mouse event in control mode sends: a press presses the button, a
/// drag moves the pointer, a release lets go (so press, drag, release selects
/// text or moves a window), the wheel scrolls, each at the pixel under the
/// mouse. Events outside the screen's picture send nothing, except a release:
/// a button let go outside must not stay down on the remote screen.
pub fn mouse_input(at: &ScreenPlacement, mouse: &MouseEvent) -> Option<RemoteInput> {
    let Some((x, y)) = cell_to_pixel(at, mouse.column, mouse.row) else {
        return match mouse.kind {
            MouseEventKind::Up(button) => Some(RemoteInput::Line(InputAction::Release {
                at: None,
                button: button_number(button),
            })),
            _ => None,
        };
    };
    let action = match mouse.kind {
        MouseEventKind::Down(button) => InputAction::Press {
            x,
            y,
            button: button_number(button),
        },
        MouseEventKind::Up(button) => InputAction::Release {
            at: Some((x, y)),
            button: button_number(button),
        },
        MouseEventKind::Drag(_) => return Some(RemoteInput::Move(x, y)),
        MouseEventKind::ScrollUp => InputAction::Scroll {
            up: true,
            at: Some((x, y)),
        },
        MouseEventKind::ScrollDown => InputAction::Scroll {
            up: false,
            at: Some((x, y)),
        },
        _ => return None,
    };
    Some(RemoteInput::Line(action))
}

/// The newest pointer position not sent yet: at most one, so a fast drag
/// sends one move per redraw instead of a queue of stale ones.
#[derive(Debug, Default)]
pub struct PendingMove(Option<(u32, u32)>);

impl PendingMove {
    /// Replaces any position still waiting.
    pub fn set(&mut self, x: u32, y: u32) {
        self.0 = Some((x, y));
    }

    /// Forgets the waiting position (a click or a wheel turn carries its own).
    pub fn clear(&mut self) {
        self.0 = None;
    }

    /// The move to the waiting position, if any; nothing waits afterwards.
    pub fn take(&mut self) -> Option<InputAction> {
        self.0.take().map(|(x, y)| InputAction::Move { x, y })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ClientId;
    use ratatui::layout::Rect;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    /// The waiting move as the `/input` line it is.
    trait TakeLine {
        fn take_line(&mut self) -> Option<String>;
    }

    impl TakeLine for PendingMove {
        fn take_line(&mut self) -> Option<String> {
            self.take().map(|move_to| format!("/input {move_to}"))
        }
    }

    /// The `/input` lines a key sends.
    fn key_lines(key: &KeyEvent) -> Vec<String> {
        key_input(key)
            .iter()
            .map(|action| format!("/input {action}"))
            .collect()
    }

    fn lines(code: KeyCode) -> Vec<String> {
        key_lines(&key(code, KeyModifiers::NONE))
    }

    #[test]
    fn characters_are_typed_and_other_keys_named() {
        assert_eq!(lines(KeyCode::Char('a')), ["/input type a"]);
        let shifted = key(KeyCode::Char('A'), KeyModifiers::SHIFT);
        assert_eq!(key_lines(&shifted), ["/input type A"]);
        assert_eq!(lines(KeyCode::Char('é')), ["/input type é"]);
        assert_eq!(lines(KeyCode::Char('/')), ["/input type /"]);
        // `/input type ` with a space would be an empty line to the parser.
        assert_eq!(lines(KeyCode::Char(' ')), ["/input key space"]);
        assert_eq!(lines(KeyCode::Enter), ["/input key Return"]);
        assert_eq!(lines(KeyCode::Backspace), ["/input key BackSpace"]);
        assert_eq!(lines(KeyCode::Tab), ["/input key Tab"]);
        assert_eq!(lines(KeyCode::Esc), ["/input key Escape"]);
        assert_eq!(lines(KeyCode::Left), ["/input key Left"]);
        assert_eq!(lines(KeyCode::PageDown), ["/input key PageDown"]);
        assert_eq!(lines(KeyCode::Delete), ["/input key Delete"]);
        assert_eq!(lines(KeyCode::Insert), ["/input key Insert"]);
        assert_eq!(lines(KeyCode::F(12)), ["/input key F12"]);
        assert!(lines(KeyCode::F(13)).is_empty(), "no such X key");
        assert!(lines(KeyCode::CapsLock).is_empty());
    }

    #[test]
    fn modifiers_are_held_around_the_key() {
        let ctrl_s = key(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(
            key_lines(&ctrl_s),
            [
                "/input key Control down",
                "/input key s",
                "/input key Control up"
            ]
        );
        let ctrl_alt_del = key(KeyCode::Delete, KeyModifiers::CONTROL | KeyModifiers::ALT);
        assert_eq!(
            key_lines(&ctrl_alt_del),
            [
                "/input key Control down",
                "/input key Alt down",
                "/input key Delete",
                "/input key Alt up",
                "/input key Control up"
            ]
        );
        assert_eq!(
            key_lines(&key(KeyCode::BackTab, KeyModifiers::SHIFT)),
            [
                "/input key Shift down",
                "/input key Tab",
                "/input key Shift up"
            ]
        );
    }

    #[test]
    fn every_line_parses_as_input() {
        let keys = [
            key(KeyCode::Char('x'), KeyModifiers::NONE),
            key(KeyCode::Char(' '), KeyModifiers::NONE),
            key(KeyCode::Char('€'), KeyModifiers::NONE),
            key(
                KeyCode::Char('c'),
                KeyModifiers::CONTROL | KeyModifiers::ALT,
            ),
            key(KeyCode::Up, KeyModifiers::SHIFT),
            key(KeyCode::F(5), KeyModifiers::NONE),
            key(KeyCode::Enter, KeyModifiers::NONE),
        ];
        for key in keys {
            for line in key_lines(&key) {
                assert!(
                    matches!(
                        crate::command::parse(&line),
                        Ok(Some(crate::command::Command::Input(_)))
                    ),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn f2_and_ctrl_bracket_leave_control_mode() {
        assert!(leaves_control_mode(&key(KeyCode::F(2), KeyModifiers::NONE)));
        assert!(leaves_control_mode(&key(
            KeyCode::Char(']'),
            KeyModifiers::CONTROL
        )));
        assert!(leaves_control_mode(&key(
            KeyCode::Char('5'),
            KeyModifiers::CONTROL
        )));
        assert!(!leaves_control_mode(&key(
            KeyCode::Char(']'),
            KeyModifiers::NONE
        )));
        assert!(!leaves_control_mode(&key(KeyCode::Esc, KeyModifiers::NONE)));
    }

    /// A 1920x1080 screen drawn in 96x27 cells with its corner at (10, 5):
    /// each cell is 20x40 pixels.
    fn full_hd() -> ScreenPlacement {
        let picture = Rect::new(10, 5, 96, 27);
        ScreenPlacement {
            owner: ClientId(2),
            picture,
            visible: picture,
            pixels: (1920, 1080),
        }
    }

    #[test]
    fn cells_map_to_the_middle_of_their_pixels() {
        let at = full_hd();
        assert_eq!(cell_to_pixel(&at, 10, 5), Some((10, 20)), "top left");
        assert_eq!(
            cell_to_pixel(&at, 105, 31),
            Some((1910, 1060)),
            "bottom right"
        );
        assert_eq!(cell_to_pixel(&at, 58, 18), Some((970, 540)), "middle");
        assert_eq!(cell_to_pixel(&at, 9, 5), None, "left of the picture");
        assert_eq!(cell_to_pixel(&at, 106, 5), None, "right of the picture");
        assert_eq!(cell_to_pixel(&at, 10, 32), None, "below the picture");
        // A picture cut by its tile: the cut cells are not the screen.
        let cut = ScreenPlacement {
            visible: Rect::new(10, 5, 50, 27),
            ..at
        };
        assert_eq!(cell_to_pixel(&cut, 59, 5), Some((990, 20)));
        assert_eq!(cell_to_pixel(&cut, 60, 5), None);
        // A screen of unknown size has no pixels to point at.
        let unknown = ScreenPlacement {
            pixels: (0, 0),
            ..at
        };
        assert_eq!(cell_to_pixel(&unknown, 10, 5), None);
        // A screen smaller than its cells: every pixel is still on the screen.
        let tiny = ScreenPlacement {
            pixels: (10, 10),
            ..at
        };
        assert_eq!(cell_to_pixel(&tiny, 105, 31), Some((9, 9)));
    }

    fn mouse(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
        MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }
    }

    #[test]
    fn mouse_events_become_presses_drags_releases_and_scrolls() {
        let at = full_hd();
        let input = |kind, column, row| mouse_input(&at, &mouse(kind, column, row));
        assert_eq!(
            input(MouseEventKind::Down(MouseButton::Left), 10, 5),
            Some(RemoteInput::Line("/input press 10 20 left".into()))
        );
        assert_eq!(
            input(MouseEventKind::Down(MouseButton::Right), 58, 18),
            Some(RemoteInput::Line("/input press 970 540 right".into()))
        );
        assert_eq!(
            input(MouseEventKind::Drag(MouseButton::Left), 58, 18),
            Some(RemoteInput::Move(970, 540))
        );
        assert_eq!(
            input(MouseEventKind::ScrollDown, 10, 5),
            Some(RemoteInput::Line("/input scroll down 10 20".into()))
        );
        assert_eq!(
            input(MouseEventKind::ScrollUp, 10, 5),
            Some(RemoteInput::Line("/input scroll up 10 20".into()))
        );
        assert_eq!(
            input(MouseEventKind::Up(MouseButton::Left), 10, 5),
            Some(RemoteInput::Line("/input release 10 20 left".into()))
        );
        assert_eq!(
            input(MouseEventKind::Up(MouseButton::Left), 0, 0),
            Some(RemoteInput::Line("/input release left".into())),
            "let go outside the screen: still let go"
        );
        assert_eq!(input(MouseEventKind::Moved, 10, 5), None);
        assert_eq!(
            input(MouseEventKind::Down(MouseButton::Left), 0, 0),
            None,
            "outside the screen"
        );
        for line in [
            "/input press 970 540 middle",
            "/input release 970 540 middle",
            "/input release left",
            "/input scroll up 10 20",
        ] {
            assert!(crate::command::parse(line).is_ok(), "{line}");
        }
    }

    #[test]
    fn only_the_newest_move_waits() {
        let mut pending = PendingMove::default();
        assert_eq!(pending.take_line(), None);
        pending.set(1, 2);
        pending.set(3, 4);
        assert_eq!(pending.take_line().as_deref(), Some("/input move 3 4"));
        assert_eq!(pending.take_line(), None, "sent once");
        pending.set(5, 6);
        pending.clear();
        assert_eq!(pending.take_line(), None);
        assert!(crate::command::parse("/input move 3 4").is_ok());
    }
}
