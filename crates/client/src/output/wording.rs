//! The wording of every event for people: `EventText` turns a server event
//! or a `LocalEvent` into the sentence the line front end prints and the
//! full-screen view puts in its chat pane, reading names from the meeting
//! state. Every string from the network in it passes `crate::clean`.

use super::{LocalEvent, MemberLevel, MoveReason};
use crate::clean::{clean, clean_lines};
use crate::meeting::MeetingState;
use common::{ClientId, Event, MeetingId, MemberInfo, MemberRef, ServerStatsReport};
use std::collections::HashMap;

/// Words events for people, reading names from the meeting state.
pub struct EventText {
    me: ClientId,
    state: MeetingState,
    /// Levels to show in the member list being worded, if any.
    pub(super) levels: HashMap<ClientId, MemberLevel>,
    /// Whether we were the host of the last meeting we were in: the state
    /// is already empty when its end is worded, and only the host ends one.
    was_host: bool,
}

/// A member's role, raised hand and what they share, as words: "host",
/// "hand up", "video", "audio".
pub fn member_tags(member: &MemberInfo) -> Vec<&'static str> {
    let host = member.host.then_some("host");
    let hand = member.hand.then_some("hand up");
    let shared = member
        .sharing
        .iter()
        .filter_map(|(kind, on)| on.then_some(kind.name()));
    host.into_iter().chain(hand).chain(shared).collect()
}

/// A meeting id as the server sent it, cleaned: `MeetingId` parses from any
/// JSON string, so a server can send any text as one.
fn meeting_text(meeting: &MeetingId) -> String {
    clean(meeting.as_str())
}

/// What others type to join our meeting: `/join k7m-q2x`, with the
/// passcode where we know it (the host passes it on), or saying one is
/// needed where we do not. None outside a meeting.
pub fn join_command(state: &MeetingState) -> Option<String> {
    let id = meeting_text(state.meeting.as_ref()?);
    let host = state.host().is_some_and(|h| h.id == state.me);
    Some(match &state.passcode {
        Some(passcode) if state.private => format!("/join {id} {}", clean(passcode)),
        _ if state.private && host => format!("/join {id} PASSCODE (/passcode sets a new one)"),
        _ if state.private => format!("/join {id} PASSCODE (the host has it)"),
        _ => format!("/join {id}"),
    })
}

impl EventText {
    pub fn new(me: ClientId) -> EventText {
        EventText {
            me,
            state: MeetingState::new(me),
            levels: HashMap::new(),
            was_host: false,
        }
    }

    pub fn set_meeting(&mut self, state: &MeetingState) {
        // Our id changes when the session moves to another server.
        self.me = state.me;
        if state.in_meeting() {
            self.was_host = state.host().is_some_and(|host| host.id == self.me);
        }
        self.state.clone_from(state);
    }

    fn who(&self, id: ClientId, name: &str) -> String {
        if id == self.me {
            "you".to_string()
        } else {
            clean(name)
        }
    }

    /// "bo now controls your screen", "you no longer control ana's screen".
    fn control_line(&self, when: &str, owner: &MemberRef, controller: &MemberRef) -> String {
        let verb = if controller.id == self.me {
            "control"
        } else {
            "controls"
        };
        format!(
            "{} {when} {verb} {} screen",
            self.who(controller.id, &controller.name),
            self.whose(owner.id, &owner.name)
        )
    }

    /// "your", or "ana's".
    fn whose(&self, id: ClientId, name: &str) -> String {
        if id == self.me {
            "your".to_string()
        } else {
            format!("{}'s", clean(name))
        }
    }

