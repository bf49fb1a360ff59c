//! The data path of `#[quickcache]`: arguments → key → L1 → shared tier →
//! codec → value, and back on a miss. Read [`Cache::lookup`] and then
//! [`Lookup::or_compute`] top to bottom.

use std::marker::PhantomData;
use std::sync::OnceLock;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{self, Backend, Generation};
use crate::codec::Codec;
use crate::coherence::{self, LocalTier};
use crate::flight::{Flights, Joined, Leader};
use crate::lock::{self, LockGuard, Waited};
use crate::store::Store;
use crate::{clock, key, stats, Error};

/// What the macro knows about one `#[quickcache]` function.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// `module_path!()` where the function is declared.
    pub module: &'static str,
    /// The function's name.
    pub function: &'static str,
    /// The `name = "..."` option: replaces the whole namespace.
    pub name: Option<&'static str>,
    /// `timeout`: how long the shared tier keeps an entry.
    pub timeout: Duration,
    /// `memoize_timeout`: how long the L1 keeps an entry; zero turns L1 off.
    pub memoize_timeout: Duration,
    /// `max_entries`: the L1's bound.
    pub max_entries: usize,
    /// `lock = true` (with `lock_ttl`): take a dog-pile lock on a shared-tier
    /// miss, held at most this long.
    pub lock_ttl: Option<Duration>,
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
pub struct QuickCache<V, C> {
    spec: Spec,
    cache: OnceLock<Cache<V, C>>,
}

/// One function's cache: its namespace, its L1 and its codec.
pub struct Cache<V, C> {
    namespace: String,
    generation_key: String,
    l1: Option<Store<Box<[u8]>, V>>,
    l1_ttl: clock::Tick,
    flights: Flights<Box<[u8]>, V>,
    timeout: Duration,
    lock_ttl: Option<Duration>,
    fingerprint: u64,
    codec: C,
    _value: PhantomData<fn() -> V>,
}

/// Version byte of the stored envelope.
const ENVELOPE_VERSION: u8 = 1;
/// version (1) + type fingerprint (8) + generation (8).
const ENVELOPE_HEADER: usize = 17;

impl<V, C> QuickCache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// An empty cache; nothing is allocated until the first call.
    pub const fn new(spec: Spec) -> Self {
        QuickCache {
            spec,
            cache: OnceLock::new(),
        }
    }

    /// The function's cache, built on first use. `owner` names the `Self`
    /// type of a method, so methods of different types do not share a
    /// namespace.
    #[inline]
    pub fn get(&'static self, owner: Option<fn() -> &'static str>) -> &'static Cache<V, C> {
        if let Some(cache) = self.cache.get() {
            return cache;
        }
        let mut registered = false;
        let cache = self.cache.get_or_init(|| {
            registered = true;
            Cache::new(&self.spec, owner)
        });
        if registered {
            coherence::register(cache);
        }
        cache
    }
}

