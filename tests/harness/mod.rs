//! Test harness: runs the real `server` and `client` binaries on loopback and
//! talks to them the way users and scripts do.
//!
//! - `ServerProcess` starts `server --bind 127.0.0.1:0` and reads the port and
//!   key fingerprint it prints (all test servers share one key, kept under
//!   target/tmp); `ClientProcess` runs `client --json`, pinned to
//!   that key, and turns its stdout into a
//!   stream of JSON events to wait on; `RawPeer` speaks the protocol directly,
//!   for input no well-behaved client would send (its handshakes are
//!   `common::handshake`'s, as the client's are).
//! - The opening most tests share, a server and clients in one meeting, is
//!   `meeting_of`, `ServerProcess::meeting` (and `meeting_with`, with
//!   arguments per client) and `ServerProcess::raw_meeting` for raw members.
//! - Every wait has a deadline and a failure shows what did arrive; every
//!   child process is killed when its handle drops, also when a test panics.

pub mod attack;
pub mod limits;
pub mod lossy;
pub mod nats;
pub mod tmux;

use anyhow::{Context, anyhow, bail};
use common::handshake::{self, HandshakeError, Resumed, Welcome};
use common::sync::lock;
use common::{ClientId, Event, Frame, FrameKind, FrameReader, MediaKind, MeetingId, Request};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use transport::{Fingerprint, Socket};

/// How long any single expected thing may take (debug builds on a busy machine).
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The directory cargo put this test binary's siblings in (target/<profile>).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// Path of a workspace binary, built once per test process. Integration tests of
/// one crate cannot ask cargo for another crate's binaries, so build them here;
/// `cargo build` is a no-op when they are fresh.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command.args([
            "build",
            "--quiet",
            "-p",
            "meeting-server",
            "-p",
            "meeting-client",
            "-p",
            "meeting-loadgen",
            "--bins",
        ]);
        // Device tests build the client with its device back-ends (see .ci/run).
        if let Some(features) = client_features() {
            command.args(["--features", &format!("meeting-client/{features}")]);
        }
        if profile_dir().ends_with("release") {
            command.arg("--release");
        }
        let status = command
            .status()
            .map_err(|e| format!("could not run cargo: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("cargo build failed: {status}"))
        }
    });
    if let Err(err) = built {
        panic!("{err}");
    }
    profile_dir().join(name)
}

/// The client's cargo features these tests run with (`MEETING_CLIENT_FEATURES`,
/// for example `audio`); None for the default build.
pub fn client_features() -> Option<String> {
    std::env::var("MEETING_CLIENT_FEATURES")
        .ok()
        .filter(|f| !f.trim().is_empty())
}

/// Frequency of the strongest of `candidates` in 48 kHz `samples`.
pub fn dominant_frequency(samples: &[i16], candidates: &[f64]) -> f64 {
    candidates
        .iter()
        .map(|&hz| (hz, goertzel_power(samples, hz)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0.0, |(hz, _)| hz)
}

/// Collects a child's stderr for failure messages.
fn capture(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut text = lock(&sink);
            text.push_str(&line);
            text.push('\n');
        }
    });
    text
}

