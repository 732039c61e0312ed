//! What a stranger on the LAN can do to the server, as functions that tests
//! and measurements share: connect from chosen loopback addresses (every
//! 127.x.y.z is this machine, so one test plays a hundred hosts), flood it
//! with sessions that break at once, hold silent connections from many
//! addresses, run TLS handshakes as fast as it answers; and what the others
//! see meanwhile: a newcomer's way in, a member's round trip, and the
//! server's threads, memory, descriptors and processor time from /proc.
//!
//! Every loop here is bounded by a count and a deadline, and stops on its own.

use crate::DEADLINE;
use common::handshake::{self, HandshakeError, Welcome};
use common::{Event, FrameKind, FrameReader, Request};
use socket2::{Domain, Type};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};
use transport::{Fingerprint, Socket};

/// A loopback address standing for host `n` of a LAN (127.1.x.y).
pub fn host(n: u16) -> Ipv4Addr {
    let [high, low] = n.to_be_bytes();
    Ipv4Addr::new(127, 1, high, low.max(1))
}

/// A TCP connection from `source` to `server`.
pub fn connect_from(source: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(source, 0)).into())?;
    socket.connect_timeout(&server.into(), Duration::from_secs(5))?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(DEADLINE))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A connection from `source` speaking as the server does: TLS pinned to
/// `key`, or plain without one.
pub fn secure_from(
    source: Ipv4Addr,
    server: SocketAddr,
    key: Option<Fingerprint>,
) -> std::io::Result<Socket> {
    let tcp = connect_from(source, server)?;
    match key {
        Some(key) => {
            let deadline = Instant::now() + DEADLINE;
            transport::connect(tcp, "127.0.0.1", Some(key), deadline)
                .map(|(socket, _)| socket)
                .map_err(std::io::Error::other)
        }
        None => Ok(Socket::plain(tcp)),
    }
}

/// Says hello on `stream`: the server's welcome, or why not (its refusal
/// among them).
pub fn hello(stream: &Socket, name: &str) -> Result<Welcome, HandshakeError> {
    let clone = stream.try_clone().map_err(HandshakeError::Send)?;
    handshake::hello(&mut FrameReader::new(clone, &[FrameKind::Control]), name)
}

/// Makes closing `stream` reset it (RST, not FIN): what a peer whose
/// network broke looks like.
pub fn reset(stream: &Socket) {
    let _ = socket2::SockRef::from(stream.tcp()).set_linger(Some(Duration::ZERO));
}

/// Sessions that say hello, read `welcome` and reset, one after another from
/// `source`, until `count` are made or `until`; how many were made.
pub fn reset_flood(
    server: SocketAddr,
    key: Option<Fingerprint>,
    source: Ipv4Addr,
    count: usize,
    until: Instant,
) -> usize {
    let mut made = 0;
    while made < count && Instant::now() < until {
        let Ok(stream) = secure_from(source, server, key) else {
            continue;
        };
        if hello(&stream, "bot").is_ok() {
            made += 1;
        }
        reset(&stream);
    }
    made
}

/// Silent connections from many addresses, `per_address` each, opened again
/// as the server closes them, until `until`.
pub struct IdleFlood {
    sources: Vec<Ipv4Addr>,
    per_address: usize,
    server: SocketAddr,
    open: Vec<(Ipv4Addr, TcpStream)>,
    /// Connections opened in all, and refused at once (connect failed).
    pub opened: usize,
    pub refused: usize,
}

impl IdleFlood {
    pub fn new(server: SocketAddr, sources: Vec<Ipv4Addr>, per_address: usize) -> IdleFlood {
        IdleFlood {
            sources,
            per_address,
            server,
            open: Vec::new(),
            opened: 0,
            refused: 0,
        }
    }

    /// Opens what is missing and forgets what the server closed; one pass.
    pub fn top_up(&mut self) {
        let mut scratch = [0u8; 256];
        self.open.retain(|(_, stream)| {
            let _ = stream.set_nonblocking(true);
            let alive = matches!(
                (&*stream).read(&mut scratch),
                Err(ref err) if err.kind() == std::io::ErrorKind::WouldBlock
            );
            alive
        });
        for &source in &self.sources {
            let held = self.open.iter().filter(|(s, _)| *s == source).count();
            for _ in held..self.per_address {
                match connect_from(source, self.server) {
                    Ok(stream) => {
                        self.opened += 1;
                        self.open.push((source, stream));
                    }
                    Err(_) => self.refused += 1,
                }
            }
        }
    }

    /// Tops up every `every` until `until`, or until `done` says so.
    pub fn run(&mut self, every: Duration, until: Instant, done: impl Fn() -> bool) {
        while Instant::now() < until && !done() {
            self.top_up();
            std::thread::sleep(every);
        }
    }

    pub fn holding(&self) -> usize {
        self.open.len()
    }
}

/// TLS handshakes from `source`, each closed at once, until `until` or
/// `count`; how many completed.
pub fn tls_flood(
    server: SocketAddr,
    key: Fingerprint,
    source: Ipv4Addr,
    count: usize,
    until: Instant,
) -> usize {
    let mut done = 0;
    while done < count && Instant::now() < until {
        if secure_from(source, server, Some(key)).is_ok() {
            done += 1;
        }
    }
    done
}

/// A person connecting from `source`: how long until `welcome`, or why not.
pub fn newcomer(
    server: SocketAddr,
    key: Option<Fingerprint>,
    source: Ipv4Addr,
    name: &str,
) -> Result<Duration, String> {
    let started = Instant::now();
    let stream = secure_from(source, server, key).map_err(|err| format!("connect: {err}"))?;
    match hello(&stream, name) {
        Ok(_) => Ok(started.elapsed()),
        Err(err) => Err(format!("hello: {err}")),
    }
}

/// What /proc says a process holds now.
#[derive(Clone, Copy, Debug, Default)]
pub struct Resources {
    pub threads: u64,
    pub rss_kib: u64,
    pub descriptors: u64,
    /// User and system processor time so far, in seconds.
    pub cpu_seconds: f64,
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} threads, {} KiB resident, {} descriptors",
            self.threads, self.rss_kib, self.descriptors
        )
    }
}

/// Reads `pid`'s threads, resident memory, descriptors and processor time.
pub fn resources(pid: u32) -> Resources {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count() as u64)
        .unwrap_or(0);
    Resources {
        threads: field("Threads:"),
        rss_kib: field("VmRSS:"),
        descriptors,
        cpu_seconds: cpu_seconds(pid),
    }
}

/// User plus system time of `pid`, in seconds (fields 14 and 15 of
/// /proc/PID/stat, after the parenthesised name).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(after_name) = stat.rfind(')').map(|at| &stat[at + 2..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line; here 11 and 12.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Round trips of `ping` on a member's control connection: the delay a
/// member in a meeting sees through the server. Nine a second: pings count
/// against the server's request budget (10 a second).
pub fn round_trips(peer: &mut crate::RawPeer, count: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        peer.request(&Request::Ping);
        peer.expect("pong", |event| matches!(event, Event::Pong));
        times.push(started.elapsed());
        std::thread::sleep(Duration::from_millis(110));
    }
    times
}

/// The `q` quantile (0 to 1) of `times`.
pub fn quantile(times: &[Duration], q: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}
