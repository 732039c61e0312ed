//! Media kinds, what the protocol says about each (the kind table, `MEDIA`),
//! and one value per kind.
//!
//! Every kind of media (video, audio, ...) travels on its own socket with its own
//! frame type and limits; those facts live in one table, `MEDIA`, beside the kind.
//! Code that keeps something per kind (a socket, a counter, a "sharing" flag)
//! holds a `PerKind<T>` indexed by the kind, never a pair of named fields, so a
//! new kind is one variant and one table row, and every place that must handle
//! it is one that iterates `MediaKind::ALL`.

use crate::protocol::{MAX_AUDIO_PAYLOAD, MAX_SCREEN_PAYLOAD, MAX_VIDEO_PAYLOAD};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt;
use std::ops::{Index, IndexMut};

/// A kind of media stream; each has its own socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaKind {
    Video,
    Audio,
    Screen,
}

impl MediaKind {
    /// How many kinds there are.
    pub const COUNT: usize = 3;
    /// Every kind, in `index()` order.
    pub const ALL: [MediaKind; MediaKind::COUNT] =
        [MediaKind::Video, MediaKind::Audio, MediaKind::Screen];

    /// Its place in `ALL` and in `MEDIA`.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// What the protocol says about this kind: name, frame type, limits, body.
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

/// What the protocol says about one kind of media.
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
}

/// Every media kind, in `MediaKind::index()` order. Each has its own socket.
pub const MEDIA: [MediaSpec; MediaKind::COUNT] = [
    MediaSpec {
        kind: MediaKind::Video,
        name: "video",
        frame_type: 0x02,
        max_payload: MAX_VIDEO_PAYLOAD,
        body: "one JPEG image",
    },
    MediaSpec {
        kind: MediaKind::Audio,
        name: "audio",
        frame_type: 0x03,
        max_payload: MAX_AUDIO_PAYLOAD,
        body: "PCM (s16 little-endian, mono, 48 kHz), or a codec byte and an Opus packet (audio.rs)",
    },
    MediaSpec {
        kind: MediaKind::Screen,
        name: "screen",
        frame_type: 0x04,
        max_payload: MAX_SCREEN_PAYLOAD,
        body: "changed tiles of a shared screen (docs/PROTOCOL.md, screen body)",
    },
];

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
