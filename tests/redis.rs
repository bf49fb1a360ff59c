//! `#[quickcache]` on a real Redis: sharing between processes, coherent L1,
//! Redis failing, corrupt values, generations under eviction, Cluster and
//! Sentinel.
#![allow(missing_docs)]

mod support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memo_core::quickcache;
use memo_redis::RedisBackend;
use support::{exclusive, install, wait_until, RedisCluster, RedisSentinel, RedisServer, Worker};

/// `get_cached_value` reads another process's value without computing, and
/// `cache_key` names the key it is stored under.
#[test]
fn another_process_peeks_at_a_value_without_computing_it() {
    let server = RedisServer::start();
    let mut a = Worker::start(&server.url());
    let mut b = Worker::start(&server.url());
    assert_eq!(b.send("peek cold"), "none 0");
    assert_eq!(a.send("call cold"), format!("cold@{} 1", a.pid()));
    assert_eq!(
        b.send("peek cold"),
        format!("cold@{} 0", a.pid()),
        "read, not computed"
    );
    let key = b.send("key cold");
    assert_eq!(
        key,
        memo_core::key::entry_key_for("worker::compute", &(&"cold",)).unwrap()
    );
    let stored: Option<Vec<u8>> = redis::cmd("GET")
        .arg(&key)
        .query(&mut server.client())
        .unwrap();
    assert!(stored.is_some(), "the key is where the value is");
    assert_eq!(a.send("clear cold"), "ok");
    assert_eq!(b.send("peek cold"), "none 0");
}

/// `store_result = false`: the body runs at most once per key across
/// processes, whichever calls first; a clear lets it run again.
#[test]
fn store_result_false_runs_the_body_once_across_processes() {
    let server = RedisServer::start();
    let mut a = Worker::start(&server.url());
    let mut b = Worker::start(&server.url());
    // B calls while A's body still runs: A's claim, stored before its body
    // ran, keeps B's from running.
    let running = std::thread::spawn(move || (a.send("once job 600"), a));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(b.send("once job"), "0", "B saw A's claim");
    let (ran, mut a) = running.join().unwrap();
    assert_eq!(ran, "1");
    assert_eq!(a.send("once job"), "1");
    assert_eq!(b.send("once other"), "1", "another key is another job");
    let key = memo_core::key::entry_key_for("worker::once", &(&"job",)).unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query(&mut server.client())
        .unwrap();
    assert_eq!(b.send("once job"), "2", "gone: the next caller runs it");
    assert_eq!(a.send("once job"), "1");
}

/// `stale_on_error` across processes: past its `timeout`, A's value is
/// what B gets when B's body fails, not when it succeeds; a clear ends it.
#[test]
fn a_stale_value_from_another_process_stands_in_for_an_error() {
    let server = RedisServer::start();
    let mut a = Worker::start(&server.url());
    let mut b = Worker::start(&server.url());
    let from_a = format!("sku@{}", a.pid());
    assert_eq!(a.send("fetch sku ok"), from_a);
    assert_eq!(b.send("fetch sku fail"), from_a, "fresh: a hit");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        b.send("fetch sku fail"),
        from_a,
        "stale, in place of B's error"
    );
    assert_eq!(
        b.send("fetch sku fail"),
        from_a,
        "and again: nothing was stored"
    );
    assert_eq!(
        b.send("fetch sku ok"),
        format!("sku@{}", b.pid()),
        "stale: B computes"
    );
    assert_eq!(
        a.send("fetch sku fail"),
        format!("sku@{}", b.pid()),
        "fresh again"
    );
    let key = memo_core::key::entry_key_for("worker::fetch", &(&"sku",)).unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query(&mut server.client())
        .unwrap();
    assert_eq!(
        a.send("fetch sku fail"),
        "error: sku is down",
        "gone: no stale value"
    );
}

static PRICED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::priced", memoize_timeout = 0)]
fn priced(sku: u32) -> u32 {
    PRICED_RUNS.fetch_add(1, Ordering::SeqCst);
    sku * 10
}

/// `get_many` reads every entry in one round trip: behind a proxy that
/// holds each reply 100 ms, 30 stored values come back in well under the
/// 3 s that 30 reads would take; the values it does not find are computed
/// once each, in order.
#[test]
fn get_many_reads_every_entry_in_one_round_trip() {
    let _turn = exclusive();
    let server = RedisServer::start();
    let proxy = support::Proxy::start(server.port);
    install(RedisBackend::connect(&proxy.url()).unwrap());
    let stored: Vec<u32> = (0..30).collect();
    for &sku in &stored {
        priced(sku);
    }
    let runs = PRICED_RUNS.load(Ordering::SeqCst);
    proxy.delay_replies(100);
    let started = Instant::now();
    let got = priced::get_many(stored.clone());
    let took = started.elapsed();
    assert_eq!(got, stored.iter().map(|sku| sku * 10).collect::<Vec<_>>());
    assert_eq!(PRICED_RUNS.load(Ordering::SeqCst), runs, "every one a hit");
    assert!(
        took < Duration::from_millis(800),
        "one round trip, not 30: {took:?}"
    );
    proxy.delay_replies(0);
    assert_eq!(priced::get_many(vec![7, 31, 32, 31]), [70, 310, 320, 310]);
    assert_eq!(
        PRICED_RUNS.load(Ordering::SeqCst),
        runs + 2,
        "31 and 32 once each"
    );

    // The same for an `async fn`: its GETs go out at once.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for &sku in &stored {
            priced_async(sku).await;
        }
        let runs = PRICED_RUNS.load(Ordering::SeqCst);
        proxy.delay_replies(100);
        let started = Instant::now();
        let got = priced_async::get_many(stored.clone()).await;
        let took = started.elapsed();
        assert_eq!(got, stored.iter().map(|sku| sku * 100).collect::<Vec<_>>());
        assert_eq!(PRICED_RUNS.load(Ordering::SeqCst), runs, "every one a hit");
        assert!(
            took < Duration::from_millis(800),
            "one round trip, not 30: {took:?}"
        );
    });
}

