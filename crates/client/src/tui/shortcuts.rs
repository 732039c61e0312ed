//! The keys of the full-screen view, in one table (`SHORTCUTS`): each row is
//! what the `?` overlay, the man page and the README's table of keys say
//! about a key, the presses it answers to and what each does, and what the
//! bottom line's key bar says about it now. `keys` dispatches a press
//! through the table, `help` lists it, `render` draws the bar from
//! `key_hints`, so none of them can go stale.
//!
//! Adding a key is one row here (and, for a new thing to do, the `Command`
//! it makes). Keys while typing (`editing`), in the members menu
//! (`members_menu`), in control mode (`remote`) and in the overlay
//! (`keys::help_key`) are their own small worlds; their rows here only say
//! what they are.

use super::confirm::confirm_or_make;
use super::members_menu;
use super::model::{ChatLine, ViewModel};
use crate::command::{Command, Entered};
use common::MediaKind;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Chat lines scrolled by PageUp and PageDown.
const PAGE: isize = 10;

/// One row of the key list: the keys, what they do in a line (the `?`
/// overlay), and the whole story where it is longer (the README's table of
/// keys and the man page; empty: `help` is all of it); the presses the row
/// answers to, and its hint in the key bar.
pub struct Shortcut {
    /// As the overlay shows them: `Enter, i, t`. The first is the one the
    /// key bar names.
    pub keys: &'static str,
    pub help: &'static str,
    pub details: &'static str,
    /// The presses it answers to and what each does; none for a row that
    /// only says what another part of the view does with keys.
    pub bindings: &'static [Binding],
    /// Its hint in the key bar now, if it has one.
    pub bar: fn(&ViewModel) -> Option<Hint>,
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

    /// The key the bar names: the first of `keys`.
    fn bar_key(&self) -> &'static str {
        self.keys.split(", ").next().unwrap_or(self.keys)
    }
}

/// A key press a row answers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Press {
    /// This key, whatever is held with it.
    Key(KeyCode),
    /// This character with Ctrl held.
    Ctrl(char),
}

impl Press {
    fn matches(self, key: &KeyEvent) -> bool {
        match self {
            Press::Key(code) => key.code == code,
            Press::Ctrl(c) => {
                key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
            }
        }
    }
}

/// When a press does what its row says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Before anything else, whatever the view is doing (Ctrl-C).
    Always,
    /// In control mode, where every other key goes to the remote screen.
    ControlMode,
    /// As a shortcut, and also while a line is being typed.
    AlsoTyping,
    /// As a shortcut: not while typing, in control mode, or with the
    /// overlay, the members menu or a question open.
    Shortcut,
}

/// What a press does: changes the view, and may hand the main loop a command.
pub type Action = fn(&mut ViewModel) -> Option<Entered>;

/// One press of a row, when it applies, and what it does.
pub struct Binding {
    pub press: Press,
    pub when: When,
    pub act: Action,
}

const fn on(press: Press, act: Action) -> Binding {
    Binding {
        press,
        when: When::Shortcut,
        act,
    }
}

const fn char(c: char) -> Press {
    Press::Key(KeyCode::Char(c))
}

/// A hint in the key bar: what the key does now, in a word or two. Rank 0
/// is always shown; the others are added rank by rank (1 first) while the
/// line holds them. `place` orders the bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hint {
    pub what: &'static str,
    pub rank: u8,
    pub place: u8,
}

const fn hint(what: &'static str, rank: u8, place: u8) -> Option<Hint> {
    Some(Hint { what, rank, place })
}

/// `hint` where `shown`, else none.
fn when(shown: bool, hint: Option<Hint>) -> Option<Hint> {
    if shown { hint } else { None }
}

/// In a meeting, or waiting at one's door: creating or joining another is
/// refused then (leave first), leaving is what there is to do.
fn inside(model: &ViewModel) -> bool {
    model.state.meeting.is_some() || model.state.waiting_for.is_some()
}

