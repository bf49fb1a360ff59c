//! The in-process cache of `#[memoized]`: per function, or per instance for
//! `&self` methods.

use std::any::{Any, TypeId};
use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use crate::clock::{self, Tick};
use std::future::Future;
use std::time::Instant;

use crate::counters::Counters;
use crate::quickcache::spans;
use crate::registry::{self, CachedFunction, LocalTier};
use tracing::Instrument;

use crate::flight::{Flight, Flights, Followed, Joined, Leader};
use crate::outcome::{Keep, Started};
use crate::settings::Jitter;
use crate::store::{Store, Ticket};

/// What the macro knows about one `#[memoized]` function.
#[derive(Debug, Clone, Copy)]
pub struct MemoSpec {
    /// `timeout`: how long an entry lives; `None`: for the life of the cache.
    pub timeout: Option<Duration>,
    /// `max_entries`: the bound; `None`: unbounded.
    pub max_entries: Option<usize>,
    /// `max_bytes`: the bound in bytes, as the weigher weighs entries;
    /// `None`: none.
    pub max_bytes: Option<usize>,
    /// `min_time`: a result computed faster than this is not kept (zero:
    /// every result is).
    pub min_time: Duration,
    /// `timeout_jitter`: each entry's `timeout` spread over ± this share
    /// (0: none).
    pub timeout_jitter: f64,
    /// `idle_timeout`: an entry not read for this long expires (`None`:
    /// none). Not with `timeout`.
    pub idle_timeout: Option<Duration>,
    /// `stale_on_error`: how long past its `timeout` a copy of each entry
    /// is kept, to be returned when the body returns `Err` (zero: none).
    pub stale_on_error: Duration,
}

/// One `#[memoized]` cache, keyed by owned copies of the arguments.
///
/// # Concurrency
///
/// Concurrent calls that miss the same key run the body once: the first
/// computes, the others park until its value is ready (see the `flight`
/// module). A panicking body releases them and one of them computes instead.
/// Different keys never wait on each other.
pub struct Memoized<K, V> {
    spec: MemoSpec,
    /// The function's counters, shared by its instances' caches.
    stats: &'static MemoStats,
    /// How `max_bytes` weighs an entry.
    weigher: Option<fn(&K, &V) -> usize>,
    /// Held by one instance of many (see `Store::per_instance`).
    per_instance: bool,
    inner: OnceLock<Inner<K, V>>,
}

struct Inner<K, V> {
    /// `false` when `configure` turned caching off: every call runs the
    /// body, and nothing is stored.
    enabled: bool,
    store: Store<K, V>,
    ttl: Option<Tick>,
    flights: Flights<K, V>,
    /// With `stale_on_error`: a copy of every entry stored, kept `timeout`
    /// plus the grace period (a store of its own, so a hit reads one
    /// deadline as before), read only when a body returns `Err`.
    stale: Option<(Store<K, V>, Tick)>,
}

/// The tickets a value computed from now on is stored with: the map's, and
/// the stale copies' (`stale_on_error`).
#[derive(Clone, Copy)]
struct Tickets {
    main: Ticket,
    stale: Option<Ticket>,
}

impl<K, V> Memoized<K, V> {
    /// An empty cache; nothing is allocated until the first call. Without
    /// bounds, so a key type that lacks a trait is reported where the
    /// arguments are checked, not here as well.
    pub const fn new(
        spec: MemoSpec,
        weigher: Option<fn(&K, &V) -> usize>,
        stats: &'static MemoStats,
    ) -> Self {
        Memoized {
            spec,
            stats,
            weigher,
            per_instance: false,
            inner: OnceLock::new(),
        }
    }
}

impl<K: Hash + Eq + Clone + 'static, V: Clone + 'static> Memoized<K, V> {
    fn per_instance(
        spec: MemoSpec,
        weigher: Option<fn(&K, &V) -> usize>,
        stats: &'static MemoStats,
    ) -> Self {
        Memoized {
            per_instance: true,
            ..Self::new(spec, weigher, stats)
        }
    }

    #[inline(always)]
    fn inner(&self) -> &Inner<K, V> {
        match self.inner.get() {
            Some(inner) => inner,
            None => self.init(),
        }
    }

