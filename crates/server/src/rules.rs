//! The meeting rules: who may create, join, leave, cancel, chat and share, and
//! who is told what. Plain data in, `Effect`s out: no sockets, no queues, no
//! locks, so every rule is tested by looking at the effects it asks for.
//!
//! `registry` holds these rules under its lock and carries the effects out on
//! the transport (outboxes and media routes), in the order they were asked for,
//! which is how every member of a meeting sees its events in one order.

use common::protocol::{MAX_CHAT_BYTES, MAX_LISTED_MEETINGS, MAX_MEETING_MEMBERS, MAX_NAME_CHARS};
use common::{
    ClientId, Event, MediaKind, MeetingId, MeetingSummary, MemberInfo, MemberRef, PerKind, Request,
};
use std::collections::HashMap;

/// What a rule asks the transport to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Queue `event` on the control socket of each of `to`, in this order.
    Tell { to: Vec<ClientId>, event: Event },
    /// Who is in this meeting changed: republish its members' media routes.
    Reroute(MeetingId),
    /// This client is in no meeting any more: its media goes nowhere.
    Unroute(ClientId),
}

/// A connected client as the rules see it.
struct Participant {
    name: String,
    sharing: PerKind<bool>,
    meeting: Option<MeetingId>,
    /// Media sent outside a meeting is worth one warning per kind.
    warned_outside: PerKind<bool>,
}

struct Meeting {
    host: ClientId,
    /// In order of arrival: the first is the next host.
    members: Vec<ClientId>,
    created: u64,
}

const NOT_IN_MEETING: &str = "you are not in a meeting: /create one or /join ID first";

/// Every client and meeting, and the rules between them.
#[derive(Default)]
pub struct MeetingRules {
    participants: HashMap<ClientId, Participant>,
    meetings: HashMap<MeetingId, Meeting>,
    next_meeting: u64,
    effects: Vec<Effect>,
}

/// Checks a display name: what a person would want to see in a member list.
pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(format!(
            "a name must be 1 to {MAX_NAME_CHARS} characters, without control characters"
        ));
    }
    Ok(name.to_string())
}

impl MeetingRules {
    /// The effects asked for since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// A client finished its handshake under this (validated) name.
    pub fn arrive(&mut self, id: ClientId, name: String) {
        self.participants.insert(
            id,
            Participant {
                name,
                sharing: PerKind::default(),
                meeting: None,
                warned_outside: PerKind::default(),
            },
        );
    }

    /// A client is gone for good: it leaves its meeting (the others are told).
    pub fn depart_server(&mut self, id: ClientId) {
        self.depart(id);
        self.participants.remove(&id);
    }

    pub fn contains(&self, id: ClientId) -> bool {
        self.participants.contains_key(&id)
    }

    /// Every connected client.
    pub fn everyone(&self) -> Vec<ClientId> {
        self.participants.keys().copied().collect()
    }

    pub fn client_count(&self) -> usize {
        self.participants.len()
    }

    pub fn meeting_count(&self) -> usize {
        self.meetings.len()
    }

    /// The members of a meeting, in order of arrival.
    pub fn members(&self, meeting: &MeetingId) -> &[ClientId] {
        self.meetings
            .get(meeting)
            .map(|m| m.members.as_slice())
            .unwrap_or_default()
    }

    /// The meeting a client is in.
    pub fn meeting_of(&self, id: ClientId) -> Option<&MeetingId> {
        self.participants.get(&id)?.meeting.as_ref()
    }

    /// Carries out one request of client `id` after the handshake; a request
    /// that cannot be carried out is answered with an `error`.
    pub fn handle(&mut self, id: ClientId, request: Request) {
        if !self.contains(id) {
            return;
        }
        let result = match request {
            Request::Create => self.create(id),
            Request::Join { meeting } => self.join(id, &meeting),
            Request::Leave => self.leave(id),
            Request::Cancel => self.cancel(id),
            Request::Meetings => self.list_meetings(id),
            Request::Members => self.list_members(id),
            Request::Chat { text } => self.chat(id, text),
            Request::Media { kind, on } => self.set_sharing(id, kind, on),
            Request::ServerStats => {
                Err("server_stats is answered by the connection, not the registry".to_string())
            }
            Request::Hello { .. } | Request::Attach { .. } => Err(
                "hello and attach are only valid as the first message of a connection".to_string(),
            ),
        };
        if let Err(message) = result {
            self.tell(id, Event::Error { message });
        }
    }

