//! `#[quickcache]` on the embedded backend: how often the body runs, what
//! comes back, what the companions do.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use memo_core::quickcache;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
    profile: Profile,
}

#[derive(Serialize)]
struct Profile {
    team: String,
}

static SUMMARIES: AtomicUsize = AtomicUsize::new(0);

#[quickcache(vary_on = [domain, user.id, user.profile.team], timeout = 60, memoize_timeout = 5)]
fn summary(domain: &str, user: &User, verbose: bool) -> String {
    SUMMARIES.fetch_add(1, Ordering::SeqCst);
    format!(
        "{}@{domain}/{}{}",
        user.name,
        user.profile.team,
        if verbose { "!" } else { "" }
    )
}

fn user(id: u64, name: &str, team: &str) -> User {
    User {
        id,
        name: name.into(),
        profile: Profile { team: team.into() },
    }
}

#[test]
fn vary_on_field_paths_pick_the_key() {
    let runs = || SUMMARIES.load(Ordering::SeqCst);
    let before = runs();
    let ada = user(1, "ada", "core");
    assert_eq!(summary("a.org", &ada, false), "ada@a.org/core");
    // `verbose` and `user.name` are not in vary_on: same entry.
    assert_eq!(
        summary("a.org", &user(1, "other", "core"), true),
        "ada@a.org/core"
    );
    assert_eq!(runs() - before, 1);
    // A different nested field is a different entry.
    assert_eq!(
        summary("a.org", &user(1, "ada", "web"), false),
        "ada@a.org/web"
    );
    assert_eq!(summary("b.org", &ada, false), "ada@b.org/core");
    assert_eq!(runs() - before, 3);
}

static PRICES: AtomicUsize = AtomicUsize::new(0);

#[quickcache(timeout = 30)]
fn price(sku: &str, quantity: u32) -> u64 {
    PRICES.fetch_add(1, Ordering::SeqCst);
    sku.len() as u64 * u64::from(quantity)
}

#[test]
fn companions() {
    let runs = || PRICES.load(Ordering::SeqCst);
    let start = runs();
    assert_eq!(price("abc", 2), 6);
    assert_eq!(price("abc", 2), 6);
    assert_eq!(runs() - start, 1);

    price::clear("abc", 2).unwrap();
    assert_eq!(price("abc", 2), 6);
    assert_eq!(runs() - start, 2);

    price::set_cached_value("abc", 2).to(99).unwrap();
    assert_eq!(price("abc", 2), 99);
    assert_eq!(runs() - start, 2);

    assert_eq!(price::refresh("abc", 2), 6);
    assert_eq!(price("abc", 2), 6);
    assert_eq!(runs() - start, 3);

    assert_eq!(price::uncached("abc", 2), 6);
    assert_eq!(runs() - start, 4);

    assert_eq!(price("xy", 1), 2);
    price::invalidate().unwrap();
    assert_eq!(price("abc", 2), 6);
    assert_eq!(price("xy", 1), 2);
    assert_eq!(runs() - start, 7);
}

static SHARED_ONLY: AtomicUsize = AtomicUsize::new(0);

// L1 off: every hit comes from the shared tier.
#[quickcache(memoize_timeout = 0)]
fn shared_only(a: &str, b: &str) -> String {
    SHARED_ONLY.fetch_add(1, Ordering::SeqCst);
    format!("{a}|{b}")
}

#[test]
fn keys_are_unambiguous_in_the_shared_tier() {
    assert_eq!(shared_only("a,b", "c"), "a,b|c");
    assert_eq!(shared_only("a", "b,c"), "a|b,c");
    assert_eq!(shared_only("a,b", "c"), "a,b|c");
    assert_eq!(SHARED_ONLY.load(Ordering::SeqCst), 2);
    shared_only::invalidate().unwrap();
    assert_eq!(shared_only("a", "b,c"), "a|b,c");
    assert_eq!(SHARED_ONLY.load(Ordering::SeqCst), 3);
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Row {
    id: u64,
    tags: Vec<String>,
}

static ROWS: AtomicUsize = AtomicUsize::new(0);

fn row_key(id: &u64, _label: &str) -> (u64, &'static str) {
    (*id, "rows-v1")
}

#[quickcache(key = row_key, memoize_timeout = 0)]
fn row(id: u64, label: &str) -> Row {
    ROWS.fetch_add(1, Ordering::SeqCst);
    Row {
        id,
        tags: vec![label.to_string()],
    }
}

#[test]
fn key_function_and_struct_values() {
    let first = row(7, "x");
    assert_eq!(
        first,
        Row {
            id: 7,
            tags: vec!["x".into()]
        }
    );
    assert_eq!(row(7, "ignored"), first);
    assert_eq!(ROWS.load(Ordering::SeqCst), 1);
}

static CORRUPT: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "tests::corrupt", memoize_timeout = 0)]
fn corrupt(x: u32) -> Vec<u32> {
    CORRUPT.fetch_add(1, Ordering::SeqCst);
    vec![x; 3]
}

