//! The metrics listener: the server's figures in the Prometheus (OpenMetrics)
//! text format at `/metrics`, and a health check at `/healthz`, on an HTTP
//! listener of its own (`server --metrics ADDR`, off by default).
//!
//! Nothing is counted twice: a scrape reads the same atomics `server_stats`
//! reports (`stats.rs`) and the registry's counts, and turns them into metric
//! families with `prometheus-client`, so the format (escaping, `_total`, units,
//! `# EOF`) is the crate's and not ours. Traffic figures are labelled by frame
//! kind (`kind="control"` and one per `MediaKind`), from the same table the
//! server uses. Process figures (CPU, memory, file descriptors, threads) come
//! from /proc and follow the names every Prometheus client library uses.
//!
//! The HTTP side is `tiny_http`, blocking, on one thread: a scrape every few
//! seconds needs no more, and it fits the server's thread-per-job design.

use crate::registry::MeetingRegistry;
use crate::stats::ServerStats;
use anyhow::{Context, anyhow};
use common::{ClusterReport, MediaKind, ServerStatsReport, TrafficStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// What `/metrics` answers with (the OpenMetrics text format; Prometheus asks for it).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric family's name starts with this (process figures excepted: those
/// have the names all exporters share).
const PREFIX: &str = "meeting";

/// One traffic figure, kept per frame kind.
struct TrafficMetric {
    /// The name after the prefix and before the unit and `_total`.
    name: &'static str,
    help: &'static str,
    bytes: bool,
    kind: MetricType,
    value: fn(&TrafficStats) -> u64,
}

/// The traffic figures of `server_stats`, as metric families.
const TRAFFIC: [TrafficMetric; 6] = [
    TrafficMetric {
        name: "frames_received",
        help: "Frames received from clients.",
        bytes: false,
        kind: MetricType::Counter,
        value: |t| t.frames_in,
    },
    TrafficMetric {
        name: "received",
        help: "Frame bytes received from clients, headers included.",
        bytes: true,
        kind: MetricType::Counter,
        value: |t| t.bytes_in,
    },
    TrafficMetric {
        name: "frames_sent",
        help: "Frames sent to clients (one per receiver).",
        bytes: false,
        kind: MetricType::Counter,
        value: |t| t.frames_out,
    },
    TrafficMetric {
        name: "sent",
        help: "Frame bytes sent to clients, headers included.",
        bytes: true,
        kind: MetricType::Counter,
        value: |t| t.bytes_out,
    },
    TrafficMetric {
        name: "frames_dropped",
        help: "Frames dropped for receivers that did not keep up (oldest first).",
        bytes: false,
        kind: MetricType::Counter,
        value: |t| t.dropped,
    },
    TrafficMetric {
        name: "queue_high_water_frames",
        help: "The most frames ever waiting in one receiver's queue.",
        bytes: false,
        kind: MetricType::Gauge,
        value: |t| t.queue_high_water,
    },
];

/// Reads the server's figures at each scrape.
struct ServerCollector {
    registry: MeetingRegistry,
    stats: Arc<ServerStats>,
}

impl std::fmt::Debug for ServerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerCollector")
    }
}

impl ServerCollector {
    fn report(&self) -> ServerStatsReport {
        let counts = self.registry.counts();
        let mut report = self.stats.report(counts.clients, counts.meetings);
        report.cluster = self.registry.cluster().map(|c| c.report(counts.meetings));
        report
    }
}

impl Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        encode_report(&self.report(), &mut encoder)?;
        if let Some(process) = ProcessFigures::read() {
            process.encode(&mut encoder)?;
        }
        Ok(())
    }
}

fn encode_value(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    value: u64,
) -> std::fmt::Result {
    let metric = encoder.encode_descriptor(name, help, unit, kind)?;
    match kind {
        MetricType::Counter => ConstCounter::new(value).encode(metric),
        _ => ConstGauge::new(value).encode(metric),
    }
}

fn encode_float(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    value: f64,
) -> std::fmt::Result {
    let metric = encoder.encode_descriptor(name, help, unit, kind)?;
    match kind {
        MetricType::Counter => ConstCounter::new(value).encode(metric),
        _ => ConstGauge::new(value).encode(metric),
    }
}

