//! `#[memoized]`: how often the body runs, what comes back.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use memo_core::{memoized, HasMemos, Memos};

static SQUARES: AtomicUsize = AtomicUsize::new(0);

#[memoized]
fn square(x: u64) -> u64 {
    SQUARES.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[test]
fn hits_do_not_run_the_body() {
    let before = SQUARES.load(Ordering::SeqCst);
    assert_eq!(square(3), 9);
    assert_eq!(square(3), 9);
    assert_eq!(square(4), 16);
    assert_eq!(SQUARES.load(Ordering::SeqCst) - before, 2);
}

static GREETS: AtomicUsize = AtomicUsize::new(0);

#[memoized]
#[allow(clippy::ptr_arg)] // a `&T` parameter keyed by `T::to_owned()`
fn greet(name: &str, punctuation: &String, times: usize) -> String {
    GREETS.fetch_add(1, Ordering::SeqCst);
    format!("hello {name}{}", punctuation.repeat(times))
}

#[test]
fn borrowed_and_owned_parameters_key_by_value() {
    let bang = "!".to_string();
    assert_eq!(greet("ada", &bang, 2), "hello ada!!");
    let runs = GREETS.load(Ordering::SeqCst);
    let owned_name = String::from("ada");
    assert_eq!(greet(&owned_name, &"!".to_string(), 2), "hello ada!!");
    assert_eq!(
        GREETS.load(Ordering::SeqCst),
        runs,
        "same values, other allocations: a hit"
    );
    assert_eq!(greet("ada", &bang, 3), "hello ada!!!");
    assert_eq!(GREETS.load(Ordering::SeqCst), runs + 1);
}

static WIDE: AtomicUsize = AtomicUsize::new(0);

// More arguments than a hit probes with in place (8): the key is built
// per call, with the same behaviour.
#[memoized]
#[allow(clippy::too_many_arguments)]
fn wide(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8, name: &str) -> String {
    WIDE.fetch_add(1, Ordering::SeqCst);
    format!("{name}{}", [a, b, c, d, e, f, g, h].iter().sum::<u8>())
}

#[test]
fn nine_arguments_key_by_value_too() {
    let runs = || WIDE.load(Ordering::SeqCst);
    let start = runs();
    for _ in 0..2 {
        assert_eq!(wide(1, 1, 1, 1, 1, 1, 1, 1, "x"), "x8");
        assert_eq!(wide(1, 1, 1, 1, 1, 1, 1, 2, "x"), "x9");
    }
    assert_eq!(runs() - start, 2);
    wide::clear(1, 1, 1, 1, 1, 1, 1, 1, "x");
    assert_eq!(wide(1, 1, 1, 1, 1, 1, 1, 1, "x"), "x8");
    assert_eq!(runs() - start, 3);
}

static COMPANIONS: AtomicUsize = AtomicUsize::new(0);

#[memoized]
fn companion_target(x: u32) -> u32 {
    COMPANIONS.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[test]
fn companions_clear_invalidate_set_refresh_uncached() {
    let runs = || COMPANIONS.load(Ordering::SeqCst);
    assert_eq!(companion_target(1), 2);
    assert_eq!(companion_target(1), 2);
    assert_eq!(runs(), 1);

    companion_target::clear(1);
    assert_eq!(companion_target(1), 2);
    assert_eq!(runs(), 2);

    companion_target::set_cached_value(1).to(100);
    assert_eq!(companion_target(1), 100);
    assert_eq!(runs(), 2);

    assert_eq!(companion_target::refresh(1), 2);
    assert_eq!(runs(), 3);
    assert_eq!(companion_target(1), 2);
    assert_eq!(runs(), 3);

    assert_eq!(companion_target::uncached(1), 2);
    assert_eq!(runs(), 4);

    assert_eq!(companion_target(2), 3);
    companion_target::invalidate();
    assert_eq!(companion_target(1), 2);
    assert_eq!(companion_target(2), 3);
    assert_eq!(runs(), 7);
}

static SINGLETONS: AtomicUsize = AtomicUsize::new(0);

#[memoized]
fn config() -> Arc<Vec<String>> {
    SINGLETONS.fetch_add(1, Ordering::SeqCst);
    Arc::new(vec!["loaded".to_string()])
}

#[test]
fn zero_argument_functions_are_lazy_singletons_and_arc_gives_the_same_object() {
    let a = config();
    let b = config();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(SINGLETONS.load(Ordering::SeqCst), 1);
}

static EXPIRING: AtomicUsize = AtomicUsize::new(0);

#[memoized(timeout = 0.05)]
fn expiring(x: u8) -> u8 {
    EXPIRING.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn timeout_expires_entries() {
    expiring(1);
    expiring(1);
    assert_eq!(EXPIRING.load(Ordering::SeqCst), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while EXPIRING.load(Ordering::SeqCst) == 1 {
        assert!(std::time::Instant::now() < deadline, "entry never expired");
        std::thread::sleep(std::time::Duration::from_millis(10));
        expiring(1);
    }
}

static BOUNDED: AtomicUsize = AtomicUsize::new(0);

#[memoized(max_entries = 8)]
fn bounded(x: u32) -> u32 {
    BOUNDED.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn max_entries_bounds_memory() {
    for x in 0..100 {
        bounded(x);
    }
    assert_eq!(BOUNDED.load(Ordering::SeqCst), 100);
    // Only a bounded number of them can still be cached.
    for x in 0..100 {
        bounded(x);
    }
    assert!(BOUNDED.load(Ordering::SeqCst) >= 100 + 92);
}

#[derive(Default)]
struct Account {
    balance: u64,
    memos: Memos,
    computed: AtomicUsize,
}

impl HasMemos for Account {
    fn memos(&self) -> &Memos {
        &self.memos
    }
}

impl Account {
    #[memoized]
    fn interest(&self, rate: u64) -> u64 {
        self.computed.fetch_add(1, Ordering::SeqCst);
        self.balance * rate / 100
    }

    /// Per instance, bounded by weight: each entry weighs its key (8 bytes)
    /// and value (24 bytes plus the string's capacity).
    #[memoized(max_bytes = 400)]
    fn statement(&self, month: u64) -> String {
        self.computed.fetch_add(1, Ordering::SeqCst);
        format!("{month:>40}")
    }
}

#[test]
fn per_instance_caches_take_max_bytes_too() {
    let a = Account::default();
    for month in 0..12 {
        assert_eq!(a.statement(month).len(), 40);
    }
    assert_eq!(a.computed.load(Ordering::SeqCst), 12);
    for month in 0..12 {
        a.statement(month);
    }
    // 72 bytes an entry: at most 5 of 12 are held.
    assert!(a.computed.load(Ordering::SeqCst) >= 12 + 7);
}

#[test]
fn methods_cache_per_instance_and_free_with_it() {
    let a = Account {
        balance: 1000,
        ..Default::default()
    };
    let b = Account {
        balance: 2000,
        ..Default::default()
    };
    assert_eq!(a.interest(5), 50);
    assert_eq!(a.interest(5), 50);
    assert_eq!(b.interest(5), 100);
    assert_eq!(a.computed.load(Ordering::SeqCst), 1);
    assert_eq!(b.computed.load(Ordering::SeqCst), 1);

    a.interest_clear(5);
    assert_eq!(a.interest(5), 50);
    assert_eq!(a.computed.load(Ordering::SeqCst), 2);

    a.interest_set_cached_value(7).to(1);
    assert_eq!(a.interest(7), 1);
    assert_eq!(a.interest_uncached(7), 70);
    assert_eq!(a.interest_refresh(7), 70);
    assert_eq!(a.interest(7), 70);
    a.interest_invalidate();
    let before = a.computed.load(Ordering::SeqCst);
    a.interest(7);
    assert_eq!(a.computed.load(Ordering::SeqCst), before + 1);

    // The cache lives in the instance: dropping it frees the values.
    let value = Arc::new(5u64);
    let weak = Arc::downgrade(&value);
    struct Holder {
        memos: Memos,
        value: Arc<u64>,
    }
    impl HasMemos for Holder {
        fn memos(&self) -> &Memos {
            &self.memos
        }
    }
    impl Holder {
        #[memoized]
        fn get(&self) -> Arc<u64> {
            Arc::clone(&self.value)
        }
    }
    let holder = Holder {
        memos: Memos::new(),
        value,
    };
    let _ = holder.get();
    drop(holder);
    assert!(
        weak.upgrade().is_none(),
        "cached value outlived its instance"
    );
}

#[test]
fn functions_declared_in_blocks_work_with_local_types() {
    #[derive(Clone, Hash, PartialEq, Eq)]
    struct Local(u8);

    #[memoized]
    fn local(x: Local) -> u8 {
        x.0 * 2
    }
    assert_eq!(local(Local(2)), 4);
    local::clear(Local(2));
}

struct Rates;

static RATE_CALLS: AtomicUsize = AtomicUsize::new(0);

#[memo_core::cached_impl]
impl Rates {
    #[memoized]
    fn rate(from: &str, to: &str) -> u64 {
        RATE_CALLS.fetch_add(1, Ordering::SeqCst);
        (from.len() * 10 + to.len()) as u64
    }
}

/// `#[memoized]` on an associated function without `self`, in an impl
/// marked `#[cached_impl]`: one cache for the function, companions beside it.
#[test]
fn associated_functions_in_a_cached_impl() {
    assert_eq!(Rates::rate("EUR", "US"), 32);
    assert_eq!(Rates::rate("EUR", "US"), 32);
    assert_eq!(RATE_CALLS.load(Ordering::SeqCst), 1);
    Rates::rate_set_cached_value("EUR", "US").to(1);
    assert_eq!(Rates::rate("EUR", "US"), 1);
    Rates::rate_clear("EUR", "US");
    assert_eq!(Rates::rate("EUR", "US"), 32);
    assert_eq!(RATE_CALLS.load(Ordering::SeqCst), 2);
    Rates::rate_invalidate();
    assert_eq!(Rates::rate_uncached("EUR", "US"), 32);
    assert_eq!(Rates::rate_refresh("EUR", "US"), 32);
}

/// A value that owns heap memory and says how much.
#[derive(Clone)]
struct Page(String);

impl memo_core::Weigh for Page {
    fn heap(&self) -> usize {
        self.0.capacity()
    }
}

static WEIGHED: AtomicUsize = AtomicUsize::new(0);

#[memoized(max_bytes = 20_000)]
fn page(x: u32) -> Page {
    WEIGHED.fetch_add(1, Ordering::SeqCst);
    Page("x".repeat(1000 + x as usize % 7))
}

/// `max_bytes` counts what values own on the heap (through `Weigh`): 1 KB
/// pages under a 20 KB bound keep at most 20 of them, however many keys.
#[test]
fn max_bytes_bounds_what_values_hold() {
    for x in 0..200 {
        assert_eq!(page(x).0.len(), 1000 + x as usize % 7);
    }
    assert_eq!(WEIGHED.load(Ordering::SeqCst), 200);
    let before = WEIGHED.load(Ordering::SeqCst);
    for x in 0..200 {
        page(x);
    }
    let recomputed = WEIGHED.load(Ordering::SeqCst) - before;
    assert!(
        recomputed >= 180,
        "only ~19 pages fit in 20 KB; recomputed {recomputed}"
    );
    // The last ones computed are held, so they hit.
    let before = WEIGHED.load(Ordering::SeqCst);
    page(199);
    assert_eq!(
        WEIGHED.load(Ordering::SeqCst),
        before,
        "a recent page is held"
    );
}

static LIVE: AtomicUsize = AtomicUsize::new(0);

fn is_live(symbol: &str) -> bool {
    symbol.starts_with('^')
}

#[memoized(unless = is_live)]
fn quote_of(symbol: &str) -> usize {
    LIVE.fetch_add(1, Ordering::SeqCst) + symbol.len() * 1_000_000
}

/// `unless` bypasses the cache for the calls it picks, with the arguments
/// by reference (a `&str` as it is).
#[test]
fn unless_bypasses_the_cache() {
    assert_eq!(quote_of("ACME"), quote_of("ACME"), "cached");
    let before = LIVE.load(Ordering::SeqCst);
    assert_ne!(quote_of("^DJI"), quote_of("^DJI"), "computed every time");
    assert_eq!(LIVE.load(Ordering::SeqCst), before + 2);
}

#[test]
fn get_cached_value_peeks_without_computing() {
    assert!(page::get_cached_value(9_999).is_none());
    let before = WEIGHED.load(Ordering::SeqCst);
    assert_eq!(page::get_cached_value(9_999).map(|p| p.0), None);
    assert_eq!(WEIGHED.load(Ordering::SeqCst), before, "never computes");
    let a = Account::default();
    assert_eq!(a.statement_get_cached_value(1), None);
    a.statement(1);
    assert_eq!(a.statement_get_cached_value(1).map(|s| s.len()), Some(40));
}

const SHORT: std::time::Duration = std::time::Duration::from_millis(30);
static SHORT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoized(timeout = SHORT)]
fn short_lived(x: u32) -> u32 {
    SHORT_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn a_duration_constant_sets_the_timeout() {
    short_lived(1);
    short_lived(1);
    assert_eq!(SHORT_RUNS.load(Ordering::SeqCst), 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while SHORT_RUNS.load(Ordering::SeqCst) == 1 {
        assert!(std::time::Instant::now() < deadline, "never expired");
        std::thread::sleep(std::time::Duration::from_millis(10));
        short_lived(1);
    }
}

static JITTERED: AtomicUsize = AtomicUsize::new(0);

#[memoized(timeout = 1, timeout_jitter = 0.9)]
fn jittered(x: u32) -> u32 {
    JITTERED.fetch_add(1, Ordering::SeqCst);
    x
}

/// `timeout_jitter` spreads the lifetimes of entries filled together: after
/// 0.6 s of 1 s ± 90%, some have expired and some have not.
#[test]
fn entries_filled_together_do_not_expire_together() {
    for x in 0..300 {
        jittered(x);
    }
    std::thread::sleep(std::time::Duration::from_millis(600));
    let before = JITTERED.load(Ordering::SeqCst);
    for x in 0..300 {
        jittered(x);
    }
    let expired = JITTERED.load(Ordering::SeqCst) - before;
    assert!(expired > 0 && expired < 300, "{expired} of 300 expired");
}

/// `Type::method_invalidate_all()` drops that method's entries in every live
/// instance, and no other method's; dropped instances are skipped.
#[test]
fn invalidate_all_reaches_every_live_instance() {
    let a = Account {
        balance: 100,
        ..Default::default()
    };
    let b = Account {
        balance: 200,
        ..Default::default()
    };
    let gone = Account::default();
    gone.interest(1);
    drop(gone);
    for account in [&a, &b] {
        account.interest(3);
        account.statement(1);
        account.interest(3);
    }
    assert_eq!(a.computed.load(Ordering::SeqCst), 2);
    Account::interest_invalidate_all();
    for account in [&a, &b] {
        account.interest(3);
        account.statement(1);
    }
    assert_eq!(
        a.computed.load(Ordering::SeqCst),
        3,
        "interest again, statement still cached"
    );
    assert_eq!(b.computed.load(Ordering::SeqCst), 3);
}

static MEMO_HITS: AtomicUsize = AtomicUsize::new(0);
static MEMO_MISSES: AtomicUsize = AtomicUsize::new(0);

fn memo_hit(name: &str, _: &u32) {
    assert_eq!(name, "slow");
    MEMO_HITS.fetch_add(1, Ordering::SeqCst);
}

fn memo_miss(name: &str, _: &u32) {
    assert_eq!(name, "slow");
    MEMO_MISSES.fetch_add(1, Ordering::SeqCst);
}

#[memoized(on_hit = memo_hit, on_miss = memo_miss)]
fn hooked_slowly(name: &str, n: u32) -> u32 {
    std::thread::sleep(std::time::Duration::from_millis(150));
    name.len() as u32 + n
}

/// `on_hit` sees a hit of the map and a call that waited for another
/// caller's computation (called with the owned key, which derefs to the
/// arguments); `on_miss` sees the computation.
#[test]
fn on_hit_and_on_miss_on_memoized() {
    let waiter = std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        hooked_slowly("slow", 1)
    });
    assert_eq!(hooked_slowly("slow", 1), 5);
    assert_eq!(waiter.join().unwrap(), 5);
    assert_eq!(
        (
            MEMO_HITS.load(Ordering::SeqCst),
            MEMO_MISSES.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
    hooked_slowly("slow", 1);
    assert_eq!(
        (
            MEMO_HITS.load(Ordering::SeqCst),
            MEMO_MISSES.load(Ordering::SeqCst)
        ),
        (2, 1)
    );
}

#[memoized(max_entries = 2)]
fn counted(x: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(2));
    x + 1
}

fn stats_of(tail: &str) -> memo_core::stats::FunctionStats {
    let all = memo_core::stats::functions();
    let mut found = all.into_iter().filter(|f| f.namespace.contains(tail));
    let stats = found.next().unwrap_or_else(|| panic!("{tail} is listed"));
    assert!(found.next().is_none(), "{tail} is listed once");
    stats
}

/// `#[memoized]` functions are listed by `stats::functions()`, with their
/// hits, misses, computations and their time, and what their cache holds
/// and evicted; exact from many threads.
#[test]
fn memoized_functions_have_stats() {
    assert!(
        memo_core::stats::functions()
            .iter()
            .all(|f| !f.namespace.contains("::counted@")),
        "not listed before its first call"
    );
    assert_eq!(counted(1), 2);
    let stats = stats_of("::counted@");
    assert!(
        stats.namespace.starts_with("memoized::counted@"),
        "{}",
        stats.namespace
    );
    assert_eq!((stats.l1_hits, stats.misses, stats.computations), (0, 1, 1));
    assert!(stats.compute_time >= std::time::Duration::from_millis(2));
    std::thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                for _ in 0..1000 {
                    assert_eq!(counted(1), 2);
                }
            });
        }
    });
    assert_eq!(
        stats_of("::counted@").l1_hits,
        16_000,
        "exact at 16 threads"
    );
    counted(2);
    counted(3);
    counted(4);
    let stats = stats_of("::counted@");
    assert_eq!((stats.misses, stats.l1_entries), (4, 2));
    assert!(stats.l1_evictions >= 2, "{stats:?}");
}

