//! Numbers that are part of the protocol: every peer must agree on them, so they
//! live here and nowhere else. Plain numbers only: this module uses no other,
//! so every other can use it (the kind table, `media::MEDIA`, takes its
//! payload limits from here).

use std::time::Duration;

/// Version spoken in `hello`; a server refuses a client with another one.
pub const PROTOCOL_VERSION: u32 = 1;

/// Port the server listens on when `--bind` is not given ("MEET" on a phone keypad).
pub const DEFAULT_PORT: u16 = 6338;

/// Bytes in a frame header: one type byte and a big-endian `u32` payload length.
pub const FRAME_HEADER_LEN: usize = 5;

/// Bytes of the header every media payload starts with: sender, sequence,
/// timestamp (`frame::MediaHeader`).
pub const MEDIA_HEADER_LEN: usize = 16;

/// Largest control payload (one JSON message).
pub const MAX_CONTROL_PAYLOAD: u32 = 64 * 1024;
/// Largest video payload: media header plus one JPEG (1920x1080 at high quality fits).
pub const MAX_VIDEO_PAYLOAD: u32 = 2 * 1024 * 1024;
/// Largest audio payload: media header plus up to 100 ms of PCM.
pub const MAX_AUDIO_PAYLOAD: u32 = 16 * 1024;
/// Largest screen payload: media header plus one screen update. Senders keep
/// updates far smaller (a byte budget per frame); this bounds what a receiver
/// must be ready to hold.
pub const MAX_SCREEN_PAYLOAD: u32 = 2 * 1024 * 1024;

/// A receiver may ask a screen's owner for a full picture (after it lost
/// frames) at most this often; the owner sends at most one per interval.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);
/// Requests one client may make in a burst, and per second after it: far
/// beyond what a person types or clicks, far below what floods a meeting.
/// Requests beyond it are answered with an `error` and not carried out.
pub const REQUEST_BURST: u32 = 40;
pub const REQUESTS_PER_SECOND: u32 = 10;

/// Most input events in one `input` request.
pub const MAX_INPUT_EVENTS: usize = 64;

/// The type byte of control frames (one JSON message each).
pub const CONTROL_FRAME_TYPE: u8 = 0x01;

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 32;
/// Longest chat message, in bytes of UTF-8.
pub const MAX_CHAT_BYTES: usize = 4000;
/// A reaction is at most this many grapheme clusters (what a person sees
/// as one character: 👍🏽 is one), and this many bytes of UTF-8.
pub const MAX_REACTION_GRAPHEMES: usize = 3;
pub const MAX_REACTION_BYTES: usize = 64;
/// Most members one meeting holds.
pub const MAX_MEETING_MEMBERS: usize = 100;
/// Most meetings one `meetings` answer lists (the answer says how many exist).
pub const MAX_LISTED_MEETINGS: usize = 256;

/// Audio on the wire: signed 16-bit little-endian PCM, mono, at this rate.
pub const AUDIO_SAMPLE_RATE: u32 = 48_000;
/// Audio is sent in frames of this length (20 ms: 960 samples, 1920 bytes).
pub const AUDIO_FRAME: Duration = Duration::from_millis(20);
/// Samples in one audio frame.
pub const AUDIO_FRAME_SAMPLES: usize = 960;

/// A client that has heard nothing from the server for this long asks
/// (`ping`); one that has heard nothing for `SERVER_SILENCE_LIMIT` says the
/// server is not answering.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
pub const SERVER_SILENCE_LIMIT: Duration = Duration::from_secs(6);
/// A client that has sent `ping` once keeps talking (it pings at least every
/// `KEEPALIVE_INTERVAL`): silent this long, its connection counts as dropped.
pub const CLIENT_SILENCE_LIMIT: Duration = Duration::from_secs(6);

/// How long the server holds a session whose control connection dropped
/// (without `quit`) for it to `resume`, unless `--resume-hold` says otherwise.
pub const DEFAULT_RESUME_HOLD: Duration = Duration::from_secs(45);
/// How long a client tries to resume before it gives up.
pub const RESUME_TRYING_FOR: Duration = Duration::from_secs(30);
/// Events the server keeps per session for a `resume` to replay, and their
/// most bytes; older ones are dropped (and counted in `events_lost`).
pub const REPLAY_EVENTS: usize = 4096;
pub const REPLAY_BYTES: usize = 1024 * 1024;

/// How long a new connection may take to say `hello` or `attach` before it is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
