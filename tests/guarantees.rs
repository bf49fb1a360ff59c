//! The README's guarantees under the interleavings that would break them:
//! a body blocked while its entry is invalidated, values that must not
//! alias, results that must not be kept. One process; the cross-process
//! cases are in `redis.rs`.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use memo_core::{memoized, quickcache};
use support::Gate;

/// The data a body computes from; tests bump it, then invalidate.
static DATA: AtomicU64 = AtomicU64::new(1);
static MEMO_GATE: Gate = Gate::new();

#[memoized]
fn memo_read(key: u64) -> u64 {
    let value = DATA.load(Ordering::SeqCst) * 1000 + key;
    MEMO_GATE.pass(value);
    value
}

/// Runs `call` on a thread whose body reads old data and blocks; changes the
/// data and runs `invalidate` meanwhile; lets the body go. Returns what the
/// blocked call returned and what a call after the invalidation returns
/// while the blocked one is still in flight.
fn across_an_invalidation<T: Send + 'static>(
    gate: &'static Gate,
    call: fn() -> T,
    invalidate: impl FnOnce(),
) -> (T, T) {
    let (read, go) = gate.arm();
    let blocked = std::thread::spawn(call);
    read.recv_timeout(Duration::from_secs(10)).unwrap();
    DATA.fetch_add(1, Ordering::SeqCst);
    invalidate();
    // A call after the invalidation must not join the flight under way.
    let (done_tx, done_rx) = mpsc::channel();
    let after = std::thread::spawn(move || {
        let value = call();
        done_tx.send(()).unwrap();
        value
    });
    let joined_the_old_flight = done_rx.recv_timeout(Duration::from_secs(2)).is_err();
    go.send(()).unwrap();
    let old = blocked.join().unwrap();
    let after = after.join().unwrap();
    assert!(
        !joined_the_old_flight,
        "a call after the invalidation waited for the computation under way"
    );
    (old, after)
}

#[test]
fn memoized_a_clear_during_a_computation_fences_its_value() {
    let (old, after) = across_an_invalidation(&MEMO_GATE, || memo_read(7), || memo_read::clear(7));
    assert_ne!(old, after, "the call after the clear got the old value");
    assert_eq!(
        memo_read(7),
        after,
        "the old value was stored after the clear"
    );

    let (old, after) = across_an_invalidation(&MEMO_GATE, || memo_read(8), memo_read::invalidate);
    assert_ne!(old, after);
    assert_eq!(memo_read(8), after);

    let (_, after) = across_an_invalidation(
        &MEMO_GATE,
        || memo_read(9),
        || memo_read::set_cached_value(9).to(42),
    );
    assert_eq!(after, 42);
    assert_eq!(
        memo_read(9),
        42,
        "the computation under way overwrote the set value"
    );
}

static QUICK_GATE: Gate = Gate::new();

#[quickcache(timeout = 300, memoize_timeout = 600)]
fn quick_read(key: u64) -> u64 {
    let value = DATA.load(Ordering::SeqCst) * 1000 + key;
    QUICK_GATE.pass(value);
    value
}

/// The value read before a `clear` (or `set_cached_value`, `invalidate`)
/// committed is kept in no tier: not in L1 (the fence), not in the
/// shared tier (the store expects what the read found, and the clear left
/// a tombstone in its place).
#[test]
fn quickcache_a_value_read_before_an_invalidation_is_kept_in_no_tier() {
    let (old, after) = across_an_invalidation(
        &QUICK_GATE,
        || quick_read(7),
        || quick_read::clear(7).unwrap(),
    );
    assert_ne!(old, after, "the call after the clear got the old value");
    assert_eq!(
        quick_read(7),
        after,
        "the old value was stored after the clear"
    );

    let (old, after) = across_an_invalidation(
        &QUICK_GATE,
        || quick_read(8),
        || quick_read::invalidate().unwrap(),
    );
    assert_ne!(old, after);
    assert_eq!(quick_read(8), after);

    let (_, after) = across_an_invalidation(
        &QUICK_GATE,
        || quick_read(9),
        || quick_read::set_cached_value(9).to(42).unwrap(),
    );
    assert_eq!(after, 42);
    assert_eq!(
        quick_read(9),
        42,
        "the computation under way overwrote the set value"
    );
}

/// The shared tier alone (L1 off): the read that a clear overtook does not
/// store, whichever tier the next call reads.
#[quickcache(timeout = 300, memoize_timeout = 0)]
fn shared_read(key: u64) -> u64 {
    let value = DATA.load(Ordering::SeqCst) * 1000 + key;
    SHARED_GATE.pass(value);
    value
}
static SHARED_GATE: Gate = Gate::new();

