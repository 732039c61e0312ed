//! What a command asks of the server: the request (or requests) for a
//! meeting, host, member or remote-control command, with the member it
//! names found in the meeting as this client knows it. Plain data in,
//! requests (or why none) out; the main loop sends them. Adding a command
//! that asks the server something is one arm here.

use crate::command::Command;
use crate::meeting::MeetingState;
use common::{ClientId, Request};

/// The requests `command` makes, or why it makes none (said as an error).
/// Commands this client carries out itself make none (`App::command`
/// handles them before they get here).
pub(super) fn requests(command: Command, meeting: &MeetingState) -> Result<Vec<Request>, String> {
    let request = match command {
        Command::Create(passcode) => Request::Create { passcode },
        Command::Join(meeting, passcode) => Request::Join { meeting, passcode },
        Command::Passcode(passcode) => Request::Passcode { passcode },
        Command::Lock(locked) => Request::Lock { locked },
        Command::Lobby(on) => Request::Lobby { on },
        Command::Admit(who) if who.eq_ignore_ascii_case("all") => {
            let waiting: Vec<Request> = meeting
                .waiting
                .iter()
                .map(|m| Request::Admit { member: m.id })
                .collect();
            if waiting.is_empty() {
                return Err("nobody waits in the lobby".to_string());
            }
            return Ok(waiting);
        }
        Command::Admit(who) => Request::Admit {
            member: meeting.find_waiting(&who)?,
        },
        Command::Deny(who) => Request::Deny {
            member: meeting.find_waiting(&who)?,
        },
        Command::Remove(who) => Request::Remove {
            member: other_member(meeting, &who)?.0,
        },
        Command::Block(who, kind) => Request::Block {
            member: who
                .map(|who| other_member(meeting, &who).map(|(id, _)| id))
                .transpose()?,
            kind,
        },
        // A removed member is no longer in the meeting: found among everyone seen.
        Command::Allow(who, kind) => Request::Allow {
            member: meeting.find_known(&who)?,
            kind,
        },
        Command::MakeHost(who) => Request::MakeHost {
            member: other_member(meeting, &who)?.0,
        },
        Command::Leave => Request::Leave,
        Command::Cancel => Request::Cancel,
        Command::Meetings => Request::Meetings,
        Command::Members => Request::Members,
        Command::ServerStats => Request::ServerStats,
        Command::Hand(None) => Request::Hand {
            raised: !meeting.member(meeting.me).is_some_and(|m| m.hand),
            member: None,
        },
        Command::Hand(Some(who)) => Request::Hand {
            raised: false,
            member: Some(meeting.find(&who)?.id),
        },
        Command::React(emoji) => Request::React { emoji },
        Command::ControlRequest(who) => Request::ControlRequest {
            owner: screen_owner(meeting, who.as_deref())?,
        },
        Command::ControlGrant(who) => Request::ControlGrant {
            controller: other_member(meeting, &who)?.0,
        },
        Command::ControlRevoke => Request::ControlRevoke,
        Command::Input(action) => Request::Input {
            events: action.events(),
        },
        // What this client does itself, or what its chat owns.
        Command::MediaOn(..)
        | Command::MediaOff(_)
        | Command::Volume(..)
        | Command::Mute(..)
        | Command::Stats
        | Command::View(_)
        | Command::Help
        | Command::Quit
        | Command::Chat(_)
        | Command::Private(_)
        | Command::Devices
        | Command::Device(..)
        | Command::Speaker(_) => return Ok(Vec::new()),
    };
    Ok(vec![request])
}

/// Another member of our meeting, by id or (case-insensitive) name.
pub(super) fn other_member(
    meeting: &MeetingState,
    who: &str,
) -> Result<(ClientId, String), String> {
    let found = meeting.find(who)?;
    if found.id == meeting.me {
        return Err("that is you: name another member (/members lists them)".into());
    }
    Ok((found.id, found.name.clone()))
}

/// The member whose screen `/control request` means: the one named, or the
/// only one sharing a screen.
fn screen_owner(meeting: &MeetingState, who: Option<&str>) -> Result<ClientId, String> {
    if let Some(who) = who {
        return other_member(meeting, who).map(|(id, _)| id);
    }
    let sharers: Vec<ClientId> = meeting.screen_sharers().map(|m| m.id).collect();
    match sharers.as_slice() {
        [owner] => Ok(*owner),
        [] => Err("nobody in your meeting shares a screen".to_string()),
        _ => Err("several members share a screen: /control request NAME|ID".to_string()),
    }
}
