//! Single flight in one process, the dog-pile lock across processes, and
//! `memo_core::lock`.
#![allow(missing_docs)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use memo_core::{memoized, quickcache};
use support::{wait_until, RedisServer, Worker};

static MEMO_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoized]
fn slow_memo(x: u64) -> u64 {
    MEMO_RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    x
}

static QUICK_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(memoize_timeout = 0)]
fn slow_quick(x: u64) -> u64 {
    QUICK_RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(100));
    x
}

fn stampede(threads: usize, call: impl Fn() -> u64 + Sync) -> Vec<u64> {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    call()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    })
}

#[test]
fn thirty_two_threads_missing_one_key_run_the_body_once() {
    let values = stampede(32, || slow_memo(7));
    assert!(values.iter().all(|&v| v == 7));
    assert_eq!(MEMO_RUNS.load(Ordering::SeqCst), 1);

    let values = stampede(32, || slow_quick(7));
    assert!(values.iter().all(|&v| v == 7));
    assert_eq!(QUICK_RUNS.load(Ordering::SeqCst), 1);
}

#[memoized]
fn slow_per_key(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(100));
    x
}

#[test]
fn different_keys_do_not_wait_on_each_other() {
    let start = Instant::now();
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        for x in 100..108 {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                slow_per_key(x)
            });
        }
    });
    // Eight 100 ms bodies in parallel, not in a row.
    assert!(
        start.elapsed() < Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
}

static PANICS: AtomicUsize = AtomicUsize::new(0);
static PANICKY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(memoize_timeout = 0)]
fn panics_first(x: u64) -> u64 {
    PANICKY_RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(50));
    if PANICS.fetch_add(1, Ordering::SeqCst) == 0 {
        panic!("the first computation fails");
    }
    x
}

#[test]
fn a_panicking_body_releases_the_waiters_and_one_retries() {
    let barrier = Barrier::new(16);
    let results: Vec<std::thread::Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    panics_first(3)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let panicked = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(panicked, 1, "only the leader that panicked sees the panic");
    assert!(results.iter().flatten().all(|&v| v == 3));
    assert_eq!(
        PANICKY_RUNS.load(Ordering::SeqCst),
        2,
        "one failed run, one retry"
    );
    // Nothing poisoned: later calls hit.
    assert_eq!(panics_first(3), 3);
    assert_eq!(PANICKY_RUNS.load(Ordering::SeqCst), 2);
}

#[test]
fn lock_excludes_within_a_process_on_the_embedded_backend() {
    let inside = AtomicUsize::new(0);
    let max_inside = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let _guard = memo_core::lock("embedded-critical", Duration::from_secs(10)).unwrap();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                max_inside.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(10));
                inside.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(max_inside.load(Ordering::SeqCst), 1);
}

#[test]
fn three_processes_with_lock_compute_a_cold_key_once() {
    let server = RedisServer::start();
    let mut workers: Vec<Worker> = (0..3).map(|_| Worker::start(&server.url())).collect();
    for worker in &mut workers {
        worker.post("locked cold 300");
    }
    let replies: Vec<String> = workers.iter_mut().map(Worker::reply).collect();
    let runs: usize = replies
        .iter()
        .map(|r| r.rsplit(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(
        runs, 1,
        "the body ran {runs} times across processes: {replies:?}"
    );
    let values: Vec<&str> = replies
        .iter()
        .map(|r| r.split(' ').next().unwrap())
        .collect();
    assert!(values.windows(2).all(|w| w[0] == w[1]), "{values:?}");
}

#[test]
fn a_killed_lock_holder_blocks_others_no_longer_than_the_lock_ttl() {
    let server = RedisServer::start();
    let mut holder = Worker::start(&server.url());
    let mut other = Worker::start(&server.url());
    let entry = memo_core::key::entry_key_for("worker::locked", &(&"orphan",)).unwrap();
    let lock_key = entry.replacen(":v:", ":l:", 1);
    let mut redis = server.client();
    let lock_left = |redis: &mut redis::Connection| -> i64 {
        redis::cmd("PTTL").arg(&lock_key).query(redis).unwrap()
    };
    holder.post("locked orphan 60000");
    wait_until(
        Duration::from_secs(5),
        "the holder to take the lock",
        || lock_left(&mut redis) > 0,
    );
    holder.kill();
    let left = Duration::from_millis(lock_left(&mut redis).max(0) as u64);
    let start = Instant::now();
    let reply = other.send("locked orphan 10");
    let waited = start.elapsed();
    // lock_ttl is 2 s: the other waits for the lock to expire (it does not
    // compute while another holds it), then computes, and at most lock_ttl.
    assert!(
        waited + Duration::from_millis(150) >= left,
        "computed after {waited:?}, with the lock held {left:?} more"
    );
    assert!(waited < Duration::from_millis(3500), "waited {waited:?}");
    assert!(
        reply.starts_with(&format!("orphan@{} ", other.pid())),
        "{reply}"
    );
}

#[test]
fn memo_lock_excludes_across_two_processes() {
    let server = RedisServer::start();
    let mut a = Worker::start(&server.url());
    let mut b = Worker::start(&server.url());
    let mut intervals = Vec::new();
    for _ in 0..3 {
        a.post("critical shared-section 100");
        b.post("critical shared-section 100");
        for reply in [a.reply(), b.reply()] {
            let mut parts = reply.split(' ').map(|p| p.parse::<u128>().expect(&reply));
            intervals.push((parts.next().unwrap(), parts.next().unwrap()));
        }
    }
    intervals.sort_unstable();
    for pair in intervals.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "two holders overlapped: {pair:?}");
    }
}

static JOBS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[memo_core::quickcache(vary_on = [job], name = "tests::job", store_result = false, memoize_timeout = 0)]
fn run_job(job: &str) {
    let _ = job;
    JOBS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(20));
}

/// `store_result = false`: eight threads calling at once run the body
/// once, later calls not at all, and a clear lets it run again.
#[test]
fn store_result_false_runs_the_body_once_per_key() {
    let threads: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(|| run_job("nightly")))
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    run_job("nightly");
    assert_eq!(JOBS.load(std::sync::atomic::Ordering::SeqCst), 1);
    run_job::clear("nightly").unwrap();
    run_job("nightly");
    run_job("nightly");
    assert_eq!(JOBS.load(std::sync::atomic::Ordering::SeqCst), 2);
}
