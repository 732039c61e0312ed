//! A meeting's chat, numbered where its rules run, and its last messages
//! kept. A member who comes back after its own server died (through
//! another server of the cluster) says the number of the last message it
//! saw, and is told the ones it missed after it: each once, in order.
//!
//! On a server of a cluster each message is kept in NATS before anyone is
//! told it (`KeptChat`, `Effect::KeepChat`): what any member saw is there
//! when the meeting is made again after its server died, and the numbers
//! go on from it (`ChatLog::recovered`). A meeting made again without it
//! (NATS could not give it back) numbers from 1 again, and its members are
//! told so (`ticket`'s `chat_renumbered`).

use common::{ClientId, Event};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// At most this many messages are kept for members who come back...
pub const KEPT_MESSAGES: usize = 256;
/// ...and at most this many bytes of text (64 messages of the longest).
pub const KEPT_BYTES: usize = 256 * 1024;

/// One meeting's numbered chat (private messages included).
#[derive(Debug, Default)]
pub(super) struct ChatLog {
    last: u64,
    kept: VecDeque<KeptChat>,
    kept_bytes: usize,
}

/// One numbered message as it is kept, here and in the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptChat {
    pub seq: u64,
    /// The `chat` or `private` event as it is told.
    pub event: Event,
    /// A private message's two members; None: said to everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between: Option<[ClientId; 2]>,
}

impl KeptChat {
    fn bytes(&self) -> usize {
        match &self.event {
            Event::Chat { text, .. } | Event::Private { text, .. } => text.len(),
            _ => 0,
        }
    }

    /// Whether `member` is told this message.
    fn is_for(&self, member: ClientId) -> bool {
        self.between.is_none_or(|pair| pair.contains(&member))
    }
}

impl ChatLog {
    /// The log of a meeting made again, from the messages its former life
    /// kept in the cluster (oldest first); its numbers go on after them.
    pub(super) fn recovered(tail: Vec<KeptChat>) -> ChatLog {
        let mut log = ChatLog::default();
        for kept in tail {
            if kept.seq > log.last {
                log.last = kept.seq;
                log.keep(kept);
            }
        }
        log
    }

    /// No message is numbered `seen` or below from now on: a member saw
    /// that far in the meeting's former life, further than the cluster
    /// gave back.
    pub(super) fn numbers_after(&mut self, seen: u64) {
        self.last = self.last.max(seen);
    }

    /// The number the next message takes.
    pub(super) fn next_seq(&mut self) -> u64 {
        self.last += 1;
        self.last
    }

    /// Keeps a numbered message, forgetting the oldest past the bounds.
    pub(super) fn keep(&mut self, kept: KeptChat) {
        self.kept_bytes += kept.bytes();
        self.kept.push_back(kept);
        while self.kept.len() > KEPT_MESSAGES || self.kept_bytes > KEPT_BYTES {
            match self.kept.pop_front() {
                Some(old) => self.kept_bytes -= old.bytes(),
                None => break,
            }
        }
    }

    /// Message `seq`, if it is still kept.
    pub(super) fn get(&self, seq: u64) -> Option<&KeptChat> {
        let first = self.kept.front()?.seq;
        let index = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.kept.get(index).filter(|kept| kept.seq == seq)
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
            .filter(|kept| kept.is_for(member))
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

    fn kept(seq: u64, event: Event, between: Option<[ClientId; 2]>) -> KeptChat {
        KeptChat {
            seq,
            event,
            between,
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
            log.keep(kept(seq, chat(seq, text), None));
        }
        let seq = log.next_seq();
        log.keep(kept(
            seq,
            chat(seq, "psst"),
            Some([ClientId(1), ClientId(2)]),
        ));
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
            log.keep(kept(seq, chat(seq, &n.to_string()), None));
        }
        let (missed, forgotten) = log.missed_by(ClientId(3), 5);
        assert_eq!(missed.len(), KEPT_MESSAGES);
        assert!(forgotten);
        let (missed, forgotten) = log.missed_by(ClientId(3), 10);
        assert_eq!(missed.len(), KEPT_MESSAGES);
        assert!(!forgotten, "message 11 is the first kept");
    }

    #[test]
    fn a_log_recovered_from_the_cluster_numbers_on_and_tells_what_it_got_back() {
        let tail: Vec<KeptChat> = (5..=7)
            .map(|seq| kept(seq, chat(seq, &seq.to_string()), None))
            .collect();
        let mut log = ChatLog::recovered(tail);
        assert_eq!(log.next_seq(), 8);
        let (missed, forgotten) = log.missed_by(ClientId(3), 5);
        assert_eq!(texts(&missed), ["6", "7"]);
        assert!(!forgotten);
        assert!(
            log.missed_by(ClientId(3), 2).1,
            "1 to 4 were not given back"
        );
        assert_eq!(log.get(6).map(|kept| kept.seq), Some(6));
        assert!(log.get(8).is_none(), "numbered, not kept yet");
    }
}
