//! The capture CLI on zbus (feature `capture`); see src/capture_cli.rs.
fn main() -> std::process::ExitCode {
    wayland_proto::capture_cli::main()
}
