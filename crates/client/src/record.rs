//! `--record DIR`: what this client receives, saved for people and tests.
//!
//! Each run records into a folder of its own, `DIR/<UTC start time>/` (see
//! `new_session_dir`): member ids restart with the server, so two sessions in
//! one folder would overwrite each other's `audio/<id>.wav` and mix frames.
//!
//! ```text
//! SESSION/meeting.mkv               the meeting as heard and seen here, in one file (`mkv`)
//! SESSION/chat.log                  one line per chat message, cleaned (`clean::clean`)
//! SESSION/video/<member id>/<seq>.jpg  every video frame, byte for byte
//! SESSION/audio/<member id>.wav      each member's audio, 48 kHz mono s16
//! SESSION/screen/<member id>/<seq>.jpg each complete picture of a shared screen
//! SESSION/screen/<member id>/latest.png the last picture, losslessly (for checking text)
//! ```
//!
//! Each part is written by the media kind it records (`media::video::record`,
//! `media::audio::record`, `media::screen::record`), owned by the thread
//! that receives that kind; the chat log is the main loop's (`app::chat`).
//! `meeting.mkv` is one thread's (`mkv::recording`), which they all send
//! to: the video and screen recorders their pictures, the chat log its
//! lines, and the playback mix what was heard (`Playback::pull`). The
//! folder of files stays beside it, for tools and tests.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Creates this run's recording folder in `root`: named after the start time
/// in UTC (`2026-11-23T19-30-05Z`, sorting by time), with `-2`, `-3`, ...
/// when a run in the same second took the name. Never an existing folder, so
/// nothing recorded before is overwritten.
pub fn new_session_dir(root: &Path, now: std::time::SystemTime) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(root)
        .with_context(|| format!("could not create the recording folder {}", root.display()))?;
    let stamp = humantime::format_rfc3339_seconds(now)
        .to_string()
        .replace(':', "-");
    for n in 1..1000 {
        let name = match n {
            1 => stamp.clone(),
            n => format!("{stamp}-{n}"),
        };
        let dir = root.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => {
                return Err(err).with_context(|| format!("could not create {}", dir.display()));
            }
        }
    }
    anyhow::bail!(
        "{} already holds 999 recordings started this second",
        root.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_session_gets_a_new_folder_named_after_its_start() {
        let root = tempfile::tempdir().expect("temp dir");
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_795_462_205);
        let first = new_session_dir(root.path(), at).expect("first");
        assert_eq!(
            first.file_name().and_then(|n| n.to_str()),
            Some("2026-11-23T19-30-05Z")
        );
        std::fs::write(first.join("chat.log"), "kept").expect("write");
        let second = new_session_dir(root.path(), at).expect("second, same second");
        assert_eq!(
            second.file_name().and_then(|n| n.to_str()),
            Some("2026-11-23T19-30-05Z-2")
        );
        assert_eq!(
            std::fs::read_to_string(first.join("chat.log"))
                .ok()
                .as_deref(),
            Some("kept")
        );
        let nested = new_session_dir(&root.path().join("new/deeper"), at).expect("made");
        assert!(nested.is_dir());
    }
}
