//! The server's traffic counters: what came in, what went out and what was
//! dropped, per frame type, plus connection counts.
//!
//! Counters are plain atomics bumped where the work happens (a reader per
//! frame, a writer per batch, an outbox per drop), so counting takes no lock
//! and costs a few nanoseconds. An operator reads them with a `server_stats`
//! request or in the periodic log line.

use common::{FrameKind, MediaKind, PerKind, ServerStatsReport, TrafficStats};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The counters of one frame type.
#[derive(Default, Debug)]
pub struct TrafficCounters {
    frames_in: AtomicU64,
    bytes_in: AtomicU64,
    frames_out: AtomicU64,
    bytes_out: AtomicU64,
    dropped: AtomicU64,
    queue_high_water: AtomicU64,
}

impl TrafficCounters {
    pub fn received(&self, bytes: usize) {
        self.frames_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn sent(&self, frames: usize, bytes: usize) {
        self.frames_out.fetch_add(frames as u64, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn dropped(&self, frames: u64) {
        self.dropped.fetch_add(frames, Ordering::Relaxed);
    }

    /// Notes a queue length seen just after a push.
    pub fn queue_length(&self, queued: usize) {
        self.queue_high_water
            .fetch_max(queued as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> TrafficStats {
        TrafficStats {
            frames_in: self.frames_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            frames_out: self.frames_out.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            queue_high_water: self.queue_high_water.load(Ordering::Relaxed),
        }
    }
}

/// Every counter of the server; one per server, shared by all its threads.
#[derive(Debug)]
pub struct ServerStats {
    started: Instant,
    control: Arc<TrafficCounters>,
    media: PerKind<Arc<TrafficCounters>>,
    connections: AtomicU64,
    connections_total: AtomicU64,
}

impl Default for ServerStats {
    fn default() -> ServerStats {
        ServerStats {
            started: Instant::now(),
            control: Arc::default(),
            media: PerKind::default(),
            connections: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
        }
    }
}

impl ServerStats {
    /// The counters of one frame type, to keep where its frames are handled.
    pub fn traffic(&self, kind: FrameKind) -> &Arc<TrafficCounters> {
        match kind {
            FrameKind::Control => &self.control,
            FrameKind::Media(kind) => &self.media[kind],
        }
    }

    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// The figures as reported; `clients` and `meetings` come from the registry.
    pub fn report(&self, clients: usize, meetings: usize) -> ServerStatsReport {
        ServerStatsReport {
            uptime_s: self.started.elapsed().as_secs(),
            connections: self.connections.load(Ordering::Relaxed),
            connections_total: self.connections_total.load(Ordering::Relaxed),
            clients,
            meetings,
            control: self.control.snapshot(),
            media: PerKind::from_fn(|kind| self.media[kind].snapshot()),
            // The registry fills in the layers (it knows the meetings) and
            // the cluster (it holds it).
            layers: Vec::new(),
            layer_totals: Default::default(),
            cluster: None,
        }
    }
}

/// False when a quiet server has nothing new to log.
pub fn anything_changed(now: &ServerStatsReport, before: &ServerStatsReport) -> bool {
    (now.connections, now.clients, now.meetings)
        != (before.connections, before.clients, before.meetings)
        || now.control != before.control
        || now.media != before.media
}

/// One log line of the figures, and what changed since the last one.
pub fn log_line(now: &ServerStatsReport, before: &ServerStatsReport) -> String {
    let rate = |now: &TrafficStats, before: &TrafficStats| {
        format!(
            "in {} fr / {} out {} fr / {} dropped {}",
            now.frames_in - before.frames_in,
            human_bytes(now.bytes_in - before.bytes_in),
            now.frames_out - before.frames_out,
            human_bytes(now.bytes_out - before.bytes_out),
            now.dropped - before.dropped,
        )
    };
    let media: Vec<String> = MediaKind::ALL
        .into_iter()
        .map(|kind| format!("{kind} {}", rate(&now.media[kind], &before.media[kind])))
        .collect();
    format!(
        "{} clients, {} meetings, {} sockets; since last: {}; control {}",
        now.clients,
        now.meetings,
        now.connections,
        media.join("; "),
        rate(&now.control, &before.control),
    )
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_high_water_keeps_the_maximum() {
        let stats = ServerStats::default();
        let video = stats.traffic(FrameKind::Media(MediaKind::Video));
        video.received(100);
        video.received(50);
        video.sent(3, 450);
        video.dropped(1);
        video.queue_length(5);
        video.queue_length(2);
        stats.connection_opened();
        stats.connection_opened();
        stats.connection_closed();
        let report = stats.report(1, 0);
        assert_eq!(report.media[MediaKind::Video].frames_in, 2);
        assert_eq!(report.media[MediaKind::Video].bytes_in, 150);
        assert_eq!(report.media[MediaKind::Video].frames_out, 3);
        assert_eq!(report.media[MediaKind::Video].bytes_out, 450);
        assert_eq!(report.media[MediaKind::Video].dropped, 1);
        assert_eq!(report.media[MediaKind::Video].queue_high_water, 5);
        assert_eq!(report.media[MediaKind::Audio], TrafficStats::default());
        assert_eq!((report.connections, report.connections_total), (1, 2));
    }

    #[test]
    fn log_line_shows_what_changed_since_the_last() {
        let stats = ServerStats::default();
        let before = stats.report(0, 0);
        stats
            .traffic(FrameKind::Media(MediaKind::Audio))
            .received(2_500_000);
        let line = log_line(&stats.report(2, 1), &before);
        assert!(line.contains("2 clients, 1 meetings"), "{line}");
        assert!(line.contains("audio in 1 fr / 2.5 MB"), "{line}");
    }
}
