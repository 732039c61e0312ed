//! What the full-screen view shows, as plain data: the meeting, its members,
//! the chat with scroll-back, your own media, the connection and the live
//! figures, the input line, and the view's own choices about shared screens
//! (presentation or grid, which screen is shown, control mode). Events change
//! it here; `render` draws it and `keys` edits it. No terminal, no threads:
//! every piece is testable alone.

use super::remote::ScreenPlacement;
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
    /// The server has not answered for a while (not even a `ping`).
    Silent,
    /// The connection broke; the client is reconnecting by itself.
    Reconnecting,
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

/// A command that cannot be taken back (quitting, ending the meeting for
/// everyone), held until the user answers the question about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    /// What is sent on `y` or Enter.
    pub line: String,
    /// What the status line asks (`quit the client?`).
    pub question: String,
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
    /// Why the session ended, said on the ordinary screen once the view is gone.
    pub last_word: Option<String>,
    pub server: String,
    pub connection: Connection,
    /// The meeting and its members, as the main loop folded them.
    pub state: MeetingState,
    pub chat: VecDeque<ChatLine>,
    /// How many lines the chat is scrolled back from the newest.
    pub chat_scroll: usize,
    /// What you share yourself.
    pub sharing: PerKind<bool>,
    /// The kinds whose socket is down (being attached again): nothing of
    /// them flows either way.
    pub media_down: PerKind<bool>,
    pub figures: Figures,
    pub input: InputLine,
    pub help_open: bool,
    /// How many rows the help overlay is scrolled down.
    pub help_scroll: usize,
    /// The most it can be scrolled, as the last draw found (the overlay's
    /// height depends on the terminal's size).
    pub help_max_scroll: usize,
    /// The rows of help the overlay shows at once, for PgUp and PgDn.
    pub help_page: usize,
    /// A question waiting for y or Enter (any other key says no).
    pub confirm: Option<Confirmation>,
    pub speaking: BTreeSet<ClientId>,
    /// The user's layout choice: a shared screen large (true, the default) or
    /// the ordinary grid. It sticks until changed; with no screen shared the
    /// grid is shown whatever it says.
    pub presenting: bool,
    /// The screen picked with Tab; while it is not shared the first sharer's
    /// screen is shown instead.
    pub chosen_screen: Option<ClientId>,
    /// Keys and mouse go to the screen we control (see `in_control_mode`).
    pub control_mode: bool,
    /// Requests for our screen the user waved away (`n`): (owner, asking).
    pub ignored_requests: BTreeSet<(ClientId, ClientId)>,
    /// Where the last draw put the shown screen's picture, for the mouse.
    pub screen_at: Option<ScreenPlacement>,
    text: EventText,
}

