//! A coarse monotonic clock for expiry checks on the hit path.
//!
//! `std::time::Instant::now()` costs about as much as a whole L1 hit; the
//! coarse clock (`CLOCK_MONOTONIC_COARSE` on Linux) costs a few nanoseconds and
//! ticks every few milliseconds, which is precise enough for timeouts counted
//! in seconds. Deadlines are plain `u64` ticks so entries stay small.

use std::time::Duration;

/// A point on the coarse clock, in the clock's own ticks.
pub(crate) type Tick = u64;

/// The deadline that never comes.
pub(crate) const NEVER: Tick = u64::MAX;

/// Now, on the coarse clock. Reads the clock without writing coarsetime's
/// shared "recent" cell, so concurrent hits do not bounce a cache line.
#[inline]
pub(crate) fn now() -> Tick {
    coarsetime::Instant::now_without_cache_update().as_ticks()
}

/// `ttl` in ticks, saturating: an absurdly long TTL means never.
pub(crate) fn ticks(ttl: Duration) -> Tick {
    coarsetime::Duration::from(ttl).as_ticks()
}
