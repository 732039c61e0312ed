//! The view's model: what events, keys and choices do to it, without a terminal.

use super::*;
use crate::meeting::fixtures::{meeting, member};
use common::MemberRef;

#[test]
fn members_follow_the_meeting_events() {
    let mut model = ViewModel::new(ClientId(1));
    let mut state = MeetingState::new(ClientId(1));
    // As the main loop does: fold the event, hand over the state, show the event.
    let mut server = |model: &mut ViewModel, event: &Event| {
        if state.apply(event) {
            model.set_meeting(&state);
        }
        model.server(event);
    };
    server(
        &mut model,
        &Event::Joined {
            meeting: meeting(),
            members: vec![member(2, "ana", true), member(1, "me", false)],
        },
    );
    server(
        &mut model,
        &Event::MemberJoined {
            meeting: meeting(),
            member: member(3, "bo", false),
        },
    );
    server(
        &mut model,
        &Event::Media {
            meeting: meeting(),
            member: MemberRef {
                id: ClientId(3),
                name: "bo".into(),
            },
            kind: MediaKind::Video,
            on: true,
        },
    );
    server(
        &mut model,
        &Event::MemberLeft {
            meeting: meeting(),
            member: MemberRef {
                id: ClientId(2),
                name: "ana".into(),
            },
        },
    );
    server(
        &mut model,
        &Event::HostChanged {
            meeting: meeting(),
            host: MemberRef {
                id: ClientId(3),
                name: "bo".into(),
            },
        },
    );
    let others: Vec<_> = model
        .others()
        .map(|m| (m.name.as_str(), m.host, m.sharing[MediaKind::Video]))
        .collect();
    assert_eq!(others, vec![("bo", true, true)]);
    assert!(
        model
            .chat
            .iter()
            .any(|l| *l == ChatLine::Info("ana left".into()))
    );
    server(&mut model, &Event::Left { meeting: meeting() });
    assert!(model.state.meeting.is_none() && model.state.members.is_empty());
}

#[test]
fn chat_is_cleaned_and_scrolling_stays_in_range() {
    let mut model = ViewModel::new(ClientId(1));
    model.server(&Event::Chat {
        seq: 0,
        meeting: meeting(),
        from: "ana".into(),
        from_id: ClientId(2),
        text: "hi\x1b[2J there".into(),
    });
    assert_eq!(
        model.chat[0],
        ChatLine::Message {
            from: "ana".into(),
            text: "hi [2J there".into(),
            mine: false
        }
    );
    model.scroll_chat(10);
    assert_eq!(model.chat_scroll, 0, "one line: nothing to scroll");
    for i in 0..5 {
        model.log(&format!("line {i}"));
    }
    model.scroll_chat(3);
    assert_eq!(model.chat_scroll, 3);
    model.log("new");
    assert_eq!(model.chat_scroll, 4, "a new line does not move the view");
    model.scroll_chat(-100);
    assert_eq!(model.chat_scroll, 0);
}

/// What the server has not echoed is marked in the chat, and said when
/// it arrives after all.
#[test]
fn unconfirmed_chat_is_marked_and_its_late_arrival_said() {
    let mut model = ViewModel::new(ClientId(1));
    model.local(&LocalEvent::ChatUnconfirmed {
        to: None,
        text: "anyone?".into(),
        seconds: 2,
    });
    let ChatLine::Error(marked) = &model.chat[0] else {
        panic!("an error line: {:?}", model.chat[0]);
    };
    assert!(
        marked.starts_with("⚠ not confirmed yet: \"anyone?\""),
        "{marked}"
    );
    model.local(&LocalEvent::ChatConfirmed {
        to: Some("bo".into()),
        text: "hi\x1b[2J".into(),
    });
    assert_eq!(
        model.chat[1],
        ChatLine::Info("delivered after all to bo: \"hi [2J\"".into())
    );
}

fn sharing_screen(id: u32, name: &str) -> MemberInfo {
    let mut m = member(id, name, false);
    m.sharing[MediaKind::Screen] = true;
    m
}

#[test]
fn the_presented_screen_follows_choice_sharing_and_control() {
    let mut model = ViewModel::new(ClientId(1));
    let mut state = MeetingState::new(ClientId(1));
    state.apply(&Event::Joined {
        meeting: meeting(),
        members: vec![
            sharing_screen(1, "me"),
            member(2, "ana", true),
            sharing_screen(3, "bo"),
            sharing_screen(4, "cy"),
        ],
    });
    model.set_meeting(&state);
    let presented = |model: &ViewModel| model.presented_screen().map(|m| m.id.0);
    assert_eq!(presented(&model), Some(3), "the first sharer, never me");
    model.next_screen();
    assert_eq!(presented(&model), Some(4));
    model.next_screen();
    assert_eq!(presented(&model), Some(3), "wraps around, skipping me");
    model.next_screen();
    // cy stops: back to the first sharer.
    state.apply(&Event::Media {
        meeting: meeting(),
        member: MemberRef {
            id: ClientId(4),
            name: "cy".into(),
        },
        kind: MediaKind::Screen,
        on: false,
    });
    model.set_meeting(&state);
    assert_eq!(presented(&model), Some(3));
    // Controlling cy's screen shows it while in control mode.
    state.members[3].sharing[MediaKind::Screen] = true;
    state.controls.insert(ClientId(4), ClientId(1));
    model.set_meeting(&state);
    assert!(model.enter_control_mode());
    model.chosen_screen = Some(ClientId(3));
    assert_eq!(presented(&model), Some(4));
    // The last screen stops: the grid, and the choice stays.
    for m in &mut state.members {
        m.sharing[MediaKind::Screen] = false;
    }
    state.controls.clear();
    model.set_meeting(&state);
    assert!(model.presentation().is_none() && model.presenting);
    assert!(!model.in_control_mode());
}

