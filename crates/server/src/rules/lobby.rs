//! The lobby: with it on, a joiner who passes every check (passcode, lock,
//! removal) waits outside the meeting until the host lets it in or turns it
//! away. The host always knows who waits (`waiting`, on every change); a
//! waiting client is in no meeting, so it sees and sends nothing of it.

use super::MeetingRules;
use common::protocol::MAX_MEETING_MEMBERS;
use common::{ClientId, Event, MeetingId, MemberRef};

/// Most people waiting in one lobby: the host gets the whole list on every
/// change, so strangers knocking by the hundred must not make that a flood.
pub const MAX_WAITING: usize = 32;

impl MeetingRules {
    pub(super) fn set_lobby(&mut self, id: ClientId, on: bool) -> Result<(), String> {
        let meeting = self.hosted_by(id, "turn the lobby on or off")?;
        if let Some(m) = self.meetings.get_mut(&meeting) {
            m.lobby = on;
        }
        let (members, by) = (self.members(&meeting).to_vec(), self.member_ref(id));
        self.tell_all(
            members,
            Event::Lobby {
                meeting: meeting.clone(),
                on,
                by,
            },
        );
        if !on {
            // Nobody is left standing at a door that is now open.
            for waiting in self.waiting_in(&meeting) {
                self.let_in(&meeting, waiting);
            }
        }
        Ok(())
    }

    /// Called by `join` once `id` may join `meeting`: if the meeting has a
    /// lobby, `id` waits in it (true) instead of coming in.
    pub(super) fn knocks(&mut self, id: ClientId, meeting: &MeetingId) -> Result<bool, String> {
        let Some(m) = self.meetings.get_mut(meeting) else {
            return Ok(false);
        };
        if !m.lobby {
            return Ok(false);
        }
        if m.waiting.len() >= MAX_WAITING {
            return Err(format!(
                "the lobby of meeting {meeting} is full ({MAX_WAITING} people wait): try again later"
            ));
        }
        m.waiting.push(id);
        if let Some(participant) = self.participants.get_mut(&id) {
            participant.waiting_in = Some(meeting.clone());
        }
        self.tell(
            id,
            Event::InLobby {
                meeting: meeting.clone(),
            },
        );
        self.tell_host_who_waits(meeting);
        Ok(true)
    }

    pub(super) fn admit_waiting(&mut self, id: ClientId, member: ClientId) -> Result<(), String> {
        let meeting = self.hosted_by(id, "let people in")?;
        self.ensure_waiting(&meeting, member)?;
        if self.members(&meeting).len() >= MAX_MEETING_MEMBERS {
            return Err(format!(
                "meeting {meeting} is full ({MAX_MEETING_MEMBERS} members): nobody more can come in"
            ));
        }
        self.let_in(&meeting, member);
        Ok(())
    }

    pub(super) fn deny_waiting(&mut self, id: ClientId, member: ClientId) -> Result<(), String> {
        let meeting = self.hosted_by(id, "turn people away")?;
        self.ensure_waiting(&meeting, member)?;
        if let Some(m) = self.meetings.get_mut(&meeting) {
            // Knocking again and again would only pester the host.
            m.turned_away.insert(member);
        }
        self.stop_waiting(member);
        self.tell(
            member,
            Event::NotAdmitted {
                meeting,
                reason: "the host did not let you in".to_string(),
            },
        );
        Ok(())
    }

    /// `id` stops waiting in whatever lobby it is in (it left, or is gone);
    /// the meeting it waited for, if any. The host hears of it.
    pub(super) fn stop_waiting(&mut self, id: ClientId) -> Option<MeetingId> {
        let meeting = self.participants.get_mut(&id)?.waiting_in.take()?;
        if let Some(m) = self.meetings.get_mut(&meeting) {
            m.waiting.retain(|&waiting| waiting != id);
        }
        self.tell_host_who_waits(&meeting);
        Some(meeting)
    }

