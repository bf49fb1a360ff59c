//! The data path of `#[quickcache]`: arguments → key → L1 → shared tier →
//! codec → value, and back on a miss.
//!
//! This module holds the cache and the steps both surfaces share (the L1
//! probe, the envelope); `local` holds L1 (keyed by value or by encoding,
//! see `key::typed`); `steps` describes the shared-tier read (generation,
//! entry, dog-pile lock) and store once, as a sans-IO state machine;
//! `blocking` reads one sync call top to bottom ([`Cache::probe`],
//! [`Cache::lookup_beyond_l1`], [`Lookup::or_compute`]) and drives the steps
//! blocking, `future` the same for async callers ([`Cache::lookup_async`]
//! then [`Lookup::or_compute_async`]), awaiting.

mod blocking;
mod future;
mod local;
mod steps;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{self, Backend, Expect, Fetched, Generation};
use crate::codec::Codec;
use crate::coherence;
use crate::counters::Counters;
use crate::flight::{Flights, Leader};
use crate::key::typed::TypedArgs;
use crate::key::ArgsKey;
use crate::lock::LockGuard;
use crate::outcome::Started;
use crate::registry::{self, CachedFunction};
use crate::settings::Jitter;
use crate::store::Ticket;
use crate::{clock, key, report, Error};
use local::Local;

/// What the macro knows about one `#[quickcache]` function.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// `module_path!()` where the function is declared.
    pub module: &'static str,
    /// The function's name.
    pub function: &'static str,
    /// A digest of the function's signature and body (FNV-1a of their
    /// tokens): part of the default namespace, so two functions of one name
    /// in one module (declared in different blocks) never share entries,
    /// while builds of the same code agree on it.
    pub digest: u32,
    /// The `name = "..."` option: replaces the whole namespace.
    pub name: Option<&'static str>,
    /// `timeout`: how long the shared tier keeps an entry.
    pub timeout: Duration,
    /// `memoize_timeout`: how long the L1 keeps an entry; zero turns L1 off.
    pub memoize_timeout: Duration,
    /// `max_entries`: the L1's bound.
    pub max_entries: usize,
    /// `max_bytes`: the L1's bound in bytes, each entry weighed as its key
    /// and its encoded value (`None`: none).
    pub max_bytes: Option<usize>,
    /// `lock = true` (with `lock_ttl`): take a dog-pile lock on a shared-tier
    /// miss, held at most this long.
    pub lock_ttl: Option<Duration>,
    /// `min_time`: a result computed faster than this is not kept (zero:
    /// every result is).
    pub min_time: Duration,
    /// `timeout_jitter`: each entry's `timeout` and `memoize_timeout`
    /// spread over ± this share (0: none).
    pub timeout_jitter: f64,
    /// `backend = "..."`: the named backend (`None`: the default one).
    pub backend: Option<&'static str>,
    /// `stale_on_error`: how long past its `timeout` the shared tier keeps
    /// an entry, to be served when the body returns `Err` (zero: it is
    /// not kept).
    pub stale_on_error: Duration,
    /// The `vary_on` entries as written (`user.id`), or the parameters:
    /// what tools name the key's parts by (see `admin::Descriptor`).
    pub arguments: &'static [&'static str],
}

impl Spec {
    /// The default `timeout`: 300 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
    /// The default `memoize_timeout`: 10 s.
    pub const DEFAULT_MEMOIZE_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default L1 bound: 10 000 entries per function.
    pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
    /// The default `lock_ttl`: 30 s.
    pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(30);
}

/// The static a `#[quickcache]` function keeps its cache in; built on first
/// use by [`QuickCache::get`].
///
/// A method in a generic `impl` has one static for every `Self` type it is
/// instantiated with, and each `Self` needs a cache (and a namespace) of its
/// own, or `Svc<A>` would be served values computed by `Svc<B>`: the first
/// `Self` to call gets `cache`, later ones a cache in `others`.
pub struct QuickCache<V: 'static, C: 'static> {
    spec: Spec,
    cache: OnceLock<Cache<V, C>>,
    /// The caches of the other `Self` types, built once each and kept for
    /// the life of the process (one per type the method is used with).
    others: RwLock<Vec<&'static Cache<V, C>>>,
}

/// One function's cache: its namespace, its L1 and its codec.
pub struct Cache<V, C> {
    /// `false` when `configure` turned caching off: every miss computes and
    /// stores nothing (and L1 is off).
    enabled: bool,
    /// The `Self` type of a method (its type name), `None` for a function.
    owner: Option<&'static str>,
    /// Its backend's name (`None`: the default one).
    backend: Option<&'static str>,
    /// Whether its L1 may be used: its backend's coherence.
    coherence: &'static coherence::Coherence,
    namespace: String,
    /// `memo:v:{namespace}:`, the start of every entry key.
    entry_prefix: String,
    generation_key: String,
    l1: Option<Local<V>>,
    l1_ttl: clock::Tick,
    jitter: Jitter,
    flights: Flights<ArgsKey, V>,
    counters: Counters,
    /// The generation this process last read (0: unknown), so that an L2 hit
    /// is one `GET`. Trusted only while L1 is (the invalidation channel is
    /// up), and forgotten on every flush: a local or remote invalidation,
    /// the channel going down or up, a new backend.
    known_generation: AtomicU64,
    /// Bumped under its lock by every flush; a generation read before a
    /// flush is not learned after it.
    generation_epoch: Mutex<u64>,
    timeout: Duration,
    lock_ttl: Option<Duration>,
    min_time: Duration,
    /// `stale_on_error`'s grace period (zero: none).
    stale_grace: Duration,
    fingerprint: u64,
    codec: C,
    /// The module and the function, and the key's parts, for
    /// [`Cache::describe`].
    function: (&'static str, &'static str),
    arguments: &'static [&'static str],
    /// Whether the backend was given this function's description.
    described: std::sync::atomic::AtomicBool,
}

