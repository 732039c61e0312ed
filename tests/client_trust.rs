//! What the client trusts, tested the way an attacker would probe it.
//!
//! - A rogue server (a few lines of protocol in this file, not the real
//!   server) fills every string it sends with terminal control sequences: the
//!   real `client` must show all of it, on stdout, stderr and in the files
//!   `--record` writes, without one raw ESC, BEL, C1 control or bidi override.
//! - `--record` must not keep a WAV file open for every member it ever heard.
//! - A media socket the server closes must come back by itself.

use common::protocol::{AUDIO_FRAME_SAMPLES, CONTROL_FRAME_TYPE, PROTOCOL_VERSION};
use common::{
    ClientId, Event, Frame, FrameKind, FrameReader, MediaHeader, MediaKind, MeetingId,
    MeetingSummary, MemberInfo, MemberRef, PerKind, Request,
};
use integration_tests::{
    ClientProcess, DEADLINE, RawPeer, ServerProcess, binary, read_wav, received_from, run_within,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Everything a terminal obeys or hides: a window-title OSC ending in BEL, a
/// screen clear, a C1 CSI (U+009B), a bidi override and isolate, invisible
/// characters, and a line break that forges a line of its own.
const HOSTILE: &str =
    "ana\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}txt.exe\u{2066}\u{200b}\r\nserver: fake";

/// The characters the client must never pass on from the network.
fn steers_a_terminal(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00..=0x08 | 0x0b..=0x1f | 0x7f..=0x9f | 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069
    )
}

/// Panics, showing where, if `text` holds anything that steers a terminal.
fn assert_no_control(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (number, line) in text.lines().enumerate() {
        let bad: Vec<String> = line
            .chars()
            .filter(|&c| steers_a_terminal(c))
            .map(|c| format!("U+{:04X}", u32::from(c)))
            .collect();
        assert!(
            bad.is_empty(),
            "{what}, line {}: {bad:?} in {line:?}",
            number + 1
        );
    }
    assert!(!bytes.contains(&0x1b), "{what}: a raw ESC byte");
    assert!(!bytes.contains(&0x07), "{what}: a raw BEL byte");
}

/// The session a rogue server holds with one client: its control socket and
/// one attached socket per media kind.
struct RogueSession {
    control: TcpStream,
    media: Vec<(MediaKind, TcpStream)>,
}

impl RogueSession {
    fn send(&mut self, event: &Event) -> anyhow::Result<()> {
        self.control
            .write_all(Frame::control(event).as_bytes())
            .map_err(Into::into)
    }

    fn media_socket(&mut self, kind: MediaKind) -> &mut TcpStream {
        let (_, socket) = self
            .media
            .iter_mut()
            .find(|(k, _)| *k == kind)
            .expect("every kind attached");
        socket
    }
}

/// A fake server on loopback: answers `hello` (with `welcome`, or with an
/// `error` to refuse), accepts an `attach` for every media kind, then plays a
/// script on the session and keeps it open until the client hangs up.
struct RogueServer {
    addr: SocketAddr,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

type Script = Box<dyn FnOnce(&mut RogueSession) -> anyhow::Result<()> + Send>;

impl RogueServer {
    /// Welcomes the client as `name` (id 7), then runs `script`.
    fn start(name: &str, script: Script) -> RogueServer {
        RogueServer::spawn(name.to_string(), Some(script))
    }

    /// Refuses the client's `hello` with `message`.
    fn refusing(message: &str) -> RogueServer {
        RogueServer::spawn(message.to_string(), None)
    }

    fn spawn(text: String, script: Option<Script>) -> RogueServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("address");
        let thread = std::thread::spawn(move || RogueServer::serve(&listener, &text, script));
        RogueServer {
            addr,
            thread: Some(thread),
        }
    }

