//! Who is heard in a meeting: the speaker selection. A meeting of sixteen is
//! one or two people talking and the rest listening, so the relay forwards
//! the voiced frames of the few loudest speakers only, as Jitsi's bridge and
//! LiveKit do, and senders send nothing while they are silent (a keep-alive
//! a second).
//!
//! Each audio frame says whether its sender hears voice and how loud
//! (`common::VoiceLevel`, read from the header without decoding). The
//! selection keeps up to `slots + 1` *chosen* speakers, in the order they
//! were chosen:
//! - a receiver hears the first `slots` chosen that are not itself, so a
//!   member's own voice never takes one of its slots (the one beyond
//!   `slots` is heard only by the chosen);
//! - a speaker is chosen as soon as a place is free, so no word is cut at
//!   its start, and keeps its place while it speaks: it leaves when it says
//!   its talk spurt ended (a frame without voice) or after `RELEASE`
//!   without a voiced frame, so pauses between words do not cost it;
//! - a speaker waiting for a place takes the quietest chosen one's only
//!   after speaking for `DISPLACE_AFTER` and at least `DISPLACE_MARGIN_DB`
//!   louder: a cough or a door never steals a place, and nobody is cut for
//!   someone about as loud.
//!
//! Frames without voice from speakers not chosen (keep-alives) go to
//! everyone; frames that carry no level (older senders, the load generator,
//! raw peers) go to everyone and take no place: they count as always
//! speaking but cannot be ranked.

use common::{ClientId, MeetingId, VoiceLevel};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Speakers each receiver hears at once, unless the server is told otherwise.
pub const DEFAULT_SPEAKERS: usize = 3;
/// A chosen speaker keeps its place this long after its last voiced frame
/// (a sender's own detector already bridges the pauses between words).
const RELEASE: Duration = Duration::from_millis(600);
/// A waiting speaker must have spoken this long to displace a chosen one.
const DISPLACE_AFTER: Duration = Duration::from_secs(1);
/// ... and be this much louder than the quietest chosen one.
const DISPLACE_MARGIN_DB: f32 = 6.0;
/// Each frame moves a speaker's loudness this far towards its level: over
/// about ten frames.
const SMOOTHING: f32 = 0.1;
/// The most places a selection keeps (its `slots` plus one): a bound, so the
/// chosen fit in a small array handed out without allocating.
pub const MAX_CHOSEN: usize = 16;

/// One meeting's speaker selection, shared by its members' audio readers.
pub struct SpeakerSelection {
    slots: usize,
    talkers: Mutex<Talkers>,
}

/// Who receives one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    Nobody,
    /// The sender is the chosen beyond the slots: only the chosen hear it
    /// (each of them has a place free, its own).
    Chosen(ChosenIds),
}

impl Audience {
    pub fn includes(&self, receiver: ClientId) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Nobody => false,
            Audience::Chosen(chosen) => chosen.contains(receiver),
        }
    }
}

/// The first `slots` chosen speakers, without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChosenIds {
    ids: [ClientId; MAX_CHOSEN],
    len: usize,
}

impl ChosenIds {
    fn contains(&self, id: ClientId) -> bool {
        self.ids[..self.len].contains(&id)
    }
}

#[derive(Default)]
struct Talkers {
    /// In the order they were chosen.
    chosen: Vec<Talker>,
    /// Voiced recently but not chosen.
    waiting: Vec<Talker>,
}

#[derive(Clone, Copy, Debug)]
struct Talker {
    id: ClientId,
    /// The level in dBFS, smoothed over frames.
    loudness: f32,
    /// When this talk spurt began.
    since: Instant,
    last_voice: Instant,
}

impl SpeakerSelection {
    /// A selection in which each receiver hears `slots` speakers; 0 hears
    /// everyone (no selection).
    pub fn new(slots: usize) -> SpeakerSelection {
        SpeakerSelection {
            slots: slots.min(MAX_CHOSEN - 1),
            talkers: Mutex::new(Talkers::default()),
        }
    }

    /// One audio frame from `sender` with the level it carries (`None`:
    /// none), at `now`: who receives it.
    pub fn frame(&self, sender: ClientId, level: Option<VoiceLevel>, now: Instant) -> Audience {
        let Some(level) = level.filter(|_| self.slots > 0) else {
            return Audience::Everyone;
        };
        let mut talkers = common::sync::lock(&self.talkers);
        talkers.expire(now);
        if level.voice {
            talkers.heard(sender, level.dbfs(), now);
            talkers.choose(self.slots, now);
        }
        let audience = match talkers.place_of(sender) {
            Some(place) if place < self.slots => Audience::Everyone,
            Some(_) => Audience::Chosen(talkers.first_chosen(self.slots)),
            None if level.voice => Audience::Nobody,
            None => Audience::Everyone,
        };
        if !level.voice {
            // The end of a talk spurt: its place is free at once.
            talkers.leave(sender);
            talkers.choose(self.slots, now);
        }
        audience
    }

