//! The synthetic test desktop (being written).
