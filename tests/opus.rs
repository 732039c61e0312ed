//! Opus audio end to end: members sending Opus (the default of a build with
//! the `opus` feature) are heard in the mix with their tones intact, at a
//! twentieth of PCM's bytes; PCM and Opus senders share a meeting; and a
//! corrupt Opus body from a hostile peer is concealed (or, in a build without
//! Opus, played as silence and said once), never a crash.
//!
//! The first two need the client built with Opus: run them with
//! `MEETING_CLIENT_FEATURES=opus` (or `devices`, as .ci/run does). Without it
//! they are ignored, and `cargo test` says why (build.rs sets `client_opus`);
//! under MEETING_DEVICE_TESTS they must run.

use common::audio::CODEC_OPUS;
use common::{ClientId, Event, Frame, MediaHeader, MediaKind, Request};
use integration_tests::{
    ClientProcess, RawPeer, ServerProcess, client_features, dominant_frequency, goertzel_power,
    read_wav,
};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const RATE: usize = 48_000;

/// Why the Opus tests are ignored in a default build.
const NEEDS_OPUS: &str =
    "needs the client built with Opus: MEETING_CLIENT_FEATURES=opus (libopus-dev); see README";

fn opus_built() -> bool {
    client_features().is_some_and(|f| f.contains("opus") || f.contains("devices"))
}

/// Run with `--ignored` anyway, an Opus test without Opus fails, saying why.
fn require_opus() {
    assert!(opus_built(), "{NEEDS_OPUS}");
}

/// .ci/run's device phase: the Opus tests must not be ignored there.
#[test]
fn the_opus_tests_run_where_they_are_required() {
    if std::env::var_os("MEETING_DEVICE_TESTS").is_some() {
        assert!(
            cfg!(client_opus) && opus_built(),
            "MEETING_DEVICE_TESTS is set, so the Opus tests must run: {NEEDS_OPUS}"
        );
    }
}

fn member(stats: &Value, id: u64) -> Option<&Value> {
    stats["received"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["member"] == id))
}

fn audio_frames(stats: &Value, id: u64) -> u64 {
    member(stats, id)
        .and_then(|m| m["audio"]["frames"].as_u64())
        .unwrap_or(0)
}

/// Bytes of audio body per frame received from `id`, and the codec its
/// decoder saw.
fn bytes_per_frame_and_codec(stats: &Value, id: u64) -> (u64, String) {
    let m = member(stats, id).cloned().unwrap_or(Value::Null);
    let frames = m["audio"]["frames"].as_u64().unwrap_or(0).max(1);
    let bytes = m["audio"]["bytes"].as_u64().unwrap_or(0);
    let codec = m["audio_decoding"]["codec"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (bytes / frames, codec)
}

/// The loud middle of a recording: from a quarter second after the first
/// sound to a quarter second before the last, whole seconds.
fn middle(path: &Path) -> Vec<i16> {
    let samples = read_wav(path);
    let loud = |s: &i16| s.unsigned_abs() > 500;
    let start = samples.iter().position(loud).unwrap_or(0);
    let end = samples.iter().rposition(loud).map_or(0, |e| e + 1);
    let sound = &samples[start..end.max(start)];
    assert!(
        sound.len() >= RATE + RATE / 2,
        "{}: {} samples of sound",
        path.display(),
        sound.len()
    );
    let seconds = (sound.len() - RATE / 2) / RATE;
    sound[RATE / 4..RATE / 4 + RATE * seconds].to_vec()
}

/// Three members: a sends 440 Hz in `codec_a`, b 660 Hz in `codec_b`, c listens.
/// Returns c's recording's middle and the two senders' bytes per frame and codecs.
fn three_members(codec_a: &str, codec_b: &str) -> (Vec<i16>, (u64, String), (u64, String)) {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let wav = work.path().join("c.wav");
    let wav_arg = wav.to_string_lossy().into_owned();
    let (_, [mut a, mut b, mut c]) = server.meeting_with([
        ("a", &["--audio-codec", codec_a]),
        ("b", &["--audio-codec", codec_b]),
        ("c", &["--audio-out", &wav_arg]),
    ]);
    a.send("/audio on tone:440");
    let sharing = a.expect_event("sharing");
    let source = sharing["source"].as_str().unwrap_or_default().to_string();
    assert!(source.contains(codec_a), "{source}");
    b.send("/audio on tone:660");
    // 10 ms frames: 200 a sender.
    let stats = c.wait_stats("two seconds from a and b", |s| {
        audio_frames(s, a.id) >= 200 && audio_frames(s, b.id) >= 200
    });
    let from_a = bytes_per_frame_and_codec(&stats, a.id);
    let from_b = bytes_per_frame_and_codec(&stats, b.id);
    eprintln!("c's stats: {stats}");
    for client in [a, b, c] {
        let (status, _) = client.quit();
        assert!(status.success());
    }
    (middle(&wav), from_a, from_b)
}

fn assert_both_tones_and_nothing_between(mix: &[i16]) {
    let [p440, p660, p550] = [440.0, 660.0, 550.0].map(|hz| goertzel_power(mix, hz));
    eprintln!("mix: 440 {p440:.3e} 660 {p660:.3e} 550 {p550:.3e}");
    assert!(p440 / p660 > 0.5 && p440 / p660 < 2.0, "{p440} vs {p660}");
    assert!(p550 < p440 / 1000.0, "550 Hz at {p550} against {p440}");
    // Each second of the mix has both tones: neither dropped out for long.
    for second in mix.chunks(RATE) {
        let strongest = dominant_frequency(second, &[440.0, 660.0, 550.0, 880.0]);
        assert!([440.0, 660.0].contains(&strongest), "{strongest} Hz");
        assert!(goertzel_power(second, 440.0) > 100.0 * goertzel_power(second, 550.0));
        assert!(goertzel_power(second, 660.0) > 100.0 * goertzel_power(second, 550.0));
    }
}

#[test]
#[cfg_attr(
    not(client_opus),
    ignore = "needs the client built with Opus: MEETING_CLIENT_FEATURES=opus (libopus-dev); see README"
)]
fn opus_between_three_members_keeps_both_tones_in_the_mix() {
    require_opus();
    let (mix, from_a, from_b) = three_members("opus", "opus");
    assert_eq!(from_a.1, "opus");
    assert_eq!(from_b.1, "opus");
    // PCM is 960 bytes a 10 ms frame; Opus at 32 kbit/s about 40.
    assert!(from_a.0 < 120 && from_b.0 < 120, "{from_a:?} {from_b:?}");
    assert_both_tones_and_nothing_between(&mix);
}