#[test]
fn undecodable_values_are_misses_and_get_overwritten() {
    assert_eq!(corrupt(1), vec![1, 1, 1]);
    let backend = memo_core::backend::current();
    let key = memo_core::key::entry_key_for("tests::corrupt", &(&1u32,)).unwrap();
    let stored = backend.get("memo:g:tests::corrupt", &key).unwrap();
    let mut bytes = stored.value.expect("value stored under the documented key");
    // Garbage after a valid header, then a truncated value.
    let len = bytes.len();
    bytes[len - 1] = 0xff;
    bytes.extend_from_slice(&[0xff; 4]);
    backend
        .set(&key, &bytes, std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(corrupt(1), vec![1, 1, 1]);
    assert_eq!(CORRUPT.load(Ordering::SeqCst), 2);
    backend
        .set(&key, &bytes[..5], std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(corrupt(1), vec![1, 1, 1]);
    assert_eq!(CORRUPT.load(Ordering::SeqCst), 3);
    // Overwritten with a good value: a hit again.
    assert_eq!(corrupt(1), vec![1, 1, 1]);
    assert_eq!(CORRUPT.load(Ordering::SeqCst), 3);
}

struct Tenant {
    domain: String,
}

static TENANT_CALLS: AtomicUsize = AtomicUsize::new(0);

impl Tenant {
    #[quickcache(vary_on = [self.domain, user_id])]
    fn quota(&self, user_id: u64) -> u64 {
        TENANT_CALLS.fetch_add(1, Ordering::SeqCst);
        self.domain.len() as u64 + user_id
    }
}

#[test]
fn methods_key_on_self_fields() {
    let a = Tenant {
        domain: "a.org".into(),
    };
    let a2 = Tenant {
        domain: "a.org".into(),
    };
    let b = Tenant {
        domain: "bb.org".into(),
    };
    assert_eq!(a.quota(1), 6);
    assert_eq!(a2.quota(1), 6);
    assert_eq!(b.quota(1), 7);
    assert_eq!(TENANT_CALLS.load(Ordering::SeqCst), 2);
    a.quota_clear(1).unwrap();
    a.quota_set_cached_value(2).to(0).unwrap();
    assert_eq!(a.quota(2), 0);
    assert_eq!(a.quota_uncached(2), 7);
    assert_eq!(a.quota_refresh(2), 7);
    Tenant::quota_invalidate().unwrap();
}

#[test]
fn local_types_in_blocks() {
    #[derive(Serialize, Deserialize, Clone, PartialEq, Debug)]
    struct Local(u8);

    #[quickcache]
    fn double(x: u8) -> Local {
        Local(x * 2)
    }
    assert_eq!(double(2), Local(4));
    double::clear(2).unwrap();
}

trait Named {
    const NAME: &'static str;
}

struct Apples;
struct Pears;

impl Named for Apples {
    const NAME: &'static str = "apples";
}

impl Named for Pears {
    const NAME: &'static str = "pears";
}

struct Stock<T> {
    shop: u64,
    _kind: std::marker::PhantomData<T>,
}

impl<T: Named> Stock<T> {
    fn new(shop: u64) -> Self {
        Stock {
            shop,
            _kind: std::marker::PhantomData,
        }
    }

    #[quickcache(vary_on = [self.shop], memoize_timeout = 0)]
    fn label(&self) -> String {
        format!("{} in shop {}", T::NAME, self.shop)
    }
}

/// A method of a generic impl has one static for every `Self`: each type
/// gets its own cache and namespace, never the other's values (L1 is off,
/// so every call reads the shared tier under its type's namespace).
#[test]
fn methods_of_generic_impls_cache_per_self_type() {
    let (apples, pears) = (Stock::<Apples>::new(1), Stock::<Pears>::new(1));
    for _ in 0..2 {
        assert_eq!(apples.label(), "apples in shop 1");
        assert_eq!(pears.label(), "pears in shop 1");
    }
    apples
        .label_set_cached_value()
        .to("sold out".into())
        .unwrap();
    assert_eq!(apples.label(), "sold out");
    assert_eq!(pears.label(), "pears in shop 1");
    Stock::<Apples>::label_invalidate().unwrap();
    assert_eq!(apples.label(), "apples in shop 1");
    assert_eq!(pears.label(), "pears in shop 1");
}

struct Catalog;

static CATALOG_CALLS: AtomicUsize = AtomicUsize::new(0);

#[memo_core::cached_impl]
impl Catalog {
    #[quickcache(vary_on = [sku])]
    fn price(sku: &str, _currency: &str) -> u64 {
        CATALOG_CALLS.fetch_add(1, Ordering::SeqCst);
        sku.len() as u64
    }

    #[memo_core::quickcache(memoize_timeout = 0)]
    async fn stock(sku: &str) -> u64 {
        sku.len() as u64 * 10
    }

    fn label(&self) -> &'static str {
        "catalog"
    }
}

/// Associated functions without `self`, in an impl marked `#[cached_impl]`:
/// cached under the type's namespace, companions beside them.
#[test]
fn associated_functions_in_a_cached_impl() {
    assert_eq!(Catalog::price("abc", "EUR"), 3);
    assert_eq!(Catalog::price("abc", "USD"), 3);
    assert_eq!(CATALOG_CALLS.load(Ordering::SeqCst), 1);
    Catalog::price_set_cached_value("abc", "EUR").to(7).unwrap();
    assert_eq!(Catalog::price("abc", "EUR"), 7);
    assert_eq!(Catalog::price_uncached("abc", "EUR"), 3);
    let calls = || CATALOG_CALLS.load(Ordering::SeqCst);
    let before = calls();
    Catalog::price_clear("abc", "EUR").unwrap();
    assert_eq!(Catalog::price("abc", "EUR"), 3);
    assert_eq!(calls(), before + 1, "the clear dropped the entry");
    Catalog::price_invalidate().unwrap();
    assert_eq!(Catalog::price("abc", "USD"), 3);
    assert_eq!(calls(), before + 2, "the invalidate dropped every entry");
    assert_eq!(Catalog::price_refresh("abc", "EUR"), 3);
    assert_eq!(calls(), before + 3, "refresh runs the body");
    assert_eq!(Catalog::price("abc", "EUR"), 3);
    assert_eq!(calls(), before + 3, "and stores its value");
    assert_eq!(Catalog.label(), "catalog");
    let namespace = format!("{}::price@", std::any::type_name::<Catalog>());
    assert!(
        memo_core::stats::functions()
            .iter()
            .any(|f| f.namespace.starts_with(&namespace)),
        "a namespace under the type: {namespace}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(Catalog::stock("ab").await, 20);
        Catalog::stock_clear("ab").await.unwrap();
        assert_eq!(Catalog::stock_uncached("ab").await, 20);
    });
}

