//! The terminal meeting client as a library; `main.rs` is its command line.
//!
//! `link` owns the sockets to the server, `command` parses what the user types,
//! `media` holds the video and audio sources and the paced sender threads,
//! `record` the `--record` sinks, `output` turns events into human lines or JSON,
//! and `app` is the loop that ties them together.

pub mod app;
pub mod command;
pub mod link;
pub mod media;
pub mod output;
pub mod record;
pub mod stats;
