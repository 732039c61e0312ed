//! A bad network in front of the server, for plain-TCP (`--no-tls`) clients:
//! a proxy that loses a share of the audio frames clients send through it and
//! holds each of the others back by a random time. TCP keeps order, so a
//! frame held longer holds up those behind it, as on a real link whose queue
//! varies; what the server sends back passes untouched.

use common::{FrameKind, FrameReader, MediaKind};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// What the proxy does to audio frames.
#[derive(Clone, Copy, Debug)]
pub struct Impairment {
    /// The share of audio frames lost, 0 to 1.
    pub loss: f64,
    /// Each audio frame is held back up to this long (uniformly).
    pub jitter: Duration,
    pub seed: u64,
}

/// Counts of what went through.
#[derive(Default)]
pub struct Counts {
    pub audio_passed: AtomicU64,
    pub audio_lost: AtomicU64,
}

/// The proxy; it stops taking connections when dropped (the ones open run
/// until either end closes).
pub struct LossyProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    pub counts: Arc<Counts>,
}

impl LossyProxy {
    pub fn start(server: SocketAddr, impairment: Impairment) -> LossyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let (stopping, counting) = (stop.clone(), counts.clone());
        std::thread::spawn(move || {
            let mut connection = 0u64;
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        connection += 1;
                        let seed = impairment.seed.wrapping_add(connection);
                        let impairment = Impairment { seed, ..impairment };
                        relay(client, server, impairment, counting.clone());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        LossyProxy { addr, stop, counts }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A small deterministic generator: uniform in [0, 1).
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn relay(client: TcpStream, server: SocketAddr, impairment: Impairment, counts: Arc<Counts>) {
    let _ = client.set_nonblocking(false);
    let Ok(upstream) = TcpStream::connect(server) else {
        return;
    };
    let _ = upstream.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (Ok(mut back_from), Ok(mut back_to)) = (upstream.try_clone(), client.try_clone()) else {
        return;
    };
    // Back to the client: as it comes.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut back_from, &mut back_to);
        let _ = back_to.shutdown(std::net::Shutdown::Both);
    });
    // To the server: frame by frame, each released at its time.
    let (releases, released) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let mut to_server = upstream;
    std::thread::spawn(move || {
        for (at, bytes) in released {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            if to_server.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to_server.shutdown(std::net::Shutdown::Both);
    });
    std::thread::spawn(move || read_frames(client, impairment, &counts, &releases));
}

fn read_frames(
    client: TcpStream,
    impairment: Impairment,
    counts: &Counts,
    releases: &Sender<(Instant, Vec<u8>)>,
) {
    let kinds: Vec<FrameKind> = std::iter::once(FrameKind::Control)
        .chain(MediaKind::ALL.into_iter().map(FrameKind::Media))
        .collect();
    let mut frames = FrameReader::new(client, &kinds);
    let mut random = Random(impairment.seed | 1);
    let mut last = Instant::now();
    while let Ok(Some(frame)) = frames.read_frame() {
        let mut at = Instant::now();
        if frame.kind() == FrameKind::Media(MediaKind::Audio) {
            if random.next() < impairment.loss {
                counts.audio_lost.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            counts.audio_passed.fetch_add(1, Ordering::Relaxed);
            at += impairment.jitter.mul_f64(random.next());
        }
        // In order, as TCP delivers.
        last = last.max(at);
        if releases.send((last, frame.as_bytes().to_vec())).is_err() {
            break;
        }
    }
}
