//! What a key (or, in control mode, the mouse) does in the full-screen view.
//! Most keys are shortcuts that become the same `Command`s a user types in
//! the line interface (`/audio off`, `/quit`), which the main loop handles
//! exactly as it handles stdin; Enter (or `i`, or `/`) starts typing a chat
//! line or a command, parsed here when it is sent, and Esc goes back to the
//! shortcuts. In control mode every key but the way out goes to the remote
//! screen (`remote`).

use super::members_menu;
use super::model::{ChatLine, Confirmation, ViewModel};
use super::remote::{self, RemoteInput};
use crate::command::{Command, Entered};
use common::MediaKind;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};

/// Chat lines scrolled by PageUp and PageDown.
const PAGE: isize = 10;

/// One row of the key list: the keys, what they do in a line (the `?`
/// overlay), and the whole story where it is longer (the README's table of
/// keys and the man page; empty: `help` is all of it).
pub struct Shortcut {
    /// As the overlay shows them: `Enter, i, t`.
    pub keys: &'static str,
    pub help: &'static str,
    pub details: &'static str,
}

impl Shortcut {
    /// What the keys do, as the README and the man page say it.
    pub fn described(&self) -> &'static str {
        if self.details.is_empty() {
            self.help
        } else {
            self.details
        }
    }
}

const fn key(keys: &'static str, help: &'static str, details: &'static str) -> Shortcut {
    Shortcut {
        keys,
        help,
        details,
    }
}

/// The keys of the full-screen view: one table for the `?` overlay, the man
/// page and the README, so none of them can go stale.
pub const SHORTCUTS: &[Shortcut] = &[
    key(
        "Enter, i, t",
        "type a chat message (Enter sends, Esc stops typing)",
        "type a chat line or a `/command`; Enter sends it, Esc (or Enter on an empty line) goes back to the keys, and so does sending `/join`, `/create` or `/leave`: the next key is a key again",
    ),
    key("/", "type a command (/help lists them)", "type a command"),
    key(
        "while typing",
        "Left Right Home End (Ctrl-A, Ctrl-E) move; Backspace, Delete, Ctrl-U, Ctrl-K, Ctrl-W delete; Up Down recall lines you sent; Tab completes commands and names (again for the next)",
        "`Left` `Right` `Home` `End` (and `Ctrl-A` `Ctrl-E` `Ctrl-B` `Ctrl-F`) move the cursor; `Backspace`, `Delete`, `Ctrl-U` (to the start), `Ctrl-K` (to the end), `Ctrl-W` (the word before) delete; `Up` / `Down` recall the lines you sent this session; `Tab` completes a command name after `/`, or a member's name from its first letters or words (as commands take it: quoted when it has spaces, `name#id` when the name alone could mean someone else), and `Tab` again shows the next candidate; `PgUp` `PgDn` still scroll the chat",
    ),
    key(
        "m",
        if cfg!(feature = "audio") {
            "microphone on/off"
        } else {
            "audio on/off: a test tone (this build has no microphone support)"
        },
        "the microphone on and off in builds with `--features devices`, the test tone in builds without (the `?` list says which)",
    ),
    key(
        "v",
        if cfg!(feature = "camera") {
            "camera on/off"
        } else {
            "video on/off: a test pattern (this build has no camera support)"
        },
        "the camera on and off in builds with `--features devices`, the test pattern in builds without (the `?` list says which)",
    ),
    key(
        "S",
        "share your screen on/off",
        "share your screen (the test desktop; `/screen on x11` shares a display) on and off",
    ),
    key(
        "p",
        "presentation (a shared screen large) or the grid",
        "presentation (a shared screen large, cameras in a strip) or the grid; the view switches to the presentation when someone starts sharing",
    ),
    key(
        "f",
        "speaker view (who speaks fills the view, the others below) or the grid",
        "speaker view: who speaks (or spoke last) fills the video area above a strip of the others; `f` again for the grid",
    ),
    key(
        "Tab",
        "show the next shared screen",
        "show the next shared screen, when several members share one",
    ),
    key("a", "ask to control the screen shown", ""),
    key(
        "g, n",
        "grant or ignore a request to control your screen",
        "grant or ignore a request to control your screen (a banner shows it)",
    ),
    key(
        "r",
        "take back control of your screen, or give up control",
        "take control of your screen back, or give up control of someone else's",
    ),
    key(
        "C",
        "control mode: keys and mouse go to the screen you control (Ctrl-C still quits)",
        "control mode, once granted: keys and the mouse (click, drag, wheel, in the screen's tile) go to the shared screen; Ctrl-C still quits",
    ),
    key("F2, Ctrl-]", "leave control mode", ""),
    key("c", "create a meeting", ""),
    key(
        "j",
        "join a meeting: type its id, then Enter (the keys work again after it)",
        "",
    ),
    key(
        "l",
        "leave the meeting, after you confirm with y or Enter",
        "leave the meeting (or stop waiting in its lobby), once you confirm with `y` or Enter; the question says when a locked meeting would not let you back",
    ),
    key("s", "show the stats in the chat", ""),
    key(
        "y",
        "copy the meeting id to the clipboard (OSC 52, where the terminal allows it)",
        "copy the meeting id to the clipboard with OSC 52 (terminals that allow it, and tmux with `set-clipboard on`); the chat pane says what was copied, and what others type to join",
    ),
    key(
        "Up Down PgUp PgDn",
        "scroll the chat back and forth (the mouse wheel too)",
        "scroll the chat back and forth (the mouse wheel over the chat scrolls it too)",
    ),
    key(
        "click",
        "a tile: it fills the video area (click again or Esc for all tiles); a member in the list: what you can do about them",
        "on a tile: it fills the video area (click it again, or Esc, for all tiles); on a member in the members list: the commands for them (`/msg`, `/mute`, `/volume`, and the host's) in the chat. The view reports the mouse, so select text with Shift held, as in most terminal programs",
    ),
    key(
        "M",
        "members menu: pick a member, or (host) someone waiting in the lobby, and act on them",
        "members menu: ↑↓ picks a member, then `m` message, `u`/`U` mute or unmute them for you, and for the host `a`/`v` stop their audio or video, `A` allow it again, `l` lower their hand, `h` make them host, `x` remove them (the last two ask first); below the members, the host finds who waits in the lobby: `y` lets them in, `n` turns them away",
    ),
    key("End", "back to the newest chat line", ""),
    key(
        "?, F1",
        "show this list (arrows and PgUp PgDn scroll it, any other key closes it)",
        "every key and command (also `/help`); the arrows, `PgUp` and `PgDn` scroll the list, any other key closes it",
    ),
    key(
        "q",
        "leave and quit, after you confirm with y or Enter",
        "leave and quit, once you confirm with `y` or Enter (any other key keeps you in); `/quit`, `/leave` and `/cancel` typed in the view ask the same way",
    ),
    key(
        "Ctrl-C",
        "leave and quit at once",
        "leave and quit at once; the terminal is restored, also after a crash",
    ),
];

