//! A real network blip: the client in one network namespace, the server (and
//! another member) in another, joined by a veth pair that the test takes down
//! for 5, 20 and 60 seconds. Measures the time from the link coming back to
//! media flowing both ways again, and checks that chat sent on either side
//! during the outage arrives exactly once; a 60 s outage outlasts the
//! client's 30 s of retries and the server's hold, and ends the session.
//!
//! Discovery on a LAN runs there too: two servers and an impostor announce
//! themselves in one namespace, and clients in the other find them, pick one,
//! refuse the impostor and see a stopped server go.
//!
//! Needs root (`ip netns`); without it each test says so and passes, unless
//! MEETING_NETNS_TESTS=required (CI), which makes it fail instead.

use integration_tests::tmux::Tmux;
use integration_tests::{ClientProcess, DEADLINE, ServerProcess};
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Two namespaces and the veth pair between them; all removed on drop, also
/// when the test panics.
struct Link {
    server_ns: String,
    client_ns: String,
    client_if: String,
    server_if: String,
    server_ip: String,
}

impl Link {
    /// Unique names per process and test: `mr<pid><n>`, at most 15 characters.
    fn create() -> Result<Link, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{n}", std::process::id() % 1_000_000);
        let link = Link {
            server_ns: format!("mrs{tag}"),
            client_ns: format!("mrc{tag}"),
            client_if: format!("vc{tag}"),
            server_if: format!("vs{tag}"),
            server_ip: format!("10.201.{n}.1"),
        };
        let server_if = link.server_if.clone();
        let client_ip = format!("10.201.{n}.2/24");
        let server_cidr = format!("{}/24", link.server_ip);
        // From here on, drop cleans up whatever was made.
        ip(&["netns", "add", &link.server_ns])?;
        ip(&["netns", "add", &link.client_ns])?;
        ip(&[
            "link",
            "add",
            &server_if,
            "netns",
            &link.server_ns,
            "type",
            "veth",
            "peer",
            "name",
            &link.client_if,
            "netns",
            &link.client_ns,
        ])?;
        for (ns, iface, address) in [
            (&link.server_ns, &server_if, &server_cidr),
            (&link.client_ns, &link.client_if, &client_ip),
        ] {
            ip(&["-n", ns, "addr", "add", address, "dev", iface])?;
            ip(&["-n", ns, "link", "set", iface, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(link)
    }

    fn exec_in(ns: &str) -> [&str; 4] {
        ["ip", "netns", "exec", ns]
    }

    /// Limits what the server's side sends toward the client to `rate` (a
    /// token bucket, as a slow Wi-Fi link would); it goes with the namespace.
    fn limit_toward_client(&self, rate: &str) -> Result<(), String> {
        let output = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.server_ns,
                "tc",
                "qdisc",
                "add",
                "dev",
            ])
            .args([&self.server_if, "root", "tbf", "rate", rate])
            .args(["burst", "32kbit", "latency", "50ms"])
            .output()
            .map_err(|e| format!("tc: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "tc qdisc add ... tbf rate {rate}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// Takes the client's end down (its Wi-Fi drops) or up.
    fn set_up(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.client_ns, "link", "set", &self.client_if, state])
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and so the pair.
        for ns in [&self.client_ns, &self.server_ns] {
            if let Err(err) = ip(&["netns", "del", ns]) {
                eprintln!("cleaning up: {err}");
            }
        }
    }
}

/// A link, or None (and a note) where namespaces cannot be made.
fn link_or_skip() -> Option<Link> {
    match Link::create() {
        Ok(link) => Some(link),
        Err(err) => {
            let required = std::env::var("MEETING_NETNS_TESTS").is_ok_and(|v| v == "required");
            assert!(!required, "MEETING_NETNS_TESTS=required, but: {err}");
            eprintln!("skipped: network namespaces are not available here ({err}); run as root");
            None
        }
    }
}

fn frames_from(stats: &Value, member: u64, kind: &str) -> u64 {
    stats["received"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["member"] == member))
        .and_then(|m| m[kind]["frames"].as_u64())
        .unwrap_or(0)
}

