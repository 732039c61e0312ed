//! The meeting as this client knows it: which meeting, who is in it, who is
//! host and who shares what, folded from the server's events in one place.
//!
//! The main loop owns the one `MeetingState` and folds every event into it
//! before any front end sees the event; the front ends (lines, JSON, the
//! full-screen view) read it, and never keep a roster of their own, so
//! `/volume NAME`, the member list and the view's tiles cannot disagree.

use common::{ClientId, Event, MediaKind, MeetingId, MemberInfo, MemberRef};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, PartialEq)]
pub struct MeetingState {
    pub me: ClientId,
    /// The meeting we are in, if any.
    pub meeting: Option<MeetingId>,
    /// Everyone in the meeting, us included, in the server's order (arrival).
    pub members: Vec<MemberInfo>,
    /// Remote control: each screen owner and the member it granted control.
    pub controls: BTreeMap<ClientId, ClientId>,
    /// Requests for control not answered yet: (owner, asking member).
    pub control_requests: Vec<(ClientId, ClientId)>,
    /// The meeting has a passcode.
    pub private: bool,
    /// Its passcode, where the server told us (we created the meeting with
    /// it, set it, or became host): what we pass on with the id.
    pub passcode: Option<String>,
    /// The host lets nobody new in.
    pub locked: bool,
    /// What the host stopped: (member, kind).
    pub blocked: std::collections::BTreeSet<(ClientId, MediaKind)>,
    /// Joiners wait in a lobby until the host lets them in.
    pub lobby: bool,
    /// Host only: who waits in the lobby, in order of arrival.
    pub waiting: Vec<MemberRef>,
    /// The meeting whose lobby we wait in (we are in none meanwhile).
    pub waiting_for: Option<MeetingId>,
    /// Every name seen this session, so figures about a member who left
    /// still have a name.
    names: HashMap<ClientId, String>,
}

impl MeetingState {
    pub fn new(me: ClientId) -> MeetingState {
        MeetingState {
            me,
            meeting: None,
            members: Vec::new(),
            controls: BTreeMap::new(),
            control_requests: Vec::new(),
            private: false,
            passcode: None,
            locked: false,
            blocked: Default::default(),
            lobby: false,
            waiting: Vec::new(),
            waiting_for: None,
            names: HashMap::new(),
        }
    }

