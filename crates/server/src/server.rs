//! The accept loop and an orderly shutdown.
//!
//! One listening port serves every socket type (a user opens one firewall
//! port); each accepted connection gets a thread that `connection::serve`s it.
//! Accept errors (out of file descriptors, say) are retried with back-off
//! instead of ending the server; past `max_connections` a new connection is told
//! the server is full.

use crate::connection::{self, ConnectionContext};
use crate::registry::MeetingRegistry;
use crate::stats::{self, ServerStats};
use anyhow::Context;
use common::{Event, Frame, MediaKind, PerKind};
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server runs; `main.rs` fills it from the command line.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub max_connections: usize,
    /// Events queued for one client before it counts as not reading and is cut off.
    pub control_queue: usize,
    /// Media frames queued per receiver, per kind, before the oldest are dropped.
    pub media_queue: PerKind<usize>,
    /// A write that makes no progress for this long ends the connection.
    pub write_timeout: Duration,
    /// How often the traffic figures are logged; `None` never.
    pub stats_interval: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], common::protocol::DEFAULT_PORT)),
            max_connections: 1024,
            control_queue: 1024,
            media_queue: PerKind::from_fn(default_media_queue),
            write_timeout: Duration::from_secs(30),
            stats_interval: Some(Duration::from_secs(60)),
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
    /// Dropped at shutdown, which ends the stats logger.
    _stop_logger: Option<crossbeam_channel::Sender<()>>,
}

impl Server {
    pub fn bind(config: ServerConfig) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(config.bind).with_context(|| {
            format!("could not listen on {}: is another server using that port? choose another with --bind", config.bind)
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

    /// Stops accepting, tells every client, and waits up to `grace` for the
    /// last events to be written.
    pub fn shutdown(mut self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
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
    let active = Arc::new(AtomicUsize::new(0));
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!("accept failed: {err}; retrying in {backoff:?}");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        if active.load(Ordering::SeqCst) >= ctx.config.max_connections {
            tracing::warn!(
                "refusing a connection: {} connections open",
                ctx.config.max_connections
            );
            refuse_full(stream, ctx.config.max_connections);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let ctx = ctx.clone();
        let guard = ActiveGuard(active.clone());
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

fn refuse_full(stream: TcpStream, max: usize) {
    let message = format!("the server is full ({max} connections); try again later");
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = (&stream).write_all(Frame::control(&Event::Error { message }).as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
}

struct ActiveGuard(Arc<AtomicUsize>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