fn presenting(model: &ViewModel) -> bool {
    model.presentation().is_some()
}

/// The keys of the full-screen view: one table for the `?` overlay, the man
/// page, the README, the key handling and the key bar, so none of them can
/// go stale.
pub const SHORTCUTS: &[Shortcut] = &[
    Shortcut {
        keys: "Enter, i, t",
        help: "type a chat message (Enter sends, Esc stops typing)",
        details: "type a chat line or a `/command`; Enter sends it, Esc (or Enter on an empty line) goes back to the keys, and so does sending `/join`, `/create` or `/leave`: the next key is a key again",
        bindings: &[
            on(Press::Key(KeyCode::Enter), |m| start_typing(m, "")),
            on(char('i'), |m| start_typing(m, "")),
            on(char('t'), |m| start_typing(m, "")),
        ],
        bar: |_| hint("chat", 0, 0),
    },
    Shortcut {
        keys: "/",
        help: "type a command (/help lists them)",
        details: "type a command",
        bindings: &[on(char('/'), |m| start_typing(m, "/"))],
        bar: |m| hint("cmd", if presenting(m) { 1 } else { 0 }, 1),
    },
    Shortcut {
        keys: "while typing",
        help: "Left Right Home End (Ctrl-A, Ctrl-E) move; Backspace, Delete, Ctrl-U, Ctrl-K, Ctrl-W delete; Up Down recall lines you sent; Tab completes commands and names (again for the next)",
        details: "`Left` `Right` `Home` `End` (and `Ctrl-A` `Ctrl-E` `Ctrl-B` `Ctrl-F`) move the cursor; `Backspace`, `Delete`, `Ctrl-U` (to the start), `Ctrl-K` (to the end), `Ctrl-W` (the word before) delete; `Up` / `Down` recall the lines you sent this session; `Tab` completes a command name after `/`, or a member's name from its first letters or words (as commands take it: quoted when it has spaces, `name#id` when the name alone could mean someone else), and `Tab` again shows the next candidate; `PgUp` `PgDn` still scroll the chat",
        bindings: &[],
        bar: |_| None,
    },
    Shortcut {
        keys: "m",
        help: if cfg!(feature = "audio") {
            "microphone on/off"
        } else {
            "audio on/off: a test tone (this build has no microphone support)"
        },
        details: "the microphone on and off in builds with `--features devices`, the test tone in builds without (the `?` list says which)",
        bindings: &[on(char('m'), |m| toggle(m, MediaKind::Audio))],
        bar: |_| hint("mic", 0, 2),
    },
    Shortcut {
        keys: "v",
        help: if cfg!(feature = "camera") {
            "camera on/off"
        } else {
            "video on/off: a test pattern (this build has no camera support)"
        },
        details: "the camera on and off in builds with `--features devices`, the test pattern in builds without (the `?` list says which)",
        bindings: &[on(char('v'), |m| toggle(m, MediaKind::Video))],
        bar: |_| hint("cam", 0, 3),
    },
    Shortcut {
        keys: "S",
        help: "share your screen on/off",
        details: "share your screen (the test desktop; `/screen on x11` shares a display) on and off",
        bindings: &[on(char('S'), |m| toggle(m, MediaKind::Screen))],
        bar: |m| {
            let rank = if presenting(m) || inside(m) { 0 } else { 2 };
            hint("screen", rank, 5)
        },
    },
    Shortcut {
        keys: "p",
        help: "presentation (a shared screen large) or the grid",
        details: "presentation (a shared screen large, cameras in a strip) or the grid; the view switches to the presentation when someone starts sharing",
        bindings: &[on(char('p'), |m| {
            m.toggle_presentation();
            None
        })],
        // In the grid, a screen shared: say how to see it, before S.
        bar: |m| match (presenting(m), m.presented_screen()) {
            (true, _) => hint("grid", 0, 6),
            (false, Some(_)) => hint("present", 0, 4),
            (false, None) => None,
        },
    },
    Shortcut {
        keys: "f",
        help: "speaker view (who speaks fills the view, the others below) or the grid",
        details: "speaker view: who speaks (or spoke last) fills the video area above a strip of the others; `f` again for the grid",
        bindings: &[on(char('f'), |m| {
            m.toggle_speaker_view();
            None
        })],
        bar: |m| when(!presenting(m) && inside(m), hint("speaker", 2, 10)),
    },
    Shortcut {
        keys: "Tab",
        help: "show the next shared screen",
        details: "show the next shared screen, when several members share one",
        bindings: &[on(Press::Key(KeyCode::Tab), |m| {
            m.next_screen();
            None
        })],
        bar: |m| {
            let several = m.state.screen_sharers().nth(1).is_some();
            when(presenting(m), hint("next", if several { 0 } else { 3 }, 7))
        },
    },
    Shortcut {
        keys: "a",
        help: "ask to control the screen shown",
        details: "",
        bindings: &[on(char('a'), ask_for_control)],
        bar: |m| {
            let asks = presenting(m) && m.state.controlled_by_me().is_none();
            when(asks, hint("control", 0, 8))
        },
    },
    Shortcut {
        keys: "g, n",
        help: "grant or ignore a request to control your screen",
        details: "grant or ignore a request to control your screen (a banner shows it)",
        bindings: &[
            on(char('g'), |m| {
                m.pending_request()
                    .map(|asking| Entered::made(Command::ControlGrant(asking.to_string())))
            }),
            on(char('n'), |m| {
                m.ignore_request();
                None
            }),
        ],
        bar: |_| None,
    },
    Shortcut {
        keys: "r",
        help: "take back control of your screen, or give up control",
        details: "take control of your screen back, or give up control of someone else's",
        bindings: &[on(char('r'), revoke)],
        bar: |_| None,
    },
    Shortcut {
        keys: "C",
        help: "control mode: keys and mouse go to the screen you control (Ctrl-C still quits)",
        details: "control mode, once granted: keys and the mouse (click, drag, wheel, in the screen's tile) go to the shared screen; Ctrl-C still quits",
        bindings: &[on(char('C'), control_mode)],
        bar: |m| {
            let controls = presenting(m) && m.state.controlled_by_me().is_some();
            when(controls, hint("control", 0, 8))
        },
    },
    Shortcut {
        keys: "F2, Ctrl-]",
        help: "leave control mode",
        details: "",
        bindings: &[
            leave_control_mode(Press::Key(KeyCode::F(2))),
            // Terminals send Ctrl-] as the byte 0x1d, which crossterm reports as Ctrl-5.
            leave_control_mode(Press::Ctrl(']')),
            leave_control_mode(Press::Ctrl('5')),
        ],
        bar: |_| None,
    },
    Shortcut {
        keys: "c",
        help: "create a meeting",
        details: "",
        bindings: &[on(char('c'), |_| {
            Some(Entered::made(Command::Create(None)))
        })],
        bar: |m| when(!presenting(m) && !inside(m), hint("create", 0, 12)),
    },
    Shortcut {
        keys: "j",
        help: "join a meeting: type its id, then Enter (the keys work again after it)",
        details: "",
        bindings: &[on(char('j'), |m| start_typing(m, "/join "))],
        bar: |m| when(!presenting(m) && !inside(m), hint("join", 0, 13)),
    },
    Shortcut {
        keys: "l",
        help: "leave the meeting, after you confirm with y or Enter",
        details: "leave the meeting (or stop waiting in its lobby), once you confirm with `y` or Enter; the question says when a locked meeting would not let you back",
        bindings: &[on(char('l'), |m| confirm_or_make(m, Command::Leave))],
        bar: |m| {
            if presenting(m) {
                hint("leave", 2, 11)
            } else if m.state.meeting.is_none() && m.state.waiting_for.is_some() {
                hint("stop waiting", 0, 11)
            } else if inside(m) {
                hint("leave", 0, 11)
            } else {
                None
            }
        },
    },
    Shortcut {
        keys: "s",
        help: "show the stats in the chat",
        details: "",
        bindings: &[on(char('s'), |m| {
            m.chat_to_newest();
            Some(Entered::made(Command::Stats))
        })],
        bar: |_| None,
    },
    Shortcut {
        keys: "y",
        help: "copy the meeting id to the clipboard (OSC 52, where the terminal allows it)",
        details: "copy the meeting id to the clipboard with OSC 52 (terminals that allow it, and tmux with `set-clipboard on`); the chat pane says what was copied, and what others type to join",
        bindings: &[on(char('y'), |m| {
            m.copy_meeting_id();
            None
        })],
        bar: |_| None,
    },
    Shortcut {
        keys: "Up Down PgUp PgDn",
        help: "scroll the chat back and forth (the mouse wheel too)",
        details: "scroll the chat back and forth (the mouse wheel over the chat scrolls it too)",
        bindings: &[
            on(Press::Key(KeyCode::Up), |m| scroll(m, 1)),
            on(Press::Key(KeyCode::Down), |m| scroll(m, -1)),
            Binding {
                press: Press::Key(KeyCode::PageUp),
                when: When::AlsoTyping,
                act: |m| scroll(m, PAGE),
            },
            Binding {
                press: Press::Key(KeyCode::PageDown),
                when: When::AlsoTyping,
                act: |m| scroll(m, -PAGE),
            },
        ],
        bar: |_| None,
    },
    Shortcut {
        keys: "click",
        help: "a tile: it fills the video area (click again or Esc for all tiles); a member in the list: what you can do about them",
        details: "on a tile: it fills the video area (click it again, or Esc, for all tiles); on a member in the members list: the commands for them (`/msg`, `/mute`, `/volume`, and the host's) in the chat. The view reports the mouse, so select text with Shift held, as in most terminal programs",
        // The clicks themselves are `keys::view_mouse`'s.
        bindings: &[on(Press::Key(KeyCode::Esc), |m| {
            m.focused = None;
            None
        })],
        bar: |_| None,
    },
    Shortcut {
        keys: "M",
        help: "members menu: pick a member, or (host) someone waiting in the lobby, and act on them",
        details: "members menu: ↑↓ picks a member, then `m` message, `u`/`U` mute or unmute them for you, and for the host `a`/`v` stop their audio or video, `A` allow it again, `l` lower their hand, `h` make them host, `x` remove them (the last two ask first); below the members, the host finds who waits in the lobby: `y` lets them in, `n` turns them away",
        bindings: &[on(char('M'), |m| {
            members_menu::open(m);
            None
        })],
        bar: |m| when(!presenting(m) && inside(m), hint("members", 1, 9)),
    },
    Shortcut {
        keys: "End",
        help: "back to the newest chat line",
        details: "",
        bindings: &[on(Press::Key(KeyCode::End), |m| {
            m.chat_to_newest();
            None
        })],
        bar: |_| None,
    },
    Shortcut {
        keys: "?, F1",
        help: "show this list (arrows and PgUp PgDn scroll it, any other key closes it)",
        details: "every key and command (also `/help`); the arrows, `PgUp` and `PgDn` scroll the list, any other key closes it",
        bindings: &[
            on(char('?'), open_help),
            on(Press::Key(KeyCode::F(1)), open_help),
        ],
        bar: |_| hint("keys", 0, 15),
    },
    Shortcut {
        keys: "q",
        help: "leave and quit, after you confirm with y or Enter",
        details: "leave and quit, once you confirm with `y` or Enter (any other key keeps you in); `/quit`, `/leave` and `/cancel` typed in the view ask the same way",
        bindings: &[on(char('q'), |m| confirm_or_make(m, Command::Quit))],
        bar: |_| hint("quit", 0, 14),
    },
    Shortcut {
        keys: "Ctrl-C",
        help: "leave and quit at once",
        details: "leave and quit at once; the terminal is restored, also after a crash",
        // In raw mode Ctrl-C is a key, not a signal: it must always quit, also
        // in control mode, where it would otherwise go to the remote screen.
        bindings: &[
            quit_at_once(Press::Ctrl('c')),
            quit_at_once(Press::Ctrl('d')),
        ],
        bar: |_| None,
    },
];