    /// Media arrived from `id` while it is in no meeting: tell it once per kind.
    pub fn media_outside_meeting(&mut self, id: ClientId, kind: MediaKind) {
        let Some(participant) = self.participants.get_mut(&id) else {
            return;
        };
        if participant.meeting.is_none() && !participant.warned_outside[kind] {
            participant.warned_outside[kind] = true;
            let message = format!(
                "you are not in a meeting: {kind} frames go nowhere until you create or join one"
            );
            self.tell(id, Event::Error { message });
        }
    }

    pub fn tell(&mut self, to: ClientId, event: Event) {
        self.tell_all(vec![to], event);
    }

    pub fn tell_all(&mut self, to: Vec<ClientId>, event: Event) {
        self.effects.push(Effect::Tell { to, event });
    }

    fn member_ref(&self, id: ClientId) -> MemberRef {
        let name = self
            .participants
            .get(&id)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        MemberRef { id, name }
    }

    fn members_info(&self, meeting: &MeetingId) -> Vec<MemberInfo> {
        let Some(m) = self.meetings.get(meeting) else {
            return Vec::new();
        };
        m.members
            .iter()
            .filter_map(|id| {
                let participant = self.participants.get(id)?;
                Some(MemberInfo {
                    id: *id,
                    name: participant.name.clone(),
                    host: m.host == *id,
                    sharing: participant.sharing,
                })
            })
            .collect()
    }

    fn current_meeting(&self, id: ClientId) -> Result<MeetingId, String> {
        self.meeting_of(id)
            .cloned()
            .ok_or_else(|| NOT_IN_MEETING.to_string())
    }

    fn ensure_not_in_meeting(&self, id: ClientId) -> Result<(), String> {
        match self.meeting_of(id) {
            Some(meeting) => Err(format!(
                "you are already in meeting {meeting}: /leave it first"
            )),
            None => Ok(()),
        }
    }

