//! The audio driver: frames of PCM from a source (a tone, a WAV file, a
//! microphone), 10 ms each unless `--audio-frame-ms 20`, encoded (`codec`:
//! Opus or PCM) and sent; what is
//! received is decoded back to PCM for the recording (`record`), the level
//! meter (`crate::level`) and playback (`crate::playback`).
//!
//! Like the video sources, every source is one file and one row in the
//! table (`AUDIO_SOURCES`: its name, what it is, how it opens); the
//! microphone joins behind a cargo feature.

pub mod codec;
mod gate;
#[cfg(feature = "audio")]
mod mic;
pub mod record;
mod sync;
mod tone;
mod wav;

use super::driver::{
    Driver, DriverSpec, Opened, Outlet, Outputs, Producer, Received, Receiver, Source, Takes,
    about, open_source,
};
use super::options::MediaOptions;
use crate::level::MemberLevels;
use crate::playback::Playback;
use crate::sink;
use codec::{AudioDecoders, AudioEncoder};
use common::{Event, Frame, MediaHeader, MediaKind};
use gate::{Pass, VoiceGate};
use record::AudioRecorder;
use std::path::Path;
use std::time::{Duration, Instant};

#[cfg(feature = "audio")]
pub use mic::Microphone;
pub use tone::Tone;
pub use wav::WavFile;

/// Produces PCM frames: mono s16 at 48 kHz, as many samples per call as
/// `frame` holds (a frame's length).
pub trait AudioSource: Send {
    fn describe(&self) -> String;
    fn fill(&mut self, frame: &mut [i16]) -> anyhow::Result<()>;
    /// A device that keeps its own time: `fill` waits until the frame is
    /// complete, and the frame is sent the moment it is (not on the send
    /// thread's next tick, up to a frame later).
    fn paced(&self) -> bool {
        false
    }
}

/// The audio sources, the default first.
pub const AUDIO_SOURCES: &[Source<Box<dyn AudioSource>>] = &[
    Source {
        name: "tone[:HZ]",
        help: "a sine tone, 440 Hz unless HZ is given (the default)",
        takes: Takes::Word("tone"),
        open: |spec, _| {
            let Some(hz) = spec.strip_prefix("tone:") else {
                return Ok(Box::new(Tone::new(440.0)?));
            };
            let hz: f64 = hz
                .parse()
                .map_err(|_| anyhow::anyhow!("tone:{hz}: the frequency must be a number of Hz"))?;
            Ok(Box::new(Tone::new(hz)?))
        },
    },
    Source {
        name: "sync",
        help: "a 1 kHz beep once a second, with the sync video's flash (for lip sync)",
        takes: Takes::Word("sync"),
        open: |_, _| Ok(Box::new(sync::SyncBeep)),
    },
    Source {
        name: "PATH.wav",
        help: "a 48 kHz WAV file (mono or stereo, 16-bit or float), looped",
        takes: Takes::Other,
        open: |path, _| Ok(Box::new(WavFile::open(Path::new(path))?)),
    },
    Source {
        name: "mic[:NAME]",
        help: if cfg!(feature = "audio") {
            "a microphone: NAME, else --mic, else the default input (see --list-devices)"
        } else {
            "a microphone (this build has no device support: see --list-devices)"
        },
        takes: Takes::Word("mic"),
        open: |spec, options| open_microphone(spec.strip_prefix("mic:").or(options.mic.as_deref())),
    },
];

#[cfg(feature = "audio")]
fn open_microphone(name: Option<&str>) -> anyhow::Result<Box<dyn AudioSource>> {
    Ok(Box::new(Microphone::open(name)?))
}

#[cfg(not(feature = "audio"))]
fn open_microphone(_name: Option<&str>) -> anyhow::Result<Box<dyn AudioSource>> {
    anyhow::bail!("{}", super::devices::AUDIO_BUILD_HINT)
}

/// Audio's row of the kind table.
pub const DRIVER: DriverSpec = DriverSpec {
    kind: MediaKind::Audio,
    sources: || about(AUDIO_SOURCES),
    start: |outputs| Box::new(Audio::new(outputs)),
};

/// Where received audio goes, decoded: 20 ms of mono s16 PCM at a time.
pub trait AudioSink: Send {
    /// Takes 20 ms of mono s16 PCM; an error stops this sink (the others go on).
    fn frame(&mut self, header: &MediaHeader, pcm: &[i16]) -> anyhow::Result<()>;
}

/// Who is speaking: every member's level.
impl AudioSink for MemberLevels {
    fn frame(&mut self, header: &MediaHeader, pcm: &[i16]) -> anyhow::Result<()> {
        self.heard(header.sender, pcm, Instant::now());
        Ok(())
    }
}

/// The mix: each member's jitter buffer (it takes frames only while
/// something plays).
impl AudioSink for Playback {
    fn frame(&mut self, header: &MediaHeader, pcm: &[i16]) -> anyhow::Result<()> {
        self.push(header, pcm);
        Ok(())
    }
}