/// Version byte of the stored envelope.
const ENVELOPE_VERSION: u8 = 2;
/// First byte of a tombstone: what `clear` leaves in place of an entry.
const TOMBSTONE: u8 = 0xfe;
/// version (1) + stamp (8): what a miss remembers of what it read, and what
/// its store checks is still there (see [`Seen`]).
const STAMPED: usize = 9;
/// version (1) + stamp (8) + type fingerprint (8) + generation (8).
const ENVELOPE_HEADER: usize = 25;
/// The envelope of a `stale_on_error` function: [`ENVELOPE_HEADER`], then
/// the wall-clock time (Unix ms) the value is fresh until. Past it, and
/// until the backend expires the entry, the value is served only when the
/// body returns `Err`.
const ENVELOPE_VERSION_STALE: u8 = 3;

/// What a miss found under the entry's key before it computed: nothing, or
/// the first bytes (version and random stamp) of what was there (a
/// tombstone, a value of another generation, garbage). Its value is stored
/// only if the key still holds that (`Backend::set_if`): a `clear` (which
/// leaves a tombstone of a new stamp) or a `set_cached_value` that
/// committed after the read always wins over the value computed from it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    prefix: [u8; STAMPED],
    /// How many bytes of `prefix` were there; `None`: nothing was.
    len: Option<u8>,
}

impl Seen {
    fn of(stored: Option<&[u8]>) -> Seen {
        let mut prefix = [0; STAMPED];
        let len = stored.map(|bytes| {
            let len = bytes.len().min(STAMPED);
            prefix[..len].copy_from_slice(&bytes[..len]);
            len as u8
        });
        Seen { prefix, len }
    }

    fn expect(&self) -> Expect<'_> {
        match self.len {
            None => Expect::Absent,
            Some(len) => Expect::Prefix(&self.prefix[..usize::from(len)]),
        }
    }
}

/// The header of stored bytes, for tools (`admin::Header::parse`).
pub(crate) fn parse_header(bytes: &[u8]) -> Option<crate::admin::Header> {
    if bytes.len() == STAMPED && bytes[0] == TOMBSTONE {
        return Some(crate::admin::Header::Tombstone);
    }
    let version = *bytes.first()?;
    let header_len = match version {
        ENVELOPE_VERSION => ENVELOPE_HEADER,
        ENVELOPE_VERSION_STALE => ENVELOPE_HEADER + 8,
        _ => return None,
    };
    let (header, payload) = bytes.split_at_checked(header_len)?;
    let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or_default());
    Some(crate::admin::Header::Value {
        version,
        fingerprint: word(STAMPED),
        generation: word(STAMPED + 8),
        fresh_until_ms: (version == ENVELOPE_VERSION_STALE).then(|| word(ENVELOPE_HEADER)),
        payload_len: payload.len(),
    })
}

/// A tombstone: a fresh stamp, read as a miss.
pub(crate) fn tombstone() -> [u8; STAMPED] {
    let mut bytes = [TOMBSTONE; STAMPED];
    bytes[1..].copy_from_slice(&crate::stamp::next().to_le_bytes());
    bytes
}

impl<V, C> QuickCache<V, C> {
    /// An empty cache; nothing is allocated until the first call. Without
    /// bounds, so a value type that lacks a trait is reported where the
    /// function's return type is checked, not here as well.
    pub const fn new(spec: Spec) -> Self {
        QuickCache {
            spec,
            cache: OnceLock::new(),
            others: RwLock::new(Vec::new()),
        }
    }
}

impl<V, C> QuickCache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// The function's cache, built on first use.
    #[inline]
    pub fn get(&'static self) -> &'static Cache<V, C> {
        match self.cache.get() {
            Some(cache) => cache,
            None => self.get_slow(None),
        }
    }

    /// The cache of a method for its `Self` type (named by `owner`), built
    /// on first use: each type gets a cache and a namespace of its own.
    #[inline]
    pub fn get_for(&'static self, owner: fn() -> &'static str) -> &'static Cache<V, C> {
        let owner = Some(owner());
        match self.cache.get() {
            Some(cache) if cache.owned_by(owner) => cache,
            _ => self.get_slow(owner),
        }
    }

    /// The first call, or a method called on a `Self` type other than the
    /// first one's (a generic `impl`): a read lock per call for those.
    #[cold]
    fn get_slow(&'static self, owner: Option<&'static str>) -> &'static Cache<V, C> {
        let mut registered = false;
        let first = self.cache.get_or_init(|| {
            registered = true;
            Cache::new(&self.spec, owner)
        });
        if registered {
            registry::register(first);
        }
        if first.owned_by(owner) {
            return first;
        }
        let find = |others: &[&'static Cache<V, C>]| {
            others.iter().copied().find(|cache| cache.owned_by(owner))
        };
        if let Some(cache) = find(&self.others.read().unwrap_or_else(|e| e.into_inner())) {
            return cache;
        }
        let mut others = self.others.write().unwrap_or_else(|e| e.into_inner());
        if let Some(cache) = find(&others) {
            return cache;
        }
        // Kept for the life of the process, as the static's own cache is:
        // one per `Self` type the method is instantiated with.
        let cache: &'static Cache<V, C> = Box::leak(Box::new(Cache::new(&self.spec, owner)));
        registry::register(cache);
        others.push(cache);
        cache
    }
}

