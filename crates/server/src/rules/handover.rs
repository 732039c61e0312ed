//! Handing meetings over to another server of the cluster, when this one
//! stops (a rolling upgrade): each member gets a ticket of its own, the
//! meeting's settings and tickets travel to the heir as a `Handoff`, and
//! there each member `rejoin`s with its ticket and is back as it was: in the
//! same meeting under the same id, the host as host, past the passcode,
//! the lobby and a lock it had already passed. A ticket is good once, for
//! `TICKET_LIFE`; a wrong one counts as a failed join, as a wrong passcode
//! does, so tickets cannot be guessed either.

use super::chat_log::{ChatLog, KeptChat};
use super::{Elsewhere, Holder, Meeting, MeetingRules};
use common::{ClientId, Event, MeetingId, MemberRef};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a member has to come back on the heir.
pub const TICKET_LIFE: Duration = Duration::from_secs(60);

/// A meeting as it travels to its heir: its settings and its members' tickets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
    pub locked: bool,
    pub lobby: bool,
    pub tickets: Vec<TicketRecord>,
    /// Its chat as the cluster kept it (not in the record: read from the
    /// cluster's chat stream when the meeting is made again); None if it
    /// could not be read, and the chat is numbered from 1 again.
    #[serde(skip)]
    pub chat: Option<Vec<KeptChat>>,
}

/// One member's way back: its ticket, its name, and whether it was host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    pub ticket: String,
    pub name: String,
    pub host: bool,
    /// Whose it is: a member coming back through another server keeps its
    /// id with it (`hello`'s `returning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<ClientId>,
}

impl Handoff {
    /// The member whose ticket `ticket` is, if the record says.
    pub fn member_of(&self, ticket: &str) -> Option<ClientId> {
        self.tickets
            .iter()
            .find(|record| record.ticket == ticket)
            .and_then(|record| record.member)
    }
}

/// A meeting about to be handed over, and which ticket is whose.
#[derive(Clone, Debug)]
pub struct Handover {
    pub meeting: MeetingId,
    pub handoff: Handoff,
    pub members: Vec<(ClientId, String)>,
}

/// A member of a meeting's former life, not back yet in the meeting made
/// again from its handoff.
#[derive(Clone, Debug)]
pub(super) struct Expected {
    pub(super) name: String,
    /// When its ticket lapses: then it is taken for gone.
    until: Instant,
}

/// A ticket as the heir keeps it.
#[derive(Clone, Debug)]
pub(super) struct Ticket {
    host: bool,
    expires: Instant,
    member: Option<ClientId>,
    /// The chat numbers its member saw are this meeting's: a standing
    /// ticket kept when its member's server went away, or a handoff's when
    /// the meeting was made again with its chat. Not so when the meeting
    /// was made again without it (numbered from 1 again).
    this_life: bool,
}

impl MeetingRules {
    /// Every meeting here, with a ticket made for each member (nobody is
    /// told yet: the handoffs must reach the heir first).
    pub fn prepare_handover(&mut self) -> Result<Vec<Handover>, String> {
        let mut handovers = Vec::new();
        for (meeting, m) in &self.meetings {
            let mut tickets = Vec::new();
            let mut members = Vec::new();
            for &member in &m.members {
                let ticket = new_ticket()?;
                tickets.push(TicketRecord {
                    ticket: ticket.clone(),
                    name: self.name_of(member).unwrap_or_default(),
                    host: member == m.host,
                    member: Some(member),
                });
                members.push((member, ticket));
            }
            handovers.push(Handover {
                meeting: meeting.clone(),
                handoff: Handoff {
                    passcode: m.passcode.clone(),
                    locked: m.locked,
                    lobby: m.lobby,
                    tickets,
                    chat: None,
                },
                members,
            });
        }
        Ok(handovers)
    }

    /// Tells each member where its meeting went, with its ticket.
    pub fn announce_handover(&mut self, handovers: &[Handover], heir: &Holder) {
        for handover in handovers {
            for (member, ticket) in &handover.members {
                self.tell(
                    *member,
                    Event::MeetingMoved {
                        meeting: handover.meeting.clone(),
                        server: heir.address.clone(),
                        fingerprint: heir.fingerprint.clone(),
                        ticket: ticket.clone(),
                    },
                );
            }
        }
    }

