//! What people probing the server the way an attacker would found, each
//! reproduced here with the real server on loopback: one member flooding a
//! meeting, a stranger holding a connection open one byte at a time, one
//! address taking every slot, a crowd connecting at once, and names that pass
//! for someone else's. Each test failed before its fix.

use common::protocol::PROTOCOL_VERSION;
use common::{Event, Frame, Request};
use integration_tests::{ClientProcess, DEADLINE, RawPeer, ServerProcess};
use socket2::{Domain, Type};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

fn still_chatting(a: &mut ClientProcess, b: &mut ClientProcess, text: &str) {
    a.send(text);
    let chat = b.expect("the chat line", |e| {
        e["event"] == "chat" && e["text"] == text
    });
    assert_eq!(chat["from"], a.name);
}

#[test]
fn a_chat_flood_in_one_write_disconnects_no_honest_member() {
    let server = ServerProcess::start();
    let (mut a, mut b) = (
        ClientProcess::start(&server, "a"),
        ClientProcess::start(&server, "b"),
    );
    let meeting = a.create();
    b.join(&meeting);
    let (mut flooder, _, _) = RawPeer::hello(server.addr(), "flooder");
    flooder.request(&Request::Join {
        meeting: meeting.clone(),
        passcode: None,
    });
    flooder.expect("joined", |e| matches!(e, Event::Joined { .. }));

    // 2,000 chat messages, 78 KiB, in one write.
    let mut burst = Vec::new();
    for n in 0..2000 {
        burst.extend_from_slice(
            Frame::control(&Request::Chat {
                text: format!("{n:04}"),
            })
            .as_bytes(),
        );
    }
    flooder.send_bytes(&burst);

    // The flooder is told to slow down; the others are still in the meeting.
    flooder.expect(
        "a rate-limit error",
        |e| matches!(e, Event::Error { message } if message.contains("too many requests")),
    );
    still_chatting(&mut a, &mut b, "we are still here");
    still_chatting(&mut b, &mut a, "so are we");
    for member in [&a, &b] {
        assert!(
            !member.history.iter().any(|e| e["event"] == "disconnected"),
            "{} was disconnected",
            member.name
        );
    }
}

/// Makes `tcp` a connection the way `server` speaks: TLS pinned to its key,
/// or plain.
fn secure(server: &ServerProcess, tcp: TcpStream) -> Option<transport::Socket> {
    match server.fingerprint() {
        Some(key) => {
            let deadline = Instant::now() + DEADLINE;
            transport::connect(tcp, "127.0.0.1", Some(key), deadline)
                .ok()
                .map(|(socket, _)| socket)
        }
        None => Some(transport::Socket::plain(tcp)),
    }
}

#[test]
fn a_tls_handshake_trickled_a_byte_at_a_time_is_cut_at_the_deadline() {
    let server = ServerProcess::start_with(&["--handshake-timeout", "2s"]);
    let mut stream = TcpStream::connect(server.addr()).expect("connects");
    let started = Instant::now();
    // The start of a TLS record (a handshake), then a byte every 400 ms:
    // the server takes it for TLS and waits no longer than its deadline.
    let record = [
        0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let mut cut_after = None;
    for byte in record.iter().cycle().take(100) {
        if stream.write_all(&[*byte]).is_err() {
            cut_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(400));
        if started.elapsed() > DEADLINE {
            break;
        }
    }
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let closed_after = cut_after.unwrap_or_else(|| started.elapsed());
    assert!(
        closed_after < Duration::from_secs(5),
        "the connection lived {closed_after:?} with a 2 s handshake deadline"
    );
}

#[test]
fn a_raw_protocol_peer_is_told_the_server_speaks_tls() {
    let server = ServerProcess::start();
    let mut stream = TcpStream::connect(server.addr()).expect("connects");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let hello = Frame::control(&Request::Hello {
        protocol: PROTOCOL_VERSION,
        name: "raw".into(),
    });
    stream.write_all(hello.as_bytes()).expect("writes");
    let mut reader = common::FrameReader::new(stream, &[common::FrameKind::Control]);
    match reader
        .read_frame()
        .ok()
        .flatten()
        .map(|f| f.parse_control::<Event>())
    {
        Some(Ok(Event::Error { message })) => assert!(message.contains("TLS"), "{message}"),
        other => panic!("expected an error saying the server speaks TLS, got {other:?}"),
    }
}

#[test]
fn a_handshake_trickled_a_byte_at_a_time_is_cut_at_the_deadline() {
    // The raw protocol's own deadline, on a server without TLS.
    let server = ServerProcess::start_with(&["--handshake-timeout", "2s", "--no-tls"]);
    let mut stream = TcpStream::connect(server.addr()).expect("connects");
    let started = Instant::now();
    let hello = Frame::control(&Request::Hello {
        protocol: PROTOCOL_VERSION,
        name: "slow".into(),
    });
    // One byte every 400 ms: each read is quick, the frame never completes in time.
    let mut cut_after = None;
    for byte in hello.as_bytes() {
        if stream.write_all(&[*byte]).is_err() {
            cut_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(400));
        if started.elapsed() > DEADLINE {
            break;
        }
    }
    // Whatever was written, the server has closed (or closes) the connection.
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let closed_after = cut_after.unwrap_or_else(|| started.elapsed());
    assert!(
        closed_after < Duration::from_secs(5),
        "the connection lived {closed_after:?} with a 2 s handshake deadline"
    );
    assert!(
        String::from_utf8_lossy(&answer).contains("within 2s"),
        "the server says why: {:?}",
        String::from_utf8_lossy(&answer)
    );
}

/// A TCP connection from `source` (an address of the loopback range).
fn connect_from(source: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(source, 0)).into())?;
    socket.connect_timeout(&server.into(), Duration::from_secs(5))?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(DEADLINE))?;
    Ok(stream)
}

