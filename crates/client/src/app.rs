//! The client's main loop. Every thread (stdin or the full-screen view's keys,
//! the control socket, the media sockets, the senders, Ctrl-C) reports into one
//! channel of `AppEvent`s, and only this loop changes state or tells the front
//! end, so output is never interleaved. The front end (lines, JSON or the
//! full-screen view) only shows; it never owns the session.
//!
//! A control connection that breaks (an error, or a server silent past
//! `SERVER_SILENCE_LIMIT`) does not end the session: a thread reconnects with
//! back-off for `RESUME_TRYING_FOR` and resumes it (`link::Session::resume`).
//! Meanwhile the loop goes on, and requests are kept (`resend`): the server
//! says which it read, and the rest are sent again, so nothing is lost or
//! done twice. Events are counted for the same reason. Media channels attach
//! new sockets by themselves.
//!
//! Quitting is a half-close: the client stops its senders and shuts the write
//! side of its sockets, and the server, which handles requests in order, answers
//! everything it was sent before it closes its side. So a script that pipes in
//! commands and closes stdin gets every answer before the client exits.

use crate::channel::{ChannelContext, MediaChannel};
use crate::command::{self, Command, DeviceKind, VideoWanted};
use crate::level::MemberLevels;
use crate::link::{self, ResumeError, ResumedControl, Security, ServerLink, Session};
use crate::media;
use crate::media::driver::{Driver, InputTarget, Opened, Outputs};
use crate::media::options::MediaOptions;
use crate::meeting::MeetingState;
use crate::order::{AnswerOrder, Decision};
use crate::output::{FrontEnd, Json, Lines, LocalEvent, MemberLevel};
use crate::playback::{self, Playback, PlaybackClock};
use crate::record::ChatLog;
use crate::resend::RequestLog;
use crate::stats::ClientStats;
use crate::tui::{self, TuiSettings};
use crate::unconfirmed::{Pending, UnconfirmedChat};
use common::protocol::{
    KEEPALIVE_INTERVAL, MAX_CHAT_BYTES, RESUME_TRYING_FOR, SERVER_SILENCE_LIMIT,
};
use common::{
    ClientId, Event, FrameReader, InputEvent, MediaKind, MemberView, PerKind, PixelSize, Request,
};
use crossbeam_channel::{Receiver, SendError, Sender};
use std::collections::HashMap;
use std::io::BufRead;
use std::net::Shutdown;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};
use transport::Socket;

pub use crate::events::AppEvent;

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
    pub host: String,
    /// TLS and whose key to trust, or plain TCP.
    pub security: Security,
    pub port: u16,
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

/// How the session ended, for the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// The user quit, input ended, or the server shut down.
    Normal,
    /// The connection broke.
    Lost,
}

/// How often the main loop checks the keep-alive.
const KEEPALIVE_CHECK: Duration = Duration::from_millis(500);

/// How long quitting may wait for the server's last answers.
const QUIT_GRACE: Duration = Duration::from_secs(5);

/// The control connection now: its writer's queue and its socket.
struct ControlLink {
    requests: Sender<Request>,
    socket: Socket,
    /// Set before the queue is dropped when the connection is given up for
    /// a new one: then the writer does not close it (a goodbye would end the
    /// session the new one resumes).
    abandoned: Arc<AtomicBool>,
}

impl ControlLink {
    fn open(
        socket: Socket,
        reader: FrameReader<Socket>,
        generation: u64,
        events: Sender<AppEvent>,
    ) -> anyhow::Result<ControlLink> {
        let abandoned = Arc::new(AtomicBool::new(false));
        spawn_control_reader(reader, generation, events)?;
        let requests = spawn_control_writer(socket.try_clone()?, abandoned.clone())?;
        Ok(ControlLink {
            requests,
            socket,
            abandoned,
        })
    }

    /// Leaves the connection as it is, without a goodbye.
    fn abandon(self) {
        self.abandoned.store(true, Ordering::SeqCst);
    }
}

