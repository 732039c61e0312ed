//! Arbitrary bytes as a control message's JSON, both ways: as a `Request`
//! (what the server parses from clients) and as an `Event` (what clients
//! parse from the server).
//!
//! Property: no panic, and whatever parses survives a round trip: serialised
//! and parsed again it is the same value, serialising that gives the same
//! bytes, and the same holds through a control `Frame` (the path on the
//! wire).

#![no_main]

use common::{Event, Frame, FrameKind, Request};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

fn round_trip<T>(data: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let Ok(value) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let json = serde_json::to_vec(&value).expect("a parsed message serialises");
    let again: T = serde_json::from_slice(&json).unwrap_or_else(|err| {
        panic!(
            "own output does not parse: {err}\n  json: {}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(value, again, "json: {}", String::from_utf8_lossy(&json));
    let json_again = serde_json::to_vec(&again).expect("serialises");
    assert_eq!(json, json_again, "serialising is not stable");

    let frame = Frame::control(&value);
    assert_eq!(frame.kind(), FrameKind::Control);
    assert_eq!(frame.payload(), json.as_slice());
    assert_eq!(frame.parse_control::<T>().ok().as_ref(), Some(&value));
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Request>(data);
    round_trip::<Event>(data);
});
