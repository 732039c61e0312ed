//! The clock the `sync` sources share: the video source flashes its picture
//! white and the audio source beeps at the very same instant, once a second,
//! so a receiver can see how far apart it shows one and plays the other
//! (lip sync; docs/LATENCY.md).
//!
//! The video source starts each flash on the first picture it captures a
//! second after the last one, and the audio source begins its beep at that
//! picture's capture time, to the sample. With no video shared, the audio
//! source starts the flashes itself.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often a flash (and its beep) comes.
pub const FLASH_EVERY: Duration = Duration::from_secs(1);
/// How long each lasts.
pub const FLASH_LENGTH: Duration = Duration::from_millis(100);
/// The beep's pitch.
pub const BEEP_HZ: f64 = 1000.0;

/// Microseconds since this process's first use of the clock, plus 1, of
/// the last flash's start; 0 before the first.
static LAST_FLASH: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn stamp(at: Instant) -> u64 {
    at.saturating_duration_since(epoch()).as_micros() as u64 + 1
}

fn instant(stamp: u64) -> Instant {
    epoch() + Duration::from_micros(stamp.saturating_sub(1))
}

/// The last flash's start, if one started.
pub fn last_flash() -> Option<Instant> {
    let last = LAST_FLASH.load(Ordering::Acquire);
    (last != 0).then(|| instant(last))
}

/// Starts a flash at `at` when the last one is at least `every` old (or
/// there was none); the flash now under way, if any.
fn flash_if_due(at: Instant, every: Duration) -> Instant {
    let at_stamp = stamp(at);
    let last = LAST_FLASH.load(Ordering::Acquire);
    if last == 0 || at_stamp >= last + every.as_micros() as u64 {
        LAST_FLASH.store(at_stamp, Ordering::Release);
        return at;
    }
    instant(last)
}

/// The video source, for the picture it captures at `at`: whether it shows
/// the flash (white).
pub fn picture_flashes(at: Instant) -> bool {
    let started = flash_if_due(at, FLASH_EVERY);
    at.saturating_duration_since(started) < FLASH_LENGTH
}

/// The audio source, for a frame whose first sample is captured at
/// `first`: when the flash its samples may beep for started. Flashes come
/// from the video source; without one for a second and a half, the audio
/// source starts its own at `first`.
pub fn beep_start(first: Instant) -> Instant {
    flash_if_due(first, FLASH_EVERY * 3 / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clock keeps microseconds: an instant comes back within one.
    fn near(a: Option<Instant>, b: Instant) -> bool {
        a.is_some_and(|a| {
            let apart = if a > b { a - b } else { b - a };
            apart <= Duration::from_micros(1)
        })
    }

    /// One test for the one process-wide clock (tests run in parallel).
    #[test]
    fn a_flash_starts_a_second_after_the_last_and_the_beep_follows_it() {
        // Far from any other use of the clock in this process.
        let at = Instant::now() + Duration::from_secs(1_000);
        assert!(picture_flashes(at));
        assert!(near(last_flash(), at));
        assert!(picture_flashes(at + Duration::from_millis(66)));
        assert!(!picture_flashes(at + Duration::from_millis(133)));
        // The audio follows the video's flash...
        assert!(near(Some(beep_start(at + Duration::from_millis(500))), at));
        // ...the next picture a second on starts the next...
        let next = at + Duration::from_millis(1_010);
        assert!(picture_flashes(next));
        assert!(near(
            Some(beep_start(next + Duration::from_millis(5))),
            next
        ));
        // ...and without pictures, the audio starts its own.
        let alone = next + Duration::from_millis(1_600);
        assert!(near(Some(beep_start(alone)), alone));
    }
}