    fn accept(listener: &TcpListener) -> anyhow::Result<(TcpStream, Request)> {
        listener.set_nonblocking(true)?;
        let end = Instant::now() + DEADLINE;
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                    anyhow::ensure!(Instant::now() < end, "no client connected");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(err) => return Err(err.into()),
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(DEADLINE))?;
        let mut reader = FrameReader::new(stream.try_clone()?, &[FrameKind::Control]);
        let request = reader
            .read_frame()?
            .ok_or_else(|| anyhow::anyhow!("closed before its first request"))?
            .parse_control::<Request>()?;
        Ok((stream, request))
    }

    fn serve(listener: &TcpListener, text: &str, script: Option<Script>) -> anyhow::Result<()> {
        let (mut control, hello) = RogueServer::accept(listener)?;
        anyhow::ensure!(matches!(hello, Request::Hello { .. }), "expected hello");
        let Some(script) = script else {
            control.write_all(
                Frame::control(&Event::Error {
                    message: text.to_string(),
                })
                .as_bytes(),
            )?;
            return wait_for_hang_up(&mut control);
        };
        let welcome = Event::Welcome {
            protocol: PROTOCOL_VERSION,
            id: ClientId(7),
            name: text.to_string(),
            token: "0".repeat(32),
        };
        control.write_all(Frame::control(&welcome).as_bytes())?;
        let mut media = Vec::new();
        for _ in MediaKind::ALL {
            let (mut socket, attach) = RogueServer::accept(listener)?;
            let Request::Attach { kind, .. } = attach else {
                anyhow::bail!("expected attach, got {attach:?}");
            };
            socket.write_all(Frame::control(&Event::Attached { kind }).as_bytes())?;
            media.push((kind, socket));
        }
        let mut session = RogueSession { control, media };
        script(&mut session)?;
        wait_for_hang_up(&mut session.control)
    }

    /// What the server thread met; an error fails the test.
    fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(result) => result.expect("the rogue server played its script"),
                Err(_) => panic!("the rogue server panicked"),
            }
        }
    }
}

