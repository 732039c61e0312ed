//! Following a meeting to another server of the cluster, without asking.
//! Two things send us on:
//!
//! - `meeting_elsewhere`, the answer to our `/join` from a server that does
//!   not hold the meeting: which server does, and its key. The loop joins
//!   there with the same id and passcode. At most one move per `/join`: a
//!   server there that sends us on again is told to the user, not
//!   followed, so two servers that disagree cannot bounce us forever. A
//!   move that fails leaves us where we were.
//! - `meeting_moved`, from the server we are on as it stops (a rolling
//!   upgrade): it handed our meeting over to another server and gives us a
//!   ticket for it. The loop `rejoin`s there with the ticket. The
//!   `shutdown` and the close that follow are no news while the handover
//!   is under way (`handing_over`). One attempt per `meeting_moved`; if it
//!   fails, or the new server refuses the ticket, the meeting ends for us
//!   as it would have when that server stopped.
//!
//! Either way: connect (`link::connect_vouched`, on a thread of its own, so
//! the loop goes on meanwhile), say hello with the same name, and the loop
//! goes on there and ends the session here as `/quit` would (`App::moved`).

use super::session::spawn_named;
use crate::events::{AppEvent, Entry, Move};
use crate::link::{self, Security, Vouched};
use common::{ClientId, Event, MeetingId, Returning};
use crossbeam_channel::Sender;

pub(super) struct Moves {
    /// What we said hello with, to say it again there.
    name: String,
    security: Security,
    /// The `/join` whose answer we wait for, if any.
    pending: Option<PendingJoin>,
    /// A move is connecting now.
    moving: bool,
    /// The handover we follow, from `meeting_moved` until the new server
    /// answers our `rejoin`.
    handover: Option<Handover>,
}

struct PendingJoin {
    meeting: MeetingId,
    passcode: Option<String>,
    /// This join was already sent on by a move: not followed again.
    moved: bool,
}

struct Handover {
    meeting: MeetingId,
    /// Where to, as the old server named it.
    server: String,
    stage: Stage,
}

enum Stage {
    /// Connecting there. The old control connection closed meanwhile (why,
    /// if not cleanly), which ends the client if the move fails.
    Connecting { old_closed: Option<Option<String>> },
    /// `rejoin` sent there: its answer decides.
    Rejoining,
}

/// What to do with a `meeting_elsewhere` or a `meeting_moved`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Follow {
    /// Moving there: the loop says so once the move is done (or why not).
    Following,
    /// Not about a meeting of ours: shown as the server sent it.
    NotOurs,
    /// Ours, but not followed: why (shown as an error).
    Refused(String),
}

/// A move that could not connect.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failed {
    /// A `/join`'s: we stay where we were.
    Join,
    /// A handover's: the meeting ends for us as the old server stops. Its
    /// control connection ended already (`Some`, with why if not cleanly)
    /// or not yet (`None`).
    Handover { old_closed: Option<Option<String>> },
}

/// How the new server answered our `rejoin`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Rejoined {
    /// We are back in the meeting (or its lobby).
    Back,
    /// It would not take us: the meeting ends for us. Why, for the user.
    Refused(String),
}