    /// `meeting` was handed over to this server: it is made when the first
    /// of its members is back.
    pub fn expect_handoff(&mut self, meeting: MeetingId, handoff: Handoff) {
        let now = Instant::now();
        self.restored.retain(|_, expires| *expires > now);
        if !self.knows_meeting(&meeting) {
            let expires = Instant::now() + TICKET_LIFE;
            self.handoffs.insert(meeting, (handoff, expires));
        }
    }

    /// Whether `meeting` is held here, or is expected here.
    pub fn knows_meeting(&self, meeting: &MeetingId) -> bool {
        self.meetings.contains_key(meeting)
            || self.handoffs.contains_key(meeting)
            || self.restored.contains_key(meeting)
    }

    /// From now on every member gets a standing ticket (a server of a cluster).
    pub fn give_standing_tickets(&mut self) {
        self.standing_tickets = true;
    }

    /// From now on each chat message is kept in the cluster before anyone
    /// is told it (`Effect::KeepChat`).
    pub fn keep_chat_in_cluster(&mut self) {
        self.chat_kept_in_cluster = true;
    }

    /// A member in `meeting` gets its standing ticket, if this server gives them.
    pub(super) fn give_standing_ticket(&mut self, id: ClientId, meeting: &MeetingId) {
        if !self.standing_tickets {
            return;
        }
        let Ok(ticket) = new_ticket() else {
            return;
        };
        let Some(m) = self.meetings.get_mut(meeting) else {
            return;
        };
        m.standing.insert(id, ticket.clone());
        let chat_renumbered = m.chat_renumbered;
        self.tell(
            id,
            Event::Ticket {
                meeting: meeting.clone(),
                ticket,
                chat_renumbered,
            },
        );
    }

    /// Each meeting's standing handoff: what another server needs to take
    /// it over should this one die (kept in the cluster's directory).
    pub fn standing_handoffs(&self) -> HashMap<MeetingId, Handoff> {
        self.meetings
            .iter()
            .map(|(meeting, m)| {
                let tickets = m
                    .standing
                    .iter()
                    .map(|(&member, ticket)| TicketRecord {
                        ticket: ticket.clone(),
                        name: self.name_of(member).unwrap_or_default(),
                        host: member == m.host,
                        member: Some(member),
                    })
                    .collect();
                let handoff = Handoff {
                    passcode: m.passcode.clone(),
                    locked: m.locked,
                    lobby: m.lobby,
                    tickets,
                    chat: None,
                };
                (meeting.clone(), handoff)
            })
            .collect()
    }

    /// `id` is back with `ticket` for a meeting handed over to this server,
    /// or taken over from one that died; a meeting another server holds
    /// now is answered with where it is.
    pub(super) fn rejoin(
        &mut self,
        id: ClientId,
        requested: &str,
        ticket: &str,
        chat_seen: Option<u64>,
        elsewhere: &dyn Elsewhere,
    ) -> Result<(), String> {
        let parsed = MeetingId::parse(requested);
        if let Some(meeting) = &parsed {
            if !self.knows_meeting(meeting)
                && let Some(holder) = elsewhere.locate(meeting)
            {
                return self.point_elsewhere(id, meeting.clone(), holder);
            }
            if self.meeting_of(id) == Some(meeting)
                && self.ticket_member(meeting, ticket) == Some(id)
            {
                self.returned(id, meeting, chat_seen);
                return Ok(());
            }
        }
        self.ensure_not_in_meeting(id)?;
        let now = Instant::now();
        if !self.may_try_joining(id, now) {
            return Err("too many failed joins: wait a few seconds before trying again".into());
        }
        let Some((meeting, (host, this_life))) = parsed.and_then(|meeting| {
            let taken = self
                .take_ticket(id, &meeting, ticket, now)
                .or_else(|| Some((self.take_standing_place(&meeting, ticket)?, true)))?;
            Some((meeting, taken))
        }) else {
            self.failed_join(id, now);
            return Err(format!(
                "no meeting '{requested}' was handed over to this server with that ticket (tickets last {} s)",
                TICKET_LIFE.as_secs()
            ));
        };
        if !self.meetings.contains_key(&meeting) {
            self.restore(id, &meeting, ticket, chat_seen, now);
            return Ok(());
        }
        // The host is host as it comes in: its `joined` says so, and the
        // others hear it as the host joining, then of the change.
        let hosted_by = host.then(|| self.take_host_role(id, &meeting)).flatten();
        self.come_in(id, &meeting);
        if let Some(others) = hosted_by {
            self.tell_host_back(id, &meeting, others);
        }
        // What was said here before it came in: since the last it saw, if
        // its numbers are this meeting's; all of it if it comes from the
        // meeting's former life (it missed this one from the start).
        match (this_life, chat_seen) {
            (true, Some(seen)) => self.tell_missed_chat(id, &meeting, seen),
            (true, None) => {}
            (false, _) => self.tell_missed_chat(id, &meeting, 0),
        }
        Ok(())
    }