    /// The meeting `id` waits to be let into, if any.
    pub(super) fn waiting_for(&self, id: ClientId) -> Option<&MeetingId> {
        self.participants.get(&id)?.waiting_in.as_ref()
    }

    /// The meeting is gone (cancelled, or its last member left): whoever
    /// waited for it is told.
    pub(super) fn turn_away_all(&mut self, meeting: &MeetingId, waiting: Vec<ClientId>, why: &str) {
        for id in waiting {
            if let Some(participant) = self.participants.get_mut(&id) {
                participant.waiting_in = None;
            }
            self.tell(
                id,
                Event::NotAdmitted {
                    meeting: meeting.clone(),
                    reason: why.to_string(),
                },
            );
        }
    }

    /// Tells the host who waits now (a new host too, if anyone does).
    pub(super) fn tell_host_who_waits(&mut self, meeting: &MeetingId) {
        let Some(m) = self.meetings.get(meeting) else {
            return;
        };
        let host = m.host;
        let waiting: Vec<MemberRef> = m.waiting.iter().map(|&id| self.member_ref(id)).collect();
        self.tell(
            host,
            Event::Waiting {
                meeting: meeting.clone(),
                waiting,
            },
        );
    }

    /// A new host hears who waits, if anyone does.
    pub(super) fn tell_new_host_who_waits(&mut self, meeting: &MeetingId) {
        if self
            .meetings
            .get(meeting)
            .is_some_and(|m| !m.waiting.is_empty())
        {
            self.tell_host_who_waits(meeting);
        }
    }

    fn waiting_in(&self, meeting: &MeetingId) -> Vec<ClientId> {
        self.meetings
            .get(meeting)
            .map(|m| m.waiting.clone())
            .unwrap_or_default()
    }

    fn ensure_waiting(&self, meeting: &MeetingId, member: ClientId) -> Result<(), String> {
        match self.waiting_for(member) {
            Some(waiting) if waiting == meeting => Ok(()),
            _ => Err(format!(
                "{} is not waiting to join meeting {meeting}",
                self.label(member, meeting)
            )),
        }
    }

    fn let_in(&mut self, meeting: &MeetingId, member: ClientId) {
        self.stop_waiting(member);
        if self.members(meeting).len() >= MAX_MEETING_MEMBERS {
            return self.tell(
                member,
                Event::NotAdmitted {
                    meeting: meeting.clone(),
                    reason: format!("the meeting is full ({MAX_MEETING_MEMBERS} members)"),
                },
            );
        }
        self.come_in(member, meeting);
    }
}

#[cfg(test)]
mod tests {
    use super::super::Effect;
    use super::super::tests::told;
    use super::*;
    use common::{MediaKind, Request};

    /// ana hosts a meeting with the lobby on; bo, cy and dee are in none.
    fn hosted_with_lobby() -> (MeetingRules, [ClientId; 4], MeetingId) {
        let mut rules = MeetingRules::default();
        let ids = [ClientId(1), ClientId(2), ClientId(3), ClientId(4)];
        for (id, name) in ids.iter().zip(["ana", "bo", "cy", "dee"]) {
            rules.arrive(*id, name.to_string(), None);
        }
        rules.handle(ids[0], Request::Create { passcode: None });
        let meeting = rules.meeting_of(ids[0]).cloned().expect("created");
        rules.handle(ids[0], Request::Lobby { on: true });
        rules.take_effects();
        (rules, ids, meeting)
    }

    fn knock(rules: &mut MeetingRules, id: ClientId, meeting: &MeetingId) -> Vec<Effect> {
        rules.handle(
            id,
            Request::Join {
                meeting: meeting.to_string(),
                passcode: None,
            },
        );
        rules.take_effects()
    }

    fn waiting_names(event: &Event) -> Vec<String> {
        match event {
            Event::Waiting { waiting, .. } => waiting.iter().map(|m| m.name.clone()).collect(),
            other => panic!("not a waiting list: {other:?}"),
        }
    }

