//! What the cache has done: per function, hits by tier and misses
//! ([`functions`]); in all, backend failures and values that did not
//! decode (counted by `report`, which logs them rate-limited).

use crate::{registry, report};

pub use crate::report::REPORT_INTERVAL;

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
    report::backend_errors()
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
    report::decode_errors()
}

/// How often one cached function (`#[quickcache]` or `#[memoized]`) was
/// served from each tier.
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
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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
    /// computation in the same flight). Always 0 for `#[memoized]`, which
    /// counts a flight's value among its `l1_hits`.
    pub shared_hits: u64,
    /// Calls that ran the body.
    pub misses: u64,
    /// Entries L1 holds now (expired ones not yet reclaimed included).
    pub l1_entries: usize,
    /// What those entries weigh, with `max_bytes` (0 without): each key as
    /// held and each value's encoded length.
    pub l1_bytes: usize,
    /// Entries L1 dropped to stay within `max_entries` or `max_bytes`:
    /// many against the hits means the bound is too small for the working
    /// set.
    pub l1_evictions: u64,
    /// Expired entries L1 reclaimed.
    pub l1_expirations: u64,
    /// Bodies run after a miss.
    pub computations: u64,
    /// Their time in all: `compute_time / computations` is the mean.
    pub compute_time: std::time::Duration,
    /// Computed values stored in the shared tier.
    pub stores: u64,
    /// Calls whose shared-tier read or store failed (they computed and
    /// returned all the same).
    pub errors: u64,
    /// Calls whose body returned `Err` and that returned an older `Ok`
    /// instead (`stale_on_error`).
    pub stale_served: u64,
}

/// Hits by tier, misses, computations and their time, stores, errors and L1
/// evictions of every cached function that has missed or stored so far in
/// this process, of both attributes (a `#[memoized]` function as
/// `module::function@digest`; a `&self` method's counts summed over its
/// instances, its entries over the live ones).
///
/// Counting costs a few nanoseconds per call: each counter is striped over
/// cache lines by thread, so threads hitting one function do not contend
/// (the first 8 threads alive at once count with a plain load and store on
/// a line of their own, given back when the thread ends; more threads than
/// that share one line with atomic adds). Counts are exact at any number
/// of threads. A miss reads the clock twice to time its computation.
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
    registry::each(|cache| {
        let counters = cache.counters();
        let local = cache.local_tier();
        stats.push(FunctionStats {
            namespace: cache.namespace().to_owned(),
            l1_hits: counters.l1_hits(),
            shared_hits: counters.shared_hits.sum(),
            misses: counters.misses.sum(),
            l1_entries: local.entries,
            l1_bytes: local.bytes,
            l1_evictions: local.evictions,
            l1_expirations: local.expirations,
            computations: counters.computations.sum(),
            compute_time: std::time::Duration::from_nanos(counters.compute_nanos.sum()),
            stores: counters.stores.sum(),
            errors: counters.errors.sum(),
            stale_served: counters.stale_served.sum(),
        });
    });
    stats
}

/// Exports every cached function's stats ([`functions`]) and the backend's
/// error counts through the [`metrics`](https://docs.rs/metrics) facade, as
/// they are now, so an exporter (`metrics-exporter-prometheus`, say) serves
/// them. Call it before each scrape, or every few seconds from a task of
/// your own: the counts themselves are kept by memo (a hit costs nothing
/// more with the feature on), so an export sets absolute values. Each
/// computation's time is recorded as it ends, in the histogram
/// `memo_compute_seconds`.
///
/// Every series is labelled by the function's `namespace`:
///
/// | series | kind | what |
/// |---|---|---|
/// | `memo_hits_total{tier="l1"\|"shared"}` | counter | calls answered without the body |
/// | `memo_misses_total` | counter | calls that ran the body |
/// | `memo_stores_total` | counter | computed values stored in the shared tier |
/// | `memo_errors_total` | counter | calls whose shared-tier read or store failed |
/// | `memo_stale_served_total` | counter | stale values served in place of an `Err` |
/// | `memo_l1_evictions_total`, `memo_l1_expirations_total` | counter | entries L1 dropped for its bounds, or reclaimed expired |
/// | `memo_l1_entries`, `memo_l1_bytes` | gauge | what L1 holds |
/// | `memo_compute_seconds` | histogram | each body's time (recorded per computation) |
///
/// and, without labels, `memo_backend_errors_total` and
/// `memo_decode_errors_total`.
///
/// # Examples
///
/// ```
/// #[memo_core::quickcache]
/// fn answer(x: u32) -> u32 { x }
///
/// answer(1);
/// memo_core::stats::export_metrics(); // a no-op until a recorder is installed
/// ```
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub fn export_metrics() {
    for f in functions() {
        export::function(&f);
    }
    metrics::counter!("memo_backend_errors_total").absolute(backend_errors());
    metrics::counter!("memo_decode_errors_total").absolute(decode_errors());
}

/// The `metrics` feature's recording, on the export and per computation.
#[cfg(feature = "metrics")]
pub(crate) mod export {
    use super::FunctionStats;

    /// Sets one function's series to its counts now.
    pub(super) fn function(f: &FunctionStats) {
        let namespace = || ("namespace", f.namespace.clone());
        let counters = [
            ("memo_misses_total", f.misses),
            ("memo_stores_total", f.stores),
            ("memo_errors_total", f.errors),
            ("memo_stale_served_total", f.stale_served),
            ("memo_l1_evictions_total", f.l1_evictions),
            ("memo_l1_expirations_total", f.l1_expirations),
        ];
        for (name, value) in counters {
            metrics::counter!(name, &[namespace()]).absolute(value);
        }
        for (tier, value) in [("l1", f.l1_hits), ("shared", f.shared_hits)] {
            let labels = [namespace(), ("tier", tier.to_owned())];
            metrics::counter!("memo_hits_total", &labels).absolute(value);
        }
        #[allow(clippy::cast_precision_loss)]
        for (name, value) in [
            ("memo_l1_entries", f.l1_entries),
            ("memo_l1_bytes", f.l1_bytes),
        ] {
            metrics::gauge!(name, &[namespace()]).set(value as f64);
        }
    }

    /// A body of `namespace` ran for `took`. A lookup of the histogram in
    /// the recorder per computation: nothing on a hit.
    pub(crate) fn computed(namespace: &str, took: std::time::Duration) {
        metrics::histogram!("memo_compute_seconds", "namespace" => namespace.to_owned())
            .record(took.as_secs_f64());
    }
}
