//! The core keyboard mapping (keycode → keysyms) and the two questions asked of
//! it: which keysym does a keycode type, with or without Shift (the probe's
//! question), and which keycode, with or without Shift, types a keysym (the
//! injector's question). Only the first group's two levels are used: they are
//! what Shift alone reaches, and anything else (AltGr levels, other groups) is
//! typed through a spare keycode bound to the keysym instead, which is simpler
//! and works on every layout.
//!
//! The rules are the core protocol's (X11 protocol, "Keyboards"): a level-2
//! NoSymbol means "same as level 1", except for a letter, whose level 2 is its
//! upper case.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::ConnectionExt as _;

use super::X11Error;
use super::error::Doing;

/// `NoSymbol`: a keycode's unused entries.
pub const NO_SYMBOL: u32 = 0;
pub const XK_SHIFT_L: u32 = 0xffe1;
pub const XK_SHIFT_R: u32 = 0xffe2;
/// Keysyms for characters outside Latin-1 are this plus the code point.
const UNICODE_KEYSYM_BASE: u32 = 0x0100_0000;

/// Which Shift state makes a keycode type a given keysym.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftLevel {
    /// Only without Shift ('a').
    Unshifted,
    /// Only with Shift ('A', '!').
    Shifted,
    /// With or without (Return, Shift_L): keep whatever Shift the user holds.
    Either,
}

/// Where a keysym is on the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPlace {
    pub keycode: u8,
    pub level: ShiftLevel,
}

/// A copy of the server's core keyboard mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyboardMap {
    min_keycode: u8,
    keysyms_per_keycode: u8,
    /// `keysyms_per_keycode` entries for each keycode from `min_keycode` on.
    keysyms: Vec<u32>,
}

impl KeyboardMap {
    /// A map from a GetKeyboardMapping reply's fields.
    pub fn new(min_keycode: u8, keysyms_per_keycode: u8, keysyms: Vec<u32>) -> KeyboardMap {
        KeyboardMap {
            min_keycode,
            keysyms_per_keycode,
            keysyms,
        }
    }

    /// Reads the server's current mapping.
    pub fn fetch(conn: &impl Connection, display: &str) -> Result<KeyboardMap, X11Error> {
        let setup = conn.setup();
        let (min_keycode, max_keycode) = (setup.min_keycode, setup.max_keycode);
        let count = max_keycode.saturating_sub(min_keycode).saturating_add(1);
        let reply = conn
            .get_keyboard_mapping(min_keycode, count)
            .doing(display, "reading the keyboard mapping")?
            .reply()
            .doing(display, "reading the keyboard mapping")?;
        Ok(KeyboardMap::new(
            min_keycode,
            reply.keysyms_per_keycode,
            reply.keysyms,
        ))
    }

    pub fn keysyms_per_keycode(&self) -> u8 {
        self.keysyms_per_keycode
    }

    /// All keycodes the map describes.
    pub fn keycodes(&self) -> impl Iterator<Item = u8> + '_ {
        let per = usize::from(self.keysyms_per_keycode.max(1));
        (0..self.keysyms.len() / per)
            .filter_map(|index| u8::try_from(usize::from(self.min_keycode) + index).ok())
    }

    /// The raw entries of `keycode` (empty if the map has none).
    pub fn entries(&self, keycode: u8) -> &[u32] {
        let per = usize::from(self.keysyms_per_keycode);
        let Some(index) = keycode.checked_sub(self.min_keycode) else {
            return &[];
        };
        let start = usize::from(index) * per;
        self.keysyms.get(start..start + per).unwrap_or(&[])
    }

    /// The keysym `keycode` types with Shift up or down (`NO_SYMBOL` if none).
    pub fn keysym(&self, keycode: u8, shifted: bool) -> u32 {
        let entries = self.entries(keycode);
        let first = entries.first().copied().unwrap_or(NO_SYMBOL);
        let second = entries.get(1).copied().unwrap_or(NO_SYMBOL);
        let (unshifted, shifted_keysym) = if second == NO_SYMBOL {
            let (lower, upper) = case_pair(first);
            if lower != upper {
                (lower, upper)
            } else {
                (first, first)
            }
        } else {
            (first, second)
        };
        if shifted { shifted_keysym } else { unshifted }
    }

    /// The keycode and Shift state that type `keysym`, preferring a keycode
    /// that needs no Shift. `None` if the first group's levels lack it.
    pub fn find(&self, keysym: u32) -> Option<KeyPlace> {
        if keysym == NO_SYMBOL {
            return None;
        }
        let mut shifted_place = None;
        for keycode in self.keycodes() {
            let unshifted = self.keysym(keycode, false) == keysym;
            let shifted = self.keysym(keycode, true) == keysym;
            match (unshifted, shifted) {
                (true, true) => {
                    return Some(KeyPlace {
                        keycode,
                        level: ShiftLevel::Either,
                    });
                }
                (true, false) => {
                    return Some(KeyPlace {
                        keycode,
                        level: ShiftLevel::Unshifted,
                    });
                }
                (false, true) if shifted_place.is_none() => {
                    shifted_place = Some(KeyPlace {
                        keycode,
                        level: ShiftLevel::Shifted,
                    });
                }
                _ => {}
            }
        }
        shifted_place
    }

    /// Keycodes with no keysym at all: free to bind to keysyms the layout lacks.
    pub fn unused_keycodes(&self) -> Vec<u8> {
        self.keycodes()
            .filter(|&keycode| self.entries(keycode).iter().all(|&k| k == NO_SYMBOL))
            .collect()
    }

    /// Records that `keycode` now has `entries` (after ChangeKeyboardMapping),
    /// so lookups agree with the server before its MappingNotify arrives.
    pub fn set_entries(&mut self, keycode: u8, entries: &[u32]) {
        let per = usize::from(self.keysyms_per_keycode);
        let Some(index) = keycode.checked_sub(self.min_keycode) else {
            return;
        };
        let start = usize::from(index) * per;
        if let Some(slot) = self.keysyms.get_mut(start..start + per) {
            for (position, entry) in slot.iter_mut().enumerate() {
                *entry = entries.get(position).copied().unwrap_or(NO_SYMBOL);
            }
        }
    }
}