impl<V, C> Cache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    fn new(spec: &Spec, owner: Option<&'static str>) -> Self {
        let namespace = match (spec.name, owner) {
            (Some(name), _) => name.to_owned(),
            (None, Some(owner)) => format!("{owner}::{}@{:08x}", spec.function, spec.digest),
            (None, None) => format!("{}::{}@{:08x}", spec.module, spec.function, spec.digest),
        };
        // The application's overrides (`memo_core::configure`), read once.
        let mut spec = *spec;
        let enabled = crate::configure::apply(&namespace, &mut spec);
        let weigh: fn(&V) -> usize = |value| C::default().encoded_len(value);
        let max_bytes = spec.max_bytes.map(|max| (max, weigh));
        let l1 = (enabled && !spec.memoize_timeout.is_zero())
            .then(|| Local::new(spec.max_entries, max_bytes));
        Cache {
            enabled,
            owner,
            backend: spec.backend,
            coherence: coherence::of(spec.backend),
            generation_key: key::generation_key(&namespace),
            entry_prefix: key::entry_prefix(&namespace),
            namespace,
            l1,
            l1_ttl: clock::ticks(spec.memoize_timeout),
            jitter: Jitter(spec.timeout_jitter),
            flights: Flights::new(),
            counters: Counters::default(),
            known_generation: AtomicU64::new(0),
            generation_epoch: Mutex::new(0),
            timeout: spec.timeout,
            lock_ttl: spec.lock_ttl,
            min_time: spec.min_time,
            stale_grace: spec.stale_on_error,
            fingerprint: fingerprint(&format!(
                "{} {}",
                std::any::type_name::<(V, C)>(),
                crate::shape::of::<V>().unwrap_or_default()
            )),
            codec: C::default(),
            function: (spec.module, spec.function),
            arguments: spec.arguments,
            described: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The namespace of this function's shared-tier keys.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The function's shared tier: its named backend, or the default one.
    fn backend(&self) -> std::sync::Arc<dyn Backend> {
        backend::of(self.backend)
    }

    /// Whether this is the cache of `owner`'s method (of the function, for
    /// `None`). Type names of one type are equal, if not always at one
    /// address.
    #[inline]
    fn owned_by(&self, owner: Option<&str>) -> bool {
        match (self.owner, owner) {
            (Some(mine), Some(theirs)) => std::ptr::eq(mine, theirs) || mine == theirs,
            (mine, theirs) => mine.is_none() && theirs.is_none(),
        }
    }

    /// The shared-tier key of the entry for `args` (encoded).
    fn entry_key(&self, args: &[u8]) -> String {
        key::entry_key_at(&self.entry_prefix, args)
    }

    /// The cache itself, once its value and codec types have been checked:
    /// a sync `#[quickcache]` function calls it once and makes its probe
    /// and its miss through the result. A value type that lacks a trait
    /// then gets one error here, and none from the calls after it.
    #[inline(always)]
    pub fn type_checked(&self) -> &Self {
        self
    }

    /// Counts a [`Cache::probe`] that found nothing.
    fn probe_missed(&self) {
        if self.l1.is_some() {
            self.counters.l1_probe_misses.add();
        }
    }

    /// After an L1 miss: the encoded arguments to look further with, or,
    /// when they cannot be encoded, a miss that computes without caching.
    fn encode_for_miss<A>(&self, args: &A, ticket: Ticket) -> Result<ArgsKey, Lookup<'_, V, C>>
    where
        A: Serialize + ?Sized,
    {
        let alone = || {
            Lookup::Miss(Box::new(Miss {
                cache: self,
                entry: None,
                leader: None,
                ticket,
                stale: None,
            }))
        };
        if !self.enabled {
            return Err(alone());
        }
        let encoded = encode(args).map_err(|error| {
            report::backend_failed("encode key", &self.namespace, &error);
            alone()
        })?;
        if !self.described.load(Ordering::Relaxed) {
            self.describe(args);
        }
        Ok(encoded)
    }

    /// Gives the backend this function's description, with the shape of
    /// `args` (a miss's): once per process, the first time it misses.
    #[cold]
    #[inline(never)]
    fn describe<A: Serialize + ?Sized>(&self, args: &A) {
        if self.described.swap(true, Ordering::Relaxed) {
            return;
        }
        let mut descriptor =
            crate::admin::Descriptor::new(&self.namespace, crate::admin::Shape::of(args).ok());
        descriptor.function = format!("{}::{}", self.function.0, self.function.1);
        descriptor.arguments = self.arguments.iter().map(|a| (*a).to_owned()).collect();
        descriptor.timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        descriptor.stale_ms = u64::try_from(self.stale_grace.as_millis()).unwrap_or(u64::MAX);
        descriptor.backend = self.backend.map(str::to_owned);
        self.backend().describe(&descriptor);
    }

    /// What a value computed from now on is stored in L1 with: taken
    /// before the shared tier is read, so a value read or computed across
    /// a flush or a clear of its entry is not kept.
    fn ticket(&self) -> Ticket {
        self.l1.as_ref().map_or_else(Ticket::default, Local::ticket)
    }

    /// The function's generation, if this process knows it and may trust it.
    fn known_generation(&self) -> Option<Generation> {
        if !self.coherence.l1_on() {
            return None;
        }
        let generation = self.known_generation.load(Ordering::Acquire);
        (generation != 0).then_some(generation)
    }

    fn generation_epoch(&self) -> u64 {
        *self
            .generation_epoch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `generation`, read when the epoch was `seen_at`, unless a
    /// flush happened since.
    fn learn_generation(&self, seen_at: u64, generation: Option<Generation>) {
        let epoch = self
            .generation_epoch
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *epoch == seen_at {
            self.known_generation
                .store(generation.unwrap_or(0), Ordering::Release);
        }
    }

    fn forget_generation(&self) {
        let mut epoch = self
            .generation_epoch
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *epoch += 1;
        self.known_generation.store(0, Ordering::Release);
    }

    /// What a shared-tier read found: a current, decodable value, or what
    /// a computed value is stored under (the generation) and over (what was
    /// there).
    fn read(&self, found: Fetched) -> Read<V> {
        let opened = match (found.generation, &found.value) {
            (Some(generation), Some(bytes)) => self.open_entry(generation, bytes, true),
            _ => None,
        };
        let (value, stale) = match opened {
            Some((value, true)) => (Some(value), None),
            Some((value, false)) => (None, Some(value)),
            None => (None, None),
        };
        Read {
            generation: found.generation,
            seen: Seen::of(found.value.as_deref()),
            value,
            stale,
        }
    }

    /// A value found in the shared tier (or handed over by a lock holder):
    /// kept in L1, handed to the flight's followers, returned.
    fn hit<'c>(
        &'c self,
        args: ArgsKey,
        value: V,
        ticket: Ticket,
        leader: Leader<'c, ArgsKey, V>,
    ) -> Lookup<'c, V, C> {
        self.counters.shared_hits.add();
        spans::hit(&self.namespace, "shared");
        self.keep_local(&args, &value, ticket);
        leader.finish(&value);
        Lookup::Hit(value)
    }

    fn miss<'c>(
        &'c self,
        entry: Entry,
        ticket: Ticket,
        leader: Leader<'c, ArgsKey, V>,
        stale: Option<V>,
    ) -> Lookup<'c, V, C> {
        Lookup::Miss(Box::new(Miss {
            cache: self,
            entry: Some(entry),
            leader: Some(leader),
            ticket,
            stale,
        }))
    }

    /// The next step of joining the flight for `args`, given what the
    /// flight waited on came to (`None`: not joined yet): the steps both
    /// drivers share.
    fn join_step(
        &self,
        args: &ArgsKey,
        followed: Option<crate::flight::Followed<V>>,
        ticket: Ticket,
    ) -> Joining<'_, V, C> {
        use crate::flight::{Followed, Joined};
        match followed {
            Some(Followed::Value(value)) => {
                self.counters.shared_hits.add();
                spans::hit(&self.namespace, "flight");
                return Joining::Done(Lookup::Hit(value));
            }
            Some(Followed::Alone) => return Joining::Done(self.uncached(ticket)),
            Some(Followed::Retry) | None => {}
        }
        match self.flights.join(args.clone()) {
            Joined::Follower(flight) => Joining::Wait(flight),
            Joined::Leader(leader) => {
                // A leader may have landed between the L1 miss and the join.
                if let Some(value) = self.l1().and_then(|l1| l1.get(args)) {
                    self.counters.l1_late_hits.add();
                    leader.finish(&value);
                    return Joining::Done(Lookup::Hit(value));
                }
                Joining::Lead(leader)
            }
        }
    }

    /// Where a shared-tier read (`steps::Read`) leaves the call: a hit, a
    /// miss that knows where to store, or a backend failure.
    #[allow(clippy::too_many_arguments)]
    fn looked_up<'c>(
        &'c self,
        outcome: steps::Outcome<V>,
        args: ArgsKey,
        key: String,
        backend: std::sync::Arc<dyn Backend>,
        read_at: std::time::Instant,
        ticket: Ticket,
        leader: Leader<'c, ArgsKey, V>,
    ) -> Lookup<'c, V, C> {
        match outcome {
            steps::Outcome::Hit(value) => self.hit(args, value, ticket, leader),
            steps::Outcome::Miss {
                generation,
                seen,
                lock,
                stale,
            } => {
                let entry = Entry {
                    args,
                    key,
                    backend: Some(backend),
                    generation: Some(generation),
                    seen,
                    read_at,
                    lock,
                };
                self.miss(entry, ticket, leader, stale)
            }
            steps::Outcome::Failed(error) => {
                self.counters.errors.add();
                self.without_backend(&error, args, key, ticket, leader)
            }
        }
    }

    /// The envelope of a computed value, if it is to be stored: it has a
    /// generation (a backend answered), its read is younger than a
    /// tombstone lives (`timeout`: an older read may predate a clear whose
    /// tombstone is gone), and it seals.
    fn seal_computed(&self, entry: &Entry, value: &V, fresh_for: Duration) -> Option<Vec<u8>> {
        let generation = entry.generation?;
        if entry.read_at.elapsed() >= self.timeout {
            return None;
        }
        self.seal(generation, value, fresh_for)
            .map_err(|error| report::backend_failed("encode value", &self.namespace, &error))
            .ok()
    }

    /// The steps that store a computed value and release the lock, and the
    /// backend to carry them out on; `None` without a backend (it failed
    /// on the read: the value goes to L1 only).
    fn store_steps<'e>(
        &self,
        entry: &'e mut Entry,
        value: &V,
    ) -> Option<(std::sync::Arc<dyn Backend>, steps::Store<'e>)> {
        let backend = entry.backend.clone()?;
        let fresh_for = self.entry_ttl();
        let sealed = self.seal_computed(entry, value, fresh_for);
        let lock = entry.lock.take();
        let ttl = self.kept_for(fresh_for);
        Some((
            backend,
            steps::Store::new(&entry.key, &entry.seen, sealed, ttl, lock),
        ))
    }

    /// What of a result computed since `started` to keep (see
    /// [`Started::worth_keeping`]).
    fn worth_keeping<'v>(&self, started: Started, value: Option<&'v V>) -> Option<&'v V> {
        started.worth_keeping(self.min_time, value)
    }

    /// Counts what a store of a computed value came to.
    fn stored(&self, wrote: steps::Wrote) {
        match wrote {
            steps::Wrote::Stored => self.counters.stores.add(),
            steps::Wrote::Failed => self.counters.errors.add(),
            steps::Wrote::Lost | steps::Wrote::Nothing => {}
        }
    }

    /// A computation begins.
    fn start(&self) -> Started {
        Started::now(self.min_time)
    }

    /// A miss that computes and stores nothing (its flight's leader had a
    /// result not to cache, an `Err` say: the followers compute on their
    /// own).
    fn uncached(&self, ticket: Ticket) -> Lookup<'_, V, C> {
        Lookup::Miss(Box::new(Miss {
            cache: self,
            entry: None,
            leader: None,
            ticket,
            stale: None,
        }))
    }

    /// The shared tier failed: count it, and compute without it (the value
    /// goes to L1 only).
    fn without_backend<'c>(
        &'c self,
        error: &Error,
        args: ArgsKey,
        key: String,
        ticket: Ticket,
        leader: Leader<'c, ArgsKey, V>,
    ) -> Lookup<'c, V, C> {
        report::backend_failed("get", &self.namespace, error);
        let entry = Entry {
            args,
            key,
            backend: None,
            generation: None,
            seen: Seen::of(None),
            read_at: std::time::Instant::now(),
            lock: None,
        };
        self.miss(entry, ticket, leader, None)
    }

    /// Encodes `args` once, for the companions that take a value or a
    /// computation after the arguments (`set_cached_value`, `refresh`).
    pub fn prepare<A>(&'static self, args: &A) -> Prepared<V, C>
    where
        A: Serialize + ?Sized,
    {
        Prepared {
            cache: self,
            args: encode(args),
        }
    }

    /// L1, while it may be used (see [`coherence`]).
    #[inline]
    fn l1(&self) -> Option<&Local<V>> {
        self.l1.as_ref().filter(|_| self.coherence.l1_on())
    }

    /// Keeps a copy of `value` in L1, if L1 is on (cloned only then) and
    /// nothing invalidated the entry since `ticket` was taken.
    fn keep_local(&self, args: &[u8], value: &V, ticket: Ticket) {
        if let Some(l1) = self.l1() {
            l1.insert(args, value.clone(), self.l1_entry_ttl(), ticket, false);
        }
    }

    /// Keeps `value`, which was set rather than read, in L1: as
    /// [`Cache::keep_local`], and the fills of the entry under way (which
    /// read before it) are not kept. With L1 off, they are refused all the
    /// same.
    /// After a set stored `value` in the shared tier (`told`: `Ok` with
    /// how the broadcast to other processes went) or failed to (`Err`): L1
    /// keeps the value, or drops its entry so it does not serve a value
    /// other processes do not see.
    fn settle_set(
        &self,
        args: &[u8],
        value: &V,
        ticket: Ticket,
        told: Result<Result<(), Error>, Error>,
    ) -> Result<(), Error> {
        match told {
            Ok(_) => self.keep_local_set(args, value, ticket),
            Err(_) => self.forget_local(args),
        }
        registry::changed_here(self, Some(args));
        told.and_then(|broadcast| broadcast)
    }

    /// How long the shared tier keeps an entry written now: `timeout`,
    /// spread by `timeout_jitter`. (A tombstone lives `timeout` exactly: it
    /// guards reads younger than that.)
    fn entry_ttl(&self) -> Duration {
        self.jitter.spread(self.timeout)
    }

    /// How long the shared tier keeps an entry that is fresh for
    /// `fresh_for`: that, and `stale_on_error`'s grace period after it.
    fn kept_for(&self, fresh_for: Duration) -> Duration {
        fresh_for.saturating_add(self.stale_grace)
    }

    /// The envelope's version: with `stale_on_error`, one that says until
    /// when the value is fresh.
    fn envelope_version(&self) -> u8 {
        if self.stale_grace.is_zero() {
            ENVELOPE_VERSION
        } else {
            ENVELOPE_VERSION_STALE
        }
    }

    /// How long L1 keeps an entry stored now.
    fn l1_entry_ttl(&self) -> clock::Tick {
        self.jitter.spread_ticks(self.l1_ttl)
    }

    fn keep_local_set(&self, args: &[u8], value: &V, ticket: Ticket) {
        match (self.l1(), &self.l1) {
            (Some(l1), _) => l1.insert(args, value.clone(), self.l1_entry_ttl(), ticket, true),
            (None, Some(l1)) => l1.remove(args),
            (None, None) => {}
        }
        self.flights.detach(&ArgsKey::from_slice(args));
    }

    /// `value` in an envelope, fresh for `fresh_for`: version, a random
    /// stamp (this write's), type fingerprint, generation, with
    /// `stale_on_error` the time it is fresh until, then the codec's bytes.
    fn seal(
        &self,
        generation: Generation,
        value: &V,
        fresh_for: Duration,
    ) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::with_capacity(64);
        bytes.push(self.envelope_version());
        bytes.extend_from_slice(&crate::stamp::next().to_le_bytes());
        bytes.extend_from_slice(&self.fingerprint.to_le_bytes());
        bytes.extend_from_slice(&generation.to_le_bytes());
        if !self.stale_grace.is_zero() {
            let fresh_ms = u64::try_from(fresh_for.as_millis()).unwrap_or(u64::MAX);
            let until = clock::unix_ms().saturating_add(fresh_ms);
            bytes.extend_from_slice(&until.to_le_bytes());
        }
        self.codec
            .encode(value, &mut bytes)
            .map_err(|e| Error::Encode(e.0))?;
        Ok(bytes)
    }

    /// The fresh value in a stored envelope, if it is of this function's
    /// type, of the current generation, and decodes; anything else is a
    /// miss.
    fn open(&self, generation: Generation, bytes: &[u8]) -> Option<V> {
        self.open_entry(generation, bytes, false)
            .map(|(value, _)| value)
    }

    /// [`Cache::open`], and with `stale_too` a value past its freshness
    /// too (`stale_on_error`): the value and whether it is fresh.
    fn open_entry(
        &self,
        generation: Generation,
        bytes: &[u8],
        stale_too: bool,
    ) -> Option<(V, bool)> {
        if bytes.first() == Some(&TOMBSTONE) {
            return None;
        }
        let stale_on_error = !self.stale_grace.is_zero();
        let header_len = ENVELOPE_HEADER + if stale_on_error { 8 } else { 0 };
        let (header, payload) = bytes.split_at_checked(header_len)?;
        let stamped_with =
            |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or_default());
        if header[0] != self.envelope_version() || stamped_with(STAMPED) != self.fingerprint {
            report::decode_failed(&self.namespace, &"envelope of another version or type");
            return None;
        }
        if stamped_with(STAMPED + 8) != generation {
            return None;
        }
        let fresh = !stale_on_error || stamped_with(ENVELOPE_HEADER) > clock::unix_ms();
        if !fresh && !stale_too {
            return None;
        }
        match self.codec.decode(payload) {
            Ok(value) => Some((value, fresh)),
            Err(error) => {
                report::decode_failed(&self.namespace, &error);
                None
            }
        }
    }
}

