//! Media kinds, what the protocol says about each (the kind table, `MEDIA`),
//! and one value per kind (`PerKind`).
//!
//! Every kind of media (video, audio, ...) travels on its own socket with its own
//! frame type and limits; those facts, and the defaults the programs take for
//! each kind, live in one table, `MEDIA`, beside the kind. Code that keeps
//! something per kind (a socket, a counter, a "sharing" flag) holds a
//! `PerKind<T>` indexed by the kind, never a pair of named fields, and every
//! place that must handle a new kind is one that iterates `MediaKind::ALL`.
//!
//! Adding a kind, common's part, is two edits in this file:
//!
//! 1. its name in the `media_kinds!` list below: the `MediaKind` variant, its
//!    place in `ALL` and `COUNT` follow from it;
//! 2. its row in `MEDIA`, which the compiler then asks for: its name on the
//!    wire, a frame type byte, its largest payload (a `MAX_*_PAYLOAD` in
//!    `protocol.rs`), what its body is, the server's default queue length for
//!    it, and what loadgen sends of it unless told otherwise. Checks under the
//!    table refuse to compile a row out of place, or a frame type or a name
//!    another kind (or control) already has.
//!
//! Nothing else in common changes: `FrameKind` finds the kind by its type
//! byte, `attach`, `media` and serde find it by its name, and every per-kind
//! field on the wire (the members' sharing flags, the server's traffic
//! figures) is a `PerKind`, one JSON key per kind. A body that needs parsing
//! gets a module of its own, as `audio.rs` and `layers.rs` are for audio and
//! video. Beyond common: the server's default queues and loadgen's default
//! traffic come from the row; what a kind does (video layers, screen control,
//! the client's sources and sinks) is each program's, and docs/PROTOCOL.md
//! lists the kinds for people.

use crate::protocol::{
    AUDIO_FRAME, AUDIO_FRAME_SAMPLES, CONTROL_FRAME_TYPE, MAX_AUDIO_PAYLOAD, MAX_SCREEN_PAYLOAD,
    MAX_VIDEO_PAYLOAD, MEDIA_HEADER_LEN,
};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;
use std::ops::{Index, IndexMut};
use std::time::Duration;

/// Declares `MediaKind` with one variant per name, with `ALL` (every kind, in
/// the order named) and `COUNT` made from the same list, so they cannot
/// disagree with the enum.
macro_rules! media_kinds {
    ($($kind:ident),+ $(,)?) => {
        /// A kind of media stream; each has its own socket.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MediaKind {
            $($kind),+
        }

        impl MediaKind {
            /// How many kinds there are.
            pub const COUNT: usize = [$(MediaKind::$kind),+].len();
            /// Every kind, in `index()` order.
            pub const ALL: [MediaKind; MediaKind::COUNT] = [$(MediaKind::$kind),+];
        }
    };
}

media_kinds!(Video, Audio, Screen);

impl MediaKind {
    /// Its place in `ALL` and in `MEDIA`.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// What the protocol says about this kind: name, frame type, limits,
    /// body, and the programs' defaults for it.
    pub fn spec(self) -> &'static MediaSpec {
        &MEDIA[self.index()]
    }

    /// The kind's name on the wire and to people (`video`).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The kind with this wire name.
    pub fn from_name(name: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// What the protocol says about one kind of media, and the defaults the
/// programs take for it.
#[derive(Debug)]
pub struct MediaSpec {
    pub kind: MediaKind,
    /// Its name on the wire (`attach`, `media`, JSON keys) and to people.
    pub name: &'static str,
    /// The type byte of its frames.
    pub frame_type: u8,
    /// The largest payload (media header included) a frame may carry.
    pub max_payload: u32,
    /// What follows the media header, for people and documents.
    pub body: &'static str,
    /// Frames the server queues for one receiver unless `--queue KIND=N`
    /// says otherwise: enough to ride out a scheduling hiccup, few enough
    /// that a late receiver is never shown old pictures or played old sound.
    /// Past it the oldest are dropped.
    pub default_queue: usize,
    /// What a simulated member (loadgen) sends of this kind unless its
    /// command line says otherwise.
    pub simulated: SimulatedTraffic,
}

/// A simulated sender's frames of one kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulatedTraffic {
    /// Bytes of each frame's payload, its media header included.
    pub payload_bytes: usize,
    /// Frames a second; 0: as fast as the sender can.
    pub frames_per_second: f64,
}

