//! The socket a media channel writes to now, and the one place that
//! decides when it is replaced: the channel's reader puts in a new one after
//! attaching again, its sender takes whatever is there, the main loop closes
//! it. One lock over the socket and the closing flag, so a socket attached
//! just as the channel closes is never installed and left open.
//!
//! A move to another server (`app::moving`) puts in that server's socket at
//! once, for the sender, and leaves its reader and session here for the
//! channel's reader, which takes them when the old socket ends.

use crate::link::Session;
use common::FrameReader;
use common::sync::{lock, wait_timeout_while};
use std::net::Shutdown;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use transport::Socket;

/// The socket a channel writes to now, shared by its sender (which writes),
/// its reader (which puts in a new one when it attached again; it is empty
/// while the channel is down) and the main loop (which closes the channel).
/// One lock over both the socket and `closing`, so a socket attached just as
/// the channel closes is never installed and left open.
pub struct CurrentSocket {
    state: Mutex<SocketState>,
    /// Signalled when the channel starts closing or should try now: wakes a
    /// reader waiting to try again.
    closing_started: Condvar,
}

struct SocketState {
    socket: Option<Arc<Socket>>,
    closing: bool,
    /// Try to attach again now, not after the back-off (the session was
    /// just resumed: the server is there).
    retry_now: bool,
    /// The session moved to another server: the new socket's reader and
    /// session, for the channel's reader to take (`ended`, `take_moved`).
    moved: Option<MovedTo>,
    /// The session is about to move (`expect_move`): a reader whose socket
    /// ended waits for it instead of attaching again.
    move_expected: bool,
}

/// What a channel's reader goes on with after a move.
pub(super) struct MovedTo {
    pub reader: FrameReader<Socket>,
    pub session: Session,
}

/// Why the reader's socket ended.
pub(super) enum Ended {
    /// The channel is closing.
    Closing,
    /// The session moved: the new socket is in place already.
    Moved(MovedTo),
    /// It broke: attach a new one.
    Down,
}

impl CurrentSocket {
    pub(super) fn new(socket: Socket) -> CurrentSocket {
        CurrentSocket {
            state: Mutex::new(SocketState {
                socket: Some(Arc::new(socket)),
                closing: false,
                retry_now: false,
                moved: None,
                move_expected: false,
            }),
            closing_started: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SocketState> {
        lock(&self.state)
    }

    /// The socket to write to; `None` while the channel is down.
    pub fn get(&self) -> Option<Arc<Socket>> {
        self.lock().socket.clone()
    }

    /// Writing to `socket` failed: the connection is gone, or a frame is cut
    /// short on it, which the server cannot read past. Shut it, so its reader
    /// ends now and attaches a new one, and send nothing until then.
    pub fn broken(&self, socket: &Arc<Socket>) {
        {
            let mut state = self.lock();
            if state
                .socket
                .as_ref()
                .is_some_and(|s| Arc::ptr_eq(s, socket))
            {
                state.socket = None;
            }
        }
        let _ = socket.shutdown(Shutdown::Both);
    }

    /// The reader's socket ended: the channel is down, unless the session
    /// moved (then the new socket is in place) or the channel is closing.
    pub(super) fn ended(&self) -> Ended {
        let mut state = self.lock();
        if !state.closing
            && let Some(moved) = state.moved.take()
        {
            return Ended::Moved(moved);
        }
        state.socket = None;
        if state.closing {
            Ended::Closing
        } else {
            Ended::Down
        }
    }

    /// Puts in a newly attached socket; `Closing` (and the socket is
    /// dropped) if the channel started closing meanwhile, `Moved` (dropped
    /// too: it is the old server's) if the session moved.
    pub(super) fn install(&self, socket: Socket) -> Ended {
        let mut state = self.lock();
        if state.closing {
            return Ended::Closing;
        }
        if let Some(moved) = state.moved.take() {
            return Ended::Moved(moved);
        }
        state.socket = Some(Arc::new(socket));
        Ended::Down
    }

    /// The session moved while the channel was down: what to go on with.
    pub(super) fn take_moved(&self) -> Option<MovedTo> {
        self.lock().moved.take()
    }

    /// The session moved to another server: `socket` is its, attached, and
    /// is written to from now on; the reader takes `moved` once the old
    /// socket (returned, to shut) ends, or at once if the channel is down.
    /// Nothing (and the new socket dropped) if the channel is closing.
    pub(super) fn move_to(&self, socket: Socket, moved: MovedTo) -> Option<Option<Arc<Socket>>> {
        let mut state = self.lock();
        if state.closing {
            return None;
        }
        let old = state.socket.replace(Arc::new(socket));
        state.moved = Some(moved);
        state.move_expected = false;
        // A reader waiting to attach again goes on with the new socket now.
        state.retry_now = true;
        self.closing_started.notify_all();
        Some(old)
    }

    /// The server we are on is handing the session over to another one
    /// (`on`), or the move failed (`!on`, and a waiting reader tries to
    /// attach again now).
    pub(super) fn expect_move(&self, on: bool) {
        let mut state = self.lock();
        state.move_expected = on;
        if !on {
            state.retry_now = true;
            self.closing_started.notify_all();
        }
    }

    /// Whether a move is expected (see `expect_move`).
    pub(super) fn move_expected(&self) -> bool {
        self.lock().move_expected
    }

    /// Waits `delay` unless the channel starts closing (true) or is told
    /// to try now.
    pub(super) fn wait_unless_closing(&self, delay: Duration) -> bool {
        let state = self.lock();
        let mut state = wait_timeout_while(&self.closing_started, state, delay, |state| {
            !state.closing && !state.retry_now
        });
        state.retry_now = false;
        state.closing
    }

    /// The control connection was resumed after a break: a socket from
    /// before it may be dead without knowing it (TCP can take minutes to
    /// say so), so shut it and attach a new one now; a channel waiting to
    /// try again tries now.
    pub(super) fn renew(&self) {
        let socket = {
            let mut state = self.lock();
            state.retry_now = true;
            self.closing_started.notify_all();
            state.socket.take()
        };
        if let Some(socket) = socket {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// The channel is closing: nothing is attached again from now on.
    /// Returns the socket to shut, if the channel is up.
    pub(super) fn close(&self) -> Option<Arc<Socket>> {
        let mut state = self.lock();
        state.closing = true;
        self.closing_started.notify_all();
        state.socket.clone()
    }
}