#[test]
fn quickcache_a_clear_wins_over_a_shared_tier_store_in_flight() {
    // Nothing stored yet: the miss read nothing, and stores only if
    // nothing is there.
    let (old, after) = across_an_invalidation(
        &SHARED_GATE,
        || shared_read(1),
        || shared_read::clear(1).unwrap(),
    );
    assert_ne!(old, after);
    assert_eq!(shared_read(1), after);
    // A value of an older generation was there: the miss stores only over it.
    shared_read::invalidate().unwrap();
    let (old, after) = across_an_invalidation(
        &SHARED_GATE,
        || shared_read(1),
        || shared_read::clear(1).unwrap(),
    );
    assert_ne!(old, after);
    assert_eq!(shared_read(1), after);
}

static ASYNC_GATE: Gate = Gate::new();

/// L1 off, so the shared tier's promise is what is tested (L1's fence is
/// the same step as the sync one's).
#[quickcache(timeout = 300, memoize_timeout = 0)]
async fn async_read(key: u64) -> u64 {
    let value = DATA.load(Ordering::SeqCst) * 1000 + key;
    // The gate blocks this thread: the test runs each call on a runtime
    // of its own.
    ASYNC_GATE.pass(value);
    value
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn async_quickcache_a_value_read_before_an_invalidation_is_kept_in_no_tier() {
    let (old, after) = across_an_invalidation(
        &ASYNC_GATE,
        || block_on(async_read(7)),
        || block_on(async_read::clear(7)).unwrap(),
    );
    assert_ne!(old, after);
    assert_eq!(block_on(async_read(7)), after);

    let (_, after) = across_an_invalidation(
        &ASYNC_GATE,
        || block_on(async_read(9)),
        || block_on(async_read::set_cached_value(9).to(42)).unwrap(),
    );
    assert_eq!(after, 42);
    assert_eq!(block_on(async_read(9)), 42);
}

/// An error type with none of the cache's traits: not `Clone`, not
/// `Serialize`. A `Result` function caches its `Ok` values only, so it
/// needs none.
#[derive(Debug)]
struct Down;

static FALLIBLE_RUNS: AtomicUsize = AtomicUsize::new(0);
static FAIL: AtomicBool = AtomicBool::new(true);

#[quickcache(timeout = 300)]
fn fallible(id: u64) -> Result<u64, Down> {
    FALLIBLE_RUNS.fetch_add(1, Ordering::SeqCst);
    if FAIL.load(Ordering::SeqCst) {
        Err(Down)
    } else {
        Ok(id * 2)
    }
}

#[memoized]
fn memo_fallible(id: u64) -> Result<u64, Down> {
    fallible::uncached(id)
}

#[quickcache(timeout = 300)]
async fn async_fallible(id: u64) -> Result<u64, Down> {
    fallible::uncached(id)
}

#[memoized]
async fn async_memo_fallible(id: u64) -> std::io::Result<u64> {
    fallible::uncached(id).map_err(|_| std::io::Error::other("down"))
}

fn runs_of(call: impl Fn()) -> usize {
    let before = FALLIBLE_RUNS.load(Ordering::SeqCst);
    call();
    FALLIBLE_RUNS.load(Ordering::SeqCst) - before
}

#[test]
fn errors_are_never_cached_by_default_and_ok_values_are() {
    let _failing = FAILING.lock().unwrap();
    for call in [
        &(|| drop(fallible(1))) as &dyn Fn(),
        &|| drop(memo_fallible(1)),
        &|| drop(block_on(async_fallible(1))),
        &|| drop(block_on(async_memo_fallible(1))),
    ] {
        FAIL.store(true, Ordering::SeqCst);
        assert_eq!(runs_of(call), 1);
        assert_eq!(runs_of(call), 1, "an Err was cached");
        FAIL.store(false, Ordering::SeqCst);
        assert_eq!(runs_of(call), 1);
        assert_eq!(runs_of(call), 0, "an Ok was not cached");
    }
    assert_eq!(fallible(1).unwrap(), 2);
    // `set_cached_value` takes the Ok type; `refresh` that fails keeps the
    // entry as it was.
    fallible::set_cached_value(5).to(50).unwrap();
    assert_eq!(fallible(5).unwrap(), 50);
    FAIL.store(true, Ordering::SeqCst);
    assert!(fallible::refresh(5).is_err());
    assert_eq!(fallible(5).unwrap(), 50);
    memo_fallible::set_cached_value(5).to(51);
    assert!(memo_fallible::refresh(5).is_err());
    assert_eq!(memo_fallible(5).unwrap(), 51);
}

/// Tests that flip `FAIL` take turns.
static FAILING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Lookup {
    NotFound,
    Timeout,
}

static PICKY_RUNS: AtomicUsize = AtomicUsize::new(0);

fn not_found(error: &Lookup) -> bool {
    *error == Lookup::NotFound
}

#[quickcache(cache_errors = not_found)]
fn picky(id: u64) -> Result<u64, Lookup> {
    PICKY_RUNS.fetch_add(1, Ordering::SeqCst);
    match id {
        0 => Err(Lookup::NotFound),
        1 => Err(Lookup::Timeout),
        id => Ok(id),
    }
}

#[memoized(cache_errors = true)]
fn every_error(id: u64) -> Result<u64, Lookup> {
    PICKY_RUNS.fetch_add(1, Ordering::SeqCst);
    Err(if id == 0 {
        Lookup::NotFound
    } else {
        Lookup::Timeout
    })
}

#[test]
fn cache_errors_keeps_the_errors_it_is_told_to() {
    let runs = |call| twice(&PICKY_RUNS, call);
    assert_eq!(runs(|| picky(0)), 1, "NotFound is kept");
    assert_eq!(runs(|| picky(1)), 2, "Timeout is not");
    assert_eq!(runs(|| picky(2)), 1, "Ok is kept");
    assert_eq!(picky(0), Err(Lookup::NotFound));
    assert_eq!(
        runs(|| every_error(1)),
        1,
        "cache_errors = true keeps every Err"
    );
}

/// How many times `call`, made twice, ran a body counted by `counter`.
fn twice<T>(counter: &AtomicUsize, call: fn() -> T) -> usize {
    let before = counter.load(Ordering::SeqCst);
    call();
    call();
    counter.load(Ordering::SeqCst) - before
}

static OPTIONAL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache]
fn maybe(id: u64) -> Option<u64> {
    OPTIONAL_RUNS.fetch_add(1, Ordering::SeqCst);
    (id > 0).then_some(id)
}

