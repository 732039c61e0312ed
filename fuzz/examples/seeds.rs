//! Writes the seed corpus: a few valid inputs per fuzz target, so the
//! fuzzers start from messages, frames and screen bodies the product really
//! makes instead of discovering the formats byte by byte.
//!
//! ```text
//! cd fuzz && cargo run --example seeds
//! ```
//!
//! Deterministic: run again, it writes the same files (the names are the
//! content's description, not a hash), so `git status` shows whether a
//! product change altered a format.

use common::{
    ClientId, Event, Frame, InputEvent, MediaHeader, MediaKind, MeetingId, MeetingSummary,
    MemberInfo, MemberRef, PerKind, Request, ServerStatsReport,
};
use image::{Rgb, RgbImage};
use meeting_screen::codec::{EncoderConfig, ScreenEncoder, TileEncoding};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus folder");
    dir
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let path = corpus(target).join(name);
    std::fs::write(&path, bytes).expect("seed written");
    println!("{:>6} B  {}", bytes.len(), path.display());
}

fn meeting() -> MeetingId {
    MeetingId::parse("k7m-q2x").expect("valid id")
}

fn member(id: u32, name: &str) -> MemberRef {
    MemberRef {
        id: ClientId(id),
        name: name.into(),
    }
}

fn info(id: u32, name: &str, host: bool, video: bool) -> MemberInfo {
    let mut sharing = PerKind::splat(false);
    sharing[MediaKind::Video] = video;
    MemberInfo {
        id: ClientId(id),
        name: name.into(),
        host,
        hand: false,
        sharing,
    }
}

fn requests() -> Vec<(&'static str, Request)> {
    vec![
        (
            "hello",
            Request::Hello {
                protocol: 1,
                name: "ana".into(),
                returning: None,
            },
        ),
        (
            "attach",
            Request::Attach {
                kind: MediaKind::Screen,
                id: ClientId(7),
                token: "00112233445566778899aabbccddeeff".into(),
            },
        ),
        (
            "create_private",
            Request::Create {
                passcode: Some("s3cret".into()),
            },
        ),
        (
            "join",
            Request::Join {
                meeting: "k7m-q2x".into(),
                passcode: None,
            },
        ),
        ("leave", Request::Leave),
        (
            "chat",
            Request::Chat {
                text: "hello, \u{e9}l\u{e8}ve \u{1f600}\n".into(),
            },
        ),
        (
            "media",
            Request::Media {
                kind: MediaKind::Audio,
                on: true,
            },
        ),
        (
            "keyframe",
            Request::Keyframe {
                member: ClientId(3),
                kind: MediaKind::Screen,
            },
        ),
        (
            "control_grant",
            Request::ControlGrant {
                controller: ClientId(4),
            },
        ),
        (
            "input",
            Request::Input {
                events: vec![
                    InputEvent::Pointer { x: 10, y: 20 },
                    InputEvent::Button {
                        button: 1,
                        down: true,
                    },
                    InputEvent::Key {
                        keysym: 0xff0d,
                        down: false,
                    },
                ],
            },
        ),
        ("passcode_none", Request::Passcode { passcode: None }),
        (
            "block_all",
            Request::Block {
                member: None,
                kind: MediaKind::Video,
            },
        ),
        (
            "allow",
            Request::Allow {
                member: ClientId(5),
                kind: Some(MediaKind::Audio),
            },
        ),
        ("server_stats", Request::ServerStats),
    ]
}