/// Waits for `child` to exit, polling, for at most `deadline`.
pub fn wait_with_deadline(child: &mut Child, deadline: Duration) -> anyhow::Result<ExitStatus> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > end {
            bail!("process {} did not exit within {deadline:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `run_within` saw of a program: its exit status (None when it was
/// killed at the deadline) and everything it wrote.
pub struct Ran {
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `command` until it exits, for at most `deadline` (then kills it),
/// reading stdout and stderr as they come so a full pipe never stalls it.
/// `input` goes to stdin, which is then closed; with None stdin stays open
/// until the end, so the program must end by itself.
pub fn run_within(command: &mut Command, input: Option<&[u8]>, deadline: Duration) -> Ran {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let read_all = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = read_all(Box::new(child.stdout.take().expect("stdout")));
    let err = read_all(Box::new(child.stderr.take().expect("stderr")));
    let mut stdin = child.stdin.take();
    if let Some(input) = input {
        if let Some(mut stdin) = stdin.take() {
            let _ = stdin.write_all(input);
        }
    }
    let status = wait_with_deadline(&mut child, deadline).ok();
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(stdin);
    Ran {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// `program` run through `wrapper` (none: run directly).
fn wrapped(wrapper: &[&str], program: PathBuf) -> Command {
    match wrapper.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
        None => Command::new(program),
    }
}

pub struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    /// The key it proves it holds; None when started with `--no-tls`.
    fingerprint: Option<Fingerprint>,
    stderr: Arc<Mutex<String>>,
    /// The lines of stdout after the first (`listening on ADDR`).
    stdout: Mutex<std::sync::mpsc::Receiver<String>>,
}

/// The server binary the tests run: this workspace's, or the one
/// MEETING_SERVER_UNDER_TEST names (another build, to measure before and
/// after a change with the same tests).
fn server_program() -> PathBuf {
    match std::env::var_os("MEETING_SERVER_UNDER_TEST") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => binary("server"),
    }
}

/// The state directory every test server shares: one key for all, made by
/// whichever starts first.
pub fn test_state_dir() -> PathBuf {
    let profile = profile_dir();
    profile
        .parent()
        .unwrap_or(&profile)
        .join("tmp")
        .join("server-state")
}

/// The key of each server these tests started, by address, so a `RawPeer`
/// given only an address knows whether and whom to speak TLS to.
fn server_keys() -> &'static Mutex<HashMap<SocketAddr, Option<Fingerprint>>> {
    static KEYS: OnceLock<Mutex<HashMap<SocketAddr, Option<Fingerprint>>>> = OnceLock::new();
    KEYS.get_or_init(Mutex::default)
}

/// Connects to a server these tests started, as its clients do: TLS pinned
/// to its key, or plain TCP if it runs with `--no-tls`.
pub fn connect_socket(addr: SocketAddr) -> anyhow::Result<Socket> {
    let tcp = TcpStream::connect(addr)?;
    // As the client does: a request written in pieces must not wait for
    // a delayed acknowledgement (40 ms) before its last piece goes.
    tcp.set_nodelay(true)?;
    let key = lock(server_keys()).get(&addr).copied();
    match key {
        Some(Some(expected)) => {
            let deadline = Instant::now() + DEADLINE;
            Ok(transport::connect(tcp, "127.0.0.1", Some(expected), deadline)?.0)
        }
        Some(None) => Ok(Socket::plain(tcp)),
        None => bail!("{addr} is not a server these tests started"),
    }
}

impl ServerProcess {
    pub fn start() -> ServerProcess {
        ServerProcess::start_with(&[])
    }

    pub fn start_with(args: &[&str]) -> ServerProcess {
        ServerProcess::start_wrapped(&[], "127.0.0.1:0", args)
    }

    /// A server run by `wrapper` (for example `ip netns exec NS`), bound to `bind`.
    pub fn start_wrapped(wrapper: &[&str], bind: &str, args: &[&str]) -> ServerProcess {
        let state_dir = test_state_dir();
        let mut command = wrapped(wrapper, server_program());
        command.args(["--bind", bind]);
        if !args.contains(&"--state-dir") {
            command.arg("--state-dir").arg(&state_dir);
        }
        let mut child = command
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("SERVER_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("server starts");
        let stderr = capture(child.stderr.take().expect("stderr"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Every line: the address, then the key (or that there is none),
            // then any later ones (`metrics on ADDR`); reading them all keeps
            // the pipe drained.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first_two = rx
            .recv_timeout(DEADLINE)
            .and_then(|address| Ok((address, rx.recv_timeout(DEADLINE)?)));
        let (address_line, key_line) = match first_two {
            Ok(lines) => lines,
            other => {
                let _ = child.kill();
                panic!(
                    "server printed no address and key ({other:?}); stderr:\n{}",
                    lock(&stderr).clone()
                )
            }
        };
        let addr: SocketAddr = address_line
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .expect("`listening on ADDR` line");
        let fingerprint = match key_line.strip_prefix("fingerprint ") {
            Some(key) => Some(key.parse().expect("a fingerprint")),
            None if key_line.starts_with("encryption off") => None,
            None => panic!("expected `fingerprint …` or `encryption off`, got {key_line:?}"),
        };
        lock(server_keys()).insert(addr, fingerprint);
        ServerProcess {
            child,
            addr,
            fingerprint,
            stderr,
            stdout: Mutex::new(rx),
        }
    }

    /// The next line the server prints on stdout that starts with `prefix`,
    /// without the prefix; panics after the deadline.
    pub fn stdout_line(&self, prefix: &str) -> String {
        let end = Instant::now() + DEADLINE;
        let lines = lock(&self.stdout);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_string();
                    }
                }
                Err(err) => panic!(
                    "server printed no `{prefix}` line ({err}); stderr:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprint
    }

    /// What a client or loadgen needs to connect to this server as it runs:
    /// `--fingerprint KEY`, or `--no-tls`.
    pub fn trust_args(&self) -> Vec<String> {
        match self.fingerprint {
            Some(key) => vec!["--fingerprint".into(), key.to_compact()],
            None => vec!["--no-tls".into()],
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Sends SIGINT (what Ctrl-C does) and waits for the exit status.
    pub fn interrupt(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "could not signal the server");
        wait_with_deadline(&mut self.child, DEADLINE).expect("server stops after SIGINT")
    }

    /// Kills it with SIGKILL (as a crash would: no goodbye to anyone) and
    /// waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = wait_with_deadline(&mut self.child, DEADLINE);
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // What the server said is what explains a failed test.
        if std::thread::panicking() && std::env::var_os("SERVER_LOG").is_some() {
            eprintln!("--- server {} said:\n{}", self.addr(), self.stderr());
        }
    }
}

/// A `client --json` process and the events it printed.
pub struct ClientProcess {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    events: std::sync::mpsc::Receiver<Value>,
    /// Every event received so far, in order.
    pub history: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    pub id: u64,
    /// The client's own `known_hosts`, unless the test chose one: the
    /// user's file outlives every test, and a key remembered there for a
    /// loopback port another test's server used would refuse this one.
    _trust: Option<tempfile::TempDir>,
}

impl ClientProcess {
    pub fn start(server: &ServerProcess, name: &str) -> ClientProcess {
        ClientProcess::start_with(server, name, &[])
    }

    pub fn start_with(server: &ServerProcess, name: &str, args: &[&str]) -> ClientProcess {
        // A test that chooses how to trust the server says so in `args`.
        let chooses_trust = args
            .iter()
            .any(|a| matches!(*a, "--fingerprint" | "--no-tls" | "--known-hosts"));
        let mut all: Vec<String> = if chooses_trust {
            Vec::new()
        } else {
            server.trust_args()
        };
        all.extend(args.iter().map(|a| a.to_string()));
        ClientProcess::start_at(&server.addr().to_string(), name, &all)
            .unwrap_or_else(|err| panic!("{err:#}"))
    }

    /// A client of whatever listens at `address` (a server, or a proxy in
    /// front of one), with exactly `args`; an error if it never connects.
    pub fn start_at(address: &str, name: &str, args: &[String]) -> anyhow::Result<ClientProcess> {
        ClientProcess::start_wrapped(&[], address, name, args)
    }

    /// A client run by `wrapper` (for example `ip netns exec NS`).
    pub fn start_wrapped(
        wrapper: &[&str],
        address: &str,
        name: &str,
        args: &[String],
    ) -> anyhow::Result<ClientProcess> {
        // Scripts that check what they receive ask for the full size of
        // everyone's video (the JSON mode asks for none by itself), unless
        // the test says what it wants.
        let wants_video = if args.iter().any(|a| a == "--video-size-wanted") {
            &[][..]
        } else {
            &["--video-size-wanted", "full"][..]
        };
        let chooses_known_hosts = args
            .iter()
            .any(|a| matches!(a.as_str(), "--known-hosts" | "--no-tls"));
        let trust = if chooses_known_hosts {
            None
        } else {
            Some(tempfile::tempdir().context("a folder for the client's known_hosts")?)
        };
        let own_known_hosts: Vec<String> = trust
            .iter()
            .flat_map(|dir| {
                [
                    "--known-hosts".to_string(),
                    dir.path().join("known_hosts").display().to_string(),
                ]
            })
            .collect();
        let mut child = wrapped(wrapper, binary("client"))
            .arg(address)
            .args(["--json", "--name", name])
            .args(wants_video)
            .args(&own_known_hosts)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("client starts");
        let stderr = capture(child.stderr.take().expect("stderr"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "NOT JSON", "line": line}));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut client = ClientProcess {
            name: name.to_string(),
            child,
            stdin,
            events,
            history: Vec::new(),
            stderr,
            id: 0,
            _trust: trust,
        };
        let connected = client.wait_for("connected", |e| e["event"] == "connected")?;
        client.id = connected["id"].as_u64().context("connected has an id")?;
        Ok(client)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .expect("client reads stdin");
    }

    /// Waits for the next event that matches `pred`, skipping (and keeping) others.
    pub fn expect(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(what, pred)
            .unwrap_or_else(|err| panic!("{err:#}"))
    }

    /// Waits for an event matching `pred`; an error (saying what did
    /// arrive) if none does within the deadline or the client ends first.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.history.push(event.clone());
                    if event["event"] == "NOT JSON" {
                        bail!("{}: stdout had a non-JSON line: {event}", self.name);
                    }
                    if pred(&event) {
                        return Ok(event);
                    }
                }
                Err(_) => bail!(
                    "{}: no {what} within {DEADLINE:?}.\nevents so far:\n{}\nstderr:\n{}",
                    self.name,
                    self.history
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    self.stderr()
                ),
            }
        }
    }

    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// The last `event` received so far (`joined`, after `join` or a
    /// meeting's opening); panics if none came.
    pub fn last_event(&self, event: &str) -> Value {
        self.history
            .iter()
            .rev()
            .find(|e| e["event"] == event)
            .cloned()
            .unwrap_or_else(|| panic!("{}: no '{event}' event so far", self.name))
    }

    pub fn expect_event(&mut self, event: &str) -> Value {
        self.expect(&format!("'{event}' event"), |e| e["event"] == event)
    }

    /// The events between now and the answer to `/meetings`: a round trip that
    /// proves the server had handled everything that would reach us before it.
    pub fn sync(&mut self) -> Vec<Value> {
        let start = self.history.len();
        self.send("/meetings");
        self.expect_event("meetings");
        self.history[start..self.history.len() - 1].to_vec()
    }

    /// Creates a meeting and returns its id.
    pub fn create(&mut self) -> String {
        self.send("/create");
        let created = self.expect_event("created");
        self.expect_event("joined");
        created["meeting"].as_str().expect("meeting id").to_string()
    }

    pub fn join(&mut self, meeting: &str) -> Value {
        self.send(&format!("/join {meeting}"));
        self.expect_event("joined")
    }

    /// Polls `/stats` until `pred` holds for the stats event.
    pub fn wait_stats(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + DEADLINE;
        loop {
            self.send("/stats");
            let stats = self.expect_event("stats");
            if pred(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < end,
                "{}: stats never showed {what}; last: {stats}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Closes stdin (the client quits) and returns its exit status and the rest
    /// of its events.
    pub fn quit(mut self) -> (ExitStatus, Vec<Value>) {
        drop(self.stdin.take());
        let status =
            wait_with_deadline(&mut self.child, DEADLINE).expect("client exits after stdin closes");
        let rest: Vec<Value> = self.events.try_iter().collect();
        (status, rest)
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_with_deadline(&mut self.child, DEADLINE).expect("client exits")
    }

    /// SIGKILL: the client vanishes without saying goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The opening most tests share: a server, clients of it, and one meeting
/// they are all in. Every form starts the clients in turn, then the first
/// creates the meeting (and has its `joined`) and the others join it in
/// order, each waiting for its own `joined` only: what the others hear of
/// the joins is left for the test to wait on.
impl ServerProcess {
    /// `client --json` processes named `names` in one new meeting of this
    /// server: its id, and the clients in the order named (the first hosts).
    pub fn meeting<const N: usize>(&self, names: [&str; N]) -> (String, [ClientProcess; N]) {
        self.meeting_with(names.map(|name| (name, &[][..])))
    }

    /// As `meeting`, each client started with its own extra arguments (as
    /// `ClientProcess::start_with` takes them).
    pub fn meeting_with<const N: usize>(
        &self,
        members: [(&str, &[&str]); N],
    ) -> (String, [ClientProcess; N]) {
        let mut clients = members.map(|(name, args)| ClientProcess::start_with(self, name, args));
        let (host, others) = clients
            .split_first_mut()
            .expect("a meeting has at least one member");
        let meeting = host.create();
        for client in others {
            client.join(&meeting);
        }
        (meeting, clients)
    }

    /// Raw members (control connections only) named `names` in one new
    /// meeting of this server: its id, and the members in the order named
    /// (the first hosts). Media sockets are the test's: `RawMember::attach`.
    pub fn raw_meeting<const N: usize>(&self, names: [&str; N]) -> (MeetingId, [RawMember; N]) {
        let mut members = names.map(|name| RawMember::hello(self.addr(), name));
        let (host, others) = members
            .split_first_mut()
            .expect("a meeting has at least one member");
        host.peer.request(&Request::Create { passcode: None });
        let Event::Created { meeting, .. } =
            host.expect("created", |e| matches!(e, Event::Created { .. }))
        else {
            unreachable!("matched above")
        };
        host.expect("joined", |e| matches!(e, Event::Joined { .. }));
        for member in others {
            member.peer.request(&Request::Join {
                meeting: meeting.to_string(),
                passcode: None,
            });
            member.expect("joined", |e| matches!(e, Event::Joined { .. }));
        }
        (meeting, members)
    }
}

/// A server of its own, started with no options, and `client --json`
/// processes named `names` in one meeting on it (`ServerProcess::meeting`):
/// the server, the meeting's id and the clients.
pub fn meeting_of<const N: usize>(names: [&str; N]) -> (ServerProcess, String, [ClientProcess; N]) {
    let server = ServerProcess::start();
    let (meeting, clients) = server.meeting(names);
    (server, meeting, clients)
}

/// A raw member: its control connection and the session it opened.
pub struct RawMember {
    pub peer: RawPeer,
    pub id: ClientId,
    pub token: String,
}

impl RawMember {
    /// Says hello as `name` to the server at `addr`.
    pub fn hello(addr: SocketAddr, name: &str) -> RawMember {
        let (peer, id, token) = RawPeer::hello(addr, name);
        RawMember { peer, id, token }
    }

    /// Says hello as `name` to the server at `addr`, as the member it was
    /// on a server of the cluster that died (`returning`).
    pub fn returning(addr: SocketAddr, name: &str, returning: common::Returning) -> RawMember {
        let mut peer = RawPeer::connect(addr);
        match handshake::hello_returning(&mut peer.reader, name, Some(returning)) {
            Ok(Welcome { id, token, .. }) => {
                peer.events_seen = 1;
                RawMember { peer, id, token }
            }
            Err(err) => panic!("expected welcome: {err:#}"),
        }
    }

    /// Waits for an event matching `pred` on the control connection,
    /// skipping others (`RawPeer::expect`).
    pub fn expect(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        self.peer.expect(what, pred)
    }

    /// A new media socket of this session, attached.
    pub fn attach(&self, kind: MediaKind) -> RawPeer {
        let addr = self.peer.stream.peer_addr().expect("connected");
        RawPeer::attach(addr, kind, self.id, &self.token)
    }
}

/// Received media frame as seen by a raw peer.
#[derive(Debug, Clone)]
pub struct Received {
    pub sender: ClientId,
    pub sequence: u32,
    pub body: Vec<u8>,
}

/// A socket speaking the protocol by hand. Its handshakes are
/// `common::handshake`'s; everything after is up to the test.
pub struct RawPeer {
    pub stream: Socket,
    reader: FrameReader<Socket>,
    /// Control events read on this connection, counted as a client counts
    /// them for `resume` (`welcome` is the first).
    events_seen: u64,
}

impl RawPeer {
    /// Connects to a server these tests started (TLS if it speaks it).
    pub fn connect(addr: SocketAddr) -> RawPeer {
        let stream = connect_socket(addr).expect("connects");
        stream
            .tcp()
            .set_read_timeout(Some(DEADLINE))
            .expect("timeout");
        let reader = FrameReader::new(
            stream.try_clone().expect("clone"),
            &std::iter::once(FrameKind::Control)
                .chain(MediaKind::ALL.map(FrameKind::Media))
                .collect::<Vec<_>>(),
        );
        RawPeer {
            stream,
            reader,
            events_seen: 0,
        }
    }

    /// Says hello as `name` on a new connection; the peer and the server's
    /// answer, whatever it is.
    pub fn try_hello(addr: SocketAddr, name: &str) -> (RawPeer, Result<Welcome, HandshakeError>) {
        let mut peer = RawPeer::connect(addr);
        let welcome = handshake::hello(&mut peer.reader, name);
        if welcome.is_ok() {
            peer.events_seen = 1;
        }
        (peer, welcome)
    }

    /// A control session: returns the peer, its id and its token.
    pub fn hello(addr: SocketAddr, name: &str) -> (RawPeer, ClientId, String) {
        match RawPeer::try_hello(addr, name) {
            (peer, Ok(Welcome { id, token, .. })) => (peer, id, token),
            (_, Err(err)) => panic!("expected welcome: {err:#}"),
        }
    }

    /// A media socket of session `id`.
    pub fn attach(addr: SocketAddr, kind: MediaKind, id: ClientId, token: &str) -> RawPeer {
        let mut peer = RawPeer::connect(addr);
        match handshake::attach(&mut peer.reader, kind, id, token) {
            Ok(()) => peer,
            Err(err) => panic!("expected attached: {err:#}"),
        }
    }

    /// Resumes session `id` on a new connection, having seen `events_seen`
    /// events and sent `requests_sent` requests; the peer and the server's
    /// answer. The replayed events follow on the peer.
    pub fn resume(
        addr: SocketAddr,
        id: ClientId,
        token: &str,
        events_seen: u64,
        requests_sent: u64,
    ) -> (RawPeer, Result<Resumed, HandshakeError>) {
        let mut peer = RawPeer::connect(addr);
        let resumed = handshake::resume(&mut peer.reader, id, token, events_seen, requests_sent);
        if let Ok(resumed) = &resumed {
            peer.events_seen = events_seen + resumed.events_lost;
        }
        (peer, resumed)
    }

    /// Control events read on this connection (`welcome` included), as a
    /// client counts them for `resume`.
    pub fn events_seen(&self) -> u64 {
        self.events_seen
    }

    pub fn request(&mut self, request: &Request) {
        self.send_bytes(Frame::control(request).as_bytes());
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("server reads");
    }

    /// The next control event, skipping media frames.
    pub fn next_event(&mut self) -> anyhow::Result<Event> {
        loop {
            let frame = self
                .reader
                .read_frame()?
                .ok_or_else(|| anyhow!("connection closed"))?;
            if frame.kind() == FrameKind::Control {
                self.events_seen += 1;
                return Ok(frame.parse_control()?);
            }
        }
    }

    /// Waits for an event matching `pred`, skipping others.
    pub fn expect(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        loop {
            match self.next_event() {
                Ok(event) if pred(&event) => return event,
                Ok(_) => {}
                Err(err) => panic!("no {what}: {err:#}"),
            }
        }
    }

    /// The next media frame.
    pub fn next_media(&mut self) -> anyhow::Result<Received> {
        loop {
            let frame = self.reader.read_frame()?.context("connection closed")?;
            if frame.kind() != FrameKind::Control {
                let header = frame.media_header()?;
                return Ok(Received {
                    sender: header.sender,
                    sequence: header.sequence,
                    body: frame.media_body().to_vec(),
                });
            }
        }
    }

    /// True once the server has closed the connection (reads until EOF or error).
    pub fn closed_by_server(&mut self) -> bool {
        let mut sink = [0u8; 4096];
        loop {
            match self.stream.read(&mut sink) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(err) => {
                    return err.kind() != std::io::ErrorKind::WouldBlock
                        && err.kind() != std::io::ErrorKind::TimedOut;
                }
            }
        }
    }
}

/// Writes a JPEG of a recognisable picture (`seed` changes every pixel).
pub fn write_jpeg(path: &Path, seed: u8, width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(seed),
            (y as u8).wrapping_add(seed),
            seed.wrapping_mul(37),
        ])
    });
    let mut bytes = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut bytes, 85,
    ))
    .expect("encodes");
    std::fs::write(path, &bytes).expect("writes");
    bytes
}

