//! The voice gate: which of our audio frames go out, and the level each
//! carries (`common::VoiceLevel`, which the server ranks speakers by).
//!
//! A quiet room is not sent (for PCM and Opus alike: no frames, not
//! frames of silence), which is most of what a meeting of sixteen used to
//! cost. The gate opens on the first frame above `SPEAKING_DBFS`, the level
//! the view's "speaking" highlight uses, and sends the frame before it too,
//! so a soft first syllable is not cut. It stays open `HANGOVER` after the
//! last loud frame, so the pauses between words go out as they are; then
//! one frame without voice says the talk spurt ended (the server frees the
//! place at once) and the gate closes. While it is closed, a frame goes out
//! every `KEEP_ALIVE` so receivers and the server know we are still there.
//!
//! Receivers play the pause as silence, not as loss: the last frames
//! before it are quiet, and a jitter buffer that runs dry after quiet
//! frames pauses instead of concealing (`playback::jitter`).

use crate::level::is_speech;
use common::VoiceLevel;
use std::time::Duration;

/// How long the gate stays open after the last loud frame.
pub const HANGOVER: Duration = Duration::from_millis(400);
/// How often a closed gate lets one frame through.
pub const KEEP_ALIVE: Duration = Duration::from_secs(1);

/// What to do with one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// Send it with this level.
    Send(VoiceLevel),
    /// The gate just opened: send the frame before this one first (it was
    /// held back), then this one, both with this level.
    SendAfterPrevious(VoiceLevel),
    /// Silence: send nothing.
    Hold,
}

/// The gate of one audio source, fed every frame in order.
#[derive(Debug)]
pub struct VoiceGate {
    frame: Duration,
    open: bool,
    /// Time left of the hangover while open.
    hangover_left: Duration,
    /// Time since a frame last went out while closed.
    closed_for: Duration,
    /// The last frame was held back (so it can lead the next one in).
    previous_held: bool,
}

impl VoiceGate {
    /// A closed gate for frames of `frame` each.
    pub fn new(frame: Duration) -> VoiceGate {
        VoiceGate {
            frame,
            open: false,
            hangover_left: Duration::ZERO,
            // The first frame goes out: receivers learn we are here at once.
            closed_for: KEEP_ALIVE,
            previous_held: false,
        }
    }

    /// Whether a frame whose RMS is `dbfs` goes out.
    pub fn pass(&mut self, dbfs: f32) -> Pass {
        let loud = is_speech(dbfs);
        let pass = if loud {
            self.hangover_left = HANGOVER;
            let voice = VoiceLevel::from_dbfs(true, dbfs);
            if !self.open && self.previous_held {
                Pass::SendAfterPrevious(voice)
            } else {
                Pass::Send(voice)
            }
        } else if self.open && self.hangover_left > self.frame {
            self.hangover_left -= self.frame;
            Pass::Send(VoiceLevel::from_dbfs(true, dbfs))
        } else if self.open || self.closed_for >= KEEP_ALIVE {
            // The end of a spurt, or a keep-alive.
            self.closed_for = Duration::ZERO;
            Pass::Send(VoiceLevel::from_dbfs(false, dbfs))
        } else {
            Pass::Hold
        };
        self.open = loud || (self.open && matches!(pass, Pass::Send(level) if level.voice));
        self.closed_for += self.frame;
        self.previous_held = pass == Pass::Hold;
        pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(10);
    const LOUD: f32 = -20.0;
    const QUIET: f32 = -70.0;

    fn run(gate: &mut VoiceGate, dbfs: f32, frames: usize) -> Vec<Pass> {
        (0..frames).map(|_| gate.pass(dbfs)).collect()
    }

    fn sent(passes: &[Pass]) -> usize {
        passes.iter().filter(|p| **p != Pass::Hold).count()
    }

    #[test]
    fn a_quiet_room_sends_a_keep_alive_a_second() {
        let mut gate = VoiceGate::new(FRAME);
        let passes = run(&mut gate, QUIET, 1000);
        // Ten seconds: the first frame, then one a second.
        assert_eq!(sent(&passes), 10);
        assert!(passes.iter().all(|p| match p {
            Pass::Send(level) => !level.voice,
            Pass::SendAfterPrevious(_) => false,
            Pass::Hold => true,
        }));
    }

    #[test]
    fn speech_goes_out_whole_with_the_frame_before_it_and_its_pauses() {
        let mut gate = VoiceGate::new(FRAME);
        run(&mut gate, QUIET, 50);
        let onset = gate.pass(LOUD);
        assert!(matches!(onset, Pass::SendAfterPrevious(level) if level.voice));
        run(&mut gate, LOUD, 20);
        // A 300 ms pause between words goes out, marked as voice.
        let pause = run(&mut gate, QUIET, 30);
        assert_eq!(sent(&pause), 30);
        assert!(matches!(gate.pass(LOUD), Pass::Send(level) if level.voice));
    }

    #[test]
    fn after_the_hangover_one_frame_ends_the_spurt_and_the_gate_closes() {
        let mut gate = VoiceGate::new(FRAME);
        run(&mut gate, LOUD, 10);
        let after = run(&mut gate, QUIET, 100);
        let voiced = after
            .iter()
            .take_while(|p| matches!(p, Pass::Send(level) if level.voice))
            .count();
        assert_eq!(voiced, 39, "the hangover: 400 ms less the last frame");
        assert!(matches!(after[voiced], Pass::Send(level) if !level.voice));
        assert!(after[voiced + 1..].iter().all(|p| *p == Pass::Hold));
    }

    #[test]
    fn the_level_is_the_frames_own() {
        let mut gate = VoiceGate::new(FRAME);
        match gate.pass(-23.4) {
            Pass::Send(level) | Pass::SendAfterPrevious(level) => {
                assert_eq!(level.below_full_scale, 23);
                assert!(level.voice);
            }
            Pass::Hold => panic!("a loud first frame was held"),
        }
    }
}
