//! The meeting rules: who may create, join, leave, cancel, chat and share, and
//! who is told what. Plain data in, `Effect`s out: no sockets, no queues, no
//! locks, so every rule is tested by looking at the effects it asks for.
//!
//! `registry` holds these rules under its lock and carries the effects out on
//! the transport (outboxes and media routes), in the order they were asked for,
//! which is how every member of a meeting sees its events in one order.
//!
//! The rest of the rules have files of their own: `control` (remote control
//! and keyframe requests), `moderation` (passcodes, the host's powers, failed
//! joins), `social` (private messages, raised hands, reactions) and `budget`
//! (how often a client may ask for anything).
//!
//! A server of a cluster that stops hands its meetings over to another
//! (`handover`): each member gets a ticket to `rejoin` there as it was.
//!
//! A server of a cluster knows the meetings other servers hold through
//! `Elsewhere`: the list shows them after its own, and a join of one of
//! them is answered with where it is (`meeting_elsewhere`), under the same
//! limits on guessing as a join here.

use budget::TokenBucket;
use common::protocol::{
    MAX_CHAT_BYTES, MAX_LISTED_MEETINGS, MAX_NAME_CHARS, REQUEST_BURST, REQUESTS_PER_SECOND,
};
use common::{
    ClientId, Event, MediaKind, MeetingId, MeetingSummary, MemberInfo, MemberRef, PerKind, Request,
};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Instant;

pub(crate) mod budget;
pub use chat_log::{KEPT_MESSAGES, KeptChat};
pub use handover::{Handoff, Handover, TicketRecord};
mod chat_log;
mod control;
mod handover;
mod lobby;
mod moderation;
mod social;

/// What a rule asks the transport to do.
// Effects live for one request and are mostly `Tell`s: boxing the event would
// add an allocation to every one of them to shrink the rare others.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Queue `event` on the control socket of each of `to`, in this order.
    Tell { to: Vec<ClientId>, event: Event },
    /// Who is in this meeting changed: republish its members' media routes.
    Reroute(MeetingId),
    /// This client is in no meeting any more: its media goes nowhere.
    Unroute(ClientId),
    /// Keep this chat message in the cluster, then call `chat_kept`: only
    /// then is anyone told it (a server of a cluster).
    KeepChat { meeting: MeetingId, kept: KeptChat },
}

/// A connected client as the rules see it.
struct Participant {
    /// The name as others see it: `chosen`, or with a suffix (`ana (2)`) while
    /// someone in the same meeting already goes by it.
    name: String,
    /// The name the client said in `hello`.
    chosen: String,
    sharing: PerKind<bool>,
    /// Their hand is raised (in their meeting; lowered when they leave it).
    hand: bool,
    meeting: Option<MeetingId>,
    /// Media sent outside a meeting is worth one warning per kind.
    warned_outside: PerKind<bool>,
    /// When it last asked for a keyframe, and for control: each is relayed
    /// at most once per `KEYFRAME_REQUEST_INTERVAL`, so nobody can flood a
    /// sharer (or the meeting) with them.
    last_keyframe_request: Option<Instant>,
    last_control_request: Option<Instant>,
    budget: TokenBucket,
    /// Joins that failed (no such meeting, wrong passcode): guessing ids or
    /// passcodes is held to a crawl, per connection and per address.
    failed_joins: TokenBucket,
    address: Option<IpAddr>,
    /// The meeting whose lobby it waits in (it is in no meeting meanwhile).
    waiting_in: Option<MeetingId>,
}