impl Moves {
    pub fn new(name: String, security: Security) -> Moves {
        Moves {
            name,
            security,
            pending: None,
            moving: false,
            handover: None,
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
    ) -> Follow {
        let Some(pending) = self.pending.as_mut().filter(|p| p.meeting == *meeting) else {
            return Follow::NotOurs;
        };
        if pending.moved {
            return Follow::Refused(format!(
                "this server too says meeting {meeting} is held elsewhere (on {}): not moving \
                 again, the servers of the cluster disagree about where it is",
                vouched.server
            ));
        }
        if self.moving {
            return Follow::Refused(format!(
                "meeting {meeting} is held on {}, but this client is moving to another server \
                 already: /join {meeting} again once it is done",
                vouched.server
            ));
        }
        pending.moved = true;
        let entry = Entry::Join {
            passcode: pending.passcode.clone(),
        };
        self.start(meeting, vouched, entry, None, events)
    }

    /// A `meeting_moved`: starts moving to `vouched` to rejoin with `ticket`
    /// as member `me` (the ticket proves it: we keep our id) if it is about
    /// `ours` (the meeting we are in or wait for), else says why not.
    pub fn handed_over(
        &mut self,
        meeting: &MeetingId,
        ours: Option<&MeetingId>,
        me: ClientId,
        vouched: Vouched,
        ticket: &str,
        events: &Sender<AppEvent>,
    ) -> Follow {
        if ours != Some(meeting) {
            return Follow::NotOurs;
        }
        if self.moving {
            return Follow::Refused(format!(
                "meeting {meeting} was handed over to {}, but this client is moving to another \
                 server already: not following it",
                vouched.server
            ));
        }
        self.handover = Some(Handover {
            meeting: meeting.clone(),
            server: vouched.server.clone(),
            stage: Stage::Connecting { old_closed: None },
        });
        let entry = Entry::Rejoin {
            ticket: ticket.to_string(),
        };
        let returning = Returning {
            id: me,
            meeting: meeting.clone(),
            ticket: ticket.to_string(),
        };
        let follow = self.start(meeting, vouched, entry, Some(returning), events);
        if follow != Follow::Following {
            self.handover = None;
        }
        follow
    }

    /// Connects to `vouched` on a thread of its own; the outcome comes to
    /// the loop as `Moved` or `MoveFailed`.
    fn start(
        &mut self,
        meeting: &MeetingId,
        vouched: Vouched,
        entry: Entry,
        returning: Option<Returning>,
        events: &Sender<AppEvent>,
    ) -> Follow {
        self.moving = true;
        let meeting = meeting.clone();
        let (name, security, to_loop) = (self.name.clone(), self.security.clone(), events.clone());
        let server = vouched.server.clone();
        let spawned = spawn_named("move", move || {
            let outcome = match link::connect_vouched(&vouched, &name, returning, &security) {
                Ok(link) => AppEvent::Moved(Box::new(Move {
                    link,
                    meeting,
                    entry,
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
            Ok(()) => Follow::Following,
            Err(err) => {
                self.moving = false;
                Follow::Refused(format!("could not start moving to {server}: {err}"))
            }
        }
    }

    /// A handover is connecting: the old server's `shutdown`, its silence
    /// and its connection's end are expected, not the end of the session.
    pub fn handing_over(&self) -> bool {
        matches!(
            self.handover,
            Some(Handover {
                stage: Stage::Connecting { .. },
                ..
            })
        )
    }

    /// The old control connection ended (`reason` if not cleanly) while a
    /// handover connects: kept for the case the move fails.
    pub fn old_closed(&mut self, reason: Option<String>) {
        if let Some(Handover {
            stage: Stage::Connecting { old_closed },
            ..
        }) = &mut self.handover
        {
            *old_closed = Some(reason);
        }
    }

    /// The move connected; a handover waits for the answer to `rejoin`.
    pub fn connected(&mut self) {
        self.moving = false;
        if let Some(handover) = &mut self.handover {
            handover.stage = Stage::Rejoining;
        }
    }

    /// The move could not connect: what that means.
    pub fn failed(&mut self) -> Failed {
        self.moving = false;
        match self.handover.take().map(|h| h.stage) {
            Some(Stage::Connecting { old_closed }) => Failed::Handover { old_closed },
            Some(Stage::Rejoining) => Failed::Handover { old_closed: None },
            None => Failed::Join,
        }
    }

    /// Whether `event` answers the `rejoin` of a handover: back in the
    /// meeting, or refused (an `error` while the rejoin is unanswered).
    pub fn rejoin_answer(&mut self, event: &Event) -> Option<Rejoined> {
        let Some(Handover {
            meeting,
            server,
            stage: Stage::Rejoining,
        }) = &self.handover
        else {
            return None;
        };
        let answer = match event {
            Event::Joined { meeting: m, .. } | Event::InLobby { meeting: m } if m == meeting => {
                Rejoined::Back
            }
            Event::Error { message } => Rejoined::Refused(format!(
                "{server} would not take us back into meeting {meeting}, which the server we \
                 were on handed over to it: {}",
                crate::clean::clean(message)
            )),
            _ => return None,
        };
        self.handover = None;
        Some(answer)
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
            Follow::NotOurs,
            "no join pending"
        );
        moves.joining("ABC DEF", None);
        assert_eq!(
            moves.elsewhere(&other, vouched("127.0.0.1:1"), &events),
            Follow::NotOurs
        );
        // Port 1 on loopback: refused at once, so the thread ends soon.
        assert_eq!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Follow::Following
        );
        assert!(matches!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Follow::Refused(why) if why.contains("not moving again")
        ));
        moves.failed();
        assert!(matches!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Follow::Refused(why) if why.contains("not moving again")
        ));
        moves.joining("abc-def", None);
        assert_eq!(
            moves.elsewhere(&ours, vouched("127.0.0.1:1"), &events),
            Follow::Following,
            "a new /join may move once more"
        );
    }

    #[test]
    fn a_handover_of_our_meeting_is_followed_and_its_rejoin_answer_decides() {
        let (events, _inbox) = crossbeam_channel::unbounded();
        let mut moves = Moves::new("ana".into(), Security::Plain);
        let ours = MeetingId::parse("abc-def").expect("an id");
        let other = MeetingId::parse("ghj-kmn").expect("an id");
        let to = || vouched("127.0.0.1:1");
        assert_eq!(
            moves.handed_over(&other, Some(&ours), ClientId(7), to(), "t", &events),
            Follow::NotOurs
        );
        assert_eq!(
            moves.handed_over(&ours, None, ClientId(7), to(), "t", &events),
            Follow::NotOurs,
            "not in a meeting"
        );
        assert!(!moves.handing_over());
        assert_eq!(
            moves.handed_over(&ours, Some(&ours), ClientId(7), to(), "t", &events),
            Follow::Following
        );
        assert!(moves.handing_over());
        assert!(matches!(
            moves.handed_over(&ours, Some(&ours), ClientId(7), to(), "t", &events),
            Follow::Refused(why) if why.contains("moving to another server already")
        ));
        moves.old_closed(Some("reset".into()));
        assert_eq!(
            moves.failed(),
            Failed::Handover {
                old_closed: Some(Some("reset".into()))
            }
        );
        assert!(!moves.handing_over());

        assert_eq!(
            moves.handed_over(&ours, Some(&ours), ClientId(7), to(), "t", &events),
            Follow::Following
        );
        moves.connected();
        assert!(!moves.handing_over(), "connected: the rejoin is sent");
        let error = Event::Error {
            message: "no such ticket".into(),
        };
        assert!(matches!(
            moves.rejoin_answer(&error),
            Some(Rejoined::Refused(why)) if why.contains("no such ticket")
        ));
        assert_eq!(moves.rejoin_answer(&error), None, "answered once");

        moves.handed_over(&ours, Some(&ours), ClientId(7), to(), "t", &events);
        moves.connected();
        assert_eq!(moves.rejoin_answer(&Event::Pong), None);
        let joined = Event::Joined {
            meeting: ours.clone(),
            members: Vec::new(),
        };
        assert_eq!(moves.rejoin_answer(&joined), Some(Rejoined::Back));
        assert_eq!(moves.failed(), Failed::Join, "nothing left of it");
    }
}
