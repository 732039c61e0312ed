//! `server`: the command line of the meeting server.

use anyhow::Context;
use clap::{CommandFactory, Parser, ValueEnum};
use common::protocol::DEFAULT_PORT;
use common::{MediaKind, PerKind};
use meeting_server::announce::{Announcement, Announcer};
use meeting_server::config::Encryption;
use meeting_server::{Server, ServerConfig};
use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Meeting server: keeps the registry of meetings and relays chat, JPEG video and
/// PCM audio between the members of each meeting.
#[derive(Parser, Debug)]
#[command(
    name = "server",
    version,
    after_help = "On start it prints two lines to stdout: `listening on ADDR:PORT`, then \
                  `fingerprint SHA256 XXXX …` (the key clients check; read it to them) or, with \
                  --no-tls, `encryption off`; with --metrics, a third, `metrics on ADDR:PORT`. \
                  Logs go to stderr, coloured only when it is a terminal and NO_COLOR is unset; \
                  RUST_LOG sets their level (for example RUST_LOG=debug). Ctrl-C or SIGTERM stops the \
                  server after telling every connected client.\n\n\
                  Exit codes: 0 stopped on request, 1 could not start, 2 bad command line."
)]
struct Args {
    /// Address to listen on: IP:PORT, HOST:PORT or a bare PORT (all interfaces).
    /// One port serves control, video and audio sockets.
    #[arg(long, env = "MEETING_BIND", default_value_t = format!("0.0.0.0:{DEFAULT_PORT}"))]
    bind: String,

    /// Most connections open at once (each client uses four: control, video, audio, screen).
    #[arg(long, default_value_t = ServerConfig::default().max_connections)]
    max_connections: usize,

    /// Most connections from one IP address; also, once the server is three
    /// quarters full, an address holding 16 or more gets no new one. Default:
    /// half of --max-connections.
    #[arg(long, value_name = "N")]
    max_per_address: Option<usize>,

    /// Most connections in their handshake (TLS and the first message) at
    /// once. Past it, or when the server is full, the oldest handshake of the
    /// address with the most makes way for the newcomer, so that strangers
    /// who connect and say nothing, from however many addresses, never keep
    /// people out. Default: a quarter of --max-connections.
    #[arg(long, value_name = "N")]
    max_handshaking: Option<usize>,

    /// New connections accepted a second (twice that at once); past it, an
    /// address may still open 8, then one a second, so a flood from a few
    /// addresses leaves newcomers their way in. Each new connection costs
    /// about 0.3 ms of processor time (a thread, and the TLS handshake);
    /// 0 takes any number.
    #[arg(long, value_name = "N", default_value_t = ServerConfig::default().max_connection_rate)]
    max_connection_rate: u32,

    /// How long a new connection has to send its whole first message (hello
    /// or attach), for example 10s.
    #[arg(long, default_value = "10s", value_parser = parse_positive_duration)]
    handshake_timeout: Duration,

    /// Events queued for one client before it counts as not reading and is disconnected.
    #[arg(long, default_value_t = ServerConfig::default().control_queue)]
    control_queue: usize,

    /// Frames of a media kind queued per receiver, as KIND=N (repeatable); beyond
    /// it the oldest are dropped. Defaults: video=8 (half a second at 15 fps),
    /// audio=16 (20 ms frames), screen=8.
    #[arg(long = "queue", value_name = "KIND=N", value_parser = parse_queue)]
    queues: Vec<(MediaKind, usize)>,

    /// Same as --queue video=N.
    #[arg(long, value_name = "N")]
    video_queue: Option<usize>,

    /// Same as --queue audio=N.
    #[arg(long, value_name = "N")]
    audio_queue: Option<usize>,

    /// Log the traffic figures this often (for example 60s, 5m); 0 turns it off.
    #[arg(long, default_value = "60s", value_parser = parse_interval)]
    stats_interval: Duration,

    /// Where the server keeps its TLS key and certificate (made on first
    /// start). Default: $STATE_DIRECTORY (set by systemd), else
    /// $XDG_STATE_HOME/meeting-server, else ~/.local/state/meeting-server.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// How long a client whose connection broke keeps its place (in its
    /// meeting, seen as reconnecting) for it to come back, for example 45s;
    /// 0 removes it at once.
    #[arg(long, default_value = "45s", value_parser = parse_interval)]
    resume_hold: Duration,

    /// Most sessions held for a resume at once. Past it, the oldest held
    /// session of the address holding the most ends first.
    #[arg(long, value_name = "N", default_value_t = ServerConfig::default().max_held)]
    max_held: usize,

    /// Most sessions held for a resume from one address; past it, that
    /// address's oldest held session ends first.
    #[arg(long, value_name = "N", default_value_t = ServerConfig::default().max_held_per_address)]
    max_held_per_address: usize,