struct Meeting {
    host: ClientId,
    /// In order of arrival: the first is the next host.
    members: Vec<ClientId>,
    created: u64,
    /// Private meetings are unlisted and joined only with it.
    passcode: Option<String>,
    /// The host lets nobody new in.
    locked: bool,
    /// Members the host removed: they cannot join again until allowed.
    removed: HashSet<ClientId>,
    /// Kinds the host stopped, per member, until allowed.
    blocked: HashMap<ClientId, PerKind<bool>>,
    /// Joiners wait until the host lets them in.
    lobby: bool,
    /// Who waits in the lobby, in order of arrival.
    waiting: Vec<ClientId>,
    /// Those the host turned away from the lobby: they cannot knock again
    /// until allowed.
    turned_away: HashSet<ClientId>,
    /// Members of the server that handed this meeting over, not back yet.
    tickets: HashMap<String, handover::Ticket>,
    /// On a server of a cluster: each member's way back should this server
    /// die (`Event::Ticket`), kept in the cluster's directory.
    standing: HashMap<ClientId, String>,
    /// Its chat, numbered, the last of it kept for members who come back.
    chat: chat_log::ChatLog,
    /// Made again after its server died without its chat: numbered from 1
    /// again (members are told so with their tickets).
    chat_renumbered: bool,
    /// Made again from a handoff: the members of its former life not back
    /// yet, shown to the others as reconnecting until they are (or until
    /// their tickets lapse).
    expected: HashMap<ClientId, handover::Expected>,
}

impl Meeting {
    fn new(host: ClientId, created: u64, passcode: Option<String>) -> Meeting {
        Meeting {
            host,
            members: vec![host],
            created,
            passcode,
            locked: false,
            removed: HashSet::new(),
            blocked: HashMap::new(),
            lobby: false,
            waiting: Vec::new(),
            turned_away: HashSet::new(),
            tickets: HashMap::new(),
            standing: HashMap::new(),
            chat: chat_log::ChatLog::default(),
            chat_renumbered: false,
            expected: HashMap::new(),
        }
    }

    /// The members of its former life not back yet, in the order of their
    /// ids (listed in `joined`, and shown as reconnecting).
    fn expected_members(&self) -> Vec<MemberRef> {
        let mut expected: Vec<MemberRef> = self
            .expected
            .iter()
            .map(|(&id, away)| MemberRef {
                id,
                name: away.name.clone(),
            })
            .collect();
        expected.sort_by_key(|member| member.id);
        expected
    }
}

/// The meetings other servers of a cluster hold, as the rules see them.
pub trait Elsewhere {
    /// Their public meetings, oldest first.
    fn listing(&self) -> Vec<MeetingSummary>;
    /// Who holds `meeting`, if another server does.
    fn locate(&self, meeting: &MeetingId) -> Option<Holder>;
}

/// Where a meeting another server holds is joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// `host:port`, as its clients connect.
    pub address: String,
    /// The key it shows (None without TLS).
    pub fingerprint: Option<String>,
}

/// A server on its own: nothing is elsewhere.
pub struct Alone;

impl Elsewhere for Alone {
    fn listing(&self) -> Vec<MeetingSummary> {
        Vec::new()
    }

    fn locate(&self, _: &MeetingId) -> Option<Holder> {
        None
    }
}

const NOT_IN_MEETING: &str = "you are not in a meeting: /create one or /join ID first";

/// Every client and meeting, and the rules between them.
#[derive(Default)]
pub struct MeetingRules {
    participants: HashMap<ClientId, Participant>,
    meetings: HashMap<MeetingId, Meeting>,
    next_meeting: u64,
    /// Remote control: each screen owner and the one member it lets control it.
    grants: HashMap<ClientId, ClientId>,
    /// Failed joins per address, so opening more connections guesses no faster.
    failed_joins_by_address: HashMap<IpAddr, TokenBucket>,
    /// An id the cluster claimed for the next meeting created here.
    claimed_id: Option<MeetingId>,
    /// Meetings another server handed over to this one, until the first of
    /// their members is back.
    handoffs: HashMap<MeetingId, (Handoff, Instant)>,
    /// Meetings made again from their handoff, until their tickets expire:
    /// the handoff, still in the cluster's directory a while, does not make
    /// one again once its members have all left.
    restored: HashMap<MeetingId, Instant>,
    /// A server of a cluster gives every member a standing ticket...
    standing_tickets: bool,
    /// ...and keeps each chat message in the cluster before telling it.
    chat_kept_in_cluster: bool,
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
    if let Some(hidden) = name.chars().find(|&c| is_invisible(c)) {
        return Err(format!(
            "a name cannot contain invisible or direction-changing characters (U+{:04X}); others must be able to read it",
            u32::from(hidden)
        ));
    }
    Ok(name.to_string())
}

