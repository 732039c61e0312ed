//! Meetings end to end: real server, real clients, loopback sockets.

use integration_tests::{ClientProcess, ServerProcess, meeting_of, of_kind};
use serde_json::Value;
use std::process::{Command, Stdio};

fn chat_lines(events: &[Value]) -> Vec<String> {
    of_kind(events, "chat")
        .iter()
        .map(|e| format!("{}:{}", e["from"].as_str().unwrap_or("?"), e["text"]))
        .collect()
}

#[test]
fn two_meetings_of_three_chat_in_order_exactly_once_and_apart() {
    let server = ServerProcess::start();
    let mut meetings = Vec::new();
    for prefix in ["a", "b"] {
        let names = [1, 2, 3].map(|n| format!("{prefix}{n}"));
        meetings.push(server.meeting(names.each_ref().map(String::as_str)));
    }
    assert_ne!(meetings[0].0, meetings[1].0);

    // Every member of both meetings talks, interleaved.
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        for (_, members) in &mut meetings {
            for member in members.iter_mut() {
                let text = format!("{} says {round}", member.name);
                member.send(&text);
            }
        }
    }
    for (meeting, members) in &mut meetings {
        let mut orders = Vec::new();
        for member in members.iter_mut() {
            let mut seen = Vec::new();
            while seen.len() < 3 * ROUNDS {
                let chat = member.expect_event("chat");
                assert_eq!(
                    chat["meeting"],
                    meeting.as_str(),
                    "chat from another meeting reached {}",
                    member.name
                );
                seen.push(chat);
            }
            // Nothing more: the round trip proves no duplicate or stray chat was queued.
            let after = member.sync();
            assert!(
                of_kind(&after, "chat").is_empty(),
                "{} got extra chat: {after:?}",
                member.name
            );
            orders.push(chat_lines(&seen));
        }
        // Same order for everyone, each sender's lines in the order sent, each once.
        assert!(
            orders.iter().all(|o| *o == orders[0]),
            "members saw different orders: {orders:#?}"
        );
        for member in members.iter() {
            let from_member: Vec<&String> = orders[0]
                .iter()
                .filter(|l| l.starts_with(&format!("{}:", member.name)))
                .collect();
            let expected: Vec<String> = (0..ROUNDS)
                .map(|r| format!("{}:\"{} says {r}\"", member.name, member.name))
                .collect();
            assert_eq!(from_member, expected.iter().collect::<Vec<_>>());
        }
    }
}

#[test]
fn host_leaving_hands_over_and_members_list_follows() {
    let (_server, meeting, [mut host, mut second, mut third]) =
        meeting_of(["host", "second", "third"]);
    let joined = third.last_event("joined");
    let names: Vec<&str> = joined["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["host", "second", "third"]);

    host.send("/leave");
    assert_eq!(host.expect_event("left")["meeting"], meeting.as_str());
    for member in [&mut second, &mut third] {
        let left = member.expect_event("member_left");
        assert_eq!(left["member"]["name"], "host");
        let changed = member.expect_event("host_changed");
        assert_eq!(
            changed["host"]["name"], "second",
            "the longest-present member becomes host"
        );
    }
    third.send("/members");
    let members = third.expect_event("members");
    let listed: Vec<(String, bool)> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_string(),
                m["host"] == true,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("second".to_string(), true), ("third".to_string(), false)]
    );

    // The last member leaving removes the meeting.
    second.send("/leave");
    third.send("/leave");
    second.expect_event("left");
    third.expect_event("left");
    host.send("/meetings");
    let list = host.expect_event("meetings");
    assert_eq!(list["total"], 0, "{list}");
}

#[test]
fn only_the_host_cancels_and_everyone_is_told() {
    let (_server, meeting, [mut host, mut guest]) = meeting_of(["host", "guest"]);

    guest.send("/cancel");
    let error = guest.expect_event("error");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("only the host"),
        "{error}"
    );

    host.send("/cancel");
    for member in [&mut host, &mut guest] {
        assert_eq!(member.expect_event("ended")["meeting"], meeting.as_str());
    }
    guest.send(&format!("/join {meeting}"));
    let error = guest.expect_event("error");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no meeting"),
        "{error}"
    );
    guest.send("still here?");
    guest.expect_event("error"); // chat outside a meeting is refused, not lost silently
}

