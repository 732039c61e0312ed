//! Surviving the death of the server we are on (kill -9, a power cut).
//!
//! On a server of a cluster, every member holds a standing ticket for its
//! meeting (`ticket`, after each `joined`): should the server die, another
//! server of the cluster takes the meeting over when a member `rejoin`s
//! there with it. `Failover` keeps that ticket (for the meeting we are in,
//! and only while we are in it), the number of the last chat message we
//! saw there, and every server of the cluster we know: the command line's,
//! and those other servers named to us (`meeting_elsewhere`,
//! `meeting_moved`, `cluster_servers`) with the key they vouched for.
//!
//! When the control connection breaks and both are there, `Plan::run`
//! takes the reconnecting thread's place (`session::Connection::reconnect`):
//!
//! 1. One quick resume at the same server first. A server that only
//!    dropped our connection, or a network that hiccuped, keeps our
//!    session: resuming keeps every event, where a rejoin elsewhere gives
//!    only the meeting as it is and its chat. A refused connection means its
//!    process is gone, so nothing is lost by leaving at once.
//! 2. Then, every `FAILOVER_RETRY` for `FAILOVER_TRYING_FOR`: each other
//!    known server, in a random order, is asked to take us back (hello with
//!    our name and who we were, then `rejoin` with the ticket and the last
//!    chat we saw as the first request): we come back as the same member,
//!    and are told the chat we missed. If the dead server held the meeting
//!    itself, until the cluster has noticed the death (up to about 2 s) a
//!    server answers that it holds the meeting: asked again next round. A server
//!    it names instead has taken it over: followed, once. `joined` ends
//!    the search; the media sockets are attached there only then.
//! 3. As long as the dead server might only be unreachable (no refusal
//!    seen), each round also tries to resume there: if it was the network,
//!    the session comes back as it was. If no other server took the
//!    meeting over by the end, the reconnecting goes on as without a
//!    cluster (`RESUME_TRYING_FOR`); if the server is known gone, the
//!    session ends, saying what each server answered.
//!
//! Trust is what it is for first connections: the command line's servers
//! by `--fingerprint`, known_hosts or first use; servers named by another
//! (the command line's too, once named) by the key it vouched for
//! (`link::greet`).

use super::session::Resumer;
use crate::events::{AppEvent, FailedOver};
use crate::link::{self, Greeted, Introduced, RejoinAnswer, ResumeError, Security, Vouched};
use crate::servers::{self, Addresses, ServerName};
use common::{ClientId, Event, MeetingId, Returning};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The quick resume's TCP connect: a live server on a working network
/// answers far sooner; a silent one is not waited for before the others
/// are asked.
const QUICK_RESUME_CONNECT: Duration = Duration::from_millis(500);
/// How often the other servers are asked again while the cluster has not
/// noticed the death yet (it notices within about 2 s).
const FAILOVER_RETRY: Duration = Duration::from_millis(250);
/// How long the other servers are asked before giving up.
const FAILOVER_TRYING_FOR: Duration = Duration::from_secs(15);

/// What a failover needs to know before the server dies.
pub(super) struct Failover {
    /// What we said hello with, to say it again there.
    name: String,
    security: Security,
    /// Every server of the cluster we know, each once.
    known: Vec<KnownServer>,
    /// The latest standing ticket for the meeting we are in.
    standing: Option<Standing>,
    /// The number of the last chat message we saw in it (`seq`).
    chat_seen: Option<u64>,
    /// The meeting was made again without its chat: the chat we sent that
    /// our dead server never echoed may have reached the others or not.
    chat_renumbered: bool,
}

#[derive(Clone, Debug)]
struct KnownServer {
    /// `host:port` as named (a name may have several addresses).
    name: ServerName,
    introduced: Introduced,
}

#[derive(Clone, Debug)]
struct Standing {
    meeting: MeetingId,
    ticket: String,
}

impl Failover {
    pub fn new(servers: &[ServerName], name: String, security: Security) -> Failover {
        let known = servers
            .iter()
            .map(|server| KnownServer {
                name: server.clone(),
                introduced: Introduced::Named,
            })
            .collect();
        Failover {
            name,
            security,
            known,
            standing: None,
            chat_seen: None,
            chat_renumbered: false,
        }
    }