    /// Speakers each member hears at once: the loudest of those speaking,
    /// each keeping its place until it stops (docs/PROTOCOL.md, "Who is
    /// heard"). Audio from clients that do not say their level is always
    /// relayed. 0 relays every member's audio to everyone.
    #[arg(long, value_name = "N", default_value_t = ServerConfig::default().speakers)]
    speakers: usize,

    /// Do not announce this server on the LAN. By default a server bound to a
    /// LAN address (not loopback) announces itself by mDNS as _meeting._tcp,
    /// with its key fingerprint, so `client` without an address finds it.
    #[arg(long, env = "MEETING_NO_ANNOUNCE")]
    no_announce: bool,

    /// The name the LAN announcement gives this server, as people see it in
    /// the client's list. Default: the host name (with :PORT off the
    /// default port).
    #[arg(long, env = "MEETING_ANNOUNCE_NAME", value_name = "NAME", value_parser = parse_announce_name)]
    announce_name: Option<String>,

    /// Plain TCP, no encryption: for debugging and raw-protocol tools only.
    /// Anyone on the network can read and alter every meeting.
    #[arg(long)]
    no_tls: bool,

    /// Serve Prometheus metrics at http://ADDR/metrics and a health check at
    /// /healthz, for example 127.0.0.1:9338 (IP:PORT, HOST:PORT or a bare PORT
    /// on all interfaces). Off unless given.
    #[arg(long, env = "MEETING_METRICS", value_name = "ADDR")]
    metrics: Option<String>,

    /// How log lines are written to stderr: text for people, json (one object
    /// per line) for log collectors.
    #[arg(long, env = "MEETING_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(flatten)]
    cluster: ClusterArgs,

    #[command(flatten)]
    docs: cli_docs::DocsArgs,
}

/// Joining a cluster of servers over NATS (docs/CLUSTER.md). Secrets for
/// NATS come from the environment or a file, never the command line, where
/// every user of the machine could read them.
#[derive(clap::Args, Debug)]
struct ClusterArgs {
    /// Join the cluster whose NATS servers are at these addresses
    /// (nats://HOST:PORT or tls://HOST:PORT, comma-separated). Any server of
    /// the cluster then lists its meetings and lets people join them. A
    /// nats:// address that is not on this machine is refused without TLS
    /// (--cluster-ca) unless --cluster-insecure. Off unless given.
    #[arg(
        long,
        env = "MEETING_CLUSTER",
        value_name = "URLS",
        value_delimiter = ','
    )]
    cluster: Vec<String>,

    /// The cluster's name: servers with the same name on one NATS system
    /// form one cluster.
    #[arg(
        long,
        env = "MEETING_CLUSTER_NAME",
        value_name = "NAME",
        default_value = "meeting"
    )]
    cluster_name: String,

    /// Where clients reach this server when another server of the cluster
    /// sends them here (HOST:PORT). Default: the --bind address, or this
    /// machine's first LAN address when bound to all of them.
    #[arg(long, env = "MEETING_ADVERTISE", value_name = "HOST:PORT")]
    advertise: Option<String>,

    /// A NATS credentials file (.creds, as nsc makes them). A user and
    /// password come from MEETING_CLUSTER_USER and MEETING_CLUSTER_PASSWORD,
    /// a token from MEETING_CLUSTER_TOKEN.
    #[arg(long, env = "MEETING_CLUSTER_CREDS", value_name = "FILE")]
    cluster_creds: Option<PathBuf>,

    /// Reach NATS over TLS, trusting this certificate authority (PEM) as
    /// well as the system's.
    #[arg(long, env = "MEETING_CLUSTER_CA", value_name = "FILE")]
    cluster_ca: Option<PathBuf>,

    /// A client certificate and key (PEM) for NATS servers that ask for
    /// one, as CERT,KEY.
    #[arg(
        long,
        env = "MEETING_CLUSTER_CERT",
        value_name = "CERT,KEY",
        value_delimiter = ',',
        num_args = 2
    )]
    cluster_cert: Vec<PathBuf>,

    /// On how many NATS servers the cluster's directory is kept: 2 on a
    /// three-node NATS cluster lets it outlive one NATS server's death.
    #[arg(
        long,
        env = "MEETING_CLUSTER_REPLICAS",
        value_name = "N",
        default_value_t = 1
    )]
    cluster_replicas: usize,

    /// Allow nats:// without TLS to another machine: meetings cross that
    /// network in clear text. Only for a network that is yours alone.
    #[arg(long)]
    cluster_insecure: bool,
}

