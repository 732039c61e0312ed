//! Remote control on wlroots compositors (sway, Hyprland, river...): a virtual
//! pointer (zwlr_virtual_pointer_v1) and a virtual keyboard
//! (zwp_virtual_keyboard_v1) with a generated keymap, over a pure-Rust
//! Wayland connection. No portal and no consent dialog exist for this on
//! wlroots; the client's own grant/revoke rules decide when this is created.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::Instant;

use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::wl_pointer::ButtonState;
use wayland_client::protocol::{wl_registry, wl_seat::WlSeat};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, delegate_noop};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::{
    zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1 as KeyboardManager,
    zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1 as VirtualKeyboard,
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1 as PointerManager,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1 as VirtualPointer,
};

use crate::keymap::{Keymap, keysym_for_char};

/// wl_keyboard.keymap_format.xkb_v1
const KEYMAP_FORMAT_XKB_V1: u32 = 1;
/// wl_keyboard.key_state
const KEY_RELEASED: u32 = 0;
const KEY_PRESSED: u32 = 1;
/// Linux input codes for the buttons the client sends (1, 2, 3 = left, middle, right).
pub const BTN_LEFT: u32 = 0x110;
pub const BTN_RIGHT: u32 = 0x111;
pub const BTN_MIDDLE: u32 = 0x112;

/// Our objects carry no per-object data and none of them has events we need.
struct State;

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}
delegate_noop!(State: ignore WlSeat);
delegate_noop!(State: PointerManager);
delegate_noop!(State: VirtualPointer);
delegate_noop!(State: KeyboardManager);
delegate_noop!(State: VirtualKeyboard);

#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> InputError + '_ {
    move |e| InputError(format!("{what}: {e}"))
}

pub struct WlrInput {
    conn: Connection,
    queue: EventQueue<State>,
    pointer: VirtualPointer,
    keyboard: VirtualKeyboard,
    keymap: Keymap,
    /// Size of the shared output: pointer positions are given in its pixels.
    width: u32,
    height: u32,
    /// Event timestamps are milliseconds from an arbitrary origin.
    origin: Instant,
}

impl WlrInput {
    /// Connects to $WAYLAND_DISPLAY and creates both virtual devices. Clients
    /// only bind wl_pointer/wl_keyboard after the seat announces the new
    /// capabilities, so events sent right away would be lost: we round-trip
    /// here, and callers should let a moment pass before the first event.
    pub fn open(width: u32, height: u32) -> Result<Self, InputError> {
        let conn =
            Connection::connect_to_env().map_err(|e| err("connect to the Wayland display")(&e))?;
        let (globals, queue) =
            registry_queue_init::<State>(&conn).map_err(|e| err("registry")(&e))?;
        let qh = queue.handle();
        let seat: WlSeat = globals
            .bind(&qh, 1..=7, ())
            .map_err(|e| err("wl_seat")(&e))?;
        let pointers: PointerManager = globals
            .bind(&qh, 1..=2, ())
            .map_err(|e| err("zwlr_virtual_pointer_manager_v1 (not a wlroots compositor?)")(&e))?;
        let keyboards: KeyboardManager = globals
            .bind(&qh, 1..=1, ())
            .map_err(|e| err("zwp_virtual_keyboard_manager_v1")(&e))?;
        let pointer = pointers.create_virtual_pointer(Some(&seat), &qh, ());
        let keyboard = keyboards.create_virtual_keyboard(&seat, &qh, ());
        let mut input = WlrInput {
            conn,
            queue,
            pointer,
            keyboard,
            keymap: Keymap::default(),
            width,
            height,
            origin: Instant::now(),
        };
        // The protocol requires a keymap before any key: send the empty one now.
        input.send_keymap()?;
        input.roundtrip()?;
        Ok(input)
    }

    pub fn move_to(&mut self, x: u32, y: u32) -> Result<(), InputError> {
        let (x, y) = (
            x.min(self.width.saturating_sub(1)),
            y.min(self.height.saturating_sub(1)),
        );
        self.pointer
            .motion_absolute(self.now(), x, y, self.width, self.height);
        self.pointer.frame();
        self.flush()
    }

    pub fn button(&mut self, code: u32, pressed: bool) -> Result<(), InputError> {
        let state = if pressed {
            ButtonState::Pressed
        } else {
            ButtonState::Released
        };
        self.pointer.button(self.now(), code, state);
        self.pointer.frame();
        self.flush()
    }

    pub fn click(&mut self, code: u32) -> Result<(), InputError> {
        self.button(code, true)?;
        self.button(code, false)
    }

    /// Presses or releases the key that produces `keysym`, extending and
    /// re-sending the keymap first if this keysym is new.
    pub fn key(&mut self, keysym: u32, pressed: bool) -> Result<(), InputError> {
        let (code, changed) = self
            .keymap
            .code_for(keysym)
            .ok_or(InputError("keymap full".into()))?;
        if changed {
            self.send_keymap()?;
            // let the focused client receive and compile the new keymap first
            self.roundtrip()?;
        }
        self.keyboard.key(
            self.now(),
            code,
            if pressed { KEY_PRESSED } else { KEY_RELEASED },
        );
        self.flush()
    }

    pub fn type_text(&mut self, text: &str) -> Result<(), InputError> {
        for c in text.chars() {
            let keysym = keysym_for_char(c);
            self.key(keysym, true)?;
            self.key(keysym, false)?;
        }
        self.roundtrip()
    }

    pub fn roundtrip(&mut self) -> Result<(), InputError> {
        self.queue
            .roundtrip(&mut State)
            .map(|_| ())
            .map_err(|e| err("roundtrip")(&e))
    }

    fn send_keymap(&mut self) -> Result<(), InputError> {
        let text = self.keymap.to_xkb();
        let fd = rustix::fs::memfd_create("keymap", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| err("memfd_create")(&e))?;
        std::fs::File::from(fd.try_clone().map_err(|e| err("dup")(&e))?)
            .write_all(&text)
            .map_err(|e| err("write keymap")(&e))?;
        self.keyboard
            .keymap(KEYMAP_FORMAT_XKB_V1, fd.as_fd(), text.len() as u32);
        self.flush()
    }

    fn flush(&self) -> Result<(), InputError> {
        self.conn.flush().map_err(|e| err("flush")(&e))
    }

    fn now(&self) -> u32 {
        self.origin.elapsed().as_millis() as u32
    }
}

impl Drop for WlrInput {
    /// Destroying the devices removes the seat capabilities: clients see a
    /// leave, which is what "control revoked" should look like.
    fn drop(&mut self) {
        self.keyboard.destroy();
        self.pointer.destroy();
        let _ = self.roundtrip();
    }
}