impl<V, C> Cache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    fn new(spec: &Spec, owner: Option<fn() -> &'static str>) -> Self {
        let namespace = match (spec.name, owner) {
            (Some(name), _) => name.to_owned(),
            (None, Some(owner)) => format!("{}::{}", owner(), spec.function),
            (None, None) => format!("{}::{}", spec.module, spec.function),
        };
        let l1 = (!spec.memoize_timeout.is_zero()).then(|| Store::new(Some(spec.max_entries)));
        Cache {
            generation_key: key::generation_key(&namespace),
            namespace,
            l1,
            l1_ttl: clock::ticks(spec.memoize_timeout),
            flights: Flights::new(),
            timeout: spec.timeout,
            lock_ttl: spec.lock_ttl,
            fingerprint: fingerprint(std::any::type_name::<(V, C)>()),
            codec: C::default(),
            _value: PhantomData,
        }
    }

    /// The namespace of this function's shared-tier keys.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Looks `args` up in L1, then in the shared tier. On a miss, the
    /// returned [`Lookup`] owns what it needs to store the value, so the
    /// caller can move its arguments into the computation:
    /// `cache.lookup(&args).or_compute(move || body(args))`.
    ///
    /// Never fails: when the key cannot be encoded or the backend fails, the
    /// miss computes without the shared tier (the failure is counted and
    /// logged).
    ///
    /// # Concurrency
    ///
    /// Concurrent callers that miss L1 for the same arguments form one
    /// flight: the first reads the shared tier and, on a miss, computes; the
    /// others park until its value is ready. If its computation panics, they
    /// wake and one of them computes. Different arguments never wait on each
    /// other. With `lock = true` the leader also takes a lock in the shared
    /// tier, so only one process computes (see [`Cache::lookup_shared`]).
    #[inline]
    pub fn lookup<A>(&self, args: &A) -> Lookup<'_, V, C>
    where
        A: Serialize + ?Sized,
    {
        // Arguments → key → L1: a hit encodes into a reused buffer and clones.
        let epoch = self.l1.as_ref().map_or(0, Store::epoch);
        let l1_hit = key::with_encoded(args, |encoded| {
            let bytes = encoded.map_err(|e| Error::Encode(e.0))?;
            match self.l1().and_then(|l1| l1.get(bytes)) {
                Some(value) => Ok(Err(value)),
                None => Ok(Ok(Box::<[u8]>::from(bytes))),
            }
        });
        let args = match l1_hit {
            Ok(Ok(args)) => args,
            Ok(Err(value)) => return Lookup::Hit(value),
            Err(error) => {
                stats::backend_failed("encode key", &self.namespace, &error);
                return Lookup::Miss(Miss {
                    cache: self,
                    entry: None,
                    leader: None,
                    epoch,
                });
            }
        };

        // Single flight: one caller per key goes on, the others wait for it.
        loop {
            match self.flights.join(args.clone()) {
                Joined::Follower(flight) => {
                    if let Some(value) = flight.wait() {
                        return Lookup::Hit(value);
                    }
                }
                Joined::Leader(leader) => {
                    // A leader may have landed between the L1 miss and the join.
                    if let Some(value) = self.l1().and_then(|l1| l1.get(&args)) {
                        leader.finish(&value);
                        return Lookup::Hit(value);
                    }
                    return self.lookup_shared(args, epoch, leader);
                }
            }
        }
    }

    /// Shared tier: the generation and the entry in one lookup; a current,
    /// decodable entry is kept in L1 and returned. With `lock = true`, a
    /// miss takes the entry's lock, or waits (up to `lock_ttl`) for the
    /// process holding it to store the value.
    fn lookup_shared<'c>(
        &'c self,
        args: Box<[u8]>,
        epoch: u64,
        leader: Leader<'c, Box<[u8]>, V>,
    ) -> Lookup<'c, V, C> {
        let backend = backend::current();
        let key = key::entry_key(&self.namespace, &args);
        let read = || -> Result<(Option<Generation>, Option<V>), Error> {
            let found = backend.get(&self.generation_key, &key)?;
            let value = match (found.generation, &found.value) {
                (Some(generation), Some(bytes)) => self.open(generation, bytes),
                _ => None,
            };
            Ok((found.generation, value))
        };
        let generation = match read() {
            Ok((_, Some(value))) => return self.hit(args, value, epoch, leader),
            Ok((generation, None)) => generation,
            Err(error) => {
                stats::backend_failed("get", &self.namespace, &error);
                let entry = Entry {
                    args,
                    key,
                    backend: None,
                    generation: None,
                    lock: None,
                };
                return Lookup::Miss(Miss {
                    cache: self,
                    entry: Some(entry),
                    leader: Some(leader),
                    epoch,
                });
            }
        };
        let mut lock = None;
        if let Some(ttl) = self.lock_ttl {
            let lock_key = key::entry_lock_key(&key);
            match lock::take_or_wait(&backend, &lock_key, ttl, || read().map(|(_, value)| value)) {
                Waited::Value(value) => return self.hit(args, value, epoch, leader),
                Waited::Held(guard) => lock = Some(guard),
                Waited::GaveUp => {}
            }
        }
        let entry = Entry {
            args,
            key,
            backend: Some(backend),
            generation,
            lock,
        };
        Lookup::Miss(Miss {
            cache: self,
            entry: Some(entry),
            leader: Some(leader),
            epoch,
        })
    }

    fn hit<'c>(
        &'c self,
        args: Box<[u8]>,
        value: V,
        epoch: u64,
        leader: Leader<'c, Box<[u8]>, V>,
    ) -> Lookup<'c, V, C> {
        self.keep_local(args, value.clone(), epoch);
        leader.finish(&value);
        Lookup::Hit(value)
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

    /// Drops the entry for `args` from the shared tier, then from L1, then
    /// tells the other processes to drop theirs.
    ///
    /// # Errors
    ///
    /// When the key cannot be encoded or the backend fails; the L1 entry is
    /// dropped all the same.
    pub fn clear<A>(&self, args: &A) -> Result<(), Error>
    where
        A: Serialize + ?Sized,
    {
        let args = encode(args)?;
        let backend = backend::current();
        let deleted = backend.delete(&key::entry_key(&self.namespace, &args));
        self.forget_local(&args);
        deleted?;
        backend.broadcast(&self.namespace, Some(&args))
    }

    /// Drops every entry of the function: a new generation in the shared tier
    /// (O(1), whatever the number of entries), then this process's L1, then
    /// the other processes' L1.
    ///
    /// # Errors
    ///
    /// When the backend fails; L1 is flushed all the same.
    pub fn invalidate(&self) -> Result<(), Error> {
        let backend = backend::current();
        let renewed = backend.new_generation(&self.generation_key);
        self.flush_local();
        renewed?;
        backend.broadcast(&self.namespace, None)
    }

    /// L1, while it may be used (see [`coherence`]).
    #[inline]
    fn l1(&self) -> Option<&Store<Box<[u8]>, V>> {
        self.l1.as_ref().filter(|_| coherence::l1_on())
    }

    fn keep_local(&self, args: Box<[u8]>, value: V, epoch: u64) {
        if let Some(l1) = self.l1() {
            l1.insert(args, value, Some(self.l1_ttl), epoch);
        }
    }

    /// Encodes `value` in an envelope stamped with `generation` (the current
    /// one when `None`) and stores it for `timeout`.
    fn store(
        &self,
        backend: &dyn Backend,
        key: &str,
        generation: Option<Generation>,
        value: &V,
    ) -> Result<(), Error> {
        let generation = match generation {
            Some(generation) => generation,
            None => backend.generation(&self.generation_key)?,
        };
        let mut bytes = Vec::with_capacity(64);
        bytes.push(ENVELOPE_VERSION);
        bytes.extend_from_slice(&self.fingerprint.to_le_bytes());
        bytes.extend_from_slice(&generation.to_le_bytes());
        self.codec
            .encode(value, &mut bytes)
            .map_err(|e| Error::Encode(e.0))?;
        backend.set(key, &bytes, self.timeout)
    }

    /// The value in a stored envelope, if it is of this function's type, of
    /// the current generation, and decodes; anything else is a miss.
    fn open(&self, generation: Generation, bytes: &[u8]) -> Option<V> {
        let (header, payload) = bytes.split_at_checked(ENVELOPE_HEADER)?;
        let stamped_with =
            |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or_default());
        if header[0] != ENVELOPE_VERSION || stamped_with(1) != self.fingerprint {
            stats::decode_failed(&self.namespace, &"envelope of another version or type");
            return None;
        }
        if stamped_with(9) != generation {
            return None;
        }
        match self.codec.decode(payload) {
            Ok(value) => Some(value),
            Err(error) => {
                stats::decode_failed(&self.namespace, &error);
                None
            }
        }
    }
}

