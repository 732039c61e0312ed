//! The one `unsafe` operation of the crate: mapping the MIT-SHM segment the X
//! server created for us, so that a captured frame is read from shared memory
//! instead of being copied through the socket. Everything else about the
//! segment (asking for it, filling it, detaching it) is safe x11rb code in
//! `capture`; this module only turns the segment's file descriptor into bytes.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;

use memmap2::{Mmap, MmapOptions};

/// A read-only view of a shared-memory segment that the X server writes into.
pub(crate) struct SharedSegmentMapping {
    mapping: Mmap,
}

impl SharedSegmentMapping {
    /// Maps `len` bytes of the segment behind `segment_fd` (from the server's
    /// CreateSegment reply).
    pub(crate) fn map(segment_fd: OwnedFd, len: usize) -> io::Result<SharedSegmentMapping> {
        let file = File::from(segment_fd);
        // SAFETY: memmap2 requires that the mapped file is not truncated and
        // not written while we hold references into it. The file is an
        // anonymous segment the X server created for this connection alone,
        // of exactly `len` bytes; nothing truncates it. The server writes it
        // only while it executes our own ShmGetImage request, and `capture`
        // reads it only after that request's reply has arrived and before it
        // sends the next one, so no write overlaps a read. (Another client of
        // the same server could name our segment in its own request; such a
        // client can already read the screen and inject input, and at worst
        // the bytes we read are garbage, as plain u8 has no invalid values.)
        let mapping = unsafe { MmapOptions::new().len(len).map(&file)? };
        Ok(SharedSegmentMapping { mapping })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.mapping
    }
}
