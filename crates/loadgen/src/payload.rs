//! How big each frame a simulated member sends of a kind is: one size, or,
//! for a shared screen, small changes with a whole screen now and then, as
//! the client's screen sender sends them (it starts a full refresh by itself
//! every 10 seconds). The size follows from the frame's sequence number, so
//! a receiver knows what length to expect of every frame it checks.

use common::media::SimulatedTraffic;

/// What loadgen's screen sharer sends (`--screen-every`): changed tiles of a
/// screen where someone types and scrolls, and a full refresh (a keyframe)
/// every 10 seconds, the first at once.
pub const SCREEN_FRAMES_PER_SECOND: f64 = 8.0;
pub const SCREEN_CHANGE_BYTES: usize = 3_000;
pub const SCREEN_KEYFRAME_BYTES: usize = 60_000;
pub const SCREEN_KEYFRAME_EVERY: u32 = 80;

/// Every `every`-th frame (from the first) is a keyframe of `bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keyframes {
    pub every: u32,
    pub bytes: usize,
}

/// The payload bytes (media header included) of each frame of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayloadSizes {
    pub bytes: usize,
    pub keyframes: Option<Keyframes>,
}

impl PayloadSizes {
    pub fn fixed(bytes: usize) -> PayloadSizes {
        PayloadSizes {
            bytes,
            keyframes: None,
        }
    }

    /// A shared screen's.
    pub fn screen() -> PayloadSizes {
        PayloadSizes {
            bytes: SCREEN_CHANGE_BYTES,
            keyframes: Some(Keyframes {
                every: SCREEN_KEYFRAME_EVERY,
                bytes: SCREEN_KEYFRAME_BYTES,
            }),
        }
    }

    /// The payload of frame `sequence`.
    pub fn of(&self, sequence: u32) -> usize {
        match self.keyframes {
            Some(key) if sequence % key.every.max(1) == 0 => key.bytes,
            _ => self.bytes,
        }
    }

    pub fn largest(&self) -> usize {
        self.keyframes
            .map_or(self.bytes, |key| key.bytes.max(self.bytes))
    }

    /// The mean payload over a long run of frames.
    pub fn mean(&self) -> f64 {
        match self.keyframes {
            Some(key) => {
                let every = f64::from(key.every.max(1));
                (key.bytes as f64 + (every - 1.0) * self.bytes as f64) / every
            }
            None => self.bytes as f64,
        }
    }
}

/// A screen sharer's traffic, as the kind table would say it.
pub fn screen_traffic() -> SimulatedTraffic {
    SimulatedTraffic {
        payload_bytes: SCREEN_CHANGE_BYTES,
        frames_per_second: SCREEN_FRAMES_PER_SECOND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_screen_starts_with_a_keyframe_and_refreshes_every_ten_seconds() {
        let screen = PayloadSizes::screen();
        assert_eq!(screen.of(0), 60_000);
        assert_eq!(screen.of(1), 3_000);
        assert_eq!(screen.of(79), 3_000);
        assert_eq!(screen.of(80), 60_000);
        let seconds = f64::from(SCREEN_KEYFRAME_EVERY) / SCREEN_FRAMES_PER_SECOND;
        assert_eq!(seconds, 10.0);
        assert_eq!(screen.largest(), 60_000);
        // 79 changes and one keyframe in 80 frames.
        assert_eq!(screen.mean(), (60_000.0 + 79.0 * 3_000.0) / 80.0);
    }

    #[test]
    fn other_kinds_send_one_size() {
        let audio = PayloadSizes::fixed(80);
        assert!((0..200).all(|s| audio.of(s) == 80));
        assert_eq!((audio.largest(), audio.mean()), (80, 80.0));
    }
}