    /// Only `members` are in the meeting now: the others' places are free.
    pub fn keep_only(&self, members: &[ClientId]) {
        let mut talkers = common::sync::lock(&self.talkers);
        talkers.chosen.retain(|t| members.contains(&t.id));
        talkers.waiting.retain(|t| members.contains(&t.id));
    }

    /// The chosen speakers now, in the order they were chosen (for the
    /// tests and `/metrics`).
    pub fn chosen(&self) -> Vec<ClientId> {
        let talkers = common::sync::lock(&self.talkers);
        talkers.chosen.iter().map(|t| t.id).collect()
    }
}

/// Every meeting's selection, as the registry keeps them: made with the
/// meeting's first route, dropped with its last member.
pub struct Selections {
    slots: usize,
    meetings: Mutex<HashMap<MeetingId, Arc<SpeakerSelection>>>,
}

impl Default for Selections {
    fn default() -> Selections {
        Selections::new(DEFAULT_SPEAKERS)
    }
}

impl Selections {
    pub fn new(slots: usize) -> Selections {
        Selections {
            slots,
            meetings: Mutex::default(),
        }
    }

    /// `meeting`'s selection, made if it has none yet.
    pub fn of(&self, meeting: &MeetingId) -> Arc<SpeakerSelection> {
        let mut meetings = common::sync::lock(&self.meetings);
        meetings
            .entry(meeting.clone())
            .or_insert_with(|| Arc::new(SpeakerSelection::new(self.slots)))
            .clone()
    }

    /// `meeting` has these `members` now (none: it is gone).
    pub fn members(&self, meeting: &MeetingId, members: &[ClientId]) {
        let mut meetings = common::sync::lock(&self.meetings);
        if members.is_empty() {
            meetings.remove(meeting);
        } else if let Some(selection) = meetings.get(meeting) {
            selection.keep_only(members);
        }
    }
}

impl Talkers {
    fn place_of(&self, id: ClientId) -> Option<usize> {
        self.chosen.iter().position(|t| t.id == id)
    }

    fn first_chosen(&self, slots: usize) -> ChosenIds {
        let mut ids = ChosenIds {
            ids: [ClientId(0); MAX_CHOSEN],
            len: 0,
        };
        for talker in self.chosen.iter().take(slots) {
            ids.ids[ids.len] = talker.id;
            ids.len += 1;
        }
        ids
    }

    /// Speakers silent for `RELEASE` give up their place (or their wait).
    fn expire(&mut self, now: Instant) {
        let live = |t: &Talker| now.saturating_duration_since(t.last_voice) <= RELEASE;
        self.chosen.retain(live);
        self.waiting.retain(live);
    }

    fn leave(&mut self, id: ClientId) {
        self.chosen.retain(|t| t.id != id);
        self.waiting.retain(|t| t.id != id);
    }

    /// A voiced frame of `dbfs` from `id`.
    fn heard(&mut self, id: ClientId, dbfs: f32, now: Instant) {
        let known = self.chosen.iter_mut().chain(self.waiting.iter_mut());
        if let Some(talker) = known.into_iter().find(|t| t.id == id) {
            talker.loudness += SMOOTHING * (dbfs - talker.loudness);
            talker.last_voice = now;
            return;
        }
        self.waiting.push(Talker {
            id,
            loudness: dbfs,
            since: now,
            last_voice: now,
        });
    }

    /// Fills free places with the loudest waiting, then lets a waiting
    /// speaker that has spoken long and much louder take the quietest
    /// chosen one's place.
    fn choose(&mut self, slots: usize, now: Instant) {
        while self.chosen.len() < slots + 1 {
            let Some(loudest) = loudest(&self.waiting) else {
                return;
            };
            let talker = self.waiting.swap_remove(loudest);
            self.chosen.push(talker);
        }
        let Some(challenger) = loudest(&self.waiting) else {
            return;
        };
        let Some(quietest) = quietest(&self.chosen) else {
            return;
        };
        let spoke_long =
            now.saturating_duration_since(self.waiting[challenger].since) >= DISPLACE_AFTER;
        let louder = self.waiting[challenger].loudness
            >= self.chosen[quietest].loudness + DISPLACE_MARGIN_DB;
        if spoke_long && louder {
            let displaced = self.chosen.remove(quietest);
            let talker = self.waiting.swap_remove(challenger);
            self.chosen.push(talker);
            self.waiting.push(Talker {
                // It waits anew: it must speak long to come back the same way.
                since: now,
                ..displaced
            });
        }
    }
}

fn loudest(talkers: &[Talker]) -> Option<usize> {
    (0..talkers.len()).max_by(|&a, &b| talkers[a].loudness.total_cmp(&talkers[b].loudness))
}

