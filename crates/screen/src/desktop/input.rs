//! What a remote controller did to the test desktop, kept so the picture
//! can show it: the pointer, the buttons, the clicks and what was typed.

use common::InputEvent;

/// The characters the typed field keeps (older ones scroll away).
const TYPED_KEPT: usize = 80;

/// What a remote controller did to the test desktop: where its pointer is,
/// whether a button is down, how often it clicked, what it typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesktopInput {
    pub(super) pointer: Option<(u32, u32)>,
    pub(super) buttons_down: u8,
    pub(super) clicks: u32,
    pub(super) typed: String,
}

/// X keysyms the typed field acts on.
pub(super) const XK_BACKSPACE: u32 = 0xff08;
pub(super) const XK_RETURN: u32 = 0xff0d;
const XK_KP_ENTER: u32 = 0xff8d;

impl DesktopInput {
    /// Takes one event: keys pressed type into the field (BackSpace takes
    /// one back, Return empties it), the pointer moves, buttons press.
    pub fn apply(&mut self, event: InputEvent) {
        match event {
            InputEvent::Key { keysym, down: true } => match keysym {
                XK_BACKSPACE => {
                    self.typed.pop();
                }
                XK_RETURN | XK_KP_ENTER => self.typed.clear(),
                _ => {
                    if let Some(c) = keysym_char(keysym) {
                        self.typed.push(c);
                        let extra = self.typed.chars().count().saturating_sub(TYPED_KEPT);
                        if extra > 0 {
                            self.typed = self.typed.chars().skip(extra).collect();
                        }
                    }
                }
            },
            InputEvent::Key { down: false, .. } => {}
            InputEvent::Pointer { x, y } => self.pointer = Some((x, y)),
            InputEvent::Button { down: true, .. } => {
                self.buttons_down = self.buttons_down.saturating_add(1);
                self.clicks = self.clicks.saturating_add(1);
            }
            InputEvent::Button { down: false, .. } => {
                self.buttons_down = self.buttons_down.saturating_sub(1);
            }
        }
    }

    /// Lets go of every button (control ended mid-drag).
    pub fn release_all(&mut self) {
        self.buttons_down = 0;
    }

    /// What was typed since the last Return.
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// Where the pointer is, once it was moved.
    pub fn pointer(&self) -> Option<(u32, u32)> {
        self.pointer
    }

    pub(super) fn is_empty(&self) -> bool {
        *self == DesktopInput::default()
    }
}

/// The character a keysym types, for the ones the font can show: Latin-1
/// keysyms are their code point, others `0x0100_0000` plus it.
fn keysym_char(keysym: u32) -> Option<char> {
    let code = match keysym {
        0x20..=0x7e | 0xa0..=0xff => keysym,
        0x0100_0000..=0x0110_ffff => keysym - 0x0100_0000,
        _ => return None,
    };
    char::from_u32(code).filter(|c| !c.is_control())
}
