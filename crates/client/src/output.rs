//! Turns events into what the user sees. `FrontEnd` is what the main loop talks
//! to; `Output` is the line front end (human lines, or with `--json` one JSON
//! object per line and nothing else on stdout) and `crate::tui` the full-screen
//! one. `EventText` words events for people, for both.
//!
//! Server events are printed as the server sent them (`common::Event`), so
//! scripts read the protocol's own vocabulary; `LocalEvent` adds what only the
//! client knows.
//!
//! Nothing from the network is trusted: a rogue server, or anyone on the
//! unencrypted path, can put terminal control sequences in any string. `clean`
//! is the one place that decides what may be shown; every human output (these
//! lines, the full-screen view, `chat.log`, the last words on stderr) passes
//! network text through it, and `json_line` keeps `--json` exact JSON while
//! escaping the same characters instead of writing them raw.

use crate::meeting::MeetingState;
use crate::stats::StatsSnapshot;
use common::{ClientId, Event, MediaKind, MeetingId, MemberInfo, MemberRef, ServerStatsReport};
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;

/// Events the client itself produces.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LocalEvent {
    /// The first connection to this server: its key was trusted as it is
    /// (and remembered, unless the known-hosts file could not be written).
    FirstUse {
        server: String,
        fingerprint: String,
        remembered_in: Option<String>,
    },
    /// The handshake is done: this is who you are, and the key the server
    /// proved it holds (None: not encrypted, `--no-tls`).
    Connected {
        id: ClientId,
        name: String,
        server: String,
        fingerprint: Option<String>,
    },
    /// Your own media source started or stopped (it is sent while you are in a meeting).
    Sharing {
        kind: MediaKind,
        on: bool,
        source: Option<String>,
    },
    /// A media socket broke (the server closed it, or the network did):
    /// nothing of `kind` flows either way until it is attached again, which
    /// the client does by itself.
    MediaDown {
        kind: MediaKind,
        reason: String,
    },
    /// `kind` flows again, on a new socket, after `down_ms` without one.
    MediaUp {
        kind: MediaKind,
        down_ms: u64,
    },
    Stats {
        #[serde(flatten)]
        stats: StatsSnapshot,
    },
    Help {
        commands: Vec<HelpLine>,
    },
    /// A member's volume or mute changed (`/volume`, `/mute`, `/unmute`).
    Volume {
        member: ClientId,
        name: String,
        percent: u32,
        muted: bool,
    },
    /// Playback started: the mix goes to `sink`; its first sample was played
    /// at `started_unix_us` (microseconds since 1970, this machine's clock).
    AudioOut {
        sink: String,
        started_unix_us: u64,
    },
    /// Playback stopped (`/speaker off`): nothing plays the others.
    AudioOff,
    /// `/devices`: what this client can use, as `client --list-devices` says it.
    Devices {
        report: String,
    },
    /// `/mic` or `/camera` chose the device a source opens (None: the default).
    DeviceChosen {
        device: String,
        name: Option<String>,
    },
    Error {
        message: String,
    },
    /// The connection ended without you asking.
    Disconnected {
        message: String,
    },
    /// The control connection broke (or the server stopped answering): the
    /// client reconnects by itself and resumes the session; meanwhile what
    /// you type is kept and sent once it is back.
    Reconnecting {
        reason: String,
    },
    /// The session goes on, on a new connection, `after_ms` after it broke.
    Reconnected {
        after_ms: u64,
    },
    /// Nothing from the server for `seconds`, not even an answer to `ping`:
    /// it may be stopped, or the network between is down.
    ServerSilent {
        seconds: u64,
    },
    /// The server answers again after `silent_ms`.
    ServerBack {
        silent_ms: u64,
    },
    /// A chat message (private: to `to`) the server has not echoed after
    /// `seconds`: not known to be delivered. It is sent again if the
    /// session resumes.
    ChatUnconfirmed {
        to: Option<String>,
        text: String,
        seconds: u64,
    },
    /// A message said to be unconfirmed arrived after all.
    ChatConfirmed {
        to: Option<String>,
        text: String,
    },
    /// The session ended before the message was confirmed.
    ChatNotDelivered {
        to: Option<String>,
        text: String,
    },
}

