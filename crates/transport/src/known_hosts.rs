//! The client's memory of servers it trusted: one line per `host:port` and
//! the fingerprint its key had the first time, like SSH's known_hosts.
//!
//! ```text
//! # meeting client: servers trusted on first use
//! 192.168.1.20:6338 SHA256:3F2A9C11…
//! ```

use crate::fingerprint::Fingerprint;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct KnownHosts {
    path: PathBuf,
}

/// What the file says of one server.
#[derive(Debug, PartialEq, Eq)]
pub enum Known {
    /// Never seen: trust on first use.
    New,
    /// Seen, with this key, remembered on this line of the file.
    Key {
        fingerprint: Fingerprint,
        line: usize,
    },
}

impl KnownHosts {
    pub fn at(path: impl Into<PathBuf>) -> KnownHosts {
        KnownHosts { path: path.into() }
    }

    /// `$XDG_CONFIG_HOME/meeting/known_hosts`, else `~/.config/meeting/known_hosts`.
    pub fn default_path() -> Option<PathBuf> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|dir| !dir.is_empty())
                    .map(|home| PathBuf::from(home).join(".config"))
            })?;
        Some(config.join("meeting").join("known_hosts"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What is known of `server` (`host:port`). A line that does not parse
    /// is skipped, not trusted.
    pub fn lookup(&self, server: &str) -> anyhow::Result<Known> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Known::New),
            Err(err) => {
                return Err(err).with_context(|| format!("could not read {}", self.path.display()));
            }
        };
        // The last line for a server wins: a key changed on purpose is
        // remembered by appending it (after removing the old line).
        let mut known = Known::New;
        for (index, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace();
            let (Some(host), Some(key)) = (fields.next(), fields.next()) else {
                continue;
            };
            if host.starts_with('#') || !host.eq_ignore_ascii_case(server) {
                continue;
            }
            if let Ok(fingerprint) = key.parse() {
                known = Known::Key {
                    fingerprint,
                    line: index + 1,
                };
            }
        }
        Ok(known)
    }

    /// Remembers `server`'s key (one appended line, so clients starting at
    /// once do not lose each other's lines).
    pub fn remember(&self, server: &str, fingerprint: Fingerprint) -> anyhow::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
        let new_file = !self.path.exists();
        let mut line = String::new();
        if new_file {
            line.push_str(
                "# meeting client: servers trusted on first use (host:port fingerprint)\n",
            );
        }
        line.push_str(&format!("{server} {}\n", fingerprint.to_compact()));
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .with_context(|| format!("could not write {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_each_server_by_host_and_port() {
        let dir = tempfile::tempdir().expect("temp dir");
        let hosts = KnownHosts::at(dir.path().join("sub/known_hosts"));
        let one = Fingerprint::of_certificate(b"one");
        let two = Fingerprint::of_certificate(b"two");
        assert_eq!(hosts.lookup("10.0.0.1:6338").expect("reads"), Known::New);
        hosts.remember("10.0.0.1:6338", one).expect("writes");
        hosts.remember("10.0.0.1:7000", two).expect("writes");
        assert_eq!(
            hosts.lookup("10.0.0.1:6338").expect("reads"),
            Known::Key {
                fingerprint: one,
                line: 2
            }
        );
        assert_eq!(
            hosts.lookup("10.0.0.1:7000").expect("reads"),
            Known::Key {
                fingerprint: two,
                line: 3
            }
        );
        assert_eq!(hosts.lookup("10.0.0.2:6338").expect("reads"), Known::New);
    }

    #[test]
    fn a_damaged_line_is_not_trusted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, "10.0.0.1:6338 SHA256:nothex\n# 10.0.0.1:6338\n\n").expect("writes");
        assert_eq!(
            KnownHosts::at(path).lookup("10.0.0.1:6338").expect("reads"),
            Known::New
        );
    }
}
