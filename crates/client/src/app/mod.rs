//! The client's main loop. Every thread (stdin or the full-screen view's keys,
//! the control socket, the media sockets, the senders, Ctrl-C) reports into one
//! channel of `AppEvent`s, and only this loop changes state or tells the front
//! end, so output is never interleaved. The front end (lines, JSON or the
//! full-screen view) only shows; it never owns the session.
//!
//! The loop only dispatches; each concern owns its state in a module of its
//! own: `session` the control connection, the keep-alive and resuming;
//! `sharing` our media channels and drivers; `devices` the camera and
//! microphone chosen and what we hear; `remote` a controller's input on what
//! we share; `chat` our chat in flight and its log; `video_wanted` how much
//! video we ask for; `requests` what each command asks of the server.
//! `start` connects and builds them all.
//!
//! Local answers wait for the server's answers to what was asked before
//! them (`order`), so a script reads them in the order it asked.
//!
//! Quitting is a half-close: the client stops its senders and shuts the write
//! side of its sockets, and the server, which handles requests in order, answers
//! everything it was sent before it closes its side. So a script that pipes in
//! commands and closes stdin gets every answer before the client exits.

mod chat;
mod devices;
mod failover;
mod moving;
mod remote;
mod requests;
mod session;
mod sharing;
mod start;
mod video_wanted;

use crate::command::{self, Command, DeviceKind};
use crate::events::{Entry, FailedOver, Move};
use crate::media;
use crate::meeting::MeetingState;
use crate::mkv::MkvRecording;
use crate::order::{AnswerOrder, Decision};
use crate::output::{FrontEnd, LocalEvent, MoveReason};
use crate::stats::ClientStats;
use chat::Chat;
use common::{Event, MediaKind, MeetingId, Request};
use crossbeam_channel::{Receiver, Sender};
use devices::Devices;
use failover::Failover;
use moving::{Failed, Follow, Moves, Rejoined};
use remote::Remote;
use session::Connection;
use sharing::Sharing;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};
use video_wanted::VideoAsk;

pub use crate::events::AppEvent;
pub use start::{Mode, Options};

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

/// Connects, runs the session until it ends, and says how it ended.
pub fn run(
    options: Options,
    events: Sender<AppEvent>,
    inbox: Receiver<AppEvent>,
) -> anyhow::Result<Ending> {
    let mut app = start::start(options, events)?;
    app.ask_for_video();
    app.run(&inbox)
}