#[quickcache(cache_none = false)]
fn maybe_not_none(id: u64) -> Option<u64> {
    maybe::uncached(id)
}

#[memoized(cache_none = false)]
fn memo_maybe_not_none(id: u64) -> Option<u64> {
    maybe::uncached(id)
}

#[test]
fn none_is_cached_unless_cache_none_is_false() {
    let runs = |call| twice(&OPTIONAL_RUNS, call);
    assert_eq!(runs(|| maybe(0)), 1, "None is cached by default");
    assert_eq!(runs(|| maybe_not_none(0)), 2);
    assert_eq!(runs(|| maybe_not_none(3)), 1);
    assert_eq!(runs(|| memo_maybe_not_none(0)), 2);
    assert_eq!(runs(|| memo_maybe_not_none(3)), 1);
    assert_eq!(maybe_not_none(3), Some(3));
}

static MAP_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache]
fn by_map(weights: &std::collections::HashMap<String, u32>) -> u32 {
    MAP_RUNS.fetch_add(1, Ordering::SeqCst);
    weights.values().sum()
}

/// Equal maps (each with its own `RandomState`, so another iteration
/// order) are one key, in the shared tier and in L1: one computation, and
/// a clear through any of them drops the entry.
#[test]
fn equal_maps_are_one_key() {
    let map = || -> std::collections::HashMap<String, u32> {
        (0..32).map(|i| (format!("k{i}"), i)).collect()
    };
    assert_eq!(by_map(&map()), 496);
    for _ in 0..8 {
        assert_eq!(by_map(&map()), 496);
    }
    assert_eq!(
        MAP_RUNS.load(Ordering::SeqCst),
        1,
        "equal maps got different keys"
    );
    by_map::clear(&map()).unwrap();
    by_map(&map());
    assert_eq!(
        MAP_RUNS.load(Ordering::SeqCst),
        2,
        "the clear missed the entry"
    );
}

#[derive(serde::Serialize)]
struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<u64>,
}

#[quickcache]
fn filtered(filter: &Filter) -> String {
    format!("owner {:?} team {:?}", filter.owner, filter.team)
}

/// Values that skip different fields are different keys.
#[test]
fn skipped_fields_never_alias_two_calls() {
    let by_owner = filtered(&Filter {
        owner: Some(1),
        team: None,
    });
    let by_team = filtered(&Filter {
        owner: None,
        team: Some(1),
    });
    assert_eq!(by_owner, "owner Some(1) team None");
    assert_eq!(
        by_team, "owner None team Some(1)",
        "served the other call's value"
    );
}

static SHARED_NAME_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "guarantees::shared_name")]
fn one_face(id: u64) -> u64 {
    SHARED_NAME_RUNS.fetch_add(1, Ordering::SeqCst);
    id + DATA.load(Ordering::SeqCst) * 1000
}

#[quickcache(name = "guarantees::shared_name")]
fn other_face(id: u64) -> u64 {
    one_face::uncached(id)
}

