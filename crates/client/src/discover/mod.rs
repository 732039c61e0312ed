//! Finding servers on the LAN when no address is given: `client` browses
//! for `_meeting._tcp` (mDNS and DNS-SD, RFC 6762/6763) for `BROWSE_FOR`
//! and lists what answered (`common::lan` reads each record).
//!
//! What a record says comes from anyone on the LAN: it is a list to pick
//! from, not trust. The fingerprint it announces is shown and, once picked,
//! a server showing another key is refused (`link`); trust on first use and
//! pinning work as for a typed address.

use anyhow::Context;
use common::lan::{Announced, SERVICE_TYPE, instance_name};
use mdns_sd::{ServiceDaemon, ServiceEvent};
pub mod choose;

use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How long `client` without an address listens for servers: long enough
/// for the browser's second query and its answers. Responders answer the
/// first query within 20 to 120 ms (RFC 6762 section 6), but they multicast
/// a record at most once a second: when someone else on the LAN browsed a
/// moment ago, the first query goes unanswered, and the second one, a
/// second later (mdns-sd's schedule: after 20 to 120 ms, then 1 s later),
/// is answered.
pub const BROWSE_FOR: Duration = Duration::from_millis(1300);

/// One server that answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FoundServer {
    /// The name it announces (its host name unless its operator chose one).
    pub name: String,
    /// Where it listens, IPv4 first; link-local IPv6 addresses are left out
    /// (they need an interface name to be used).
    pub addresses: Vec<SocketAddr>,
    /// The key fingerprint it announces; None for a server without TLS.
    pub fingerprint: Option<String>,
    /// How many meetings it holds, if it says.
    pub meetings: Option<u32>,
    /// The protocol it speaks, if it says.
    pub version: Option<u32>,
}

impl FoundServer {
    /// Whether this client can join it.
    pub fn compatible(&self) -> bool {
        Announced {
            version: self.version,
            ..Announced::default()
        }
        .speaks_our_protocol()
    }

    /// Its first address, for people.
    pub fn address(&self) -> String {
        self.addresses
            .first()
            .map_or_else(|| "no address".to_string(), SocketAddr::to_string)
    }

    /// One line for a list: name, address, meetings, and what is odd.
    pub fn describe(&self) -> String {
        let mut line = format!("{}  {}", self.name, self.address());
        if let Some(meetings) = self.meetings {
            let plural = if meetings == 1 { "" } else { "s" };
            line.push_str(&format!("  {meetings} meeting{plural}"));
        }
        if self.fingerprint.is_none() {
            line.push_str("  (no encryption)");
        }
        if !self.compatible() {
            line.push_str(&format!(
                "  (protocol {}: needs another client version)",
                self.version.unwrap_or_default()
            ));
        }
        line
    }
}

/// What a browse found, and how long it took.
#[derive(Debug, Default)]
pub struct Browse {
    /// By name.
    pub servers: Vec<FoundServer>,
    /// When the first server was resolved, from the start of the browse.
    pub first_answer: Option<Duration>,
    /// How long the browse took.
    pub took: Duration,
}

/// Browses the LAN for `window`. A server that says goodbye during the
/// browse is dropped from the list.
pub fn browse(window: Duration) -> anyhow::Result<Browse> {
    let started = Instant::now();
    let daemon = ServiceDaemon::new()
        .map_err(|err| anyhow::anyhow!("{err}"))
        .context("could not listen for servers on the LAN (mDNS, port 5353)")?;
    let answers = daemon
        .browse(SERVICE_TYPE)
        .map_err(|err| anyhow::anyhow!("could not ask the LAN for servers: {err}"))?;
    let deadline = started + window;
    let mut found: BTreeMap<String, FoundServer> = BTreeMap::new();
    let mut first_answer = None;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = answers.recv_timeout(left) else {
            break;
        };
        match event {
            ServiceEvent::ServiceResolved(service) => {
                let Some(server) = found_server(
                    &service.fullname,
                    service.addresses.iter().map(|ip| ip.to_ip_addr()),
                    service.port,
                    |key| service.get_property_val_str(key),
                ) else {
                    continue;
                };
                first_answer.get_or_insert_with(|| started.elapsed());
                found.insert(service.fullname.to_lowercase(), server);
            }
            ServiceEvent::ServiceRemoved(_, fullname) => {
                found.remove(&fullname.to_lowercase());
            }
            _ => {}
        }
    }
    let _ = daemon.stop_browse(SERVICE_TYPE);
    if let Ok(status) = daemon.shutdown() {
        let _ = status.recv_timeout(Duration::from_millis(200));
    }
    let mut servers: Vec<FoundServer> = found.into_values().collect();
    servers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Browse {
        servers,
        first_answer,
        took: started.elapsed(),
    })
}

