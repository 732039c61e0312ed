//! The media kinds as this client sends and receives them: one module per
//! kind (`video`, `audio`, `screen`), each with its sources in a table, and
//! `devices`, the cameras, microphones and speakers there are.

pub mod audio;
pub mod devices;
pub mod screen;
pub mod video;

use common::MediaKind;

/// The sources of one kind: (how to name it, what it is).
pub fn sources(kind: MediaKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        MediaKind::Video => video::VIDEO_SOURCES,
        MediaKind::Audio => audio::AUDIO_SOURCES,
        MediaKind::Screen => screen::SCREEN_SOURCES,
    }
}

/// One line per source, for help texts.
pub fn describe_sources(table: &[(&str, &str)]) -> String {
    table
        .iter()
        .map(|(name, what)| format!("  {name:<12} {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}