    #[cold]
    fn init(&self) -> &Inner<K, V> {
        self.inner.get_or_init(|| self.build())
    }

    /// The cache, with the application's overrides (`memo_core::configure`)
    /// read once.
    fn build(&self) -> Inner<K, V> {
        let mut spec = self.spec;
        let enabled = crate::configure::apply_memoized(self.stats.namespace, &mut spec);
        let spec = spec;
        Inner {
            enabled,
            store: {
                let store = if self.per_instance {
                    Store::per_instance(spec.max_entries)
                } else {
                    Store::new(spec.max_entries)
                };
                let store = match (self.spec.max_bytes, self.weigher) {
                    (Some(max), Some(weigh)) => store.weighed(max, Box::new(weigh)),
                    _ => store,
                };
                match spec.idle_timeout {
                    Some(idle) => store.idle(clock::ticks(idle)),
                    None => store,
                }
            },
            ttl: spec.timeout.or(spec.idle_timeout).map(clock::ticks),
            flights: Flights::new(),
            stale: (!spec.stale_on_error.is_zero()).then(|| {
                let store = if self.per_instance {
                    Store::per_instance(spec.max_entries)
                } else {
                    Store::new(spec.max_entries)
                };
                (store, clock::ticks(spec.stale_on_error))
            }),
        }
    }

    /// The tickets to store a value computed from now on with.
    fn tickets(&self) -> Tickets {
        let inner = self.inner();
        Tickets {
            main: inner.store.ticket(),
            stale: inner.stale.as_ref().map(|(stale, _)| stale.ticket()),
        }
    }

    /// Stores `value` for `key` under `tickets` (`fencing`: superseding the
    /// computations under way), and its stale copy.
    fn keep(&self, key: K, value: &V, tickets: Tickets, fencing: bool) {
        let inner = self.inner();
        if !inner.enabled {
            return;
        }
        let ttl = self.entry_ttl();
        if let (Some((stale, grace)), Some(ticket)) = (&inner.stale, tickets.stale) {
            let kept_for = ttl.map(|ttl| ttl.saturating_add(*grace));
            if fencing {
                stale.insert_fencing(key.clone(), value.clone(), kept_for, ticket);
            } else {
                stale.insert(key.clone(), value.clone(), kept_for, ticket);
            }
        }
        if fencing {
            inner
                .store
                .insert_fencing(key, value.clone(), ttl, tickets.main);
        } else {
            inner.store.insert(key, value.clone(), ttl, tickets.main);
        }
    }

    /// The cache itself, once its key and value types have been checked:
    /// a `#[memoized]` function calls it once and probes and misses
    /// through the result, so a key type that lacks a trait gets one error
    /// here and none from the calls after it.
    #[inline(always)]
    pub fn type_checked(&self) -> &Self {
        self
    }

    /// The cached value for `key`, computing and storing it on a miss; the
    /// body of a `#[memoized]` function of more arguments than
    /// [`BorrowedKey`] covers. `keep` says what of a computed result is
    /// stored (see [`Keep`]); `found` is called with the key when a value
    /// is found instead of computed (`on_hit`).
    #[inline]
    pub fn call<O, P: Keep<O, Value = V>>(
        &self,
        key: K,
        keep: P,
        found: impl FnOnce(&K),
        compute: impl FnOnce() -> O,
    ) -> O {
        self.stats.counters.l1_probes.add();
        match self.inner().store.get(&key) {
            Some(value) => {
                found(&key);
                P::hit(value)
            }
            None => self.call_missed(key, keep, found, compute),
        }
    }

    /// A live value for the arguments, borrowed where they are: the
    /// generated code probes with a tuple of references to them (see
    /// [`BorrowedKey`]), so a hit neither clones nor allocates a key (a
    /// `&str` argument cost a `String` per hit), then calls
    /// [`Memoized::call_missed`] with an owned key on a miss.
    #[inline]
    pub fn get<Q: BorrowedKey<K>>(&self, args: &Q) -> Option<V> {
        self.stats.counters.l1_probes.add();
        if crate::quickcache::spans::hits_traced() {
            return self.traced_get(args);
        }
        self.inner()
            .store
            .get_equivalent(&Borrowed(args), || args.to_owned_key())
    }

