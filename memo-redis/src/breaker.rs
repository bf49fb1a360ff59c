//! A circuit breaker: after a few consecutive failures, stop sending
//! commands for a while, so a dead or frozen Redis costs a caller
//! microseconds instead of a timeout.
//!
//! Closed → (3 consecutive failures) → open for a back-off that starts at
//! 250 ms and doubles up to 4 s → one probe is let through (half-open) → a
//! success closes it, a failure opens it again with the next back-off. So
//! caching resumes at most about 4 s after Redis is back.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub(crate) const FAILURES_TO_OPEN: u32 = 3;
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_millis(250);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(4);

#[derive(Debug, Default)]
pub(crate) struct Breaker {
    failures: AtomicU32,
    /// Milliseconds since [`epoch`] before which nothing is sent; 0: closed.
    open_until: AtomicU64,
    backoff_ms: AtomicU64,
    probing: AtomicBool,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Whether a command may be sent; a `Probe` must be reported back.
pub(crate) enum Permit {
    Closed,
    Probe,
}

impl Breaker {
    /// `None` while open: the caller fails fast.
    #[inline]
    pub(crate) fn permit(&self) -> Option<Permit> {
        let open_until = self.open_until.load(Ordering::Acquire);
        if open_until == 0 {
            return Some(Permit::Closed);
        }
        if now_ms() < open_until {
            return None;
        }
        // Half-open: one caller probes, the others keep failing fast.
        (!self.probing.swap(true, Ordering::AcqRel)).then_some(Permit::Probe)
    }

    pub(crate) fn success(&self, permit: &Permit) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if matches!(permit, Permit::Probe) || self.open_until.load(Ordering::Relaxed) != 0 {
            self.open_until.store(0, Ordering::Release);
            self.backoff_ms.store(0, Ordering::Relaxed);
            self.probing.store(false, Ordering::Release);
            tracing::info!(target: "memo", "redis answers again; caching resumes");
        }
    }

    pub(crate) fn failure(&self, permit: &Permit) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if matches!(permit, Permit::Probe) || failures >= FAILURES_TO_OPEN {
            let previous = self.backoff_ms.load(Ordering::Relaxed);
            let backoff = if previous == 0 {
                FIRST_BACKOFF.as_millis() as u64
            } else {
                (previous * 2).min(MAX_BACKOFF.as_millis() as u64)
            };
            self.backoff_ms.store(backoff, Ordering::Relaxed);
            self.open_until
                .store(now_ms().max(1) + backoff, Ordering::Release);
            self.probing.store(false, Ordering::Release);
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open_until.load(Ordering::Acquire) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_probes_once() {
        let breaker = Breaker::default();
        for _ in 0..FAILURES_TO_OPEN {
            let permit = breaker.permit().expect("closed");
            breaker.failure(&permit);
        }
        assert!(
            breaker.permit().is_none(),
            "open after {FAILURES_TO_OPEN} failures"
        );
        std::thread::sleep(FIRST_BACKOFF + Duration::from_millis(20));
        let probe = breaker.permit().expect("half-open lets one probe through");
        assert!(matches!(probe, Permit::Probe));
        assert!(breaker.permit().is_none(), "only one probe at a time");
        breaker.success(&probe);
        assert!(matches!(breaker.permit(), Some(Permit::Closed)));
    }
}
