//! What the full-screen view shows, as plain data: the meeting, its members,
//! the chat with scroll-back, your own media, the connection and the live
//! figures, the input line, and the view's own choices about shared screens
//! (presentation or grid, which screen is shown, control mode). Events change
//! it here; `render` draws it and `keys` edits it. No terminal, no threads:
//! every piece is testable alone.

use super::editing::InputLine;
use crate::clean::clean;
use crate::command::Entered;
use crate::meeting::MeetingState;
use crate::output::{EventText, LocalEvent};
use crate::stats::StatsSnapshot;
use common::{ClientId, Event, MediaKind, MemberInfo, PerKind};
use ratatui::layout::Rect;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long a reaction shows on a member's tile and in the members list.
pub const REACTION_SHOWN: Duration = Duration::from_secs(5);

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
    /// A private message, to us or from us: `from → to`.
    Private {
        from: String,
        to: String,
        text: String,
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
    /// Everything received, bits per second.
    pub bits_per_second: f64,
    /// Frames lost on the way since the start.
    pub dropped: u64,
    /// Our own video frames sent per second.
    pub sent_video_fps: f64,
    /// Everything we sent, bits per second.
    pub sent_bits_per_second: f64,
    /// Screen redraws in the last second.
    pub redraws: u32,
}

/// The cumulative counters a rate is taken between.
#[derive(Clone, Copy)]
struct Totals {
    at: Instant,
    video_frames: u64,
    bytes: u64,
    sent_video_frames: u64,
    sent_bytes: u64,
}

/// Turns the cumulative counters into rates.
#[derive(Default)]
pub struct FigureMeter {
    last: Option<Totals>,
}

impl FigureMeter {
    pub fn update(&mut self, stats: &StatsSnapshot, now: Instant, redraws: u32) -> Figures {
        let every_kind = || stats.received.iter().flat_map(|m| m.received.values());
        let totals = Totals {
            at: now,
            video_frames: stats
                .received
                .iter()
                .map(|m| m.received[MediaKind::Video].frames)
                .sum(),
            bytes: every_kind().map(|c| c.bytes).sum(),
            sent_video_frames: stats.sent[MediaKind::Video].frames,
            sent_bytes: stats.sent.values().map(|c| c.bytes).sum(),
        };
        let mut figures = Figures {
            dropped: every_kind().map(|c| c.lost).sum(),
            redraws,
            ..Figures::default()
        };
        if let Some(then) = self.last {
            let seconds = now.saturating_duration_since(then.at).as_secs_f64();
            if seconds > 0.0 {
                let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / seconds;
                figures.video_fps = rate(totals.video_frames, then.video_frames);
                figures.bits_per_second = 8.0 * rate(totals.bytes, then.bytes);
                figures.sent_video_fps = rate(totals.sent_video_frames, then.sent_video_frames);
                figures.sent_bits_per_second = 8.0 * rate(totals.sent_bytes, then.sent_bytes);
            }
        }
        self.last = Some(totals);
        figures
    }
}

/// Where the shown screen's picture was last drawn, and how big the screen
/// it shows is: what turns a mouse cell into a pixel on that screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScreenPlacement {
    /// Whose screen it is.
    pub owner: ClientId,
    /// The cells the whole picture covers.
    pub picture: Rect,
    /// The part of `picture` on the terminal: a picture made for a larger tile
    /// (just after a resize) is cut, and a click on the cut part is no click.
    pub visible: Rect,
    /// The shared screen's size in pixels.
    pub pixels: (u32, u32),
}

/// A command that cannot be taken back (quitting, ending the meeting for
/// everyone), held until the user answers the question about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    /// What is sent on `y` or Enter.
    pub entered: Entered,
    /// What the status line asks (`quit the client?`).
    pub question: String,
}

/// Where things were drawn, for the mouse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClickMap {
    /// The chat pane (the wheel scrolls it).
    pub chat: Rect,
    /// Each member's row in the members list.
    pub member_rows: Vec<(ClientId, Rect)>,
    /// Each member's tile in the grid.
    pub tiles: Vec<(ClientId, Rect)>,
}

