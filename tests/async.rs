//! `async fn` under both attributes: single flight across tasks,
//! cancellation, async companions, non-`Send` bodies.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use memo_core::{memoized, quickcache, HasMemos, Memos};

static QUICK_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(memoize_timeout = 0)]
async fn fetch(id: u64, label: &str) -> String {
    QUICK_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    format!("{label}#{id}")
}

static MEMO_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoized]
async fn load(id: u64) -> Arc<String> {
    MEMO_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    Arc::new(format!("row {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_fifty_six_tasks_missing_one_key_run_the_body_once() {
    let tasks: Vec<_> = (0..256).map(|_| tokio::spawn(fetch(1, "a"))).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "a#1");
    }
    assert_eq!(QUICK_RUNS.load(Ordering::SeqCst), 1);

    let tasks: Vec<_> = (0..256).map(|_| tokio::spawn(load(1))).collect();
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.unwrap());
    }
    assert!(values.iter().all(|v| Arc::ptr_eq(v, &values[0])));
    assert_eq!(MEMO_RUNS.load(Ordering::SeqCst), 1);
}

static COMPANION_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(timeout = 30)]
async fn priced(sku: &str) -> u64 {
    COMPANION_RUNS.fetch_add(1, Ordering::SeqCst);
    sku.len() as u64
}

#[tokio::test]
async fn async_companions() {
    let runs = || COMPANION_RUNS.load(Ordering::SeqCst);
    assert_eq!(priced("abc").await, 3);
    assert_eq!(priced("abc").await, 3);
    assert_eq!(runs(), 1);
    priced::clear("abc").await.unwrap();
    assert_eq!(priced("abc").await, 3);
    assert_eq!(runs(), 2);
    priced::set_cached_value("abc").to(40).await.unwrap();
    assert_eq!(priced("abc").await, 40);
    assert_eq!(priced::refresh("abc").await, 3);
    assert_eq!(priced("abc").await, 3);
    assert_eq!(priced::uncached("abc").await, 3);
    assert_eq!(runs(), 4);
    priced::invalidate().await.unwrap();
    assert_eq!(priced("abc").await, 3);
    assert_eq!(runs(), 5);
}

static CANCELLED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(memoize_timeout = 0)]
async fn slow_once(x: u64) -> u64 {
    let run = CANCELLED_RUNS.fetch_add(1, Ordering::SeqCst);
    // The first run hangs (its caller gives up); the retry is quick.
    let pause = if run == 0 { 10_000 } else { 10 };
    tokio::time::sleep(Duration::from_millis(pause)).await;
    x
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_releases_its_followers() {
    let leader = tokio::spawn(slow_once(5));
    // Polls until the leader runs its body.
    while CANCELLED_RUNS.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let followers: Vec<_> = (0..8).map(|_| tokio::spawn(slow_once(5))).collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    for follower in followers {
        let value = tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .expect("followers are released when the leader is cancelled")
            .unwrap();
        assert_eq!(value, 5);
    }
    assert_eq!(
        CANCELLED_RUNS.load(Ordering::SeqCst),
        2,
        "the cancelled run and one retry"
    );
}

#[memoized]
async fn not_send(x: u32) -> u32 {
    // An `Rc` held across an await: the future is not `Send`, which the
    // attribute supports as rustc does (it runs where `!Send` futures run).
    let local = std::rc::Rc::new(x);
    tokio::task::yield_now().await;
    *local + 1
}

#[tokio::test]
async fn bodies_whose_futures_are_not_send() {
    let local = tokio::task::LocalSet::new();
    let value = local
        .run_until(async { not_send(1).await + not_send(1).await })
        .await;
    assert_eq!(value, 4);
}

#[derive(Default)]
struct Repo {
    prefix: String,
    memos: Memos,
    runs: AtomicUsize,
}

impl HasMemos for Repo {
    fn memos(&self) -> &Memos {
        &self.memos
    }
}

impl Repo {
    #[memoized]
    async fn name(&self, id: u32) -> String {
        self.runs.fetch_add(1, Ordering::SeqCst);
        format!("{}{id}", self.prefix)
    }

    #[quickcache(vary_on = [self.prefix, id])]
    async fn shared_name(&self, id: u32) -> String {
        format!("{}{id}", self.prefix)
    }
}

#[tokio::test]
async fn async_methods() {
    let repo = Repo {
        prefix: "r".into(),
        ..Default::default()
    };
    assert_eq!(repo.name(1).await, "r1");
    assert_eq!(repo.name(1).await, "r1");
    assert_eq!(repo.runs.load(Ordering::SeqCst), 1);
    repo.name_clear(1);
    assert_eq!(repo.name_refresh(1).await, "r1");
    assert_eq!(repo.name_uncached(2).await, "r2");
    assert_eq!(repo.shared_name(3).await, "r3");
    repo.shared_name_clear(3).await.unwrap();
    Repo::shared_name_invalidate().await.unwrap();
}

#[quickcache(memoize_timeout = 60)]
async fn counted_async(x: u64) -> u64 {
    x
}

/// As the sync test in `quickcache.rs`: one count per call, in its tier.
#[tokio::test]
async fn async_stats_count_each_call_once_in_the_tier_that_answered() {
    for x in [1, 1, 1, 2] {
        assert_eq!(counted_async(x).await, x);
    }
    let stats = memo_core::stats::functions();
    let f = stats
        .iter()
        .find(|f| f.namespace.contains("::counted_async@"))
        .unwrap();
    assert_eq!((f.l1_hits, f.shared_hits, f.misses), (2, 0, 2));
}

static SKIPPED_RUNS: AtomicUsize = AtomicUsize::new(0);

fn forced(_sku: &str, force: &bool) -> bool {
    *force
}

fn is_test_sku(sku: &str, _force: &bool) -> bool {
    sku.starts_with("test-")
}

#[quickcache(vary_on = [sku], skip = self::forced, unless = is_test_sku)]
async fn stock(sku: &str, force: bool) -> usize {
    let _ = (sku, force);
    SKIPPED_RUNS.fetch_add(1, Ordering::SeqCst)
}

/// `skip = path` (a predicate) refreshes from the call site and `unless`
/// bypasses, on an async function.
#[tokio::test]
async fn skip_and_unless_on_async_functions() {
    let first = stock("a", false).await;
    assert_eq!(stock("a", false).await, first);
    let refreshed = stock("a", true).await;
    assert_ne!(refreshed, first);
    assert_eq!(stock("a", false).await, refreshed, "the refresh was stored");
    assert_ne!(stock("test-a", false).await, stock("test-a", false).await);
}

#[tokio::test]
async fn get_cached_value_on_async_functions() {
    assert_eq!(priced::get_cached_value("peek").await, None);
    assert_eq!(priced("peek").await, 4);
    assert_eq!(priced::get_cached_value("peek").await, Some(4));
    assert!(priced::cache_key("peek").unwrap().contains("priced@"));
}

static ASYNC_JOBS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(vary_on = [job], store_result = false)]
async fn async_job(job: u64) {
    let _ = job;
    ASYNC_JOBS.fetch_add(1, Ordering::SeqCst);
}