/// The hit path, with only the bounds L1 needs: a value type that lacks a
/// trait the shared tier needs is reported once, by [`Cache::type_checked`].
impl<V, C> Cache<V, C>
where
    V: Clone + Send + Sync + 'static,
{
    /// Arguments → key → L1: encodes `args` into a stack buffer and looks
    /// in L1; a hit allocates nothing but the clone it returns. `None` on a
    /// miss, with L1 off, or when the arguments cannot be encoded (the miss
    /// path finds out which). A caller that gets `None` goes on to
    /// [`Cache::lookup_beyond_l1`] (or its async twin), which counts the miss.
    ///
    /// Kept apart from the miss path on purpose: returning the clone
    /// straight out, instead of through the miss path's enums, saves two
    /// copies of the value, each of which stalls on reloading the clone's
    /// fresh stores. For the same reason the probe is counted before it is
    /// made, and the hits are the probes less the misses: counted after, on
    /// the probe's result, a hit would take the value out of the return
    /// slot and put it back.
    #[inline]
    pub fn probe<A>(&self, args: &A) -> Option<V>
    where
        A: Serialize + ?Sized,
    {
        if spans::hits_traced() {
            return self.traced_hit(|| self.probe_untraced(args));
        }
        self.probe_untraced(args)
    }

    #[inline(always)]
    fn probe_untraced<A>(&self, args: &A) -> Option<V>
    where
        A: Serialize + ?Sized,
    {
        let l1 = self.l1_to_probe()?;
        key::with_encoded(args, |bytes| l1.get_encoded(bytes.ok()?))
    }

    /// A probe while a subscriber wants `debug` events of `memo`: an L1 hit
    /// is one (out of line; the hit path checks a static and goes on).
    #[cold]
    #[inline(never)]
    fn traced_hit(&self, probe: impl FnOnce() -> Option<V>) -> Option<V> {
        let found = probe();
        if found.is_some() {
            spans::hit(&self.namespace, "l1");
        }
        found
    }

    /// [`Cache::probe`] for arguments that L1 keys by value (see
    /// `key::typed`): hashed and compared where they are, not encoded.
    /// The generated code picks it by autoref when the argument types
    /// allow (`__private::Probe`); with L1 keyed so, every other step
    /// reaches it by encoded arguments as before.
    #[inline]
    pub fn probe_typed<A: TypedArgs>(&self, args: &A) -> Option<V> {
        if spans::hits_traced() {
            return self.traced_hit(|| self.l1_to_probe()?.get_typed(args));
        }
        self.l1_to_probe()?.get_typed(args)
    }

    /// L1 for a probe, counted before it is made (see [`Cache::probe`]);
    /// `None` with L1 off.
    #[inline(always)]
    fn l1_to_probe(&self) -> Option<&Local<V>> {
        let l1 = self.l1.as_ref()?;
        self.counters.l1_probes.add();
        self.coherence.l1_on().then_some(l1)
    }
}

