//! What a key (or, in control mode, the mouse) does in the full-screen view:
//! `handle` sends a press to whatever has the keys now (a question, the `?`
//! overlay, the members menu, control mode, the input line) and otherwise
//! to the key table, `shortcuts::SHORTCUTS`. Most keys are shortcuts that
//! become the same `Command`s a user types in the line interface (`/audio
//! off`, `/quit`), which the main loop handles exactly as it handles stdin;
//! Enter (or `i`, or `/`) starts typing a chat line or a command, parsed
//! here when it is sent, and Esc goes back to the shortcuts. In control mode
//! every key but the way out goes to the remote screen (`remote`).

use super::confirm::confirm_or_send;
use super::members_menu;
use super::model::{ChatLine, Confirmation, ViewModel};
use super::remote::{self, RemoteInput};
use super::shortcuts::{self, When};
use crate::command::{Command, Entered};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};

/// Applies `key` to the view; returns the commands for the main loop, in
/// order (one for a shortcut, several for a key held with Ctrl in control
/// mode, none for most).
pub fn handle(model: &mut ViewModel, key: KeyEvent) -> Vec<Entered> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if let Some(act) = shortcuts::action(&key, When::Always) {
        return act(model).into_iter().collect();
    }
    if let Some(question) = model.confirm.take() {
        return answer(model, question, key);
    }
    if model.help_open {
        help_key(model, key);
        return Vec::new();
    }
    if model.members_menu.is_some() {
        return members_menu::key(model, key).into_iter().collect();
    }
    if model.in_control_mode() {
        if let Some(act) = shortcuts::action(&key, When::ControlMode) {
            return act(model).into_iter().collect();
        }
        return remote::key_input(&key)
            .into_iter()
            .map(|action| Entered::made(Command::Input(action)))
            .collect();
    }
    let entered = if let Some(act) = shortcuts::action(&key, When::AlsoTyping) {
        act(model)
    } else if model.input.typing {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        typing(model, key, ctrl)
    } else {
        shortcuts::action(&key, When::Shortcut).and_then(|act| act(model))
    };
    entered.into_iter().collect()
}

/// The most a paste puts into the input line: a chat message's limit (the
/// main loop refuses longer ones, saying so), with room to see it is over.
const MAX_PASTE_BYTES: usize = 2 * common::protocol::MAX_CHAT_BYTES;

/// A bracketed paste: text for the input line, never keys. Line breaks and
/// tabs become spaces, so several pasted lines are one message the user
/// sends (or edits) with Enter; a pasted `/command` runs only then too.
/// It answers no question (a pasted `y` must not quit) and is not sent to
/// a controlled screen.
pub fn paste(model: &mut ViewModel, text: &str) {
    if let Some(question) = model.confirm.take() {
        let text = format!(
            "not sent: {} (a paste answers no question)",
            question.entered.line.trim()
        );
        model.push_line(ChatLine::Info(text));
        return;
    }
    if model.in_control_mode() {
        let text = "a paste does not go to the controlled screen: type it";
        model.push_line(ChatLine::Info(text.into()));
        return;
    }
    model.help_open = false;
    let mut flat = String::with_capacity(text.len());
    let mut last_was_break = false;
    for c in text.chars() {
        let is_break = matches!(c, '\r' | '\n');
        if is_break || c == '\t' {
            // "\r\n" is one break, not two spaces.
            if !(is_break && last_was_break) {
                flat.push(' ');
            }
        } else if !c.is_control() {
            flat.push(c);
        }
        last_was_break = is_break;
    }
    let input = &mut model.input;
    input.typing = true;
    let room = MAX_PASTE_BYTES.saturating_sub(input.text.len());
    if flat.len() > room {
        let mut end = room;
        while !flat.is_char_boundary(end) {
            end -= 1;
        }
        flat.truncate(end);
        input.insert_str(&flat);
        let text = format!("the paste was cut at {MAX_PASTE_BYTES} bytes");
        model.push_line(ChatLine::Info(text));
        return;
    }
    input.insert_str(&flat);
}

/// What a mouse event does: in control mode, over the shown screen, it goes
/// to that screen; anywhere else it does nothing (mouse capture is only on in
/// control mode).
pub fn mouse(model: &ViewModel, mouse: &MouseEvent) -> Option<RemoteInput> {
    if !model.in_control_mode() {
        return None;
    }
    let at = model.screen_at.as_ref()?;
    // The picture drawn last may still be another screen's, just after a switch.
    if Some(at.owner) != model.state.controlled_by_me() {
        return None;
    }
    remote::mouse_input(at, mouse)
}

/// Rows the wheel scrolls the chat by.
const WHEEL_LINES: isize = 3;

