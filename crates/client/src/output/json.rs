//! The `--json` front end: one JSON object per event on stdout and nothing
//! else, for scripts. Server events keep the protocol's own shape; `members`
//! gets each other member's audio level added.
//!
//! `json_line` writes the value serde writes, but escapes every character
//! `crate::clean` would not show raw, so `--json` read in a terminal is as
//! harmless as the line output.

use super::{FrontEnd, LocalEvent, MemberLevel};
use crate::clean::is_unsafe_to_show;
use crate::meeting::MeetingState;
use common::{ClientId, Event};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;

/// One JSON object per line on stdout.
pub struct Json;

impl Json {
    fn emit<T: Serialize>(&self, event: &T) {
        if let Ok(line) = json_line(event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

impl FrontEnd for Json {
    /// Scripts read names from the events themselves.
    fn meeting(&mut self, _state: &MeetingState) {}

    fn server(&mut self, event: &Event) {
        if matches!(
            event,
            Event::Welcome { .. } | Event::Attached { .. } | Event::Resumed { .. }
        ) {
            return; // handshake details (the token is a secret): not for the user
        }
        if let Event::Ticket { meeting, .. } = event {
            // The standing ticket is a secret too: scripts learn only that
            // there is one.
            self.emit(&serde_json::json!({"event": "ticket", "meeting": meeting}));
            return;
        }
        if let Event::MeetingMoved { .. } = event {
            if let Some(value) = without_ticket(event) {
                self.emit(&value);
            }
            return;
        }
        self.emit(event);
    }

    fn local(&mut self, event: &LocalEvent) {
        self.emit(event);
    }

    fn members(&mut self, event: &Event, levels: &HashMap<ClientId, MemberLevel>) {
        let Ok(mut value) = serde_json::to_value(event) else {
            return;
        };
        if let Some(members) = value["members"].as_array_mut() {
            for member in members {
                let level = member["id"]
                    .as_u64()
                    .and_then(|id| levels.get(&ClientId(u32::try_from(id).ok()?)));
                if let (Some(level), Some(object)) = (level, member.as_object_mut()) {
                    // In f64 with one decimal: an f32 widened prints as -15.399999618530273.
                    let dbfs = (f64::from(level.dbfs) * 10.0).round() / 10.0;
                    object.insert("audio_level_dbfs".into(), dbfs.into());
                    object.insert("speaking".into(), level.speaking.into());
                }
            }
        }
        self.emit(&value);
    }
}

/// A `meeting_moved` as printed: its ticket lets anyone take our place in
/// the meeting (host included) for a minute, a secret like `welcome`'s
/// token, so it is left out.
fn without_ticket(event: &Event) -> Option<serde_json::Value> {
    let mut value = serde_json::to_value(event).ok()?;
    value.as_object_mut()?.remove("ticket");
    Some(value)
}

/// `event` as one line of JSON with the same value serde writes, but with
/// every character `is_unsafe_to_show` escaped as `\uXXXX`: serde escapes
/// only U+0000–U+001F, and people read `--json` in terminals too. Outside
/// strings JSON is plain ASCII, so every such character is inside a string,
/// where the escape means exactly that character.
pub fn json_line<T: Serialize>(event: &T) -> serde_json::Result<String> {
    let raw = serde_json::to_string(event)?;
    if !raw.chars().any(is_unsafe_to_show) {
        return Ok(raw);
    }
    let mut line = String::with_capacity(raw.len() + 16);
    for c in raw.chars() {
        if is_unsafe_to_show(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                line.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            line.push(c);
        }
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::fixtures::{HOSTILE, assert_shown_safely};
    use common::MeetingId;

    fn hostile_meeting() -> MeetingId {
        // `MeetingId` deserialises any string: the client cannot rely on its format.
        serde_json::from_value(serde_json::json!(HOSTILE)).expect("any string")
    }

    #[test]
    fn json_lines_stay_exact_but_carry_no_raw_control_or_bidi_character() {
        let event = Event::Chat {
            seq: 0,
            meeting: hostile_meeting(),
            from: HOSTILE.into(),
            from_id: ClientId(2),
            text: HOSTILE.into(),
        };
        let line = json_line(&event).expect("serialises");
        assert!(!line.contains('\n'), "one line: {line}");
        assert_shown_safely("json", &line, false);
        assert!(!line.as_bytes().contains(&0x1b), "no raw ESC byte: {line}");
        let back: Event = serde_json::from_str(&line).expect("still JSON");
        assert_eq!(back, event, "the same value, every character kept");
    }

    #[test]
    fn a_meeting_moved_is_printed_as_sent_but_without_its_ticket() {
        let event = Event::MeetingMoved {
            meeting: MeetingId::parse("abc-def").expect("an id"),
            server: "10.0.0.2:6338".into(),
            fingerprint: Some("SHA256:key".into()),
            ticket: "secret-ticket".into(),
        };
        let value = without_ticket(&event).expect("an object");
        let line = json_line(&value).expect("serialises");
        assert!(!line.contains("secret-ticket"), "{line}");
        assert!(line.contains(r#""event":"meeting_moved""#), "{line}");
        assert!(line.contains("10.0.0.2:6338"), "{line}");
    }
}
