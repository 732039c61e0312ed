//! The floor under the relay's cost per delivered frame: what one `send` of
//! a small frame to a loopback TCP socket costs the thread that sends it,
//! with nothing of the server around it (docs/BENCHMARKS.md, "The relay's
//! cost per frame").
//!
//! One thread plays the server's fan-out: 800 times a second it writes one
//! 96-byte frame (an Opus frame and its headers) to each of 15 sockets, as
//! the server does in audio16 (16 members, 50 frames a second each). Each
//! socket's other end is read by a thread of its own that blocks in `read`,
//! as a client's receiving thread does. Reported: the sending thread's CPU
//! time per send (from /proc/thread-self/schedstat, in ns), paced (every
//! reader asleep when its frame comes, so every send wakes one) and in
//! bursts as fast as the readers keep up (readers often still awake).
//!
//! `cargo run --release -p meeting-server --example send_floor [SECONDS]`

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const RECEIVERS: usize = 15;
const FRAME: usize = 96;
const FRAMES_PER_SECOND: u32 = 800;

fn main() -> std::io::Result<()> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let mut sockets = receivers()?;
    let frames = FRAMES_PER_SECOND as u64 * seconds;
    let paced = fan_out(&mut sockets, frames, Some(FRAMES_PER_SECOND))?;
    let bursts = fan_out(&mut sockets, frames, None)?;
    println!("sends of {FRAME} bytes to {RECEIVERS} loopback sockets, {frames} rounds each:");
    println!(
        "  paced, {FRAMES_PER_SECOND} rounds a second: {paced:.2} µs of the sending thread per send"
    );
    println!("  unpaced bursts: {bursts:.2} µs per send");
    Ok(())
}

/// Connected sockets whose far ends are read (and discarded) by threads of
/// their own.
fn receivers() -> std::io::Result<Vec<TcpStream>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut sockets = Vec::new();
    for _ in 0..RECEIVERS {
        let socket = TcpStream::connect(addr)?;
        socket.set_nodelay(true)?;
        let (mut far, _) = listener.accept()?;
        thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            while matches!(far.read(&mut buf), Ok(n) if n > 0) {}
        });
        sockets.push(socket);
    }
    Ok(sockets)
}

/// Sends `rounds` rounds of one frame to every socket, `per_second` rounds a
/// second (None: back to back); the sending thread's CPU µs per send.
fn fan_out(
    sockets: &mut [TcpStream],
    rounds: u64,
    per_second: Option<u32>,
) -> std::io::Result<f64> {
    let frame = [0x55u8; FRAME];
    let start = Instant::now();
    let cpu_before = thread_cpu_ns()?;
    for round in 0..rounds {
        if let Some(rate) = per_second {
            let due = start + Duration::from_secs(1) * round as u32 / rate;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
        }
        for socket in sockets.iter_mut() {
            socket.write_all(&frame)?;
        }
    }
    let cpu = thread_cpu_ns()? - cpu_before;
    Ok(cpu as f64 / 1_000.0 / (rounds * sockets.len() as u64) as f64)
}

/// CPU time of the calling thread, in ns (the first field of schedstat).
fn thread_cpu_ns() -> std::io::Result<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    text.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .ok_or_else(|| std::io::Error::other("unreadable /proc/thread-self/schedstat"))
}
