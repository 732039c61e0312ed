//! The screen codec (being written).
