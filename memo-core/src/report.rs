//! Failures, counted and reported: what `lock` and the tiers call when the
//! backend fails or a stored value does not decode, without reaching up
//! into `stats` (which reads the counts).
//!
//! A failing backend is reported through `tracing` at most once per
//! [`REPORT_INTERVAL`], with the number of failures since the last report, so
//! an outage costs a log line every few seconds rather than one per call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock;
use crate::Error;

/// Least time between two failure reports.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

static BACKEND_ERRORS: AtomicU64 = AtomicU64::new(0);
static DECODE_ERRORS: AtomicU64 = AtomicU64::new(0);
static UNREPORTED: AtomicU64 = AtomicU64::new(0);
static LAST_REPORT: AtomicU64 = AtomicU64::new(0);

/// A sync call of `namespace` is about to wait on a networked backend: if
/// it runs in a Tokio runtime's context, warn, once per process. On a
/// worker thread such a call stalls every task of that worker for as long
/// as the backend takes (up to the pool wait plus the connect and command
/// timeouts while it is slow). Tokio has no public way to tell a worker
/// from a `spawn_blocking` thread (both are in the runtime's context), so
/// a call made right, in `spawn_blocking`, is warned of too: once, and the
/// message says so.
pub(crate) fn blocking_in_runtime(namespace: &str) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if WARNED.load(Ordering::Relaxed) || !crate::runtime::in_tokio() {
        return;
    }
    if WARNED.swap(true, Ordering::Relaxed) {
        return;
    }
    tracing::warn!(
        target: "memo",
        namespace,
        "a sync #[quickcache] function waits on its backend inside a Tokio runtime: on a worker thread this blocks the worker's tasks for as long as the backend takes (up to the pool wait plus the connect and command timeouts when it is slow). Make the function `async fn`, or call it in `tokio::task::spawn_blocking` (where this warning, given once per process, is expected)"
    );
}

/// The embedded backend is about to be used because none was installed
/// (`name`: a named backend's, `None`: the default one): in a release build,
/// warn, since a service that forgot `set_backend` otherwise runs on a
/// per-process cache without a word. Called once per backend name, where
/// the implicit backend is made; an explicitly installed `MemoryBackend`
/// never gets here. `MEMO_WARN_EMBEDDED=1` warns in any build (a debug
/// build's CI checking its wiring), `=0` never.
pub(crate) fn implicit_backend(name: Option<&str>) {
    let wanted = match std::env::var_os("MEMO_WARN_EMBEDDED") {
        Some(value) => value != "0",
        None => !cfg!(debug_assertions),
    };
    if !wanted {
        return;
    }
    let (backend, install) = match name {
        Some(name) => (name, "memo_core::set_backend_named(name, ..)"),
        None => ("default", "memo_core::set_backend(..)"),
    };
    tracing::warn!(
        target: "memo",
        backend,
        "no backend installed, so cached functions use the embedded one: results and invalidations stay in this process, and no other process or machine shares them. Install the shared backend at start-up with {install} (e.g. memo_redis::RedisBackend::from_env()), or install memo_core::MemoryBackend explicitly if a per-process cache is what you want"
    );
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

/// Backend failures so far (see `stats::backend_errors`).
pub(crate) fn backend_errors() -> u64 {
    BACKEND_ERRORS.load(Ordering::Relaxed)
}

/// Values that did not decode so far (see `stats::decode_errors`).
pub(crate) fn decode_errors() -> u64 {
    DECODE_ERRORS.load(Ordering::Relaxed)
}
