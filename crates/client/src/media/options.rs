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
}

/// The command line's defaults.
impl Default for MediaOptions {
    fn default() -> MediaOptions {
        MediaOptions {
            video: VideoSettings::default(),
            camera: None,
            mic: None,
            audio_codec: crate::media::audio::codec::default_codec(),
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