#[quickcache(name = "redis_tests::priced_async", memoize_timeout = 0)]
async fn priced_async(sku: u32) -> u32 {
    PRICED_RUNS.fetch_add(1, Ordering::SeqCst);
    sku * 100
}

/// `get_many` in one process reads what another stored, and computes the
/// rest once.
#[test]
fn get_many_reads_another_process_values() {
    let server = RedisServer::start();
    let mut a = Worker::start(&server.url());
    let mut b = Worker::start(&server.url());
    assert_eq!(a.send("call x"), format!("x@{} 1", a.pid()));
    assert_eq!(
        b.send("many x y x"),
        format!("x@{a} y@{b} x@{a} 1", a = a.pid(), b = b.pid())
    );
    assert_eq!(
        a.send("many y x"),
        format!("y@{b} x@{a} 1", a = a.pid(), b = b.pid())
    );
}

static ON_DEFAULT_RUNS: AtomicUsize = AtomicUsize::new(0);
static ON_REPORTS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::on_default", memoize_timeout = 60)]
fn on_default(x: u32) -> u32 {
    ON_DEFAULT_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[quickcache(
    name = "redis_tests::on_reports",
    backend = "reports",
    memoize_timeout = 60
)]
fn on_reports(x: u32) -> u32 {
    ON_REPORTS_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

/// `backend = "reports"`: the function's entries live in its own backend,
/// and that backend's channel gates its L1 alone: silenced, it bypasses
/// the L1 of its functions within the staleness bound, while the default
/// backend's functions keep theirs.
#[test]
fn a_named_backend_holds_its_entries_and_gates_its_own_l1() {
    let _turn = exclusive();
    let (main, reports) = (RedisServer::start(), RedisServer::start());
    let proxy = support::Proxy::start(reports.port);
    install(RedisBackend::connect(&main.url()).unwrap());
    let named = RedisBackend::connect(&proxy.url()).unwrap();
    wait_until(Duration::from_secs(10), "the reports channel", || {
        named.is_subscribed()
    });
    memo_core::set_backend_named("reports", named);
    assert_eq!((on_default(1), on_reports(1)), (1, 1));
    let exists = |server: &RedisServer, key: &str| -> bool {
        redis::cmd("EXISTS")
            .arg(key)
            .query(&mut server.client())
            .unwrap()
    };
    let (on_main, on_named) = (
        on_default::cache_key(1).unwrap(),
        on_reports::cache_key(1).unwrap(),
    );
    assert!(exists(&main, &on_main) && !exists(&reports, &on_main));
    assert!(exists(&reports, &on_named) && !exists(&main, &on_named));

    proxy.black_hole();
    std::thread::sleep(Duration::from_millis(400));
    let (default_runs, reports_runs) = (
        ON_DEFAULT_RUNS.load(Ordering::SeqCst),
        ON_REPORTS_RUNS.load(Ordering::SeqCst),
    );
    assert_eq!(on_default(1), 1);
    assert_eq!(
        ON_DEFAULT_RUNS.load(Ordering::SeqCst),
        default_runs,
        "the default backend's L1 still serves"
    );
    assert_eq!(on_reports(1), 1);
    assert_eq!(
        ON_REPORTS_RUNS.load(Ordering::SeqCst),
        reports_runs + 1,
        "the silent backend's L1 is bypassed: computed"
    );
    memo_core::set_backend_named("reports", memo_core::MemoryBackend::new());
}

/// Two processes share a named backend: one's value is the other's hit,
/// and one's `set_cached_value` reaches the other's L1 within the bound.
#[test]
fn processes_share_a_named_backend_and_its_invalidations() {
    let (main, reports) = (RedisServer::start(), RedisServer::start());
    let (main_url, reports_url) = (main.url(), reports.url());
    let mut a = Worker::start_with(&[&main_url, &reports_url]);
    let mut b = Worker::start_with(&[&main_url, &reports_url]);
    assert_eq!(a.send("report q1"), format!("q1@{} 1", a.pid()));
    assert_eq!(b.send("report q1"), format!("q1@{} 0", a.pid()), "shared");
    let key = memo_core::key::entry_key_for("worker::report", &(&"q1",)).unwrap();
    let stored: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query(&mut reports.client())
        .unwrap();
    assert!(stored, "in the reports server");
    assert_eq!(a.send("set-report q1 fresh"), "ok");
    let start = Instant::now();
    loop {
        let reply = b.send("report q1");
        if reply.starts_with("fresh ") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "B still served {reply:?} after {:?}",
            start.elapsed()
        );
    }
}

/// A process that `configure`d a function off neither reads nor stores its
/// entries; the others share theirs as before.
#[test]
fn a_process_configured_off_neither_reads_nor_stores() {
    let server = RedisServer::start();
    let mut on = Worker::start(&server.url());
    let mut off = Worker::start(&server.url());
    assert_eq!(off.send("configure-off worker::compute"), "ok");
    assert_eq!(on.send("call seen"), format!("seen@{} 1", on.pid()));
    assert_eq!(
        off.send("call seen"),
        format!("seen@{} 1", off.pid()),
        "computed, not read"
    );
    assert_eq!(off.send("call fresh"), format!("fresh@{} 2", off.pid()));
    assert_eq!(
        on.send("call fresh"),
        format!("fresh@{} 2", on.pid()),
        "off stored nothing"
    );
}

#[test]
fn two_processes_share_results() {
    let server = RedisServer::start();
    let mut a = Worker::start(&server.url());
    let mut b = Worker::start(&server.url());
    let computed = a.send("call shared");
    assert_eq!(computed, format!("shared@{} 1", a.pid()));
    // B reads A's value and never runs the body.
    assert_eq!(b.send("call shared"), format!("shared@{} 0", a.pid()));
    assert_eq!(b.send("call shared"), format!("shared@{} 0", a.pid()));
}

/// Waits for `b` to answer `expected` for `call ARG`, within `bound` of now.
fn served_within(b: &mut Worker, arg: &str, expected: &str, bound: Duration) {
    let start = Instant::now();
    loop {
        let reply = b.send(&format!("call {arg}"));
        let value = reply.split(' ').next().unwrap_or_default().to_owned();
        if value == expected {
            return;
        }
        assert!(
            start.elapsed() < bound,
            "process B still served {value:?} {:?} after the change (bound {bound:?})",
            start.elapsed()
        );
    }
}

#[test]
fn invalidations_reach_the_other_process_l1_within_100ms() {
    let server = RedisServer::start();
    let mut a = Worker::start(&server.url());
    let mut b = Worker::start(&server.url());
    let bound = Duration::from_millis(100);
    let own = format!("x@{}", b.pid());

    // B holds the value in L1 (memoize_timeout 600 s).
    assert_eq!(b.send("call x"), format!("x@{} 1", b.pid()));
    assert_eq!(b.send("call x"), format!("x@{} 1", b.pid()));

    // set_cached_value in A: B serves the new value within the bound.
    assert_eq!(a.send("set x primed"), "ok");
    served_within(&mut b, "x", "primed", bound);

    // clear in A: B recomputes within the bound.
    assert_eq!(a.send("clear x"), "ok");
    served_within(&mut b, "x", &own, bound);

    // invalidate in A: every entry, B recomputes within the bound.
    assert_eq!(a.send("set x again"), "ok");
    served_within(&mut b, "x", "again", bound);
    assert_eq!(a.send("invalidate"), "ok");
    served_within(&mut b, "x", &own, bound);
}

#[test]
fn invalidate_reaches_a_process_that_knows_the_generation_within_100ms() {
    let server = RedisServer::start();
    let mut a = Worker::start(&server.url());
    let mut b = Worker::start(&server.url());
    // B computes and learns the generation; A reads B's entry from Redis.
    assert_eq!(b.send("shared y"), format!("y@{} 1", b.pid()));
    assert_eq!(a.send("shared y"), format!("y@{} 0", b.pid()));
    assert_eq!(a.send("invalidate-shared"), "ok");
    let start = Instant::now();
    loop {
        let reply = a.send("shared y");
        if reply == format!("y@{} 1", a.pid()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "A still reads the old entry: {reply}"
        );
    }
    // B knew the old generation and holds an old entry for `z` in Redis: it
    // must stop trusting that generation within the bound and recompute.
    assert_eq!(b.send("shared z"), format!("z@{} 2", b.pid()));
    assert_eq!(a.send("invalidate-shared"), "ok");
    let start = Instant::now();
    loop {
        let reply = b.send("shared z");
        if reply == format!("z@{} 3", b.pid()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "B still serves the old entry: {reply}"
        );
    }
}

#[test]
fn while_the_channel_is_down_l1_is_bypassed_and_flushed_when_back() {
    let mut server = RedisServer::start();
    let mut b = Worker::start(&server.url());
    assert_eq!(b.send("call w"), format!("w@{} 1", b.pid()));
    assert_eq!(b.send("call w"), format!("w@{} 1", b.pid()), "an L1 hit");

    // Redis gone: B cannot hear invalidations, so it serves nothing from L1
    // (it computes; Redis is down too).
    server.kill();
    support::wait_until(Duration::from_secs(5), "B to stop serving from L1", || {
        b.send("call w") != format!("w@{} 1", b.pid())
    });

    // Back: caching resumes, from a flushed L1.
    server.restart();
    let runs = |reply: &str| reply.rsplit(' ').next().unwrap().parse::<usize>().unwrap();
    support::wait_until(Duration::from_secs(10), "caching to resume", || {
        let first = runs(&b.send("call w"));
        first == runs(&b.send("call w"))
    });
}

static VERSION: AtomicU64 = AtomicU64::new(1);
static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::versioned", memoize_timeout = 0)]
fn versioned(x: u64) -> (u64, u64) {
    FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
    (x, VERSION.load(Ordering::SeqCst))
}

#[test]
fn redis_killed_and_restarted() {
    let _turn = exclusive();
    let mut server = RedisServer::start();
    let backend = RedisBackend::connect(&server.url()).unwrap();
    install(backend.clone());
    assert_eq!(versioned(1).0, 1);
    let runs = FLAKY_RUNS.load(Ordering::SeqCst);
    assert_eq!(versioned(1).0, 1);
    assert_eq!(FLAKY_RUNS.load(Ordering::SeqCst), runs, "a Redis hit");

    server.kill();
    let start = Instant::now();
    for x in 0..20 {
        assert_eq!(versioned(x).0, x, "computed while Redis is down");
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "20 calls took {:?}",
        start.elapsed()
    );
    assert!(memo_core::stats::backend_errors() > 0);
    assert!(
        backend.is_circuit_open(),
        "20 failures and the breaker is closed"
    );

    server.restart();
    caching_resumes(&FLAKY_RUNS, || {
        versioned(77);
    });
}

/// Waits (up to 10 s) until a second `call` runs no body: served from Redis.
fn caching_resumes(runs: &AtomicUsize, mut call: impl FnMut()) {
    wait_until(
        Duration::from_secs(10),
        "caching to resume after the restart",
        || {
            call();
            let before = runs.load(Ordering::SeqCst);
            call();
            runs.load(Ordering::SeqCst) == before
        },
    );
}

#[test]
fn corrupt_values_are_recomputed_and_overwritten() {
    let _turn = exclusive();
    let server = RedisServer::start();
    install(RedisBackend::connect(&server.url()).unwrap());
    let key = memo_core::key::entry_key_for("redis_tests::versioned", &(&9u64,)).unwrap();
    let mut redis = server.client();
    for garbage in [
        &b""[..],
        b"\x01",
        b"garbage that is no envelope at all",
        &[0xff; 64],
    ] {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(garbage)
            .query(&mut redis)
            .unwrap();
        let runs = FLAKY_RUNS.load(Ordering::SeqCst);
        assert_eq!(versioned(9).0, 9);
        assert_eq!(
            FLAKY_RUNS.load(Ordering::SeqCst),
            runs + 1,
            "garbage {garbage:?} is a miss"
        );
        assert_eq!(versioned(9).0, 9);
        assert_eq!(
            FLAKY_RUNS.load(Ordering::SeqCst),
            runs + 1,
            "overwritten with a good value"
        );
    }
}

#[test]
fn old_entries_never_return_when_the_generation_is_lost() {
    let _turn = exclusive();
    let server =
        RedisServer::start_with(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    install(RedisBackend::connect(&server.url()).unwrap());
    let mut redis = server.client();
    let generation_key = "memo:g:redis_tests::versioned";

    // Entries of version 1 on keys 0..50, then an invalidation: version 1
    // is old now. Version 2 goes on other keys, so the entries of version
    // 1 stay stored, hidden only by their generation.
    VERSION.store(1, Ordering::SeqCst);
    for x in 0..50 {
        assert_eq!(versioned(x), (x, 1));
    }
    versioned::invalidate().unwrap();
    VERSION.store(2, Ordering::SeqCst);
    for x in 100..150 {
        assert_eq!(versioned(x), (x, 2));
    }

    // The generation key deleted (as an expiry or a restart would): entries
    // of version 1 must not come back, in this process or in a fresh one
    // (a generation made again as the same token, a counter say, would
    // bring them back).
    let _: () = redis::cmd("DEL")
        .arg(generation_key)
        .query(&mut redis)
        .unwrap();
    VERSION.store(3, Ordering::SeqCst);
    for x in 0..50 {
        assert_ne!(
            versioned(x).1,
            1,
            "an entry of an invalidated generation came back"
        );
    }
    let mut fresh = Worker::start(&server.url());
    assert!(fresh.send("call after-loss").starts_with("after-loss@"));

    // Real eviction: fill memory until the generation key is evicted.
    versioned::invalidate().unwrap();
    VERSION.store(4, Ordering::SeqCst);
    for x in 0..50 {
        assert_eq!(versioned(x), (x, 4));
    }
    versioned::invalidate().unwrap();
    VERSION.store(5, Ordering::SeqCst);
    let filler = vec![b'x'; 64 * 1024];
    let mut i = 0u64;
    while redis::cmd("EXISTS")
        .arg(generation_key)
        .query::<bool>(&mut redis)
        .unwrap()
    {
        let _: () = redis::cmd("SET")
            .arg(format!("filler:{i}"))
            .arg(&filler[..])
            .query(&mut redis)
            .unwrap();
        i += 1;
        assert!(i < 10_000, "the generation key was never evicted");
    }
    for x in 0..50 {
        let (_, version) = versioned(x);
        assert!(
            version == 5,
            "an entry of version {version} came back after eviction"
        );
    }
}

static CLUSTER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::spread", memoize_timeout = 0)]
fn spread(x: u64) -> u64 {
    CLUSTER_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 2
}

#[test]
fn cluster_round_trips_spread_entries_and_invalidate_across_processes() {
    let _turn = exclusive();
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    let nodes: Vec<&str> = urls.iter().map(String::as_str).collect();
    install(RedisBackend::cluster(&nodes).build().unwrap());

    for x in 0..60 {
        assert_eq!(spread(x), x * 2);
    }
    let runs = CLUSTER_RUNS.load(Ordering::SeqCst);
    for x in 0..60 {
        assert_eq!(spread(x), x * 2);
    }
    assert_eq!(CLUSTER_RUNS.load(Ordering::SeqCst), runs, "cluster hits");
    // One get_many over entries on every node: the cluster pipeline fans out.
    let all: Vec<u64> = (0..60).collect();
    let doubled: Vec<u64> = all.iter().map(|x| x * 2).collect();
    let errors = || {
        memo_core::stats::functions()
            .into_iter()
            .find(|f| f.namespace == "redis_tests::spread")
            .map_or(0, |f| f.errors)
    };
    let errors_before = errors();
    assert_eq!(spread::get_many(all), doubled);
    assert_eq!(
        CLUSTER_RUNS.load(Ordering::SeqCst),
        runs,
        "get_many hits on every node"
    );
    assert_eq!(errors(), errors_before, "the batched read itself succeeded");
    for node in &cluster.nodes {
        let keys: u64 = redis::cmd("DBSIZE").query(&mut node.client()).unwrap();
        assert!(
            keys > 5,
            "node {} holds {keys} keys: entries not spread",
            node.port
        );
    }
    spread::invalidate().unwrap();
    spread(1);
    assert_eq!(CLUSTER_RUNS.load(Ordering::SeqCst), runs + 1);

    // Two worker processes on the cluster: sharing and coherent L1.
    let target = format!("cluster:{}", urls.join(","));
    let mut a = Worker::start(&target);
    let mut b = Worker::start(&target);
    assert_eq!(a.send("call c"), format!("c@{} 1", a.pid()));
    assert_eq!(b.send("call c"), format!("c@{} 0", a.pid()));
    assert_eq!(a.send("set c fresh"), "ok");
    served_within(&mut b, "c", "fresh", Duration::from_millis(100));
}

static SENTINEL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::through_sentinel", memoize_timeout = 0)]
fn through_sentinel(x: u64) -> u64 {
    SENTINEL_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn sentinel_round_trip() {
    let _turn = exclusive();
    let sentinel = RedisSentinel::start();
    let url = sentinel.sentinel_url();
    install(
        RedisBackend::sentinel(RedisSentinel::SERVICE, &[url.as_str()])
            .build()
            .unwrap(),
    );
    assert_eq!(through_sentinel(1), 2);
    assert_eq!(through_sentinel(1), 2);
    assert_eq!(SENTINEL_RUNS.load(Ordering::SeqCst), 1);
    let stored: u64 = redis::cmd("DBSIZE")
        .query(&mut sentinel.master.client())
        .unwrap();
    assert!(
        stored >= 2,
        "the entry and its generation live on the master"
    );
}

#[test]
fn unix_socket_urls_and_sync_calls_inside_tokio() {
    let _turn = exclusive();
    let dir = std::env::temp_dir().join(format!("memo-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("redis.sock");
    let socket_arg = socket.to_str().unwrap().to_owned();
    let _server =
        RedisServer::start_with(&["--unixsocket", &socket_arg, "--unixsocketperm", "700"]);
    install(RedisBackend::connect(&format!("unix://{socket_arg}?db=3")).unwrap());

    // A sync cached function called from async code on a tokio runtime: no
    // nested-runtime panic, no hop through the runtime.
    let runtime = two_workers();
    let (first, second) = runtime.block_on(async {
        let first = tokio::spawn(async { through_sentinel(40) }).await.unwrap();
        (first, through_sentinel(40))
    });
    assert_eq!((first, second), (41, 41));
    let mut redis = redis::Client::open(format!("unix://{socket_arg}?db=3").as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let stored: u64 = redis::cmd("DBSIZE").query(&mut redis).unwrap();
    assert!(stored >= 2, "stored in db 3 through the unix socket");
    let _ = std::fs::remove_dir_all(&dir);
}

static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::async_fetch", memoize_timeout = 0)]
async fn async_fetch(x: u64) -> u64 {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    x * 3
}

#[test]
fn async_functions_on_redis_share_one_multiplexed_connection() {
    let _turn = exclusive();
    let server = RedisServer::start();
    install(RedisBackend::connect(&server.url()).unwrap());
    let runtime = two_workers();
    let commands_before = redis_stat(&server, "total_commands_processed");
    runtime.block_on(async {
        // 256 tasks on a cold key: one computation, one store.
        let tasks: Vec<_> = (0..256).map(|_| tokio::spawn(async_fetch(5))).collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 15);
        }
        assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 1);
    });
    // One leader's round trips (generation and entry, then the store), not
    // one per task; the rest is this test's INFO and the subscriber's PINGs.
    let commands = redis_stat(&server, "total_commands_processed") - commands_before;
    assert!(
        commands <= 12,
        "{commands} commands for 256 callers of one key"
    );
    runtime.block_on(async {
        // Hits come from Redis (L1 is off) without running the body.
        for _ in 0..10 {
            assert_eq!(async_fetch(5).await, 15);
        }
        assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 1);
        async_fetch::invalidate().await.unwrap();
        assert_eq!(async_fetch(5).await, 15);
        assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 2);
    });
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut server.client())
        .unwrap();
    // The multiplexed connection, the subscriber, our inspection connection,
    // and a sync one at most: not one per task.
    assert!(clients.lines().count() <= 6, "{clients}");

    // Frozen Redis: async calls still finish quickly.
    server.freeze();
    let start = Instant::now();
    runtime.block_on(async {
        for x in 0..20 {
            assert_eq!(async_fetch(100 + x).await, (100 + x) * 3);
        }
    });
    server.thaw();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

static RESTART_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::async_across_restart", memoize_timeout = 0)]
async fn async_across_restart(x: u64) -> u64 {
    RESTART_RUNS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

/// Many tasks on two worker threads, so each thread holds spare handles on
/// the multiplexed connection; after Redis dies and comes back, no call uses
/// a handle of the dead connection for long, and caching resumes.
#[test]
fn async_calls_recover_after_redis_restarts() {
    let _turn = exclusive();
    let mut server = RedisServer::start();
    install(RedisBackend::connect(&server.url()).unwrap());
    let runtime = two_workers();
    let burst = |base: u64| {
        runtime.block_on(async {
            let tasks: Vec<_> = (0..64)
                .map(|t| tokio::spawn(async_across_restart(base + t % 8)))
                .collect();
            for (t, task) in tasks.into_iter().enumerate() {
                assert_eq!(task.await.unwrap(), base + t as u64 % 8 + 1);
            }
        })
    };
    burst(0);
    burst(0);
    let runs = RESTART_RUNS.load(Ordering::SeqCst);
    burst(0);
    assert_eq!(RESTART_RUNS.load(Ordering::SeqCst), runs, "Redis hits");

    server.kill();
    let start = Instant::now();
    burst(100);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    server.restart();
    caching_resumes(&RESTART_RUNS, || burst(200));
}

#[quickcache(name = "redis_tests::pooled", memoize_timeout = 0)]
fn pooled(x: u64) -> u64 {
    x * 5
}

/// A counter from `INFO stats`.
fn redis_stat(server: &RedisServer, name: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut server.client())
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

/// 32 threads on a pool of 4: they take turns on 4 connections instead of
/// opening and closing one per call beyond the idle ones.
#[test]
fn many_threads_share_the_bounded_pool() {
    let _turn = exclusive();
    let server = RedisServer::start();
    install(
        RedisBackend::builder(&server.url())
            .pool_size(4)
            .build()
            .unwrap(),
    );
    for x in 0..8 {
        pooled(x);
    }
    let before = redis_stat(&server, "total_connections_received");
    std::thread::scope(|s| {
        for t in 0..32 {
            s.spawn(move || {
                for i in 0..100 {
                    let x = (t + i) % 8;
                    assert_eq!(pooled(x), x * 5);
                }
            });
        }
    });
    // Our inspection connection is one; the pool may have opened up to 4.
    let opened = redis_stat(&server, "total_connections_received") - before;
    assert!(opened <= 1 + 4, "{opened} connections opened");
}

static BATCHED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::batched", memoize_timeout = 0)]
async fn batched(x: u64) -> String {
    BATCHED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("value of {x}")
}

/// A counter of one command from `INFO commandstats` (0 if never called).
fn command_calls(server: &RedisServer, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut server.client())
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix)?.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

/// Stores a value for every key of `0..512` that `read_concurrently` reads.
fn fill(runtime: &tokio::runtime::Runtime) {
    runtime.block_on(async {
        for x in 0..512 {
            batched(x).await;
        }
    });
}

/// `tasks` tasks, each reading `per_task` keys of `0..512`: every read gets
/// its own key's value, from Redis, within 10 s.
fn read_concurrently(runtime: &tokio::runtime::Runtime, tasks: u64, per_task: u64) {
    let runs = BATCHED_RUNS.load(Ordering::SeqCst);
    read_keys_below(512, runtime, tasks, per_task);
    assert_eq!(BATCHED_RUNS.load(Ordering::SeqCst), runs, "all hits");
}

/// `tasks` tasks, each reading `per_task` keys of `0..end`: every read gets
/// its own key's value, from Redis or computed, within 10 s.
fn read_keys_below(end: u64, runtime: &tokio::runtime::Runtime, tasks: u64, per_task: u64) {
    let reads = async {
        let tasks: Vec<_> = (0..tasks)
            .map(|t| {
                tokio::spawn(async move {
                    for i in 0..per_task {
                        let x = (t * 7 + i * 13) % end;
                        assert_eq!(batched(x).await, format!("value of {x}"));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    };
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), reads)
            .await
            .expect("every read answered within 10 s");
    });
}

/// Async reads beyond the few on the wire queue and go out as one `MGET`
/// per batch; each caller gets the value of its own key. With batching off,
/// every read is a `GET`.
#[test]
fn concurrent_async_reads_are_batched_and_each_gets_its_own_value() {
    let _turn = exclusive();
    let server = RedisServer::start();
    install(RedisBackend::connect(&server.url()).unwrap());
    let runtime = one_thread();
    fill(&runtime);
    let (gets, mgets) = (
        command_calls(&server, "get"),
        command_calls(&server, "mget"),
    );
    read_concurrently(&runtime, 256, 8);
    let (gets, mgets) = (
        command_calls(&server, "get") - gets,
        command_calls(&server, "mget") - mgets,
    );
    assert!(mgets >= 1, "no MGET for 2048 concurrent reads");
    assert!(
        gets + mgets <= 2048 / 8,
        "{gets} GETs and {mgets} MGETs for 2048 reads"
    );

    install(
        RedisBackend::builder(&server.url())
            .batch_reads(false)
            .build()
            .unwrap(),
    );
    runtime.block_on(async { batched(0).await });
    let mgets = command_calls(&server, "mget");
    read_concurrently(&runtime, 64, 4);
    assert_eq!(command_calls(&server, "mget"), mgets, "batching is off");
}

/// Callers cancelled while their read is queued or on the wire, and a
/// flusher that dies with its runtime while its `MGET` is on the wire,
/// leave nothing stuck: reads on another runtime are served, batched.
#[test]
fn cancelled_reads_and_a_dead_flusher_leave_nothing_stuck() {
    let _turn = exclusive();
    let server = RedisServer::start();
    // A long command timeout: a queued read that had to wait it out (twice)
    // for a flusher that is gone would show in the time the reads take.
    let backend = RedisBackend::builder(&server.url())
        .command_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    install(backend.clone());
    let first = one_thread();
    first.block_on(async {
        for x in 0..512 {
            batched(x).await;
        }
        // Queued reads cancelled at once (a zero timeout polls each once).
        let reads: Vec<_> = (0..64)
            .map(|x| tokio::time::timeout(Duration::ZERO, batched(x)))
            .collect();
        for read in reads {
            let _ = read.await;
        }
    });
    read_concurrently(&first, 64, 4);

    // Redis stops answering; reads pile up on the wire and in the queue,
    // then their runtime (the flusher's too) goes away mid-read.
    server.freeze();
    first.block_on(async {
        for t in 0..64 {
            tokio::spawn(batched(t));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    });
    drop(first);
    server.thaw();
    wait_until(Duration::from_secs(10), "the invalidation channel", || {
        backend.is_subscribed()
    });

    let second = one_thread();
    let mgets = command_calls(&server, "mget");
    let start = Instant::now();
    second.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), async {
            // The first read finds the old connection dead and reconnects.
            batched(1).await;
        })
        .await
        .expect("a read after the runtime died");
    });
    read_concurrently(&second, 64, 4);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}: a read waited for the dead flusher",
        start.elapsed()
    );
    assert!(command_calls(&server, "mget") > mgets, "batching resumed");
}

