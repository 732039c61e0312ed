//! Scratch prototype for issue 24: the client's future Wayland screen source
//! (ScreenCast portal + PipeWire) and the wlroots input injector.
//! Blocking threads only; zbus runs its own executor thread behind its blocking API.

pub mod frame;

#[cfg(any(feature = "capture", feature = "capture-dbus"))]
pub mod capture_cli;
#[cfg(feature = "capture")]
pub mod portal;
#[cfg(any(feature = "capture", feature = "capture-dbus"))]
pub mod portal_common;
#[cfg(feature = "capture-dbus")]
pub mod portal_dbus;
#[cfg(any(feature = "capture", feature = "capture-dbus"))]
pub mod pw_stream;
#[cfg(any(feature = "capture", feature = "capture-dbus"))]
pub mod screen;

#[cfg(feature = "input")]
pub mod keymap;
#[cfg(feature = "input")]
pub mod wlr_input;
