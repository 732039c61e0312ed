//! `Socket`: one TCP connection, encrypted or not, that a reader thread and
//! writer threads can share, as they shared the `TcpStream` before.
//!
//! A TLS connection is one state machine, but the programs above read and
//! write from different threads, and a write may block on a full socket for
//! seconds. So the session's lock is held only to encrypt or decrypt, never
//! across a socket call: a reader blocked in `read` does not stop writers, and
//! a writer blocked on a peer that does not read does not stop the reader
//! (which would deadlock two peers that both write). Writers take a second
//! lock, `write_order`, from before encrypting until the bytes are on the
//! socket, because records must reach the socket in the order they were
//! sealed.

// A panicking thread must not take the connection's other threads down.
use common::sync::lock;
use rustls::Connection;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

/// Bytes read from the socket at a time: one TLS record and its overhead,
/// so what one read brings always fits rustls's plaintext buffer.
const READ_CHUNK: usize = 16 * 1024 + 512;

/// One connection; clone it (`try_clone`) for each thread that uses it.
pub struct Socket {
    tcp: TcpStream,
    tls: Option<Arc<TlsState>>,
}

struct TlsState {
    session: Mutex<Session>,
    /// Held by a writer from sealing its records until they are written.
    write_order: Mutex<()>,
    /// The reader's buffer for socket reads (there is one reader).
    scratch: Mutex<Vec<u8>>,
}

struct Session {
    conn: Connection,
    /// Received and not yet given to rustls (it takes at most one record's
    /// worth while its plaintext waits to be read).
    incoming: Vec<u8>,
}

/// What a non-blocking send left for the writer (see `Socket::try_send`).
#[derive(Debug, PartialEq, Eq)]
pub enum Unsent {
    /// Nothing left: the socket took it all.
    Nothing,
    /// Nothing was sealed or written: the frame is as it was.
    Frame,
    /// Bytes from this offset of the plain frame (an unencrypted socket).
    FrameFrom(usize),
    /// These bytes, already sealed: written as they are, before anything else.
    Sealed(Vec<u8>),
}

fn tls_error(err: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {err}"))
}

impl Socket {
    /// An unencrypted connection (the server's `--no-tls`, raw tools).
    pub fn plain(tcp: TcpStream) -> Socket {
        Socket { tcp, tls: None }
    }

    /// A connection whose TLS handshake `conn` has completed over `tcp`.
    pub(crate) fn tls(tcp: TcpStream, mut conn: Connection) -> Socket {
        // Batches are bounded by their senders' queues; rustls must not cut
        // a write short on its own (64 KiB by default).
        conn.set_buffer_limit(None);
        Socket {
            tcp,
            tls: Some(Arc::new(TlsState {
                session: Mutex::new(Session {
                    conn,
                    incoming: Vec::new(),
                }),
                write_order: Mutex::new(()),
                scratch: Mutex::new(vec![0; READ_CHUNK]),
            })),
        }
    }

    pub fn try_clone(&self) -> io::Result<Socket> {
        Ok(Socket {
            tcp: self.tcp.try_clone()?,
            tls: self.tls.clone(),
        })
    }

    /// The TCP socket, for its options and addresses. Reading or writing it
    /// directly would corrupt a TLS connection.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    pub fn is_encrypted(&self) -> bool {
        self.tls.is_some()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.peer_addr()
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.tcp.shutdown(how)
    }

    /// Writes `frames` in order with as few system calls as it can; the
    /// first `sealed` of them are already sealed (what `try_send` left) and
    /// are written as they are.
    pub fn write_frames<B: AsRef<[u8]>>(&self, sealed: usize, frames: &[B]) -> io::Result<()> {
        let Some(tls) = &self.tls else {
            return write_all_vectored(&mut &self.tcp, frames);
        };
        let _order = lock(&tls.write_order);
        for frame in &frames[..sealed.min(frames.len())] {
            (&self.tcp).write_all(frame.as_ref())?;
        }
        let records = {
            let mut session = lock(&tls.session);
            seal_frames(&mut session.conn, &frames[sealed.min(frames.len())..])?;
            take_sealed(&mut session.conn)?
        };
        (&self.tcp).write_all(&records)
    }

    /// Sends `frame` without blocking (`MSG_DONTWAIT`) and says what is left
    /// for a writer. Call it only when no other thread is writing, or the
    /// writer may find itself overtaken.
    pub fn try_send(&self, frame: &[u8]) -> io::Result<Unsent> {
        let send = |bytes: &[u8]| {
            socket2::SockRef::from(&self.tcp).send_with_flags(bytes, libc::MSG_DONTWAIT)
        };
        let Some(tls) = &self.tls else {
            return match send(frame) {
                Ok(n) if n >= frame.len() => Ok(Unsent::Nothing),
                Ok(n) if n > 0 => Ok(Unsent::FrameFrom(n)),
                Ok(_) => Ok(Unsent::Frame),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(Unsent::Frame),
                Err(err) => Err(err),
            };
        };
        let _order = lock(&tls.write_order);
        let records = {
            let mut session = lock(&tls.session);
            session.conn.writer().write_all(frame)?;
            take_sealed(&mut session.conn)?
        };
        // Sealed records cannot be taken back: whatever the socket does not
        // take now is the writer's to send first.
        match send(&records) {
            Ok(n) if n >= records.len() => Ok(Unsent::Nothing),
            Ok(n) => Ok(Unsent::Sealed(records[n..].to_vec())),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(Unsent::Sealed(records)),
            Err(err) => Err(err),
        }
    }

    /// Says goodbye in TLS (close_notify) where there is TLS; best effort.
    pub fn close_notify(&self) {
        if let Some(tls) = &self.tls {
            let _order = lock(&tls.write_order);
            let records = {
                let mut session = lock(&tls.session);
                session.conn.send_close_notify();
                take_sealed(&mut session.conn)
            };
            if let Ok(records) = records {
                let _ = (&self.tcp).write_all(&records);
            }
        }
    }

    fn read_tls(&self, tls: &TlsState, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut session = lock(&tls.session);
                match session.conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    Err(err) => return Err(err),
                }
                if !session.incoming.is_empty() {
                    feed(&mut session)?;
                    continue;
                }
            }
            // The socket is read without the session lock: writers go on.
            let mut scratch = lock(&tls.scratch);
            let n = (&self.tcp).read(&mut scratch)?;
            let mut session = lock(&tls.session);
            if n == 0 {
                // rustls tells a clean close (close_notify, Ok(0)) from a
                // cut connection (UnexpectedEof).
                session.conn.read_tls(&mut io::empty())?;
                session.conn.process_new_packets().map_err(tls_error)?;
                return match session.conn.reader().read(buf) {
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                        Err(io::ErrorKind::UnexpectedEof.into())
                    }
                    other => other,
                };
            }
            session.incoming.extend_from_slice(&scratch[..n]);
        }
    }
}

