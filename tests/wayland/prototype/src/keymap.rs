//! A generated XKB keymap for the virtual keyboard, without libxkbcommon.
//!
//! zwp_virtual_keyboard_v1 sends keycodes, not keysyms, so we make up a keymap
//! in which every keysym we need has its own keycode (9, 10, ...) at level 1.
//! No modifiers are needed: 'A' is its own keysym, not Shift+a. When an unseen
//! keysym arrives the table grows and the keymap is sent again (as wtype does).
//! The compositor's xkbcommon compiles it; `include "complete"` resolves the
//! types/compat sections from xkeyboard-config, which every desktop has.

/// First keycode we hand out (xkb keycodes start at 8; evdev code = keycode - 8).
const FIRST_KEYCODE: u32 = 9;
/// Highest xkb keycode a keymap may use.
const MAX_KEYCODE: u32 = 255;

#[derive(Default)]
pub struct Keymap {
    keysyms: Vec<u32>,
}

impl Keymap {
    /// The evdev code for `keysym`, and whether the keymap changed (must be re-sent).
    /// None when all keycodes are used.
    pub fn code_for(&mut self, keysym: u32) -> Option<(u32, bool)> {
        if let Some(i) = self.keysyms.iter().position(|&k| k == keysym) {
            return Some((FIRST_KEYCODE + i as u32 - 8, false));
        }
        if FIRST_KEYCODE + self.keysyms.len() as u32 > MAX_KEYCODE {
            return None;
        }
        self.keysyms.push(keysym);
        Some((FIRST_KEYCODE + self.keysyms.len() as u32 - 1 - 8, true))
    }

    /// The keymap text including the terminating NUL the protocol wants.
    pub fn to_xkb(&self) -> Vec<u8> {
        let max = (FIRST_KEYCODE + self.keysyms.len() as u32).max(FIRST_KEYCODE + 1);
        let mut s =
            format!("xkb_keymap {{\nxkb_keycodes \"m\" {{\n minimum = 8;\n maximum = {max};\n");
        for i in 0..self.keysyms.len() {
            s += &format!(" <K{i}> = {};\n", FIRST_KEYCODE + i as u32);
        }
        s += "};\nxkb_types \"m\" { include \"complete\" };\nxkb_compatibility \"m\" { include \"complete\" };\n";
        s += "xkb_symbols \"m\" {\n";
        for (i, k) in self.keysyms.iter().enumerate() {
            // keysyms as hex numbers: no name table needed
            s += &format!(" key <K{i}> {{[ 0x{k:x} ]}};\n");
        }
        s += "};\n};\n";
        let mut bytes = s.into_bytes();
        bytes.push(0);
        bytes
    }
}

/// The X keysym for a character: Latin-1 printable characters are their own
/// code, control characters we type map to function keysyms, everything else
/// uses the Unicode keysym range (0x01000000 + code point).
pub fn keysym_for_char(c: char) -> u32 {
    match c {
        '\n' | '\r' => 0xff0d, // Return
        '\t' => 0xff09,        // Tab
        '\u{8}' => 0xff08,     // BackSpace
        ' '..='~' | '\u{a0}'..='\u{ff}' => c as u32,
        _ => 0x0100_0000 + c as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keycodes_grow_and_repeat() {
        let mut k = Keymap::default();
        assert_eq!(k.code_for(0x41), Some((1, true)));
        assert_eq!(k.code_for(0x7a), Some((2, true)));
        assert_eq!(k.code_for(0x41), Some((1, false)));
        let text = String::from_utf8(k.to_xkb()).unwrap();
        assert!(
            text.contains("<K1> = 10;")
                && text.contains("key <K1> {[ 0x7a ]};")
                && text.ends_with("};\n\0")
        );
        assert_eq!(keysym_for_char('€'), 0x010020ac);
    }
}