/// What a `f::get_many` batch found in L1, and what it is to read from
/// the shared tier: the steps both drivers share (`Cache::plan_many`, then
/// the backend's `get_many`, then `Cache::finish_many`).
struct ManyPeek<V> {
    found: Vec<Option<V>>,
    /// Taken before the read: a value read across a clear is not kept.
    ticket: Ticket,
    /// The items L1 did not answer, and their entry keys.
    wanted: Vec<(usize, String)>,
}

impl<V> ManyPeek<V> {
    fn keys(&self) -> Vec<String> {
        self.wanted.iter().map(|(_, key)| key.clone()).collect()
    }
}

impl<V, C> Cache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// L1's answers for a batch, and the keys to read for the rest (none
    /// with caching off).
    fn plan_many(&self, args: &[EncodedArgs]) -> ManyPeek<V> {
        let mut plan = ManyPeek {
            found: vec![None; args.len()],
            ticket: self.ticket(),
            wanted: Vec::new(),
        };
        if !self.enabled || crate::switch::bypassed() {
            return plan;
        }
        for (at, args) in args.iter().enumerate() {
            let Some(args) = &args.0 else { continue };
            if self.l1.is_some() {
                self.counters.l1_probes.add();
            }
            match self.l1().and_then(|l1| l1.get(args)) {
                Some(value) => plan.found[at] = Some(value),
                None => {
                    self.probe_missed();
                    plan.wanted.push((at, self.entry_key(args)));
                }
            }
        }
        plan
    }

    /// A batch's answers once the shared tier's are in: the values of the
    /// current generation that open, kept in L1 too. A failure is counted
    /// and logged, and leaves the rest to their calls.
    fn finish_many(
        &self,
        mut plan: ManyPeek<V>,
        args: &[EncodedArgs],
        fetched: Result<backend::FetchedMany, Error>,
    ) -> Vec<Option<V>> {
        let fetched = match fetched {
            Ok(fetched) if fetched.values.len() == plan.wanted.len() => fetched,
            Ok(_) => return plan.found,
            Err(error) => {
                self.counters.errors.add();
                report::backend_failed("get_many", &self.namespace, &error);
                return plan.found;
            }
        };
        let Some(generation) = fetched.generation else {
            return plan.found;
        };
        for ((at, _), bytes) in plan.wanted.into_iter().zip(fetched.values) {
            let Some(value) = bytes.and_then(|bytes| self.open(generation, &bytes)) else {
                continue;
            };
            self.counters.shared_hits.add();
            if let Some(args) = &args[at].0 {
                self.keep_local(args, &value, plan.ticket);
            }
            plan.found[at] = Some(value);
        }
        plan.found
    }
}

