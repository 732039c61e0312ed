//! What a connection costs with and without TLS, on loopback: the time from
//! `connect` to a socket both sides can use, over many connections.
//!
//!     cargo run --release -p meeting-transport --example handshake_cost [COUNT]

use meeting_transport::{ServerIdentity, Socket, connect};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    let dir = std::env::temp_dir().join(format!("handshake-cost-{}", std::process::id()));
    let identity = Arc::new(ServerIdentity::load_or_create(&dir)?);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let fingerprint = identity.fingerprint();
    for tls in [false, true] {
        let identity = identity.clone();
        let listener = listener.try_clone()?;
        let server = std::thread::spawn(move || -> anyhow::Result<()> {
            for _ in 0..count {
                let (tcp, _) = listener.accept()?;
                tcp.set_nodelay(true)?; // as the server and client do
                let socket = if tls {
                    identity.accept(tcp, Instant::now() + Duration::from_secs(5))?
                } else {
                    Socket::plain(tcp)
                };
                // One byte each way: the connection is usable both ways.
                let mut byte = [0u8; 1];
                (&socket).read_exact(&mut byte)?;
                (&socket).write_all(&byte)?;
            }
            Ok(())
        });
        let mut times = Vec::with_capacity(count);
        for _ in 0..count {
            let started = Instant::now();
            let tcp = TcpStream::connect(addr)?;
            tcp.set_nodelay(true)?;
            let socket = if tls {
                connect(
                    tcp,
                    "127.0.0.1",
                    Some(fingerprint),
                    started + Duration::from_secs(5),
                )?
                .0
            } else {
                Socket::plain(tcp)
            };
            (&socket).write_all(b"x")?;
            let mut byte = [0u8; 1];
            (&socket).read_exact(&mut byte)?;
            times.push(started.elapsed());
        }
        server
            .join()
            .map_err(|_| anyhow::anyhow!("server thread panicked"))??;
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
        println!(
            "{}: {count} connections, connect to first reply p50 {:.3} ms, p99 {:.3} ms",
            if tls {
                "TLS 1.3 (ECDSA P-256, ring)"
            } else {
                "plain TCP"
            },
            at(0.5),
            at(0.99)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