/// A flusher whose one-thread runtime is no longer driven (its `block_on`
/// returned with the flusher's `MGET` on the wire) holds reads on another
/// runtime up for a bounded time, and a flusher there takes over.
#[test]
fn a_flusher_on_an_idle_runtime_holds_no_one_up() {
    let _turn = exclusive();
    let server = RedisServer::start();
    let backend = RedisBackend::connect(&server.url()).unwrap();
    install(backend.clone());
    let idle = one_thread();
    fill(&idle);
    server.freeze();
    idle.block_on(async {
        for t in 448..512 {
            tokio::spawn(batched(t));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    });
    // `idle` lives on, undriven: its reads, its flusher and the connection
    // it made (its driver task runs there) are stuck. So are its callers'
    // single flights: the other runtime reads other keys, since a follower
    // waits for its leader however long that takes.
    server.thaw();
    wait_until(Duration::from_secs(10), "the invalidation channel", || {
        backend.is_subscribed()
    });
    let other = one_thread();
    let start = Instant::now();
    read_keys_below(448, &other, 64, 4);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let (runs, mgets) = (
        &BATCHED_RUNS,
        std::cell::Cell::new(command_calls(&server, "mget")),
    );
    caching_resumes(runs, || read_keys_below(448, &other, 64, 4));
    assert!(
        command_calls(&server, "mget") > mgets.get(),
        "batching resumed"
    );
    drop(idle);
}

/// A task that stops being polled while it opens the async connection (its
/// one-thread runtime is not driven any more) keeps no other runtime's
/// calls from connecting for longer than the connect timeout.
#[test]
fn a_connect_stuck_on_an_idle_runtime_holds_no_one_up() {
    let _turn = exclusive();
    let server = RedisServer::start();
    install(RedisBackend::connect(&server.url()).unwrap());
    // The backend has no async connection yet: the first call opens it,
    // and stalls in the handshake while Redis is frozen.
    server.freeze();
    let idle = one_thread();
    idle.block_on(async {
        tokio::spawn(batched(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    });
    server.thaw();
    let other = one_thread();
    let start = Instant::now();
    other.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), batched(2))
            .await
            .expect("a call while another runtime's connect is stuck");
    });
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    drop(idle);
}

