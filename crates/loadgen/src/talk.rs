//! Turn-taking (`--talkers K --turn D`): who talks when, and what each
//! member's audio socket sends at each 20 ms tick, as a client with a voice
//! detector and DTX sends: voiced frames while it talks, one frame without
//! voice when its talk spurt ends, and a keep-alive about once a second while
//! it is silent. Each frame's voice and level go in the media header's
//! sender field (`common::VoiceLevel`), where the server's speaker selection
//! reads them.
//!
//! Pure: times are durations since the run started, so the schedule is tested
//! without clocks or sockets.

use common::VoiceLevel;
use std::time::Duration;

/// After the turn passes, the new talkers start this much later: a real
/// conversation has a gap, and it lets the server free the old talkers' places.
pub const TURN_GAP: Duration = Duration::from_millis(60);
/// A silent member sends a keep-alive this often.
pub const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(1);
/// The shortest `--turn`: longer than the gap, with room for some speech.
pub const SHORTEST_TURN: Duration = Duration::from_millis(200);

/// Levels, in dB below full scale: speech, the fading end of a talk spurt,
/// and a quiet room.
const TALKING_LEVEL: u8 = 20;
const END_LEVEL: u8 = 60;
const KEEP_ALIVE_LEVEL: u8 = 90;

/// The command line's turn-taking: `talkers` of each meeting talk at once,
/// and every `turn` the next `talkers` members (round robin) take over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TurnTaking {
    pub talkers: usize,
    pub turn: Duration,
}

impl TurnTaking {
    /// The schedule of meeting `meeting` (of `meetings`), which has `members`.
    /// Meetings pass their turns at different moments, spread over one turn
    /// as independent conversations would, so the server does not see every
    /// meeting change speakers at the same instant.
    pub fn schedule(&self, meeting: usize, meetings: usize, members: usize) -> Schedule {
        let spread = meeting as f64 / meetings.max(1) as f64;
        Schedule {
            members: members.max(1),
            talkers: self.talkers,
            turn_ns: self.turn.as_nanos().max(1),
            offset: self.turn.mul_f64(spread),
        }
    }
}

/// Who talks when in one meeting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    members: usize,
    talkers: usize,
    turn_ns: u128,
    /// How far into its turns the meeting is at the start of the run.
    offset: Duration,
}

impl Schedule {
    /// Whether `slot` is one of the talkers of turn number `turn`: turn j's
    /// are slots jK to jK+K-1, counted round the meeting.
    pub fn talks_in(&self, slot: usize, turn: u64) -> bool {
        if self.talkers >= self.members {
            return true;
        }
        let n = self.members as u64;
        let first = (turn % n) * self.talkers as u64 % n;
        (slot as u64 + n - first) % n < self.talkers as u64
    }

    /// The turn under way at `at`, and how far into it.
    fn turn_at(&self, at: Duration) -> (u64, Duration) {
        let t = (at + self.offset).as_nanos();
        let turn = (t / self.turn_ns) as u64;
        let into = Duration::from_nanos((t % self.turn_ns) as u64);
        (turn, into)
    }

    /// Whether `slot` is talking at `at`: in its turn, once the gap after the
    /// turn passed is over; from the turn's start if it talked in the turn
    /// before too (one who keeps the floor does not pause).
    pub fn talking(&self, slot: usize, at: Duration) -> bool {
        let (turn, into) = self.turn_at(at);
        let kept_the_floor = turn > 0 && self.talks_in(slot, turn - 1);
        self.talks_in(slot, turn) && (into >= TURN_GAP || kept_the_floor)
    }
}

/// What one audio frame says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Utterance {
    /// Speech.
    Voiced,
    /// The last frame of a talk spurt, without voice: the server frees the
    /// talker's place at once.
    End,
    /// A silent member's sign of life.
    KeepAlive,
}

impl Utterance {
    pub fn level(self) -> VoiceLevel {
        let (voice, below_full_scale) = match self {
            Utterance::Voiced => (true, TALKING_LEVEL),
            Utterance::End => (false, END_LEVEL),
            Utterance::KeepAlive => (false, KEEP_ALIVE_LEVEL),
        };
        VoiceLevel {
            voice,
            below_full_scale,
        }
    }
}

/// One member's microphone, as its audio sender sees it tick by tick.
#[derive(Clone, Debug)]
pub struct Voice {
    schedule: Schedule,
    slot: usize,
    talking: bool,
    last_sent: Option<Duration>,
}

impl Voice {
    pub fn new(schedule: Schedule, slot: usize) -> Voice {
        Voice {
            schedule,
            slot,
            talking: false,
            last_sent: None,
        }
    }

