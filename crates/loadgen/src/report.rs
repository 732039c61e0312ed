//! The figures of a run: one JSON object (`--json`) or a table for people.
//!
//! Throughput is counted in delivered bytes (whole frames, as receivers read
//! them) over the time from the first send to the last delivery.
//! `delivered_mbps` is megabits per second, `delivered_mb_per_s` megabytes.
//! What one member costs, for sizing a server by people rather than bytes:
//! `received_bytes_per_member_s` (its share of the delivered bytes) and
//! `server_cpu_s_per_member_minute` (the servers' CPU seconds over the
//! measured time, per member and minute).

use crate::mix;
use crate::scenario::Scenario;
use crate::tally::{Percentiles, Tally};
use crate::traffic::TalkCounts;
use common::MediaKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Delivery and latency of one group of frames (a kind, or slow members).
#[derive(Debug, Serialize, Default, Clone)]
pub struct Figures {
    pub frames_sent: u64,
    pub frames_expected: u64,
    pub frames_delivered: u64,
    pub delivery_ratio: f64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub corrupt: u64,
    pub delivered_bytes: u64,
    pub delivered_mbps: f64,
    pub delivered_mb_per_s: f64,
    pub latency_us: Percentiles,
}

impl Figures {
    /// Figures of frames `sent`, of which receivers expected `expected`, from
    /// what the receivers `tallied`, over `elapsed_s` seconds.
    pub fn new(sent: u64, expected: u64, tallied: &Tally, elapsed_s: f64) -> Figures {
        let mut latencies = tallied.latencies_us.clone();
        let per_second = if elapsed_s > 0.0 {
            tallied.bytes as f64 / elapsed_s
        } else {
            0.0
        };
        Figures {
            frames_sent: sent,
            frames_expected: expected,
            frames_delivered: tallied.frames,
            delivery_ratio: if expected == 0 {
                1.0
            } else {
                tallied.frames as f64 / expected as f64
            },
            duplicates: tallied.duplicates,
            out_of_order: tallied.out_of_order,
            corrupt: tallied.corrupt,
            delivered_bytes: tallied.bytes,
            delivered_mbps: per_second * 8.0 / 1e6,
            delivered_mb_per_s: per_second / 1e6,
            latency_us: Percentiles::of(&mut latencies),
        }
    }
}

/// With several servers: the latency of frames whose sender and receiver
/// are on one server, and of those that crossed to another (the backbone's
/// hop), in one run under one load.
#[derive(Debug, Serialize, Default, Clone)]
pub struct Routes {
    pub same_server_frames: u64,
    pub same_server_latency_us: Percentiles,
    pub across_servers_frames: u64,
    pub across_servers_latency_us: Percentiles,
}

impl Routes {
    pub fn of(tally: &Tally) -> Routes {
        let mut across = tally.latencies_across_us.clone();
        let mut same = tally.latencies_us.clone();
        // Take the crossing frames out of all of them: both lists are sorted.
        same.sort_unstable();
        across.sort_unstable();
        let mut crossing = across.iter().peekable();
        same.retain(|latency| {
            if crossing.peek() == Some(&latency) {
                crossing.next();
                false
            } else {
                true
            }
        });
        Routes {
            same_server_frames: same.len() as u64,
            same_server_latency_us: Percentiles::of(&mut same),
            across_servers_frames: across.len() as u64,
            across_servers_latency_us: Percentiles::of(&mut across),
        }
    }
}

/// What one process (a server, nats-server) spent during the run, from /proc.
#[derive(Debug, Serialize, Default, Clone, PartialEq)]
pub struct ProcessCost {
    pub cpu_s: f64,
    /// Per gigabyte and per frame delivered to all the run's members.
    pub cpu_s_per_gb: f64,
    pub cpu_us_per_frame: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<u64>,
}

impl ProcessCost {
    /// `cpu_s` seconds spent to deliver what `delivered` counts.
    pub fn new(cpu_s: f64, peak_rss_kib: Option<u64>, delivered: &Figures) -> ProcessCost {
        let gb = delivered.delivered_bytes as f64 / 1e9;
        let frames = delivered.frames_delivered as f64;
        ProcessCost {
            cpu_s,
            cpu_s_per_gb: if gb > 0.0 { cpu_s / gb } else { 0.0 },
            cpu_us_per_frame: if frames > 0.0 {
                cpu_s * 1e6 / frames
            } else {
                0.0
            },
            peak_rss_kib,
        }
    }
}