/// Writes a 48 kHz mono 16-bit WAV of `samples`.
pub fn write_wav(path: &Path, samples: &[i16]) {
    write_wav_channels(path, 1, samples);
}

/// Writes a 48 kHz 16-bit WAV of `channels` channels, `samples` interleaved.
pub fn write_wav_channels(path: &Path, channels: u16, samples: &[i16]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("creates WAV");
    for &s in samples {
        writer.write_sample(s).expect("writes");
    }
    writer.finalize().expect("finalizes");
}

/// The value at `fraction` (0.5: the median) of `sorted`, which is not
/// empty.
pub fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let rank = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// `name` from the environment when set and valid, else `default`: the
/// length of a measurement run (a short one in CI, a long one by hand).
pub fn env_setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A helper process (`paplay`, `parec`) killed and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn read_wav(path: &Path) -> Vec<i16> {
    hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("{} is not a valid WAV: {e}", path.display()))
        .into_samples()
        .collect::<Result<_, _>>()
        .expect("samples")
}

/// Goertzel power of `hz` in 48 kHz `samples`: how much of that frequency
/// there is (compare powers of one signal, not across signals of other lengths).
pub fn goertzel_power(samples: &[i16], hz: f64) -> f64 {
    let k = 2.0 * (std::f64::consts::TAU * hz / 48_000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - k * s1 * s2
}

/// Frames of `kind` a client's `stats` event counts from `member`.
pub fn received_from(stats: &Value, member: u64, kind: &str) -> u64 {
    stats["received"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["member"] == member))
        .and_then(|m| m[kind]["frames"].as_u64())
        .unwrap_or(0)
}

