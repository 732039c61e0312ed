//! The shape the client's `ScreenSource` for Wayland would take:
//! `open` = portal handshake + PipeWire thread; `capture` = the latest frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::frame::Frame;
use crate::portal_common::{PortalError, ScreenCastPortal};
use crate::pw_stream::FrameStream;

/// Which D-Bus library talks to the portal (the prototype has both to compare).
#[derive(Clone, Copy, Debug)]
pub enum PortalLib {
    #[cfg(feature = "capture")]
    Zbus,
    #[cfg(feature = "capture-dbus")]
    Dbus,
}

impl PortalLib {
    fn start(self, restore_token: Option<&str>) -> Result<Box<dyn ScreenCastPortal>, PortalError> {
        Ok(match self {
            #[cfg(feature = "capture")]
            PortalLib::Zbus => Box::new(crate::portal::ScreenCastSession::start(restore_token)?),
            #[cfg(feature = "capture-dbus")]
            PortalLib::Dbus => {
                Box::new(crate::portal_dbus::ScreenCastSession::start(restore_token)?)
            }
        })
    }
}

/// How long `capture` waits for the very first frame (xdpw: ~50 ms after connect).
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(2);

pub struct WaylandScreen {
    // Field order matters for Drop: stop PipeWire before the portal connection goes.
    frames: FrameStream,
    session: Option<Box<dyn ScreenCastPortal>>,
    seq: u64,
    pub node_id: u32,
    pub restore_token: Option<String>,
    /// When the portal's Start answered (for the time-to-first-frame figure).
    pub started_at: Instant,
}

#[derive(Debug)]
pub enum OpenError {
    Portal(PortalError),
    Thread(std::io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Portal(e) => e.fmt(f),
            OpenError::Thread(e) => write!(f, "cannot start the PipeWire thread: {e}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl WaylandScreen {
    /// Asks the desktop for a monitor (its dialog, or nothing with a valid
    /// restore token), then starts receiving frames on a PipeWire thread.
    pub fn open(lib: PortalLib, restore_token: Option<&str>) -> Result<Self, OpenError> {
        let session = lib.start(restore_token).map_err(OpenError::Portal)?;
        let started_at = Instant::now();
        let node_id = session.streams()[0].node_id; // Start guarantees at least one
        let fd = session.open_pipewire_remote().map_err(OpenError::Portal)?;
        let frames = FrameStream::start(fd, node_id).map_err(OpenError::Thread)?;
        Ok(WaylandScreen {
            frames,
            restore_token: session.restore_token().map(str::to_string),
            session: Some(session),
            seq: 0,
            node_id,
            started_at,
        })
    }

    /// The current picture: waits for the first frame, then returns the newest
    /// one without waiting (a still screen sends nothing new). Errors once the
    /// stream has ended, e.g. the desktop stopped the share.
    pub fn capture(&mut self) -> Result<Arc<Frame>, String> {
        let timeout = if self.seq == 0 {
            FIRST_FRAME_TIMEOUT
        } else {
            Duration::ZERO
        };
        match self.frames.wait_newer(self.seq, timeout)? {
            Some((seq, frame)) => {
                self.seq = seq;
                Ok(frame)
            }
            None => self
                .frames
                .latest()
                .ok_or_else(|| "no frame from the desktop yet".to_string()),
        }
    }

    /// Waits up to `timeout` for a frame different from the last one returned.
    pub fn next_change(&mut self, timeout: Duration) -> Result<Option<Arc<Frame>>, String> {
        Ok(self
            .frames
            .wait_newer(self.seq, timeout)?
            .map(|(seq, frame)| {
                self.seq = seq;
                frame
            }))
    }

    /// Stops PipeWire, then closes the portal session.
    pub fn close(mut self) -> Result<(), PortalError> {
        let session = self.session.take();
        drop(self); // joins the PipeWire thread
        session.map_or(Ok(()), |s| s.close())
    }
}