/// A one-thread Tokio runtime: its tasks run only inside its `block_on`.
fn one_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A Tokio runtime with two worker threads, as the async tests run on.
fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

static GATE: support::Gate = support::Gate::new();
static GATED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The worker's `compute` (same namespace and types), whose body here
/// reports and blocks at `GATE` when it is armed.
#[quickcache(name = "worker::compute", timeout = 300, memoize_timeout = 600)]
fn gated(arg: &str) -> String {
    GATED_RUNS.fetch_add(1, Ordering::SeqCst);
    GATE.pass(0);
    format!("{arg}@old")
}

/// Runs `gated(arg)` on a thread until its body blocks; returns the thread
/// and what lets the body go.
fn blocked_in_gated(
    arg: &'static str,
) -> (std::thread::JoinHandle<String>, std::sync::mpsc::Sender<()>) {
    let (read, go) = GATE.arm();
    let call = std::thread::spawn(move || gated(arg));
    read.recv_timeout(Duration::from_secs(10)).unwrap();
    (call, go)
}

/// Process A (this one) misses and computes from old data while process B
/// clears the key (or invalidates the function, or sets a value): A's value
/// never reaches the shared tier over B's write, nor A's L1 after B's
/// message, so both processes compute or serve the new value.
#[test]
fn a_value_read_before_another_process_invalidates_is_kept_nowhere() {
    let _turn = exclusive();
    let server = RedisServer::start();
    install(RedisBackend::connect(&server.url()).unwrap());
    let mut b = Worker::start(&server.url());
    let own = |b: &Worker, arg: &str| format!("{arg}@{}", b.pid());

    // A clear from B, while A computes: B's next call computes its own.
    let (call, go) = blocked_in_gated("c1");
    assert_eq!(b.send("clear c1"), "ok");
    go.send(()).unwrap();
    assert_eq!(call.join().unwrap(), "c1@old");
    assert_eq!(
        b.send("call c1"),
        format!("{} 1", own(&b, "c1")),
        "A's old value was stored over B's clear"
    );

    // A value set by B, while A computes: the set value stays.
    let (call, go) = blocked_in_gated("s1");
    assert_eq!(b.send("set s1 primed"), "ok");
    go.send(()).unwrap();
    call.join().unwrap();
    assert_eq!(b.send("call s1").split(' ').next(), Some("primed"));

    // No generation yet (a fresh Redis): A's miss makes one before it
    // computes, so B's invalidate hides A's value.
    redis::cmd("DEL")
        .arg("memo:g:worker::compute")
        .query::<()>(&mut server.client())
        .unwrap();
    install(RedisBackend::connect(&server.url()).unwrap());
    let (call, go) = blocked_in_gated("g1");
    assert_eq!(b.send("invalidate"), "ok");
    go.send(()).unwrap();
    call.join().unwrap();
    let runs = b.send("call g1");
    assert!(
        runs.starts_with(&own(&b, "g1")),
        "B was served A's value computed before the invalidate: {runs}"
    );
}

