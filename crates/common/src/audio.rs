//! The audio body: which codec a frame is in, and its bytes.
//!
//! PCM bodies are exactly what they always were (s16 little-endian samples,
//! so an even number of bytes), so every PCM sender that predates codecs
//! (the load generator, the tests' raw peers, older clients) is still
//! understood. A coded body is marked by its odd length: its first byte names
//! the codec, the rest is the codec's packet, of even length. Opus packets are
//! brought to an even length with Opus's own padding (RFC 6716, 3.2.5), which
//! every decoder skips, so the rule costs at most one byte a frame. An older
//! client that knows only PCM ignores odd-length bodies, as it always did.
//!
//! This module only frames and unframes; encoding and decoding live in the
//! client, behind its `opus` feature.

use std::fmt;

/// The codec byte of an Opus body: mono, 48 kHz, 20 ms a packet.
pub const CODEC_OPUS: u8 = 0x01;

/// The codecs an audio body can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// s16 little-endian, mono, 48 kHz: the body is the samples.
    Pcm,
    /// Opus (RFC 6716), mono, 48 kHz, one 20 ms packet a frame.
    Opus,
}

impl AudioCodec {
    /// Every codec, as named on the command line and in `/stats`.
    pub const ALL: [AudioCodec; 2] = [AudioCodec::Pcm, AudioCodec::Opus];

    pub fn name(self) -> &'static str {
        match self {
            AudioCodec::Pcm => "pcm",
            AudioCodec::Opus => "opus",
        }
    }

    pub fn from_name(name: &str) -> Option<AudioCodec> {
        AudioCodec::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for AudioCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One audio body, taken apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioBody<'a> {
    /// s16 little-endian samples (even length).
    Pcm(&'a [u8]),
    /// One Opus packet (even length, possibly padded; never empty).
    Opus(&'a [u8]),
}

impl AudioBody<'_> {
    pub fn codec(&self) -> AudioCodec {
        match self {
            AudioBody::Pcm(_) => AudioCodec::Pcm,
            AudioBody::Opus(_) => AudioCodec::Opus,
        }
    }
}

/// Why an audio body cannot be taken apart: the sender's fault, for that
/// frame only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioBodyError {
    /// A coded body whose codec byte names no codec we know.
    UnknownCodec(u8),
    /// A coded body with nothing after its codec byte.
    EmptyPacket,
}

impl fmt::Display for AudioBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioBodyError::UnknownCodec(byte) => write!(f, "unknown audio codec 0x{byte:02x}"),
            AudioBodyError::EmptyPacket => f.write_str("coded audio body without a packet"),
        }
    }
}

impl std::error::Error for AudioBodyError {}

/// Takes an audio body apart: even length is PCM (an empty body is no
/// samples), odd length is a codec byte and a packet.
pub fn parse_audio_body(body: &[u8]) -> Result<AudioBody<'_>, AudioBodyError> {
    if body.len() % 2 == 0 {
        return Ok(AudioBody::Pcm(body));
    }
    match body.split_first() {
        Some((&CODEC_OPUS, [])) => Err(AudioBodyError::EmptyPacket),
        Some((&CODEC_OPUS, packet)) => Ok(AudioBody::Opus(packet)),
        Some((&other, _)) => Err(AudioBodyError::UnknownCodec(other)),
        // An odd length is never zero.
        None => Err(AudioBodyError::EmptyPacket),
    }
}

/// The body for one Opus packet, which must have an even length (pad it
/// with Opus padding first) and must not be empty.
pub fn opus_body(packet: &[u8]) -> Option<Vec<u8>> {
    if packet.is_empty() || packet.len() % 2 != 0 {
        return None;
    }
    let mut body = Vec::with_capacity(1 + packet.len());
    body.push(CODEC_OPUS);
    body.extend_from_slice(packet);
    Some(body)
}

