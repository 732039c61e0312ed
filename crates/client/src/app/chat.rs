//! Chat and its log: what a chat or private message asks of the server
//! (within its limit, to a member the meeting knows), which of ours the
//! server has not echoed yet (`unconfirmed`: said when late, confirmed when
//! it comes, said undelivered when the session ends), and `--record`'s
//! `chat.log`, one cleaned line per message said to us.

use crate::clean::clean;
use crate::command;
use crate::meeting::MeetingState;
use crate::output::LocalEvent;
use crate::unconfirmed::{Pending, UnconfirmedChat};
use anyhow::Context;
use common::protocol::MAX_CHAT_BYTES;
use common::{Event, MeetingId, Request};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Our chat in flight, and the log.
pub(super) struct Chat {
    /// Chat sent and not yet echoed by the server.
    unconfirmed: UnconfirmedChat,
    log: Option<ChatLog>,
}

/// What a chat request sent carries: to whom (a private message's member,
/// by name), and the text.
pub(super) type Outgoing = (Option<String>, String);

impl Chat {
    pub fn new(log: Option<ChatLog>) -> Chat {
        Chat {
            unconfirmed: UnconfirmedChat::default(),
            log,
        }
    }

    /// `/msg`'s line: the member named at its start (the meeting knows
    /// where a name with spaces ends), and the text after it.
    pub fn private(line: &str, meeting: &MeetingState) -> Result<Vec<Request>, String> {
        match meeting.find_at_start(line) {
            Ok((member, _)) if member.id == meeting.me => {
                Err("that is you: /msg goes to another member".to_string())
            }
            Ok((_, "")) => Err(command::msg_usage()),
            Ok((_, text)) if text.len() > MAX_CHAT_BYTES => Err(format!(
                "not sent: a private message is at most {MAX_CHAT_BYTES} bytes (this one has {}); split it",
                text.len()
            )),
            Ok((member, text)) => Ok(vec![Request::Private {
                to: member.id,
                text: text.to_string(),
            }]),
            Err(message) => Err(message),
        }
    }

    /// A chat line to the meeting. Over the limit the server would refuse
    /// it, and a line over the frame limit would be a protocol fault that
    /// ends the session: say so here, and lose nothing else.
    pub fn message(text: String) -> Result<Vec<Request>, String> {
        if text.len() > MAX_CHAT_BYTES {
            return Err(format!(
                "not sent: a chat message is at most {MAX_CHAT_BYTES} bytes (this one has {}); split it",
                text.len()
            ));
        }
        Ok(vec![Request::Chat { text }])
    }

    /// What of `request` is our chat, if it is chat.
    pub fn outgoing(request: &Request, meeting: &MeetingState) -> Option<Outgoing> {
        match request {
            Request::Chat { text } => Some((None, text.clone())),
            Request::Private { to, text } => {
                let name = meeting
                    .member(*to)
                    .map_or_else(|| to.to_string(), |m| m.name.clone());
                Some((Some(name), text.clone()))
            }
            _ => None,
        }
    }

    /// Chat request number `number` went to the server (or waits to).
    pub fn sent(&mut self, number: u64, (to, text): Outgoing) {
        self.unconfirmed.sent(number, to, text, Instant::now());
    }

    /// The server has read every request up to `number`.
    pub fn read_through(&mut self, number: u64) {
        self.unconfirmed.read_through(number);
    }

    /// What has gone unechoed too long, said once each.
    pub fn overdue(&mut self, now: Instant) -> Vec<LocalEvent> {
        self.unconfirmed
            .overdue(now)
            .into_iter()
            .map(|pending| LocalEvent::ChatUnconfirmed {
                seconds: now.duration_since(pending.sent_at).as_secs(),
                to: pending.to,
                text: pending.text,
            })
            .collect()
    }

    /// Writes what was said to us to the log. Private messages are part of
    /// it: marked as private, with whom.
    pub fn log(&mut self, event: &Event) {
        let Some(log) = &mut self.log else {
            return;
        };
        let written = match event {
            Event::Chat {
                meeting,
                from,
                text,
                ..
            } => log.message(meeting, from, text),
            Event::Private {
                meeting,
                from,
                to,
                text,
                ..
            } => {
                let from = format!("{} → {} (private)", from.name, to.name);
                log.message(meeting, &from, text)
            }
            _ => Ok(()),
        };
        if let Err(err) = written {
            tracing::warn!("chat log: {err:#}");
        }
    }

    /// Our own chat came back from the server: delivered. Said only for a
    /// message that had been said to be unconfirmed.
    pub fn confirmed(&mut self, event: &Event, meeting: &MeetingState) -> Option<LocalEvent> {
        let Pending { to, text, .. } = match event {
            Event::Chat { from_id, text, .. } if *from_id == meeting.me => {
                self.unconfirmed.echoed(false, text)
            }
            Event::Private { from, text, .. } if from.id == meeting.me => {
                self.unconfirmed.echoed(true, text)
            }
            _ => None,
        }?;
        Some(LocalEvent::ChatConfirmed { to, text })
    }

    /// The session is over: which messages never arrived.
    pub fn undelivered(&mut self) -> Vec<LocalEvent> {
        self.unconfirmed
            .drain()
            .into_iter()
            .map(|Pending { to, text, .. }| LocalEvent::ChatNotDelivered { to, text })
            .collect()
    }
}

/// `--record`'s `chat.log`.
pub struct ChatLog {
    file: File,
}

impl ChatLog {
    pub fn open(root: &Path) -> anyhow::Result<ChatLog> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("could not create {}", root.display()))?;
        let path = root.join("chat.log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("could not open {}", path.display()))?;
        Ok(ChatLog { file })
    }

    /// One line per message, cleaned like everything shown: people read
    /// the log with `cat` and `tail -f`, and a line break in a message
    /// would forge a line of its own.
    pub fn message(&mut self, meeting: &MeetingId, from: &str, text: &str) -> anyhow::Result<()> {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        let (meeting, from, text) = (clean(meeting.as_str()), clean(from), clean(text));
        writeln!(self.file, "{now} [{meeting}] {from}: {text}")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_log_lines_hold_no_escape_sequences_and_no_forged_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hostile = "\x1b]0;pwned\x07\x1b[2J\u{9b}1m\u{202e}\nforged: line";
        let meeting: MeetingId =
            serde_json::from_value(serde_json::json!(hostile)).expect("any string");
        let mut log = ChatLog::open(dir.path()).expect("opens");
        log.message(&meeting, hostile, hostile).expect("writes");
        let text = std::fs::read_to_string(dir.path().join("chat.log")).expect("log");
        assert_eq!(text.lines().count(), 1, "one message, one line: {text:?}");
        let bad: Vec<char> = text
            .trim_end_matches('\n')
            .chars()
            .filter(|&c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c))
            .collect();
        assert!(bad.is_empty(), "{bad:?} in {text:?}");
    }
}