#[test]
fn meetings_list_and_members_show_who_shares_what() {
    let (server, first, [mut a, mut b]) = meeting_of(["ana", "bo"]);
    let mut c = ClientProcess::start(&server, "cy");
    let second = c.create();
    c.send("/meetings");
    let list = c.expect_event("meetings");
    assert_eq!(list["total"], 2);
    let summary: Vec<(String, String, u64)> = list["meetings"]
        .as_array()
        .expect("list")
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap_or_default().into(),
                m["host"].as_str().unwrap_or_default().into(),
                m["members"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [(first.clone(), "ana".into(), 2), (second, "cy".into(), 1)]
    );

    a.send("/video on");
    let media = b.expect_event("media");
    assert_eq!(
        (
            media["member"]["name"].as_str(),
            media["kind"].as_str(),
            media["on"].as_bool()
        ),
        (Some("ana"), Some("video"), Some(true))
    );
    b.send("/members");
    let members = b.expect_event("members");
    let ana = &members["members"][0];
    assert_eq!(
        (
            ana["name"].as_str(),
            ana["video"].as_bool(),
            ana["audio"].as_bool()
        ),
        (Some("ana"), Some(true), Some(false))
    );
    a.send("/video off");
    let media = b.expect_event("media");
    assert_eq!(media["on"], false);
}

#[test]
fn a_killed_client_is_removed_and_the_others_are_told() {
    // A killed process's kernel closes its sockets: with a FIN, or with a
    // reset if events were still unread, which the server takes for a
    // network cut and holds the session for (`reconnect.rs`). Either way
    // the others are told; no hold here, so both end in `member_left`.
    let server = ServerProcess::start_with(&["--resume-hold", "0"]);
    let (_, [mut host, mut doomed]) = server.meeting(["host", "doomed"]);
    doomed.send("/video on");
    host.expect_event("media");
    doomed.kill();
    let left = host.expect_event("member_left");
    assert_eq!(left["member"]["name"], "doomed");
    host.send("/members");
    let members = host.expect_event("members");
    assert_eq!(members["members"].as_array().map(Vec::len), Some(1));
}

#[test]
fn server_shutdown_tells_every_client_and_they_exit_cleanly() {
    let (mut server, _, [mut a, mut b]) = meeting_of(["a", "b"]);
    let status = server.interrupt();
    assert!(
        status.success(),
        "server exit status after Ctrl-C: {status}"
    );
    for client in [&mut a, &mut b] {
        client.expect_event("shutdown");
        assert!(client.wait_exit().success());
    }
    assert!(server.stderr().contains("stopped"));
}

#[test]
fn a_piped_script_gets_every_answer_before_the_client_exits() {
    let server = ServerProcess::start();
    let output = Command::new(integration_tests::binary("client"))
        .args([&server.addr().to_string(), "--json", "--name", "script"])
        .args(server.trust_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"/create\nhello\n/members\n/meetings\n/bogus\n")?;
            child.wait_with_output()
        })
        .expect("client runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).expect("every stdout line is JSON")["event"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    // Server answers come in request order; the typo is caught locally, at once.
    let answers: Vec<&String> = events.iter().filter(|e| *e != "error").collect();
    assert_eq!(
        answers,
        [
            "connected",
            "created",
            "joined",
            "chat",
            "members",
            "meetings"
        ]
    );
    assert_eq!(
        events.iter().filter(|e| *e == "error").count(),
        1,
        "{events:?}"
    );
}

