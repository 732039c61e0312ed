//! The full-screen meeting view: everyone's video in a grid, the chat, the
//! members and a status bar, driven from the keyboard.
//!
//! It is another front end of the same session, not a second client: the main
//! loop (`app`) stays the only owner of the session and tells the view what
//! happened through `View` (a `FrontEnd`), and the view answers with the same
//! command lines a user types in the line interface (`AppEvent::Input`).
//!
//! Threads: `keys` reads the terminal's key, mouse and resize events (mouse
//! events only in control mode, where they go to a remote screen); `video-decode`
//! (in `tiles`) turns JPEG frames into tile pictures; `view` owns the terminal,
//! applies events to the `model` and redraws at most `MAX_REDRAWS_PER_SECOND`
//! times a second, and only when something changed. Nothing the UI thread does
//! waits on the network or on a decoder.

mod keys;
pub use keys::SHORTCUTS;
pub mod logs;
pub mod model;
pub mod presentation;
pub mod remote;
pub mod render;
mod terminal;
pub mod tiles;

use crate::events::AppEvent;
use crate::level::MemberLevels;
use crate::meeting::MeetingState;
use crate::output::{FrontEnd, LocalEvent};
use crate::stats::ClientStats;
use anyhow::Context;
use common::{ClientId, Event};
use crossbeam_channel::{Receiver, Sender, select};
use model::{FigureMeter, ViewModel};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event as term_event;
use ratatui_image::picker::cap_parser::QueryStdioOptions;
use ratatui_image::picker::{Picker, ProtocolType};
use remote::{PendingMove, RemoteInput};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tiles::TileBoard;

pub use terminal::restore as restore_terminal;
pub use tiles::TileFeed;

/// More would only be work the terminal cannot show (and most show 60 Hz at best).
pub const MAX_REDRAWS_PER_SECOND: u32 = 30;

/// How tiles are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Graphics {
    /// Ask the terminal: kitty, sixel or iTerm2 where it answers, half-blocks elsewhere.
    Auto,
    /// Unicode half-blocks in 24-bit colour: works in every modern terminal.
    Halfblocks,
    Sixel,
    Kitty,
    Iterm2,
}

pub struct TuiSettings {
    pub graphics: Graphics,
    /// The client's log lines, shown in the chat pane.
    pub logs: Receiver<String>,
}

/// What the view shows, sent from the main loop.
enum ViewEvent {
    Meeting(Box<MeetingState>),
    Server(Event),
    Local(LocalEvent),
}

/// The running view. As a `FrontEnd` it forwards events to the UI thread;
/// dropping it stops the threads and restores the terminal.
pub struct View {
    events: Option<Sender<ViewEvent>>,
    /// Where received video goes (a `VideoSink`).
    pub tiles: TileFeed,
    /// Where received audio goes, for the speaking highlight (an `AudioSink`).
    pub levels: MemberLevels,
    ui: Option<JoinHandle<Option<String>>>,
    keys_stop: Arc<AtomicBool>,
}

/// Takes over the terminal and starts the view's threads.
pub fn start(
    settings: TuiSettings,
    me: ClientId,
    stats: Arc<ClientStats>,
    app: Sender<AppEvent>,
) -> anyhow::Result<View> {
    let guard = terminal::TerminalGuard::enter().context("could not set up the terminal")?;
    // Asking the terminal what it can draw must come after the alternate
    // screen and before anything else reads the keyboard.
    let picker = choose_picker(settings.graphics);
    let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))
        .context("could not set up the terminal")?;
    let (tiles, board) = tiles::start(picker)?;
    let levels = MemberLevels::default();
    let (events, view_events) = crossbeam_channel::unbounded();
    let (key_events, keys_in) = crossbeam_channel::unbounded();
    let keys_stop = Arc::new(AtomicBool::new(false));
    spawn_key_reader(key_events, keys_stop.clone())?;
    let ui = Ui {
        model: ViewModel::new(me),
        board,
        levels: levels.clone(),
        stats,
        app,
        figures: FigureMeter::default(),
        pending_move: PendingMove::default(),
        mouse_captured: false,
    };
    let logs = settings.logs;
    let ui = std::thread::Builder::new()
        .name("view".into())
        .spawn(move || {
            // Restores the terminal when this thread ends, however it ends.
            let _guard = guard;
            ui.run(terminal, &view_events, &keys_in, &logs)
        })?;
    Ok(View {
        events: Some(events),
        tiles,
        levels,
        ui: Some(ui),
        keys_stop,
    })
}

