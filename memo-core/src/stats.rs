//! Counters and rate-limited failure reports.
//!
//! A failing backend is reported through `tracing` at most once per
//! [`REPORT_INTERVAL`], with the number of failures since the last report, so
//! an outage costs a log line every few seconds rather than one per call.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use crate::clock;
use crate::coherence;
use crate::Error;

/// Least time between two failure reports.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

static BACKEND_ERRORS: AtomicU64 = AtomicU64::new(0);
static DECODE_ERRORS: AtomicU64 = AtomicU64::new(0);
static UNREPORTED: AtomicU64 = AtomicU64::new(0);
static LAST_REPORT: AtomicU64 = AtomicU64::new(0);

/// How many backend commands have failed in this process so far
/// (arguments that could not be encoded count too: the call computed
/// without the cache).
///
/// # Examples
///
/// ```
/// struct Unencodable;
/// impl serde::Serialize for Unencodable {
///     fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
///         Err(serde::ser::Error::custom("not a key"))
///     }
/// }
///
/// #[memo_core::quickcache]
/// fn answer(_question: &Unencodable) -> u32 { 42 }
///
/// let before = memo_core::stats::backend_errors();
/// assert_eq!(answer(&Unencodable), 42); // computed, not cached
/// assert_eq!(memo_core::stats::backend_errors(), before + 1);
/// ```
pub fn backend_errors() -> u64 {
    BACKEND_ERRORS.load(Ordering::Relaxed)
}

/// How many stored values could not be decoded (and were recomputed) in this
/// process so far.
///
/// # Examples
///
/// ```
/// use memo_core::Backend;
///
/// #[memo_core::quickcache(name = "docs::decoded", memoize_timeout = 0)]
/// fn decoded(x: u32) -> u32 { x }
///
/// assert_eq!(decoded(7), 7);
/// // Garbage where the entry is: a miss, counted, then overwritten.
/// let key = memo_core::key::entry_key_for("docs::decoded", &(&7u32,)).unwrap();
/// memo_core::backend::current()
///     .set(&key, &[1; 40], std::time::Duration::from_secs(60))
///     .unwrap();
/// let before = memo_core::stats::decode_errors();
/// assert_eq!(decoded(7), 7);
/// assert_eq!(memo_core::stats::decode_errors(), before + 1);
/// assert_eq!(decoded(7), 7);
/// assert_eq!(memo_core::stats::decode_errors(), before + 1, "overwritten");
/// ```
pub fn decode_errors() -> u64 {
    DECODE_ERRORS.load(Ordering::Relaxed)
}

/// Counts a failed backend command and reports it if no report went out in
/// the last [`REPORT_INTERVAL`].
pub(crate) fn backend_failed(op: &'static str, namespace: &str, error: &Error) {
    BACKEND_ERRORS.fetch_add(1, Ordering::Relaxed);
    let unreported = UNREPORTED.fetch_add(1, Ordering::Relaxed) + 1;
    if due() {
        UNREPORTED.fetch_sub(unreported, Ordering::Relaxed);
        tracing::warn!(
            target: "memo",
            op,
            namespace,
            failures = unreported,
            error = %error,
            "cache backend failed; computing values without it"
        );
    }
}

/// Counts a stored value that did not decode.
pub(crate) fn decode_failed(namespace: &str, error: &dyn std::fmt::Display) {
    DECODE_ERRORS.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(target: "memo", namespace, error = %error, "stored value did not decode; recomputing");
}

fn due() -> bool {
    let now = clock::now();
    let last = LAST_REPORT.load(Ordering::Relaxed);
    if last != 0 && now.saturating_sub(last) < clock::ticks(REPORT_INTERVAL) {
        return false;
    }
    LAST_REPORT
        .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
}

/// How often one `#[quickcache]` function was served from each tier.
///
/// # Examples
///
/// ```
/// #[memo_core::quickcache]
/// fn answer(x: u32) -> u32 { x }
///
/// answer(1);
/// answer(1);
/// let stats = memo_core::stats::functions();
/// let answer = stats.iter().find(|f| f.namespace.contains("::answer@")).unwrap();
/// assert_eq!((answer.l1_hits, answer.misses), (1, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionStats {
    /// The function's namespace (`crate::module::function@digest` or its
    /// `name`).
    pub namespace: String,
    /// Calls answered by this process's L1. Counted as L1 probes less the
    /// probes that missed, so a snapshot taken while calls run can include
    /// a call that is still on its way to the shared tier.
    pub l1_hits: u64,
    /// Calls answered by the shared tier (or by another caller's
    /// computation in the same flight).
    pub shared_hits: u64,
    /// Calls that ran the body.
    pub misses: u64,
}

/// Hits and misses of every `#[quickcache]` function called so far in this
/// process.
///
/// Counting costs a few nanoseconds per call: each counter is striped over
/// cache lines by thread, so threads hitting one function do not contend.
/// Counts are exact while at most 8 counting threads are alive at once
/// (a thread's stripe is given back when it ends); with more, threads
/// share stripes and a count may come out a little low.
///
/// # Examples
///
/// ```
/// for f in memo_core::stats::functions() {
///     println!("{}: {} L1 hits, {} shared hits, {} misses", f.namespace, f.l1_hits, f.shared_hits, f.misses);
/// }
/// ```
pub fn functions() -> Vec<FunctionStats> {
    let mut stats = Vec::new();
    coherence::each(|cache| {
        let counters = cache.counters();
        stats.push(FunctionStats {
            namespace: cache.namespace().to_owned(),
            l1_hits: counters.l1_hits(),
            shared_hits: counters.shared_hits.sum(),
            misses: counters.misses.sum(),
        });
    });
    stats
}

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
}

impl Counters {
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
/// free stripe on its first count and gives it back when it ends. Counts
/// are exact while at most [`STRIPES`] counting threads are alive at once;
/// beyond that, the extra threads share stripes and two sharing one may
/// lose an increment.
#[derive(Default)]
pub(crate) struct Striped([Line; STRIPES]);

/// The stripes claimed by live threads, a bit each.
static CLAIMED: AtomicU8 = AtomicU8::new(0);

thread_local! {
    // This thread's stripe, `usize::MAX` until its first count. `const` and
    // without a destructor, so reading it is a plain thread-local load (a
    // thread-local with a destructor checks its state on every access,
    // which cost ~3 ns per `#[quickcache]` hit).
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
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
}

impl Striped {
    #[inline]
    pub(crate) fn add(&self) {
        let line = &self.0[stripe()].0;
        line.store(
            line.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
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

    /// Threads come and go (three times as many over the test as there are
    /// stripes) while one thread counts throughout: each takes a stripe of
    /// its own, given back when it ends, so no increment is lost.
    #[test]
    fn stripes_are_given_back_so_counts_stay_exact() {
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
}
