//! The thread that writes `meeting.mkv`, and the handles the rest of the
//! client reaches it through.
//!
//! One thread owns the file, so clusters go out whole and in order whoever
//! sends. The media threads and the main loop send through an `MkvFeed`
//! (cheap to clone), stamped with one clock: the time since the recording
//! started. They never wait for it: the channel is bounded, pictures are
//! dropped first (when it is half full) and counted, and a full channel
//! drops anything. The main loop holds the `MkvRecording`, whose `finish`
//! (or drop) makes the file seekable and waits for it.

use super::muxer::{Muxer, Recorded};
use super::writer::MkvWriter;
use anyhow::Context;
use common::ClientId;
use crossbeam_channel::{RecvTimeoutError, Sender, TrySendError};
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The file's name in the session folder.
pub const FILE_NAME: &str = "meeting.mkv";
/// Messages the channel holds: a few seconds of everything (the mix sends
/// 200 a second), so a disk that stalls a moment loses nothing.
const CHANNEL_CAPACITY: usize = 2048;
/// Pictures are dropped once the channel is this full, keeping the rest
/// for the sound and the chat.
const PICTURES_UP_TO: usize = CHANNEL_CAPACITY / 2;
/// How often the thread writes the clusters that are due when nothing comes.
const TICK: Duration = Duration::from_millis(100);

enum ToMuxer {
    At(u64, Recorded),
    Finish,
}

/// Where the client's threads send what goes into `meeting.mkv`.
#[derive(Clone)]
pub struct MkvFeed {
    sender: Sender<ToMuxer>,
    started: Instant,
    dropped: Arc<Dropped>,
}

#[derive(Default)]
struct Dropped {
    pictures: AtomicU64,
    other: AtomicU64,
}

impl MkvFeed {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Sends without waiting; what finds no room is counted as dropped.
    fn send(&self, recorded: Recorded) {
        let picture = matches!(recorded, Recorded::Video { .. } | Recorded::Screen { .. });
        let (dropped, room) = if picture {
            (&self.dropped.pictures, self.sender.len() < PICTURES_UP_TO)
        } else {
            (&self.dropped.other, true)
        };
        let sent = room
            && match self.sender.try_send(ToMuxer::At(self.now_ms(), recorded)) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => true,
                Err(TrySendError::Full(_)) => false,
            };
        if !sent {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The next stretch of the mix, as it is played.
    pub fn mix(&self, pcm: &[i16]) {
        self.send(Recorded::Mix(pcm.to_vec()));
    }

    /// A member's video picture, as received.
    pub fn video(&self, member: ClientId, jpeg: &[u8]) {
        let jpeg = jpeg.to_vec();
        self.send(Recorded::Video { member, jpeg });
    }

    /// A complete picture of a member's shared screen.
    pub fn screen(&self, member: ClientId, jpeg: &[u8]) {
        let jpeg = jpeg.to_vec();
        self.send(Recorded::Screen { member, jpeg });
    }

    /// A chat line as the chat log has it ("name: text", cleaned).
    pub fn chat(&self, line: String) {
        self.send(Recorded::Chat(line));
    }
}

/// The running recording: the thread and the names told to it.
pub struct MkvRecording {
    feed: MkvFeed,
    thread: Option<JoinHandle<()>>,
    /// The names the tracks were told, to tell only changes.
    names: HashMap<ClientId, String>,
}

impl MkvRecording {
    /// Creates `dir/meeting.mkv` and starts the thread that writes it.
    pub fn start(dir: &Path) -> anyhow::Result<MkvRecording> {
        let path = dir.join(FILE_NAME);
        let file =
            File::create(&path).with_context(|| format!("could not create {}", path.display()))?;
        let date_unix_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let app = concat!("meeting client ", env!("CARGO_PKG_VERSION"));
        let writer = MkvWriter::new(file, app, date_unix_s)
            .and_then(Muxer::new)
            .with_context(|| format!("could not write {}", path.display()))?;
        let (sender, inbox) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let feed = MkvFeed {
            sender,
            started: Instant::now(),
            dropped: Arc::default(),
        };
        let started = feed.started;
        let dropped = feed.dropped.clone();
        let thread = std::thread::Builder::new()
            .name("mkv".into())
            .spawn(move || {
                write(writer, &inbox, started);
                let pictures = dropped.pictures.load(Ordering::Relaxed);
                let other = dropped.other.load(Ordering::Relaxed);
                if pictures + other > 0 {
                    tracing::warn!(
                        "{FILE_NAME}: {pictures} pictures and {other} other parts left out \
                         (the disk did not keep up)"
                    );
                }
            })
            .context("could not start the recording's thread")?;
        Ok(MkvRecording {
            feed,
            thread: Some(thread),
            names: HashMap::new(),
        })
    }