    /// Folds one server event in; true when anything changed.
    pub fn apply(&mut self, event: &Event) -> bool {
        match event {
            // Before `joined`, which keeps it.
            Event::Created { passcode, .. } => {
                self.private = passcode.is_some();
                self.passcode.clone_from(passcode);
            }
            Event::Joined { meeting, members } => {
                self.meeting = Some(meeting.clone());
                self.waiting_for = None;
                self.set_members(members);
            }
            Event::Members { meeting, members } if self.meeting.as_ref() == Some(meeting) => {
                self.set_members(members);
            }
            // What they share comes with them: no `media` event follows for
            // a source that was on before they joined.
            Event::MemberJoined { meeting, member } if self.meeting.as_ref() == Some(meeting) => {
                self.names.insert(member.id, member.name.clone());
                match self.members.iter_mut().find(|m| m.id == member.id) {
                    Some(known) => known.clone_from(member),
                    None => self.members.push(member.clone()),
                }
            }
            Event::MemberLeft { meeting, member } if self.meeting.as_ref() == Some(meeting) => {
                self.members.retain(|m| m.id != member.id);
                let gone = member.id;
                self.controls
                    .retain(|&owner, &mut controller| owner != gone && controller != gone);
                self.control_requests
                    .retain(|&(owner, asking)| owner != gone && asking != gone);
            }
            Event::ControlRequested {
                meeting,
                owner,
                controller,
            } if self.meeting.as_ref() == Some(meeting) => {
                let pair = (owner.id, controller.id);
                if !self.control_requests.contains(&pair) {
                    self.control_requests.push(pair);
                }
            }
            Event::ControlGranted {
                meeting,
                owner,
                controller,
            } if self.meeting.as_ref() == Some(meeting) => {
                self.controls.insert(owner.id, controller.id);
                self.control_requests.retain(|&(o, _)| o != owner.id);
            }
            Event::ControlRevoked {
                meeting,
                owner,
                controller,
            } if self.meeting.as_ref() == Some(meeting) => {
                if self.controls.get(&owner.id) == Some(&controller.id) {
                    self.controls.remove(&owner.id);
                }
            }
            Event::HostChanged { meeting, host } if self.meeting.as_ref() == Some(meeting) => {
                for m in &mut self.members {
                    m.host = m.id == host.id;
                }
                if host.id != self.me {
                    // Only the host is told who waits.
                    self.waiting.clear();
                }
            }
            Event::Left { meeting } | Event::Ended { meeting } | Event::Removed { meeting, .. }
                if self.meeting.as_ref() == Some(meeting) =>
            {
                self.meeting = None;
                self.members.clear();
                self.controls.clear();
                self.control_requests.clear();
                self.private = false;
                self.passcode = None;
                self.locked = false;
                self.blocked.clear();
                self.lobby = false;
                self.waiting.clear();
            }
            Event::Left { meeting } | Event::NotAdmitted { meeting, .. }
                if self.waiting_for.as_ref() == Some(meeting) =>
            {
                self.waiting_for = None;
            }
            Event::InLobby { meeting } => self.waiting_for = Some(meeting.clone()),
            Event::Lobby { meeting, on, .. } if self.meeting.as_ref() == Some(meeting) => {
                self.lobby = *on;
            }
            Event::Waiting { meeting, waiting } if self.meeting.as_ref() == Some(meeting) => {
                for m in waiting {
                    self.names.insert(m.id, m.name.clone());
                }
                self.waiting = waiting.clone();
            }

            Event::Privacy {
                meeting,
                private,
                passcode,
            } if self.meeting.as_ref() == Some(meeting) => {
                self.private = *private;
                // A new passcode we were not told replaces the one we knew.
                self.passcode = passcode.clone().filter(|_| *private);
            }
            Event::Locked {
                meeting, locked, ..
            } if self.meeting.as_ref() == Some(meeting) => {
                self.locked = *locked;
            }
            Event::Blocked {
                meeting,
                member,
                kind,
                blocked,
            } if self.meeting.as_ref() == Some(meeting) => {
                if *blocked {
                    self.blocked.insert((member.id, *kind));
                } else {
                    self.blocked.remove(&(member.id, *kind));
                }
            }
            Event::Hand {
                meeting,
                member,
                raised,
                ..
            } if self.meeting.as_ref() == Some(meeting) => {
                match self.members.iter_mut().find(|m| m.id == member.id) {
                    Some(m) => m.hand = *raised,
                    None => return false,
                }
            }
            Event::Media {
                meeting,
                member,
                kind,
                on,
            } if self.meeting.as_ref() == Some(meeting) => {
                match self.members.iter_mut().find(|m| m.id == member.id) {
                    Some(m) => m.sharing[*kind] = *on,
                    None => return false,
                }
            }
            _ => return false,
        }
        true
    }

    fn set_members(&mut self, members: &[MemberInfo]) {
        for m in members {
            self.names.insert(m.id, m.name.clone());
        }
        self.members = members.to_vec();
    }

    pub fn in_meeting(&self) -> bool {
        self.meeting.is_some()
    }

    /// The other members: everyone but us.
    pub fn others(&self) -> impl Iterator<Item = &MemberInfo> {
        self.members.iter().filter(move |m| m.id != self.me)
    }

    pub fn member(&self, id: ClientId) -> Option<&MemberInfo> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn host(&self) -> Option<&MemberInfo> {
        self.members.iter().find(|m| m.host)
    }

    /// Whether `id` shares `kind`, as the server last said.
    pub fn shares(&self, id: ClientId, kind: MediaKind) -> bool {
        self.member(id).is_some_and(|m| m.sharing[kind])
    }

    /// Who controls `owner`'s screen, if anyone.
    pub fn controller_of(&self, owner: ClientId) -> Option<ClientId> {
        self.controls.get(&owner).copied()
    }

    /// Whose screen we control, if any.
    pub fn controlled_by_me(&self) -> Option<ClientId> {
        self.controls
            .iter()
            .find(|&(_, &controller)| controller == self.me)
            .map(|(&owner, _)| owner)
    }

