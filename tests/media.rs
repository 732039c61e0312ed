//! Video and audio end to end: what a sender shares arrives intact at every
//! other member of its meeting, and nowhere else.

use common::{ClientId, Frame, MediaHeader, MediaKind, VoiceLevel};
use integration_tests::{
    ClientProcess, RawPeer, ServerProcess, dominant_frequency, read_wav, write_jpeg, write_wav,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn received_from(stats: &Value, member: u64, kind: &str) -> (u64, u64) {
    stats["received"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["member"] == member))
        .map(|m| {
            (
                m[kind]["frames"].as_u64().unwrap_or(0),
                m[kind]["lost"].as_u64().unwrap_or(0),
            )
        })
        .unwrap_or((0, 0))
}

/// The pictures recorded in `dir` (beside them, `times.csv`).
fn recorded_frames(dir: &Path) -> Vec<(u32, Vec<u8>)> {
    let mut frames: Vec<(u32, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "jpg"))
        .map(|path| {
            let seq = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
                .expect("numbered file");
            (seq, std::fs::read(&path).expect("readable"))
        })
        .collect();
    frames.sort();
    frames
}

#[test]
fn video_frames_arrive_byte_identical_at_every_receiver_and_only_there() {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let pictures = work.path().join("pictures");
    std::fs::create_dir(&pictures).expect("mkdir");
    let sent: Vec<Vec<u8>> = (0..4u8)
        .map(|n| write_jpeg(&pictures.join(format!("{n}.jpg")), n * 50 + 3, 320, 180))
        .collect();

    let rec = |name: &str| work.path().join(name).to_string_lossy().into_owned();
    let (_, [mut sender, r1, r2]) = server.meeting_with([
        ("sender", &["--fps", "30"]),
        ("r1", &["--record", &rec("r1")]),
        ("r2", &["--record", &rec("r2")]),
    ]);
    let mut receivers = [r1, r2];
    let mut outsider =
        ClientProcess::start_with(&server, "outsider", &["--record", &rec("outsider")]);
    outsider.create();

    sender.send(&format!("/video on {}", pictures.display()));
    const FRAMES: u64 = 24;
    for r in &mut receivers {
        r.wait_stats("24 video frames", |s| {
            received_from(s, sender.id, "video").0 >= FRAMES
        });
    }
    sender.send("/video off");
    sender.sync();
    let outsider_stats = outsider.wait_stats("a stats answer", |_| true);
    assert_eq!(
        outsider_stats["received"],
        serde_json::json!([]),
        "media crossed meetings"
    );

    for r in receivers {
        let name = r.name.clone();
        let (status, _) = r.quit();
        assert!(status.success());
        let frames = recorded_frames(
            &integration_tests::recording(&work.path().join(&name))
                .join("video")
                .join(sender.id.to_string()),
        );
        assert!(
            frames.len() as u64 >= FRAMES,
            "{name} recorded {} frames",
            frames.len()
        );
        for (i, (seq, bytes)) in frames.iter().enumerate() {
            assert_eq!(
                *seq as usize, i,
                "{name}: frames missing before sequence {seq}"
            );
            assert!(
                bytes == &sent[i % sent.len()],
                "{name}: frame {seq} differs from the file sent"
            );
        }
    }
    assert!(!work.path().join("outsider").join("video").exists());
}

#[test]
fn audio_samples_arrive_intact() {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    // 0.37 s of a pseudo-random signal: not a whole number of 10 ms frames
    // (what clients send), so the loop point falls inside a frame.
    let mut state = 12345u32;
    let source: Vec<i16> = (0..17_760)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as i16
        })
        .collect();
    let wav = work.path().join("speech.wav");
    write_wav(&wav, &source);

    let record = work.path().join("listener");
    let (_, [mut sender, mut listener]) = server.meeting_with([
        ("speaker", &[]),
        ("listener", &["--record", &record.to_string_lossy()]),
    ]);
    sender.send(&format!("/audio on {}", wav.display()));
    const FRAMES: u64 = 100; // one second of 10 ms frames
    const FRAME_SAMPLES: usize = 480;
    let stats = listener.wait_stats("a second of audio", |s| {
        received_from(s, sender.id, "audio").0 >= FRAMES
    });
    assert_eq!(
        received_from(&stats, sender.id, "audio").1,
        0,
        "audio frames lost"
    );
    let (status, _) = listener.quit();
    assert!(status.success());

    let record = integration_tests::recording(&record);
    let samples = read_wav(&record.join("audio").join(format!("{}.wav", sender.id)));
    assert!(
        samples.len() >= FRAMES as usize * FRAME_SAMPLES,
        "only {} samples recorded",
        samples.len()
    );
    assert_eq!(samples.len() % FRAME_SAMPLES, 0);
    for (i, &sample) in samples.iter().enumerate() {
        assert_eq!(sample, source[i % source.len()], "sample {i} differs");
    }
}