/// What the mouse does outside control mode, by where the last draw put
/// things: the wheel over the chat scrolls it, a click on a tile focuses it
/// (fills the video area; a click again returns to the grid), a click on a
/// member in the list says what can be done about them. True if anything
/// changed.
pub fn view_mouse(model: &mut ViewModel, mouse: &MouseEvent) -> bool {
    use ratatui::crossterm::event::{MouseButton, MouseEventKind};
    use ratatui::layout::Position;
    let at = Position::new(mouse.column, mouse.row);
    let clicks = &model.clicks;
    match mouse.kind {
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown if clicks.chat.contains(at) => {
            let back = matches!(mouse.kind, MouseEventKind::ScrollUp);
            model.scroll_chat(if back { WHEEL_LINES } else { -WHEEL_LINES });
            true
        }
        MouseEventKind::Down(MouseButton::Left) => {
            let member = |places: &[(common::ClientId, ratatui::layout::Rect)]| {
                places
                    .iter()
                    .find(|(_, area)| area.contains(at))
                    .map(|(id, _)| *id)
            };
            if let Some(id) = member(&clicks.tiles) {
                model.toggle_focus(id);
                true
            } else if let Some(id) = member(&clicks.member_rows) {
                model.member_actions(id);
                true
            } else {
                false
            }
        }
        _ => false,
    }
}

/// y or Enter says yes; any other key says no (and does nothing else).
fn answer(model: &mut ViewModel, question: Confirmation, key: KeyEvent) -> Vec<Entered> {
    match key.code {
        KeyCode::Char('y' | 'Y') | KeyCode::Enter => vec![question.entered],
        _ => {
            let text = format!("not sent: {}", question.entered.line.trim());
            model.push_line(ChatLine::Info(text));
            Vec::new()
        }
    }
}

/// Keys while the help overlay is open: the arrows and pages scroll it,
/// any other key closes it (and does nothing else).
fn help_key(model: &mut ViewModel, key: KeyEvent) {
    let page = model.help_page.max(1) as isize;
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => model.scroll_help(-1),
        KeyCode::Down | KeyCode::Char('j') => model.scroll_help(1),
        KeyCode::PageUp => model.scroll_help(-page),
        KeyCode::PageDown | KeyCode::Char(' ') => model.scroll_help(page),
        KeyCode::Home => model.help_scroll = 0,
        KeyCode::End => model.help_scroll = model.help_max_scroll,
        _ => model.help_open = false,
    }
}

fn typing(model: &mut ViewModel, key: KeyEvent, ctrl: bool) -> Option<Entered> {
    if key.code != KeyCode::Tab {
        model.input.end_completion();
    }
    let input = &mut model.input;
    match key.code {
        KeyCode::Enter => {
            let line = input.take_line();
            let Some(entered) = Entered::typed(&line) else {
                input.typing = false; // an empty line
                return None;
            };
            if ends_typing(&entered) {
                input.typing = false;
            }
            model.chat_to_newest();
            return confirm_or_send(model, entered);
        }
        KeyCode::Esc => input.typing = false,
        KeyCode::Backspace => input.delete_back(),
        KeyCode::Delete => input.delete_forward(),
        KeyCode::Left => input.left(),
        KeyCode::Right => input.right(),
        KeyCode::Home => input.home(),
        KeyCode::End => input.end(),
        KeyCode::Up => input.history_back(),
        KeyCode::Down => input.history_forward(),
        KeyCode::Char('a') if ctrl => input.home(),
        KeyCode::Char('e') if ctrl => input.end(),
        KeyCode::Char('b') if ctrl => input.left(),
        KeyCode::Char('f') if ctrl => input.right(),
        KeyCode::Char('u') if ctrl => input.kill_to_start(),
        KeyCode::Char('k') if ctrl => input.kill_to_end(),
        KeyCode::Char('w') if ctrl => input.kill_word(),
        KeyCode::Char('h') if ctrl => input.delete_back(),
        KeyCode::Tab => {
            let names = completion_names(model);
            model.input.complete(&names);
        }
        KeyCode::F(1) => model.open_help(),
        KeyCode::Char(c) if !ctrl => input.insert(c),
        _ => {}
    }
    None
}

/// Whether sending `entered` goes back to the keys: after joining, creating
/// or leaving a meeting the next thing is a key (S, v, m, q), not more
/// text. A chat line keeps the input open for the next one.
fn ends_typing(entered: &Entered) -> bool {
    matches!(
        entered.command(),
        Some(Command::Join(..) | Command::Create(_) | Command::Leave)
    )
}

/// Other members' names as commands take them: the name; `name#id` where
/// the name alone could mean someone else (two share it, or it is the
/// first word of another's: `Cy` beside `Cy Lee`); quoted where it has
/// spaces in a command line, so `/msg "Cy Lee" hi` ends the name plainly.
/// In a chat line, a name is just text.
fn completion_names(model: &ViewModel) -> Vec<String> {
    let command = model.input.text.starts_with('/');
    let others: Vec<_> = model.others().collect();
    others
        .iter()
        .map(|m| {
            let name = crate::clean::clean(&m.name);
            let words = |s: &str| {
                s.split_whitespace()
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            };
            let mine = words(&m.name);
            let could_mean_another = others
                .iter()
                .any(|o| o.id != m.id && words(&o.name).starts_with(&mine));
            if command && could_mean_another {
                crate::meeting::label(m.id, &name)
            } else if command && name.contains(char::is_whitespace) {
                format!("\"{name}\"")
            } else {
                name
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
