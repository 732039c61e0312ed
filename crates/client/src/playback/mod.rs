//! Playback: what the user hears. Received audio goes into a `Mixer` (one
//! jitter buffer per member, volumes, soft clipping); a playback clock pulls
//! 5 ms of the mix every 5 ms, as a device's callback would, and hands it to
//! a `PlaybackSink`.
//!
//! Sinks are back-ends behind one small trait, like librespot's: `WavOut`
//! (`--audio-out PATH.wav`) is the device-less one that tests and machines
//! without a sound card use; a speaker back-end implements the same trait.
//! A device that wants to own the clock (a cpal callback) can instead call
//! `Playback::pull` itself and skip `PlaybackClock`. While recording, every
//! pull is also `meeting.mkv`'s audio; with nothing to play to, the clock
//! plays to `RecordingOnly` so the mix is made all the same.

pub mod jitter;
pub mod mixer;
#[cfg(feature = "audio")]
mod speaker;
mod wav_out;

use crate::mkv::MkvFeed;
use common::{ClientId, MediaHeader};
use crossbeam_channel::{RecvTimeoutError, Sender};
use jitter::JitterStats;
use jitter::SLOT;

/// What a playback clock or a device pulls from the mix at a time: 5 ms,
/// half a slot. A frame then waits for a pull at most 5 ms past its hold,
/// and a sender's drifting clock is followed in 5 ms steps of silence
/// (`jitter`).
pub const PULL: usize = SLOT / 2;
use mixer::{Mixer, VoiceSettings};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

pub use wav_out::WavOut;

/// Where the mix goes. Called from the playback clock's thread only.
pub trait PlaybackSink: Send {
    /// What it is, for people ("WAV file /tmp/out.wav").
    fn describe(&self) -> String;
    /// Plays the next period of the mix (5 ms); an error stops playback.
    fn play(&mut self, pcm: &[i16]) -> anyhow::Result<()>;
    /// Playback is ending: finish files, drain devices.
    fn finish(&mut self) -> anyhow::Result<()>;
    /// A device that keeps its own time pulls the mix from its own callback
    /// (`Playback::pull`) once given `playback` here, and answers true: then
    /// the clock does not tick for it, and there is one clock, not two that
    /// drift apart. Files and other sinks the clock must feed answer false.
    fn drive(&mut self, _playback: &Playback) -> anyhow::Result<bool> {
        Ok(false)
    }
}

/// Plays nothing: the clock drives the mix for `--record` alone (its
/// `meeting.mkv` takes each pull) when nothing is played.
pub struct RecordingOnly;

impl PlaybackSink for RecordingOnly {
    fn describe(&self) -> String {
        "the recording only".to_string()
    }

    fn play(&mut self, _pcm: &[i16]) -> anyhow::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The playback back-ends: (how to name it, what it is), for help texts.
pub const PLAYBACK_SINKS: &[(&str, &str)] = &[
    (
        "PATH.wav",
        "a 48 kHz mono WAV file of exactly what the speakers would play, in real time",
    ),
    (
        "speaker[:NAME]",
        if cfg!(feature = "audio") {
            "a speaker: NAME (see --list-devices), else the default output"
        } else {
            "a speaker (this build has no device support: see --list-devices)"
        },
    ),
];

/// Opens the back-end `spec` names.
pub fn open_sink(spec: &str) -> anyhow::Result<Box<dyn PlaybackSink>> {
    if spec == "speaker" || spec.starts_with("speaker:") {
        return open_speaker(spec.strip_prefix("speaker:"));
    }
    Ok(Box::new(WavOut::create(std::path::Path::new(spec))?))
}

#[cfg(feature = "audio")]
fn open_speaker(name: Option<&str>) -> anyhow::Result<Box<dyn PlaybackSink>> {
    Ok(Box::new(speaker::Speaker::open(name)?))
}

#[cfg(not(feature = "audio"))]
fn open_speaker(_name: Option<&str>) -> anyhow::Result<Box<dyn PlaybackSink>> {
    anyhow::bail!("{}", crate::media::devices::AUDIO_BUILD_HINT)
}

/// The shared mixer: the audio reader pushes, the clock pulls, the main loop
/// sets volumes. Each holds the lock for one frame's work. Cloning shares it.
#[derive(Clone)]
pub struct Playback {
    mixer: Arc<Mutex<Mixer>>,
    clock: Arc<ClockCounters>,
    /// Something plays the mix: frames are taken only then (`/speaker`
    /// can start and stop playback during a session).
    playing: Arc<std::sync::atomic::AtomicBool>,
    /// From a pull of the mix to it being heard, µs: the device's buffer
    /// (a speaker says it in each callback); nothing for a file.
    output_delay_us: Arc<AtomicU64>,
    /// `--record`'s `meeting.mkv`: every pull of the mix goes there too,
    /// whoever pulls (the clock or a device's callback), so it holds what
    /// was heard, volumes and mutes applied.
    recording: Option<MkvFeed>,
}

impl Playback {
    pub fn new(me: ClientId) -> Playback {
        Playback {
            mixer: Arc::new(Mutex::new(Mixer::new(me))),
            clock: Arc::default(),
            playing: Arc::default(),
            output_delay_us: Arc::default(),
            recording: None,
        }
    }

