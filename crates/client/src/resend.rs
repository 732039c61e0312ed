//! What a resumed session must send again: every request is numbered, and
//! kept until the server is known to have read it, so that after a broken
//! connection exactly the requests it never read are sent again (the server
//! says how many it handled in `resumed`).
//!
//! While connected, a `pong` proves the server read everything up to its
//! `ping` (it handles one connection's requests in order), so the log stays
//! small without asking the server anything more.

use common::Request;
use std::collections::VecDeque;

/// Most requests kept: far more than the server lets a client send in the
/// seconds a connection takes to be noticed broken. Past it the oldest go
/// (and would not be sent again).
const KEPT_AT_MOST: usize = 4096;

#[derive(Default)]
pub struct RequestLog {
    /// Requests numbered so far (the last one's number).
    sent: u64,
    /// Requests the server may not have read, with their numbers.
    unread: VecDeque<(u64, Request)>,
    /// The numbers of the pings whose `pong` has not come yet, in order.
    pings: VecDeque<u64>,
}

impl RequestLog {
    /// Numbers and keeps a request about to be sent.
    pub fn record(&mut self, request: &Request) {
        self.sent += 1;
        if matches!(request, Request::Ping) {
            self.pings.push_back(self.sent);
        }
        if self.unread.len() == KEPT_AT_MOST {
            self.unread.pop_front();
        }
        self.unread.push_back((self.sent, request.clone()));
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// A `pong` came: the server read everything up to its `ping`, and
    /// answered it all before this `pong`. Returns that request's number.
    pub fn pong(&mut self) -> Option<u64> {
        let ping = self.pings.pop_front()?;
        self.read_up_to(ping);
        Some(ping)
    }

    /// The server read the first `handled` requests (from `resumed`); the
    /// others, in order, to send again on the new connection.
    pub fn resumed(&mut self, handled: u64) -> Vec<Request> {
        self.read_up_to(handled);
        self.unread.iter().map(|(_, r)| r.clone()).collect()
    }

    fn read_up_to(&mut self, number: u64) {
        while self.unread.front().is_some_and(|(n, _)| *n <= number) {
            self.unread.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(text: &str) -> Request {
        Request::Chat { text: text.into() }
    }

    #[test]
    fn exactly_the_unread_requests_are_sent_again() {
        let mut log = RequestLog::default();
        log.record(&chat("a"));
        log.record(&Request::Ping);
        log.record(&chat("b"));
        log.pong();
        log.record(&chat("c"));
        assert_eq!(log.sent(), 4);
        // The server read three: only "c" goes again.
        assert_eq!(log.resumed(3), [chat("c")]);
        // It read none of what was queued while disconnected.
        log.record(&chat("d"));
        assert_eq!(log.resumed(3), [chat("c"), chat("d")]);
        assert_eq!(log.resumed(5), Vec::<Request>::new());
    }
}
