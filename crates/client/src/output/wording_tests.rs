//! The wording's tests: every event reads safely and in good English.

use super::*;
use crate::clean::fixtures::{HOSTILE, assert_shown_safely};
use crate::meeting::fixtures::named;
use common::{MediaKind, MeetingId};

fn hostile_meeting() -> MeetingId {
    // `MeetingId` deserialises any string: the client cannot rely on its format.
    serde_json::from_value(serde_json::json!(HOSTILE)).expect("any string")
}

#[test]
fn every_event_reads_without_anything_that_steers_a_terminal() {
    let meeting = hostile_meeting();
    let evil = named(2, HOSTILE);
    let mut info = crate::meeting::fixtures::member(2, HOSTILE, true);
    info.sharing[MediaKind::Video] = true;
    let me = named(1, "me");
    let events = vec![
        Event::Created {
            meeting: meeting.clone(),
            passcode: Some(HOSTILE.into()),
        },
        Event::Joined {
            meeting: meeting.clone(),
            members: vec![info.clone()],
        },
        Event::MemberJoined {
            meeting: meeting.clone(),
            member: info.clone(),
        },
        Event::MemberLeft {
            meeting: meeting.clone(),
            member: evil.clone(),
        },
        Event::HostChanged {
            meeting: meeting.clone(),
            host: evil.clone(),
        },
        Event::Left {
            meeting: meeting.clone(),
        },
        Event::Ended {
            meeting: meeting.clone(),
        },
        Event::Chat {
            seq: 0,
            meeting: meeting.clone(),
            from: HOSTILE.into(),
            from_id: ClientId(2),
            text: HOSTILE.into(),
        },
        Event::Meetings {
            meetings: vec![common::MeetingSummary {
                id: meeting.clone(),
                host: HOSTILE.into(),
                host_id: ClientId(2),
                members: 1,
                private: false,
                locked: false,
                server: Some(HOSTILE.into()),
            }],
            total: 1,
        },
        Event::Members {
            meeting: meeting.clone(),
            members: vec![info],
        },
        Event::MeetingElsewhere {
            meeting: meeting.clone(),
            server: HOSTILE.into(),
            fingerprint: Some(HOSTILE.into()),
        },
        Event::MeetingMoved {
            meeting: meeting.clone(),
            server: HOSTILE.into(),
            fingerprint: Some(HOSTILE.into()),
            ticket: HOSTILE.into(),
        },
        Event::Media {
            meeting: meeting.clone(),
            member: evil.clone(),
            kind: MediaKind::Audio,
            on: true,
        },
        Event::ControlRequested {
            meeting: meeting.clone(),
            owner: me.clone(),
            controller: evil.clone(),
        },
        Event::ControlGranted {
            meeting: meeting.clone(),
            owner: evil.clone(),
            controller: me.clone(),
        },
        Event::ControlRevoked {
            meeting: meeting.clone(),
            owner: evil.clone(),
            controller: me,
        },
        Event::Input {
            from: ClientId(2),
            events: Vec::new(),
        },
        Event::Privacy {
            meeting: meeting.clone(),
            private: true,
            passcode: Some(HOSTILE.into()),
        },
        Event::Locked {
            meeting: meeting.clone(),
            locked: true,
            by: evil.clone(),
        },
        Event::Blocked {
            meeting: meeting.clone(),
            member: evil.clone(),
            kind: MediaKind::Audio,
            blocked: true,
        },
        Event::Removed { meeting, by: evil },
        Event::Error {
            message: HOSTILE.into(),
        },
        Event::Shutdown {
            message: HOSTILE.into(),
        },
    ];
    let mut text = EventText::new(ClientId(1));
    let mut state = MeetingState::new(ClientId(1));
    for event in &events {
        state.apply(event);
        text.set_meeting(&state);
        let lines = matches!(event, Event::Meetings { .. });
        if let Some(shown) = text.server(event) {
            assert_shown_safely(&format!("{event:?}"), &shown, lines);
        }
    }
    let locals = [
        LocalEvent::Connected {
            id: ClientId(1),
            name: HOSTILE.into(),
            server: "127.0.0.1:6338".into(),
            fingerprint: None,
        },
        LocalEvent::Error {
            message: HOSTILE.into(),
        },
        LocalEvent::Disconnected {
            message: HOSTILE.into(),
        },
        LocalEvent::Volume {
            member: ClientId(2),
            name: HOSTILE.into(),
            percent: 50,
            muted: false,
        },
        LocalEvent::Sharing {
            kind: MediaKind::Video,
            on: true,
            source: Some(HOSTILE.into()),
        },
    ];
    for event in &locals {
        assert_shown_safely(&format!("{event:?}"), &text.local(event), false);
    }
}