    #[test]
    fn a_joiner_waits_outside_until_the_host_lets_it_in() {
        let (mut rules, [ana, bo, ..], meeting) = hosted_with_lobby();
        let effects = knock(&mut rules, bo, &meeting);
        assert!(matches!(
            told(&effects, bo).as_slice(),
            [Event::InLobby { .. }]
        ));
        let host_sees = told(&effects, ana);
        assert_eq!(waiting_names(host_sees[0]), ["bo"]);
        assert_eq!(rules.meeting_of(bo), None, "waiting is not being in");
        assert_eq!(rules.members(&meeting), [ana]);

        rules.handle(ana, Request::Admit { member: bo });
        let effects = rules.take_effects();
        assert_eq!(rules.meeting_of(bo), Some(&meeting));
        let bo_sees = told(&effects, bo);
        assert!(matches!(bo_sees[0], Event::Joined { .. }), "{bo_sees:?}");
        assert!(
            matches!(bo_sees[1], Event::Lobby { on: true, .. }),
            "a member learns the lobby is on: {bo_sees:?}"
        );
        let ana_sees = told(&effects, ana);
        assert!(
            ana_sees
                .iter()
                .any(|e| matches!(e, Event::Waiting { waiting, .. } if waiting.is_empty()))
        );
        assert!(
            ana_sees
                .iter()
                .any(|e| matches!(e, Event::MemberJoined { .. }))
        );
    }

    /// What bo shares while he waits is known to the meeting the moment he
    /// is let in: the `member_joined` says it, no `media` event follows.
    #[test]
    fn a_member_let_in_comes_with_what_it_shares() {
        let (mut rules, [ana, bo, ..], meeting) = hosted_with_lobby();
        knock(&mut rules, bo, &meeting);
        rules.handle(
            bo,
            Request::Media {
                kind: MediaKind::Video,
                on: true,
            },
        );
        assert!(
            told(&rules.take_effects(), ana).is_empty(),
            "nothing of the lobby reaches the meeting"
        );
        rules.handle(ana, Request::Admit { member: bo });
        let effects = rules.take_effects();
        let joined: Vec<_> = told(&effects, ana)
            .into_iter()
            .filter_map(|e| match e {
                Event::MemberJoined { member, .. } => Some(member.sharing),
                _ => None,
            })
            .collect();
        assert_eq!(joined.len(), 1, "{effects:?}");
        assert!(joined[0][MediaKind::Video] && !joined[0][MediaKind::Audio]);
    }

    #[test]
    fn a_full_lobby_refuses_more_knocking() {
        let (mut rules, [ana, ..], meeting) = hosted_with_lobby();
        let strangers: Vec<ClientId> = (100..100 + MAX_WAITING as u32 + 1).map(ClientId).collect();
        for &id in &strangers {
            rules.arrive(id, format!("s{id}"), None);
        }
        for &id in &strangers[..MAX_WAITING] {
            knock(&mut rules, id, &meeting);
        }
        let effects = knock(&mut rules, strangers[MAX_WAITING], &meeting);
        assert!(matches!(
            &told(&effects, strangers[MAX_WAITING])[..],
            [Event::Error { message }] if message.contains("full")
        ));
        assert!(
            told(&effects, ana).is_empty(),
            "the host hears nothing of it"
        );
        // And the one refused is free to do something else.
        rules.handle(strangers[MAX_WAITING], Request::Create { passcode: None });
        assert!(rules.meeting_of(strangers[MAX_WAITING]).is_some());
    }

