//! Surviving a network blip, on loopback: a session whose control connection
//! breaks is held, resumed with exactly the events it missed and the requests
//! the server never read, and removed if it does not come back in time.
//! (`netns.rs` cuts a real link between a real client and server.)

use common::handshake::{HandshakeError, Refused};
use common::{ClientId, Event, MediaKind, Request};
use integration_tests::{DEADLINE, RawMember, RawPeer, ServerProcess};
use std::time::{Duration, Instant};

/// Cuts a member's connection the way a network does: a reset, no goodbye.
/// Its id, token and the events it had seen (`RawPeer` counts them as a
/// client must to resume).
fn cut(member: RawMember) -> (ClientId, String, u64) {
    socket2::SockRef::from(member.peer.stream.tcp())
        .set_linger(Some(Duration::ZERO))
        .expect("linger");
    let seen = member.peer.events_seen();
    (member.id, member.token, seen)
}

/// ana hosts, bo joins, and ana has seen bo come in.
fn meeting_of_two(server: &ServerProcess) -> (RawMember, RawMember) {
    let (_, [mut a, b]) = server.raw_meeting(["ana", "bo"]);
    a.expect("member_joined", |e| matches!(e, Event::MemberJoined { .. }));
    (a, b)
}

#[test]
fn a_broken_connection_is_held_then_resumed_with_exactly_what_was_missed() {
    let server = ServerProcess::start();
    let (a, mut b) = meeting_of_two(&server);
    let (id, token, seen) = cut(a);
    b.expect(
        "member_reconnecting",
        |e| matches!(e, Event::MemberReconnecting { member, .. } if member.id == id),
    );
    // The meeting goes on without ana: she must get this once, on her return.
    b.peer.request(&Request::Chat {
        text: "while you were away".into(),
    });
    b.expect("chat", |e| matches!(e, Event::Chat { .. }));
    // Media sockets attach to a held session.
    let mut a_video = RawPeer::attach(server.addr(), MediaKind::Video, id, &token);

    // ana sent one request (create) before the cut.
    let (mut back, resumed) = RawPeer::resume(server.addr(), id, &token, seen, 1);
    let resumed = resumed.expect("resumed");
    assert_eq!((resumed.id, resumed.name.as_str()), (id, "ana"));
    assert_eq!((resumed.requests_handled, resumed.events_lost), (1, 0));
    match back.next_event().expect("the chat") {
        Event::Chat { text, .. } => assert_eq!(text, "while you were away"),
        other => panic!("expected only the missed chat first, got {other:?}"),
    }
    back.request(&Request::Members);
    match back.next_event().expect("members") {
        Event::Members { members, .. } => assert_eq!(members.len(), 2),
        other => panic!("a missed event came twice, or late: {other:?}"),
    }
    b.expect(
        "member_back",
        |e| matches!(e, Event::MemberBack { member, .. } if member.id == id),
    );
    // Same id, same meeting: media from bo reaches ana's video socket.
    let mut b_video = RawPeer::attach(server.addr(), MediaKind::Video, b.id, &b.token);
    let frame = common::Frame::media(
        MediaKind::Video,
        common::MediaHeader {
            sender: ClientId(0),
            sequence: 0,
            timestamp_us: 0,
        },
        b"jpeg",
    );
    let deadline = Instant::now() + DEADLINE;
    b_video.send_bytes(frame.as_bytes());
    let got = a_video.next_media().expect("video after the resume");
    assert_eq!((got.sender, got.body.as_slice()), (b.id, &b"jpeg"[..]));
    assert!(Instant::now() < deadline);

    // A wrong token gets what a wrong attach gets.
    let (_, wrong) = RawPeer::resume(server.addr(), id, &"0".repeat(32), 0, 0);
    assert!(matches!(
        wrong,
        Err(HandshakeError::Refused(Refused(message))) if message == "invalid session token"
    ));
}

