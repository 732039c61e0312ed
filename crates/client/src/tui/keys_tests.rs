//! What keys, pastes and the mouse do to the view, and the commands they send.

use super::*;
use crate::output::LocalEvent;
use crate::tui::shortcuts::key_source;
use common::ClientId;
use common::MediaKind;

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
    use super::super::model::ScreenPlacement;
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
