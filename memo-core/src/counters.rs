//! Per-function counters, striped over cache lines by thread so that
//! threads hitting one function do not contend. Read by `stats`, kept by
//! each cache (through `registry`).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// One function's counters.
#[derive(Default)]
pub(crate) struct Counters {
    /// L1 probes, counted before they are made (see `Cache::probe`).
    pub(crate) l1_probes: Striped,
    /// Probes that found nothing.
    pub(crate) l1_probe_misses: Striped,
    /// Values found in L1 after a probe missed: a flight's leader landed in
    /// between.
    pub(crate) l1_late_hits: Striped,
    pub(crate) shared_hits: Striped,
    pub(crate) misses: Striped,
    /// Bodies run, and their time in nanoseconds.
    pub(crate) computations: Striped,
    pub(crate) compute_nanos: Striped,
    /// Values stored in the shared tier.
    pub(crate) stores: Striped,
    /// Shared-tier reads and stores of calls that failed.
    pub(crate) errors: Striped,
    /// Stale values served in place of an `Err` (`stale_on_error`).
    pub(crate) stale_served: Striped,
}

impl Counters {
    /// Zeros, for a `static` (a `#[memoized]` function's [`MemoStats`]).
    ///
    /// [`MemoStats`]: crate::memoized::MemoStats
    pub(crate) const fn new() -> Self {
        Counters {
            l1_probes: Striped::new(),
            l1_probe_misses: Striped::new(),
            l1_late_hits: Striped::new(),
            shared_hits: Striped::new(),
            misses: Striped::new(),
            computations: Striped::new(),
            compute_nanos: Striped::new(),
            stores: Striped::new(),
            errors: Striped::new(),
            stale_served: Striped::new(),
        }
    }

    /// A body of the function `namespace` ran for `took`; with the
    /// `metrics` feature, recorded in the `memo_compute_seconds` histogram
    /// too.
    pub(crate) fn computed(&self, namespace: &str, took: std::time::Duration) {
        self.computations.add();
        self.compute_nanos
            .add_n(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
        #[cfg(feature = "metrics")]
        crate::stats::export::computed(namespace, took);
        #[cfg(not(feature = "metrics"))]
        let _ = namespace;
    }

    /// Calls answered by L1: the probes that hit, and the late hits. A call
    /// in flight may have its probe counted and not yet its miss, so while
    /// calls run this can be over by the calls in flight.
    pub(crate) fn l1_hits(&self) -> u64 {
        let missed = self.l1_probe_misses.sum();
        let probes = self.l1_probes.sum();
        probes.saturating_sub(missed) + self.l1_late_hits.sum()
    }
}

/// Stripes per counter: one per bit of [`CLAIMED`].
const STRIPES: usize = 8;

#[derive(Default)]
#[repr(align(64))]
struct Line(AtomicU64);

/// A counter spread over cache lines, one per thread: increments from
/// different threads touch different lines. An increment is a plain load
/// and store, not an atomic read-modify-write (which costs as much as a
/// third of an L1 hit), so a stripe must have one writer: a thread claims a
/// free stripe on its first count and gives it back when it ends. Threads
/// beyond [`STRIPES`] alive at once count on one more line, shared, with an
/// atomic add: counts are exact at any number of threads, and only those
/// threads pay the read-modify-write.
#[derive(Default)]
pub(crate) struct Striped([Line; STRIPES + 1]);

/// The stripe of threads that found every other one claimed.
const SHARED: usize = STRIPES;

/// The stripes claimed by live threads, a bit each.
static CLAIMED: AtomicU8 = AtomicU8::new(0);

thread_local! {
    // This thread's stripe, `usize::MAX` until its first count. `const` and
    // without a destructor, so reading it is a plain thread-local load (a
    // thread-local with a destructor checks its state on every access, a
    // cost every `#[quickcache]` hit would pay).
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    // The stripe this thread owns, given back by its destructor when the
    // thread ends; touched only when the stripe is claimed.
    static OWNED: Owned = const { Owned(Cell::new(None)) };
}

/// A stripe owned by this thread.
struct Owned(Cell<Option<usize>>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(index) = self.0.get() {
            CLAIMED.fetch_and(!(1 << index), Ordering::AcqRel);
        }
    }
}

/// This thread's stripe.
#[inline]
fn stripe() -> usize {
    STRIPE.with(|stripe| {
        if stripe.get() == usize::MAX {
            stripe.set(claim());
        }
        stripe.get()
    })
}

/// Claims a free stripe for this thread, or shares one when all are taken.
#[cold]
fn claim() -> usize {
    let mut claimed = CLAIMED.load(Ordering::Acquire);
    while claimed != u8::MAX {
        let free = (!claimed).trailing_zeros();
        match CLAIMED.compare_exchange_weak(
            claimed,
            claimed | (1 << free),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                let index = free as usize;
                // Counting from a thread-local destructor, after ours ran:
                // the stripe is not given back (one of eight, at worst).
                let _ = OWNED.try_with(|owned| owned.0.set(Some(index)));
                return index;
            }
            Err(now) => claimed = now,
        }
    }
    SHARED
}

impl Striped {
    const fn new() -> Self {
        Striped([const { Line(AtomicU64::new(0)) }; STRIPES + 1])
    }

    #[inline]
    pub(crate) fn add(&self) {
        self.add_n(1);
    }

    /// Adds `n`.
    #[inline]
    pub(crate) fn add_n(&self, n: u64) {
        let index = stripe();
        let line = &self.0[index].0;
        if index == SHARED {
            line.fetch_add(n, Ordering::Relaxed);
        } else {
            line.store(
                line.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        }
    }

    pub(crate) fn sum(&self) -> u64 {
        self.0
            .iter()
            .map(|line| line.0.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Mutex;

    /// The stripes are process-wide: tests that claim them run one at a
    /// time (a stripe held by another test's threads is not free).
    static STRIPES_IN_USE: Mutex<()> = Mutex::new(());

    /// Threads come and go (three times as many over the test as there are
    /// stripes) while one thread counts throughout: each takes a stripe of
    /// its own, given back when it ends, so no increment is lost.
    #[test]
    fn stripes_are_given_back_so_counts_stay_exact() {
        let _one_at_a_time = STRIPES_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        const EACH: u64 = 50_000;
        let counter = Striped::default();
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let steady = s.spawn(|| {
                let mut counted = 0;
                while !done.load(Ordering::Relaxed) {
                    counter.add();
                    counted += 1;
                }
                counted
            });
            let mut total = 0;
            for _ in 0..3 * STRIPES {
                s.spawn(|| {
                    for _ in 0..EACH {
                        counter.add();
                    }
                    assert!(
                        OWNED.with(|owned| owned.0.get().is_some()),
                        "a stripe of its own"
                    );
                })
                .join()
                .unwrap();
                total += EACH;
            }
            done.store(true, Ordering::Relaxed);
            total += steady.join().unwrap();
            assert_eq!(counter.sum(), total);
        });
    }

    /// Four times as many threads as stripes count at once: those without a
    /// stripe of their own share one with atomic adds, so the sum is exact.
    #[test]
    fn counts_stay_exact_with_more_threads_than_stripes() {
        let _one_at_a_time = STRIPES_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        const EACH: u64 = 20_000;
        let counter = Striped::default();
        let barrier = std::sync::Barrier::new(4 * STRIPES);
        std::thread::scope(|s| {
            for _ in 0..4 * STRIPES {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..EACH {
                        counter.add();
                    }
                    // Alive until every thread has counted.
                    barrier.wait();
                });
            }
        });
        assert_eq!(counter.sum(), 4 * STRIPES as u64 * EACH);
    }
}
