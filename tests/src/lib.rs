//! memo's integration, UI and cross-process tests live beside this crate;
//! the library itself only doctests the README, whose examples need both
//! `memo-core` and `memo-redis`.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