/// One member's audio level as this client measures it, added to the member
/// objects of a `members` event (the server's event cannot carry it).
#[derive(Clone, Copy, Debug)]
pub struct MemberLevel {
    /// Held level in dBFS; -96 is silence.
    pub dbfs: f32,
    /// Above the speaking threshold (-45 dBFS): what the view's ♪ shows.
    pub speaking: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HelpLine {
    pub command: String,
    pub description: String,
}

impl HelpLine {
    pub fn new(command: &str, description: &str) -> HelpLine {
        HelpLine {
            command: command.to_string(),
            description: description.to_string(),
        }
    }
}

/// What the main loop shows its events on.
pub trait FrontEnd: Send {
    /// The meeting changed (the main loop folded an event into it): called
    /// before that event is shown, so the front end words it with fresh names.
    fn meeting(&mut self, state: &MeetingState);
    fn server(&mut self, event: &Event);
    fn local(&mut self, event: &LocalEvent);
    /// A `members` event with each other member's audio level; front ends
    /// that show levels their own way ignore them.
    fn members(&mut self, event: &Event, _levels: &HashMap<ClientId, MemberLevel>) {
        self.server(event);
    }
}

/// The line front end: plain text, or JSON with `--json`.
pub struct Output {
    json: bool,
    /// Interactive terminal: keep a `> ` prompt under the latest event.
    prompt: bool,
    text: EventText,
}

/// Words events for people, reading names from the meeting state.
pub struct EventText {
    me: ClientId,
    state: MeetingState,
    /// Levels to show in the member list being worded, if any.
    levels: HashMap<ClientId, MemberLevel>,
    /// Whether we were the host of the last meeting we were in: the state
    /// is already empty when its end is worded, and only the host ends one.
    was_host: bool,
}

/// A member's role, raised hand and what they share, as words: "host",
/// "hand up", "video", "audio".
pub fn member_tags(member: &MemberInfo) -> Vec<&'static str> {
    let host = member.host.then_some("host");
    let hand = member.hand.then_some("hand up");
    let shared = member
        .sharing
        .iter()
        .filter_map(|(kind, on)| on.then_some(kind.name()));
    host.into_iter().chain(hand).chain(shared).collect()
}

/// Whether `c` must not be shown as it is: it could drive a terminal or make
/// text read differently from what it holds.
///
/// - Controls (`char::is_control`): C0 (ESC starts every escape sequence, BEL
///   ends OSC titles, CR and LF forge lines), DEL, and C1 (U+0080–U+009F:
///   U+009B is a one-character CSI to terminals that take 8-bit controls).
/// - Bidirectional embeddings, overrides, isolates and marks: they reorder
///   what follows them ("txt.exe" shown as "exe.txt").
/// - Invisible formatting: zero-width spaces and joiners, word joiners,
///   the BOM, soft hyphens, tag characters, line and paragraph separators.
///   They hide text or make two different names look the same.
pub fn is_unsafe_to_show(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                    // soft hyphen
                | '\u{061C}'              // Arabic letter mark
                | '\u{180E}'              // Mongolian vowel separator
                | '\u{200B}'..='\u{200F}' // zero-width space, non-joiner, joiner; LRM, RLM
                | '\u{2028}'..='\u{202E}' // line and paragraph separators; LRE, RLE, PDF, LRO, RLO
                | '\u{2060}'..='\u{206F}' // word joiner, invisible operators; LRI, RLI, FSI, PDI
                | '\u{FEFF}'              // zero-width no-break space (BOM)
                | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
                | '\u{E0000}'..='\u{E007F}' // tag characters
        )
}

/// `text` as one line that is safe to show: every character
/// `is_unsafe_to_show` becomes a space, so an escape sequence shows as its
/// harmless remains (`[2J`) and a line break cannot start a forged line.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if is_unsafe_to_show(c) { ' ' } else { c })
        .collect()
}

