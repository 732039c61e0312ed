//! The terminal meeting client as a library; `main.rs` is its command line.
//!
//! `link` owns the sockets to the server, `command` parses what the user types,
//! `media` holds each media kind (`video`, `audio`, `screen`: its sources,
//! and what records it), `channel` the media socket per kind with its reader
//! and its paced sender, `sink` what every consumer of received media shares,
//! `record` the `--record` folder and the chat log, `level` audio levels (who
//! is speaking), `playback` the jitter buffers, the mixer and the playback
//! clock with its back-ends, `output` the front ends that show events (lines,
//! JSON) and their wording, `clean` what network text may be shown, `resend`
//! what a resumed session sends again, `tui` is the full-screen view, `sync`
//! the one way to take a lock, and `app` is the loop that ties them together.
//! `readme` (tests only) keeps the README's tables of commands and keys made
//! from the same tables as the help.

pub mod app;
pub mod channel;
pub mod clean;

pub mod command;
pub mod control;
pub mod events;
pub mod level;
pub mod link;
pub mod media;
pub mod meeting;
pub mod order;
pub mod output;
pub mod playback;
#[cfg(test)]
mod readme;
pub mod record;
pub mod resend;
pub mod sink;
pub mod stats;
pub mod sync;
pub mod tui;
pub mod unconfirmed;
