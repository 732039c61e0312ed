//! What the processes of a run spent: the servers' and nats-server's CPU and
//! memory from /proc, and each server's drops and backbone traffic by its own
//! count (`server_stats`), sampled before and after the sending time.

use crate::procfs;
use crate::report::{BackboneTraffic, ProcessCost, Report, ServerFigures};
use crate::scenario::Scenario;
use crate::spread;
use common::{ClusterReport, ServerStatsReport};
use std::time::Instant;

/// What the run's processes had spent at one moment.
#[derive(Default)]
pub struct Sample {
    /// When (None: never taken).
    at: Option<Instant>,
    /// Per server: its own figures (None: no member on it, or no answer).
    stats: Vec<Option<ServerStatsReport>>,
    /// Per `--server-pid`.
    server_cpu_s: Vec<Option<f64>>,
    nats_cpu_s: Option<f64>,
    own_cpu_s: f64,
}

impl Sample {
    pub fn take(scenario: &Scenario, stats: Vec<Option<ServerStatsReport>>) -> Sample {
        let cpu = |pid: u32| procfs::cpu_seconds(pid).ok();
        Sample {
            at: Some(Instant::now()),
            stats,
            server_cpu_s: scenario.server_pids.iter().map(|&pid| cpu(pid)).collect(),
            nats_cpu_s: scenario.nats_pid.and_then(cpu),
            own_cpu_s: procfs::own_cpu_seconds(),
        }
    }

    fn stats_of(&self, server: usize) -> Option<&ServerStatsReport> {
        self.stats.get(server).and_then(Option::as_ref)
    }
}

/// Fills in what the processes spent between `before` and `after`, per
/// server and in total, against what the report says was delivered.
pub fn account(scenario: &Scenario, before: &Sample, after: &Sample, report: &mut Report) {
    let members = spread::members_per_server(&scenario.sizes, scenario.servers.len());
    let delivered = report.figures.clone();
    report.per_server = scenario
        .servers
        .iter()
        .enumerate()
        .map(|(i, address)| {
            let (b, a) = (before.stats_of(i), after.stats_of(i));
            let cpu = |sample: &Sample| sample.server_cpu_s.get(i).copied().flatten();
            ServerFigures {
                address: address.to_string(),
                members: members.get(i).copied().unwrap_or(0),
                dropped: b.zip(a).map(|(b, a)| dropped(a).saturating_sub(dropped(b))),
                cost: cpu(before).zip(cpu(after)).map(|(b, a)| {
                    let peak = scenario
                        .server_pids
                        .get(i)
                        .and_then(|&pid| procfs::peak_rss_kib(pid));
                    ProcessCost::new(a - b, peak, &delivered)
                }),
                backbone: b
                    .and_then(|b| b.cluster.as_ref())
                    .zip(a.and_then(|a| a.cluster.as_ref()))
                    .map(|(b, a)| backbone(b, a)),
            }
        })
        .collect();

    // The totals keep the fields of a one-server run: all the servers' or
    // none, so a missing one never passes for a cheap run.
    // A server with no member on it was not asked, and dropped nothing.
    report.server_dropped = report
        .per_server
        .iter()
        .filter(|s| s.members > 0)
        .map(|s| s.dropped)
        .sum();
    let costs: Option<Vec<&ProcessCost>> =
        report.per_server.iter().map(|s| s.cost.as_ref()).collect();
    if let Some(costs) = costs.filter(|c| !c.is_empty()) {
        let cpu = costs.iter().map(|c| c.cpu_s).sum();
        let peak = costs.iter().map(|c| c.peak_rss_kib).sum();
        let total = ProcessCost::new(cpu, peak, &delivered);
        report.server_cpu_s = Some(total.cpu_s);
        report.server_cpu_s_per_gb = Some(total.cpu_s_per_gb);
        report.server_cpu_us_per_frame = Some(total.cpu_us_per_frame);
        report.server_peak_rss_kib = total.peak_rss_kib;
        let measured_s = before
            .at
            .zip(after.at)
            .map_or(0.0, |(b, a)| a.saturating_duration_since(b).as_secs_f64());
        report.server_cpu_s_per_member_minute =
            per_member_minute(cpu, scenario.total_members(), measured_s);
    }
    report.nats = before.nats_cpu_s.zip(after.nats_cpu_s).map(|(b, a)| {
        let peak = scenario.nats_pid.and_then(procfs::peak_rss_kib);
        ProcessCost::new(a - b, peak, &delivered)
    });
    report.loadgen_cpu_s = after.own_cpu_s - before.own_cpu_s;
}

/// `cpu_s` spent over `seconds` on `members`, per member and minute.
fn per_member_minute(cpu_s: f64, members: usize, seconds: f64) -> Option<f64> {
    let member_minutes = members as f64 * seconds / 60.0;
    (member_minutes > 0.0).then(|| cpu_s / member_minutes)
}

/// Media frames a server dropped since it started, all kinds together.
fn dropped(stats: &ServerStatsReport) -> u64 {
    stats.media.values().map(|t| t.dropped).sum()
}

fn backbone(before: &ClusterReport, after: &ClusterReport) -> BackboneTraffic {
    let delta = |f: fn(&ClusterReport) -> u64| f(after).saturating_sub(f(before));
    BackboneTraffic {
        messages_out: delta(|c| c.messages_out),
        bytes_out: delta(|c| c.bytes_out),
        messages_in: delta(|c| c.messages_in),
        bytes_in: delta(|c| c.bytes_in),
        dropped_out: delta(|c| c.dropped_out),
        slow_consumer_events: delta(|c| c.slow_consumer_events),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_shared_out_per_member_and_minute() {
        // 16 members for 30 s are 8 member-minutes: 2 s of CPU is 0.25 s each.
        assert_eq!(per_member_minute(2.0, 16, 30.0), Some(0.25));
        assert_eq!(per_member_minute(2.0, 16, 0.0), None);
    }
}
