//! New connections at a bounded rate (`--connect-rate`): the server takes at
//! most `--max-connection-rate` new connections a second (500 unless told
//! otherwise, twice that at once) and past it refuses an address that keeps
//! coming, so a run of hundreds of members, all from one address, opens its
//! sockets a little slower than that: a burst at once, then a steady rate.
//!
//! Pure: the caller says what time it is and sleeps what it is told.

use std::time::{Duration, Instant};

/// Connections opened at once before the rate applies: a run of up to 50
/// members with video and audio connects without waiting.
pub const CONNECT_BURST: f64 = 200.0;
/// `--connect-rate` unless told otherwise: four fifths of the server's
/// default rate.
pub const DEFAULT_CONNECT_RATE: u32 = 400;

/// A token bucket that lends: each connection takes a token, and one that
/// finds none waits until its token will have come.
pub struct Pacer {
    /// Connections a second; None: no limit.
    rate: Option<f64>,
    tokens: f64,
    refilled: Instant,
}

impl Pacer {
    /// At most `per_second` connections a second after the burst; 0: no limit.
    pub fn new(per_second: u32, now: Instant) -> Pacer {
        Pacer {
            rate: (per_second > 0).then_some(f64::from(per_second)),
            tokens: CONNECT_BURST,
            refilled: now,
        }
    }

    /// Takes the next connection's token: how long to wait before opening it.
    pub fn delay(&mut self, now: Instant) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        let earned = now.saturating_duration_since(self.refilled).as_secs_f64() * rate;
        self.tokens = (self.tokens + earned).min(CONNECT_BURST);
        self.refilled = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / rate)
        }
    }

    /// Waits for the next connection's turn.
    pub fn wait(&mut self) {
        let delay = self.delay(Instant::now());
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_goes_at_once_then_connections_come_at_the_rate() {
        let start = Instant::now();
        let mut pacer = Pacer::new(400, start);
        let burst = CONNECT_BURST as usize;
        assert!((0..burst).all(|_| pacer.delay(start).is_zero()));
        // The next ones, all asked at once, wait 2.5 ms more each.
        let waits: Vec<Duration> = (0..3).map(|_| pacer.delay(start)).collect();
        let ms = |m: f64| Duration::from_secs_f64(m / 1000.0);
        assert_eq!(waits, [ms(2.5), ms(5.0), ms(7.5)]);
        // Asked once the debt is paid and a second more passed, the burst is
        // back, whole.
        let later = start + Duration::from_secs(2);
        assert!((0..burst).all(|_| pacer.delay(later).is_zero()));
        assert!(!pacer.delay(later).is_zero());
    }

    #[test]
    fn no_rate_never_waits() {
        let start = Instant::now();
        let mut pacer = Pacer::new(0, start);
        assert!((0..10_000).all(|_| pacer.delay(start).is_zero()));
    }
}
