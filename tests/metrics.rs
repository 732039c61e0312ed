//! The metrics listener end to end: a real server with `--metrics` on
//! loopback, scraped over HTTP while real clients meet, chat and share video;
//! its health check; and logs that fit where they go (JSON lines, no colour
//! codes in a pipe).

use common::MediaKind;
use integration_tests::{DEADLINE, ServerProcess, binary, http_get as get, wait_with_deadline};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One scrape: every sample (`name{labels}`) and its value, after checking
/// the families are well formed.
fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
    let (status, head, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    let mut counters = Vec::new();
    let mut samples = BTreeMap::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE NAME KIND");
            if kind == "counter" {
                counters.push(name.to_string());
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (sample, value) = line.rsplit_once(' ').expect("NAME VALUE");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        samples.insert(sample.to_string(), value);
    }
    // Prometheus conventions: a counter's samples end in _total.
    for counter in &counters {
        let total = format!("{counter}_total");
        assert!(
            samples.keys().any(|sample| sample.starts_with(&total)),
            "counter {counter} has no {total} sample:\n{body}"
        );
    }
    samples
}

fn value(samples: &BTreeMap<String, f64>, sample: &str) -> f64 {
    *samples
        .get(sample)
        .unwrap_or_else(|| panic!("no {sample} in {samples:#?}"))
}

fn kind_sample(name: &str, kind: &str) -> String {
    format!("{name}{{kind=\"{kind}\"}}")
}

/// Scrapes until `done` holds, for at most the deadline.
fn scrape_until(
    addr: SocketAddr,
    what: &str,
    done: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> BTreeMap<String, f64> {
    let end = Instant::now() + DEADLINE;
    loop {
        let samples = scrape(addr);
        if done(&samples) {
            return samples;
        }
        assert!(
            Instant::now() < end,
            "metrics never showed {what}: {samples:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metrics_follow_meetings_and_traffic_and_health_answers() {
    let server = ServerProcess::start_with(&["--metrics", "127.0.0.1:0", "--log-format", "json"]);
    let metrics: SocketAddr = server
        .stdout_line("metrics on ")
        .parse()
        .expect("metrics on ADDR");
    assert!(metrics.ip().is_loopback(), "{metrics}");

    let (status, _, body) = get(metrics, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _, _) = get(metrics, "/nothing-here");
    assert_eq!(status, 404);

    let quiet = scrape(metrics);
    for gauge in ["meeting_clients", "meeting_meetings", "meeting_sockets"] {
        assert_eq!(value(&quiet, gauge), 0.0, "{gauge}");
    }
    let kinds: Vec<&str> = std::iter::once("control")
        .chain(MediaKind::ALL.iter().map(|kind| kind.name()))
        .collect();
    for family in [
        "meeting_frames_received_total",
        "meeting_received_bytes_total",
        "meeting_frames_sent_total",
        "meeting_sent_bytes_total",
        "meeting_frames_dropped_total",
        "meeting_queue_high_water_frames",
    ] {
        for kind in &kinds {
            value(&quiet, &kind_sample(family, kind));
        }
    }
    for process in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(value(&quiet, process) >= 0.0);
    }
    assert!(value(&quiet, "process_resident_memory_bytes") > 0.0);

    let (_, [mut ana, mut bo]) = server.meeting(["ana", "bo"]);
    ana.send("hello bo");
    bo.expect_event("chat");
    ana.send("/video on");

    let video_sent = kind_sample("meeting_frames_sent_total", "video");
    let busy = scrape_until(metrics, "video relayed to bo", |s| {
        s.get(&video_sent).is_some_and(|&sent| sent >= 5.0)
    });
    assert_eq!(value(&busy, "meeting_clients"), 2.0);
    assert_eq!(value(&busy, "meeting_meetings"), 1.0);
    assert!(value(&busy, "meeting_sockets") >= 2.0);
    assert!(value(&busy, "meeting_sockets_accepted_total") >= 2.0);
    let video_in = value(
        &busy,
        &kind_sample("meeting_frames_received_total", "video"),
    );
    assert!(video_in >= 5.0, "{busy:#?}");
    assert!(
        value(&busy, &kind_sample("meeting_received_bytes_total", "video")) > video_in * 100.0,
        "JPEG frames are more than 100 bytes each: {busy:#?}"
    );
    assert!(value(&busy, &kind_sample("meeting_sent_bytes_total", "video")) > 0.0);
    // create, join and chat at least (the hello is the handshake, not counted).
    let control_in = value(
        &busy,
        &kind_sample("meeting_frames_received_total", "control"),
    );
    assert!(control_in >= 3.0, "{busy:#?}");
    for sample in quiet.keys().filter(|name| name.contains("_total")) {
        assert!(
            value(&busy, sample) >= value(&quiet, sample),
            "counter {sample} went down"
        );
    }

    ana.quit();
    bo.quit();
    scrape_until(metrics, "the clients gone", |s| {
        s.get("meeting_clients") == Some(&0.0) && s.get("meeting_meetings") == Some(&0.0)
    });

    // JSON logs: one object per line, for log collectors.
    let logs = server.stderr();
    assert!(!logs.is_empty());
    for line in logs.lines() {
        let object: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not a JSON log line ({err}): {line}"));
        assert!(object["level"].is_string(), "{line}");
    }
}

#[test]
fn text_logs_into_a_pipe_have_no_colour_codes() {
    let mut server = ServerProcess::start();
    let status = server.interrupt();
    assert!(status.success(), "{status}");
    let logs = server.stderr();
    assert!(logs.contains("stopped"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "colour codes in a pipe: {logs:?}");
}

#[test]
fn a_metrics_address_in_use_is_a_clear_start_up_error() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("address");
    let mut child = Command::new(binary("server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--no-tls",
            "--metrics",
            &addr.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let status = wait_with_deadline(&mut child, DEADLINE).expect("server exits");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).expect("reads stderr");
    }
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("could not listen for metrics on {addr}")),
        "{stderr}"
    );
}
