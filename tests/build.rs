//! Tells the end-to-end tests, at compile time, what the client they run is
//! built with, so a test that needs more than the default build is marked
//! ignored, with the reason, in the summary `cargo test` prints, instead of
//! passing without testing anything:
//!
//! - `client_opus`: `MEETING_CLIENT_FEATURES` has `opus` (or `devices`);
//!   the harness builds the client with those features.
//! - `client_audio`: it has `audio` (or `devices`).
//! - `pulse_server`: `PULSE_SERVER` names a PulseAudio server (.ci/run
//!   starts one on a null sink).
//! - `nats_server`: `nats-server` (Debian package nats-server) is on the
//!   PATH, for the cluster tests; with MEETING_CLUSTER_TESTS=required (CI)
//!   its absence fails the build instead.

fn main() {
    println!("cargo::rerun-if-env-changed=MEETING_CLIENT_FEATURES");
    println!("cargo::rerun-if-env-changed=PULSE_SERVER");
    println!("cargo::rerun-if-env-changed=MEETING_CLUSTER_TESTS");
    println!("cargo::rerun-if-env-changed=PATH");
    for cfg in ["client_opus", "client_audio", "pulse_server", "nats_server"] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    let features = std::env::var("MEETING_CLIENT_FEATURES").unwrap_or_default();
    // As the harness's `client_features` reads it.
    let has = |feature: &str| features.contains(feature) || features.contains("devices");
    if has("opus") {
        println!("cargo::rustc-cfg=client_opus");
    }
    if has("audio") {
        println!("cargo::rustc-cfg=client_audio");
    }
    if std::env::var_os("PULSE_SERVER").is_some_and(|s| !s.is_empty()) {
        println!("cargo::rustc-cfg=pulse_server");
    }
    if on_path("nats-server") {
        println!("cargo::rustc-cfg=nats_server");
    } else if std::env::var("MEETING_CLUSTER_TESTS").is_ok_and(|v| v == "required") {
        panic!("MEETING_CLUSTER_TESTS=required, but nats-server is not on the PATH");
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