    /// [`Memoized::get`] while a subscriber wants `debug` events: a hit is
    /// one (out of line; the hit path checks a static and goes on).
    #[cold]
    #[inline(never)]
    fn traced_get<Q: BorrowedKey<K>>(&self, args: &Q) -> Option<V> {
        let found = self
            .inner()
            .store
            .get_equivalent(&Borrowed(args), || args.to_owned_key());
        if found.is_some() {
            crate::quickcache::spans::hit(self.stats.namespace, "l1");
        }
        found
    }

    /// The rest of [`Memoized::call`] after a miss (or after
    /// [`Memoized::get`] found nothing), blocking: the steps of
    /// [`Memoized::miss_step`], waiting on the flight by parking. Out of
    /// line, so a hit carries none of it.
    #[cold]
    #[inline(never)]
    pub fn call_missed<O, P: Keep<O, Value = V>>(
        &self,
        key: K,
        keep: P,
        found: impl FnOnce(&K),
        compute: impl FnOnce() -> O,
    ) -> O {
        self.stats.probe_missed();
        let mut followed = None;
        loop {
            match self.miss_step(&key, followed.take()) {
                MissStep::Found(value) => {
                    found(&key);
                    return P::hit(value);
                }
                MissStep::Wait(flight) => {
                    let span = spans::wait(self.stats.namespace);
                    followed = Some(span.in_scope(|| flight.wait()));
                }
                MissStep::Alone => {
                    let at = self.stats.begin();
                    let span = spans::compute(self.stats.namespace);
                    let result = span.in_scope(compute);
                    self.stats.computed(&span, at);
                    return result;
                }
                MissStep::Compute(computing) => {
                    let span = spans::compute(self.stats.namespace);
                    let result = span.in_scope(compute);
                    self.stats.computed(&span, computing.at);
                    if let Some(stale) = self.computed(key, computing, keep.kept(&result)) {
                        return P::hit(stale);
                    }
                    return result;
                }
            }
        }
    }

