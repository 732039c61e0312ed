//! One run: set up the meetings, send for the duration, drain, and count.

use crate::costs;
use crate::mix;
use crate::report::{Figures, Report, Routes};
use crate::scenario::Scenario;
use crate::session::{self, Member};
use crate::talk::Voice;
use crate::tally::Tally;
use crate::traffic::{self, Peer, SendPlan, Sent, Shared, TalkCounts};
use common::{Event, FrameKind, MediaKind, PerKind, Request, ServerStatsReport};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use transport::Socket;

/// After the senders stop, how long delivery may go quiet before the run
/// counts what is still missing as lost, and the most the drain may take.
const DRAIN_QUIET: Duration = Duration::from_secs(1);
const DRAIN_MAX: Duration = Duration::from_secs(10);
const STATS_TIMEOUT: Duration = Duration::from_secs(5);

/// What one member's threads brought back, per kind.
#[derive(Default)]
struct MemberResult {
    sent: PerKind<Sent>,
    received: PerKind<Tally>,
}

pub fn run(scenario: &Scenario) -> anyhow::Result<Report> {
    let members = session::setup(scenario)?;
    let peers: Vec<Peer> = members
        .iter()
        .map(|m| Peer {
            id: m.id,
            meeting: m.meeting,
            slot: m.slot,
            server: m.server,
            slow: scenario.is_slow(m.meeting, m.slot),
        })
        .collect();
    let shared = Shared::new(
        &peers,
        PerKind::from_fn(|kind| scenario.payload_sizes(kind)),
        scenario.window,
    );
    // One member per server asks it for its figures (the first on it).
    let servers = scenario.servers.len();
    let statistician_of: Vec<Option<usize>> = (0..servers)
        .map(|server| members.iter().position(|m| m.server == server))
        .collect();
    let (stats_txs, stats_rxs): (Vec<_>, Vec<_>) = (0..servers)
        .map(|_| mpsc::channel::<ServerStatsReport>())
        .unzip();
    let (error_tx, error_rx) = mpsc::channel::<String>();
    let closers = closers(&members)?;
    let statisticians = statistician_of
        .iter()
        .map(|member| {
            member
                .map(|m| members[m].control_stream().try_clone())
                .transpose()
        })
        .collect::<std::io::Result<Vec<Option<Socket>>>>()?;
    let ask_servers = || -> Vec<Option<ServerStatsReport>> {
        let asked: Vec<bool> = statisticians
            .iter()
            .map(|s| {
                s.as_ref()
                    .is_some_and(|s| session::send(s, &Request::ServerStats).is_ok())
            })
            .collect();
        asked
            .iter()
            .zip(&stats_rxs)
            .map(|(&asked, rx)| asked.then(|| rx.recv_timeout(STATS_TIMEOUT).ok()).flatten())
            .collect()
    };

    let mut results: Vec<MemberResult> = Vec::new();
    let mut before = costs::Sample::default();
    let mut after = costs::Sample::default();
    let mut send_started_us = 0;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut control_threads = Vec::new();
        let mut receivers = Vec::new();
        let mut outgoing = Vec::new();
        for (member, peer) in members.into_iter().zip(&peers) {
            let Member {
                index,
                server,
                control,
                media,
                ..
            } = member;
            let stats_tx =
                (statistician_of[server] == Some(index)).then(|| stats_txs[server].clone());
            let error_tx = error_tx.clone();
            control_threads.push(scope.spawn(move || read_events(control, stats_tx, error_tx)));
            let rate = peer
                .slow
                .then(|| scenario.receive_rate(peer.meeting) / 10.0);
            for (kind, stream) in media {
                let shared = &shared;
                // Its own descriptor for the sender, if the member sends this kind.
                let sending = scenario
                    .sends(peer.meeting, peer.slot, kind)
                    .then(|| stream.try_clone())
                    .transpose()?;
                outgoing.extend(sending.map(|stream| (index, kind, stream)));
                receivers.push((
                    index,
                    kind,
                    scope.spawn(move || traffic::receive_loop(stream, kind, index, rate, shared)),
                ));
            }
        }
        drop((stats_txs, error_tx));

        before = costs::Sample::take(scenario, ask_servers());
        send_started_us = shared.now_us();
        let stop_at = Instant::now() + scenario.duration;
        let total = peers.len();
        let mut senders = Vec::new();
        for (index, kind, stream) in outgoing {
            let period = scenario.period(kind);
            let peer = &peers[index];
            let plan = SendPlan {
                kind,
                member: index,
                period,
                // Spread the members over one period, as people's clocks are.
                phase: period.map_or(Duration::ZERO, |p| p.mul_f64(index as f64 / total as f64)),
                stop_at,
                voice: voice_of(scenario, kind, peer),
            };
            let shared = &shared;
            senders.push((
                index,
                kind,
                scope.spawn(move || traffic::send_loop(stream, plan, shared)),
            ));
        }
        results.resize_with(total, MemberResult::default);
        let mut expected = 0u64;
        for (index, kind, handle) in senders {
            let sent = handle.join().unwrap_or_default();
            let members = scenario.members_of(peers[index].meeting);
            let keep_up = members - scenario.slow - usize::from(!peers[index].slow);
            expected += sent.frames * keep_up as u64;
            results[index].sent[kind] = sent;
        }
        drain(&shared, expected);
        shared.stop();
        after = costs::Sample::take(scenario, ask_servers());
        for stream in &closers {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (index, kind, handle) in receivers {
            results[index].received[kind] = handle.join().unwrap_or_default();
        }
        for handle in control_threads {
            let _ = handle.join();
        }
        Ok(())
    })?;

    let elapsed_s = shared.last_delivery_us().saturating_sub(send_started_us) as f64 / 1e6;
    let mut report = summarise(scenario, &peers, &results, elapsed_s);
    report.errors = error_rx.try_iter().collect();
    costs::account(scenario, &before, &after, &mut report);
    Ok(report)
}

