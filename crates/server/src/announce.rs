//! Announcing this server on the LAN as `_meeting._tcp` (mDNS and DNS-SD,
//! RFC 6762/6763), so that `client` without an address finds it, as
//! printers and file shares are found.
//!
//! The record (`common::lan`) carries the protocol version, the key
//! fingerprint and the number of meetings. The count changes while the
//! server runs, so a thread of ours registers the record again when it
//! changed, at most every `MEETINGS_EVERY`; the mDNS responder itself
//! (`mdns-sd`) runs on a thread of its own and coexists with Avahi on port
//! 5353. On a clean stop the record is withdrawn (a goodbye packet), so
//! browsers drop the server at once; a killed server drops out when its
//! records' time to live runs out.

use common::lan::{SERVICE_TYPE, txt};
use common::protocol::{DEFAULT_PORT, PROTOCOL_VERSION};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the meeting count in the record is brought up to date.
const MEETINGS_EVERY: Duration = Duration::from_secs(5);
/// How long a clean stop waits for the goodbye to go out.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// What to announce.
pub struct Announcement {
    /// The name people pick from (the DNS-SD instance name).
    pub name: String,
    /// Where the server listens.
    pub bind: SocketAddr,
    /// The key fingerprint (compact form), None without TLS.
    pub fingerprint: Option<String>,
}

impl Announcement {
    /// Whether a server listening on `bind` is on a LAN at all: one bound
    /// to loopback cannot be reached from another machine, so announcing it
    /// would only list a server nobody can join.
    pub fn reaches_the_lan(bind: SocketAddr) -> bool {
        !bind.ip().is_loopback()
    }

    /// The name a server announces unless told otherwise: this machine's
    /// host name, and the port when it is not the default (two servers on
    /// one machine then differ).
    pub fn default_name(port: u16) -> String {
        let host = host_name();
        match port {
            DEFAULT_PORT => host,
            port => format!("{host}:{port}"),
        }
    }
}

/// The running announcement; `stop` withdraws it.
pub struct Announcer {
    daemon: ServiceDaemon,
    fullname: String,
    stop: Sender<()>,
    refresher: Option<JoinHandle<()>>,
}

impl Announcer {
    /// Starts announcing; `meetings` says how many meetings the server
    /// holds, asked every `MEETINGS_EVERY`.
    pub fn start(
        announcement: Announcement,
        meetings: impl Fn() -> usize + Send + 'static,
    ) -> anyhow::Result<Announcer> {
        let daemon = ServiceDaemon::new()
            .map_err(|err| anyhow::anyhow!("could not start mDNS on port 5353: {err}"))?;
        // Nobody browses over loopback (it carries no multicast).
        for loopback in [IfKind::LoopbackV4, IfKind::LoopbackV6] {
            let _ = daemon.disable_interface(loopback);
        }
        let record = move |count: usize| record(&announcement, count);
        let first = record(meetings())?;
        let fullname = first.get_fullname().to_string();
        daemon
            .register(first)
            .map_err(|err| anyhow::anyhow!("could not announce the server: {err}"))?;
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let refresher = {
            let daemon = daemon.clone();
            std::thread::Builder::new()
                .name("announce".into())
                .spawn(move || keep_count_current(daemon, record, meetings, stopped))?
        };
        Ok(Announcer {
            daemon,
            fullname,
            stop,
            refresher: Some(refresher),
        })
    }

    /// The DNS-SD full name announced (`NAME._meeting._tcp.local.`).
    pub fn fullname(&self) -> &str {
        &self.fullname
    }

    /// Withdraws the announcement (browsers drop the server at once) and
    /// stops the responder.
    pub fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.refresher.take() {
            let _ = thread.join();
        }
        if let Ok(status) = self.daemon.unregister(&self.fullname) {
            let _ = status.recv_timeout(GOODBYE_WAIT);
        }
        if let Ok(status) = self.daemon.shutdown() {
            let _ = status.recv_timeout(GOODBYE_WAIT);
        }
    }
}