/// The (lower, upper) case forms of a keysym, or (k, k) if it has no case.
/// Covers Latin-1 and Unicode keysyms, which is what the controller sends;
/// legacy keysym blocks (Latin-2, Cyrillic, ...) are taken as caseless.
pub fn case_pair(keysym: u32) -> (u32, u32) {
    match keysym {
        0x41..=0x5a => (keysym + 0x20, keysym),
        0x61..=0x7a => (keysym, keysym - 0x20),
        0xc0..=0xde if keysym != 0xd7 => (keysym + 0x20, keysym),
        0xe0..=0xfe if keysym != 0xf7 => (keysym, keysym - 0x20),
        _ if keysym & 0xff00_0000 == UNICODE_KEYSYM_BASE => {
            let Some(character) = char::from_u32(keysym - UNICODE_KEYSYM_BASE) else {
                return (keysym, keysym);
            };
            let as_keysym = |c: char| UNICODE_KEYSYM_BASE + c as u32;
            (
                single_char(character.to_lowercase()).map_or(keysym, as_keysym),
                single_char(character.to_uppercase()).map_or(keysym, as_keysym),
            )
        }
        _ => (keysym, keysym),
    }
}

/// The one character of a case mapping, or `None` when it maps to several
/// ('ß' to "SS"), which no single keysym can express.
fn single_char(mut chars: impl Iterator<Item = char>) -> Option<char> {
    match (chars.next(), chars.next()) {
        (Some(mapped), None) => Some(mapped),
        _ => None,
    }
}

/// The keysym for a character as the controller sends it: Latin-1 as itself,
/// anything else `0x0100_0000 + code point`.
pub fn keysym_for_char(character: char) -> u32 {
    let code = character as u32;
    if (0x20..=0x7e).contains(&code) || (0xa0..=0xff).contains(&code) {
        code
    } else {
        UNICODE_KEYSYM_BASE + code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XK_RETURN: u32 = 0xff0d;

    /// Keycodes 8..=12: 'a' (a, A), '1' (1, !), Return, Shift_L, unused.
    fn small_map() -> KeyboardMap {
        KeyboardMap::new(
            8,
            2,
            vec![
                0x61, 0x41, //
                0x31, 0x21, //
                XK_RETURN, NO_SYMBOL, //
                XK_SHIFT_L, NO_SYMBOL, //
                NO_SYMBOL, NO_SYMBOL,
            ],
        )
    }

    #[test]
    fn finds_keycode_and_shift() {
        let map = small_map();
        let place = |keysym| map.find(keysym).map(|p| (p.keycode, p.level));
        assert_eq!(place(0x61), Some((8, ShiftLevel::Unshifted)));
        assert_eq!(place(0x41), Some((8, ShiftLevel::Shifted)));
        assert_eq!(place(0x21), Some((9, ShiftLevel::Shifted)));
        assert_eq!(place(XK_RETURN), Some((10, ShiftLevel::Either)));
        assert_eq!(place(0xe9), None);
        assert_eq!(place(NO_SYMBOL), None);
    }

    #[test]
    fn a_lone_letter_has_its_upper_case_shifted() {
        let map = KeyboardMap::new(8, 1, vec![0x62, 0xe9]);
        assert_eq!(map.keysym(8, true), 0x42);
        assert_eq!(map.keysym(9, true), 0xc9);
        assert_eq!(map.find(0x42).map(|p| p.level), Some(ShiftLevel::Shifted));
    }

    #[test]
    fn unused_keycodes_and_rebinding() {
        let mut map = small_map();
        assert_eq!(map.unused_keycodes(), vec![12]);
        map.set_entries(12, &[0xe9, 0xe9]);
        assert!(map.unused_keycodes().is_empty());
        assert_eq!(map.find(0xe9).map(|p| p.keycode), Some(12));
        assert_eq!(map.keysym(200, false), NO_SYMBOL);
        assert_eq!(map.keysym(3, false), NO_SYMBOL);
    }

    #[test]
    fn case_of_unicode_keysyms() {
        let cyrillic_small_de = keysym_for_char('д');
        let cyrillic_capital_de = keysym_for_char('Д');
        assert_eq!(
            case_pair(cyrillic_small_de),
            (cyrillic_small_de, cyrillic_capital_de)
        );
        assert_eq!(keysym_for_char('€'), 0x0100_20ac);
        assert_eq!(case_pair(0x0100_20ac), (0x0100_20ac, 0x0100_20ac));
        assert_eq!(keysym_for_char('é'), 0xe9);
        assert_eq!(case_pair(0xf7), (0xf7, 0xf7));
    }
}
