//! Test support for the X11 tests: a private Xvfb per test, so tests run in
//! parallel without sharing a screen or a keyboard mapping, and never touch the
//! developer's own display.
//!
//! Readiness comes from Xvfb itself (`-displayfd`: it writes its display number
//! once it accepts connections), so there are no sleeps to tune. The guard stops
//! the server with SIGTERM on drop, also when the test panics, so the server
//! removes its lock file and socket and the number is free for the next run.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Display numbers tried, away from the :0..:20 desktops and ssh use.
const FIRST_DISPLAY: u32 = 90;
const DISPLAY_RANGE: u32 = 400;
const ATTEMPTS: u32 = 40;
/// How long a starting Xvfb may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Spreads the numbers tests of one process try, so parallel tests rarely
/// race for the same one (and retry when they do).
static NEXT_OFFSET: AtomicU32 = AtomicU32::new(0);

/// A running Xvfb, stopped on drop.
pub struct Xvfb {
    child: Child,
    display: String,
    stderr: mpsc::Receiver<String>,
}

impl Xvfb {
    /// Starts an Xvfb with one `width`x`height` 24-bit screen. `None` (with a
    /// note on stderr) when Xvfb is not installed, unless the environment says
    /// `MEETING_X11_TESTS=required`, in which case that is a failure.
    pub fn start(width: u32, height: u32) -> Option<Xvfb> {
        Xvfb::start_with(width, height, Listen::UnixOnly, &[])
    }

    /// Like `start`, listening as `listen` says, with `extra_args` (e.g.
    /// `-extension MIT-SHM` to run a server without it).
    pub fn start_with(
        width: u32,
        height: u32,
        listen: Listen,
        extra_args: &[&str],
    ) -> Option<Xvfb> {
        let required = std::env::var("MEETING_X11_TESTS").as_deref() == Ok("required");
        let first_offset =
            (std::process::id() % DISPLAY_RANGE) + NEXT_OFFSET.fetch_add(7, Ordering::Relaxed);
        let mut failures = Vec::new();
        for attempt in 0..ATTEMPTS {
            let number = FIRST_DISPLAY + (first_offset + attempt) % DISPLAY_RANGE;
            if display_in_use(number) {
                continue;
            }
            match Xvfb::start_on(number, width, height, listen, extra_args) {
                Ok(xvfb) => return Some(xvfb),
                Err(StartError::NotInstalled) if required => {
                    panic!(
                        "MEETING_X11_TESTS=required but Xvfb is not installed (apt-get install xvfb)"
                    )
                }
                Err(StartError::NotInstalled) => {
                    eprintln!(
                        "skipped: Xvfb is not installed (apt-get install xvfb); set MEETING_X11_TESTS=required to fail instead"
                    );
                    return None;
                }
                Err(StartError::Failed(reason)) => failures.push(format!(":{number}: {reason}")),
            }
        }
        panic!(
            "could not start Xvfb on any display:\n{}",
            failures.join("\n")
        );
    }

    /// The display name, e.g. `:93`.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The display's name over TCP on the loopback address, e.g.
    /// `127.0.0.1:93` (for a server started with `Listen::AlsoTcp`): what a
    /// client of a server on another machine sees.
    pub fn tcp_display(&self) -> String {
        format!("127.0.0.1{}", self.display)
    }

    /// What Xvfb has written to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    fn start_on(
        number: u32,
        width: u32,
        height: u32,
        listen: Listen,
        extra_args: &[&str],
    ) -> Result<Xvfb, StartError> {
        let listen_args = match listen {
            Listen::UnixOnly => ["-nolisten", "tcp"],
            Listen::AlsoTcp => ["-listen", "tcp"],
        };
        let mut child = Command::new("Xvfb")
            .arg(format!(":{number}"))
            .args(["-screen", "0", &format!("{width}x{height}x24")])
            .args(["-noreset", "-displayfd", "1"])
            .args(listen_args)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => StartError::NotInstalled,
                _ => StartError::Failed(format!("cannot run Xvfb: {error}")),
            })?;
        let (ready_tx, ready_rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                // The display number once ready; EOF (Xvfb died) sends nothing.
                if let Some(Ok(line)) = BufReader::new(stdout).lines().next() {
                    let _ = ready_tx.send(line);
                }
            });
        }
        let (stderr_tx, stderr_rx) = mpsc::channel();
        if let Some(mut stderr) = child.stderr.take() {
            // Drained continuously so a chatty server never blocks on the pipe.
            thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                let _ = stderr_tx.send(text);
            });
        }
        let xvfb = Xvfb {
            child,
            display: format!(":{number}"),
            stderr: stderr_rx,
        };
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(line) if line.trim() == number.to_string() => Ok(xvfb),
            Ok(line) => Err(StartError::Failed(format!("Xvfb announced {line:?}"))),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(StartError::Failed(format!(
                "not ready within {START_TIMEOUT:?}"
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Exited before it was ready: wait for its last words.
                let mut xvfb = xvfb;
                let _ = xvfb.child.wait();
                let stderr = xvfb
                    .stderr
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default();
                let last_line = stderr.lines().rev().find(|line| !line.trim().is_empty());
                Err(StartError::Failed(format!(
                    "Xvfb exited: {}",
                    last_line.unwrap_or("(no message)")
                )))
            }
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let terminated = rustix::process::Pid::from_raw(self.child.id() as i32)
            .map(|pid| rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok())
            .unwrap_or(false);
        if !terminated {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Where the server accepts clients.
#[derive(Clone, Copy, Debug)]
pub enum Listen {
    /// The local socket only, as tests normally want.
    UnixOnly,
    /// Also TCP on the loopback port 6000 + N, to act as a remote server.
    AlsoTcp,
}

enum StartError {
    NotInstalled,
    Failed(String),
}

/// Whether display `number` looks taken: its socket exists, or its lock file
/// names a live process (a stale lock from a killed server is not "in use":
/// Xvfb itself replaces it).
fn display_in_use(number: u32) -> bool {
    if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists() {
        return true;
    }
    match std::fs::read_to_string(format!("/tmp/.X{number}-lock")) {
        Ok(lock) => match lock.trim().parse::<u32>() {
            Ok(pid) => Path::new(&format!("/proc/{pid}")).exists(),
            Err(_) => true,
        },
        Err(_) => false,
    }
}
