//! The terminal meeting client as a library; `main.rs` is its command line.
//!
//! Where each concern lives:
//! - `app`: the main loop, which only dispatches, and one module per concern
//!   it dispatches to (the session and resuming, sharing, devices, remote
//!   control, chat and its log, what each command asks of the server).
//! - `command`: what a user types, one table of commands (`COMMANDS`) that
//!   parsing, `/help`, `--help`, the man page and the README come from;
//!   `control` the `/input` lines of remote control.
//! - `media`: one driver per media kind (`video`, `audio`, `screen`), found
//!   through the kind table `media::DRIVERS`: its sources, its sender, what
//!   becomes of what it receives (recording, the view, playback).
//! - `channel`: the media socket per kind, its reader and its paced sender;
//!   `link` the sockets' handshakes with the server; `servers` the server
//!   addresses the command line names, and the order they are tried in;
//!   `discover` the servers found on the LAN when none is named.
//! - `output`: the front ends that show events (lines, JSON) and their
//!   wording; `tui` the full-screen view, with its one table of keys;
//!   `clean` what network text may be shown.
//! - `meeting` the meeting as the server told it; `stats` the figures;
//!   `level` audio levels (who is speaking); `playback` the jitter buffers,
//!   the mixer and the playback clock with its back-ends; `record` the
//!   `--record` folder, `mkv` its `meeting.mkv`; `resend`, `order` and
//!   `unconfirmed` what a resumed session sends again, when local answers
//!   show, and which chat is confirmed; `events` what the threads tell
//!   the loop; `sink` what every kind's sinks share (locks are
//!   `common::sync`).
//! - `readme` (tests only) keeps the README's tables of commands and keys
//!   made from the same tables as the help.

pub mod app;
pub mod channel;
pub mod clean;

pub mod command;
pub mod control;
pub mod discover;
pub mod events;
pub mod level;
pub mod link;
pub mod media;
pub mod meeting;
pub mod mkv;
pub mod order;
pub mod output;
pub mod playback;
#[cfg(test)]
mod readme;
pub mod record;
pub mod resend;
pub mod servers;
pub mod sink;
pub mod stats;
pub mod tui;
pub mod unconfirmed;
