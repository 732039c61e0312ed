//! The rules' own tests, and the helpers the tests of each rules file share.

use super::*;
use common::InputEvent;

pub(super) fn rules_with(names: &[&str]) -> (MeetingRules, Vec<ClientId>) {
    let mut rules = MeetingRules::default();
    let ids: Vec<ClientId> = (1..=names.len() as u32).map(ClientId).collect();
    for (&id, name) in ids.iter().zip(names) {
        rules.arrive(id, name.to_string(), None);
    }
    (rules, ids)
}

/// The events `who` is told in `effects`, in order (the rules' tests
/// in the sibling modules use it too).
pub(super) fn told(effects: &[Effect], who: ClientId) -> Vec<&Event> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Tell { to, event } if to.contains(&who) => Some(event),
            _ => None,
        })
        .collect()
}

pub(super) fn created(rules: &mut MeetingRules, host: ClientId) -> MeetingId {
    rules.handle(host, Request::Create { passcode: None });
    let effects = rules.take_effects();
    match told(&effects, host).first() {
        Some(Event::Created { meeting, .. }) => meeting.clone(),
        other => panic!("no created: {other:?}"),
    }
}

pub(super) fn join(rules: &mut MeetingRules, id: ClientId, meeting: &MeetingId) {
    rules.handle(
        id,
        Request::Join {
            meeting: meeting.to_string(),
            passcode: None,
        },
    );
}

#[test]
fn joining_reroutes_the_meeting_and_tells_the_others_before_the_joiner() {
    let (mut rules, ids) = rules_with(&["ana", "bo"]);
    let meeting = created(&mut rules, ids[0]);
    join(&mut rules, ids[1], &meeting);
    let effects = rules.take_effects();
    assert!(effects.contains(&Effect::Reroute(meeting.clone())));
    assert!(matches!(
        told(&effects, ids[0]).as_slice(),
        [Event::MemberJoined { member, .. }] if member.id == ids[1]
    ));
    assert!(matches!(
        told(&effects, ids[1]).as_slice(),
        [Event::Joined { members, .. }] if members.len() == 2 && members[0].host
    ));
}

/// bo turns his camera on before joining, then leaves and comes back
/// with it still on: each time ana learns it from the `member_joined`
/// itself, and bo learns what ana shares from his `joined`.
#[test]
fn a_joiner_comes_with_what_it_shares_each_time_it_comes_in() {
    let (mut rules, ids) = rules_with(&["ana", "bo"]);
    let (ana, bo) = (ids[0], ids[1]);
    let meeting = created(&mut rules, ana);
    let on = |kind| Request::Media { kind, on: true };
    rules.handle(ana, on(MediaKind::Audio));
    rules.handle(bo, on(MediaKind::Video));
    rules.handle(bo, on(MediaKind::Screen));
    rules.take_effects();
    for _ in 0..2 {
        join(&mut rules, bo, &meeting);
        let effects = rules.take_effects();
        let [Event::MemberJoined { member, .. }] = told(&effects, ana).as_slice() else {
            panic!("ana hears only the joining: {effects:?}")
        };
        assert_eq!(member.id, bo);
        assert!(member.sharing[MediaKind::Video] && member.sharing[MediaKind::Screen]);
        assert!(!member.sharing[MediaKind::Audio] && !member.host);
        let [Event::Joined { members, .. }] = told(&effects, bo).as_slice() else {
            panic!("bo hears he joined: {effects:?}")
        };
        assert!(members[0].sharing[MediaKind::Audio], "{members:?}");
        rules.handle(bo, Request::Leave);
        rules.take_effects();
    }
}

#[test]
fn sharing_is_told_once_per_change_and_shows_in_members() {
    let (mut rules, ids) = rules_with(&["ana"]);
    created(&mut rules, ids[0]);
    for _ in 0..2 {
        rules.handle(
            ids[0],
            Request::Media {
                kind: MediaKind::Audio,
                on: true,
            },
        );
    }
    let effects = rules.take_effects();
    assert_eq!(told(&effects, ids[0]).len(), 1, "{effects:?}");
    rules.handle(ids[0], Request::Members);
    let effects = rules.take_effects();
    let Some(Event::Members { members, .. }) = told(&effects, ids[0]).first().copied() else {
        panic!("no members: {effects:?}")
    };
    assert!(members[0].sharing[MediaKind::Audio]);
    assert!(!members[0].sharing[MediaKind::Video]);
}

#[test]
fn cancelling_unroutes_every_member_and_removes_the_meeting() {
    let (mut rules, ids) = rules_with(&["ana", "bo"]);
    let meeting = created(&mut rules, ids[0]);
    join(&mut rules, ids[1], &meeting);
    rules.take_effects();
    rules.handle(ids[0], Request::Cancel);
    let effects = rules.take_effects();
    for &id in &ids {
        assert!(effects.contains(&Effect::Unroute(id)), "{effects:?}");
        assert!(matches!(
            told(&effects, id).as_slice(),
            [Event::Ended { .. }]
        ));
    }
    assert_eq!(rules.meeting_count(), 0);
}