/// Two functions that share a `name` share entries, and an invalidation
/// through one reaches the other's L1 (and its remembered generation) in
/// this process as it would in another.
#[test]
fn functions_sharing_a_name_stay_coherent_in_one_process() {
    let runs = || SHARED_NAME_RUNS.load(Ordering::SeqCst);
    let first = one_face(1);
    assert_eq!(other_face(1), first, "shared entries");
    let before = runs();
    assert_eq!(other_face(1), first);
    assert_eq!(runs(), before, "from the other's L1");

    one_face::clear(1).unwrap();
    other_face(1);
    assert_eq!(
        runs(),
        before + 1,
        "the other kept its L1 copy after the clear"
    );

    one_face::set_cached_value(2).to(7).unwrap();
    other_face::set_cached_value(2).to(8).unwrap();
    assert_eq!(
        one_face(2),
        8,
        "the first kept its L1 copy after the other's set"
    );

    other_face(3);
    let before = runs();
    one_face::invalidate().unwrap();
    other_face(3);
    assert_eq!(
        runs(),
        before + 1,
        "the other kept its L1 copy after the invalidate"
    );
}

fn first_block() -> u64 {
    #[quickcache]
    fn lookup(id: u64) -> u64 {
        id + 1
    }
    lookup(1)
}

fn second_block() -> u64 {
    #[quickcache]
    fn lookup(id: u64) -> u64 {
        id + 2
    }
    lookup(1)
}

/// Two functions of one name in one module (each in a block of its own)
/// have namespaces of their own: neither is served the other's value.
#[test]
fn functions_of_the_same_name_never_share_entries() {
    assert_eq!(first_block(), 2);
    assert_eq!(second_block(), 3, "served the other function's value");
    let namespaces: Vec<String> = memo_core::stats::functions()
        .into_iter()
        .map(|f| f.namespace)
        .filter(|namespace| namespace.starts_with("guarantees::lookup@"))
        .collect();
    assert_eq!(namespaces.len(), 2, "{namespaces:?}");
}

static TYPED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "guarantees::one_namespace_two_types", memoize_timeout = 0)]
fn as_number(id: u64) -> u64 {
    TYPED_RUNS.fetch_add(1, Ordering::SeqCst);
    id
}

#[quickcache(name = "guarantees::one_namespace_two_types", memoize_timeout = 0)]
fn as_text(id: u64) -> String {
    TYPED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("#{id}")
}

/// A well-formed envelope of another value type under the same key (a
/// shared `name`, or a deploy that changed the type) is a miss, never
/// decoded into the wrong type.
#[test]
fn an_envelope_of_another_type_is_a_miss() {
    assert_eq!(as_number(300), 300);
    let runs = TYPED_RUNS.load(Ordering::SeqCst);
    assert_eq!(as_text(300), "#300");
    assert_eq!(
        TYPED_RUNS.load(Ordering::SeqCst),
        runs + 1,
        "decoded the other type's value"
    );
    assert_eq!(as_number(300), 300);
    assert_eq!(TYPED_RUNS.load(Ordering::SeqCst), runs + 2);
}

#[quickcache(timeout = 0.4, memoize_timeout = 0.1)]
fn short_lived(id: u64) -> u64 {
    id
}

/// (L1 hits, shared hits, misses) of `short_lived`.
fn short_lived_tiers() -> (u64, u64, u64) {
    let stats = memo_core::stats::functions();
    let f = stats
        .iter()
        .find(|f| f.namespace.contains("::short_lived@"))
        .expect("called");
    (f.l1_hits, f.shared_hits, f.misses)
}

/// Calls `short_lived(1)` until `tier` of its stats moves; returns how long
/// after `since` that was.
fn until_answered_by(tier: fn((u64, u64, u64)) -> u64, since: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let before = tier(short_lived_tiers());
        short_lived(1);
        if tier(short_lived_tiers()) > before {
            return since.elapsed();
        }
        assert!(Instant::now() < deadline, "never expired");
    }
}

/// `memoize_timeout` expires the L1 copy (the shared tier answers then) and
/// `timeout` the shared entry (the body runs again), neither early (but by
/// the coarse clock's few milliseconds).
#[test]
fn timeout_and_memoize_timeout_expire_entries() {
    short_lived(1);
    let stored = Instant::now();
    let l1_expired = until_answered_by(|(_, shared, _)| shared, stored);
    assert!(
        l1_expired >= Duration::from_millis(90),
        "L1 expired after {l1_expired:?}"
    );
    let recomputed = until_answered_by(|(_, _, misses)| misses, stored);
    assert!(
        recomputed >= Duration::from_millis(390),
        "the entry expired after {recomputed:?}"
    );
}