/// The registry's and the sockets' figures, then the traffic per frame kind.
fn encode_report(report: &ServerStatsReport, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
    let gauges = [
        ("clients", "Clients signed in.", report.clients as u64),
        ("meetings", "Meetings running.", report.meetings as u64),
        (
            "sockets",
            "Sockets open (a client uses one for control and one per media kind).",
            report.connections,
        ),
    ];
    for (name, help, value) in gauges {
        let name = format!("{PREFIX}_{name}");
        encode_value(encoder, &name, help, None, MetricType::Gauge, value)?;
    }
    encode_value(
        encoder,
        &format!("{PREFIX}_sockets_accepted"),
        "Sockets accepted since the server started.",
        None,
        MetricType::Counter,
        report.connections_total,
    )?;
    if let Some(cluster) = &report.cluster {
        encode_cluster(cluster, encoder)?;
    }
    let kinds: Vec<(&str, &TrafficStats)> = std::iter::once(("control", &report.control))
        .chain(
            MediaKind::ALL
                .into_iter()
                .map(|kind| (kind.name(), &report.media[kind])),
        )
        .collect();
    for metric in &TRAFFIC {
        let name = format!("{PREFIX}_{}", metric.name);
        let unit = metric.bytes.then_some(Unit::Bytes);
        let mut family =
            encoder.encode_descriptor(&name, metric.help, unit.as_ref(), metric.kind)?;
        for (kind, figures) in &kinds {
            let labels = [("kind", *kind)];
            let sample = family.encode_family(&labels)?;
            let value = (metric.value)(figures);
            match metric.kind {
                MetricType::Counter => ConstCounter::new(value).encode(sample)?,
                _ => ConstGauge::new(value).encode(sample)?,
            }
        }
    }
    Ok(())
}

/// A server of a cluster: its peers, its meetings, and its backbone traffic.
fn encode_cluster(cluster: &ClusterReport, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
    let gauges = [
        (
            "cluster_connected",
            "1 while the cluster's backbone (NATS) is connected.",
            u64::from(cluster.connected),
        ),
        (
            "cluster_peers",
            "Other servers of the cluster heard from lately.",
            cluster.peers.len() as u64,
        ),
        (
            "cluster_meetings_held",
            "Meetings this server holds.",
            cluster.meetings_held as u64,
        ),
        (
            "cluster_meetings_elsewhere",
            "Meetings other servers of the cluster hold.",
            cluster.meetings_elsewhere as u64,
        ),
    ];
    for (name, help, value) in gauges {
        let name = format!("{PREFIX}_{name}");
        encode_value(encoder, &name, help, None, MetricType::Gauge, value)?;
    }
    let counters = [
        (
            "backbone_messages_received",
            "Messages received from the backbone.",
            None,
            cluster.messages_in,
        ),
        (
            "backbone_messages_sent",
            "Messages sent to the backbone.",
            None,
            cluster.messages_out,
        ),
        (
            "backbone_received",
            "Bytes received from the backbone.",
            Some(Unit::Bytes),
            cluster.bytes_in,
        ),
        (
            "backbone_sent",
            "Bytes sent to the backbone.",
            Some(Unit::Bytes),
            cluster.bytes_out,
        ),
        (
            "backbone_dropped",
            "Messages for the backbone dropped because it did not keep up.",
            None,
            cluster.dropped_out,
        ),
        (
            "backbone_dropped_in",
            "Frames from the backbone dropped because this server did not keep up.",
            None,
            cluster.dropped_in,
        ),
        (
            "backbone_slow_consumer_events",
            "Times NATS said this server's subscriptions fell behind.",
            None,
            cluster.slow_consumer_events,
        ),
    ];
    for (name, help, unit, value) in counters {
        let name = format!("{PREFIX}_{name}");
        encode_value(
            encoder,
            &name,
            help,
            unit.as_ref(),
            MetricType::Counter,
            value,
        )?;
    }
    Ok(())
}

/// What /proc says of this process, with the names Prometheus' own client
/// libraries give these figures.
#[derive(Debug, Default, PartialEq)]
struct ProcessFigures {
    cpu_seconds: f64,
    start_time_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    threads: u64,
    open_fds: u64,
    max_fds: Option<u64>,
}

/// Clock ticks per second of /proc/<pid>/stat: USER_HZ, which the kernel fixes
/// at 100 for user space.
const TICKS_PER_SECOND: f64 = 100.0;