/// The audio driver: sends a source encoded in the chosen codec; decodes
/// what it receives for the recording, the level meter and playback, and
/// finishes a member's recording and jitter buffer when they leave.
struct Audio {
    outputs: Outputs,
    /// `--record`'s audio files: the receiver writes them, the driver
    /// finishes a member's when it leaves.
    recorder: Option<AudioRecorder>,
}

impl Audio {
    fn new(outputs: &Outputs) -> Audio {
        Audio {
            outputs: outputs.clone(),
            recorder: outputs.record.as_deref().map(AudioRecorder::new),
        }
    }
}

impl Driver for Audio {
    fn open(&mut self, source: Option<&str>, options: &MediaOptions) -> anyhow::Result<Opened> {
        let source = open_source(AUDIO_SOURCES, source, options)?;
        let encoder = AudioEncoder::new(options.audio_codec)?;
        let frame = options.audio_frame;
        Ok(Opened {
            description: format!(
                "{} ({}, {} ms frames)",
                source.describe(),
                encoder.codec(),
                frame.millis()
            ),
            producer: Box::new(Encoded {
                source,
                encoder,
                frame,
                gate: VoiceGate::new(frame.duration()),
                held: None,
            }),
            input: None,
        })
    }

    fn receiver(&mut self) -> Box<dyn Receiver> {
        let mut sinks: Vec<Box<dyn AudioSink>> = Vec::new();
        if let Some(recorder) = &self.recorder {
            sinks.push(Box::new(recorder.clone()));
        }
        sinks.push(Box::new(self.outputs.levels.clone()));
        // Always: `/speaker` may start playback later.
        sinks.push(Box::new(self.outputs.playback.clone()));
        Box::new(Decoding {
            sinks,
            decoders: AudioDecoders::default(),
        })
    }

    fn event(&mut self, event: &Event, in_meeting: bool) {
        match event {
            Event::MemberLeft { member, .. } => {
                self.outputs.playback.forget(member.id);
                if let Some(recorder) = &self.recorder {
                    recorder.finish(member.id);
                }
            }
            Event::Left { .. } | Event::Ended { .. } if !in_meeting => {
                self.outputs.playback.forget_all();
                if let Some(recorder) = &self.recorder {
                    recorder.finish_all();
                }
            }
            _ => {}
        }
    }
}

/// A source and what encodes its frames (Opus or PCM): one frame every
/// frame's length, sent while the voice gate lets it through.
struct Encoded {
    source: Box<dyn AudioSource>,
    encoder: AudioEncoder,
    frame: super::options::AudioFrame,
    gate: VoiceGate,
    /// The last frame, encoded but held back in silence: it goes out
    /// ahead of the frame that opens the gate.
    held: Option<Vec<u8>>,
}

impl Producer for Encoded {
    fn interval(&self) -> Duration {
        self.frame.duration()
    }

    fn paced_by_source(&self) -> bool {
        self.source.paced()
    }

    fn send(&mut self, out: &mut Outlet<'_>) -> anyhow::Result<()> {
        let mut pcm = [0i16; common::protocol::AUDIO_FRAME_SAMPLES];
        let pcm = &mut pcm[..self.frame.samples()];
        self.source.fill(pcm)?;
        // Every frame is encoded, sent or not: the encoder's state runs on,
        // and a held frame can still lead speech in.
        let body = self.encoder.encode(pcm)?;
        match self.gate.pass(crate::level::rms_dbfs(pcm)) {
            Pass::Hold => {
                out.stats().audio_held_silent();
                self.held = Some(body);
            }
            Pass::Send(level) => {
                out.send_with_level(&body, level, Duration::ZERO);
            }
            Pass::SendAfterPrevious(level) => {
                let previous = self.held.take();
                let sent = previous.is_none_or(|previous| {
                    out.send_with_level(&previous, level, self.frame.duration())
                });
                if sent {
                    out.send_with_level(&body, level, Duration::ZERO);
                }
            }
        }
        Ok(())
    }
}

/// Received audio: PCM or Opus, each sender's decoded to PCM frames
/// (frames the decoder made up for lost ones included) for every sink.
struct Decoding {
    sinks: Vec<Box<dyn AudioSink>>,
    decoders: AudioDecoders,
}

impl Receiver for Decoding {
    fn frame(&mut self, header: &MediaHeader, frame: Frame, ctx: &dyn Received) {
        if self.sinks.is_empty() {
            return;
        }
        let sinks = &mut self.sinks;
        self.decoders
            .decode(header, frame.media_body(), |header, pcm| {
                sink::deliver(sinks, |s| s.frame(header, pcm));
            });
        if let Some(decoded) = self.decoders.stats(header.sender) {
            ctx.stats().audio_decoded(header.sender, decoded);
        }
    }
}
