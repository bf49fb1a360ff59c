//! Clocks for expiry: a coarse clock, and the coarse clock as last published
//! by a ticker thread, which is what a hit reads.
//!
//! `std::time::Instant::now()` costs about as much as a whole L1 hit; the
//! coarse clock (`CLOCK_MONOTONIC_COARSE` on Linux) costs a few nanoseconds and
//! ticks every few milliseconds, which is precise enough for timeouts counted
//! in seconds. Deadlines are plain `u64` ticks so entries stay small.
//!
//! Even the coarse clock is a call into the vDSO, a tenth of an L1 hit. So
//! a hit reads [`recent`] instead: one
//! load of a time that the `memo-clock` thread publishes every [`TICK`].
//!
//! - **Late, never early.** `recent()` is at most [`TICK`] (plus the
//!   ticker's scheduling delay) behind [`now`], so an entry can be served
//!   that long after its deadline, never before it. Deadlines are set from
//!   [`now`].
//! - **Ticks only while read.** The ticker publishes for [`LEASE`] at a
//!   time. Then it withdraws the time (0): readers fall back to [`now`] and
//!   mark that they want it, and it comes back within [`POLL_MAX`]. While
//!   nothing reads, it wakes once per [`POLL_MAX`] to look.
//! - **Fork.** A child has no ticker: a fork handler withdraws the
//!   published time in the child, and its first reader starts a new ticker.
//! - **No thread.** If the thread cannot be started (or the fork handler
//!   registered), every read is a [`now`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

/// A point on the coarse clock, in the clock's own ticks.
pub(crate) type Tick = u64;

/// The deadline that never comes.
pub(crate) const NEVER: Tick = u64::MAX;

/// How often the ticker publishes the time.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// How long the ticker publishes before it withdraws the time to learn
/// whether anyone still reads it.
const LEASE: Duration = Duration::from_secs(1);

/// The ticker looks for readers after [`TICK`], then twice as long each time,
/// up to this.
const POLL_MAX: Duration = Duration::from_secs(1);

/// The time last published by the ticker; 0 while none is published.
static RECENT: AtomicU64 = AtomicU64::new(0);

/// Set by a reader that found no published time.
static WANTED: AtomicBool = AtomicBool::new(false);

/// Whether this process has a ticker.
static TICKER: AtomicU8 = AtomicU8::new(NONE);
const NONE: u8 = 0;
const RUNNING: u8 = 1;
/// The thread or the fork handler could not be set up: read [`now`].
const UNAVAILABLE: u8 = 2;

/// The wall clock, in milliseconds since the Unix epoch: what processes on
/// different machines agree on (`stale_on_error`'s freshness in the
/// envelope), to within their clocks' skew.
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

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

/// Now, as the ticker last published it: for checking a deadline on a hit.
/// Never ahead of [`now`]; behind it by at most [`TICK`] and the ticker's
/// scheduling delay.
#[inline]
pub(crate) fn recent() -> Tick {
    match RECENT.load(Ordering::Relaxed) {
        0 => unpublished(),
        published => published,
    }
}

/// [`recent`] with no published time: reads the clock, and asks for a
/// ticker.
#[cold]
fn unpublished() -> Tick {
    match TICKER.load(Ordering::Relaxed) {
        NONE => start(),
        // Written only when not set already: readers do not bounce its line.
        RUNNING if !WANTED.load(Ordering::Relaxed) => WANTED.store(true, Ordering::Relaxed),
        _ => {}
    }
    now()
}

/// Starts the ticker, unless another caller just did.
fn start() {
    if TICKER
        .compare_exchange(NONE, RUNNING, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    if !crate::fork::watch() {
        TICKER.store(UNAVAILABLE, Ordering::Release);
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("memo-clock".into())
        .spawn(tick);
    if let Err(error) = spawned {
        tracing::warn!(%error, "memo: no clock thread; hits read the clock themselves");
        TICKER.store(UNAVAILABLE, Ordering::Release);
    }
}

/// The ticker: publishes the time every [`TICK`] for a [`LEASE`], then
/// withdraws it and waits for a reader to want it again.
fn tick() {
    let lease = ticks(LEASE);
    loop {
        WANTED.store(false, Ordering::Relaxed);
        let until = now().saturating_add(lease);
        loop {
            let now = now();
            RECENT.store(now.max(1), Ordering::Relaxed);
            if now >= until {
                break;
            }
            std::thread::sleep(TICK);
        }
        RECENT.store(0, Ordering::Relaxed);
        let mut poll = TICK;
        while !WANTED.load(Ordering::Relaxed) {
            std::thread::sleep(poll);
            poll = (poll * 2).min(POLL_MAX);
        }
    }
}

/// In a child after `fork` (see `crate::fork`): no ticker runs there, so
/// the parent's published time (which would stand still) is withdrawn, and
/// the child's first reader starts a ticker. Two lock-free atomic stores:
/// async-signal-safe.
pub(crate) fn forget_ticker_in_child() {
    RECENT.store(0, Ordering::Relaxed);
    TICKER.store(NONE, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits until the ticker publishes, starting it with a read.
    fn published() -> Tick {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            recent();
            match RECENT.load(Ordering::Relaxed) {
                0 => assert!(std::time::Instant::now() < deadline, "no ticker"),
                t => return t,
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn recent_follows_now_from_behind() {
        published();
        for _ in 0..200 {
            let before = now();
            let recent = recent();
            let after = now();
            assert!(recent <= after, "recent is ahead of the clock");
            // Generous: the ticker may be descheduled on a loaded machine.
            assert!(
                before.saturating_sub(recent) < ticks(Duration::from_millis(500)),
                "recent lags the clock by {:?}",
                Duration::from_nanos(before.saturating_sub(recent))
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // It moves: published again after a few ticks.
        let first = published();
        std::thread::sleep(Duration::from_millis(50));
        assert!(published() > first);
    }

    #[test]
    fn the_ticker_comes_back_after_its_lease() {
        published();
        // Past a lease the time is withdrawn; a read brings it back.
        std::thread::sleep(LEASE + Duration::from_millis(200));
        published();
    }

    #[cfg(unix)]
    #[test]
    #[allow(unsafe_code)]
    fn a_forked_child_has_no_published_time() {
        published();
        // SAFETY: the child does only async-signal-safe work (atomic loads
        // and `_exit`) before it exits, as POSIX requires of a child of a
        // multi-threaded process; the parent waits for it by pid.
        let status = unsafe {
            match libc::fork() {
                -1 => panic!("fork failed"),
                0 => {
                    let clean = RECENT.load(Ordering::Relaxed) == 0
                        && TICKER.load(Ordering::Relaxed) == NONE;
                    libc::_exit(if clean { 0 } else { 1 })
                }
                child => {
                    let mut status = 0;
                    assert_eq!(libc::waitpid(child, &mut status, 0), child);
                    status
                }
            }
        };
        assert!(libc::WIFEXITED(status), "the child did not exit");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "the child kept the parent's time"
        );
    }
}