    pub fn feed(&self) -> MkvFeed {
        self.feed.clone()
    }

    /// The members as the meeting has them: the tracks of those whose
    /// name is new to the recording are named after them, cleaned as
    /// everything shown is (players show track names).
    pub fn members<'a>(&mut self, members: impl IntoIterator<Item = (ClientId, &'a str)>) {
        for (member, name) in members {
            if self.names.get(&member).is_some_and(|known| known == name) {
                continue;
            }
            self.names.insert(member, name.to_string());
            let name = crate::clean::clean(name);
            self.feed.send(Recorded::MemberName { member, name });
        }
    }

    /// Writes what is left and makes the file seekable; waits for it.
    pub fn finish(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Waits for room: this is the end, and the thread is draining.
        let _ = self.feed.sender.send(ToMuxer::Finish);
        let _ = thread.join();
    }
}

impl Drop for MkvRecording {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The thread: takes what comes, writes the clusters that are due, and
/// finishes the file at `Finish` (or when every feed is gone). A failed
/// write is said once; the rest of the meeting goes on unrecorded here.
fn write(muxer: Muxer<File>, inbox: &crossbeam_channel::Receiver<ToMuxer>, started: Instant) {
    let mut muxer = Some(muxer);
    let now_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    loop {
        let result = match inbox.recv_timeout(TICK) {
            Ok(ToMuxer::At(at_ms, recorded)) => {
                muxer.as_mut().map_or(Ok(()), |m| m.take(at_ms, recorded))
            }
            Ok(ToMuxer::Finish) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => Ok(()),
        };
        let result = result.and_then(|()| muxer.as_mut().map_or(Ok(()), |m| m.write_due(now_ms())));
        if let Err(err) = result {
            tracing::warn!("{FILE_NAME}: {err:#}; it stops here (the rest of --record goes on)");
            muxer = None;
        }
    }
    if let Some(muxer) = muxer {
        match muxer.finish() {
            Ok(file) => {
                if let Err(err) = file.sync_all() {
                    tracing::warn!("{FILE_NAME}: {err}");
                }
            }
            Err(err) => tracing::warn!("{FILE_NAME}: could not finish it: {err:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_never_waits_and_drops_pictures_first() {
        let (sender, inbox) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let feed = MkvFeed {
            sender,
            started: Instant::now(),
            dropped: Arc::default(),
        };
        for _ in 0..PICTURES_UP_TO {
            feed.mix(&[0; 240]);
        }
        // Half full: pictures are dropped, the sound and the chat still go.
        feed.video(ClientId(1), b"jpeg");
        feed.screen(ClientId(1), b"jpeg");
        feed.chat("ana: hi".into());
        assert_eq!(feed.dropped.pictures.load(Ordering::Relaxed), 2);
        assert_eq!(inbox.len(), PICTURES_UP_TO + 1);
        while inbox.len() < CHANNEL_CAPACITY {
            feed.mix(&[0; 240]);
        }
        // Full: dropped and counted, without waiting.
        feed.mix(&[0; 240]);
        assert_eq!(feed.dropped.other.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn tracks_are_named_after_members_cleaned_and_the_file_is_finished_at_the_end() {
        use crate::mkv::ebml::id;
        use crate::mkv::writer::tests::parse_file;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut recording = MkvRecording::start(dir.path()).expect("starts");
        let rgb = [200u8; 16 * 16 * 3];
        let jpeg = crate::media::video::frames::encode_jpeg(&rgb, 16, 16, 80).expect("jpeg");
        recording.feed().video(ClientId(8), &jpeg);
        recording.members([(ClientId(8), "\x1b]0;pwned\x07ana\u{202e}")]);
        recording.feed().mix(&[0; 240]);
        recording.finish();
        let bytes = std::fs::read(dir.path().join(FILE_NAME)).expect("meeting.mkv");
        let (top, cut) = parse_file(&bytes);
        assert!(!cut);
        let segment = &top[1];
        assert_eq!(segment.all(id::CUES).len(), 1, "finished: seekable");
        let names: Vec<String> = segment
            .one(id::TRACKS)
            .all(id::TRACK_ENTRY)
            .iter()
            .map(|t| String::from_utf8_lossy(&t.one(id::NAME).data).into_owned())
            .collect();
        assert_eq!(names[1], crate::clean::clean("\x1b]0;pwned\x07ana\u{202e}"));
        assert!(!names[1].chars().any(char::is_control), "{names:?}");
    }
}