/// A's L1 after B's clear message: the fill that read before it is not
/// kept, however late its value arrives.
#[test]
fn a_fill_under_way_when_another_process_clears_is_not_kept_in_l1() {
    let _turn = exclusive();
    let server = RedisServer::start();
    install(RedisBackend::connect(&server.url()).unwrap());
    let mut b = Worker::start(&server.url());
    // A sentinel entry in A's L1, computed once.
    assert_eq!(gated("sentinel"), "sentinel@old");
    let sentinel_runs = GATED_RUNS.load(Ordering::SeqCst);

    let (call, go) = blocked_in_gated("l1");
    assert_eq!(b.send("clear l1"), "ok");
    assert_eq!(b.send("clear sentinel"), "ok");
    // Messages arrive in order: once the sentinel is gone from A's L1, so is
    // any chance for `l1`'s message to come after the fill.
    wait_until(Duration::from_secs(5), "B's clear message", || {
        gated("sentinel");
        GATED_RUNS.load(Ordering::SeqCst) > sentinel_runs
    });
    assert_eq!(
        b.send("call l1"),
        format!("l1@{} 1", b.pid()),
        "B computes: A stores nothing over B's tombstone"
    );
    go.send(()).unwrap();
    assert_eq!(call.join().unwrap(), "l1@old");
    assert_eq!(
        gated("l1"),
        format!("l1@{}", b.pid()),
        "A kept its fill in L1 after B's clear"
    );
}