/// What crossed one server's backbone (NATS) during the run, by its own
/// count (`server_stats`).
#[derive(Debug, Serialize, Default, Clone, PartialEq)]
pub struct BackboneTraffic {
    pub messages_out: u64,
    pub bytes_out: u64,
    pub messages_in: u64,
    pub bytes_in: u64,
    /// Messages it dropped because the backbone did not keep up.
    pub dropped_out: u64,
    /// Times NATS said its subscription fell behind.
    pub slow_consumer_events: u64,
}

/// One server of the run (`--server`, in the order given).
#[derive(Debug, Serialize, Default, Clone)]
pub struct ServerFigures {
    pub address: String,
    /// The run's members connected to it.
    pub members: usize,
    /// Media frames it dropped for receivers that did not keep up (its own
    /// count); None if it was not asked (no member on it) or did not answer.
    pub dropped: Option<u64>,
    /// With `--server-pid`.
    #[serde(flatten)]
    pub cost: Option<ProcessCost>,
    /// When it is in a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backbone: Option<BackboneTraffic>,
}

/// The whole report; `figures` is flattened to the top level.
#[derive(Debug, Serialize, Default)]
pub struct Report {
    pub scenario: BTreeMap<&'static str, serde_json::Value>,
    #[serde(flatten)]
    pub figures: Figures,
    /// Time from the first send to the last delivery.
    pub elapsed_s: f64,
    /// Receiving sockets the server closed, or that failed, before the end.
    pub disconnects: u64,
    /// Closed loop: frames a sender stopped waiting for (dropped on the way).
    pub window_stalls: u64,
    /// Delivered bytes per member per second (all kinds, whole frames).
    pub received_bytes_per_member_s: f64,
    /// Per kind; each has its own latency percentiles (`kinds.audio.latency_us`).
    pub kinds: BTreeMap<&'static str, Figures>,
    /// With `--talkers`: the audio frames sent, by what they said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub talk: Option<TalkCounts>,
    /// With several servers: latency within one server and across them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Routes>,
    /// Media frames the server dropped for receivers that did not keep up,
    /// by its own count (`server_stats`), during the run; with several
    /// servers, all of them together.
    pub server_dropped: Option<u64>,
    /// The servers' CPU (with `--server-pid`); with several servers, all of
    /// them together (the peak RSS too: the sum of each one's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s_per_gb: Option<f64>,
    /// Server CPU time per delivered frame, in microseconds: what a relay
    /// costs when frames are small (Opus audio) and bytes do not matter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_frame: Option<f64>,
    /// Server CPU seconds per member and minute: the servers' CPU time from
    /// just before the first send to the end of the drain, over the run's
    /// members times that time in minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s_per_member_minute: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_peak_rss_kib: Option<u64>,
    /// Each server apart, in the order of `--server`.
    pub per_server: Vec<ServerFigures>,
    /// nats-server's own cost (with `--nats-pid`), not in the servers'.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats: Option<ProcessCost>,
    pub loadgen_cpu_s: f64,
    /// With `--slow`: the slow members, and the members that keep up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow: Option<Figures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub others: Option<Figures>,
    /// Errors from the server or the sockets, first ones first.
    pub errors: Vec<String>,
}

fn cost_cells(cost: &ProcessCost) -> String {
    format!(
        "{:.2} s ({:.2} s per delivered GB, {:.2} us per delivered frame), peak RSS {} KiB",
        cost.cpu_s,
        cost.cpu_s_per_gb,
        cost.cpu_us_per_frame,
        cost.peak_rss_kib
            .map_or("?".to_string(), |kib| kib.to_string())
    )
}

/// One server of several: its members, drops, CPU and backbone.
fn server_line(out: &mut String, server: &ServerFigures) {
    let mut line = format!(
        "server {}: {} members, dropped {}",
        server.address,
        server.members,
        server.dropped.map_or("?".to_string(), |d| d.to_string())
    );
    if let Some(cost) = &server.cost {
        let _ = write!(line, ", CPU {}", cost_cells(cost));
    }
    if let Some(b) = &server.backbone {
        let _ = write!(
            line,
            "; backbone out {} msgs {:.1} MB, in {} msgs {:.1} MB, dropped out {}, slow consumer {}",
            b.messages_out,
            b.bytes_out as f64 / 1e6,
            b.messages_in,
            b.bytes_in as f64 / 1e6,
            b.dropped_out,
            b.slow_consumer_events
        );
    }
    let _ = writeln!(out, "{line}");
}

fn latency_cells(p: &Percentiles) -> String {
    format!("{:>8} {:>8} {:>8} {:>9}", p.p50, p.p90, p.p99, p.max)
}

fn row(out: &mut String, name: &str, f: &Figures) {
    let _ = writeln!(
        out,
        "{name:<8} {:>9} {:>10} {:>10} {:>8.4} {:>9.1} {}",
        f.frames_sent,
        f.frames_expected,
        f.frames_delivered,
        f.delivery_ratio,
        f.delivered_mb_per_s,
        latency_cells(&f.latency_us)
    );
}