struct Ledger {
    memos: Memos,
}

impl HasMemos for Ledger {
    fn memos(&self) -> &Memos {
        &self.memos
    }
}

impl Ledger {
    #[memoized]
    fn balance(&self, account: u32) -> u64 {
        u64::from(account) * 10
    }
}

/// A `&self` method's stats sum its instances': counters kept, entries of
/// the live instances only.
#[test]
fn a_memoized_method_counts_across_its_instances() {
    let (a, b) = (
        Ledger {
            memos: Memos::new(),
        },
        Ledger {
            memos: Memos::new(),
        },
    );
    assert_eq!(a.balance(1), 10);
    assert_eq!(a.balance(1), 10);
    assert_eq!(b.balance(1), 10);
    assert_eq!(b.balance(2), 20);
    let stats = stats_of("::balance@");
    assert_eq!((stats.l1_hits, stats.misses, stats.l1_entries), (1, 3, 3));
    drop(b);
    let stats = stats_of("::balance@");
    assert_eq!(
        (stats.misses, stats.l1_entries),
        (3, 1),
        "b's entries went with it"
    );
}

static IDLE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoized(idle_timeout = 0.3)]
fn session(user: u32) -> u32 {
    IDLE_RUNS.fetch_add(1, Ordering::SeqCst);
    user
}