impl<T: Named> Stock<T> {
    fn kind() -> &'static str {
        T::NAME
    }
}

struct Shelf<T>(std::marker::PhantomData<T>);

#[memo_core::cached_impl]
impl<T: Named> Shelf<T> {
    #[quickcache(memoize_timeout = 0)]
    fn describe(n: u64) -> String {
        format!("{n} {}", Stock::<T>::kind())
    }
}

/// In a generic impl, each `Self` type has its own cache.
#[test]
fn associated_functions_of_generic_impls_cache_per_self_type() {
    for _ in 0..2 {
        assert_eq!(Shelf::<Apples>::describe(2), "2 apples");
        assert_eq!(Shelf::<Pears>::describe(2), "2 pears");
    }
}

struct Tagged<T> {
    tag: T,
}

impl<T: serde::Serialize + std::fmt::Display> Tagged<T> {
    #[quickcache(vary_on = [self.tag], memoize_timeout = 0)]
    fn shout(&self) -> String {
        format!("{}!", self.tag)
    }
}

/// A `vary_on` value of a generic type keys by its value.
#[test]
fn generic_vary_on_values_key_by_value() {
    for _ in 0..2 {
        assert_eq!(Tagged { tag: "a" }.shout(), "a!");
        assert_eq!(Tagged { tag: "b" }.shout(), "b!");
        assert_eq!(Tagged { tag: 7u8 }.shout(), "7!");
    }
}