#[test]
#[cfg_attr(
    not(client_opus),
    ignore = "needs the client built with Opus: MEETING_CLIENT_FEATURES=opus (libopus-dev); see README"
)]
fn pcm_and_opus_senders_share_a_meeting() {
    require_opus();
    let (mix, from_a, from_b) = three_members("pcm", "opus");
    // 10 ms of PCM: 480 samples.
    assert_eq!(from_a, (960, "pcm".to_string()));
    assert_eq!(from_b.1, "opus");
    assert!(from_b.0 < 200, "{from_b:?}");
    assert_both_tones_and_nothing_between(&mix);
}

/// Runs in every build: a raw peer sends Opus-marked bodies that no decoder
/// can decode (a code-3 packet of zero frames). The listener keeps playing,
/// counts each frame, and says what happened: concealed with Opus, silence
/// (said once) without.
#[test]
fn corrupt_opus_from_a_hostile_peer_is_concealed_or_silenced() {
    let server = ServerProcess::start();
    let work = tempfile::tempdir().expect("temp dir");
    let wav = work.path().join("listener.wav");
    let mut listener = ClientProcess::start_with(
        &server,
        "listener",
        &["--audio-out", &wav.to_string_lossy()],
    );
    let meeting = listener.create();
    let (mut control, id, token) = RawPeer::hello(server.addr(), "hostile");
    let mut audio = RawPeer::attach(server.addr(), MediaKind::Audio, id, &token);
    control.request(&Request::Join {
        meeting,
        passcode: None,
    });
    control.expect("joined", |e| matches!(e, Event::Joined { .. }));
    let epoch = Instant::now();
    for k in 0..50u32 {
        let header = MediaHeader {
            sender: ClientId(0),
            sequence: k,
            timestamp_us: u64::from(k) * 20_000,
        };
        let body = [CODEC_OPUS, 0x03, 0x00];
        audio.send_bytes(Frame::media(MediaKind::Audio, header, &body).as_bytes());
        let due = epoch + Duration::from_millis(20 * u64::from(k + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let stats = listener.wait_stats("50 frames from the hostile peer", |s| {
        audio_frames(s, u64::from(id.0)) >= 50
    });
    let decoding = &member(&stats, u64::from(id.0)).expect("listed")["audio_decoding"];
    assert_eq!(decoding["codec"], "opus", "{stats}");
    let opus_built = opus_built();
    if opus_built {
        assert_eq!(decoding["corrupt"], 50, "{decoding}");
        assert_eq!(decoding["concealed"], 50, "{decoding}");
    } else {
        assert_eq!(decoding["undecodable"], 50, "{decoding}");
    }
    assert!(stats["playback"]["ticks"].as_u64().unwrap_or(0) > 0);
    // Said once, not once a frame (the frames were handled a while ago).
    let said = if opus_built {
        "undecodable Opus packet"
    } else {
        "built without Opus"
    };
    let stderr = listener.stderr();
    assert_eq!(stderr.matches(said).count(), 1, "{stderr}");
    let (status, _) = listener.quit();
    assert!(status.success(), "the listener survived");
    // Concealment of nothing, or silence: the file holds no sound.
    let loudest = read_wav(&wav)
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0);
    assert!(loudest < 500, "peak {loudest}");
}
