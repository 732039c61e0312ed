//! X11 capture and input injection (being written).