#[quickcache(memoize_timeout = 60)]
fn counted(x: u64) -> u64 {
    x
}

#[quickcache(memoize_timeout = 0)]
fn counted_without_l1(x: u64) -> u64 {
    x
}

/// (L1 hits, shared hits, misses) of the function named `name`.
fn tiers_of(name: &str) -> (u64, u64, u64) {
    let part = format!("::{name}@");
    let stats = memo_core::stats::functions();
    let f = stats.iter().find(|f| f.namespace.contains(&part)).unwrap();
    (f.l1_hits, f.shared_hits, f.misses)
}

/// Each call counts once, in the tier that answered it: hits are counted
/// as probes less misses, which must come out exact when nothing runs.
#[test]
fn stats_count_each_call_once_in_the_tier_that_answered() {
    for x in [1, 1, 1, 2, 2] {
        assert_eq!(counted(x), x);
    }
    assert_eq!(tiers_of("counted"), (3, 0, 2));
    counted::clear(1).unwrap();
    counted(1);
    assert_eq!(tiers_of("counted"), (3, 0, 3));

    for x in [1, 1, 2] {
        assert_eq!(counted_without_l1(x), x);
    }
    assert_eq!(tiers_of("counted_without_l1"), (0, 1, 2));
}

#[quickcache(memoize_timeout = 60)]
fn by_value(id: u64, name: &str, tags: &[String], flag: Option<bool>) -> String {
    format!("{id}{name}{}{flag:?}", tags.len())
}

#[derive(Serialize)]
struct Weighed {
    grams: f64,
}

#[quickcache(memoize_timeout = 60)]
fn by_encoding(item: &Weighed, factor: f32) -> String {
    format!("{}", item.grams * f64::from(factor))
}

/// L1 keys integers, strings, options and slices of them by value, and
/// anything else (floats, structs) by its encoding: either way a repeated
/// call is an L1 hit, and `clear(args)` drops that entry and no other.
#[test]
fn l1_keys_by_value_or_by_encoding_with_the_same_behaviour() {
    let tags = vec!["a".to_owned()];
    for _ in 0..3 {
        assert_eq!(by_value(1, "x", &tags, Some(true)), "1x1Some(true)");
        assert_eq!(by_value(1, "y", &tags, None), "1y1None");
    }
    assert_eq!(tiers_of("by_value"), (4, 0, 2));
    by_value::clear(1, "x", &tags, Some(true)).unwrap();
    by_value(1, "x", &tags, Some(true));
    by_value(1, "y", &tags, None);
    assert_eq!(tiers_of("by_value"), (5, 0, 3));

    let item = Weighed { grams: 2.5 };
    for _ in 0..3 {
        assert_eq!(by_encoding(&item, 2.0), "5");
        assert_eq!(by_encoding(&item, -0.0), "-0");
    }
    assert_eq!(tiers_of("by_encoding"), (4, 0, 2));
    // `0.0 == -0.0`, but their encodings differ: separate entries, as in
    // the shared tier.
    assert_eq!(by_encoding(&item, 0.0), "0");
    by_encoding::clear(&item, 2.0).unwrap();
    by_encoding(&item, 2.0);
    by_encoding(&item, -0.0);
    assert_eq!(tiers_of("by_encoding"), (5, 0, 4));
}

#[derive(Serialize)]
struct Gated;

impl Gated {
    /// Compiled out with its companions, every one of them: a companion
    /// left behind would call a cache accessor that is not there.
    #[quickcache]
    #[cfg(any())]
    fn never(&self, x: u64) -> u64 {
        x
    }

    #[quickcache(memoize_timeout = 0)]
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    fn always(&self, a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8) -> u8 {
        a + b + c + d + e + f + g
    }
}

/// `cfg` and `allow` on a method reach each of its companions.
#[test]
fn cfg_and_allow_reach_every_companion() {
    assert_eq!(Gated.always(1, 1, 1, 1, 1, 1, 1), 7);
    Gated.always_clear(1, 1, 1, 1, 1, 1, 1).unwrap();
    assert_eq!(Gated.always_uncached(1, 1, 1, 1, 1, 1, 2), 8);
}

fn tenant_key(id: &u64, tenant: &str) -> (u64, String) {
    (*id, tenant.to_lowercase())
}

