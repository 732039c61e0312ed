//! TLS over real loopback sockets: the handshake, trust by fingerprint, and a
//! connection shared by a reader and writers moving megabytes both ways.

use meeting_transport::{Fingerprint, ServerIdentity, Socket, TlsConnectError, Unsent, connect};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

/// A server identity in a temporary directory and a listener.
fn server() -> (tempfile::TempDir, Arc<ServerIdentity>, TcpListener) {
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = ServerIdentity::load_or_create(dir.path()).expect("identity");
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    (dir, Arc::new(identity), listener)
}

/// The client's side of a handshake, and the server's, still running.
type Pair = (
    Result<(Socket, Fingerprint), TlsConnectError>,
    std::thread::JoinHandle<std::io::Result<Socket>>,
);

/// Connects a client (expecting `expected`) and accepts it on the server.
fn pair(
    identity: &Arc<ServerIdentity>,
    listener: &TcpListener,
    expected: Option<Fingerprint>,
) -> Pair {
    let tcp = TcpStream::connect(listener.local_addr().expect("addr")).expect("connects");
    let (accepted, _) = listener.accept().expect("accepts");
    let identity = identity.clone();
    let server = std::thread::spawn(move || identity.accept(accepted, deadline()));
    (connect(tcp, "127.0.0.1", expected, deadline()), server)
}

#[test]
fn the_key_is_made_once_and_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = ServerIdentity::load_or_create(dir.path()).expect("made");
    let again = ServerIdentity::load_or_create(dir.path()).expect("loaded");
    assert!(first.created() && !again.created());
    assert_eq!(first.fingerprint(), again.fingerprint());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(first.path())
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
    }
}

#[test]
fn servers_starting_together_agree_on_one_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                ServerIdentity::load_or_create(&path).map(|i| i.fingerprint())
            })
        })
        .collect();
    let seen: Vec<Fingerprint> = starts
        .into_iter()
        .map(|s| s.join().expect("no panic").expect("identity"))
        .collect();
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}

#[test]
fn the_expected_key_connects_and_another_is_refused() {
    let (_dir, identity, listener) = server();
    let (client, server) = pair(&identity, &listener, Some(identity.fingerprint()));
    let (client, seen) = client.expect("the right key connects");
    assert_eq!(seen, identity.fingerprint());
    let server = server.join().expect("no panic").expect("server side");
    (&client).write_all(b"hello").expect("writes");
    let mut got = [0u8; 5];
    (&server).read_exact(&mut got).expect("reads");
    assert_eq!(&got, b"hello");

    let wrong = Fingerprint::of_certificate(b"some other server");
    let (client, server) = pair(&identity, &listener, Some(wrong));
    match client {
        Err(TlsConnectError::WrongKey { expected, seen }) => {
            assert_eq!(expected, wrong);
            assert_eq!(seen, identity.fingerprint());
        }
        other => panic!("expected a refusal, got {:?}", other.map(|(_, f)| f)),
    }
    assert!(
        server.join().expect("no panic").is_err(),
        "the server sees the handshake fail"
    );
}

#[test]
fn a_clean_close_reads_as_the_end_and_a_cut_one_as_an_error() {
    let (_dir, identity, listener) = server();
    let (client, server) = pair(&identity, &listener, None);
    let (client, _) = client.expect("connects");
    let server = server.join().expect("no panic").expect("server side");
    client.close_notify();
    let mut buf = [0u8; 16];
    assert_eq!((&server).read(&mut buf).expect("clean end"), 0);

    let (client, server) = pair(&identity, &listener, None);
    let (client, _) = client.expect("connects");
    let server = server.join().expect("no panic").expect("server side");
    client
        .shutdown(std::net::Shutdown::Both)
        .expect("shuts down");
    drop(client);
    assert!(
        (&server).read(&mut buf).is_err(),
        "a cut connection is not a clean end"
    );
}

