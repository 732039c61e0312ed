//! The full-screen meeting view: everyone's video in a grid, the chat, the
//! members and a status bar, driven from the keyboard.
//!
//! It is another front end of the same session, not a second client: the main
//! loop (`app`) stays the only owner of the session and tells the view what
//! happened through `View` (a `FrontEnd`), and the view answers with the same
//! `Command`s a user types in the line interface (`AppEvent::Command`).
//!
//! Threads: `keys` reads the terminal's key, mouse and resize events (in
//! control mode the mouse goes to a remote screen, elsewhere it scrolls the
//! chat and picks tiles and members); `video-decode`
//! (in `tiles`) turns JPEG frames into tile pictures; `view` owns the terminal,
//! applies events to the `model` and redraws at most `MAX_REDRAWS_PER_SECOND`
//! times a second, and only when something changed. Nothing the UI thread does
//! waits on the network or on a decoder.
//!
//! The parts: `model` is what the view shows, as plain data; `shortcuts` is
//! the one table of keys; `keys` what a key does to the model, with
//! `editing` (the input line), `members_menu`, `remote` (control mode) and
//! `confirm` (questions before what cannot be taken back); `render` draws it, with `tile` (one tile),
//! `presentation` (a shared screen large), `help` (the `?` overlay), `text`
//! (wrapping) and `style` (colours); `tiles` decodes pictures for the tiles.

mod confirm;
mod editing;
mod keys;
pub mod members_menu;
pub mod shortcuts;
pub use shortcuts::SHORTCUTS;
mod help;
pub mod logs;
pub mod model;
pub mod pick_server;
pub mod presentation;
pub mod remote;
pub mod render;
mod style;
pub(crate) mod terminal;
mod text;
mod tile;
pub mod tiles;
mod video_wanted;

use crate::command::{Command, Entered};
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
    let font = picker.font_size();
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
        font,
        drawn_tiles: Vec::new(),
        video_report: video_wanted::VideoSizeReport::default(),
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
    let multiplexer = inside_multiplexer();
    let detected = match graphics {
        _ if multiplexer => None, // no answer would come through
        Graphics::Auto | Graphics::Sixel | Graphics::Kitty | Graphics::Iterm2 => query_terminal(),
        Graphics::Halfblocks => None,
    };
    let answered = detected.as_ref().map(Picker::protocol_type);
    let protocol = match protocol_for(graphics, multiplexer, answered) {
        Ok(protocol) => protocol,
        Err(why) => {
            // Logged once, into the chat pane: the tiles still show video.
            tracing::warn!("{why}");
            ProtocolType::Halfblocks
        }
    };
    if protocol == ProtocolType::Halfblocks {
        return tiles::halfblocks_picker();
    }
    let mut picker = detected.unwrap_or_else(Picker::halfblocks);
    picker.set_protocol_type(protocol);
    picker
}

/// The protocol tiles are drawn with: `--graphics` as asked, unless it forces
/// pictures on a terminal that cannot show them (inside tmux or screen, or
/// one that did not answer the query), where pictures would never appear or
/// would fill the tile with garbage: then why, and half-blocks are used.
/// `answered` is what the terminal said it draws best, if it answered.
fn protocol_for(
    graphics: Graphics,
    multiplexer: bool,
    answered: Option<ProtocolType>,
) -> Result<ProtocolType, String> {
    let forced = match graphics {
        Graphics::Auto => return Ok(answered.unwrap_or(ProtocolType::Halfblocks)),
        Graphics::Halfblocks => return Ok(ProtocolType::Halfblocks),
        Graphics::Sixel => ("sixel", ProtocolType::Sixel),
        Graphics::Kitty => ("kitty", ProtocolType::Kitty),
        Graphics::Iterm2 => ("iterm2", ProtocolType::Iterm2),
    };
    let (name, protocol) = forced;
    if multiplexer {
        return Err(format!(
            "--graphics {name}: tmux and screen do not pass pictures on; drawing video in half-blocks"
        ));
    }
    if answered.is_none() {
        return Err(format!(
            "--graphics {name}: this terminal did not answer the graphics query, so it cannot show {name} pictures; drawing video in half-blocks"
        ));
    }
    Ok(protocol)
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
            eprintln!("client: {}", crate::clean::clean_lines(&message));
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
    /// Whether mouse reporting was turned on.
    mouse_captured: bool,
    /// The pixels of one cell in the graphics protocol drawing the tiles.
    font: ratatui_image::FontSize,
    /// The tiles last drawn, and what the server was told of their sizes.
    drawn_tiles: Vec<(tiles::TileKey, ratatui::layout::Size)>,
    video_report: video_wanted::VideoSizeReport,
}

impl Ui {
    /// Hands a command (or a typed line that is none, to be said) to the
    /// main loop.
    fn send(&self, entered: Entered) {
        let _ = self.app.send(AppEvent::Command(entered.command));
    }

