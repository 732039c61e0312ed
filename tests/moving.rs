//! A client follows its meeting to another server of a cluster.
//!
//! The server that sends it on is a fake (`Redirector`), written here in the
//! server's place with the protocol's own types: it takes the client's hello
//! and media sockets over TLS with a key of its own, and answers its `join`
//! with `meeting_elsewhere`, naming a real server (started with the harness)
//! that holds the meeting, and that server's key. One real server serves
//! every case: a list of servers of which one answers, the move that works,
//! and the one refused because the key vouched for is not the one the
//! client already knows for that address.
//!
//! A rolling upgrade: the server a client is in a meeting on stops and
//! hands the meeting over (`meeting_moved`, then `shutdown`, then it
//! closes). Both servers are fakes there, the heir a second `Redirector`
//! that records the hello and the `rejoin` and answers `joined`: what a
//! real server does with the ticket is the server's tests' business.

use common::protocol::PROTOCOL_VERSION;
use common::{
    ClientId, Event, Frame, FrameKind, FrameReader, MediaKind, MeetingId, MemberInfo, PerKind,
    Request,
};
use integration_tests::{ClientProcess, DEADLINE, ServerProcess};
use std::net::{Shutdown, SocketAddr, TcpListener};
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

/// One client's session with the redirector: its control connection, the
/// name it said hello with, and its media sockets (kept open until the
/// test ends).
struct FakeSession {
    control: Socket,
    reader: FrameReader<Socket>,
    name: String,
    media: Vec<(MediaKind, Socket, FrameReader<Socket>)>,
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