#[test]
fn media_outside_a_meeting_is_warned_once_per_kind() {
    let (mut rules, ids) = rules_with(&["ana"]);
    for _ in 0..3 {
        for kind in MediaKind::ALL {
            rules.media_outside_meeting(ids[0], kind);
        }
    }
    assert_eq!(told(&rules.take_effects(), ids[0]).len(), MediaKind::COUNT);
}

/// ana hosts and shares her screen; bo and cy are in her meeting.
fn screen_meeting() -> (MeetingRules, [ClientId; 3]) {
    let (mut rules, ids) = rules_with(&["ana", "bo", "cy"]);
    let meeting = created(&mut rules, ids[0]);
    for &id in &ids[1..] {
        join(&mut rules, id, &meeting);
    }
    rules.handle(
        ids[0],
        Request::Media {
            kind: MediaKind::Screen,
            on: true,
        },
    );
    rules.take_effects();
    (rules, [ids[0], ids[1], ids[2]])
}

fn key() -> Vec<InputEvent> {
    vec![InputEvent::Key {
        keysym: 0x61,
        down: true,
    }]
}

fn inputs_to(effects: &[Effect], who: ClientId) -> usize {
    told(effects, who)
        .iter()
        .filter(|e| matches!(e, Event::Input { .. }))
        .count()
}

#[test]
fn input_flows_only_from_the_granted_member_to_the_owner_while_the_grant_stands() {
    let (mut rules, [ana, bo, cy]) = screen_meeting();
    rules.handle(bo, Request::Input { events: key() });
    let effects = rules.take_effects();
    assert_eq!(inputs_to(&effects, ana), 0, "no grant, no input");
    assert!(matches!(
        told(&effects, bo).as_slice(),
        [Event::Error { .. }]
    ));

    rules.handle(bo, Request::ControlRequest { owner: ana });
    let effects = rules.take_effects();
    for who in [ana, bo, cy] {
        assert!(
            matches!(told(&effects, who).as_slice(), [Event::ControlRequested { owner, controller, .. }]
                if owner.id == ana && controller.id == bo),
            "everyone sees the request: {effects:?}"
        );
    }
    assert_eq!(rules.controller_of(ana), None, "asking grants nothing");

    rules.handle(cy, Request::ControlGrant { controller: bo });
    assert!(
        matches!(
            told(&rules.take_effects(), cy).as_slice(),
            [Event::Error { .. }]
        ),
        "only a sharer grants"
    );
    rules.handle(ana, Request::ControlGrant { controller: bo });
    let effects = rules.take_effects();
    assert!(matches!(
        told(&effects, cy).as_slice(),
        [Event::ControlGranted { .. }]
    ));
    assert_eq!(rules.controller_of(ana), Some(bo));

    rules.handle(bo, Request::Input { events: key() });
    rules.handle(cy, Request::Input { events: key() });
    let effects = rules.take_effects();
    assert_eq!(inputs_to(&effects, ana), 1, "{effects:?}");
    assert_eq!(inputs_to(&effects, cy), 0);
    assert_eq!(inputs_to(&effects, bo), 0);

    rules.handle(ana, Request::ControlRevoke);
    let effects = rules.take_effects();
    assert!(matches!(
        told(&effects, bo).as_slice(),
        [Event::ControlRevoked { .. }]
    ));
    rules.handle(bo, Request::Input { events: key() });
    assert_eq!(inputs_to(&rules.take_effects(), ana), 0, "revoked at once");
}

#[test]
fn control_ends_when_the_screen_stops_or_either_side_leaves() {
    let (mut rules, [ana, bo, cy]) = screen_meeting();
    let grant = |rules: &mut MeetingRules, controller| {
        rules.handle(ana, Request::ControlGrant { controller });
        rules.take_effects();
    };
    let revoked = |effects: &[Effect], who| {
        told(effects, who)
            .iter()
            .any(|e| matches!(e, Event::ControlRevoked { .. }))
    };

    grant(&mut rules, bo);
    rules.handle(
        ana,
        Request::Media {
            kind: MediaKind::Screen,
            on: false,
        },
    );
    assert!(revoked(&rules.take_effects(), cy));
    assert_eq!(rules.controller_of(ana), None);

    rules.handle(
        ana,
        Request::Media {
            kind: MediaKind::Screen,
            on: true,
        },
    );
    grant(&mut rules, bo);
    grant(&mut rules, cy);
    assert_eq!(
        rules.controller_of(ana),
        Some(cy),
        "one controller at a time"
    );
    rules.handle(cy, Request::Leave);
    assert!(revoked(&rules.take_effects(), bo));
    assert_eq!(rules.controller_of(ana), None);

    grant(&mut rules, bo);
    rules.depart_server(ana);
    let effects = rules.take_effects();
    assert!(revoked(&effects, bo));
    assert_eq!(rules.controller_of(ana), None);
}