struct App {
    output: Box<dyn FrontEnd>,
    /// Local answers held until the server answered what was asked before.
    order: AnswerOrder,
    /// None while reconnecting.
    control: Option<ControlLink>,
    /// Counts control connections: events from older ones are ignored.
    generation: u64,
    /// Control events received in this session (`welcome` is the first).
    events_seen: u64,
    /// Every request, numbered, until the server is known to have read it.
    sent: RequestLog,
    /// Since when the control connection is down, while reconnecting.
    reconnecting: Option<Instant>,
    session: Session,
    events: Sender<AppEvent>,
    /// Our media channels, one per kind.
    channels: PerKind<MediaChannel>,
    /// Each kind's driver: what opens our sources, and follows the meeting.
    drivers: PerKind<Box<dyn Driver>>,
    channel_ctx: ChannelContext,
    /// The meeting as the server told it: folded here, read by the front end.
    meeting: MeetingState,
    stats: Arc<ClientStats>,
    chat_log: Option<ChatLog>,
    media_options: MediaOptions,
    /// The source each kind is shared from now (`mic`, `camera`, a path...),
    /// as the user named it; for switching devices while sharing.
    shared_from: PerKind<Option<String>>,
    shutdown_seen: bool,
    /// The keep-alive: when the server was last heard, when we last asked,
    /// and since when it has been silent past the limit (if it is).
    last_heard: Instant,
    last_ping: Instant,
    silent_since: Option<Instant>,
    me: ClientId,
    /// Every member's audio level, for `/stats` and `levels`.
    levels: MemberLevels,
    /// The mixer: volumes and mutes are kept even without playback.
    playback: Playback,
    /// Running while the mix is played (`--audio-out`); dropping it finishes the sink.
    playback_clock: Option<PlaybackClock>,
    /// While we share what takes a granted controller's input (a screen):
    /// its kind and what plays the input.
    input: Option<(MediaKind, Injector)>,
    /// How much video we ask for (`/view`), the full-screen view's latest
    /// tiles, and the last `view` sent (none is sent twice in a row).
    video_wanted: VideoWanted,
    tiles: Vec<(ClientId, PixelSize)>,
    full_screen: bool,
    records: bool,
    view_sent: Option<Request>,
    /// Chat sent and not yet echoed by the server.
    unconfirmed: UnconfirmedChat,
}

struct Injector {
    /// What plays a granted controller's input: the X display, or the test
    /// desktop, which draws it (image files take none).
    target: Box<dyn InputTarget>,
    /// The target failed once: said, and not tried again.
    failed: bool,
}

pub fn run(
    options: Options,
    events: Sender<AppEvent>,
    inbox: Receiver<AppEvent>,
) -> anyhow::Result<Ending> {
    let link = link::connect(
        &options.host,
        options.port,
        &options.name,
        &options.security,
    )?;
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
    let record = options.record.as_deref();
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
    let playback = Playback::new(id);
    // Where each kind's driver sends what it receives.
    let outputs = Outputs {
        record: options.record.clone(),
        tiles,
        levels: levels.clone(),
        playback: playback.clone(),
    };
    let playback_clock = match playback_sink {
        Some(sink) => {
            let described = sink.describe();
            let clock = PlaybackClock::start(playback.clone(), sink)?;
            let started_unix_us = clock
                .started
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_micros() as u64);
            output.local(&LocalEvent::AudioOut {
                sink: described,
                started_unix_us,
            });
            Some(clock)
        }
        None => None,
    };

    let control = ControlLink::open(control, control_reader, 0, events.clone())?;
    let channel_ctx = ChannelContext {
        in_meeting: Arc::default(),
        epoch: Instant::now(),
        stats: stats.clone(),
        events: events.clone(),
    };
    let mut drivers = PerKind::from_fn(|kind| (media::driver(kind).start)(&outputs));
    let mut sockets = media_sockets.map(|_, socket| Some(socket));
    let channels = PerKind::try_from_fn(|kind| {
        let Some(socket) = sockets[kind].take() else {
            unreachable!("one socket per kind");
        };
        let receiver = drivers[kind].receiver();
        MediaChannel::open(kind, socket, receiver, &channel_ctx, session.clone())
    })?;
    if reads_stdin {
        spawn_stdin_reader(events.clone())?;
    }

    let chat_log = record.map(ChatLog::open).transpose()?;
    let mut app = App {
        output,
        order: AnswerOrder::new(reads_stdin),
        control: Some(control),
        generation: 0,
        events_seen: 1,
        sent: RequestLog::default(),
        reconnecting: None,
        session,
        events,
        channels,
        drivers,
        channel_ctx,
        meeting: MeetingState::new(id),
        stats,
        chat_log,
        media_options: options.media,
        shared_from: PerKind::default(),
        shutdown_seen: false,
        last_heard: Instant::now(),
        last_ping: Instant::now(),
        silent_since: None,
        me: id,
        levels,
        playback,
        playback_clock,
        input: None,
        video_wanted: options.video_wanted,
        tiles: Vec::new(),
        full_screen,
        records: record.is_some(),
        view_sent: None,
        unconfirmed: UnconfirmedChat::default(),
    };
    app.ask_for_video();
    app.run(&inbox)
}