/// Says hello on `stream`; the server's first answer.
fn hello(stream: &transport::Socket, name: &str) -> Option<Event> {
    let frame = Frame::control(&Request::Hello {
        protocol: PROTOCOL_VERSION,
        name: name.into(),
    });
    (&*stream).write_all(frame.as_bytes()).ok()?;
    let mut reader =
        common::FrameReader::new(stream.try_clone().ok()?, &[common::FrameKind::Control]);
    reader.read_frame().ok()??.parse_control().ok()
}

#[test]
fn one_address_cannot_take_every_slot() {
    let server = ServerProcess::start_with(&["--max-connections", "40"]);
    let attacker = Ipv4Addr::new(127, 0, 0, 1);
    let mut held = Vec::new();
    let mut refused = 0;
    for n in 0..60 {
        // A TLS server refuses past the limit by closing at once.
        let Some(stream) = connect_from(attacker, server.addr())
            .ok()
            .and_then(|tcp| secure(&server, tcp))
        else {
            refused += 1;
            continue;
        };
        match hello(&stream, &format!("bot{n}")) {
            Some(Event::Welcome { .. }) => held.push(stream),
            _ => refused += 1,
        }
    }
    assert_eq!(held.len(), 20, "half the server for one address");
    assert_eq!(refused, 40);

    // Someone else on the LAN still gets in, while the attacker holds on.
    let person = connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr())
        .ok()
        .and_then(|tcp| secure(&server, tcp))
        .expect("connects");
    assert!(
        matches!(hello(&person, "ana"), Some(Event::Welcome { .. })),
        "a person from another address was refused"
    );
}

#[test]
fn a_crowd_connecting_at_once_waits_for_no_syn_retry() {
    let server = ServerProcess::start_with(&["--max-per-address", "2000"]);
    let addr = server.addr();
    // 400 connections at the same moment, from 8 threads.
    let slowest: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(move || {
                    let mut streams = Vec::new();
                    let mut slowest = Duration::ZERO;
                    for _ in 0..50 {
                        let started = Instant::now();
                        let stream = TcpStream::connect(addr).expect("connects");
                        slowest = slowest.max(started.elapsed());
                        streams.push(stream);
                    }
                    slowest
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let slowest = slowest.into_iter().max().unwrap_or_default();
    // A SYN retry costs a whole second; a full backlog shows as one.
    assert!(
        slowest < Duration::from_millis(900),
        "a connection took {slowest:?}: the accept backlog overflowed"
    );
}

#[test]
fn two_members_of_one_name_are_told_apart_and_hidden_characters_are_refused() {
    let server = ServerProcess::start();
    let mut first = ClientProcess::start(&server, "ana");
    let meeting = first.create();
    let mut second = ClientProcess::start(&server, "ana");
    let joined = second.join(&meeting);
    let names: Vec<&str> = joined["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["ana", "ana (2)"]);
    second.send("it is me, ana");
    let chat = first.expect_event("chat");
    assert_eq!(
        chat["from"], "ana (2)",
        "a chat cannot pass for the other ana's"
    );

    let stream = TcpStream::connect(server.addr())
        .ok()
        .and_then(|tcp| secure(&server, tcp))
        .expect("connects");
    stream
        .tcp()
        .set_read_timeout(Some(DEADLINE))
        .expect("read timeout");
    match hello(&stream, "\u{202e}ana") {
        Some(Event::Error { message }) => assert!(message.contains("invisible"), "{message}"),
        other => panic!("a right-to-left override in a name was accepted: {other:?}"),
    }
}