/// The open menu: which member is selected, by id (the list may change
/// under it as people come and go).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembersMenu {
    pub selected: ClientId,
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
    /// Messages from others that arrived while the chat was scrolled back:
    /// "N new messages" until the reader is back at the newest.
    pub unread: usize,
    /// Text to put on the terminal's clipboard (OSC 52), taken by the UI loop.
    pub copy: Option<String>,
    /// Someone joined or wrote while the chat was scrolled back: ring the
    /// terminal's bell once (taken by the UI loop).
    pub bell: bool,
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
    /// The members menu (`M`), while open.
    pub members_menu: Option<MembersMenu>,
    pub speaking: BTreeSet<ClientId>,
    /// Who spoke last (started speaking most recently), for the speaker view.
    pub last_speaker: Option<ClientId>,
    /// The speaker view (`f`): the member speaking now, or who spoke last,
    /// fills the video area above a strip of the others.
    pub speaker_view: bool,
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
    /// Where the last draw put the chat, the members and the tiles, for clicks.
    pub clicks: ClickMap,
    /// The member whose tile fills the video area (a click on it; a click
    /// again or Esc returns to the grid).
    pub focused: Option<ClientId>,
    /// Each member's latest reaction and when it came; shown on their tile
    /// and in the members list for `REACTION_SHOWN`.
    pub reactions: HashMap<ClientId, (String, Instant)>,
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
            unread: 0,
            copy: None,
            bell: false,
            sharing: PerKind::default(),
            media_down: PerKind::default(),
            figures: Figures::default(),
            input: InputLine::default(),
            help_open: false,
            help_scroll: 0,
            help_max_scroll: 0,
            help_page: 10,
            confirm: None,
            members_menu: None,
            speaking: BTreeSet::new(),
            last_speaker: None,
            speaker_view: false,
            presenting: true,
            chosen_screen: None,
            control_mode: false,
            ignored_requests: BTreeSet::new(),
            screen_at: None,
            clicks: ClickMap::default(),
            focused: None,
            reactions: HashMap::new(),
            text: EventText::new(me),
        }
    }

    /// `id`'s reaction if it is recent enough to show at `now`.
    pub fn reaction(&self, id: ClientId, now: Instant) -> Option<&str> {
        self.reactions
            .get(&id)
            .filter(|(_, at)| now.saturating_duration_since(*at) < REACTION_SHOWN)
            .map(|(emoji, _)| emoji.as_str())
    }

    /// Forgets reactions that no longer show; true if any went (a redraw).
    pub fn fade_reactions(&mut self, now: Instant) -> bool {
        let before = self.reactions.len();
        self.reactions
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < REACTION_SHOWN);
        self.reactions.len() != before
    }

    /// Who is speaking now: `last_speaker` becomes whoever started speaking
    /// (of several who start at once, the first in id order), and stays
    /// while they pause, so the view does not jump at every breath.
    pub fn set_speaking(&mut self, speaking: BTreeSet<ClientId>) {
        let started = speaking
            .iter()
            .find(|id| !self.speaking.contains(id) && **id != self.me);
        let still_speaking = self.last_speaker.is_some_and(|id| speaking.contains(&id));
        if let Some(&id) = started.filter(|_| !still_speaking) {
            self.last_speaker = Some(id);
        }
        self.speaking = speaking;
    }

    /// The member the speaker view shows large: who spoke last while they
    /// are here, else the first of the others.
    pub fn speaker(&self) -> Option<&MemberInfo> {
        if !self.speaker_view {
            return None;
        }
        self.last_speaker
            .and_then(|id| self.others().find(|m| m.id == id))
            .or_else(|| self.others().next())
    }

    /// Flips between the speaker view and the grid, and says which layout
    /// shows now.
    pub fn toggle_speaker_view(&mut self) {
        self.speaker_view = !self.speaker_view;
        self.say_layout();
    }

    /// Says the layout drawn now, with the key that leaves it: p and f
    /// are two switches, and a shared screen shown large (or a clicked
    /// tile) wins over both, so the one just pressed may not be what shows.
    fn say_layout(&mut self) {
        let screen_shared = self.presented_screen().is_some();
        let text = if self.presentation().is_some() {
            let then = if self.speaker_view { "speaker" } else { "grid" };
            format!("layout: presentation (a shared screen large; p for the {then})")
        } else if self.focused_member().is_some() {
            "layout: one member fills the view (click the tile or Esc for all)".to_string()
        } else {
            let base = if self.speaker_view {
                "speaker (who speaks fills the view; f for the grid"
            } else {
                "grid (f follows the speaker"
            };
            // With nothing shared and shared screens set to show large,
            // there is nothing to say about p.
            let screens = if screen_shared {
                "; p shows the shared screen large"
            } else if !self.presenting {
                "; p shows shared screens large"
            } else {
                ""
            };
            format!("layout: {base}{screens})")
        };
        self.push_line(ChatLine::Info(text));
    }

    /// The member whose tile fills the video area, while they are here.
    pub fn focused_member(&self) -> Option<&MemberInfo> {
        self.focused
            .and_then(|id| self.others().find(|m| m.id == id))
    }

    /// Focuses a member's tile, or (the focused one again) returns to the grid.
    pub fn toggle_focus(&mut self, id: ClientId) {
        self.focused = if self.focused_member().is_some_and(|m| m.id == id) {
            None
        } else {
            Some(id)
        };
    }

    /// What can be done about a member, said in the chat pane (a click on
    /// them in the members list).
    pub fn member_actions(&mut self, id: ClientId) {
        let Some(member) = self.state.member(id) else {
            return;
        };
        if id == self.me {
            let text = "you: /hand raises your hand, /react 👍 reacts, m and v your mic and camera";
            return self.push_line(ChatLine::Info(text.into()));
        }
        // As the members list shows them, which every command takes.
        let who = crate::meeting::label(id, &clean(&member.name));
        let mut actions = vec![
            format!("/msg {who} TEXT"),
            format!("/mute {who}"),
            format!("/volume {who} PERCENT"),
        ];
        let host = self.state.host().is_some_and(|h| h.id == self.me);
        if host {
            if member.hand {
                actions.push(format!("/hand lower {who}"));
            }
            actions.push(format!("/host {who}"));
            actions.push(format!("/remove {who}"));
        }
        let text = format!("{who}: {}", actions.join(" · "));
        self.push_line(ChatLine::Info(text));
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
        // Our id changes when the session moves to another server.
        self.me = state.me;
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

    /// Flips between the presentation layout and the others, and says which
    /// layout shows now.
    pub fn toggle_presentation(&mut self) {
        self.presenting = !self.presenting;
        if self.presenting && self.presented_screen().is_none() {
            let text = "layout: unchanged until someone shares a screen; then it shows large";
            return self.push_line(ChatLine::Info(text.into()));
        }
        self.say_layout();
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
            ChatLine::Private { from, to, text } => ChatLine::Private {
                from: clean(&from),
                to: clean(&to),
                text: clean(&text),
            },
            ChatLine::Info(text) => ChatLine::Info(clean(&text)),
            ChatLine::Error(text) => ChatLine::Error(clean(&text)),
        };
        let from_others = match &line {
            ChatLine::Message { mine, .. } => !mine,
            ChatLine::Private { from, .. } => from != "you",
            ChatLine::Info(_) | ChatLine::Error(_) => false,
        };
        if from_others && self.chat_scroll > 0 {
            self.unread += 1;
            self.bell = true;
        }
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
            Event::Private { from, to, text, .. } => {
                let who = |m: &common::MemberRef| {
                    if m.id == self.me {
                        "you".to_string()
                    } else {
                        m.name.clone()
                    }
                };
                let line = ChatLine::Private {
                    from: who(from),
                    to: who(to),
                    text: text.clone(),
                };
                return self.push_line(line);
            }
            Event::Reaction { member, emoji, .. } => {
                self.reactions
                    .insert(member.id, (clean(emoji), Instant::now()));
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
            Event::MemberJoined { .. } if self.chat_scroll > 0 => self.bell = true,
            // Someone waits at the door: the host should hear it.
            Event::Waiting { waiting, .. } if !waiting.is_empty() => self.bell = true,
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
            // A notice in the chat pane, and the status bar names the new server.
            // The old server's `shutdown` (a handover) is no last word now.
            LocalEvent::Moved { server, .. } => {
                self.server = server.clone();
                self.connection = Connection::Connected;
                self.last_word = None;
            }
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
            // Marked as errors: what you said may not have been heard.
            LocalEvent::ChatUnconfirmed { .. } | LocalEvent::ChatNotDelivered { .. } => {
                let text = self.text.local(event);
                return self.push_line(ChatLine::Error(format!("⚠ {text}")));
            }
            LocalEvent::ChatConfirmed { .. } => {}
            LocalEvent::Stats { .. } => {}
            LocalEvent::Volume { .. }
            | LocalEvent::AudioOut { .. }
            | LocalEvent::AudioOff
            | LocalEvent::Devices { .. }
            | LocalEvent::DeviceChosen { .. } => {}
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
        if self.chat_scroll == 0 {
            self.unread = 0;
        }
    }

    /// Back to the newest chat line: nothing is unread any more.
    pub fn chat_to_newest(&mut self) {
        self.chat_scroll = 0;
        self.unread = 0;
    }

    /// Asks to copy the meeting id to the clipboard, and says so.
    pub fn copy_meeting_id(&mut self) {
        let Some(id) = &self.state.meeting else {
            return self.push_line(ChatLine::Info(
                "no meeting id to copy: you are in no meeting".into(),
            ));
        };
        let id = clean(id.as_str());
        let join = crate::output::wording::join_command(&self.state).unwrap_or_default();
        self.push_line(ChatLine::Info(format!(
            "copied {id} to the clipboard (where the terminal allows it: OSC 52); others join with {join}"
        )));
        self.copy = Some(id);
    }

    /// Whether to ring the bell now (once per burst of news).
    pub fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.bell)
    }

    /// The terminal's title: the meeting, with the unread count first while
    /// there is one. Cleaned and short: it goes into an OSC sequence, which
    /// a control character from the network must not end or extend.
    pub fn title(&self) -> String {
        let place = match (&self.state.meeting, &self.state.waiting_for) {
            (Some(id), _) => format!("meeting {}", id.as_str()),
            (None, Some(id)) => format!("waiting to enter {}", id.as_str()),
            (None, None) => "no meeting".to_string(),
        };
        let title = match self.unread {
            0 => format!("{place} · client"),
            n => format!("({n} new) {place} · client"),
        };
        clean(&title).chars().take(80).collect()
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