    /// The members sharing a screen, us excluded.
    pub fn screen_sharers(&self) -> impl Iterator<Item = &MemberInfo> {
        self.others().filter(|m| m.sharing[MediaKind::Screen])
    }

    /// A member's name, also after they left; `member N` if never seen.
    pub fn name_of(&self, id: ClientId) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("member {id}"))
    }

    /// Whether the host stopped `id`'s `kind`.
    pub fn is_blocked(&self, id: ClientId, kind: MediaKind) -> bool {
        self.blocked.contains(&(id, kind))
    }

    /// Finds someone waiting in the lobby by id, `name#id` or name.
    pub fn find_waiting(&self, who: &str) -> Result<ClientId, String> {
        let waiting: Vec<(ClientId, &str)> = self
            .waiting
            .iter()
            .map(|m| (m.id, m.name.as_str()))
            .collect();
        match resolve(&waiting, who) {
            Found::One(id) => Ok(id),
            Found::None if waiting.is_empty() => {
                Err("nobody waits in the lobby (only the host sees who does)".to_string())
            }
            Found::None => Err(format!(
                "nobody called '{who}' waits in the lobby; waiting: {}",
                self.waiting
                    .iter()
                    .map(|m| label(m.id, &m.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Found::Several(ids) => Err(ambiguous(&waiting, who, &ids, "wait")),
            Found::Mismatch(id, name) => Err(mismatch(who, id, name)),
        }
    }

    /// Finds anyone seen this session (also a member who was removed) by id,
    /// `name#id` or (case-insensitive) name.
    pub fn find_known(&self, who: &str) -> Result<ClientId, String> {
        let seen: Vec<(ClientId, &str)> = self
            .names
            .iter()
            .map(|(id, name)| (*id, name.as_str()))
            .collect();
        match resolve(&seen, who) {
            Found::One(id) => Ok(id),
            // Someone this client never saw is still known by id to the server.
            Found::None => id_of(who).map(ClientId).ok_or_else(|| {
                format!(
                    "nobody called '{who}' was seen in this meeting; /members lists the members with their ids"
                )
            }),
            Found::Several(ids) => Err(ambiguous(&seen, who, &ids, "were")),
            Found::Mismatch(id, name) => Err(mismatch(who, id, name)),
        }
    }

    /// Finds a member of our meeting by id, `name#id` (as the members list
    /// shows them) or (case-insensitive) name.
    pub fn find(&self, who: &str) -> Result<&MemberInfo, String> {
        let present: Vec<(ClientId, &str)> = self
            .members
            .iter()
            .map(|m| (m.id, m.name.as_str()))
            .collect();
        let id = match resolve(&present, who) {
            Found::One(id) => id,
            Found::None => {
                return Err(format!(
                    "nobody called '{who}' in your meeting; /members lists them"
                ));
            }
            Found::Several(ids) => return Err(ambiguous(&present, who, &ids, "are")),
            Found::Mismatch(id, name) => return Err(mismatch(who, id, name)),
        };
        self.member(id)
            .ok_or_else(|| format!("nobody called '{who}' in your meeting"))
    }

    /// Splits `line` into the member named at its start and what follows
    /// (`/msg`'s text). Names may have spaces, so the member is written in
    /// any form the view shows them (`Cy Lee`, `Cy Lee#2`, `2`) or quoted
    /// (`"Cy Lee"`); the longest run of words that names a member wins, so
    /// `Cy Lee hi` goes to Cy Lee even when a Cy is there too (`Cy#3` and
    /// `"Cy"` name that one).
    pub fn find_at_start<'a>(&self, line: &'a str) -> Result<(&MemberInfo, &'a str), String> {
        let line = line.trim_start();
        if let Some(quoted) = line.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(|| {
                "a quoted name needs its closing quote, like /msg \"Cy Lee\" hi".to_string()
            })?;
            let (who, rest) = line.split_at(end + 2);
            return self.find(who).map(|member| (member, rest.trim_start()));
        }
        let present: Vec<(ClientId, &str)> = self
            .members
            .iter()
            .map(|m| (m.id, m.name.as_str()))
            .collect();
        let word_ends = line
            .char_indices()
            .zip(line.chars().skip(1))
            .filter(|((_, c), next)| !c.is_whitespace() && next.is_whitespace())
            .map(|((at, c), _)| at + c.len_utf8());
        let mut longest_first: Vec<usize> = word_ends.collect();
        longest_first.reverse();
        for end in longest_first {
            let (who, rest) = line.split_at(end);
            match resolve(&present, who) {
                Found::One(id) => {
                    if let Some(member) = self.member(id) {
                        return Ok((member, rest.trim_start()));
                    }
                }
                Found::Several(ids) => return Err(ambiguous(&present, who, &ids, "are")),
                // `bo see #3` is no member: shorter runs may be one.
                Found::None | Found::Mismatch(..) => {}
            }
        }
        // Nobody: said of the first word, as a one-word name would be.
        let first = line.split_whitespace().next().unwrap_or_default();
        self.find(first).map(|member| (member, ""))
    }
}

/// How a member is typed and shown when names alone are not enough: `bo#3`.
pub fn label(id: ClientId, name: &str) -> String {
    format!("{name}#{id}")
}

/// The id in `3` or `#3`.
fn id_of(who: &str) -> Option<u32> {
    who.strip_prefix('#').unwrap_or(who).parse().ok()
}

enum Found<'a> {
    One(ClientId),
    None,
    Several(Vec<ClientId>),
    /// `name#id` where the id is someone of another name.
    Mismatch(ClientId, &'a str),
}

/// Names compare as people read them: case and runs of spaces aside.
fn same_name(a: &str, b: &str) -> bool {
    let words = |s: &str| {
        s.split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    words(a) == words(b)
}

/// Whether `typed` is `name`'s first words (`Cy` of `Cy Lee`), or all of it.
fn starts_name(name: &str, typed: &str) -> bool {
    let typed: Vec<String> = typed.split_whitespace().map(str::to_lowercase).collect();
    let name: Vec<String> = name.split_whitespace().map(str::to_lowercase).collect();
    !typed.is_empty() && name.starts_with(&typed)
}

/// `"Cy Lee"` is `Cy Lee`: quotes mark where a name with spaces ends.
fn unquote(who: &str) -> &str {
    who.strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(who)
}

/// Looks `who` up among `people`: an id (`3`, `#3`), a whole name (`bo`,
/// `ana (2)`, `Cy Lee`, any case, quoted or not), or `name#id` (where the
/// name may be its first words: `Cy#2` for Cy Lee), in that order.
fn resolve<'a>(people: &[(ClientId, &'a str)], who: &str) -> Found<'a> {
    let who = unquote(who.trim()).trim();
    let by_id = |id: u32| people.iter().find(|(known, _)| known.0 == id);
    if let Some(&(id, _)) = id_of(who).and_then(by_id) {
        return Found::One(id);
    }
    let mut named: Vec<ClientId> = people
        .iter()
        .filter(|(_, name)| same_name(name, who))
        .map(|(id, _)| *id)
        .collect();
    named.sort();
    match named.as_slice() {
        [id] => return Found::One(*id),
        [_, _, ..] => return Found::Several(named),
        [] => {}
    }
    let Some((name, id)) = who.rsplit_once('#') else {
        return Found::None;
    };
    let name = unquote(name.trim());
    match id.trim().parse().ok().and_then(by_id) {
        Some(&(id, known)) if name.trim().is_empty() || starts_name(known, name) => Found::One(id),
        Some(&(id, known)) => Found::Mismatch(id, known),
        None => Found::None,
    }
}

