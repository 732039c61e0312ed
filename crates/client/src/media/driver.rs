//! What a media kind is made of in this client, the small traits of
//! librespot's audio back-ends: a `Driver` per kind (found through
//! `media::DRIVERS`) opens the kind's sources, each a row of its table
//! (`Source`: a name, what it is, the constructor that opens it), into a
//! `Producer`, which the kind's sender thread calls once a period; and it
//! makes the `Receiver` its channel's reader thread hands every received
//! frame to, which decodes it and gives it to the kind's sinks (recording,
//! the view, playback, taken from `Outputs`).
//!
//! The main loop and the channels only ever see these traits, so they never
//! match on a kind.

use crate::channel::socket::CurrentSocket;
use crate::level::MemberLevels;
use crate::media::options::MediaOptions;
use crate::mkv::MkvFeed;
use crate::playback::Playback;
use crate::sink::SharedFrame;
use crate::stats::ClientStats;
use crate::tui::tiles::TileFeed;
use common::{ClientId, Event, Frame, InputEvent, MediaHeader, MediaKind, VoiceLevel};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use transport::Socket;

/// One row of the kind table (`media::DRIVERS`): what this client does with
/// a kind, as `common::media::MEDIA` says what the wire does with it.
pub struct DriverSpec {
    pub kind: MediaKind,
    /// What `/KIND on SOURCE` can share: (how to name it, what it is), the
    /// default first. For `/help`, `--help` and the man page.
    pub sources: fn() -> Vec<(&'static str, &'static str)>,
    /// Makes the kind's driver for a session; `outputs` are where what it
    /// receives can go.
    pub start: fn(&Outputs) -> Box<dyn Driver>,
}

/// A kind's part of the session: it opens what we share, makes what takes
/// what we receive, and follows the meeting where the kind must.
pub trait Driver: Send {
    /// Opens `source` (`None`: the kind's default) to share from it.
    fn open(&mut self, source: Option<&str>, options: &MediaOptions) -> anyhow::Result<Opened>;

    /// What the kind's channel hands every received frame to; called once,
    /// and owned by the channel's reader thread from then on.
    fn receiver(&mut self) -> Box<dyn Receiver>;

    /// A server event, after the main loop folded it into the meeting;
    /// `in_meeting` says whether we are (still) in one.
    fn event(&mut self, _event: &Event, _in_meeting: bool) {}

    /// Sharing stopped: we stopped it, the host did, or the source failed.
    fn stopped(&mut self) {}
}

/// A source opened to share.
pub struct Opened {
    /// What it is, for people ("test pattern 640x360").
    pub description: String,
    /// What the kind's sender calls once a period.
    pub producer: Box<dyn Producer>,
    /// What plays a granted controller's input on it (a shared screen that
    /// takes input); `None` for most.
    pub input: Option<Box<dyn InputTarget>>,
}

/// Where a granted controller's input goes on what we share.
pub trait InputTarget: Send {
    fn apply(&mut self, event: InputEvent) -> anyhow::Result<()>;
    /// Lifts whatever the controller holds down (control ended).
    fn release_all(&mut self) -> anyhow::Result<()>;
}

/// What a shared source sends: the kind's sender thread calls `send` once
/// every `interval`, paced against a clock, while we are in a meeting and
/// the channel is up; or, for a source that keeps its own time (a
/// microphone), again as soon as `send` returns, `send` waiting for the
/// source (`paced_by_source`).
pub trait Producer: Send {
    fn interval(&self) -> Duration;
    /// The source keeps the time: `send` waits until its next frame is
    /// complete (at most about `interval` past it), and sends it at once.
    fn paced_by_source(&self) -> bool {
        false
    }
    /// Makes this period's frames (none, when nothing changed) and writes
    /// them to `out`. An error stops sharing, saying why.
    fn send(&mut self, out: &mut Outlet<'_>) -> anyhow::Result<()>;
}

/// Where a producer writes, for one period: frames of its kind, numbered,
/// timed and counted, to the channel's socket now.
pub struct Outlet<'a> {
    pub(crate) kind: MediaKind,
    pub(crate) socket: Arc<Socket>,
    pub(crate) current: &'a CurrentSocket,
    pub(crate) sequence: &'a AtomicU32,
    pub(crate) epoch: Instant,
    pub(crate) stats: &'a ClientStats,
}