impl App {
    fn run(&mut self, inbox: &Receiver<AppEvent>) -> anyhow::Result<Ending> {
        let mut next_check = Instant::now() + KEEPALIVE_CHECK;
        loop {
            let event = match inbox.recv_deadline(next_check) {
                Ok(event) => event,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    next_check = Instant::now() + KEEPALIVE_CHECK;
                    self.keep_alive();
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            };
            if Instant::now() >= next_check {
                next_check = Instant::now() + KEEPALIVE_CHECK;
                self.keep_alive();
            }
            match event {
                AppEvent::Command(Ok(Command::Quit)) => return Ok(self.quit(inbox)),
                AppEvent::Command(Ok(command)) => self.command(command),
                AppEvent::Command(Err(message)) => self.say(LocalEvent::Error { message }),
                AppEvent::InputClosed | AppEvent::Interrupted => return Ok(self.quit(inbox)),
                AppEvent::Server(event) => self.server_event(event),
                AppEvent::Control(generation, event) if generation == self.generation => {
                    self.events_seen += 1;
                    self.server_event(event);
                }
                AppEvent::ControlClosed(generation, reason) if generation == self.generation => {
                    match reason {
                        // Closed with a goodbye: the server ended the session.
                        Some(reason) if !self.shutdown_seen => self.reconnect(reason),
                        reason => return Ok(self.connection_ended(reason)),
                    }
                }
                AppEvent::Resumed(generation, resumed) if generation == self.generation => {
                    self.resumed(*resumed);
                }
                AppEvent::ResumeFailed(generation, message) if generation == self.generation => {
                    return Ok(self.connection_ended(Some(message)));
                }
                // From a control connection given up for a newer one.
                AppEvent::Control(..)
                | AppEvent::ControlClosed(..)
                | AppEvent::Resumed(..)
                | AppEvent::ResumeFailed(..) => {}
                AppEvent::MediaClosed(kind) => {
                    tracing::debug!("{kind} socket closed");
                }
                // A server that is stopping closes every socket: that is no
                // news once it said so.
                AppEvent::MediaDown(kind, reason) if !self.shutdown_seen => {
                    self.output.local(&LocalEvent::MediaDown { kind, reason });
                }
                AppEvent::MediaUp(kind, down) => {
                    let down_ms = u64::try_from(down.as_millis()).unwrap_or(u64::MAX);
                    self.output.local(&LocalEvent::MediaUp { kind, down_ms });
                }
                AppEvent::MediaDown(..) => {}
                AppEvent::KeyframeNeeded(kind, member) => {
                    if self.meeting.shares(member, kind) {
                        let _ = self.send_request(Request::Keyframe { member, kind });
                    }
                }
                AppEvent::SenderFailed(kind, message) => {
                    self.channels[kind].sender_failed();
                    self.sharing_stopped(kind);
                    let _ = self.send_request(Request::Media { kind, on: false });
                    self.say(LocalEvent::Error { message });
                }
            }
        }
        Ok(Ending::Lost)
    }

    /// Shows a local event, after the answers to the requests before it.
    fn say(&mut self, event: LocalEvent) {
        match self.order.local(event, Instant::now()) {
            Decision::Show(event) => self.output.local(&event),
            Decision::Held { ping: true } => self.send(Request::Ping),
            Decision::Held { ping: false } => {}
        }
    }

    /// Shows held local events that are due (`pong` answered, or waited long enough).
    fn show_held(&mut self, events: Vec<LocalEvent>) {
        for event in events {
            self.output.local(&event);
        }
    }

    fn send_request(&mut self, request: Request) -> Result<(), SendError<Request>> {
        self.order.request_sent();
        self.send(request);
        Ok(())
    }

    /// Numbers and keeps `request`, and sends it unless reconnecting (then
    /// it goes once the session is resumed).
    fn send(&mut self, request: Request) {
        self.sent.record(&request);
        let number = self.sent.sent();
        match &request {
            Request::Chat { text } => {
                self.unconfirmed
                    .sent(number, None, text.clone(), Instant::now())
            }
            Request::Private { to, text } => {
                let name = self
                    .meeting
                    .member(*to)
                    .map_or_else(|| to.to_string(), |m| m.name.clone());
                self.unconfirmed
                    .sent(number, Some(name), text.clone(), Instant::now())
            }
            _ => {}
        }
        if let Some(control) = &self.control {
            let _ = control.requests.send(request);
        }
    }

    /// The control connection broke: keep the session, reconnect.
    fn reconnect(&mut self, reason: String) {
        if let Some(control) = self.control.take() {
            control.abandon();
        }
        self.generation += 1;
        self.reconnecting = Some(Instant::now());
        self.output.local(&LocalEvent::Reconnecting { reason });
        let resumer = Resumer {
            session: self.session.clone(),
            generation: self.generation,
            events_seen: self.events_seen,
            requests_sent: self.sent.sent(),
            events: self.events.clone(),
        };
        if let Err(err) = spawn_named("resume", move || resumer.run()) {
            let _ = self.events.send(AppEvent::ResumeFailed(
                self.generation,
                format!("could not start reconnecting: {err}"),
            ));
        }
    }

    /// The session goes on, on a new control connection.
    fn resumed(&mut self, resumed: ResumedControl) {
        let ResumedControl {
            control,
            reader,
            requests_handled,
            events_lost,
        } = resumed;
        let link = match ControlLink::open(control, reader, self.generation, self.events.clone()) {
            Ok(link) => link,
            Err(err) => {
                let message = format!("could not start the new connection: {err:#}");
                let _ = self
                    .events
                    .send(AppEvent::ResumeFailed(self.generation, message));
                return;
            }
        };
        if events_lost > 0 {
            // Too much happened meanwhile to replay: the server sends the
            // state (our meeting, if we are still in one) instead.
            self.events_seen += events_lost;
            if let Some(meeting) = self.meeting.meeting.clone() {
                self.meeting.apply(&Event::Left { meeting });
                self.output.meeting(&self.meeting);
            }
            self.output.local(&LocalEvent::Error {
                message: format!(
                    "{events_lost} events (chat among them) were lost while reconnecting; the meeting as it is now follows"
                ),
            });
        }
        for request in self.sent.resumed(requests_handled) {
            let _ = link.requests.send(request);
        }
        self.control = Some(link);
        let since = self.reconnecting.take().unwrap_or_else(Instant::now);
        self.last_heard = Instant::now();
        self.last_ping = Instant::now();
        let after_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.output.local(&LocalEvent::Reconnected { after_ms });
        for (_, channel) in self.channels.iter() {
            channel.renew();
        }
    }