impl SimulatedTraffic {
    /// The time from one frame to the next; None: as fast as the sender can.
    pub fn period(&self) -> Option<Duration> {
        (self.frames_per_second > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / self.frames_per_second))
    }
}

/// Every media kind, in `MediaKind::index()` order. Each has its own socket.
pub const MEDIA: [MediaSpec; MediaKind::COUNT] = [
    MediaSpec {
        kind: MediaKind::Video,
        name: "video",
        frame_type: 0x02,
        max_payload: MAX_VIDEO_PAYLOAD,
        body: "one JPEG image",
        // About half a second at 15 fps.
        default_queue: 8,
        // docs/BENCHMARKS.md's meeting of 8: 20 kB pictures, 30 a second.
        simulated: SimulatedTraffic {
            payload_bytes: 20_000,
            frames_per_second: 30.0,
        },
    },
    MediaSpec {
        kind: MediaKind::Audio,
        name: "audio",
        frame_type: 0x03,
        max_payload: MAX_AUDIO_PAYLOAD,
        body: "PCM (s16 little-endian, mono, 48 kHz), or a codec byte and an Opus packet (audio.rs)",
        // 320 ms of 20 ms frames, more than the jitter buffer's largest target.
        default_queue: 16,
        // PCM as the protocol frames it: 20 ms of 16-bit samples, 50 a second.
        simulated: SimulatedTraffic {
            payload_bytes: MEDIA_HEADER_LEN + AUDIO_FRAME_SAMPLES * 2,
            frames_per_second: 1.0 / AUDIO_FRAME.as_secs_f64(),
        },
    },
    MediaSpec {
        kind: MediaKind::Screen,
        name: "screen",
        frame_type: 0x04,
        max_payload: MAX_SCREEN_PAYLOAD,
        body: "changed tiles of a shared screen (docs/PROTOCOL.md, screen body)",
        // Screen updates are changes: a dropped one costs the receiver a
        // keyframe, so hold about a second of them (8 at the usual 8 fps).
        default_queue: 8,
        // Unused: loadgen's `--screen-every` sends a screen of its own
        // (8 changes a second and a keyframe every 10 s, `payload.rs`).
        simulated: SimulatedTraffic {
            payload_bytes: 20_000,
            frames_per_second: 30.0,
        },
    },
];

// The table is checked as it compiles: each row in its kind's place, and no
// frame type or name taken twice (or a frame type taken from control).
const _: () = {
    let mut place = 0;
    while place < MediaKind::COUNT {
        let row = &MEDIA[place];
        assert!(
            row.kind.index() == place,
            "a MEDIA row is not in its kind's place"
        );
        assert!(
            row.frame_type != CONTROL_FRAME_TYPE,
            "a media kind has control's frame type"
        );
        let mut before = 0;
        while before < place {
            assert!(
                MEDIA[before].frame_type != row.frame_type,
                "two media kinds have one frame type"
            );
            assert!(
                !same_str(MEDIA[before].name, row.name),
                "two media kinds have one name"
            );
            before += 1;
        }
        place += 1;
    }
};

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut at = 0;
    while at < a.len() {
        if a[at] != b[at] {
            return false;
        }
        at += 1;
    }
    true
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for MediaKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for MediaKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MediaKind, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        MediaKind::from_name(&name).ok_or_else(|| {
            let names: Vec<&str> = MediaKind::ALL.iter().map(|kind| kind.name()).collect();
            serde::de::Error::custom(format!(
                "unknown media kind '{name}' (one of: {})",
                names.join(", ")
            ))
        })
    }
}

/// One value per media kind, indexed by the kind.
///
/// In JSON it is one key per kind (`{"video": .., "audio": ..}`), so it can be
/// flattened into a message and keep the documented shape. A kind missing on
/// input takes its default, so a peer that predates a kind is still understood.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PerKind<T>([T; MediaKind::COUNT]);

impl<T> PerKind<T> {
    /// A value for every kind, made by `make`.
    pub fn from_fn(mut make: impl FnMut(MediaKind) -> T) -> PerKind<T> {
        PerKind(MediaKind::ALL.map(&mut make))
    }

