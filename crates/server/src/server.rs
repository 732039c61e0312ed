//! The accept loop and an orderly shutdown.
//!
//! One listening port serves every socket type (a user opens one firewall
//! port); each accepted connection gets a thread that `connection::serve`s it.
//! Accept errors (out of file descriptors, say) are retried with back-off
//! instead of ending the server; past `max_connections` a new connection is told
//! the server is full.

use crate::connection::{self, ConnectionContext, Encryption};
use crate::metrics::MetricsListener;
use crate::registry::MeetingRegistry;
use crate::stats::{self, ServerStats};
use anyhow::Context;
use common::{Event, Frame, MediaKind, PerKind};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server runs; `main.rs` fills it from the command line.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub max_connections: usize,
    /// Most connections from one IP address (a client uses one per socket kind).
    pub max_per_address: usize,
    /// Events queued for one client before it counts as not reading and is cut off.
    pub control_queue: usize,
    /// Media frames queued per receiver, per kind, before the oldest are dropped.
    pub media_queue: PerKind<usize>,
    /// How long a new connection has for its whole first frame (hello or attach).
    pub handshake_timeout: Duration,
    /// A write that makes no progress for this long ends the connection.
    pub write_timeout: Duration,
    /// How often the traffic figures are logged; `None` never.
    pub stats_interval: Option<Duration>,
    /// TLS with the server's identity, or plain TCP.
    pub encryption: Encryption,
    /// Where to answer `/metrics` and `/healthz` over HTTP; `None` nowhere.
    pub metrics: Option<SocketAddr>,
    /// How long a session whose control connection broke is held for the
    /// client to `resume` it; zero ends it at once.
    pub resume_hold: Duration,
    /// A control connection that has pinged once and is then silent this
    /// long counts as broken.
    pub client_silence_limit: Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], common::protocol::DEFAULT_PORT)),
            max_connections: 1024,
            max_per_address: 512,
            control_queue: 1024,
            media_queue: PerKind::from_fn(default_media_queue),
            handshake_timeout: common::protocol::HANDSHAKE_TIMEOUT,
            write_timeout: Duration::from_secs(30),
            stats_interval: Some(Duration::from_secs(60)),
            // The program's default is TLS (main.rs); plain here keeps
            // in-process tests free of key files.
            encryption: Encryption::Plain,
            metrics: None,
            resume_hold: common::protocol::DEFAULT_RESUME_HOLD,
            client_silence_limit: common::protocol::CLIENT_SILENCE_LIMIT,
        }
    }
}

/// How many frames of a kind wait for one receiver before the oldest go: enough
/// to ride out a scheduling hiccup, few enough that a late receiver is never
/// shown old pictures or played old sound.
pub fn default_media_queue(kind: MediaKind) -> usize {
    match kind {
        // About half a second at 15 fps.
        MediaKind::Video => 8,
        // 320 ms of 20 ms frames, more than the jitter buffer's largest target.
        MediaKind::Audio => 16,
        // Screen updates are changes: a dropped one costs the receiver a
        // keyframe, so hold about a second of them (8 at the usual 8 fps).
        MediaKind::Screen => 8,
    }
}

/// Binds `addr` with an accept backlog for a burst of `max_connections`:
/// with the usual 128, a crowd joining at once waits a second for SYN retries.
fn listen(addr: SocketAddr, max_connections: usize) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    let backlog = i32::try_from(max_connections.max(128)).unwrap_or(i32::MAX);
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    config: Arc<ServerConfig>,
}

/// A running server: its address, and the way to stop it.
pub struct RunningServer {
    local_addr: SocketAddr,
    registry: MeetingRegistry,
    stats: Arc<ServerStats>,
    stopping: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    writers_alive: crossbeam_channel::Receiver<()>,
    metrics: Option<MetricsListener>,
    /// Dropped at shutdown, which ends the stats logger.
    _stop_logger: Option<crossbeam_channel::Sender<()>>,
}

