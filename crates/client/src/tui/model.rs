//! What the full-screen view shows, as plain data: the meeting, its members,
//! the chat with scroll-back, your own media, the connection and the live
//! figures, and the input line. Events change it here; `render` draws it and
//! `keys` edits it. No terminal, no threads: every piece is testable alone.

use crate::meeting::MeetingState;
use crate::output::{EventText, LocalEvent, clean};
use crate::stats::StatsSnapshot;
use common::{ClientId, Event, MediaKind, MemberInfo, PerKind};
use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

/// Lines of chat kept for scrolling back.
pub const CHAT_HISTORY: usize = 2000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connection {
    Connected,
    /// The server said it is stopping.
    ServerStopping,
    Lost,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatLine {
    Message {
        from: String,
        text: String,
        mine: bool,
    },
    /// What happened (joins, leaves, answers to commands).
    Info(String),
    Error(String),
}

/// Live figures of what this client receives, once a second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Video frames received per second, all members together.
    pub video_fps: f64,
    /// Video and audio received, bits per second.
    pub bits_per_second: f64,
    /// Frames lost on the way since the start.
    pub dropped: u64,
    /// Screen redraws in the last second.
    pub redraws: u32,
}

/// Turns the cumulative counters into rates.
#[derive(Default)]
pub struct FigureMeter {
    last: Option<(Instant, u64, u64)>,
}

impl FigureMeter {
    pub fn update(&mut self, stats: &StatsSnapshot, now: Instant, redraws: u32) -> Figures {
        let frames: u64 = stats
            .received
            .iter()
            .map(|m| m.received[MediaKind::Video].frames)
            .sum();
        let every_kind = || stats.received.iter().flat_map(|m| m.received.values());
        let bytes: u64 = every_kind().map(|c| c.bytes).sum();
        let dropped = every_kind().map(|c| c.lost).sum();
        let mut figures = Figures {
            dropped,
            redraws,
            ..Figures::default()
        };
        if let Some((then, last_frames, last_bytes)) = self.last {
            let seconds = now.saturating_duration_since(then).as_secs_f64();
            if seconds > 0.0 {
                figures.video_fps = frames.saturating_sub(last_frames) as f64 / seconds;
                figures.bits_per_second = 8.0 * bytes.saturating_sub(last_bytes) as f64 / seconds;
            }
        }
        self.last = Some((now, frames, bytes));
        figures
    }
}

/// The line being typed, and whether keys type into it or are shortcuts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputLine {
    pub typing: bool,
    pub text: String,
}

pub struct ViewModel {
    pub me: ClientId,
    pub my_name: String,
    pub server: String,
    pub connection: Connection,
    /// The meeting and its members, as the main loop folded them.
    pub state: MeetingState,
    pub chat: VecDeque<ChatLine>,
    /// How many lines the chat is scrolled back from the newest.
    pub chat_scroll: usize,
    /// What you share yourself.
    pub sharing: PerKind<bool>,
    pub figures: Figures,
    pub input: InputLine,
    pub help_open: bool,
    pub speaking: BTreeSet<ClientId>,
    text: EventText,
}

impl ViewModel {
    pub fn new(me: ClientId) -> ViewModel {
        ViewModel {
            me,
            my_name: String::new(),
            server: String::new(),
            connection: Connection::Connected,
            state: MeetingState::new(me),
            chat: VecDeque::new(),
            chat_scroll: 0,
            sharing: PerKind::default(),
            figures: Figures::default(),
            input: InputLine::default(),
            help_open: false,
            speaking: BTreeSet::new(),
            text: EventText::new(me),
        }
    }

    /// The other members: the ones with a tile.
    pub fn others(&self) -> impl Iterator<Item = &MemberInfo> {
        self.state.others()
    }

    pub fn sharing(&self, kind: MediaKind) -> bool {
        self.sharing[kind]
    }

    /// The meeting changed: show the main loop's state.
    pub fn set_meeting(&mut self, state: &MeetingState) {
        self.state.clone_from(state);
        self.text.set_meeting(state);
    }

    pub fn push_line(&mut self, line: ChatLine) {
        if self.chat.len() == CHAT_HISTORY {
            self.chat.pop_front();
        }
        self.chat.push_back(line);
        if self.chat_scroll > 0 {
            // Keep what the reader is looking at in place.
            self.chat_scroll = (self.chat_scroll + 1).min(self.chat.len());
        }
    }

    fn info(&mut self, text: String) {
        for line in text.lines() {
            self.push_line(ChatLine::Info(line.to_string()));
        }
    }

    pub fn server(&mut self, event: &Event) {
        let described = self.text.server(event);
        match event {
            Event::Welcome { .. } | Event::Attached { .. } => return,
            // Your own changes are already said by `sharing`.
            Event::Media { member, .. } if member.id == self.me => return,
            Event::Chat {
                from,
                from_id,
                text,
                ..
            } => {
                return self.push_line(ChatLine::Message {
                    from: clean(from),
                    text: clean(text),
                    mine: *from_id == self.me,
                });
            }
            Event::Error { message } => {
                return self.push_line(ChatLine::Error(clean(message)));
            }
            Event::Shutdown { .. } => self.connection = Connection::ServerStopping,
            _ => {}
        }
        if let Some(text) = described {
            self.info(text);
        }
    }