/// Registers the record again whenever the meeting count changed.
fn keep_count_current(
    daemon: ServiceDaemon,
    record: impl Fn(usize) -> anyhow::Result<ServiceInfo>,
    meetings: impl Fn() -> usize,
    stopped: Receiver<()>,
) {
    let mut announced = meetings();
    loop {
        match stopped.recv_timeout(MEETINGS_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = meetings();
        if now == announced {
            continue;
        }
        match record(now).map(|info| daemon.register(info)) {
            Ok(Ok(())) => announced = now,
            Ok(Err(err)) => tracing::debug!("mDNS: could not update the record: {err}"),
            Err(err) => tracing::debug!("mDNS: {err:#}"),
        }
    }
}

/// The DNS-SD record of `announcement` with `meetings` meetings.
fn record(announcement: &Announcement, meetings: usize) -> anyhow::Result<ServiceInfo> {
    let mut properties = vec![
        (txt::VERSION, PROTOCOL_VERSION.to_string()),
        (txt::MEETINGS, meetings.to_string()),
    ];
    if let Some(fingerprint) = &announcement.fingerprint {
        properties.push((txt::FINGERPRINT, fingerprint.clone()));
    }
    let bind = announcement.bind;
    let host = format!("{}.local.", host_name());
    // Bound to all interfaces, the responder fills in each one's addresses.
    let all_interfaces = bind.ip().is_unspecified();
    let addresses: &[std::net::IpAddr] = if all_interfaces { &[] } else { &[bind.ip()] };
    let mut info = ServiceInfo::new(
        SERVICE_TYPE,
        &announcement.name,
        &host,
        addresses,
        bind.port(),
        properties.as_slice(),
    )
    .map_err(|err| anyhow::anyhow!("the mDNS record: {err}"))?;
    if all_interfaces {
        return Ok(info.enable_addr_auto());
    }
    // Only where the server can be reached.
    info.set_interfaces(vec![IfKind::Addr(bind.ip())]);
    Ok(info)
}

/// This machine's host name as a DNS label: letters, digits and hyphens.
fn host_name() -> String {
    let uname = rustix::system::uname();
    let host: String = uname
        .nodename()
        .to_string_lossy()
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(63)
        .collect();
    if host.is_empty() {
        "meeting-server".to_string()
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_servers_are_not_announced_and_names_carry_a_port_only_when_needed() {
        assert!(!Announcement::reaches_the_lan(
            "127.0.0.1:6338".parse().expect("addr")
        ));
        assert!(!Announcement::reaches_the_lan(
            "[::1]:6338".parse().expect("addr")
        ));
        assert!(Announcement::reaches_the_lan(
            "0.0.0.0:6338".parse().expect("addr")
        ));
        assert!(Announcement::reaches_the_lan(
            "192.168.1.5:6338".parse().expect("addr")
        ));
        assert!(!Announcement::default_name(DEFAULT_PORT).contains(':'));
        assert!(Announcement::default_name(7000).ends_with(":7000"));
    }

    #[test]
    fn the_record_says_version_meetings_and_fingerprint() {
        let announcement = Announcement {
            name: "Room 4".into(),
            bind: "10.0.0.7:7000".parse().expect("addr"),
            fingerprint: Some("SHA256:AB12".into()),
        };
        let info = record(&announcement, 3).expect("record");
        assert_eq!(info.get_fullname(), "Room 4._meeting._tcp.local.");
        assert_eq!(info.get_port(), 7000);
        let read = common::lan::Announced::read(|key| info.get_property_val_str(key));
        assert_eq!(read.version, Some(PROTOCOL_VERSION));
        assert_eq!(read.meetings, Some(3));
        assert_eq!(read.fingerprint.as_deref(), Some("SHA256:AB12"));
        let plain = Announcement {
            fingerprint: None,
            ..announcement
        };
        let info = record(&plain, 0).expect("record");
        assert!(info.get_property_val_str(txt::FINGERPRINT).is_none());
    }
}
