//! Arbitrary bytes as a media payload's `MediaHeader`.
//!
//! Properties: decoding fails exactly when there are fewer than 16 bytes;
//! a decoded header encodes back to the 16 bytes it came from, and decodes
//! again to the same header; a media `Frame` built from it gives back the
//! header and the body, and the server's sender stamp changes the sender
//! and nothing else.

#![no_main]

use common::{ClientId, Frame, FrameKind, MediaHeader, MediaKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = MediaHeader::decode(data) else {
        assert!(
            data.len() < MediaHeader::LEN,
            "{} bytes refused",
            data.len()
        );
        return;
    };
    assert!(data.len() >= MediaHeader::LEN);
    let encoded = header.encode();
    assert_eq!(&encoded[..], &data[..MediaHeader::LEN]);
    assert_eq!(MediaHeader::decode(&encoded).ok(), Some(header));

    let body = &data[MediaHeader::LEN..];
    let kind = MediaKind::ALL[usize::from(data[0]) % MediaKind::COUNT];
    let mut frame = Frame::media(kind, header, body);
    assert_eq!(frame.kind(), FrameKind::Media(kind));
    assert_eq!(frame.payload(), data);
    assert_eq!(frame.media_header().ok(), Some(header));
    assert_eq!(frame.media_body(), body);

    let stamp = ClientId(header.sequence ^ 0x5a5a_5a5a);
    frame.stamp_sender(stamp);
    let stamped = MediaHeader {
        sender: stamp,
        ..header
    };
    assert_eq!(frame.media_header().ok(), Some(stamped));
    assert_eq!(frame.media_body(), body);
});
