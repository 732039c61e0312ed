//! The client's handling of what a server says: arbitrary bytes as a stream
//! of JSON `Event`s (as many as parse, one after the other), each folded
//! into the client's `MeetingState` and worded for the user, as the main
//! loop does (`App::server_event`).
//!
//! Properties, for every event:
//! - no panic;
//! - the worded text (`EventText::server`) shows nothing that steers a
//!   terminal or hides text: no character `is_unsafe_to_show` (C0 such as
//!   ESC and BEL, DEL, C1 U+0080–U+009F, bidi controls, invisible
//!   formatting), checked also against an independent list; a line break
//!   only in the events that are several lines by design (`meetings`,
//!   `server_stats`), and never a CR;
//! - the `--json` line (`json_line`) has none of those characters either,
//!   and parses back to the same event;
//! - the state stays consistent: no meeting, no members.

#![no_main]

use common::{ClientId, Event};
use libfuzzer_sys::fuzz_target;
use meeting_client::meeting::MeetingState;
use meeting_client::clean::is_unsafe_to_show;
use meeting_client::output::{EventText, json_line};

const ME: ClientId = ClientId(1);

/// Characters that must never reach a terminal from the network, listed
/// independently of `is_unsafe_to_show` (as the client's own tests do).
fn steers_a_terminal(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00..=0x1f | 0x7f..=0x9f | 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069
            | 0xfeff | 0xe0000..=0xe007f
    )
}

fn check_text(event: &Event, text: &str) {
    let several_lines = matches!(event, Event::Meetings { .. } | Event::ServerStats(_));
    for (at, c) in text.char_indices() {
        if c == '\n' && several_lines {
            continue;
        }
        assert!(
            !is_unsafe_to_show(c) && !steers_a_terminal(c),
            "U+{:04X} at byte {at} of {text:?}\n  event: {event:?}",
            u32::from(c)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut state = MeetingState::new(ME);
    let mut text = EventText::new(ME);
    let events = serde_json::Deserializer::from_slice(data).into_iter::<Event>();
    for event in events {
        let Ok(event) = event else { break };
        if state.apply(&event) {
            text.set_meeting(&state);
        }
        assert!(state.meeting.is_some() || state.members.is_empty());

        if let Some(words) = text.server(&event) {
            check_text(&event, &words);
        }

        let line = json_line(&event).expect("an event serialises");
        if let Some(c) = line
            .chars()
            .find(|&c| is_unsafe_to_show(c) || steers_a_terminal(c))
        {
            panic!("U+{:04X} raw in the --json line {line:?}", u32::from(c));
        }
        let back: Event = serde_json::from_str(&line).expect("the --json line parses");
        assert_eq!(back, event, "--json line {line}");
    }
});