/// "2 members are called 'bo': type bo#2 or bo#3 (the members list shows them)".
fn ambiguous(people: &[(ClientId, &str)], who: &str, ids: &[ClientId], verb: &str) -> String {
    let labels: Vec<String> = ids
        .iter()
        .filter_map(|id| people.iter().find(|(known, _)| known == id))
        .map(|(id, name)| crate::clean::clean(&label(*id, name)))
        .collect();
    format!(
        "{} members {verb} called '{}': type {} (the members list shows each id)",
        ids.len(),
        crate::clean::clean(who),
        labels.join(" or ")
    )
}

fn mismatch(who: &str, id: ClientId, name: &str) -> String {
    format!(
        "'{}': member #{id} is called '{}'",
        crate::clean::clean(who),
        crate::clean::clean(name)
    )
}

/// Members and meetings for the client's unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use common::{ClientId, MeetingId, MemberInfo, MemberRef, PerKind};

    /// The meeting every test is in.
    pub fn meeting() -> MeetingId {
        MeetingId::parse("abc-def").expect("valid id")
    }

    /// A member sharing nothing.
    pub fn member(id: u32, name: &str, host: bool) -> MemberInfo {
        MemberInfo {
            id: ClientId(id),
            name: name.into(),
            host,
            hand: false,
            sharing: PerKind::default(),
        }
    }

    pub fn named(id: u32, name: &str) -> MemberRef {
        MemberRef {
            id: ClientId(id),
            name: name.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{meeting, member, named};
    use super::*;

    #[test]
    fn members_host_and_sharing_follow_the_events() {
        let mut state = MeetingState::new(ClientId(1));
        state.apply(&Event::Joined {
            meeting: meeting(),
            members: vec![member(2, "ana", true), member(1, "me", false)],
        });
        state.apply(&Event::MemberJoined {
            meeting: meeting(),
            member: member(3, "bo", false),
        });
        assert!(state.apply(&Event::Media {
            meeting: meeting(),
            member: named(3, "bo"),
            kind: MediaKind::Video,
            on: true,
        }));
        state.apply(&Event::MemberLeft {
            meeting: meeting(),
            member: named(2, "ana"),
        });
        state.apply(&Event::HostChanged {
            meeting: meeting(),
            host: named(3, "bo"),
        });
        let others: Vec<_> = state
            .others()
            .map(|m| (m.name.as_str(), m.host, m.sharing[MediaKind::Video]))
            .collect();
        assert_eq!(others, vec![("bo", true, true)]);
        assert_eq!(state.host().map(|m| m.id), Some(ClientId(3)));
        assert_eq!(
            state.name_of(ClientId(2)),
            "ana",
            "remembered after leaving"
        );
        assert!(state.find("BO").is_ok_and(|m| m.id == ClientId(3)));
        assert!(state.find("3").is_ok());
        assert!(state.find("ana").is_err());
        state.apply(&Event::Left { meeting: meeting() });
        assert!(!state.in_meeting() && state.members.is_empty());
    }

    /// bo's camera was on before he joined (or he left and came back with
    /// it on): no `media` event follows, the `member_joined` says it.
    #[test]
    fn a_member_who_joins_sharing_is_known_to_share_at_once() {
        let mut state = MeetingState::new(ClientId(1));
        state.apply(&Event::Joined {
            meeting: meeting(),
            members: vec![member(1, "me", true)],
        });
        let mut bo = member(3, "bo", false);
        bo.sharing[MediaKind::Video] = true;
        bo.sharing[MediaKind::Screen] = true;
        assert!(state.apply(&Event::MemberJoined {
            meeting: meeting(),
            member: bo.clone(),
        }));
        assert!(state.shares(ClientId(3), MediaKind::Video));
        assert!(!state.shares(ClientId(3), MediaKind::Audio));
        assert_eq!(
            state.screen_sharers().map(|m| m.id).collect::<Vec<_>>(),
            [ClientId(3)]
        );
        // Told twice (a resumed session's replay after a snapshot): the
        // second telling wins, and bo is listed once.
        bo.sharing[MediaKind::Video] = false;
        state.apply(&Event::MemberJoined {
            meeting: meeting(),
            member: bo,
        });
        assert!(!state.shares(ClientId(3), MediaKind::Video));
        assert_eq!(state.members.len(), 2);
    }

    #[test]
    fn events_of_another_meeting_change_nothing() {
        let mut state = MeetingState::new(ClientId(1));
        state.apply(&Event::Joined {
            meeting: meeting(),
            members: vec![member(1, "me", true)],
        });
        let other = MeetingId::parse("xyz-xyz").expect("valid id");
        assert!(!state.apply(&Event::MemberJoined {
            meeting: other.clone(),
            member: member(9, "eve", false),
        }));
        assert!(!state.apply(&Event::Left { meeting: other }));
        assert_eq!(state.members.len(), 1);
    }

    #[test]
    fn same_names_ask_for_the_id() {
        let mut state = MeetingState::new(ClientId(1));
        state.apply(&Event::Joined {
            meeting: meeting(),
            members: vec![
                member(1, "me", true),
                member(2, "bo", false),
                member(3, "bo", false),
            ],
        });
        let err = state.find("bo").err().unwrap_or_default();
        assert!(err.contains("type bo#2 or bo#3"), "{err}");
        assert!(state.find("2").is_ok_and(|m| m.id == ClientId(2)));
        assert!(state.find("#3").is_ok_and(|m| m.id == ClientId(3)));
        assert!(state.find("bo#3").is_ok_and(|m| m.id == ClientId(3)));
        assert!(state.find("BO#2").is_ok_and(|m| m.id == ClientId(2)));
        let err = state.find("me#2").err().unwrap_or_default();
        assert!(err.contains("member #2 is called 'bo'"), "{err}");
        assert!(state.find("bo#9").is_err());
        // Left members are still known by name#id, and their name alone is
        // ambiguous once someone else took it.
        state.apply(&Event::MemberLeft {
            meeting: meeting(),
            member: named(3, "bo"),
        });
        assert!(state.find("bo").is_ok_and(|m| m.id == ClientId(2)));
        let err = state.find_known("bo").err().unwrap_or_default();
        assert!(err.contains("type bo#2 or bo#3"), "{err}");
        assert_eq!(state.find_known("bo#3"), Ok(ClientId(3)));
        assert_eq!(
            state.find_known("7"),
            Ok(ClientId(7)),
            "any id goes to the server"
        );
    }

    /// The members list shows `Cy Lee#2`, the tile `Cy Lee`: each of them
    /// names her, quoted or not, and so does her first name with her id.
    #[test]
    fn a_name_with_spaces_is_typed_as_the_view_shows_it() {
        let mut state = MeetingState::new(ClientId(1));
        state.apply(&Event::Joined {
            meeting: meeting(),
            members: vec![
                member(1, "me", true),
                member(2, "Cy Lee", false),
                member(3, "Cy", false),
            ],
        });
        for typed in [
            "Cy Lee#2",
            "Cy Lee",
            "cy  lee",
            "\"Cy Lee\"",
            "Cy#2",
            "2",
            "#2",
        ] {
            assert_eq!(state.find(typed).map(|m| m.id), Ok(ClientId(2)), "{typed}");
        }
        assert_eq!(state.find("Cy").map(|m| m.id), Ok(ClientId(3)));
        let err = state.find("Lee#2").err().unwrap_or_default();
        assert!(err.contains("member #2 is called 'Cy Lee'"), "{err}");

        let to = |line: &str| {
            state
                .find_at_start(line)
                .map(|(m, text)| (m.id.0, text.to_string()))
        };
        assert_eq!(to("Cy Lee#2 hi there"), Ok((2, "hi there".into())));
        assert_eq!(
            to("Cy Lee hi"),
            Ok((2, "hi".into())),
            "the longest name wins"
        );
        assert_eq!(to("\"Cy Lee\"  hi"), Ok((2, "hi".into())));
        assert_eq!(to("Cy hi"), Ok((3, "hi".into())));
        assert_eq!(to("Cy#3 Lee is here"), Ok((3, "Lee is here".into())));
        assert_eq!(to("\"Cy\" Lee is here"), Ok((3, "Lee is here".into())));
        assert_eq!(to("2 see #3 now"), Ok((2, "see #3 now".into())));
        assert_eq!(
            to("Cy Lee"),
            Ok((3, "Lee".into())),
            "a name needs text after it"
        );
        let err = to("Bo hi").err().unwrap_or_default();
        assert!(err.contains("nobody called 'Bo'"), "{err}");
        assert!(to("\"Cy Lee hi").is_err(), "an open quote");
    }

    #[test]
    fn the_suffix_the_server_gives_same_names_is_typed_as_shown() {
        let mut state = MeetingState::new(ClientId(1));
        state.apply(&Event::Joined {
            meeting: meeting(),
            members: vec![
                member(1, "me", true),
                member(2, "ana", false),
                member(3, "ana (2)", false),
            ],
        });
        assert!(state.find("ana (2)").is_ok_and(|m| m.id == ClientId(3)));
        assert!(state.find("ANA").is_ok_and(|m| m.id == ClientId(2)));
        assert!(state.find("ana (2)#3").is_ok_and(|m| m.id == ClientId(3)));
    }
}
