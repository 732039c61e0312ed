//! Devices. Without device back-ends (the default build) every device command
//! must explain itself, and so must a camera build on a machine without a
//! camera (no /dev/video*, as in CI). With them (`MEETING_CLIENT_FEATURES=audio`, set by
//! .ci/run together with a PulseAudio server on a null sink), the real cpal
//! code path captures, at real-time pace, what is played into the null sink.

use integration_tests::{
    ClientProcess, DEADLINE, KillOnDrop, ServerProcess, binary, client_features,
    dominant_frequency, read_wav, write_wav,
};
use std::process::{Command, Stdio};

/// The tests share one null sink: one at a time may play into it.
static NULL_SINK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn with_audio() -> bool {
    client_features().is_some_and(|f| f.contains("audio") || f.contains("devices"))
}

fn with_camera() -> bool {
    client_features().is_some_and(|f| f.contains("camera") || f.contains("devices"))
}

/// True when this machine has a camera (the device tests expect none).
fn camera_present() -> bool {
    std::fs::read_dir("/dev").is_ok_and(|dir| {
        dir.filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("video"))
    })
}

#[test]
fn list_devices_says_what_there_is_or_how_to_get_it() {
    let output = Command::new(binary("client"))
        .arg("--list-devices")
        .stdin(Stdio::null())
        .output()
        .expect("client runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for section in ["cameras:", "audio inputs:", "audio outputs:"] {
        assert!(text.contains(section), "{section} missing:\n{text}");
    }
    if !with_camera() {
        assert!(text.contains("apt-get install libclang-dev"), "{text}");
        assert!(text.contains("--features camera"), "{text}");
    } else if camera_present() {
        // Each camera, then its formats (or why they are unknown).
        assert!(
            text.contains("MJPEG:") || text.contains("YUYV:") || text.contains("formats unknown"),
            "{text}"
        );
    } else {
        let cameras = text.split("audio inputs:").next().unwrap_or_default();
        assert!(cameras.contains("none found"), "{text}");
        assert!(!cameras.contains("--features camera"), "{text}");
    }
    if with_audio() {
        assert!(!text.contains("--features audio"), "{text}");
    } else {
        assert!(text.contains("apt-get install libasound2-dev"), "{text}");
        assert!(text.contains("--features audio"), "{text}");
    }
}