#[quickcache(key = tenant_key, memoize_timeout = 60)]
fn by_tenant(id: u64, tenant: &str) -> String {
    format!("{id}@{tenant}")
}

/// A `key` function returning owned integers and strings keys L1 by value
/// too: what it returns, not the arguments, names the entry.
#[test]
fn key_functions_returning_owned_parts() {
    assert_eq!(by_tenant(1, "Acme"), "1@Acme");
    assert_eq!(by_tenant(1, "ACME"), "1@Acme");
    assert_eq!(by_tenant(2, "acme"), "2@acme");
    assert_eq!(tiers_of("by_tenant"), (1, 0, 2));
    by_tenant::clear(1, "acme").unwrap();
    assert_eq!(by_tenant(1, "ACME"), "1@ACME");
    assert_eq!(by_tenant(2, "Acme"), "2@acme");
    assert_eq!(tiers_of("by_tenant"), (2, 0, 3));
}

static TIMED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Slow for odd `x` (30 ms), instant for even.
fn timed_body(x: u64) -> u64 {
    TIMED_RUNS.fetch_add(1, Ordering::SeqCst);
    if x % 2 == 1 {
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    x
}

#[quickcache(min_time = 0.02)]
fn quick_timed(x: u64) -> u64 {
    timed_body(x)
}

#[quickcache(min_time = 0.02)]
async fn quick_timed_async(x: u64) -> u64 {
    timed_body(x)
}

#[memo_core::memoized(min_time = 0.02)]
fn memo_timed(x: u64) -> u64 {
    timed_body(x)
}

#[memo_core::memoized(min_time = 0.02)]
async fn memo_timed_async(x: u64) -> u64 {
    timed_body(x)
}

/// `min_time`: only results that took at least that long to compute are
/// kept, on both attributes, sync and async.
#[test]
fn min_time_keeps_only_slow_results() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let calls: [&dyn Fn(u64) -> u64; 4] = [
        &quick_timed,
        &|x| runtime.block_on(quick_timed_async(x)),
        &memo_timed,
        &|x| runtime.block_on(memo_timed_async(x)),
    ];
    for (i, call) in calls.iter().enumerate() {
        let runs = |x: u64| {
            let before = TIMED_RUNS.load(Ordering::SeqCst);
            assert_eq!(call(x), x);
            assert_eq!(call(x), x);
            TIMED_RUNS.load(Ordering::SeqCst) - before
        };
        let (fast, slow) = (10 + 2 * i as u64, 11 + 2 * i as u64);
        assert_eq!(runs(fast), 2, "a fast result was kept ({i})");
        assert_eq!(runs(slow), 1, "a slow result was not kept ({i})");
    }
}

static WIDE: AtomicUsize = AtomicUsize::new(0);

#[quickcache(vary_on = [x], name = "tests::wide", max_bytes = 10_000)]
fn wide(x: u32) -> String {
    WIDE.fetch_add(1, Ordering::SeqCst);
    format!("{x:>900}")
}

/// `max_bytes` bounds L1 by the values' encoded length, and its evictions
/// show in the function's stats.
#[test]
fn max_bytes_bounds_l1_and_evictions_are_counted() {
    for x in 0..100 {
        wide(x);
    }
    let stats = memo_core::stats::functions();
    let wide_stats = stats.iter().find(|f| f.namespace == "tests::wide").unwrap();
    assert!(wide_stats.l1_bytes <= 10_000, "{wide_stats:?}");
    assert!(wide_stats.l1_bytes > 9 * 900, "{wide_stats:?}");
    assert!((9..=11).contains(&wide_stats.l1_entries), "{wide_stats:?}");
    assert_eq!(
        wide_stats.l1_evictions as usize + wide_stats.l1_entries,
        100,
        "every entry not held was evicted, and counted: {wide_stats:?}"
    );
}

static GUARDED: AtomicUsize = AtomicUsize::new(0);

fn is_draft(id: &u64, _preview: &bool) -> bool {
    *id >= 1000
}

#[quickcache(vary_on = [id], name = "tests::document", unless = is_draft, skip = preview)]
fn document(id: u64, preview: bool) -> String {
    let run = GUARDED.fetch_add(1, Ordering::SeqCst);
    format!("{id}#{run}{}", if preview { " (preview)" } else { "" })
}