    /// An event from the server, as it comes: keeps the newest standing
    /// ticket, and learns the servers that are named to us.
    pub fn heard(&mut self, event: &Event) {
        match event {
            Event::Ticket {
                meeting,
                ticket,
                chat_renumbered,
            } => {
                // The meeting's chat numbers go on through a new ticket in
                // the same meeting (it was made again elsewhere, with its
                // chat), unless the server says they start again; another
                // meeting numbers its own.
                let same_meeting = self
                    .standing
                    .as_ref()
                    .is_some_and(|standing| standing.meeting == *meeting);
                if !same_meeting || *chat_renumbered {
                    self.chat_seen = None;
                }
                self.chat_renumbered = *chat_renumbered;
                self.standing = Some(Standing {
                    meeting: meeting.clone(),
                    ticket: ticket.clone(),
                });
            }
            Event::Chat { seq, .. } | Event::Private { seq, .. } if *seq > 0 => {
                self.chat_seen = Some(*seq);
            }
            Event::ClusterServers { servers } => {
                for server in servers {
                    self.learn(&server.server, server.fingerprint.clone());
                }
            }
            Event::MeetingElsewhere {
                server,
                fingerprint,
                ..
            }
            | Event::MeetingMoved {
                server,
                fingerprint,
                ..
            } => self.learn(server, fingerprint.clone()),
            _ => {}
        }
    }

    /// The number of the last chat message we saw in our meeting.
    pub fn chat_seen(&self) -> Option<u64> {
        self.chat_seen
    }

    /// Whether our meeting, made again after its server died, lost its
    /// chat (its numbers started again).
    pub fn chat_renumbered(&self) -> bool {
        self.chat_renumbered
    }

    /// The meeting we are in now (once an event was taken in): a ticket
    /// for another is forgotten (we left, it ended, we were removed, or we
    /// moved).
    pub fn now_in(&mut self, ours: Option<&MeetingId>) {
        if self.standing.as_ref().map(|s| &s.meeting) != ours {
            self.standing = None;
            self.chat_seen = None;
        }
    }

    /// `server` is a server of the cluster, whose key is `fingerprint`, as
    /// a server we trusted said. A server of the command line is vouched
    /// for from now on: its key is then the one named, not one taken on
    /// first use (a pinned or remembered key still has the last word,
    /// `link::vouched_tls`). One vouched for already keeps the first key
    /// it was vouched for with.
    fn learn(&mut self, server: &str, fingerprint: Option<String>) {
        let Ok(name) = servers::parse_one(server, common::protocol::DEFAULT_PORT) else {
            return;
        };
        let vouched = Introduced::Vouched(fingerprint);
        match self.known.iter_mut().find(|known| known.name == name) {
            Some(known) if matches!(known.introduced, Introduced::Named) => {
                known.introduced = vouched;
            }
            Some(_) => {}
            None => self.known.push(KnownServer {
                name,
                introduced: vouched,
            }),
        }
    }

    /// What to do if the control connection to `dead` broke while we are in
    /// `ours` as member `me`: a plan if we hold its standing ticket and
    /// know another server; None (reconnect as without a cluster) otherwise.
    pub fn plan(&self, ours: Option<&MeetingId>, me: ClientId, dead: SocketAddr) -> Option<Plan> {
        let standing = self.standing.clone().filter(|s| Some(&s.meeting) == ours)?;
        let others: Vec<KnownServer> = self
            .known
            .iter()
            .filter(|known| !names_only(&known.name, dead))
            .cloned()
            .collect();
        if others.is_empty() {
            return None;
        }
        Some(Plan {
            name: self.name.clone(),
            security: self.security.clone(),
            me,
            standing,
            chat_seen: self.chat_seen,
            others,
            dead,
        })
    }
}

/// Whether `name` is `dead`'s address written out (a host name may have
/// other addresses too: only resolving tells, on the failover's thread).
fn names_only(name: &ServerName, dead: SocketAddr) -> bool {
    name.host.parse::<std::net::IpAddr>() == Ok(dead.ip()) && name.port == dead.port()
}

/// A failover ready to run: see the module's comment.
pub(super) struct Plan {
    name: String,
    security: Security,
    /// Who we were: said in the hello, so that we come back as that member.
    me: ClientId,
    standing: Standing,
    chat_seen: Option<u64>,
    others: Vec<KnownServer>,
    dead: SocketAddr,
}

/// How one server answered.
enum Asked {
    Back(Box<FailedOver>),
    /// It says the dead server holds the meeting still: ask again, on
    /// this connection.
    NotYet(Box<Greeted>),
    /// It could not be asked, or would not take us: why.
    Failed(String),
}

/// How the search ended.
enum Outcome {
    Resumed(link::ResumedControl),
    Back(Box<FailedOver>),
    Lost(String),
    /// No other server took the meeting over, and the dead server may be
    /// alive behind a broken network: go on resuming as without a cluster.
    KeepResuming,
}

