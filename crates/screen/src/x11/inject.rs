//! A remote controller's input, replayed on the shared display through XTEST.
//!
//! The controller sends keysyms (what it typed), not keycodes (which key on
//! the owner's keyboard), because only the owner's side knows its layout. So
//! each key press is looked up in the current keyboard mapping: a keysym on
//! the first level is pressed as is, one on the Shift level is pressed with
//! Shift held just for that press, and one no key produces ('é' on a US map,
//! '€', Cyrillic) is bound to a spare keycode first. Spare bindings are kept
//! (a few, least recently used reused first) rather than undone after the key:
//! the receiving application re-reads the mapping when it gets MappingNotify,
//! which may be after we would have undone it. They are undone on drop.
//!
//! Pointer coordinates are relative to the shared area, since that is all the
//! controller sees; they are clamped into it so a controller cannot reach
//! outside what is shared.
//!
//! Every event is flushed at once: remote control is latency-bound, and events
//! are few.

use std::collections::VecDeque;

use common::InputEvent;
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, ConnectionExt as _, KEY_PRESS_EVENT,
    KEY_RELEASE_EVENT, MOTION_NOTIFY_EVENT, Mapping, Window,
};
use x11rb::protocol::xtest::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;

use super::error::Doing;
use super::keymap::{KeyboardMap, NO_SYMBOL, ShiftLevel, XK_SHIFT_L, XK_SHIFT_R};
use super::{Region, X11Error};

/// How many spare keycodes may be bound to keysyms the layout lacks at once.
/// Enough for a sentence in another script; few enough that a crash (no
/// drop) leaves little behind in the owner's mapping.
const MAX_SCRATCH_BINDINGS: usize = 16;

/// Replays input events on one X display.
pub struct X11Injector {
    conn: RustConnection,
    display: String,
    root: Window,
    area: Region,
    keymap: KeyboardMap,
    scratch: ScratchKeycodes,
    /// Keys the controller holds down, by keysym, with the keycode pressed:
    /// a release must lift the same key even if the mapping changed since.
    held_keys: Vec<(u32, u8)>,
    held_buttons: Vec<u8>,
}

impl X11Injector {
    /// Connects to `display` (`None`: `$DISPLAY`) for a share of `area`
    /// (usually `X11Capture::area`): pointer positions are relative to it.
    pub fn open(display: Option<&str>, area: Region) -> Result<X11Injector, X11Error> {
        let display = super::display_or_default(display)?;
        let (conn, screen_number) = super::connect(&display)?;
        super::require_extension(&conn, &display, xtest::X11_EXTENSION_NAME, "remote control")?;
        // XTEST needs its version asked before use on some servers.
        conn.xtest_get_version(2, 2)
            .doing(&display, "asking for the XTEST version")?
            .reply()
            .doing(&display, "asking for the XTEST version")?;
        let root = super::screen_of(&conn, screen_number, &display)?.root;
        let keymap = KeyboardMap::fetch(&conn, &display)?;
        let scratch = ScratchKeycodes::new(keymap.unused_keycodes());
        Ok(X11Injector {
            conn,
            display,
            root,
            area,
            keymap,
            scratch,
            held_keys: Vec::new(),
            held_buttons: Vec::new(),
        })
    }

    /// The shared area pointer positions are relative to.
    pub fn area(&self) -> Region {
        self.area
    }

    /// Replays one event and flushes it to the server.
    pub fn apply(&mut self, event: InputEvent) -> Result<(), X11Error> {
        self.handle_server_events()?;
        match event {
            InputEvent::Key { keysym, down: true } => self.press_key(keysym)?,
            InputEvent::Key {
                keysym,
                down: false,
            } => self.release_key(keysym)?,
            InputEvent::Pointer { x, y } => self.move_pointer(x, y)?,
            InputEvent::Button { button, down } => self.press_button(button, down)?,
        }
        self.conn.flush().doing(&self.display, "sending input")
    }

    /// Lifts every key and button the controller holds, so that losing the
    /// controller (or control) leaves no Ctrl stuck down.
    pub fn release_all(&mut self) -> Result<(), X11Error> {
        while let Some((_, keycode)) = self.held_keys.pop() {
            self.fake(KEY_RELEASE_EVENT, keycode, 0, 0)?;
        }
        while let Some(button) = self.held_buttons.pop() {
            self.fake(BUTTON_RELEASE_EVENT, button, 0, 0)?;
        }
        self.conn.flush().doing(&self.display, "sending input")
    }