/// With turn-taking, the microphone of `peer`'s audio sender.
fn voice_of(scenario: &Scenario, kind: MediaKind, peer: &Peer) -> Option<Voice> {
    let talk = scenario.talk.filter(|_| kind == MediaKind::Audio)?;
    let members = scenario.members_of(peer.meeting);
    let schedule = talk.schedule(peer.meeting, scenario.meetings(), members);
    Some(Voice::new(schedule, peer.slot))
}

/// Clones of every socket, to end the run by shutting them down.
fn closers(members: &[Member]) -> anyhow::Result<Vec<TcpStream>> {
    let mut closers = Vec::new();
    for member in members {
        closers.push(member.control_stream().tcp().try_clone()?);
        for (_, stream) in &member.media {
            closers.push(stream.tcp().try_clone()?);
        }
    }
    Ok(closers)
}

/// Reads one member's events until its socket closes: forwards the server's
/// figures (member 0 asks for them) and any error.
fn read_events(
    mut control: common::FrameReader<Socket>,
    stats: Option<mpsc::Sender<ServerStatsReport>>,
    errors: mpsc::Sender<String>,
) {
    while let Ok(Some(frame)) = control.read_frame() {
        if frame.kind() != FrameKind::Control {
            continue;
        }
        match frame.parse_control::<Event>() {
            Ok(Event::ServerStats(report)) => {
                if let Some(stats) = &stats {
                    let _ = stats.send(*report);
                }
            }
            Ok(Event::Error { message }) | Ok(Event::Shutdown { message }) => {
                let _ = errors.send(format!("server: {message}"));
            }
            Ok(_) => {}
            Err(err) => {
                let _ = errors.send(format!("unreadable event: {err}"));
            }
        }
    }
}

/// Waits until every frame expected by the members that keep up arrived, or
/// delivery went quiet. Slow members get no extra time: what they have not
/// read by then counts as not delivered.
fn drain(shared: &Shared, expected: u64) {
    let started = Instant::now();
    let mut last = (shared.delivered(), Instant::now());
    while shared.delivered() < expected && started.elapsed() < DRAIN_MAX {
        std::thread::sleep(Duration::from_millis(5));
        let delivered = shared.delivered();
        if delivered != last.0 {
            last = (delivered, Instant::now());
        } else if last.1.elapsed() > DRAIN_QUIET {
            break;
        }
    }
}