#[tokio::test]
async fn store_result_false_on_async_functions() {
    for _ in 0..3 {
        async_job(1).await;
    }
    assert_eq!(ASYNC_JOBS.load(Ordering::SeqCst), 1);
}

static ASYNC_HOOKS: AtomicUsize = AtomicUsize::new(0);

fn hit_seen(_: &u64) {
    ASYNC_HOOKS.fetch_add(1, Ordering::SeqCst);
}

fn miss_seen(_: &u64) {
    ASYNC_HOOKS.fetch_add(100, Ordering::SeqCst);
}

#[quickcache(vary_on = [id], on_hit = hit_seen, on_miss = miss_seen)]
async fn hooked_async(id: u64) -> u64 {
    id
}

#[tokio::test]
async fn on_hit_and_on_miss_on_async_functions() {
    hooked_async(1).await;
    hooked_async(1).await;
    hooked_async(1).await;
    assert_eq!(ASYNC_HOOKS.load(Ordering::SeqCst), 102);
}

static MEMO_ASYNC_HOOKS: AtomicUsize = AtomicUsize::new(0);

fn memo_hit_seen(_: &u64) {
    MEMO_ASYNC_HOOKS.fetch_add(1, Ordering::SeqCst);
}

fn memo_miss_seen(_: &u64) {
    MEMO_ASYNC_HOOKS.fetch_add(100, Ordering::SeqCst);
}

#[memoized(on_hit = memo_hit_seen, on_miss = memo_miss_seen)]
async fn memo_hooked_async(id: u64) -> u64 {
    id
}

#[tokio::test]
async fn on_hit_and_on_miss_on_async_memoized() {
    for _ in 0..3 {
        memo_hooked_async(7).await;
    }
    assert_eq!(MEMO_ASYNC_HOOKS.load(Ordering::SeqCst), 102);
}

static RATES_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static RATE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(timeout = 0.3, memoize_timeout = 0, stale_on_error = 30)]
async fn rate(currency: &str) -> Result<String, String> {
    RATE_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    if RATES_DOWN.load(Ordering::SeqCst) {
        return Err(format!("{currency}: down"));
    }
    Ok(format!("{currency}=1.1"))
}

/// `stale_on_error` on an `async fn`: once the entry is stale and the body
/// fails, every caller of the flight gets the stale value, from one run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_async_body_hands_the_stale_value_to_its_whole_flight() {
    assert_eq!(rate("eur").await, Ok("eur=1.1".to_owned()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    RATES_DOWN.store(true, Ordering::SeqCst);
    let runs = RATE_RUNS.load(Ordering::SeqCst);
    let calls: Vec<_> = (0..8).map(|_| tokio::spawn(rate("eur"))).collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), Ok("eur=1.1".to_owned()));
    }
    assert_eq!(
        RATE_RUNS.load(Ordering::SeqCst),
        runs + 1,
        "one run for the flight"
    );
    assert_eq!(
        rate("usd").await,
        Err("usd: down".to_owned()),
        "nothing older to serve"
    );
}

#[memoized]
async fn rows(id: u64) -> String {
    format!("row {id}")
}

#[quickcache]
async fn tagged(id: u64, label: &str) -> String {
    format!("{label}#{id}")
}

/// `get_many` on an `async fn`: the batch's read, then a call per item
/// still missing, awaited in order.
#[tokio::test]
async fn async_get_many_calls_in_order() {
    let got = tagged::get_many(vec![(7, "x"), (8, "y"), (7, "x")]).await;
    assert_eq!(got, ["x#7", "y#8", "x#7"]);
    assert_eq!(rows::get_many(vec![9, 9]).await, ["row 9", "row 9"]);
}
