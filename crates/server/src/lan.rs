//! What people should type to reach this server: `listening on 0.0.0.0:6338`
//! names no address anyone can use, so a server bound to every interface
//! lists the addresses of this machine's interfaces instead.

use common::protocol::DEFAULT_PORT;
use std::net::{IpAddr, SocketAddr};

/// The `client …` command lines that reach a server listening on `bind`,
/// LAN addresses first; loopback only when there is nothing else.
pub fn join_commands(bind: SocketAddr) -> Vec<String> {
    let addresses: Vec<IpAddr> = if bind.ip().is_unspecified() {
        interface_addresses(bind.is_ipv6())
    } else {
        vec![bind.ip()]
    };
    addresses
        .into_iter()
        .map(|ip| join_command(ip, bind.port()))
        .collect()
}

/// The one `host:port` other servers' clients should use to reach a server
/// listening on `bind`: its address, or its first LAN address when it
/// listens on all of them.
pub fn reachable_address(bind: SocketAddr) -> String {
    let ip = if bind.ip().is_unspecified() {
        interface_addresses(bind.is_ipv6())
            .into_iter()
            .next()
            .unwrap_or(bind.ip())
    } else {
        bind.ip()
    };
    SocketAddr::new(ip, bind.port()).to_string()
}

fn join_command(ip: IpAddr, port: u16) -> String {
    match (ip, port) {
        (IpAddr::V4(ip), DEFAULT_PORT) => format!("client {ip}"),
        (IpAddr::V4(ip), port) => format!("client {ip}:{port}"),
        (IpAddr::V6(ip), port) => format!("client [{ip}]:{port}"),
    }
}

/// This machine's addresses that others can reach: IPv4 always (a `[::]`
/// socket takes IPv4 too), IPv6 when bound to `[::]`, no link-local ones
/// (they need an interface name), loopback only as a last resort.
fn interface_addresses(with_ipv6: bool) -> Vec<IpAddr> {
    let Ok(interfaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    let mut found: Vec<IpAddr> = interfaces
        .iter()
        .map(|interface| interface.ip())
        .filter(|ip| !ip.is_loopback() && (ip.is_ipv4() || with_ipv6))
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_link_local(),
            IpAddr::V6(v6) => !v6.is_unicast_link_local(),
        })
        .collect();
    // IPv4 first: the form people read aloud.
    found.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    found.dedup();
    if found.is_empty() {
        found.push(IpAddr::from([127, 0, 0, 1]));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_port_is_left_out_and_ipv6_is_bracketed() {
        let bind: SocketAddr = "10.1.2.3:6338".parse().expect("address");
        assert_eq!(join_commands(bind), ["client 10.1.2.3"]);
        let bind: SocketAddr = "10.1.2.3:7000".parse().expect("address");
        assert_eq!(join_commands(bind), ["client 10.1.2.3:7000"]);
        let bind: SocketAddr = "[fd00::5]:7000".parse().expect("address");
        assert_eq!(join_commands(bind), ["client [fd00::5]:7000"]);
    }

    #[test]
    fn every_interface_is_listed_for_a_server_bound_to_all() {
        let bind: SocketAddr = "0.0.0.0:6338".parse().expect("address");
        let commands = join_commands(bind);
        assert!(!commands.is_empty());
        assert!(
            commands.iter().all(|c| c.starts_with("client ")),
            "{commands:?}"
        );
        assert!(
            !commands.iter().any(|c| c.contains("0.0.0.0")),
            "{commands:?}"
        );
    }
}