/// `idle_timeout`: each hit restarts an entry's clock, so an entry read
/// more often than that lives on; one left alone for that long expires.
#[test]
fn idle_timeout_expires_entries_not_read_for_that_long() {
    let pause = |ms| std::thread::sleep(std::time::Duration::from_millis(ms));
    session(1);
    for _ in 0..8 {
        pause(100);
        session(1);
    }
    assert_eq!(
        IDLE_RUNS.load(Ordering::SeqCst),
        1,
        "read every 100 ms for 800 ms: kept"
    );
    pause(450);
    session(1);
    assert_eq!(
        IDLE_RUNS.load(Ordering::SeqCst),
        2,
        "left alone for 450 ms: expired"
    );
}

#[memoized(idle_timeout = 0.2)]
fn visited(page: u32) -> u32 {
    page
}

/// Idle entries behind a live one are reclaimed by later inserts, without
/// a bound to evict them: the live one, read all along, does not hold up
/// the queue.
#[test]
fn idle_entries_behind_a_hot_one_are_reclaimed() {
    visited(0);
    for page in 1..=50 {
        visited(page);
    }
    for _ in 0..8 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        visited(0);
    }
    for page in 100..140 {
        visited(page);
    }
    let stats = stats_of("::visited@");
    assert_eq!(stats.l1_expirations, 50, "{stats:?}");
    assert_eq!(
        stats.l1_entries, 41,
        "the hot page and the new ones: {stats:?}"
    );
}