    pub fn local(&mut self, event: &LocalEvent) {
        match event {
            LocalEvent::Connected { name, server, .. } => {
                self.my_name = clean(name);
                self.server = server.clone();
                return self.info(format!(
                    "connected to {server} as {}. Press c to create a meeting, j to join one, ? for every key.",
                    clean(name)
                ));
            }
            LocalEvent::Sharing { kind, on, .. } => self.sharing[*kind] = *on,
            LocalEvent::Help { .. } => {
                self.help_open = true;
                return;
            }
            LocalEvent::Error { message } => {
                return self.push_line(ChatLine::Error(message.clone()));
            }
            LocalEvent::Disconnected { message } => {
                self.connection = Connection::Lost;
                return self.push_line(ChatLine::Error(format!("disconnected: {message}")));
            }
            LocalEvent::Stats { .. } => {}
            LocalEvent::Volume { .. } | LocalEvent::AudioOut { .. } => {}
        }
        let text = self.text.local(event);
        self.info(text);
    }

    pub fn log(&mut self, line: &str) {
        self.push_line(ChatLine::Info(clean(line)));
    }

    /// Scrolls the chat back (positive) or forward (negative) by `lines`.
    pub fn scroll_chat(&mut self, lines: isize) {
        let max = self.chat.len().saturating_sub(1);
        self.chat_scroll = self.chat_scroll.saturating_add_signed(lines).min(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::{MeetingId, MemberRef};

    fn meeting() -> MeetingId {
        MeetingId::parse("abc-def").expect("valid id")
    }

    fn member(id: u32, name: &str, host: bool) -> MemberInfo {
        MemberInfo {
            id: ClientId(id),
            name: name.into(),
            host,
            sharing: PerKind::default(),
        }
    }

    #[test]
    fn members_follow_the_meeting_events() {
        let mut model = ViewModel::new(ClientId(1));
        let mut state = MeetingState::new(ClientId(1));
        // As the main loop does: fold the event, hand over the state, show the event.
        let mut server = |model: &mut ViewModel, event: &Event| {
            if state.apply(event) {
                model.set_meeting(&state);
            }
            model.server(event);
        };
        server(
            &mut model,
            &Event::Joined {
                meeting: meeting(),
                members: vec![member(2, "ana", true), member(1, "me", false)],
            },
        );
        server(
            &mut model,
            &Event::MemberJoined {
                meeting: meeting(),
                member: MemberRef {
                    id: ClientId(3),
                    name: "bo".into(),
                },
            },
        );
        server(
            &mut model,
            &Event::Media {
                meeting: meeting(),
                member: MemberRef {
                    id: ClientId(3),
                    name: "bo".into(),
                },
                kind: MediaKind::Video,
                on: true,
            },
        );
        server(
            &mut model,
            &Event::MemberLeft {
                meeting: meeting(),
                member: MemberRef {
                    id: ClientId(2),
                    name: "ana".into(),
                },
            },
        );
        server(
            &mut model,
            &Event::HostChanged {
                meeting: meeting(),
                host: MemberRef {
                    id: ClientId(3),
                    name: "bo".into(),
                },
            },
        );
        let others: Vec<_> = model
            .others()
            .map(|m| (m.name.as_str(), m.host, m.sharing[MediaKind::Video]))
            .collect();
        assert_eq!(others, vec![("bo", true, true)]);
        assert!(
            model
                .chat
                .iter()
                .any(|l| *l == ChatLine::Info("ana left".into()))
        );
        server(&mut model, &Event::Left { meeting: meeting() });
        assert!(model.state.meeting.is_none() && model.state.members.is_empty());
    }

    #[test]
    fn chat_is_cleaned_and_scrolling_stays_in_range() {
        let mut model = ViewModel::new(ClientId(1));
        model.server(&Event::Chat {
            meeting: meeting(),
            from: "ana".into(),
            from_id: ClientId(2),
            text: "hi\x1b[2J there".into(),
        });
        assert_eq!(
            model.chat[0],
            ChatLine::Message {
                from: "ana".into(),
                text: "hi [2J there".into(),
                mine: false
            }
        );
        model.scroll_chat(10);
        assert_eq!(model.chat_scroll, 0, "one line: nothing to scroll");
        for i in 0..5 {
            model.log(&format!("line {i}"));
        }
        model.scroll_chat(3);
        assert_eq!(model.chat_scroll, 3);
        model.log("new");
        assert_eq!(model.chat_scroll, 4, "a new line does not move the view");
        model.scroll_chat(-100);
        assert_eq!(model.chat_scroll, 0);
    }
}
