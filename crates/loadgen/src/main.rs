//! `loadgen`: how many people can this server hold, and at what delay?
//!
//! It plays M meetings of N members on real sockets (a control, a video and
//! maybe an audio socket each, speaking the real protocol), sends frames that
//! carry their sequence number and send time, receives everything, and reports
//! delivery, duplicates, order, throughput, latency percentiles and, given the
//! server's pid, the server's CPU time per delivered gigabyte. Given several
//! servers of a cluster, it spreads each meeting's members over them.
//!
//! `scenario` is the validated command line (with `mix`, meetings of several
//! sizes), `spread` who connects to which server, `session` the handshakes
//! and meeting setup (at the pace `pacing` sets), `traffic` the sending and
//! receiving loops (`talk`: who talks when; `payload`: how big each frame
//! is), `tally` what one receiver saw, `report` the figures, and `procfs`
//! what /proc says of the servers. Every run stops on its own after
//! `--duration` plus a bounded drain.

mod costs;
mod mix;
mod pacing;
mod payload;
mod procfs;
mod report;
mod run;
mod scenario;
mod session;
mod spread;
mod talk;
mod tally;
mod traffic;

use clap::{CommandFactory, Parser};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = scenario::Args::parse();
    if args.docs.requested() {
        return match args.docs.print(scenario::Args::command(), &[]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("loadgen: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let json = args.json;
    let scenario = match scenario::Scenario::from_args(args) {
        Ok(scenario) => scenario,
        Err(err) => {
            eprintln!("loadgen: {err:#}");
            return ExitCode::from(2);
        }
    };
    match run::run(&scenario) {
        Ok(report) => {
            if json {
                match serde_json::to_string(&report) {
                    Ok(text) => println!("{text}"),
                    Err(err) => {
                        eprintln!("loadgen: could not write the report: {err}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", report::table(&scenario, &report));
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("loadgen: {err:#}");
            ExitCode::FAILURE
        }
    }
}