#[test]
fn an_unreachable_server_is_explained_with_exit_code_1() {
    // Bind a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let output = Command::new(integration_tests::binary("client"))
        .args(["127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("client runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not connect") && stderr.contains("Is `server` running"),
        "{stderr}"
    );
}

#[test]
fn bad_command_lines_say_what_is_wrong_with_the_right_exit_code() {
    use integration_tests::binary;
    let run = |program: &str, args: &[&str]| {
        let out = std::process::Command::new(binary(program))
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run("client", &["127.0.0.1", "--name", ""]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("a name is 1 to 32 characters"), "{stderr}");
    // A bad server list is a bad command line too, found before connecting.
    let (code, stderr) = run("client", &["127.0.0.1:99999"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is not a port"), "{stderr}");
    let (code, stderr) = run("client", &["10.0.0.1,,10.0.0.2"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("single commas"), "{stderr}");
    // 192.0.2.0/24 is reserved for documentation: never this machine's.
    let (code, stderr) = run("server", &["--bind", "192.0.2.1:7000"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("is not an address of this machine"),
        "{stderr}"
    );
}

#[test]
fn a_paste_over_the_limits_is_refused_by_the_client_and_the_session_goes_on() {
    let (_server, _, [mut a, mut b]) = meeting_of(["a", "b"]);
    // 70 KB in one line: over the chat limit and over the frame limit.
    a.send(&"x".repeat(70_000));
    let refused = a.expect_event("error");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not sent"),
        "{refused}"
    );
    a.send("still here");
    let chat = b.expect_event("chat");
    assert_eq!(chat["text"], "still here");
}

#[test]
fn members_with_the_same_name_are_told_apart_by_what_the_user_sees() {
    let server = ServerProcess::start();
    let (meeting, [mut host, mut first, second]) = server.meeting(["host", "bo", "bo"]);
    let joined = second.last_event("joined");
    // The server names the second one as the others see it.
    let seen = joined["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["id"] == second.id))
        .map(|m| m["name"].clone());
    assert_eq!(seen, Some("bo (2)".into()), "{joined}");
    for _ in 0..2 {
        host.expect_event("member_joined");
    }

    // The suffix the server gives, typed as shown.
    host.send("/volume bo (2) 50");
    let volume = host.expect_event("volume");
    assert_eq!(volume["member"], second.id, "{volume}");
    assert_eq!(volume["percent"], 50);
    // `name#id`, as the members list shows them.
    host.send(&format!("/mute bo#{}", first.id));
    let muted = host.expect_event("volume");
    assert_eq!(muted["member"], first.id, "{muted}");
    assert_eq!(muted["muted"], true);
    // A mismatched pair is refused with what the id really is.
    host.send(&format!("/mute host#{}", first.id));
    let error = host.expect_event("error");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("is called 'bo'"), "{message}");

    // bo leaves and comes back: twice seen as "bo", so /allow asks which,
    // naming both as they can be typed.
    first.send("/leave");
    host.expect_event("member_left");
    let mut again = ClientProcess::start(&server, "bo");
    again.join(&meeting);
    host.expect_event("member_joined");
    host.send("/allow bo");
    let error = host.expect_event("error");
    let message = error["message"].as_str().unwrap_or_default();
    let (a, b) = (first.id.min(again.id), first.id.max(again.id));
    assert!(
        message.contains(&format!("type bo#{a} or bo#{b}")),
        "{message}"
    );
}

/// Answers the client gives itself (`/stats`, `/help`, `/volume`, a typo)
/// come after the server's answers to the commands before them: a script
/// reads its answers in the order it gave the commands.
#[test]
fn a_piped_script_reads_local_and_server_answers_in_command_order() {
    use std::io::{Read, Write};
    let server = ServerProcess::start();
    let mut child = Command::new(integration_tests::binary("client"))
        .args([&server.addr().to_string(), "--json", "--name", "script"])
        .args(server.trust_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("client starts");
    let script = "/create\n/members\n/stats\n/meetings\n/help\n/members\n/volume nobody 50\n/meetings\n/bogus\n";
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script written");
    let status = integration_tests::wait_with_deadline(&mut child, integration_tests::DEADLINE)
        .unwrap_or_else(|err| {
            let _ = child.kill();
            panic!("the client did not end with its script: {err}")
        });
    assert!(status.success());
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("stdout read");
    let events: Vec<String> = stdout
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).expect("every stdout line is JSON")["event"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    assert_eq!(
        events,
        [
            "connected",
            "created",
            "joined",
            "members",
            "stats",
            "meetings",
            "help",
            "members",
            "error",
            "meetings",
            "error",
        ],
        "{stdout}"
    );
}

/// The server says what people should type to reach it (its log, on stderr:
/// stdout's lines are for scripts).
#[test]
fn the_server_says_what_people_type_to_join() {
    let server = ServerProcess::start();
    let expected = format!("people join with: client {}", server.addr());
    let end = std::time::Instant::now() + integration_tests::DEADLINE;
    while !server.stderr().contains(&expected) {
        assert!(
            std::time::Instant::now() < end,
            "no `{expected}` in the log:\n{}",
            server.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether a `member_joined` (or a member object) says `kind` is shared.
fn shares(event: &Value, kind: &str) -> bool {
    event["member"][kind] == true
}

/// bo turns his test pattern and test desktop on, then comes in three ways:
/// he joins, he leaves and joins again with both still on, and he is let in
/// from the lobby. Each time ana and cy know what he shares from the moment
/// they see him, with no `media` event to wait for: the `member_joined`
/// says it, and cy's client acts on it (`/control request` without a name
/// finds the one screen shared). (A resumed session: tests/reconnect.rs.)
#[test]
fn media_already_on_is_known_from_the_moment_a_member_comes_in() {
    let server = ServerProcess::start();
    let mut ana = ClientProcess::start(&server, "ana");
    let meeting = ana.create();
    ana.send("/audio on");
    ana.expect("ana's audio", |e| {
        e["event"] == "sharing" && e["on"] == true
    });
    let mut cy = ClientProcess::start(&server, "cy");
    let joined = cy.join(&meeting);
    assert_eq!(joined["members"][0]["audio"], true, "{joined}");
    let mut bo = ClientProcess::start(&server, "bo");
    for kind in ["video", "screen"] {
        bo.send(&format!("/{kind} on"));
        bo.expect(&format!("bo's {kind}"), |e| {
            e["event"] == "sharing" && e["kind"] == kind && e["on"] == true
        });
    }

    fn came_in(ana: &mut ClientProcess, cy: &mut ClientProcess, how: &str) {
        for watcher in [&mut *ana, &mut *cy] {
            let joined = watcher.expect(&format!("bo {how}"), |e| {
                e["event"] == "member_joined" && e["member"]["name"] == "bo"
            });
            assert!(
                shares(&joined, "video") && shares(&joined, "screen") && !shares(&joined, "audio"),
                "{how}: {joined}"
            );
        }
        // Without a fold that knew it, cy's client answers itself that
        // nobody shares a screen. (The server holds a second request
        // within a second: "you asked a moment ago" went to bo's screen too.)
        cy.send("/control request");
        let asked = cy.expect(&format!("cy's request after bo {how}"), |e| {
            matches!(e["event"].as_str(), Some("control_requested" | "error"))
        });
        let to_bo = asked["owner"]["name"] == "bo"
            || asked["message"]
                .as_str()
                .is_some_and(|m| m.contains("a moment ago"));
        assert!(to_bo, "{how}: {asked}");
    }

    let joined = bo.join(&meeting);
    assert_eq!(joined["members"][0]["audio"], true, "{joined}");
    came_in(&mut ana, &mut cy, "joined");

    bo.send("/leave");
    bo.expect_event("left");
    cy.expect_event("member_left");
    ana.expect_event("member_left");
    bo.join(&meeting);
    came_in(&mut ana, &mut cy, "joined again");

    bo.send("/leave");
    bo.expect_event("left");
    cy.expect_event("member_left");
    ana.expect_event("member_left");
    ana.send("/lobby on");
    ana.expect("the lobby on", |e| e["event"] == "lobby" && e["on"] == true);
    bo.send(&format!("/join {meeting}"));
    bo.expect_event("in_lobby");
    ana.expect("bo waits", |e| {
        e["event"] == "waiting" && e["waiting"][0]["name"] == "bo"
    });
    ana.send("/admit bo");
    bo.expect_event("joined");
    came_in(&mut ana, &mut cy, "let in from the lobby");

    for watcher in [&mut ana, &mut cy] {
        watcher.sync();
        let about_bo = |e: &&Value| e["event"] == "media" && e["member"]["name"] == "bo";
        let media: Vec<&Value> = watcher.history.iter().filter(about_bo).collect();
        assert!(media.is_empty(), "no media event was needed: {media:?}");
    }
}