    fn new_meeting_id(&self) -> Result<MeetingId, String> {
        loop {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|err| format!("no secure random source: {err}"))?;
            if let Some(id) = MeetingId::from_random_bytes(&bytes) {
                if !self.meetings.contains_key(&id) {
                    return Ok(id);
                }
            }
        }
    }

    fn create(&mut self, id: ClientId) -> Result<(), String> {
        self.ensure_not_in_meeting(id)?;
        let meeting = self.new_meeting_id()?;
        self.next_meeting += 1;
        self.meetings.insert(
            meeting.clone(),
            Meeting {
                host: id,
                members: vec![id],
                created: self.next_meeting,
            },
        );
        self.enter(id, &meeting);
        self.tell(
            id,
            Event::Created {
                meeting: meeting.clone(),
            },
        );
        let members = self.members_info(&meeting);
        self.tell(id, Event::Joined { meeting, members });
        Ok(())
    }

    fn join(&mut self, id: ClientId, requested: &str) -> Result<(), String> {
        let unknown = || {
            format!(
                "there is no meeting '{requested}' (ids look like k7m-q2x; /meetings lists them)"
            )
        };
        let meeting = MeetingId::parse(requested).ok_or_else(unknown)?;
        if self.meeting_of(id) == Some(&meeting) {
            return Err(format!("you are already in meeting {meeting}"));
        }
        self.ensure_not_in_meeting(id)?;
        let m = self.meetings.get_mut(&meeting).ok_or_else(unknown)?;
        if m.members.len() >= MAX_MEETING_MEMBERS {
            return Err(format!(
                "meeting {meeting} is full ({MAX_MEETING_MEMBERS} members)"
            ));
        }
        let others = m.members.clone();
        m.members.push(id);
        self.enter(id, &meeting);
        let member = self.member_ref(id);
        self.tell_all(
            others,
            Event::MemberJoined {
                meeting: meeting.clone(),
                member,
            },
        );
        let members = self.members_info(&meeting);
        self.tell(id, Event::Joined { meeting, members });
        Ok(())
    }

    fn enter(&mut self, id: ClientId, meeting: &MeetingId) {
        if let Some(participant) = self.participants.get_mut(&id) {
            participant.meeting = Some(meeting.clone());
            participant.warned_outside = PerKind::default();
        }
        self.effects.push(Effect::Reroute(meeting.clone()));
    }

    /// Forgets a client's meeting: its media goes nowhere, and media sent
    /// outside a meeting is worth one warning again.
    fn forget_meeting(&mut self, id: ClientId) -> Option<MeetingId> {
        let participant = self.participants.get_mut(&id)?;
        let meeting = participant.meeting.take()?;
        participant.warned_outside = PerKind::default();
        self.effects.push(Effect::Unroute(id));
        Some(meeting)
    }

    fn leave(&mut self, id: ClientId) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        self.depart(id);
        self.tell(id, Event::Left { meeting });
        Ok(())
    }

    /// Takes `id` out of its meeting: the others are told, the host role passes
    /// on, an empty meeting is removed.
    fn depart(&mut self, id: ClientId) {
        let Some(meeting) = self.forget_meeting(id) else {
            return;
        };
        let Some(m) = self.meetings.get_mut(&meeting) else {
            return;
        };
        m.members.retain(|member| *member != id);
        let Some(&successor) = m.members.first() else {
            self.meetings.remove(&meeting);
            return;
        };
        let host_left = m.host == id;
        if host_left {
            m.host = successor;
        }
        let remaining = m.members.clone();
        let member = self.member_ref(id);
        self.tell_all(
            remaining.clone(),
            Event::MemberLeft {
                meeting: meeting.clone(),
                member,
            },
        );
        if host_left {
            let host = self.member_ref(successor);
            self.tell_all(
                remaining,
                Event::HostChanged {
                    meeting: meeting.clone(),
                    host,
                },
            );
        }
        self.effects.push(Effect::Reroute(meeting));
    }

    fn cancel(&mut self, id: ClientId) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        let host = self.meetings.get(&meeting).map(|m| m.host);
        if host != Some(id) {
            let host_name = host.map(|h| self.member_ref(h).name).unwrap_or_default();
            return Err(format!(
                "only the host ({host_name}) can cancel meeting {meeting}; /leave leaves it"
            ));
        }
        let members = self
            .meetings
            .remove(&meeting)
            .map(|m| m.members)
            .unwrap_or_default();
        self.tell_all(members.clone(), Event::Ended { meeting });
        for member in members {
            self.forget_meeting(member);
        }
        Ok(())
    }

    fn list_meetings(&mut self, id: ClientId) -> Result<(), String> {
        let mut meetings: Vec<(&MeetingId, &Meeting)> = self.meetings.iter().collect();
        meetings.sort_by_key(|(_, m)| m.created);
        let total = meetings.len();
        let meetings = meetings
            .into_iter()
            .take(MAX_LISTED_MEETINGS)
            .map(|(meeting, m)| {
                let host = self.member_ref(m.host);
                MeetingSummary {
                    id: meeting.clone(),
                    host: host.name,
                    host_id: host.id,
                    members: m.members.len(),
                }
            })
            .collect();
        self.tell(id, Event::Meetings { meetings, total });
        Ok(())
    }

    fn list_members(&mut self, id: ClientId) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        let members = self.members_info(&meeting);
        self.tell(id, Event::Members { meeting, members });
        Ok(())
    }

    fn chat(&mut self, id: ClientId, text: String) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        if text.trim().is_empty() {
            return Err("an empty chat message was not sent".to_string());
        }
        if text.len() > MAX_CHAT_BYTES {
            return Err(format!(
                "a chat message is at most {MAX_CHAT_BYTES} bytes (this one has {})",
                text.len()
            ));
        }
        if text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(
                "a chat message cannot contain control characters or line breaks".to_string(),
            );
        }
        let from = self.member_ref(id);
        let members = self.members(&meeting).to_vec();
        self.tell_all(
            members,
            Event::Chat {
                meeting,
                from: from.name,
                from_id: id,
                text,
            },
        );
        Ok(())
    }

    fn set_sharing(&mut self, id: ClientId, kind: MediaKind, on: bool) -> Result<(), String> {
        let Some(participant) = self.participants.get_mut(&id) else {
            return Ok(());
        };
        let changed = participant.sharing[kind] != on;
        participant.sharing[kind] = on;
        let Some(meeting) = participant.meeting.clone() else {
            return Ok(());
        };
        if changed {
            let members = self.members(&meeting).to_vec();
            let member = self.member_ref(id);
            self.tell_all(
                members,
                Event::Media {
                    meeting,
                    member,
                    kind,
                    on,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_with(names: &[&str]) -> (MeetingRules, Vec<ClientId>) {
        let mut rules = MeetingRules::default();
        let ids: Vec<ClientId> = (1..=names.len() as u32).map(ClientId).collect();
        for (&id, name) in ids.iter().zip(names) {
            rules.arrive(id, name.to_string());
        }
        (rules, ids)
    }

    fn told(effects: &[Effect], who: ClientId) -> Vec<&Event> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Tell { to, event } if to.contains(&who) => Some(event),
                _ => None,
            })
            .collect()
    }

    fn created(rules: &mut MeetingRules, host: ClientId) -> MeetingId {
        rules.handle(host, Request::Create);
        let effects = rules.take_effects();
        match told(&effects, host).first() {
            Some(Event::Created { meeting }) => meeting.clone(),
            other => panic!("no created: {other:?}"),
        }
    }

    #[test]
    fn joining_reroutes_the_meeting_and_tells_the_others_before_the_joiner() {
        let (mut rules, ids) = rules_with(&["ana", "bo"]);
        let meeting = created(&mut rules, ids[0]);
        rules.handle(
            ids[1],
            Request::Join {
                meeting: meeting.to_string(),
            },
        );
        let effects = rules.take_effects();
        assert!(effects.contains(&Effect::Reroute(meeting.clone())));
        assert!(matches!(
            told(&effects, ids[0]).as_slice(),
            [Event::MemberJoined { member, .. }] if member.id == ids[1]
        ));
        assert!(matches!(
            told(&effects, ids[1]).as_slice(),
            [Event::Joined { members, .. }] if members.len() == 2 && members[0].host
        ));
    }

    #[test]
    fn sharing_is_told_once_per_change_and_shows_in_members() {
        let (mut rules, ids) = rules_with(&["ana"]);
        created(&mut rules, ids[0]);
        for _ in 0..2 {
            rules.handle(
                ids[0],
                Request::Media {
                    kind: MediaKind::Audio,
                    on: true,
                },
            );
        }
        let effects = rules.take_effects();
        assert_eq!(told(&effects, ids[0]).len(), 1, "{effects:?}");
        rules.handle(ids[0], Request::Members);
        let effects = rules.take_effects();
        let Some(Event::Members { members, .. }) = told(&effects, ids[0]).first().copied() else {
            panic!("no members: {effects:?}")
        };
        assert!(members[0].sharing[MediaKind::Audio]);
        assert!(!members[0].sharing[MediaKind::Video]);
    }

    #[test]
    fn cancelling_unroutes_every_member_and_removes_the_meeting() {
        let (mut rules, ids) = rules_with(&["ana", "bo"]);
        let meeting = created(&mut rules, ids[0]);
        rules.handle(
            ids[1],
            Request::Join {
                meeting: meeting.to_string(),
            },
        );
        rules.take_effects();
        rules.handle(ids[0], Request::Cancel);
        let effects = rules.take_effects();
        for &id in &ids {
            assert!(effects.contains(&Effect::Unroute(id)), "{effects:?}");
            assert!(matches!(
                told(&effects, id).as_slice(),
                [Event::Ended { .. }]
            ));
        }
        assert_eq!(rules.meeting_count(), 0);
    }

    #[test]
    fn media_outside_a_meeting_is_warned_once_per_kind() {
        let (mut rules, ids) = rules_with(&["ana"]);
        for _ in 0..3 {
            for kind in MediaKind::ALL {
                rules.media_outside_meeting(ids[0], kind);
            }
        }
        assert_eq!(told(&rules.take_effects(), ids[0]).len(), MediaKind::COUNT);
    }
}