fn choose_picker(graphics: Graphics) -> Picker {
    let detected = match graphics {
        Graphics::Auto if inside_multiplexer() => None,
        Graphics::Auto | Graphics::Sixel | Graphics::Kitty | Graphics::Iterm2 => query_terminal(),
        Graphics::Halfblocks => None,
    };
    let protocol = match graphics {
        Graphics::Auto => detected
            .as_ref()
            .map_or(ProtocolType::Halfblocks, Picker::protocol_type),
        Graphics::Halfblocks => ProtocolType::Halfblocks,
        Graphics::Sixel => ProtocolType::Sixel,
        Graphics::Kitty => ProtocolType::Kitty,
        Graphics::Iterm2 => ProtocolType::Iterm2,
    };
    if protocol == ProtocolType::Halfblocks {
        return tiles::halfblocks_picker();
    }
    // A protocol forced on a terminal that did not answer gets a guessed font size.
    let mut picker = detected.unwrap_or_else(Picker::halfblocks);
    picker.set_protocol_type(protocol);
    picker
}

/// tmux and screen pass neither the graphics query nor the pictures on unless
/// configured to (and answer slowly or not at all); half-blocks always work
/// there. `--graphics` still forces a protocol.
fn inside_multiplexer() -> bool {
    std::env::var_os("TMUX").is_some()
        || std::env::var("TERM").is_ok_and(|t| t.starts_with("screen") || t.starts_with("tmux"))
}

/// Asks the terminal which graphics protocol and font size it has.
fn query_terminal() -> Option<Picker> {
    let options = QueryStdioOptions {
        // A local terminal answers in milliseconds; one over ssh in well under a second.
        timeout: Duration::from_secs(1),
        ..QueryStdioOptions::default()
    };
    let picker = Picker::from_query_stdio_with_options(options).ok()?;
    if picker.capabilities().is_empty() {
        // No answer: the query's reader thread still waits on stdin and would
        // take the user's first keys. Ask for a status report, which every
        // terminal that answers anything answers, so that thread reads it and ends.
        let mut out = std::io::stdout();
        let _ = out.write_all(b"\x1b[5n").and_then(|()| out.flush());
        return None;
    }
    Some(picker)
}

impl FrontEnd for View {
    fn meeting(&mut self, state: &MeetingState) {
        if let Some(events) = &self.events {
            let _ = events.send(ViewEvent::Meeting(Box::new(state.clone())));
        }
    }

    fn server(&mut self, event: &Event) {
        if let Some(events) = &self.events {
            let _ = events.send(ViewEvent::Server(event.clone()));
        }
    }

    fn local(&mut self, event: &LocalEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(ViewEvent::Local(event.clone()));
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        self.events = None; // the UI thread ends when its event channel closes
        self.keys_stop.store(true, Ordering::Release);
        let last_word = self.ui.take().and_then(|ui| ui.join().ok()).flatten();
        terminal::restore();
        // The screen the view drew is gone: say how it ended where it stays.
        if let Some(message) = last_word {
            eprintln!("client: {}", crate::output::clean_lines(&message));
        }
    }
}

fn spawn_key_reader(keys: Sender<term_event::Event>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("keys".into())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                // Poll with a timeout so the thread notices `stop`.
                match term_event::poll(Duration::from_millis(100)) {
                    Ok(true) => match term_event::read() {
                        Ok(event) => {
                            if keys.send(event).is_err() {
                                return;
                            }
                        }
                        Err(err) => {
                            tracing::warn!("keyboard: {err}");
                            return;
                        }
                    },
                    Ok(false) => {}
                    Err(err) => {
                        tracing::warn!("keyboard: {err}");
                        return;
                    }
                }
            }
        })?;
    Ok(())
}

/// Tells the main loop the view is gone if the UI thread ends for any reason
/// (a panic included), so the client quits instead of running blind.
struct QuitWhenGone(Sender<AppEvent>);

impl Drop for QuitWhenGone {
    fn drop(&mut self) {
        let _ = self.0.send(AppEvent::InputClosed);
    }
}

struct Ui {
    model: ViewModel,
    board: TileBoard,
    levels: MemberLevels,
    stats: Arc<ClientStats>,
    app: Sender<AppEvent>,
    figures: FigureMeter,
    /// A drag's newest pointer position, sent once per redraw tick.
    pending_move: PendingMove,
    /// Whether the terminal reports the mouse (only in control mode).
    mouse_captured: bool,
}

