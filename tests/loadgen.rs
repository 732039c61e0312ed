//! Smoke runs of the real `loadgen` against the real server: proof that the
//! benchmark tool works and counts honestly. Short and light on purpose; the
//! capacity figures come from `bench/run` and live in docs/BENCHMARKS.md.

use integration_tests::{DEADLINE, ServerProcess, binary, wait_with_deadline};
use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};

/// Runs loadgen with `args` against `server`; returns its exit code, its JSON
/// report (Null if none) and its stderr.
fn loadgen(server: &ServerProcess, args: &[&str]) -> (Option<i32>, Value, String) {
    loadgen_on(&[server], args)
}

/// The same against several servers (one `--server` each, in order), which
/// share one key as all test servers do.
fn loadgen_on(servers: &[&ServerProcess], args: &[&str]) -> (Option<i32>, Value, String) {
    let mut child = Command::new(binary("loadgen"))
        .args(
            servers
                .iter()
                .flat_map(|server| ["--server".to_string(), server.addr().to_string()]),
        )
        .arg("--json")
        .args(servers[0].trust_args())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadgen starts");
    let status = wait_with_deadline(&mut child, DEADLINE).expect("loadgen stops on its own");
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out).expect("stdout");
    }
    if let Some(mut stderr) = child.stderr.take() {
        stderr.read_to_string(&mut err).expect("stderr");
    }
    let report = serde_json::from_str(out.trim()).unwrap_or(Value::Null);
    (status.code(), report, err)
}