/// ana shares video when her connection breaks; while she is away cy
/// comes in with her screen already on. When ana resumes, the replayed
/// `member_joined` tells her what cy shares, and bo, who saw ana away and
/// back, never heard that ana's video stopped: it did not.
#[test]
fn a_resumed_session_knows_what_everyone_shares() {
    let server = ServerProcess::start();
    let (mut a, mut b) = meeting_of_two(&server);
    a.peer.request(&Request::Media {
        kind: MediaKind::Video,
        on: true,
    });
    let Event::Media { meeting, .. } = b.expect(
        "ana's video",
        |e| matches!(e, Event::Media { member, on: true, .. } if member.id == a.id),
    ) else {
        unreachable!()
    };
    a.expect("her own video", |e| matches!(e, Event::Media { .. }));
    let (id, token, seen) = cut(a);
    b.expect(
        "member_reconnecting",
        |e| matches!(e, Event::MemberReconnecting { member, .. } if member.id == id),
    );

    let mut c = RawMember::hello(server.addr(), "cy");
    c.peer.request(&Request::Media {
        kind: MediaKind::Screen,
        on: true,
    });
    c.peer.request(&Request::Join {
        meeting: meeting.to_string(),
        passcode: None,
    });
    let Event::Joined { members, .. } = c.expect("joined", |e| matches!(e, Event::Joined { .. }))
    else {
        unreachable!()
    };
    assert!(
        members
            .iter()
            .any(|m| m.id == id && m.sharing[MediaKind::Video]),
        "cy sees ana's video although ana is away: {members:?}"
    );
    let shares_screen = |e: &Event| {
        matches!(e, Event::MemberJoined { member, .. }
            if member.name == "cy" && member.sharing[MediaKind::Screen])
    };
    b.expect("cy joined with her screen", shares_screen);

    // ana sent two requests (create, media) before the cut.
    let (mut back, resumed) = RawPeer::resume(server.addr(), id, &token, seen, 2);
    assert!(resumed.is_ok(), "{resumed:?}");
    match back.next_event() {
        Ok(event) if shares_screen(&event) => {}
        other => panic!("the replay should say cy shares her screen: {other:?}"),
    }

    b.expect(
        "member_back",
        |e| matches!(e, Event::MemberBack { member, .. } if member.id == id),
    );
    b.peer.request(&Request::Members);
    loop {
        match b.peer.next_event() {
            Ok(Event::Members { members, .. }) => {
                assert!(
                    members
                        .iter()
                        .any(|m| m.id == id && m.sharing[MediaKind::Video])
                );
                break;
            }
            Ok(Event::Media { member, .. }) if member.id == id => {
                panic!("ana's video did not change while she was away")
            }
            Ok(_) => {}
            Err(err) => panic!("no members: {err:#}"),
        }
    }
}

#[test]
fn a_silent_client_is_noticed_within_seconds_and_removed_after_the_hold() {
    let server = ServerProcess::start_with(&["--resume-hold", "2s"]);
    let (mut a, mut b) = meeting_of_two(&server);
    // A client that pings once promises to keep talking; then it goes quiet.
    a.peer.request(&Request::Ping);
    a.expect("pong", |e| matches!(e, Event::Pong));
    let quiet = Instant::now();
    b.expect(
        "member_reconnecting",
        |e| matches!(e, Event::MemberReconnecting { member, .. } if member.id == a.id),
    );
    let noticed = quiet.elapsed();
    eprintln!("a silent client was noticed after {noticed:?}");
    assert!(
        (Duration::from_secs(5)..Duration::from_secs(9)).contains(&noticed),
        "noticed after {noticed:?}"
    );
    b.expect(
        "member_left",
        |e| matches!(e, Event::MemberLeft { member, .. } if member.id == a.id),
    );
    let held = quiet.elapsed() - noticed;
    assert!(held >= Duration::from_millis(1900), "held only {held:?}");
    let (_, late) = RawPeer::resume(server.addr(), a.id, &a.token, a.peer.events_seen(), 2);
    assert!(matches!(
        late,
        Err(HandshakeError::Refused(Refused(message))) if message == "invalid session token"
    ));
}

#[test]
fn a_client_that_closes_its_connection_leaves_at_once() {
    let server = ServerProcess::start();
    let (a, mut b) = meeting_of_two(&server);
    let id = a.id;
    drop(a);
    let left = Instant::now();
    match b.peer.next_event() {
        Ok(Event::MemberLeft { member, .. }) => assert_eq!(member.id, id),
        other => panic!("expected member_left, not a hold: {other:?}"),
    }
    assert!(left.elapsed() < Duration::from_secs(3));
}
