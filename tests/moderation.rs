//! Private meetings and the host's powers, with the real binaries: a private
//! meeting is invisible and closed to those without its passcode, guessing is
//! held to a crawl, and what the host locks, removes or stops stays so until
//! the host says otherwise, whatever the member's client does.

use common::{Event, MediaKind, Request};
use integration_tests::{ClientProcess, RawPeer, ServerProcess, of_kind};
use std::time::{Duration, Instant};

#[test]
fn a_private_meeting_is_unlisted_and_needs_its_passcode() {
    let server = ServerProcess::start();
    let mut host = ClientProcess::start(&server, "host");
    host.send("/create tea at five");
    let created = host.expect_event("created");
    let meeting = created["meeting"].as_str().expect("id").to_string();
    // The host is told what to pass on with the id.
    assert_eq!(created["passcode"], "tea at five", "{created}");
    let mut stranger = ClientProcess::start(&server, "stranger");
    stranger.send("/meetings");
    let listed = stranger.expect_event("meetings");
    assert_eq!(listed["total"], 0, "a private meeting was listed: {listed}");
    host.send("/meetings");
    let own = host.expect_event("meetings");
    assert_eq!(own["meetings"][0]["private"], true, "{own}");

    // Without the passcode, with a wrong one, or an id that does not exist:
    // the same answer, so probing learns nothing.
    let refusal = |client: &mut ClientProcess, line: &str| -> String {
        client.send(line);
        let error = client.expect_event("error");
        error["message"]
            .as_str()
            .unwrap_or_default()
            .replace(&meeting, "ID")
            .replace("zzz-zzz", "ID")
    };
    let without = refusal(&mut stranger, &format!("/join {meeting}"));
    let unknown = refusal(&mut stranger, "/join zzz-zzz");
    assert_eq!(without, unknown);
    let wrong = refusal(&mut stranger, &format!("/join {meeting} coffee"));
    let unknown_with = refusal(&mut stranger, "/join zzz-zzz coffee");
    assert_eq!(wrong, unknown_with);

    let mut guest = ClientProcess::start(&server, "guest");
    guest.send(&format!("/join {meeting} tea at five"));
    guest.expect_event("joined");
    // A member learns a passcode is needed, and is not told it.
    let privacy = guest.expect_event("privacy");
    assert_eq!(privacy["private"], true, "{privacy}");
    assert!(privacy.get("passcode").is_none(), "{privacy}");
}