/// `unless` bypasses the cache for the calls it picks (nothing read or
/// stored); `skip = param` refreshes the entry from the call site: the body
/// runs, and what it returns is what later calls read.
#[test]
fn unless_bypasses_and_skip_refreshes() {
    let first = document(1, false);
    assert_eq!(document(1, false), first, "cached");
    let refreshed = document(1, true);
    assert_ne!(refreshed, first, "skip ran the body");
    assert_eq!(document(1, false), refreshed, "and stored its value");

    let before = GUARDED.load(Ordering::SeqCst);
    assert_ne!(
        document(1000, false),
        document(1000, false),
        "unless: never cached"
    );
    assert_eq!(GUARDED.load(Ordering::SeqCst), before + 2);
    let key = memo_core::key::entry_key_for("tests::document", &(&1000u64,)).unwrap();
    let stored = memo_core::backend::current().get_value(&key).unwrap();
    assert_eq!(stored, None, "nor stored");
}

static DEFAULT_KEYED: AtomicUsize = AtomicUsize::new(0);

#[quickcache(skip = force)]
fn default_keyed(id: u64, force: bool) -> usize {
    let _ = (id, force);
    DEFAULT_KEYED.fetch_add(1, Ordering::SeqCst)
}

/// Without `vary_on`, the key is every parameter but `skip`'s: a forced
/// call stores where the other calls read.
#[test]
fn the_skip_parameter_leaves_the_default_key() {
    let first = default_keyed(1, false);
    let forced = default_keyed(1, true);
    assert_ne!(forced, first);
    assert_eq!(default_keyed(1, false), forced);
}

static PEEKED: AtomicUsize = AtomicUsize::new(0);

#[quickcache(vary_on = [id], name = "tests::peeked", memoize_timeout = 0)]
fn peeked(id: u64) -> String {
    PEEKED.fetch_add(1, Ordering::SeqCst);
    format!("page {id}")
}

#[quickcache(vary_on = [id], name = "tests::peeked_l1")]
fn peeked_l1(id: u64) -> Result<String, String> {
    Ok(format!("page {id}"))
}

/// `get_cached_value` peeks at the shared tier (and L1) without computing or
/// storing; `cache_key` is the key the shared tier holds the entry under.
#[test]
fn get_cached_value_peeks_and_cache_key_names_the_entry() {
    assert_eq!(peeked::get_cached_value(1), None);
    assert_eq!(PEEKED.load(Ordering::SeqCst), 0, "a peek never computes");
    assert_eq!(peeked::get_cached_value(1), None, "nor stores");
    peeked(1);
    assert_eq!(peeked::get_cached_value(1).as_deref(), Some("page 1"));
    let key = peeked::cache_key(1).unwrap();
    assert_eq!(
        key,
        memo_core::key::entry_key_for("tests::peeked", &(&1u64,)).unwrap()
    );
    assert!(memo_core::backend::current()
        .get_value(&key)
        .unwrap()
        .is_some());
    peeked::clear(1).unwrap();
    assert_eq!(peeked::get_cached_value(1), None, "cleared");

    // A `Result` function peeks at its `Ok` type.
    assert_eq!(peeked_l1::get_cached_value(2), None);
    peeked_l1(2).unwrap();
    assert_eq!(peeked_l1::get_cached_value(2).as_deref(), Some("page 2"));
    peeked_l1::set_cached_value(2).to("set".to_owned()).unwrap();
    assert_eq!(peeked_l1::get_cached_value(2).as_deref(), Some("set"));
}

const CONFIG_TTL_SECS: u64 = 60;
const L1_TTL: std::time::Duration = std::time::Duration::from_secs(5);
const L1_LIMIT: usize = 3;

#[quickcache(
    vary_on = [x],
    name = "tests::configured",
    timeout = CONFIG_TTL_SECS,
    memoize_timeout = L1_TTL,
    max_entries = L1_LIMIT
)]
fn configured(x: u64) -> u64 {
    x
}

/// Options given as constants of the application's configuration: seconds
/// as an integer, a `Duration`, a count.
#[test]
fn options_take_constant_expressions() {
    for x in 0..10 {
        configured(x);
    }
    let stats = memo_core::stats::functions();
    let configured = stats
        .iter()
        .find(|f| f.namespace == "tests::configured")
        .unwrap();
    assert_eq!(
        configured.l1_entries, 3,
        "max_entries = L1_LIMIT: {configured:?}"
    );
    assert_eq!(configured.l1_evictions, 7);
}