    /// The member whose ticket `ticket` is for `meeting`: its standing
    /// ticket here, a ticket kept or handed over here, or (on a server
    /// that does not hold the meeting) none.
    pub fn ticket_member(&self, meeting: &MeetingId, ticket: &str) -> Option<ClientId> {
        if let Some(m) = self.meetings.get(meeting) {
            let standing = m
                .standing
                .iter()
                .find(|(_, standing)| standing.as_str() == ticket)
                .map(|(&member, _)| member);
            return standing.or_else(|| m.tickets.get(ticket).and_then(|kept| kept.member));
        }
        let (handoff, _) = self.handoffs.get(meeting)?;
        handoff.member_of(ticket)
    }

    /// `id`, a member all along (its seat held while its server was gone),
    /// is back with its standing ticket through another server, or as a
    /// client of this one: the others hear it is back, and it hears the
    /// meeting as it is now and the chat it missed after `chat_seen`.
    fn returned(&mut self, id: ClientId, meeting: &MeetingId, chat_seen: Option<u64>) {
        self.back(id);
        for event in self.snapshot(id) {
            self.tell(id, event);
        }
        if let Some(seen) = chat_seen {
            self.tell_missed_chat(id, meeting, seen);
        }
        self.effects.push(super::Effect::Reroute(meeting.clone()));
    }

    /// Tells `id` the chat of `meeting` after message `seen` that was for it.
    fn tell_missed_chat(&mut self, id: ClientId, meeting: &MeetingId, seen: u64) {
        let Some(m) = self.meetings.get(meeting) else {
            return;
        };
        let (missed, forgotten) = m.chat.missed_by(id, seen);
        if forgotten {
            let message = format!(
                "some chat you missed is no longer kept (the server keeps the last {})",
                super::chat_log::KEPT_MESSAGES
            );
            self.tell(id, Event::Error { message });
        }
        for event in missed {
            self.tell(id, event);
        }
    }

    /// The ticket's host flag if `ticket` lets its bearer into `meeting`
    /// now; it is used up. The meeting's own tickets once it is back, else
    /// those of its handoff.
    fn take_ticket(
        &mut self,
        id: ClientId,
        meeting: &MeetingId,
        ticket: &str,
        now: Instant,
    ) -> Option<(bool, bool)> {
        if let Some(m) = self.meetings.get_mut(meeting) {
            m.tickets.retain(|_, kept| kept.expires > now);
            let kept = m.tickets.remove(ticket)?;
            // Its member comes back under another id: the one shown away
            // is gone.
            if let Some(member) = kept.member.filter(|&member| member != id) {
                self.forget_expected(meeting, member);
            }
            return Some((kept.host, kept.this_life));
        }
        self.handoffs.retain(|_, (_, expires)| *expires > now);
        let (handoff, _) = self.handoffs.get(meeting)?;
        handoff
            .tickets
            .iter()
            .find(|record| record.ticket == ticket)
            .map(|record| (record.host, handoff.chat.is_some()))
    }

    /// `id` goes because its server went away (it stopped, or died): its
    /// standing ticket stays good for `TICKET_LIFE` after it is gone, so
    /// that it can come back through another server as it was.
    pub fn keep_ticket_of(&mut self, id: ClientId) {
        let Some(meeting) = self.meeting_of(id).cloned() else {
            return;
        };
        let Some(m) = self.meetings.get_mut(&meeting) else {
            return;
        };
        if let Some(ticket) = m.standing.get(&id).cloned() {
            let kept = Ticket {
                host: m.host == id,
                expires: Instant::now() + TICKET_LIFE,
                member: Some(id),
                this_life: true,
            };
            m.tickets.insert(ticket, kept);
        }
    }

    /// A member's standing ticket shown for a meeting held here: its bearer
    /// comes back from another server (its own died), and takes its own
    /// place: the member it was leaves first. The ticket's host flag.
    fn take_standing_place(&mut self, meeting: &MeetingId, ticket: &str) -> Option<bool> {
        let m = self.meetings.get(meeting)?;
        let (&was, _) = m
            .standing
            .iter()
            .find(|(_, kept)| kept.as_str() == ticket)?;
        let host = m.host == was;
        self.depart(was);
        Some(host)
    }

