//! A session's start: connecting (`link::connect`), the front end (lines,
//! JSON or the full-screen view), playback (`--audio-out`), every kind's
//! driver and channel, and the stdin reader, put together into the main
//! loop's `App`. What goes wrong here is an error before anything runs (a
//! bad `--audio-out` path, a server that refuses).

use super::chat::{Chat, ChatLog};
use super::devices::Devices;
use super::failover::Failover;
use super::moving::Moves;
use super::session::{Connection, spawn_named};
use super::sharing::Sharing;
use super::video_wanted::VideoAsk;
use super::{App, AppEvent};
use crate::channel::ChannelContext;
use crate::command::{self, VideoWanted};
use crate::level::MemberLevels;
use crate::link::{self, Security, ServerLink};
use crate::media::driver::Outputs;
use crate::media::options::MediaOptions;
use crate::meeting::MeetingState;
use crate::mkv::MkvRecording;
use crate::order::AnswerOrder;
use crate::output::{FrontEnd, Json, Lines, LocalEvent};
use crate::playback::{self, Playback};
use crate::servers::ServerName;
use crate::stats::ClientStats;
use crate::tui::{self, TuiSettings};
use crossbeam_channel::Sender;
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// How the client talks to its user.
pub enum Mode {
    /// Human lines on stdout, commands on stdin.
    Plain,
    /// One JSON event per line on stdout, commands on stdin.
    Json,
    /// The full-screen view: needs a terminal on stdin and stdout.
    FullScreen(TuiSettings),
}

pub struct Options {
    /// The servers to try, in a random order, until one answers.
    pub servers: Vec<ServerName>,
    /// TLS and whose key to trust, or plain TCP.
    pub security: Security,
    pub name: String,
    pub mode: Mode,
    pub record: Option<PathBuf>,
    /// `--audio-out`: the playback back-end to play the mix to.
    pub audio_out: Option<String>,
    /// False when `audio_out` is only the build's default (the speaker), which
    /// may be missing without that being an error.
    pub audio_out_chosen: bool,
    /// What every media source opens with (`--video-size`, `--fps`,
    /// `--camera`, `--mic`, `--audio-codec`).
    pub media: MediaOptions,
    /// `--video-size-wanted`: how much of the others' video to ask for.
    pub video_wanted: VideoWanted,
}

/// Connects and builds everything the main loop runs.
pub(super) fn start(options: Options, events: Sender<AppEvent>) -> anyhow::Result<App> {
    let link = link::connect(&options.servers, &options.name, &options.security)?;
    let ServerLink {
        id,
        name,
        server,
        session,
        control,
        control_reader,
        trust,
        media: media_sockets,
    } = link;
    let stats = Arc::new(ClientStats::default());
    // Opened before the view takes the terminal, so a bad path is a plain error.
    let playback_sink = match options.audio_out.as_deref().map(playback::open_sink) {
        Some(Err(err)) if !options.audio_out_chosen => {
            // The speaker a devices build plays to by default: its absence is
            // worth saying, not worth ending the session over.
            tracing::warn!(
                "{err:#}: you will not hear the others; --audio-out PATH.wav plays them to a file"
            );
            None
        }
        other => other.transpose()?,
    };
    let mut view_parts = None;
    // The full-screen view reads keys itself; the line modes read stdin.
    let reads_stdin = !matches!(options.mode, Mode::FullScreen(_));
    let full_screen = !reads_stdin;
    let mut output: Box<dyn FrontEnd> = match options.mode {
        Mode::Plain => Box::new(Lines::new(id)),
        Mode::Json => Box::new(Json),
        Mode::FullScreen(settings) => {
            let view = tui::start(settings, id, stats.clone(), events.clone())?;
            view_parts = Some((view.tiles.clone(), view.levels.clone()));
            Box::new(view)
        }
    };
    if let Some(remembered) = &trust.first_use {
        output.local(&LocalEvent::FirstUse {
            server: server.to_string(),
            fingerprint: trust.fingerprint.map(|f| f.to_string()).unwrap_or_default(),
            remembered_in: remembered.as_ref().map(|path| path.display().to_string()),
        });
    }
    output.local(&LocalEvent::Connected {
        id,
        name,
        server: server.to_string(),
        fingerprint: trust.fingerprint.map(|f| f.to_string()),
    });
    let (tiles, levels) = match view_parts {
        Some((tiles, levels)) => (Some(tiles), levels),
        None => (None, MemberLevels::default()),
    };
    // A meeting.mkv that cannot be written is said once; the meeting and
    // the rest of the recording go on.
    let mkv = match options.record.as_deref().map(MkvRecording::start) {
        Some(Err(err)) => {
            let message = format!("{err:#}; recording without it");
            output.local(&LocalEvent::Error { message });
            None
        }
        other => other.and_then(Result::ok),
    };
    let mkv_feed = mkv.as_ref().map(MkvRecording::feed);
    let playback = Playback::new(id).with_recording(mkv_feed.clone());
    // Where each kind's driver sends what it receives.
    let outputs = Outputs {
        record: options.record.clone(),
        mkv: mkv_feed.clone(),
        tiles,
        levels: levels.clone(),
        playback: playback.clone(),
    };
    let recording_mix = mkv.is_some();
    let (devices, playing) = Devices::start(
        options.media,
        playback,
        levels,
        playback_sink,
        recording_mix,
    )?;
    if let Some(playing) = playing {
        output.local(&playing);
    }

    let connection = Connection::open(session.clone(), control, control_reader, events.clone())?;
    let channel_ctx = ChannelContext {
        in_meeting: Arc::default(),
        epoch: Instant::now(),
        stats: stats.clone(),
        events: events.clone(),
    };
    let sharing = Sharing::open(media_sockets, &outputs, channel_ctx, &session)?;
    if reads_stdin {
        spawn_stdin_reader(events)?;
    }

    let record = options.record.as_deref();
    let chat_log = record.map(|dir| ChatLog::open(dir, mkv_feed)).transpose()?;
    Ok(App {
        output,
        order: AnswerOrder::new(reads_stdin),
        meeting: MeetingState::new(id),
        stats,
        connection,
        sharing,
        devices,
        remote: Default::default(),
        chat: Chat::new(chat_log),
        mkv,
        video: VideoAsk::new(options.video_wanted, full_screen, record.is_some()),
        failover: Failover::new(
            &options.servers,
            options.name.clone(),
            options.security.clone(),
        ),
        moves: Moves::new(options.name, options.security),
    })
}

/// Reads stdin line by line, each parsed here into a command (or why it is
/// none) for the main loop; a blank line is nothing.
fn spawn_stdin_reader(events: Sender<AppEvent>) -> anyhow::Result<()> {
    spawn_named("stdin", move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) => {
                    let Some(command) = command::parse(&line).transpose() else {
                        continue; // a blank line
                    };
                    if events.send(AppEvent::Command(command)).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!("stdin: {err}");
                    break;
                }
            }
        }
        let _ = events.send(AppEvent::InputClosed);
    })
}
