//! input X Y TEXT: moves the virtual pointer to (X, Y) on the 1280x720 output,
//! clicks left, then types TEXT (a trailing Return is added).

use std::process::ExitCode;
use std::time::Duration;

use wayland_proto::wlr_input::{BTN_LEFT, WlrInput};

/// Clients bind wl_pointer/wl_keyboard only after the seat's capabilities
/// event for our new devices; a button sent earlier was lost (notes, pitfall 9).
const SETTLE: Duration = Duration::from_millis(300);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (x, y) = match (
        args.first().and_then(|a| a.parse().ok()),
        args.get(1).and_then(|a| a.parse().ok()),
    ) {
        (Some(x), Some(y)) => (x, y),
        _ => {
            eprintln!("usage: input X Y [TEXT]");
            return ExitCode::from(2);
        }
    };
    let text = args.get(2).cloned().unwrap_or_else(|| "Az!".into());
    match run(x, y, &text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("input: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(x: u32, y: u32, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (w, h) = (env_u32("WL_WIDTH", 1280), env_u32("WL_HEIGHT", 720));
    let mut input = WlrInput::open(w, h)?;
    input.move_to(x, y)?;
    input.roundtrip()?;
    std::thread::sleep(SETTLE);
    input.move_to(x + 10, y + 10)?;
    input.click(BTN_LEFT)?;
    input.type_text(&format!("{text}\n"))?;
    std::thread::sleep(Duration::from_millis(200));
    println!(
        "moved to ({}, {}), clicked, typed {text:?} + Return",
        x + 10,
        y + 10
    );
    Ok(())
}

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