impl Plan {
    /// Runs on the reconnecting thread; tells the loop the outcome.
    pub(super) fn run(self, resumer: Resumer) {
        let dead_may_live = match resumer.attempt(QUICK_RESUME_CONNECT) {
            Ok(resumed) => return resumer.report(|g| AppEvent::Resumed(g, Box::new(resumed))),
            // Alive, and without our session: no other server will hold it.
            Err(ResumeError::Never(message)) => {
                return resumer.report(|g| AppEvent::ResumeFailed(g, message));
            }
            Err(ResumeError::Gone(message)) => {
                tracing::info!("{message}: asking the other servers of the cluster");
                false
            }
            Err(ResumeError::Again(err)) => {
                tracing::info!("resume: {err:#}: asking the other servers of the cluster too");
                true
            }
        };
        let targets = self.targets();
        if targets.is_empty() {
            // Only the dead server's own names: as without a cluster.
            return resumer.run();
        }
        match self.search(&targets, dead_may_live, &resumer) {
            Outcome::Resumed(resumed) => {
                resumer.report(|g| AppEvent::Resumed(g, Box::new(resumed)));
            }
            Outcome::Back(back) => resumer.report(|g| AppEvent::FailedOver(g, back)),
            Outcome::Lost(message) => resumer.report(|g| AppEvent::ResumeFailed(g, message)),
            Outcome::KeepResuming => resumer.run(),
        }
    }

    /// The other servers' addresses with how each was introduced, in a
    /// random order, the dead server's left out.
    fn targets(&self) -> Vec<(SocketAddr, Introduced)> {
        let mut targets = Vec::new();
        for known in &self.others {
            for addr in Addresses::resolve(std::slice::from_ref(&known.name)).found {
                if addr == self.dead {
                    continue;
                }
                // An address both named and vouched for (a name and the
                // address it resolves to): the vouched key is checked.
                match targets.iter_mut().find(|(seen, _)| *seen == addr) {
                    Some((_, introduced)) if matches!(introduced, Introduced::Named) => {
                        *introduced = known.introduced.clone();
                    }
                    Some(_) => {}
                    None => targets.push((addr, known.introduced.clone())),
                }
            }
        }
        servers::shuffle(&mut targets);
        targets
    }