#[quickcache(vary_on = [x], name = "tests::timed", memoize_timeout = 0)]
fn timed(x: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(5));
    x
}

/// Bodies run, their time, and stores are counted per function.
#[test]
fn stats_count_computations_their_time_and_stores() {
    for x in [1, 1, 2, 1] {
        timed(x);
    }
    let stats = memo_core::stats::functions();
    let timed = stats
        .iter()
        .find(|f| f.namespace == "tests::timed")
        .unwrap();
    assert_eq!(
        (timed.computations, timed.stores, timed.errors),
        (2, 2, 0),
        "{timed:?}"
    );
    assert!(
        timed.compute_time >= std::time::Duration::from_millis(10),
        "{timed:?}"
    );
}

static CONFIGURED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(vary_on = [x], name = "tests::configure::l1_off")]
fn configured_l1_off(x: u64) -> u64 {
    CONFIGURED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[quickcache(vary_on = [x], name = "tests::configure::off")]
fn configured_off(x: u64) -> u64 {
    CONFIGURED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[quickcache(vary_on = [x], name = "tests::configure::kept")]
fn configured_kept(x: u64) -> u64 {
    x
}

/// `configure` overrides a function's options before its first call: L1
/// off under one prefix (calls are shared-tier hits), caching off under a
/// longer one (every call computes and nothing is stored), a TTL shortened.
#[test]
fn configure_overrides_options_by_namespace_prefix() {
    use std::time::Duration;
    memo_core::configure("tests::configure::", |c| {
        c.memoize_timeout(Duration::ZERO)
            .timeout(Duration::from_millis(300))
    });
    memo_core::configure("tests::configure::off", |c| c.enabled(false));
    let namespace = |name: &str| {
        memo_core::stats::functions()
            .into_iter()
            .find(|f| f.namespace == name)
            .unwrap()
    };

    configured_l1_off(1);
    configured_l1_off(1);
    let l1_off = namespace("tests::configure::l1_off");
    assert_eq!(
        (l1_off.l1_hits, l1_off.shared_hits, l1_off.misses),
        (0, 1, 1)
    );
    assert_eq!(CONFIGURED_RUNS.load(Ordering::SeqCst), 1);

    configured_off(1);
    configured_off(1);
    assert_eq!(
        CONFIGURED_RUNS.load(Ordering::SeqCst),
        3,
        "off: every call computes"
    );
    let key = configured_off::cache_key(1).unwrap();
    assert_eq!(
        memo_core::backend::current().get_value(&key).unwrap(),
        None,
        "and stores nothing"
    );

    // The shortened timeout: the entry is gone from the shared tier soon.
    configured_kept(1);
    let key = configured_kept::cache_key(1).unwrap();
    assert!(memo_core::backend::current()
        .get_value(&key)
        .unwrap()
        .is_some());
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        memo_core::backend::current().get_value(&key).unwrap(),
        None,
        "expired after 300 ms"
    );
}

static HITS_SEEN: AtomicUsize = AtomicUsize::new(0);
static MISSES_SEEN: AtomicUsize = AtomicUsize::new(0);

fn saw_hit(id: &u64) {
    assert_eq!(*id, 5);
    HITS_SEEN.fetch_add(1, Ordering::SeqCst);
}

fn saw_miss(id: &u64) {
    assert_eq!(*id, 5);
    MISSES_SEEN.fetch_add(1, Ordering::SeqCst);
}

#[quickcache(vary_on = [id], name = "tests::hooked", on_hit = saw_hit, on_miss = saw_miss)]
fn hooked(id: u64) -> u64 {
    id
}

#[quickcache(vary_on = [id], name = "tests::hooked_shared", memoize_timeout = 0, on_hit = saw_hit, on_miss = saw_miss)]
fn hooked_shared(id: u64) -> u64 {
    id
}

/// `on_hit` and `on_miss` are called with the arguments: once per call,
/// whichever tier answered (an L1 hit, a shared-tier hit), `on_miss` just
/// before the body runs.
#[test]
fn on_hit_and_on_miss_see_each_call() {
    let seen = || {
        (
            HITS_SEEN.load(Ordering::SeqCst),
            MISSES_SEEN.load(Ordering::SeqCst),
        )
    };
    let before = seen();
    hooked(5);
    hooked(5);
    hooked(5);
    hooked_shared(5);
    hooked_shared(5);
    let after = seen();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (3, 2),
        "L1 hits, a shared hit; two misses"
    );
}

