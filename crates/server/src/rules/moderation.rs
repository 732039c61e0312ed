//! Who gets in, and what the host may do about those who are in: passcodes
//! (private meetings), locking, removing, stopping a member's media, handing
//! the host role over. Joins that fail are limited per connection and per
//! address, so guessing a meeting id or a passcode gets nowhere.

use super::budget::{ADDRESS_FAILED_JOIN_BURST, ADDRESS_FAILED_JOINS_PER_SECOND, TokenBucket};
use super::{Effect, Holder, MeetingRules};
use common::protocol::MAX_MEETING_MEMBERS;
use common::{ClientId, Event, MediaKind, MeetingId};
use std::time::Instant;

/// Longest passcode, in characters.
pub const MAX_PASSCODE_CHARS: usize = 64;
/// Addresses whose failed joins are remembered at once; beyond it, the ones
/// that have recovered are forgotten first.
const REMEMBERED_ADDRESSES: usize = 10_000;

pub fn validate_passcode(passcode: &str) -> Result<String, String> {
    let chars = passcode.chars().count();
    if chars == 0 || chars > MAX_PASSCODE_CHARS || passcode.chars().any(char::is_control) {
        return Err(format!(
            "a passcode is 1 to {MAX_PASSCODE_CHARS} characters, without control characters"
        ));
    }
    Ok(passcode.to_string())
}

