//! The accept loop and an orderly shutdown.
//!
//! One listening port serves every socket type (a user opens one firewall
//! port); each accepted connection that the admission gate lets in gets a
//! thread that `connection::serve`s it. Nothing a peer does may end the
//! server: accept errors are retried with back-off (and, when the process is
//! out of file descriptors, a stranger's handshake makes way); a thread that
//! cannot be started refuses the one connection that needed it.

use crate::admission::{Gate, GateCounts};
use crate::cluster::{self, Cluster, Inbound};
use crate::config::{Encryption, ServerConfig};
use crate::connection::{self, ConnectionContext};
use crate::metrics::MetricsListener;
use crate::registry::MeetingRegistry;
use crate::stats::{self, ServerStats};
use anyhow::Context;
use common::{Event, Frame};
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    gate: Arc<Gate>,
    stats: Arc<ServerStats>,
    stopping: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    writers_alive: crossbeam_channel::Receiver<()>,
    metrics: Option<MetricsListener>,
    cluster: Option<Arc<Cluster>>,
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
        let mut registry =
            MeetingRegistry::with_holds(self.config.holds()).with_speakers(self.config.speakers);
        registry
            .spawn_hold_timer()
            .context("could not start the hold timer")?;
        let cluster = match &self.config.cluster {
            Some(config) => {
                let cluster = join_cluster(config, local_addr, &self.config.encryption)?;
                // Before the first client: its id must be the cluster's alone.
                cluster.wait_for_ids(CLAIM_IDS_WITHIN);
                registry = registry.in_cluster(cluster.clone());
                spawn_announcer(registry.clone(), cluster.clone())?;
                spawn_relay_reader(registry.clone(), &cluster)?;
                Some(cluster)
            }
            None => None,
        };
        let gate = Gate::new(self.config.admission());
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
        let accept_gate = gate.clone();
        let accept_thread = std::thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept_loop(self.listener, ctx, &accept_gate, &stop))
            .context("could not start the accept thread")?;
        Ok(RunningServer {
            local_addr,
            registry,
            gate,
            stats,
            stopping,
            accept_thread: Some(accept_thread),
            writers_alive: alive_rx,
            metrics,
            cluster,
            _stop_logger: stop_logger,
        })
    }
}

/// Joins the cluster as this server: reached at `--advertise`, else at the
/// address it listens on (its first LAN address when that is all of them).
fn join_cluster(
    config: &cluster::ClusterConfig,
    local_addr: SocketAddr,
    encryption: &Encryption,
) -> anyhow::Result<Arc<Cluster>> {
    let mut config = config.clone();
    if config.advertise.is_empty() {
        config.advertise = crate::lan::reachable_address(local_addr);
    }
    if config.fingerprint.is_none()
        && let Encryption::Tls(identity) = encryption
    {
        config.fingerprint = Some(identity.fingerprint().to_string());
    }
    Cluster::join(config)
}

/// How long a server of a cluster waits at start for its block of member
/// ids to be claimed (NATS answers in milliseconds when it is there).
const CLAIM_IDS_WITHIN: Duration = Duration::from_secs(3);

/// Tells the cluster this server's meetings every `ANNOUNCE_EVERY`, until
/// the server leaves it.
fn spawn_announcer(registry: MeetingRegistry, cluster: Arc<Cluster>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("cluster-announce".into())
        .spawn(move || {
            while !cluster.has_left() {
                cluster.announce(registry.cluster_lines());
                registry.refresh_spans();
                std::thread::sleep(cluster::ANNOUNCE_EVERY);
            }
        })
        .context("could not start the cluster announcer")?;
    Ok(())
}

