//! The frame: the unit of everything on the wire, and nothing else.
//!
//! ```text
//! +---------+--------------------+------------------------+
//! | type u8 | payload length u32 | payload (length bytes) |
//! +---------+--------------------+------------------------+
//!             big-endian
//! ```
//!
//! A `Frame` *is* its wire bytes (header included), so a relay can read a frame
//! into one buffer, stamp the sender into it and hand the same buffer to every
//! receiver. Media payloads start with a fixed `MediaHeader`.
//!
//! `FrameReader` checks the type and the length against the limits before it
//! allocates, so a peer announcing a 4 GiB frame costs nothing but an error.

use crate::error::ProtocolError;
pub use crate::frame_kind::FrameKind;
use crate::ids::ClientId;
use crate::media::MediaKind;
use crate::protocol::{CONTROL_FRAME_TYPE, FRAME_HEADER_LEN, MEDIA_HEADER_LEN};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::io::{self, BufReader, ErrorKind, Read, Write};

/// The fixed start of every media payload.
///
/// `sender` is written by the server (whatever a client puts there is
/// overwritten), so a receiver can trust it. `sequence` counts the sender's
/// frames of this kind from 0; `timestamp_us` is the sender's capture time in
/// microseconds on its own clock, for pacing and jitter buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaHeader {
    pub sender: ClientId,
    pub sequence: u32,
    pub timestamp_us: u64,
}

impl MediaHeader {
    pub const LEN: usize = MEDIA_HEADER_LEN;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0..4].copy_from_slice(&self.sender.0.to_be_bytes());
        out[4..8].copy_from_slice(&self.sequence.to_be_bytes());
        out[8..16].copy_from_slice(&self.timestamp_us.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<MediaHeader, ProtocolError> {
        let field = |range: std::ops::Range<usize>| {
            bytes.get(range).ok_or_else(|| {
                ProtocolError::Malformed("media frame shorter than its header".into())
            })
        };
        let sender = u32::from_be_bytes(array(field(0..4)?));
        let sequence = u32::from_be_bytes(array(field(4..8)?));
        let timestamp_us = u64::from_be_bytes(array(field(8..16)?));
        Ok(MediaHeader {
            sender: ClientId(sender),
            sequence,
            timestamp_us,
        })
    }
}

fn array<const N: usize>(slice: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(slice);
    out
}

/// One frame, stored exactly as it travels: header, then payload.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    bytes: Vec<u8>,
}

impl Frame {
    /// A control frame carrying one JSON message.
    pub fn control<T: Serialize>(message: &T) -> Frame {
        let mut bytes = vec![CONTROL_FRAME_TYPE, 0, 0, 0, 0];
        // Serialising our own message types into a Vec cannot fail.
        serde_json::to_writer(&mut bytes, message).unwrap_or_default();
        Frame::finish(bytes)
    }

    /// A media frame: header then body. The sender field is the server's to fill.
    pub fn media(kind: MediaKind, header: MediaHeader, body: &[u8]) -> Frame {
        let mut bytes = Vec::with_capacity(FRAME_HEADER_LEN + MediaHeader::LEN + body.len());
        bytes.extend_from_slice(&[kind.spec().frame_type, 0, 0, 0, 0]);
        bytes.extend_from_slice(&header.encode());
        bytes.extend_from_slice(body);
        Frame::finish(bytes)
    }

    fn finish(mut bytes: Vec<u8>) -> Frame {
        let len = (bytes.len() - FRAME_HEADER_LEN) as u32;
        bytes[1..FRAME_HEADER_LEN].copy_from_slice(&len.to_be_bytes());
        Frame { bytes }
    }

    pub fn kind(&self) -> FrameKind {
        // Every constructor writes a valid type byte.
        FrameKind::from_byte(self.bytes[0]).unwrap_or(FrameKind::Control)
    }

    pub fn payload(&self) -> &[u8] {
        &self.bytes[FRAME_HEADER_LEN..]
    }