fn events() -> Vec<(&'static str, Event)> {
    let mut stats = ServerStatsReport {
        uptime_s: 3600,
        connections: 9,
        connections_total: 12,
        clients: 3,
        meetings: 1,
        ..ServerStatsReport::default()
    };
    stats.media[MediaKind::Video].frames_in = 1 << 40;
    vec![
        (
            "welcome",
            Event::Welcome {
                protocol: 1,
                id: ClientId(1),
                name: "me".into(),
                token: "00112233445566778899aabbccddeeff".into(),
            },
        ),
        (
            "joined",
            Event::Joined {
                meeting: meeting(),
                members: vec![info(2, "ana", true, true), info(1, "me", false, false)],
            },
        ),
        (
            "member_joined",
            Event::MemberJoined {
                meeting: meeting(),
                member: info(3, "bo", false, false),
            },
        ),
        (
            "chat_hostile",
            Event::Chat {
                meeting: meeting(),
                from: "ev\u{1b}]0;x\u{7}il".into(),
                from_id: ClientId(3),
                text: "a\u{9b}31m\u{202e}txt.exe\u{2066}\r\nserver: fake".into(),
                seq: 0,
            },
        ),
        (
            "meetings",
            Event::Meetings {
                meetings: vec![MeetingSummary {
                    id: meeting(),
                    host: "ana".into(),
                    host_id: ClientId(2),
                    members: 2,
                    private: false,
                    locked: true,
                    server: None,
                }],
                total: 1,
            },
        ),
        (
            "media",
            Event::Media {
                meeting: meeting(),
                member: member(3, "bo"),
                kind: MediaKind::Screen,
                on: true,
            },
        ),
        (
            "control_granted",
            Event::ControlGranted {
                meeting: meeting(),
                owner: member(1, "me"),
                controller: member(3, "bo"),
            },
        ),
        (
            "input",
            Event::Input {
                from: ClientId(3),
                events: vec![InputEvent::Pointer { x: 1, y: 2 }],
            },
        ),
        (
            "privacy",
            Event::Privacy {
                meeting: meeting(),
                private: true,
                passcode: None,
            },
        ),
        (
            "locked",
            Event::Locked {
                meeting: meeting(),
                locked: true,
                by: member(2, "ana"),
            },
        ),
        (
            "blocked",
            Event::Blocked {
                meeting: meeting(),
                member: member(1, "me"),
                kind: MediaKind::Audio,
                blocked: true,
            },
        ),
        (
            "removed",
            Event::Removed {
                meeting: meeting(),
                by: member(2, "ana"),
            },
        ),
        (
            "error",
            Event::Error {
                message: "meeting is locked".into(),
            },
        ),
        ("server_stats", Event::ServerStats(Box::new(stats))),
    ]
}

fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialises")
}

/// A 128x96 test screen: white, a block of black-on-white "text" (few
/// colours: palette tiles), and a noisy photograph two tiles wide (JPEG
/// tiles, the second sharing the first's tables; refined later as
/// deflate-rgb). `scroll` moves the text up by whole tiles.
fn screen(scroll: u32) -> RgbImage {
    RgbImage::from_fn(128, 96, |x, y| {
        if x < 64 {
            let line = (y + scroll) % 96;
            // Every row of text different, so scrolling finds where it went.
            let mix = (x ^ (line << 8)).wrapping_mul(0x9E37_79B1).rotate_left(13);
            let ink = line % 8 < 6 && mix % 3 == 0;
            let colour = if ink {
                [0, 0, 0]
            } else if line >= 64 {
                [255, 255, 0]
            } else {
                [255, 255, 255]
            };
            Rgb(colour)
        } else if y < 32 {
            let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) % 23;
            Rgb([
                (x * 3 + noise) as u8,
                (y * 5 + noise * 2) as u8,
                ((x + y) * 2) as u8,
            ])
        } else {
            Rgb([230, 230, 240])
        }
    })
}

fn screen_bodies() -> Vec<Vec<u8>> {
    let config = EncoderConfig {
        tile_size: 32,
        keyframe_interval: None,
        refine_after: Duration::from_millis(100),
        ..EncoderConfig::default()
    };
    let mut encoder = ScreenEncoder::new(config);
    let start = Instant::now();
    let mut bodies = Vec::new();
    let mut seen = [0usize; 6];
    for (step, (scroll, after_ms)) in [(0, 0), (32, 50), (32, 1000)].into_iter().enumerate() {
        let picture = screen(scroll);
        let body = encoder
            .encode(&picture, start + Duration::from_millis(after_ms))
            .expect("within limits")
            .expect("something changed");
        let stats = encoder.last_stats();
        let used: Vec<String> = TileEncoding::ALL
            .iter()
            .filter(|e| stats.encoding(**e).tiles > 0)
            .map(|e| {
                seen[e.index()] += 1;
                format!("{} x{}", e.name(), stats.encoding(*e).tiles)
            })
            .collect();
        println!("screen body {step}: {} B, {}", body.len(), used.join(", "));
        bodies.push(body);
    }
    for encoding in TileEncoding::ALL {
        if seen[encoding.index()] == 0 && encoding != TileEncoding::Solid {
            println!("note: no {} tile in the screen seeds", encoding.name());
        }
    }
    bodies
}

