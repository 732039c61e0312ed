//! Simulated members: their sockets, handshakes and meetings, over the real
//! protocol (hello, attach, create, join, media on), exactly as a client does:
//! the handshake is `common::handshake`'s, as the client's is. Each member
//! connects to the server `spread` gives it; one that joins a meeting another
//! server holds first waits until its own server has heard of it. Sockets
//! open no faster than `--connect-rate` (`pacing`).

use anyhow::{Context, anyhow, bail};
use common::handshake::{self, HandshakeError, Refused};
use common::{ClientId, Event, Frame, FrameKind, FrameReader, MediaKind, MeetingId, Request};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use transport::Socket;

use crate::pacing::Pacer;
use crate::scenario::Scenario;

/// How long any one setup step may take before the run gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a joiner waits for its server to hear (through the cluster) of a
/// meeting another server holds, and how often it looks.
const HEARD_OF_DEADLINE: Duration = Duration::from_secs(10);
const HEARD_OF_POLL: Duration = Duration::from_millis(100);

/// One simulated member, in its meeting, with its media sockets attached.
pub struct Member {
    /// Its place among all members of the run.
    pub index: usize,
    pub meeting: usize,
    /// Its place in its meeting (0 created it).
    pub slot: usize,
    /// The server it is connected to (an index into `Scenario::servers`).
    pub server: usize,
    pub id: ClientId,
    pub control: FrameReader<Socket>,
    /// Media sockets, per kind (audio only when the scenario sends it).
    pub media: Vec<(MediaKind, Socket)>,
}

impl Member {
    pub fn control_stream(&self) -> &Socket {
        self.control.get_ref()
    }
}

/// Connects like a client: TLS unless `--no-tls`, trusting the key
/// `--fingerprint` names, or any (a load generator is not a user); when
/// `pacer` says.
fn connect(scenario: &Scenario, addr: SocketAddr, pacer: &mut Pacer) -> anyhow::Result<Socket> {
    pacer.wait();
    let tcp = TcpStream::connect_timeout(&addr, STEP_TIMEOUT)
        .with_context(|| format!("could not connect to {addr}: is the server running?"))?;
    tcp.set_nodelay(true)?;
    let stream = if scenario.no_tls {
        Socket::plain(tcp)
    } else {
        let deadline = std::time::Instant::now() + STEP_TIMEOUT;
        transport::connect(tcp, &addr.ip().to_string(), scenario.fingerprint, deadline)
            .map(|(socket, _)| socket)
            .with_context(|| {
                format!("TLS with {addr} failed (use --no-tls for a server started with --no-tls)")
            })?
    };
    stream.tcp().set_read_timeout(Some(STEP_TIMEOUT))?;
    Ok(stream)
}

pub fn send(mut stream: &Socket, request: &Request) -> anyhow::Result<()> {
    stream
        .write_all(Frame::control(request).as_bytes())
        .context("the server closed the connection")
}

/// Reads events until `pick` takes one; an `error` event ends the run.
fn wait_for<T>(
    reader: &mut FrameReader<Socket>,
    what: &str,
    pick: impl Fn(Event) -> Option<T>,
) -> anyhow::Result<T> {
    answer(reader, what, pick)?.map_err(|message| anyhow!("the server refused ({what}): {message}"))
}

/// Reads events until `pick` takes one (`Ok`) or the server answers with an
/// `error` event (`Err`, its message), for the caller to judge.
fn answer<T>(
    reader: &mut FrameReader<Socket>,
    what: &str,
    pick: impl Fn(Event) -> Option<T>,
) -> anyhow::Result<Result<T, String>> {
    loop {
        let frame = reader
            .read_frame()
            .with_context(|| format!("waiting for {what}"))?
            .ok_or_else(|| {
                anyhow!("the server closed the connection while we waited for {what}")
            })?;
        if frame.kind() != FrameKind::Control {
            continue;
        }
        match frame.parse_control::<Event>()? {
            Event::Error { message } => return Ok(Err(message)),
            event => {
                if let Some(found) = pick(event) {
                    return Ok(Ok(found));
                }
            }
        }
    }
}

