//! capture [--portal zbus|dbus] [--frames N] [--out DIR] [--token-file FILE] [--check]
//!
//! Shares a monitor through the ScreenCast portal, writes N frames as PPM
//! (the first one, then one per screen change), prints geometry, format,
//! time from Start to the first frame and the per-frame copy cost.
//! With --token-file, reads the restore token from FILE if present and writes
//! the new one back, so the second run skips the desktop's chooser.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::frame::{check_quadrants, write_ppm};
use crate::screen::{PortalLib, WaylandScreen};

struct Args {
    portal: PortalLib,
    frames: usize,
    out: PathBuf,
    token_file: Option<PathBuf>,
    check: bool,
    change_timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        portal: default_portal(),
        frames: 1,
        out: PathBuf::from("."),
        token_file: None,
        check: false,
        change_timeout: Duration::from_secs(5),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--portal" => args.portal = parse_portal(&value()?)?,
            "--frames" => args.frames = value()?.parse().map_err(|e| format!("--frames: {e}"))?,
            "--out" => args.out = value()?.into(),
            "--token-file" => args.token_file = Some(value()?.into()),
            "--check" => args.check = true,
            "--change-timeout" => {
                args.change_timeout =
                    Duration::from_secs_f64(value()?.parse().map_err(|e| format!("{e}"))?)
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

pub fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capture: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let token = match &args.token_file {
        Some(f) => std::fs::read_to_string(f)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        None => None,
    };
    println!("portal via {:?}", args.portal);
    println!("restore token in: {}", token.as_deref().unwrap_or("(none)"));
    let mut screen =
        WaylandScreen::open(args.portal, token.as_deref()).map_err(|e| e.to_string())?;
    println!(
        "node {}, restore token out: {}",
        screen.node_id,
        screen.restore_token.as_deref().unwrap_or("(none)")
    );
    if let (Some(f), Some(t)) = (&args.token_file, &screen.restore_token) {
        std::fs::write(f, t).map_err(|e| format!("{}: {e}", f.display()))?;
    }

    let mut copy_ms = Vec::new();
    let mut result = Ok(());
    for i in 0..args.frames {
        let frame = if i == 0 {
            let f = screen.capture()?;
            println!(
                "first frame {:.1} ms after Start",
                screen.started_at.elapsed().as_secs_f64() * 1e3
            );
            f
        } else {
            match screen.next_change(args.change_timeout)? {
                Some(f) => f,
                None => {
                    println!(
                        "no screen change within {:?}: stopping after {i} frame(s)",
                        args.change_timeout
                    );
                    break;
                }
            }
        };
        let path = args.out.join(format!("frame-{i:03}.ppm"));
        write_ppm(&frame, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        copy_ms.push(frame.copy_time.as_secs_f64() * 1e3);
        println!(
            "frame {i}: {}x{} stride {} format {:?}, copy+convert {:.2} ms -> {}",
            frame.width,
            frame.height,
            frame.source_stride,
            frame.source_format,
            frame.copy_time.as_secs_f64() * 1e3,
            path.display()
        );
        if args.check {
            match check_quadrants(&frame) {
                Ok(()) => println!("frame {i}: quadrants OK (TL red, TR green, BL blue, BR white)"),
                // Only the first frame must show the pattern: later ones show whatever
                // the redraw put on screen (sway paints grey while swaybg restarts).
                Err(e) if i > 0 => {
                    println!("frame {i}: not the test pattern (screen changed): {e}")
                }
                Err(e) => {
                    println!("frame {i}: quadrants MISMATCH: {e}");
                    result = Err(format!("frame {i} does not show the test pattern"));
                }
            }
        }
    }
    if !copy_ms.is_empty() {
        let mean = copy_ms.iter().sum::<f64>() / copy_ms.len() as f64;
        println!(
            "copy+convert: {} frame(s), mean {mean:.2} ms",
            copy_ms.len()
        );
    }
    screen.close().map_err(|e| e.to_string())?;
    result
}

fn default_portal() -> PortalLib {
    #[cfg(feature = "capture")]
    return PortalLib::Zbus;
    #[cfg(not(feature = "capture"))]
    return PortalLib::Dbus;
}

fn parse_portal(name: &str) -> Result<PortalLib, String> {
    match name {
        #[cfg(feature = "capture")]
        "zbus" => Ok(PortalLib::Zbus),
        #[cfg(feature = "capture-dbus")]
        "dbus" => Ok(PortalLib::Dbus),
        other => Err(format!(
            "--portal {other}: not built in (features capture = zbus, capture-dbus = dbus)"
        )),
    }
}