/// Peeks: `f::get_cached_value` and `f::cache_key`.
impl<V, C> Cache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// The shared-tier key of the entry for `args`, as the backend stores
    /// it (`f::cache_key`).
    ///
    /// # Errors
    ///
    /// When the arguments cannot be encoded.
    pub fn cache_key<A: Serialize + ?Sized>(&self, args: &A) -> Result<String, Error> {
        let args = encode(args)?;
        Ok(self.backend().key_as_stored(&self.entry_key(&args)))
    }

    /// The start of a peek (`f::get_cached_value`): the encoded arguments
    /// and L1's value, if it holds one. Counts nothing: a peek is not a
    /// call.
    fn peek_local<A: Serialize + ?Sized>(&self, args: &A) -> Option<(ArgsKey, Option<V>)> {
        let args = encode(args).ok()?;
        let local = self.l1().and_then(|l1| l1.get(&args));
        Some((args, local))
    }

    /// What a peek's shared-tier read found.
    fn peeked(&self, fetched: Result<Fetched, Error>) -> Option<V> {
        match fetched {
            Ok(fetched) => self.read(fetched).value,
            Err(error) => {
                report::backend_failed("get_cached_value", &self.namespace, &error);
                None
            }
        }
    }
}

impl<V, C> Lookup<'_, V, C> {
    /// Whether a value was found (in L1, the shared tier or a flight), so
    /// the body will not run (`on_hit`).
    pub fn is_hit(&self) -> bool {
        matches!(self, Lookup::Hit(_))
    }
}

