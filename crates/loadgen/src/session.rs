//! Simulated members: their sockets, handshakes and meetings, over the real
//! protocol (hello, attach, create, join, media on), exactly as a client does:
//! the handshake is `common::handshake`'s, as the client's is.

use anyhow::{Context, anyhow, bail};
use common::handshake::{self, HandshakeError, Refused};
use common::{ClientId, Event, Frame, FrameKind, FrameReader, MediaKind, MeetingId, Request};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;
use transport::Socket;

use crate::scenario::Scenario;

/// How long any one setup step may take before the run gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// One simulated member, in its meeting, with its media sockets attached.
pub struct Member {
    /// Its place among all members of the run.
    pub index: usize,
    pub meeting: usize,
    /// Its place in its meeting (0 created it).
    pub slot: usize,
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
/// `--fingerprint` names, or any (a load generator is not a user).
fn connect(scenario: &Scenario) -> anyhow::Result<Socket> {
    let addr = scenario.server;
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
            Event::Error { message } => bail!("the server refused ({what}): {message}"),
            event => {
                if let Some(found) = pick(event) {
                    return Ok(found);
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

/// Connects one member: control socket, hello, then its media sockets.
fn open(scenario: &Scenario, index: usize, meeting: usize, slot: usize) -> anyhow::Result<Member> {
    let control = connect(scenario)?;
    let mut reader = FrameReader::new(control.try_clone()?, &[FrameKind::Control]);
    let handshake::Welcome { id, token, .. } =
        handshake::hello(&mut reader, &format!("lg{meeting}-{slot}"))
            .map_err(|err| step_failed("welcome", err))?;
    let mut media = Vec::new();
    for kind in scenario.kinds() {
        let stream = connect(scenario)?;
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
        id,
        control: reader,
        media,
    })
}

/// Creates every meeting and fills it; returns all members, in meetings and
/// sharing. Once the last member has `joined`, every route is in place.
pub fn setup(scenario: &Scenario) -> anyhow::Result<Vec<Member>> {
    let mut members = Vec::with_capacity(scenario.total_members());
    for meeting in 0..scenario.meetings {
        let mut meeting_id: Option<MeetingId> = None;
        for slot in 0..scenario.members {
            let index = members.len();
            let mut member = open(scenario, index, meeting, slot)
                .with_context(|| format!("member {slot} of meeting {meeting}"))?;
            let stream = member.control.get_ref().try_clone()?;
            match &meeting_id {
                None => {
                    send(&stream, &Request::Create { passcode: None })?;
                    meeting_id = Some(wait_for(&mut member.control, "created", |e| match e {
                        Event::Created { meeting, .. } => Some(meeting),
                        _ => None,
                    })?);
                }
                Some(id) => send(
                    &stream,
                    &Request::Join {
                        meeting: id.to_string(),
                        passcode: None,
                    },
                )?,
            }
            wait_for(&mut member.control, "joined", |e| {
                matches!(e, Event::Joined { .. }).then_some(())
            })?;
            members.push(member);
        }
    }
    for member in &members {
        for (kind, _) in &member.media {
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
