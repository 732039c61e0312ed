//! Chat the server has not confirmed yet.
//!
//! The server sends every chat message (and private message) back to its
//! sender: that echo is the confirmation. A message whose echo is late is
//! said to be unconfirmed, so a frozen server or a broken link never looks as
//! if it delivered; if the echo comes later after all (the session resumed
//! and the message was sent again) that is said too, and whatever is still
//! unconfirmed when the session ends is said not to have been delivered.
//!
//! A refused message (too fast, too long) has no echo but an error the user
//! already saw: it is settled once the server has read past it (a `pong`
//! answers every request before its `ping`, see `resend`), without a word.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long an echo may take before the message is said to be unconfirmed:
/// far beyond a LAN's round trip, well before the keep-alive's silence limit.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(2);

/// Most messages tracked at once (as many as a resumed session can send
/// again, `resend`); past it the oldest is forgotten, unreported.
const TRACKED_AT_MOST: usize = 4096;

/// One message sent and not yet echoed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The request's number in the session (`resend::RequestLog`).
    number: u64,
    /// The member it went to privately, by name; None for the whole meeting.
    pub to: Option<String>,
    pub text: String,
    pub sent_at: Instant,
    /// Already said to be unconfirmed.
    reported: bool,
}

impl Pending {
    /// Already said to be unconfirmed (its arrival is news).
    pub fn was_reported(&self) -> bool {
        self.reported
    }
}

#[derive(Default)]
pub struct UnconfirmedChat {
    pending: VecDeque<Pending>,
}

impl UnconfirmedChat {
    /// A chat request numbered `number` went to the server.
    pub fn sent(&mut self, number: u64, to: Option<String>, text: String, now: Instant) {
        if self.pending.len() == TRACKED_AT_MOST {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            number,
            to,
            text,
            sent_at: now,
            reported: false,
        });
    }

    /// A message carried over a failover went again as request `number`;
    /// `reported` if it had been said to be unconfirmed already.
    pub fn sent_again(
        &mut self,
        number: u64,
        to: Option<String>,
        text: String,
        now: Instant,
        reported: bool,
    ) {
        self.sent(number, to, text, now);
        if let Some(last) = self.pending.back_mut() {
            last.reported = reported;
        }
    }

    /// Our own message came back: the oldest pending one with this text is
    /// delivered. Returns it if it had been said to be unconfirmed (so the
    /// user hears it arrived after all).
    pub fn echoed(&mut self, private: bool, text: &str) -> Option<Pending> {
        let index = self
            .pending
            .iter()
            .position(|p| p.to.is_some() == private && p.text == text)?;
        let confirmed = self.pending.remove(index)?;
        confirmed.reported.then_some(confirmed)
    }

    /// The server has read every request up to `number` and sent its
    /// answers before this point: whatever is still pending from then was
    /// refused (the server said why).
    pub fn read_through(&mut self, number: u64) {
        self.pending.retain(|p| p.number > number);
    }

    /// The messages unconfirmed for `CONFIRM_WITHIN` and not said yet; each
    /// is returned once.
    pub fn overdue(&mut self, now: Instant) -> Vec<Pending> {
        self.pending
            .iter_mut()
            .filter(|p| !p.reported && now.duration_since(p.sent_at) >= CONFIRM_WITHIN)
            .map(|p| {
                p.reported = true;
                p.clone()
            })
            .collect()
    }

    /// The session is over: everything still pending was not delivered.
    pub fn drain(&mut self) -> Vec<Pending> {
        self.pending.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn an_echo_in_time_confirms_without_a_word() {
        let start = Instant::now();
        let mut chat = UnconfirmedChat::default();
        chat.sent(1, None, "hi".into(), start);
        assert_eq!(chat.echoed(false, "hi"), None);
        assert!(chat.overdue(later(start, 5_000)).is_empty());
        assert!(chat.drain().is_empty());
    }

    #[test]
    fn a_late_echo_is_reported_once_then_confirmed() {
        let start = Instant::now();
        let mut chat = UnconfirmedChat::default();
        chat.sent(1, None, "one".into(), start);
        chat.sent(2, Some("bo".into()), "two".into(), later(start, 1_500));
        let first = chat.overdue(later(start, 2_000));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].text, "one");
        let second = chat.overdue(later(start, 3_600));
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].to.as_deref(), Some("bo"));
        assert!(chat.overdue(later(start, 9_000)).is_empty(), "said once");
        // A public echo does not confirm a private message of the same text.
        assert_eq!(chat.echoed(false, "two"), None);
        let confirmed = chat.echoed(true, "two").map(|p| p.text);
        assert_eq!(confirmed.as_deref(), Some("two"));
        let lost: Vec<String> = chat.drain().into_iter().map(|p| p.text).collect();
        assert_eq!(lost, ["one"]);
    }

    #[test]
    fn the_same_text_twice_is_confirmed_oldest_first() {
        let start = Instant::now();
        let mut chat = UnconfirmedChat::default();
        chat.sent(1, None, "ok".into(), start);
        chat.sent(2, None, "ok".into(), later(start, 2_500));
        assert_eq!(chat.overdue(later(start, 2_600)).len(), 1);
        // The first (reported) one is confirmed by the first echo.
        assert!(chat.echoed(false, "ok").is_some());
        assert_eq!(chat.echoed(false, "ok"), None);
    }

    #[test]
    fn a_refused_message_is_settled_once_the_server_read_past_it() {
        let start = Instant::now();
        let mut chat = UnconfirmedChat::default();
        chat.sent(4, None, "too fast".into(), start);
        chat.sent(6, None, "later".into(), start);
        chat.read_through(5);
        let left: Vec<String> = chat.drain().into_iter().map(|p| p.text).collect();
        assert_eq!(left, ["later"]);
    }
}