impl Server {
    pub fn bind(config: ServerConfig) -> anyhow::Result<Server> {
        let listener = listen(config.bind, config.max_connections).map_err(|err| {
            let bind = config.bind;
            let hint = match err.kind() {
                std::io::ErrorKind::AddrInUse => {
                    format!("another program uses port {}; choose another with --bind", bind.port())
                }
                std::io::ErrorKind::AddrNotAvailable => format!(
                    "{} is not an address of this machine; use one of its own, or 0.0.0.0 for all",
                    bind.ip()
                ),
                std::io::ErrorKind::PermissionDenied => format!(
                    "ports below 1024 need privileges; choose another with --bind (the default is {})",
                    common::protocol::DEFAULT_PORT
                ),
                _ => "choose another address or port with --bind".to_string(),
            };
            anyhow::anyhow!("could not listen on {bind}: {err}: {hint}")
        })?;
        Ok(Server {
            listener,
            config: Arc::new(config),
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Starts accepting connections on a thread of its own.
    pub fn start(self) -> anyhow::Result<RunningServer> {
        let local_addr = self.local_addr()?;
        let registry = MeetingRegistry::new();
        let stopping = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ServerStats::default());
        let (alive_tx, alive_rx) = crossbeam_channel::bounded::<()>(0);
        let ctx = ConnectionContext {
            registry: registry.clone(),
            config: self.config.clone(),
            stats: stats.clone(),
            writers_alive: alive_tx,
        };
        let stop_logger = match self.config.stats_interval {
            Some(every) => Some(spawn_stats_logger(every, registry.clone(), stats.clone())?),
            None => None,
        };
        // Before the accept loop: a metrics address that cannot be had is a
        // start-up error, like the main one.
        let metrics = match self.config.metrics {
            Some(addr) => Some(MetricsListener::start(
                addr,
                registry.clone(),
                stats.clone(),
            )?),
            None => None,
        };
        let stop = stopping.clone();
        let accept_thread = std::thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept_loop(self.listener, ctx, &stop))
            .context("could not start the accept thread")?;
        Ok(RunningServer {
            local_addr,
            registry,
            stats,
            stopping,
            accept_thread: Some(accept_thread),
            writers_alive: alive_rx,
            metrics,
            _stop_logger: stop_logger,
        })
    }
}

/// Logs the traffic figures every `every` while anything moves; stops when the
/// returned sender is dropped.
fn spawn_stats_logger(
    every: Duration,
    registry: MeetingRegistry,
    stats: Arc<ServerStats>,
) -> anyhow::Result<crossbeam_channel::Sender<()>> {
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
    std::thread::Builder::new()
        .name("stats-log".into())
        .spawn(move || {
            let report = || {
                let counts = registry.counts();
                stats.report(counts.clients, counts.meetings)
            };
            let mut before = report();
            // recv_timeout ends with Disconnected when the server stops.
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                stop_rx.recv_timeout(every)
            {
                let now = report();
                if stats::anything_changed(&now, &before) {
                    tracing::info!("{}", stats::log_line(&now, &before));
                }
                before = now;
            }
        })
        .context("could not start the stats logger")?;
    Ok(stop_tx)
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn registry(&self) -> &MeetingRegistry {
        &self.registry
    }

    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Where `/metrics` and `/healthz` are answered, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsListener::local_addr)
    }

    /// Stops accepting, tells every client, and waits up to `grace` for the
    /// last events to be written.
    pub fn shutdown(mut self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        // A health check fails from here on: the service is going away.
        if let Some(metrics) = self.metrics.take() {
            metrics.stop();
        }
        // Wake the accept loop with a connection of our own.
        let _ = TcpStream::connect_timeout(&wake_address(self.local_addr), Duration::from_secs(1));
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
        self.registry.shutdown("the server is shutting down");
        // Every writer holds a sender: recv ends with Disconnected when all are done.
        let _ = self.writers_alive.recv_timeout(grace);
    }
}

fn wake_address(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    }
}