/// The subscription of process A goes silent (a proxy black-holes every
/// connection of A's) just before process B clears a key A holds in L1:
/// the message never arrives, and A stops serving the old value within the
/// staleness bound (100 ms by default) all the same, because L1 is served
/// only while a recent ping proved delivery.
#[test]
fn a_black_holed_subscription_stops_l1_within_the_staleness_bound() {
    let _turn = exclusive();
    let server = RedisServer::start();
    let proxy = support::Proxy::start(server.port);
    install(RedisBackend::connect(&proxy.url()).unwrap());
    let mut b = Worker::start(&server.url());
    assert_eq!(b.send("call sb"), format!("sb@{} 1", b.pid()));
    let old = format!("sb@{}", b.pid());
    wait_until(Duration::from_secs(5), "A to read B's value", || {
        gated("sb") == old
    });
    let l1_hits = || {
        memo_core::stats::functions()
            .iter()
            .find(|f| f.namespace == "worker::compute")
            .map_or(0, |f| f.l1_hits)
    };
    let hits = l1_hits();
    assert_eq!(gated("sb"), old);
    assert_eq!(l1_hits(), hits + 1, "A serves the value from L1");

    proxy.black_hole();
    assert_eq!(b.send("clear sb"), "ok");
    let cleared = Instant::now();
    let mut last_old = None;
    loop {
        let call = Instant::now();
        let value = gated("sb");
        if value != old {
            break;
        }
        last_old = Some(call.duration_since(cleared));
        assert!(
            cleared.elapsed() < Duration::from_secs(5),
            "A served the old value for 5 s"
        );
    }
    let staleness = last_old.unwrap_or_default();
    assert!(
        staleness < Duration::from_millis(150),
        "A served the cleared value {staleness:?} after the clear (bound 100 ms)"
    );
}

