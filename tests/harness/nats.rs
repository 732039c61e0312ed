//! A `nats-server` of the test's own, with JetStream, on a free loopback
//! port and a store in a temporary directory; killed (and the directory
//! removed) when its handle drops. The cluster tests run servers against it.

use super::{DEADLINE, wait_with_deadline};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsProcess {
    child: Child,
    addr: SocketAddr,
    store: tempfile::TempDir,
}

impl NatsProcess {
    /// Starts `nats-server -js` and waits until it takes connections.
    pub fn start() -> NatsProcess {
        let store = tempfile::tempdir().expect("a store directory");
        let addr = free_loopback_port();
        let child = spawn(addr, &store);
        wait_until_listening(addr);
        NatsProcess { child, addr, store }
    }

    /// Kills it (as a crash would) and starts it again on the same port,
    /// with everything it held in memory gone.
    pub fn restart(&mut self) {
        self.kill();
        self.start_again();
    }

    /// Kills it, as a crash would (`start_again` brings it back).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = wait_with_deadline(&mut self.child, DEADLINE);
    }

    /// Starts it again on the same port, empty.
    pub fn start_again(&mut self) {
        self.child = spawn(self.addr, &self.store);
        wait_until_listening(self.addr);
    }

    /// Its process id (for loadgen's `--nats-pid`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `nats://127.0.0.1:PORT`, as `--cluster` takes it.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }
}

impl Drop for NatsProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = wait_with_deadline(&mut self.child, DEADLINE);
    }
}

fn spawn(addr: SocketAddr, store: &tempfile::TempDir) -> Child {
    Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &addr.port().to_string()])
        .arg("-sd")
        .arg(store.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts (Debian package nats-server)")
}

fn wait_until_listening(addr: SocketAddr) {
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nats-server took no connection on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port nobody listens on now (the OS's pick, released).
pub fn free_loopback_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}
