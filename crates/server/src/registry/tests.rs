use super::*;
use crate::outbox::{Outbox, WriterQueue};
use common::MeetingId;
use common::protocol::{MAX_CHAT_BYTES, MAX_NAME_CHARS, REPLAY_EVENTS};
use common::{FrameKind, FrameReader};

struct Member {
    id: ClientId,
    token: SessionToken,
    control: WriterQueue,
}

fn events(queue: &WriterQueue) -> Vec<Event> {
    queue
        .take_all()
        .into_iter()
        .map(|bytes| {
            let mut reader = FrameReader::new(&bytes[..], &[FrameKind::Control]);
            let frame = reader.read_frame().expect("valid frame").expect("a frame");
            frame.parse_control().expect("an event")
        })
        .collect()
}

/// A moment after every hold that starts now is over.
fn after_any_hold() -> std::time::Instant {
    std::time::Instant::now()
        + common::protocol::DEFAULT_RESUME_HOLD
        + std::time::Duration::from_secs(1)
}

fn connect(registry: &MeetingRegistry, name: &str, capacity: usize) -> Member {
    let (outbox, control) = Outbox::new(capacity, Default::default());
    let id = registry.register(name, outbox, None).expect("registered");
    let Some(Event::Welcome { token, .. }) = events(&control).pop() else {
        panic!("no welcome")
    };
    let token = SessionToken::from_hex(&token).expect("hex token");
    Member { id, token, control }
}

fn create(registry: &MeetingRegistry, host: &Member) -> MeetingId {
    registry.handle(host.id, Request::Create { passcode: None });
    match events(&host.control).as_slice() {
        [
            Event::Created { meeting, .. },
            Event::Joined {
                meeting: joined,
                members,
            },
        ] => {
            assert_eq!(meeting, joined);
            assert_eq!(members.len(), 1);
            assert!(members[0].host);
            meeting.clone()
        }
        other => panic!("unexpected answer to create: {other:?}"),
    }
}

fn join(registry: &MeetingRegistry, member: &Member, meeting: &MeetingId) {
    registry.handle(
        member.id,
        Request::Join {
            meeting: meeting.to_string(),
            passcode: None,
        },
    );
    let answer = events(&member.control);
    assert!(
        matches!(answer.as_slice(), [Event::Joined { .. }]),
        "{answer:?}"
    );
}