impl ClusterArgs {
    fn config(&self) -> anyhow::Result<Option<meeting_server::cluster::ClusterConfig>> {
        use meeting_server::cluster::{ClusterAuth, ClusterConfig, ClusterTls};
        let urls: Vec<String> = self
            .cluster
            .iter()
            .map(|url| url.trim().to_string())
            .filter(|url| !url.is_empty())
            .collect();
        if urls.is_empty() {
            return Ok(None);
        }
        let secret = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let user = match (
            secret("MEETING_CLUSTER_USER"),
            secret("MEETING_CLUSTER_PASSWORD"),
        ) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, None) => None,
            _ => anyhow::bail!(
                "MEETING_CLUSTER_USER and MEETING_CLUSTER_PASSWORD go together: set both or neither"
            ),
        };
        let tls =
            (self.cluster_ca.is_some() || !self.cluster_cert.is_empty()).then(|| ClusterTls {
                roots: self.cluster_ca.clone(),
                client: match self.cluster_cert.as_slice() {
                    [certificate, key] => Some((certificate.clone(), key.clone())),
                    _ => None,
                },
            });
        let config = ClusterConfig {
            urls,
            name: self.cluster_name.clone(),
            server: meeting_server::cluster::config::server_name(),
            advertise: self.advertise.clone().unwrap_or_default(),
            fingerprint: None,
            auth: ClusterAuth {
                creds: self.cluster_creds.clone(),
                user,
                token: secret("MEETING_CLUSTER_TOKEN"),
            },
            tls,
            insecure: self.cluster_insecure,
            replicas: self.cluster_replicas,
        };
        config.check().map_err(anyhow::Error::msg)?;
        Ok(Some(config))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr; colour codes only for a person at a terminal (not a log
/// file, not journald), and never with NO_COLOR set.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let colour = std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
            builder.with_ansi(colour).init();
        }
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// The state directory: the flag, else what systemd or XDG say, else ~/.local/state.
fn state_dir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    flag.or_else(|| from_env("STATE_DIRECTORY"))
        .or_else(|| from_env("XDG_STATE_HOME").map(|dir| dir.join("meeting-server")))
        .or_else(|| from_env("HOME").map(|home| home.join(".local/state/meeting-server")))
        .context("no place for the server's key: give --state-dir DIR")
}

/// A DNS-SD instance name: 1 to 63 bytes, no control characters.
fn parse_announce_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    if name.is_empty() || name.len() > 63 {
        return Err("a name is 1 to 63 bytes".to_string());
    }
    if name.chars().any(char::is_control) {
        return Err("a name cannot contain control characters".to_string());
    }
    Ok(name.to_string())
}

fn parse_queue(text: &str) -> Result<(MediaKind, usize), String> {
    let kinds: Vec<&str> = MediaKind::ALL.iter().map(|kind| kind.name()).collect();
    let usage = || format!("expected KIND=N with KIND one of {}", kinds.join(", "));
    let (name, count) = text.split_once('=').ok_or_else(usage)?;
    let kind = MediaKind::from_name(name.trim()).ok_or_else(usage)?;
    let count = count
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("{name}: N must be a whole number"))?;
    Ok((kind, count.max(1)))
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        Ok(_) => Err("must be longer than 0 (for example 10s)".to_string()),
        Err(err) => Err(format!("{err} (for example 10s)")),
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|err| format!("{err} (for example 30s or 5m)"))
}

