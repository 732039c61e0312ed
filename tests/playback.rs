//! Playback end to end: what `--audio-out` writes is the mix of everyone else,
//! never yourself, paced in real time; volume and mute apply; `/stats` and the
//! `members` event report levels, `/stats` the jitter buffer.

use integration_tests::{ClientProcess, ServerProcess, goertzel_power, read_wav};
use serde_json::Value;
use std::path::Path;

const RATE: usize = 48_000;

/// Audio frames a second: clients send 10 ms frames.
const SECOND: u64 = 100;

fn audio_frames_from(stats: &Value, member: u64) -> u64 {
    stats["received"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["member"] == member))
        .and_then(|m| m["audio"]["frames"].as_u64())
        .unwrap_or(0)
}

fn member_stats(stats: &Value, member: u64) -> Value {
    stats["received"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["member"] == member))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The part of the recording where sound is: from the first to the last
/// sample above a small threshold.
fn audible(samples: &[i16]) -> &[i16] {
    let loud = |s: &i16| s.unsigned_abs() > 500;
    let start = samples.iter().position(loud).unwrap_or(0);
    let end = samples.iter().rposition(loud).map_or(0, |e| e + 1);
    &samples[start..end.max(start)]
}

/// Relative power of each frequency in the middle of a recording.
fn powers(path: &Path, hz: &[f64]) -> Vec<f64> {
    let samples = read_wav(path);
    let sound = audible(&samples);
    assert!(
        sound.len() >= RATE,
        "{}: less than a second of sound ({} samples of {})",
        path.display(),
        sound.len(),
        samples.len()
    );
    // Skip the edges (start-up, fade-out); a whole number of seconds keeps
    // every test frequency on a Goertzel bin.
    let middle = &sound[RATE / 4..RATE / 4 + RATE * ((sound.len() - RATE / 2) / RATE)];
    hz.iter().map(|&f| goertzel_power(middle, f)).collect()
}

#[test]
fn each_member_hears_everyone_else_mixed_and_never_themselves() {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let out = |name: &str| work.path().join(format!("{name}.wav"));
    let arg = |name: &str| out(name).to_string_lossy().into_owned();
    let mut a = ClientProcess::start_with(&server, "a", &["--audio-out", &arg("a")]);
    let mut b = ClientProcess::start_with(&server, "b", &["--audio-out", &arg("b")]);
    let mut c = ClientProcess::start_with(&server, "c", &["--audio-out", &arg("c")]);
    let audio_out = a.expect_event("audio_out");
    assert!(audio_out["started_unix_us"].as_u64().unwrap_or(0) > 0);
    let meeting = a.create();
    b.join(&meeting);
    c.join(&meeting);
    a.send("/audio on tone:440");
    b.send("/audio on tone:660");
    // Two seconds of both at the listener, and of the other at each sender.
    c.wait_stats("two seconds from a and b", |s| {
        audio_frames_from(s, a.id) >= 2 * SECOND && audio_frames_from(s, b.id) >= 2 * SECOND
    });
    a.wait_stats("b's audio", |s| audio_frames_from(s, b.id) >= 2 * SECOND);
    b.wait_stats("a's audio", |s| audio_frames_from(s, a.id) >= 2 * SECOND);

    // The listener's stats carry levels and jitter-buffer figures.
    let stats = c.wait_stats("a stats answer", |_| true);
    let from_a = member_stats(&stats, a.id);
    let level = from_a["audio_level_dbfs"].as_f64().expect("a level");
    assert!((-17.0..=-13.0).contains(&level), "tone level {level}");
    let buffer = &from_a["playback"];
    let p99 = buffer["delay_ms_p99"].as_u64().expect("buffer delay");
    assert!(p99 <= 120, "buffer delay p99 {p99} ms: {buffer}");
    assert!(stats["playback"]["ticks"].as_u64().unwrap_or(0) >= 100);
    eprintln!("listener stats: {stats}");

    // The client adds each other member's level to the server's members event.
    c.send("/members");
    let members = c.expect_event("members");
    let list = members["members"].as_array().expect("a list");
    let speaking: Vec<u64> = list
        .iter()
        .filter(|m| m["speaking"] == true)
        .filter_map(|m| m["id"].as_u64())
        .collect();
    assert!(
        speaking.contains(&a.id) && speaking.contains(&b.id),
        "{members}"
    );
    let own = list.iter().find(|m| m["id"] == c.id).expect("c is listed");
    assert!(own.get("audio_level_dbfs").is_none(), "{members}");

    for client in [a, b, c] {
        let (status, _) = client.quit();
        assert!(status.success());
    }
    let [a440, a660] = powers(&out("a"), &[440.0, 660.0])[..] else {
        unreachable!()
    };
    let [b440, b660] = powers(&out("b"), &[440.0, 660.0])[..] else {
        unreachable!()
    };
    let [c440, c660, c550] = powers(&out("c"), &[440.0, 660.0, 550.0])[..] else {
        unreachable!()
    };
    eprintln!("a: 440 {a440:.3e} 660 {a660:.3e}; b: 440 {b440:.3e} 660 {b660:.3e}");
    eprintln!("c: 440 {c440:.3e} 660 {c660:.3e} 550 {c550:.3e}");
    // The listener hears both tones at about the same strength, and nothing between.
    assert!(
        c440 / c660 > 0.5 && c440 / c660 < 2.0,
        "c: {c440} vs {c660}"
    );
    assert!(c550 < c440 / 1000.0, "c: 550 Hz at {c550}");
    // Each sender hears the other and not itself (30 dB down at least).
    assert!(a440 < a660 / 1000.0, "a hears itself: {a440} vs {a660}");
    assert!(b660 < b440 / 1000.0, "b hears itself: {b660} vs {b440}");
    // Two quarter-scale tones mix to at most half scale: nothing clipped.
    let loudest = read_wav(&out("c"))
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0);
    assert!((12_000..=16_500).contains(&loudest), "peak {loudest}");
}

