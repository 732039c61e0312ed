//! A window that reports the input it receives, as a person watching the
//! owner's screen would see it: which keysym was typed, which button clicked
//! where, where the pointer went. It exists to check remote control end to end
//! (inject on one connection, see what an ordinary application gets on
//! another), in this crate's tests, in the product's end-to-end tests, and by
//! hand through `examples/x11_probe.rs`, which prints one line per event.
//!
//! It can also paint a known pattern (eight vertical colour bars) so a capture
//! of it can be checked pixel for pixel.
//!
//! Keysyms are worked out as a plain core-protocol client does (keycode plus
//! the Shift state, through the keyboard mapping, read again on
//! MappingNotify), so a binding the injector made is seen as an application
//! would see it. A release reports the keysym its press reported: the injector
//! lifts Shift right after a shifted press, and the key that comes up is still
//! the 'A' that went down.

use std::fmt;
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, Gcontext, InputFocus, KeyButMask,
    Mapping, Rectangle, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;

use super::error::Doing;
use super::keymap::KeyboardMap;
use super::{Region, X11Error};

/// The pattern's bars, left to right: white, yellow, cyan, green, magenta,
/// red, blue, black (the order of television colour bars).
pub const PATTERN_COLOURS: [[u8; 3]; 8] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
    [0, 0, 0],
];

/// The colour of column `x` of the pattern in a window `width` wide.
pub fn pattern_colour(x: u32, width: u32) -> [u8; 3] {
    let bar = u64::from(x) * 8 / u64::from(width.max(1));
    PATTERN_COLOURS[bar.min(7) as usize]
}

/// Where bar `bar` starts in a window `width` wide: the first column that
/// `pattern_colour` gives that bar's colour.
fn bar_start(bar: u32, width: u32) -> u32 {
    (u64::from(bar) * u64::from(width)).div_ceil(8) as u32
}

/// Input as the probe window received it. Positions are window pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeEvent {
    Key {
        keysym: u32,
        down: bool,
    },
    Button {
        button: u8,
        down: bool,
        x: i32,
        y: i32,
    },
    Motion {
        x: i32,
        y: i32,
    },
}

/// One line: `key 0x61 down`, `button 1 up 10 20`, `motion 10 20`.
impl fmt::Display for ProbeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let up_down = |down: bool| if down { "down" } else { "up" };
        match *self {
            ProbeEvent::Key { keysym, down } => write!(f, "key {keysym:#x} {}", up_down(down)),
            ProbeEvent::Button { button, down, x, y } => {
                write!(f, "button {button} {} {x} {y}", up_down(down))
            }
            ProbeEvent::Motion { x, y } => write!(f, "motion {x} {y}"),
        }
    }
}

