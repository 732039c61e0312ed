//! Owns the terminal's modes: raw input, the alternate screen, a hidden
//! cursor, bracketed paste, and mouse reporting while in control mode. `TerminalGuard` sets them and puts them back when it is dropped;
//! the panic hook and the second-Ctrl-C exit put them back too, because those
//! paths never run the guard's drop. Restoring twice is harmless (a flag says
//! whether there is anything to restore), and nothing is written to stdout
//! unless the full-screen view really started, so `--json` output stays clean.

use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::{cursor, execute, terminal};
use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// True while the terminal is in the view's modes.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back as the shell had it, if the view changed it.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = terminal::disable_raw_mode();
    let mut out = std::io::stdout();
    // Mouse reporting left on would fill the shell with escape codes at every
    // click; turning it off when it is not on does nothing.
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.flush();
}

/// Turns mouse reporting on (control mode: clicks and the wheel go to the
/// remote screen) or off (the terminal's own text selection works again).
pub fn set_mouse_capture(out: &mut impl Write, on: bool) -> std::io::Result<()> {
    if on {
        execute!(out, EnableMouseCapture)
    } else {
        execute!(out, DisableMouseCapture)
    }
}

/// Rings the terminal's bell.
pub fn bell(out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(b"\x07")?;
    out.flush()
}

/// Sets the window title (OSC 2). `title` must be cleaned already (no
/// control characters: a BEL or ESC in it would end the sequence early).
pub fn set_title(out: &mut impl Write, title: &str) -> std::io::Result<()> {
    debug_assert!(!title.chars().any(char::is_control));
    write!(out, "\x1b]2;{title}\x07")?;
    out.flush()
}

/// Saves (`true`) or restores the terminal's own title (xterm's title
/// stack; terminals without one ignore it), so the view's title goes away
/// with the view.
pub fn keep_title(out: &mut impl Write, save: bool) -> std::io::Result<()> {
    out.write_all(if save { b"\x1b[22;0t" } else { b"\x1b[23;0t" })?;
    out.flush()
}

/// Puts `text` on the clipboard with OSC 52 (`ESC ] 52 ; c ; BASE64 BEL`):
/// terminals that allow it (and tmux with `set-clipboard on`) copy it;
/// others ignore the sequence.
pub fn copy_to_clipboard(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()))?;
    out.flush()
}

/// Standard base64 with padding (RFC 4648): all OSC 52 needs.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub struct TerminalGuard(());

impl TerminalGuard {
    /// Enters raw mode and the alternate screen.
    pub fn enter() -> std::io::Result<TerminalGuard> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on a failure must still restore: the guard exists already.
        let guard = TerminalGuard(());
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            // A paste arrives as one event (text for the input line), not
            // as keys that would run shortcuts and send each line.
            EnableBracketedPaste,
            cursor::Hide
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the terminal before the panic message is printed, so the message
/// lands on the normal screen where the user can read it.
fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_the_text_in_base64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"k7m-q2x"), "azdtLXEyeA==");
        let mut out = Vec::new();
        copy_to_clipboard(&mut out, "k7m-q2x").expect("writes");
        assert_eq!(out, b"\x1b]52;c;azdtLXEyeA==\x07");
    }
}