/// Applies `key` to the view; returns the commands for the main loop, in
/// order (one for a shortcut, several for a key held with Ctrl in control
/// mode, none for most).
pub fn handle(model: &mut ViewModel, key: KeyEvent) -> Vec<Entered> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // In raw mode Ctrl-C is a key, not a signal: it must always quit, also
    // in control mode, where it would otherwise go to the remote screen.
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'd')) {
        return vec![Entered::made(Command::Quit)];
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
        if remote::leaves_control_mode(&key) {
            model.control_mode = false;
            return Vec::new();
        }
        return remote::key_input(&key)
            .into_iter()
            .map(|action| Entered::made(Command::Input(action)))
            .collect();
    }
    let line = match key.code {
        KeyCode::PageUp => scroll(model, PAGE),
        KeyCode::PageDown => scroll(model, -PAGE),
        _ if model.input.typing => typing(model, key, ctrl),
        _ => shortcut(model, key),
    };
    line.into_iter().collect()
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

/// The question about `entered`, if it cannot be taken back: quitting and
/// leaving leave the meeting (a locked one lets nobody back in, one with a
/// lobby makes you wait again), `/cancel` ends it for everyone.
fn question_for(model: &ViewModel, entered: &Entered) -> Option<String> {
    let state = &model.state;
    let question = match entered.command()? {
        Command::Quit if state.meeting.is_some() => "leave the meeting and quit?".to_string(),
        Command::Quit => "quit the client?".to_string(),
        Command::Leave => match (&state.meeting, &state.waiting_for) {
            (Some(id), _) => {
                let id = crate::clean::clean(id.as_str());
                let host = state.host().is_some_and(|h| h.id == model.me);
                let again = if state.locked && !host {
                    " (it is locked: you cannot come back in)"
                } else if state.lobby && !host {
                    " (its lobby is on: you would wait to come back in)"
                } else {
                    ""
                };
                format!("leave meeting {id}?{again}")
            }
            (None, Some(id)) => format!(
                "stop waiting to be let into meeting {}?",
                crate::clean::clean(id.as_str())
            ),
            (None, None) => return None, // the main loop says there is nothing to leave
        },
        Command::Cancel => match &model.state.meeting {
            Some(id) => format!(
                "end meeting {} for everyone?",
                crate::clean::clean(id.as_str())
            ),
            None => return None, // the main loop says there is nothing to end
        },
        _ => return None,
    };
    Some(question)
}

/// Sends `entered`, or first asks about it if it cannot be taken back.
fn confirm_or_send(model: &mut ViewModel, entered: Entered) -> Option<Entered> {
    match question_for(model, &entered) {
        Some(question) => {
            model.confirm = Some(Confirmation { entered, question });
            None
        }
        None => Some(entered),
    }
}