#[test]
fn keyframe_requests_reach_only_the_sharer_and_at_most_once_a_second() {
    let (mut rules, [ana, bo, cy]) = screen_meeting();
    for _ in 0..5 {
        rules.handle(
            bo,
            Request::Keyframe {
                member: ana,
                kind: MediaKind::Screen,
            },
        );
    }
    let effects = rules.take_effects();
    let asked = told(&effects, ana)
        .iter()
        .filter(|e| matches!(e, Event::Keyframe { by, .. } if by.id == bo))
        .count();
    assert_eq!(asked, 1, "{effects:?}");
    assert!(told(&effects, cy).is_empty());
}

#[test]
fn a_flood_of_requests_is_cut_at_the_budget_and_answered_with_errors() {
    let (mut rules, ids) = rules_with(&["ana", "bo"]);
    let meeting = created(&mut rules, ids[0]);
    join(&mut rules, ids[1], &meeting);
    rules.take_effects();
    let flood = REQUEST_BURST as usize + 25;
    for n in 0..flood {
        rules.handle(
            ids[1],
            Request::Chat {
                text: format!("{n}"),
            },
        );
    }
    let effects = rules.take_effects();
    let chats = told(&effects, ids[0])
        .iter()
        .filter(|e| matches!(e, Event::Chat { .. }))
        .count();
    // The join took one token; a few may come back while the loop runs.
    let budget = REQUEST_BURST as usize - 1;
    assert!(
        (budget..budget + 3).contains(&chats),
        "{chats} chats reached the other member"
    );
    let refused = told(&effects, ids[1])
        .iter()
        .filter(|e| matches!(e, Event::Error { message } if message.contains("too many requests")))
        .count();
    assert_eq!(chats + refused, flood, "every request answered");
}

#[test]
fn names_are_unique_in_a_meeting_and_visible() {
    let (mut rules, ids) = rules_with(&["ana", "ANA", "ana"]);
    let meeting = created(&mut rules, ids[0]);
    join(&mut rules, ids[1], &meeting);
    join(&mut rules, ids[2], &meeting);
    rules.handle(ids[0], Request::Members);
    let effects = rules.take_effects();
    let Some(Event::Members { members, .. }) = told(&effects, ids[0]).last().copied() else {
        panic!("no members: {effects:?}")
    };
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["ana", "ANA (2)", "ana (3)"]);

    // Leaving gives the chosen name back; the others knew it as "ANA (2)".
    rules.handle(ids[1], Request::Leave);
    let effects = rules.take_effects();
    assert!(matches!(
        told(&effects, ids[0]).as_slice(),
        [Event::MemberLeft { member, .. }] if member.name == "ANA (2)"
    ));

    for hidden in [
        "\u{202e}ana",
        "an\u{200b}a",
        "\u{2800}",
        "ana\u{3000}bo",
        "\u{e0041}",
    ] {
        assert!(validate_name(hidden).is_err(), "{hidden:?}");
    }
    assert_eq!(validate_name(" Ana Lima ").as_deref(), Ok("Ana Lima"));
    assert_eq!(validate_name("Zoë 😀").as_deref(), Ok("Zoë 😀"));
}

#[test]
fn a_snapshot_says_all_a_member_knew_of_its_meeting() {
    let (mut rules, ids) = rules_with(&["ana", "bo"]);
    let (ana, bo) = (ids[0], ids[1]);
    let meeting = created(&mut rules, ana);
    join(&mut rules, bo, &meeting);
    rules.handle(
        ana,
        Request::Passcode {
            passcode: Some("4711".into()),
        },
    );
    rules.handle(ana, Request::Lock { locked: true });
    rules.handle(ana, Request::Lobby { on: true });
    rules.handle(
        ana,
        Request::Block {
            member: Some(bo),
            kind: MediaKind::Video,
        },
    );
    rules.take_effects();

    let kinds = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .map(|e| serde_json::to_value(e).expect("json")["event"].to_string())
            .collect()
    };
    let for_bo = rules.snapshot(bo);
    assert_eq!(
        kinds(&for_bo),
        [
            "\"joined\"",
            "\"privacy\"",
            "\"locked\"",
            "\"lobby\"",
            "\"blocked\""
        ],
        "{for_bo:?}"
    );
    // Only the host hears the passcode again, as when it was set.
    assert!(matches!(&for_bo[1], Event::Privacy { passcode: None, .. }));
    let for_ana = rules.snapshot(ana);
    assert!(matches!(&for_ana[1], Event::Privacy { passcode: Some(p), .. } if p == "4711"));
    assert!(
        matches!(&for_bo[4], Event::Blocked { member, kind: MediaKind::Video, blocked: true, .. } if member.id == bo)
    );
    // Outside a meeting there is nothing to start over from.
    rules.handle(bo, Request::Leave);
    assert!(rules.snapshot(bo).is_empty());
}
