//! The servers the command line names: `client host1,host2:7000,[::1]:7000`.
//!
//! Parsing (each part a host with an optional port) is apart from resolving,
//! so its rules are tested without DNS. `Addresses::resolve` finds every
//! address of every name (a name with several counts as several) and puts
//! them in a random order: clients spread over the servers of a cluster, and
//! a server that is down costs one try among several, not the same first try
//! for everyone.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// One server as the command line names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerName {
    /// A name or an IP address (IPv6 without its brackets).
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for ServerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses a comma-separated list of servers, each `HOST`, `HOST:PORT`,
/// `IPV6`, `[IPV6]` or `[IPV6]:PORT`; `default_port` (`--port`) is the port
/// of those without one.
pub fn parse_list(text: &str, default_port: u16) -> Result<Vec<ServerName>, String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if parts.iter().any(|part| part.is_empty()) {
        return Err(format!(
            "'{text}' has an empty server name: separate servers with single commas, like a,b:7000"
        ));
    }
    parts
        .into_iter()
        .map(|part| parse_one(part, default_port))
        .collect()
}

/// One server: `HOST`, `HOST:PORT`, `IPV6`, `[IPV6]` or `[IPV6]:PORT`.
pub fn parse_one(text: &str, default_port: u16) -> Result<ServerName, String> {
    let text = text.trim();
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (address, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("'{text}': a '[' without its ']'"))?;
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "'{text}': only an IPv6 address goes in brackets, like [::1]:6338"
            ));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("'{text}': after the ']' comes ':PORT' or nothing"))?,
            ),
        };
        (address, port)
    } else if text.parse::<std::net::Ipv6Addr>().is_ok() {
        (text, None)
    } else {
        match text.split_once(':') {
            Some((_, rest)) if rest.contains(':') => {
                return Err(format!(
                    "'{text}' is no host: an IPv6 address with a port is written in brackets, like [::1]:6338"
                ));
            }
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(format!("'{text}' names no host before the port"));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("'{host}' is no host name: it has spaces in it"));
    }
    let port = match port {
        None => default_port,
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => {
                return Err(format!(
                    "'{port}' is not a port: ports are 1 to 65535 (for example {host}:{})",
                    common::protocol::DEFAULT_PORT
                ));
            }
        },
    };
    Ok(ServerName {
        host: host.to_string(),
        port,
    })
}

/// Every address of the servers named, in a random order, and why a name
/// gave none.
#[derive(Debug, Default)]
pub struct Addresses {
    pub found: Vec<SocketAddr>,
    /// One line per name that could not be looked up.
    pub failures: Vec<String>,
}

impl Addresses {
    pub fn resolve(servers: &[ServerName]) -> Addresses {
        let mut addresses = Addresses::default();
        for server in servers {
            if let Ok(ip) = server.host.parse::<IpAddr>() {
                addresses.add(SocketAddr::new(ip, server.port));
                continue;
            }
            match (server.host.as_str(), server.port).to_socket_addrs() {
                Ok(found) => {
                    let before = addresses.found.len();
                    found.for_each(|addr| addresses.add(addr));
                    if addresses.found.len() == before {
                        addresses
                            .failures
                            .push(format!("{server}: host '{}' has no address", server.host));
                    }
                }
                Err(err) => addresses.failures.push(format!(
                    "{server}: could not find host '{}' ({err})",
                    server.host
                )),
            }
        }
        shuffle(&mut addresses.found);
        addresses
    }

    /// An address named twice (`a,a`, or two names of one host) is tried once.
    fn add(&mut self, addr: SocketAddr) {
        if !self.found.contains(&addr) {
            self.found.push(addr);
        }
    }
}

/// Fisher-Yates with the system's randomness; without it (which should not
/// happen) the order stays as named, which still works.
pub fn shuffle<T>(items: &mut [T]) {
    for last in (1..items.len()).rev() {
        let Ok(random) = getrandom::u64() else {
            return;
        };
        let pick = usize::try_from(random % (last as u64 + 1)).unwrap_or(0);
        items.swap(last, pick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Result<Vec<String>, String> {
        parse_list(text, 6338).map(|list| list.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn each_server_takes_its_own_port_or_the_default() {
        assert_eq!(
            names("alpha,beta:7000, 10.0.0.5:7001 ,10.0.0.6"),
            Ok(vec![
                "alpha:6338".to_string(),
                "beta:7000".to_string(),
                "10.0.0.5:7001".to_string(),
                "10.0.0.6:6338".to_string(),
            ])
        );
        assert_eq!(names("alpha"), Ok(vec!["alpha:6338".to_string()]));
    }

    #[test]
    fn ipv6_goes_in_brackets_with_a_port_and_may_go_bare_without() {
        let parsed = parse_list("[::1]:7000,::1,[fe80::2]", 6338).expect("a list");
        assert_eq!(
            parsed,
            vec![
                ServerName {
                    host: "::1".into(),
                    port: 7000
                },
                ServerName {
                    host: "::1".into(),
                    port: 6338
                },
                ServerName {
                    host: "fe80::2".into(),
                    port: 6338
                },
            ]
        );
        assert_eq!(parsed[0].to_string(), "[::1]:7000");
        assert!(names("fe80::2:7000x").is_err_and(|e| e.contains("[::1]:6338")));
        assert!(names("[::1").is_err_and(|e| e.contains("without its ']'")));
        assert!(names("[::1]7000").is_err_and(|e| e.contains("':PORT'")));
        assert!(names("[alpha]:7000").is_err_and(|e| e.contains("only an IPv6")));
    }

    #[test]
    fn empty_parts_are_refused_with_the_way_to_write_a_list() {
        for text in ["", "a,,b", "a,", ",a", " , "] {
            let err = names(text).expect_err("refused");
            assert!(err.contains("single commas"), "{text}: {err}");
        }
        assert!(names(":7000").is_err_and(|e| e.contains("no host")));
    }

    #[test]
    fn bad_ports_say_what_a_port_is() {
        for text in [
            "alpha:99999",
            "alpha:0",
            "alpha:",
            "10.0.0.5:http",
            "[::1]:-1",
        ] {
            let err = names(text).expect_err("refused");
            assert!(err.contains("ports are 1 to 65535"), "{text}: {err}");
        }
        assert!(names("al pha").is_err_and(|e| e.contains("spaces")));
    }

    #[test]
    fn literal_addresses_resolve_without_dns_once_each_in_some_order() {
        let servers = parse_list("127.0.0.1:7000,[::1]:7001,127.0.0.1:7000", 6338).expect("a list");
        let addresses = Addresses::resolve(&servers);
        let mut found: Vec<String> = addresses.found.iter().map(ToString::to_string).collect();
        found.sort();
        assert_eq!(found, ["127.0.0.1:7000", "[::1]:7001"]);
        assert!(addresses.failures.is_empty());
    }

    #[test]
    fn shuffling_keeps_every_item_and_moves_them_sometimes() {
        let ordered: Vec<u32> = (0..16).collect();
        let mut moved = false;
        for _ in 0..8 {
            let mut items = ordered.clone();
            shuffle(&mut items);
            let mut sorted = items.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, ordered);
            moved |= items != ordered;
        }
        assert!(moved, "16 items in order 8 times running: not shuffled");
    }
}