    /// The next step of a miss, given what the flight it waited on came to
    /// (`None`: it has not joined one yet): the steps both drivers share.
    fn miss_step(&self, key: &K, followed: Option<Followed<V>>) -> MissStep<'_, K, V> {
        let inner = self.inner();
        let late_hit = |value| {
            self.stats.counters.l1_late_hits.add();
            MissStep::Found(value)
        };
        match followed {
            Some(Followed::Value(value)) => return late_hit(value),
            Some(Followed::Alone) => return MissStep::Alone,
            // An abandoned flight: look again before leading the next one.
            Some(Followed::Retry) => {
                if let Some(value) = inner.store.get(key) {
                    return late_hit(value);
                }
            }
            None => {}
        }
        match inner.flights.join(key.clone()) {
            Joined::Follower(flight) => MissStep::Wait(flight),
            Joined::Leader(leader) => {
                // A leader may have landed between the miss and the join.
                if let Some(value) = inner.store.get(key) {
                    leader.finish(&value);
                    return late_hit(value);
                }
                MissStep::Compute(Computing {
                    leader,
                    tickets: self.tickets(),
                    at: self.stats.begin(),
                })
            }
        }
    }

    /// After the leader computed: stores what is kept (unless the entry was
    /// invalidated meanwhile) and hands it to the followers, or lets them
    /// compute on their own.
    ///
    /// With `stale_on_error`, when nothing is kept of the result (an
    /// `Err`): the stale copy of `key`'s value, if one is still held, to
    /// return instead (handed to the followers too; nothing is stored).
    fn computed(&self, key: K, computing: Computing<'_, K, V>, kept: Option<&V>) -> Option<V> {
        let inner = self.inner();
        if kept.is_none() {
            if let Some(stale) = inner.stale.as_ref().and_then(|(stale, _)| stale.get(&key)) {
                self.stats.counters.stale_served.add();
                computing.leader.finish(&stale);
                return Some(stale);
            }
        }
        match self.worth_keeping(Started::at(computing.at), kept) {
            Some(value) if inner.enabled => {
                self.keep(key, value, computing.tickets, false);
                computing.leader.finish(value);
            }
            // Nothing kept, or caching is off: the followers compute.
            _ => computing.leader.decline(),
        }
        None
    }

    /// [`Memoized::call`] (or [`Memoized::call_missed`]) for async
    /// callers, awaiting: the steps of [`Memoized::miss_step`], waiting on
    /// the flight without blocking a thread. A leader whose future is
    /// dropped releases its followers and one of them computes. A probe
    /// first: the generated code calls this without one for functions of
    /// many arguments.
    pub async fn call_async<O, P: Keep<O, Value = V>>(
        &self,
        key: K,
        keep: P,
        found: impl FnOnce(&K),
        compute: impl Future<Output = O>,
    ) -> O {
        self.stats.counters.l1_probes.add();
        if let Some(value) = self.inner().store.get(&key) {
            found(&key);
            return P::hit(value);
        }
        self.stats.probe_missed();
        let mut followed = None;
        loop {
            match self.miss_step(&key, followed.take()) {
                MissStep::Found(value) => {
                    found(&key);
                    return P::hit(value);
                }
                MissStep::Wait(flight) => {
                    let span = spans::wait(self.stats.namespace);
                    followed = Some(flight.wait_async().instrument(span).await);
                }
                MissStep::Alone => {
                    let at = self.stats.begin();
                    let span = spans::compute(self.stats.namespace);
                    let result = compute.instrument(span.clone()).await;
                    self.stats.computed(&span, at);
                    return result;
                }
                MissStep::Compute(computing) => {
                    let span = spans::compute(self.stats.namespace);
                    let result = compute.instrument(span.clone()).await;
                    self.stats.computed(&span, computing.at);
                    if let Some(stale) = self.computed(key, computing, keep.kept(&result)) {
                        return P::hit(stale);
                    }
                    return result;
                }
            }
        }
    }

    /// Computes the value for `key` afresh, stores what `keep` keeps of it
    /// and returns it.
    pub fn refresh<O, P: Keep<O, Value = V>>(
        &self,
        key: K,
        keep: P,
        compute: impl FnOnce() -> O,
    ) -> O {
        let refreshing = self.begin_refresh();
        let result = compute();
        self.refreshed(key, keep.kept(&result), refreshing);
        result
    }

    /// [`Memoized::refresh`] for async callers.
    pub async fn refresh_async<O, P: Keep<O, Value = V>>(
        &self,
        key: K,
        keep: P,
        compute: impl Future<Output = O>,
    ) -> O {
        let refreshing = self.begin_refresh();
        let result = compute.await;
        self.refreshed(key, keep.kept(&result), refreshing);
        result
    }

    /// How long an entry stored now lives: `timeout`, spread by
    /// `timeout_jitter`.
    fn entry_ttl(&self) -> Option<Tick> {
        let ttl = self.inner().ttl?;
        Some(Jitter(self.spec.timeout_jitter).spread_ticks(ttl))
    }

    /// A refresh starts: the ticket its value is stored with, and when.
    fn begin_refresh(&self) -> (Tickets, Started) {
        self.stats.register();
        (self.tickets(), Started::now(self.spec.min_time))
    }

    /// What of a result computed since `started` to keep: `value`, unless
    /// it came faster than `min_time`. The rule for every surface.
    fn worth_keeping<'v>(&self, started: Started, value: Option<&'v V>) -> Option<&'v V> {
        started.worth_keeping(self.spec.min_time, value)
    }

    /// Stores a refreshed value (if there is one to keep), superseding the
    /// computations of `key` under way.
    fn refreshed(&self, key: K, value: Option<&V>, (tickets, started): (Tickets, Started)) {
        let Some(value) = self.worth_keeping(started, value) else {
            return;
        };
        self.keep(key.clone(), value, tickets, true);
        self.inner().flights.detach(&key);
    }

    /// The live value for `key`, without computing or storing anything
    /// (`f::get_cached_value`).
    pub fn peek(&self, key: &K) -> Option<V> {
        self.inner().store.get(key)
    }

    /// Stores `value` for `key`; computations of `key` under way (which
    /// began before) neither store nor hand their values to later callers.
    pub fn set(&self, key: K, value: V) {
        self.stats.register();
        let tickets = self.tickets();
        self.keep(key.clone(), &value, tickets, true);
        self.inner().flights.detach(&key);
    }

    /// Drops the entry for `key`; computations of `key` under way neither
    /// store nor hand their values to later callers.
    pub fn clear(&self, key: &K) {
        let inner = self.inner();
        inner.store.remove(key);
        if let Some((stale, _)) = &inner.stale {
            stale.remove(key);
        }
        inner.flights.detach(key);
    }

    /// Drops every entry; computations under way neither store nor hand
    /// their values to later callers.
    pub fn invalidate(&self) {
        let inner = self.inner();
        inner.store.clear();
        if let Some((stale, _)) = &inner.stale {
            stale.clear();
        }
        inner.flights.detach_all();
    }

    /// How many entries the cache holds (expired ones not yet swept
    /// included).
    pub fn len(&self) -> usize {
        self.inner().store.len()
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a miss does next (see [`Memoized::miss_step`]).
enum MissStep<'f, K: Hash + Eq, V> {
    /// A value: the flight's, or one stored meanwhile.
    Found(V),
    /// Wait for the flight's leader.
    Wait(Arc<Flight<V>>),
    /// Compute without a flight: the leader's result was not one to keep.
    Alone,
    /// Compute as the flight's leader.
    Compute(Computing<'f, K, V>),
}

/// A leader's computation under way: its flight, the ticket taken before
/// it began, and when it began (for the stats and `min_time`).
struct Computing<'f, K: Hash + Eq, V> {
    leader: Leader<'f, K, V>,
    tickets: Tickets,
    at: Instant,
}