    /// Takes the next client's session as a server would, on a thread:
    /// `welcome` as `id`, then every media kind attached.
    fn serve(&self, id: ClientId) -> std::sync::mpsc::Receiver<FakeSession> {
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
                    name: name.clone(),
                    token: "redirector-token".into(),
                },
            );
            let media = (0..MediaKind::COUNT)
                .map(|_| {
                    let (socket, mut reader) = Redirector::accept(&listener, &identity);
                    match next_request(&mut reader) {
                        Request::Attach { kind, .. } => {
                            send(&socket, &Event::Attached { kind });
                            (kind, socket, reader)
                        }
                        other => panic!("expected attach, got {other:?}"),
                    }
                })
                .collect();
            let _ = done.send(FakeSession {
                control,
                reader,
                name,
                media,
            });
        });
        session
    }

    /// Starts a client named `name` trusting `known_hosts`, and takes its
    /// session (`serve`).
    fn client(&self, name: &str, id: ClientId, known_hosts: &Path) -> (ClientProcess, FakeSession) {
        let session = self.serve(id);
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

    /// Waits for the client's `join` and answers that it joined `meeting`
    /// (alone, as its host, as `id`).
    fn let_in(&mut self, meeting: &MeetingId, id: ClientId) {
        self.expect("join", |r| matches!(r, Request::Join { .. }));
        self.joined(meeting, id);
    }

    fn joined(&self, meeting: &MeetingId, id: ClientId) {
        let me = MemberInfo {
            id,
            name: self.name.clone(),
            host: true,
            hand: false,
            sharing: PerKind::default(),
        };
        send(
            &self.control,
            &Event::Joined {
                meeting: meeting.clone(),
                members: vec![me],
            },
        );
    }

    /// Stops as a server of a cluster does: hands `meeting` over to
    /// `heir` (whose key is `key`) with `ticket`, says it is shutting
    /// down, and closes every socket.
    fn hand_over(self, meeting: &MeetingId, heir: SocketAddr, key: Fingerprint, ticket: &str) {
        send(
            &self.control,
            &Event::MeetingMoved {
                meeting: meeting.clone(),
                server: heir.to_string(),
                fingerprint: Some(key.to_string()),
                ticket: ticket.to_string(),
            },
        );
        send(
            &self.control,
            &Event::Shutdown {
                message: "server shutting down".into(),
            },
        );
        for socket in std::iter::once(&self.control).chain(self.media.iter().map(|m| &m.1)) {
            socket.close_notify();
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Waits for a frame of `kind` on its media socket.
    fn media_arrives(&mut self, kind: MediaKind) {
        let (_, _, reader) = self
            .media
            .iter_mut()
            .find(|(k, ..)| *k == kind)
            .expect("every kind attached");
        loop {
            let frame = reader
                .read_frame()
                .unwrap_or_else(|err| panic!("no {kind} arrives: {err}"))
                .unwrap_or_else(|| panic!("the {kind} socket closed"));
            if frame.kind() == FrameKind::from(kind) {
                return;
            }
        }
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

#[test]
fn a_meeting_handed_over_by_a_stopping_server_is_rejoined_on_the_heir_with_its_ticket() {
    let old = Redirector::start();
    let heir = Redirector::start();
    let meeting = MeetingId::parse("abc-def").expect("an id");
    let dir = tempfile::tempdir().expect("temp dir");

    // 1. The heir's key is not known yet: the one vouched for is taken,
    //    the client rejoins there with its ticket, says again what it
    //    shares, and goes on there after the old server's shutdown.
    let known_hosts = dir.path().join("known_hosts");
    KnownHosts::at(&known_hosts)
        .remember(&old.addr().to_string(), old.fingerprint())
        .expect("writes");
    let (mut bo, mut on_old) = old.client("bo", ClientId(900), &known_hosts);
    bo.send(&format!("/join {meeting}"));
    on_old.let_in(&meeting, ClientId(900));
    bo.expect_event("joined");
    bo.send("/audio on tone:440");
    on_old.expect("audio on", |r| {
        matches!(
            r,
            Request::Media {
                kind: MediaKind::Audio,
                on: true
            }
        )
    });
    let on_heir = heir.serve(ClientId(77));
    on_old.hand_over(&meeting, heir.addr(), heir.fingerprint(), "ticket-for-bo");
    // A stopping server listens no more: a media socket of bo's that tries
    // to attach there again meanwhile is refused a connection.
    drop(old);
    let mut on_heir = on_heir
        .recv_timeout(DEADLINE)
        .expect("the client came to the heir and attached every media socket");
    assert_eq!(on_heir.name, "bo", "hello with the same name");
    let rejoin = on_heir.expect("rejoin", |r| !matches!(r, Request::Ping));
    assert_eq!(
        rejoin,
        Request::Rejoin {
            chat_seen: None,
            meeting: meeting.to_string(),
            ticket: "ticket-for-bo".into()
        },
        "the first request there is the rejoin, with exactly the ticket"
    );
    on_heir.joined(&meeting, ClientId(77));
    let moved = bo.expect_event("moved");
    assert_eq!(moved["server"], heir.addr().to_string(), "{moved}");
    assert_eq!(moved["meeting"], meeting.to_string(), "{moved}");
    assert_eq!(moved["reason"], "handed_over", "{moved}");
    assert_eq!(moved["id"], 77, "{moved}");
    bo.expect("joined on the heir", |e| e["event"] == "joined");
    on_heir.expect("audio on again", |r| {
        matches!(
            r,
            Request::Media {
                kind: MediaKind::Audio,
                on: true
            }
        )
    });
    on_heir.media_arrives(MediaKind::Audio);
    bo.send("still here");
    on_heir.expect(
        "chat after the old server's shutdown",
        |r| matches!(r, Request::Chat { text, .. } if text == "still here"),
    );
    let told = bo
        .history
        .iter()
        .find(|e| e["event"] == "meeting_moved")
        .expect("the handover is printed");
    assert_eq!(told["server"], heir.addr().to_string(), "{told}");
    assert!(
        told.get("ticket").is_none(),
        "the ticket is a secret: {told}"
    );
    assert!(
        !bo.history
            .iter()
            .any(|e| ["disconnected", "reconnecting", "error"]
                .contains(&e["event"].as_str().unwrap_or_default())),
        "{:?}",
        bo.history
    );
    assert_eq!(
        KnownHosts::at(&known_hosts)
            .lookup(&heir.addr().to_string())
            .expect("reads"),
        transport::Known::Key {
            fingerprint: heir.fingerprint(),
            line: 3
        },
        "the vouched key is remembered"
    );

    // 2. known_hosts holds another key for the heir's address: the client
    //    refuses to go there, says why, and ends as for a server that
    //    stopped.
    let wary_hosts = dir.path().join("wary_known_hosts");
    let wary = KnownHosts::at(&wary_hosts);
    let other_key = Fingerprint::of_certificate(b"some other server's certificate");
    wary.remember(&heir.addr().to_string(), other_key)
        .expect("writes");
    let old = Redirector::start();
    wary.remember(&old.addr().to_string(), old.fingerprint())
        .expect("writes");
    let (mut cy, mut cy_on_old) = old.client("cy", ClientId(901), &wary_hosts);
    cy.send(&format!("/join {meeting}"));
    cy_on_old.let_in(&meeting, ClientId(901));
    cy.expect_event("joined");
    cy_on_old.hand_over(&meeting, heir.addr(), heir.fingerprint(), "ticket-for-cy");
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
    assert!(message.contains("The meeting ends here"), "{message}");
    assert!(cy.wait_exit().success(), "ends as for a shutdown");
    assert!(
        !cy.history.iter().any(|e| e["event"] == "moved"),
        "{:?}",
        cy.history
    );
}
