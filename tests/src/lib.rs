//! Tests live beside this crate.
