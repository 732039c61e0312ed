//! The control events of one session, numbered, and the last of them kept
//! for a `resume` to replay exactly what the client missed.

use bytes::Bytes;
use common::protocol::{REPLAY_BYTES, REPLAY_EVENTS};
use std::collections::VecDeque;

/// The control events queued for one session, numbered from 1 (`welcome`),
/// and the last of them (at most `REPLAY_EVENTS`, `REPLAY_BYTES`) for a
/// `resume` to replay.
#[derive(Default)]
pub(super) struct EventLog {
    pub(super) sent: u64,
    kept: VecDeque<Bytes>,
    kept_bytes: usize,
}

impl EventLog {
    pub(super) fn record(&mut self, frame: Bytes) {
        self.sent += 1;
        self.kept_bytes += frame.len();
        self.kept.push_back(frame);
        while self.kept.len() > REPLAY_EVENTS || self.kept_bytes > REPLAY_BYTES {
            match self.kept.pop_front() {
                Some(old) => self.kept_bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The events after the first `seen`; or, if some of them are no longer
    /// kept, none and how many were sent after `seen` (all of them count as
    /// lost: a tail without its start would be wrong).
    pub(super) fn after(&self, seen: u64) -> Result<Vec<Bytes>, u64> {
        let seen = seen.min(self.sent);
        let before_kept = self.sent - self.kept.len() as u64;
        if seen < before_kept {
            return Err(self.sent - seen);
        }
        let skip = usize::try_from(seen - before_kept).unwrap_or(usize::MAX);
        Ok(self.kept.iter().skip(skip).cloned().collect())
    }
}