/// A command a key made, sent or first asked about.
fn confirm_or_make(model: &mut ViewModel, command: Command) -> Option<Entered> {
    confirm_or_send(model, Entered::made(command))
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

fn scroll(model: &mut ViewModel, lines: isize) -> Option<Entered> {
    model.scroll_chat(lines);
    None
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

fn start_typing(model: &mut ViewModel, text: &str) -> Option<Entered> {
    model.input.typing = true;
    model.input.set(text);
    None
}

/// The key's source for a kind: the device where the build has one, the
/// synthetic source otherwise (so the key does something in every build).
fn key_source(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio if cfg!(feature = "audio") => " mic",
        MediaKind::Video if cfg!(feature = "camera") => " camera",
        _ => "",
    }
}

fn toggle(model: &ViewModel, kind: MediaKind) -> Option<Entered> {
    let command = if model.sharing(kind) {
        Command::MediaOff(kind)
    } else {
        let source = key_source(kind).trim();
        Command::MediaOn(kind, (!source.is_empty()).then(|| source.to_string()))
    };
    Some(Entered::made(command))
}

/// `/control request ID` for the screen shown (large or not).
fn ask_for_control(model: &mut ViewModel) -> Option<Entered> {
    match model.presented_screen() {
        Some(owner) => Some(Entered::made(Command::ControlRequest(Some(
            owner.id.to_string(),
        )))),
        None => {
            model.push_line(ChatLine::Info("nobody else shares a screen".into()));
            None
        }
    }
}

/// `/control revoke` when there is a grant to end, ours or on our screen.
fn revoke(model: &ViewModel) -> Option<Entered> {
    let state = &model.state;
    let granted = state.controller_of(model.me).is_some() || state.controlled_by_me().is_some();
    granted.then(|| Entered::made(Command::ControlRevoke))
}

fn control_mode(model: &mut ViewModel) -> Option<Entered> {
    if !model.enter_control_mode() {
        let text = "you control no screen: a asks to control the screen shown";
        model.push_line(ChatLine::Info(text.into()));
    }
    None
}

fn shortcut(model: &mut ViewModel, key: KeyEvent) -> Option<Entered> {
    match key.code {
        KeyCode::Char('?') | KeyCode::F(1) => {
            model.open_help();
            None
        }
        KeyCode::Enter | KeyCode::Char('i' | 't') => start_typing(model, ""),
        KeyCode::Char('/') => start_typing(model, "/"),
        KeyCode::Char('j') => start_typing(model, "/join "),
        KeyCode::Char('m') => toggle(model, MediaKind::Audio),
        KeyCode::Char('v') => toggle(model, MediaKind::Video),
        KeyCode::Char('S') => toggle(model, MediaKind::Screen),
        KeyCode::Char('p') => {
            model.toggle_presentation();
            None
        }
        KeyCode::Char('f') => {
            model.toggle_speaker_view();
            None
        }
        KeyCode::Char('M') => {
            members_menu::open(model);
            None
        }
        KeyCode::Tab => {
            model.next_screen();
            None
        }
        KeyCode::Char('a') => ask_for_control(model),
        KeyCode::Char('g') => model
            .pending_request()
            .map(|asking| Entered::made(Command::ControlGrant(asking.to_string()))),
        KeyCode::Char('n') => {
            model.ignore_request();
            None
        }
        KeyCode::Char('r') => revoke(model),
        KeyCode::Char('C') => control_mode(model),
        KeyCode::Char('c') => Some(Entered::made(Command::Create(None))),
        KeyCode::Char('l') => confirm_or_make(model, Command::Leave),
        KeyCode::Char('y') => {
            model.copy_meeting_id();
            None
        }
        KeyCode::Char('s') => {
            model.chat_to_newest();
            Some(Entered::made(Command::Stats))
        }
        KeyCode::Char('q') => confirm_or_make(model, Command::Quit),
        KeyCode::Up => scroll(model, 1),
        KeyCode::Down => scroll(model, -1),
        KeyCode::End => {
            model.chat_to_newest();
            None
        }
        KeyCode::Esc => {
            model.focused = None;
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

    /// The one line a key sends, if any.
    fn press(model: &mut ViewModel, code: KeyCode) -> Option<String> {
        let mut lines = handle(model, KeyEvent::new(code, KeyModifiers::NONE));
        assert!(lines.len() <= 1, "{lines:?}");
        lines.pop().map(|entered| entered.line)
    }

    #[test]
    fn shortcuts_become_command_lines() {
        let mut model = ViewModel::new(ClientId(1));
        assert_eq!(
            press(&mut model, KeyCode::Char('m')),
            Some(format!("/audio on{}", key_source(MediaKind::Audio)))
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
            press(&mut model, KeyCode::Char('v')),
            Some(format!("/video on{}", key_source(MediaKind::Video)))
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('c')).as_deref(),
            Some("/create")
        );
        assert_eq!(press(&mut model, KeyCode::Char('q')), None, "q asks first");
        assert_eq!(
            press(&mut model, KeyCode::Char('y')).as_deref(),
            Some("/quit")
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        model.input.typing = true;
        assert_eq!(handle(&mut model, ctrl_c), ["/quit"]);
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
        assert!(!model.input.typing, "a join goes back to the keys");
        assert_eq!(
            press(&mut model, KeyCode::Char('S')).as_deref(),
            Some("/screen on"),
            "the next key is a key, not text"
        );
        press(&mut model, KeyCode::Char('i'));
        for c in "hi q".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        press(&mut model, KeyCode::Backspace);
        assert_eq!(press(&mut model, KeyCode::Enter).as_deref(), Some("hi "));
        assert!(model.input.typing, "still typing after a chat line");
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

    #[test]
    fn quitting_and_ending_the_meeting_ask_first() {
        let mut model = meeting(&[]);
        // q, then anything but y or Enter: nothing is sent, and the key
        // that said no does nothing else (c would create a meeting).
        assert_eq!(press(&mut model, KeyCode::Char('q')), None);
        let question = model.confirm.clone().expect("a question");
        assert_eq!(question.question, "leave the meeting and quit?");
        assert_eq!(press(&mut model, KeyCode::Char('c')), None);
        assert!(model.confirm.is_none());
        assert_eq!(
            model.chat.back(),
            Some(&ChatLine::Info("not sent: /quit".into()))
        );
        assert_eq!(press(&mut model, KeyCode::Char('q')), None);
        assert_eq!(press(&mut model, KeyCode::Enter).as_deref(), Some("/quit"));

        // Typed commands too: /quit (and its alias) and /cancel.
        for (typed, asked) in [
            ("/quit", "leave the meeting and quit?"),
            ("/exit", "leave the meeting and quit?"),
            ("/cancel", "end meeting abc-def for everyone?"),
        ] {
            press(&mut model, KeyCode::Char('/'));
            for c in typed[1..].chars() {
                press(&mut model, KeyCode::Char(c));
            }
            assert_eq!(press(&mut model, KeyCode::Enter), None, "{typed}");
            assert_eq!(
                model.confirm.as_ref().map(|c| c.question.as_str()),
                Some(asked)
            );
            assert_eq!(
                press(&mut model, KeyCode::Char('y')).as_deref(),
                Some(typed)
            );
            press(&mut model, KeyCode::Esc);
        }
        // Ctrl-C is the way out that never asks.
        assert_eq!(press(&mut model, KeyCode::Char('q')), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(handle(&mut model, ctrl_c), ["/quit"]);
        // Other commands go at once.
        press(&mut model, KeyCode::Char('s'));
        assert!(model.confirm.is_none());
    }

    /// An accidental l in a locked meeting was a one-way door: leaving asks
    /// as quitting does, and says when there is no way back.
    #[test]
    fn leaving_asks_first_and_says_when_there_is_no_way_back() {
        let mut model = meeting(&[]);
        assert_eq!(press(&mut model, KeyCode::Char('l')), None);
        let asked = model.confirm.as_ref().map(|c| c.question.clone());
        assert_eq!(asked.as_deref(), Some("leave meeting abc-def?"));
        assert_eq!(press(&mut model, KeyCode::Char('l')), None, "no");
        assert!(model.confirm.is_none());
        assert_eq!(press(&mut model, KeyCode::Char('l')), None);
        assert_eq!(
            press(&mut model, KeyCode::Char('y')).as_deref(),
            Some("/leave")
        );

        // Typed, in a meeting someone else locked.
        let mut state = model.state.clone();
        state.locked = true;
        for m in &mut state.members {
            m.host = m.id != model.me;
        }
        model.set_meeting(&state);
        press(&mut model, KeyCode::Char('/'));
        for c in "leave".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        assert_eq!(press(&mut model, KeyCode::Enter), None);
        let asked = model.confirm.as_ref().map(|c| c.question.clone());
        assert_eq!(
            asked.as_deref(),
            Some("leave meeting abc-def? (it is locked: you cannot come back in)")
        );
        assert_eq!(press(&mut model, KeyCode::Enter).as_deref(), Some("/leave"));

        // Waiting in a lobby: stopping asks too.
        let mut outside = ViewModel::new(ClientId(1));
        let mut state = crate::meeting::MeetingState::new(ClientId(1));
        state.waiting_for = Some(common::MeetingId::parse("xyz-xyz").expect("valid id"));
        outside.set_meeting(&state);
        press(&mut outside, KeyCode::Char('l'));
        let asked = outside.confirm.as_ref().map(|c| c.question.clone());
        assert_eq!(
            asked.as_deref(),
            Some("stop waiting to be let into meeting xyz-xyz?")
        );
    }

    #[test]
    fn a_paste_is_text_for_the_input_line_never_commands() {
        let mut model = meeting(&[]);
        // Not typing: a paste starts typing, with no shortcut run; its
        // lines become one.
        paste(&mut model, "q\r\nsecond line\tend\x1b[2J");
        assert!(model.input.typing);
        assert_eq!(model.input.text, "q second line end[2J");
        assert!(model.confirm.is_none());
        press(&mut model, KeyCode::Esc);
        model.input.text.clear();
        // A pasted command runs only when the user presses Enter (and this
        // one asks first).
        paste(&mut model, "/cancel");
        assert!(model.confirm.is_none());
        assert_eq!(model.input.text, "/cancel");
        assert_eq!(press(&mut model, KeyCode::Enter), None);
        assert!(model.confirm.is_some(), "/cancel asks");
        // A pasted y answers nothing.
        paste(&mut model, "y");
        assert!(model.confirm.is_none());
        assert!(model.input.text.is_empty());
        // A paste into a line being typed is added to it.
        assert!(model.input.typing);
        press(&mut model, KeyCode::Char('a'));
        paste(&mut model, "b\nc");
        assert_eq!(press(&mut model, KeyCode::Enter).as_deref(), Some("ab c"));
        // A huge paste is cut, and the user told.
        paste(&mut model, &"x".repeat(100_000));
        assert_eq!(model.input.text.len(), MAX_PASTE_BYTES);
        assert!(matches!(model.chat.back(), Some(ChatLine::Info(t)) if t.contains("cut")));
    }

    #[test]
    fn help_opened_by_a_command_takes_the_keys_and_one_esc_closes_it() {
        let mut model = meeting(&[]);
        press(&mut model, KeyCode::Char('/'));
        for c in "help".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        assert_eq!(press(&mut model, KeyCode::Enter).as_deref(), Some("/help"));
        // The main loop answers with the help event.
        model.local(&LocalEvent::Help {
            commands: crate::command::help_lines(),
        });
        assert!(model.help_open && model.input.typing);
        model.help_max_scroll = 30;
        model.help_page = 20;
        for code in [KeyCode::Down, KeyCode::Down, KeyCode::PageDown] {
            assert_eq!(press(&mut model, code), None);
        }
        assert_eq!(model.help_scroll, 22);
        press(&mut model, KeyCode::PageDown);
        assert_eq!(model.help_scroll, 30, "no further than the end");
        press(&mut model, KeyCode::Up);
        assert_eq!(model.help_scroll, 29);
        assert!(
            model.input.text.is_empty(),
            "keys did not reach the input line"
        );
        assert_eq!(press(&mut model, KeyCode::Esc), None);
        assert!(!model.help_open, "one Esc closes it");
        assert!(model.input.typing, "and typing goes on where it was");
        press(&mut model, KeyCode::Char('x'));
        assert_eq!(model.input.text, "x");
        // Opened again: from the top.
        press(&mut model, KeyCode::F(1));
        assert!(model.help_open && model.help_scroll == 0);
        assert_eq!(press(&mut model, KeyCode::Char('q')), None);
        assert!(
            !model.help_open && model.confirm.is_none(),
            "q only closed it"
        );
    }

    /// You (1) in a meeting with ana (2) and bo (3); `screens` say who shares one.
    fn meeting(screens: &[u32]) -> ViewModel {
        use common::{MeetingId, MemberInfo, PerKind};
        let members = [(1, "ed"), (2, "ana"), (3, "bo")]
            .into_iter()
            .map(|(id, name)| {
                let mut sharing = PerKind::default();
                sharing[MediaKind::Screen] = screens.contains(&id);
                MemberInfo {
                    id: ClientId(id),
                    name: name.into(),
                    host: id == 1,
                    hand: false,
                    sharing,
                }
            })
            .collect();
        let mut state = crate::meeting::MeetingState::new(ClientId(1));
        state.apply(&common::Event::Joined {
            meeting: MeetingId::parse("abc-def").expect("valid id"),
            members,
        });
        let mut model = ViewModel::new(ClientId(1));
        model.set_meeting(&state);
        model
    }

    fn with_state(model: &mut ViewModel, change: impl FnOnce(&mut crate::meeting::MeetingState)) {
        let mut state = model.state.clone();
        change(&mut state);
        model.set_meeting(&state);
    }

    /// Cy Lee beside a Cy: Tab offers each in a form that names only them,
    /// and the members menu's message starts with `Cy Lee#2`, as listed.
    #[test]
    fn names_with_spaces_are_completed_and_offered_whole() {
        let mut model = meeting(&[]);
        with_state(&mut model, |s| {
            s.members[1].name = "Cy Lee".into();
            s.members[2].name = "Cy".into();
        });
        for c in "/msg cy".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        press(&mut model, KeyCode::Tab);
        assert_eq!(model.input.text, "/msg \"Cy Lee\"");
        press(&mut model, KeyCode::Tab);
        assert_eq!(
            model.input.text, "/msg Cy#3",
            "Cy alone would be ambiguous here"
        );
        press(&mut model, KeyCode::Esc);

        model.input.text.clear();
        press(&mut model, KeyCode::Char('M'));
        press(&mut model, KeyCode::Char('m'));
        assert_eq!(model.input.text, "/msg Cy Lee#2 ");
    }

    #[test]
    fn the_members_menu_picks_a_member_and_runs_the_host_s_commands() {
        let mut model = meeting(&[]);
        assert_eq!(press(&mut model, KeyCode::Char('M')), None);
        assert_eq!(
            model.members_menu.as_ref().map(|m| m.selected),
            Some(ClientId(2)),
            "opens on the first other member"
        );
        press(&mut model, KeyCode::Down);
        assert_eq!(
            press(&mut model, KeyCode::Char('a')).as_deref(),
            Some("/stop bo#3 audio")
        );
        assert!(model.members_menu.is_none(), "an action closes it");

        // Removing asks first; y sends it.
        press(&mut model, KeyCode::Char('M'));
        assert_eq!(press(&mut model, KeyCode::Char('x')), None);
        assert_eq!(
            model.confirm.as_ref().map(|c| c.question.as_str()),
            Some("remove ana#2?")
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('y')).as_deref(),
            Some("/remove ana#2")
        );

        // A message is typed by the user, not sent.
        press(&mut model, KeyCode::Char('M'));
        assert_eq!(press(&mut model, KeyCode::Char('m')), None);
        assert!(model.input.typing);
        assert_eq!(model.input.text, "/msg ana#2 ");

        // Up past the top stays on the first member (you); nothing acts on you.
        model.input.typing = false;
        press(&mut model, KeyCode::Char('M'));
        press(&mut model, KeyCode::Up);
        press(&mut model, KeyCode::Up);
        assert_eq!(
            model.members_menu.as_ref().map(|m| m.selected),
            Some(ClientId(1))
        );
        assert_eq!(press(&mut model, KeyCode::Char('x')), None);
        assert!(model.confirm.is_none());
    }

    #[test]
    fn the_members_menu_offers_a_member_only_what_they_may_do() {
        let mut model = meeting(&[]);
        with_state(&mut model, |state| {
            for member in &mut state.members {
                member.host = member.id == ClientId(2);
            }
        });
        press(&mut model, KeyCode::Char('M'));
        assert!(!crate::tui::members_menu::footer(&model).contains("remove"));
        assert_eq!(press(&mut model, KeyCode::Char('x')), None, "not the host");
        assert!(model.confirm.is_none() && model.members_menu.is_none());
        press(&mut model, KeyCode::Char('M'));
        assert_eq!(
            press(&mut model, KeyCode::Char('u')).as_deref(),
            Some("/mute ana#2")
        );
        press(&mut model, KeyCode::Char('M'));
        assert_eq!(press(&mut model, KeyCode::Esc), None);
        assert!(model.members_menu.is_none(), "Esc closes it");
    }

    #[test]
    fn the_host_lets_someone_waiting_in_from_the_members_menu() {
        let mut model = meeting(&[]);
        with_state(&mut model, |state| {
            state.waiting = vec![common::MemberRef {
                id: ClientId(9),
                name: "dee".into(),
            }];
        });
        press(&mut model, KeyCode::Char('M'));
        // Down past the members to the one waiting.
        for _ in 0..5 {
            press(&mut model, KeyCode::Down);
        }
        let footer = crate::tui::members_menu::footer(&model);
        assert!(
            footer.contains("y let in") && !footer.contains("remove"),
            "{footer}"
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('y')).as_deref(),
            Some("/admit dee#9")
        );
        press(&mut model, KeyCode::Char('M'));
        press(&mut model, KeyCode::End);
        assert_eq!(
            press(&mut model, KeyCode::Char('n')).as_deref(),
            Some("/deny dee#9")
        );
        press(&mut model, KeyCode::Char('M'));
        press(&mut model, KeyCode::End);
        assert_eq!(
            press(&mut model, KeyCode::Char('x')),
            None,
            "no removing from the lobby"
        );
    }

    #[test]
    fn screen_keys_share_present_and_ask() {
        let mut model = meeting(&[2, 3]);
        assert_eq!(
            press(&mut model, KeyCode::Char('S')).as_deref(),
            Some("/screen on")
        );
        model.local(&LocalEvent::Sharing {
            kind: MediaKind::Screen,
            on: true,
            source: None,
        });
        assert_eq!(
            press(&mut model, KeyCode::Char('S')).as_deref(),
            Some("/screen off")
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('a')).as_deref(),
            Some("/control request 2"),
            "the first sharer's screen is shown"
        );
        assert_eq!(press(&mut model, KeyCode::Tab), None);
        assert_eq!(
            press(&mut model, KeyCode::Char('a')).as_deref(),
            Some("/control request 3"),
            "Tab showed bo's"
        );
        press(&mut model, KeyCode::Tab);
        assert_eq!(
            model.presented_screen().map(|m| m.id),
            Some(ClientId(2)),
            "wraps"
        );
        assert!(model.presentation().is_some());
        press(&mut model, KeyCode::Char('p'));
        assert!(model.presentation().is_none(), "p: the grid");
        press(&mut model, KeyCode::Char('p'));
        assert!(model.presentation().is_some());

        let mut alone = meeting(&[]);
        assert_eq!(press(&mut alone, KeyCode::Char('a')), None);
        assert!(
            alone
                .chat
                .contains(&ChatLine::Info("nobody else shares a screen".into()))
        );
    }

    #[test]
    fn owner_keys_grant_ignore_and_revoke() {
        let mut model = meeting(&[1]);
        assert_eq!(press(&mut model, KeyCode::Char('g')), None, "nobody asked");
        assert_eq!(
            press(&mut model, KeyCode::Char('r')),
            None,
            "nothing to revoke"
        );
        with_state(&mut model, |s| {
            s.control_requests = vec![(ClientId(1), ClientId(2)), (ClientId(1), ClientId(3))];
        });
        assert_eq!(
            press(&mut model, KeyCode::Char('g')).as_deref(),
            Some("/control grant 2")
        );
        assert_eq!(press(&mut model, KeyCode::Char('n')), None);
        assert_eq!(
            press(&mut model, KeyCode::Char('g')).as_deref(),
            Some("/control grant 3"),
            "ana's request was waved away: bo's is next"
        );
        with_state(&mut model, |s| {
            s.control_requests.clear();
            s.controls.insert(ClientId(1), ClientId(3));
        });
        assert_eq!(
            press(&mut model, KeyCode::Char('r')).as_deref(),
            Some("/control revoke")
        );
    }

    #[test]
    fn control_mode_sends_keys_to_the_screen_until_left() {
        let mut model = meeting(&[2, 3]);
        assert_eq!(press(&mut model, KeyCode::Char('C')), None);
        assert!(!model.in_control_mode(), "nothing to control yet");
        with_state(&mut model, |s| {
            s.controls.insert(ClientId(3), ClientId(1));
        });
        press(&mut model, KeyCode::Char('C'));
        assert!(model.in_control_mode());
        assert_eq!(
            model.presentation().map(|m| m.id),
            Some(ClientId(3)),
            "the controlled screen is shown, not the first sharer's"
        );
        assert_eq!(
            press(&mut model, KeyCode::Char('q')).as_deref(),
            Some("/input type q")
        );
        assert_eq!(
            press(&mut model, KeyCode::PageUp).as_deref(),
            Some("/input key PageUp"),
            "not the chat's scrolling"
        );
        assert_eq!(
            press(&mut model, KeyCode::Enter).as_deref(),
            Some("/input key Return")
        );
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(
            handle(&mut model, ctrl('s')).len(),
            3,
            "Control held around s"
        );
        assert_eq!(
            handle(&mut model, ctrl('c')),
            ["/quit"],
            "Ctrl-C still quits"
        );
        assert!(handle(&mut model, ctrl(']')).is_empty());
        assert!(!model.in_control_mode(), "Ctrl-] leaves");
        assert_eq!(press(&mut model, KeyCode::Char('q')), None);
        assert!(model.confirm.is_some(), "q is a shortcut again: it asks");
        press(&mut model, KeyCode::Char('n'));

        press(&mut model, KeyCode::Char('C'));
        assert_eq!(press(&mut model, KeyCode::F(2)), None);
        assert!(!model.in_control_mode(), "F2 leaves");
        press(&mut model, KeyCode::Char('C'));
        with_state(&mut model, |s| s.controls.clear());
        assert!(
            !model.in_control_mode() && !model.control_mode,
            "the grant ended"
        );
    }

    #[test]
    fn mouse_goes_to_the_controlled_screen_only_in_control_mode() {
        use super::super::remote::ScreenPlacement;
        use ratatui::crossterm::event::{MouseButton, MouseEventKind};
        use ratatui::layout::Rect;
        let mut model = meeting(&[2]);
        with_state(&mut model, |s| {
            s.controls.insert(ClientId(2), ClientId(1));
        });
        let picture = Rect::new(1, 2, 64, 18);
        model.screen_at = Some(ScreenPlacement {
            owner: ClientId(2),
            picture,
            visible: picture,
            pixels: (1280, 720),
        });
        let click = MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 1,
            row: 2,
            modifiers: KeyModifiers::NONE,
        };
        assert_eq!(mouse(&model, &click), None, "not in control mode");
        press(&mut model, KeyCode::Char('C'));
        assert_eq!(
            mouse(&model, &click),
            Some(RemoteInput::Line("/input press 10 20 left".into()))
        );
        model.screen_at = model.screen_at.map(|at| ScreenPlacement {
            owner: ClientId(3),
            ..at
        });
        assert_eq!(mouse(&model, &click), None, "another screen's picture");
    }

    #[test]
    fn the_input_line_edits_like_readline() {
        let mut model = meeting(&[]);
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        press(&mut model, KeyCode::Char('i'));
        for c in "hello world".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        // Ctrl-A, then a word at the start; End, then Backspace.
        handle(&mut model, ctrl('a'));
        for c in "oh ".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        press(&mut model, KeyCode::End);
        press(&mut model, KeyCode::Backspace);
        assert_eq!(model.input.text, "oh hello worl");
        // Left twice, Delete: the character under the cursor.
        press(&mut model, KeyCode::Left);
        press(&mut model, KeyCode::Left);
        press(&mut model, KeyCode::Delete);
        assert_eq!(model.input.text, "oh hello wol");
        press(&mut model, KeyCode::Right);
        handle(&mut model, ctrl('w'));
        assert_eq!(model.input.text, "oh hello ");
        handle(&mut model, ctrl('e'));
        press(&mut model, KeyCode::Home);
        press(&mut model, KeyCode::Right);
        handle(&mut model, ctrl('k'));
        assert_eq!(model.input.text, "o");
        handle(&mut model, ctrl('u'));
        assert_eq!(model.input.text, "");
        // Two lines sent, then Up recalls them, newest first; Down returns.
        for line in ["first", "/members"] {
            for c in line.chars() {
                press(&mut model, KeyCode::Char(c));
            }
            assert_eq!(press(&mut model, KeyCode::Enter).as_deref(), Some(line));
        }
        press(&mut model, KeyCode::Char('x'));
        press(&mut model, KeyCode::Up);
        assert_eq!(model.input.text, "/members");
        press(&mut model, KeyCode::Up);
        assert_eq!(model.input.text, "first");
        assert_eq!(model.chat_scroll, 0, "Up while typing does not scroll");
        press(&mut model, KeyCode::Down);
        press(&mut model, KeyCode::Down);
        assert_eq!(model.input.text, "x");
        handle(&mut model, ctrl('u'));
        // Tab: a command, then a member's name; repeated Tabs cycle.
        for c in "/vol".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        assert_eq!(press(&mut model, KeyCode::Tab), None);
        assert_eq!(model.input.text, "/volume ");
        press(&mut model, KeyCode::Char('a'));
        press(&mut model, KeyCode::Tab);
        assert_eq!(model.input.text, "/volume ana");
        with_state(&mut model, |s| {
            s.members[2].name = "Ana".into();
        });
        press(&mut model, KeyCode::Char(' '));
        handle(&mut model, ctrl('w'));
        handle(&mut model, ctrl('w'));
        for c in "/msg a".chars() {
            press(&mut model, KeyCode::Char(c));
        }
        press(&mut model, KeyCode::Tab);
        assert_eq!(model.input.text, "/msg ana#2", "two Anas: with the id");
        press(&mut model, KeyCode::Tab);
        assert_eq!(model.input.text, "/msg Ana#3");
        press(&mut model, KeyCode::Tab);
        assert_eq!(model.input.text, "/msg a", "back to what was typed");
        assert!(model.input.typing, "Tab while typing is no shortcut");
    }

    #[test]
    fn y_copies_the_meeting_id_and_says_so() {
        let mut alone = ViewModel::new(ClientId(1));
        assert_eq!(press(&mut alone, KeyCode::Char('y')), None);
        assert!(alone.copy.is_none(), "no meeting, nothing to copy");
        let mut model = meeting(&[]);
        assert_eq!(press(&mut model, KeyCode::Char('y')), None);
        assert_eq!(model.copy.as_deref(), Some("abc-def"));
        assert!(
            matches!(model.chat.back(), Some(ChatLine::Info(t)) if t.starts_with("copied abc-def to the clipboard"))
        );
    }

    #[test]
    fn the_wheel_scrolls_the_chat_and_clicks_focus_tiles_and_show_members() {
        use super::super::model::ClickMap;
        use ratatui::crossterm::event::{MouseButton, MouseEventKind};
        use ratatui::layout::Rect;
        let mut model = meeting(&[]);
        for n in 0..20 {
            model.log(&format!("line {n}"));
        }
        model.clicks = ClickMap {
            chat: Rect::new(50, 8, 30, 14),
            member_rows: vec![
                (ClientId(1), Rect::new(51, 2, 28, 1)),
                (ClientId(2), Rect::new(51, 3, 28, 1)),
                (ClientId(3), Rect::new(51, 4, 28, 1)),
            ],
            tiles: vec![
                (ClientId(2), Rect::new(0, 1, 50, 11)),
                (ClientId(3), Rect::new(0, 12, 50, 11)),
            ],
        };
        let event = |kind, column, row| MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        };
        let click = |column, row| event(MouseEventKind::Down(MouseButton::Left), column, row);

        assert!(view_mouse(
            &mut model,
            &event(MouseEventKind::ScrollUp, 60, 10)
        ));
        assert_eq!(model.chat_scroll, WHEEL_LINES as usize);
        assert!(view_mouse(
            &mut model,
            &event(MouseEventKind::ScrollDown, 60, 10)
        ));
        assert_eq!(model.chat_scroll, 0);
        assert!(
            !view_mouse(&mut model, &event(MouseEventKind::ScrollUp, 10, 10)),
            "the wheel over a tile does not scroll the chat"
        );

        // bo's tile: focused; again: the grid; Esc returns too.
        assert!(view_mouse(&mut model, &click(10, 15)));
        assert_eq!(model.focused_member().map(|m| m.id), Some(ClientId(3)));
        assert!(view_mouse(&mut model, &click(10, 15)));
        assert_eq!(model.focused, None);
        view_mouse(&mut model, &click(10, 2));
        assert_eq!(model.focused, Some(ClientId(2)));
        press(&mut model, KeyCode::Esc);
        assert_eq!(model.focused, None, "Esc returns to all tiles");
        // A focused member who leaves: all tiles again.
        view_mouse(&mut model, &click(10, 2));
        with_state(&mut model, |s| s.members.retain(|m| m.id != ClientId(2)));
        assert!(model.focused_member().is_none());

        // bo in the members list: what can be done about him (we host).
        assert!(view_mouse(&mut model, &click(55, 4)));
        assert!(
            matches!(model.chat.back(), Some(ChatLine::Info(t)) if t.contains("/msg bo#3") && t.contains("/remove bo#3")),
            "{:?}",
            model.chat.back()
        );
        assert!(!view_mouse(&mut model, &click(79, 0)), "nothing there");
        // Releases and moves do nothing.
        assert!(!view_mouse(
            &mut model,
            &event(MouseEventKind::Up(MouseButton::Left), 10, 15)
        ));
    }
}