#[test]
fn chat_reaches_every_member_in_order_and_no_one_else() {
    let registry = MeetingRegistry::new();
    let (a, b, outsider) = (
        connect(&registry, "a", 64),
        connect(&registry, "b", 64),
        connect(&registry, "o", 64),
    );
    let meeting = create(&registry, &a);
    join(&registry, &b, &meeting);
    let other_meeting = create(&registry, &outsider);
    assert_ne!(meeting, other_meeting);
    events(&a.control);
    for n in 0..3 {
        registry.handle(
            a.id,
            Request::Chat {
                text: format!("a{n}"),
            },
        );
        registry.handle(
            b.id,
            Request::Chat {
                text: format!("b{n}"),
            },
        );
    }
    let texts = |m: &Member| -> Vec<String> {
        events(&m.control)
            .into_iter()
            .filter_map(|e| match e {
                Event::Chat { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    };
    let expected = vec!["a0", "b0", "a1", "b1", "a2", "b2"];
    assert_eq!(texts(&a), expected);
    assert_eq!(texts(&b), expected);
    assert!(texts(&outsider).is_empty());
}

#[test]
fn host_leaving_hands_over_to_the_longest_present_member() {
    let registry = MeetingRegistry::new();
    let (a, b, c) = (
        connect(&registry, "a", 64),
        connect(&registry, "b", 64),
        connect(&registry, "c", 64),
    );
    let meeting = create(&registry, &a);
    join(&registry, &b, &meeting);
    join(&registry, &c, &meeting);
    events(&a.control);
    events(&b.control);
    registry.handle(a.id, Request::Leave);
    assert!(matches!(
        events(&a.control).as_slice(),
        [Event::Left { .. }]
    ));
    let seen = events(&c.control);
    assert!(
        matches!(&seen[..], [Event::MemberLeft { member, .. }, Event::HostChanged { host, .. }]
        if member.id == a.id && host.id == b.id),
        "{seen:?}"
    );
    assert_eq!(
        events(&b.control),
        seen,
        "every member sees the same events"
    );
    registry.handle(c.id, Request::Cancel);
    assert!(
        matches!(events(&c.control).as_slice(), [Event::Error { .. }]),
        "only the host cancels"
    );
    registry.handle(b.id, Request::Cancel);
    assert!(matches!(
        events(&b.control).as_slice(),
        [Event::Ended { .. }]
    ));
    assert!(matches!(
        events(&c.control).as_slice(),
        [Event::Ended { .. }]
    ));
    assert_eq!(
        registry.counts(),
        RegistryCounts {
            held: 0,
            clients: 3,
            meetings: 0
        }
    );
}

#[test]
fn routes_follow_membership_and_attachments() {
    let registry = MeetingRegistry::new();
    let (a, b) = (connect(&registry, "a", 64), connect(&registry, "b", 64));
    let (a_video, _a_rx) = Outbox::new(4, Default::default());
    let (b_video, _b_rx) = Outbox::new(4, Default::default());
    let a_slot = registry
        .attach(MediaKind::Video, a.id, &a.token, a_video, None)
        .expect("a attaches")
        .route;
    registry
        .attach(MediaKind::Video, b.id, &b.token, b_video.clone(), None)
        .expect("b attaches");
    assert!(a_slot.current().meeting.is_none());
    let meeting = create(&registry, &a);
    assert!(
        a_slot.current().receivers(MediaKind::Video).is_empty(),
        "alone: nobody to send to"
    );
    join(&registry, &b, &meeting);
    let route = a_slot.current();
    assert_eq!(route.receivers(MediaKind::Video).len(), 1);
    assert!(
        route.receivers(MediaKind::Video)[0]
            .outbox
            .same_as(&b_video)
    );
    assert!(
        route.receivers(MediaKind::Audio).is_empty(),
        "b has no audio socket"
    );
    registry.disconnect(b.id);
    assert!(a_slot.current().receivers(MediaKind::Video).is_empty());
}

#[test]
fn wrong_or_unknown_token_is_refused() {
    let registry = MeetingRegistry::new();
    let a = connect(&registry, "a", 64);
    let wrong = SessionToken::from_bytes([0; 16]);
    let (outbox, _rx) = Outbox::new(4, Default::default());
    assert!(
        registry
            .attach(MediaKind::Audio, a.id, &wrong, outbox.clone(), None)
            .is_err()
    );
    assert!(
        registry
            .attach(MediaKind::Audio, ClientId(999), &a.token, outbox, None)
            .is_err()
    );
}

#[test]
fn a_client_that_stops_reading_events_is_disconnected_and_others_are_told() {
    let registry = MeetingRegistry::new();
    let (a, stalled) = (
        connect(&registry, "a", 1024),
        connect(&registry, "stalled", 2),
    );
    let meeting = create(&registry, &a);
    join(&registry, &stalled, &meeting);
    // Nobody drains `stalled`'s queue: past the hard limit it overflows.
    let sent = 2 * crate::outbox::CONTROL_HARD_LIMIT + 3;
    for n in 0..sent {
        registry.handle(
            a.id,
            Request::Chat {
                text: format!("{n}"),
            },
        );
    }
    assert_eq!(registry.counts().clients, 1);
    let seen = events(&a.control);
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::MemberLeft { member, .. } if member.id == stalled.id))
    );
    assert_eq!(
        seen.iter()
            .filter(|e| matches!(e, Event::Chat { .. }))
            .count(),
        sent
    );
}

#[test]
fn bad_requests_get_errors_and_change_nothing() {
    let registry = MeetingRegistry::new();
    let a = connect(&registry, "a", 64);
    for request in [
        Request::Join {
            meeting: "zzz-zzz".into(),
            passcode: None,
        },
        Request::Join {
            meeting: "not an id".into(),
            passcode: None,
        },
        Request::Leave,
        Request::Cancel,
        Request::Members,
        Request::Chat {
            text: "hello?".into(),
        },
    ] {
        registry.handle(a.id, request.clone());
        assert!(
            matches!(events(&a.control).as_slice(), [Event::Error { .. }]),
            "{request:?}"
        );
    }
    let meeting = create(&registry, &a);
    for text in ["", "   ", "line\nbreak", &"x".repeat(MAX_CHAT_BYTES + 1)] {
        registry.handle(
            a.id,
            Request::Chat {
                text: text.to_string(),
            },
        );
        assert!(
            matches!(events(&a.control).as_slice(), [Event::Error { .. }]),
            "{text:?}"
        );
    }
    registry.handle(a.id, Request::Create { passcode: None });
    assert!(
        matches!(events(&a.control).as_slice(), [Event::Error { message }] if message.contains(meeting.as_str()))
    );
    assert!(validate_name("  ").is_err());
    assert!(validate_name(&"n".repeat(MAX_NAME_CHARS + 1)).is_err());
    assert_eq!(validate_name(" ana ").as_deref(), Ok("ana"));
}