    /// A value for every kind, or the first error `make` returned.
    pub fn try_from_fn<E>(
        mut make: impl FnMut(MediaKind) -> Result<T, E>,
    ) -> Result<PerKind<T>, E> {
        let mut values = Vec::with_capacity(MediaKind::COUNT);
        for kind in MediaKind::ALL {
            values.push(make(kind)?);
        }
        match values.try_into() {
            Ok(values) => Ok(PerKind(values)),
            Err(_) => unreachable!("one value per kind was made"),
        }
    }

    /// Every kind with its value, in `MediaKind::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (MediaKind, &T)> {
        MediaKind::ALL.into_iter().zip(self.0.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (MediaKind, &mut T)> {
        MediaKind::ALL.into_iter().zip(self.0.iter_mut())
    }

    /// Every value, in `MediaKind::ALL` order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    pub fn map<U>(self, mut f: impl FnMut(MediaKind, T) -> U) -> PerKind<U> {
        let mut kinds = MediaKind::ALL.into_iter();
        PerKind(self.0.map(|value| {
            // `ALL` has exactly one kind per value.
            f(kinds.next().unwrap_or(MediaKind::Video), value)
        }))
    }
}

impl<T: Clone> PerKind<T> {
    /// The same value for every kind.
    pub fn splat(value: T) -> PerKind<T> {
        PerKind::from_fn(|_| value.clone())
    }
}

impl<T> IntoIterator for PerKind<T> {
    type Item = (MediaKind, T);
    type IntoIter = std::iter::Zip<
        std::array::IntoIter<MediaKind, { MediaKind::COUNT }>,
        std::array::IntoIter<T, { MediaKind::COUNT }>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        MediaKind::ALL.into_iter().zip(self.0)
    }
}

impl<T> Index<MediaKind> for PerKind<T> {
    type Output = T;

    fn index(&self, kind: MediaKind) -> &T {
        &self.0[kind.index()]
    }
}

impl<T> IndexMut<MediaKind> for PerKind<T> {
    fn index_mut(&mut self, kind: MediaKind) -> &mut T {
        &mut self.0[kind.index()]
    }
}

impl<T: Serialize> Serialize for PerKind<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(MediaKind::COUNT))?;
        for (kind, value) in self.iter() {
            map.serialize_entry(kind.name(), value)?;
        }
        map.end()
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for PerKind<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PerKind<T>, D::Error> {
        struct PerKindVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for PerKindVisitor<T> {
            type Value = PerKind<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with one key per media kind")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PerKind<T>, A::Error> {
                let mut values = PerKind::<T>::from_fn(|_| T::default());
                // Keys that are no media kind belong to the message this is
                // flattened into (or to a newer peer): skip them.
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match MediaKind::from_name(&key) {
                        Some(kind) => values[kind] = map.next_value()?,
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(values)
            }
        }

        deserializer.deserialize_map(PerKindVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_place_in_all_and_in_the_table() {
        for (place, kind) in MediaKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), place, "{kind}");
            assert_eq!(kind.spec().kind, kind, "MEDIA row {place}");
        }
    }

    #[test]
    fn kinds_travel_by_name() {
        for kind in MediaKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(
                serde_json::from_str::<MediaKind>(&json).expect("parses"),
                kind
            );
        }
        let err = serde_json::from_str::<MediaKind>("\"smell\"").expect_err("unknown");
        assert!(err.to_string().contains("unknown media kind"), "{err}");
    }

    #[test]
    fn per_kind_is_one_key_per_kind_and_tolerates_missing_and_extra_keys() {
        let mut sharing = PerKind::splat(false);
        sharing[MediaKind::Audio] = true;
        let json = serde_json::to_value(sharing).expect("serialises");
        assert_eq!(json["audio"], true);
        assert_eq!(json["video"], false);
        assert_eq!(
            json.as_object().map(|o| o.len()),
            Some(MediaKind::COUNT),
            "{json}"
        );

        let back: PerKind<bool> =
            serde_json::from_str(r#"{"audio": true, "name": "ana"}"#).expect("parses");
        assert!(back[MediaKind::Audio]);
        assert!(!back[MediaKind::Video], "a missing kind takes its default");
    }
}