fn quietest(talkers: &[Talker]) -> Option<usize> {
    (0..talkers.len()).min_by(|&a, &b| talkers[a].loudness.total_cmp(&talkers[b].loudness))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(20);

    fn voice(dbfs: f32) -> Option<VoiceLevel> {
        Some(VoiceLevel::from_dbfs(true, dbfs))
    }

    fn quiet() -> Option<VoiceLevel> {
        Some(VoiceLevel::from_dbfs(false, -70.0))
    }

    fn hears(audience: Audience, receiver: u32) -> bool {
        audience.includes(ClientId(receiver))
    }

    #[test]
    fn a_few_speakers_are_heard_by_everyone() {
        let selection = SpeakerSelection::new(3);
        let now = Instant::now();
        for id in 1..=3 {
            assert_eq!(
                selection.frame(ClientId(id), voice(-20.0), now),
                Audience::Everyone
            );
        }
        assert_eq!(
            selection.chosen(),
            vec![ClientId(1), ClientId(2), ClientId(3)]
        );
    }

    #[test]
    fn the_speaker_beyond_the_slots_is_heard_only_by_the_chosen() {
        let selection = SpeakerSelection::new(3);
        let now = Instant::now();
        for id in 1..=3 {
            selection.frame(ClientId(id), voice(-20.0), now);
        }
        // Speaker 4 is chosen beyond the slots: 1 to 3 each hear it in the
        // place their own voice leaves free; listener 9 hears 1 to 3.
        let fourth = selection.frame(ClientId(4), voice(-20.0), now);
        assert!(hears(fourth, 1) && hears(fourth, 2) && hears(fourth, 3));
        assert!(!hears(fourth, 9));
        // A fifth waits: nobody hears it yet.
        assert_eq!(
            selection.frame(ClientId(5), voice(-20.0), now),
            Audience::Nobody
        );
    }

    #[test]
    fn a_pause_between_words_keeps_the_place_and_an_ended_spurt_frees_it() {
        let selection = SpeakerSelection::new(1);
        let start = Instant::now();
        selection.frame(ClientId(1), voice(-20.0), start);
        selection.frame(ClientId(2), voice(-20.0), start);
        // 3 waits while 1 pauses for half a second between words.
        let later = start + Duration::from_millis(500);
        assert_eq!(
            selection.frame(ClientId(3), voice(-20.0), later),
            Audience::Nobody
        );
        assert_eq!(
            selection.frame(ClientId(1), voice(-20.0), later),
            Audience::Everyone
        );
        // 1 says its spurt ended: that frame is still heard, then 2 moves up
        // and 3 is chosen beyond.
        assert_eq!(
            selection.frame(ClientId(1), quiet(), later + FRAME),
            Audience::Everyone
        );
        assert_eq!(selection.chosen(), vec![ClientId(2), ClientId(3)]);
    }

    #[test]
    fn silence_longer_than_the_release_frees_the_place() {
        let selection = SpeakerSelection::new(1);
        let start = Instant::now();
        selection.frame(ClientId(1), voice(-20.0), start);
        selection.frame(ClientId(2), voice(-20.0), start);
        let after = start + RELEASE + FRAME;
        assert_eq!(
            selection.frame(ClientId(3), voice(-20.0), after),
            Audience::Everyone
        );
    }

    #[test]
    fn a_short_loud_noise_steals_no_place_but_a_long_louder_voice_does() {
        let selection = SpeakerSelection::new(1);
        let start = Instant::now();
        let mut now = start;
        // 1 and 2 speak quietly and on; 3 is much louder.
        let mut heard_3 = false;
        while now < start + DISPLACE_AFTER + Duration::from_millis(200) {
            selection.frame(ClientId(1), voice(-40.0), now);
            selection.frame(ClientId(2), voice(-40.0), now);
            let audience = selection.frame(ClientId(3), voice(-10.0), now);
            if now < start + DISPLACE_AFTER {
                assert_eq!(audience, Audience::Nobody, "stolen after {:?}", now - start);
            }
            heard_3 |= audience != Audience::Nobody;
            now += FRAME;
        }
        assert!(heard_3, "a much louder voice that went on was never heard");
        assert!(selection.chosen().contains(&ClientId(3)));
    }

    #[test]
    fn keep_alives_and_older_senders_reach_everyone_and_take_no_place() {
        let selection = SpeakerSelection::new(1);
        let now = Instant::now();
        selection.frame(ClientId(1), voice(-20.0), now);
        selection.frame(ClientId(2), voice(-20.0), now);
        assert_eq!(
            selection.frame(ClientId(3), quiet(), now),
            Audience::Everyone
        );
        assert_eq!(selection.frame(ClientId(4), None, now), Audience::Everyone);
        assert_eq!(selection.chosen(), vec![ClientId(1), ClientId(2)]);
    }

    #[test]
    fn without_slots_everyone_hears_everyone() {
        let selection = SpeakerSelection::new(0);
        let now = Instant::now();
        for id in 1..=8 {
            assert_eq!(
                selection.frame(ClientId(id), voice(-20.0), now),
                Audience::Everyone
            );
        }
    }

    #[test]
    fn members_who_left_give_up_their_places() {
        let selection = SpeakerSelection::new(1);
        let now = Instant::now();
        selection.frame(ClientId(1), voice(-20.0), now);
        selection.frame(ClientId(2), voice(-20.0), now);
        selection.keep_only(&[ClientId(2), ClientId(3)]);
        assert_eq!(selection.chosen(), vec![ClientId(2)]);
    }
}