    #[test]
    fn only_the_host_admits_and_only_those_who_wait() {
        let (mut rules, [ana, bo, cy, _], meeting) = hosted_with_lobby();
        rules.handle(ana, Request::Lobby { on: false });
        knock(&mut rules, bo, &meeting);
        rules.handle(ana, Request::Lobby { on: true });
        knock(&mut rules, cy, &meeting);
        rules.handle(bo, Request::Admit { member: cy });
        let effects = rules.take_effects();
        assert!(
            matches!(&told(&effects, bo)[..], [Event::Error { message }] if message.contains("only the host"))
        );
        rules.handle(ana, Request::Admit { member: bo });
        let effects = rules.take_effects();
        assert!(
            matches!(&told(&effects, ana)[..], [Event::Error { message }] if message.contains("not waiting"))
        );
        assert_eq!(rules.meeting_of(cy), None);
    }

    #[test]
    fn a_member_turned_away_cannot_knock_again_until_allowed() {
        let (mut rules, [ana, bo, ..], meeting) = hosted_with_lobby();
        knock(&mut rules, bo, &meeting);
        rules.handle(ana, Request::Deny { member: bo });
        let effects = rules.take_effects();
        assert!(matches!(
            &told(&effects, bo)[..],
            [Event::NotAdmitted { .. }]
        ));
        assert_eq!(waiting_names(told(&effects, ana)[0]), Vec::<String>::new());
        let effects = knock(&mut rules, bo, &meeting);
        assert!(
            matches!(&told(&effects, bo)[..], [Event::Error { message }] if message.contains("did not let you"))
        );
        assert!(told(&effects, ana).is_empty(), "the host is not pestered");
        rules.handle(
            ana,
            Request::Allow {
                member: bo,
                kind: None,
            },
        );
        rules.take_effects();
        let effects = knock(&mut rules, bo, &meeting);
        assert!(matches!(&told(&effects, bo)[..], [Event::InLobby { .. }]));
    }

    #[test]
    fn leaving_the_lobby_or_the_server_takes_one_off_the_list() {
        let (mut rules, [ana, bo, cy, _], meeting) = hosted_with_lobby();
        knock(&mut rules, bo, &meeting);
        knock(&mut rules, cy, &meeting);
        // Waiting, bo cannot join or create anything else.
        rules.handle(bo, Request::Create { passcode: None });
        let effects = rules.take_effects();
        assert!(
            matches!(&told(&effects, bo)[..], [Event::Error { message }] if message.contains("waiting"))
        );
        rules.handle(bo, Request::Leave);
        let effects = rules.take_effects();
        assert!(matches!(&told(&effects, bo)[..], [Event::Left { .. }]));
        assert_eq!(waiting_names(told(&effects, ana)[0]), ["cy"]);
        rules.depart_server(cy);
        let effects = rules.take_effects();
        assert_eq!(waiting_names(told(&effects, ana)[0]), Vec::<String>::new());
    }

    #[test]
    fn opening_the_lobby_lets_everyone_in_and_ending_the_meeting_turns_them_away() {
        let (mut rules, [ana, bo, cy, dee], meeting) = hosted_with_lobby();
        knock(&mut rules, bo, &meeting);
        knock(&mut rules, cy, &meeting);
        rules.handle(ana, Request::Lobby { on: false });
        rules.take_effects();
        assert_eq!(rules.members(&meeting), [ana, bo, cy]);

        rules.handle(ana, Request::Lobby { on: true });
        knock(&mut rules, dee, &meeting);
        // A new host hears who waits.
        rules.handle(ana, Request::MakeHost { member: bo });
        let effects = rules.take_effects();
        assert!(
            told(&effects, bo)
                .iter()
                .any(|e| matches!(e, Event::Waiting { waiting, .. } if waiting.len() == 1))
        );
        rules.handle(bo, Request::Cancel);
        let effects = rules.take_effects();
        assert!(matches!(
            &told(&effects, dee)[..],
            [Event::NotAdmitted { reason, .. }] if reason.contains("ended")
        ));
        rules.handle(dee, Request::Create { passcode: None });
        assert!(
            rules.meeting_of(dee).is_some(),
            "dee waits for nothing any more"
        );
    }
}
