//! Screen sharing, apart from sockets and the meeting: where screen pictures come
//! from (`desktop`: a synthetic test desktop; `x11`: an X display), how they travel
//! (`codec`: the frame is cut into tiles and only changed tiles are sent, lossy or
//! lossless by content), and how a granted controller's input reaches the shared
//! display (`x11::inject`, through XTEST).
//!
//! The client wires these to its media channel; nothing here knows a socket.

pub mod codec;
pub mod desktop;
pub mod x11;