/// Checks the text of a chat message, public or private: not empty, within
/// `MAX_CHAT_BYTES`, one line.
fn check_chat_text(text: &str) -> Result<(), String> {
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
        return Err("a chat message cannot contain control characters or line breaks".to_string());
    }
    Ok(())
}

/// Characters that show nothing, or change how the text around them is
/// shown (bidirectional overrides): in a name they let one member pass for
/// another. Every whitespace but the plain space counts too.
fn is_invisible(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD          // soft hyphen
        | 0x034F        // combining grapheme joiner
        | 0x061C        // Arabic letter mark
        | 0x115F | 0x1160 | 0x3164 | 0xFFA0 // Hangul fillers
        | 0x17B4 | 0x17B5
        | 0x180B..=0x180F // Mongolian variation selectors, vowel separator
        | 0x200B..=0x200F // zero-width space, joiners, LRM, RLM
        | 0x2028..=0x202E // line and paragraph separators, bidi embeddings and overrides
        | 0x2060..=0x206F // word joiner, invisible operators, bidi isolates
        | 0x2800          // braille blank
        | 0xFE00..=0xFE0F // variation selectors
        | 0xFEFF          // zero-width no-break space
        | 0xFFF9..=0xFFFB // interlinear annotations
        | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF // tags, variation selectors supplement
    ) || (c.is_whitespace() && c != ' ')
}

impl MeetingRules {
    /// The effects asked for since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// A client finished its handshake under this (validated) name.
    pub fn arrive(&mut self, id: ClientId, name: String, address: Option<IpAddr>) {
        self.participants.insert(
            id,
            Participant {
                chosen: name.clone(),
                name,
                sharing: PerKind::default(),
                hand: false,
                meeting: None,
                warned_outside: PerKind::default(),
                last_keyframe_request: None,
                last_control_request: None,
                budget: TokenBucket::requests(),
                failed_joins: TokenBucket::failed_joins(),
                address,
                waiting_in: None,
            },
        );
    }

    /// A client is gone for good: it leaves its meeting (the others are told).
    pub fn depart_server(&mut self, id: ClientId) {
        self.stop_waiting(id);
        self.depart(id);
        self.participants.remove(&id);
    }

    /// The connection of `id` broke and its session is held: its meeting
    /// hears it is reconnecting (`back` when it resumes).
    pub fn reconnecting(&mut self, id: ClientId) {
        self.tell_others(id, |meeting, member| Event::MemberReconnecting {
            meeting,
            member,
        });
    }

    /// A held session resumed: its meeting hears it is back.
    pub fn back(&mut self, id: ClientId) {
        self.tell_others(id, |meeting, member| Event::MemberBack { meeting, member });
    }

    fn tell_others(&mut self, id: ClientId, event: impl FnOnce(MeetingId, MemberRef) -> Event) {
        let Some(meeting) = self.meeting_of(id).cloned() else {
            return;
        };
        let others: Vec<ClientId> = self
            .members(&meeting)
            .iter()
            .copied()
            .filter(|&other| other != id)
            .collect();
        if !others.is_empty() {
            let member = self.member_ref(id);
            self.tell_all(others, event(meeting, member));
        }
    }

