//! The media kinds as this client sends and receives them, as librespot
//! has its audio back-ends: one driver per kind (`video`, `audio`, `screen`),
//! each a folder that owns the kind's sources (a table of name, what it is,
//! and how it opens), what sends it, and what becomes of what is received
//! (recording, the view, playback). `DRIVERS` is the kind table the rest of
//! the client finds them through; `driver` holds the traits they implement,
//! `options` what the user chose for them, `devices` the cameras,
//! microphones and speakers there are.
//!
//! A new kind is its name and its row in common's `media.rs` (`MediaKind`,
//! `MEDIA`), one folder here with its driver (sources, producer, receiver,
//! sink), one row in `DRIVERS` (the compiler asks for it), its `/KIND` row
//! in the command table (a test asks for it), and whatever it needs in the
//! view.

pub mod audio;
pub mod devices;
pub mod driver;
pub mod options;
pub mod screen;
pub mod sync_clock;
pub mod video;

use common::MediaKind;
use driver::DriverSpec;

/// Every kind's driver, in `MediaKind::ALL` order.
pub const DRIVERS: [DriverSpec; MediaKind::COUNT] = [video::DRIVER, audio::DRIVER, screen::DRIVER];

/// The driver of `kind`.
pub fn driver(kind: MediaKind) -> &'static DriverSpec {
    &DRIVERS[kind.index()]
}

/// The sources of one kind: (how to name it, what it is), the default first.
pub fn sources(kind: MediaKind) -> Vec<(&'static str, &'static str)> {
    (driver(kind).sources)()
}

/// One line per source, for help texts.
pub fn describe_sources(table: &[(&str, &str)]) -> String {
    table
        .iter()
        .map(|(name, what)| format!("  {name:<12} {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_driver_in_its_place() {
        for kind in MediaKind::ALL {
            assert_eq!(driver(kind).kind, kind);
            assert!(!sources(kind).is_empty(), "{kind} shares from something");
        }
    }
}