/// The outcome of [`Cache::lookup_beyond_l1`]: a hit, or a miss that knows where to
/// store the value once it is computed.
pub enum Lookup<'c, V, C> {
    /// A live value from L1 or the shared tier.
    Hit(V),
    /// No usable value; compute it with [`Lookup::or_compute`]. Boxed, so
    /// the hit path moves two words and the value, not the miss's state.
    Miss(Box<Miss<'c, V, C>>),
}

/// A miss: the encoded arguments, the entry key, and the generation that was
/// current before the value is computed (a value computed across an
/// `invalidate()` is stored under the old generation and never served).
pub struct Miss<'c, V, C> {
    cache: &'c Cache<V, C>,
    /// `None` when the arguments could not be encoded: nothing is stored.
    entry: Option<Entry>,
    /// The single flight this caller leads; its followers get the value.
    leader: Option<Leader<'c, ArgsKey, V>>,
    ticket: Ticket,
    /// With `stale_on_error`: the value the read found past its
    /// `timeout`, served if the body returns `Err`.
    stale: Option<V>,
}

/// What a shared-tier read found, as [`Cache::read`] makes it.
struct Read<V> {
    generation: Option<Generation>,
    seen: Seen,
    /// A fresh value: a hit.
    value: Option<V>,
    /// A value past its `timeout`, within `stale_on_error`'s grace.
    stale: Option<V>,
}

struct Entry {
    args: ArgsKey,
    key: String,
    /// `None` when the backend failed on lookup: the value goes to L1 only.
    backend: Option<std::sync::Arc<dyn Backend>>,
    /// The generation the value is computed under, known before it is
    /// computed (`None` only without a backend).
    generation: Option<Generation>,
    /// What the read found under `key`: the value is stored only over that.
    seen: Seen,
    /// When the read was made: a value computed for longer than a
    /// tombstone lives is not stored (the tombstone of a `clear` since may
    /// be gone).
    read_at: std::time::Instant,
    /// The entry's dog-pile lock, released once the value is stored (or the
    /// computation panics).
    lock: Option<LockGuard>,
}

/// What joining the single flight of a miss came to (see
/// [`Cache::join_step`]).
enum Joining<'c, V, C> {
    /// A hit (the flight's value, or one a leader stored meanwhile), or a
    /// miss to compute alone.
    Done(Lookup<'c, V, C>),
    /// Wait for the flight's leader.
    Wait(std::sync::Arc<crate::flight::Flight<V>>),
    /// Lead: read the shared tier.
    Lead(Leader<'c, ArgsKey, V>),
}

impl<'c, V, C> Miss<'c, V, C> {
    /// Counts the miss; the computation starts now, in its span.
    fn begin(&self) -> Timing {
        self.cache.counters.misses.add();
        Timing {
            span: spans::compute(&self.cache.namespace),
            at: std::time::Instant::now(),
        }
    }

    /// The computation returned: its time on its span and in the counters.
    fn timed(&self, timing: Timing) -> Started {
        let took = spans::computed(&timing.span, timing.at);
        self.cache.counters.computed(&self.cache.namespace, took);
        Started::at(timing.at)
    }
}

/// A miss's computation under way: its span, and when it began (for the
/// stats, the span and `min_time`, one clock read).
struct Timing {
    span: tracing::Span,
    at: std::time::Instant,
}

impl<'c, V, C> Miss<'c, V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// With `stale_on_error`, when the body returned what is not kept (an
    /// `Err`): the older value the read found past its `timeout`, still in
    /// its grace period, handed to the flight's followers too. Nothing is
    /// stored: the entry stays as it was, and expires when it would have.
    fn stale_instead(&mut self) -> Option<V> {
        let stale = self.stale.take()?;
        self.cache.counters.stale_served.add();
        tracing::debug!(target: "memo", namespace = %self.cache.namespace, "the body failed: serving the stale value");
        if let Some(leader) = self.leader.take() {
            leader.finish(&stale);
        }
        Some(stale)
    }

    /// After the computation that started at `started`: what to store of
    /// it (`kept`, if worth keeping) and where, or nothing, in which case
    /// the flight's followers compute on their own.
    fn settle<'v>(
        self,
        started: Started,
        kept: Option<&'v V>,
    ) -> Option<(Landing<'c, V, C>, &'v V)> {
        let value = self.cache.worth_keeping(started, kept);
        let (Some(entry), Some(value)) = (self.entry, value) else {
            if let Some(leader) = self.leader {
                leader.decline();
            }
            return None;
        };
        let landing = Landing {
            cache: self.cache,
            entry,
            leader: self.leader,
            ticket: self.ticket,
        };
        Some((landing, value))
    }
}