/// What one call from one thread may take while Redis does not answer: the
/// connect timeout and the command timeout (500 + 200 ms by default; no
/// pool wait, the pool is not contended), with room for a loaded machine.
/// A connection's set-up used to take up to twice the connect timeout
/// (1.02-1.04 s for a call here).
const CALL_BOUND: Duration = Duration::from_millis(500 + 200 + 100);

static BOUNDED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "redis_tests::bounded", memoize_timeout = 0)]
fn bounded(x: u64) -> u64 {
    BOUNDED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[quickcache(name = "redis_tests::bounded_async", memoize_timeout = 0)]
async fn bounded_async(x: u64) -> u64 {
    x
}

/// Calls against a Redis that does not answer, sync and async: each
/// within `CALL_BOUND`; once the circuit breaker is open, a call costs
/// under a millisecond (but the probe it lets through every 250 ms or
/// more).
fn calls_stay_bounded(backend: &RedisBackend, what: &str) {
    let runtime = two_workers();
    let mut slowest = Duration::ZERO;
    let mut x = 0;
    while !backend.is_circuit_open() {
        x += 1;
        let start = Instant::now();
        assert_eq!(bounded(x), x);
        let sync_took = start.elapsed();
        let start = Instant::now();
        assert_eq!(runtime.block_on(bounded_async(x)), x);
        slowest = slowest.max(sync_took).max(start.elapsed());
        assert!(x < 20, "the breaker never opened ({what})");
    }
    assert!(slowest < CALL_BOUND, "a call took {slowest:?} ({what})");
    let mut quick = 0;
    for x in 0..50 {
        let start = Instant::now();
        assert_eq!(bounded(1000 + x), 1000 + x);
        let took = start.elapsed();
        assert!(
            took < CALL_BOUND,
            "a call took {took:?} with the breaker open ({what})"
        );
        quick += usize::from(took < Duration::from_millis(1));
    }
    assert!(
        quick >= 45,
        "{quick} of 50 calls under 1 ms with the breaker open ({what})"
    );
}

#[test]
fn every_call_is_bounded_while_redis_is_black_holed_or_frozen() {
    let _turn = exclusive();
    let server = RedisServer::start();
    let proxy = support::Proxy::start(server.port);
    let backend = RedisBackend::connect(&proxy.url()).unwrap();
    install(backend.clone());
    assert_eq!(bounded(0), 0);
    proxy.black_hole();
    calls_stay_bounded(&backend, "black-holed");

    let backend = RedisBackend::connect(&server.url()).unwrap();
    install(backend.clone());
    assert_eq!(bounded(0), 0);
    server.freeze();
    calls_stay_bounded(&backend, "frozen");
    server.thaw();
    caching_resumes(&BOUNDED_RUNS, || {
        bounded(7);
    });
}
