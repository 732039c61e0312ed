//! Following a meeting to the server of a cluster that holds it. A server
//! that does not hold the meeting our `/join` asked for answers
//! `meeting_elsewhere`: which server does, and the key that server has. We
//! move there without asking: connect (`link::connect_vouched`, on a thread
//! of its own, so the loop goes on meanwhile), say hello with the same name,
//! and the loop joins with the same id and passcode and ends the session
//! here as `/quit` would (`App::moved`).
//!
//! At most one move per `/join`: a server there that sends us on again is
//! told to the user, not followed, so two servers that disagree cannot
//! bounce us forever. A move that fails leaves us where we were.

use super::session::spawn_named;
use crate::events::{AppEvent, Move};
use crate::link::{self, Security, Vouched};
use common::MeetingId;
use crossbeam_channel::Sender;

pub(super) struct Moves {
    /// What we said hello with, to say it again there.
    name: String,
    security: Security,
    /// The `/join` whose answer we wait for, if any.
    pending: Option<PendingJoin>,
    /// A move is connecting now.
    moving: bool,
}

struct PendingJoin {
    meeting: MeetingId,
    passcode: Option<String>,
    /// This join was already sent on by a move: not followed again.
    moved: bool,
}

/// What to do with a `meeting_elsewhere`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Elsewhere {
    /// Moving there: the loop shows nothing of it until the move is done.
    Following,
    /// Not the answer to a `/join` of ours: shown as the server sent it.
    NotOurs,
    /// Ours, but not followed: why (shown as an error).
    Refused(String),
}

impl Moves {
    pub fn new(name: String, security: Security) -> Moves {
        Moves {
            name,
            security,
            pending: None,
            moving: false,
        }
    }

    /// We sent `/join meeting [passcode]`: its answer may send us on, once.
    pub fn joining(&mut self, meeting: &str, passcode: Option<String>) {
        self.pending = MeetingId::parse(meeting).map(|meeting| PendingJoin {
            meeting,
            passcode,
            moved: false,
        });
    }

    /// A `meeting_elsewhere`: starts moving to `vouched` if it answers our
    /// pending `/join` (the outcome comes to the loop as `Moved` or
    /// `MoveFailed`), else says why not.
    pub fn elsewhere(
        &mut self,
        meeting: &MeetingId,
        vouched: Vouched,
        events: &Sender<AppEvent>,
    ) -> Elsewhere {
        let Some(pending) = self.pending.as_mut().filter(|p| p.meeting == *meeting) else {
            return Elsewhere::NotOurs;
        };
        if pending.moved {
            return Elsewhere::Refused(format!(
                "this server too says meeting {meeting} is held elsewhere (on {}): not moving \
                 again, the servers of the cluster disagree about where it is",
                vouched.server
            ));
        }
        if self.moving {
            return Elsewhere::Refused(format!(
                "meeting {meeting} is held on {}, but this client is moving to another server \
                 already: /join {meeting} again once it is done",
                vouched.server
            ));
        }
        pending.moved = true;
        self.moving = true;
        let meeting = meeting.clone();
        let passcode = pending.passcode.clone();
        let (name, security, to_loop) = (self.name.clone(), self.security.clone(), events.clone());
        let server = vouched.server.clone();
        let spawned = spawn_named("move", move || {
            let outcome = match link::connect_vouched(&vouched, &name, &security) {
                Ok(link) => AppEvent::Moved(Box::new(Move {
                    link,
                    meeting,
                    passcode,
                })),
                Err(err) => AppEvent::MoveFailed {
                    meeting,
                    server: vouched.server,
                    reason: format!("{err:#}"),
                },
            };
            let _ = to_loop.send(outcome);
        });
        match spawned {
            Ok(()) => Elsewhere::Following,
            Err(err) => {
                self.moving = false;
                Elsewhere::Refused(format!("could not start moving to {server}: {err}"))
            }
        }
    }

    /// The move is over, done or not.
    pub fn ended(&mut self) {
        self.moving = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vouched(server: &str) -> Vouched {
        Vouched {
            server: server.to_string(),
            fingerprint: None,
        }
    }

    #[test]
    fn only_the_answer_to_our_own_join_is_followed_and_only_once() {
        let (events, _inbox) = crossbeam_channel::unbounded();
        let mut moves = Moves::new("ana".into(), Security::Plain);
        let ours = MeetingId::parse("abc-def").expect("an id");
        let other = MeetingId::parse("ghj-kmn").expect("an id");
        assert_eq!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Elsewhere::NotOurs,
            "no join pending"
        );
        moves.joining("ABC DEF", None);
        assert_eq!(
            moves.elsewhere(&other, vouched("127.0.0.1:1"), &events),
            Elsewhere::NotOurs
        );
        // Port 1 on loopback: refused at once, so the thread ends soon.
        assert_eq!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Elsewhere::Following
        );
        assert!(matches!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Elsewhere::Refused(why) if why.contains("not moving again")
        ));
        moves.ended();
        assert!(matches!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Elsewhere::Refused(why) if why.contains("not moving again")
        ));
        moves.joining("abc-def", None);
        assert_eq!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Elsewhere::Following,
            "a new /join may move once more"
        );
    }
}