impl ProcessFigures {
    /// None where there is no /proc (not Linux).
    fn read() -> Option<ProcessFigures> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot_time = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|text| parse_boot_time(&text))
            .unwrap_or(0);
        let mut figures = parse_stat(&stat, boot_time)?;
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            parse_status(&status, &mut figures);
        }
        figures.open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count() as u64);
        figures.max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|text| parse_max_fds(&text));
        Some(figures)
    }

    fn encode(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let seconds = Some(&Unit::Seconds);
        let bytes = Some(&Unit::Bytes);
        encode_float(
            encoder,
            "process_cpu",
            "User and system CPU time spent.",
            seconds,
            MetricType::Counter,
            self.cpu_seconds,
        )?;
        encode_float(
            encoder,
            "process_start_time",
            "Start time of the process since the Unix epoch.",
            seconds,
            MetricType::Gauge,
            self.start_time_seconds,
        )?;
        encode_value(
            encoder,
            "process_resident_memory",
            "Resident memory size.",
            bytes,
            MetricType::Gauge,
            self.resident_bytes,
        )?;
        encode_value(
            encoder,
            "process_virtual_memory",
            "Virtual memory size.",
            bytes,
            MetricType::Gauge,
            self.virtual_bytes,
        )?;
        encode_value(
            encoder,
            "process_threads",
            "Threads of the process (the server runs a few per client).",
            None,
            MetricType::Gauge,
            self.threads,
        )?;
        encode_value(
            encoder,
            "process_open_fds",
            "Open file descriptors.",
            None,
            MetricType::Gauge,
            self.open_fds,
        )?;
        if let Some(max_fds) = self.max_fds {
            encode_value(
                encoder,
                "process_max_fds",
                "Most file descriptors the process may open.",
                None,
                MetricType::Gauge,
                max_fds,
            )?;
        }
        Ok(())
    }
}

/// CPU time and start time from /proc/self/stat; `boot_time` (seconds since
/// the epoch) turns the start time in ticks since boot into a timestamp.
fn parse_stat(stat: &str, boot_time: u64) -> Option<ProcessFigures> {
    // The command name (field 2) may hold spaces and parentheses: count the
    // fields after its closing parenthesis, which is field 3 (state).
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let field = |number: usize| -> Option<u64> { fields.get(number - 3)?.parse().ok() };
    Some(ProcessFigures {
        cpu_seconds: (field(14)? + field(15)?) as f64 / TICKS_PER_SECOND,
        start_time_seconds: boot_time as f64 + field(22)? as f64 / TICKS_PER_SECOND,
        ..ProcessFigures::default()
    })
}

/// Memory (in kB there) and threads from /proc/self/status.
fn parse_status(status: &str, figures: &mut ProcessFigures) {
    let value = |key: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    };
    figures.resident_bytes = value("VmRSS:").unwrap_or(0) * 1024;
    figures.virtual_bytes = value("VmSize:").unwrap_or(0) * 1024;
    figures.threads = value("Threads:").unwrap_or(0);
}

fn parse_boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The figures of a running server, as the text a scrape gets.
pub fn render(registry: &MeetingRegistry, stats: &Arc<ServerStats>) -> String {
    let mut metrics = Registry::default();
    metrics.register_collector(Box::new(ServerCollector {
        registry: registry.clone(),
        stats: stats.clone(),
    }));
    let mut text = String::new();
    // Writing to a String cannot fail; an error here would be a collector bug.
    if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &metrics) {
        tracing::error!("could not encode the metrics: {err}");
    }
    text
}