/// The caches of one instance's `#[memoized]` methods. Put one in a field of
/// your type and implement [`HasMemos`] to return it: each `&self` method
/// marked `#[memoized]` then caches per instance, and the cache is freed with
/// the instance.
///
/// Cloning gives an empty `Memos`: a clone computes its own values (it may be
/// changed after the clone, and values cached for the original would be
/// wrong for it).
///
/// # Examples
///
/// ```
/// use memo_core::{memoized, HasMemos, Memos};
///
/// #[derive(Default)]
/// struct Report { rows: Vec<u64>, memos: Memos }
///
/// impl HasMemos for Report {
///     fn memos(&self) -> &Memos { &self.memos }
/// }
///
/// impl Report {
///     #[memoized]
///     fn total(&self) -> u64 { self.rows.iter().sum() }
/// }
///
/// let report = Report { rows: vec![1, 2, 3], ..Default::default() };
/// assert_eq!(report.total(), 6);
/// report.total_clear();
/// ```
#[derive(Default)]
pub struct Memos {
    caches: RwLock<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,
}

impl Memos {
    /// An empty set of caches.
    ///
    /// # Examples
    ///
    /// ```
    /// let memos = memo_core::Memos::new();
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every cached value of every method of this instance.
    ///
    /// # Examples
    ///
    /// ```
    /// memo_core::Memos::new().clear();
    /// ```
    pub fn clear(&self) {
        self.caches
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The cache of the method marked by `slot`, created on first use (and
    /// then known to [`invalidate_all`]).
    pub(crate) fn cache<K, V>(
        &self,
        slot: TypeId,
        spec: MemoSpec,
        weigher: Option<fn(&K, &V) -> usize>,
        stats: &'static MemoStats,
    ) -> Arc<Memoized<K, V>>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let found = |caches: &[(TypeId, Arc<dyn Any + Send + Sync>)]| {
            caches
                .iter()
                .find(|(id, _)| *id == slot)
                .and_then(|(_, cache)| Arc::clone(cache).downcast::<Memoized<K, V>>().ok())
        };
        if let Some(cache) = found(&self.caches.read().unwrap_or_else(|e| e.into_inner())) {
            return cache;
        }
        let mut caches = self.caches.write().unwrap_or_else(|e| e.into_inner());
        if let Some(cache) = found(&caches) {
            return cache;
        }
        let cache = Arc::new(Memoized::per_instance(spec, weigher, stats));
        let _ = stats.slot.set(slot);
        caches.push((slot, cache.clone()));
        let weak: Weak<dyn Flush> = Arc::downgrade(&cache) as Weak<dyn Flush>;
        live_caches().register(slot, weak);
        cache
    }
}

/// A per-instance cache, as [`invalidate_all`] flushes it and the stats
/// weigh it.
trait Flush: MemoUsage {
    fn flush(&self);
}

/// What a `#[memoized]` cache holds, for `stats::functions()`.
#[doc(hidden)]
pub trait MemoUsage: Send + Sync {
    /// Entries and their weight, evictions and expirations.
    fn usage(&self) -> (usize, usize, u64, u64);
}

/// Without the cache's bounds: a key type that lacks one is reported where
/// the cache is used, not here as well.
impl<K: Send + Sync, V: Send + Sync> MemoUsage for Memoized<K, V> {
    fn usage(&self) -> (usize, usize, u64, u64) {
        let Some(inner) = self.inner.get() else {
            return (0, 0, 0, 0);
        };
        let (evictions, expirations) = inner.store.evictions();
        (
            inner.store.len(),
            inner.store.weight(),
            evictions,
            expirations,
        )
    }
}

/// The counters of one `#[memoized]` function (of all its instances'
/// caches, for a `&self` method), in a `static` beside its cache:
/// `stats::functions()` lists it from its first miss or store, under
/// `module::function@digest` (the digest as `#[quickcache]`'s default
/// namespace has it).
#[doc(hidden)]
pub struct MemoStats {
    namespace: &'static str,
    counters: Counters,
    registered: std::sync::Once,
    /// A function's one cache (`None` for a `&self` method's, one per
    /// instance: found through the live caches of `slot`).
    cache: Option<fn() -> &'static dyn MemoUsage>,
    slot: OnceLock<TypeId>,
}

impl MemoStats {
    /// The counters of the function named `namespace`, whose one cache
    /// `cache` returns (`None` for a `&self` method).
    pub const fn new(
        namespace: &'static str,
        cache: Option<fn() -> &'static dyn MemoUsage>,
    ) -> Self {
        MemoStats {
            namespace,
            counters: Counters::new(),
            registered: std::sync::Once::new(),
            cache,
            slot: OnceLock::new(),
        }
    }