    fn member_list(&self, members: &[MemberInfo]) -> String {
        members
            .iter()
            .map(|m| {
                let mut tags: Vec<String> = member_tags(m).into_iter().map(String::from).collect();
                if let Some(level) = self.levels.get(&m.id) {
                    if level.dbfs > crate::level::FLOOR_DBFS {
                        tags.push(format!("{:.0} dBFS", level.dbfs));
                    }
                    if level.speaking {
                        tags.push("speaking".to_string());
                    }
                }
                // With the id, as commands take it (`/volume bo#3 50`): two
                // members may share a name.
                let name = if m.id == self.me {
                    "you".to_string()
                } else {
                    crate::meeting::label(m.id, &clean(&m.name))
                };
                if tags.is_empty() {
                    name
                } else {
                    format!("{name} ({})", tags.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How `event` reads; `None` for handshake details (the token is a secret).
    pub fn server(&mut self, event: &Event) -> Option<String> {
        let text = match event {
            // A standing ticket is a secret, like the token: never shown.
            Event::Welcome { .. }
            | Event::Attached { .. }
            | Event::Resumed { .. }
            | Event::Ticket { .. }
            | Event::ClusterServers { .. } => return None,
            Event::Created { meeting, passcode } => {
                let meeting = meeting_text(meeting);
                match passcode {
                    Some(passcode) => format!(
                        "created private meeting {meeting} (unlisted); others join with: /join {meeting} {}",
                        clean(passcode)
                    ),
                    None => format!("created meeting {meeting}; others join with: /join {meeting}"),
                }
            }
            Event::Split { meeting, split } => {
                if *split {
                    format!(
                        "meeting {} is split: this server lost the rest of the cluster; until it is back you see and hear only the members on this server",
                        meeting_text(meeting)
                    )
                } else {
                    format!(
                        "meeting {} is whole again: the servers of the cluster hear each other",
                        meeting_text(meeting)
                    )
                }
            }
            // Followed by the client itself when it answers our `/join`
            // (then `moved` says so instead); shown only when it is not.
            Event::MeetingElsewhere {
                meeting, server, ..
            } => format!(
                "meeting {} is held on {}, another server of the cluster",
                meeting_text(meeting),
                clean(server)
            ),
            // Followed by the client itself when it is about our meeting
            // (then `moved` says where we went, or an error why not).
            Event::MeetingMoved {
                meeting, server, ..
            } => format!(
                "the server is stopping and hands meeting {} over to {}, another server of the cluster",
                meeting_text(meeting),
                clean(server)
            ),
            Event::Joined { meeting, members } => {
                format!(
                    "joined meeting {}; members: {}",
                    meeting_text(meeting),
                    self.member_list(members)
                )
            }
            Event::MemberJoined { member, .. } => {
                let shared: Vec<&str> = member
                    .sharing
                    .iter()
                    .filter_map(|(kind, on)| on.then_some(kind.name()))
                    .collect();
                // A source on before they joined gets no `media` line of its own.
                match shared.as_slice() {
                    [] => format!("{} joined", clean(&member.name)),
                    [one] => format!("{} joined, sharing {one}", clean(&member.name)),
                    [first @ .., last] => format!(
                        "{} joined, sharing {} and {last}",
                        clean(&member.name),
                        first.join(", ")
                    ),
                }
            }
            Event::MemberLeft { member, .. } => format!("{} left", clean(&member.name)),
            Event::MemberReconnecting { member, .. } => format!(
                "{}'s connection broke: reconnecting (its place is kept)",
                clean(&member.name)
            ),
            Event::MemberBack { member, .. } => format!("{} is back", clean(&member.name)),
            Event::HostChanged { host, .. } => {
                if host.id == self.me {
                    "you are now the host".to_string()
                } else {
                    format!("{} is now the host", clean(&host.name))
                }
            }
            Event::Left { meeting } => format!("you left meeting {}", meeting_text(meeting)),
            Event::Ended { meeting } if self.was_host => {
                format!("you ended meeting {} for everyone", meeting_text(meeting))
            }
            Event::Ended { meeting } => {
                format!("meeting {} was ended by its host", meeting_text(meeting))
            }
            Event::Chat { from, text, .. } => format!("{}: {}", clean(from), clean(text)),
            Event::Private { from, to, text, .. } => format!(
                "{} → {} (private): {}",
                self.who(from.id, &from.name),
                self.who(to.id, &to.name),
                clean(text)
            ),
            Event::Hand {
                member, raised, by, ..
            } => {
                let verb = if *raised { "raised" } else { "lowered" };
                if by.id == member.id {
                    let whose = if member.id == self.me {
                        "your"
                    } else {
                        "their"
                    };
                    format!("{} {verb} {whose} hand", self.who(member.id, &member.name))
                } else {
                    format!(
                        "{} {verb} {} hand",
                        self.who(by.id, &by.name),
                        self.whose(member.id, &member.name)
                    )
                }
            }
            Event::Reaction { member, emoji, .. } => {
                let verb = if member.id == self.me {
                    "react"
                } else {
                    "reacts"
                };
                format!(
                    "{} {verb} {}",
                    self.who(member.id, &member.name),
                    clean(emoji)
                )
            }
            Event::Meetings { meetings, total } => {
                if meetings.is_empty() {
                    "no meetings yet; /create starts one".to_string()
                } else {
                    let mut lines = vec![format!("{total} meeting(s):")];
                    for m in meetings {
                        // Held by another server of the cluster: `/join` moves there.
                        let on = m
                            .server
                            .as_deref()
                            .map(|server| format!(", on {}", clean(server)))
                            .unwrap_or_default();
                        lines.push(format!(
                            "  {}  host {}, {} member(s){on}",
                            meeting_text(&m.id),
                            clean(&m.host),
                            m.members
                        ));
                    }
                    lines.join("\n")
                }
            }
            Event::Members { meeting, members } => {
                format!(
                    "meeting {}: {}",
                    meeting_text(meeting),
                    self.member_list(members)
                )
            }
            Event::Media {
                member, kind, on, ..
            } => {
                let verb = if *on { "started" } else { "stopped" };
                format!(
                    "{} {verb} sharing {kind}",
                    self.who(member.id, &member.name)
                )
            }
            Event::Keyframe { .. } => return None, // handled by the screen sender
            Event::Pong | Event::Layers { .. } => return None, // the keep-alive's answer
            Event::ControlRequested {
                owner, controller, ..
            } => {
                let verb = if controller.id == self.me {
                    "ask"
                } else {
                    "asks"
                };
                let mut text = format!(
                    "{} {verb} to control {} screen",
                    self.who(controller.id, &controller.name),
                    self.whose(owner.id, &owner.name)
                );
                if owner.id == self.me {
                    text.push_str(&format!(
                        "; /control grant {} lets them",
                        crate::meeting::label(controller.id, &clean(&controller.name))
                    ));
                }
                text
            }
            Event::ControlGranted {
                owner, controller, ..
            } => self.control_line("now", owner, controller),
            Event::ControlRevoked {
                owner, controller, ..
            } => self.control_line("no longer", owner, controller),
            Event::Input { from, events } => format!(
                "{} input event(s) from {}",
                events.len(),
                clean(&self.state.name_of(*from))
            ),
            Event::Privacy {
                meeting,
                private,
                passcode,
            } => {
                if let Some(passcode) = passcode.as_ref().filter(|_| *private) {
                    format!(
                        "meeting {} is private: unlisted; others join with: /join {} {}",
                        meeting_text(meeting),
                        meeting_text(meeting),
                        clean(passcode)
                    )
                } else if *private {
                    format!(
                        "meeting {} is private: unlisted, joined only with its passcode",
                        meeting_text(meeting)
                    )
                } else {
                    format!(
                        "meeting {} is public now: listed, no passcode",
                        meeting_text(meeting)
                    )
                }
            }
            Event::Locked { locked, by, .. } => format!(
                "{} {} the meeting{}",
                self.who(by.id, &by.name),
                if *locked { "locked" } else { "unlocked" },
                if *locked { ": nobody new gets in" } else { "" }
            ),
            Event::Removed { meeting, by } => format!(
                "{} removed you from meeting {}",
                self.who(by.id, &by.name),
                meeting_text(meeting)
            ),
            Event::Lobby { on, by, .. } => format!(
                "{} turned the lobby {}",
                self.who(by.id, &by.name),
                if *on {
                    "on: people who join wait until the host lets them in"
                } else {
                    "off: people who join come straight in"
                }
            ),
            Event::Waiting { waiting, .. } if waiting.is_empty() => {
                "nobody waits in the lobby now".to_string()
            }
            Event::Waiting { waiting, .. } => format!(
                "waiting in the lobby: {} (/admit NAME|all, /deny NAME)",
                waiting
                    .iter()
                    .map(|m| crate::meeting::label(m.id, &clean(&m.name)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Event::InLobby { meeting } => format!(
                "you wait in the lobby of meeting {}: the host has been told and lets you in (or not); /leave stops waiting",
                meeting_text(meeting)
            ),
            Event::NotAdmitted { meeting, reason } => format!(
                "you did not get into meeting {}: {}",
                meeting_text(meeting),
                clean(reason)
            ),
            Event::Blocked {
                member,
                kind,
                blocked,
                ..
            } => {
                let whose = self.whose(member.id, &member.name);
                if *blocked {
                    format!("the host stopped {whose} {kind}")
                } else {
                    format!("the host allows {whose} {kind} again")
                }
            }
            Event::Error { message } => format!("error: {}", clean(message)),
            Event::Shutdown { message } => format!("server: {}", clean(message)),
            Event::ServerStats(report) => server_stats_text(report),
        };
        Some(text)
    }

    pub fn local(&self, event: &LocalEvent) -> String {
        match event {
            // The name is the one the server gave us in `welcome`.
            LocalEvent::FirstUse {
                server,
                fingerprint,
                remembered_in,
            } => format!(
                "first connection to {server}: trusting its key {fingerprint}. Check it against the fingerprint the server printed when it started; {}",
                match remembered_in {
                    Some(path) => format!(
                        "remembered in {}, and checked every time from now on.",
                        clean(path)
                    ),
                    None => "it could not be remembered, so it is trusted for this session only."
                        .to_string(),
                }
            ),
            LocalEvent::Connected {
                id,
                name,
                server,
                fingerprint,
            } => format!(
                "connected to {server} as {} (id {id}), {}. /create starts a meeting, /join ID joins one, /help lists commands.",
                clean(name),
                if fingerprint.is_some() {
                    "encrypted"
                } else {
                    "NOT encrypted (--no-tls)"
                }
            ),
            LocalEvent::Moved {
                meeting,
                server,
                id,
                reason: MoveReason::Elsewhere,
            } => format!(
                "meeting {} is held on {}, another server of the cluster: moved there (id {id}) and joining it",
                meeting_text(meeting),
                clean(server)
            ),
            LocalEvent::Moved {
                meeting,
                server,
                id,
                reason: MoveReason::HandedOver,
            } => format!(
                "the server you were on handed meeting {} over to {}, another server of the cluster: moved there (id {id}) and rejoining it",
                meeting_text(meeting),
                clean(server)
            ),
            LocalEvent::Moved {
                meeting,
                server,
                id,
                reason: MoveReason::Failover,
            } => format!(
                "the server you were on is lost; meeting {} goes on at {}, another server of the cluster, which took it over: rejoined there (id {id})",
                meeting_text(meeting),
                clean(server)
            ),
            LocalEvent::Sharing {
                kind,
                on: true,
                source,
            } => {
                format!(
                    "{kind} on: {}; sent while you are in a meeting",
                    clean(source.as_deref().unwrap_or("default source"))
                )
            }
            LocalEvent::Sharing {
                kind, on: false, ..
            } => format!("{kind} off"),
            LocalEvent::Volume {
                name,
                percent,
                muted,
                ..
            } => {
                let muted = if *muted { " (muted)" } else { "" };
                format!("{} plays at {percent}%{muted}", clean(name))
            }
            LocalEvent::AudioOut { sink, .. } => format!("audio out: {}", clean(sink)),
            LocalEvent::AudioOff => {
                "audio out: off (you hear nobody; /speaker turns it on)".to_string()
            }
            LocalEvent::Devices { report } => clean_lines(report),
            LocalEvent::DeviceChosen { device, name } => format!(
                "{device}: {} from now on",
                name.as_deref()
                    .map_or_else(|| "the default one".to_string(), clean)
            ),
            LocalEvent::MediaDown { kind, reason } => format!(
                "{kind} connection lost ({}): no {kind} either way until it is back; reconnecting",
                clean(reason)
            ),
            LocalEvent::MediaUp { kind, down_ms } => format!(
                "{kind} connection back after {:.1} s",
                *down_ms as f64 / 1000.0
            ),
            LocalEvent::Stats { stats } => {
                let sent: Vec<String> = stats
                    .sent
                    .iter()
                    .map(|(kind, c)| format!("{kind} {} frames ({} bytes)", c.frames, c.bytes))
                    .collect();
                let mut lines = vec![format!("sent: {}", sent.join(", "))];
                for m in &stats.received {
                    let name = clean(&self.state.name_of(m.member));
                    let received: Vec<String> = m
                        .received
                        .iter()
                        .map(|(kind, c)| format!("{kind} {} frames ({} lost)", c.frames, c.lost))
                        .collect();
                    let mut line = format!("from {name}: {}", received.join(", "));
                    if let Some(level) = m.audio_level_dbfs {
                        line.push_str(&format!(", level {level:.0} dBFS"));
                    }
                    if let Some(p) = &m.playback {
                        line.push_str(&format!(
                            ", buffer {}/{} ms (p50/p99, target {} ms), {} concealed, {} dropped, {} stretched",
                            p.delay_ms_p50, p.delay_ms_p99, p.target_ms, p.concealed, p.dropped, p.stretched
                        ));
                    }
                    lines.push(line);
                }
                if let Some(p) = &stats.playback {
                    lines.push(format!(
                        "playback: {} periods played, {} late, {} samples soft-clipped",
                        p.ticks, p.late_ticks, p.softened_samples
                    ));
                }
                lines.join("\n")
            }
            LocalEvent::Help { commands } => commands
                .iter()
                .map(|h| format!("  {:<24} {}", h.command, h.description))
                .collect::<Vec<_>>()
                .join("\n"),
            // Both may quote the server (its refusals, what it sent that did not parse).
            LocalEvent::Error { message } => format!("error: {}", clean(message)),
            LocalEvent::Disconnected { message } => format!("disconnected: {}", clean(message)),
            LocalEvent::Reconnecting { reason } => format!(
                "connection lost ({}); reconnecting… (what you type is sent once it is back)",
                clean(reason)
            ),
            LocalEvent::Reconnected { after_ms } => format!(
                "reconnected after {:.1} s: back in the session",
                *after_ms as f64 / 1000.0
            ),
            LocalEvent::ServerSilent { seconds } => format!(
                "the server has not answered for {seconds} s: messages you send now may not arrive"
            ),
            LocalEvent::ServerBack { silent_ms } => format!(
                "the server answers again (it was silent for {:.1} s)",
                *silent_ms as f64 / 1000.0
            ),
            LocalEvent::ChatUnconfirmed { to, text, seconds } => format!(
                "not confirmed yet{}: \"{}\" (sent {seconds} s ago; it will be sent again if the connection comes back)",
                to_whom(to),
                clean(text)
            ),
            LocalEvent::ChatConfirmed { to, text } => {
                format!("delivered after all{}: \"{}\"", to_whom(to), clean(text))
            }
            LocalEvent::ChatNotDelivered { to, text } => {
                format!("not delivered{}: \"{}\"", to_whom(to), clean(text))
            }
        }
    }
}

/// " to NAME" for a private message, nothing for the meeting's chat.
fn to_whom(to: &Option<String>) -> String {
    to.as_ref()
        .map(|name| format!(" to {}", clean(name)))
        .unwrap_or_default()
}

fn server_stats_text(report: &ServerStatsReport) -> String {
    let mut lines = vec![format!(
        "server: up {} s, {} clients, {} meetings, {} sockets open ({} since start)",
        report.uptime_s,
        report.clients,
        report.meetings,
        report.connections,
        report.connections_total
    )];
    let media = report.media.iter().map(|(kind, t)| (kind.name(), t));
    for (name, t) in media.chain([("control", &report.control)]) {
        lines.push(format!(
            "  {name}: in {} frames / {} B, out {} frames / {} B, dropped {}, queue peak {}",
            t.frames_in, t.bytes_in, t.frames_out, t.bytes_out, t.dropped, t.queue_high_water
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
#[path = "wording_tests.rs"]
mod tests;