impl Drop for RogueServer {
    fn drop(&mut self) {
        // Every wait in the thread has a deadline, so this join ends.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads until the client closes its side (or the deadline passes).
fn wait_for_hang_up(stream: &mut TcpStream) -> anyhow::Result<()> {
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

/// A control frame whose JSON names an event that does not exist: the
/// client's parse error quotes it, and the client ends the session.
fn unreadable_frame(text: &str) -> Vec<u8> {
    let payload = serde_json::json!({ "event": text }).to_string();
    let mut bytes = vec![CONTROL_FRAME_TYPE];
    bytes.extend_from_slice(&u32::try_from(payload.len()).expect("small").to_be_bytes());
    bytes.extend_from_slice(payload.as_bytes());
    bytes
}

fn hostile_meeting() -> MeetingId {
    serde_json::from_value(serde_json::json!(HOSTILE)).expect("any string is a meeting id")
}

/// Every event a server sends with a string in it, each string hostile,
/// then one frame the client cannot read (its error quotes the string).
fn hostile_script() -> Script {
    Box::new(|session: &mut RogueSession| {
        let meeting = hostile_meeting();
        let me = MemberRef {
            id: ClientId(7),
            name: HOSTILE.into(),
        };
        let evil = MemberRef {
            id: ClientId(8),
            name: HOSTILE.into(),
        };
        let member = |r: &MemberRef, host| MemberInfo {
            id: r.id,
            name: r.name.clone(),
            host,
            hand: false,
            sharing: PerKind::splat(true),
        };
        let chat = Event::Chat {
            seq: 0,
            meeting: meeting.clone(),
            from: HOSTILE.into(),
            from_id: ClientId(8),
            text: HOSTILE.into(),
        };
        let events = [
            Event::Created {
                meeting: meeting.clone(),
                passcode: Some(HOSTILE.into()),
            },
            Event::Joined {
                meeting: meeting.clone(),
                members: vec![member(&me, false), member(&evil, true)],
            },
            Event::MemberJoined {
                meeting: meeting.clone(),
                member: member(&evil, false),
            },
            chat.clone(),
            Event::Media {
                meeting: meeting.clone(),
                member: evil.clone(),
                kind: MediaKind::Video,
                on: true,
            },
            Event::HostChanged {
                meeting: meeting.clone(),
                host: evil.clone(),
            },
            Event::ControlRequested {
                meeting: meeting.clone(),
                owner: me.clone(),
                controller: evil.clone(),
            },
            Event::ControlGranted {
                meeting: meeting.clone(),
                owner: evil.clone(),
                controller: me.clone(),
            },
            Event::ControlRevoked {
                meeting: meeting.clone(),
                owner: evil.clone(),
                controller: me.clone(),
            },
            Event::Members {
                meeting: meeting.clone(),
                members: vec![member(&me, false), member(&evil, true)],
            },
            Event::Meetings {
                meetings: vec![MeetingSummary {
                    id: meeting.clone(),
                    host: HOSTILE.into(),
                    host_id: ClientId(8),
                    members: 2,
                    private: false,
                    locked: false,
                    server: None,
                }],
                total: 1,
            },
            Event::Error {
                message: HOSTILE.into(),
            },
            Event::MemberLeft {
                meeting: meeting.clone(),
                member: evil.clone(),
            },
            Event::Left {
                meeting: meeting.clone(),
            },
            Event::Ended {
                meeting: meeting.clone(),
            },
            chat,
        ];
        for event in &events {
            session.send(event)?;
        }
        // Media sockets carry control events too, and media the recorder
        // names files after: only the numeric sender id may reach a path.
        session.media_socket(MediaKind::Video).write_all(
            Frame::control(&Event::Error {
                message: HOSTILE.into(),
            })
            .as_bytes(),
        )?;
        let header = MediaHeader {
            sender: ClientId(u32::MAX),
            sequence: 1,
            timestamp_us: 0,
        };
        session
            .media_socket(MediaKind::Audio)
            .write_all(Frame::media(MediaKind::Audio, header, &[1u8; 1920]).as_bytes())?;
        session
            .media_socket(MediaKind::Video)
            .write_all(Frame::media(MediaKind::Video, header, b"not a jpeg").as_bytes())?;
        // Let the media arrive before the session ends over the bad frame.
        std::thread::sleep(Duration::from_millis(300));
        session.control.write_all(&unreadable_frame(HOSTILE))?;
        Ok(())
    })
}

/// Runs the real client (`binary`, built before the rogue server starts
/// waiting for it) against `server` until it exits on its own.
fn run_client(binary: &Path, server: &RogueServer, args: &[&str]) -> Output {
    let mut command = Command::new(binary);
    command
        .arg(server.addr.to_string())
        // The rogue server speaks the raw protocol.
        .args(["--name", "probe", "--no-tls"])
        .args(args);
    // stdin stays open: the client must end because of the server.
    let ran = run_within(&mut command, None, DEADLINE);
    Output {
        status: ran
            .status
            .expect("the client ends when the server breaks the session"),
        stdout: ran.stdout,
        stderr: ran.stderr,
    }
}

/// Every path under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(folder) = todo.pop() {
        for entry in std::fs::read_dir(&folder).expect("readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if let Ok(relative) = path.strip_prefix(dir) {
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_rogue_server_cannot_drive_the_terminal_or_the_recording() {
    let client = binary("client");
    let server = RogueServer::start(HOSTILE, hostile_script());
    let work = tempfile::tempdir().expect("temp dir");
    let record = work.path().join("rec");
    let record_arg = record.to_string_lossy().into_owned();
    let output = run_client(&client, &server, &["--plain", "--record", &record_arg]);
    server.finish();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Everything arrived and was shown: the names, the ids, the messages.
    assert!(
        stdout.matches("pwned").count() >= 15,
        "the hostile strings are shown, cleaned:\n{stdout}"
    );
    assert!(stdout.contains("disconnected"), "{stdout}");
    assert_no_control("stdout", &output.stdout);
    assert_no_control("stderr", &output.stderr);
    assert!(
        !stdout.lines().any(|line| line.starts_with("server: fake")),
        "a line break in a name cannot forge a line:\n{stdout}"
    );

    let record = integration_tests::recording(&record);
    let chat_log = std::fs::read(record.join("chat.log")).expect("chat.log written");
    assert_no_control("chat.log", &chat_log);
    let chat_log = String::from_utf8_lossy(&chat_log);
    assert_eq!(
        chat_log.lines().count(),
        2,
        "two messages, two lines:\n{chat_log}"
    );
    assert!(chat_log.contains("pwned"), "{chat_log}");
    // File names come from numeric ids only.
    let files = files_under(&record);
    let expected = [
        "audio/4294967295.wav",
        "chat.log",
        "meeting.mkv",
        "video/4294967295/00000001.jpg",
        "video/4294967295/times.csv",
    ];
    assert_eq!(files, expected, "what --record wrote");
    // When each picture was captured and shown: numbers only.
    let times = std::fs::read(record.join("video/4294967295/times.csv")).expect("times.csv");
    assert_no_control("times.csv", &times);
    // What players show of meeting.mkv: its track names and the chat.
    if integration_tests::ffprobe_available() {
        let mkv = record.join("meeting.mkv");
        let probed = integration_tests::ffprobe(&mkv);
        let titles: Vec<&str> = probed["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .filter_map(|stream| stream["tags"]["title"].as_str())
            .collect();
        assert!(titles.len() >= 2, "the mix and a video track: {probed}");
        assert_no_control("meeting.mkv's track names", titles.join("\n").as_bytes());
        let subtitles = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&mkv)
            .args(["-map", "0:s", "-f", "srt", "-"])
            .output()
            .expect("ffmpeg runs");
        let shown = String::from_utf8_lossy(&subtitles.stdout);
        assert!(
            shown.contains("pwned"),
            "the chat is there, cleaned: {shown}"
        );
        assert_no_control("meeting.mkv's chat", shown.as_bytes());
    }
}

#[test]
fn json_output_stays_exact_json_without_a_raw_escape() {
    let client = binary("client");
    let server = RogueServer::start(HOSTILE, hostile_script());
    let output = run_client(&client, &server, &["--json"]);
    server.finish();
    assert_no_control("--json stdout", &output.stdout);
    assert_no_control("stderr", &output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    // JSON keeps the exact strings (escaped): scripts see what was sent.
    let connected = events
        .iter()
        .find(|e| e["event"] == "connected")
        .expect("connected");
    assert_eq!(connected["name"], HOSTILE);
    let chat = events.iter().find(|e| e["event"] == "chat").expect("chat");
    assert_eq!(chat["text"], HOSTILE);
    assert_eq!(chat["meeting"], HOSTILE);
}

#[test]
fn a_refusal_is_reported_cleaned() {
    let client = binary("client");
    let server = RogueServer::refusing(HOSTILE);
    let output = run_client(&client, &server, &["--plain"]);
    server.finish();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("pwned"),
        "{stderr}"
    );
    assert_no_control("stderr", &output.stderr);
    assert_no_control("stdout", &output.stdout);
}

/// The WAV files `pid` holds open, from /proc/PID/fd.
fn wav_files_open(pid: u32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target.ends_with(".wav"))
        .collect()
}

#[test]
fn a_recording_client_closes_the_wav_files_of_members_who_left() {
    const MEMBERS: usize = 30;
    const FRAMES: u32 = 5;
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let record = work.path().join("rec");
    let record_arg = record.to_string_lossy().into_owned();
    let mut recorder = ClientProcess::start_with(&server, "recorder", &["--record", &record_arg]);
    let record = integration_tests::recording(&record);
    let meeting = recorder.create();
    let pcm: Vec<u8> = (0..AUDIO_FRAME_SAMPLES)
        .flat_map(|i| ((i as i16 % 100) * 50).to_le_bytes())
        .collect();
    let mut most_open = 0;
    let mut ids = Vec::new();
    for n in 0..MEMBERS {
        // A member comes, says a few frames, and goes.
        let (mut control, id, token) = RawPeer::hello(server.addr(), &format!("guest{n}"));
        control.request(&Request::Join {
            meeting: meeting.clone(),
            passcode: None,
        });
        control.expect("joined", |e| matches!(e, Event::Joined { .. }));
        let mut audio = RawPeer::attach(server.addr(), MediaKind::Audio, id, &token);
        control.request(&Request::Media {
            kind: MediaKind::Audio,
            on: true,
        });
        for sequence in 0..FRAMES {
            let header = MediaHeader {
                sender: ClientId(0),
                sequence,
                timestamp_us: u64::from(sequence) * 20_000,
            };
            audio.send_bytes(Frame::media(MediaKind::Audio, header, &pcm).as_bytes());
        }
        let member = u64::from(id.0);
        recorder.wait_stats("the member's audio", |s| {
            received_from(s, member, "audio") >= u64::from(FRAMES)
        });
        most_open = most_open.max(wav_files_open(recorder.pid()).len());
        // It leaves, then hangs up. (Hanging up with unread events resets
        // the connection, which the server holds for a reconnect instead.)
        control.request(&Request::Leave);
        drop(audio);
        drop(control);
        recorder.expect("the member leaving", |e| {
            e["event"] == "member_left" && e["member"]["id"] == member
        });
        ids.push(id);
    }
    let end = Instant::now() + DEADLINE;
    let mut open = wav_files_open(recorder.pid());
    while !open.is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        open = wav_files_open(recorder.pid());
    }
    eprintln!(
        "WAV files open: at most {most_open} while members came and went, {} after all {MEMBERS} left",
        open.len()
    );
    assert!(
        open.is_empty(),
        "{} WAV files still open after {MEMBERS} members left: {open:?}",
        open.len()
    );
    assert!(most_open <= 1, "{most_open} WAV files open at once");
    // Each finished file is whole: a valid header and every frame.
    for id in ids {
        let samples = read_wav(&record.join("audio").join(format!("{id}.wav")));
        assert_eq!(
            samples.len(),
            FRAMES as usize * AUDIO_FRAME_SAMPLES,
            "{id}.wav"
        );
    }
}

/// Whether `ss -K` can close sockets here (root and a kernel with
/// CONFIG_INET_DIAG_DESTROY); tested on a loopback pair of our own.
fn can_kill_sockets() -> bool {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
        return false;
    };
    let Ok(addr) = listener.local_addr() else {
        return false;
    };
    let Ok(client) = TcpStream::connect(addr) else {
        return false;
    };
    let Ok((_server_side, _)) = listener.accept() else {
        return false;
    };
    let Ok(local) = client.local_addr() else {
        return false;
    };
    if kill_server_side(addr, local.port()).is_err() {
        return false;
    }
    let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
    let mut byte = [0u8; 1];
    matches!((&client).read(&mut byte), Ok(0) | Err(_))
        && !matches!(
            (&client).read(&mut byte).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        )
}

/// Closes the server's end of the connection from `client_port` to `server`,
/// as the server does to a receiver that stopped reading: the client sees
/// its socket reset.
fn kill_server_side(server: SocketAddr, client_port: u16) -> anyhow::Result<()> {
    let output = Command::new("ss")
        .args(["-K", "-tnH", "state", "established"])
        .args(["src", &server.to_string()])
        .args(["dst", &format!("127.0.0.1:{client_port}")])
        .output()?;
    let killed = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success() && killed.lines().count() == 1,
        "ss -K closed {:?} ({})",
        killed,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The local ports of `pid`'s connections to `server`.
fn ports_to(pid: u32, server: SocketAddr) -> Vec<u16> {
    let output = Command::new("ss")
        .args(["-tnpH", "state", "established", "dst", &server.to_string()])
        .output()
        .expect("ss runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains(&format!("pid={pid},")))
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("127.0.0.1:"))
                .and_then(|port| port.parse().ok())
        })
        .collect()
}

