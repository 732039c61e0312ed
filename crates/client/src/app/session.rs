//! The control connection and the session it carries: every request
//! numbered and kept until the server is known to have read it (`resend`),
//! the events counted, the keep-alive, and reconnecting.
//!
//! A control connection that breaks (an error, or a server silent past
//! `SERVER_SILENCE_LIMIT`) does not end the session: a thread reconnects with
//! back-off for `RESUME_TRYING_FOR` and resumes it (`link::Session::resume`).
//! Meanwhile the loop goes on, and requests are kept: the server says which
//! it read, and the rest are sent again, so nothing is lost or done twice.
//! Events are counted for the same reason. Each new control connection has a
//! generation; what an abandoned one still says is ignored.
//!
//! On a server of a cluster, a member holding a standing ticket does not
//! wait out `RESUME_TRYING_FOR` for a server that is gone: `failover::Plan`
//! takes the resuming thread's place, resumes once, and looks for the
//! meeting at the cluster's other servers.

use super::failover::Plan;
use crate::events::AppEvent;
use crate::link::{ResumeError, ResumedControl, Session};
use crate::resend::RequestLog;
use common::protocol::{KEEPALIVE_INTERVAL, RESUME_TRYING_FOR, SERVER_SILENCE_LIMIT};
use common::{Event, FrameReader, Request};
use crossbeam_channel::Sender;
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use transport::Socket;

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

/// The session's control side.
pub(super) struct Connection {
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
    /// The keep-alive: when the server was last heard, when we last asked,
    /// and since when it has been silent past the limit (if it is).
    last_heard: Instant,
    last_ping: Instant,
    silent_since: Option<Instant>,
    /// The server said it is stopping: its silence is no news.
    pub(super) shutdown_seen: bool,
}

/// What the keep-alive found.
pub(super) struct KeepAlive {
    /// A `ping` is due.
    pub ping: bool,
    /// The server has been silent this long, past the limit, said now.
    pub silent: Option<Duration>,
}

/// A session resumed on a new connection.
pub(super) struct Resumed {
    /// Events the server could not replay (too many): it sends the state.
    pub events_lost: u64,
    /// How long the session was without a connection.
    pub after_ms: u64,
}

impl Connection {
    pub fn open(
        session: Session,
        socket: Socket,
        reader: FrameReader<Socket>,
        events: Sender<AppEvent>,
    ) -> anyhow::Result<Connection> {
        let control = ControlLink::open(socket, reader, 0, events.clone())?;
        Ok(Connection {
            control: Some(control),
            generation: 0,
            events_seen: 1,
            sent: RequestLog::default(),
            reconnecting: None,
            session,
            events,
            last_heard: Instant::now(),
            last_ping: Instant::now(),
            silent_since: None,
            shutdown_seen: false,
        })
    }

    /// Where the loop's events go (for threads the loop starts).
    pub fn events(&self) -> &Sender<AppEvent> {
        &self.events
    }

    /// Whether `generation` is the control connection now.
    pub fn is_current(&self, generation: u64) -> bool {
        generation == self.generation
    }

    /// An event arrived on the control connection now.
    pub fn counted(&mut self) {
        self.events_seen += 1;
    }

    /// Numbers and keeps `request`, and sends it unless reconnecting (then
    /// it goes once the session is resumed); returns its number.
    pub fn send(&mut self, request: Request) -> u64 {
        self.sent.record(&request);
        let number = self.sent.sent();
        if let Some(control) = &self.control {
            let _ = control.requests.send(request);
        }
        number
    }

    /// A `pong`: how many requests the server has read, if it says.
    pub fn pong(&mut self) -> Option<u64> {
        self.sent.pong()
    }

