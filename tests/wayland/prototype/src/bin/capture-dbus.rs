//! The capture CLI on libdbus (feature `capture-dbus`); see src/capture_cli.rs.
fn main() -> std::process::ExitCode {
    wayland_proto::capture_cli::main()
}
