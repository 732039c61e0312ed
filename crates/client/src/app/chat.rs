//! Chat and its log: what a chat or private message asks of the server
//! (within its limit, to a member the meeting knows), which of ours the
//! server has not echoed yet (`unconfirmed`: said when late, confirmed when
//! it comes, said undelivered when the session ends), and `--record`'s
//! `chat.log`, one cleaned line per message said to us (and the same line
//! as a subtitle in `meeting.mkv`).

use crate::clean::clean;
use crate::command;
use crate::meeting::MeetingState;
use crate::mkv::MkvFeed;
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
    /// Our chat unechoed when our server died and we came back through
    /// another as the same member: the chat the meeting replays to us
    /// shows which of it arrived; the rest is sent again (`resend_carried`).
    carried: Vec<Pending>,
    log: Option<ChatLog>,
}

/// What a chat request sent carries: to whom (a private message's member,
/// by name), and the text.
pub(super) type Outgoing = (Option<String>, String);

/// A message carried over a failover, to send again.
#[derive(Debug, PartialEq)]
pub(super) struct Again {
    pub request: Request,
    /// It had been said to be unconfirmed: its arrival is news.
    pub said_late: bool,
}

impl Chat {
    pub fn new(log: Option<ChatLog>) -> Chat {
        Chat {
            unconfirmed: UnconfirmedChat::default(),
            carried: Vec::new(),
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
        let (private, text) = match event {
            Event::Chat { from_id, text, .. } if *from_id == meeting.me => (false, text),
            Event::Private { from, text, .. } if from.id == meeting.me => (true, text),
            _ => return None,
        };
        let carried = self
            .carried
            .iter()
            .position(|p| p.to.is_some() == private && p.text == *text);
        let Pending { to, text, .. } = match carried {
            // Replayed after a failover: it had arrived before our server died.
            Some(index) => Some(self.carried.remove(index)).filter(Pending::was_reported),
            None => self.unconfirmed.echoed(private, text),
        }?;
        Some(LocalEvent::ChatConfirmed { to, text })
    }

    /// Our server died and we come back through another as the same
    /// member: what it had not echoed is kept, to be sent again unless the
    /// meeting's replay shows it arrived.
    pub fn carry_over(&mut self) {
        self.carried = self.unconfirmed.drain();
    }

    /// The meeting's replay after a failover is all in (the answer to a
    /// ping sent after the rejoin came): the carried chat that did not come
    /// back in it, as requests to send again. The meeting's server tells
    /// anyone a message only once the cluster keeps it, so what the replay
    /// lacks reached nobody. What cannot be sent again is said not
    /// delivered: a private message to a member no longer there, and all of
    /// it if the meeting was made again without its chat (`renumbered`: its
    /// old server may have passed some on, and nobody can tell which).
    pub fn resend_carried(
        &mut self,
        meeting: &MeetingState,
        renumbered: bool,
    ) -> (Vec<Again>, Vec<LocalEvent>) {
        let (mut again, mut lost) = (Vec::new(), Vec::new());
        for pending in self.carried.drain(..) {
            let said_late = pending.was_reported();
            let Pending { to, text, .. } = pending;
            let request = match &to {
                _ if renumbered => None,
                None => Some(Request::Chat { text: text.clone() }),
                Some(name) => meeting
                    .members
                    .iter()
                    .find(|m| m.name == *name)
                    .map(|member| Request::Private {
                        to: member.id,
                        text: text.clone(),
                    }),
            };
            match request {
                Some(request) => again.push(Again { request, said_late }),
                None => lost.push(LocalEvent::ChatNotDelivered { to, text }),
            }
        }
        (again, lost)
    }

    /// A carried message sent again as request `number`: tracked as any
    /// chat, its arrival said if it had been said to be late.
    pub fn sent_again(&mut self, number: u64, outgoing: Outgoing, said_late: bool) {
        let (to, text) = outgoing;
        self.unconfirmed
            .sent_again(number, to, text, Instant::now(), said_late);
    }

    /// Whether chat carried over a failover waits to be sent again.
    pub fn carries(&self) -> bool {
        !self.carried.is_empty()
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

/// `--record`'s `chat.log`, and the chat's subtitles in `meeting.mkv`.
pub struct ChatLog {
    file: File,
    mkv: Option<MkvFeed>,
}

impl ChatLog {
    pub fn open(root: &Path, mkv: Option<MkvFeed>) -> anyhow::Result<ChatLog> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("could not create {}", root.display()))?;
        let path = root.join("chat.log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("could not open {}", path.display()))?;
        Ok(ChatLog { file, mkv })
    }

    /// One line per message, cleaned like everything shown: people read
    /// the log with `cat` and `tail -f`, and a line break in a message
    /// would forge a line of its own.
    pub fn message(&mut self, meeting: &MeetingId, from: &str, text: &str) -> anyhow::Result<()> {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
        let (meeting, from, text) = (clean(meeting.as_str()), clean(from), clean(text));
        if let Some(mkv) = &self.mkv {
            mkv.chat(format!("{from}: {text}"));
        }
        writeln!(self.file, "{now} [{meeting}] {from}: {text}")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ClientId;

    #[test]
    fn chat_log_lines_hold_no_escape_sequences_and_no_forged_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hostile = "\x1b]0;pwned\x07\x1b[2J\u{9b}1m\u{202e}\nforged: line";
        let meeting: MeetingId =
            serde_json::from_value(serde_json::json!(hostile)).expect("any string");
        let mut log = ChatLog::open(dir.path(), None).expect("opens");
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

    #[test]
    fn chat_carried_over_a_failover_is_sent_again_unless_the_replay_shows_it_arrived() {
        let mut meeting = MeetingState::new(ClientId(7));
        let meeting_id = MeetingId::parse("abc-def").expect("an id");
        meeting.members = vec![
            crate::meeting::fixtures::member(7, "ana", true),
            crate::meeting::fixtures::member(8, "bo", false),
        ];
        let mut chat = Chat::new(None);
        chat.sent(1, (None, "arrived".into()));
        chat.sent(2, (None, "lost with the server".into()));
        chat.sent(3, (Some("bo".into()), "psst".into()));
        chat.sent(4, (Some("cai".into()), "to someone gone".into()));
        chat.carry_over();
        assert!(chat.carries());
        // The meeting replays what it said after the last we saw: our
        // first message is among it.
        let replayed = Event::Chat {
            meeting: meeting_id,
            from: "ana".into(),
            from_id: ClientId(7),
            text: "arrived".into(),
            seq: 12,
        };
        assert_eq!(
            chat.confirmed(&replayed, &meeting),
            None,
            "not news: never said late"
        );
        let (again, lost) = chat.resend_carried(&meeting, false);
        let requests: Vec<&Request> = again.iter().map(|again| &again.request).collect();
        assert_eq!(
            requests,
            [
                &Request::Chat {
                    text: "lost with the server".into()
                },
                &Request::Private {
                    to: ClientId(8),
                    text: "psst".into()
                },
            ]
        );
        assert!(
            matches!(lost.as_slice(), [LocalEvent::ChatNotDelivered { to: Some(to), .. }] if to == "cai"),
            "{lost:?}"
        );
        assert!(!chat.carries());

        // The meeting made again elsewhere without its chat: not sent again.
        chat.sent(5, (None, "maybe seen".into()));
        chat.carry_over();
        let (again, lost) = chat.resend_carried(&meeting, true);
        assert!(again.is_empty());
        assert_eq!(lost.len(), 1);
    }
}