    /// The server spoke; how long it had been silent, if that was said.
    pub fn heard(&mut self) -> Option<u64> {
        self.last_heard = Instant::now();
        let since = self.silent_since.take()?;
        Some(u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// A ping every interval, heard from or not (the server takes a client
    /// that pinged once and then fell silent for a broken connection), and
    /// a server silent past the limit is said, once.
    pub fn keep_alive(&mut self, now: Instant) -> KeepAlive {
        let mut found = KeepAlive {
            ping: false,
            silent: None,
        };
        if self.reconnecting.is_some() || self.shutdown_seen {
            return found;
        }
        let quiet = now.duration_since(self.last_heard);
        if now.duration_since(self.last_ping) >= KEEPALIVE_INTERVAL {
            self.last_ping = now;
            found.ping = true;
        }
        if quiet >= SERVER_SILENCE_LIMIT && self.silent_since.is_none() {
            self.silent_since = Some(self.last_heard);
            found.silent = Some(quiet);
        }
        found
    }

    /// The server this session is on.
    pub fn server(&self) -> std::net::SocketAddr {
        self.session.server()
    }

    /// The control connection broke: keep the session, reconnect, or (with
    /// a `failover` plan) find the meeting at another server of the
    /// cluster if this one is gone.
    pub fn reconnect(&mut self, failover: Option<Plan>) {
        if let Some(control) = self.control.take() {
            control.abandon();
        }
        self.generation += 1;
        self.reconnecting = Some(Instant::now());
        let resumer = Resumer {
            session: self.session.clone(),
            generation: self.generation,
            events_seen: self.events_seen,
            requests_sent: self.sent.sent(),
            events: self.events.clone(),
        };
        let spawned = match failover {
            Some(plan) => spawn_named("failover", move || plan.run(resumer)),
            None => spawn_named("resume", move || resumer.run()),
        };
        if let Err(err) = spawned {
            let _ = self.events.send(AppEvent::ResumeFailed(
                self.generation,
                format!("could not start reconnecting: {err}"),
            ));
        }
    }

    /// The session goes on, on a new control connection: what the server
    /// did not read is sent again. `None` if the new connection could not
    /// start (then reconnecting has failed, and the loop is told so).
    pub fn resumed(&mut self, resumed: ResumedControl) -> Option<Resumed> {
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
                return None;
            }
        };
        // Too much happened meanwhile to replay: the server sends the
        // state instead.
        self.events_seen += events_lost;
        for request in self.sent.resumed(requests_handled) {
            let _ = link.requests.send(request);
        }
        self.control = Some(link);
        let since = self.reconnecting.take().unwrap_or_else(Instant::now);
        self.last_heard = Instant::now();
        self.last_ping = Instant::now();
        let after_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
        Some(Resumed {
            events_lost,
            after_ms,
        })
    }

    /// A request sent on the new connection before the loop had it (a
    /// failover's `rejoin`): numbered and kept as if sent here, so a later
    /// resume counts it.
    pub fn sent_before(&mut self, request: &Request) {
        self.sent.record(request);
    }

    /// The session moved to another server: `session` there, on `socket`,
    /// from now on. The old control connection says goodbye as quitting
    /// does (its writer half-closes once its queue is dropped), and what it
    /// still says is ignored (a new generation).
    pub fn move_to(
        &mut self,
        session: Session,
        socket: Socket,
        reader: FrameReader<Socket>,
    ) -> anyhow::Result<()> {
        let link = ControlLink::open(socket, reader, self.generation + 1, self.events.clone())?;
        self.generation += 1;
        drop(self.control.replace(link));
        self.session = session;
        self.events_seen = 1;
        self.sent = RequestLog::default();
        self.reconnecting = None;
        self.last_heard = Instant::now();
        self.last_ping = Instant::now();
        self.silent_since = None;
        self.shutdown_seen = false;
        Ok(())
    }

    /// Ends the session here without a word more: the control socket is
    /// shut both ways, so its reader says `ControlClosed` at once and the
    /// loop ends as it does for a server that closed.
    pub fn close(&mut self) {
        if let Some(control) = self.control.take() {
            let _ = control.socket.shutdown(Shutdown::Both);
        }
    }

    /// Quitting: dropping the request queue ends the control writer, which
    /// half-closes. The socket, to shut once the last answers are in;
    /// `None` if there was no connection.
    pub fn quit(&mut self) -> Option<Socket> {
        let control = self.control.take();
        let socket = control.as_ref().and_then(|c| c.socket.try_clone().ok());
        drop(control);
        socket
    }
}

pub(super) fn spawn_named(name: &str, body: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(body)?;
    Ok(())
}

/// Reconnects and resumes the session, with back-off, for `RESUME_TRYING_FOR`.
pub(super) struct Resumer {
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
    /// One attempt to resume, its TCP connect bounded by `connect_for`.
    pub(super) fn attempt(&self, connect_for: Duration) -> Result<ResumedControl, ResumeError> {
        self.session
            .resume(self.events_seen, self.requests_sent, connect_for)
    }

    /// Tells the loop how reconnecting ended.
    pub(super) fn report(&self, outcome: impl FnOnce(u64) -> AppEvent) {
        let _ = self.events.send(outcome(self.generation));
    }

    pub(super) fn run(self) {
        let started = Instant::now();
        let give_up = started + RESUME_TRYING_FOR;
        let mut delay = FIRST_RESUME_DELAY;
        let mut attempts = 0u32;
        let outcome = loop {
            attempts += 1;
            let left = give_up.saturating_duration_since(Instant::now());
            let connect_for = left.clamp(Duration::from_millis(100), RESUME_CONNECT_TIMEOUT);
            let last = match self.attempt(connect_for) {
                Ok(resumed) => break AppEvent::Resumed(self.generation, Box::new(resumed)),
                Err(ResumeError::Never(message) | ResumeError::Gone(message)) => {
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