/// The `tracing` spans of a miss (target `memo`, level `debug`): waiting on
/// another caller's computation, the shared-tier lookup (with the lock and
/// its waits), and the computation. Created on the miss path only; a hit
/// makes none. When no subscriber wants them, each costs a check of a
/// static.
pub(crate) mod spans {
    use tracing::field::Empty;
    use tracing::Span;

    /// Whether a subscriber wants `memo`'s `debug` events: what a hit
    /// checks before it goes on (a static's load and a compare when none
    /// does).
    #[inline(always)]
    pub(crate) fn hits_traced() -> bool {
        tracing::enabled!(target: "memo", tracing::Level::DEBUG)
    }

    /// A hit, as a `debug` event: the tier that answered (`l1`, `shared`,
    /// or `flight`: another caller's computation).
    pub(crate) fn hit(namespace: &str, tier: &'static str) {
        tracing::debug!(target: "memo", namespace, tier, "memo.hit");
    }

    pub(crate) fn wait(namespace: &str) -> Span {
        tracing::debug_span!(target: "memo", "memo.wait", namespace)
    }

    /// `found`: `hit`, `miss` or `failed`, recorded when it is known.
    pub(in crate::quickcache) fn lookup(namespace: &str) -> Span {
        tracing::debug_span!(target: "memo", "memo.lookup", namespace, found = Empty)
    }

    /// `elapsed_ms`, recorded when the computation returns.
    pub(crate) fn compute(namespace: &str) -> Span {
        tracing::debug_span!(target: "memo", "memo.compute", namespace, elapsed_ms = Empty)
    }

    /// Records on a lookup's span what the shared tier had.
    pub(in crate::quickcache) fn found<V>(span: &Span, outcome: &super::steps::Outcome<V>) {
        let found = match outcome {
            super::steps::Outcome::Hit(_) => "hit",
            super::steps::Outcome::Miss { .. } => "miss",
            super::steps::Outcome::Failed(_) => "failed",
        };
        span.record("found", found);
    }

    /// Records the computation's time on its span, and returns it.
    pub(in crate::quickcache) fn computed(
        span: &Span,
        started: std::time::Instant,
    ) -> std::time::Duration {
        let took = started.elapsed();
        span.record("elapsed_ms", took.as_secs_f64() * 1e3);
        took
    }
}

/// Where a `store_result = false` call stands after its lookup. Not boxed:
/// it lives for one match, on the miss path.
#[allow(clippy::large_enum_variant)]
enum Claim<'c, C> {
    /// The marker is there: the body ran or runs elsewhere.
    Done,
    /// No shared tier to claim in: run the body.
    Run,
    /// Store the marker (a driver's step), then run if it won.
    Store(Landing<'c, (), C>),
}

impl<'c, C: Codec + Default> Lookup<'c, (), C> {
    fn claim(self) -> Claim<'c, C> {
        let miss = match self {
            Lookup::Hit(()) => return Claim::Done,
            Lookup::Miss(miss) => *miss,
        };
        miss.cache.counters.misses.add();
        match miss.settle(Started::now(Duration::ZERO), Some(&())) {
            Some((landing, _)) => Claim::Store(landing),
            None => Claim::Run,
        }
    }
}

/// A computed value on its way: stored in the shared tier (by a driver),
/// then [`Landing::land`]ed in L1 and handed to the flight's followers.
struct Landing<'c, V, C> {
    cache: &'c Cache<V, C>,
    entry: Entry,
    leader: Option<Leader<'c, ArgsKey, V>>,
    ticket: Ticket,
}

impl<V, C> Landing<'_, V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    fn land(self, value: &V) {
        self.cache.keep_local(&self.entry.args, value, self.ticket);
        if let Some(leader) = self.leader {
            leader.finish(value);
        }
    }
}

/// One call's encoded arguments in a `f::get_many` batch
/// ([`Cache::encode_args`]), or none: that call is not looked up in the
/// batch ([`EncodedArgs::SKIPPED`]: `unless` or `skip` said so, or its
/// arguments cannot be encoded) and runs as a call of its own.
#[derive(Clone)]
pub struct EncodedArgs(Option<ArgsKey>);

impl std::fmt::Debug for EncodedArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EncodedArgs")
            .field(&self.0.as_ref().map(|args| args.len()))
            .finish()
    }
}

impl EncodedArgs {
    /// A call the batch does not look up.
    pub const SKIPPED: EncodedArgs = EncodedArgs(None);
}

/// Encoded arguments waiting for a value ([`Prepared::set`]) or a
/// computation ([`Prepared::refresh`]). Owns everything it needs, so it
/// borrows none of the arguments.
pub struct Prepared<V: 'static, C: 'static> {
    cache: &'static Cache<V, C>,
    args: Result<ArgsKey, Error>,
}

impl<V, C> CachedFunction for Cache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn flush_local(&self) {
        self.forget_generation();
        if let Some(l1) = &self.l1 {
            l1.clear();
        }
        self.flights.detach_all();
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn backend(&self) -> Option<&'static str> {
        self.backend
    }

    fn local_tier(&self) -> registry::LocalTier {
        let Some(l1) = &self.l1 else {
            return registry::LocalTier::default();
        };
        let ((entries, bytes), (evictions, expirations)) = (l1.usage(), l1.evictions());
        registry::LocalTier {
            entries,
            bytes,
            evictions,
            expirations,
        }
    }

    fn forget_local(&self, args: &[u8]) {
        if let Some(l1) = &self.l1 {
            l1.remove(args);
        }
        self.flights.detach(&ArgsKey::from_slice(args));
    }
}

fn encode<A: Serialize + ?Sized>(args: &A) -> Result<ArgsKey, Error> {
    key::with_encoded(args, |bytes| bytes.map(ArgsKey::from_slice)).map_err(|e| Error::Encode(e.0))
}

/// FNV-1a: a hash that is the same in every process and build.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
