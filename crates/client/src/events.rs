//! What the client's threads tell its main loop: every thread (stdin or the
//! full-screen view's keys, the control socket, the media sockets, the senders,
//! Ctrl-C) reports into one channel of `AppEvent`s. It lives apart from `app`
//! so the threads below the loop do not import the loop itself.

use crate::command::Command;
use crate::link::{ResumedControl, ServerLink};
use common::{ClientId, Event, MediaKind, MeetingId};
use std::time::Duration;

/// Everything that can happen to the client.
pub enum AppEvent {
    /// A command from a front end: a line typed on stdin or in the view
    /// (parsed where it was typed), or a key of the view. An error says why
    /// a typed line is no command; the loop says it, in turn.
    Command(Result<Command, String>),
    InputClosed,
    Interrupted,
    /// An event from the server on a media socket.
    Server(Event),
    /// An event on control connection `generation` (each resume makes a
    /// new one; what an abandoned one still says is ignored).
    Control(u64, Event),
    /// Control connection `generation` ended; the reason if it was not a
    /// clean close.
    ControlClosed(u64, Option<String>),
    /// Reconnecting for control connection `generation` worked.
    Resumed(u64, Box<ResumedControl>),
    /// Reconnecting for control connection `generation` gave up, saying why.
    ResumeFailed(u64, String),
    /// Instead of resuming control connection `generation`, the meeting was
    /// found again at another server of the cluster, its own server being
    /// gone (`app::failover`): rejoined there, media attached.
    FailedOver(u64, Box<FailedOver>),
    /// A media channel ended for good (we closed it, or the server refused
    /// to take it back).
    MediaClosed(MediaKind),
    /// A media socket ended without us closing it; its channel is
    /// attaching a new one. Why it ended.
    MediaDown(MediaKind, String),
    /// The channel has a socket again, after being down this long.
    MediaUp(MediaKind, Duration),
    /// Connected to the server that holds the meeting our `/join` asked
    /// for, or that our meeting was handed over to (`app::moving`): the
    /// session there, ready to join or rejoin.
    Moved(Box<Move>),
    /// Could not get there: we stay where we are. Why.
    MoveFailed {
        meeting: MeetingId,
        server: String,
        reason: String,
    },
    /// A media source stopped on its own (a device vanished, a file broke).
    SenderFailed(MediaKind, String),
    /// We cannot rebuild what this member shares from changes alone (we
    /// joined late or lost frames): ask it for a complete picture.
    KeyframeNeeded(MediaKind, ClientId),
}

/// A session on the server that holds `meeting`, handshakes done, for the
/// main loop to move to and enter the meeting there as `entry` says.
pub struct Move {
    pub link: ServerLink,
    pub meeting: MeetingId,
    pub entry: Entry,
}

/// How a move enters the meeting on the new server.
pub enum Entry {
    /// `meeting_elsewhere` answered our `/join`: join there as we asked.
    Join { passcode: Option<String> },
    /// `meeting_moved`: the server we were on handed the meeting over;
    /// the ticket it gave brings us back as we were.
    Rejoin { ticket: String },
}

/// A rejoin at another server of the cluster that took our meeting over
/// from a server that died: the session there, and its answer.
pub struct FailedOver {
    pub link: ServerLink,
    pub meeting: MeetingId,
    /// The standing ticket the rejoin used (the request is counted as sent).
    pub ticket: String,
    /// `joined` (or `in_lobby`): the first event there after `welcome`.
    pub answer: Event,
    /// The server that died, and what it said last.
    pub lost: std::net::SocketAddr,
}
