//! Sharing an X display: capturing its screen (`X11Capture`) and letting a
//! granted controller type and click on it (`X11Injector`, through XTEST).
//!
//! Everything speaks the X protocol through x11rb's pure-Rust connection, so
//! the product needs no libX11 or libxcb. Capture and injection each open their
//! own connection: capture runs on the sender's frame clock and injection on the
//! network's input events, and neither should wait behind the other's requests.
//!
//! - `source`: the user's `x11[:DISPLAY][@WxH+X+Y]` spec, parsed before any
//!   connection so typos are reported as such.
//! - `capture`: root-window capture, through MIT-SHM when the server offers it
//!   and plain GetImage otherwise; `pixels` turns the server's pixel layout into
//!   RGB; `shm` holds the one `unsafe` call (mapping the shared segment).
//! - `inject`: XTEST input, with `keymap` deciding which keycode (and Shift)
//!   produces a keysym, binding spare keycodes for keysyms the layout lacks.
//! - `probe`: a window that reports the input it receives, for tests and for
//!   checking remote control by hand (`examples/x11_probe.rs`).

mod capture;
mod error;
pub mod inject;
pub mod keymap;
mod pixels;
pub mod probe;
mod shm;
mod source;

use std::io;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::xproto::Screen;
use x11rb::rust_connection::RustConnection;

pub use capture::X11Capture;
pub use error::X11Error;
pub use inject::X11Injector;
pub use source::{Region, X11Source};

/// Connects to `display` (a name like `:0`), returning the connection and the
/// number of the screen the name selects.
fn connect(display: &str) -> Result<(RustConnection, usize), X11Error> {
    RustConnection::connect(Some(display)).map_err(|source| X11Error::Connect {
        display: display.to_owned(),
        source,
    })
}

/// Resolves an optional display name as a spec would (`None`: `$DISPLAY`).
fn display_or_default(display: Option<&str>) -> Result<String, X11Error> {
    X11Source {
        display: display.map(str::to_owned),
        region: None,
    }
    .display_name()
}

/// The screen a connection was opened for. x11rb has already checked that it
/// exists; this keeps that promise from becoming a panic if it ever did not.
fn screen_of<'c>(
    conn: &'c RustConnection,
    screen_number: usize,
    display: &str,
) -> Result<&'c Screen, X11Error> {
    conn.setup()
        .roots
        .get(screen_number)
        .ok_or_else(|| X11Error::Connect {
            display: display.to_owned(),
            source: x11rb::errors::ConnectError::InvalidScreen,
        })
}

/// Fails with `MissingExtension` unless the server has `extension`.
fn require_extension(
    conn: &RustConnection,
    display: &str,
    extension: &'static str,
    needed_for: &'static str,
) -> Result<(), X11Error> {
    let present = conn
        .extension_information(extension)
        .map_err(|source| X11Error::Protocol {
            display: display.to_owned(),
            action: "asking for extensions",
            source: source.into(),
        })?
        .is_some();
    if present {
        Ok(())
    } else {
        Err(X11Error::MissingExtension {
            display: display.to_owned(),
            extension,
            needed_for,
        })
    }
}

/// Waits until the connection's socket has something to read or `timeout`
/// passes. Callers first drain x11rb's buffer with `poll_for_event`: bytes
/// already read from the socket do not wake this up.
fn wait_readable(conn: &RustConnection, timeout: Duration) -> io::Result<()> {
    let timeout = Timespec {
        tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: timeout.subsec_nanos().into(),
    };
    let mut fds = [PollFd::new(conn.stream(), PollFlags::IN)];
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
        Err(errno) => Err(errno.into()),
    }
}