/// A handshake step that failed, said as the other steps of a run say it.
fn step_failed(what: &str, err: HandshakeError) -> anyhow::Error {
    match err {
        HandshakeError::Send(err) => anyhow!(err).context("the server closed the connection"),
        HandshakeError::Read(err) => anyhow!(err).context(format!("waiting for {what}")),
        HandshakeError::Closed => {
            anyhow!("the server closed the connection while we waited for {what}")
        }
        HandshakeError::Refused(Refused(message)) => {
            anyhow!("the server refused ({what}): {message}")
        }
        other => anyhow!(other),
    }
}

/// Connects one member to its server: control socket, hello, then its media
/// sockets.
fn open(
    scenario: &Scenario,
    index: usize,
    meeting: usize,
    slot: usize,
    pacer: &mut Pacer,
) -> anyhow::Result<Member> {
    let server = scenario.server_of(meeting, slot);
    let addr = scenario.servers[server];
    let control = connect(scenario, addr, pacer)?;
    let mut reader = FrameReader::new(control.try_clone()?, &[FrameKind::Control]);
    let handshake::Welcome { id, token, .. } =
        handshake::hello(&mut reader, &format!("lg{meeting}-{slot}"))
            .map_err(|err| step_failed("welcome", err))?;
    let mut media = Vec::new();
    for kind in scenario.kinds_of(meeting) {
        let stream = connect(scenario, addr, pacer)?;
        // Nothing else arrives on a media socket before its member is in a
        // meeting, so this reader buffers nothing beyond `attached`.
        let mut attach_reader = FrameReader::new(stream.try_clone()?, &[FrameKind::Control]);
        handshake::attach(&mut attach_reader, kind, id, &token)
            .map_err(|err| step_failed("attached", err))?;
        stream.tcp().set_read_timeout(None)?;
        media.push((kind, stream));
    }
    Ok(Member {
        index,
        meeting,
        slot,
        server,
        id,
        control: reader,
        media,
    })
}

/// Creates every meeting and fills it; returns all members, in meetings and
/// sharing. Once the last member has `joined`, every route is in place.
pub fn setup(scenario: &Scenario) -> anyhow::Result<Vec<Member>> {
    let mut members = Vec::with_capacity(scenario.total_members());
    let mut pacer = Pacer::new(scenario.connect_rate, Instant::now());
    for meeting in 0..scenario.meetings() {
        // The meeting's id and the server holding it (its creator's).
        let mut created: Option<(MeetingId, usize)> = None;
        for slot in 0..scenario.members_of(meeting) {
            let index = members.len();
            let in_meeting = || format!("member {slot} of meeting {meeting}");
            let mut member =
                open(scenario, index, meeting, slot, &mut pacer).with_context(in_meeting)?;
            match &created {
                None => {
                    let stream = member.control_stream().try_clone()?;
                    send(&stream, &Request::Create { passcode: None })?;
                    let id = wait_for(&mut member.control, "created", |e| match e {
                        Event::Created { meeting, .. } => Some(meeting),
                        _ => None,
                    })?;
                    wait_for(&mut member.control, "joined", |e| {
                        matches!(e, Event::Joined { .. }).then_some(())
                    })?;
                    created = Some((id, member.server));
                }
                Some((id, holder)) => {
                    let elsewhere = (*holder != member.server).then(|| scenario.servers[*holder]);
                    join(scenario, &mut member, id, elsewhere).with_context(in_meeting)?;
                }
            }
            members.push(member);
        }
    }
    for member in &members {
        for (kind, _) in &member.media {
            if !scenario.sends(member.meeting, member.slot, *kind) {
                continue; // it receives a screen it does not share
            }
            send(
                member.control_stream(),
                &Request::Media {
                    kind: *kind,
                    on: true,
                },
            )?;
        }
        member.control_stream().tcp().set_read_timeout(None)?;
    }
    Ok(members)
}