/// Polls `/stats` until video from `from` has grown past `after`; when it did.
fn video_grows(client: &mut ClientProcess, from: u64, after: u64, within: Duration) -> Instant {
    let end = Instant::now() + within;
    loop {
        client.send("/stats");
        let stats = client.expect_event("stats");
        if frames_from(&stats, from, "video") > after {
            return Instant::now();
        }
        assert!(
            Instant::now() < end,
            "{}: no video from {from} within {within:?}; last stats: {stats}",
            client.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn video_now(client: &mut ClientProcess, from: u64) -> u64 {
    client.send("/stats");
    frames_from(&client.expect_event("stats"), from, "video")
}

/// Waits up to `within` (in `DEADLINE` steps) for an event matching `pred`.
fn event_within(
    client: &mut ClientProcess,
    what: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let end = Instant::now() + within;
    loop {
        match client.wait_for(what, &pred) {
            Ok(event) => return event,
            Err(err) if Instant::now() >= end => panic!("{err:#}"),
            Err(_) => {}
        }
    }
}

fn chats(client: &ClientProcess, text: &str) -> usize {
    client
        .history
        .iter()
        .filter(|e| e["event"] == "chat" && e["text"] == text)
        .count()
}

/// A meeting of `near` (next to the server) and `far` (behind the link),
/// both sending video; media flowing both ways.
struct Meeting {
    server: ServerProcess,
    near: ClientProcess,
    far: ClientProcess,
}

fn meeting(link: &Link) -> Meeting {
    let server_exec = Link::exec_in(&link.server_ns);
    let server = ServerProcess::start_wrapped(
        &server_exec,
        &format!("{}:0", link.server_ip),
        &["--resume-hold", "30s"],
    );
    let address = server.addr().to_string();
    let mut args = server.trust_args();
    args.extend([
        "--fps".into(),
        "10".into(),
        "--video-size".into(),
        "160x90".into(),
    ]);
    let mut near = ClientProcess::start_wrapped(&server_exec, &address, "near", &args)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut far =
        ClientProcess::start_wrapped(&Link::exec_in(&link.client_ns), &address, "far", &args)
            .unwrap_or_else(|e| panic!("{e:#}"));
    let id = near.create();
    far.join(&id);
    near.send("/video on");
    far.send("/video on");
    let (near_id, far_id) = (near.id, far.id);
    video_grows(&mut near, far_id, 0, DEADLINE);
    video_grows(&mut far, near_id, 0, DEADLINE);
    Meeting { server, near, far }
}

/// Takes the link down for `outage`, with chat sent on both sides meanwhile.
fn blip(link: &Link, m: &mut Meeting, outage: Duration) -> Instant {
    link.set_up(false);
    let down = Instant::now();
    m.far.send("from far, while cut off");
    m.near.send("from near, while far was away");
    // The outage itself: its length is what the test is about.
    std::thread::sleep(outage.saturating_sub(down.elapsed()));
    link.set_up(true);
    eprintln!("link down for {:?}", down.elapsed());
    Instant::now()
}

fn a_blip_of(seconds: u64) {
    let Some(link) = link_or_skip() else {
        return;
    };
    let mut m = meeting(&link);
    let (near_id, far_id) = (m.near.id, m.far.id);
    let up = blip(&link, &mut m, Duration::from_secs(seconds));
    let before = (
        video_now(&mut m.far, near_id),
        video_now(&mut m.near, far_id),
    );
    let far_gets = video_grows(&mut m.far, near_id, before.0, Duration::from_secs(30));
    let near_gets = video_grows(&mut m.near, far_id, before.1, Duration::from_secs(30));
    let flowing = far_gets.max(near_gets).duration_since(up);
    // Chat on both sides arrives once, in both directions.
    m.far.send("after");
    m.near.send("after, near");
    m.far.expect("near's last chat", |e| {
        e["event"] == "chat" && e["text"] == "after, near"
    });
    m.near.expect("far's last chat", |e| {
        e["event"] == "chat" && e["text"] == "after"
    });
    for client in [&m.far, &m.near] {
        for text in ["from far, while cut off", "from near, while far was away"] {
            assert_eq!(
                chats(client, text),
                1,
                "{}: '{text}' {:?}",
                client.name,
                client.history
            );
        }
    }
    let reconnected = m
        .far
        .history
        .iter()
        .find(|e| e["event"] == "reconnected")
        .cloned();
    let detected = m.far.history.iter().any(|e| e["event"] == "reconnecting");
    eprintln!(
        "outage {seconds} s: media flowing both ways {flowing:?} after the link came back; \
         client reconnected: {reconnected:?} (noticed the break: {detected})"
    );
    if seconds >= 20 {
        assert!(detected && reconnected.is_some(), "{:?}", m.far.history);
        assert!(
            m.near
                .history
                .iter()
                .any(|e| e["event"] == "member_reconnecting"),
            "the others saw far as reconnecting"
        );
        assert!(m.near.history.iter().any(|e| e["event"] == "member_back"));
        assert!(!m.near.history.iter().any(|e| e["event"] == "member_left"));
    }
    assert!(
        flowing < Duration::from_secs(10),
        "media back only after {flowing:?}"
    );
    assert_eq!(m.far.id, far_id, "same id");
    drop(m.server);
}

#[test]
fn a_5_second_blip_is_survived() {
    a_blip_of(5);
}

#[test]
fn a_20_second_blip_is_survived_with_media_and_chat() {
    a_blip_of(20);
}

#[test]
fn a_60_second_outage_ends_the_session_after_the_retries_and_the_hold() {
    let Some(link) = link_or_skip() else {
        return;
    };
    let mut m = meeting(&link);
    let far_id = m.far.id;
    link.set_up(false);
    let down = Instant::now();
    let reconnecting = event_within(&mut m.far, "reconnecting", Duration::from_secs(15), |e| {
        e["event"] == "reconnecting"
    });
    let client_noticed = down.elapsed();
    let held = event_within(
        &mut m.near,
        "member_reconnecting",
        Duration::from_secs(15),
        |e| e["event"] == "member_reconnecting",
    );
    let server_noticed = down.elapsed();
    eprintln!(
        "client noticed after {client_noticed:?} ({reconnecting}); server after {server_noticed:?} ({held})"
    );
    assert!(client_noticed < Duration::from_secs(9));
    assert!(server_noticed < Duration::from_secs(10));
    let lost = event_within(&mut m.far, "disconnected", Duration::from_secs(50), |e| {
        e["event"] == "disconnected"
    });
    let gave_up = down.elapsed();
    let status = m.far.wait_exit();
    assert_eq!(
        status.code(),
        Some(1),
        "a lost session exits with 1: {lost}"
    );
    let left = event_within(&mut m.near, "member_left", Duration::from_secs(50), |e| {
        e["event"] == "member_left" && e["member"]["id"] == far_id
    });
    let removed = down.elapsed();
    eprintln!(
        "client gave up after {gave_up:?}: {lost}; the others saw it leave after {removed:?}: {left}"
    );
    assert!(gave_up >= Duration::from_secs(30) && gave_up < Duration::from_secs(45));
    assert!(removed >= Duration::from_secs(30) && removed < Duration::from_secs(50));
    // The link comes back after the full minute; the session stays gone.
    std::thread::sleep(Duration::from_secs(60).saturating_sub(down.elapsed()));
    link.set_up(true);
    m.near.send("/members");
    let members = m.near.expect_event("members");
    assert_eq!(
        members["members"].as_array().map(Vec::len),
        Some(1),
        "{members}"
    );
}

fn received_from(stats: &Value, member: u64) -> Option<&Value> {
    stats["received"]
        .as_array()?
        .iter()
        .find(|m| m["member"] == member)
}

/// Frames and lost frames of `kind` from `member`, and the video layer last got.
fn counts(stats: &Value, member: u64, kind: &str) -> (u64, u64, Option<u64>) {
    let Some(m) = received_from(stats, member) else {
        return (0, 0, None);
    };
    (
        m[kind]["frames"].as_u64().unwrap_or(0),
        m[kind]["lost"].as_u64().unwrap_or(0),
        m["video_layer"].as_u64(),
    )
}

/// A member behind a slow link (tbf, 2 Mbit/s toward it) in a meeting whose
/// full-size video alone needs more: the server moves it to a smaller layer,
/// its audio stays whole, its video keeps coming, and the members on the
/// fast side lose nothing.
#[test]
fn a_member_on_a_slow_link_gets_smaller_video_and_whole_audio_and_harms_nobody() {
    let Some(link) = link_or_skip() else {
        return;
    };
    link.limit_toward_client("2mbit")
        .unwrap_or_else(|e| panic!("{e}"));
    let server_exec = Link::exec_in(&link.server_ns);
    let server = ServerProcess::start_wrapped(&server_exec, &format!("{}:0", link.server_ip), &[]);
    let address = server.addr().to_string();
    let mut args = server.trust_args();
    args.extend(["--fps".into(), "10".into()]);
    // Three members next to the server send 640x360 video (about 2.3 Mbit/s
    // together at full size); one of them also speaks (PCM, 0.8 Mbit/s).
    let mut near: Vec<ClientProcess> = ["ana", "bo", "cy"]
        .into_iter()
        .map(|name| {
            ClientProcess::start_wrapped(&server_exec, &address, name, &args)
                .unwrap_or_else(|e| panic!("{e:#}"))
        })
        .collect();
    let mut far =
        ClientProcess::start_wrapped(&Link::exec_in(&link.client_ns), &address, "far", &args)
            .unwrap_or_else(|e| panic!("{e:#}"));
    let meeting = near[0].create();
    for member in near[1..].iter_mut() {
        member.join(&meeting);
    }
    far.join(&meeting);
    for member in near.iter_mut() {
        member.send("/video on test");
    }
    near[0].send("/audio on tone:440");
    let sharing_since = Instant::now();
    let ids: Vec<u64> = near.iter().map(|m| m.id).collect();
    let speaker = ids[0];

    // The far member asks for everyone at full size (the harness's
    // default): more than its link carries, so the server steps it down.
    far.wait_stats("a smaller layer", |s| {
        ids.iter()
            .any(|&id| counts(s, id, "video").2.is_some_and(|layer| layer > 0))
    });
    let held_after = sharing_since.elapsed();

    // Measured: 15 s from here.
    const WINDOW: Duration = Duration::from_secs(15);
    let far_before = far.wait_stats("stats", |_| true);
    let near_before = near[1].wait_stats("stats", |_| true);
    let start = Instant::now();
    // Every 3 s: the far member's video must keep coming (no freeze).
    let mut video_seen = ids
        .iter()
        .map(|&id| counts(&far_before, id, "video").0)
        .sum::<u64>();
    while start.elapsed() < WINDOW {
        std::thread::sleep(Duration::from_secs(3));
        let now = far.wait_stats("stats", |_| true);
        let video: u64 = ids.iter().map(|&id| counts(&now, id, "video").0).sum();
        assert!(
            video > video_seen,
            "the far member's video froze for 3 s: {now}"
        );
        video_seen = video;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let far_after = far.wait_stats("stats", |_| true);
    let near_after = near[1].wait_stats("stats", |_| true);
    let rate = |before: &Value, after: &Value, id: u64, kind: &str| {
        (counts(after, id, kind).0 - counts(before, id, kind).0) as f64 / elapsed
    };
    let lost = |before: &Value, after: &Value, id: u64, kind: &str| {
        counts(after, id, kind).1 - counts(before, id, kind).1
    };

    let far_audio = rate(&far_before, &far_after, speaker, "audio");
    let far_audio_lost = lost(&far_before, &far_after, speaker, "audio");
    let far_video: Vec<f64> = ids
        .iter()
        .map(|&id| rate(&far_before, &far_after, id, "video"))
        .collect();
    let far_layers: Vec<Option<u64>> = ids
        .iter()
        .map(|&id| counts(&far_after, id, "video").2)
        .collect();
    let near_video = rate(&near_before, &near_after, ids[2], "video");
    let near_audio = rate(&near_before, &near_after, speaker, "audio");
    let near_lost = lost(&near_before, &near_after, ids[2], "video")
        + lost(&near_before, &near_after, speaker, "audio");
    eprintln!(
        "2 Mbit/s link: held down {held_after:?} after sharing started; over {elapsed:.1} s \
         the far member got audio {far_audio:.1} frames/s ({far_audio_lost} lost), video \
         {far_video:.1?} frames/s per sender in layers {far_layers:?}; a near member got \
         video {near_video:.1} and audio {near_audio:.1} frames/s ({near_lost} lost)"
    );
    // Audio is 100 frames a second (10 ms each) and is never given up for
    // video (a little under 100 over the window: the link's queue delays
    // some). Now and then the server tries the larger layer again (after
    // 4 s of calm, then 8, 16... while the tries fail), which may cost a
    // frame or two: 2% at most.
    assert!(far_audio > 80.0, "far audio {far_audio:.1}/s");
    assert!(
        far_audio_lost <= 30,
        "far lost {far_audio_lost} audio frames"
    );
    // Video keeps coming from everyone (smaller: waited for above).
    for video in &far_video {
        assert!(*video > 3.0, "far video {far_video:?}");
    }
    // The fast side is untouched: 10 pictures and 100 audio frames a second.
    assert!(near_video > 8.5, "near video {near_video:.1}/s");
    assert!(near_audio > 90.0, "near audio {near_audio:.1}/s");
    assert_eq!(near_lost, 0, "the near members lost frames");
    drop(server);
}

/// A record announced by the test itself, from a thread moved into `ns`
/// (the responder's thread inherits the namespace): a server on the LAN
/// that announces someone else's address with a key of its own choosing.
struct Impostor {
    daemon: mdns_sd::ServiceDaemon,
}

impl Impostor {
    fn announce(ns: &str, name: &str, addr: std::net::SocketAddr, fingerprint: &str) -> Impostor {
        let netns = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("the namespace");
        let (name, fingerprint) = (name.to_string(), fingerprint.to_string());
        let daemon = std::thread::spawn(move || {
            use std::os::fd::AsFd;
            rustix::thread::move_into_link_name_space(
                netns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("setns");
            let daemon = mdns_sd::ServiceDaemon::new().expect("an mDNS responder");
            let properties = [("v", "1"), ("fp", fingerprint.as_str())];
            let info = mdns_sd::ServiceInfo::new(
                common::lan::SERVICE_TYPE,
                &name,
                "impostor.local.",
                addr.ip(),
                addr.port(),
                &properties[..],
            )
            .expect("a record");
            daemon.register(info).expect("announced");
            daemon
        })
        .join()
        .expect("the impostor's thread");
        Impostor { daemon }
    }
}

impl Drop for Impostor {
    fn drop(&mut self) {
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
    }
}

/// Runs `client ARGS` in the client's namespace with `input` on stdin, and
/// returns its JSON events, its stderr and whether it succeeded.
fn client_on_the_lan(link: &Link, args: &[&str], input: &str) -> (Vec<Value>, String, bool) {
    let known_hosts = tempfile::tempdir().expect("a folder");
    let mut command = Command::new("ip");
    command
        .args(&Link::exec_in(&link.client_ns)[1..])
        .arg(integration_tests::binary("client"))
        .args(["--json", "--name", "finder", "--known-hosts"])
        .arg(known_hosts.path().join("known_hosts"))
        .args(args);
    let ran = integration_tests::run_within(&mut command, Some(input.as_bytes()), DEADLINE);
    let events = String::from_utf8_lossy(&ran.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let stderr = String::from_utf8_lossy(&ran.stderr).into_owned();
    (events, stderr, ran.status.is_some_and(|s| s.success()))
}

/// The `servers` event of a run, by name: (address, fingerprint).
fn servers_listed(events: &[Value]) -> Vec<(String, String, Option<String>)> {
    let Some(event) = events.iter().find(|e| e["event"] == "servers") else {
        return Vec::new();
    };
    event["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|server| {
            (
                server["name"].as_str().unwrap_or_default().to_string(),
                server["addresses"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                server["fingerprint"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// `client --discover` until what it lists satisfies `done`, within the deadline.
fn discover_until(
    link: &Link,
    done: impl Fn(&[(String, String, Option<String>)]) -> bool,
) -> Vec<(String, String, Option<String>)> {
    let end = Instant::now() + DEADLINE;
    loop {
        let (events, stderr, _) = client_on_the_lan(link, &["--discover"], "");
        let listed = servers_listed(&events);
        if done(&listed) {
            return listed;
        }
        assert!(
            Instant::now() < end,
            "the LAN lists {listed:?}; client said: {stderr}"
        );
    }
}

#[test]
fn servers_on_the_lan_are_found_picked_checked_and_dropped_when_they_stop() {
    let Some(link) = link_or_skip() else {
        return;
    };
    let exec = Link::exec_in(&link.server_ns);
    let bind = format!("{}:0", link.server_ip);
    let alpha = ServerProcess::start_wrapped(&exec, &bind, &["--announce-name", "alpha"]);
    let mut beta = ServerProcess::start_wrapped(&exec, &bind, &["--announce-name", "beta"]);
    let key = |server: &ServerProcess| server.fingerprint().map(|key| key.to_compact());
    // Claims alpha's address with a key nobody holds.
    let impostor_key = format!("SHA256:{}", "5A".repeat(32));
    let impostor = Impostor::announce(&link.server_ns, "impostor", alpha.addr(), &impostor_key);

    // Both servers and the impostor are listed, each with what it announced.
    let listed = discover_until(&link, |listed| listed.len() == 3);
    assert_eq!(
        listed,
        vec![
            ("alpha".into(), alpha.addr().to_string(), key(&alpha)),
            ("beta".into(), beta.addr().to_string(), key(&beta)),
            (
                "impostor".into(),
                alpha.addr().to_string(),
                Some(impostor_key.clone())
            ),
        ]
    );

    // In a terminal, the list to pick from: the second row is beta.
    if Tmux::available() {
        let known_hosts = tempfile::tempdir().expect("a folder");
        let command = format!(
            "ip netns exec {} {} --name picker --known-hosts {}",
            link.client_ns,
            integration_tests::binary("client").display(),
            known_hosts.path().join("known_hosts").display()
        );
        let tmux = Tmux::start(&command, 100, 30);
        tmux.wait_for("the list of servers", false, |screen| {
            screen.contains("Servers on this LAN")
                && ["alpha", "beta", "impostor"]
                    .iter()
                    .all(|name| screen.contains(name))
        });
        tmux.keys(&["Down", "Enter"]);
        let beta_address = beta.addr().to_string();
        tmux.wait_for("beta joined", false, |screen| {
            screen.contains("connected to") && screen.contains(&beta_address)
        });
    }

    // Without an address the client asks which; a wrong answer is an error
    // event, then it joins the one named.
    let (events, stderr, ok) = client_on_the_lan(&link, &[], "zeta\nbeta\n");
    assert!(ok, "{events:?} {stderr}");
    let asked = events
        .iter()
        .find(|e| e["event"] == "servers")
        .expect("servers");
    assert_eq!(asked["asks"], true);
    // Within the browse: its first query, or its second when the terminal's
    // browse a moment ago made the responders hold back their answers.
    let within = asked["browse_ms"].as_u64().unwrap_or_default();
    assert!(
        asked["first_answer_ms"]
            .as_u64()
            .is_some_and(|ms| ms <= within),
        "{asked}"
    );
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event"].as_str())
        .filter(|kind| *kind != "first_use")
        .collect();
    assert_eq!(kinds[..3], ["servers", "error", "connected"], "{events:?}");
    let connected = events
        .iter()
        .find(|e| e["event"] == "connected")
        .expect("connected");
    assert_eq!(connected["server"], beta.addr().to_string(), "{connected}");

    // The impostor's key is not the key at the address it gave: refused
    // before anything is remembered.
    let (events, stderr, ok) = client_on_the_lan(&link, &[], "impostor\n");
    assert!(!ok, "{events:?}");
    assert!(
        !events.iter().any(|e| e["event"] == "connected"),
        "{events:?}"
    );
    assert!(
        stderr.contains("announced the key") && stderr.contains("pretending"),
        "{stderr}"
    );

    // A server that stops says goodbye: it is no longer listed.
    drop(impostor);
    assert!(beta.interrupt().success());
    let listed = discover_until(&link, |listed| listed.len() == 1);
    assert_eq!(listed[0].0, "alpha");

    // One server: the client joins it without asking.
    let (events, stderr, ok) = client_on_the_lan(&link, &[], "");
    assert!(ok, "{events:?} {stderr}");
    let found = events
        .iter()
        .find(|e| e["event"] == "servers")
        .expect("servers");
    assert_eq!(found["asks"], false);
    let connected = events
        .iter()
        .find(|e| e["event"] == "connected")
        .expect("connected");
    assert_eq!(connected["server"], alpha.addr().to_string());
    assert!(stderr.contains("found alpha"), "{stderr}");
}