/// The address of `--FLAG TEXT`: IP:PORT, HOST:PORT or a bare PORT (all interfaces).
fn resolve_address(flag: &str, text: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    text.to_socket_addrs()
        .with_context(|| format!("--{flag} {text}: expected IP:PORT, HOST:PORT or PORT"))?
        .next()
        .with_context(|| format!("--{flag} {text}: the name has no address"))
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.docs.requested() {
        return match args.docs.print(Args::command(), &[]) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("server: {err}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    init_logging(args.log_format);
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The per-kind queue lengths: defaults, then the shorthand flags, then `--queue`.
fn media_queues(args: &Args) -> PerKind<usize> {
    let mut queues = ServerConfig::default().media_queue;
    let shorthands = [
        (MediaKind::Video, args.video_queue),
        (MediaKind::Audio, args.audio_queue),
    ];
    for (kind, count) in shorthands {
        if let Some(count) = count {
            queues[kind] = count.max(1);
        }
    }
    for &(kind, count) in &args.queues {
        queues[kind] = count;
    }
    queues
}

/// Announces the server on the LAN unless it is told not to or listens on
/// loopback only. A failure (port 5353 taken without sharing, no multicast)
/// is a warning: the server works without it, and people can type its
/// address.
fn announce(
    args: &Args,
    addr: SocketAddr,
    encryption: &Encryption,
    server: &meeting_server::server::RunningServer,
) -> Option<Announcer> {
    if args.no_announce || !Announcement::reaches_the_lan(addr) {
        return None;
    }
    let announcement = Announcement {
        name: args
            .announce_name
            .clone()
            .unwrap_or_else(|| Announcement::default_name(addr.port())),
        bind: addr,
        fingerprint: match encryption {
            Encryption::Tls(identity) => Some(identity.fingerprint().to_compact()),
            Encryption::Plain => None,
        },
    };
    let registry = server.registry().clone();
    match Announcer::start(announcement, move || registry.counts().meetings) {
        Ok(announcer) => {
            tracing::info!(name = %announcer.fullname(), "announced on the LAN (mDNS); --no-announce turns it off");
            Some(announcer)
        }
        Err(err) => {
            tracing::warn!("{err:#}: clients must be given this server's address");
            None
        }
    }
}

/// Descriptors one connection may hold at once: its socket, a duplicate for
/// its writer, one to close it by, one while it is in its handshake, and
/// spares for the registry and the TLS layer.
const DESCRIPTORS_PER_CONNECTION: u64 = 6;

/// Raises the soft limit on open files as far as the connections need and
/// the hard limit allows: many systems start programs at 1,024, which a few
/// hundred connections use up, and then every newcomer is turned away.
fn raise_descriptor_limit(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let wanted = (max_connections as u64)
        .saturating_mul(DESCRIPTORS_PER_CONNECTION)
        .saturating_add(64);
    let limit = getrlimit(Resource::Nofile);
    let Some(current) = limit.current else {
        return;
    };
    let raised = limit.maximum.map_or(wanted, |maximum| wanted.min(maximum));
    if raised > current {
        let new = Rlimit {
            current: Some(raised),
            maximum: limit.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, new) {
            tracing::warn!("could not raise the limit on open files from {current}: {err}");
        }
    }
    let now = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
    if now < wanted {
        tracing::warn!(
            "this process may open {now} files; {max_connections} connections need about {wanted} (raise LimitNOFILE or ulimit -n, or lower --max-connections)"
        );
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    raise_descriptor_limit(args.max_connections);
    let encryption = if args.no_tls {
        Encryption::Plain
    } else {
        let dir = state_dir(args.state_dir.clone())?;
        let identity = transport::ServerIdentity::load_or_create(&dir)?;
        if identity.created() {
            tracing::info!(key = %identity.path().display(), "made this server's TLS key");
        }
        Encryption::Tls(Arc::new(identity))
    };
    let config = ServerConfig {
        bind: resolve_address("bind", &args.bind)?,
        max_connections: args.max_connections.max(1),
        max_per_address: args
            .max_per_address
            .unwrap_or(args.max_connections / 2)
            .max(1),
        max_handshaking: args
            .max_handshaking
            .unwrap_or(args.max_connections / 4)
            .max(1),
        max_connection_rate: args.max_connection_rate,
        handshake_timeout: args.handshake_timeout,
        control_queue: args.control_queue.max(1),
        media_queue: media_queues(&args),
        stats_interval: Some(args.stats_interval).filter(|every| !every.is_zero()),
        encryption: encryption.clone(),
        metrics: args
            .metrics
            .as_deref()
            .map(|text| resolve_address("metrics", text))
            .transpose()?,
        resume_hold: args.resume_hold,
        max_held: args.max_held,
        max_held_per_address: args.max_held_per_address,
        speakers: args.speakers,
        cluster: args.cluster.config()?,
        ..ServerConfig::default()
    };
    let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
    ctrlc::set_handler(move || {
        let _ = stop_tx.try_send(());
    })
    .context("could not install the Ctrl-C handler")?;

    let server = Server::bind(config)?.start()?;
    let addr = server.local_addr();
    println!("listening on {addr}");
    match &encryption {
        Encryption::Tls(identity) => println!("fingerprint {}", identity.fingerprint()),
        Encryption::Plain => {
            println!(
                "encryption off (--no-tls): anyone on the network can read and alter meetings"
            );
            tracing::warn!("TLS is off (--no-tls): every meeting travels in clear text");
        }
    }
    if let Some(metrics) = server.metrics_addr() {
        println!("metrics on {metrics}");
        tracing::info!(%metrics, "metrics at http://{metrics}/metrics, health check at /healthz");
    }
    std::io::stdout().flush()?;
    // Logged, not printed: stdout's two lines are for scripts.
    for command in meeting_server::lan::join_commands(addr) {
        tracing::info!("people join with: {command}");
    }

    let announcer = announce(&args, addr, &encryption, &server);

    let _ = stop_rx.recv();
    tracing::info!("stopping: telling connected clients");
    if let Some(announcer) = announcer {
        announcer.stop();
    }
    server.shutdown(Duration::from_secs(2));
    tracing::info!("stopped");
    Ok(())
}
