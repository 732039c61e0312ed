//! A window on an X display that prints the input it receives, one line per
//! event, so that remote control can be checked from outside the process (an
//! end-to-end test reads its stdout) or by a person watching a terminal.
//!
//! ```text
//! x11_probe [--display :N] [--geometry WxH+X+Y] [--pattern] [--seconds N]
//! ```
//!
//! It prints `ready <window id>` once the window is mapped, focused (and
//! painted with `--pattern`: eight colour bars, see `x11::probe`), then lines
//! such as `key 0x61 down`, `button 1 up 10 20`, `motion 10 20`, with
//! positions relative to the window. It exits after `--seconds` (default: runs
//! until killed).

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use meeting_screen::x11::probe::ProbeWindow;
use meeting_screen::x11::{Region, X11Source};

struct Options {
    display: Option<String>,
    area: Region,
    pattern: bool,
    run_for: Option<Duration>,
}

const USAGE: &str =
    "usage: x11_probe [--display :N] [--geometry WxH+X+Y] [--pattern] [--seconds N]";

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        display: None,
        area: Region {
            x: 0,
            y: 0,
            width: 640,
            height: 480,
        },
        pattern: false,
        run_for: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--display" => options.display = Some(value()?),
            "--geometry" => {
                // The spec parser already knows WxH+X+Y.
                let spec = format!("x11@{}", value()?);
                let source = X11Source::parse(&spec).map_err(|error| error.to_string())?;
                if let Some(area) = source.region {
                    options.area = area;
                }
            }
            "--pattern" => options.pattern = true,
            "--seconds" => {
                let seconds: f64 = value()?
                    .parse()
                    .map_err(|_| "--seconds needs a number".to_owned())?;
                options.run_for = Some(Duration::from_secs_f64(seconds.max(0.0)));
            }
            "--help" | "-h" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let mut probe =
        match ProbeWindow::open(options.display.as_deref(), options.area, options.pattern) {
            Ok(probe) => probe,
            Err(error) => {
                eprintln!("x11_probe: {error}");
                return ExitCode::FAILURE;
            }
        };
    let deadline = options.run_for.map(|run_for| Instant::now() + run_for);
    let mut stdout = std::io::stdout().lock();
    // Flushed line by line: whoever reads this is waiting for each event.
    if writeln!(stdout, "ready {:#x}", probe.window())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::SUCCESS;
    }
    loop {
        let wait = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        if wait.is_zero() {
            return ExitCode::SUCCESS;
        }
        match probe.next_event(wait) {
            Ok(Some(event)) => {
                if writeln!(stdout, "{event}")
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    // The reader went away.
                    return ExitCode::SUCCESS;
                }
            }
            Ok(None) => {}
            Err(error) => {
                eprintln!("x11_probe: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
}
