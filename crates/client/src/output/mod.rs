//! Turns events into what the user sees. `FrontEnd` is what the main loop
//! talks to; `lines` is the line front end (human lines), `json` the one of
//! `--json` (one JSON object per line and nothing else on stdout), and
//! `crate::tui` the full-screen one. `wording` words events for people, for
//! the line front end and the view alike; `crate::clean` makes network text
//! safe to show.
//!
//! Server events are printed as the server sent them (`common::Event`), so
//! scripts read the protocol's own vocabulary; `LocalEvent` adds what only the
//! client knows.

pub mod json;
pub mod lines;
pub mod wording;

use crate::meeting::MeetingState;
use crate::stats::StatsSnapshot;
use common::{ClientId, Event, MediaKind, MeetingId};
use serde::Serialize;
use std::collections::HashMap;

pub use json::{Json, json_line};
pub use lines::Lines;
pub use wording::EventText;

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
    /// The client moved to `server`, another server of the cluster (the
    /// id `id` there), enters `meeting` there, and ended the session it
    /// had: `reason` says why.
    Moved {
        meeting: MeetingId,
        server: String,
        id: ClientId,
        reason: MoveReason,
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

/// Why the client moved to another server of the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveReason {
    /// Our `/join` was answered by a server that does not hold the
    /// meeting (`meeting_elsewhere`): we join it where it is.
    Elsewhere,
    /// The server we were on stopped and handed our meeting over
    /// (`meeting_moved`): we rejoin it there with its ticket.
    HandedOver,
    /// The server we were on died: another server of the cluster took our
    /// meeting over, and we rejoined it there with our standing ticket.
    Failover,
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