    /// Lists the function in `stats::functions()`, once.
    fn register(&'static self) {
        self.registered.call_once(|| registry::register(self));
    }

    /// A probe found nothing: the miss path begins.
    fn probe_missed(&'static self) {
        self.register();
        self.counters.l1_probe_misses.add();
    }

    /// A body begins to run.
    fn begin(&self) -> Instant {
        self.counters.misses.add();
        Instant::now()
    }

    /// The body that began `at` returned: its time in the counters, and on
    /// its span if a subscriber records it.
    fn computed(&self, span: &tracing::Span, at: Instant) {
        let took = at.elapsed();
        self.counters.computed(self.namespace, took);
        if !span.is_disabled() {
            span.record("elapsed_ms", took.as_secs_f64() * 1e3);
        }
    }
}

impl CachedFunction for MemoStats {
    fn namespace(&self) -> &str {
        self.namespace
    }

    // An in-process cache: no other process or shared tier changes it.
    fn flush_local(&self) {}

    fn forget_local(&self, _args: &[u8]) {}

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn local_tier(&self) -> LocalTier {
        let usages: Vec<(usize, usize, u64, u64)> = match (self.cache, self.slot.get()) {
            (Some(cache), _) => vec![cache().usage()],
            (None, Some(slot)) => live_caches().usages(*slot),
            (None, None) => Vec::new(),
        };
        usages.into_iter().fold(
            LocalTier::default(),
            |sum, (entries, bytes, evictions, expirations)| LocalTier {
                entries: sum.entries + entries,
                bytes: sum.bytes + bytes,
                evictions: sum.evictions + evictions,
                expirations: sum.expirations + expirations,
            },
        )
    }
}

impl<K, V> Flush for Memoized<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn flush(&self) {
        self.invalidate();
    }
}

/// Every live per-instance cache, by method (its slot): weak, so an
/// instance still frees its caches when it drops; the dead ones are
/// dropped from the list as it grows.
struct LiveCaches {
    by_slot: std::sync::Mutex<Vec<Slot>>,
}

