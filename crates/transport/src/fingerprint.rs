//! A certificate's SHA-256 fingerprint, in a form people can read aloud and
//! compare: sixteen groups of four hex digits.

use std::fmt;
use std::str::FromStr;

/// SHA-256 of a certificate's DER bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of_certificate(der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    /// The compact form kept in files: `SHA256:` and 64 hex digits.
    pub fn to_compact(&self) -> String {
        format!("SHA256:{}", hex(&self.0))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `SHA256 3F2A 9C11 …`: groups of four, easy to read over the phone.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SHA256")?;
        for pair in self.0.chunks(2) {
            write!(f, " {}", hex(pair))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_compact())
    }
}

/// Why a text is not a fingerprint.
#[derive(Debug, thiserror::Error)]
#[error(
    "not a SHA-256 fingerprint: expected 64 hex digits (spaces, colons and a SHA256 prefix are allowed), got {0:?}"
)]
pub struct BadFingerprint(String);

/// Accepts what the server prints and what files keep, in any case, with or
/// without `SHA256`, spaces and colons: people paste whichever they have.
impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    fn from_str(text: &str) -> Result<Fingerprint, BadFingerprint> {
        let trimmed = text.trim();
        let body = trimmed
            .strip_prefix("SHA256")
            .or_else(|| trimmed.strip_prefix("sha256"))
            .unwrap_or(trimmed);
        let digits: String = body
            .chars()
            .filter(|c| !matches!(c, ' ' | ':' | '-'))
            .collect();
        let bad = || BadFingerprint(text.chars().take(100).collect());
        if digits.len() != 64 || !digits.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_printed_form_parses_back() {
        let fingerprint = Fingerprint::of_certificate(b"a certificate");
        for text in [
            fingerprint.to_string(),
            fingerprint.to_compact(),
            fingerprint.to_compact().to_lowercase(),
            fingerprint.to_string().replace(' ', ":"),
        ] {
            assert_eq!(
                text.parse::<Fingerprint>().expect("parses"),
                fingerprint,
                "{text}"
            );
        }
        assert_eq!(fingerprint.to_string().split(' ').count(), 17);
    }

    #[test]
    fn near_misses_are_refused() {
        let compact = Fingerprint::of_certificate(b"x").to_compact();
        for text in [
            &compact[..compact.len() - 1],
            &format!("{compact}0"),
            &format!("{}G", &compact[..compact.len() - 1]),
            "",
            "SHA256:",
        ] {
            assert!(text.parse::<Fingerprint>().is_err(), "{text}");
        }
    }
}