/// A server from one resolved record; None for a record without a usable
/// address.
fn found_server<'a>(
    fullname: &str,
    ips: impl Iterator<Item = IpAddr>,
    port: u16,
    value: impl Fn(&str) -> Option<&'a str>,
) -> Option<FoundServer> {
    let announced = Announced::read(value);
    let mut addresses: Vec<SocketAddr> = ips
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_unspecified(),
            IpAddr::V6(v6) => !v6.is_unicast_link_local() && !v6.is_unspecified(),
        })
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    if addresses.is_empty() || port == 0 {
        return None;
    }
    // IPv4 first (every LAN routes it), each list in a fixed order.
    addresses.sort_by_key(|addr| (addr.is_ipv6(), *addr));
    addresses.dedup();
    let name = crate::clean::clean(&instance_name(fullname));
    Some(FoundServer {
        name,
        addresses,
        // Only what parses as a key is kept (and shown in its own form):
        // the record is anyone's, and its text goes to a terminal.
        fingerprint: announced
            .fingerprint
            .and_then(|text| text.parse::<transport::Fingerprint>().ok())
            .map(|key| key.to_compact()),
        meetings: announced.meetings,
        version: announced.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_a_server_with_usable_addresses_ipv4_first() {
        let ips = [
            "fe80::1".parse().expect("ip"),
            "2001:db8::5".parse().expect("ip"),
            "192.168.1.20".parse().expect("ip"),
            "192.168.1.20".parse().expect("ip"),
        ];
        let key = transport::Fingerprint::of_certificate(b"alpha").to_compact();
        let txt = |field: &str| match field {
            "v" => Some("1"),
            "fp" => Some(key.as_str()),
            "meetings" => Some("2"),
            _ => None,
        };
        let server = found_server("Lab\\.3._meeting._tcp.local.", ips.into_iter(), 7000, txt)
            .expect("a server");
        assert_eq!(server.name, "Lab.3");
        assert_eq!(
            server.addresses,
            vec![
                "192.168.1.20:7000".parse().expect("addr"),
                "[2001:db8::5]:7000".parse().expect("addr"),
            ]
        );
        assert_eq!(server.describe(), "Lab.3  192.168.1.20:7000  2 meetings");
        assert_eq!(server.fingerprint.as_deref(), Some(key.as_str()));
        assert!(server.compatible());
        let only_link_local = ["fe80::1".parse().expect("ip")];
        assert!(
            found_server(
                "x._meeting._tcp.local.",
                only_link_local.into_iter(),
                7000,
                txt
            )
            .is_none()
        );
    }

    #[test]
    fn odd_records_are_listed_with_what_is_odd() {
        let ips = ["10.0.0.2".parse().expect("ip")];
        let server = found_server(
            "Old\u{1b}[31m._meeting._tcp.local.",
            ips.into_iter(),
            6338,
            |key| match key {
                "v" => Some("9"),
                "fp" => Some("SHA256:\u{1b}]2;pwned\u{7}"),
                _ => None,
            },
        )
        .expect("a server");
        assert!(!server.name.contains('\u{1b}'), "{}", server.name);
        assert_eq!(
            server.fingerprint, None,
            "a key that does not parse is dropped"
        );
        assert!(!server.compatible());
        let line = server.describe();
        assert!(line.contains("(no encryption)"), "{line}");
        assert!(line.contains("protocol 9"), "{line}");
    }
}