#[test]
fn guessing_meetings_is_held_to_a_crawl() {
    let server = ServerProcess::start();
    let (mut guesser, _, _) = RawPeer::hello(server.addr(), "guesser");
    let started = Instant::now();
    let guesses = 200;
    for n in 0..guesses {
        guesser.request(&Request::Join {
            meeting: format!("{:0>6}", n % 900_000 + 100_000)
                .replace('0', "z")
                .replace('1', "y"),
            passcode: None,
        });
    }
    let mut answered = 0;
    let mut held_back = 0;
    for _ in 0..guesses {
        match guesser.next_event() {
            Ok(Event::Error { message }) if message.contains("too many") => held_back += 1,
            Ok(Event::Error { .. }) => answered += 1,
            other => panic!("unexpected answer to a guess: {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    eprintln!("{guesses} guesses in {elapsed:?}: {answered} looked up, {held_back} held back");
    // 5 at once per connection, then one every 2 s.
    assert!(answered <= 6, "{answered} guesses were looked up");
    assert_eq!(answered + held_back, guesses);
}

fn members_named(event: &serde_json::Value) -> Vec<String> {
    event["members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_host_locks_removes_and_stops_and_only_the_host_undoes_it() {
    let server = ServerProcess::start();
    let (meeting, [mut host, mut bo]) = server.meeting(["host", "bo"]);

    // Not the host: refused.
    bo.send("/lock");
    bo.expect_event("error");

    // Lock: nobody new.
    host.send("/lock");
    bo.expect("locked", |e| e["event"] == "locked" && e["locked"] == true);
    let mut late = ClientProcess::start(&server, "late");
    late.send(&format!("/join {meeting}"));
    let error = late.expect_event("error");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("locked")
    );
    host.send("/unlock");
    host.expect("unlocked", |e| {
        e["event"] == "locked" && e["locked"] == false
    });

    // Stop bo's audio: off for everyone, refused when bo tries again, and
    // nothing bo's client still sends is relayed.
    bo.send("/audio on tone:440");
    host.expect("bo's audio", |e| e["event"] == "media" && e["on"] == true);
    host.send("/stop bo audio");
    bo.expect("blocked", |e| {
        e["event"] == "blocked" && e["blocked"] == true
    });
    host.expect("bo's audio off", |e| {
        e["event"] == "media" && e["on"] == false
    });
    bo.send("/audio on tone:440");
    let refused = bo.expect_event("error");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("stopped"),
        "{refused}"
    );
    let (mut raw, raw_id, token) = RawPeer::hello(server.addr(), "raw");
    raw.request(&Request::Join {
        meeting: meeting.clone(),
        passcode: None,
    });
    raw.expect("joined", |e| matches!(e, Event::Joined { .. }));
    let mut raw_audio = RawPeer::attach(server.addr(), MediaKind::Audio, raw_id, &token);
    // The host's client names members it knows: it must have heard raw join.
    host.expect("raw joins", |e| {
        e["event"] == "member_joined" && e["member"]["id"] == raw_id.0
    });
    host.send(&format!("/stop {} audio", raw_id.0));
    raw.expect("blocked", |e| {
        matches!(e, Event::Blocked { blocked: true, .. })
    });
    // A client that ignores the block: its frames go nowhere.
    let frame = common::Frame::media(
        MediaKind::Audio,
        common::MediaHeader {
            sender: common::ClientId(0),
            sequence: 0,
            timestamp_us: 0,
        },
        &[0u8; 1920],
    );
    for _ in 0..10 {
        raw_audio.send_bytes(frame.as_bytes());
    }
    host.send("/allow bo audio");
    bo.expect("allowed", |e| {
        e["event"] == "blocked" && e["blocked"] == false
    });
    bo.send("/audio on tone:440");
    bo.expect("sharing", |e| e["event"] == "sharing" && e["on"] == true);
    let stats = host.wait_stats("bo's audio again", |s| {
        s["received"].as_array().is_some_and(|r| {
            r.iter()
                .any(|m| m["member"] == bo.id && m["audio"]["frames"].as_u64() > Some(5))
        })
    });
    let from_raw = stats["received"]
        .as_array()
        .and_then(|r| r.iter().find(|m| m["member"] == raw_id.0))
        .map(|m| m["audio"]["frames"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert_eq!(from_raw, 0, "a stopped member's audio was relayed");

    // Remove bo: told, gone, cannot come back until allowed.
    host.send("/remove bo");
    bo.expect_event("removed");
    host.expect("bo left", |e| {
        e["event"] == "member_left" && e["member"]["name"] == "bo"
    });
    bo.send(&format!("/join {meeting}"));
    let error = bo.expect_event("error");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("removed"),
        "{error}; before it: {:?}",
        bo.history.iter().rev().take(8).collect::<Vec<_>>()
    );
    host.send(&format!("/allow {}", bo.id));
    host.sync();
    let joined = bo.join(&meeting);
    assert!(members_named(&joined).contains(&"bo".to_string()));

    // Hand the host role over.
    host.send("/host bo");
    let changed = bo.expect_event("host_changed");
    assert_eq!(changed["host"]["id"], bo.id);
    host.send("/lock");
    host.expect_event("error");
    drop(raw);
    let _ = of_kind(&host.history, "blocked");
}

#[test]
fn a_request_with_a_bad_passcode_shape_is_refused_not_crashed() {
    let server = ServerProcess::start();
    let (mut peer, _, _) = RawPeer::hello(server.addr(), "p");
    peer.request(&Request::Create {
        passcode: Some("x".repeat(10_000)),
    });
    peer.expect(
        "an error",
        |e| matches!(e, Event::Error { message } if message.contains("passcode")),
    );
    peer.request(&Request::Create {
        passcode: Some("line\nbreak".into()),
    });
    peer.expect("an error", |e| matches!(e, Event::Error { .. }));
    let deadline = Instant::now() + Duration::from_secs(5);
    peer.request(&Request::Create { passcode: None });
    peer.expect("created", |e| matches!(e, Event::Created { .. }));
    assert!(Instant::now() < deadline);
}

fn waiting_named(event: &serde_json::Value) -> Vec<String> {
    event["waiting"]
        .as_array()
        .map(|waiting| {
            waiting
                .iter()
                .filter_map(|m| m["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// With the lobby on, joiners wait outside, see and send nothing of the
/// meeting, and get in (or not) only as the host says.
#[test]
fn the_lobby_keeps_joiners_outside_until_the_host_lets_them_in() {
    let server = ServerProcess::start();
    let (meeting, [mut host, mut bo]) = server.meeting(["host", "bo"]);
    host.send("/lobby on");
    bo.expect("lobby on", |e| e["event"] == "lobby" && e["on"] == true);

    // cy knocks: told to wait; the host sees cy waiting; bo sees nothing.
    let mut cy = ClientProcess::start(&server, "cy");
    cy.send(&format!("/join {meeting}"));
    cy.expect_event("in_lobby");
    let waiting = host.expect_event("waiting");
    assert_eq!(waiting_named(&waiting), ["cy"], "{waiting}");
    // Waiting is not being in: cy's chat goes nowhere, and is refused.
    cy.send("anyone here?");
    let refused = cy.expect_event("error");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not in a meeting"),
        "{refused}"
    );
    host.send("/members");
    let members = host.expect_event("members");
    assert_eq!(members_named(&members), ["host", "bo"], "{members}");

    // Only the host lets people in.
    bo.send(&format!("/admit {}", cy.id));
    bo.expect_event("error");
    host.send("/admit cy");
    cy.expect_event("joined");
    bo.expect("cy joined", |e| {
        e["event"] == "member_joined" && e["member"]["name"] == "cy"
    });
    host.expect("nobody waits", |e| {
        e["event"] == "waiting" && waiting_named(e).is_empty()
    });

    // dee is turned away, and cannot knock again until allowed.
    let mut dee = ClientProcess::start(&server, "dee");
    dee.send(&format!("/join {meeting}"));
    dee.expect_event("in_lobby");
    host.expect("dee waits", |e| {
        e["event"] == "waiting" && waiting_named(e) == ["dee"]
    });
    host.send("/deny dee");
    let turned_away = dee.expect_event("not_admitted");
    assert!(
        turned_away["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("did not let you in"),
        "{turned_away}"
    );
    dee.send(&format!("/join {meeting}"));
    dee.expect_event("error");

    // eve waits, then the host opens the door: eve comes in by itself.
    let mut eve = ClientProcess::start(&server, "eve");
    eve.send(&format!("/join {meeting}"));
    eve.expect_event("in_lobby");
    host.expect("eve waits", |e| {
        e["event"] == "waiting" && waiting_named(e) == ["eve"]
    });
    host.send("/lobby off");
    eve.expect_event("joined");
    host.send("/members");
    let members = host.expect_event("members");
    assert_eq!(
        members_named(&members),
        ["host", "bo", "cy", "eve"],
        "{members}"
    );
}

/// Someone waiting hears it when the meeting ends under them.
#[test]
fn waiting_ends_with_the_meeting() {
    let server = ServerProcess::start();
    let mut host = ClientProcess::start(&server, "host");
    let meeting = host.create();
    host.send("/lobby on");
    host.expect_event("lobby");
    let mut bo = ClientProcess::start(&server, "bo");
    bo.send(&format!("/join {meeting}"));
    bo.expect_event("in_lobby");
    host.expect_event("waiting");
    host.send("/cancel");
    host.expect_event("ended");
    let told = bo.expect_event("not_admitted");
    assert!(
        told["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("ended"),
        "{told}"
    );
    // Free again: bo can start a meeting of its own.
    bo.create();
}