#[test]
fn test_pattern_moves_and_tones_keep_their_pitch() {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let record = work.path().join("rec");
    let (_, [mut a, mut b]) = server.meeting_with([
        ("a", &["--video-size", "320x180"]),
        ("b", &["--record", &record.to_string_lossy()]),
    ]);
    a.send("/video on test");
    a.send("/audio on tone:660");
    b.send("/audio on");
    b.wait_stats("video and audio", |s| {
        received_from(s, a.id, "video").0 >= 5 && received_from(s, a.id, "audio").0 >= 25
    });
    a.wait_stats("b's audio", |s| received_from(s, b.id, "audio").0 >= 25);
    // For the subtitle track of b's meeting.mkv.
    a.send("hello from a");
    b.expect_event("chat");
    let a_stats = a.wait_stats("a stats answer", |_| true);
    assert_eq!(
        received_from(&a_stats, a.id, "audio").0,
        0,
        "a sender never receives itself"
    );
    let (status, _) = b.quit();
    assert!(status.success());

    let record = integration_tests::recording(&record);
    let frames = recorded_frames(&record.join("video").join(a.id.to_string()));
    let decoded: Vec<image::RgbImage> = frames
        .iter()
        .take(3)
        .map(|(_, bytes)| {
            image::load_from_memory(bytes)
                .expect("a valid JPEG")
                .into_rgb8()
        })
        .collect();
    assert_eq!(decoded[0].dimensions(), (320, 180));
    assert!(
        decoded[0] != decoded[1] && decoded[1] != decoded[2],
        "the test pattern must move"
    );

    let samples = read_wav(&record.join("audio").join(format!("{}.wav", a.id)));
    assert_eq!(
        dominant_frequency(&samples, &[440.0, 550.0, 660.0, 880.0]),
        660.0
    );

    // The same meeting in one file any player opens: what b heard, a's
    // video named after a, and the chat.
    if integration_tests::ffprobe_available() {
        let probed = integration_tests::ffprobe(&record.join("meeting.mkv"));
        let streams: Vec<(&str, &str)> = probed["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .map(|s| {
                let codec = s["codec_name"].as_str().unwrap_or("?");
                (codec, s["tags"]["title"].as_str().unwrap_or(""))
            })
            .collect();
        assert_eq!(
            streams,
            [
                ("pcm_s16le", "what this member heard"),
                ("mjpeg", "a"),
                ("subrip", "chat")
            ],
            "{probed}"
        );
        assert_eq!(probed["streams"][1]["width"], 320);
        let seconds: f64 = probed["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0.0);
        assert!(seconds >= 1.0, "{probed}");
    }
}

fn sent(stats: &Value, kind: &str) -> u64 {
    stats[format!("sent_{kind}")]["frames"]
        .as_u64()
        .unwrap_or(0)
}