    fn command(&mut self, command: Command) {
        let request = match command {
            Command::Create(passcode) => Request::Create { passcode },
            Command::Join(meeting, passcode) => Request::Join { meeting, passcode },
            Command::Passcode(passcode) => Request::Passcode { passcode },
            Command::Lock(locked) => Request::Lock { locked },
            Command::Lobby(on) => Request::Lobby { on },
            Command::Admit(who) if who.eq_ignore_ascii_case("all") => {
                let waiting: Vec<ClientId> = self.meeting.waiting.iter().map(|m| m.id).collect();
                if waiting.is_empty() {
                    let message = "nobody waits in the lobby".to_string();
                    return self.say(LocalEvent::Error { message });
                }
                for member in waiting {
                    let _ = self.send_request(Request::Admit { member });
                }
                return;
            }
            Command::Admit(who) => match self.meeting.find_waiting(&who) {
                Ok(member) => Request::Admit { member },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::Deny(who) => match self.meeting.find_waiting(&who) {
                Ok(member) => Request::Deny { member },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::Remove(who) => match self.find_member(&who) {
                Ok((member, _)) => Request::Remove { member },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::Block(who, kind) => match who.map(|who| self.find_member(&who)).transpose() {
                Ok(member) => Request::Block {
                    member: member.map(|(id, _)| id),
                    kind,
                },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            // A removed member is no longer in the meeting: found among everyone seen.
            Command::Allow(who, kind) => match self.meeting.find_known(&who) {
                Ok(member) => Request::Allow { member, kind },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::MakeHost(who) => match self.find_member(&who) {
                Ok((member, _)) => Request::MakeHost { member },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::Leave => Request::Leave,
            Command::Cancel => Request::Cancel,
            Command::Meetings => Request::Meetings,
            Command::Members => Request::Members,
            Command::ServerStats => Request::ServerStats,
            // Over the limit the server would refuse it, and a line over the
            // frame limit would be a protocol fault that ends the session:
            // say so here, and lose nothing else.
            Command::Chat(text) if text.len() > MAX_CHAT_BYTES => {
                let message = format!(
                    "not sent: a chat message is at most {MAX_CHAT_BYTES} bytes (this one has {}); split it",
                    text.len()
                );
                return self.say(LocalEvent::Error { message });
            }
            Command::Chat(text) => Request::Chat { text },
            Command::Private(line) => match self.meeting.find_at_start(&line) {
                Ok((member, _)) if member.id == self.me => {
                    let message = "that is you: /msg goes to another member".to_string();
                    return self.say(LocalEvent::Error { message });
                }
                Ok((_, "")) => {
                    let message = command::msg_usage();
                    return self.say(LocalEvent::Error { message });
                }
                Ok((_, text)) if text.len() > MAX_CHAT_BYTES => {
                    let message = format!(
                        "not sent: a private message is at most {MAX_CHAT_BYTES} bytes (this one has {}); split it",
                        text.len()
                    );
                    return self.say(LocalEvent::Error { message });
                }
                Ok((member, text)) => Request::Private {
                    to: member.id,
                    text: text.to_string(),
                },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::Hand(None) => Request::Hand {
                raised: !self.meeting.member(self.me).is_some_and(|m| m.hand),
                member: None,
            },
            Command::Hand(Some(who)) => match self.meeting.find(&who) {
                Ok(member) => Request::Hand {
                    raised: false,
                    member: Some(member.id),
                },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::React(emoji) => Request::React { emoji },
            Command::Devices => {
                let report = media::devices::list();
                return self.say(LocalEvent::Devices { report });
            }
            Command::Device(device, name) => return self.choose_device(device, name),
            Command::Speaker(spec) => return self.switch_speaker(&spec),
            Command::MediaOn(kind, source) => return self.start_sharing(kind, source.as_deref()),
            Command::MediaOff(kind) => return self.stop_sharing(kind),
            Command::ControlRequest(who) => match self.screen_owner(who.as_deref()) {
                Ok(owner) => Request::ControlRequest { owner },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::ControlGrant(who) => match self.find_member(&who) {
                Ok((controller, _)) => Request::ControlGrant { controller },
                Err(message) => return self.say(LocalEvent::Error { message }),
            },
            Command::ControlRevoke => Request::ControlRevoke,
            Command::Input(action) => Request::Input {
                events: action.events(),
            },
            Command::Volume(who, percent) => return self.set_voice(&who, Some(percent), None),
            Command::Mute(who, muted) => return self.set_voice(&who, None, Some(muted)),
            Command::Stats => return self.show_stats(),
            Command::View(VideoWanted::Tiles(tiles)) => {
                self.tiles = tiles;
                // A script's tiles are what it wants; the full-screen view's
                // count only while it chooses (`auto`).
                if !self.full_screen {
                    self.video_wanted = VideoWanted::Tiles(Vec::new());
                }
                return self.ask_for_video();
            }
            Command::View(wanted) => {
                self.video_wanted = wanted;
                return self.ask_for_video();
            }
            Command::Help => {
                let commands = command::help_lines();
                return self.say(LocalEvent::Help { commands });
            }
            Command::Quit => return,
        };
        let _ = self.send_request(request);
    }

    /// Finds another member of our meeting by id or (case-insensitive) name.
    fn find_member(&self, who: &str) -> Result<(ClientId, String), String> {
        let found = self.meeting.find(who)?;
        if found.id == self.me {
            return Err("that is you: name another member (/members lists them)".into());
        }
        Ok((found.id, found.name.clone()))
    }

    /// The member whose screen `/control request` means: the one named, or
    /// the only one sharing a screen.
    fn screen_owner(&self, who: Option<&str>) -> Result<ClientId, String> {
        if let Some(who) = who {
            return self.find_member(who).map(|(id, _)| id);
        }
        let sharers: Vec<ClientId> = self.meeting.screen_sharers().map(|m| m.id).collect();
        match sharers.as_slice() {
            [owner] => Ok(*owner),
            [] => Err("nobody in your meeting shares a screen".to_string()),
            _ => Err("several members share a screen: /control request NAME|ID".to_string()),
        }
    }

    /// Input from a controller: played on our display only if the server and
    /// we both agree that this member holds the grant for our screen.
    fn inject(&mut self, from: ClientId, events: &[InputEvent]) {
        if self.meeting.controller_of(self.me) != Some(from) {
            tracing::warn!(%from, "input from a member without control of our screen ignored");
            return;
        }
        let Some((_, injector)) = &mut self.input else {
            return; // nothing shared takes input (pictures: nothing to type into)
        };
        if injector.failed {
            return;
        }
        for event in events {
            if let Err(err) = injector.target.apply(*event) {
                injector.failed = true;
                let message = format!("cannot play remote input on this display: {err}");
                return self.say(LocalEvent::Error { message });
            }
        }
    }

    fn set_voice(&mut self, who: &str, percent: Option<u32>, muted: Option<bool>) {
        if self.meeting.find(who).is_ok_and(|m| m.id == self.me) {
            let message = "that is you: your own voice is never played back to you".to_string();
            return self.say(LocalEvent::Error { message });
        }
        match self.find_member(who) {
            Ok((member, name)) => {
                let settings = self.playback.set(member, percent, muted);
                self.say(LocalEvent::Volume {
                    member,
                    name,
                    percent: settings.percent,
                    muted: settings.muted,
                });
            }
            Err(message) => self.say(LocalEvent::Error { message }),
        }
    }

    /// Tells the server how much of each member's video we draw, if that
    /// changed: everyone at full size, nobody, or the full-screen view's
    /// tiles (`auto`; in the line modes, full while recording, else none).
    fn ask_for_video(&mut self) {
        let auto_full = self.records && !self.full_screen;
        let (sizes, others) = match &self.video_wanted {
            VideoWanted::Full => (Vec::new(), Some(PixelSize::FULL)),
            VideoWanted::Auto if auto_full => (Vec::new(), Some(PixelSize::FULL)),
            VideoWanted::None | VideoWanted::Auto if !self.full_screen => (Vec::new(), None),
            VideoWanted::None => (Vec::new(), None),
            VideoWanted::Auto | VideoWanted::Tiles(_) => (self.tiles.clone(), None),
        };
        self.stats.asked(sizes.iter().copied().collect(), others);
        let request = Request::View {
            sizes: sizes
                .into_iter()
                .map(|(member, size)| MemberView {
                    member,
                    width: size.width,
                    height: size.height,
                })
                .collect(),
            others,
        };
        if self.view_sent.as_ref() != Some(&request) {
            self.view_sent = Some(request.clone());
            self.send(request);
        }
    }

    fn show_stats(&mut self) {
        let mut stats = self.stats.snapshot();
        let now = Instant::now();
        let playing = self.playback_clock.is_some();
        for member in &mut stats.received {
            member.audio_level_dbfs = self.levels.level(member.member, now).map(tenth);
            if playing {
                member.playback = self.playback.member_stats(member.member);
            }
        }
        if playing {
            stats.playback = Some(self.playback.stats());
        }
        self.say(LocalEvent::Stats { stats });
    }

    /// Each other member's level, for a `members` event.
    fn member_levels(&self) -> HashMap<ClientId, MemberLevel> {
        let now = Instant::now();
        self.meeting
            .others()
            .map(|m| m.id)
            .map(|member| {
                let dbfs = self
                    .levels
                    .level(member, now)
                    .unwrap_or(crate::level::FLOOR_DBFS);
                let level = MemberLevel {
                    dbfs: tenth(dbfs),
                    speaking: dbfs > crate::level::SPEAKING_DBFS,
                };
                (member, level)
            })
            .collect()
    }

    fn start_sharing(&mut self, kind: MediaKind, source: Option<&str>) {
        let Opened {
            description,
            producer,
            input,
        } = match self.drivers[kind].open(source, &self.media_options) {
            Ok(opened) => opened,
            Err(err) => {
                return self.say(LocalEvent::Error {
                    message: format!("{err:#}"),
                });
            }
        };
        match self.channels[kind].start(producer, &self.channel_ctx) {
            Ok(()) => {
                // A new source replaces what played input on the old one.
                if input.is_some() || self.input.as_ref().is_some_and(|(k, _)| *k == kind) {
                    self.input = input.map(|target| {
                        let failed = false;
                        (kind, Injector { target, failed })
                    });
                }
                self.shared_from[kind] = source.map(str::to_string);
                let _ = self.send_request(Request::Media { kind, on: true });
                self.say(LocalEvent::Sharing {
                    kind,
                    on: true,
                    source: Some(description),
                });
            }
            Err(err) => self.say(LocalEvent::Error {
                message: format!("could not start sending {kind}: {err}"),
            }),
        }
    }

    /// What `kind` shared is gone: its driver and the controller's input
    /// forget it.
    fn sharing_stopped(&mut self, kind: MediaKind) {
        self.drivers[kind].stopped();
        if self.input.as_ref().is_some_and(|(k, _)| *k == kind) {
            self.input = None;
        }
    }

    /// `/mic` and `/camera`: the device the `mic` and `camera` sources open
    /// from now on; a source sharing from the device switches at once.
    fn choose_device(&mut self, device: DeviceKind, name: Option<String>) {
        self.media_options.choose(device, name.clone());
        let (kind, source) = device.source();
        self.say(LocalEvent::DeviceChosen {
            device: device.name().to_string(),
            name,
        });
        if self.shared_from[kind].as_deref() == Some(source) {
            self.channels[kind].stop();
            self.start_sharing(kind, Some(source));
        }
    }

    /// `/speaker`: finishes the current playback (a WAV file gets its
    /// header) and plays the mix to the new sink, or to nothing.
    fn switch_speaker(&mut self, spec: &str) {
        let spec = match spec {
            "off" => {
                self.stop_playback();
                return self.say(LocalEvent::AudioOff);
            }
            "default" => "speaker".to_string(),
            name if name.ends_with(".wav") || name.contains('/') || name.starts_with("speaker") => {
                name.to_string()
            }
            name => format!("speaker:{name}"),
        };
        // Opened before the old one stops: a bad name keeps what plays.
        let sink = match playback::open_sink(&spec) {
            Ok(sink) => sink,
            Err(err) => {
                return self.say(LocalEvent::Error {
                    message: format!("{err:#}; still playing as before"),
                });
            }
        };
        self.stop_playback();
        let described = sink.describe();
        match PlaybackClock::start(self.playback.clone(), sink) {
            Ok(clock) => {
                let started_unix_us = clock
                    .started
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |since| since.as_micros() as u64);
                self.playback_clock = Some(clock);
                self.say(LocalEvent::AudioOut {
                    sink: described,
                    started_unix_us,
                });
            }
            Err(err) => self.say(LocalEvent::Error {
                message: format!("could not play to {described}: {err}"),
            }),
        }
    }

    fn stop_sharing(&mut self, kind: MediaKind) {
        self.channels[kind].stop();
        self.shared_from[kind] = None;
        self.sharing_stopped(kind);
        let _ = self.send_request(Request::Media { kind, on: false });
        self.say(LocalEvent::Sharing {
            kind,
            on: false,
            source: None,
        });
    }

    /// Asks a quiet server whether it is there, and says so when it has
    /// not answered for `SERVER_SILENCE_LIMIT`.
    fn keep_alive(&mut self) {
        let now = Instant::now();
        let overdue = self.order.overdue(now);
        self.show_held(overdue);
        for pending in self.unconfirmed.overdue(now) {
            let seconds = now.duration_since(pending.sent_at).as_secs();
            self.output.local(&LocalEvent::ChatUnconfirmed {
                to: pending.to,
                text: pending.text,
                seconds,
            });
        }
        if self.reconnecting.is_some() || self.shutdown_seen {
            return;
        }
        let quiet = now.duration_since(self.last_heard);
        // Every interval, heard from or not: the server takes a client that
        // pinged once and then fell silent for a broken connection.
        if now.duration_since(self.last_ping) >= KEEPALIVE_INTERVAL {
            self.last_ping = now;
            self.order.ping_sent();
            self.send(Request::Ping);
        }
        if quiet >= SERVER_SILENCE_LIMIT && self.silent_since.is_none() {
            self.silent_since = Some(self.last_heard);
            self.output.local(&LocalEvent::ServerSilent {
                seconds: quiet.as_secs(),
            });
            self.reconnect(format!(
                "the server has not answered for {} s",
                quiet.as_secs()
            ));
        }
    }

    /// Frames a member sent while we were not in a meeting together were
    /// never on their way to us: count losses afresh from their next frame.
    fn restart_loss_counts(&self, event: &Event) {
        match event {
            Event::Joined { .. } | Event::Left { .. } | Event::Created { .. } => {
                self.stats.new_sequences(None);
            }
            Event::MemberJoined { member, .. } => self.stats.new_sequences(Some(member.id)),
            Event::MemberLeft { member, .. } => self.stats.new_sequences(Some(member.id)),
            _ => {}
        }
    }

    fn server_event(&mut self, event: Event) {
        self.last_heard = Instant::now();
        if let Some(since) = self.silent_since.take() {
            let silent_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.output.local(&LocalEvent::ServerBack { silent_ms });
        }
        if matches!(event, Event::Pong) {
            // The keep-alive's answer, or the one local answers wait behind.
            if let Some(read) = self.sent.pong() {
                self.unconfirmed.read_through(read);
            }
            let released = self.order.pong();
            return self.show_held(released);
        }
        if self.meeting.apply(&event) {
            self.output.meeting(&self.meeting);
        }
        let in_meeting = self.meeting.in_meeting();
        self.channel_ctx
            .in_meeting
            .store(in_meeting, Ordering::Relaxed);
        self.restart_loss_counts(&event);
        for (_, driver) in self.drivers.iter_mut() {
            driver.event(&event, in_meeting);
        }
        let mut with_levels = false;
        match &event {
            Event::Members { meeting, .. } if self.meeting.meeting.as_ref() == Some(meeting) => {
                with_levels = true;
            }
            Event::Input { from, events } => self.inject(*from, events),
            // The host stopped what we share: the server relays none of it
            // any more, so stop producing it too (and say so).
            Event::Blocked {
                member,
                kind,
                blocked: true,
                ..
            } if member.id == self.me && self.channels[*kind].sending() => {
                self.channels[*kind].stop();
                self.sharing_stopped(*kind);
                self.say(LocalEvent::Sharing {
                    kind: *kind,
                    on: false,
                    source: None,
                });
            }
            // Control of our screen ended: nothing the controller pressed stays down.
            Event::ControlRevoked { owner, .. } if owner.id == self.me => {
                if let Some((_, injector)) = self.input.as_mut()
                    && let Err(err) = injector.target.release_all()
                {
                    tracing::warn!("could not release the controller's keys: {err}");
                }
            }
            Event::Chat {
                meeting,
                from,
                text,
                ..
            } => {
                if let Some(log) = &mut self.chat_log
                    && let Err(err) = log.message(meeting, from, text)
                {
                    tracing::warn!("chat log: {err:#}");
                }
            }
            // Private messages are part of what was said to you: logged,
            // marked as private, with whom.
            Event::Private {
                meeting,
                from,
                to,
                text,
            } => {
                let from = format!("{} → {} (private)", from.name, to.name);
                if let Some(log) = &mut self.chat_log
                    && let Err(err) = log.message(meeting, &from, text)
                {
                    tracing::warn!("chat log: {err:#}");
                }
            }
            Event::Shutdown { .. } => self.shutdown_seen = true,
            _ => {}
        }
        if with_levels {
            let levels = self.member_levels();
            self.output.members(&event, &levels);
        } else {
            self.output.server(&event);
        }
        self.confirm_chat(&event);
    }

    /// Our own chat came back from the server: delivered. Said only for a
    /// message that had been said to be unconfirmed.
    fn confirm_chat(&mut self, event: &Event) {
        let confirmed = match event {
            Event::Chat { from_id, text, .. } if *from_id == self.me => {
                self.unconfirmed.echoed(false, text)
            }
            Event::Private { from, text, .. } if from.id == self.me => {
                self.unconfirmed.echoed(true, text)
            }
            _ => None,
        };
        if let Some(Pending { to, text, .. }) = confirmed {
            self.output.local(&LocalEvent::ChatConfirmed { to, text });
        }
    }

    /// The session is over: say which messages never arrived.
    fn report_undelivered(&mut self) {
        for Pending { to, text, .. } in self.unconfirmed.drain() {
            self.output
                .local(&LocalEvent::ChatNotDelivered { to, text });
        }
    }

    fn connection_ended(&mut self, reason: Option<String>) -> Ending {
        for (_, channel) in self.channels.iter_mut() {
            channel.abort();
        }
        self.stop_playback();
        // What was answered before the connection ended comes first.
        let held = self.order.drain();
        self.show_held(held);
        self.report_undelivered();
        if self.shutdown_seen {
            return Ending::Normal;
        }
        let message = match reason {
            Some(reason) => format!("lost the connection to the server: {reason}"),
            None => "the server closed the connection".to_string(),
        };
        self.output.local(&LocalEvent::Disconnected { message });
        Ending::Lost
    }

    fn stop_senders(&mut self) {
        for (_, channel) in self.channels.iter_mut() {
            channel.stop();
        }
    }

    /// Ends playback and finishes its sink (the WAV file's header).
    fn stop_playback(&mut self) {
        if let Some(mut clock) = self.playback_clock.take() {
            clock.stop();
        }
    }

    /// Half-closes every socket and prints the server's last answers.
    fn quit(&mut self, inbox: &Receiver<AppEvent>) -> Ending {
        self.stop_senders();
        // Dropping the request queue ends the control writer, which half-closes.
        let control = self.control.take();
        let socket = control.as_ref().and_then(|c| c.socket.try_clone().ok());
        drop(control);
        for (_, channel) in self.channels.iter_mut() {
            channel.half_close();
        }
        let deadline = Instant::now() + QUIT_GRACE;
        // The control reader, if connected, and one per channel.
        let mut open = usize::from(socket.is_some()) + MediaKind::COUNT;
        while open > 0 {
            match inbox.recv_deadline(deadline) {
                Ok(AppEvent::Server(event)) => self.server_event(event),
                Ok(AppEvent::Control(generation, event)) if generation == self.generation => {
                    self.server_event(event)
                }
                Ok(AppEvent::ControlClosed(generation, _)) if generation == self.generation => {
                    open -= 1
                }
                Ok(AppEvent::MediaClosed(_)) => open -= 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        // Local answers still held: after every answer the server gave.
        let held = self.order.drain();
        self.show_held(held);
        self.report_undelivered();
        if let Some(socket) = socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
        self.stop_playback();
        Ending::Normal
    }
}

/// Rounds a level to a tenth of a dB, for people and JSON.
fn tenth(dbfs: f32) -> f32 {
    (dbfs * 10.0).round() / 10.0
}

fn spawn_named(name: &str, body: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(body)?;
    Ok(())
}

/// Reconnects and resumes the session, with back-off, for `RESUME_TRYING_FOR`.
struct Resumer {
    session: Session,
    generation: u64,
    events_seen: u64,
    requests_sent: u64,
    events: Sender<AppEvent>,
}

/// The wait between attempts to reconnect doubles from the first...
const FIRST_RESUME_DELAY: Duration = Duration::from_millis(250);
/// ...to this: a network that comes back is noticed within it.
const MAX_RESUME_DELAY: Duration = Duration::from_secs(2);
/// The longest one attempt's TCP connect may wait.
const RESUME_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl Resumer {
    fn run(self) {
        let started = Instant::now();
        let give_up = started + RESUME_TRYING_FOR;
        let mut delay = FIRST_RESUME_DELAY;
        let mut attempts = 0u32;
        let outcome = loop {
            attempts += 1;
            let left = give_up.saturating_duration_since(Instant::now());
            let connect_for = left.clamp(Duration::from_millis(100), RESUME_CONNECT_TIMEOUT);
            let last = match self
                .session
                .resume(self.events_seen, self.requests_sent, connect_for)
            {
                Ok(resumed) => break AppEvent::Resumed(self.generation, Box::new(resumed)),
                Err(ResumeError::Never(message)) => {
                    break AppEvent::ResumeFailed(self.generation, message);
                }
                Err(ResumeError::Again(err)) => format!("{err:#}"),
            };
            tracing::debug!(attempts, "resume: {last}");
            if Instant::now() + delay >= give_up {
                break AppEvent::ResumeFailed(
                    self.generation,
                    format!(
                        "could not reconnect in {} s ({attempts} attempts; the last: {last}); the session is lost",
                        started.elapsed().as_secs()
                    ),
                );
            }
            // The back-off itself: nothing to wait for but time.
            std::thread::sleep(delay);
            delay = (delay * 2).min(MAX_RESUME_DELAY);
        };
        let _ = self.events.send(outcome);
    }
}

fn spawn_control_reader(
    mut reader: FrameReader<Socket>,
    generation: u64,
    events: Sender<AppEvent>,
) -> anyhow::Result<()> {
    spawn_named("control-in", move || {
        let ending = loop {
            match reader.read_frame() {
                Ok(Some(frame)) => match frame.parse_control::<Event>() {
                    Ok(event) => {
                        let _ = events.send(AppEvent::Control(generation, event));
                    }
                    Err(err) => break Some(format!("the server sent something unreadable: {err}")),
                },
                Ok(None) => break None,
                Err(err) => break Some(err.to_string()),
            }
        };
        let _ = events.send(AppEvent::ControlClosed(generation, ending));
    })
}

fn spawn_control_writer(
    stream: Socket,
    abandoned: Arc<AtomicBool>,
) -> anyhow::Result<Sender<Request>> {
    let (tx, rx) = crossbeam_channel::unbounded::<Request>();
    spawn_named("control-out", move || {
        for request in rx {
            if common::Frame::control(&request)
                .write_to(&mut &stream)
                .is_err()
            {
                break;
            }
        }
        if abandoned.load(Ordering::SeqCst) {
            return; // no goodbye: the session goes on elsewhere
        }
        stream.close_notify();
        let _ = stream.shutdown(Shutdown::Write);
    })?;
    Ok(tx)
}

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