static PRICES_DOWN: AtomicBool = AtomicBool::new(false);
static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Fresh for 300 ms, then kept for 0.6 s more to stand in for an `Err`.
#[quickcache(timeout = 0.3, memoize_timeout = 0, stale_on_error = 0.6)]
fn quote(sku: u32) -> Result<u32, String> {
    let run = PRICE_RUNS.fetch_add(1, Ordering::SeqCst) as u32 + 1;
    if PRICES_DOWN.load(Ordering::SeqCst) {
        return Err(format!("{sku}: prices are down"));
    }
    Ok(sku * 100 + run)
}

fn stale_served(prefix: &str) -> u64 {
    memo_core::stats::functions()
        .into_iter()
        .find(|f| f.namespace.contains(prefix))
        .map_or(0, |f| f.stale_served)
}

/// `stale_on_error`: past its `timeout`, an older `Ok` is returned when
/// the body returns `Err`, never when it returns `Ok`, and only within the
/// grace period; a clear or an invalidate ends it.
#[test]
fn stale_on_error_serves_an_older_ok_in_place_of_an_err_within_its_grace() {
    let down = |yes| PRICES_DOWN.store(yes, Ordering::SeqCst);
    let pause = |ms| std::thread::sleep(std::time::Duration::from_millis(ms));
    assert_eq!(quote(1), Ok(101));
    down(true);
    assert_eq!(quote(1), Ok(101), "fresh: a hit, the body not run");
    assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 1);
    pause(400);
    assert_eq!(quote(1), Ok(101), "stale, in place of the error");
    assert_eq!(
        PRICE_RUNS.load(Ordering::SeqCst),
        2,
        "the body ran and failed"
    );
    assert_eq!(stale_served("::quote@"), 1);
    down(false);
    assert_eq!(quote(1), Ok(103), "stale but the body succeeded: its value");
    down(true);
    assert_eq!(quote(1), Ok(103), "fresh again");

    // Past the grace period: the error.
    pause(1000);
    assert_eq!(quote(1), Err("1: prices are down".into()));

    // A cleared or invalidated entry is never served stale.
    down(false);
    assert_eq!(quote(2), Ok(205));
    assert_eq!(quote(3), Ok(306));
    pause(400);
    down(true);
    quote::clear(2).unwrap();
    assert_eq!(quote(2), Err("2: prices are down".into()), "cleared");
    quote::invalidate().unwrap();
    assert_eq!(quote(3), Err("3: prices are down".into()), "invalidated");
    assert_eq!(stale_served("::quote@"), 1);
}

static MANY_RUNS: AtomicUsize = AtomicUsize::new(0);

fn is_negative(x: &i64) -> bool {
    *x < 0
}

#[quickcache(memoize_timeout = 60, unless = is_negative)]
fn doubled(x: i64) -> i64 {
    MANY_RUNS.fetch_add(1, Ordering::SeqCst);
    x * 2
}

#[quickcache(memoize_timeout = 0)]
fn labelled(id: u32, label: &str) -> String {
    MANY_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{label}#{id}")
}

/// `get_many`: results in the order asked, values found in either tier
/// served, each distinct miss computed once, `unless` honoured per item.
#[test]
fn get_many_answers_in_order_and_computes_each_distinct_miss_once() {
    let runs = || MANY_RUNS.load(Ordering::SeqCst);
    assert_eq!(doubled(1), 2);
    let before = runs();
    assert_eq!(
        doubled::get_many(vec![3, 1, 3, 4, -2, -2]),
        [6, 2, 6, 8, -4, -4]
    );
    assert_eq!(
        runs(),
        before + 4,
        "3 and 4 once each, -2 twice (unless), 1 a hit"
    );
    let before = runs();
    assert_eq!(doubled::get_many(vec![4, 3, 1]), [8, 6, 2]);
    assert_eq!(runs(), before, "every one a hit");

    // L1 off: the shared tier answers, for functions of many arguments too.
    assert_eq!(labelled(1, "a"), "a#1");
    let before = runs();
    let got = labelled::get_many(vec![(2, "b"), (1, "a"), (2, "b")]);
    assert_eq!(got, ["b#2", "a#1", "b#2"]);
    assert_eq!(runs(), before + 1, "(2, b) once");
    assert!(labelled::get_many(Vec::new()).is_empty());
}