fn accept_loop(listener: TcpListener, ctx: ConnectionContext, stopping: &AtomicBool) {
    let admission = Arc::new(Mutex::new(Admission::new(&ctx.config)));
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!("accept failed: {err}; retrying in {backoff:?}");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        let address = peer.ip();
        let verdict = lock(&admission).admit(address);
        if let Err(message) = verdict {
            tracing::warn!(%peer, "refusing a connection: {message}");
            refuse_now(stream, &message, &ctx.config.encryption);
            continue;
        }
        let ctx = ctx.clone();
        let guard = AdmittedGuard {
            admission: admission.clone(),
            address,
        };
        let spawned = std::thread::Builder::new()
            .name("connection".into())
            .spawn(move || {
                let _guard = guard;
                connection::serve(stream, ctx);
            });
        if let Err(err) = spawned {
            tracing::error!("could not start a connection thread: {err}");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Who may open another connection: at most `max_connections` in all and
/// `max_per_address` from one address, and once the server is three quarters
/// full, an address that already holds a fair share (`FAIR_SHARE`, room for
/// four people) gets no more, so the last slots go to people who have none.
struct Admission {
    open: usize,
    by_address: HashMap<IpAddr, usize>,
    max_connections: usize,
    max_per_address: usize,
}

/// Connections an address may still open on a crowded server: four people's
/// worth (each uses a control socket and one per media kind).
const FAIR_SHARE: usize = 4 * (1 + MediaKind::COUNT);

impl Admission {
    fn new(config: &ServerConfig) -> Admission {
        Admission {
            open: 0,
            by_address: HashMap::new(),
            max_connections: config.max_connections,
            max_per_address: config.max_per_address,
        }
    }

    fn admit(&mut self, address: IpAddr) -> Result<(), String> {
        let held = self.by_address.get(&address).copied().unwrap_or(0);
        if self.open >= self.max_connections {
            return Err(format!(
                "the server is full ({} connections); try again later",
                self.max_connections
            ));
        }
        if held >= self.max_per_address {
            return Err(format!(
                "too many connections from your address ({held}, at most {})",
                self.max_per_address
            ));
        }
        let crowded = self.open >= self.max_connections / 4 * 3;
        if crowded && held >= FAIR_SHARE {
            return Err(format!(
                "the server is nearly full and your address holds {held} connections; try again later"
            ));
        }
        self.open += 1;
        *self.by_address.entry(address).or_default() += 1;
        Ok(())
    }

    fn release(&mut self, address: IpAddr) {
        self.open = self.open.saturating_sub(1);
        if let Some(held) = self.by_address.get_mut(&address) {
            *held -= 1;
            if *held == 0 {
                self.by_address.remove(&address);
            }
        }
    }
}

/// Tells a connection that cannot be admitted why, before any thread is
/// spent on it. A TLS server cannot say it without a handshake, which the
/// accepting thread must not wait for: it just closes, and the client says
/// the server closed the connection while setting up encryption.
fn refuse_now(stream: TcpStream, message: &str, encryption: &Encryption) {
    if let Encryption::Tls(_) = encryption {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let message = message.to_string();
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = (&stream).write_all(Frame::control(&Event::Error { message }).as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
}

/// Gives an admitted connection's place back when its thread ends.
struct AdmittedGuard {
    admission: Arc<Mutex<Admission>>,
    address: IpAddr,
}

impl Drop for AdmittedGuard {
    fn drop(&mut self) {
        lock(&self.admission).release(self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max_connections: usize, max_per_address: usize) -> Admission {
        Admission::new(&ServerConfig {
            max_connections,
            max_per_address,
            ..ServerConfig::default()
        })
    }

    #[test]
    fn one_address_gets_its_limit_and_the_others_the_rest() {
        let mut gate = admission(64, 32);
        let attacker: IpAddr = [10, 0, 0, 66].into();
        let admitted = (0..64).filter(|_| gate.admit(attacker).is_ok()).count();
        assert_eq!(admitted, 32);
        let person: IpAddr = [10, 0, 0, 7].into();
        for _ in 0..FAIR_SHARE {
            assert!(gate.admit(person).is_ok());
        }
        gate.release(attacker);
        assert!(
            gate.admit(attacker).is_ok(),
            "a freed place can be taken again"
        );
    }

    #[test]
    fn a_crowded_server_keeps_its_last_places_for_addresses_with_few() {
        let mut gate = admission(100, 100);
        let busy: IpAddr = [10, 0, 0, 1].into();
        let admitted = (0..100).filter(|_| gate.admit(busy).is_ok()).count();
        assert_eq!(admitted, 75, "no more than three quarters for one address");
        let newcomer: IpAddr = [10, 0, 0, 2].into();
        let places = (0..100).filter(|_| gate.admit(newcomer).is_ok()).count();
        assert_eq!(places, FAIR_SHARE);
        let third: IpAddr = [10, 0, 0, 3].into();
        assert!(gate.admit(third).is_ok());
    }
}