impl ProbeEvent {
    /// Reads back a line as `Display` writes it (for tests that run the
    /// probe as a separate program).
    pub fn parse_line(line: &str) -> Option<ProbeEvent> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let down = |word: &str| match word {
            "down" => Some(true),
            "up" => Some(false),
            _ => None,
        };
        match words.as_slice() {
            ["key", keysym, state] => Some(ProbeEvent::Key {
                keysym: u32::from_str_radix(keysym.strip_prefix("0x")?, 16).ok()?,
                down: down(state)?,
            }),
            ["button", button, state, x, y] => Some(ProbeEvent::Button {
                button: button.parse().ok()?,
                down: down(state)?,
                x: x.parse().ok()?,
                y: y.parse().ok()?,
            }),
            ["motion", x, y] => Some(ProbeEvent::Motion {
                x: x.parse().ok()?,
                y: y.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// A mapped, focused window covering an area of the screen.
pub struct ProbeWindow {
    conn: RustConnection,
    display: String,
    window: Window,
    area: Region,
    keymap: KeyboardMap,
    /// Keys down, with the keysym their press reported.
    pressed: Vec<(u8, u32)>,
    painter: Option<PatternPainter>,
    /// A picture painted over the window (`paint_picture`), repainted on expose.
    picture: Option<PicturePainter>,
    colormap: u32,
}

/// A picture as filled rectangles, one list per colour: what `paint_picture`
/// needs to paint it again.
struct PicturePainter {
    gc: u32,
    runs: Vec<(u32, Vec<Rectangle>)>,
}

/// Most colours `paint_picture` takes: text and UI, not photographs.
pub const MAX_PICTURE_COLOURS: usize = 16;

/// What painting the pattern needs: a GC and each bar's pixel value.
struct PatternPainter {
    gc: Gcontext,
    pixels: [u32; 8],
}

/// How long `open` waits for the window to be mapped.
const MAP_TIMEOUT: Duration = Duration::from_secs(5);

impl ProbeWindow {
    /// Opens the window over `area` of `display` (`None`: `$DISPLAY`), maps
    /// it, gives it the keyboard focus, and (with `paint_pattern`) paints the
    /// colour bars, all before returning, so input and captures can start.
    /// The window is override-redirect: a window manager neither moves nor
    /// decorates it, so it covers exactly `area`.
    pub fn open(
        display: Option<&str>,
        area: Region,
        paint_pattern: bool,
    ) -> Result<ProbeWindow, X11Error> {
        let display = super::display_or_default(display)?;
        let (conn, screen_number) = super::connect(&display)?;
        let screen = super::screen_of(&conn, screen_number, &display)?;
        let (root, root_visual, colormap, black) = (
            screen.root,
            screen.root_visual,
            screen.default_colormap,
            screen.black_pixel,
        );
        let to_i16 = |value: u32| i16::try_from(value).unwrap_or(i16::MAX);
        let to_u16 = |value: u32| u16::try_from(value.max(1)).unwrap_or(u16::MAX);
        let window = conn
            .generate_id()
            .doing(&display, "creating the probe window")?;
        let events = EventMask::KEY_PRESS
            | EventMask::KEY_RELEASE
            | EventMask::BUTTON_PRESS
            | EventMask::BUTTON_RELEASE
            | EventMask::POINTER_MOTION
            | EventMask::EXPOSURE
            | EventMask::STRUCTURE_NOTIFY;
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            root,
            to_i16(area.x),
            to_i16(area.y),
            to_u16(area.width),
            to_u16(area.height),
            0,
            WindowClass::INPUT_OUTPUT,
            root_visual,
            &CreateWindowAux::new()
                .background_pixel(black)
                .override_redirect(1)
                .event_mask(events),
        )
        .doing(&display, "creating the probe window")?;
        let painter = if paint_pattern {
            let gc = conn.generate_id().doing(&display, "creating a GC")?;
            conn.create_gc(gc, window, &CreateGCAux::new().graphics_exposures(0))
                .doing(&display, "creating a GC")?;
            let mut pixels = [0; 8];
            for (pixel, [red, green, blue]) in pixels.iter_mut().zip(PATTERN_COLOURS) {
                let widen = |channel: u8| u16::from(channel) * 257;
                *pixel = conn
                    .alloc_color(colormap, widen(red), widen(green), widen(blue))
                    .doing(&display, "allocating the pattern's colours")?
                    .reply()
                    .doing(&display, "allocating the pattern's colours")?
                    .pixel;
            }
            Some(PatternPainter { gc, pixels })
        } else {
            None
        };
        conn.map_window(window)
            .doing(&display, "mapping the probe window")?;
        conn.flush().doing(&display, "mapping the probe window")?;
        let keymap = KeyboardMap::fetch(&conn, &display)?;
        let mut probe = ProbeWindow {
            conn,
            display,
            window,
            area,
            keymap,
            pressed: Vec::new(),
            painter,
            picture: None,
            colormap,
        };
        probe.wait_until_mapped()?;
        probe.focus()?;
        probe.paint()?;
        probe.sync()?;
        Ok(probe)
    }

    /// The window's id.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// The area of the screen the window covers.
    pub fn area(&self) -> Region {
        self.area
    }

    /// Gives the window the keyboard focus (again).
    pub fn focus(&self) -> Result<(), X11Error> {
        self.conn
            .set_input_focus(InputFocus::PARENT, self.window, x11rb::CURRENT_TIME)
            .doing(&self.display, "focusing the probe window")?;
        self.sync()
    }

    /// The next input event, waiting at most `timeout`; `None` if none came.
    pub fn next_event(&mut self, timeout: Duration) -> Result<Option<ProbeEvent>, X11Error> {
        let deadline = Instant::now() + timeout;
        while let Some(event) = self.next_x_event(deadline)? {
            if let Some(input) = self.handle(event)? {
                return Ok(Some(input));
            }
        }
        Ok(None)
    }

    fn wait_until_mapped(&mut self) -> Result<(), X11Error> {
        let deadline = Instant::now() + MAP_TIMEOUT;
        while let Some(event) = self.next_x_event(deadline)? {
            if matches!(&event, Event::MapNotify(notify) if notify.window == self.window) {
                return Ok(());
            }
            // Input this early is not the caller's; Expose and MappingNotify
            // still need handling.
            self.handle(event)?;
        }
        Err(X11Error::Timeout {
            display: self.display.clone(),
            what: "mapping the probe window",
            timeout: MAP_TIMEOUT,
        })
    }

    /// The next X event before `deadline`, without busy-waiting.
    fn next_x_event(&mut self, deadline: Instant) -> Result<Option<Event>, X11Error> {
        loop {
            if let Some(event) = self
                .conn
                .poll_for_event()
                .doing(&self.display, "reading probe events")?
            {
                return Ok(Some(event));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            super::wait_readable(&self.conn, deadline - now)
                .map_err(x11rb::errors::ConnectionError::from)
                .doing(&self.display, "waiting for probe events")?;
        }
    }

    fn handle(&mut self, event: Event) -> Result<Option<ProbeEvent>, X11Error> {
        let input = match event {
            Event::KeyPress(key) => {
                let keysym = self
                    .keymap
                    .keysym(key.detail, key.state.contains(KeyButMask::SHIFT));
                self.pressed.push((key.detail, keysym));
                Some(ProbeEvent::Key { keysym, down: true })
            }
            Event::KeyRelease(key) => {
                let keysym = match self
                    .pressed
                    .iter()
                    .position(|&(code, _)| code == key.detail)
                {
                    Some(index) => self.pressed.remove(index).1,
                    None => self
                        .keymap
                        .keysym(key.detail, key.state.contains(KeyButMask::SHIFT)),
                };
                Some(ProbeEvent::Key {
                    keysym,
                    down: false,
                })
            }
            Event::ButtonPress(button) => Some(ProbeEvent::Button {
                button: button.detail,
                down: true,
                x: button.event_x.into(),
                y: button.event_y.into(),
            }),
            Event::ButtonRelease(button) => Some(ProbeEvent::Button {
                button: button.detail,
                down: false,
                x: button.event_x.into(),
                y: button.event_y.into(),
            }),
            Event::MotionNotify(motion) => Some(ProbeEvent::Motion {
                x: motion.event_x.into(),
                y: motion.event_y.into(),
            }),
            Event::Expose(expose) if expose.count == 0 => {
                self.paint()?;
                None
            }
            Event::MappingNotify(notify) if notify.request == Mapping::KEYBOARD => {
                self.keymap = KeyboardMap::fetch(&self.conn, &self.display)?;
                None
            }
            Event::Error(error) => {
                tracing::warn!(?error, "the X server refused a probe request");
                None
            }
            _ => None,
        };
        Ok(input)
    }

    /// Paints `picture` (at most `MAX_PICTURE_COLOURS` colours: text, UI) at
    /// the window's top left, over the pattern, and waits until the server has
    /// drawn it: a test then knows exactly what that part of the screen shows.
    pub fn paint_picture(&mut self, picture: &image::RgbImage) -> Result<(), X11Error> {
        let display = self.display.clone();
        let colormap = self.colormap;
        // Runs of one colour along each row become rectangles.
        let mut by_colour: Vec<([u8; 3], Vec<Rectangle>)> = Vec::new();
        for (y, row) in picture.rows().enumerate() {
            let mut x = 0u32;
            let pixels: Vec<[u8; 3]> = row.map(|p| p.0).collect();
            while (x as usize) < pixels.len() {
                let colour = pixels[x as usize];
                let start = x;
                while (x as usize) < pixels.len() && pixels[x as usize] == colour {
                    x += 1;
                }
                let rectangle = Rectangle {
                    x: i16::try_from(start).unwrap_or(i16::MAX),
                    y: i16::try_from(y).unwrap_or(i16::MAX),
                    width: u16::try_from(x - start).unwrap_or(u16::MAX),
                    height: 1,
                };
                let known = by_colour.iter().position(|(c, _)| *c == colour);
                match known {
                    Some(index) => by_colour[index].1.push(rectangle),
                    None if by_colour.len() < MAX_PICTURE_COLOURS => {
                        by_colour.push((colour, vec![rectangle]));
                    }
                    None => {
                        return Err(X11Error::BadInput {
                            reason: format!(
                                "a picture to paint has at most {MAX_PICTURE_COLOURS} colours"
                            ),
                        });
                    }
                }
            }
        }
        let gc = self.conn.generate_id().doing(&display, "creating a GC")?;
        self.conn
            .create_gc(gc, self.window, &CreateGCAux::new().graphics_exposures(0))
            .doing(&display, "creating a GC")?;
        let mut runs = Vec::new();
        for ([red, green, blue], rectangles) in by_colour {
            let widen = |channel: u8| u16::from(channel) * 257;
            let pixel = self
                .conn
                .alloc_color(colormap, widen(red), widen(green), widen(blue))
                .doing(&display, "allocating a picture colour")?
                .reply()
                .doing(&display, "allocating a picture colour")?
                .pixel;
            runs.push((pixel, rectangles));
        }
        self.picture = Some(PicturePainter { gc, runs });
        self.paint()?;
        self.sync()
    }

    fn paint(&self) -> Result<(), X11Error> {
        self.paint_pattern()?;
        let Some(picture) = &self.picture else {
            return Ok(());
        };
        for (pixel, rectangles) in &picture.runs {
            self.conn
                .change_gc(
                    picture.gc,
                    &x11rb::protocol::xproto::ChangeGCAux::new().foreground(*pixel),
                )
                .doing(&self.display, "painting a picture")?;
            // Within the request size limit of any server.
            for chunk in rectangles.chunks(8192) {
                self.conn
                    .poly_fill_rectangle(self.window, picture.gc, chunk)
                    .doing(&self.display, "painting a picture")?;
            }
        }
        Ok(())
    }

    fn paint_pattern(&self) -> Result<(), X11Error> {
        let Some(painter) = &self.painter else {
            return Ok(());
        };
        let width = self.area.width;
        let height = u16::try_from(self.area.height).unwrap_or(u16::MAX);
        for (bar, &pixel) in (0u32..).zip(&painter.pixels) {
            let (start, end) = (bar_start(bar, width), bar_start(bar + 1, width));
            if start == end {
                continue;
            }
            self.conn
                .change_gc(
                    painter.gc,
                    &x11rb::protocol::xproto::ChangeGCAux::new().foreground(pixel),
                )
                .doing(&self.display, "painting the pattern")?;
            let rectangle = Rectangle {
                x: i16::try_from(start).unwrap_or(i16::MAX),
                y: 0,
                width: u16::try_from(end - start).unwrap_or(u16::MAX),
                height,
            };
            self.conn
                .poly_fill_rectangle(self.window, painter.gc, &[rectangle])
                .doing(&self.display, "painting the pattern")?;
        }
        Ok(())
    }

    /// Waits until the server has done everything asked so far.
    fn sync(&self) -> Result<(), X11Error> {
        self.conn
            .get_input_focus()
            .doing(&self.display, "syncing with the server")?
            .reply()
            .doing(&self.display, "syncing with the server")?;
        Ok(())
    }
}

impl Drop for ProbeWindow {
    fn drop(&mut self) {
        let _ = self.conn.destroy_window(self.window);
        let _ = self.conn.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back() {
        for event in [
            ProbeEvent::Key {
                keysym: 0x0100_20ac,
                down: true,
            },
            ProbeEvent::Button {
                button: 3,
                down: false,
                x: -1,
                y: 20,
            },
            ProbeEvent::Motion { x: 5, y: 6 },
        ] {
            assert_eq!(ProbeEvent::parse_line(&event.to_string()), Some(event));
        }
        assert_eq!(
            ProbeEvent::Key {
                keysym: 0x61,
                down: false
            }
            .to_string(),
            "key 0x61 up"
        );
        assert_eq!(ProbeEvent::parse_line("key 61 down"), None);
    }

    #[test]
    fn pattern_bars_cover_the_width() {
        for width in [1, 7, 8, 10, 320, 1279] {
            for bar in 0..8 {
                let (start, end) = (bar_start(bar, width), bar_start(bar + 1, width));
                for x in start..end {
                    assert_eq!(pattern_colour(x, width), PATTERN_COLOURS[bar as usize]);
                }
            }
            assert_eq!(bar_start(8, width), width);
        }
    }
}
