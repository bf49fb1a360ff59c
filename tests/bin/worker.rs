//! A process sharing a Redis backend, driven from stdin by the tests and by
//! hand (`cargo run -p memo-tests --bin memo-worker -- redis://127.0.0.1:6379/`).
//!
//! Commands, one per line: `call ARG` (prints `VALUE RUNS`: the value and how
//! many times this process ran the body), `clear ARG`, `invalidate`,
//! `set ARG VALUE`, `locked ARG MS` (a `lock = true` function whose body
//! sleeps MS ms; prints `VALUE RUNS`), `critical NAME MS` (holds
//! `memo_core::lock(NAME)` for MS ms; prints the start and end times in µs).

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memo_core::quickcache;

static RUNS: AtomicUsize = AtomicUsize::new(0);

static ONCE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "worker::once", vary_on = [arg], store_result = false, timeout = 300, memoize_timeout = 0)]
fn once(arg: &str, ms: u64) {
    let _ = arg;
    ONCE_RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(ms));
}

#[quickcache(name = "worker::compute", timeout = 300, memoize_timeout = 600)]
fn compute(arg: &str) -> String {
    RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{arg}@{}", std::process::id())
}

static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// L1 off: every call reads Redis (one GET while the generation is known).
#[quickcache(name = "worker::shared_only", memoize_timeout = 0)]
fn shared_only(arg: &str) -> String {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{arg}@{}", std::process::id())
}

static LOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Sleeps `ms` milliseconds; only one process computes a cold key.
#[quickcache(name = "worker::locked", vary_on = [arg], lock = true, lock_ttl = 2, memoize_timeout = 0)]
fn locked(arg: &str, ms: u64) -> String {
    LOCKED_RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(ms));
    format!("{arg}@{}", std::process::id())
}

/// `stale_on_error`: fresh for 300 ms, then kept 10 s to serve when the
/// body fails (`fetch ARG ok|fail`).
#[quickcache(name = "worker::fetch", vary_on = [arg], timeout = 0.3, memoize_timeout = 0, stale_on_error = 10)]
fn fetch(arg: &str, fail: bool) -> Result<String, String> {
    if fail {
        return Err(format!("{arg} is down"));
    }
    Ok(format!("{arg}@{}", std::process::id()))
}

static REPORT_RUNS: AtomicUsize = AtomicUsize::new(0);

/// On the backend named "reports" (the worker's second URL).
#[quickcache(
    name = "worker::report",
    backend = "reports",
    timeout = 300,
    memoize_timeout = 600
)]
fn report(arg: &str) -> String {
    REPORT_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{arg}@{}", std::process::id())
}

fn micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

fn main() {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".into());
    let backend = match target.strip_prefix("cluster:") {
        Some(nodes) => {
            let nodes: Vec<&str> = nodes.split(',').collect();
            memo_redis::RedisBackend::cluster(&nodes).build()
        }
        None => memo_redis::RedisBackend::connect(&target),
    }
    .expect("a valid Redis URL");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !backend.is_subscribed() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    memo_core::set_backend(backend);
    // A second URL: the backend named "reports" (`report ARG`).
    if let Some(url) = std::env::args().nth(2) {
        let reports = memo_redis::RedisBackend::connect(&url).expect("a valid Redis URL");
        while !reports.is_subscribed() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        memo_core::set_backend_named("reports", reports);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready").ok();
    out.flush().ok();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if let Some(args) = line.strip_prefix("many ") {
            // `many ARG...`: `compute::get_many`, the values then RUNS.
            let values = compute::get_many(args.split_whitespace().collect());
            let reply = format!("{} {}", values.join(" "), RUNS.load(Ordering::SeqCst));
            writeln!(out, "{reply}").ok();
            out.flush().ok();
            continue;
        }
        let mut words = line.split_whitespace();
        let reply = match (words.next(), words.next(), words.next()) {
            (Some("call"), Some(arg), None) => {
                let value = compute(arg);
                format!("{value} {}", RUNS.load(Ordering::SeqCst))
            }
            (Some("clear"), Some(arg), None) => outcome(compute::clear(arg)),
            (Some("report"), Some(arg), None) => {
                let value = report(arg);
                format!("{value} {}", REPORT_RUNS.load(Ordering::SeqCst))
            }
            (Some("set-report"), Some(arg), Some(value)) => {
                outcome(report::set_cached_value(arg).to(value.to_owned()))
            }
            (Some("fetch"), Some(arg), Some(how)) => match fetch(arg, how == "fail") {
                Ok(value) => value,
                Err(error) => format!("error: {error}"),
            },
            (Some("once"), Some(arg), ms) => {
                once(arg, ms.and_then(|ms| ms.parse().ok()).unwrap_or(0));
                ONCE_RUNS.load(Ordering::SeqCst).to_string()
            }
            (Some("configure-off"), Some(prefix), None) => {
                memo_core::configure(prefix, |c| c.enabled(false));
                "ok".into()
            }
            (Some("peek"), Some(arg), None) => {
                let value = compute::get_cached_value(arg).unwrap_or_else(|| "none".into());
                format!("{value} {}", RUNS.load(Ordering::SeqCst))
            }
            (Some("key"), Some(arg), None) => {
                compute::cache_key(arg).unwrap_or_else(|e| format!("error: {e}"))
            }
            (Some("shared"), Some(arg), None) => {
                let value = shared_only(arg);
                format!("{value} {}", SHARED_RUNS.load(Ordering::SeqCst))
            }
            (Some("invalidate-shared"), None, None) => outcome(shared_only::invalidate()),
            (Some("invalidate"), None, None) => outcome(compute::invalidate()),
            (Some("set"), Some(arg), Some(value)) => {
                outcome(compute::set_cached_value(arg).to(value.to_owned()))
            }
            (Some("locked"), Some(arg), Some(ms)) => {
                let value = locked(arg, ms.parse().unwrap_or(0));
                format!("{value} {}", LOCKED_RUNS.load(Ordering::SeqCst))
            }
            (Some("critical"), Some(name), Some(ms)) => {
                match memo_core::lock(name, Duration::from_secs(10)) {
                    Ok(guard) => {
                        let start = micros();
                        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                        let end = micros();
                        drop(guard);
                        format!("{start} {end}")
                    }
                    Err(error) => format!("error: {error}"),
                }
            }
            _ => format!("error: unknown command {line:?}"),
        };
        writeln!(out, "{reply}").ok();
        out.flush().ok();
    }
}

fn outcome(result: Result<(), memo_core::Error>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(error) => format!("error: {error}"),
    }
}
