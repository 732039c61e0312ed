//! Token buckets: how often a client may do something, with room for a burst.
//!
//! One member's flood of chat or media toggles would otherwise queue thousands
//! of events for every other member at once, and a stranger could try meeting
//! ids and passcodes as fast as the server answers.

use common::protocol::{REQUEST_BURST, REQUESTS_PER_SECOND};
use std::time::Instant;

/// Failed joins a connection may make at once, and per second after that.
const FAILED_JOIN_BURST: f64 = 5.0;
const FAILED_JOINS_PER_SECOND: f64 = 0.5;
/// The same for all connections from one address together.
pub const ADDRESS_FAILED_JOIN_BURST: f64 = 20.0;
pub const ADDRESS_FAILED_JOINS_PER_SECOND: f64 = 1.0;

pub struct TokenBucket {
    tokens: f64,
    refilled: Instant,
    burst: f64,
    per_second: f64,
}

impl TokenBucket {
    pub fn new(burst: f64, per_second: f64) -> TokenBucket {
        TokenBucket {
            tokens: burst,
            refilled: Instant::now(),
            burst,
            per_second,
        }
    }

    /// Any request: `REQUEST_BURST` at once, then `REQUESTS_PER_SECOND`.
    pub fn requests() -> TokenBucket {
        TokenBucket::new(f64::from(REQUEST_BURST), f64::from(REQUESTS_PER_SECOND))
    }

    /// Joins that failed, per connection.
    pub fn failed_joins() -> TokenBucket {
        TokenBucket::new(FAILED_JOIN_BURST, FAILED_JOINS_PER_SECOND)
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled = now;
    }

    /// Whether a token is there, without taking it.
    pub fn has_token(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Takes a token; false if there is none.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Full again: nothing was taken for long enough to forget it.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let mut bucket = TokenBucket::new(3.0, 2.0);
        let start = Instant::now();
        assert_eq!((0..10).filter(|_| bucket.take(start)).count(), 3);
        let later = start + Duration::from_millis(1500);
        assert_eq!((0..10).filter(|_| bucket.take(later)).count(), 3);
        assert!(bucket.is_full(later + Duration::from_secs(5)));
    }
}