    /// What the member sends at the tick `at` (None: nothing); what it
    /// returns counts as sent. Ticks come in order.
    pub fn at(&mut self, at: Duration) -> Option<Utterance> {
        let was_talking = self.talking;
        self.talking = self.schedule.talking(self.slot, at);
        let utterance = if self.talking {
            Utterance::Voiced
        } else if was_talking {
            Utterance::End
        } else if self
            .last_sent
            .is_none_or(|last| at.saturating_sub(last) >= KEEP_ALIVE_EVERY)
        {
            Utterance::KeepAlive
        } else {
            return None;
        };
        self.last_sent = Some(at);
        Some(utterance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(20);

    fn talk(talkers: usize, turn_ms: u64) -> TurnTaking {
        TurnTaking {
            talkers,
            turn: Duration::from_millis(turn_ms),
        }
    }

    fn talkers_of(schedule: &Schedule, members: usize, turn: u64) -> Vec<usize> {
        (0..members)
            .filter(|&s| schedule.talks_in(s, turn))
            .collect()
    }

    #[test]
    fn the_turn_passes_round_the_meeting_k_members_at_a_time() {
        let s = talk(2, 3000).schedule(0, 1, 16);
        assert_eq!(talkers_of(&s, 16, 0), [0, 1]);
        assert_eq!(talkers_of(&s, 16, 1), [2, 3]);
        assert_eq!(talkers_of(&s, 16, 7), [14, 15]);
        assert_eq!(talkers_of(&s, 16, 8), [0, 1], "and round again");
        // Five members, two talkers: the pairs wrap round the end.
        let s = talk(2, 3000).schedule(0, 1, 5);
        assert_eq!(talkers_of(&s, 5, 2), [0, 4]);
        assert_eq!(talkers_of(&s, 5, 3), [1, 2]);
        assert_eq!(talkers_of(&s, 5, u64::MAX), talkers_of(&s, 5, u64::MAX % 5));
        // As many talkers as members: everyone, always.
        let s = talk(3, 3000).schedule(0, 1, 3);
        assert_eq!(talkers_of(&s, 3, 9), [0, 1, 2]);
    }

    #[test]
    fn new_talkers_wait_for_the_gap_and_meetings_turn_at_different_moments() {
        let s = talk(2, 3000).schedule(0, 1, 16);
        let ms = Duration::from_millis;
        assert!(
            !s.talking(0, ms(0)),
            "the first turn starts with the gap too"
        );
        assert!(s.talking(0, ms(60)) && s.talking(1, ms(2999)));
        assert!(!s.talking(1, ms(3000)) && !s.talking(2, ms(3000)));
        assert!(!s.talking(2, ms(3059)) && s.talking(2, ms(3060)));
        // The second of four meetings is a quarter of a turn ahead.
        let s = talk(2, 4000).schedule(1, 4, 16);
        assert!(s.talking(0, ms(0)) && !s.talking(0, ms(3000)));
        assert!(s.talking(2, ms(3060)));
    }

    #[test]
    fn one_who_keeps_the_floor_does_not_pause_at_the_turn() {
        // Three members, two talkers: 0 talks in turns 0 and 1.
        let s = talk(2, 1000).schedule(0, 1, 3);
        assert!(s.talks_in(0, 0) && s.talks_in(0, 1));
        let ms = Duration::from_millis;
        assert!(s.talking(0, ms(1000)) && s.talking(0, ms(1020)));
        assert!(!s.talking(2, ms(1020)), "the newcomer waits for the gap");
    }

    /// What `slot` sends at every tick of the first `ms` milliseconds.
    fn ticks(schedule: Schedule, slot: usize, ms: u64) -> Vec<(u64, Utterance)> {
        let mut voice = Voice::new(schedule, slot);
        (0..ms / 20)
            .filter_map(|n| voice.at(TICK * n as u32).map(|u| (n * 20, u)))
            .collect()
    }

    #[test]
    fn a_talker_speaks_every_tick_then_ends_its_spurt_with_one_unvoiced_frame() {
        let sent = ticks(talk(2, 1000).schedule(0, 1, 8), 1, 3000);
        assert_eq!(sent[0], (0, Utterance::KeepAlive), "silent in the gap");
        let voiced: Vec<u64> = sent
            .iter()
            .filter(|(_, u)| *u == Utterance::Voiced)
            .map(|(t, _)| *t)
            .collect();
        // From the gap to the turn's end: (1000 - 60) / 20 ticks.
        assert_eq!(voiced.first(), Some(&60));
        assert_eq!(voiced.last(), Some(&980));
        assert_eq!(voiced.len(), 47);
        let rest: Vec<(u64, Utterance)> = sent.into_iter().filter(|(t, _)| *t > 980).collect();
        assert_eq!(
            rest,
            [(1000, Utterance::End), (2000, Utterance::KeepAlive)],
            "the end of its spurt, then a keep-alive a second later"
        );
    }

    #[test]
    fn a_silent_member_sends_a_keep_alive_a_second_until_its_turn() {
        let sent = ticks(talk(2, 3000).schedule(0, 1, 8), 2, 3100);
        assert_eq!(
            sent,
            [
                (0, Utterance::KeepAlive),
                (1000, Utterance::KeepAlive),
                (2000, Utterance::KeepAlive),
                (3000, Utterance::KeepAlive),
                (3060, Utterance::Voiced),
                (3080, Utterance::Voiced),
            ]
        );
    }

    #[test]
    fn each_utterance_carries_its_level_in_the_sender_field() {
        let field = Utterance::Voiced.level().to_sender_field();
        assert_eq!(
            VoiceLevel::from_sender_field(field),
            Some(VoiceLevel {
                voice: true,
                below_full_scale: 20
            })
        );
        assert!(!Utterance::End.level().voice);
        assert!(!Utterance::KeepAlive.level().voice);
        assert!(
            Utterance::KeepAlive.level().below_full_scale > Utterance::End.level().below_full_scale
        );
    }
}