/// One method's live caches, and the length at which they are next pruned.
type Slot = (TypeId, Vec<Weak<dyn Flush>>, usize);

fn live_caches() -> &'static LiveCaches {
    static LIVE: OnceLock<LiveCaches> = OnceLock::new();
    LIVE.get_or_init(|| LiveCaches {
        by_slot: std::sync::Mutex::new(Vec::new()),
    })
}

impl LiveCaches {
    /// What the live caches of `slot` hold.
    fn usages(&self, slot: TypeId) -> Vec<(usize, usize, u64, u64)> {
        let by_slot = self.by_slot.lock().unwrap_or_else(|e| e.into_inner());
        by_slot
            .iter()
            .filter(|(id, ..)| *id == slot)
            .flat_map(|(_, caches, _)| caches.iter().filter_map(Weak::upgrade))
            .map(|cache| cache.usage())
            .collect()
    }

    fn register(&self, slot: TypeId, cache: Weak<dyn Flush>) {
        let mut by_slot = self.by_slot.lock().unwrap_or_else(|e| e.into_inner());
        let index = match by_slot.iter().position(|(id, ..)| *id == slot) {
            Some(index) => index,
            None => {
                by_slot.push((slot, Vec::new(), 64));
                by_slot.len() - 1
            }
        };
        let (_, caches, prune_at) = &mut by_slot[index];
        caches.push(cache);
        // Amortised O(1): pruned when the list doubles past what lived.
        if caches.len() >= *prune_at {
            caches.retain(|cache| cache.strong_count() > 0);
            *prune_at = (2 * caches.len()).max(64);
        }
    }
}

/// Drops every entry of one per-instance `#[memoized]` method in every live
/// instance (`Type::method_invalidate_all()`, django-memoize's
/// `delete_memoized(Type.method)`). Computations under way in any of them
/// store nothing. Costs a lock and a pass over that method's instances.
pub fn invalidate_all(slot: TypeId) {
    let caches: Vec<Arc<dyn Flush>> = {
        let by_slot = live_caches()
            .by_slot
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        by_slot
            .iter()
            .filter(|(id, ..)| *id == slot)
            .flat_map(|(_, caches, _)| caches.iter().filter_map(Weak::upgrade))
            .collect()
    };
    // Flushed outside the lock: an instance dropped meanwhile is kept alive
    // by this list until its flush returns.
    for cache in caches {
        cache.flush();
    }
}

impl Clone for Memos {
    fn clone(&self) -> Self {
        Memos::new()
    }
}

impl fmt::Debug for Memos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let caches = self.caches.read().unwrap_or_else(|e| e.into_inner()).len();
        f.debug_struct("Memos").field("caches", &caches).finish()
    }
}

/// Types whose `&self` methods can be `#[memoized]`: they hold a [`Memos`].
///
/// # Examples
///
/// ```
/// use memo_core::{HasMemos, Memos};
///
/// struct Client { memos: Memos }
/// impl HasMemos for Client {
///     fn memos(&self) -> &Memos { &self.memos }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`#[memoized]` on a `&self` method needs `{Self}` to hold its caches",
    label = "`{Self}` does not implement `memo_core::HasMemos`",
    note = "add a field `memos: memo_core::Memos` to `{Self}` and `impl memo_core::HasMemos for {Self} {{ fn memos(&self) -> &memo_core::Memos {{ &self.memos }} }}`"
)]
pub trait HasMemos {
    /// The instance's caches.
    fn memos(&self) -> &Memos;
}

/// The per-instance cache of the method marked by `M` on `owner`.
pub fn instance_cache<K, V, T>(
    owner: &T,
    slot: TypeId,
    spec: MemoSpec,
    weigher: Option<fn(&K, &V) -> usize>,
    stats: &'static MemoStats,
) -> Arc<Memoized<K, V>>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    T: HasMemos + ?Sized,
{
    owner.memos().cache::<K, V>(slot, spec, weigher, stats)
}