/// Gives rustls what it will take of the received bytes, and decrypts.
fn feed(session: &mut Session) -> io::Result<()> {
    let Session { conn, incoming } = session;
    let mut pending = &incoming[..];
    let taken = match conn.read_tls(&mut pending) {
        Ok(n) => n,
        // Its plaintext buffer is full: the caller reads it first.
        Err(err) if err.kind() == io::ErrorKind::Other => 0,
        Err(err) => return Err(err),
    };
    incoming.drain(..taken);
    conn.process_new_packets().map_err(tls_error)?;
    Ok(())
}

/// Seals `frames` as one stream of plaintext: rustls makes each `write` call
/// its own record (or more), so a batch of 80-byte Opus frames written one by
/// one would cost a record header, a tag and an AEAD call each. Handed over
/// together (a vectored write), they fill records of up to 16 KiB, so a
/// batch costs one seal per 16 KiB whatever its frames' sizes.
fn seal_frames<B: AsRef<[u8]>>(conn: &mut Connection, frames: &[B]) -> io::Result<()> {
    for chunk in frames.chunks(MAX_SLICES) {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        for (slice, frame) in slices.iter_mut().zip(chunk) {
            *slice = IoSlice::new(frame.as_ref());
        }
        let mut pending = &mut slices[..chunk.len()];
        // Each round takes something (there is no buffer limit) or fails;
        // the bound is for a rustls that would not.
        for _ in 0..=chunk.len() {
            if pending.is_empty() {
                break;
            }
            match conn.writer().write_vectored(pending)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                taken => IoSlice::advance_slices(&mut pending, taken),
            }
        }
        if !pending.is_empty() {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// Everything rustls has sealed and not yet sent.
fn take_sealed(conn: &mut Connection) -> io::Result<Vec<u8>> {
    let mut records = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut records)?;
    }
    Ok(records)
}

impl Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.tls {
            None => (&self.tcp).read(buf),
            Some(tls) => self.read_tls(tls, buf),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.tls {
            None => (&self.tcp).write(buf),
            Some(_) => {
                self.write_frames(0, &[buf])?;
                Ok(buf.len())
            }
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_frames(0, &[buf])
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Frames written with one system call at most; well under every IOV_MAX.
const MAX_SLICES: usize = 64;

/// Writes every frame in order, up to `MAX_SLICES` per vectored write.
fn write_all_vectored<B: AsRef<[u8]>>(out: &mut impl Write, frames: &[B]) -> io::Result<()> {
    for chunk in frames.chunks(MAX_SLICES) {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        for (slice, frame) in slices.iter_mut().zip(chunk) {
            *slice = IoSlice::new(frame.as_ref());
        }
        let mut pending = &mut slices[..chunk.len()];
        while !pending.is_empty() {
            match out.write_vectored(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => IoSlice::advance_slices(&mut pending, written),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts at most `limit` bytes per call, like a socket with a full buffer.
    struct Trickle {
        written: Vec<u8>,
        limit: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.limit);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
            let mut room = self.limit;
            for buf in bufs {
                let n = buf.len().min(room);
                self.written.extend_from_slice(&buf[..n]);
                room -= n;
                if room == 0 {
                    break;
                }
            }
            Ok(self.limit - room)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn vectored_writes_survive_partial_writes_in_order() {
        let frames: Vec<Vec<u8>> = (0u8..10).map(|n| vec![n; 1 + n as usize * 7]).collect();
        let expected: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        let mut out = Trickle {
            written: Vec::new(),
            limit: 13,
        };
        write_all_vectored(&mut out, &frames).expect("writes");
        assert_eq!(out.written, expected);
    }
}
