//! The `metrics` feature: `stats::export_metrics()` and the compute-time
//! histogram, read back through a real recorder. A binary of its own: the
//! recorder is the process's.
#![allow(missing_docs)]

use memo_core::{memoized, quickcache};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

#[quickcache(name = "metrics_tests::shared")]
fn shared(x: u32) -> u32 {
    x + 1
}

#[memoized]
fn local(x: u32) -> u32 {
    x * 2
}

type Series = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// Every series now (a snapshot drains the recorder's counters).
fn snapshot(snapshotter: &Snapshotter) -> Series {
    snapshotter.snapshot().into_vec()
}

/// The value of the series `name` whose labels include every one of
/// `labels`.
fn series<'s>(snapshot: &'s Series, name: &str, labels: &[(&str, &str)]) -> Option<&'s DebugValue> {
    snapshot
        .iter()
        .find(|(key, ..)| {
            let key = key.key();
            key.name() == name
                && labels.iter().all(|(k, v)| {
                    key.labels()
                        .any(|label| label.key() == *k && label.value().contains(v))
                })
        })
        .map(|(.., value)| value)
}

#[test]
fn the_stats_reach_a_metrics_recorder() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    assert_eq!(shared(1), 2);
    assert_eq!(shared(1), 2);
    assert_eq!(local(3), 6);
    assert_eq!(local(3), 6);
    assert_eq!(local(3), 6);
    memo_core::stats::export_metrics();

    let shared_ns = [("namespace", "metrics_tests::shared")];
    let now = snapshot(&snapshotter);
    let counter = |name, labels: &[(&str, &str)]| series(&now, name, labels);
    assert_eq!(
        counter("memo_misses_total", &shared_ns),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        counter("memo_hits_total", &[shared_ns[0], ("tier", "l1")]),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        counter("memo_stores_total", &shared_ns),
        Some(&DebugValue::Counter(1))
    );
    let local_ns = [("namespace", "metrics::local@")];
    assert_eq!(
        counter("memo_hits_total", &[local_ns[0], ("tier", "l1")]),
        Some(&DebugValue::Counter(2)),
        "#[memoized] too"
    );
    assert!(
        matches!(counter("memo_l1_entries", &local_ns), Some(DebugValue::Gauge(n)) if n.0 == 1.0)
    );
    match counter("memo_compute_seconds", &shared_ns) {
        Some(DebugValue::Histogram(samples)) => assert_eq!(samples.len(), 1, "one computation"),
        other => panic!("no compute-time histogram: {other:?}"),
    }
    assert_eq!(
        counter("memo_backend_errors_total", &[]),
        Some(&DebugValue::Counter(0))
    );

    // An export sets the counts as they are now.
    shared(2);
    memo_core::stats::export_metrics();
    let now = snapshot(&snapshotter);
    assert_eq!(
        series(&now, "memo_misses_total", &shared_ns),
        Some(&DebugValue::Counter(2))
    );
}