/// The outcome of [`Cache::lookup`]: a hit, or a miss that knows where to
/// store the value once it is computed.
pub enum Lookup<'c, V, C> {
    /// A live value from L1 or the shared tier.
    Hit(V),
    /// No usable value; compute it with [`Lookup::or_compute`].
    Miss(Miss<'c, V, C>),
}

/// A miss: the encoded arguments, the entry key, and the generation that was
/// current before the value is computed (a value computed across an
/// `invalidate()` is stored under the old generation and never served).
pub struct Miss<'c, V, C> {
    cache: &'c Cache<V, C>,
    /// `None` when the arguments could not be encoded: nothing is stored.
    entry: Option<Entry>,
    /// The single flight this caller leads; its followers get the value.
    leader: Option<Leader<'c, Box<[u8]>, V>>,
    epoch: u64,
}

struct Entry {
    args: Box<[u8]>,
    key: String,
    /// `None` when the backend failed on lookup: the value goes to L1 only.
    backend: Option<std::sync::Arc<dyn Backend>>,
    generation: Option<Generation>,
    /// The entry's dog-pile lock, released once the value is stored (or the
    /// computation panics).
    lock: Option<LockGuard>,
}

impl<V, C> Lookup<'_, V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// The hit, or on a miss: computes the value, stores it in the shared
    /// tier then in L1, and returns it.
    #[inline]
    pub fn or_compute(self, compute: impl FnOnce() -> V) -> V {
        let miss = match self {
            Lookup::Hit(value) => return value,
            Lookup::Miss(miss) => miss,
        };
        let value = compute();
        let Some(entry) = miss.entry else {
            return value;
        };
        let cache = miss.cache;
        if let Some(backend) = &entry.backend {
            if let Err(error) = cache.store(&**backend, &entry.key, entry.generation, &value) {
                stats::backend_failed("set", &cache.namespace, &error);
            }
        }
        drop(entry.lock);
        cache.keep_local(entry.args, value.clone(), miss.epoch);
        if let Some(leader) = miss.leader {
            leader.finish(&value);
        }
        value
    }
}

