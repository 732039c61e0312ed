//! A meeting's chat, numbered where its rules run, and its last messages
//! kept. A member who comes back after its own server died (through
//! another server of the cluster) says the number of the last message it
//! saw, and is told the ones it missed after it: each once, in order.
//!
//! The numbers are the meeting's, in one life of it: a meeting made again
//! from a handoff (its server stopped or died) numbers from 1 again, and a
//! member rejoining it with a ticket of the old life is told everything
//! the new one said before it came in.

use common::{ClientId, Event};
use std::collections::VecDeque;

/// At most this many messages are kept for members who come back...
pub const KEPT_MESSAGES: usize = 256;
/// ...and at most this many bytes of text (64 messages of the longest).
pub const KEPT_BYTES: usize = 256 * 1024;

/// One meeting's numbered chat (private messages included).
#[derive(Debug, Default)]
pub(super) struct ChatLog {
    last: u64,
    kept: VecDeque<Kept>,
    kept_bytes: usize,
}

#[derive(Debug)]
struct Kept {
    seq: u64,
    event: Event,
    /// A private message's two members; None: said to everyone.
    between: Option<[ClientId; 2]>,
    bytes: usize,
}

impl ChatLog {
    /// The number the next message takes.
    pub(super) fn next_seq(&mut self) -> u64 {
        self.last += 1;
        self.last
    }

    /// Keeps a numbered message (`between` its two members if private),
    /// forgetting the oldest past the bounds.
    pub(super) fn keep(&mut self, seq: u64, event: Event, between: Option<[ClientId; 2]>) {
        let bytes = match &event {
            Event::Chat { text, .. } | Event::Private { text, .. } => text.len(),
            _ => 0,
        };
        self.kept_bytes += bytes;
        self.kept.push_back(Kept {
            seq,
            event,
            between,
            bytes,
        });
        while self.kept.len() > KEPT_MESSAGES || self.kept_bytes > KEPT_BYTES {
            match self.kept.pop_front() {
                Some(old) => self.kept_bytes -= old.bytes,
                None => break,
            }
        }
    }

    /// What `member` was told after message `seen` (0: all kept), in order;
    /// and whether some of it is no longer kept.
    pub(super) fn missed_by(&self, member: ClientId, seen: u64) -> (Vec<Event>, bool) {
        let first_kept = self.kept.front().map_or(self.last + 1, |kept| kept.seq);
        let forgotten = seen + 1 < first_kept;
        let missed = self
            .kept
            .iter()
            .filter(|kept| kept.seq > seen)
            .filter(|kept| kept.between.is_none_or(|pair| pair.contains(&member)))
            .map(|kept| kept.event.clone())
            .collect();
        (missed, forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::MeetingId;

    fn chat(seq: u64, text: &str) -> Event {
        Event::Chat {
            meeting: MeetingId::parse("abc-def").expect("an id"),
            from: "ana".into(),
            from_id: ClientId(1),
            text: text.into(),
            seq,
        }
    }

    fn texts(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Chat { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_member_is_told_what_came_after_the_last_it_saw_and_only_its_own_privates() {
        let mut log = ChatLog::default();
        for text in ["one", "two", "three"] {
            let seq = log.next_seq();
            log.keep(seq, chat(seq, text), None);
        }
        let seq = log.next_seq();
        log.keep(seq, chat(seq, "psst"), Some([ClientId(1), ClientId(2)]));
        let (missed, forgotten) = log.missed_by(ClientId(3), 1);
        assert_eq!(texts(&missed), ["two", "three"]);
        assert!(!forgotten);
        let (missed, _) = log.missed_by(ClientId(2), 3);
        assert_eq!(texts(&missed), ["psst"]);
        assert!(log.missed_by(ClientId(2), 4).0.is_empty());
    }

    #[test]
    fn past_its_bounds_the_oldest_go_and_a_member_that_needed_them_is_told_so() {
        let mut log = ChatLog::default();
        for n in 0..KEPT_MESSAGES + 10 {
            let seq = log.next_seq();
            log.keep(seq, chat(seq, &n.to_string()), None);
        }
        let (missed, forgotten) = log.missed_by(ClientId(3), 5);
        assert_eq!(missed.len(), KEPT_MESSAGES);
        assert!(forgotten);
        let (missed, forgotten) = log.missed_by(ClientId(3), 10);
        assert_eq!(missed.len(), KEPT_MESSAGES);
        assert!(!forgotten, "message 11 is the first kept");
    }
}