/// The events in `events` of type `kind`.
pub fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The folder a `client --record ROOT` run records into: ROOT's one
/// sub-folder (each run makes its own, named after its start). Waits for it,
/// as a client just started may not have made it yet.
pub fn recording(root: &Path) -> PathBuf {
    let end = Instant::now() + DEADLINE;
    loop {
        let folders: Vec<PathBuf> = std::fs::read_dir(root)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        match folders.as_slice() {
            [one] => return one.clone(),
            [] => assert!(
                Instant::now() < end,
                "no recording folder in {} within {DEADLINE:?}",
                root.display()
            ),
            many => panic!("{} recordings in {}: {many:?}", many.len(), root.display()),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `ffprobe` can be run: when it cannot, the checks that need it
/// are skipped (said on stderr), unless `MEETING_FFMPEG_TESTS=required`
/// (CI), which makes that a failure.
pub fn ffprobe_available() -> bool {
    let runs = std::process::Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|out| out.status.success());
    if runs {
        return true;
    }
    assert!(
        std::env::var("MEETING_FFMPEG_TESTS").as_deref() != Ok("required"),
        "MEETING_FFMPEG_TESTS=required but ffprobe is not installed (apt-get install ffmpeg)"
    );
    eprintln!(
        "skipped: ffprobe is not installed (apt-get install ffmpeg); \
         set MEETING_FFMPEG_TESTS=required to fail instead"
    );
    false
}

/// What `ffprobe` says of `path`'s streams and format (JSON); fails the
/// test on anything it complains about.
pub fn ffprobe(path: &Path) -> Value {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.is_empty(),
        "ffprobe {}: {said}",
        path.display()
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe's JSON")
}

/// An HTTP/1.0 GET: the status code, the head and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, DEADLINE).expect("connects");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("sends the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reads the response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {response:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_string(), body.to_string())
}