/// Both directions at once, each with its own threads, as the server and
/// client use a connection: a writer blocked on a peer that is itself
/// writing must not stop this side's reader (or both would wait forever).
#[test]
fn readers_and_writers_share_a_connection_without_deadlock() {
    let (_dir, identity, listener) = server();
    let (client, server) = pair(&identity, &listener, None);
    let (client, _) = client.expect("connects");
    let server = server.join().expect("no panic").expect("server side");
    const FRAMES: usize = 200;
    const SIZE: usize = 60_000;
    let frame = |n: usize| -> Vec<u8> { (0..SIZE).map(|i| (i * 7 + n) as u8).collect() };
    let spawn_writer = |socket: Socket| {
        std::thread::spawn(move || {
            for n in 0..FRAMES {
                // Half the frames through try_send, as the server's fast path.
                if n % 2 == 0 {
                    socket.write_frames(0, &[frame(n)]).expect("writes");
                } else {
                    match socket.try_send(&frame(n)).expect("sends") {
                        Unsent::Nothing => {}
                        Unsent::Sealed(rest) => socket.write_frames(1, &[rest]).expect("rest"),
                        other => panic!("a TLS socket seals before sending: {other:?}"),
                    }
                }
            }
        })
    };
    let spawn_reader = |socket: Socket| {
        std::thread::spawn(move || {
            let mut got = vec![0u8; SIZE];
            for n in 0..FRAMES {
                (&socket).read_exact(&mut got).expect("reads");
                assert!(got == frame(n), "frame {n} arrived intact and in order");
            }
        })
    };
    let threads = [
        spawn_writer(client.try_clone().expect("clone")),
        spawn_writer(server.try_clone().expect("clone")),
        spawn_reader(client),
        spawn_reader(server),
    ];
    for thread in threads {
        thread.join().expect("no thread failed");
    }
}

#[test]
fn a_plain_socket_reports_what_it_could_not_send() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connects");
    let (_accepted, _) = listener.accept().expect("accepts");
    let socket = Socket::plain(client);
    let frame = vec![1u8; 1 << 20];
    // Nobody reads: sooner or later the socket takes part of a frame or none.
    let mut outcomes = Vec::new();
    for _ in 0..64 {
        let unsent = socket.try_send(&frame).expect("sends");
        let stop = unsent == Unsent::Frame;
        outcomes.push(unsent);
        if stop {
            break;
        }
    }
    assert_eq!(
        outcomes.last(),
        Some(&Unsent::Frame),
        "{} sends",
        outcomes.len()
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Unsent::Nothing | Unsent::FrameFrom(_) | Unsent::Frame))
    );
}

/// A TLS connection on loopback: the server's end and the client's.
fn tls_pair() -> (tempfile::TempDir, Socket, Socket) {
    let (dir, identity, listener) = server();
    let (client, server) = pair(&identity, &listener, None);
    let (client, _) = client.expect("client handshake");
    let server = server.join().expect("no panic").expect("server handshake");
    (dir, server, client)
}

/// 200 Opus-sized frames, each telling its number.
fn small_frames() -> Vec<Vec<u8>> {
    (0u8..200).map(|n| vec![n; 85]).collect()
}

#[test]
fn a_batch_of_small_frames_is_sealed_into_few_records() {
    let (_dir, server, client) = tls_pair();
    let frames = small_frames();
    server.write_frames(0, &frames).expect("writes");
    server
        .shutdown(std::net::Shutdown::Write)
        .expect("shuts down");
    // Read what went over the wire, still sealed, and count its records.
    let mut wire = Vec::new();
    client.tcp().read_to_end(&mut wire).expect("reads");
    let (mut records, mut at) = (0, 0);
    while at + 5 <= wire.len() {
        records += 1;
        at += 5 + usize::from(u16::from_be_bytes([wire[at + 3], wire[at + 4]]));
    }
    assert_eq!(at, wire.len(), "whole records");
    // 17,000 bytes in chunks of 64 frames: one record per chunk, not
    // one per frame (200 before).
    assert!(records <= 4, "{records} records for 200 frames");
}

#[test]
fn frames_sealed_together_arrive_whole_and_in_order() {
    let (_dir, server, mut client) = tls_pair();
    let frames = small_frames();
    server.write_frames(0, &frames[..3]).expect("writes");
    server.write_frames(0, &frames[3..]).expect("writes");
    let mut got = vec![0u8; frames.len() * 85];
    client.read_exact(&mut got).expect("reads");
    assert_eq!(got, frames.concat());
}