/// Frames a member sent while the receiver was not in a meeting with them
/// were never on their way to it: leaving and coming back, on either side,
/// counts no frame as lost on a loopback link.
#[test]
fn leaving_and_rejoining_counts_no_frame_as_lost() {
    let server = ServerProcess::start();
    // Someone who stays and watches (the watcher): with layers, a sender
    // encodes video only while somebody wants it.
    let (meeting, [mut sender, mut receiver, _watcher]) =
        server.meeting(["sender", "receiver", "watcher"]);
    sender.send("/video on");
    sender.send("/audio on");
    let sender_id = sender.id;
    let both = move |s: &Value, at_least: u64| {
        received_from(s, sender_id, "video").0 >= at_least
            && received_from(s, sender_id, "audio").0 >= at_least
    };
    receiver.wait_stats("video and audio", |s| both(s, 10));

    // The receiver leaves while the sender goes on sending (to nobody).
    receiver.send("/leave");
    receiver.expect_event("left");
    let before = sender.wait_stats("a stats answer", |_| true);
    sender.wait_stats("30 more frames sent", |s| {
        sent(s, "video") >= sent(&before, "video") + 30
    });
    receiver.join(&meeting);
    let got = receiver.wait_stats("frames again", |s| both(s, 40));
    for kind in ["video", "audio"] {
        assert_eq!(received_from(&got, sender_id, kind).1, 0, "{kind}: {got}");
    }

    // The sender leaves, shares in a meeting of its own, and comes back.
    // Alone there, its video goes to nobody and is not even encoded; its
    // audio is sent (and numbered) all the same.
    sender.send("/leave");
    sender.expect_event("left");
    receiver.expect_event("member_left");
    sender.create();
    let before = sender.wait_stats("a stats answer", |_| true);
    sender.wait_stats("30 frames sent elsewhere", |s| {
        sent(s, "audio") >= sent(&before, "audio") + 30
    });
    sender.send("/leave");
    sender.expect_event("left");
    sender.join(&meeting);
    let seen = received_from(&got, sender_id, "video").0;
    let got = receiver.wait_stats("frames after the sender came back", |s| both(s, seen + 30));
    for kind in ["video", "audio"] {
        assert_eq!(received_from(&got, sender_id, kind).1, 0, "{kind}: {got}");
    }
}