/// Adds up what every sender sent and every receiver counted.
fn summarise(
    scenario: &Scenario,
    peers: &[Peer],
    results: &[MemberResult],
    elapsed_s: f64,
) -> Report {
    let mut report = Report {
        scenario: scenario_echo(scenario),
        elapsed_s,
        ..Report::default()
    };
    let kinds = &scenario.kinds()[..];
    // Who receives what each sender sends: the others of its meeting.
    let receivers_of = |sender: usize, slow: Option<bool>| -> u64 {
        peers
            .iter()
            .enumerate()
            .filter(|&(r, p)| {
                r != sender
                    && p.meeting == peers[sender].meeting
                    && slow.is_none_or(|s| p.slow == s)
            })
            .count() as u64
    };
    let (mut all_sent, mut all_expected, mut all) = (0, 0, Tally::default());
    for &kind in kinds {
        let k = kind;
        let sent: u64 = results.iter().map(|r| r.sent[k].frames).sum();
        let expected: u64 = (0..peers.len())
            .map(|s| results[s].sent[k].frames * receivers_of(s, None))
            .sum();
        let mut tally = Tally::default();
        for result in results {
            tally.merge(&result.received[k]);
            report.window_stalls += result.sent[k].window_stalls;
            if let Some(error) = &result.sent[k].error {
                report.errors.push(error.clone());
            }
        }
        report
            .kinds
            .insert(kind.name(), Figures::new(sent, expected, &tally, elapsed_s));
        all_sent += sent;
        all_expected += expected;
        all.merge(&tally);
    }
    report.figures = Figures::new(all_sent, all_expected, &all, elapsed_s);
    let member_seconds = scenario.total_members() as f64 * elapsed_s;
    if member_seconds > 0.0 {
        report.received_bytes_per_member_s = all.bytes as f64 / member_seconds;
    }
    if scenario.talk.is_some() {
        let mut talk = TalkCounts::default();
        for result in results {
            talk.add(&result.sent[MediaKind::Audio].talk);
        }
        report.talk = Some(talk);
    }
    if scenario.servers.len() > 1 {
        report.routes = Some(Routes::of(&all));
    }
    for result in results {
        for tally in result.received.values() {
            if let Some(reason) = &tally.ended_early {
                report.disconnects += 1;
                report.errors.push(reason.clone());
            }
        }
    }
    if scenario.slow > 0 {
        let class = |slow: bool| {
            let mut tally = Tally::default();
            let (mut sent, mut expected) = (0, 0);
            for (s, result) in results.iter().enumerate() {
                for &kind in kinds {
                    sent += result.sent[kind].frames;
                    expected += result.sent[kind].frames * receivers_of(s, Some(slow));
                }
                if peers[s].slow == slow {
                    for &kind in kinds {
                        tally.merge(&result.received[kind]);
                    }
                }
            }
            Figures::new(sent, expected, &tally, elapsed_s)
        };
        report.slow = Some(class(true));
        report.others = Some(class(false));
    }
    report
}

fn scenario_echo(s: &Scenario) -> std::collections::BTreeMap<&'static str, serde_json::Value> {
    use serde_json::json;
    let mut echo: std::collections::BTreeMap<&'static str, serde_json::Value> = [
        ("meetings", json!(s.meetings())),
        // Null when meetings differ in size (`sizes` says how).
        ("members", json!(s.uniform_size())),
        ("total_members", json!(s.total_members())),
        ("video_fps", json!(s.video_fps)),
        ("video", json!(s.video)),
        ("video_bytes", json!(s.video_bytes)),
        ("audio", json!(s.audio)),
        ("audio_bytes", json!(s.audio_bytes)),
        ("duration_s", json!(s.duration.as_secs_f64())),
        ("window", json!(s.window)),
        ("slow", json!(s.slow)),
        ("servers", json!(s.servers.len())),
    ]
    .into_iter()
    .collect();
    if s.uniform_size().is_none() {
        echo.insert("sizes", json!(mix::describe(&s.sizes)));
    }
    if let Some(talk) = s.talk {
        echo.insert("talkers", json!(talk.talkers));
        echo.insert("turn_s", json!(talk.turn.as_secs_f64()));
    }
    if let Some(every) = s.screen_every {
        echo.insert("screen_every", json!(every));
    }
    echo
}