/// Bodies as the `screen_body` target reads them: each after a u32 length.
fn sequence(bodies: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for body in bodies {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
    }
    out
}

fn main() {
    for (name, request) in requests() {
        write(
            "control_message",
            &format!("request_{name}.json"),
            &json(&request),
        );
    }
    for (name, event) in events() {
        write(
            "control_message",
            &format!("event_{name}.json"),
            &json(&event),
        );
        write("client_events", &format!("{name}.json"), &json(&event));
    }
    // A session as the client sees it: several events in one input.
    let session: Vec<Event> = vec![
        Event::Joined {
            meeting: meeting(),
            members: vec![info(2, "ana", true, false), info(1, "me", false, false)],
        },
        Event::MemberJoined {
            meeting: meeting(),
            member: info(3, "bo", false, false),
        },
        Event::Media {
            meeting: meeting(),
            member: member(3, "bo"),
            kind: MediaKind::Video,
            on: true,
        },
        Event::ControlRequested {
            meeting: meeting(),
            owner: member(1, "me"),
            controller: member(3, "bo"),
        },
        Event::Chat {
            meeting: meeting(),
            from: "bo".into(),
            from_id: ClientId(3),
            text: "hi".into(),
            seq: 7,
        },
        Event::MemberLeft {
            meeting: meeting(),
            member: member(2, "ana"),
        },
        Event::HostChanged {
            meeting: meeting(),
            host: member(1, "me"),
        },
        Event::Input {
            from: ClientId(2),
            events: vec![],
        },
        Event::Left { meeting: meeting() },
    ];
    let stream: Vec<u8> = session
        .iter()
        .flat_map(|e| [json(e), b"\n".to_vec()].concat())
        .collect();
    write("client_events", "session.jsonl", &stream);

    let header = MediaHeader {
        sender: ClientId(7),
        sequence: 41,
        timestamp_us: 1_700_000_000_123_456,
    };
    write("media_header", "header_only", &header.encode());
    write(
        "media_header",
        "header_and_body",
        &[&header.encode()[..], b"\xff\xd8jpeg"].concat(),
    );
    write("media_header", "short", &header.encode()[..15]);

    let bodies = screen_bodies();
    write("screen_body", "keyframe", &sequence(&[&bodies[0]]));
    write(
        "screen_body",
        "keyframe_then_scroll",
        &sequence(&[&bodies[0], &bodies[1]]),
    );
    write(
        "screen_body",
        "keyframe_then_refine",
        &sequence(&[&bodies[0], &bodies[2]]),
    );
    // One white pixel, hand-made: the smallest keyframe (docs/SCREEN.md).
    let pixel = [
        1, 0x03, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 255, 255, 255,
    ];
    write("screen_body", "one_pixel", &sequence(&[&pixel]));

    let hello = Frame::control(&Request::Hello {
        protocol: 1,
        name: "ana".into(),
        returning: None,
    });
    let chat = Frame::control(&Request::Chat { text: "hi".into() });
    let audio = Frame::media(MediaKind::Audio, header, &[0u8; 64]);
    let video = Frame::media(MediaKind::Video, header, b"\xff\xd8\xff\xd9");
    let screen = Frame::media(MediaKind::Screen, header, &pixel);
    write("frame_reader", "hello", hello.as_bytes());
    write("frame_reader", "audio", audio.as_bytes());
    write("frame_reader", "screen", screen.as_bytes());
    let stream: Vec<u8> = [&hello, &chat, &video, &audio, &screen]
        .iter()
        .flat_map(|f| f.as_bytes().to_vec())
        .collect();
    write("frame_reader", "stream", &stream);
}