    /// Sends the waiting pointer move, if any.
    fn send_pending_move(&mut self) {
        if let Some(action) = self.pending_move.take() {
            self.send(Entered::made(Command::Input(action)));
        }
    }

    /// Keeps mouse reporting on (the view scrolls and focuses with it, and
    /// control mode sends it to the remote screen), and forgets a drag's
    /// pointer outside control mode.
    fn follow_control_mode(&mut self, out: &mut impl Write) {
        if !self.model.in_control_mode() {
            self.pending_move.clear();
        }
        if self.mouse_captured {
            return;
        }
        match terminal::set_mouse_capture(out, true) {
            Ok(()) => self.mouse_captured = true,
            Err(err) => {
                // Once is enough: the keys do everything the mouse does.
                self.mouse_captured = true;
                tracing::warn!("could not turn mouse reporting on: {err}");
            }
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
        let _ = terminal::keep_title(terminal.backend_mut(), true);
        let mut title = String::new();
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
                        let entered = keys::handle(&mut self.model, key);
                        if !entered.is_empty() {
                            // Where the pointer went before the key was typed.
                            self.send_pending_move();
                        }
                        for entered in entered {
                            self.send(entered);
                        }
                        dirty = true;
                    }
                    Ok(term_event::Event::Paste(text)) => {
                        keys::paste(&mut self.model, &text);
                        dirty = true;
                    }
                    Ok(term_event::Event::Mouse(mouse)) if !self.model.in_control_mode() => {
                        if keys::view_mouse(&mut self.model, &mouse) {
                            dirty = true;
                        }
                    }
                    // Nothing to redraw: the remote screen answers in pictures.
                    Ok(term_event::Event::Mouse(mouse)) => match keys::mouse(&self.model, &mouse) {
                        Some(RemoteInput::Line(action)) => {
                            // The drag's last position first: a release outside
                            // the screen carries none of its own.
                            self.send_pending_move();
                            self.send(Entered::made(Command::Input(action)));
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
                    if let Some(wanted) = self.video_report.due(&self.drawn_tiles, self.font, Instant::now()) {
                        self.send(Entered::made(Command::View(wanted)));
                    }
                    self.follow_control_mode(terminal.backend_mut());
                    self.notify(terminal.backend_mut(), &mut title);
                    let now = Instant::now();
                    let speaking = self.levels.speaking(now);
                    if speaking != self.model.speaking {
                        self.model.set_speaking(speaking);
                        dirty = true;
                    }
                    if self.board.take_changed() || self.model.fade_reactions(now) {
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
                    self.model.clicks = drawn.clicks;
                    self.model.help_max_scroll = drawn.help_max_scroll;
                    self.model.help_page = drawn.help_page;
                    self.board.show(&drawn.tiles);
                    self.drawn_tiles = drawn.tiles;
                    redraws += 1;
                },
            }
        }
        let _ = terminal::keep_title(terminal.backend_mut(), false);
        self.model.last_word
    }

    /// Rings the bell for news the reader scrolled away from, and keeps the
    /// window title (with the unread count) up to date.
    fn notify(&mut self, out: &mut impl Write, shown: &mut String) {
        if self.model.take_bell() {
            let _ = terminal::bell(out);
        }
        if let Some(text) = self.model.copy.take() {
            let _ = terminal::copy_to_clipboard(out, &text);
        }
        let title = self.model.title();
        if title != *shown {
            let _ = terminal::set_title(out, &title);
            *shown = title;
        }
    }
}

#[cfg(test)]
mod graphics_tests {
    use super::*;

    #[test]
    fn forced_pictures_fall_back_to_half_blocks_where_they_cannot_show() {
        let kitty = Some(ProtocolType::Kitty);
        assert_eq!(
            protocol_for(Graphics::Sixel, false, kitty),
            Ok(ProtocolType::Sixel)
        );
        let in_tmux = protocol_for(Graphics::Sixel, true, kitty);
        assert!(
            in_tmux.as_ref().is_err_and(|why| why.contains("tmux")),
            "{in_tmux:?}"
        );
        let silent = protocol_for(Graphics::Kitty, false, None);
        assert!(
            silent
                .as_ref()
                .is_err_and(|why| why.contains("did not answer") && why.contains("half-blocks")),
            "{silent:?}"
        );
        assert_eq!(
            protocol_for(Graphics::Auto, false, kitty),
            Ok(ProtocolType::Kitty)
        );
        assert_eq!(
            protocol_for(Graphics::Auto, true, None),
            Ok(ProtocolType::Halfblocks)
        );
        assert_eq!(
            protocol_for(Graphics::Halfblocks, false, kitty),
            Ok(ProtocolType::Halfblocks)
        );
    }
}