#[test]
fn a_held_session_resumes_with_exactly_the_events_it_missed() {
    let registry = MeetingRegistry::new();
    let a = connect(&registry, "a", 64);
    let b = connect(&registry, "b", 64);
    let meeting = create(&registry, &a);
    join(&registry, &b, &meeting);
    // a saw welcome, created, joined and member_joined: four events.
    assert_eq!(events(&a.control).len(), 1);
    events(&b.control);
    registry.handle_from(a.id, 0, Request::Members, |_| Event::Pong);
    assert!(registry.control_broke(a.id, 0), "held");
    assert!(matches!(
        events(&b.control).as_slice(),
        [Event::MemberReconnecting { member, .. }] if member.id == a.id
    ));
    registry.handle(
        b.id,
        Request::Chat {
            text: "while away".into(),
        },
    );
    events(&b.control);
    // A request read from the broken connection after the resume is ignored.
    let (outbox, control) = Outbox::new(64, Default::default());
    let epoch = registry
        .resume(a.id, &a.token, 4, outbox, None)
        .expect("resumed");
    assert_eq!(epoch, 1);
    registry.handle_from(a.id, 0, Request::Leave, |_| Event::Pong);
    match events(&control).as_slice() {
        [
            Event::Resumed {
                id,
                requests_handled,
                events_lost: 0,
                ..
            },
            Event::Members { .. },
            Event::Chat { text, .. },
        ] => {
            assert_eq!(*id, a.id);
            // create and members (the leave came from the old connection).
            assert_eq!(*requests_handled, 2);
            assert_eq!(text, "while away");
        }
        other => panic!("unexpected replay: {other:?}"),
    }
    assert!(matches!(
        events(&b.control).as_slice(),
        [Event::MemberBack { member, .. }] if member.id == a.id
    ));
    // The hold of the old connection would be over now: nothing happens.
    assert_eq!(registry.expire_holds(after_any_hold()), None);
    assert_eq!(registry.counts().clients, 2);
    // A wrong token gets what attach gets.
    let (outbox, _control) = Outbox::new(64, Default::default());
    let wrong = SessionToken::from_bytes([7; SessionToken::BYTES]);
    assert_eq!(
        registry.resume(a.id, &wrong, 0, outbox, None).err(),
        Some("invalid session token".to_string())
    );
}

#[test]
fn a_session_not_resumed_in_time_leaves_and_one_that_lost_events_gets_the_state() {
    let registry = MeetingRegistry::new();
    let a = connect(&registry, "a", 64);
    let b = connect(&registry, "b", 64);
    let meeting = create(&registry, &a);
    join(&registry, &b, &meeting);
    assert!(registry.control_broke(b.id, 0), "held");
    // More events than are kept, while b is away.
    for _ in 0..REPLAY_EVENTS + 5 {
        registry.handle(b.id, Request::Ping);
    }
    let (outbox, control) = Outbox::new(8, Default::default());
    registry
        .resume(b.id, &b.token, 2, outbox, None)
        .expect("resumed");
    match events(&control).as_slice() {
        [
            Event::Resumed { events_lost, .. },
            Event::Joined { members, .. },
        ] => {
            assert_eq!(*events_lost, REPLAY_EVENTS as u64 + 5);
            assert_eq!(members.len(), 2);
        }
        other => panic!("unexpected: {other:?}"),
    }

    assert!(registry.control_broke(a.id, 0), "held");
    registry.expire_holds(after_any_hold());
    let told = events(&control);
    assert!(
        matches!(told.as_slice(), [Event::MemberReconnecting { .. }, Event::MemberLeft { member, .. }, ..] if member.id == a.id),
        "{told:?}"
    );
    assert_eq!(registry.counts().clients, 1);
}