/// The running metrics listener; `stop` ends it.
pub struct MetricsListener {
    local_addr: SocketAddr,
    http: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsListener {
    /// Listens on `addr` and answers on a thread of its own.
    pub fn start(
        addr: SocketAddr,
        registry: MeetingRegistry,
        stats: Arc<ServerStats>,
    ) -> anyhow::Result<MetricsListener> {
        let http = tiny_http::Server::http(addr).map_err(|err| {
            anyhow!(
                "could not listen for metrics on {addr}: {err}: choose another address with --metrics"
            )
        })?;
        let local_addr = http
            .server_addr()
            .to_ip()
            .context("the metrics listener has no IP address")?;
        let http = Arc::new(http);
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = {
            let http = http.clone();
            let stopping = stopping.clone();
            std::thread::Builder::new()
                .name("metrics".into())
                .spawn(move || serve(&http, &stopping, &registry, &stats))
                .context("could not start the metrics thread")?
        };
        Ok(MetricsListener {
            local_addr,
            http,
            stopping,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops answering; waits for the request in hand.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.http.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MetricsListener {
    fn drop(&mut self) {
        self.stop_now();
    }
}

fn serve(
    http: &tiny_http::Server,
    stopping: &AtomicBool,
    registry: &MeetingRegistry,
    stats: &Arc<ServerStats>,
) {
    loop {
        let request = match http.recv() {
            Ok(request) => request,
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(err) => {
                tracing::warn!("metrics listener: {err}");
                continue;
            }
        };
        let response = answer(request.method(), request.url(), registry, stats);
        if let Err(err) = request.respond(response) {
            tracing::debug!("metrics listener: could not answer: {err}");
        }
    }
}

/// The health check's body: the server answers (so it is healthy); on a
/// server of a cluster, also whether it reaches the others, since it keeps
/// serving its own meetings without them.
fn health(registry: &MeetingRegistry) -> String {
    let Some(cluster) = registry.cluster() else {
        return "ok\n".to_string();
    };
    let report = cluster.report(registry.counts().meetings);
    if report.connected {
        format!(
            "ok\ncluster {}: connected, {} other servers\n",
            report.name,
            report.peers.len()
        )
    } else {
        format!(
            "ok\ncluster {}: NATS unreachable; serving this server's meetings alone\n",
            report.name
        )
    }
}

fn answer(
    method: &tiny_http::Method,
    url: &str,
    registry: &MeetingRegistry,
    stats: &Arc<ServerStats>,
) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let path = url.split('?').next().unwrap_or(url);
    let (status, content_type, body) = match (method, path) {
        (tiny_http::Method::Get | tiny_http::Method::Head, "/metrics") => {
            (200, CONTENT_TYPE, render(registry, stats))
        }
        (tiny_http::Method::Get | tiny_http::Method::Head, "/healthz") => {
            (200, "text/plain; charset=utf-8", health(registry))
        }
        (tiny_http::Method::Get | tiny_http::Method::Head, _) => (
            404,
            "text/plain; charset=utf-8",
            "not found: this listener serves /metrics and /healthz\n".to_string(),
        ),
        _ => (
            405,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".to_string(),
        ),
    };
    let mut response = tiny_http::Response::from_string(body).with_status_code(status);
    if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", content_type) {
        response.add_header(header);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::FrameKind;

    #[test]
    fn traffic_is_labelled_by_kind_and_counters_end_in_total() {
        let registry = MeetingRegistry::new();
        let stats = Arc::new(ServerStats::default());
        stats
            .traffic(FrameKind::Media(MediaKind::Video))
            .received(1234);
        stats.traffic(FrameKind::Control).sent(2, 80);
        let text = render(&registry, &stats);
        assert!(
            text.contains("meeting_received_bytes_total{kind=\"video\"} 1234\n"),
            "{text}"
        );
        assert!(
            text.contains("meeting_frames_sent_total{kind=\"control\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE meeting_clients gauge\n"), "{text}");
        for kind in MediaKind::ALL {
            let line = format!("meeting_frames_dropped_total{{kind=\"{kind}\"}} 0\n");
            assert!(text.contains(&line), "{line} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn parses_proc_figures_even_with_a_strange_command_name() {
        // Fields 14/15 utime/stime, 22 starttime.
        let stat = "4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 300 0 0 0 \
                    250 75 0 0 20 0 9 0 12345 1000000 500 18446744073709551615";
        let mut figures = parse_stat(stat, 1_700_000_000).expect("parses");
        assert_eq!(figures.cpu_seconds, 3.25);
        assert_eq!(figures.start_time_seconds, 1_700_000_123.45);
        parse_status(
            "Name:\tx\nVmSize:\t  2000 kB\nVmRSS:\t 500 kB\nThreads:\t9\n",
            &mut figures,
        );
        assert_eq!(figures.threads, 9);
        assert_eq!(figures.virtual_bytes, 2000 * 1024);
        assert_eq!(figures.resident_bytes, 500 * 1024);
        assert_eq!(parse_stat("garbage", 0), None);
        assert_eq!(
            parse_boot_time("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
    }

    #[test]
    fn this_process_has_proc_figures() {
        let figures = ProcessFigures::read().expect("/proc/self on Linux");
        assert!(figures.resident_bytes > 0 && figures.threads >= 1 && figures.open_fds > 0);
    }
}
