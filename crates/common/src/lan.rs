//! How a server is announced on the LAN (mDNS and DNS-SD, RFC 6762/6763) and
//! what its TXT record says: the names both sides must agree on, and the
//! reading of a record, which comes from anyone on the LAN and is checked
//! like any other input.
//!
//! An announcement is a hint, never trust: the key fingerprint it carries
//! lets a client refuse a server whose key differs from the one announced,
//! but trust on first use and pinning work as they do for an address typed
//! by hand.

use crate::protocol::PROTOCOL_VERSION;

/// The DNS-SD service type servers announce and clients browse for.
pub const SERVICE_TYPE: &str = "_meeting._tcp.local.";

/// TXT record keys (RFC 6763 section 6: short, lower case).
pub mod txt {
    /// The protocol version the server speaks (`protocol::PROTOCOL_VERSION`).
    pub const VERSION: &str = "v";
    /// The server's key fingerprint, compact (`SHA256:0A1B…`); absent when
    /// the server runs without TLS.
    pub const FINGERPRINT: &str = "fp";
    /// How many meetings the server holds, when it says so.
    pub const MEETINGS: &str = "meetings";
}

/// What a server's TXT record says, each field checked: a field that is
/// missing or does not parse is `None`, never an error, so one odd record
/// does not hide the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Announced {
    pub version: Option<u32>,
    /// As written; the client parses it into a fingerprint.
    pub fingerprint: Option<String>,
    pub meetings: Option<u32>,
}

impl Announced {
    /// Reads the record from `value(key)`, the TXT value of `key` if any.
    pub fn read<'a>(value: impl Fn(&str) -> Option<&'a str>) -> Announced {
        let number = |key: &str| value(key).and_then(|text| text.trim().parse::<u32>().ok());
        Announced {
            version: number(txt::VERSION),
            fingerprint: value(txt::FINGERPRINT)
                .map(str::trim)
                .filter(|text| !text.is_empty() && text.len() <= 100)
                .map(str::to_string),
            meetings: number(txt::MEETINGS),
        }
    }

    /// Whether this client can talk to the server (a record without a
    /// version is taken as ours: the field is only informative).
    pub fn speaks_our_protocol(&self) -> bool {
        self.version
            .is_none_or(|version| version == PROTOCOL_VERSION)
    }
}

/// The instance name of a DNS-SD full name (`Meeting room._meeting._tcp.local.`
/// → `Meeting room`), with the escapes of RFC 6763 section 4.3 undone
/// (`\.` is a dot, `\\` a backslash, `\DDD` a byte).
pub fn instance_name(fullname: &str) -> String {
    let suffix = format!(".{SERVICE_TYPE}");
    let escaped = fullname.strip_suffix(&suffix).unwrap_or(fullname);
    let mut bytes = Vec::with_capacity(escaped.len());
    let raw = escaped.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\\' if i + 3 < raw.len() && raw[i + 1..i + 4].iter().all(u8::is_ascii_digit) => {
                let digits = std::str::from_utf8(&raw[i + 1..i + 4]).unwrap_or("0");
                bytes.push(digits.parse::<u16>().map_or(b'?', |n| n.min(255) as u8));
                i += 4;
            }
            b'\\' if i + 1 < raw.len() => {
                bytes.push(raw[i + 1]);
                i += 2;
            }
            byte => {
                bytes.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn record(pairs: &[(&str, &str)]) -> Announced {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Announced::read(|key| map.get(key).map(String::as_str))
    }

    #[test]
    fn a_record_is_read_field_by_field_and_odd_fields_are_dropped() {
        let good = record(&[("v", "1"), ("fp", "SHA256:AB"), ("meetings", "3")]);
        assert_eq!(good.version, Some(1));
        assert_eq!(good.fingerprint.as_deref(), Some("SHA256:AB"));
        assert_eq!(good.meetings, Some(3));
        assert!(good.speaks_our_protocol());
        let odd = record(&[("v", "one"), ("fp", ""), ("meetings", "-1")]);
        assert_eq!(odd, Announced::default());
        assert!(odd.speaks_our_protocol());
        let long = "A".repeat(200);
        assert_eq!(record(&[("fp", &long)]).fingerprint, None);
        assert!(!record(&[("v", "99")]).speaks_our_protocol());
    }

    #[test]
    fn instance_names_lose_the_service_type_and_their_escapes() {
        assert_eq!(
            instance_name("Meeting room._meeting._tcp.local."),
            "Meeting room"
        );
        assert_eq!(instance_name(r"lab\.2._meeting._tcp.local."), "lab.2");
        assert_eq!(instance_name(r"a\\b._meeting._tcp.local."), r"a\b");
        assert_eq!(instance_name(r"caf\195\169._meeting._tcp.local."), "café");
        assert_eq!(instance_name("no suffix"), "no suffix");
        assert_eq!(instance_name("trailing\\"), "trailing\\");
    }
}