/// Two runs with `--record` into one folder, each against a new server (so
/// member ids repeat): each run gets its own sub-folder, and the first run's
/// audio and chat are still whole after the second.
#[test]
fn recording_twice_into_one_folder_keeps_both_sessions() {
    let work = tempfile::tempdir().expect("temp dir");
    let root = work.path().join("rec");
    let root_arg = root.to_string_lossy().into_owned();
    let mut sessions = Vec::new();
    for (run, frames) in [("first", 100), ("second", 50)] {
        let server = ServerProcess::start();
        let (_, [mut sender, mut listener]) =
            server.meeting_with([("sender", &[]), ("listener", &["--record", &root_arg])]);
        sender.send("/audio on");
        listener.wait_stats("the audio", |s| {
            received_from(s, sender.id, "audio").0 >= frames
        });
        sender.send(run);
        listener.expect_event("chat");
        let id = sender.id;
        let (status, _) = listener.quit();
        assert!(status.success());
        sessions.push((id, frames));
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("the recording folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:?}");
    assert_eq!(
        sessions[0].0, sessions[1].0,
        "the ids repeat, as with any new server"
    );
    for ((folder, (id, frames)), run) in folders.iter().zip(sessions).zip(["first", "second"]) {
        let chat = std::fs::read_to_string(folder.join("chat.log")).unwrap_or_default();
        assert!(
            chat.contains(run) && chat.lines().count() == 1,
            "{folder:?}: {chat}"
        );
        let samples = read_wav(&folder.join("audio").join(format!("{id}.wav")));
        assert!(
            samples.len() >= frames as usize * 480,
            "{folder:?}: {} samples",
            samples.len()
        );
    }
}

fn video_layer_of(stats: &Value, member: u64) -> Option<(u64, u64, u64)> {
    let m = stats["received"]
        .as_array()?
        .iter()
        .find(|m| m["member"] == member)?;
    Some((
        m["video_layer"].as_u64()?,
        m["video_size"]["width"].as_u64()?,
        m["video_size"]["height"].as_u64()?,
    ))
}

fn sent_layer_frames(stats: &Value, layer: &str) -> u64 {
    stats["sent_video_layers"][layer]["frames"]
        .as_u64()
        .unwrap_or(0)
}

/// A receiver that draws a small tile gets the sixteenth-size layer and the
/// sender encodes nothing else; asking for more gets the full size.
#[test]
fn small_tiles_get_small_frames_and_larger_tiles_larger_ones() {
    let server = ServerProcess::start();
    let none = ["--video-size-wanted", "none"];
    let (_, [mut a, mut b]) = server.meeting_with([("a", &none), ("b", &none)]);
    b.send(&format!("/view tiles {}=40x24", a.id));
    a.send("/video on test");
    // 40x22, the sixteenth of 640x360, fills the tile's width.
    let got = b.wait_stats("the sixteenth layer", |s| {
        video_layer_of(s, a.id) == Some((4, 40, 22)) && received_from(s, a.id, "video").0 >= 5
    });
    let frames_then = received_from(&got, a.id, "video").0;
    let before = a.wait_stats("a's layers", |s| sent_layer_frames(s, "sixteenth") >= 5);
    b.wait_stats("more sixteenth frames", |s| {
        received_from(s, a.id, "video").0 >= frames_then + 10
    });
    let after = a.wait_stats("a's layers", |_| true);
    for unused in ["full", "half", "quarter", "eighth"] {
        assert_eq!(
            sent_layer_frames(&after, unused),
            sent_layer_frames(&before, unused),
            "a encoded the {unused} layer nobody wants: {after}"
        );
    }
    assert_eq!(after["sent_video_layers"]["wanted"], serde_json::json!([4]));

    // The tile grows: the full size (a sends 640x360) is the smallest that fills it.
    b.send(&format!("/view tiles {}=600x400", a.id));
    b.wait_stats("the full layer", |s| {
        video_layer_of(s, a.id) == Some((0, 640, 360))
    });
    // And the server says why, to whoever asks.
    b.send("/server-stats");
    let report = b.expect_event("server_stats");
    let layers = report["layers"].as_array().cloned().unwrap_or_default();
    assert!(
        layers
            .iter()
            .any(|l| l["receiver"] == b.id && l["sender"] == a.id && l["layer"] == 0),
        "{report}"
    );
}

/// One audio frame of a raw peer: `level` in the sender field (`None`: an
/// older sender's 0), 10 ms of PCM that nobody plays.
fn raw_audio(level: Option<VoiceLevel>, sequence: u32) -> Frame {
    let header = MediaHeader {
        sender: ClientId(level.map_or(0, VoiceLevel::to_sender_field)),
        sequence,
        timestamp_us: u64::from(sequence) * 10_000,
    };
    Frame::media(MediaKind::Audio, header, &[0u8; 960])
}

/// Reads `peer`'s audio until a frame from `from` arrives: the senders of
/// the frames read, in order.
fn heard_until(peer: &mut RawPeer, from: ClientId) -> Vec<ClientId> {
    let mut heard = Vec::new();
    loop {
        let frame = peer
            .next_media()
            .unwrap_or_else(|err| panic!("no audio from {from} (heard {heard:?}): {err:#}"));
        heard.push(frame.sender);
        if frame.sender == from {
            return heard;
        }
    }
}

#[test]
fn only_the_loudest_speakers_are_relayed_and_keep_alives_reach_everyone() {
    // Default --speakers 3. Four speak: the first three chosen are heard by
    // everyone, the fourth only by those three (their own voice leaves each
    // a place). A member that only keeps alive, and one that sends no level
    // (an older client), reach everyone.
    let server = ServerProcess::start();
    let (_, members) = server.raw_meeting(["a", "b", "c", "d", "quiet", "old"]);
    let ids: Vec<ClientId> = members.iter().map(|m| m.id).collect();
    let mut audio: Vec<RawPeer> = members.iter().map(|m| m.attach(MediaKind::Audio)).collect();
    let speaking = Some(VoiceLevel::from_dbfs(true, -20.0));
    for speaker in 0..3 {
        audio[speaker].send_bytes(raw_audio(speaking, 0).as_bytes());
        heard_until(&mut audio[5], ids[speaker]);
    }
    audio[3].send_bytes(raw_audio(speaking, 0).as_bytes());
    for chosen in &mut audio[..3] {
        heard_until(chosen, ids[3]);
    }
    audio[4].send_bytes(raw_audio(Some(VoiceLevel::from_dbfs(false, -80.0)), 0).as_bytes());
    let heard = heard_until(&mut audio[5], ids[4]);
    assert!(
        !heard.contains(&ids[3]),
        "the fourth speaker reached a listener with three: {heard:?}"
    );
    audio[5].send_bytes(raw_audio(None, 0).as_bytes());
    for member in &mut audio[..5] {
        let heard = heard_until(member, ids[5]);
        // The sender field came stamped with ids, whatever the level was.
        assert!(heard.iter().all(|id| ids.contains(id)), "{heard:?}");
    }
}
