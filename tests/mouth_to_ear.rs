//! Mouth to ear, end to end, on the one PulseAudio server's clock.
//!
//! The sound server gets a stereo null sink, the *room*. Its left channel is
//! the talker's mouth: the test plays tone bursts there, and the talker's
//! microphone is a one-channel source made of the room's left channel
//! (`module-remap-source`). Its right channel is the listener's ear: the
//! listener's speaker is a one-channel sink that plays into the room's right
//! channel (`module-remap-sink`). One recording of the room's monitor holds
//! both, sample for sample on the one clock that paces the room: the delay of
//! a burst is where it starts on the right minus where it starts on the left.
//! Everything between is real: the capture buffer, framing, the codec, the
//! sockets and server, the jitter buffer, the mix and the playback buffer.
//!
//! Within one run every burst takes the same time to the sample: everything
//! is paced by the one clock, so the path is a fixed delay line, and where a
//! burst starts within a frame changes nothing (a frame's first sample waits
//! for its last, and they play 10 ms apart). What changes the delay is how
//! the talker's frames, the listener's pulls and the devices' periods fall
//! against each other, which is new for each pair of clients (and drifts
//! slowly between two machines). So the measurement is many runs of a few
//! bursts each, new clients every run.
//!
//! CI runs a short version (one run per codec, with bounds far from the
//! target, so that a loaded machine does not fail it); the measurement in
//! docs/LATENCY.md is the same test with `MEETING_MOUTH_TO_EAR_RUNS=10`,
//! `MEETING_MOUTH_TO_EAR_BURSTS=20`, release binaries and `--nocapture`.

use integration_tests::{
    DEADLINE, KillOnDrop, ServerProcess, client_features, env_setting, percentile,
    write_wav_channels,
};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RATE: usize = 48_000;
/// Each burst: this much 1 kHz tone, then silence until the next.
const TONE_MS: usize = 100;
/// Bursts start 300.77 ms apart, in samples: not a multiple of a frame, so
/// they fall at every point of the talker's frames and the listener's
/// playback periods, as speech does.
const CYCLE: usize = 14_437;
/// Silence before the first burst: the talker's microphone and the
/// listener's buffer settle.
const LEAD_MS: usize = 2_000;
const AMPLITUDE: f64 = 8_000.0;
/// An onset is the first sample above this after a silence.
const ONSET: u16 = 2_000;
/// How long a burst may take to reach the ear before it counts as lost.
const LOST_AFTER_MS: usize = 250;

