//! A client follows its meeting to the server of a cluster that holds it.
//!
//! The server that sends it on is a fake (`Redirector`), written here in the
//! server's place with the protocol's own types: it takes the client's hello
//! and media sockets over TLS with a key of its own, and answers its `join`
//! with `meeting_elsewhere`, naming a real server (started with the harness)
//! that holds the meeting, and that server's key. One real server serves
//! every case: a list of servers of which one answers, the move that works,
//! and the one refused because the key vouched for is not the one the
//! client already knows for that address.

use common::protocol::PROTOCOL_VERSION;
use common::{ClientId, Event, Frame, FrameKind, FrameReader, MediaKind, MeetingId, Request};
use integration_tests::{ClientProcess, DEADLINE, ServerProcess};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Instant;
use transport::{Fingerprint, KnownHosts, ServerIdentity, Socket};

/// A server of a "cluster" that holds no meeting: it says hello back to one
/// client at a time and leaves the rest to the test.
struct Redirector {
    listener: TcpListener,
    identity: std::sync::Arc<ServerIdentity>,
    _state: tempfile::TempDir,
}

/// One client's session with the redirector: its control connection (and
/// its media sockets, kept open until the test ends).
struct FakeSession {
    control: Socket,
    reader: FrameReader<Socket>,
    _media: Vec<Socket>,
}

fn every_kind() -> Vec<FrameKind> {
    std::iter::once(FrameKind::Control)
        .chain(MediaKind::ALL.map(FrameKind::Media))
        .collect()
}

impl Redirector {
    fn start() -> Redirector {
        let state = tempfile::tempdir().expect("temp dir");
        let identity = ServerIdentity::load_or_create(state.path()).expect("a key");
        Redirector {
            listener: TcpListener::bind("127.0.0.1:0").expect("binds"),
            identity: std::sync::Arc::new(identity),
            _state: state,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    fn fingerprint(&self) -> Fingerprint {
        self.identity.fingerprint()
    }

    /// Accepts one connection over TLS: its socket and a reader of it.
    fn accept(listener: &TcpListener, identity: &ServerIdentity) -> (Socket, FrameReader<Socket>) {
        let (tcp, _) = listener.accept().expect("accepts");
        tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let socket = identity
            .accept(tcp, Instant::now() + DEADLINE)
            .expect("TLS handshake");
        let reader = FrameReader::new(socket.try_clone().expect("clone"), &every_kind());
        (socket, reader)
    }

    /// Starts a client named `name` trusting `known_hosts`, and takes its
    /// session as a server would: `welcome` as `id`, then every media kind
    /// attached.
    fn client(&self, name: &str, id: ClientId, known_hosts: &Path) -> (ClientProcess, FakeSession) {
        let listener = self.listener.try_clone().expect("clone");
        let identity = self.identity.clone();
        let (done, session) = std::sync::mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let (control, mut reader) = Redirector::accept(&listener, &identity);
            let hello = next_request(&mut reader);
            let Request::Hello { name, .. } = hello else {
                panic!("expected hello, got {hello:?}");
            };
            send(
                &control,
                &Event::Welcome {
                    protocol: PROTOCOL_VERSION,
                    id,
                    name,
                    token: "redirector-token".into(),
                },
            );
            let media = (0..MediaKind::COUNT)
                .map(|_| {
                    let (socket, mut reader) = Redirector::accept(&listener, &identity);
                    match next_request(&mut reader) {
                        Request::Attach { kind, .. } => send(&socket, &Event::Attached { kind }),
                        other => panic!("expected attach, got {other:?}"),
                    }
                    socket
                })
                .collect();
            let _ = done.send(FakeSession {
                control,
                reader,
                _media: media,
            });
        });
        let args = vec![
            "--known-hosts".to_string(),
            known_hosts.display().to_string(),
        ];
        let client = ClientProcess::start_at(&self.addr().to_string(), name, &args)
            .unwrap_or_else(|err| panic!("{err:#}"));
        let session = session
            .recv_timeout(DEADLINE)
            .expect("the redirector took the client's session");
        (client, session)
    }
}

fn send(socket: &Socket, event: &Event) {
    Frame::control(event)
        .write_to(&mut &*socket)
        .expect("the client reads");
}

fn next_request(reader: &mut FrameReader<Socket>) -> Request {
    match reader.read_frame() {
        Ok(Some(frame)) => frame.parse_control().expect("a request"),
        other => panic!("expected a request, got {other:?}"),
    }
}

impl FakeSession {
    /// The next request matching `pred`; `ping`s on the way are answered,
    /// as a server does (the client holds its local answers behind them).
    fn expect(&mut self, what: &str, pred: impl Fn(&Request) -> bool) -> Request {
        loop {
            let request = next_request(&mut self.reader);
            if pred(&request) {
                return request;
            }
            if request == Request::Ping {
                send(&self.control, &Event::Pong);
            }
            eprintln!("(redirector, waiting for {what}: skipped {request:?})");
        }
    }