/// Encoded arguments waiting for a value ([`Prepared::set`]) or a
/// computation ([`Prepared::refresh`]). Owns everything it needs, so it
/// borrows none of the arguments.
pub struct Prepared<V: 'static, C: 'static> {
    cache: &'static Cache<V, C>,
    args: Result<Box<[u8]>, Error>,
}

impl<V, C> Prepared<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// Stores `value` for the arguments in the shared tier and in L1, and
    /// tells the other processes to drop their L1 copies.
    ///
    /// # Errors
    ///
    /// When the arguments could not be encoded or the backend fails; this
    /// process's L1 entry is dropped then, so it does not serve a value other
    /// processes do not see.
    pub fn set(self, value: V) -> Result<(), Error> {
        let cache = self.cache;
        let epoch = cache.l1.as_ref().map_or(0, Store::epoch);
        let args = self.args?;
        let backend = backend::current();
        let key = key::entry_key(&cache.namespace, &args);
        match cache.store(&*backend, &key, None, &value) {
            Ok(()) => {
                let broadcast = backend.broadcast(&cache.namespace, Some(&args));
                cache.keep_local(args, value, epoch);
                broadcast
            }
            Err(error) => {
                cache.forget_local(&args);
                Err(error)
            }
        }
    }

    /// Computes the value afresh, stores it in every tier and returns it.
    /// Backend failures are counted and logged, not returned.
    pub fn refresh(self, compute: impl FnOnce() -> V) -> V {
        let value = compute();
        let cache = self.cache;
        if let Err(error) = self.set(value.clone()) {
            stats::backend_failed("refresh", &cache.namespace, &error);
        }
        value
    }
}

impl<V, C> LocalTier for Cache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn flush_local(&self) {
        if let Some(l1) = &self.l1 {
            l1.clear();
        }
    }

    fn forget_local(&self, args: &[u8]) {
        if let Some(l1) = &self.l1 {
            l1.remove(args);
        }
    }
}

fn encode<A: Serialize + ?Sized>(args: &A) -> Result<Box<[u8]>, Error> {
    key::with_encoded(args, |bytes| bytes.map(Box::from)).map_err(|e| Error::Encode(e.0))
}

/// FNV-1a: a hash that is the same in every process and build.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