    /// The state a client that lost events starts over from, if it is in a
    /// meeting: `joined`, then what else a member knows of it (private,
    /// locked, lobby on, who waits for the host, who is stopped from
    /// sharing what, and its standing ticket), as the events that told it.
    pub fn snapshot(&self, id: ClientId) -> Vec<Event> {
        let Some(meeting) = self.meeting_of(id).cloned() else {
            return Vec::new();
        };
        let Some(m) = self.meetings.get(&meeting) else {
            return Vec::new();
        };
        let host = self.member_ref(m.host);
        let mut events = vec![Event::Joined {
            meeting: meeting.clone(),
            members: self.members_info(&meeting),
        }];
        events.extend(self.away(&meeting));
        if m.passcode.is_some() {
            events.push(Event::Privacy {
                meeting: meeting.clone(),
                private: true,
                // As when it was set: the host hears it, the others that it is private.
                passcode: m.passcode.clone().filter(|_| id == m.host),
            });
        }
        if m.locked {
            events.push(Event::Locked {
                meeting: meeting.clone(),
                locked: true,
                by: host.clone(),
            });
        }
        if m.lobby {
            events.push(Event::Lobby {
                meeting: meeting.clone(),
                on: true,
                by: host.clone(),
            });
        }
        if id == m.host && !m.waiting.is_empty() {
            events.push(Event::Waiting {
                meeting: meeting.clone(),
                waiting: m.waiting.iter().map(|&w| self.member_ref(w)).collect(),
            });
        }
        let mut blocked: Vec<(&ClientId, &PerKind<bool>)> = m.blocked.iter().collect();
        blocked.sort_by_key(|(member, _)| **member);
        for (&member, kinds) in blocked {
            for kind in MediaKind::ALL.into_iter().filter(|&kind| kinds[kind]) {
                events.push(Event::Blocked {
                    meeting: meeting.clone(),
                    member: self.member_ref(member),
                    kind,
                    blocked: true,
                });
            }
        }
        if let Some(ticket) = m.standing.get(&id) {
            events.push(Event::Ticket {
                meeting,
                ticket: ticket.clone(),
                chat_renumbered: m.chat_renumbered,
            });
        }
        events
    }