fn count(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

/// No frame came twice, late, corrupt, or to a socket that closed early.
fn assert_nothing_damaged(report: &Value) {
    for key in ["duplicates", "out_of_order", "corrupt", "disconnects"] {
        assert_eq!(count(report, key), 0, "{key}: {report}");
    }
}

#[test]
fn a_paced_meeting_is_delivered_whole_and_in_order() {
    let server = ServerProcess::start();
    let pid = server.pid().to_string();
    let (code, report, stderr) = loadgen(
        &server,
        &[
            "--meetings",
            "2",
            "--members",
            "3",
            "--video-fps",
            "20",
            "--video-bytes",
            "3000",
            "--audio",
            "--duration",
            "1s",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    // Each frame goes to the two other members of its meeting.
    let sent = count(&report, "frames_sent");
    assert!(sent > 0, "{report}");
    assert_eq!(count(&report, "frames_expected"), 2 * sent);
    assert_eq!(count(&report, "frames_delivered"), 2 * sent, "{report}");
    assert_eq!(report["delivery_ratio"], 1.0);
    assert_nothing_damaged(&report);
    for kind in ["video", "audio"] {
        let figures = &report["kinds"][kind];
        assert!(count(figures, "frames_delivered") > 0, "{kind}: {report}");
        assert_eq!(figures["delivery_ratio"], 1.0, "{kind}");
    }
    // 20 fps of 3,000 bytes and 50 fps of 1,936 bytes from 6 members for 1 s,
    // less the phase offsets: a sanity band, not a timing test.
    assert!((300..=460).contains(&sent), "{sent} frames in 1 s");
    let latency = &report["latency_us"];
    assert!(count(latency, "p50") <= count(latency, "p99"));
    assert!(count(latency, "p99") <= count(latency, "max"));
    assert!(report["server_cpu_s"].as_f64().is_some(), "{report}");
    assert!(report["server_cpu_s_per_gb"].as_f64().is_some());
    assert_eq!(count(&report, "server_dropped"), 0);
    assert!(
        report["errors"].as_array().is_some_and(Vec::is_empty),
        "{report}"
    );

    // Turn-taking on the same server: one talker at a time, the turn passing
    // after half a second; silent members send keep-alives only. What was
    // sent, voiced or not, reaches the three others.
    let (code, report, stderr) = loadgen(
        &server,
        &[
            "--members",
            "4",
            "--no-video",
            "--audio",
            "--audio-bytes",
            "80",
            "--talkers",
            "1",
            "--turn",
            "500ms",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let sent = count(&report, "frames_sent");
    assert_eq!(count(&report, "frames_delivered"), 3 * sent, "{report}");
    assert_nothing_damaged(&report);
    let talk = &report["talk"];
    assert_eq!(
        count(talk, "voiced") + count(talk, "ends") + count(talk, "keep_alives"),
        sent
    );
    assert!(count(talk, "voiced") > 20, "{report}");
    assert!(count(talk, "ends") >= 1 && count(talk, "keep_alives") >= 3);
    // Four members sending all the time would send about 200 in a second.
    assert!(
        sent < 120,
        "{sent} frames: silent members sent more than keep-alives"
    );
}

#[test]
fn a_closed_loop_run_and_a_slow_member_are_counted_apart() {
    let server = ServerProcess::start();
    let (code, report, stderr) = loadgen(
        &server,
        &[
            "--members",
            "3",
            "--video-fps",
            "0",
            "--video-bytes",
            "20000",
            "--window",
            "1",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    // A window of one never has more than one frame per sender in flight, so
    // nothing is dropped even when senders go as fast as they can.
    assert!(count(&report, "frames_sent") > 100, "{report}");
    assert_eq!(report["delivery_ratio"], 1.0, "{report}");
    assert_eq!(count(&report, "server_dropped"), 0);

    let (code, report, stderr) = loadgen(
        &server,
        &[
            "--members",
            "3",
            "--video-fps",
            "30",
            "--video-bytes",
            "20000",
            "--slow",
            "1",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (slow, others) = (&report["slow"], &report["others"]);
    // Each frame goes to one slow member, or to one or two that keep up.
    let sent = count(&report, "frames_sent");
    assert_eq!(
        count(slow, "frames_expected") + count(others, "frames_expected"),
        2 * sent
    );
    assert_eq!(others["delivery_ratio"], 1.0, "{report}");
    assert!(slow["latency_us"]["p99"].as_u64().is_some());
    assert_eq!(
        count(&report, "duplicates") + count(&report, "out_of_order"),
        0
    );
}

#[test]
fn no_server_is_a_clear_error() {
    let server = ServerProcess::start();
    let addr = server.addr();
    drop(server);
    let mut child = Command::new(binary("loadgen"))
        .args(["--server", &addr.to_string(), "--duration", "1s"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadgen starts");
    let status = wait_with_deadline(&mut child, DEADLINE).expect("exits");
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).expect("stderr");
    }
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("is the server running?"), "{stderr}");
}

#[test]
fn the_server_logs_its_figures_while_traffic_flows() {
    let server = ServerProcess::start_with(&["--stats-interval", "1s"]);
    let (code, report, stderr) = loadgen(
        &server,
        &[
            "--members",
            "2",
            "--video-fps",
            "10",
            "--video-bytes",
            "1000",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let sent = count(&report, "frames_sent");
    // The log counts frames since its last line: they must add up to what was sent.
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let log = server.stderr();
        let logged: u64 = log
            .lines()
            .filter_map(|line| line.split("video in ").nth(1))
            .filter_map(|rest| rest.split(' ').next()?.parse::<u64>().ok())
            .sum();
        if logged == sent {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "logged {logged} of {sent} video frames:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
#[cfg_attr(
    not(nats_server),
    ignore = "needs nats-server (Debian package nats-server)"
)]
fn a_meeting_spread_over_three_servers_is_delivered_whole() {
    let nats = integration_tests::nats::NatsProcess::start();
    let url = nats.url();
    let servers =
        [(); 3].map(|_| ServerProcess::start_with(&["--cluster", &url, "--cluster-name", "lg"]));
    let pids = servers.each_ref().map(|server| server.pid().to_string());
    let nats_pid = nats.pid().to_string();
    let mut args = vec![
        "--members",
        "4",
        "--video-fps",
        "20",
        "--video-bytes",
        "3000",
        "--audio",
        "--duration",
        "1s",
        "--nats-pid",
        &nats_pid,
    ];
    for pid in &pids {
        args.extend(["--server-pid", pid]);
    }
    let (code, report, stderr) = loadgen_on(&servers.each_ref(), &args);
    assert_eq!(code, Some(0), "{stderr}");
    // Members 0 and 3 on the first server (0 created the meeting there), 1
    // and 2 joined from the others: each frame reaches the three others.
    assert_eq!(report["scenario"]["servers"], 3, "{report}");
    let sent = count(&report, "frames_sent");
    assert!(sent > 0, "{report}");
    assert_eq!(count(&report, "frames_delivered"), 3 * sent, "{report}");
    assert_nothing_damaged(&report);
    let per_server = report["per_server"].as_array().expect("per_server");
    let members: Vec<u64> = per_server.iter().map(|s| count(s, "members")).collect();
    assert_eq!(members, [2, 1, 1]);
    for (server, figures) in servers.iter().zip(per_server) {
        assert_eq!(figures["address"], server.addr().to_string());
        assert!(figures["cpu_s"].as_f64().is_some(), "{figures}");
        assert!(count(&figures["backbone"], "messages_out") > 0, "{figures}");
    }
    // Of each frame's three receivers, one shares its sender's server at
    // most: most frames crossed the backbone.
    let routes = &report["routes"];
    assert!(
        count(routes, "across_servers_frames") > count(routes, "same_server_frames"),
        "{routes}"
    );
    assert!(report["nats"]["cpu_s"].as_f64().is_some(), "{report}");
    assert!(report["server_cpu_s"].as_f64().is_some(), "{report}");
    assert!(
        report["errors"].as_array().is_some_and(Vec::is_empty),
        "{report}"
    );
}