/// `clean` for a text of several lines: keeps the line breaks, cleans each
/// line. Line front ends pass everything they print through it, so a string
/// a wording forgot to clean still reaches the terminal harmless.
pub fn clean_lines(text: &str) -> String {
    text.split('\n').map(clean).collect::<Vec<_>>().join("\n")
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

/// A meeting id as the server sent it, cleaned: `MeetingId` parses from any
/// JSON string, so a server can send any text as one.
fn meeting_text(meeting: &MeetingId) -> String {
    clean(meeting.as_str())
}

/// What others type to join our meeting: `/join k7m-q2x`, with the
/// passcode where we know it (the host passes it on), or saying one is
/// needed where we do not. None outside a meeting.
pub fn join_command(state: &MeetingState) -> Option<String> {
    let id = meeting_text(state.meeting.as_ref()?);
    let host = state.host().is_some_and(|h| h.id == state.me);
    Some(match &state.passcode {
        Some(passcode) if state.private => format!("/join {id} {}", clean(passcode)),
        _ if state.private && host => format!("/join {id} PASSCODE (/passcode sets a new one)"),
        _ if state.private => format!("/join {id} PASSCODE (the host has it)"),
        _ => format!("/join {id}"),
    })
}

impl Output {
    pub fn new(json: bool, me: ClientId) -> Output {
        use std::io::IsTerminal;
        let prompt = !json && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        Output {
            json,
            prompt,
            text: EventText::new(me),
        }
    }

    fn emit<T: Serialize>(&self, event: &T) {
        if let Ok(line) = json_line(event) {
            self.write(&line);
        }
    }

    /// A human line (or several): cleaned once more as a whole, whatever the
    /// wording already did.
    fn line(&self, text: &str) {
        self.write(&clean_lines(text));
    }

    fn write(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        if self.prompt {
            // Replace the prompt line with the event, then draw the prompt again.
            let _ = write!(out, "\r\x1b[2K{text}\n> ");
        } else {
            let _ = writeln!(out, "{text}");
        }
        let _ = out.flush();
    }
}

impl Drop for Output {
    /// The session is over (quit, or the connection dropped): take the
    /// prompt away, so the shell's prompt does not follow a dead `> `.
    fn drop(&mut self) {
        if self.prompt {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
        }
    }
}

impl FrontEnd for Output {
    fn meeting(&mut self, state: &MeetingState) {
        self.text.set_meeting(state);
    }

    fn server(&mut self, event: &Event) {
        if matches!(
            event,
            Event::Welcome { .. } | Event::Attached { .. } | Event::Resumed { .. }
        ) {
            return; // handshake details (the token is a secret): not for the user
        }
        if self.json {
            return self.emit(event);
        }
        if let Some(text) = self.text.server(event) {
            self.line(&text);
        }
    }

    fn local(&mut self, event: &LocalEvent) {
        if self.json {
            return self.emit(event);
        }
        let text = self.text.local(event);
        self.line(&text);
    }

    fn members(&mut self, event: &Event, levels: &HashMap<ClientId, MemberLevel>) {
        if !self.json {
            self.text.levels = levels.clone();
            self.server(event);
            self.text.levels.clear();
            return;
        }
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

impl EventText {
    pub fn new(me: ClientId) -> EventText {
        EventText {
            me,
            state: MeetingState::new(me),
            levels: HashMap::new(),
            was_host: false,
        }
    }

    pub fn set_meeting(&mut self, state: &MeetingState) {
        if state.in_meeting() {
            self.was_host = state.host().is_some_and(|host| host.id == self.me);
        }
        self.state.clone_from(state);
    }

    fn who(&self, id: ClientId, name: &str) -> String {
        if id == self.me {
            "you".to_string()
        } else {
            clean(name)
        }
    }

    /// "bo now controls your screen", "you no longer control ana's screen".
    fn control_line(&self, when: &str, owner: &MemberRef, controller: &MemberRef) -> String {
        let verb = if controller.id == self.me {
            "control"
        } else {
            "controls"
        };
        format!(
            "{} {when} {verb} {} screen",
            self.who(controller.id, &controller.name),
            self.whose(owner.id, &owner.name)
        )
    }

    /// "your", or "ana's".
    fn whose(&self, id: ClientId, name: &str) -> String {
        if id == self.me {
            "your".to_string()
        } else {
            format!("{}'s", clean(name))
        }
    }

    fn member_list(&self, members: &[MemberInfo]) -> String {
        members
            .iter()
            .map(|m| {
                let mut tags: Vec<String> = member_tags(m).into_iter().map(String::from).collect();
                if let Some(level) = self.levels.get(&m.id) {
                    if level.dbfs > crate::level::FLOOR_DBFS {
                        tags.push(format!("{:.0} dBFS", level.dbfs));
                    }
                    if level.speaking {
                        tags.push("speaking".to_string());
                    }
                }
                // With the id, as commands take it (`/volume bo#3 50`): two
                // members may share a name.
                let name = if m.id == self.me {
                    "you".to_string()
                } else {
                    crate::meeting::label(m.id, &clean(&m.name))
                };
                if tags.is_empty() {
                    name
                } else {
                    format!("{name} ({})", tags.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How `event` reads; `None` for handshake details (the token is a secret).
    pub fn server(&mut self, event: &Event) -> Option<String> {
        let text = match event {
            Event::Welcome { .. } | Event::Attached { .. } | Event::Resumed { .. } => return None,
            Event::Created { meeting, passcode } => {
                let meeting = meeting_text(meeting);
                match passcode {
                    Some(passcode) => format!(
                        "created private meeting {meeting} (unlisted); others join with: /join {meeting} {}",
                        clean(passcode)
                    ),
                    None => format!("created meeting {meeting}; others join with: /join {meeting}"),
                }
            }
            Event::Joined { meeting, members } => {
                format!(
                    "joined meeting {}; members: {}",
                    meeting_text(meeting),
                    self.member_list(members)
                )
            }
            Event::MemberJoined { member, .. } => {
                let shared: Vec<&str> = member
                    .sharing
                    .iter()
                    .filter_map(|(kind, on)| on.then_some(kind.name()))
                    .collect();
                // A source on before they joined gets no `media` line of its own.
                match shared.as_slice() {
                    [] => format!("{} joined", clean(&member.name)),
                    [one] => format!("{} joined, sharing {one}", clean(&member.name)),
                    [first @ .., last] => format!(
                        "{} joined, sharing {} and {last}",
                        clean(&member.name),
                        first.join(", ")
                    ),
                }
            }
            Event::MemberLeft { member, .. } => format!("{} left", clean(&member.name)),
            Event::MemberReconnecting { member, .. } => format!(
                "{}'s connection broke: reconnecting (its place is kept)",
                clean(&member.name)
            ),
            Event::MemberBack { member, .. } => format!("{} is back", clean(&member.name)),
            Event::HostChanged { host, .. } => {
                if host.id == self.me {
                    "you are now the host".to_string()
                } else {
                    format!("{} is now the host", clean(&host.name))
                }
            }
            Event::Left { meeting } => format!("you left meeting {}", meeting_text(meeting)),
            Event::Ended { meeting } if self.was_host => {
                format!("you ended meeting {} for everyone", meeting_text(meeting))
            }
            Event::Ended { meeting } => {
                format!("meeting {} was ended by its host", meeting_text(meeting))
            }
            Event::Chat { from, text, .. } => format!("{}: {}", clean(from), clean(text)),
            Event::Private { from, to, text, .. } => format!(
                "{} → {} (private): {}",
                self.who(from.id, &from.name),
                self.who(to.id, &to.name),
                clean(text)
            ),
            Event::Hand {
                member, raised, by, ..
            } => {
                let verb = if *raised { "raised" } else { "lowered" };
                if by.id == member.id {
                    let whose = if member.id == self.me {
                        "your"
                    } else {
                        "their"
                    };
                    format!("{} {verb} {whose} hand", self.who(member.id, &member.name))
                } else {
                    format!(
                        "{} {verb} {} hand",
                        self.who(by.id, &by.name),
                        self.whose(member.id, &member.name)
                    )
                }
            }
            Event::Reaction { member, emoji, .. } => {
                let verb = if member.id == self.me {
                    "react"
                } else {
                    "reacts"
                };
                format!(
                    "{} {verb} {}",
                    self.who(member.id, &member.name),
                    clean(emoji)
                )
            }
            Event::Meetings { meetings, total } => {
                if meetings.is_empty() {
                    "no meetings yet; /create starts one".to_string()
                } else {
                    let mut lines = vec![format!("{total} meeting(s):")];
                    for m in meetings {
                        lines.push(format!(
                            "  {}  host {}, {} member(s)",
                            meeting_text(&m.id),
                            clean(&m.host),
                            m.members
                        ));
                    }
                    lines.join("\n")
                }
            }
            Event::Members { meeting, members } => {
                format!(
                    "meeting {}: {}",
                    meeting_text(meeting),
                    self.member_list(members)
                )
            }
            Event::Media {
                member, kind, on, ..
            } => {
                let verb = if *on { "started" } else { "stopped" };
                format!(
                    "{} {verb} sharing {kind}",
                    self.who(member.id, &member.name)
                )
            }
            Event::Keyframe { .. } => return None, // handled by the screen sender
            Event::Pong | Event::Layers { .. } => return None, // the keep-alive's answer
            Event::ControlRequested {
                owner, controller, ..
            } => {
                let verb = if controller.id == self.me {
                    "ask"
                } else {
                    "asks"
                };
                let mut text = format!(
                    "{} {verb} to control {} screen",
                    self.who(controller.id, &controller.name),
                    self.whose(owner.id, &owner.name)
                );
                if owner.id == self.me {
                    text.push_str(&format!(
                        "; /control grant {} lets them",
                        crate::meeting::label(controller.id, &clean(&controller.name))
                    ));
                }
                text
            }
            Event::ControlGranted {
                owner, controller, ..
            } => self.control_line("now", owner, controller),
            Event::ControlRevoked {
                owner, controller, ..
            } => self.control_line("no longer", owner, controller),
            Event::Input { from, events } => format!(
                "{} input event(s) from {}",
                events.len(),
                clean(&self.state.name_of(*from))
            ),
            Event::Privacy {
                meeting,
                private,
                passcode,
            } => {
                if let Some(passcode) = passcode.as_ref().filter(|_| *private) {
                    format!(
                        "meeting {} is private: unlisted; others join with: /join {} {}",
                        meeting_text(meeting),
                        meeting_text(meeting),
                        clean(passcode)
                    )
                } else if *private {
                    format!(
                        "meeting {} is private: unlisted, joined only with its passcode",
                        meeting_text(meeting)
                    )
                } else {
                    format!(
                        "meeting {} is public now: listed, no passcode",
                        meeting_text(meeting)
                    )
                }
            }
            Event::Locked { locked, by, .. } => format!(
                "{} {} the meeting{}",
                self.who(by.id, &by.name),
                if *locked { "locked" } else { "unlocked" },
                if *locked { ": nobody new gets in" } else { "" }
            ),
            Event::Removed { meeting, by } => format!(
                "{} removed you from meeting {}",
                self.who(by.id, &by.name),
                meeting_text(meeting)
            ),
            Event::Lobby { on, by, .. } => format!(
                "{} turned the lobby {}",
                self.who(by.id, &by.name),
                if *on {
                    "on: people who join wait until the host lets them in"
                } else {
                    "off: people who join come straight in"
                }
            ),
            Event::Waiting { waiting, .. } if waiting.is_empty() => {
                "nobody waits in the lobby now".to_string()
            }
            Event::Waiting { waiting, .. } => format!(
                "waiting in the lobby: {} (/admit NAME|all, /deny NAME)",
                waiting
                    .iter()
                    .map(|m| crate::meeting::label(m.id, &clean(&m.name)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Event::InLobby { meeting } => format!(
                "you wait in the lobby of meeting {}: the host has been told and lets you in (or not); /leave stops waiting",
                meeting_text(meeting)
            ),
            Event::NotAdmitted { meeting, reason } => format!(
                "you did not get into meeting {}: {}",
                meeting_text(meeting),
                clean(reason)
            ),
            Event::Blocked {
                member,
                kind,
                blocked,
                ..
            } => {
                let whose = self.whose(member.id, &member.name);
                if *blocked {
                    format!("the host stopped {whose} {kind}")
                } else {
                    format!("the host allows {whose} {kind} again")
                }
            }
            Event::Error { message } => format!("error: {}", clean(message)),
            Event::Shutdown { message } => format!("server: {}", clean(message)),
            Event::ServerStats(report) => server_stats_text(report),
        };
        Some(text)
    }

    pub fn local(&self, event: &LocalEvent) -> String {
        match event {
            // The name is the one the server gave us in `welcome`.
            LocalEvent::FirstUse {
                server,
                fingerprint,
                remembered_in,
            } => format!(
                "first connection to {server}: trusting its key {fingerprint}. Check it against the fingerprint the server printed when it started; {}",
                match remembered_in {
                    Some(path) => format!(
                        "remembered in {}, and checked every time from now on.",
                        clean(path)
                    ),
                    None => "it could not be remembered, so it is trusted for this session only."
                        .to_string(),
                }
            ),
            LocalEvent::Connected {
                id,
                name,
                server,
                fingerprint,
            } => format!(
                "connected to {server} as {} (id {id}), {}. /create starts a meeting, /join ID joins one, /help lists commands.",
                clean(name),
                if fingerprint.is_some() {
                    "encrypted"
                } else {
                    "NOT encrypted (--no-tls)"
                }
            ),
            LocalEvent::Sharing {
                kind,
                on: true,
                source,
            } => {
                format!(
                    "{kind} on: {}; sent while you are in a meeting",
                    clean(source.as_deref().unwrap_or("default source"))
                )
            }
            LocalEvent::Sharing {
                kind, on: false, ..
            } => format!("{kind} off"),
            LocalEvent::Volume {
                name,
                percent,
                muted,
                ..
            } => {
                let muted = if *muted { " (muted)" } else { "" };
                format!("{} plays at {percent}%{muted}", clean(name))
            }
            LocalEvent::AudioOut { sink, .. } => format!("audio out: {}", clean(sink)),
            LocalEvent::AudioOff => {
                "audio out: off (you hear nobody; /speaker turns it on)".to_string()
            }
            LocalEvent::Devices { report } => clean_lines(report),
            LocalEvent::DeviceChosen { device, name } => format!(
                "{device}: {} from now on",
                name.as_deref()
                    .map_or_else(|| "the default one".to_string(), clean)
            ),
            LocalEvent::MediaDown { kind, reason } => format!(
                "{kind} connection lost ({}): no {kind} either way until it is back; reconnecting",
                clean(reason)
            ),
            LocalEvent::MediaUp { kind, down_ms } => format!(
                "{kind} connection back after {:.1} s",
                *down_ms as f64 / 1000.0
            ),
            LocalEvent::Stats { stats } => {
                let sent: Vec<String> = stats
                    .sent
                    .iter()
                    .map(|(kind, c)| format!("{kind} {} frames ({} bytes)", c.frames, c.bytes))
                    .collect();
                let mut lines = vec![format!("sent: {}", sent.join(", "))];
                for m in &stats.received {
                    let name = clean(&self.state.name_of(m.member));
                    let received: Vec<String> = m
                        .received
                        .iter()
                        .map(|(kind, c)| format!("{kind} {} frames ({} lost)", c.frames, c.lost))
                        .collect();
                    let mut line = format!("from {name}: {}", received.join(", "));
                    if let Some(level) = m.audio_level_dbfs {
                        line.push_str(&format!(", level {level:.0} dBFS"));
                    }
                    if let Some(p) = &m.playback {
                        line.push_str(&format!(
                            ", buffer {}/{} ms (p50/p99, target {} ms), {} concealed, {} dropped, {} stretched",
                            p.delay_ms_p50, p.delay_ms_p99, p.target_ms, p.concealed, p.dropped, p.stretched
                        ));
                    }
                    lines.push(line);
                }
                if let Some(p) = &stats.playback {
                    lines.push(format!(
                        "playback: {} periods played, {} late, {} samples soft-clipped",
                        p.ticks, p.late_ticks, p.softened_samples
                    ));
                }
                lines.join("\n")
            }
            LocalEvent::Help { commands } => commands
                .iter()
                .map(|h| format!("  {:<24} {}", h.command, h.description))
                .collect::<Vec<_>>()
                .join("\n"),
            // Both may quote the server (its refusals, what it sent that did not parse).
            LocalEvent::Error { message } => format!("error: {}", clean(message)),
            LocalEvent::Disconnected { message } => format!("disconnected: {}", clean(message)),
            LocalEvent::Reconnecting { reason } => format!(
                "connection lost ({}); reconnecting… (what you type is sent once it is back)",
                clean(reason)
            ),
            LocalEvent::Reconnected { after_ms } => format!(
                "reconnected after {:.1} s: back in the session",
                *after_ms as f64 / 1000.0
            ),
            LocalEvent::ServerSilent { seconds } => format!(
                "the server has not answered for {seconds} s: messages you send now may not arrive"
            ),
            LocalEvent::ServerBack { silent_ms } => format!(
                "the server answers again (it was silent for {:.1} s)",
                *silent_ms as f64 / 1000.0
            ),
            LocalEvent::ChatUnconfirmed { to, text, seconds } => format!(
                "not confirmed yet{}: \"{}\" (sent {seconds} s ago; it will be sent again if the connection comes back)",
                to_whom(to),
                clean(text)
            ),
            LocalEvent::ChatConfirmed { to, text } => {
                format!("delivered after all{}: \"{}\"", to_whom(to), clean(text))
            }
            LocalEvent::ChatNotDelivered { to, text } => {
                format!("not delivered{}: \"{}\"", to_whom(to), clean(text))
            }
        }
    }
}

/// " to NAME" for a private message, nothing for the meeting's chat.
fn to_whom(to: &Option<String>) -> String {
    to.as_ref()
        .map(|name| format!(" to {}", clean(name)))
        .unwrap_or_default()
}

fn server_stats_text(report: &ServerStatsReport) -> String {
    let mut lines = vec![format!(
        "server: up {} s, {} clients, {} meetings, {} sockets open ({} since start)",
        report.uptime_s,
        report.clients,
        report.meetings,
        report.connections,
        report.connections_total
    )];
    let media = report.media.iter().map(|(kind, t)| (kind.name(), t));
    for (name, t) in media.chain([("control", &report.control)]) {
        lines.push(format!(
            "  {name}: in {} frames / {} B, out {} frames / {} B, dropped {}, queue peak {}",
            t.frames_in, t.bytes_in, t.frames_out, t.bytes_out, t.dropped, t.queue_high_water
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::MeetingId;

    use crate::meeting::fixtures::named;

    /// What a rogue server (or anyone on the unencrypted path) might put in
    /// any string: a window-title OSC, a screen clear, a C1 CSI, a bidi
    /// override and isolate, invisible characters, and a line break that
    /// forges a line of its own.
    pub(crate) const HOSTILE: &str = "ev\x1b]0;pwned\x07il\x1b[2J\u{9b}31m\u{202e}exe.txt\u{2066}\u{200b}\u{200d}\u{feff}\u{e0041}\r\nserver: fake line";

    /// Characters that must never reach a terminal from the network, listed
    /// independently of `clean` so the test does not grade its own homework.
    pub(crate) fn steers_a_terminal(c: char) -> bool {
        matches!(
            u32::from(c),
            0x00..=0x1f | 0x7f..=0x9f | 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069
                | 0xfeff | 0xe0000..=0xe007f
        )
    }

    /// Panics if `text` holds a character that steers a terminal (line
    /// breaks allowed only where `lines` says the text has several lines).
    fn assert_shown_safely(what: &str, text: &str, lines: bool) {
        let bad: Vec<String> = text
            .chars()
            .filter(|&c| steers_a_terminal(c) && !(lines && c == '\n'))
            .map(|c| format!("U+{:04X}", u32::from(c)))
            .collect();
        assert!(bad.is_empty(), "{what}: {bad:?} in {text:?}");
    }

    fn hostile_meeting() -> MeetingId {
        // `MeetingId` deserialises any string: the client cannot rely on its format.
        serde_json::from_value(serde_json::json!(HOSTILE)).expect("any string")
    }

    #[test]
    fn clean_neutralises_controls_c1_bidi_and_invisible_characters() {
        let cleaned = clean(HOSTILE);
        assert_shown_safely("clean", &cleaned, false);
        assert!(cleaned.contains("pwned") && cleaned.contains("fake line"));
        // Ordinary text of every script stays as it is.
        let plain = "Zoë 李 ναι مرحبا 🙂 tab-free";
        assert_eq!(clean(plain), plain);
        assert_eq!(
            clean_lines("two\nlines\x1b"),
            "two\nlines ",
            "clean_lines keeps its own line breaks only"
        );
    }

    #[test]
    fn every_event_reads_without_anything_that_steers_a_terminal() {
        let meeting = hostile_meeting();
        let evil = named(2, HOSTILE);
        let mut info = crate::meeting::fixtures::member(2, HOSTILE, true);
        info.sharing[MediaKind::Video] = true;
        let me = named(1, "me");
        let events = vec![
            Event::Created {
                meeting: meeting.clone(),
                passcode: Some(HOSTILE.into()),
            },
            Event::Joined {
                meeting: meeting.clone(),
                members: vec![info.clone()],
            },
            Event::MemberJoined {
                meeting: meeting.clone(),
                member: info.clone(),
            },
            Event::MemberLeft {
                meeting: meeting.clone(),
                member: evil.clone(),
            },
            Event::HostChanged {
                meeting: meeting.clone(),
                host: evil.clone(),
            },
            Event::Left {
                meeting: meeting.clone(),
            },
            Event::Ended {
                meeting: meeting.clone(),
            },
            Event::Chat {
                meeting: meeting.clone(),
                from: HOSTILE.into(),
                from_id: ClientId(2),
                text: HOSTILE.into(),
            },
            Event::Meetings {
                meetings: vec![common::MeetingSummary {
                    id: meeting.clone(),
                    host: HOSTILE.into(),
                    host_id: ClientId(2),
                    members: 1,
                    private: false,
                    locked: false,
                }],
                total: 1,
            },
            Event::Members {
                meeting: meeting.clone(),
                members: vec![info],
            },
            Event::Media {
                meeting: meeting.clone(),
                member: evil.clone(),
                kind: MediaKind::Audio,
                on: true,
            },
            Event::ControlRequested {
                meeting: meeting.clone(),
                owner: me.clone(),
                controller: evil.clone(),
            },
            Event::ControlGranted {
                meeting: meeting.clone(),
                owner: evil.clone(),
                controller: me.clone(),
            },
            Event::ControlRevoked {
                meeting: meeting.clone(),
                owner: evil.clone(),
                controller: me,
            },
            Event::Input {
                from: ClientId(2),
                events: Vec::new(),
            },
            Event::Privacy {
                meeting: meeting.clone(),
                private: true,
                passcode: Some(HOSTILE.into()),
            },
            Event::Locked {
                meeting: meeting.clone(),
                locked: true,
                by: evil.clone(),
            },
            Event::Blocked {
                meeting: meeting.clone(),
                member: evil.clone(),
                kind: MediaKind::Audio,
                blocked: true,
            },
            Event::Removed { meeting, by: evil },
            Event::Error {
                message: HOSTILE.into(),
            },
            Event::Shutdown {
                message: HOSTILE.into(),
            },
        ];
        let mut text = EventText::new(ClientId(1));
        let mut state = MeetingState::new(ClientId(1));
        for event in &events {
            state.apply(event);
            text.set_meeting(&state);
            let lines = matches!(event, Event::Meetings { .. });
            if let Some(shown) = text.server(event) {
                assert_shown_safely(&format!("{event:?}"), &shown, lines);
            }
        }
        let locals = [
            LocalEvent::Connected {
                id: ClientId(1),
                name: HOSTILE.into(),
                server: "127.0.0.1:6338".into(),
                fingerprint: None,
            },
            LocalEvent::Error {
                message: HOSTILE.into(),
            },
            LocalEvent::Disconnected {
                message: HOSTILE.into(),
            },
            LocalEvent::Volume {
                member: ClientId(2),
                name: HOSTILE.into(),
                percent: 50,
                muted: false,
            },
            LocalEvent::Sharing {
                kind: MediaKind::Video,
                on: true,
                source: Some(HOSTILE.into()),
            },
        ];
        for event in &locals {
            assert_shown_safely(&format!("{event:?}"), &text.local(event), false);
        }
    }

    #[test]
    fn json_lines_stay_exact_but_carry_no_raw_control_or_bidi_character() {
        let event = Event::Chat {
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
    fn the_members_list_gives_each_other_member_the_id_commands_take() {
        let mut bo = crate::meeting::fixtures::member(3, "bo", false);
        bo.sharing[MediaKind::Video] = true;
        let event = Event::Members {
            meeting: MeetingId::parse("abc-def").expect("valid id"),
            members: vec![
                crate::meeting::fixtures::member(1, "ana", true),
                crate::meeting::fixtures::member(2, "bo", false),
                bo,
            ],
        };
        assert_eq!(
            EventText::new(ClientId(1)).server(&event).as_deref(),
            Some("meeting abc-def: you (host), bo#2, bo#3 (video)")
        );
    }

    #[test]
    fn a_joiner_is_announced_with_what_it_already_shares() {
        let mut bo = crate::meeting::fixtures::member(3, "bo", false);
        let joined = |member: &MemberInfo| {
            let event = Event::MemberJoined {
                meeting: MeetingId::parse("abc-def").expect("valid id"),
                member: member.clone(),
            };
            EventText::new(ClientId(1)).server(&event)
        };
        assert_eq!(joined(&bo).as_deref(), Some("bo joined"));
        bo.sharing[MediaKind::Screen] = true;
        assert_eq!(joined(&bo).as_deref(), Some("bo joined, sharing screen"));
        bo.sharing[MediaKind::Video] = true;
        bo.sharing[MediaKind::Audio] = true;
        assert_eq!(
            joined(&bo).as_deref(),
            Some("bo joined, sharing video, audio and screen")
        );
    }

    #[test]
    fn the_host_who_ended_the_meeting_is_told_so() {
        use crate::meeting::fixtures::{meeting, member};
        let joined = Event::Joined {
            meeting: meeting(),
            members: vec![member(1, "ana", true), member(2, "bo", false)],
        };
        let ended = Event::Ended { meeting: meeting() };
        let mut words = Vec::new();
        for me in [1, 2] {
            let mut state = MeetingState::new(ClientId(me));
            let mut text = EventText::new(ClientId(me));
            // As the main loop does: fold, hand over, then word.
            for event in [&joined, &ended] {
                state.apply(event);
                text.set_meeting(&state);
            }
            words.push(text.server(&ended));
        }
        assert_eq!(
            words,
            [
                Some(format!("you ended meeting {} for everyone", meeting())),
                Some(format!("meeting {} was ended by its host", meeting())),
            ]
        );
    }

    #[test]
    fn a_new_host_reads_it_in_good_english() {
        let event = Event::HostChanged {
            meeting: MeetingId::parse("abc-def").expect("valid id"),
            host: named(2, "bo"),
        };
        assert_eq!(
            EventText::new(ClientId(2)).server(&event).as_deref(),
            Some("you are now the host")
        );
        assert_eq!(
            EventText::new(ClientId(1)).server(&event).as_deref(),
            Some("bo is now the host")
        );
    }

    #[test]
    fn control_events_read_as_sentences_from_every_side() {
        let meeting = MeetingId::parse("abc-def").expect("valid id");
        let (ana, bo) = (named(1, "ana"), named(2, "bo"));
        let granted = Event::ControlGranted {
            meeting: meeting.clone(),
            owner: ana.clone(),
            controller: bo.clone(),
        };
        let asked = Event::ControlRequested {
            meeting: meeting.clone(),
            owner: ana.clone(),
            controller: bo.clone(),
        };
        let revoked = Event::ControlRevoked {
            meeting,
            owner: ana,
            controller: bo,
        };
        let mut owner = EventText::new(ClientId(1));
        let mut controller = EventText::new(ClientId(2));
        let mut other = EventText::new(ClientId(3));
        assert_eq!(
            owner.server(&asked).as_deref(),
            Some("bo asks to control your screen; /control grant bo#2 lets them")
        );
        assert_eq!(
            controller.server(&asked).as_deref(),
            Some("you ask to control ana's screen")
        );
        assert_eq!(
            owner.server(&granted).as_deref(),
            Some("bo now controls your screen")
        );
        assert_eq!(
            controller.server(&granted).as_deref(),
            Some("you now control ana's screen")
        );
        assert_eq!(
            other.server(&revoked).as_deref(),
            Some("bo no longer controls ana's screen")
        );
    }
}