/// `get_many` on `#[memoized]`: a call per item, in order (nothing to
/// batch in one process).
#[test]
fn memoized_get_many_calls_in_order() {
    assert_eq!(square::get_many(vec![5, 6, 5]), [25, 36, 25]);
    let ledger = Ledger {
        memos: Memos::new(),
    };
    assert_eq!(ledger.balance_get_many(vec![1, 2]), [10, 20]);
}

static RATES_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static RATE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Fresh for 300 ms, its copy kept 0.6 s more to stand in for an `Err`.
#[memoized(timeout = 0.3, stale_on_error = 0.6)]
fn fx_rate(pair: u32) -> Result<u32, String> {
    let run = RATE_RUNS.fetch_add(1, Ordering::SeqCst) as u32 + 1;
    if RATES_DOWN.load(Ordering::SeqCst) {
        return Err(format!("{pair}: down"));
    }
    Ok(pair * 100 + run)
}

/// `stale_on_error` on `#[memoized]`: past its `timeout`, the older `Ok`
/// stands in for an `Err`, within the grace period only; a clear or an
/// invalidate ends it.
#[test]
fn memoized_stale_on_error_serves_an_older_ok_within_its_grace() {
    let down = |yes| RATES_DOWN.store(yes, Ordering::SeqCst);
    let pause = |ms| std::thread::sleep(std::time::Duration::from_millis(ms));
    assert_eq!(fx_rate(1), Ok(101));
    pause(400);
    down(true);
    assert_eq!(fx_rate(1), Ok(101), "stale, in place of the error");
    assert_eq!(
        RATE_RUNS.load(Ordering::SeqCst),
        2,
        "the body ran and failed"
    );
    assert_eq!(stats_of("::fx_rate@").stale_served, 1);
    down(false);
    assert_eq!(fx_rate(1), Ok(103), "the body succeeded: its value");
    pause(1000);
    down(true);
    assert_eq!(fx_rate(1), Err("1: down".into()), "past the grace period");

    down(false);
    assert_eq!(fx_rate(2), Ok(205));
    assert_eq!(fx_rate(3), Ok(306));
    pause(400);
    down(true);
    fx_rate::clear(2);
    assert_eq!(fx_rate(2), Err("2: down".into()), "cleared");
    fx_rate::invalidate();
    assert_eq!(fx_rate(3), Err("3: down".into()), "invalidated");
}

static CONFIGURED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoized]
fn configured_off(x: u32) -> u32 {
    CONFIGURED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[memoized(max_entries = 100)]
fn configured_small(x: u32) -> u32 {
    x
}

/// `memo_core::configure` reaches `#[memoized]` functions by their
/// namespace: caching off, a bound.
#[test]
fn configure_overrides_memoized_functions() {
    memo_core::configure("memoized::configured_off@", |c| c.enabled(false));
    memo_core::configure("memoized::configured_small@", |c| c.max_entries(2));
    for _ in 0..3 {
        configured_off(1);
    }
    assert_eq!(
        CONFIGURED_RUNS.load(Ordering::SeqCst),
        3,
        "every call ran the body"
    );
    configured_off::set_cached_value(1).to(9);
    assert_eq!(configured_off(1), 1, "nothing stored, even a set value");
    for x in 0..10 {
        configured_small(x);
    }
    assert_eq!(stats_of("::configured_small@").l1_entries, 2);
}
