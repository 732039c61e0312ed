//! The one error type of the X11 side. Every failure a person can act on (a bad
//! spec, no display, a Wayland-only session, a screen format we cannot read, a
//! missing extension) has its own variant with a message that says what to do;
//! protocol failures carry what we were doing when the server said no.

use x11rb::errors::{ConnectError, ReplyOrIdError};

use super::source::Region;

#[derive(Debug, thiserror::Error)]
pub enum X11Error {
    #[error(
        "bad X11 source {spec:?}: {reason} (expected x11[:DISPLAY][@WxH+X+Y], \
         e.g. x11, x11::0, x11::0@1280x720+0+0)"
    )]
    BadSpec { spec: String, reason: String },

    #[error("no X display: $DISPLAY is not set; name one, e.g. x11::0")]
    NoDisplay,

    #[error(
        "this is a Wayland-only session (WAYLAND_DISPLAY={wayland_display}, no DISPLAY): a \
         Wayland desktop cannot be captured or controlled through X11. Share an X display \
         instead (start the program under XWayland or Xvfb and name it, e.g. x11::1), or \
         share `test` or an image file"
    )]
    WaylandOnly { wayland_display: String },

    #[error("cannot connect to X display {display:?}: {source}")]
    Connect {
        display: String,
        #[source]
        source: ConnectError,
    },

    #[error("X display {display:?} failed while {action}: {source}")]
    Protocol {
        display: String,
        action: &'static str,
        #[source]
        source: ReplyOrIdError,
    },

    #[error(
        "X display {display:?}: the screen is depth {depth} at {bits_per_pixel} bits per pixel \
         ({visual}); only 24/32-bit TrueColor screens can be captured"
    )]
    UnsupportedFormat {
        display: String,
        depth: u8,
        bits_per_pixel: u8,
        visual: String,
    },

    #[error("region {region} lies outside the {screen_width}x{screen_height} screen")]
    RegionOutsideScreen {
        region: Region,
        screen_width: u32,
        screen_height: u32,
    },

    #[error(
        "X display {display:?} has no {extension} extension, which {needed_for} needs \
         (Xorg, Xvfb and XWayland have it unless disabled)"
    )]
    MissingExtension {
        display: String,
        extension: &'static str,
        needed_for: &'static str,
    },

    #[error("X server sent a {got}-byte image where {expected} bytes were expected")]
    ShortImage { expected: usize, got: usize },

    #[error("no unused keycode is left to type keysym {keysym:#x}")]
    NoSpareKeycode { keysym: u32 },

    #[error("X display {display:?}: {what} did not happen within {timeout:?}")]
    Timeout {
        display: String,
        what: &'static str,
        timeout: std::time::Duration,
    },

    #[error("invalid input event: {reason}")]
    BadInput { reason: String },
}

/// Attaches "what we were doing" to an x11rb failure, so that `?` stays short
/// at the call sites while the message still says which request failed.
pub(crate) trait Doing<T> {
    fn doing(self, display: &str, action: &'static str) -> Result<T, X11Error>;
}

impl<T, E: Into<ReplyOrIdError>> Doing<T> for Result<T, E> {
    fn doing(self, display: &str, action: &'static str) -> Result<T, X11Error> {
        self.map_err(|source| X11Error::Protocol {
            display: display.to_owned(),
            action,
            source: source.into(),
        })
    }
}

impl X11Error {
    /// Whether the server refused a request (as opposed to the connection
    /// breaking): a refused MIT-SHM request means "use GetImage instead".
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(
            self,
            X11Error::Protocol {
                source: ReplyOrIdError::X11Error(_),
                ..
            } | X11Error::ShortImage { .. }
        )
    }
}
