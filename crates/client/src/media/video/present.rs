//! Lip sync: each received picture is shown with its sound. A picture waits
//! until the audio its sender captured at the same instant is heard here
//! (`Playback::heard_at`: the member's jitter buffer, the mix and the
//! device's own buffer), then goes to the sinks (the view, the recording),
//! each that much earlier as it takes to show it (`VideoSink::lead`: the
//! view's decoding and next redraw). Pictures from a member we do not hear,
//! or whose sound is already past, go at once; none waits more than
//! `MAX_WAIT`.
//!
//! The waiting happens on a thread of its own, so the video channel's
//! reader never stops reading.

use super::VideoSink;
use crate::playback::Playback;
use crate::sink::{self, SharedFrame};
use common::MediaHeader;
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// The longest a picture waits for its sound: beyond it, the sound is so
/// late (a jitter buffer at its ceiling) that a picture held for it would
/// only look frozen.
pub const MAX_WAIT: Duration = Duration::from_millis(300);

/// A picture waiting for its time.
struct Held {
    due: Instant,
    /// Arrival order, so pictures due together keep it.
    order: u64,
    header: MediaHeader,
    frame: SharedFrame,
}

/// A picture waiting for its time at one sink.
struct ForSink {
    due: Instant,
    order: u64,
    sink: usize,
    header: MediaHeader,
    frame: SharedFrame,
}

impl PartialEq for ForSink {
    fn eq(&self, other: &ForSink) -> bool {
        (self.due, self.order, self.sink) == (other.due, other.order, other.sink)
    }
}

impl Eq for ForSink {}

impl PartialOrd for ForSink {
    fn partial_cmp(&self, other: &ForSink) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ForSink {
    fn cmp(&self, other: &ForSink) -> std::cmp::Ordering {
        (self.due, self.order, self.sink).cmp(&(other.due, other.order, other.sink))
    }
}

/// Hands received pictures to the sinks at the time their sound is heard.
pub struct Presenter {
    playback: Playback,
    held: Sender<Held>,
    order: u64,
}

impl Presenter {
    /// Starts the presenting thread, which owns `sinks` from now on.
    pub fn start(sinks: Vec<Box<dyn VideoSink>>, playback: Playback) -> Presenter {
        let (held, waiting) = crossbeam_channel::unbounded::<Held>();
        let spawned = std::thread::Builder::new()
            .name("video-present".into())
            .spawn(move || present(sinks, &waiting));
        if let Err(err) = spawned {
            tracing::warn!("no thread to show pictures with their sound: {err}");
        }
        Presenter {
            playback,
            held,
            order: 0,
        }
    }

    /// A picture as it arrived: shown when its sound is heard.
    pub fn frame(&mut self, header: &MediaHeader, frame: SharedFrame) {
        let now = Instant::now();
        let due = self
            .playback
            .heard_at(header.sender, header.timestamp_us)
            .map_or(now, |heard| heard.clamp(now, now + MAX_WAIT));
        self.order += 1;
        let _ = self.held.send(Held {
            due,
            order: self.order,
            header: *header,
            frame,
        });
    }
}

fn present(sinks: Vec<Box<dyn VideoSink>>, waiting: &crossbeam_channel::Receiver<Held>) {
    let leads: Vec<Duration> = sinks.iter().map(|sink| sink.lead()).collect();
    // A sink that failed is dropped; the others go on.
    let mut sinks: Vec<Option<Box<dyn VideoSink>>> = sinks.into_iter().map(Some).collect();
    let mut queue: BinaryHeap<Reverse<ForSink>> = BinaryHeap::new();
    loop {
        let now = Instant::now();
        while queue.peek().is_some_and(|next| next.0.due <= now) {
            let Some(Reverse(picture)) = queue.pop() else {
                break;
            };
            if let Some(slot) = sinks.get_mut(picture.sink) {
                sink::deliver_to(slot, |s| s.frame(&picture.header, &picture.frame));
            }
        }
        let wait = queue.peek().map_or(Duration::from_secs(1), |next| {
            next.0.due.saturating_duration_since(now)
        });
        match waiting.recv_timeout(wait) {
            Ok(held) => {
                for (sink, lead) in leads.iter().enumerate() {
                    queue.push(Reverse(ForSink {
                        due: held.due.checked_sub(*lead).unwrap_or(held.due),
                        order: held.order,
                        sink,
                        header: held.header,
                        frame: held.frame.clone(),
                    }));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::{ClientId, Frame, MediaKind};
    use std::sync::{Arc, Mutex};

    struct Seen(Arc<Mutex<Vec<(u32, Instant)>>>);

    impl VideoSink for Seen {
        fn frame(&mut self, header: &MediaHeader, _frame: &SharedFrame) -> anyhow::Result<()> {
            common::sync::lock(&self.0).push((header.sequence, Instant::now()));
            Ok(())
        }
    }

    fn picture(sequence: u32) -> (MediaHeader, SharedFrame) {
        let header = MediaHeader {
            sender: ClientId(5),
            sequence,
            timestamp_us: 1_000,
        };
        let frame = SharedFrame::new(Frame::media(MediaKind::Video, header, b"jpeg"));
        (header, frame)
    }

    #[test]
    fn a_picture_from_a_member_not_heard_is_shown_at_once_and_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut presenter = Presenter::start(
            vec![Box::new(Seen(seen.clone()))],
            Playback::new(ClientId(1)),
        );
        let sent = Instant::now();
        for sequence in 0..3 {
            let (header, frame) = picture(sequence);
            presenter.frame(&header, frame);
        }
        let deadline = sent + Duration::from_secs(5);
        while common::sync::lock(&seen).len() < 3 {
            assert!(Instant::now() < deadline, "never shown");
            std::thread::sleep(Duration::from_millis(2));
        }
        let seen = common::sync::lock(&seen).clone();
        assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(seen[2].1.duration_since(sent) < MAX_WAIT);
    }
}
