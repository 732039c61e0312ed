//! Audio: 20 ms frames of PCM from a source (a tone, a WAV file, a
//! microphone), encoded (`codec`: Opus or PCM) and sent; what is received is
//! decoded back to PCM for the recording (`record`), the level meter and
//! playback.
//!
//! Like the video sources, every source is one file and one row in the
//! table (`AUDIO_SOURCES`); the microphone joins behind a cargo feature.

pub mod codec;
#[cfg(feature = "audio")]
mod mic;
pub mod record;
mod tone;
mod wav;

use common::protocol::AUDIO_FRAME_SAMPLES;
use std::path::Path;

#[cfg(feature = "audio")]
pub use mic::Microphone;
pub use tone::Tone;
pub use wav::WavFile;

/// Produces PCM frames: 20 ms of mono s16 at 48 kHz per call.
pub trait AudioSource: Send {
    fn describe(&self) -> String;
    fn fill(&mut self, frame: &mut [i16; AUDIO_FRAME_SAMPLES]) -> anyhow::Result<()>;
}

/// The audio sources: (how to name it, what it is).
pub const AUDIO_SOURCES: &[(&str, &str)] = &[
    (
        "tone[:HZ]",
        "a sine tone, 440 Hz unless HZ is given (the default)",
    ),
    (
        "PATH.wav",
        "a 48 kHz WAV file (mono or stereo, 16-bit or float), looped",
    ),
    (
        "mic[:NAME]",
        if cfg!(feature = "audio") {
            "a microphone: NAME, else --mic, else the default input (see --list-devices)"
        } else {
            "a microphone (this build has no device support: see --list-devices)"
        },
    ),
];

/// Opens an audio source; `mic` is the microphone `--mic` chose, if any.
pub fn open_audio_source(
    spec: Option<&str>,
    mic: Option<&str>,
) -> anyhow::Result<Box<dyn AudioSource>> {
    let spec = spec.unwrap_or("tone");
    if spec == "mic" || spec.starts_with("mic:") {
        let name = spec.strip_prefix("mic:").or(mic);
        return open_microphone(name);
    }
    if spec == "tone" {
        return Ok(Box::new(Tone::new(440.0)?));
    }
    if let Some(hz) = spec.strip_prefix("tone:") {
        let hz: f64 = hz
            .parse()
            .map_err(|_| anyhow::anyhow!("tone:{hz}: the frequency must be a number of Hz"))?;
        return Ok(Box::new(Tone::new(hz)?));
    }
    Ok(Box::new(WavFile::open(Path::new(spec))?))
}

#[cfg(feature = "audio")]
fn open_microphone(name: Option<&str>) -> anyhow::Result<Box<dyn AudioSource>> {
    Ok(Box::new(Microphone::open(name)?))
}

#[cfg(not(feature = "audio"))]
fn open_microphone(_name: Option<&str>) -> anyhow::Result<Box<dyn AudioSource>> {
    anyhow::bail!("{}", super::devices::AUDIO_BUILD_HINT)
}