impl ViewModel {
    pub fn new(me: ClientId) -> ViewModel {
        ViewModel {
            me,
            my_name: String::new(),
            last_word: None,
            server: String::new(),
            connection: Connection::Connected,
            state: MeetingState::new(me),
            chat: VecDeque::new(),
            chat_scroll: 0,
            sharing: PerKind::default(),
            media_down: PerKind::default(),
            figures: Figures::default(),
            input: InputLine::default(),
            help_open: false,
            help_scroll: 0,
            help_max_scroll: 0,
            help_page: 10,
            confirm: None,
            speaking: BTreeSet::new(),
            presenting: true,
            chosen_screen: None,
            control_mode: false,
            ignored_requests: BTreeSet::new(),
            screen_at: None,
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
        // Control mode lasts as long as the grant: a revoke, the owner
        // leaving or our leaving end it without a key.
        if self.state.controlled_by_me().is_none() {
            self.control_mode = false;
        }
        let requests = &self.state.control_requests;
        self.ignored_requests
            .retain(|request| requests.contains(request));
    }

    /// The screen the presentation shows: the one we control while in
    /// control mode, else the one picked with Tab while it is shared, else
    /// the first sharer's in member order. Never our own.
    pub fn presented_screen(&self) -> Option<&MemberInfo> {
        let sharing = |id: Option<ClientId>| {
            id.and_then(|id| self.state.screen_sharers().find(|m| m.id == id))
        };
        let controlled = self
            .in_control_mode()
            .then(|| sharing(self.state.controlled_by_me()))
            .flatten();
        controlled
            .or_else(|| sharing(self.chosen_screen))
            .or_else(|| self.state.screen_sharers().next())
    }

    /// The screen shown large right now, if the presentation layout is on.
    pub fn presentation(&self) -> Option<&MemberInfo> {
        self.presenting.then(|| self.presented_screen()).flatten()
    }

    /// Shows the next shared screen (in member order, wrapping around).
    pub fn next_screen(&mut self) {
        let sharers: Vec<ClientId> = self.state.screen_sharers().map(|m| m.id).collect();
        let current = self.presented_screen().map(|m| m.id);
        let at = sharers.iter().position(|id| Some(*id) == current);
        let next = match at {
            Some(i) => sharers.get((i + 1) % sharers.len()),
            None => sharers.first(),
        };
        self.chosen_screen = next.copied();
    }

    /// Flips between the presentation layout and the grid, and says so.
    pub fn toggle_presentation(&mut self) {
        self.presenting = !self.presenting;
        let text = if self.presenting {
            "layout: presentation (a shared screen large, p for the grid)"
        } else {
            "layout: grid (p shows shared screens large)"
        };
        self.push_line(ChatLine::Info(text.to_string()));
    }

    /// The first member asking to control our screen whom the user has not
    /// waved away.
    pub fn pending_request(&self) -> Option<ClientId> {
        self.state
            .control_requests
            .iter()
            .find(|request| request.0 == self.me && !self.ignored_requests.contains(request))
            .map(|&(_, asking)| asking)
    }

    /// Waves the pending request away (it stays unanswered on the server).
    pub fn ignore_request(&mut self) {
        if let Some(asking) = self.pending_request() {
            self.ignored_requests.insert((self.me, asking));
        }
    }

    /// True while keys and mouse go to a screen we control.
    pub fn in_control_mode(&self) -> bool {
        self.control_mode && self.state.controlled_by_me().is_some()
    }

    /// Enters control mode if we control a screen, showing that screen large;
    /// false if there is nothing to control.
    pub fn enter_control_mode(&mut self) -> bool {
        let Some(owner) = self.state.controlled_by_me() else {
            return false;
        };
        self.control_mode = true;
        self.presenting = true;
        self.chosen_screen = Some(owner);
        true
    }

    /// Adds a line to the chat pane. Every line passes here, so here its
    /// text is cleaned: whatever a caller forgot, the pane never holds a
    /// control sequence or a line break from the network.
    pub fn push_line(&mut self, line: ChatLine) {
        let line = match line {
            ChatLine::Message { from, text, mine } => ChatLine::Message {
                from: clean(&from),
                text: clean(&text),
                mine,
            },
            ChatLine::Info(text) => ChatLine::Info(clean(&text)),
            ChatLine::Error(text) => ChatLine::Error(clean(&text)),
        };
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
                    from: from.clone(),
                    text: text.clone(),
                    mine: *from_id == self.me,
                });
            }
            Event::Error { message } => {
                return self.push_line(ChatLine::Error(message.clone()));
            }
            Event::Shutdown { message } => {
                self.connection = Connection::ServerStopping;
                self.last_word = Some(format!("the server stopped: {}", clean(message)));
            }
            // A controller's every key would be a chat line; the banner
            // already says who controls the screen.
            Event::Input { .. } => return,
            // Asked again after being waved away: show the banner again.
            Event::ControlRequested {
                owner, controller, ..
            } => {
                self.ignored_requests.remove(&(owner.id, controller.id));
            }
            _ => {}
        }
        if let Some(text) = described {
            self.info(text);
        }
    }

    pub fn local(&mut self, event: &LocalEvent) {
        match event {
            LocalEvent::Connected {
                name,
                server,
                fingerprint,
                ..
            } => {
                self.my_name = clean(name);
                self.server = server.clone();
                let encryption = match fingerprint {
                    Some(_) => "encrypted",
                    None => "NOT encrypted (--no-tls)",
                };
                return self.info(format!(
                    "connected to {server} as {}, {encryption}. Press c to create a meeting, j to join one, ? for every key.",
                    clean(name)
                ));
            }
            LocalEvent::FirstUse { .. } => {}
            LocalEvent::Sharing { kind, on, .. } => self.sharing[*kind] = *on,
            LocalEvent::MediaDown { kind, .. } => self.media_down[*kind] = true,
            LocalEvent::MediaUp { kind, .. } => self.media_down[*kind] = false,
            LocalEvent::Help { .. } => {
                self.open_help();
                return;
            }
            LocalEvent::Error { message } => {
                return self.push_line(ChatLine::Error(message.clone()));
            }
            LocalEvent::Disconnected { message } => {
                self.connection = Connection::Lost;
                self.last_word = Some(format!("disconnected: {}", clean(message)));
                return self.push_line(ChatLine::Error(format!("disconnected: {message}")));
            }
            LocalEvent::Reconnecting { .. } => self.connection = Connection::Reconnecting,
            LocalEvent::Reconnected { .. } => self.connection = Connection::Connected,
            LocalEvent::ServerSilent { .. } if self.connection == Connection::Reconnecting => {}
            LocalEvent::ServerSilent { .. } => self.connection = Connection::Silent,
            LocalEvent::ServerBack { .. } if self.connection == Connection::Silent => {
                self.connection = Connection::Connected;
            }
            LocalEvent::ServerBack { .. } => {}
            LocalEvent::Stats { .. } => {}
            LocalEvent::Volume { .. } | LocalEvent::AudioOut { .. } => {}
        }
        let text = self.text.local(event);
        self.info(text);
    }

    /// Opens the `?` overlay at its top.
    pub fn open_help(&mut self) {
        self.help_open = true;
        self.help_scroll = 0;
    }

    /// Scrolls the help overlay down (positive) or up (negative), within
    /// what the last draw left hidden.
    pub fn scroll_help(&mut self, rows: isize) {
        self.help_scroll = self
            .help_scroll
            .saturating_add_signed(rows)
            .min(self.help_max_scroll);
    }

    pub fn log(&mut self, line: &str) {
        self.push_line(ChatLine::Info(line.to_string()));
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
    use crate::meeting::fixtures::{meeting, member};
    use common::MemberRef;

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

    fn sharing_screen(id: u32, name: &str) -> MemberInfo {
        let mut m = member(id, name, false);
        m.sharing[MediaKind::Screen] = true;
        m
    }

    #[test]
    fn the_presented_screen_follows_choice_sharing_and_control() {
        let mut model = ViewModel::new(ClientId(1));
        let mut state = MeetingState::new(ClientId(1));
        state.apply(&Event::Joined {
            meeting: meeting(),
            members: vec![
                sharing_screen(1, "me"),
                member(2, "ana", true),
                sharing_screen(3, "bo"),
                sharing_screen(4, "cy"),
            ],
        });
        model.set_meeting(&state);
        let presented = |model: &ViewModel| model.presented_screen().map(|m| m.id.0);
        assert_eq!(presented(&model), Some(3), "the first sharer, never me");
        model.next_screen();
        assert_eq!(presented(&model), Some(4));
        model.next_screen();
        assert_eq!(presented(&model), Some(3), "wraps around, skipping me");
        model.next_screen();
        // cy stops: back to the first sharer.
        state.apply(&Event::Media {
            meeting: meeting(),
            member: MemberRef {
                id: ClientId(4),
                name: "cy".into(),
            },
            kind: MediaKind::Screen,
            on: false,
        });
        model.set_meeting(&state);
        assert_eq!(presented(&model), Some(3));
        // Controlling cy's screen shows it while in control mode.
        state.members[3].sharing[MediaKind::Screen] = true;
        state.controls.insert(ClientId(4), ClientId(1));
        model.set_meeting(&state);
        assert!(model.enter_control_mode());
        model.chosen_screen = Some(ClientId(3));
        assert_eq!(presented(&model), Some(4));
        // The last screen stops: the grid, and the choice stays.
        for m in &mut state.members {
            m.sharing[MediaKind::Screen] = false;
        }
        state.controls.clear();
        model.set_meeting(&state);
        assert!(model.presentation().is_none() && model.presenting);
        assert!(!model.in_control_mode());
    }

    #[test]
    fn input_is_no_chat_and_a_new_request_shows_again() {
        let mut model = ViewModel::new(ClientId(1));
        let mut state = MeetingState::new(ClientId(1));
        let events = [
            Event::Joined {
                meeting: meeting(),
                members: vec![sharing_screen(1, "me"), member(2, "ana", true)],
            },
            Event::ControlRequested {
                meeting: meeting(),
                owner: MemberRef {
                    id: ClientId(1),
                    name: "me".into(),
                },
                controller: MemberRef {
                    id: ClientId(2),
                    name: "ana".into(),
                },
            },
        ];
        for event in &events {
            state.apply(event);
            model.set_meeting(&state);
            model.server(event);
        }
        assert_eq!(model.pending_request(), Some(ClientId(2)));
        model.ignore_request();
        assert_eq!(model.pending_request(), None);
        // Asked again: the banner is back.
        state.apply(&events[1]);
        model.set_meeting(&state);
        model.server(&events[1]);
        assert_eq!(model.pending_request(), Some(ClientId(2)));
        let lines = model.chat.len();
        model.server(&Event::Input {
            from: ClientId(2),
            events: Vec::new(),
        });
        assert_eq!(model.chat.len(), lines, "a controller's keys are not chat");
    }
}