/// Compares in time independent of where the passcodes differ.
fn same_passcode(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl MeetingRules {
    /// Decides whether `id` may join `requested` with `passcode`; the meeting
    /// if so. A meeting that does not exist and a wrong passcode get the same
    /// answer, so probing tells nothing, and both count as failed joins.
    pub(super) fn admit(
        &mut self,
        id: ClientId,
        requested: &str,
        passcode: Option<&str>,
    ) -> Result<MeetingId, String> {
        if let Some(meeting) = MeetingId::parse(requested)
            && self.meeting_of(id) == Some(&meeting)
        {
            return Err(format!("you are already in meeting {meeting}"));
        }
        self.ensure_not_in_meeting(id)?;
        let now = Instant::now();
        if !self.may_try_joining(id, now) {
            return Err(
                "too many failed joins: wait a few seconds before trying again".to_string(),
            );
        }
        let found = MeetingId::parse(requested).and_then(|meeting| {
            let m = self.meetings.get(&meeting)?;
            let opens = match (&m.passcode, passcode) {
                (None, _) => true,
                (Some(expected), Some(given)) => same_passcode(expected, given),
                (Some(_), None) => false,
            };
            opens.then_some(meeting)
        });
        let Some(meeting) = found else {
            self.failed_join(id, now);
            return Err(format!(
                "there is no meeting '{requested}' that you can join{} (ids look like k7m-q2x; /meetings lists the public ones)",
                if passcode.is_some() {
                    " with that passcode"
                } else {
                    ""
                }
            ));
        };
        let Some(m) = self.meetings.get(&meeting) else {
            return Err(format!("there is no meeting '{requested}'"));
        };
        if m.removed.contains(&id) {
            return Err(format!(
                "the host removed you from meeting {meeting}; only the host can let you back"
            ));
        }
        if m.turned_away.contains(&id) {
            return Err(format!(
                "the host did not let you into meeting {meeting}; only the host can let you ask again"
            ));
        }
        if m.locked {
            return Err(format!(
                "meeting {meeting} is locked: its host lets nobody new in"
            ));
        }
        if m.members.len() >= MAX_MEETING_MEMBERS {
            return Err(format!(
                "meeting {meeting} is full ({MAX_MEETING_MEMBERS} members)"
            ));
        }
        Ok(meeting)
    }

    /// A join of a meeting another server holds: `id` is told where, once
    /// the same checks as a join here let it ask (not in a meeting, not
    /// guessing too fast). Nothing changes here.
    pub(super) fn point_elsewhere(
        &mut self,
        id: ClientId,
        meeting: MeetingId,
        holder: Holder,
    ) -> Result<(), String> {
        self.ensure_not_in_meeting(id)?;
        if !self.may_try_joining(id, Instant::now()) {
            return Err(
                "too many failed joins: wait a few seconds before trying again".to_string(),
            );
        }
        self.tell(
            id,
            Event::MeetingElsewhere {
                meeting,
                server: holder.address,
                fingerprint: holder.fingerprint,
            },
        );
        Ok(())
    }

    pub(super) fn may_try_joining(&mut self, id: ClientId, now: Instant) -> bool {
        let Some(participant) = self.participants.get_mut(&id) else {
            return false;
        };
        let address = participant.address;
        participant.failed_joins.has_token(now)
            && address.is_none_or(|address| {
                self.failed_joins_by_address
                    .get_mut(&address)
                    .is_none_or(|bucket| bucket.has_token(now))
            })
    }

    pub(super) fn failed_join(&mut self, id: ClientId, now: Instant) {
        let Some(participant) = self.participants.get_mut(&id) else {
            return;
        };
        participant.failed_joins.take(now);
        let Some(address) = participant.address else {
            return;
        };
        if self.failed_joins_by_address.len() >= REMEMBERED_ADDRESSES {
            self.failed_joins_by_address
                .retain(|_, bucket| !bucket.is_full(now));
        }
        self.failed_joins_by_address
            .entry(address)
            .or_insert_with(|| {
                TokenBucket::new(ADDRESS_FAILED_JOIN_BURST, ADDRESS_FAILED_JOINS_PER_SECOND)
            })
            .take(now);
    }

    /// The meeting `id` hosts, or why it may not do what it asked.
    pub(super) fn hosted_by(&self, id: ClientId, what: &str) -> Result<MeetingId, String> {
        let meeting = self.current_meeting(id)?;
        match self.meetings.get(&meeting) {
            Some(m) if m.host == id => Ok(meeting),
            Some(m) => Err(format!(
                "only the host ({}) can {what}",
                self.member_ref(m.host).name
            )),
            None => Err(format!("there is no meeting {meeting}")),
        }
    }

    /// `member`, if it is in `meeting` and is not `host` itself.
    fn other_member(
        &self,
        meeting: &MeetingId,
        host: ClientId,
        member: ClientId,
    ) -> Result<(), String> {
        if member == host {
            return Err("that is you".to_string());
        }
        if !self.members(meeting).contains(&member) {
            return Err(format!(
                "{} is not in your meeting",
                self.label(member, meeting)
            ));
        }
        Ok(())
    }

    pub(super) fn set_passcode(
        &mut self,
        id: ClientId,
        passcode: Option<String>,
    ) -> Result<(), String> {
        let meeting = self.hosted_by(id, "set the passcode")?;
        let passcode = passcode.map(|p| validate_passcode(&p)).transpose()?;
        let private = passcode.is_some();
        if let Some(m) = self.meetings.get_mut(&meeting) {
            m.passcode.clone_from(&passcode);
        }
        // Only the host's copy carries the passcode.
        let others: Vec<ClientId> = self
            .members(&meeting)
            .iter()
            .copied()
            .filter(|&member| member != id)
            .collect();
        self.tell(
            id,
            Event::Privacy {
                meeting: meeting.clone(),
                private,
                passcode,
            },
        );
        self.tell_all(
            others,
            Event::Privacy {
                meeting,
                private,
                passcode: None,
            },
        );
        Ok(())
    }

    pub(super) fn lock(&mut self, id: ClientId, locked: bool) -> Result<(), String> {
        let meeting = self.hosted_by(id, "lock the meeting")?;
        if let Some(m) = self.meetings.get_mut(&meeting) {
            m.locked = locked;
        }
        let (members, by) = (self.members(&meeting).to_vec(), self.member_ref(id));
        self.tell_all(
            members,
            Event::Locked {
                meeting,
                locked,
                by,
            },
        );
        Ok(())
    }

    pub(super) fn remove(&mut self, id: ClientId, member: ClientId) -> Result<(), String> {
        let meeting = self.hosted_by(id, "remove members")?;
        self.other_member(&meeting, id, member)?;
        if let Some(m) = self.meetings.get_mut(&meeting) {
            m.removed.insert(member);
        }
        let by = self.member_ref(id);
        self.tell(
            member,
            Event::Removed {
                meeting: meeting.clone(),
                by,
            },
        );
        // The others see it leave, as any member that leaves.
        self.depart(member);
        Ok(())
    }

    /// Whether the host stopped `id`'s `kind` in its meeting.
    pub fn blocked(&self, id: ClientId, kind: MediaKind) -> bool {
        self.meeting_of(id)
            .and_then(|meeting| self.meetings.get(meeting))
            .and_then(|m| m.blocked.get(&id))
            .is_some_and(|kinds| kinds[kind])
    }

    pub(super) fn block(
        &mut self,
        id: ClientId,
        member: Option<ClientId>,
        kind: MediaKind,
    ) -> Result<(), String> {
        let meeting = self.hosted_by(id, "stop members' media")?;
        let targets = match member {
            Some(member) => {
                self.other_member(&meeting, id, member)?;
                vec![member]
            }
            // "Mute everyone": every member but the host.
            None => self
                .members(&meeting)
                .iter()
                .copied()
                .filter(|&m| m != id)
                .collect(),
        };
        for target in targets {
            self.set_blocked(&meeting, target, kind, true);
            if self
                .participants
                .get(&target)
                .is_some_and(|p| p.sharing[kind])
            {
                // Off for everyone, as if it had stopped sharing itself.
                let _ = self.set_sharing(target, kind, false);
            }
        }
        self.effects.push(Effect::Reroute(meeting));
        Ok(())
    }

    pub(super) fn allow(
        &mut self,
        id: ClientId,
        member: ClientId,
        kind: Option<MediaKind>,
    ) -> Result<(), String> {
        let meeting = self.hosted_by(id, "allow members")?;
        match kind {
            None => {
                let was_kept_out = self.meetings.get_mut(&meeting).is_some_and(|m| {
                    // Either, or both: `|` tries both.
                    m.removed.remove(&member) | m.turned_away.remove(&member)
                });
                if !was_kept_out {
                    let who = self.label(member, &meeting);
                    let stopped: Vec<&str> = MediaKind::ALL
                        .into_iter()
                        .filter(|&kind| self.blocked(member, kind))
                        .map(MediaKind::name)
                        .collect();
                    return Err(match stopped.first() {
                        Some(kind) => format!(
                            "{who} was neither removed nor turned away; what you stopped ({}) comes back with /allow {who} {kind}",
                            stopped.join(", ")
                        ),
                        None => format!(
                            "{who} was neither removed nor turned away, and nothing of theirs is stopped: there is nothing to allow"
                        ),
                    });
                }
                Ok(())
            }
            Some(kind) => {
                self.other_member(&meeting, id, member)?;
                if !self.blocked(member, kind) {
                    return Err(format!(
                        "{}'s {kind} is not stopped",
                        self.label(member, &meeting)
                    ));
                }
                self.set_blocked(&meeting, member, kind, false);
                self.effects.push(Effect::Reroute(meeting));
                Ok(())
            }
        }
    }

    fn set_blocked(
        &mut self,
        meeting: &MeetingId,
        member: ClientId,
        kind: MediaKind,
        blocked: bool,
    ) {
        let Some(m) = self.meetings.get_mut(meeting) else {
            return;
        };
        let kinds = m.blocked.entry(member).or_default();
        if kinds[kind] == blocked {
            return;
        }
        kinds[kind] = blocked;
        let (members, member) = (self.members(meeting).to_vec(), self.member_ref(member));
        self.tell_all(
            members,
            Event::Blocked {
                meeting: meeting.clone(),
                member,
                kind,
                blocked,
            },
        );
    }

    pub(super) fn make_host(&mut self, id: ClientId, member: ClientId) -> Result<(), String> {
        let meeting = self.hosted_by(id, "hand the host role over")?;
        self.other_member(&meeting, id, member)?;
        if let Some(m) = self.meetings.get_mut(&meeting) {
            m.host = member;
        }
        let (members, host) = (self.members(&meeting).to_vec(), self.member_ref(member));
        self.tell_all(
            members,
            Event::HostChanged {
                meeting: meeting.clone(),
                host,
            },
        );
        self.tell_new_host_who_waits(&meeting);
        self.tell_new_host_the_passcode(&meeting);
        Ok(())
    }

    /// A new host of a private meeting hears its passcode, to pass on with
    /// the id as the host who set it could.
    pub(super) fn tell_new_host_the_passcode(&mut self, meeting: &MeetingId) {
        let Some(m) = self.meetings.get(meeting) else {
            return;
        };
        if let Some(passcode) = m.passcode.clone() {
            let host = m.host;
            self.tell(
                host,
                Event::Privacy {
                    meeting: meeting.clone(),
                    private: true,
                    passcode: Some(passcode),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::told;
    use super::*;
    use common::Request;

    /// The passcodes `who` is told in `effects`, in order: `Some` where the
    /// event carried it, `None` where it only said one is needed.
    fn passcodes_told(rules: &mut MeetingRules, who: ClientId) -> Vec<Option<String>> {
        told(&rules.take_effects(), who)
            .into_iter()
            .filter_map(|e| match e {
                Event::Created { passcode, .. } => Some(passcode.clone()),
                Event::Privacy {
                    private: true,
                    passcode,
                    ..
                } => Some(passcode.clone()),
                _ => None,
            })
            .collect()
    }

    /// The host passes the passcode on with the id, so the host (and only
    /// the host, a new one too) is told it; a member learns one is needed.
    #[test]
    fn the_host_is_told_the_passcode_and_a_member_that_one_is_needed() {
        let mut rules = MeetingRules::default();
        let [ana, bo, cy] = [ClientId(1), ClientId(2), ClientId(3)];
        for (id, name) in [(ana, "ana"), (bo, "bo"), (cy, "cy")] {
            rules.arrive(id, name.to_string(), None);
        }
        rules.handle(
            ana,
            Request::Create {
                passcode: Some("hunter2".into()),
            },
        );
        assert_eq!(passcodes_told(&mut rules, ana), [Some("hunter2".into())]);
        let meeting = rules.meeting_of(ana).cloned().expect("created");
        rules.handle(
            bo,
            Request::Join {
                meeting: meeting.to_string(),
                passcode: Some("hunter2".into()),
            },
        );
        assert_eq!(passcodes_told(&mut rules, bo), [None]);

        rules.handle(
            ana,
            Request::Passcode {
                passcode: Some("swordfish".into()),
            },
        );
        let effects = rules.take_effects();
        let privacy = |who| {
            told(&effects, who)
                .into_iter()
                .filter_map(|e| match e {
                    Event::Privacy { passcode, .. } => Some(passcode.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(privacy(ana), [Some("swordfish".into())]);
        assert_eq!(privacy(bo), [None]);

        rules.handle(ana, Request::MakeHost { member: bo });
        assert_eq!(passcodes_told(&mut rules, bo), [Some("swordfish".into())]);
        rules.handle(
            cy,
            Request::Join {
                meeting: meeting.to_string(),
                passcode: Some("swordfish".into()),
            },
        );
        rules.take_effects();
        // The host leaves: the member there longest (ana) is host again.
        rules.handle(bo, Request::Leave);
        let effects = rules.take_effects();
        assert!(
            told(&effects, ana).iter().any(|e| matches!(e,
                Event::Privacy { passcode: Some(p), .. } if p == "swordfish")),
            "{effects:?}"
        );
        assert!(
            !told(&effects, cy)
                .iter()
                .any(|e| matches!(e, Event::Privacy { .. })),
            "{effects:?}"
        );
    }

    /// The error `who` is told in `effects`.
    fn error_to(effects: &[Effect], who: ClientId) -> String {
        told(effects, who)
            .into_iter()
            .find_map(|e| match e {
                Event::Error { message } => Some(message.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// `/allow bo` answered with "member 3": an id where a name was typed.
    /// Answers name members as the members list does, and say what there
    /// is to allow.
    #[test]
    fn answers_name_members_as_the_view_does() {
        let mut rules = MeetingRules::default();
        let [ana, bo, cy] = [ClientId(1), ClientId(2), ClientId(3)];
        for (id, name) in [(ana, "ana"), (bo, "bo"), (cy, "Cy Lee")] {
            rules.arrive(id, name.to_string(), None);
        }
        rules.handle(ana, Request::Create { passcode: None });
        let meeting = rules.meeting_of(ana).cloned().expect("created");
        rules.handle(
            bo,
            Request::Join {
                meeting: meeting.to_string(),
                passcode: None,
            },
        );
        rules.take_effects();
        let answer = |rules: &mut MeetingRules, request| {
            rules.handle(ana, request);
            error_to(&rules.take_effects(), ana)
        };
        assert_eq!(
            answer(
                &mut rules,
                Request::Allow {
                    member: bo,
                    kind: None
                }
            ),
            "bo#2 was neither removed nor turned away, and nothing of theirs is stopped: there is nothing to allow"
        );
        rules.handle(
            ana,
            Request::Block {
                member: Some(bo),
                kind: MediaKind::Video,
            },
        );
        rules.take_effects();
        assert_eq!(
            answer(
                &mut rules,
                Request::Allow {
                    member: bo,
                    kind: None
                }
            ),
            "bo#2 was neither removed nor turned away; what you stopped (video) comes back with /allow bo#2 video"
        );
        assert_eq!(
            answer(
                &mut rules,
                Request::Allow {
                    member: bo,
                    kind: Some(MediaKind::Audio)
                }
            ),
            "bo#2's audio is not stopped"
        );
        // Someone the meeting never saw is not named: their name is
        // another meeting's business.
        for message in [
            answer(&mut rules, Request::Remove { member: cy }),
            answer(
                &mut rules,
                Request::Private {
                    to: cy,
                    text: "hi".into(),
                },
            ),
            answer(&mut rules, Request::Admit { member: cy }),
        ] {
            assert!(message.starts_with("#3 is not"), "{message}");
        }
        // Knocking makes them known.
        rules.handle(ana, Request::Lobby { on: true });
        rules.handle(
            cy,
            Request::Join {
                meeting: meeting.to_string(),
                passcode: None,
            },
        );
        rules.take_effects();
        assert_eq!(
            answer(&mut rules, Request::MakeHost { member: cy }),
            "Cy Lee#3 is not in your meeting"
        );
        // So does being removed.
        rules.handle(ana, Request::Remove { member: bo });
        rules.take_effects();
        assert_eq!(
            answer(&mut rules, Request::MakeHost { member: bo }),
            "bo#2 is not in your meeting"
        );
    }
}