#[test]
fn device_sources_that_are_missing_explain_themselves() {
    let server = ServerProcess::start();
    let mut a = ClientProcess::start(&server, "a");
    a.send("/video on camera");
    let error = a.expect_event("error");
    let message = error["message"].as_str().unwrap_or_default().to_string();
    if !with_camera() {
        assert!(message.contains("--features camera"), "{message}");
        assert!(
            message.contains("`test`"),
            "says what to use instead: {message}"
        );
    } else if !camera_present() {
        assert!(message.contains("no camera found"), "{message}");
        assert!(
            message.contains("`test`"),
            "says what to use instead: {message}"
        );
        a.send("/video on camera:Nonesuch");
        let error = a.expect_event("error");
        let message = error["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains("no camera found"), "{message}");
        // --camera chooses one the same way.
        let mut b = ClientProcess::start_with(&server, "b", &["--camera", "7"]);
        b.send("/video on camera");
        let error = b.expect_event("error");
        let message = error["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains("no camera found"), "{message}");
        b.quit();
    }
    if !with_audio() {
        a.send("/audio on mic");
        let error = a.expect_event("error");
        let message = error["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains("--features audio"), "{message}");
    }
    // The session goes on: a tone still works.
    a.send("/audio on tone");
    let sharing = a.expect_event("sharing");
    assert_eq!(sharing["on"], true);
}

/// Why the microphone and speaker tests are ignored without audio devices
/// and a sound server (build.rs sets `client_audio` and `pulse_server`).
const NEEDS_SOUND: &str = "needs MEETING_CLIENT_FEATURES=audio (libasound2-dev) and a PulseAudio server in PULSE_SERVER (.ci/run starts one); see README";

fn sound_server_ready() -> bool {
    with_audio() && std::env::var_os("PULSE_SERVER").is_some()
}

/// Run with `--ignored` anyway, a sound test without its sound fails,
/// saying why.
fn require_sound_server() {
    assert!(sound_server_ready(), "{NEEDS_SOUND}");
}

/// .ci/run's device phase: the sound tests must not be ignored there.
#[test]
fn the_sound_tests_run_where_they_are_required() {
    if std::env::var_os("MEETING_DEVICE_TESTS").is_some() {
        assert!(
            cfg!(all(client_audio, pulse_server)) && sound_server_ready(),
            "MEETING_DEVICE_TESTS is set, so these tests must run: {NEEDS_SOUND}"
        );
    }
}

#[test]
#[cfg_attr(
    not(all(client_audio, pulse_server)),
    ignore = "needs MEETING_CLIENT_FEATURES=audio (libasound2-dev) and a PulseAudio server in PULSE_SERVER (.ci/run starts one); see README"
)]
fn the_microphone_captures_what_the_null_sink_plays() {
    require_sound_server();
    let _sink = common::sync::lock(&NULL_SINK);
    let work = tempfile::tempdir().expect("temp dir");
    // Ten seconds of 660 Hz at 48 kHz, looped by paplay's caller below.
    let tone: Vec<i16> = (0..480_000)
        .map(|n| ((std::f64::consts::TAU * 660.0 * f64::from(n) / 48_000.0).sin() * 8000.0) as i16)
        .collect();
    let wav = work.path().join("tone.wav");
    write_wav(&wav, &tone);
    // Plays into the null sink until dropped.
    let _player = KillOnDrop(
        Command::new("paplay")
            .arg(&wav)
            .stdout(Stdio::null())
            .spawn()
            .expect("paplay (pulseaudio-utils) runs"),
    );

    let server = ServerProcess::start();
    let record = work.path().join("rec");
    let (_, [mut speaker, mut listener]) = server.meeting_with([
        ("speaker", &["--mic", "default"]),
        ("listener", &["--record", &record.to_string_lossy()]),
    ]);
    speaker.send("/audio on mic");
    let sharing = speaker.expect_event("sharing");
    assert_eq!(sharing["on"], true, "{sharing}");
    let source = sharing["source"].as_str().unwrap_or_default().to_string();
    assert!(source.contains("microphone"), "{source}");
    // Two seconds of 10 ms frames, from a device paced by the sound server.
    let started = std::time::Instant::now();
    let id = speaker.id;
    listener.wait_stats("200 audio frames from the microphone", |stats| {
        stats["received"].as_array().is_some_and(|members| {
            members.iter().any(|m| {
                m["member"].as_u64() == Some(id)
                    && m["audio"]["frames"].as_u64().unwrap_or(0) >= 200
            })
        })
    });
    let elapsed = started.elapsed();
    assert!(elapsed < DEADLINE);
    speaker.quit();
    listener.quit();
    let record = integration_tests::recording(&record);
    let samples = read_wav(&record.join("audio").join(format!("{id}.wav")));
    // Skip the first half second (the device starting), then look for the tone.
    let steady = &samples[samples.len().min(24_000)..];
    assert!(steady.len() >= 48_000, "{} samples", steady.len());
    assert_eq!(
        dominant_frequency(steady, &[440.0, 550.0, 660.0, 880.0]),
        660.0,
        "the microphone heard the null sink's tone"
    );
    eprintln!("200 microphone frames arrived in {elapsed:?}");
}

#[test]
#[cfg_attr(
    not(all(client_audio, pulse_server)),
    ignore = "needs MEETING_CLIENT_FEATURES=audio (libasound2-dev) and a PulseAudio server in PULSE_SERVER (.ci/run starts one); see README"
)]
fn the_speaker_plays_the_mix_into_the_null_sink() {
    require_sound_server();
    let _sink = common::sync::lock(&NULL_SINK);
    let server = ServerProcess::start();
    let mut sender = ClientProcess::start(&server, "sender");
    let mut listener = ClientProcess::start_with(&server, "listener", &["--speaker", "default"]);
    let out = listener.expect_event("audio_out");
    let sink = out["sink"].as_str().unwrap_or_default().to_string();
    assert!(sink.contains("speaker"), "{out}");
    let meeting = sender.create();
    listener.join(&meeting);
    sender.send("/audio on tone:550");
    sender.expect_event("sharing");
    // What reaches the null sink, as its monitor hears it: two seconds.
    let mut recorder = Command::new("parec")
        .args([
            "--device=speaker.monitor",
            "--rate=48000",
            "--channels=1",
            "--format=s16le",
            "--raw",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("parec (pulseaudio-utils) runs");
    let mut stdout = recorder.stdout.take().expect("stdout");
    let mut bytes = vec![0u8; 2 * 48_000 * 2];
    std::io::Read::read_exact(&mut stdout, &mut bytes).expect("two seconds from the monitor");
    let _ = recorder.kill();
    let _ = recorder.wait();
    sender.quit();
    listener.quit();
    let samples: Vec<i16> = bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let heard = &samples[48_000..];
    let loudest = heard.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert!(
        loudest > 1000,
        "the speaker played something: peak {loudest}"
    );
    assert_eq!(
        dominant_frequency(heard, &[440.0, 550.0, 660.0, 880.0]),
        550.0,
        "the null sink got the sender's tone"
    );
}