/// How many samples (at 48 kHz) an Opus packet stands for, from its TOC
/// byte (RFC 6716, 3.1): None for a packet too short to say.
pub fn opus_packet_samples(packet: &[u8]) -> Option<usize> {
    let toc = *packet.first()?;
    let config = usize::from(toc >> 3);
    // Each configuration's frame length, in 1/400 s (2.5 ms = 120 samples).
    let quarters = match config {
        0..=11 => [4, 8, 16, 24][config % 4],
        12..=15 => [4, 8][config % 2],
        _ => [1, 2, 4, 8][config % 4],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => usize::from(*packet.get(1)? & 0x3F),
    };
    // At most 120 ms: a longer packet is not a valid one.
    (1..=48)
        .contains(&(frames * quarters))
        .then_some(frames * quarters * 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_bodies_are_what_they_always_were() {
        let pcm: Vec<u8> = (0..1920).map(|i| i as u8).collect();
        assert_eq!(parse_audio_body(&pcm), Ok(AudioBody::Pcm(&pcm[..])));
        // Even when the first sample's low byte happens to be the Opus byte.
        let tricky = [CODEC_OPUS, 0x00, 0x10, 0x20];
        assert_eq!(parse_audio_body(&tricky), Ok(AudioBody::Pcm(&tricky[..])));
        assert_eq!(parse_audio_body(&[]), Ok(AudioBody::Pcm(&[][..])));
    }

    #[test]
    fn opus_bodies_round_trip() {
        let packet = [0x78, 0x01, 0x02, 0x03];
        let body = opus_body(&packet).expect("even packet");
        assert_eq!(body.len(), 5);
        assert_eq!(body[0], CODEC_OPUS);
        let parsed = parse_audio_body(&body).expect("parses");
        assert_eq!(parsed, AudioBody::Opus(&packet[..]));
        assert_eq!(parsed.codec(), AudioCodec::Opus);
    }

    #[test]
    fn odd_or_empty_packets_cannot_be_framed() {
        assert_eq!(opus_body(&[1, 2, 3]), None);
        assert_eq!(opus_body(&[]), None);
    }

    #[test]
    fn malformed_coded_bodies_are_errors_not_panics() {
        assert_eq!(
            parse_audio_body(&[CODEC_OPUS]),
            Err(AudioBodyError::EmptyPacket)
        );
        assert_eq!(
            parse_audio_body(&[0x7f, 1, 2]),
            Err(AudioBodyError::UnknownCodec(0x7f))
        );
        // Every odd-length body of 1 and 3 bytes either parses or errs.
        for first in 0..=255u8 {
            let _ = parse_audio_body(&[first]);
            let _ = parse_audio_body(&[first, 0, 0]);
        }
    }

    #[test]
    fn codec_names_round_trip() {
        for codec in AudioCodec::ALL {
            assert_eq!(AudioCodec::from_name(codec.name()), Some(codec));
        }
        assert_eq!(AudioCodec::from_name("mp3"), None);
    }

    #[test]
    fn an_opus_packet_says_how_long_it_is() {
        // SILK 10 and 20 ms, hybrid 10 ms, CELT 10 and 20 ms, two 20 ms frames.
        assert_eq!(opus_packet_samples(&[0 << 3]), Some(480));
        assert_eq!(opus_packet_samples(&[1 << 3]), Some(960));
        assert_eq!(opus_packet_samples(&[12 << 3]), Some(480));
        assert_eq!(opus_packet_samples(&[18 << 3]), Some(480));
        assert_eq!(opus_packet_samples(&[19 << 3]), Some(960));
        assert_eq!(opus_packet_samples(&[(19 << 3) | 1]), Some(1920));
        assert_eq!(opus_packet_samples(&[(19 << 3) | 3, 3]), Some(2880));
        assert_eq!(opus_packet_samples(&[(19 << 3) | 3]), None);
        assert_eq!(opus_packet_samples(&[(19 << 3) | 3, 0]), None, "no frames");
        assert_eq!(
            opus_packet_samples(&[(19 << 3) | 3, 63]),
            None,
            "over 120 ms"
        );
        assert_eq!(opus_packet_samples(&[]), None);
    }
}
