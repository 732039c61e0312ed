//! What a key does in the full-screen view. Most keys are shortcuts that
//! become the same command lines a user types in the line interface
//! (`/audio off`, `/quit`), which the main loop handles exactly as it handles
//! stdin; Enter (or `i`, or `/`) starts typing a chat line or a command, and
//! Esc goes back to the shortcuts.

use super::model::ViewModel;
use common::MediaKind;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Chat lines scrolled by PageUp and PageDown.
const PAGE: isize = 10;

/// The shortcuts, for the `?` overlay (one table, so it cannot go stale).
pub const SHORTCUTS: &[(&str, &str)] = &[
    (
        "Enter, i",
        "type a chat message (Enter sends, Esc stops typing)",
    ),
    ("/", "type a command (/help lists them)"),
    (
        "m",
        "microphone on/off (the test tone until devices arrive)",
    ),
    ("v", "camera on/off (the test pattern until devices arrive)"),
    ("c", "create a meeting"),
    ("j", "join a meeting: type its id, then Enter"),
    ("l", "leave the meeting"),
    ("s", "show the stats in the chat"),
    ("Up Down PgUp PgDn", "scroll the chat back and forth"),
    ("End", "back to the newest chat line"),
    ("?", "show or hide this list"),
    ("q, Ctrl-C", "leave and quit"),
];

/// Applies `key` to the view; returns a command line for the main loop, if any.
pub fn handle(model: &mut ViewModel, key: KeyEvent) -> Option<String> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // In raw mode Ctrl-C is a key, not a signal: it must always quit.
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'd')) {
        return Some("/quit".into());
    }
    match key.code {
        KeyCode::PageUp => return scroll(model, PAGE),
        KeyCode::PageDown => return scroll(model, -PAGE),
        _ => {}
    }
    if model.input.typing {
        typing(model, key, ctrl)
    } else {
        shortcut(model, key)
    }
}

fn scroll(model: &mut ViewModel, lines: isize) -> Option<String> {
    model.scroll_chat(lines);
    None
}

fn typing(model: &mut ViewModel, key: KeyEvent, ctrl: bool) -> Option<String> {
    let input = &mut model.input;
    match key.code {
        KeyCode::Enter => {
            let line = std::mem::take(&mut input.text);
            if line.trim().is_empty() {
                input.typing = false;
                return None;
            }
            model.chat_scroll = 0;
            Some(line)
        }
        KeyCode::Esc => {
            input.typing = false;
            None
        }
        KeyCode::Backspace => {
            input.text.pop();
            None
        }
        KeyCode::Char('u') if ctrl => {
            input.text.clear();
            None
        }
        KeyCode::Char(c) if !ctrl => {
            input.text.push(c);
            None
        }
        _ => None,
    }
}

fn start_typing(model: &mut ViewModel, text: &str) -> Option<String> {
    model.input.typing = true;
    model.input.text = text.to_string();
    None
}

fn toggle(model: &ViewModel, kind: MediaKind) -> Option<String> {
    let state = if model.sharing(kind) { "off" } else { "on" };
    Some(format!("/{kind} {state}"))
}

fn shortcut(model: &mut ViewModel, key: KeyEvent) -> Option<String> {
    if model.help_open {
        // Any key closes the overlay; `q` and Ctrl-C still quit.
        model.help_open = false;
        if !matches!(key.code, KeyCode::Char('q')) {
            return None;
        }
    }
    match key.code {
        KeyCode::Char('?') | KeyCode::F(1) => {
            model.help_open = true;
            None
        }
        KeyCode::Enter | KeyCode::Char('i' | 't') => start_typing(model, ""),
        KeyCode::Char('/') => start_typing(model, "/"),
        KeyCode::Char('j') => start_typing(model, "/join "),
        KeyCode::Char('m') => toggle(model, MediaKind::Audio),
        KeyCode::Char('v') => toggle(model, MediaKind::Video),
        KeyCode::Char('c') => Some("/create".into()),
        KeyCode::Char('l') => Some("/leave".into()),
        KeyCode::Char('s') => {
            model.chat_scroll = 0;
            Some("/stats".into())
        }
        KeyCode::Char('q') => Some("/quit".into()),
        KeyCode::Up => scroll(model, 1),
        KeyCode::Down => scroll(model, -1),
        KeyCode::End => {
            model.chat_scroll = 0;
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::LocalEvent;
    use common::ClientId;

    fn press(model: &mut ViewModel, code: KeyCode) -> Option<String> {
        handle(model, KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn shortcuts_become_command_lines() {
        let mut model = ViewModel::new(ClientId(1));
        assert_eq!(
            press(&mut model, KeyCode::Char('m')).as_deref(),
            Some("/audio on")
        );
        model.local(&LocalEvent::Sharing {
            kind: MediaKind::Audio,
            on: true,
            source: None,
        });
        assert_eq!(
            press(&mut model, KeyCode::Char('m')).as_deref(),
            Some("/audio off")
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('v')).as_deref(),
            Some("/video on")
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('c')).as_deref(),
            Some("/create")
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('q')).as_deref(),
            Some("/quit")
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        model.input.typing = true;
        assert_eq!(handle(&mut model, ctrl_c).as_deref(), Some("/quit"));
    }

    #[test]
    fn typing_sends_lines_and_esc_returns_to_shortcuts() {
        let mut model = ViewModel::new(ClientId(1));
        assert_eq!(press(&mut model, KeyCode::Char('j')), None);
        for c in "k7m-q2x".chars() {
            assert_eq!(press(&mut model, KeyCode::Char(c)), None);
        }
        assert_eq!(
            press(&mut model, KeyCode::Enter).as_deref(),
            Some("/join k7m-q2x")
        );
        assert!(model.input.typing, "still typing after a line");
        for c in "hi q".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        press(&mut model, KeyCode::Backspace);
        assert_eq!(press(&mut model, KeyCode::Enter).as_deref(), Some("hi "));
        assert_eq!(press(&mut model, KeyCode::Enter), None, "empty line");
        assert!(!model.input.typing, "an empty Enter stops typing");
        press(&mut model, KeyCode::Char('i'));
        press(&mut model, KeyCode::Esc);
        assert!(!model.input.typing);
        assert_eq!(press(&mut model, KeyCode::Char('?')), None);
        assert!(model.help_open);
        assert_eq!(
            press(&mut model, KeyCode::Char('c')),
            None,
            "closes help only"
        );
        assert!(!model.help_open);
    }
}