/// `text` without its colours (ESC [ ... letter), as the server logs them.
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // Skip the `[`, the parameters and the final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// The local port of client `id`'s control connection, from the server's
/// `connected` log line.
fn control_port(server: &ServerProcess, id: u64) -> u16 {
    let log = without_colours(&server.stderr());
    log.lines()
        .filter(|line| line.contains("connected") && line.contains(&format!("client={id} ")))
        .find_map(|line| {
            let peer = line
                .split_whitespace()
                .find_map(|f| f.strip_prefix("peer="))?;
            peer.rsplit_once(':')?.1.parse().ok()
        })
        .unwrap_or_else(|| panic!("no `connected` line for client {id} in:\n{log}"))
}

/// Both share video and audio in one meeting, and each hears the other.
fn two_sharing_clients(server: &ServerProcess) -> (ClientProcess, ClientProcess) {
    let (_, [mut ana, mut bo]) = server.meeting(["ana", "bo"]);
    for client in [&mut ana, &mut bo] {
        client.send("/video on");
        client.expect("video on", |e| {
            e["event"] == "sharing" && e["kind"] == "video"
        });
        client.send("/audio on");
        client.expect("audio on", |e| {
            e["event"] == "sharing" && e["kind"] == "audio"
        });
    }
    let (ana_id, bo_id) = (ana.id, bo.id);
    ana.wait_stats("bo's media", |s| {
        received_from(s, bo_id, "video") > 0 && received_from(s, bo_id, "audio") > 0
    });
    bo.wait_stats("ana's media", |s| {
        received_from(s, ana_id, "video") > 0 && received_from(s, ana_id, "audio") > 0
    });
    (ana, bo)
}