/// Hands the registry what the other servers say about meetings that span
/// them, in the order they said it, until the backbone ends.
fn spawn_relay_reader(registry: MeetingRegistry, cluster: &Cluster) -> anyhow::Result<()> {
    let Some(relays) = cluster.take_inbound() else {
        return Ok(());
    };
    std::thread::Builder::new()
        .name("cluster-relays".into())
        .spawn(move || {
            for inbound in relays {
                match inbound {
                    Inbound::Relay(envelope) => registry.from_cluster(envelope),
                    Inbound::ChatKept { meeting, seq } => registry.chat_kept(&meeting, seq),
                }
            }
        })
        .context("could not start the cluster's relay reader")?;
    Ok(())
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

    /// Connections admitted, and how many are in their handshake.
    pub fn admission(&self) -> GateCounts {
        self.gate.counts()
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
        // In a cluster, its meetings go on elsewhere: members are told where
        // (and with what ticket) before they hear this server stops.
        if let Some(cluster) = &self.cluster {
            self.registry.hand_over(cluster);
        }
        self.registry.shutdown("the server is shutting down");
        if let Some(cluster) = self.cluster.take() {
            cluster.leave();
        }
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

fn accept_loop(
    listener: TcpListener,
    ctx: ConnectionContext,
    gate: &Arc<Gate>,
    stopping: &AtomicBool,
) {
    let mut backoff = Duration::from_millis(10);
    let mut refusals = Throttled::new("refused connections");
    let mut spare = SpareDescriptor::open();
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) if is_out_of_resources(&err) => {
                // Out of file descriptors: a stranger's handshake gives its
                // own back; with none to close, the waiting connection is
                // told no at once rather than left in the backlog.
                if gate.make_way() {
                    refusals
                        .warn(|| format!("accept failed: {err}; closed a handshake to make room"));
                    // Its thread closes the socket in a moment.
                    std::thread::sleep(Duration::from_millis(1));
                } else if spare.shed(&listener, &ctx.config.encryption) {
                    refusals.warn(|| format!("accept failed: {err}; turned a connection away"));
                } else {
                    refusals.warn(|| format!("accept failed: {err}; retrying in {backoff:?}"));
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                continue;
            }
            Err(err) => {
                tracing::warn!("accept failed: {err}; retrying in {backoff:?}");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        let closer = stream.try_clone().ok();
        let place = match gate.admit(peer.ip(), closer) {
            Ok(place) => Arc::new(place),
            Err(message) => {
                refusals.warn(|| format!("refusing a connection from {peer}: {message}"));
                refuse_now(stream, &message, &ctx.config.encryption);
                continue;
            }
        };
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("connection".into())
            .spawn(move || connection::serve(stream, ctx, place));
        if let Err(err) = spawned {
            // The closure, its socket and its place are dropped: this one
            // connection is closed, and nothing else changes.
            refusals.warn(|| format!("no thread for a connection from {peer}: {err}; closed it"));
        }
    }
}

/// A descriptor kept in reserve, so that a process out of them can still
/// accept one connection to turn it away (and not leave it waiting in the
/// backlog until it gives up).
struct SpareDescriptor(Option<std::fs::File>);

impl SpareDescriptor {
    fn open() -> SpareDescriptor {
        SpareDescriptor(std::fs::File::open("/dev/null").ok())
    }

    /// Frees the spare, accepts and refuses the connection waiting, and
    /// takes the spare again. False if there was no spare, or nothing waiting.
    fn shed(&mut self, listener: &TcpListener, encryption: &Encryption) -> bool {
        if self.0.take().is_none() {
            *self = SpareDescriptor::open();
            return false;
        }
        let shed = match listener.accept() {
            Ok((stream, _)) => {
                refuse_now(
                    stream,
                    "the server has no room for another connection now; try again later",
                    encryption,
                );
                true
            }
            Err(_) => false,
        };
        *self = SpareDescriptor::open();
        shed
    }
}

/// The accept error of a process out of descriptors or memory.
fn is_out_of_resources(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// A warning that may come thousands of times a second under attack: the
/// first is logged, then at most one a second, with how many were not.
struct Throttled {
    what: &'static str,
    last: Option<Instant>,
    unlogged: u64,
}

impl Throttled {
    fn new(what: &'static str) -> Throttled {
        Throttled {
            what,
            last: None,
            unlogged: 0,
        }
    }

    fn warn(&mut self, message: impl FnOnce() -> String) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        self.last = Some(now);
        match std::mem::take(&mut self.unlogged) {
            0 => tracing::warn!("{}", message()),
            unlogged => tracing::warn!(
                "{} (and {unlogged} more {} in the last second)",
                message(),
                self.what
            ),
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