/// The report as a table for people.
pub fn table(scenario: &Scenario, report: &Report) -> String {
    let mut out = String::new();
    let mode = match scenario.window {
        Some(k) => format!("closed loop, window {k}"),
        None => "open loop".into(),
    };
    let mut media = Vec::new();
    for (kind, sending) in scenario.sending.iter() {
        let Some(sending) = sending else {
            continue;
        };
        let rate = match sending.period() {
            Some(_) => format!("{} fps", sending.frames_per_second),
            None => "unthrottled".into(),
        };
        let mut line = format!("{kind} {} B at {rate}", sending.payload_bytes);
        if let (MediaKind::Audio, Some(talk)) = (kind, scenario.talk) {
            let _ = write!(
                line,
                " ({} talking, turns of {:?})",
                talk.talkers, talk.turn
            );
        }
        if let (MediaKind::Screen, Some(every)) = (kind, scenario.screen_every) {
            let key = scenario.payload_sizes(kind).largest();
            let _ = write!(
                line,
                " with a {key} B keyframe every 10 s (one sharer in every {every} meeting(s))"
            );
        }
        media.push(line);
    }
    let servers = match scenario.servers.len() {
        1 => "1 server".to_string(),
        n => format!("{n} servers"),
    };
    let meetings = match scenario.uniform_size() {
        Some(members) => format!("{} meeting(s) x {members} members", scenario.meetings()),
        None => format!(
            "{} members in {} meetings ({})",
            scenario.total_members(),
            scenario.meetings(),
            mix::describe(&scenario.sizes)
        ),
    };
    let _ = writeln!(
        out,
        "{meetings} on {servers}, {}, {:?}, {mode}{}",
        media.join(" plus "),
        scenario.duration,
        if scenario.slow > 0 {
            format!(", {} slow per meeting", scenario.slow)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "{:<8} {:>9} {:>10} {:>10} {:>8} {:>9} {:>8} {:>8} {:>8} {:>9}",
        "",
        "sent",
        "expected",
        "delivered",
        "ratio",
        "MB/s",
        "p50 us",
        "p90 us",
        "p99 us",
        "max us"
    );
    for (name, figures) in &report.kinds {
        row(&mut out, name, figures);
    }
    row(&mut out, "all", &report.figures);
    if let (Some(slow), Some(others)) = (&report.slow, &report.others) {
        row(&mut out, "slow", slow);
        row(&mut out, "others", others);
    }
    if let Some(routes) = &report.routes {
        for (name, frames, p) in [
            (
                "same server",
                routes.same_server_frames,
                &routes.same_server_latency_us,
            ),
            (
                "across servers",
                routes.across_servers_frames,
                &routes.across_servers_latency_us,
            ),
        ] {
            let _ = writeln!(
                out,
                "{name:<15} {frames:>10} frames, latency us p50 {} p90 {} p99 {} max {}",
                p.p50, p.p90, p.p99, p.max
            );
        }
    }
    let f = &report.figures;
    let _ = writeln!(
        out,
        "duplicates {}, out of order {}, corrupt {}, disconnects {}, window stalls {}, server dropped {}",
        f.duplicates,
        f.out_of_order,
        f.corrupt,
        report.disconnects,
        report.window_stalls,
        report
            .server_dropped
            .map_or("?".to_string(), |d| d.to_string())
    );
    if let Some(talk) = &report.talk {
        let _ = writeln!(
            out,
            "audio sent: {} voiced, {} ends of talk spurts, {} keep-alives",
            talk.voiced, talk.ends, talk.keep_alives
        );
    }
    let _ = write!(
        out,
        "per member: received {:.1} kB/s",
        report.received_bytes_per_member_s / 1e3
    );
    match report.server_cpu_s_per_member_minute {
        Some(cpu) => {
            let _ = writeln!(out, "; server CPU {:.2} ms per member-minute", cpu * 1e3);
        }
        None => out.push('\n'),
    }
    if report.per_server.len() > 1 {
        for server in &report.per_server {
            server_line(&mut out, server);
        }
    }
    if let Some(cpu) = report.server_cpu_s {
        let who = match report.per_server.len() {
            0 | 1 => "server".to_string(),
            n => format!("{n} servers'"),
        };
        let _ = writeln!(
            out,
            "{who} CPU {cpu:.2} s ({:.2} s per delivered GB, {:.2} us per delivered frame), peak RSS {} KiB; loadgen CPU {:.2} s",
            report.server_cpu_s_per_gb.unwrap_or(0.0),
            report.server_cpu_us_per_frame.unwrap_or(0.0),
            report.server_peak_rss_kib.unwrap_or(0),
            report.loadgen_cpu_s
        );
    }
    if let Some(nats) = &report.nats {
        let _ = writeln!(out, "nats-server CPU {}", cost_cells(nats));
    }
    for error in &report.errors {
        let _ = writeln!(out, "error: {error}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_compute_ratio_rates_and_percentiles_from_the_tally() {
        let tally = Tally {
            frames: 3,
            bytes: 3_000_000,
            latencies_us: vec![30, 10, 20],
            ..Tally::default()
        };
        let f = Figures::new(2, 4, &tally, 2.0);
        assert_eq!(f.delivery_ratio, 0.75);
        assert_eq!(f.delivered_mb_per_s, 1.5);
        assert_eq!(f.delivered_mbps, 12.0);
        assert_eq!((f.latency_us.p50, f.latency_us.max), (20, 30));
    }

    #[test]
    fn routes_split_latency_by_whether_frames_crossed_servers() {
        let tally = Tally {
            frames: 5,
            latencies_us: vec![900, 100, 120, 800, 100],
            latencies_across_us: vec![800, 900],
            ..Tally::default()
        };
        let routes = Routes::of(&tally);
        assert_eq!(
            (routes.same_server_frames, routes.across_servers_frames),
            (3, 2)
        );
        assert_eq!(routes.same_server_latency_us.max, 120);
        assert_eq!(routes.across_servers_latency_us.p50, 800);
    }

    #[test]
    fn json_has_the_documented_keys() {
        let report = Report {
            server_cpu_s: Some(1.0),
            server_cpu_s_per_gb: Some(2.0),
            server_cpu_us_per_frame: Some(3.0),
            server_cpu_s_per_member_minute: Some(0.004),
            ..Report::default()
        };
        let value = serde_json::to_value(&report).expect("serialises");
        for key in [
            "frames_sent",
            "frames_expected",
            "frames_delivered",
            "delivery_ratio",
            "duplicates",
            "out_of_order",
            "delivered_mbps",
            "latency_us",
            "kinds",
            "server_cpu_s",
            "server_cpu_s_per_gb",
            "server_cpu_us_per_frame",
            "server_cpu_s_per_member_minute",
            "received_bytes_per_member_s",
        ] {
            assert!(value.get(key).is_some(), "missing {key}: {value}");
        }
        assert!(value["latency_us"].get("p99").is_some());
        assert!(value.get("slow").is_none(), "slow only with --slow");
        assert!(value.get("talk").is_none(), "talk only with --talkers");
    }

    #[test]
    fn the_table_says_what_each_member_sends() {
        use crate::scenario::{Args, Scenario};
        use clap::Parser;
        let first_line = |argv: &[&str]| {
            let args = Args::parse_from(std::iter::once("loadgen").chain(argv.iter().copied()));
            let scenario = Scenario::from_args(args).expect("valid");
            let table = table(&scenario, &Report::default());
            table.lines().next().unwrap_or_default().to_string()
        };
        assert!(
            first_line(&["--audio"])
                .contains("video 20000 B at 30 fps plus audio 1936 B at 50 fps"),
            "{}",
            first_line(&["--audio"])
        );
        assert!(
            first_line(&["--video-fps", "0"]).contains("video 20000 B at unthrottled,"),
            "{}",
            first_line(&["--video-fps", "0"])
        );
        let mixed = first_line(&[
            "--sizes",
            "2x4,1x6",
            "--audio",
            "--talkers",
            "2",
            "--screen-every",
            "3",
        ]);
        assert!(
            mixed.starts_with("14 members in 3 meetings (2x4,1x6) on 1 server")
                && mixed.contains("audio 1936 B at 50 fps (2 talking, turns of 3s)")
                && mixed.contains("screen 3000 B at 8 fps with a 60000 B keyframe"),
            "{mixed}"
        );
    }

    #[test]
    fn the_table_gives_what_one_member_costs() {
        use crate::scenario::{Args, Scenario};
        use clap::Parser;
        let args = Args::parse_from(["loadgen", "--audio", "--talkers", "1"]);
        let scenario = Scenario::from_args(args).expect("valid");
        let report = Report {
            received_bytes_per_member_s: 9_000.0,
            server_cpu_s_per_member_minute: Some(0.075),
            talk: Some(TalkCounts {
                voiced: 10,
                ends: 1,
                keep_alives: 7,
            }),
            ..Report::default()
        };
        let text = table(&scenario, &report);
        assert!(
            text.contains("per member: received 9.0 kB/s; server CPU 75.00 ms per member-minute"),
            "{text}"
        );
        assert!(text.contains("10 voiced, 1 ends of talk spurts, 7 keep-alives"));
    }
}
