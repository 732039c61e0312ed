//! Arbitrary bytes from a peer through the `FrameReader`, frame after frame,
//! until an error or the end of the stream.
//!
//! Properties:
//! - no panic;
//! - every frame returned has a type the connection accepts, a payload within
//!   that type's limit (media frames at least a media header long), and is
//!   byte for byte the next piece of the input: concatenated, the frames are
//!   the stream's start, and a clean end (`Ok(None)`) means all of it;
//! - memory: the reader never holds more than its 16 KiB buffer plus one
//!   frame of the largest allowed payload, whatever length a header claims.
//!   A counting allocator measures the peak of live Rust allocations during
//!   each run (libFuzzer's `-rss_limit_mb` is the coarse backstop).

#![no_main]

use common::protocol::FRAME_HEADER_LEN;
use common::{FrameKind, FrameReader, MediaHeader, MediaKind, ProtocolError};
use libfuzzer_sys::fuzz_target;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

fn grew(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ALL: [FrameKind; 1 + MediaKind::COUNT] = [
    FrameKind::Control,
    FrameKind::Media(MediaKind::Video),
    FrameKind::Media(MediaKind::Audio),
    FrameKind::Media(MediaKind::Screen),
];

/// The reader's own buffer (`FrameReader::new`), the accepted list, an error
/// message, and one frame of the largest payload any type allows.
fn allowed_peak() -> usize {
    let largest = ALL
        .iter()
        .map(|k| k.max_payload() as usize)
        .max()
        .unwrap_or(0);
    16 * 1024 + 4096 + FRAME_HEADER_LEN + largest
}

fuzz_target!(|data: &[u8]| {
    // Sanity of the harness: every kind the protocol has is in ALL.
    debug_assert!(
        MediaKind::ALL
            .iter()
            .all(|k| ALL.contains(&FrameKind::Media(*k)))
    );

    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);

    let mut reader = FrameReader::new(Cursor::new(data), &ALL);
    let mut consumed = 0usize;
    loop {
        match reader.read_frame() {
            Ok(Some(frame)) => {
                let kind = frame.kind();
                let bytes = frame.as_bytes();
                assert!(ALL.contains(&kind));
                assert_eq!(bytes[0], kind.byte());
                let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
                assert_eq!(len as usize, frame.payload().len());
                assert!(len <= kind.max_payload(), "{kind} frame of {len} bytes");
                if kind != FrameKind::Control {
                    assert!(frame.payload().len() >= MediaHeader::LEN);
                    assert!(frame.media_header().is_ok());
                }
                assert_eq!(
                    Some(bytes),
                    data.get(consumed..consumed + bytes.len()),
                    "a frame must be the next bytes of the stream"
                );
                consumed += bytes.len();
            }
            Ok(None) => {
                assert_eq!(consumed, data.len(), "a clean end only after the last byte");
                break;
            }
            Err(err) => {
                // Whatever went wrong, it is the peer's bytes or their end:
                // a Cursor never fails with an I/O error of its own.
                assert!(!matches!(err, ProtocolError::Io(_)), "{err}");
                assert!(consumed < data.len());
                break;
            }
        }
    }
    drop(reader);

    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert!(
        peak <= allowed_peak(),
        "reader held {peak} bytes at once, the limits allow {}",
        allowed_peak()
    );
});