fn pactl(args: &[&str]) -> String {
    let output = Command::new("pactl")
        .args(args)
        .output()
        .expect("pactl (pulseaudio-utils) runs");
    assert!(
        output.status.success(),
        "pactl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The room, the mouth and the ear, loaded into the sound server for the
/// test and unloaded after it.
struct Room {
    name: String,
    modules: Vec<String>,
}

impl Room {
    fn load() -> Room {
        let name = format!("m2e{}", std::process::id());
        let mut room = Room {
            name: name.clone(),
            modules: Vec::new(),
        };
        for args in [
            format!(
                "module-null-sink sink_name={name}_room rate={RATE} channels=2 channel_map=front-left,front-right"
            ),
            format!(
                "module-remap-source source_name={name}_mouth master={name}_room.monitor channels=1 master_channel_map=front-left channel_map=mono remix=no"
            ),
            format!(
                "module-remap-sink sink_name={name}_ear master={name}_room channels=1 master_channel_map=front-right channel_map=mono remix=no"
            ),
        ] {
            let args: Vec<&str> = std::iter::once("load-module")
                .chain(args.split(' '))
                .collect();
            room.modules.push(pactl(&args));
        }
        room
    }

    fn mouth(&self) -> String {
        format!("{}_mouth", self.name)
    }

    fn ear(&self) -> String {
        format!("{}_ear", self.name)
    }

    fn sink(&self) -> String {
        format!("{}_room", self.name)
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        for module in self.modules.iter().rev() {
            let _ = Command::new("pactl")
                .args(["unload-module", module])
                .status();
        }
    }
}

/// Records the room's monitor, both channels, until stopped.
struct Recorder {
    process: KillOnDrop,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    fn start(room: &Room) -> Recorder {
        let mut child = Command::new("parec")
            .arg(format!("--device={}.monitor", room.sink()))
            .args([
                "--rate=48000",
                "--channels=2",
                "--format=s16le",
                "--raw",
                "--latency-msec=10",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("parec (pulseaudio-utils) runs");
        let mut stdout = child.stdout.take().expect("parec's stdout");
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let into = bytes.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                common::sync::lock(&into).extend_from_slice(&buffer[..n]);
            }
        });
        Recorder {
            process: KillOnDrop(child),
            bytes,
        }
    }

    fn seconds(&self) -> f64 {
        common::sync::lock(&self.bytes).len() as f64 / (4 * RATE) as f64
    }

    /// The mouth (left) and the ear (right), as recorded so far.
    fn stop(self) -> (Vec<i16>, Vec<i16>) {
        drop(self.process);
        let bytes = common::sync::lock(&self.bytes).clone();
        let (mut mouth, mut ear) = (Vec::new(), Vec::new());
        for frame in bytes.chunks_exact(4) {
            mouth.push(i16::from_le_bytes([frame[0], frame[1]]));
            ear.push(i16::from_le_bytes([frame[2], frame[3]]));
        }
        (mouth, ear)
    }
}

/// The bursts, in the left channel of a stereo WAV file.
fn write_bursts(path: &Path, bursts: usize) {
    let lead = LEAD_MS * RATE / 1000;
    let (tone, cycle) = (TONE_MS * RATE / 1000, CYCLE);
    let frames = lead + bursts * cycle + RATE / 2;
    let mut samples = Vec::with_capacity(frames * 2);
    for n in 0..frames {
        let in_cycle = n.checked_sub(lead).map(|k| k % cycle);
        let left = match in_cycle {
            Some(k) if n < lead + bursts * cycle && k < tone => {
                let t = k as f64 / RATE as f64;
                ((std::f64::consts::TAU * 1000.0 * t).sin() * AMPLITUDE) as i16
            }
            _ => 0,
        };
        samples.extend([left, 0]);
    }
    write_wav_channels(path, 2, &samples);
}

/// Where each burst starts: the first loud sample after at least half a
/// cycle of quiet.
fn onsets(samples: &[i16]) -> Vec<usize> {
    let quiet_needed = CYCLE / 2;
    let mut onsets = Vec::new();
    let mut quiet = quiet_needed;
    for (n, sample) in samples.iter().enumerate() {
        if sample.unsigned_abs() > ONSET {
            if quiet >= quiet_needed {
                onsets.push(n);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    onsets
}

/// Each burst's delay from mouth to ear in ms, and how many never arrived.
fn delays(mouth: &[i16], ear: &[i16]) -> (Vec<f64>, usize) {
    let heard = onsets(ear);
    let mut delays = Vec::new();
    let mut lost = 0;
    for said in onsets(mouth) {
        let window = said..said + LOST_AFTER_MS * RATE / 1000;
        match heard.iter().find(|&&n| window.contains(&n)) {
            Some(&n) => delays.push((n - said) as f64 * 1000.0 / RATE as f64),
            None => lost += 1,
        }
    }
    delays.sort_by(f64::total_cmp);
    (delays, lost)
}

/// One run: a talker in `codec` through the room to a listener; the sorted
/// delays, and how many bursts were lost.
fn run(server: &ServerProcess, room: &Room, codec: &str, bursts: usize) -> (Vec<f64>, usize) {
    let work = tempfile::tempdir().expect("temp dir");
    let (_, [mut talker, mut listener]) = server.meeting_with([
        (
            "talker",
            &["--mic", &room.mouth(), "--audio-codec", codec][..],
        ),
        ("listener", &["--speaker", &room.ear()][..]),
    ]);
    talker.send("/audio on mic");
    let sharing = talker.expect_event("sharing");
    assert_eq!(sharing["on"], true, "{sharing}");
    let id = talker.id;
    listener.wait_stats("the talker's audio", |stats| {
        stats["received"].as_array().is_some_and(|members| {
            members.iter().any(|m| {
                m["member"].as_u64() == Some(id) && m["audio"]["frames"].as_u64().unwrap_or(0) >= 20
            })
        })
    });

    let wav = work.path().join("bursts.wav");
    write_bursts(&wav, bursts);
    let recorder = Recorder::start(room);
    let mut player = KillOnDrop(
        Command::new("paplay")
            .arg(format!("--device={}", room.sink()))
            .arg("--latency-msec=20")
            .arg(&wav)
            .spawn()
            .expect("paplay (pulseaudio-utils) runs"),
    );
    let length = Duration::from_millis((LEAD_MS + bursts * CYCLE * 1000 / RATE + 500) as u64);
    let deadline = Instant::now() + length + DEADLINE;
    loop {
        if player.0.try_wait().expect("paplay's status").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "paplay did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The last burst's way to the ear.
    let recorded = recorder.seconds() + 0.5;
    while recorder.seconds() < recorded {
        assert!(Instant::now() < deadline, "parec stopped recording");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mouth, ear) = recorder.stop();
    let stats = listener.wait_stats("a stats answer", |_| true);
    let playback = stats["received"]
        .as_array()
        .and_then(|members| members.iter().find(|m| m["member"].as_u64() == Some(id)))
        .map(|m| m["playback"].clone())
        .unwrap_or_default();
    eprintln!("{codec}: the listener's buffer for the talker: {playback}");
    talker.quit();
    listener.quit();
    let said = onsets(&mouth).len();
    assert_eq!(said, bursts, "the recording holds every burst said");
    delays(&mouth, &ear)
}

#[test]
#[cfg_attr(
    not(all(client_audio, pulse_server)),
    ignore = "needs MEETING_CLIENT_FEATURES=audio (libasound2-dev) and a PulseAudio server in PULSE_SERVER (.ci/run starts one); see README"
)]
fn a_burst_said_into_the_microphone_is_heard_from_the_speaker_soon() {
    assert!(
        std::env::var_os("PULSE_SERVER").is_some(),
        "needs a PulseAudio server in PULSE_SERVER"
    );
    let room = Room::load();
    let server = ServerProcess::start();
    let runs = env_setting("MEETING_MOUTH_TO_EAR_RUNS", 1);
    let bursts = env_setting("MEETING_MOUTH_TO_EAR_BURSTS", 12);
    let opus = client_features().is_some_and(|f| f.contains("opus") || f.contains("devices"));
    let codecs: &[&str] = if opus { &["pcm", "opus"] } else { &["pcm"] };
    for codec in codecs {
        let (mut delays, mut lost) = (Vec::new(), 0);
        for _ in 0..runs {
            let (run_delays, run_lost) = run(&server, &room, codec, bursts);
            eprintln!(
                "{codec}, one run: {:?} ms; {run_lost} lost",
                run_delays
                    .iter()
                    .map(|d| (d * 10.0).round() / 10.0)
                    .collect::<Vec<_>>()
            );
            delays.extend(run_delays);
            lost += run_lost;
        }
        delays.sort_by(f64::total_cmp);
        eprintln!(
            "{codec}, mouth to ear over {} of {} bursts in {runs} runs: min {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {lost} lost",
            delays.len(),
            runs * bursts,
            delays.first().copied().unwrap_or(f64::NAN),
            percentile(&delays, 0.5),
            percentile(&delays, 0.99),
            delays.last().copied().unwrap_or(f64::NAN),
        );
        // The first bursts may meet a buffer still settling; after that
        // every one is heard.
        assert!(
            lost <= runs,
            "{codec}: {lost} of {} bursts never heard",
            runs * bursts
        );
        // Far from the target (40 ms at p99): a loaded machine must not fail
        // this, a broken path (a frame waiting a tick too many, a buffer
        // that never shrinks) must.
        assert!(
            percentile(&delays, 0.5) < 100.0,
            "{codec}: mouth to ear {delays:?}"
        );
    }
}