const fn quit_at_once(press: Press) -> Binding {
    Binding {
        press,
        when: When::Always,
        act: |_| Some(Entered::made(Command::Quit)),
    }
}

const fn leave_control_mode(press: Press) -> Binding {
    Binding {
        press,
        when: When::ControlMode,
        act: |m| {
            m.control_mode = false;
            None
        },
    }
}

/// What `key` does when the view is in state `when`, if a row says.
pub fn action(key: &KeyEvent, when: When) -> Option<Action> {
    SHORTCUTS
        .iter()
        .flat_map(|row| row.bindings)
        .find(|binding| binding.when == when && binding.press.matches(key))
        .map(|binding| binding.act)
}

/// The keys worth showing in the bar now, in their places, as many as fit
/// in `width` columns: every rank 0, then rank by rank while they fit.
pub fn key_hints(model: &ViewModel, width: usize) -> Vec<(&'static str, &'static str)> {
    let mut hints: Vec<(&'static str, Hint)> = SHORTCUTS
        .iter()
        .filter_map(|row| (row.bar)(model).map(|hint| (row.bar_key(), hint)))
        .collect();
    hints.sort_by_key(|(_, hint)| hint.place);
    // " KEY " and "WHAT ".
    let cost = |(key, h): &(&str, Hint)| key.chars().count() + h.what.chars().count() + 3;
    let mut shown: Vec<bool> = hints.iter().map(|(_, h)| h.rank == 0).collect();
    let mut used: usize = hints.iter().filter(|(_, h)| h.rank == 0).map(cost).sum();
    let last_rank = hints.iter().map(|(_, h)| h.rank).max().unwrap_or(0);
    for rank in 1..=last_rank {
        for (i, hint) in hints.iter().enumerate() {
            if hint.1.rank == rank && used + cost(hint) <= width {
                shown[i] = true;
                used += cost(hint);
            }
        }
    }
    hints
        .iter()
        .zip(shown)
        .filter(|(_, shown)| *shown)
        .map(|((key, h), _)| (*key, h.what))
        .collect()
}

fn open_help(model: &mut ViewModel) -> Option<Entered> {
    model.open_help();
    None
}

fn scroll(model: &mut ViewModel, lines: isize) -> Option<Entered> {
    model.scroll_chat(lines);
    None
}

fn start_typing(model: &mut ViewModel, text: &str) -> Option<Entered> {
    model.input.typing = true;
    model.input.set(text);
    None
}

/// The key's source for a kind: the device where the build has one, the
/// synthetic source otherwise (so the key does something in every build).
pub fn key_source(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio if cfg!(feature = "audio") => " mic",
        MediaKind::Video if cfg!(feature = "camera") => " camera",
        _ => "",
    }
}

fn toggle(model: &mut ViewModel, kind: MediaKind) -> Option<Entered> {
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
fn revoke(model: &mut ViewModel) -> Option<Entered> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_press_does_two_things_at_once() {
        let bindings: Vec<&Binding> = SHORTCUTS.iter().flat_map(|row| row.bindings).collect();
        for (i, a) in bindings.iter().enumerate() {
            for b in &bindings[i + 1..] {
                assert!(
                    !(a.press == b.press && a.when == b.when),
                    "{:?} is bound twice ({:?})",
                    a.press,
                    a.when
                );
            }
        }
    }
}