impl Ui {
    /// Sends a command line to the main loop, as if typed.
    fn send(&self, line: String) {
        let _ = self.app.send(AppEvent::Input(line));
    }

    /// Sends the waiting pointer move, if any.
    fn send_pending_move(&mut self) {
        if let Some(line) = self.pending_move.take_line() {
            self.send(line);
        }
    }

    /// Turns mouse reporting on when control mode starts and off when it ends
    /// (by a key, or by itself when the grant ends).
    fn follow_control_mode(&mut self, out: &mut impl Write) {
        let wanted = self.model.in_control_mode();
        if wanted == self.mouse_captured {
            return;
        }
        if !wanted {
            self.pending_move.clear();
        }
        match terminal::set_mouse_capture(out, wanted) {
            Ok(()) => self.mouse_captured = wanted,
            Err(err) => tracing::warn!("could not switch mouse reporting: {err}"),
        }
    }

    /// The UI loop; returns what to tell the user after the screen is gone.
    fn run(
        mut self,
        mut terminal: Terminal<CrosstermBackend<std::io::Stdout>>,
        events: &Receiver<ViewEvent>,
        keys: &Receiver<term_event::Event>,
        logs: &Receiver<String>,
    ) -> Option<String> {
        let _quit = QuitWhenGone(self.app.clone());
        let frame_tick = crossbeam_channel::tick(Duration::from_secs(1) / MAX_REDRAWS_PER_SECOND);
        let second = crossbeam_channel::tick(Duration::from_secs(1));
        let mut dirty = true;
        let mut redraws = 0u32;
        loop {
            select! {
                recv(events) -> event => match event {
                    Ok(ViewEvent::Meeting(state)) => {
                        self.model.set_meeting(&state);
                        dirty = true;
                    }
                    Ok(ViewEvent::Server(event)) => {
                        self.model.server(&event);
                        dirty = true;
                    }
                    Ok(ViewEvent::Local(event)) => {
                        self.model.local(&event);
                        dirty = true;
                    }
                    Err(_) => break, // the main loop is done
                },
                recv(keys) -> event => match event {
                    Ok(term_event::Event::Key(key)) => {
                        let lines = keys::handle(&mut self.model, key);
                        if !lines.is_empty() {
                            // Where the pointer went before the key was typed.
                            self.send_pending_move();
                        }
                        for line in lines {
                            self.send(line);
                        }
                        dirty = true;
                    }
                    // Nothing to redraw: the remote screen answers in pictures.
                    Ok(term_event::Event::Mouse(mouse)) => match keys::mouse(&self.model, &mouse) {
                        Some(RemoteInput::Line(line)) => {
                            // The drag's last position first: a release outside
                            // the screen carries none of its own.
                            self.send_pending_move();
                            self.send(line);
                        }
                        Some(RemoteInput::Move(x, y)) => self.pending_move.set(x, y),
                        None => {}
                    },
                    Ok(_) => dirty = true, // resize, focus: lay out again
                    Err(_) => {
                        // The keyboard is gone: nothing can be typed any more.
                        let _ = self.app.send(AppEvent::InputClosed);
                        return self.model.last_word;
                    }
                },
                recv(logs) -> line => {
                    if let Ok(line) = line {
                        self.model.log(&line);
                        dirty = true;
                    }
                },
                recv(second) -> _ => {
                    let now = Instant::now();
                    self.model.figures = self.figures.update(&self.stats.snapshot(), now, redraws);
                    redraws = 0;
                    dirty = true; // figures, and stale tiles turning into placeholders
                },
                recv(frame_tick) -> _ => {
                    self.send_pending_move();
                    self.follow_control_mode(terminal.backend_mut());
                    let now = Instant::now();
                    let speaking = self.levels.speaking(now);
                    if speaking != self.model.speaking {
                        self.model.speaking = speaking;
                        dirty = true;
                    }
                    if self.board.take_changed() {
                        dirty = true;
                    }
                    if !dirty {
                        continue;
                    }
                    dirty = false;
                    let ready = self.board.ready();
                    let mut drawn = render::Drawn::default();
                    let result = terminal.draw(|frame| {
                        drawn = render::draw(frame, &self.model, &ready, now);
                    });
                    if let Err(err) = result {
                        return Some(format!("could not draw on the terminal: {err}"));
                    }
                    self.model.screen_at = drawn.screen;
                    self.board.show(&drawn.tiles);
                    redraws += 1;
                },
            }
        }
        self.model.last_word
    }
}
