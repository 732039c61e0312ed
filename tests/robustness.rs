//! Bad input and bad peers: each gets a clear error on its own connection, which
//! is closed, while everyone else goes on being served.

use common::handshake::{HandshakeError, Refused};
use common::protocol::{FRAME_HEADER_LEN, MAX_CONTROL_PAYLOAD, PROTOCOL_VERSION};
use common::{ClientId, Event, Frame, MediaHeader, MediaKind, Request};
use integration_tests::{ClientProcess, RawPeer, ServerProcess, of_kind};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Two members chatting: proof that the server still serves people.
fn healthy_meeting(server: &ServerProcess) -> (ClientProcess, ClientProcess) {
    let (_, [a, b]) = server.meeting(["a", "b"]);
    (a, b)
}

fn still_chatting(a: &mut ClientProcess, b: &mut ClientProcess, text: &str) {
    a.send(text);
    let chat = b.expect_event("chat");
    assert_eq!(chat["text"], text);
}

fn error_message(peer: &mut RawPeer) -> String {
    match peer.next_event() {
        Ok(Event::Error { message }) => message,
        other => panic!("expected an error event, got {other:?}"),
    }
}

#[test]
fn random_bytes_get_an_error_and_a_closed_connection() {
    let server = ServerProcess::start();
    let (mut a, mut b) = healthy_meeting(&server);
    // Before any handshake, and after a valid hello.
    let mut stranger = RawPeer::connect(server.addr());
    stranger.send_bytes(b"GET / HTTP/1.1\r\nHost: meeting\r\n\r\n");
    let message = error_message(&mut stranger);
    assert!(message.contains("unknown frame type 0x47"), "{message}");
    assert!(stranger.closed_by_server());

    let (mut member, _, _) = RawPeer::hello(server.addr(), "noisy");
    let mut noise = vec![0x7fu8];
    let mut state = 7u32;
    noise.extend((0..4096).map(|_| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 24) as u8
    }));
    member.send_bytes(&noise);
    assert!(error_message(&mut member).contains("unknown frame type"));
    assert!(member.closed_by_server());
    still_chatting(&mut a, &mut b, "still here");
}

#[test]
fn an_oversized_length_is_refused_without_reading_it() {
    let server = ServerProcess::start();
    let (mut a, mut b) = healthy_meeting(&server);
    let (mut member, _, _) = RawPeer::hello(server.addr(), "huge");
    let mut header = vec![0x01];
    header.extend_from_slice(&(MAX_CONTROL_PAYLOAD + 1).to_be_bytes());
    member.send_bytes(&header);
    let message = error_message(&mut member);
    assert!(message.contains("over the limit"), "{message}");
    assert!(member.closed_by_server());
    still_chatting(&mut a, &mut b, "fine");
}

#[test]
fn malformed_and_out_of_place_messages_are_refused() {
    let server = ServerProcess::start();
    let (mut a, mut b) = healthy_meeting(&server);
    let cases: [(&str, Vec<u8>); 3] = [
        ("not JSON", {
            let mut frame = vec![0x01, 0, 0, 0, 5];
            frame.extend_from_slice(b"{oops");
            frame
        }),
        ("unknown request", {
            let body = br#"{"request":"fly"}"#;
            let mut frame = vec![0x01];
            frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
            frame.extend_from_slice(body);
            frame
        }),
        ("a video frame on the control socket", {
            let header = MediaHeader {
                sender: ClientId(0),
                sequence: 0,
                timestamp_us: 0,
            };
            Frame::media(MediaKind::Video, header, b"jpeg").into_bytes()
        }),
    ];
    for (what, bytes) in cases {
        let (mut member, _, _) = RawPeer::hello(server.addr(), "odd");
        member.send_bytes(&bytes);
        let message = error_message(&mut member);
        assert!(!message.is_empty(), "{what}");
        assert!(member.closed_by_server(), "{what}: connection left open");
    }
    // A first message that is neither hello nor attach, and an old protocol.
    let mut peer = RawPeer::connect(server.addr());
    peer.request(&Request::Create { passcode: None });
    assert!(error_message(&mut peer).contains("hello, resume or attach"));
    let mut peer = RawPeer::connect(server.addr());
    peer.request(&Request::Hello {
        returning: None,
        protocol: PROTOCOL_VERSION + 1,
        name: "future".into(),
    });
    assert!(error_message(&mut peer).contains("protocol"));
    let (_, answer) = RawPeer::try_hello(server.addr(), "\u{1b}[2J");
    assert!(
        matches!(answer, Err(HandshakeError::Refused(Refused(ref message))) if message.contains("name")),
        "{answer:?}"
    );
    still_chatting(&mut a, &mut b, "unharmed");
}