    /// Records every pull of the mix to `feed` (set before it is cloned).
    pub fn with_recording(mut self, feed: Option<MkvFeed>) -> Playback {
        self.recording = feed;
        self
    }

    /// The device's delay from a pull to being heard, as it reports it.
    pub fn set_output_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.output_delay_us.store(micros, Ordering::Relaxed);
    }

    /// When what `member` captured at `sender_us` (on its clock) is heard
    /// here, by how its voice plays now; `None` when it has not been heard
    /// for a second (no voice to keep its pictures in step with).
    pub fn heard_at(&self, member: ClientId, sender_us: u64) -> Option<Instant> {
        let (pulled, heard_us) = self.mixer().heard(member)?;
        if pulled.elapsed() > Duration::from_secs(1) {
            return None;
        }
        // The stamp comes from the network: any value, no overflow.
        let ahead_us = i64::try_from(sender_us)
            .ok()?
            .checked_sub(heard_us)?
            .checked_add(i64::try_from(self.output_delay_us.load(Ordering::Relaxed)).ok()?)?;
        if ahead_us >= 0 {
            pulled.checked_add(Duration::from_micros(ahead_us.unsigned_abs()))
        } else {
            pulled.checked_sub(Duration::from_micros(ahead_us.unsigned_abs()))
        }
    }

    fn mixer(&self) -> MutexGuard<'_, Mixer> {
        common::sync::lock(&self.mixer)
    }

    /// The next stretch of the mix, up to 10 ms at a time.
    pub fn pull(&self, now: Instant, out: &mut [i16]) {
        self.mixer().pull(now, out);
        if let Some(recording) = &self.recording {
            recording.mix(out);
        }
    }

    pub fn set(
        &self,
        member: ClientId,
        percent: Option<u32>,
        muted: Option<bool>,
    ) -> VoiceSettings {
        self.mixer().set(member, percent, muted)
    }

    pub fn forget(&self, member: ClientId) {
        self.mixer().forget(member);
    }

    /// Our id changed (the session moved to another server).
    pub fn set_me(&self, me: ClientId) {
        self.mixer().set_me(me);
    }

    pub fn forget_all(&self) {
        self.mixer().forget_all();
    }

    pub fn member_stats(&self, member: ClientId) -> Option<JitterStats> {
        self.mixer().stats(member)
    }

    pub fn stats(&self) -> PlaybackStats {
        PlaybackStats {
            ticks: self.clock.ticks.load(Ordering::Relaxed),
            late_ticks: self.clock.late_ticks.load(Ordering::Relaxed),
            skipped_periods: self.clock.skipped.load(Ordering::Relaxed),
            mix_us_total: self.clock.mix_us.load(Ordering::Relaxed),
            softened_samples: self.mixer().softened,
        }
    }
}

impl Playback {
    /// Takes a frame of a member's audio, while something plays the mix.
    pub fn push(&self, header: &MediaHeader, pcm: &[i16]) {
        if self.playing.load(Ordering::Relaxed) {
            self.mixer().push(header, pcm, Instant::now());
        }
    }

