//! What both portal implementations (zbus in portal.rs, libdbus in portal_dbus.rs) share:
//! names, option values, the error type, the stream description, request tokens.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const DEST: &str = "org.freedesktop.portal.Desktop";
pub const PATH: &str = "/org/freedesktop/portal/desktop";
pub const SCREENCAST: &str = "org.freedesktop.portal.ScreenCast";
pub const REQUEST: &str = "org.freedesktop.portal.Request";
pub const SESSION: &str = "org.freedesktop.portal.Session";

/// SelectSources "types": bit 1 = monitor (window = 2, virtual = 4).
pub const SOURCE_MONITOR: u32 = 1;
/// "cursor_mode": 1 hidden, 2 embedded in the picture, 4 as metadata.
pub const CURSOR_EMBEDDED: u32 = 2;
/// "persist_mode": 2 = until explicitly revoked; Start then returns a restore_token.
pub const PERSIST_UNTIL_REVOKED: u32 = 2;

/// How long we wait for one Response. A real desktop shows a dialog in
/// SelectSources/Start, so this bounds how long a user may think.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub enum PortalError {
    /// Response code 1: the user (or the chooser) said no. Not a bug: show it plainly.
    Declined { step: &'static str },
    /// Response code 2 (or anything else): the back-end failed.
    Failed { step: &'static str, code: u32 },
    /// No Response within RESPONSE_TIMEOUT.
    Timeout { step: &'static str },
    /// The portal answered without something the spec promises.
    Malformed { step: &'static str, what: String },
    /// Transport-level error from the D-Bus library.
    DBus(String),
}

impl fmt::Display for PortalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortalError::Declined { step } => {
                write!(
                    f,
                    "screen sharing was declined in the desktop's dialog (at {step})"
                )
            }
            PortalError::Failed { step, code } => {
                write!(
                    f,
                    "the desktop portal failed at {step} (response code {code})"
                )
            }
            PortalError::Timeout { step } => {
                write!(f, "no answer from the desktop portal at {step}")
            }
            PortalError::Malformed { step, what } => {
                write!(f, "unexpected portal answer at {step}: {what}")
            }
            PortalError::DBus(e) => write!(f, "D-Bus error talking to the desktop portal: {e}"),
        }
    }
}

impl std::error::Error for PortalError {}

/// One stream from Start's results.
#[derive(Debug, Clone)]
pub struct Stream {
    pub node_id: u32,
    /// Logical size of the monitor, if the back-end says (xdpw does).
    pub size: Option<(i32, i32)>,
}

/// Tokens must be unique per connection and valid object-path elements ([A-Za-z0-9_]).
pub fn new_token() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "meeting_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// /org/freedesktop/portal/desktop/request/SENDER/TOKEN, SENDER being our unique
/// name without the leading ':' and with '.' replaced by '_' (":1.13" -> "1_13").
pub fn request_path(unique_name: &str, token: &str) -> String {
    let sender = unique_name.trim_start_matches(':').replace('.', "_");
    format!("{PATH}/request/{sender}/{token}")
}

/// What the screen source needs from a started ScreenCast session, whichever
/// D-Bus library talks to the portal.
pub trait ScreenCastPortal {
    fn streams(&self) -> &[Stream];
    fn restore_token(&self) -> Option<&str>;
    /// The fd of a PipeWire connection that can see only our streams' nodes.
    fn open_pipewire_remote(&self) -> Result<std::os::fd::OwnedFd, PortalError>;
    /// Ends the share on the desktop side (Session.Close).
    fn close(self: Box<Self>) -> Result<(), PortalError>;
}