/// Waits until `client` received `more` frames of both video and audio
/// from `from` beyond what `stats` counted.
fn wait_for_more_media(
    client: &mut ClientProcess,
    from: u64,
    stats: &serde_json::Value,
    more: u64,
) {
    let (video, audio) = (
        received_from(stats, from, "video"),
        received_from(stats, from, "audio"),
    );
    client.wait_stats("media flowing again", |s| {
        received_from(s, from, "video") >= video + more
            && received_from(s, from, "audio") >= audio + 5 * more
    });
}

#[test]
fn media_sockets_the_server_closed_attach_again_by_themselves() {
    if !can_kill_sockets() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`ss -K` cannot close sockets here; CI must run this test as root"
        );
        eprintln!("SKIPPED: `ss -K` cannot close sockets here (needs root and INET_DIAG_DESTROY)");
        return;
    }
    let server = ServerProcess::start();
    let (mut ana, mut bo) = two_sharing_clients(&server);
    let control = control_port(&server, ana.id);
    let media: Vec<u16> = ports_to(ana.pid(), server.addr())
        .into_iter()
        .filter(|port| *port != control)
        .collect();
    assert_eq!(media.len(), MediaKind::COUNT, "one socket per media kind");
    let ana_before = {
        ana.send("/stats");
        ana.expect_event("stats")
    };
    let bo_before = {
        bo.send("/stats");
        bo.expect_event("stats")
    };
    let lost_at = Instant::now();
    for port in media {
        kill_server_side(server.addr(), port).expect("the server's end closes");
    }
    // The first frames, then 2 s of video at 15 fps (and of audio) past the
    // moment the sockets broke: frames buffered before cannot make that up.
    wait_for_more_media(&mut ana, bo.id, &ana_before, 3);
    wait_for_more_media(&mut bo, ana.id, &bo_before, 3);
    let first_frames = lost_at.elapsed();
    wait_for_more_media(&mut ana, bo.id, &ana_before, 30);
    wait_for_more_media(&mut bo, ana.id, &bo_before, 30);
    let two_seconds = lost_at.elapsed();
    // The user was told, for every kind.
    for kind in MediaKind::ALL {
        let name = kind.name();
        let down = ana
            .history
            .iter()
            .any(|e| e["event"] == "media_down" && e["kind"] == name);
        let up = ana
            .history
            .iter()
            .find(|e| e["event"] == "media_up" && e["kind"] == name);
        assert!(down, "no media_down for {name}: {:?}", ana.history);
        let up = up.unwrap_or_else(|| panic!("no media_up for {name}: {:?}", ana.history));
        eprintln!("{name}: attached again after {} ms", up["down_ms"]);
    }
    eprintln!(
        "after the loss: media flowed both ways again within {first_frames:?}, \
         2 s of it had arrived both ways after {two_seconds:?}"
    );
    assert!(
        bo.history.iter().all(|e| e["event"] != "media_down"),
        "bo lost nothing"
    );
}