    /// The first member back makes the meeting again, with its settings and
    /// the others' tickets; it hosts until the host is back.
    /// Its chat goes on from what the cluster kept of it, if that could be
    /// read: the member is told what it missed after `chat_seen`.
    fn restore(
        &mut self,
        id: ClientId,
        meeting: &MeetingId,
        used: &str,
        chat_seen: Option<u64>,
        now: Instant,
    ) {
        let Some((handoff, expires)) = self.handoffs.remove(meeting) else {
            return;
        };
        let chat = handoff.chat.map(|tail| {
            let mut chat = ChatLog::recovered(tail);
            // Numbers it saw that the cluster no longer had are not given again.
            chat.numbers_after(chat_seen.unwrap_or(0));
            chat
        });
        let chat_goes_on = chat.is_some();
        self.next_meeting += 1;
        let handoff_members: Vec<(ClientId, String)> = handoff
            .tickets
            .iter()
            .filter(|record| record.ticket != used)
            .filter_map(|record| Some((record.member?, record.name.clone())))
            .collect();
        let mut m = Meeting::new(id, self.next_meeting, handoff.passcode);
        m.locked = handoff.locked;
        m.lobby = handoff.lobby;
        m.chat_renumbered = !chat_goes_on;
        m.chat = chat.unwrap_or_default();
        m.tickets = handoff
            .tickets
            .into_iter()
            .filter(|record| record.ticket != used)
            .map(|record| {
                let ticket = Ticket {
                    host: record.host,
                    expires: expires.max(now),
                    member: record.member,
                    this_life: chat_goes_on,
                };
                (record.ticket, ticket)
            })
            .collect::<HashMap<_, _>>();
        m.expected = handoff_members
            .into_iter()
            .filter(|(member, _)| *member != id)
            .map(|(member, name)| {
                let until = expires.max(now);
                (member, Expected { name, until })
            })
            .collect();
        self.meetings.insert(meeting.clone(), m);
        self.restored.insert(meeting.clone(), expires.max(now));
        self.enter(id, meeting);
        let members = self.members_info(meeting);
        self.tell(
            id,
            Event::Joined {
                meeting: meeting.clone(),
                members,
            },
        );
        self.tell_who_is_away(id, meeting);
        self.give_standing_ticket(id, meeting);
        if let (true, Some(seen)) = (chat_goes_on, chat_seen) {
            self.tell_missed_chat(id, meeting, seen);
        }
    }

    /// Tells `id`, just in `meeting`, which of its members are not back
    /// from its former life yet.
    pub(super) fn tell_who_is_away(&mut self, id: ClientId, meeting: &MeetingId) {
        for event in self.away(meeting) {
            self.tell(id, event);
        }
    }

    /// A `member_reconnecting` for each member of `meeting`'s former life
    /// not back yet, in the order of their ids.
    pub(super) fn away(&self, meeting: &MeetingId) -> Vec<Event> {
        let Some(m) = self.meetings.get(meeting) else {
            return Vec::new();
        };
        m.expected_members()
            .into_iter()
            .map(|member| Event::MemberReconnecting {
                meeting: meeting.clone(),
                member,
            })
            .collect()
    }

    /// `member`, shown away in `meeting`, will not be back as itself: the
    /// others hear it left.
    fn forget_expected(&mut self, meeting: &MeetingId, member: ClientId) {
        let Some(m) = self.meetings.get_mut(meeting) else {
            return;
        };
        let Some(expected) = m.expected.remove(&member) else {
            return;
        };
        let members = m.members.clone();
        self.tell_all(
            members,
            Event::MemberLeft {
                meeting: meeting.clone(),
                member: MemberRef {
                    id: member,
                    name: expected.name,
                },
            },
        );
    }

    /// Members shown away whose tickets lapsed are taken for gone.
    pub fn expire_expected(&mut self, now: Instant) {
        let lapsed: Vec<(MeetingId, ClientId)> = self
            .meetings
            .iter()
            .flat_map(|(meeting, m)| {
                m.expected
                    .iter()
                    .filter(|(_, expected)| expected.until <= now)
                    .map(|(&member, _)| (meeting.clone(), member))
            })
            .collect();
        for (meeting, member) in lapsed {
            self.forget_expected(&meeting, member);
        }
    }

