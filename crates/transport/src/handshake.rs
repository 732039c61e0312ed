//! Drives a TLS handshake over a blocking socket, within a deadline.

use std::io;
use std::net::TcpStream;
use std::time::Instant;

/// Runs `conn`'s handshake over `tcp` until it is done and flushed, or the
/// deadline passes (a peer that trickles bytes is cut off all the same).
/// Leaves `tcp` without a read timeout.
pub fn complete_handshake(
    conn: &mut rustls::Connection,
    tcp: &TcpStream,
    deadline: Instant,
) -> io::Result<()> {
    let mut io = tcp;
    let result = (|| {
        while conn.is_handshaking() || conn.wants_write() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake took too long",
                ));
            }
            tcp.set_read_timeout(Some(left))?;
            tcp.set_write_timeout(Some(left))?;
            let (read, written) = conn.complete_io(&mut io)?;
            if read == 0 && written == 0 && conn.is_handshaking() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    })();
    tcp.set_read_timeout(None)?;
    tcp.set_write_timeout(None)?;
    result
}
