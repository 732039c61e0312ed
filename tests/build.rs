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

fn main() {
    println!("cargo::rerun-if-env-changed=MEETING_CLIENT_FEATURES");
    println!("cargo::rerun-if-env-changed=PULSE_SERVER");
    for cfg in ["client_opus", "client_audio", "pulse_server"] {
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
}