    fn press_key(&mut self, keysym: u32) -> Result<(), X11Error> {
        if keysym == NO_SYMBOL {
            return Err(X11Error::BadInput {
                reason: "key with keysym 0 (NoSymbol)".into(),
            });
        }
        let (keycode, level) = match self.keymap.find(keysym) {
            Some(place) => {
                self.scratch.touch(place.keycode);
                (place.keycode, place.level)
            }
            None => (self.bind_scratch_keycode(keysym)?, ShiftLevel::Either),
        };
        let held_shifts: Vec<u8> = self
            .held_keys
            .iter()
            .filter(|(held, _)| [XK_SHIFT_L, XK_SHIFT_R].contains(held))
            .map(|&(_, keycode)| keycode)
            .collect();
        match level {
            ShiftLevel::Shifted if held_shifts.is_empty() => {
                let shift = self
                    .keymap
                    .find(XK_SHIFT_L)
                    .or_else(|| self.keymap.find(XK_SHIFT_R));
                match shift {
                    Some(shift) => {
                        self.fake(KEY_PRESS_EVENT, shift.keycode, 0, 0)?;
                        self.fake(KEY_PRESS_EVENT, keycode, 0, 0)?;
                        self.fake(KEY_RELEASE_EVENT, shift.keycode, 0, 0)?;
                    }
                    None => self.fake(KEY_PRESS_EVENT, keycode, 0, 0)?,
                }
            }
            ShiftLevel::Unshifted if !held_shifts.is_empty() => {
                for &shift in &held_shifts {
                    self.fake(KEY_RELEASE_EVENT, shift, 0, 0)?;
                }
                self.fake(KEY_PRESS_EVENT, keycode, 0, 0)?;
                for &shift in &held_shifts {
                    self.fake(KEY_PRESS_EVENT, shift, 0, 0)?;
                }
            }
            _ => self.fake(KEY_PRESS_EVENT, keycode, 0, 0)?,
        }
        if !self.held_keys.iter().any(|&(held, _)| held == keysym) {
            self.held_keys.push((keysym, keycode));
        }
        Ok(())
    }

    fn release_key(&mut self, keysym: u32) -> Result<(), X11Error> {
        match self.held_keys.iter().position(|&(held, _)| held == keysym) {
            Some(index) => {
                let (_, keycode) = self.held_keys.remove(index);
                self.fake(KEY_RELEASE_EVENT, keycode, 0, 0)
            }
            None => {
                tracing::debug!(keysym, "release of a key that is not down; ignored");
                Ok(())
            }
        }
    }

    fn move_pointer(&mut self, x: u32, y: u32) -> Result<(), X11Error> {
        let area = self.area;
        let clamp = |value: u32, origin: u32, size: u32| {
            let on_screen = origin + value.min(size.saturating_sub(1));
            i16::try_from(on_screen).unwrap_or(i16::MAX)
        };
        let root_x = clamp(x, area.x, area.width);
        let root_y = clamp(y, area.y, area.height);
        // Detail 0: absolute coordinates.
        self.fake(MOTION_NOTIFY_EVENT, 0, root_x, root_y)
    }

    fn press_button(&mut self, button: u8, down: bool) -> Result<(), X11Error> {
        if button == 0 {
            return Err(X11Error::BadInput {
                reason: "mouse button 0 (buttons count from 1)".into(),
            });
        }
        if down {
            if !self.held_buttons.contains(&button) {
                self.held_buttons.push(button);
            }
            self.fake(BUTTON_PRESS_EVENT, button, 0, 0)
        } else {
            self.held_buttons.retain(|&held| held != button);
            self.fake(BUTTON_RELEASE_EVENT, button, 0, 0)
        }
    }

    /// Binds a spare keycode to `keysym` and returns it.
    fn bind_scratch_keycode(&mut self, keysym: u32) -> Result<u8, X11Error> {
        let held_keys = &self.held_keys;
        let keycode = self
            .scratch
            .claim(keysym, |keycode| {
                held_keys.iter().any(|&(_, held)| held == keycode)
            })
            .ok_or(X11Error::NoSpareKeycode { keysym })?;
        // Every entry the keysym, so Shift and group make no difference.
        let entries = vec![keysym; usize::from(self.keymap.keysyms_per_keycode().max(1))];
        self.set_keycode_entries(keycode, &entries)?;
        tracing::debug!(keysym, keycode, "bound a spare keycode");
        Ok(keycode)
    }

    fn set_keycode_entries(&mut self, keycode: u8, entries: &[u32]) -> Result<(), X11Error> {
        let per_keycode = u8::try_from(entries.len()).unwrap_or(u8::MAX);
        self.conn
            .change_keyboard_mapping(1, keycode, per_keycode, entries)
            .doing(&self.display, "binding a spare keycode")?
            .check()
            .doing(&self.display, "binding a spare keycode")?;
        self.keymap.set_entries(keycode, entries);
        Ok(())
    }

    /// Takes note of what the server said since the last event: a changed
    /// keyboard mapping (someone switched layout, or our own binding) is read
    /// again; refused requests are logged, since XTEST requests have no reply.
    fn handle_server_events(&mut self) -> Result<(), X11Error> {
        let mut mapping_changed = false;
        while let Some(event) = self
            .conn
            .poll_for_event()
            .doing(&self.display, "reading server events")?
        {
            match event {
                Event::MappingNotify(notify) if notify.request == Mapping::KEYBOARD => {
                    mapping_changed = true;
                }
                Event::Error(error) => {
                    tracing::warn!(?error, "the X server refused injected input");
                }
                _ => {}
            }
        }
        if mapping_changed {
            self.keymap = KeyboardMap::fetch(&self.conn, &self.display)?;
            self.scratch.reconcile(&self.keymap);
        }
        Ok(())
    }