    /// The whole frame as it goes on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Decodes the JSON message of a control frame.
    pub fn parse_control<T: DeserializeOwned>(&self) -> Result<T, ProtocolError> {
        if self.kind() != FrameKind::Control {
            return Err(ProtocolError::UnexpectedKind(self.kind()));
        }
        serde_json::from_slice(self.payload())
            .map_err(|err| ProtocolError::Malformed(err.to_string()))
    }

    /// The media header of a video or audio frame.
    pub fn media_header(&self) -> Result<MediaHeader, ProtocolError> {
        MediaHeader::decode(self.payload())
    }

    /// The media body (JPEG or PCM) after the media header; empty if there is none.
    pub fn media_body(&self) -> &[u8] {
        self.payload().get(MediaHeader::LEN..).unwrap_or_default()
    }

    /// Overwrites the sender of a media frame in place (the server's stamp).
    pub fn stamp_sender(&mut self, sender: ClientId) {
        let start = FRAME_HEADER_LEN;
        if let Some(field) = self.bytes.get_mut(start..start + 4) {
            field.copy_from_slice(&sender.0.to_be_bytes());
        }
    }

    pub fn write_to(&self, writer: &mut impl Write) -> io::Result<()> {
        writer.write_all(&self.bytes)
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("kind", &self.kind())
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

/// Reads whole frames from a byte stream, refusing types the connection does not
/// accept and lengths over the limit before allocating anything.
pub struct FrameReader<R> {
    inner: BufReader<R>,
    accepted: Vec<FrameKind>,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R, accepted: &[FrameKind]) -> FrameReader<R> {
        FrameReader {
            inner: BufReader::with_capacity(16 * 1024, inner),
            accepted: accepted.to_vec(),
        }
    }

    /// Changes which frame types are accepted (after a handshake, say).
    pub fn accept_only(&mut self, accepted: &[FrameKind]) {
        self.accepted = accepted.to_vec();
    }

    pub fn get_ref(&self) -> &R {
        self.inner.get_ref()
    }

    pub fn get_mut(&mut self) -> &mut R {
        self.inner.get_mut()
    }

    /// The next frame; `Ok(None)` when the peer closed cleanly between frames.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, ProtocolError> {
        let mut header = [0u8; FRAME_HEADER_LEN];
        if !read_exact_or_eof(&mut self.inner, &mut header)? {
            return Ok(None);
        }
        let kind = FrameKind::from_byte(header[0]).ok_or(ProtocolError::UnknownKind(header[0]))?;
        if !self.accepted.contains(&kind) {
            return Err(ProtocolError::UnexpectedKind(kind));
        }
        let len = u32::from_be_bytes(array(&header[1..]));
        let max = kind.max_payload();
        if len > max {
            return Err(ProtocolError::TooLarge { kind, len, max });
        }
        if kind != FrameKind::Control && (len as usize) < MediaHeader::LEN {
            return Err(ProtocolError::Malformed(format!(
                "{kind} frame of {len} bytes is shorter than the {}-byte media header",
                MediaHeader::LEN
            )));
        }
        let mut bytes = vec![0u8; FRAME_HEADER_LEN + len as usize];
        bytes[..FRAME_HEADER_LEN].copy_from_slice(&header);
        self.inner
            .read_exact(&mut bytes[FRAME_HEADER_LEN..])
            .map_err(truncated_on_eof)?;
        Ok(Some(Frame { bytes }))
    }
}

/// Fills `buf`; `Ok(false)` if the stream ended before the first byte.
fn read_exact_or_eof(reader: &mut impl Read, buf: &mut [u8]) -> Result<bool, ProtocolError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(ProtocolError::Truncated),
            Ok(n) => filled += n,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(true)
}

