//! What the user chose for the media this client sends: the video's size
//! and rate, the camera and the microphone the `camera` and `mic` sources
//! open (`--camera`, `--mic`; `/camera` and `/mic` change them), and the
//! codec audio is sent in. Every source opens with them.

use common::{AudioCodec, MediaKind};

/// The choices every source opens with.
#[derive(Clone, Debug)]
pub struct MediaOptions {
    pub video: VideoSettings,
    /// The camera `/video on camera` opens (`--camera`); None: the first one.
    pub camera: Option<String>,
    /// The microphone `/audio on mic` opens (`--mic`); None: the default one.
    pub mic: Option<String>,
    /// The codec our audio is sent in (`--audio-codec`).
    pub audio_codec: AudioCodec,
    /// How long each audio frame we send is (`--audio-frame-ms`).
    pub audio_frame: AudioFrame,
}

/// The length of the audio frames we send: 10 ms (the default: the frame
/// waits half as long to be full, for 100 packets a second) or 20 ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFrame(u8);

impl AudioFrame {
    pub const TEN_MS: AudioFrame = AudioFrame(10);
    pub const TWENTY_MS: AudioFrame = AudioFrame(20);

    pub fn millis(self) -> u32 {
        u32::from(self.0)
    }

    pub fn samples(self) -> usize {
        usize::from(self.0) * 48
    }

    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.0))
    }
}

impl Default for AudioFrame {
    fn default() -> AudioFrame {
        AudioFrame::TEN_MS
    }
}

impl std::fmt::Display for AudioFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `--audio-frame-ms`: 10 or 20.
pub fn parse_audio_frame(text: &str) -> Result<AudioFrame, String> {
    match text.trim() {
        "10" => Ok(AudioFrame::TEN_MS),
        "20" => Ok(AudioFrame::TWENTY_MS),
        other => Err(format!("{other}: an audio frame is 10 or 20 ms")),
    }
}

/// The command line's defaults.
impl Default for MediaOptions {
    fn default() -> MediaOptions {
        MediaOptions {
            video: VideoSettings::default(),
            camera: None,
            mic: None,
            audio_codec: crate::media::audio::codec::default_codec(),
            audio_frame: AudioFrame::default(),
        }
    }
}

impl MediaOptions {
    /// `/mic` and `/camera`: the device its source opens from now on.
    pub fn choose(&mut self, device: DeviceKind, name: Option<String>) {
        match device {
            DeviceKind::Microphone => self.mic = name,
            DeviceKind::Camera => self.camera = name,
        }
    }
}

/// How video is produced when the source does not decide.
#[derive(Clone, Copy, Debug)]
pub struct VideoSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub quality: u8,
}

impl Default for VideoSettings {
    fn default() -> VideoSettings {
        VideoSettings {
            width: 640,
            height: 360,
            fps: 15,
            quality: 75,
        }
    }
}

/// The devices a member picks inside the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Microphone,
    Camera,
}

impl DeviceKind {
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Microphone => "microphone",
            DeviceKind::Camera => "camera",
        }
    }

    /// The kind it feeds, and the source that opens it (`/audio on mic`).
    pub fn source(self) -> (MediaKind, &'static str) {
        match self {
            DeviceKind::Microphone => (MediaKind::Audio, "mic"),
            DeviceKind::Camera => (MediaKind::Video, "camera"),
        }
    }
}