impl Outlet<'_> {
    pub fn stats(&self) -> &ClientStats {
        self.stats
    }

    /// The header of the next frame (or of every layer of the next picture):
    /// the next sequence number, the time now. The server stamps the sender.
    pub fn header(&self) -> MediaHeader {
        MediaHeader {
            sender: ClientId(0),
            sequence: self.sequence.fetch_add(1, Ordering::Relaxed),
            timestamp_us: self.epoch.elapsed().as_micros() as u64,
        }
    }

    /// A frame of this kind.
    pub fn frame(&self, header: MediaHeader, body: &[u8]) -> SharedFrame {
        SharedFrame::new(Frame::media(self.kind, header, body))
    }

    /// Writes `frame` and counts it; false when the connection broke: the
    /// socket is marked so (the channel attaches a new one and says so) and
    /// nothing more should be sent this period.
    pub fn write(&self, frame: &SharedFrame) -> bool {
        if let Err(err) = (&*self.socket).write_all(frame.frame().as_bytes()) {
            tracing::debug!("{} connection lost while sending: {err}", self.kind);
            self.current.broken(&self.socket);
            return false;
        }
        let body = frame.frame().media_body().len();
        self.stats.sent(self.kind, body);
        true
    }

    /// `body` as the next audio frame, captured `ago` before now, with the
    /// `level` the server ranks speakers by: it rides in the header's
    /// sender field, which the server stamps over (`common::voice`).
    pub fn send_with_level(&self, body: &[u8], level: VoiceLevel, ago: Duration) -> bool {
        let mut header = self.header();
        header.sender = ClientId(level.to_sender_field());
        header.timestamp_us = header
            .timestamp_us
            .saturating_sub(u64::try_from(ago.as_micros()).unwrap_or(u64::MAX));
        let frame = self.frame(header, body);
        self.write(&frame)
    }

    /// `body` as the next frame, written; false when the connection broke.
    pub fn send(&self, body: &[u8]) -> bool {
        let frame = self.frame(self.header(), body);
        self.write(&frame)
    }
}

/// What a kind does with what its channel receives: decodes each frame and
/// hands it to the kind's sinks.
pub trait Receiver: Send {
    fn frame(&mut self, header: &MediaHeader, frame: Frame, ctx: &dyn Received);
}

/// What a receiver may tell the rest of the client (its channel answers).
pub trait Received {
    /// The figures `/stats` and the status bar show.
    fn stats(&self) -> &ClientStats;
    /// We cannot rebuild what `member` sends from changes alone (we joined
    /// late or lost frames): ask it for a complete picture.
    fn keyframe_needed(&self, member: ClientId);
}

/// Where received media can go: each driver takes what its kind uses.
#[derive(Clone)]
pub struct Outputs {
    /// `--record`'s session folder, if recording.
    pub record: Option<PathBuf>,
    /// `--record`'s `meeting.mkv`, unless it could not be started.
    pub mkv: Option<MkvFeed>,
    /// The full-screen view's tiles (`None` in the line modes).
    pub tiles: Option<TileFeed>,
    /// Every member's audio level (the view's, or the main loop's own).
    pub levels: MemberLevels,
    /// The mix that is played (it takes frames only while something plays).
    pub playback: Playback,
}

/// One row of a kind's table of sources: how it is named after `/KIND on`,
/// what it is, which specs it takes, and how it opens one into a `T`.
pub struct Source<T> {
    pub name: &'static str,
    pub help: &'static str,
    pub takes: Takes,
    pub open: fn(&str, &MediaOptions) -> anyhow::Result<T>,
}

/// Which specs a source takes.
pub enum Takes {
    /// `word`, or `word:` and more (`camera`, `camera:2`).
    Word(&'static str),
    /// The specs this says yes to.
    Test(fn(&str) -> bool),
    /// Any spec no other row takes (a path).
    Other,
}

impl<T> Source<T> {
    fn takes(&self, spec: &str) -> bool {
        match self.takes {
            Takes::Word(word) => {
                spec == word || spec.strip_prefix(word).is_some_and(|r| r.starts_with(':'))
            }
            Takes::Test(test) => test(spec),
            Takes::Other => false,
        }
    }
}

/// Opens `spec` with the row of `table` that takes it (`None`: the first
/// row, the default, by its word).
pub fn open_source<T>(
    table: &[Source<T>],
    spec: Option<&str>,
    options: &MediaOptions,
) -> anyhow::Result<T> {
    let spec = match (spec, table.first().map(|row| &row.takes)) {
        (Some(spec), _) => spec,
        (None, Some(Takes::Word(word))) => word,
        (None, _) => anyhow::bail!("no default source"),
    };
    let row = table
        .iter()
        .find(|row| row.takes(spec))
        .or_else(|| table.iter().find(|row| matches!(row.takes, Takes::Other)));
    match row {
        Some(row) => (row.open)(spec, options),
        None => anyhow::bail!("no source takes '{spec}'"),
    }
}

/// (name, what it is) of every row, for help texts.
pub fn about<T>(table: &[Source<T>]) -> Vec<(&'static str, &'static str)> {
    table.iter().map(|row| (row.name, row.help)).collect()
}