/// Arguments borrowed where they are, as a `#[memoized]` function probes
/// its cache with them: a tuple of references, one per argument, standing
/// for the owned key `K` (`&str` for `String`, `&T` for `T`). Hashes as
/// `K` does and equals it part for part through `Borrow`, whose contract
/// is exactly that (`Hash` and `Eq` of the borrowed form agree with the
/// owned one's).
pub trait BorrowedKey<K>: Hash {
    /// Whether `key` holds these arguments.
    fn matches(&self, key: &K) -> bool;

    /// The owned key.
    fn to_owned_key(&self) -> K;
}

/// The probe papaya takes: `Equivalent` to the owned key.
struct Borrowed<'a, Q>(&'a Q);

impl<Q: Hash> Hash for Borrowed<'_, Q> {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<Q: BorrowedKey<K>, K> papaya::Equivalent<K> for Borrowed<'_, Q> {
    #[inline]
    fn equivalent(&self, key: &K) -> bool {
        self.0.matches(key)
    }
}

macro_rules! borrowed_tuples {
    ($(($($n:tt $t:ident $o:ident),*))*) => {$(
        impl<$($t, $o),*> BorrowedKey<($($o,)*)> for ($(&$t,)*)
        where
            $($t: Hash + Eq + ToOwned<Owned = $o> + ?Sized, $o: Borrow<$t>,)*
        {
            #[inline]
            #[allow(unused_variables)]
            fn matches(&self, key: &($($o,)*)) -> bool {
                true $(&& *self.$n == *key.$n.borrow())*
            }

            #[allow(clippy::unused_unit)]
            fn to_owned_key(&self) -> ($($o,)*) {
                ($(self.$n.to_owned(),)*)
            }
        }
    )*};
}

borrowed_tuples! {
    ()
    (0 A OA)
    (0 A OA, 1 B OB)
    (0 A OA, 1 B OB, 2 C OC)
    (0 A OA, 1 B OB, 2 C OC, 3 D OD)
    (0 A OA, 1 B OB, 2 C OC, 3 D OD, 4 E OE)
    (0 A OA, 1 B OB, 2 C OC, 3 D OD, 4 E OE, 5 F OF)
    (0 A OA, 1 B OB, 2 C OC, 3 D OD, 4 E OE, 5 F OF, 6 G OG)
    (0 A OA, 1 B OB, 2 C OC, 3 D OD, 4 E OE, 5 F OF, 6 G OG, 7 H OH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Whole;
    use std::hash::BuildHasher;

    /// Borrowed arguments hash as their owned key and match it exactly, on
    /// both kinds of map (a `DashMap` probes with the owned key).
    #[test]
    fn borrowed_arguments_find_their_owned_keys() {
        let hasher = foldhash::fast::FixedState::default();
        let bytes = [1u8, 2];
        let probe = ("ada", &7u64, &bytes[..]);
        let key = probe.to_owned_key();
        assert_eq!(key, ("ada".to_owned(), 7, vec![1, 2]));
        assert_eq!(hasher.hash_one(Borrowed(&probe)), hasher.hash_one(&key));
        assert!(probe.matches(&key));
        assert!(!("ad", &7u64, &bytes[..]).matches(&key));
        assert!(!("ada", &7u64, &bytes[..1]).matches(&key));
        assert!(().matches(&()));

        let spec = MemoSpec {
            timeout: None,
            max_entries: Some(10),
            max_bytes: None,
            min_time: Duration::ZERO,
            timeout_jitter: 0.0,
            idle_timeout: None,
            stale_on_error: Duration::ZERO,
        };
        static STATS: MemoStats = MemoStats::new("memoized::tests", None);
        for cache in [
            Memoized::<(String, u64), u64>::new(spec, None, &STATS),
            Memoized::per_instance(spec, None, &STATS),
        ] {
            assert_eq!(cache.get(&("a", &1u64)), None);
            assert_eq!(cache.call(("a".into(), 1), Whole, |_| {}, || 5), 5);
            assert_eq!(cache.get(&("a", &1u64)), Some(5));
            assert_eq!(cache.get(&("a", &2u64)), None);
            assert_eq!(
                cache.call_missed(("a".into(), 1), Whole, |_| {}, || 6),
                5,
                "late hit"
            );
        }
    }
}
