//! Keeps a script's answers in the order its commands were given.
//!
//! Some commands are answered by the client itself (`/stats`, `/help`,
//! `/volume`, a typo) and the rest by the server, a round trip later. Printed
//! as they come, `/members` then `/stats` would print the stats first. The
//! protocol has no request ids, but the server handles one connection's
//! requests in order and answers `ping` with `pong`: so a local answer given
//! while server requests are outstanding is held behind a `ping` sent after
//! them, and shown when its `pong` arrives, after every earlier answer.
//!
//! Every `ping` (the keep-alive's too) is counted and every `pong`, so the
//! n-th `pong` answers the n-th `ping`. A `pong` that never comes (a server
//! that refused the `ping`, or stopped) holds nothing longer than `HOLD_AT_MOST`.

use crate::output::LocalEvent;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The longest a local answer waits for the server's earlier ones.
pub const HOLD_AT_MOST: Duration = Duration::from_secs(3);

/// What to do with a local answer.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Nothing is outstanding: show it now.
    Show(LocalEvent),
    /// Held; with `ping`, the caller sends the `ping` it waits behind.
    Held { ping: bool },
}

struct HeldAnswer {
    /// The number of `pong`s after which it may be shown.
    after_pongs: u64,
    until: Instant,
    event: LocalEvent,
}

#[derive(Default)]
pub struct AnswerOrder {
    /// Off in the full-screen view, where answers land in the chat pane
    /// and a round trip's delay would only make keys feel slow.
    enabled: bool,
    pings_sent: u64,
    pongs_seen: u64,
    /// A request other than `ping` was sent since the last `ping`.
    unanswered: bool,
    held: VecDeque<HeldAnswer>,
}

impl AnswerOrder {
    pub fn new(enabled: bool) -> AnswerOrder {
        AnswerOrder {
            enabled,
            ..AnswerOrder::default()
        }
    }

    /// The session moved to another server: no `pong` of the old one will
    /// come, so every held answer is due now (returned), and counting
    /// starts again.
    pub fn restart(&mut self) -> Vec<LocalEvent> {
        let held = self.drain();
        *self = AnswerOrder::new(self.enabled);
        held
    }

    /// A request (not a ping) went to the server.
    pub fn request_sent(&mut self) {
        self.unanswered = true;
    }

    /// A `ping` went to the server (the keep-alive's).
    pub fn ping_sent(&mut self) {
        self.pings_sent += 1;
    }

    /// A local answer: show it now, or hold it behind what is outstanding.
    pub fn local(&mut self, event: LocalEvent, now: Instant) -> Decision {
        if !self.enabled || (!self.unanswered && self.held.is_empty()) {
            return Decision::Show(event);
        }
        let ping = self.unanswered;
        if ping {
            self.unanswered = false;
            self.pings_sent += 1;
        }
        self.held.push_back(HeldAnswer {
            after_pongs: self.pings_sent,
            until: now + HOLD_AT_MOST,
            event,
        });
        Decision::Held { ping }
    }

    /// A `pong` arrived: the answers it releases, in order.
    pub fn pong(&mut self) -> Vec<LocalEvent> {
        self.pongs_seen += 1;
        let pongs = self.pongs_seen;
        self.release(|held| held.after_pongs <= pongs)
    }

    /// The answers held past `HOLD_AT_MOST`, and every one before them.
    pub fn overdue(&mut self, now: Instant) -> Vec<LocalEvent> {
        let Some(last_due) = self.held.iter().rposition(|held| held.until <= now) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        for held in self.held.drain(..=last_due) {
            // Its pong is taken as lost: a late one may release the next
            // answer a little early, never hold it longer.
            self.pongs_seen = self.pongs_seen.max(held.after_pongs);
            events.push(held.event);
        }
        events
    }

    /// When the first held answer is due, if any is held.
    pub fn next_due(&self) -> Option<Instant> {
        self.held.front().map(|held| held.until)
    }

    /// Every held answer, for the end of the session.
    pub fn drain(&mut self) -> Vec<LocalEvent> {
        self.held.drain(..).map(|held| held.event).collect()
    }

    fn release(&mut self, ready: impl Fn(&HeldAnswer) -> bool) -> Vec<LocalEvent> {
        let mut events = Vec::new();
        while self.held.front().is_some_and(&ready) {
            if let Some(held) = self.held.pop_front() {
                events.push(held.event);
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(message: &str) -> LocalEvent {
        LocalEvent::Error {
            message: message.into(),
        }
    }

    #[test]
    fn local_answers_wait_for_the_server_answers_before_them() {
        let now = Instant::now();
        let mut order = AnswerOrder::new(true);
        // Nothing outstanding: at once.
        assert_eq!(order.local(error("a"), now), Decision::Show(error("a")));
        // /members, then /stats and /help: held behind one ping.
        order.request_sent();
        assert_eq!(order.local(error("b"), now), Decision::Held { ping: true });
        assert_eq!(order.local(error("c"), now), Decision::Held { ping: false });
        // Another request, another local answer: behind a second ping.
        order.request_sent();
        assert_eq!(order.local(error("d"), now), Decision::Held { ping: true });
        assert_eq!(order.pong(), [error("b"), error("c")]);
        assert_eq!(order.pong(), [error("d")]);
        assert_eq!(order.local(error("e"), now), Decision::Show(error("e")));
    }

    #[test]
    fn keep_alive_pings_count_and_a_missing_pong_holds_nothing_for_long() {
        let now = Instant::now();
        let mut order = AnswerOrder::new(true);
        order.ping_sent(); // the keep-alive's, answered below
        order.request_sent();
        assert_eq!(order.local(error("a"), now), Decision::Held { ping: true });
        assert!(order.pong().is_empty(), "the keep-alive's pong");
        assert_eq!(order.pong(), [error("a")]);

        // A ping the server never answers.
        order.request_sent();
        assert_eq!(order.local(error("b"), now), Decision::Held { ping: true });
        assert_eq!(order.next_due(), Some(now + HOLD_AT_MOST));
        assert!(order.overdue(now).is_empty());
        assert_eq!(order.overdue(now + HOLD_AT_MOST), [error("b")]);
        // Later answers are not held behind the lost pong.
        order.request_sent();
        assert_eq!(order.local(error("c"), now), Decision::Held { ping: true });
        assert_eq!(order.pong(), [error("c")]);
    }

    #[test]
    fn the_view_shows_everything_at_once() {
        let mut order = AnswerOrder::new(false);
        order.request_sent();
        assert_eq!(
            order.local(error("a"), Instant::now()),
            Decision::Show(error("a"))
        );
    }
}