#[test]
fn a_wrong_token_is_refused() {
    let server = ServerProcess::start();
    let (_control, id, token) = RawPeer::hello(server.addr(), "owner");
    let mut wrong = token.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    for (who, bad) in [
        (id, String::from_utf8(wrong).expect("hex")),
        (ClientId(id.0 + 100), token.clone()),
        (id, "short".into()),
    ] {
        let mut peer = RawPeer::connect(server.addr());
        peer.request(&Request::Attach {
            kind: MediaKind::Video,
            id: who,
            token: bad,
        });
        assert_eq!(error_message(&mut peer), "invalid session token");
        assert!(peer.closed_by_server());
    }
    // The right token still works.
    RawPeer::attach(server.addr(), MediaKind::Video, id, &token);
}

#[test]
fn media_before_joining_gets_an_error_and_goes_nowhere() {
    let server = ServerProcess::start();
    let (mut a, mut b) = healthy_meeting(&server);
    let (mut control, id, token) = RawPeer::hello(server.addr(), "early");
    let mut video = RawPeer::attach(server.addr(), MediaKind::Video, id, &token);
    let header = MediaHeader {
        sender: ClientId(0),
        sequence: 0,
        timestamp_us: 0,
    };
    video.send_bytes(Frame::media(MediaKind::Video, header, b"\xff\xd8\xff not joined").as_bytes());
    let message = error_message(&mut control);
    assert!(message.contains("not in a meeting"), "{message}");
    let stats = b.wait_stats("stats", |_| true);
    assert_eq!(stats["received"], serde_json::json!([]));
    still_chatting(&mut a, &mut b, "nothing leaked");
}

#[test]
fn a_receiver_that_stops_reading_does_not_stop_the_others() {
    // Queues of 64 frames: room for scheduling hiccups of the reader that keeps
    // up, far less than what the stalled one is sent.
    let server = ServerProcess::start_with(&["--video-queue", "64"]);
    let (_, [mut sender_ctl, fast_ctl, stalled_ctl]) =
        server.raw_meeting(["sender", "fast", "stalled"]);
    let sender = sender_ctl.id;
    let mut fast_video = fast_ctl.attach(MediaKind::Video);
    let stalled_video = stalled_ctl.attach(MediaKind::Video);
    let mut sender_video = sender_ctl.attach(MediaKind::Video);
    // Attachments are routed once the server has handled them; a round trip on
    // the sender's control socket after attaching orders that.
    sender_ctl.peer.request(&Request::Members);
    sender_ctl.expect("members", |e| matches!(e, Event::Members { .. }));

    const FRAMES: u32 = 300;
    const FRAME_BYTES: usize = 100_000; // 30 MB in all: more than the stalled socket and queue hold
    let reader = std::thread::spawn(move || {
        let mut sequences = Vec::new();
        while sequences.len() < FRAMES as usize {
            match fast_video.next_media() {
                Ok(frame) => {
                    assert_eq!(frame.sender, sender);
                    assert_eq!(frame.body.len(), FRAME_BYTES);
                    sequences.push(frame.sequence);
                }
                Err(err) => panic!(
                    "fast receiver stopped after {} frames: {err:#}",
                    sequences.len()
                ),
            }
        }
        sequences
    });
    let started = Instant::now();
    for sequence in 0..FRAMES {
        let header = MediaHeader {
            sender: ClientId(0),
            sequence,
            timestamp_us: 0,
        };
        let body = vec![(sequence % 251) as u8; FRAME_BYTES];
        sender_video.send_bytes(Frame::media(MediaKind::Video, header, &body).as_bytes());
        std::thread::sleep(Duration::from_millis(3)); // pace: ~33 MB/s
    }
    let sequences = reader.join().expect("fast receiver got every frame");
    assert_eq!(
        sequences,
        (0..FRAMES).collect::<Vec<_>>(),
        "fast receiver lost or reordered frames"
    );
    eprintln!(
        "{FRAMES} frames to the fast receiver in {:?}",
        started.elapsed()
    );

    // The stalled receiver now reads what it was left: fewer frames (the oldest
    // were dropped for it alone), still whole and in order.
    let mut stalled_video = stalled_video;
    stalled_video
        .stream
        .tcp()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut got = Vec::new();
    while let Ok(frame) = stalled_video.next_media() {
        assert_eq!(
            frame.body.len(),
            FRAME_BYTES,
            "a stalled receiver still gets whole frames"
        );
        got.push(frame.sequence);
    }
    eprintln!("the stalled receiver kept {} of {FRAMES} frames", got.len());
    assert!(
        got.len() < FRAMES as usize,
        "nothing was dropped for the stalled receiver"
    );
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "stalled receiver's frames out of order"
    );
    assert_eq!(got.last(), Some(&(FRAMES - 1)), "the newest frame is kept");

    // The server's own figures tell the operator the same story.
    let frame_bytes = (FRAME_HEADER_LEN + MediaHeader::LEN + FRAME_BYTES) as u64;
    let kept = got.len() as u64;
    let frames = u64::from(FRAMES);
    let deadline = Instant::now() + integration_tests::DEADLINE;
    let video = loop {
        sender_ctl.peer.request(&Request::ServerStats);
        let Event::ServerStats(report) =
            sender_ctl.expect("server_stats", |e| matches!(e, Event::ServerStats(_)))
        else {
            unreachable!()
        };
        // Writers count a batch once it is written: ask again until the last is in.
        if report.media[MediaKind::Video].frames_out == frames + kept || Instant::now() > deadline {
            assert_eq!((report.clients, report.meetings), (3, 1));
            break report.media[MediaKind::Video].clone();
        }
    };
    assert_eq!(video.frames_in, frames);
    assert_eq!(video.bytes_in, frames * frame_bytes);
    assert_eq!(
        video.frames_out,
        frames + kept,
        "written: all to fast, kept to stalled"
    );
    assert_eq!(video.bytes_out, (frames + kept) * frame_bytes);
    assert_eq!(
        video.dropped,
        frames - kept,
        "every frame is written or counted as dropped"
    );
    assert_eq!(
        video.queue_high_water, 64,
        "the stalled receiver's queue filled up"
    );
}

