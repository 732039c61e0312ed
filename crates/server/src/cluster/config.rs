//! How a server joins its cluster (`--cluster` and its companions), and the
//! one rule checked before anything connects: meeting content crosses the
//! backbone, so a NATS server that is not on this machine is reached over
//! TLS, unless the operator says `--cluster-insecure`.

use std::net::IpAddr;
use std::path::PathBuf;

/// Everything a server needs to join a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The NATS servers, `nats://HOST:PORT` or `tls://HOST:PORT`; the client
    /// moves between them when one goes.
    pub urls: Vec<String>,
    /// Servers with the same name form one cluster; the name prefixes every
    /// bucket and subject, so several clusters may share one NATS system.
    pub name: String,
    /// This server's name in the cluster: unique, and new at every start.
    pub server: String,
    /// Where clients of the other servers reach this one (`host:port`).
    pub advertise: String,
    /// The TLS fingerprint clients see here (None with `--no-tls`).
    pub fingerprint: Option<String>,
    pub auth: ClusterAuth,
    /// TLS to NATS: required, with these extra roots (PEM) if any.
    pub tls: Option<ClusterTls>,
    /// Plain `nats://` to a NATS server that is not on this machine.
    pub insecure: bool,
    /// On how many NATS servers the cluster's buckets are kept (JetStream
    /// replicas: 1, or 3 on a three-node NATS cluster).
    pub replicas: usize,
}

/// How this server proves itself to NATS: as nats-server supports it.
#[derive(Clone, Default)]
pub struct ClusterAuth {
    /// A `.creds` file (a user JWT and its NKey seed), as `nsc` makes them.
    pub creds: Option<PathBuf>,
    pub user: Option<(String, String)>,
    pub token: Option<String>,
}

impl std::fmt::Debug for ClusterAuth {
    /// Never the secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterAuth")
            .field("creds", &self.creds)
            .field("user", &self.user.as_ref().map(|(user, _)| user))
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

#[derive(Clone, Debug, Default)]
pub struct ClusterTls {
    /// Certificate authorities (PEM) to trust besides the system's.
    pub roots: Option<PathBuf>,
    /// A client certificate and key (PEM), for NATS servers that ask for one.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Longest cluster name: it becomes part of bucket and subject names.
const MAX_NAME_CHARS: usize = 32;

impl ClusterConfig {
    /// Says what is wrong, in the operator's words, before anything connects.
    pub fn check(&self) -> Result<(), String> {
        if self.urls.is_empty() {
            return Err("--cluster: give at least one nats://HOST:PORT".into());
        }
        if self.name.is_empty()
            || self.name.len() > MAX_NAME_CHARS
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "--cluster-name {:?}: 1 to {MAX_NAME_CHARS} letters, digits, - or _",
                self.name
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return Err(format!(
                "--cluster-replicas {}: 1 to 5 (JetStream keeps at most 5 copies)",
                self.replicas
            ));
        }
        for url in &self.urls {
            let (scheme, host) = split_url(url)?;
            let encrypted = scheme == "tls" || self.tls.is_some();
            if !encrypted && !is_loopback(host) && !self.insecure {
                return Err(format!(
                    "--cluster {url}: meetings would cross the network in clear text; use tls://, \
                     give --cluster-ca, or say --cluster-insecure if this network is yours alone"
                ));
            }
        }
        Ok(())
    }
}

/// The scheme and host of `nats://HOST:PORT` (or `tls://`, or a bare
/// `HOST:PORT`, which NATS reads as `nats://`).
fn split_url(url: &str) -> Result<(&str, &str), String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("nats", url));
    if !matches!(scheme, "nats" | "tls") {
        return Err(format!(
            "--cluster {url}: expected nats://HOST:PORT or tls://HOST:PORT"
        ));
    }
    // Credentials in the address (`user:pass@host`) are NATS's; the host follows.
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(host, _)| host),
        None => Some(rest.rsplit_once(':').map_or(rest, |(host, _)| host)),
    };
    match host {
        Some(host) if !host.is_empty() => Ok((scheme, host)),
        _ => Err(format!("--cluster {url}: no host")),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A name for this server in its cluster: the host's name and a random
/// suffix, so a restarted server is a new member and the old one's records
/// are not taken for its own.
pub fn server_name() -> String {
    let uname = rustix::system::uname();
    let host = uname
        .nodename()
        .to_string_lossy()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(24)
        .collect::<String>();
    let mut suffix = [0u8; 4];
    let _ = getrandom::fill(&mut suffix);
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    if host.is_empty() {
        format!("server-{suffix}")
    } else {
        format!("{host}-{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(urls: &[&str]) -> ClusterConfig {
        ClusterConfig {
            urls: urls.iter().map(|url| url.to_string()).collect(),
            name: "office".into(),
            server: "a".into(),
            advertise: "127.0.0.1:7000".into(),
            fingerprint: None,
            auth: ClusterAuth::default(),
            tls: None,
            insecure: false,
            replicas: 1,
        }
    }

    #[test]
    fn plain_nats_is_for_this_machine_only() {
        assert!(
            config(&["nats://127.0.0.1:4222", "nats://[::1]:4222"])
                .check()
                .is_ok()
        );
        assert!(config(&["localhost:4222"]).check().is_ok());
        let err = config(&["nats://10.0.0.2:4222"])
            .check()
            .expect_err("refused");
        assert!(err.contains("clear text"), "{err}");
        assert!(config(&["tls://10.0.0.2:4222"]).check().is_ok());
        let mut insecure = config(&["nats://user:pw@10.0.0.2:4222"]);
        assert!(insecure.check().is_err());
        insecure.insecure = true;
        assert!(insecure.check().is_ok());
        let mut with_ca = config(&["nats://nats.example:4222"]);
        with_ca.tls = Some(ClusterTls::default());
        assert!(with_ca.check().is_ok());
    }

    #[test]
    fn bad_addresses_and_names_are_refused() {
        assert!(config(&[]).check().is_err());
        assert!(config(&["http://127.0.0.1:4222"]).check().is_err());
        assert!(config(&["nats://:4222"]).check().is_err());
        let mut named = config(&["nats://127.0.0.1:4222"]);
        named.name = "two words".into();
        assert!(named.check().is_err());
        let mut copies = config(&["nats://127.0.0.1:4222"]);
        copies.replicas = 0;
        assert!(copies.check().is_err());
        copies.replicas = 3;
        assert!(copies.check().is_ok());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let auth = ClusterAuth {
            creds: None,
            user: Some(("meeting".into(), "hunter2".into())),
            token: Some("s3cret".into()),
        };
        let shown = format!("{auth:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn each_start_is_a_new_member() {
        assert_ne!(server_name(), server_name());
    }
}