    /// Asks every target in rounds until one takes us back, the dead
    /// server comes back, or time is up.
    fn search(
        &self,
        targets: &[(SocketAddr, Introduced)],
        mut dead_may_live: bool,
        resumer: &Resumer,
    ) -> Outcome {
        let give_up = Instant::now() + FAILOVER_TRYING_FOR;
        // Connections whose server said "not yet": asked again on them.
        let mut waiting: Vec<(SocketAddr, Box<Greeted>)> = Vec::new();
        let mut last_words: Vec<String> = Vec::new();
        let outcome = 'rounds: loop {
            last_words.clear();
            for (addr, introduced) in targets {
                let open = waiting
                    .iter()
                    .position(|(at, _)| at == addr)
                    .map(|at| waiting.swap_remove(at).1);
                match self.ask(*addr, introduced, open, true) {
                    Asked::Back(back) => break 'rounds Outcome::Back(back),
                    Asked::NotYet(greeted) => {
                        last_words.push(format!("{addr}: not taken over yet"));
                        waiting.push((*addr, greeted));
                    }
                    Asked::Failed(why) => last_words.push(format!("{addr}: {why}")),
                }
            }
            if dead_may_live {
                match resumer.attempt(QUICK_RESUME_CONNECT) {
                    Ok(resumed) => break Outcome::Resumed(resumed),
                    Err(ResumeError::Gone(_)) => dead_may_live = false,
                    Err(ResumeError::Never(message)) => break Outcome::Lost(message),
                    Err(ResumeError::Again(_)) => {}
                }
            }
            if Instant::now() + FAILOVER_RETRY >= give_up && dead_may_live {
                break Outcome::KeepResuming;
            }
            if Instant::now() + FAILOVER_RETRY >= give_up {
                break Outcome::Lost(format!(
                    "the server at {} is gone, and no other server of its cluster took \
                     meeting {} over in {} s ({}); the session is lost",
                    self.dead,
                    self.standing.meeting,
                    FAILOVER_TRYING_FOR.as_secs(),
                    last_words.join("; ")
                ));
            }
            // Nothing to wait for but the cluster noticing.
            std::thread::sleep(FAILOVER_RETRY);
        };
        for (_, greeted) in waiting {
            greeted.goodbye();
        }
        outcome
    }

    /// Asks the server at `addr` (on `open`, a connection to it that said
    /// "not yet" before, if any) to take us back; a server it names as
    /// having taken the meeting over is asked in turn if `follow`.
    fn ask(
        &self,
        addr: SocketAddr,
        introduced: &Introduced,
        open: Option<Box<Greeted>>,
        follow: bool,
    ) -> Asked {
        let Standing { meeting, ticket } = &self.standing;
        let returning = Returning {
            id: self.me,
            meeting: meeting.clone(),
            ticket: ticket.clone(),
        };
        let greeted = match open {
            Some(greeted) => Ok(*greeted),
            None => link::greet(
                addr,
                introduced,
                &self.name,
                Some(returning),
                &self.security,
            ),
        };
        let mut greeted = match greeted {
            Ok(greeted) => greeted,
            Err(err) => return Asked::Failed(format!("{err:#}")),
        };
        let answer = match greeted.rejoin(meeting, ticket, self.chat_seen) {
            Ok(answer) => answer,
            Err(err) => return Asked::Failed(format!("{err:#}")),
        };
        match answer {
            RejoinAnswer::Back(answer) => match greeted.attach_media() {
                Ok(link) => Asked::Back(Box::new(FailedOver {
                    link,
                    meeting: meeting.clone(),
                    ticket: ticket.clone(),
                    answer,
                    lost: self.dead,
                })),
                Err(err) => Asked::Failed(format!("{err:#}")),
            },
            RejoinAnswer::Refused(why) => {
                greeted.goodbye();
                Asked::Failed(why)
            }
            RejoinAnswer::Elsewhere(vouched) if self.names_the_dead(&vouched) || !follow => {
                Asked::NotYet(Box::new(greeted))
            }
            RejoinAnswer::Elsewhere(vouched) => {
                greeted.goodbye();
                self.follow(&vouched)
            }
        }
    }

    /// Asks the server another one says took our meeting over; once: if it
    /// sends us on again, the next round asks again from the start.
    fn follow(&self, vouched: &Vouched) -> Asked {
        let introduced = Introduced::Vouched(vouched.fingerprint.clone());
        let Ok(name) = servers::parse_one(&vouched.server, common::protocol::DEFAULT_PORT) else {
            return Asked::Failed(format!("named {} as holding it: no server", vouched.server));
        };
        let mut why = format!(
            "named {} as holding it, which has no address",
            vouched.server
        );
        for addr in Addresses::resolve(&[name]).found {
            match self.ask(addr, &introduced, None, false) {
                Asked::Back(back) => return Asked::Back(back),
                Asked::NotYet(greeted) => {
                    greeted.goodbye();
                    why = format!("{addr}, named as holding it, says it is elsewhere");
                }
                Asked::Failed(failed) => why = format!("{addr}, named as holding it: {failed}"),
            }
        }
        Asked::Failed(why)
    }

    /// Whether `vouched` is the dead server (the cluster has not noticed).
    fn names_the_dead(&self, vouched: &Vouched) -> bool {
        servers::parse_one(&vouched.server, common::protocol::DEFAULT_PORT)
            .is_ok_and(|name| Addresses::resolve(&[name]).found.contains(&self.dead))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failover(servers: &str) -> Failover {
        let servers = servers::parse_list(servers, 6338).expect("a list");
        Failover::new(&servers, "ana".into(), Security::Plain)
    }

    fn ticket(meeting: &MeetingId) -> Event {
        Event::Ticket {
            meeting: meeting.clone(),
            ticket: "t".into(),
            chat_renumbered: false,
        }
    }

    #[test]
    fn a_standing_ticket_is_kept_only_while_in_its_meeting() {
        let dead: SocketAddr = "127.0.0.1:7000".parse().expect("an address");
        let ours = MeetingId::parse("abc-def").expect("an id");
        let mut failover = failover("127.0.0.1:7000,127.0.0.1:7001");
        assert!(
            failover.plan(Some(&ours), ClientId(7), dead).is_none(),
            "no ticket yet"
        );
        failover.heard(&ticket(&ours));
        failover.now_in(Some(&ours));
        let plan = failover
            .plan(Some(&ours), ClientId(7), dead)
            .expect("a plan");
        assert_eq!(plan.standing.meeting, ours);
        assert_eq!(plan.others.len(), 1, "the dead server is left out");
        assert!(
            failover.plan(None, ClientId(7), dead).is_none(),
            "not for another meeting"
        );
        failover.now_in(None);
        assert!(
            failover.plan(Some(&ours), ClientId(7), dead).is_none(),
            "left: forgotten"
        );
    }

    #[test]
    fn without_another_server_there_is_no_failover_until_one_is_named() {
        let dead: SocketAddr = "127.0.0.1:7000".parse().expect("an address");
        let ours = MeetingId::parse("abc-def").expect("an id");
        let mut failover = failover("127.0.0.1:7000");
        failover.heard(&ticket(&ours));
        failover.now_in(Some(&ours));
        assert!(failover.plan(Some(&ours), ClientId(7), dead).is_none());
        failover.heard(&Event::MeetingElsewhere {
            meeting: MeetingId::parse("ghj-kmn").expect("an id"),
            server: "127.0.0.1:7002".into(),
            fingerprint: None,
        });
        let plan = failover
            .plan(Some(&ours), ClientId(7), dead)
            .expect("a plan");
        assert!(matches!(
            plan.others.as_slice(),
            [KnownServer {
                introduced: Introduced::Vouched(None),
                ..
            }]
        ));
    }

    #[test]
    fn the_servers_our_server_names_are_vouched_for_the_command_lines_too() {
        let dead: SocketAddr = "127.0.0.1:7000".parse().expect("an address");
        let ours = MeetingId::parse("abc-def").expect("an id");
        let mut failover = failover("127.0.0.1:7000,127.0.0.1:7001");
        failover.heard(&Event::ClusterServers {
            servers: vec![
                common::ServerAddress {
                    server: "127.0.0.1:7001".into(),
                    fingerprint: Some("key-b".into()),
                },
                common::ServerAddress {
                    server: "127.0.0.1:7002".into(),
                    fingerprint: Some("key-c".into()),
                },
            ],
        });
        failover.heard(&ticket(&ours));
        failover.now_in(Some(&ours));
        let plan = failover
            .plan(Some(&ours), ClientId(7), dead)
            .expect("a plan");
        let keys: Vec<(u16, Option<&str>)> = plan
            .others
            .iter()
            .map(|known| match &known.introduced {
                Introduced::Vouched(key) => (known.name.port, key.as_deref()),
                Introduced::Named => (known.name.port, None),
            })
            .collect();
        assert_eq!(keys, [(7001, Some("key-b")), (7002, Some("key-c"))]);
    }

    #[test]
    fn the_last_chat_seen_goes_on_through_new_tickets_unless_the_chat_was_renumbered() {
        let dead: SocketAddr = "127.0.0.1:7000".parse().expect("an address");
        let ours = MeetingId::parse("abc-def").expect("an id");
        let mut failover = failover("127.0.0.1:7000,127.0.0.1:7001");
        let chat = |seq| Event::Chat {
            meeting: ours.clone(),
            from: "bo".into(),
            from_id: ClientId(3),
            text: "hi".into(),
            seq,
        };
        failover.heard(&ticket(&ours));
        failover.now_in(Some(&ours));
        failover.heard(&chat(4));
        failover.heard(&chat(5));
        // The same ticket again (a resume's state): still this stay.
        failover.heard(&ticket(&ours));
        let plan = failover
            .plan(Some(&ours), ClientId(7), dead)
            .expect("a plan");
        assert_eq!(plan.chat_seen, Some(5));
        // A new ticket: the meeting made again elsewhere, with its chat.
        failover.heard(&Event::Ticket {
            meeting: ours.clone(),
            ticket: "another".into(),
            chat_renumbered: false,
        });
        let plan = failover
            .plan(Some(&ours), ClientId(7), dead)
            .expect("a plan");
        assert_eq!(plan.chat_seen, Some(5));
        assert!(!failover.chat_renumbered());
        // Made again without it: numbered anew.
        failover.heard(&Event::Ticket {
            meeting: ours.clone(),
            ticket: "a third".into(),
            chat_renumbered: true,
        });
        let plan = failover
            .plan(Some(&ours), ClientId(7), dead)
            .expect("a plan");
        assert_eq!(plan.chat_seen, None);
        assert!(failover.chat_renumbered());
        // Another meeting numbers its own.
        let other = MeetingId::parse("ghj-kmn").expect("an id");
        failover.heard(&chat(9));
        failover.heard(&ticket(&other));
        failover.now_in(Some(&other));
        let plan = failover
            .plan(Some(&other), ClientId(7), dead)
            .expect("a plan");
        assert_eq!(plan.chat_seen, None);
    }
}