/// The real thing: a client stopped for longer than the server's write
/// timeout (30 s) gets its media back when it continues. Takes about 45 s,
/// so it runs with `--ignored`.
#[test]
#[ignore]
fn a_client_stopped_longer_than_the_write_timeout_gets_its_media_back() {
    let server = ServerProcess::start();
    let (mut ana, mut bo) = two_sharing_clients(&server);
    let pid = ana.pid().to_string();
    let signal = |name: &str| {
        let status = Command::new("kill")
            .args([name, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {name}");
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_secs(40));
    let resumed_at = Instant::now();
    signal("-CONT");
    // What the socket buffers held comes first; count from the new sockets on.
    for kind in ["video", "audio"] {
        ana.expect(&format!("{kind} attached again"), |e| {
            e["event"] == "media_up" && e["kind"] == kind
        });
    }
    let attached_again = resumed_at.elapsed();
    let (ana_before, bo_before) = (
        {
            ana.send("/stats");
            ana.expect_event("stats")
        },
        {
            bo.send("/stats");
            bo.expect_event("stats")
        },
    );
    wait_for_more_media(&mut ana, bo.id, &ana_before, 30);
    wait_for_more_media(&mut bo, ana.id, &bo_before, 30);
    eprintln!("attached again {attached_again:?} after the client continued");
    eprintln!(
        "2 s of media flowed both ways {:?} after the client continued",
        resumed_at.elapsed()
    );
}