fn truncated_on_eof(err: io::Error) -> ProtocolError {
    if err.kind() == ErrorKind::UnexpectedEof {
        ProtocolError::Truncated
    } else {
        err.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Request;

    const ALL: &[FrameKind] = &[
        FrameKind::Control,
        FrameKind::Media(MediaKind::Video),
        FrameKind::Media(MediaKind::Audio),
    ];

    fn reader(bytes: Vec<u8>, accepted: &[FrameKind]) -> FrameReader<io::Cursor<Vec<u8>>> {
        FrameReader::new(io::Cursor::new(bytes), accepted)
    }

    #[test]
    fn every_type_byte_maps_back_to_its_kind() {
        for kind in std::iter::once(FrameKind::Control).chain(MediaKind::ALL.map(FrameKind::Media))
        {
            assert_eq!(FrameKind::from_byte(kind.byte()), Some(kind), "{kind}");
        }
        assert_eq!(FrameKind::from_byte(0x00), None);
    }

    #[test]
    fn control_frame_round_trips_with_big_endian_length() {
        let frame = Frame::control(&Request::Chat { text: "hi".into() });
        let json = br#"{"request":"chat","text":"hi"}"#;
        assert_eq!(frame.as_bytes()[0], 0x01);
        assert_eq!(&frame.as_bytes()[1..5], &(json.len() as u32).to_be_bytes());
        assert_eq!(frame.payload(), json);
        let mut r = reader(frame.clone().into_bytes(), ALL);
        let back = r.read_frame().expect("valid frame").expect("one frame");
        assert_eq!(back, frame);
        assert!(
            matches!(back.parse_control::<Request>(), Ok(Request::Chat { text }) if text == "hi")
        );
        assert!(r.read_frame().expect("clean end").is_none());
    }

    #[test]
    fn media_frame_carries_header_and_body() {
        let header = MediaHeader {
            sender: ClientId(0),
            sequence: 7,
            timestamp_us: 1 << 40,
        };
        let mut frame = Frame::media(MediaKind::Audio, header, &[1, 2, 3, 4]);
        frame.stamp_sender(ClientId(42));
        let mut r = reader(frame.into_bytes(), ALL);
        let back = r.read_frame().expect("valid").expect("frame");
        assert_eq!(back.kind(), FrameKind::Media(MediaKind::Audio));
        let decoded = back.media_header().expect("header");
        assert_eq!(
            decoded,
            MediaHeader {
                sender: ClientId(42),
                ..header
            }
        );
        assert_eq!(back.media_body(), &[1, 2, 3, 4]);
    }

    #[test]
    fn oversized_length_is_refused_before_reading_the_payload() {
        let mut bytes = vec![0x02];
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        let err = reader(bytes, ALL).read_frame().expect_err("too large");
        assert!(matches!(
            err,
            ProtocolError::TooLarge {
                kind: FrameKind::Media(MediaKind::Video),
                len: u32::MAX,
                ..
            }
        ));
        assert!(err.is_peer_fault());
    }

    #[test]
    fn unknown_and_unaccepted_types_are_errors() {
        let err = reader(vec![0x7f, 0, 0, 0, 0], ALL)
            .read_frame()
            .expect_err("unknown");
        assert!(matches!(err, ProtocolError::UnknownKind(0x7f)));
        let video = Frame::media(
            MediaKind::Video,
            MediaHeader {
                sender: ClientId(0),
                sequence: 0,
                timestamp_us: 0,
            },
            b"jpeg",
        );
        let err = reader(video.into_bytes(), &[FrameKind::Control])
            .read_frame()
            .expect_err("unaccepted");
        assert!(matches!(
            err,
            ProtocolError::UnexpectedKind(FrameKind::Media(MediaKind::Video))
        ));
    }

    #[test]
    fn media_frame_shorter_than_its_header_is_malformed() {
        let err = reader(vec![0x03, 0, 0, 0, 3, 1, 2, 3], ALL)
            .read_frame()
            .expect_err("short");
        assert!(matches!(err, ProtocolError::Malformed(_)));
    }

    #[test]
    fn end_of_stream_inside_a_frame_is_truncation() {
        let frame = Frame::control(&Request::Leave).into_bytes();
        for cut in 1..frame.len() {
            let err = reader(frame[..cut].to_vec(), ALL)
                .read_frame()
                .expect_err("truncated");
            assert!(
                matches!(err, ProtocolError::Truncated),
                "cut at {cut}: {err}"
            );
        }
    }
}