    /// Waits for the client's `join` of `meeting` and answers that
    /// `server`, whose key is `fingerprint`, holds it.
    fn send_on(&mut self, meeting: &MeetingId, server: SocketAddr, fingerprint: Fingerprint) {
        self.expect("join", |r| matches!(r, Request::Join { .. }));
        send(
            &self.control,
            &Event::MeetingElsewhere {
                meeting: meeting.clone(),
                server: server.to_string(),
                fingerprint: Some(fingerprint.to_string()),
            },
        );
    }

    /// True if the client ended the session cleanly: its control connection
    /// closed after what it sent (answering pings meanwhile), not broken.
    fn closed_cleanly(&mut self) -> bool {
        loop {
            match self.reader.read_frame() {
                Ok(Some(frame)) => {
                    if frame.parse_control::<Request>().ok() == Some(Request::Ping) {
                        let _ = Frame::control(&Event::Pong).write_to(&mut &self.control);
                    }
                }
                Ok(None) => return true,
                Err(err) => {
                    eprintln!("redirector: the client's connection broke: {err}");
                    return false;
                }
            }
        }
    }
}

#[test]
fn a_join_answered_elsewhere_moves_there_unless_the_key_vouched_for_is_not_the_one_known() {
    let real = ServerProcess::start();
    let real_key = real.fingerprint().expect("the test server runs TLS");
    let (meeting, [mut ana]) = real.raw_meeting(["ana"]);
    let mut ana_audio = ana.attach(MediaKind::Audio);
    let redirector = Redirector::start();
    let dir = tempfile::tempdir().expect("temp dir");

    // 0. Several servers named: the one that answers is used, in whatever
    //    order they are tried (nothing listens on port 1).
    let list = format!("127.0.0.1:1,{}", real.addr());
    let dan = ClientProcess::start_at(&list, "dan", &real.trust_args())
        .unwrap_or_else(|err| panic!("{err:#}"));
    assert_eq!(
        dan.last_event("connected")["server"],
        real.addr().to_string()
    );
    drop(dan);

    // 1. Nothing known of the real server: the vouched key is taken and
    //    remembered, the client joins there and is a member like any other.
    let known_hosts = dir.path().join("known_hosts");
    let hosts = KnownHosts::at(&known_hosts);
    hosts
        .remember(&redirector.addr().to_string(), redirector.fingerprint())
        .expect("writes");
    let (mut bo, mut old_session) = redirector.client("bo", ClientId(900), &known_hosts);
    bo.send(&format!("/join {meeting}"));
    old_session.send_on(&meeting, real.addr(), real_key);
    let moved = bo.expect_event("moved");
    assert_eq!(moved["server"], real.addr().to_string(), "{moved}");
    assert_eq!(moved["meeting"], meeting.to_string(), "{moved}");
    let bo_id = moved["id"].as_u64().expect("moved has the new id");
    let joined = bo.expect("joined there", |e| e["event"] == "joined");
    assert_eq!(joined["meeting"], meeting.to_string(), "{joined}");
    ana.expect(
        "bo joining",
        |e| matches!(e, Event::MemberJoined { member, .. } if member.name == "bo"),
    );
    assert!(
        old_session.closed_cleanly(),
        "the session on the redirector ends as /quit ends it"
    );
    assert_eq!(
        hosts.lookup(&real.addr().to_string()).expect("reads"),
        transport::Known::Key {
            fingerprint: real_key,
            line: 3
        },
        "the vouched key is remembered"
    );
    bo.send("hello from bo");
    ana.expect(
        "bo's chat",
        |e| matches!(e, Event::Chat { text, .. } if text == "hello from bo"),
    );
    bo.send("/audio on tone:440");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let frame = ana_audio.next_media().expect("audio arrives");
        if u64::from(frame.sender.0) == bo_id {
            break;
        }
        assert!(Instant::now() < deadline, "no audio from bo");
    }

    // 2. known_hosts holds another key for the real server's address: the
    //    move is refused, and the client stays where it was.
    let wary_hosts = dir.path().join("wary_known_hosts");
    let wary = KnownHosts::at(&wary_hosts);
    wary.remember(&redirector.addr().to_string(), redirector.fingerprint())
        .expect("writes");
    let other_key = Fingerprint::of_certificate(b"some other server's certificate");
    wary.remember(&real.addr().to_string(), other_key)
        .expect("writes");
    let (mut cy, mut cy_session) = redirector.client("cy", ClientId(901), &wary_hosts);
    cy.send(&format!("/join {meeting}"));
    cy_session.send_on(&meeting, real.addr(), real_key);
    let refused = cy.expect("the refusal", |e| {
        e["event"] == "error"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("refusing to move"))
    });
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&other_key.to_compact()) || message.contains(&other_key.to_string()),
        "the message names the key known: {message}"
    );
    assert!(
        message.contains("Still connected where you were"),
        "{message}"
    );
    cy.send("/meetings");
    cy_session.expect("cy still on the redirector", |r| {
        matches!(r, Request::Meetings)
    });
    ana.peer.request(&Request::Members);
    let Event::Members { members, .. } =
        ana.expect("members", |e| matches!(e, Event::Members { .. }))
    else {
        unreachable!("matched above");
    };
    let mut names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["ana", "bo"], "cy never came");
    assert!(
        !cy.history.iter().any(|e| e["event"] == "moved"),
        "{:?}",
        cy.history
    );
}
