//! Identifiers: client ids (public, small), meeting ids (read aloud, not
//! guessable by counting) and session tokens (secret, 128 random bits).
//!
//! Randomness comes from the caller as bytes, so this module stays pure and the
//! formats can be tested without a random source.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A connected client, unique for the server's lifetime. Public: it tags media.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(pub u32);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Characters of a meeting id: lower-case letters and digits without the ones
/// people confuse when reading aloud or copying by eye (0/o, 1/l/i).
const MEETING_ALPHABET: &[u8; 31] = b"23456789abcdefghjkmnpqrstuvwxyz";
const MEETING_ID_CHARS: usize = 6;

/// A meeting, written `abc-def`: 31^6 (about 887 million) possible ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MeetingId(String);

impl MeetingId {
    /// Builds an id from random bytes, using each byte only when it maps onto the
    /// alphabet without bias. `None` if the bytes ran out first (ask for more).
    pub fn from_random_bytes(bytes: &[u8]) -> Option<MeetingId> {
        let limit = (256 / MEETING_ALPHABET.len() * MEETING_ALPHABET.len()) as u8;
        let chars: Vec<u8> = bytes
            .iter()
            .filter(|&&b| b < limit)
            .map(|&b| MEETING_ALPHABET[b as usize % MEETING_ALPHABET.len()])
            .take(MEETING_ID_CHARS)
            .collect();
        (chars.len() == MEETING_ID_CHARS).then(|| MeetingId::from_chars(&chars))
    }

    /// Parses what a person typed: case and dashes or spaces do not matter.
    pub fn parse(text: &str) -> Option<MeetingId> {
        let chars: Vec<u8> = text
            .bytes()
            .filter(|b| !matches!(b, b'-' | b' '))
            .map(|b| b.to_ascii_lowercase())
            .collect();
        let valid =
            chars.len() == MEETING_ID_CHARS && chars.iter().all(|c| MEETING_ALPHABET.contains(c));
        valid.then(|| MeetingId::from_chars(&chars))
    }

    fn from_chars(chars: &[u8]) -> MeetingId {
        let (a, b) = chars.split_at(MEETING_ID_CHARS / 2);
        MeetingId(format!(
            "{}-{}",
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MeetingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secret that attaches media sockets to a control session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken([u8; SessionToken::BYTES]);

impl SessionToken {
    pub const BYTES: usize = 16;

    pub fn from_bytes(bytes: [u8; SessionToken::BYTES]) -> SessionToken {
        SessionToken(bytes)
    }

    /// Parses the 32 hex digits of the wire form.
    pub fn from_hex(text: &str) -> Option<SessionToken> {
        if text.len() != 2 * SessionToken::BYTES || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; SessionToken::BYTES];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(SessionToken(bytes))
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Compares in time independent of where the tokens differ, so a peer cannot
    /// learn a token byte by byte from response times.
    pub fn matches(&self, other: &SessionToken) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(..)") // never in logs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meeting_id_from_bytes_is_readable_and_skips_biased_bytes() {
        let id =
            MeetingId::from_random_bytes(&[255, 0, 1, 2, 30, 31, 248, 100]).expect("enough bytes");
        // 255 and 248 are at or over the unbiased limit (248) and skipped; 100 % 31 = 7 is "9".
        assert_eq!(id.as_str(), "234-z29");
        assert!(MeetingId::from_random_bytes(&[0, 1, 2]).is_none());
    }

    #[test]
    fn meeting_id_parse_forgives_case_dashes_and_spaces() {
        let id = MeetingId::parse("K7M Q2X").expect("valid");
        assert_eq!(id.as_str(), "k7m-q2x");
        assert_eq!(MeetingId::parse("k7mq2x"), Some(id.clone()));
        assert_eq!(MeetingId::parse(id.as_str()), Some(id));
        assert_eq!(MeetingId::parse("k7m-q2"), None);
        assert_eq!(
            MeetingId::parse("k7m-q2o"),
            None,
            "o is not in the alphabet"
        );
        assert_eq!(MeetingId::parse("k7m-q2xé"), None);
    }

    #[test]
    fn token_hex_round_trip_and_comparison() {
        let token = SessionToken::from_bytes([0xab; 16]);
        let hex = token.to_hex();
        assert_eq!(hex.len(), 32);
        let parsed = SessionToken::from_hex(&hex).expect("valid hex");
        assert!(parsed.matches(&token));
        let mut other = [0xab; 16];
        other[15] = 0xac;
        assert!(!SessionToken::from_bytes(other).matches(&token));
        assert!(SessionToken::from_hex("zz").is_none());
        assert!(SessionToken::from_hex(&"é".repeat(16)).is_none());
    }
}
