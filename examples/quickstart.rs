//! Quickstart: `#[memoized]` and `#[quickcache]` on the embedded backend.
//!
//! Run with `cargo run --release --example quickstart`. It prints, for each
//! step, how many times the body ran and how long the calls took.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memo_core::{memoized, quickcache};
use serde::Serialize;

static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
}

/// Stands in for a database query: 20 ms.
#[quickcache(vary_on = [domain, user.id], timeout = 300, memoize_timeout = 10)]
fn dashboard(domain: &str, user: &User) -> String {
    LOOKUPS.fetch_add(1, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(20));
    format!("dashboard of {} on {domain}", user.name)
}

static FIBS: AtomicUsize = AtomicUsize::new(0);

#[memoized]
fn fib(n: u64) -> u64 {
    FIBS.fetch_add(1, Ordering::Relaxed);
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn timed<T>(label: &str, calls: u32, runs: &AtomicUsize, mut f: impl FnMut() -> T) -> T {
    let before = runs.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut last = None;
    for _ in 0..calls {
        last = Some(f());
    }
    let elapsed = start.elapsed();
    let ran = runs.load(Ordering::Relaxed) - before;
    println!(
        "{label:<44} calls {calls:>7}  body ran {ran:>3}  hits {:>7}  {:>10.1?} per call",
        calls as usize - ran.min(calls as usize),
        elapsed / calls
    );
    last.expect("at least one call")
}

fn main() {
    // The embedded backend on purpose: said explicitly, so a release build
    // does not warn that a shared backend was forgotten.
    memo_core::set_backend(memo_core::MemoryBackend::default());
    println!(
        "memo quickstart: embedded backend ({})\n",
        memo_core::backend::current().name()
    );
    let ada = User {
        id: 1,
        name: "ada".into(),
    };

    timed("quickcache: cold call (miss)", 1, &LOOKUPS, || {
        dashboard("example.org", &ada)
    });
    timed(
        "quickcache: warm calls (L1 hits)",
        100_000,
        &LOOKUPS,
        || dashboard("example.org", &ada),
    );
    dashboard::clear("example.org", &ada).expect("the embedded backend does not fail");
    timed(
        "quickcache: after clear (one miss)",
        1_000,
        &LOOKUPS,
        || dashboard("example.org", &ada),
    );
    dashboard::set_cached_value("example.org", &ada)
        .to("primed".into())
        .expect("the embedded backend does not fail");
    let primed = timed(
        "quickcache: after set_cached_value (hits)",
        1_000,
        &LOOKUPS,
        || dashboard("example.org", &ada),
    );
    println!("{:<44} {primed:?}", "  value served");
    dashboard::invalidate().expect("the embedded backend does not fail");
    timed(
        "quickcache: after invalidate (one miss)",
        1_000,
        &LOOKUPS,
        || dashboard("example.org", &ada),
    );

    let value = timed("memoized: fib(90), cold", 1, &FIBS, || fib(90));
    println!("{:<44} {value}", "  fib(90)");
    timed("memoized: fib(90), warm", 100_000, &FIBS, || fib(90));
}
