//! Counters and rate-limited failure reports.
//!
//! A failing backend is reported through `tracing` at most once per
//! [`REPORT_INTERVAL`], with the number of failures since the last report, so
//! an outage costs a log line every few seconds rather than one per call.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

/// How many backend commands have failed in this process so far.
///
/// # Examples
///
/// ```
/// let before = memo_core::stats::backend_errors();
/// assert!(memo_core::stats::backend_errors() >= before);
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
/// let _ = memo_core::stats::decode_errors();
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
/// let answer = stats.iter().find(|f| f.namespace.ends_with("::answer")).unwrap();
/// assert_eq!((answer.l1_hits, answer.misses), (1, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionStats {
    /// The function's namespace (`crate::module::function` or its `name`).
    pub namespace: String,
    /// Calls answered by this process's L1.
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
            l1_hits: counters.l1_hits.sum(),
            shared_hits: counters.shared_hits.sum(),
            misses: counters.misses.sum(),
        });
    });
    stats
}

/// One function's counters.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) l1_hits: Striped,
    pub(crate) shared_hits: Striped,
    pub(crate) misses: Striped,
}

const STRIPES: usize = 8;

#[derive(Default)]
#[repr(align(64))]
struct Line(AtomicU64);

/// A counter spread over cache lines, one per thread (modulo
/// [`STRIPES`]): increments from different threads touch different lines.
/// An increment is a plain load and store, not an atomic read-modify-write
/// (which costs as much as a third of an L1 hit): with more than [`STRIPES`]
/// threads counting at once, two sharing a line may lose an increment, so
/// counts are exact up to 8 threads and approximate beyond.
#[derive(Default)]
pub(crate) struct Striped([Line; STRIPES]);

thread_local! {
    // `const`-initialised, so reaching it costs no lazy-initialisation check;
    // the stripe is handed out on the thread's first count.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's stripe: threads take stripes round-robin.
#[inline]
fn stripe() -> usize {
    STRIPE.with(|stripe| {
        if stripe.get() == usize::MAX {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            stripe.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        stripe.get()
    })
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