    /// The name `id` goes by now.
    pub fn name_of(&self, id: ClientId) -> Option<String> {
        self.participants.get(&id).map(|p| p.name.clone())
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

    /// Every meeting's id.
    pub fn meeting_ids(&self) -> Vec<MeetingId> {
        self.meetings.keys().cloned().collect()
    }

    /// True while `id` says it shares `kind`.
    pub fn sharing(&self, id: ClientId, kind: MediaKind) -> bool {
        self.participants.get(&id).is_some_and(|p| p.sharing[kind])
    }

    /// Takes one request from `id`'s budget, for a request the registry
    /// carries out itself; false (and `id` told so) when it is spent.
    pub fn spend_request(&mut self, id: ClientId) -> bool {
        let Some(participant) = self.participants.get_mut(&id) else {
            return false;
        };
        if participant.budget.take(Instant::now()) {
            return true;
        }
        let message = format!(
            "too many requests: at most {REQUEST_BURST} at once and {REQUESTS_PER_SECOND} a second; this one was not carried out"
        );
        self.tell(id, Event::Error { message });
        false
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

    pub fn has_meeting(&self, meeting: &MeetingId) -> bool {
        self.meetings.contains_key(meeting)
    }

    /// Whether `id` is in a meeting or waits at one's door.
    pub fn is_in_or_waiting(&self, id: ClientId) -> bool {
        self.participants
            .get(&id)
            .is_some_and(|p| p.meeting.is_some() || p.waiting_in.is_some())
    }

    /// Carries out one request of client `id` after the handshake; a request
    /// that cannot be carried out is answered with an `error`.
    pub fn handle(&mut self, id: ClientId, request: Request) {
        self.handle_in_cluster(id, request, &Alone)
    }

    /// `handle`, on a server of a cluster whose other meetings are `elsewhere`.
    pub fn handle_in_cluster(&mut self, id: ClientId, request: Request, elsewhere: &dyn Elsewhere) {
        let Some(participant) = self.participants.get_mut(&id) else {
            return;
        };
        if !participant.budget.take(Instant::now()) {
            let message = format!(
                "too many requests: at most {REQUEST_BURST} at once and {REQUESTS_PER_SECOND} a second; this one was not carried out"
            );
            return self.tell(id, Event::Error { message });
        }
        let result = match request {
            Request::Create { passcode } => self.create(id, passcode),
            Request::Join { meeting, passcode } => {
                self.join(id, &meeting, passcode.as_deref(), elsewhere)
            }
            Request::Rejoin {
                meeting,
                ticket,
                chat_seen,
            } => self.rejoin(id, &meeting, &ticket, chat_seen, elsewhere),
            Request::Leave => self.leave(id),
            Request::Cancel => self.cancel(id),
            Request::Meetings => self.list_meetings(id, elsewhere),
            Request::Members => self.list_members(id),
            Request::Chat { text } => self.chat(id, text),
            Request::Private { to, text } => self.private(id, to, text),
            Request::Hand { raised, member } => self.hand(id, raised, member),
            Request::React { emoji } => self.react(id, emoji),
            Request::Media { kind, on } => self.set_sharing(id, kind, on),
            Request::Keyframe { member, kind } => self.ask_keyframe(id, member, kind),
            Request::ControlRequest { owner } => self.ask_control(id, owner),
            Request::ControlGrant { controller } => self.grant_control(id, controller),
            Request::ControlRevoke => self.revoke_control(id),
            Request::Input { events } => self.relay_input(id, events),
            Request::Passcode { passcode } => self.set_passcode(id, passcode),
            Request::Lock { locked } => self.lock(id, locked),
            Request::Remove { member } => self.remove(id, member),
            Request::Block { member, kind } => self.block(id, member, kind),
            Request::Allow { member, kind } => self.allow(id, member, kind),
            Request::MakeHost { member } => self.make_host(id, member),
            Request::Lobby { on } => self.set_lobby(id, on),
            Request::Admit { member } => self.admit_waiting(id, member),
            Request::Deny { member } => self.deny_waiting(id, member),
            Request::Ping => {
                self.tell(id, Event::Pong);
                Ok(())
            }
            Request::ServerStats | Request::View { .. } => {
                Err("server_stats and view are answered by the registry, not the rules".to_string())
            }
            Request::Hello { .. } | Request::Attach { .. } | Request::Resume { .. } => Err(
                "hello, resume and attach are only valid as the first message of a connection"
                    .to_string(),
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

    /// Says numbered chat message `kept` in `meeting`: at once, or on a
    /// server of a cluster once the cluster keeps it (`chat_kept`).
    fn say(&mut self, meeting: MeetingId, kept: KeptChat) {
        let Some(m) = self.meetings.get_mut(&meeting) else {
            return;
        };
        m.chat.keep(kept.clone());
        if self.chat_kept_in_cluster {
            self.effects.push(Effect::KeepChat { meeting, kept });
        } else {
            self.chat_kept(&meeting, kept.seq);
        }
    }

    /// Chat message `seq` of `meeting` is kept in the cluster (or could
    /// not be, and the meeting goes on without): its members are told it,
    /// those of them it is for.
    pub fn chat_kept(&mut self, meeting: &MeetingId, seq: u64) {
        let Some(m) = self.meetings.get(meeting) else {
            return;
        };
        let Some(kept) = m.chat.get(seq) else {
            return;
        };
        let to: Vec<ClientId> = match kept.between {
            // To whom it is said, then to its sender (its echo).
            Some([from, to]) => [to, from]
                .into_iter()
                .filter(|member| m.members.contains(member))
                .collect(),
            None => m.members.clone(),
        };
        let event = kept.event.clone();
        self.tell_all(to, event);
    }

    pub fn tell(&mut self, to: ClientId, event: Event) {
        self.tell_all(vec![to], event);
    }

    pub fn tell_all(&mut self, to: Vec<ClientId>, event: Event) {
        self.effects.push(Effect::Tell { to, event });
    }

    /// A member named in an answer to someone in `meeting` as the members
    /// list names them (`bo#3`), not by a bare id the asker may never have
    /// typed. Only someone the meeting knows (in it, waiting at its door,
    /// or kept out of it) is named: a name from another meeting is none of
    /// its business, so that one stays `#3`.
    fn label(&self, id: ClientId, meeting: &MeetingId) -> String {
        let known = self.meetings.get(meeting).is_some_and(|m| {
            m.members.contains(&id)
                || m.waiting.contains(&id)
                || m.removed.contains(&id)
                || m.turned_away.contains(&id)
        });
        match self.participants.get(&id) {
            Some(p) if known => format!("{}#{id}", p.name),
            _ => format!("#{id}"),
        }
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
        let expected = m
            .expected_members()
            .into_iter()
            .map(|MemberRef { id, name }| MemberInfo {
                id,
                name,
                host: false,
                hand: false,
                sharing: PerKind::default(),
            });
        m.members
            .iter()
            .filter_map(|&id| self.member_info(id, m.host == id))
            .chain(expected)
            .collect()
    }

    /// A member as the others must know them from the moment they see
    /// them: with what they already share (a source may run before a join,
    /// and keeps running across leaving and joining again).
    fn member_info(&self, id: ClientId, host: bool) -> Option<MemberInfo> {
        let participant = self.participants.get(&id)?;
        Some(MemberInfo {
            id,
            name: participant.name.clone(),
            host,
            hand: participant.hand,
            sharing: participant.sharing,
        })
    }

    fn current_meeting(&self, id: ClientId) -> Result<MeetingId, String> {
        self.meeting_of(id)
            .cloned()
            .ok_or_else(|| NOT_IN_MEETING.to_string())
    }

    fn ensure_not_in_meeting(&self, id: ClientId) -> Result<(), String> {
        if let Some(meeting) = self.waiting_for(id) {
            return Err(format!(
                "you are waiting to be let into meeting {meeting}: /leave to stop waiting"
            ));
        }
        match self.meeting_of(id) {
            Some(meeting) => Err(format!(
                "you are already in meeting {meeting}: /leave it first"
            )),
            None => Ok(()),
        }
    }

    /// The next meeting created here takes `meeting`, which the cluster
    /// claimed for this server (unless a meeting here has it already).
    pub fn use_claimed_id(&mut self, meeting: MeetingId) {
        self.claimed_id = Some(meeting);
    }

    /// Every meeting's line, private ones too (for the cluster's directory).
    pub fn summaries(&self) -> Vec<MeetingSummary> {
        self.meetings
            .iter()
            .map(|(meeting, m)| self.summary(meeting, m))
            .collect()
    }

    fn summary(&self, meeting: &MeetingId, m: &Meeting) -> MeetingSummary {
        let host = self.member_ref(m.host);
        MeetingSummary {
            id: meeting.clone(),
            host: host.name,
            host_id: host.id,
            members: m.members.len(),
            private: m.passcode.is_some(),
            locked: m.locked,
            server: None,
        }
    }

    fn new_meeting_id(&mut self) -> Result<MeetingId, String> {
        if let Some(claimed) = self.claimed_id.take()
            && !self.meetings.contains_key(&claimed)
        {
            return Ok(claimed);
        }
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

    fn create(&mut self, id: ClientId, passcode: Option<String>) -> Result<(), String> {
        self.ensure_not_in_meeting(id)?;
        let passcode = passcode
            .map(|p| moderation::validate_passcode(&p))
            .transpose()?;
        let meeting = self.new_meeting_id()?;
        self.next_meeting += 1;
        self.meetings.insert(
            meeting.clone(),
            Meeting::new(id, self.next_meeting, passcode.clone()),
        );
        self.enter(id, &meeting);
        self.tell(
            id,
            Event::Created {
                meeting: meeting.clone(),
                passcode,
            },
        );
        let members = self.members_info(&meeting);
        self.tell(
            id,
            Event::Joined {
                meeting: meeting.clone(),
                members,
            },
        );
        self.give_standing_ticket(id, &meeting);
        Ok(())
    }

    fn join(
        &mut self,
        id: ClientId,
        requested: &str,
        passcode: Option<&str>,
        elsewhere: &dyn Elsewhere,
    ) -> Result<(), String> {
        if let Some(meeting) = MeetingId::parse(requested)
            && !self.meetings.contains_key(&meeting)
            && let Some(holder) = elsewhere.locate(&meeting)
        {
            return self.point_elsewhere(id, meeting, holder);
        }
        let meeting = self.admit(id, requested, passcode)?;
        if !self.knocks(id, &meeting)? {
            self.come_in(id, &meeting);
        }
        Ok(())
    }

    /// `id` becomes a member of `meeting`: the others are told first.
    fn come_in(&mut self, id: ClientId, meeting: &MeetingId) {
        let Some(m) = self.meetings.get_mut(meeting) else {
            return;
        };
        let others = m.members.clone();
        let lobby = m.lobby.then_some(m.host);
        let private = m.passcode.is_some();
        let was_expected = m.expected.remove(&id).is_some();
        m.members.push(id);
        let meeting = meeting.clone();
        self.enter(id, &meeting);
        if was_expected {
            // The others were shown it away since the meeting was made again.
            self.back(id);
        } else if let Some(member) = self.member_info(id, false) {
            self.tell_all(
                others,
                Event::MemberJoined {
                    meeting: meeting.clone(),
                    member,
                },
            );
        }
        let members = self.members_info(&meeting);
        self.tell(
            id,
            Event::Joined {
                meeting: meeting.clone(),
                members,
            },
        );
        if private {
            // Without it a member passes the id on as if it were enough.
            self.tell(
                id,
                Event::Privacy {
                    meeting: meeting.clone(),
                    private,
                    passcode: None,
                },
            );
        }
        if let Some(host) = lobby {
            let by = self.member_ref(host);
            self.tell(
                id,
                Event::Lobby {
                    meeting: meeting.clone(),
                    on: true,
                    by,
                },
            );
        }
        self.tell_who_is_away(id, &meeting);
        self.give_standing_ticket(id, &meeting);
    }

    /// The name `id` goes by in `meeting`: its chosen one, or, if another
    /// member already goes by that (in any case), the first free `name (n)`.
    fn unique_name(&self, id: ClientId, meeting: &MeetingId) -> String {
        let chosen = self
            .participants
            .get(&id)
            .map(|p| p.chosen.clone())
            .unwrap_or_default();
        let taken = |candidate: &str| {
            self.members(meeting).iter().any(|&other| {
                other != id
                    && self
                        .participants
                        .get(&other)
                        .is_some_and(|p| p.name.eq_ignore_ascii_case(candidate))
            })
        };
        if !taken(&chosen) {
            return chosen;
        }
        (2..)
            .map(|n| format!("{chosen} ({n})"))
            .find(|candidate| !taken(candidate))
            .unwrap_or(chosen)
    }

    fn enter(&mut self, id: ClientId, meeting: &MeetingId) {
        let name = self.unique_name(id, meeting);
        if let Some(participant) = self.participants.get_mut(&id) {
            participant.name = name;
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
        participant.hand = false;
        participant.name.clone_from(&participant.chosen);
        self.effects.push(Effect::Unroute(id));
        Some(meeting)
    }

    fn leave(&mut self, id: ClientId) -> Result<(), String> {
        if let Some(meeting) = self.stop_waiting(id) {
            self.tell(id, Event::Left { meeting });
            return Ok(());
        }
        let meeting = self.current_meeting(id)?;
        self.depart(id);
        self.tell(id, Event::Left { meeting });
        Ok(())
    }

    /// Takes `id` out of its meeting: the others are told, the host role passes
    /// on, an empty meeting is removed.
    fn depart(&mut self, id: ClientId) {
        // Control ends while everyone (the one leaving too) still hears of it.
        self.end_grants_of(id);
        // Named as the others knew it (`ana (2)`), before the name is reset.
        let member = self.member_ref(id);
        let Some(meeting) = self.forget_meeting(id) else {
            return;
        };
        let Some(m) = self.meetings.get_mut(&meeting) else {
            return;
        };
        m.members.retain(|member| *member != id);
        m.standing.remove(&id);
        let Some(&successor) = m.members.first() else {
            let waiting = self
                .meetings
                .remove(&meeting)
                .map(|m| m.waiting)
                .unwrap_or_default();
            self.turn_away_all(&meeting, waiting, "the meeting ended: everyone in it left");
            return;
        };
        let host_left = m.host == id;
        if host_left {
            m.host = successor;
        }
        let remaining = m.members.clone();
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
            self.tell_new_host_who_waits(&meeting);
            self.tell_new_host_the_passcode(&meeting);
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
        let (members, waiting) = self
            .meetings
            .remove(&meeting)
            .map(|m| (m.members, m.waiting))
            .unwrap_or_default();
        self.turn_away_all(&meeting, waiting, "the host ended the meeting");
        self.tell_all(members.clone(), Event::Ended { meeting });
        for member in members {
            // The meeting is gone: its grants end with it, nobody left to tell.
            self.grants
                .retain(|&owner, &mut controller| owner != member && controller != member);
            self.forget_meeting(member);
        }
        Ok(())
    }

    /// The meetings here (oldest first), then those other servers hold.
    fn list_meetings(&mut self, id: ClientId, elsewhere: &dyn Elsewhere) -> Result<(), String> {
        // A private meeting is listed to its own members only.
        let mut meetings: Vec<(&MeetingId, &Meeting)> = self
            .meetings
            .iter()
            .filter(|(_, m)| m.passcode.is_none() || m.members.contains(&id))
            .collect();
        meetings.sort_by_key(|(_, m)| m.created);
        let elsewhere = elsewhere.listing();
        let total = meetings.len() + elsewhere.len();
        let meetings = meetings
            .into_iter()
            .map(|(meeting, m)| self.summary(meeting, m))
            .chain(elsewhere)
            .take(MAX_LISTED_MEETINGS)
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
        check_chat_text(&text)?;
        let from = self.member_ref(id);
        let Some(m) = self.meetings.get_mut(&meeting) else {
            return Err(NOT_IN_MEETING.to_string());
        };
        let seq = m.chat.next_seq();
        let event = Event::Chat {
            meeting: meeting.clone(),
            from: from.name,
            from_id: id,
            text,
            seq,
        };
        self.say(
            meeting,
            KeptChat {
                seq,
                event,
                between: None,
            },
        );
        Ok(())
    }

    fn set_sharing(&mut self, id: ClientId, kind: MediaKind, on: bool) -> Result<(), String> {
        if on && self.blocked(id, kind) {
            return Err(format!(
                "the host has stopped your {kind}; you can share it again once the host allows it"
            ));
        }
        let Some(participant) = self.participants.get_mut(&id) else {
            return Ok(());
        };
        let changed = participant.sharing[kind] != on;
        participant.sharing[kind] = on;
        let meeting = participant.meeting.clone();
        if kind == MediaKind::Screen && !on {
            // No screen, nothing to control.
            self.end_grant(id);
        }
        let Some(meeting) = meeting else {
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
mod tests;