struct App {
    output: Box<dyn FrontEnd>,
    /// Local answers held until the server answered what was asked before.
    order: AnswerOrder,
    /// The meeting as the server told it: folded here, read by the front end.
    meeting: MeetingState,
    stats: Arc<ClientStats>,
    connection: Connection,
    sharing: Sharing,
    devices: Devices,
    remote: Remote,
    chat: Chat,
    /// `--record`'s `meeting.mkv`: told the members' names, finished at the end.
    mkv: Option<MkvRecording>,
    video: VideoAsk,
    /// Following a meeting to the server of the cluster that holds it.
    moves: Moves,
    /// Finding our meeting again at another server of the cluster should
    /// ours die.
    failover: Failover,
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
                AppEvent::Control(generation, event) if self.connection.is_current(generation) => {
                    self.connection.counted();
                    self.server_event(event);
                }
                AppEvent::ControlClosed(generation, reason)
                    if self.connection.is_current(generation) =>
                {
                    if self.moves.handing_over() {
                        // The server that hands our meeting over closes as
                        // it stops: the move decides what comes next.
                        self.moves.old_closed(reason);
                        continue;
                    }
                    match reason {
                        Some(reason) if !self.connection.shutdown_seen => self.reconnect(reason),
                        // A clean close without `shutdown` is how a dead
                        // server's plain TCP ends, too: with a standing
                        // ticket, the failover's resume first tells the
                        // two apart (a live server refuses it).
                        None if !self.connection.shutdown_seen && self.may_fail_over() => self
                            .reconnect("the server closed the connection unannounced".to_string()),
                        // Closed with a goodbye: the server ended the session.
                        reason => return Ok(self.connection_ended(reason)),
                    }
                }
                AppEvent::Resumed(generation, resumed)
                    if self.connection.is_current(generation) =>
                {
                    self.resumed(*resumed);
                }
                AppEvent::ResumeFailed(generation, message)
                    if self.connection.is_current(generation) =>
                {
                    return Ok(self.connection_ended(Some(message)));
                }
                AppEvent::FailedOver(generation, back)
                    if self.connection.is_current(generation) =>
                {
                    if let Some(ending) = self.failed_over(*back) {
                        return Ok(ending);
                    }
                }
                // From a control connection given up for a newer one.
                AppEvent::Control(..)
                | AppEvent::ControlClosed(..)
                | AppEvent::Resumed(..)
                | AppEvent::ResumeFailed(..) => {}
                // A failover that came too late: the session there ends,
                // with a goodbye so the server does not hold it for a resume.
                AppEvent::FailedOver(_, back) => {
                    back.link.control.close_notify();
                    let _ = back.link.control.shutdown(Shutdown::Both);
                }
                AppEvent::Moved(moved) => {
                    if let Some(ending) = self.moved(*moved) {
                        return Ok(ending);
                    }
                }
                AppEvent::MoveFailed {
                    meeting,
                    server,
                    reason,
                } => {
                    if let Some(ending) = self.move_failed(&meeting, &server, &reason) {
                        return Ok(ending);
                    }
                }
                AppEvent::MediaClosed(kind) => {
                    tracing::debug!("{kind} socket closed");
                }
                // A server that is stopping (or handing our meeting over)
                // closes every socket: that is no news once it said so.
                AppEvent::MediaDown(kind, reason)
                    if !self.connection.shutdown_seen && !self.moves.handing_over() =>
                {
                    self.output.local(&LocalEvent::MediaDown { kind, reason });
                }
                AppEvent::MediaDown(kind, _) => self.sharing.down_unsaid(kind),
                AppEvent::MediaUp(kind, down) => {
                    if self.sharing.up_is_news(kind) {
                        let down_ms = u64::try_from(down.as_millis()).unwrap_or(u64::MAX);
                        self.output.local(&LocalEvent::MediaUp { kind, down_ms });
                    }
                }
                AppEvent::KeyframeNeeded(kind, member) => {
                    if self.meeting.shares(member, kind) {
                        self.send_request(Request::Keyframe { member, kind });
                    }
                }
                AppEvent::SenderFailed(kind, message) => {
                    self.sharing.failed(kind);
                    self.remote.stopped(kind);
                    self.send_request(Request::Media { kind, on: false });
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

    /// Sends a request whose answer local answers after it wait for.
    fn send_request(&mut self, request: Request) {
        self.order.request_sent();
        self.send(request);
    }

    /// Numbers, keeps and sends `request` (once the session is back, while
    /// reconnecting); our chat is followed until the server echoes it.
    fn send(&mut self, request: Request) {
        let chat = Chat::outgoing(&request, &self.meeting);
        let number = self.connection.send(request);
        if let Some(chat) = chat {
            self.chat.sent(number, chat);
        }
    }

    /// Carries out a command: what this client does itself, or the
    /// requests it asks of the server (`requests`).
    fn command(&mut self, command: Command) {
        let asked = match command {
            Command::MediaOn(kind, source) => return self.start_sharing(kind, source.as_deref()),
            Command::MediaOff(kind) => return self.stop_sharing(kind),
            Command::Device(device, name) => return self.choose_device(device, name),
            Command::Devices => {
                let report = media::devices::list();
                return self.say(LocalEvent::Devices { report });
            }
            Command::Speaker(spec) => {
                let said = self.devices.switch_speaker(&spec);
                return self.say(said);
            }
            Command::Volume(who, percent) => {
                let said = self
                    .devices
                    .set_voice(&who, Some(percent), None, &self.meeting);
                return self.say(said);
            }
            Command::Mute(who, muted) => {
                let said = self
                    .devices
                    .set_voice(&who, None, Some(muted), &self.meeting);
                return self.say(said);
            }
            Command::Stats => {
                let mut stats = self.stats.snapshot();
                self.devices.add_to(&mut stats);
                return self.say(LocalEvent::Stats { stats });
            }
            Command::View(wanted) => {
                self.video.set(wanted);
                return self.ask_for_video();
            }
            Command::Help => {
                let commands = command::help_lines();
                return self.say(LocalEvent::Help { commands });
            }
            Command::Quit => return,
            Command::Join(ref meeting, ref passcode) => {
                self.moves.joining(meeting, passcode.clone());
                requests::requests(command, &self.meeting)
            }
            Command::Chat(text) => Chat::message(text),
            Command::Private(line) => Chat::private(&line, &self.meeting),
            command => requests::requests(command, &self.meeting),
        };
        match asked {
            Ok(requests) => {
                for request in requests {
                    self.send_request(request);
                }
            }
            Err(message) => self.say(LocalEvent::Error { message }),
        }
    }

    /// Tells the server how much of each member's video we draw, if that changed.
    fn ask_for_video(&mut self) {
        if let Some(request) = self.video.request(&self.stats) {
            self.send(request);
        }
    }

    fn start_sharing(&mut self, kind: MediaKind, source: Option<&str>) {
        match self.sharing.start(kind, source, &self.devices.options) {
            Ok(started) => {
                self.remote.shared(kind, started.input);
                self.send_request(Request::Media { kind, on: true });
                self.say(LocalEvent::Sharing {
                    kind,
                    on: true,
                    source: Some(started.description),
                });
            }
            Err(message) => self.say(LocalEvent::Error { message }),
        }
    }

    fn stop_sharing(&mut self, kind: MediaKind) {
        self.sharing.stop(kind);
        self.remote.stopped(kind);
        self.send_request(Request::Media { kind, on: false });
        self.say(LocalEvent::Sharing {
            kind,
            on: false,
            source: None,
        });
    }

    /// `/mic` and `/camera`: the device the `mic` and `camera` sources open
    /// from now on; a source sharing from the device switches at once.
    fn choose_device(&mut self, device: DeviceKind, name: Option<String>) {
        let said = self.devices.choose(device, name);
        self.say(said);
        let (kind, source) = device.source();
        if self.sharing.shared_from(kind, source) {
            self.sharing.stop_sender(kind);
            self.start_sharing(kind, Some(source));
        }
    }

    /// Asks a quiet server whether it is there, and says so when it has
    /// not answered for `SERVER_SILENCE_LIMIT`.
    fn keep_alive(&mut self) {
        let now = Instant::now();
        let overdue = self.order.overdue(now);
        self.show_held(overdue);
        let unconfirmed = self.chat.overdue(now);
        self.show_held(unconfirmed);
        let found = self.connection.keep_alive(now);
        if found.ping {
            self.order.ping_sent();
            self.send(Request::Ping);
        }
        if let Some(quiet) = found.silent
            && !self.moves.handing_over()
        {
            let seconds = quiet.as_secs();
            self.output.local(&LocalEvent::ServerSilent { seconds });
            self.reconnect(format!("the server has not answered for {seconds} s"));
        }
    }

    /// The control connection broke: keep the session, reconnect (or fail
    /// over to another server of the cluster if ours is gone).
    fn reconnect(&mut self, reason: String) {
        let plan = self.failover.plan(
            self.meeting.meeting.as_ref(),
            self.meeting.me,
            self.connection.server(),
        );
        self.connection.reconnect(plan);
        self.output.local(&LocalEvent::Reconnecting { reason });
    }

    /// Whether losing our server now would send us looking for the meeting
    /// at another server of the cluster.
    fn may_fail_over(&self) -> bool {
        self.failover
            .plan(
                self.meeting.meeting.as_ref(),
                self.meeting.me,
                self.connection.server(),
            )
            .is_some()
    }

    /// The session goes on, on a new control connection.
    fn resumed(&mut self, resumed: crate::link::ResumedControl) {
        let Some(resumed) = self.connection.resumed(resumed) else {
            return;
        };
        let events_lost = resumed.events_lost;
        if events_lost > 0 {
            // Too much happened meanwhile to replay: the server sends the
            // state (our meeting, if we are still in one) instead.
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
        let after_ms = resumed.after_ms;
        self.output.local(&LocalEvent::Reconnected { after_ms });
        self.sharing.renew();
    }

    /// An event from the server: folded into the meeting, handed to every
    /// concern it touches, then shown.
    fn server_event(&mut self, event: Event) {
        if let Some(silent_ms) = self.connection.heard() {
            self.output.local(&LocalEvent::ServerBack { silent_ms });
        }
        self.failover.heard(&event);
        if matches!(event, Event::Pong) {
            // The keep-alive's answer, or the one local answers wait behind.
            if let Some(read) = self.connection.pong() {
                self.chat.read_through(read);
            }
            // After a failover, the first pong follows the meeting's replay.
            if self.chat.carries() {
                let renumbered = self.failover.chat_renumbered();
                let (again, lost) = self.chat.resend_carried(&self.meeting, renumbered);
                self.show_held(lost);
                for again in again {
                    let chat = Chat::outgoing(&again.request, &self.meeting);
                    let number = self.connection.send(again.request);
                    if let Some(chat) = chat {
                        self.chat.sent_again(number, chat, again.said_late);
                    }
                }
            }
            let released = self.order.pong();
            return self.show_held(released);
        }
        if let Event::MeetingElsewhere {
            meeting,
            server,
            fingerprint,
        } = &event
        {
            let vouched = crate::link::Vouched {
                server: server.clone(),
                fingerprint: fingerprint.clone(),
            };
            match self
                .moves
                .elsewhere(meeting, vouched, self.connection.events())
            {
                // `moved` says it once the move is done (or why not).
                Follow::Following => return,
                Follow::NotOurs => {}
                Follow::Refused(message) => {
                    self.output.server(&event);
                    return self.say(LocalEvent::Error { message });
                }
            }
        }
        if let Event::MeetingMoved {
            meeting,
            server,
            fingerprint,
            ticket,
        } = &event
        {
            let vouched = crate::link::Vouched {
                server: server.clone(),
                fingerprint: fingerprint.clone(),
            };
            let ours = self.meeting.meeting.as_ref();
            let ours = ours.or(self.meeting.waiting_for.as_ref());
            let events = self.connection.events();
            match self
                .moves
                .handed_over(meeting, ours, self.meeting.me, vouched, ticket, events)
            {
                // Said as it comes (why the server goes away); `moved`
                // follows once the move is done (or why not).
                Follow::Following => {
                    self.sharing.expect_move(true);
                    return self.output.server(&event);
                }
                Follow::NotOurs => {}
                Follow::Refused(message) => {
                    self.output.server(&event);
                    return self.say(LocalEvent::Error { message });
                }
            }
        }
        let rejoin_refused = match self.moves.rejoin_answer(&event) {
            Some(Rejoined::Refused(message)) => Some(message),
            Some(Rejoined::Back) | None => None,
        };
        if self.meeting.apply(&event) {
            self.output.meeting(&self.meeting);
            if let Some(mkv) = &mut self.mkv {
                mkv.members(self.meeting.members.iter().map(|m| (m.id, m.name.as_str())));
            }
        }
        self.failover.now_in(self.meeting.meeting.as_ref());
        let in_meeting = self.meeting.in_meeting();
        self.stats.meeting_changed(&event);
        self.sharing.event(&event, in_meeting);
        let me = self.meeting.me;
        match &event {
            Event::Input { from, events } => {
                if let Some(message) = self.remote.play(*from, events, &self.meeting) {
                    self.say(LocalEvent::Error { message });
                }
            }
            // The host stopped what we share: stop producing it too (the
            // guard does, if it was being sent), and say so.
            Event::Blocked {
                member,
                kind,
                blocked: true,
                ..
            } if member.id == me && self.sharing.blocked(*kind) => {
                self.remote.stopped(*kind);
                self.say(LocalEvent::Sharing {
                    kind: *kind,
                    on: false,
                    source: None,
                });
            }
            Event::ControlRevoked { owner, .. } if owner.id == me => self.remote.ended(),
            Event::Shutdown { .. } => self.connection.shutdown_seen = true,
            _ => {}
        }
        self.chat.log(&event);
        match &event {
            Event::Members { meeting, .. } if self.meeting.meeting.as_ref() == Some(meeting) => {
                let levels = self.devices.member_levels(&self.meeting);
                self.output.members(&event, &levels);
            }
            _ => self.output.server(&event),
        }
        if let Some(confirmed) = self.chat.confirmed(&event, &self.meeting) {
            self.output.local(&confirmed);
        }
        if let Some(message) = rejoin_refused {
            // As for a server that stopped: the session ends here, and the
            // loop ends once the control reader says the socket closed.
            self.output.local(&LocalEvent::Error {
                message: format!("{message}. The meeting ends here for you"),
            });
            self.connection.shutdown_seen = true;
            self.connection.close();
        }
    }

    /// Connected to the server that holds the meeting our `/join` asked
    /// for, or that our meeting was handed over to: the session goes on
    /// there. The meeting we were in (if any) is left as far as we know, the
    /// old session ends as `/quit` would end it (without exiting), our media
    /// channels go on there, and we join or rejoin, then say again what we
    /// share. `Some` if that ends the client (a handover that could not
    /// start the new connection).
    fn moved(&mut self, moved: Move) -> Option<Ending> {
        let Move {
            link,
            meeting,
            entry,
        } = moved;
        let crate::link::ServerLink {
            id,
            server,
            session,
            control,
            control_reader,
            media,
            ..
        } = link;
        if let Err(err) = self
            .connection
            .move_to(session.clone(), control, control_reader)
        {
            return self.move_failed(&meeting, &server.to_string(), &format!("{err:#}"));
        }
        self.moves.connected();
        self.new_server(id, media, &session);
        let (reason, enter) = match entry {
            Entry::Join { passcode } => (
                MoveReason::Elsewhere,
                Request::Join {
                    meeting: meeting.as_str().to_string(),
                    passcode,
                },
            ),
            Entry::Rejoin { ticket } => (
                MoveReason::HandedOver,
                Request::Rejoin {
                    meeting: meeting.as_str().to_string(),
                    ticket,
                    chat_seen: self.failover.chat_seen(),
                },
            ),
        };
        self.output.local(&LocalEvent::Moved {
            meeting,
            server: server.to_string(),
            id,
            reason,
        });
        // First, so that the first answer there is the one to it (a
        // rejoin's `error` is told apart from the others' that way).
        self.send_request(enter);
        self.announce_again();
        None
    }

    /// Our server died and another server of the cluster took our meeting
    /// over: the failover rejoined it there (`answer` is its `joined`) and
    /// attached our media. The session goes on there as after a move.
    /// `Some` if the new connection could not start (the session is lost).
    fn failed_over(&mut self, back: FailedOver) -> Option<Ending> {
        let FailedOver {
            link,
            meeting,
            ticket,
            answer,
            lost,
        } = back;
        let crate::link::ServerLink {
            id,
            server,
            session,
            control,
            control_reader,
            media,
            trust,
            ..
        } = link;
        if let Some(remembered) = &trust.first_use {
            self.output.local(&LocalEvent::FirstUse {
                server: server.to_string(),
                fingerprint: trust.fingerprint.map(|f| f.to_string()).unwrap_or_default(),
                remembered_in: remembered.as_ref().map(|path| path.display().to_string()),
            });
        }
        if let Err(err) = self
            .connection
            .move_to(session.clone(), control, control_reader)
        {
            let reason = format!(
                "{lost} is gone, and the connection to {server}, which took meeting {meeting} \
                 over, could not start: {err:#}"
            );
            return Some(self.connection_ended(Some(reason)));
        }
        // Back as the same member: the chat our server never echoed is
        // sent again there, but only what the meeting's replay does not
        // show arrived (`Chat::resend_carried`, at the pong below).
        if id == self.meeting.me {
            self.chat.carry_over();
        }
        // Sent and answered on the failover's thread: counted here, so a
        // resume there later numbers requests and events as the server does.
        self.connection.sent_before(&Request::Rejoin {
            meeting: meeting.as_str().to_string(),
            ticket,
            chat_seen: None,
        });
        self.new_server(id, media, &session);
        self.output.local(&LocalEvent::Moved {
            meeting,
            server: server.to_string(),
            id,
            reason: MoveReason::Failover,
        });
        self.connection.counted();
        self.server_event(answer);
        self.announce_again();
        if self.chat.carries() {
            self.order.ping_sent();
            self.send(Request::Ping);
        }
        None
    }

    /// The session goes on at another server, as `id`, with `media`
    /// attached there: the meeting we were in (if any) is left as far as
    /// we know, and what waited for the old server's answers is due.
    fn new_server(
        &mut self,
        id: common::ClientId,
        media: common::PerKind<crate::link::MediaSocket>,
        session: &crate::link::Session,
    ) {
        if let Some(old) = self.meeting.meeting.clone() {
            self.server_event(Event::Left { meeting: old });
        }
        self.sharing.move_to(media, session);
        // The old server will answer nothing more: what waited for it is due.
        let held = self.order.restart();
        self.show_held(held);
        let undelivered = self.chat.undelivered();
        self.show_held(undelivered);
        self.meeting = MeetingState::new(id);
        self.devices.moved(id);
        self.output.meeting(&self.meeting);
    }

    /// The new server knows nothing of what we share or ask for.
    fn announce_again(&mut self) {
        for kind in self.sharing.shared() {
            self.send_request(Request::Media { kind, on: true });
        }
        self.video.forget_sent();
        self.ask_for_video();
    }

    /// A move could not get there. After a `/join` we stay where we were;
    /// after a handover the meeting ends for us as it would have when the
    /// server we were on stopped: `Some` once its connection has ended.
    fn move_failed(&mut self, meeting: &MeetingId, server: &str, reason: &str) -> Option<Ending> {
        match self.moves.failed() {
            Failed::Join => {
                self.say(LocalEvent::Error {
                    message: format!(
                        "could not move to {server}, which holds meeting {meeting}: {reason}. \
                         Still connected where you were"
                    ),
                });
                None
            }
            Failed::Handover { old_closed } => {
                self.sharing.expect_move(false);
                self.connection.shutdown_seen = true;
                // The old server will answer nothing more either.
                let held = self.order.restart();
                self.show_held(held);
                self.output.local(&LocalEvent::Error {
                    message: format!(
                        "could not follow meeting {meeting} to {server}, where the server you \
                         were on handed it over as it stops: {reason}. The meeting ends here for you"
                    ),
                });
                old_closed.map(|reason| self.connection_ended(reason))
            }
        }
    }

    /// The session is over: what was answered comes first, then which
    /// messages never arrived.
    fn finish(&mut self) {
        let held = self.order.drain();
        self.show_held(held);
        let undelivered = self.chat.undelivered();
        self.show_held(undelivered);
    }

    fn connection_ended(&mut self, reason: Option<String>) -> Ending {
        self.sharing.abort();
        self.devices.stop_playback();
        self.finish_recording();
        self.finish();
        if self.connection.shutdown_seen {
            return Ending::Normal;
        }
        let message = match reason {
            Some(reason) => format!("lost the connection to the server: {reason}"),
            None => "the server closed the connection".to_string(),
        };
        self.output.local(&LocalEvent::Disconnected { message });
        Ending::Lost
    }

    /// Half-closes every socket and prints the server's last answers.
    fn quit(&mut self, inbox: &Receiver<AppEvent>) -> Ending {
        self.sharing.stop_all();
        let socket = self.connection.quit();
        self.sharing.half_close();
        let deadline = Instant::now() + QUIT_GRACE;
        // The control reader, if connected, and one per channel.
        let mut open = usize::from(socket.is_some()) + MediaKind::COUNT;
        while open > 0 {
            match inbox.recv_deadline(deadline) {
                Ok(AppEvent::Server(event)) => self.server_event(event),
                Ok(AppEvent::Control(generation, event))
                    if self.connection.is_current(generation) =>
                {
                    self.server_event(event)
                }
                Ok(AppEvent::ControlClosed(generation, _))
                    if self.connection.is_current(generation) =>
                {
                    open -= 1
                }
                Ok(AppEvent::MediaClosed(_)) => open -= 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        // Local answers still held: after every answer the server gave.
        self.finish();
        if let Some(socket) = socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
        self.devices.stop_playback();
        self.finish_recording();
        Ending::Normal
    }

    /// Makes `meeting.mkv` seekable, once nothing more comes into it.
    fn finish_recording(&mut self) {
        if let Some(mkv) = &mut self.mkv {
            mkv.finish();
        }
    }
}