#[test]
fn the_members_list_gives_each_other_member_the_id_commands_take() {
    let mut bo = crate::meeting::fixtures::member(3, "bo", false);
    bo.sharing[MediaKind::Video] = true;
    let event = Event::Members {
        meeting: MeetingId::parse("abc-def").expect("valid id"),
        members: vec![
            crate::meeting::fixtures::member(1, "ana", true),
            crate::meeting::fixtures::member(2, "bo", false),
            bo,
        ],
    };
    assert_eq!(
        EventText::new(ClientId(1)).server(&event).as_deref(),
        Some("meeting abc-def: you (host), bo#2, bo#3 (video)")
    );
}

#[test]
fn a_joiner_is_announced_with_what_it_already_shares() {
    let mut bo = crate::meeting::fixtures::member(3, "bo", false);
    let joined = |member: &MemberInfo| {
        let event = Event::MemberJoined {
            meeting: MeetingId::parse("abc-def").expect("valid id"),
            member: member.clone(),
        };
        EventText::new(ClientId(1)).server(&event)
    };
    assert_eq!(joined(&bo).as_deref(), Some("bo joined"));
    bo.sharing[MediaKind::Screen] = true;
    assert_eq!(joined(&bo).as_deref(), Some("bo joined, sharing screen"));
    bo.sharing[MediaKind::Video] = true;
    bo.sharing[MediaKind::Audio] = true;
    assert_eq!(
        joined(&bo).as_deref(),
        Some("bo joined, sharing video, audio and screen")
    );
}

#[test]
fn the_host_who_ended_the_meeting_is_told_so() {
    use crate::meeting::fixtures::{meeting, member};
    let joined = Event::Joined {
        meeting: meeting(),
        members: vec![member(1, "ana", true), member(2, "bo", false)],
    };
    let ended = Event::Ended { meeting: meeting() };
    let mut words = Vec::new();
    for me in [1, 2] {
        let mut state = MeetingState::new(ClientId(me));
        let mut text = EventText::new(ClientId(me));
        // As the main loop does: fold, hand over, then word.
        for event in [&joined, &ended] {
            state.apply(event);
            text.set_meeting(&state);
        }
        words.push(text.server(&ended));
    }
    assert_eq!(
        words,
        [
            Some(format!("you ended meeting {} for everyone", meeting())),
            Some(format!("meeting {} was ended by its host", meeting())),
        ]
    );
}

#[test]
fn a_new_host_reads_it_in_good_english() {
    let event = Event::HostChanged {
        meeting: MeetingId::parse("abc-def").expect("valid id"),
        host: named(2, "bo"),
    };
    assert_eq!(
        EventText::new(ClientId(2)).server(&event).as_deref(),
        Some("you are now the host")
    );
    assert_eq!(
        EventText::new(ClientId(1)).server(&event).as_deref(),
        Some("bo is now the host")
    );
}

#[test]
fn control_events_read_as_sentences_from_every_side() {
    let meeting = MeetingId::parse("abc-def").expect("valid id");
    let (ana, bo) = (named(1, "ana"), named(2, "bo"));
    let granted = Event::ControlGranted {
        meeting: meeting.clone(),
        owner: ana.clone(),
        controller: bo.clone(),
    };
    let asked = Event::ControlRequested {
        meeting: meeting.clone(),
        owner: ana.clone(),
        controller: bo.clone(),
    };
    let revoked = Event::ControlRevoked {
        meeting,
        owner: ana,
        controller: bo,
    };
    let mut owner = EventText::new(ClientId(1));
    let mut controller = EventText::new(ClientId(2));
    let mut other = EventText::new(ClientId(3));
    assert_eq!(
        owner.server(&asked).as_deref(),
        Some("bo asks to control your screen; /control grant bo#2 lets them")
    );
    assert_eq!(
        controller.server(&asked).as_deref(),
        Some("you ask to control ana's screen")
    );
    assert_eq!(
        owner.server(&granted).as_deref(),
        Some("bo now controls your screen")
    );
    assert_eq!(
        controller.server(&granted).as_deref(),
        Some("you now control ana's screen")
    );
    assert_eq!(
        other.server(&revoked).as_deref(),
        Some("bo no longer controls ana's screen")
    );
}

#[test]
fn a_meeting_another_server_holds_is_listed_with_where() {
    let summary = |id: &str, server: Option<&str>| common::MeetingSummary {
        id: MeetingId::parse(id).expect("an id"),
        host: "ana".into(),
        host_id: ClientId(2),
        members: 1,
        private: false,
        locked: false,
        server: server.map(str::to_string),
    };
    let event = Event::Meetings {
        meetings: vec![
            summary("abc-def", None),
            summary("ghj-kmn", Some("10.0.0.2:7000")),
        ],
        total: 2,
    };
    let text = EventText::new(ClientId(1))
        .server(&event)
        .expect("a listing reads");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].ends_with("1 member(s)"), "{text}");
    assert!(
        lines[2].ends_with("1 member(s), on 10.0.0.2:7000"),
        "{text}"
    );
}