    fn fake(&self, event_type: u8, detail: u8, root_x: i16, root_y: i16) -> Result<(), X11Error> {
        self.conn
            .xtest_fake_input(
                event_type,
                detail,
                x11rb::CURRENT_TIME,
                self.root,
                root_x,
                root_y,
                0,
            )
            .doing(&self.display, "injecting input")?;
        Ok(())
    }
}

impl Drop for X11Injector {
    fn drop(&mut self) {
        if let Err(error) = self.release_all() {
            tracing::debug!(%error, "could not release held input");
        }
        let no_symbols = vec![NO_SYMBOL; usize::from(self.keymap.keysyms_per_keycode().max(1))];
        for keycode in self.scratch.take_bound() {
            if let Err(error) = self.set_keycode_entries(keycode, &no_symbols) {
                tracing::debug!(%error, keycode, "could not unbind a spare keycode");
                break;
            }
        }
        // Wait until the server has read all of that before the connection
        // closes: a server that sees the socket hang up closes the client
        // at once and drops requests still unread (Xlib's XCloseDisplay
        // syncs for the same reason), so the releases would be lost.
        if let Ok(cookie) = self.conn.get_input_focus() {
            let _ = cookie.reply();
        }
    }
}

/// Spare keycodes and which of them we bound to what, least recently used
/// first, so that typing a long word in another script reuses keycodes
/// rather than exhausting them.
#[derive(Debug)]
struct ScratchKeycodes {
    /// Keycodes with no keysym that we have not bound.
    free: Vec<u8>,
    /// Our bindings (keycode, keysym), least recently used first.
    bound: VecDeque<(u8, u32)>,
}

impl ScratchKeycodes {
    fn new(free: Vec<u8>) -> ScratchKeycodes {
        ScratchKeycodes {
            free,
            bound: VecDeque::new(),
        }
    }

    /// A keycode to bind `keysym` to: a free one while under the cap, else
    /// our least recently used binding whose key is not held down.
    fn claim(&mut self, keysym: u32, is_held: impl Fn(u8) -> bool) -> Option<u8> {
        let keycode = match self.free.pop() {
            Some(keycode) if self.bound.len() < MAX_SCRATCH_BINDINGS => keycode,
            unused => {
                self.free.extend(unused);
                let index = self
                    .bound
                    .iter()
                    .position(|&(keycode, _)| !is_held(keycode))?;
                self.bound.remove(index)?.0
            }
        };
        self.bound.push_back((keycode, keysym));
        Some(keycode)
    }

    /// Marks a binding as just used (a no-op for keycodes not ours).
    fn touch(&mut self, keycode: u8) {
        if let Some(index) = self.bound.iter().position(|&(bound, _)| bound == keycode)
            && let Some(binding) = self.bound.remove(index)
        {
            self.bound.push_back(binding);
        }
    }

    /// After the mapping changed under us: forget bindings that were
    /// overwritten, and take the new map's unused keycodes as the free ones.
    fn reconcile(&mut self, keymap: &KeyboardMap) {
        self.bound
            .retain(|&(keycode, keysym)| keymap.entries(keycode).first() == Some(&keysym));
        let bound = &self.bound;
        self.free = keymap
            .unused_keycodes()
            .into_iter()
            .filter(|keycode| !bound.iter().any(|&(ours, _)| ours == *keycode))
            .collect();
    }

    fn take_bound(&mut self) -> Vec<u8> {
        self.bound.drain(..).map(|(keycode, _)| keycode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_keycodes_are_reused_least_recent_first() {
        let mut scratch =
            ScratchKeycodes::new((100..100 + MAX_SCRATCH_BINDINGS as u8 + 4).collect());
        let not_held = |_| false;
        let mut claimed = Vec::new();
        for keysym in 0..MAX_SCRATCH_BINDINGS as u32 {
            claimed.push(scratch.claim(0x100 + keysym, not_held));
        }
        assert!(claimed.iter().all(Option::is_some));
        let first = claimed[0];
        let second = claimed[1];
        // The oldest binding is reused once the cap is reached...
        scratch.touch(first.unwrap_or_default());
        assert_eq!(scratch.claim(0x999, not_held), second);
        // ...unless its key is held.
        let third = claimed[2];
        assert_eq!(
            scratch.claim(0x998, |keycode| Some(keycode) == third),
            claimed[3]
        );
    }

    #[test]
    fn no_spare_keycode_means_none() {
        let mut scratch = ScratchKeycodes::new(Vec::new());
        assert_eq!(scratch.claim(0xe9, |_| false), None);
    }

    #[test]
    fn reconcile_drops_overwritten_bindings() {
        let mut scratch = ScratchKeycodes::new(vec![9, 10]);
        assert_eq!(scratch.claim(0xe9, |_| false), Some(10));
        // The layout changed: keycode 10 now types 'q', 9 is still free.
        let keymap = KeyboardMap::new(8, 1, vec![0x61, 0, 0x71]);
        scratch.reconcile(&keymap);
        assert!(scratch.bound.is_empty());
        assert_eq!(scratch.free, vec![9]);
    }
}
