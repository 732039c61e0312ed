//! What members say to each other besides the chat, with the real binaries:
//! a private message reaches its addressee and nobody else (the server
//! enforces it, whatever the clients do), and raised hands and reactions
//! reach everyone, with the host able to lower any hand.

use integration_tests::{ClientProcess, ServerProcess, of_kind};
use serde_json::Value;

/// ana hosts; bo and cy join.
fn three_members(server: &ServerProcess) -> [ClientProcess; 3] {
    let (_, [mut ana, mut bo, cy]) = server.meeting(["ana", "bo", "cy"]);
    // Everyone has seen everyone arrive before the test starts.
    ana.expect("cy joined", |e| {
        e["event"] == "member_joined" && e["member"]["name"] == "cy"
    });
    bo.expect("cy joined", |e| {
        e["event"] == "member_joined" && e["member"]["name"] == "cy"
    });
    [ana, bo, cy]
}

fn mentions(events: &[Value], secret: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.to_string().contains(secret))
        .cloned()
        .collect()
}

#[test]
fn a_private_message_reaches_only_its_addressee() {
    let server = ServerProcess::start();
    let [mut ana, mut bo, mut cy] = three_members(&server);
    let secret = "the cake is in the fridge";
    bo.send(&format!("/msg cy {secret}"));
    let got = cy.expect_event("private");
    assert_eq!(got["text"], secret, "{got}");
    assert_eq!(got["from"]["name"], "bo");
    assert_eq!(got["to"]["id"].as_u64(), Some(cy.id));
    let echo = bo.expect_event("private");
    assert_eq!(
        echo["text"], secret,
        "the sender sees it as private: {echo}"
    );
    assert_eq!(echo["to"]["name"], "cy");

    // A public line after it: once ana has it, she would have had the
    // private one before it, had the server sent it to her.
    bo.send("/msg nobody-here hello");
    let refused = bo.expect_event("error");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nobody"),
        "{refused}"
    );
    bo.send("and now for everyone");
    ana.expect("the public line", |e| e["event"] == "chat");
    cy.expect("the public line", |e| e["event"] == "chat");
    ana.sync();
    assert!(
        mentions(&ana.history, secret).is_empty(),
        "ana saw a message that was not for her: {:?}",
        mentions(&ana.history, secret)
    );
    assert_eq!(of_kind(&ana.history, "private").len(), 0);
    // Each of bo and cy saw it once.
    bo.sync();
    cy.sync();
    assert_eq!(of_kind(&bo.history, "private").len(), 1, "{:?}", bo.history);
    assert_eq!(of_kind(&cy.history, "private").len(), 1, "{:?}", cy.history);
}

fn hand_of(members: &Value, name: &str) -> bool {
    members["members"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == name)
        .map(|m| m["hand"] == true)
        .unwrap_or_else(|| panic!("{name} not in {members}"))
}

#[test]
fn hands_and_reactions_reach_everyone_and_the_host_lowers_hands() {
    let server = ServerProcess::start();
    let [mut ana, mut bo, mut cy] = three_members(&server);

    bo.send("/hand");
    for client in [&mut ana, &mut bo, &mut cy] {
        let hand = client.expect_event("hand");
        assert_eq!(hand["raised"], true, "{hand}");
        assert_eq!(hand["member"]["name"], "bo");
    }
    cy.send("/members");
    let members = cy.expect_event("members");
    assert!(
        hand_of(&members, "bo") && !hand_of(&members, "cy"),
        "{members}"
    );

    // cy is not the host: bo's hand stays up.
    cy.send("/hand lower bo");
    cy.expect_event("error");
    // The host lowers it.
    ana.send("/hand lower bo");
    for client in [&mut ana, &mut bo, &mut cy] {
        let hand = client.expect_event("hand");
        assert_eq!(hand["raised"], false, "{hand}");
        assert_eq!(hand["by"]["name"], "ana");
    }
    // Raised and lowered by the member itself: /hand toggles.
    cy.send("/hand");
    cy.expect("cy's hand up", |e| {
        e["event"] == "hand" && e["raised"] == true
    });
    cy.send("/hand");
    bo.expect("cy's hand down", |e| {
        e["event"] == "hand" && e["raised"] == false && e["member"]["name"] == "cy"
    });

    bo.send("/react 👍🏽");
    for client in [&mut ana, &mut bo, &mut cy] {
        let reaction = client.expect_event("reaction");
        assert_eq!(reaction["emoji"], "👍🏽", "{reaction}");
        assert_eq!(reaction["member"]["name"], "bo");
    }
    // Not a reaction: too long, or hiding something.
    for bad in ["🎉🎉🎉🎉🎉", "\u{202e}x"] {
        bo.send(&format!("/react {bad}"));
        let error = bo.expect_event("error");
        assert!(
            error["message"]
                .as_str()
                .unwrap_or_default()
                .contains("reaction"),
            "{error}"
        );
    }
    ana.sync();
    assert_eq!(
        of_kind(&ana.history, "reaction").len(),
        1,
        "{:?}",
        ana.history
    );
}

/// `--record` keeps the private messages said to you (and by you) in the
/// chat log, marked as private, and never those between others.
#[test]
fn the_chat_log_keeps_private_messages_marked_as_private() {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("rec");
    let root_arg = root.to_string_lossy().into_owned();
    let (_, [mut ana, mut bo]) =
        server.meeting_with([("ana", &["--record", &root_arg]), ("bo", &[])]);
    ana.expect("bo joined", |e| e["event"] == "member_joined");
    bo.send("/msg ana just between us");
    ana.expect_event("private");
    ana.send("/msg bo agreed");
    ana.expect("the echo", |e| {
        e["event"] == "private" && e["text"] == "agreed"
    });
    let log = std::fs::read_to_string(integration_tests::recording(&root).join("chat.log"))
        .expect("chat.log");
    assert!(log.contains("bo → ana (private): just between us"), "{log}");
    assert!(log.contains("ana → bo (private): agreed"), "{log}");
}

/// A member whose name has a space is addressed in every form the view
/// shows her: as the members list has it (`Cy Lee#3`), as her tile has it
/// (`Cy Lee`), quoted, or by id; her first name with her id works too.
#[test]
fn a_member_whose_name_has_a_space_is_addressed_as_shown() {
    let server = ServerProcess::start();
    let (_, [mut ana, mut cy]) = server.meeting(["ana", "Cy Lee"]);
    ana.expect("Cy Lee joined", |e| e["event"] == "member_joined");
    let id = cy.id;
    for (n, to) in [
        format!("Cy Lee#{id}"),
        "Cy Lee".to_string(),
        "\"cy lee\"".to_string(),
        format!("Cy#{id}"),
        id.to_string(),
    ]
    .iter()
    .enumerate()
    {
        ana.send(&format!("/msg {to} message {n}"));
        let got = cy.expect(&format!("message {n} (to {to})"), |e| {
            e["event"] == "private"
        });
        assert_eq!(got["text"], format!("message {n}"), "to {to}: {got}");
    }
    ana.send(&format!("/mute Cy Lee#{id}"));
    let muted = ana.expect_event("volume");
    assert_eq!(muted["muted"], true, "{muted}");
    ana.send("/msg Cy");
    let usage = ana.expect_event("error");
    assert!(
        usage["message"]
            .as_str()
            .unwrap_or_default()
            .contains("usage"),
        "{usage}"
    );
    ana.sync();
    assert!(
        of_kind(&ana.history, "error").len() == 1,
        "only the one without a message failed: {:?}",
        of_kind(&ana.history, "error")
    );
}