/// bo left sharing his screen and camera and joins again: the view
/// presents his screen and says what he shares from his arrival on.
#[test]
fn a_member_who_comes_in_sharing_is_shown_sharing() {
    let mut model = ViewModel::new(ClientId(1));
    let mut state = MeetingState::new(ClientId(1));
    let mut bo = sharing_screen(3, "bo");
    bo.sharing[MediaKind::Video] = true;
    let events = [
        Event::Joined {
            meeting: meeting(),
            members: vec![member(1, "me", true)],
        },
        Event::MemberJoined {
            meeting: meeting(),
            member: bo,
        },
    ];
    for event in &events {
        state.apply(event);
        model.set_meeting(&state);
        model.server(event);
    }
    assert_eq!(model.presentation().map(|m| m.id), Some(ClientId(3)));
    assert!(model.others().all(|m| m.sharing[MediaKind::Video]));
    assert!(
        model
            .chat
            .iter()
            .any(|l| *l == ChatLine::Info("bo joined, sharing video and screen".into())),
        "{:?}",
        model.chat
    );
}

/// After f then p the chat said "layout: grid" while the speaker view
/// was drawn: each switch now names the layout that shows.
#[test]
fn a_layout_switch_names_the_layout_that_shows() {
    let mut model = ViewModel::new(ClientId(1));
    let mut state = MeetingState::new(ClientId(1));
    state.apply(&Event::Joined {
        meeting: meeting(),
        members: vec![member(1, "me", true), sharing_screen(2, "ana")],
    });
    model.set_meeting(&state);
    let said = |model: &mut ViewModel, key: fn(&mut ViewModel)| {
        key(model);
        match model.chat.back() {
            Some(ChatLine::Info(text)) => text.clone(),
            other => panic!("no layout line: {other:?}"),
        }
    };
    // ana's screen is large; f turns the speaker view on behind it.
    let text = said(&mut model, ViewModel::toggle_speaker_view);
    assert!(model.presentation().is_some());
    assert_eq!(
        text,
        "layout: presentation (a shared screen large; p for the speaker)"
    );
    let text = said(&mut model, ViewModel::toggle_presentation);
    assert!(model.presentation().is_none() && model.speaker().is_some());
    assert_eq!(
        text,
        "layout: speaker (who speaks fills the view; f for the grid; p shows the shared screen large)"
    );
    let text = said(&mut model, ViewModel::toggle_speaker_view);
    assert_eq!(
        text,
        "layout: grid (f follows the speaker; p shows the shared screen large)"
    );

    // Nothing shared: p changes nothing that shows, and says so.
    state.members[1].sharing[MediaKind::Screen] = false;
    model.set_meeting(&state);
    let text = said(&mut model, ViewModel::toggle_presentation);
    assert!(
        text.starts_with("layout: unchanged until someone shares a screen"),
        "{text}"
    );
    let text = said(&mut model, ViewModel::toggle_speaker_view);
    assert_eq!(
        text,
        "layout: speaker (who speaks fills the view; f for the grid)"
    );
}

#[test]
fn input_is_no_chat_and_a_new_request_shows_again() {
    let mut model = ViewModel::new(ClientId(1));
    let mut state = MeetingState::new(ClientId(1));
    let events = [
        Event::Joined {
            meeting: meeting(),
            members: vec![sharing_screen(1, "me"), member(2, "ana", true)],
        },
        Event::ControlRequested {
            meeting: meeting(),
            owner: MemberRef {
                id: ClientId(1),
                name: "me".into(),
            },
            controller: MemberRef {
                id: ClientId(2),
                name: "ana".into(),
            },
        },
    ];
    for event in &events {
        state.apply(event);
        model.set_meeting(&state);
        model.server(event);
    }
    assert_eq!(model.pending_request(), Some(ClientId(2)));
    model.ignore_request();
    assert_eq!(model.pending_request(), None);
    // Asked again: the banner is back.
    state.apply(&events[1]);
    model.set_meeting(&state);
    model.server(&events[1]);
    assert_eq!(model.pending_request(), Some(ClientId(2)));
    let lines = model.chat.len();
    model.server(&Event::Input {
        from: ClientId(2),
        events: Vec::new(),
    });
    assert_eq!(model.chat.len(), lines, "a controller's keys are not chat");
}

#[test]
fn a_move_to_another_server_is_a_notice_and_we_are_our_new_id_there() {
    let mut model = ViewModel::new(ClientId(1));
    // As the main loop does after a move: a fresh state with the new id,
    // then the notice.
    model.set_meeting(&MeetingState::new(ClientId(7)));
    model.local(&LocalEvent::Moved {
        meeting: meeting(),
        server: "10.0.0.2:7000".into(),
        id: ClientId(7),
        reason: crate::output::MoveReason::Elsewhere,
    });
    assert_eq!(model.me, ClientId(7));
    assert_eq!(model.server, "10.0.0.2:7000");
    let notice = format!("{:?}", model.chat.back());
    assert!(notice.contains("moved there"), "{notice}");
    assert!(notice.contains("10.0.0.2:7000"), "{notice}");
}
