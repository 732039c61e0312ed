//! Drives a TLS handshake over a blocking socket, within a deadline.

use std::io;
use std::net::TcpStream;
use std::time::Instant;

/// Runs `conn`'s handshake over `tcp` until it is done and flushed, or the
/// deadline passes (a peer that trickles bytes is cut off all the same).
/// Leaves `tcp`'s timeouts as they were.
pub fn complete_handshake(
    conn: &mut rustls::Connection,
    tcp: &TcpStream,
    deadline: Instant,
) -> io::Result<()> {
    let timeouts = (tcp.read_timeout()?, tcp.write_timeout()?);
    let mut io = tcp;
    // One read or write at a time, each with what is left of the deadline
    // (rustls's complete_io would read on as long as bytes keep coming).
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
            if conn.wants_write() {
                conn.write_tls(&mut io)?;
                continue;
            }
            if conn.read_tls(&mut io)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed during the TLS handshake",
                ));
            }
            if let Err(err) = conn.process_new_packets() {
                // Tell the peer why (rustls has queued an alert), best effort.
                let _ = conn.write_tls(&mut io);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("TLS: {err}"),
                ));
            }
        }
        Ok(())
    })();
    tcp.set_read_timeout(timeouts.0)?;
    tcp.set_write_timeout(timeouts.1)?;
    result
}