#[test]
fn volume_and_mute_change_what_is_played() {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let wav = work.path().join("listener.wav");
    let (_, [mut speaker, mut listener]) = server.meeting_with([
        ("speaker", &[]),
        ("listener", &["--audio-out", &wav.to_string_lossy()]),
    ]);
    listener.send("/volume speaker 50");
    let volume = listener.expect_event("volume");
    assert_eq!(volume["percent"], 50);
    assert_eq!(volume["member"], speaker.id);
    listener.send("/volume nobody 50");
    let error = listener.expect_event("error");
    assert!(error["message"].as_str().unwrap_or("").contains("nobody"));
    listener.send("/mute listener");
    let error = listener.expect_event("error");
    assert!(error["message"].as_str().unwrap_or("").contains("you"));

    speaker.send("/audio on tone:440");
    listener.wait_stats("a second of audio", |s| {
        audio_frames_from(s, speaker.id) >= SECOND
    });
    listener.send(&format!("/mute {}", speaker.id));
    assert_eq!(listener.expect_event("volume")["muted"], true);
    let muted_from = audio_frames_from(&listener.wait_stats("stats", |_| true), speaker.id);
    listener.wait_stats("a muted second", |s| {
        audio_frames_from(s, speaker.id) >= muted_from + SECOND
    });
    let (status, _) = listener.quit();
    assert!(status.success());

    let samples = read_wav(&wav);
    let sound = audible(&samples);
    // At 50% the quarter-scale tone peaks near an eighth of full scale.
    let peak = sound.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!((3_900..=4_300).contains(&peak), "peak {peak} at 50%");
    // Muted: the file ends in silence, a second of it at least.
    let silent_tail = samples.len() - samples.iter().rposition(|s| *s != 0).unwrap_or(0);
    assert!(silent_tail >= RATE * 3 / 4, "{silent_tail} silent samples");
}

/// Devices switch inside the session: `/speaker` starts playing the others
/// to a new sink (here a WAV file) and `off` finishes it, `/devices` lists
/// what there is, `/mic` and `/camera` choose what `mic` and `camera` open.
#[test]
fn the_speaker_and_devices_switch_without_restarting() {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let wav = work.path().join("switched.wav");
    let (_, [mut listener, mut talker]) = server.meeting(["listener", "talker"]);
    talker.send("/audio on tone:660");
    listener.wait_stats("the talker's audio", |s| {
        audio_frames_from(s, talker.id) >= SECOND / 5
    });

    listener.send(&format!("/speaker {}", wav.display()));
    let out = listener.expect_event("audio_out");
    assert!(
        out["sink"]
            .as_str()
            .unwrap_or_default()
            .contains("switched.wav"),
        "{out}"
    );
    let from = audio_frames_from(&listener.wait_stats("now", |_| true), talker.id);
    listener.wait_stats("two seconds more", |s| {
        audio_frames_from(s, talker.id) >= from + 2 * SECOND
    });
    listener.send("/speaker off");
    listener.expect_event("audio_off");
    let p = powers(&wav, &[440.0, 660.0]);
    assert!(p[1] > 20.0 * p[0], "the talker's 660 Hz plays: {p:?}");

    // A speaker that does not exist is refused and nothing else changes.
    listener.send("/speaker no-such-speaker-anywhere");
    listener.expect_event("error");

    listener.send("/devices");
    let devices = listener.expect_event("devices");
    assert!(
        devices["report"]
            .as_str()
            .is_some_and(|r| !r.trim().is_empty()),
        "{devices}"
    );
    listener.send("/mic USB headset");
    let chosen = listener.expect_event("device_chosen");
    assert_eq!(chosen["device"], "microphone");
    assert_eq!(chosen["name"], "USB headset");
    listener.send("/camera default");
    let chosen = listener.expect_event("device_chosen");
    assert_eq!(chosen["device"], "camera");
    assert!(chosen["name"].is_null(), "{chosen}");
}
