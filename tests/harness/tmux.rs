//! A real terminal for the full-screen view: tmux with a server of its own.
//! Keys go in with `send-keys`, the screen comes out with `capture-pane`
//! (`-e` keeps the colours). Every wait polls the screen against `DEADLINE`.
//!
//! CI installs tmux (`.ci/run`), so there a missing tmux fails the test;
//! elsewhere the test says it is skipped and passes.

use crate::DEADLINE;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket), killed when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// None (and a note) when tmux is missing outside CI; panics in CI.
    pub fn available() -> bool {
        let found = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|out| out.status.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "tmux is not installed, and CI must run the terminal tests (.ci/run installs it)"
            );
            eprintln!("SKIPPED: tmux is not installed (apt-get install tmux runs these tests)");
        }
        found
    }

    /// Runs `command` in a new `width`x`height` terminal.
    pub fn start(command: &str, width: u16, height: u16) -> Tmux {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "meeting-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let tmux = Tmux { socket };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", &width.to_string()])
            .args(["-y", &height.to_string(), command])
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux could not start a session");
        tmux
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        // No user configuration: the test sees tmux's defaults everywhere.
        command.args(["-L", &self.socket, "-f", "/dev/null"]);
        command
    }

    /// Presses keys by tmux name (`Enter`, `C-c`, `j`).
    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .command()
            .arg("send-keys")
            .args(keys)
            .status()
            .expect("tmux runs");
        assert!(status.success(), "send-keys {keys:?} failed");
    }

    /// Types `text` as it is.
    pub fn type_text(&self, text: &str) {
        let status = self
            .command()
            .args(["send-keys", "-l", text])
            .status()
            .expect("tmux runs");
        assert!(status.success(), "send-keys -l {text:?} failed");
    }

    /// Pastes `text` as a terminal does when the program asked for
    /// bracketed paste (`paste-buffer -p`).
    pub fn paste(&self, text: &str) {
        let status = self
            .command()
            .args(["set-buffer", "--", text])
            .status()
            .expect("tmux runs");
        assert!(status.success(), "set-buffer failed");
        let status = self
            .command()
            .args(["paste-buffer", "-p"])
            .status()
            .expect("tmux runs");
        assert!(status.success(), "paste-buffer failed");
    }

    /// The screen; with `colours`, SGR escapes included.
    pub fn screen(&self, colours: bool) -> String {
        let mut command = self.command();
        command.args(["capture-pane", "-p"]);
        if colours {
            command.arg("-e");
        }
        let out = command.output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `pred` holds; returns that screen.
    pub fn wait_for(&self, what: &str, colours: bool, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen(colours);
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < end,
                "the screen never showed {what} within {DEADLINE:?}; last screen:\n{}",
                self.screen(false)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}