/// Joins `meeting` from the member's own server; `held_elsewhere` is the
/// server that holds it, when that is another one.
///
/// A server seats a member in a meeting another server holds only once the
/// cluster (NATS) told it of the meeting; until then it answers the join with
/// "there is no meeting". Such an answer counts as a failed join against the
/// server's limits on guessing (a few per client and per address, then about
/// one a second), so trying the join every 100 ms would soon be refused for
/// that alone. The joiner asks for the list of meetings instead until the
/// meeting is on it, and joins then; a join that still finds no meeting waits
/// and tries again. All within `HEARD_OF_DEADLINE`.
fn join(
    scenario: &Scenario,
    member: &mut Member,
    meeting: &MeetingId,
    held_elsewhere: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + HEARD_OF_DEADLINE;
    let own = scenario.servers[member.server];
    let not_heard = |holder: SocketAddr, last_answer: Option<&str>| {
        let last = last_answer.map_or(String::new(), |m| format!(" (its last answer: {m})"));
        anyhow!(
            "server {own} had not heard of meeting {meeting}, created on {holder}, \
             {HEARD_OF_DEADLINE:?} after it was made{last}: are all the --server in one \
             cluster (the same --cluster NATS and --cluster-name)?"
        )
    };
    loop {
        if let Some(holder) = held_elsewhere
            && !wait_until_listed(member, meeting, deadline)?
        {
            return Err(not_heard(holder, None));
        }
        let stream = member.control_stream().try_clone()?;
        send(
            &stream,
            &Request::Join {
                meeting: meeting.to_string(),
                passcode: None,
            },
        )?;
        let answered = answer(&mut member.control, "joined", |e| {
            matches!(e, Event::Joined { .. }).then_some(())
        })?;
        let message = match answered {
            Ok(()) => return Ok(()),
            Err(message) => message,
        };
        match held_elsewhere {
            Some(holder) if not_heard_yet(&message) => {
                if Instant::now() >= deadline {
                    return Err(not_heard(holder, Some(&message)));
                }
                std::thread::sleep(HEARD_OF_POLL);
            }
            _ => bail!("the server refused (joined): {message}"),
        }
    }
}

/// Whether a refused join of a meeting held elsewhere may only mean that the
/// joiner's server has not heard of it yet (or refuses joins for a moment
/// after such answers), so that trying again later can work.
fn not_heard_yet(message: &str) -> bool {
    message.contains("there is no meeting") || message.contains("too many failed joins")
}

/// Asks the member's server for its list of meetings every `HEARD_OF_POLL`
/// until `meeting` is on it (true) or `deadline` passes (false). A list cut
/// short (the server lists a few hundred) cannot tell: true, and the join
/// will say.
fn wait_until_listed(
    member: &mut Member,
    meeting: &MeetingId,
    deadline: Instant,
) -> anyhow::Result<bool> {
    loop {
        send(member.control_stream(), &Request::Meetings)?;
        let (listed, cut_short) = wait_for(&mut member.control, "meetings", |e| match e {
            Event::Meetings { meetings, total } => Some((
                meetings.iter().any(|m| m.id == *meeting),
                meetings.len() < total,
            )),
            _ => None,
        })?;
        if listed || cut_short {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(HEARD_OF_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_meeting_not_heard_of_yet_is_joined_again() {
        assert!(not_heard_yet(
            "there is no meeting 'k7m-q2x' that you can join (ids look like k7m-q2x; /meetings lists the public ones)"
        ));
        assert!(not_heard_yet(
            "too many failed joins: wait a few seconds before trying again"
        ));
        assert!(!not_heard_yet("meeting k7m-q2x is full (16 members)"));
        assert!(!not_heard_yet(
            "meeting k7m-q2x is locked: its host lets nobody new in"
        ));
    }
}
