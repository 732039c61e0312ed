//! The members menu (`M`): pick a member with the arrows, then act on them
//! with one key: a private message, a local mute, and for the host the
//! moderation commands (stop their audio or video, let it back, remove,
//! hand over the host role, lower a hand); below the members, the host
//! finds who waits in the lobby, to let in or turn away.
//!
//! Every action is a `Command` from the command table, for the member
//! named as the members list shows them: the menu adds no protocol of its
//! own, only a way to reach it without knowing names or ids. What cannot
//! be taken back asks first. Each row of `ACTIONS` says its key, its label
//! and what it does.

use super::model::{Confirmation, MembersMenu, ViewModel};
use crate::clean::clean;
use crate::command::{Command, Entered};
use crate::meeting::label;
use common::{ClientId, MediaKind};
use ratatui::crossterm::event::{KeyCode, KeyEvent};

/// One action: its key, what the menu says, whether only the host has it,
/// and what it does for the member (named as commands take them).
pub struct Action {
    pub key: char,
    pub label: &'static str,
    pub host_only: bool,
    run: fn(String) -> Step,
}

/// What an action does.
enum Step {
    /// Runs the command now.
    Send(Command),
    /// Asks this question first: it cannot be taken back.
    Ask(Command, String),
    /// Puts this in the input line, for the user to finish.
    Type(String),
}

/// What the host may do with someone waiting in the lobby.
pub const LOBBY_ACTIONS: &[Action] = &[
    Action {
        key: 'y',
        label: "let in",
        host_only: true,
        run: |who| Step::Send(Command::Admit(who)),
    },
    Action {
        key: 'n',
        label: "turn away",
        host_only: true,
        run: |who| Step::Send(Command::Deny(who)),
    },
];

/// One row of the menu: a member, or someone waiting in the lobby.
pub struct Entry {
    pub id: ClientId,
    pub name: String,
    pub host: bool,
    pub hand: bool,
    pub waiting: bool,
}

pub const ACTIONS: &[Action] = &[
    Action {
        key: 'm',
        label: "message",
        host_only: false,
        run: |who| Step::Type(format!("/msg {who} ")),
    },
    Action {
        key: 'u',
        label: "mute for me",
        host_only: false,
        run: |who| Step::Send(Command::Mute(who, true)),
    },
    Action {
        key: 'U',
        label: "unmute",
        host_only: false,
        run: |who| Step::Send(Command::Mute(who, false)),
    },
    Action {
        key: 'a',
        label: "stop audio",
        host_only: true,
        run: |who| Step::Send(Command::Block(Some(who), MediaKind::Audio)),
    },
    Action {
        key: 'v',
        label: "stop video",
        host_only: true,
        run: |who| Step::Send(Command::Block(Some(who), MediaKind::Video)),
    },
    Action {
        key: 'A',
        label: "allow all",
        host_only: true,
        run: |who| Step::Send(Command::Allow(who, None)),
    },
    Action {
        key: 'l',
        label: "lower hand",
        host_only: true,
        run: |who| Step::Send(Command::Hand(Some(who))),
    },
    Action {
        key: 'h',
        label: "make host",
        host_only: true,
        run: |who| {
            let question = format!("make {who} the host (you stop being it)?");
            Step::Ask(Command::MakeHost(who), question)
        },
    },
    Action {
        key: 'x',
        label: "remove",
        host_only: true,
        run: |who| {
            let question = format!("remove {who}?");
            Step::Ask(Command::Remove(who), question)
        },
    },
];

/// Opens the menu on the first other member (or on you, alone).
pub fn open(model: &mut ViewModel) {
    let first = model.others().next().map(|m| m.id).unwrap_or(model.me);
    model.members_menu = Some(MembersMenu { selected: first });
}

/// The menu's rows: the members in the meeting's order, then whoever waits
/// in the lobby (only the host is told of them).
pub fn entries(model: &ViewModel) -> Vec<Entry> {
    let members = model.state.members.iter().map(|m| Entry {
        id: m.id,
        name: m.name.clone(),
        host: m.host,
        hand: m.hand,
        waiting: false,
    });
    let waiting = model.state.waiting.iter().map(|m| Entry {
        id: m.id,
        name: m.name.clone(),
        host: false,
        hand: false,
        waiting: true,
    });
    members.chain(waiting).collect()
}

/// A key while the menu is open: the command it runs, if any.
pub fn key(model: &mut ViewModel, key: KeyEvent) -> Option<Entered> {
    let ids: Vec<ClientId> = entries(model).iter().map(|m| m.id).collect();
    let menu = model.members_menu.clone()?;
    let at = ids.iter().position(|id| *id == menu.selected).unwrap_or(0);
    let select = |model: &mut ViewModel, index: usize| {
        if let Some(&id) = ids.get(index) {
            model.members_menu = Some(MembersMenu { selected: id });
        }
    };
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => select(model, at.saturating_sub(1)),
        KeyCode::Down | KeyCode::Char('j') => {
            select(model, (at + 1).min(ids.len().saturating_sub(1)))
        }
        KeyCode::Home => select(model, 0),
        KeyCode::End => select(model, ids.len().saturating_sub(1)),
        KeyCode::Char(c) => {
            let step = ids.get(at).and_then(|&id| action(model, id, c));
            model.members_menu = None;
            return step.and_then(|step| run(model, step));
        }
        // Esc, Enter and anything else close it.
        _ => model.members_menu = None,
    }
    None
}

/// How commands name `id`: `name#id`, as the members list shows them
/// (unique even when names repeat, and whole when a name has spaces).
fn who(model: &ViewModel, id: ClientId) -> Option<String> {
    let entry = entries(model).into_iter().find(|e| e.id == id)?;
    Some(label(id, &clean(&entry.name)))
}

/// What action `key` does to `id`, if the action exists and is open to us
/// (the host's actions to the host, none on ourselves).
fn action(model: &ViewModel, id: ClientId, key: char) -> Option<Step> {
    let waiting = model.state.waiting.iter().any(|m| m.id == id);
    let actions = if waiting { LOBBY_ACTIONS } else { ACTIONS };
    let action = actions.iter().find(|a| a.key == key)?;
    let host = model.state.host().is_some_and(|h| h.id == model.me);
    if (action.host_only && !host) || id == model.me {
        return None;
    }
    Some((action.run)(who(model, id)?))
}

/// Does `step`: a message is typed by the user first; handing over the
/// host role and removing someone ask first; the rest run at once.
fn run(model: &mut ViewModel, step: Step) -> Option<Entered> {
    match step {
        Step::Send(command) => Some(Entered::made(command)),
        Step::Ask(command, question) => {
            let entered = Entered::made(command);
            model.confirm = Some(Confirmation { entered, question });
            None
        }
        Step::Type(text) => {
            model.input.typing = true;
            model.input.set(&text);
            None
        }
    }
}

/// The keys the menu offers now (for the row selected), for its footer.
pub fn footer(model: &ViewModel) -> String {
    let host = model.state.host().is_some_and(|h| h.id == model.me);
    let selected = model.members_menu.as_ref().map(|menu| menu.selected);
    let waiting = model.state.waiting.iter().any(|m| Some(m.id) == selected);
    let actions = if waiting { LOBBY_ACTIONS } else { ACTIONS };
    let actions: Vec<String> = actions
        .iter()
        .filter(|a| host || !a.host_only)
        .map(|a| format!("{} {}", a.key, a.label))
        .collect();
    format!("↑↓ pick · {} · Esc closes", actions.join(" · "))
}