/// Sends `signal` to process `pid`.
fn signal(pid: u32, signal: rustix::process::Signal) {
    let raw = rustix::process::Pid::from_raw(pid as i32).expect("a process id");
    rustix::process::kill_process(raw, signal).expect("signal sent");
    // A stop is sent, not yet done: on a busy machine a thread of the
    // server may still run for a moment. Wait until every one is stopped.
    if signal == rustix::process::Signal::STOP {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !all_threads_stopped(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Whether each thread of `pid` is stopped (state `T` in its stat).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    threads.filter_map(Result::ok).all(|thread| {
        std::fs::read_to_string(thread.path().join("stat"))
            .ok()
            .and_then(|stat| {
                let after_name = stat.rsplit_once(')')?.1.trim_start().to_string();
                after_name.chars().next()
            })
            .is_some_and(|state| state == 'T' || state == 't')
    })
}

#[test]
fn a_server_that_stops_answering_is_noticed_within_seconds_and_its_return_too() {
    let server = ServerProcess::start();
    let mut a = ClientProcess::start(&server, "a");
    a.create();
    // TCP alone would never tell: a stopped process's kernel still answers.
    signal(server.pid(), rustix::process::Signal::STOP);
    let stopped = Instant::now();
    let silent = a.expect_event("server_silent");
    let noticed = stopped.elapsed();
    signal(server.pid(), rustix::process::Signal::CONT);
    assert!(
        noticed < Duration::from_secs(9),
        "a stopped server was noticed only after {noticed:?}"
    );
    assert!(silent["seconds"].as_u64() >= Some(6), "{silent}");
    a.expect_event("server_back");
    a.send("/members");
    a.expect_event("members");
    eprintln!("a stopped server was noticed after {noticed:?}");
}

/// Chat typed while the server is frozen is marked as not confirmed within
/// seconds; once the server runs again it is delivered, once, and the
/// sender is told it arrived after all.
#[test]
fn chat_to_a_frozen_server_is_marked_unconfirmed_and_then_delivered_once() {
    let server = ServerProcess::start();
    let (_, [mut a, mut b]) = server.meeting(["a", "b"]);
    a.send("before the freeze");
    let echo = a.expect_event("chat");
    assert_eq!(echo["text"], "before the freeze");

    signal(server.pid(), rustix::process::Signal::STOP);
    let stopped = Instant::now();
    a.send("while frozen");
    let marked = a.expect_event("chat_unconfirmed");
    let marked_after = stopped.elapsed();
    signal(server.pid(), rustix::process::Signal::CONT);
    assert_eq!(marked["text"], "while frozen", "{marked}");
    assert!(
        marked_after < Duration::from_secs(5),
        "unconfirmed chat was marked only after {marked_after:?}"
    );

    let confirmed = a.expect_event("chat_confirmed");
    assert_eq!(confirmed["text"], "while frozen", "{confirmed}");
    b.expect("the frozen chat", |e| {
        e["event"] == "chat" && e["text"] == "while frozen"
    });
    // Exactly once: a marker chat after it, and nothing twice in between.
    a.send("after the thaw");
    let seen: Vec<Value> = std::iter::from_fn(|| {
        let event = b.expect_event("chat");
        (event["text"] != "after the thaw").then_some(event)
    })
    .collect();
    assert!(seen.is_empty(), "b got a chat twice: {seen:?}");
    let (_, rest) = a.quit();
    assert!(
        of_kind(&rest, "chat_not_delivered").is_empty(),
        "everything was delivered: {rest:?}"
    );
}

/// Quitting while the server is frozen says which messages never arrived.
#[test]
fn chat_never_confirmed_is_reported_not_delivered_when_the_client_quits() {
    let server = ServerProcess::start();
    let mut a = ClientProcess::start(&server, "a");
    a.create();
    signal(server.pid(), rustix::process::Signal::STOP);
    a.send("lost in the freeze");
    a.expect_event("chat_unconfirmed");
    a.send("/quit");
    let lost = a.expect_event("chat_not_delivered");
    let status = a.wait_exit();
    signal(server.pid(), rustix::process::Signal::CONT);
    assert_eq!(lost["text"], "lost in the freeze", "{lost}");
    assert!(status.success(), "{status:?}");
}