    /// Starts or stops taking frames; stopping forgets what was queued, so
    /// playing again starts from fresh audio, not from old frames.
    pub fn set_playing(&self, playing: bool) {
        self.playing.store(playing, Ordering::Relaxed);
        if !playing {
            self.forget_all();
        }
    }
}

#[derive(Default)]
struct ClockCounters {
    ticks: AtomicU64,
    late_ticks: AtomicU64,
    skipped: AtomicU64,
    mix_us: AtomicU64,
}

/// The playback clock's figures, for `/stats`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct PlaybackStats {
    /// 5 ms periods played.
    pub ticks: u64,
    /// Periods the clock thread woke more than 5 ms late for; it catches up,
    /// so the output keeps real time (a device with a short buffer would
    /// have underrun).
    pub late_ticks: u64,
    /// Periods never played because the clock fell too far behind to catch up.
    pub skipped_periods: u64,
    /// Time spent mixing and writing, in µs, over all ticks.
    pub mix_us_total: u64,
    /// Samples the soft clipper bent (the mix was above -3 dBFS).
    pub softened_samples: u64,
}

/// A running playback clock; dropping it (or `stop`) ends it and finishes the sink.
pub struct PlaybackClock {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// The mixer it plays, to stop feeding it when the clock stops.
    playback: Playback,
    /// When the first period was due, for measuring delay from outside.
    pub started: SystemTime,
}

/// The clock's period: what it pulls and plays at a time (`PULL`).
const PERIOD: std::time::Duration = std::time::Duration::from_millis(5);
/// How late the clock may wake before a tick counts as late.
const LATE_TICK: std::time::Duration = std::time::Duration::from_millis(5);
/// A clock that fell more than this many periods behind skips ahead rather
/// than playing a burst (a device would have underrun).
const MAX_CATCH_UP: u32 = 20;

impl PlaybackClock {
    pub fn start(playback: Playback, mut sink: Box<dyn PlaybackSink>) -> std::io::Result<Self> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        // Period n is due at `epoch + n * 5 ms` whenever the thread gets to
        // run, so sample n of the output belongs to `started + n / 48 kHz`.
        let epoch = Instant::now();
        let started = SystemTime::now();
        let self_driven = sink.drive(&playback).map_err(std::io::Error::other)?;
        playback.set_playing(true);
        let handle = playback.clone();
        let thread = std::thread::Builder::new()
            .name("playback".into())
            .spawn(move || {
                if self_driven {
                    // The device's callback plays; wait for the end, then finish.
                    let _ = stopped.recv();
                    if let Err(err) = sink.finish() {
                        tracing::warn!("could not finish {}: {err:#}", sink.describe());
                    }
                    return;
                }
                let mut next = epoch;
                let mut pcm = [0i16; PULL];
                // Until the stop sender is dropped.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_deadline(next) {
                    let woke = Instant::now();
                    if woke > next + LATE_TICK {
                        playback.clock.late_ticks.fetch_add(1, Ordering::Relaxed);
                    }
                    if woke > next + PERIOD * MAX_CATCH_UP {
                        let behind = (woke - next).as_micros() / PERIOD.as_micros();
                        playback
                            .clock
                            .skipped
                            .fetch_add(behind as u64, Ordering::Relaxed);
                        next = woke;
                    }
                    // Every period due by now is played, so the output keeps
                    // real time like a device's.
                    while next <= woke {
                        playback.pull(Instant::now(), &mut pcm);
                        if let Err(err) = sink.play(&pcm) {
                            tracing::warn!("playback stopped: {err:#}");
                            return;
                        }
                        playback.clock.ticks.fetch_add(1, Ordering::Relaxed);
                        next += PERIOD;
                    }
                    let spent = woke.elapsed().as_micros() as u64;
                    playback.clock.mix_us.fetch_add(spent, Ordering::Relaxed);
                }
                if let Err(err) = sink.finish() {
                    tracing::warn!("could not finish {}: {err:#}", sink.describe());
                }
            })?;
        Ok(PlaybackClock {
            stop: Some(stop),
            thread: Some(thread),
            playback: handle,
            started,
        })
    }

    /// Stops the clock and waits until the sink is finished.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            self.playback.set_playing(false);
        }
    }
}

impl Drop for PlaybackClock {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