    /// The host is back: host again, and everyone is told.
    /// The host, back, takes its role from whoever held it meanwhile:
    /// returns the members who must hear of it.
    fn take_host_role(&mut self, id: ClientId, meeting: &MeetingId) -> Option<Vec<ClientId>> {
        let m = self.meetings.get_mut(meeting)?;
        m.host = id;
        Some(m.members.clone())
    }

    fn tell_host_back(&mut self, id: ClientId, meeting: &MeetingId, others: Vec<ClientId>) {
        let host = self.member_ref(id);
        self.tell_all(
            others,
            Event::HostChanged {
                meeting: meeting.clone(),
                host,
            },
        );
        self.tell_new_host_who_waits(meeting);
        self.tell_new_host_the_passcode(meeting);
    }
}

/// 128 random bits, in hex.
fn new_ticket() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| format!("no secure random source: {err}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{created, join, rules_with, told};
    use super::*;
    use common::Request;

    fn heir() -> Holder {
        Holder {
            address: "10.0.0.2:6338".into(),
            fingerprint: None,
        }
    }

    /// A stopping server's meeting of ana (host, locked) and bo, handed to
    /// a fresh server where cai (a stranger) and the two come back.
    fn handed_over() -> (
        MeetingRules,
        Vec<ClientId>,
        MeetingId,
        Vec<(String, String)>,
    ) {
        let (mut old, ids) = rules_with(&["ana", "bo"]);
        let meeting = created(&mut old, ids[0]);
        join(&mut old, ids[1], &meeting);
        old.handle(ids[0], Request::Lock { locked: true });
        old.take_effects();
        let handovers = old.prepare_handover().expect("random tickets");
        old.announce_handover(&handovers, &heir());
        let effects = old.take_effects();
        let tickets: Vec<(String, String)> = ids
            .iter()
            .map(|&id| match told(&effects, id).as_slice() {
                [Event::MeetingMoved { server, ticket, .. }] => {
                    assert_eq!(server, "10.0.0.2:6338");
                    (old.name_of(id).unwrap_or_default(), ticket.clone())
                }
                other => panic!("{id}: {other:?}"),
            })
            .collect();
        let (mut new, new_ids) = rules_with(&["bo", "ana", "cai"]);
        new.expect_handoff(meeting.clone(), handovers[0].handoff.clone());
        (new, new_ids, meeting, tickets)
    }

    fn rejoin(
        rules: &mut MeetingRules,
        id: ClientId,
        meeting: &MeetingId,
        ticket: &str,
    ) -> Vec<Event> {
        rules.handle(
            id,
            Request::Rejoin {
                chat_seen: None,
                meeting: meeting.to_string(),
                ticket: ticket.to_string(),
            },
        );
        let effects = rules.take_effects();
        told(&effects, id).into_iter().cloned().collect()
    }

    #[test]
    fn members_come_back_with_their_tickets_and_the_host_hosts_again() {
        let (mut rules, ids, meeting, tickets) = handed_over();
        let (bo, ana) = (ids[0], ids[1]);
        // bo is back first: the meeting is made again, bo hosts for now.
        let told_bo = rejoin(&mut rules, bo, &meeting, &tickets[1].1);
        assert!(
            matches!(told_bo.as_slice(), [Event::Joined { meeting: m, .. }] if *m == meeting),
            "{told_bo:?}"
        );
        // ana is back, past the lock, and hosts again; bo hears it.
        rules.handle(
            ana,
            Request::Rejoin {
                chat_seen: None,
                meeting: meeting.to_string(),
                ticket: tickets[0].1.clone(),
            },
        );
        let effects = rules.take_effects();
        assert!(
            told(&effects, ana)
                .iter()
                .any(|e| matches!(e, Event::Joined { .. }))
        );
        assert!(
            told(&effects, bo)
                .iter()
                .any(|e| matches!(e, Event::HostChanged { host, .. } if host.id == ana))
        );
        assert!(
            rules
                .meetings
                .get(&meeting)
                .is_some_and(|m| m.locked && m.host == ana)
        );
    }

    #[test]
    fn a_meeting_everyone_left_is_not_made_again_from_its_handoff() {
        let (mut rules, ids, meeting, tickets) = handed_over();
        let handoff = rules
            .handoffs
            .get(&meeting)
            .map(|(h, _)| h.clone())
            .expect("expected");
        rejoin(&mut rules, ids[0], &meeting, &tickets[1].1);
        rules.handle(ids[0], Request::Leave);
        rules.take_effects();
        // The directory still has the handoff: it opens nothing now.
        rules.expect_handoff(meeting.clone(), handoff);
        let told_ana = rejoin(&mut rules, ids[1], &meeting, &tickets[0].1);
        assert!(
            matches!(told_ana.as_slice(), [Event::Error { .. }]),
            "{told_ana:?}"
        );
    }

    #[test]
    fn a_ticket_is_good_once_and_only_for_its_meeting() {
        let (mut rules, ids, meeting, tickets) = handed_over();
        let (bo, ana, cai) = (ids[0], ids[1], ids[2]);
        rejoin(&mut rules, bo, &meeting, &tickets[1].1);
        // cai has bo's used ticket, then a made-up one: neither opens it.
        for ticket in [tickets[1].1.as_str(), "00000000000000000000000000000000"] {
            let told_cai = rejoin(&mut rules, cai, &meeting, ticket);
            assert!(
                matches!(told_cai.as_slice(), [Event::Error { message }] if message.contains("ticket")),
                "{told_cai:?}"
            );
        }
        // The locked meeting stays shut to a plain join too.
        join(&mut rules, cai, &meeting);
        assert!(rules.members(&meeting).len() == 1);
        rules.take_effects();
        // ana's ticket is for this meeting only.
        let other = MeetingId::parse("zzz-zzz").expect("an id");
        let told_ana = rejoin(&mut rules, ana, &other, &tickets[0].1);
        assert!(
            matches!(told_ana.as_slice(), [Event::Error { .. }]),
            "{told_ana:?}"
        );
    }

    /// The standing ticket `id` was told last in `effects`.
    fn standing(effects: &[crate::rules::Effect], id: ClientId) -> String {
        told(effects, id)
            .into_iter()
            .rev()
            .find_map(|event| match event {
                Event::Ticket { ticket, .. } => Some(ticket.clone()),
                _ => None,
            })
            .expect("a standing ticket")
    }

    #[test]
    fn a_standing_ticket_takes_its_members_place_back_and_outlives_it_a_while() {
        let (mut rules, ids) = rules_with(&["ana", "bo", "ana", "bo"]);
        rules.give_standing_tickets();
        let (ana, bo, ana_again, bo_again) = (ids[0], ids[1], ids[2], ids[3]);
        rules.handle(ana, Request::Create { passcode: None });
        let effects = rules.take_effects();
        let meeting = match told(&effects, ana).first() {
            Some(Event::Created { meeting, .. }) => meeting.clone(),
            other => panic!("no created: {other:?}"),
        };
        let ana_ticket = standing(&effects, ana);
        join(&mut rules, bo, &meeting);
        let bo_ticket = standing(&rules.take_effects(), bo);

        // ana's server died; she comes back through another, with her
        // standing ticket: in her own place, host again, the old one gone.
        let told_ana = rejoin(&mut rules, ana_again, &meeting, &ana_ticket);
        assert!(
            matches!(told_ana.as_slice(), [Event::Joined { members, .. }, ..]
                if members.iter().any(|m| m.id == ana_again && m.host)
                    && !members.iter().any(|m| m.id == ana)),
            "{told_ana:?}"
        );
        // bo's seat ended before he was back: his ticket was kept.
        rules.keep_ticket_of(bo);
        rules.depart_server(bo);
        rules.take_effects();
        let told_bo = rejoin(&mut rules, bo_again, &meeting, &bo_ticket);
        assert!(
            matches!(told_bo.as_slice(), [Event::Joined { .. }, ..]),
            "{told_bo:?}"
        );
        // A ticket is good once.
        let eve = ClientId(9);
        rules.arrive(eve, "eve".into(), None);
        let used = rejoin(&mut rules, eve, &meeting, &bo_ticket);
        assert!(matches!(used.as_slice(), [Event::Error { .. }]), "{used:?}");
    }

    #[test]
    fn a_member_back_under_its_own_id_is_back_not_new_and_hears_the_chat_it_missed_once() {
        let (mut rules, ids) = rules_with(&["ana", "bo", "cai"]);
        rules.give_standing_tickets();
        let (ana, bo, cai) = (ids[0], ids[1], ids[2]);
        let meeting = created(&mut rules, ana);
        join(&mut rules, bo, &meeting);
        let bo_ticket = standing(&rules.take_effects(), bo);
        let say = |rules: &mut MeetingRules, text: &str| {
            rules.handle(ana, Request::Chat { text: text.into() });
            rules.take_effects();
        };
        say(&mut rules, "one");
        say(&mut rules, "two");
        // bo saw "one" (seq 1); his server died, his seat held meanwhile.
        rules.reconnecting(bo);
        say(&mut rules, "three");
        rules.handle(
            ana,
            Request::Private {
                to: bo,
                text: "psst".into(),
            },
        );
        rules.take_effects();
        // Someone else's ticket does not make cai bo.
        assert_eq!(rules.ticket_member(&meeting, &bo_ticket), Some(bo));
        let wrong = rejoin(&mut rules, cai, &meeting, "not a ticket");
        assert!(
            matches!(wrong.as_slice(), [Event::Error { .. }]),
            "{wrong:?}"
        );

        rules.handle(
            bo,
            Request::Rejoin {
                meeting: meeting.to_string(),
                ticket: bo_ticket.clone(),
                chat_seen: Some(1),
            },
        );
        let effects = rules.take_effects();
        let to_bo = told(&effects, bo);
        assert!(
            matches!(to_bo.first(), Some(Event::Joined { members, .. }) if members.len() == 2),
            "the meeting as it is: {to_bo:?}"
        );
        let missed: Vec<(&str, u64)> = to_bo
            .iter()
            .filter_map(|event| match event {
                Event::Chat { text, seq, .. } | Event::Private { text, seq, .. } => {
                    Some((text.as_str(), *seq))
                }
                _ => None,
            })
            .collect();
        assert_eq!(missed, [("two", 2), ("three", 3), ("psst", 4)]);
        assert!(
            matches!(told(&effects, ana).as_slice(), [Event::MemberBack { member, .. }] if member.id == bo),
            "the others see him back, not joining"
        );
        assert_eq!(rules.members(&meeting), [ana, bo]);
    }

    #[test]
    fn members_of_a_meeting_made_again_are_shown_away_until_back_under_their_ids() {
        let (mut old, ids) = rules_with(&["ana", "bo", "cai"]);
        let (ana, bo, cai) = (ids[0], ids[1], ids[2]);
        let meeting = created(&mut old, ana);
        join(&mut old, bo, &meeting);
        join(&mut old, cai, &meeting);
        old.take_effects();
        let handovers = old.prepare_handover().expect("random tickets");
        let ticket_of = |id: ClientId| {
            handovers[0]
                .members
                .iter()
                .find(|(member, _)| *member == id)
                .map(|(_, ticket)| ticket.clone())
                .expect("a ticket")
        };
        // The new server: ana and bo come back under their ids (`hello`'s
        // `returning`); cai does not come back.
        let (mut new, _) = rules_with(&["ana", "bo"]);
        new.expect_handoff(meeting.clone(), handovers[0].handoff.clone());
        let told_bo = rejoin(&mut new, bo, &meeting, &ticket_of(bo));
        assert!(
            matches!(told_bo.as_slice(), [Event::Joined { members, .. }, ..]
                if members.iter().map(|m| m.id).collect::<Vec<_>>() == [bo, ana, cai]),
            "bo sees the meeting with the others not back yet: {told_bo:?}"
        );
        let away: Vec<ClientId> = told_bo
            .iter()
            .filter_map(|event| match event {
                Event::MemberReconnecting { member, .. } => Some(member.id),
                _ => None,
            })
            .collect();
        assert_eq!(away, [ana, cai]);

        new.handle(
            ana,
            Request::Rejoin {
                meeting: meeting.to_string(),
                ticket: ticket_of(ana),
                chat_seen: None,
            },
        );
        let effects = new.take_effects();
        assert!(
            matches!(told(&effects, bo).first(), Some(Event::MemberBack { member, .. }) if member.id == ana),
            "ana is back, not new: {:?}",
            told(&effects, bo)
        );

        // cai's ticket lapses: the others hear it left.
        new.expire_expected(Instant::now() + TICKET_LIFE + Duration::from_secs(1));
        let effects = new.take_effects();
        for member in [ana, bo] {
            assert!(
                matches!(told(&effects, member).as_slice(), [Event::MemberLeft { member, .. }] if member.id == cai),
                "{:?}",
                told(&effects, member)
            );
        }
    }

    /// What a server of a cluster asked to keep, in order.
    fn kept_chat(effects: &[crate::rules::Effect]) -> Vec<KeptChat> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                crate::rules::Effect::KeepChat { kept, .. } => Some(kept.clone()),
                _ => None,
            })
            .collect()
    }

    fn chat_texts(events: &[Event]) -> Vec<(u64, String)> {
        events
            .iter()
            .filter_map(|event| match event {
                Event::Chat { seq, text, .. } => Some((*seq, text.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_meeting_made_again_with_its_kept_chat_numbers_on_from_it() {
        let (mut old, ids) = rules_with(&["ana", "bo"]);
        old.give_standing_tickets();
        old.keep_chat_in_cluster();
        let (ana, bo) = (ids[0], ids[1]);
        let meeting = created(&mut old, ana);
        join(&mut old, bo, &meeting);
        old.take_effects();
        old.handle(ana, Request::Chat { text: "one".into() });
        old.handle(bo, Request::Chat { text: "two".into() });
        let effects = old.take_effects();
        // Nobody is told a message before the cluster keeps it.
        assert!(
            chat_texts(&told(&effects, bo).into_iter().cloned().collect::<Vec<_>>()).is_empty()
        );
        let kept = kept_chat(&effects);
        assert_eq!(kept.iter().map(|k| k.seq).collect::<Vec<_>>(), [1, 2]);
        old.chat_kept(&meeting, 1);
        let told_bo: Vec<Event> = told(&old.take_effects(), bo).into_iter().cloned().collect();
        assert_eq!(chat_texts(&told_bo), [(1, "one".to_string())]);

        // Its server dies; the meeting is made again with what the cluster
        // kept. bo saw message 1: it is told 2, and the numbers go on.
        let mut handoff = old.standing_handoffs().remove(&meeting).expect("a handoff");
        let ticket_of = |member| {
            handoff
                .tickets
                .iter()
                .find(|record| record.member == Some(member))
                .map(|record| record.ticket.clone())
                .expect("a standing ticket")
        };
        let (ana_ticket, bo_ticket) = (ticket_of(ana), ticket_of(bo));
        handoff.chat = Some(kept);
        let (mut new, _) = rules_with(&[]);
        new.give_standing_tickets();
        new.keep_chat_in_cluster();
        new.expect_handoff(meeting.clone(), handoff);
        let rejoin_seen = |rules: &mut MeetingRules, id, ticket: &str, seen| {
            rules.arrive(id, format!("#{id}"), None);
            rules.handle(
                id,
                Request::Rejoin {
                    meeting: meeting.to_string(),
                    ticket: ticket.to_string(),
                    chat_seen: Some(seen),
                },
            );
            let effects = rules.take_effects();
            told(&effects, id)
                .into_iter()
                .cloned()
                .collect::<Vec<Event>>()
        };
        let told_bo = rejoin_seen(&mut new, bo, &bo_ticket, 1);
        assert!(
            told_bo.iter().any(|e| matches!(
                e,
                Event::Ticket {
                    chat_renumbered: false,
                    ..
                }
            )),
            "{told_bo:?}"
        );
        assert_eq!(chat_texts(&told_bo), [(2, "two".to_string())]);
        let told_ana = rejoin_seen(&mut new, ana, &ana_ticket, 2);
        assert!(chat_texts(&told_ana).is_empty(), "{told_ana:?}");
        new.handle(
            ana,
            Request::Chat {
                text: "three".into(),
            },
        );
        let kept = kept_chat(&new.take_effects());
        assert_eq!(kept.iter().map(|k| k.seq).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn a_meeting_made_again_without_its_chat_says_it_is_numbered_anew() {
        let (mut rules, ids, meeting, tickets) = handed_over();
        rules.give_standing_tickets();
        let renumbered = |told: &[Event]| {
            told.iter().any(|e| {
                matches!(
                    e,
                    Event::Ticket {
                        chat_renumbered: true,
                        ..
                    }
                )
            })
        };
        let told_bo = rejoin(&mut rules, ids[0], &meeting, &tickets[1].1);
        assert!(renumbered(&told_bo), "{told_bo:?}");
        rules.handle(
            ids[0],
            Request::Chat {
                text: "first".into(),
            },
        );
        let told_bo: Vec<Event> = told(&rules.take_effects(), ids[0])
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(chat_texts(&told_bo), [(1, "first".to_string())]);
        // ana comes from the former life: all of the new one is hers.
        let told_ana = rejoin(&mut rules, ids[1], &meeting, &tickets[0].1);
        assert!(renumbered(&told_ana), "{told_ana:?}");
        assert_eq!(chat_texts(&told_ana), [(1, "first".to_string())]);
    }
}
