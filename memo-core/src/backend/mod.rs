//! The shared tier: the [`Backend`] trait, the process-wide backend slot,
//! and the embedded backend ([`MemoryBackend`]).

pub(crate) mod memory;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::coherence::{self, Link};
use crate::Error;
use memory::MemoryBackend;

/// An opaque generation token. Every entry is stored with the generation of
/// its function at the time it was computed, and read back only while that
/// generation is current; `invalidate()` replaces the generation with a fresh
/// random one. Random rather than counted, so a generation that is lost
/// (evicted, expired, server restarted) and created anew never matches the
/// entries of an earlier one.
pub type Generation = u64;

/// A new random generation token.
///
/// # Examples
///
/// ```
/// assert_ne!(memo_core::backend::new_generation(), memo_core::backend::new_generation());
/// ```
pub fn new_generation() -> Generation {
    getrandom::u64().unwrap_or_else(|_| {
        // No OS randomness: fall back to a time- and address-seeded hash,
        // still unique enough to never repeat an earlier token.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    })
}

/// What one [`Backend::get`] found: the function's current generation and the
/// stored bytes, fetched together (one round trip on a networked backend).
///
/// # Examples
///
/// ```
/// let found = memo_core::backend::Fetched { generation: Some(7), value: None };
/// assert!(found.value.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The generation stored under the generation key, if there is one.
    pub generation: Option<Generation>,
    /// The bytes stored under the entry key, if there are any.
    pub value: Option<Vec<u8>>,
}

/// What [`Backend::get_many`] found: the function's current generation and
/// the bytes under each key, in the order asked.
///
/// # Examples
///
/// ```
/// let found = memo_core::backend::FetchedMany { generation: Some(7), values: vec![None] };
/// assert_eq!(found.values.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchedMany {
    /// The generation stored under the generation key, if there is one.
    pub generation: Option<Generation>,
    /// The bytes stored under each entry key, if there are any.
    pub values: Vec<Option<Vec<u8>>>,
}

/// What [`Backend::set_if`] requires of the key before it writes.
///
/// # Examples
///
/// ```
/// use memo_core::backend::Expect;
///
/// let read = Some(&b"\x02stamp123 and the rest"[..]);
/// let expect = read.map_or(Expect::Absent, |bytes| Expect::Prefix(&bytes[..9]));
/// assert_eq!(expect, Expect::Prefix(b"\x02stamp123"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// Nothing is stored under the key (an expired entry counts as nothing).
    Absent,
    /// A value that starts with these bytes is stored under the key.
    Prefix(&'a [u8]),
}

impl Expect<'_> {
    /// Whether `held` (what the key holds, `None`: nothing live) is what
    /// this expects: the check a backend's compare-and-set makes.
    ///
    /// # Examples
    ///
    /// ```
    /// use memo_core::backend::Expect;
    ///
    /// assert!(Expect::Absent.holds(None));
    /// assert!(Expect::Prefix(b"\x02ab").holds(Some(b"\x02abc")));
    /// assert!(!Expect::Prefix(b"\x02ab").holds(None));
    /// ```
    pub fn holds(&self, held: Option<&[u8]>) -> bool {
        match (self, held) {
            (Expect::Absent, held) => held.is_none(),
            (Expect::Prefix(prefix), Some(held)) => held.starts_with(prefix),
            (Expect::Prefix(_), None) => false,
        }
    }
}

/// Storage for the shared tier: a key-value store with TTLs and generation
/// tokens. Keys are built by memo; values are opaque bytes (memo adds an
/// envelope with the generation and a type fingerprint).
///
/// The trait is object-safe; memo holds the installed backend as
/// `Arc<dyn Backend>`. Implementations must be cheap to call concurrently and
/// must not panic: report failures as [`Error`], and memo computes the value
/// instead.
///
/// # Examples
///
/// Any backend goes in through [`set_backend`]:
///
/// ```
/// use memo_core::{Backend, MemoryBackend};
///
/// let backend = MemoryBackend::builder().max_entries(10_000).build();
/// backend.set("memo:v:demo:00", b"bytes", std::time::Duration::from_secs(60)).unwrap();
/// let found = backend.get("memo:g:demo", "memo:v:demo:00").unwrap();
/// assert_eq!(found.value.as_deref(), Some(&b"bytes"[..]));
/// memo_core::set_backend(backend);
/// ```
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs and errors (`"memory"`, `"redis"`).
    fn name(&self) -> &'static str;

    /// Reads the generation under `generation_key` and the value under `key`,
    /// in one round trip where the backend can.
    ///
    /// # Errors
    ///
    /// When the backend cannot answer.
    fn get(&self, generation_key: &str, key: &str) -> Result<Fetched, Error>;

    /// Reads the value under `key` alone. memo calls it instead of
    /// [`Backend::get`] while it knows the function's current generation
    /// (learned from an earlier read, and forgotten on every invalidation
    /// message), so a hit is one plain `GET`.
    ///
    /// # Errors
    ///
    /// When the backend cannot answer.
    fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, Error>;

    /// Reads the generation under `generation_key` and the values under
    /// every one of `keys`, in one round trip where the backend can
    /// (`f::get_many`). The default reads them one by one: right for a
    /// backend that does no I/O; memo-redis sends one pipeline (to every
    /// node at once on a cluster).
    ///
    /// # Errors
    ///
    /// When the backend cannot answer.
    fn get_many(&self, generation_key: &str, keys: &[String]) -> Result<FetchedMany, Error> {
        let Some((first, rest)) = keys.split_first() else {
            return Ok(FetchedMany::default());
        };
        let Fetched { generation, value } = self.get(generation_key, first)?;
        let mut values = Vec::with_capacity(keys.len());
        values.push(value);
        for key in rest {
            values.push(self.get_value(key)?);
        }
        Ok(FetchedMany { generation, values })
    }

    /// Stores `value` under `key`, expiring after `ttl`, in one command.
    ///
    /// # Errors
    ///
    /// When the backend cannot store it.
    fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), Error>;

    /// Stores `value` under `key`, expiring after `ttl`, only if the key
    /// holds what `expect` says (nothing, or a value starting with the
    /// given bytes), atomically: a compare-and-set, one round trip (`SET NX
    /// PX`, or a script on Redis). Says whether it stored. memo stores a
    /// computed value so, expecting what its read found, so a value read
    /// before a `clear` or `set_cached_value` of its entry never overwrites
    /// what they wrote.
    ///
    /// # Errors
    ///
    /// When the backend cannot answer.
    fn set_if(
        &self,
        key: &str,
        expect: Expect<'_>,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, Error>;

    /// Deletes `key`; deleting a missing key is not an error.
    ///
    /// # Errors
    ///
    /// When the backend cannot answer.
    fn delete(&self, key: &str) -> Result<(), Error>;

    /// The generation under `generation_key`, creating a random one (with
    /// [`new_generation`]) if there is none. Two racing creators must end up
    /// with the same token (create-if-absent).
    ///
    /// # Errors
    ///
    /// When the backend cannot answer.
    fn generation(&self, generation_key: &str) -> Result<Generation, Error>;

    /// Replaces the generation under `generation_key` with a fresh random one
    /// and returns it: every entry stored under an older generation becomes
    /// invisible at once, whatever the number of entries.
    ///
    /// # Errors
    ///
    /// When the backend cannot store it.
    fn new_generation(&self, generation_key: &str) -> Result<Generation, Error>;

    /// Takes the lock `key` for `ttl` if nobody holds it, marking it with
    /// `token` (`SET key token NX PX ttl` on Redis). Says whether it did.
    ///
    /// # Errors
    ///
    /// When the backend cannot answer.
    fn try_lock(&self, key: &str, token: u64, ttl: Duration) -> Result<bool, Error>;

    /// Releases the lock `key` if it is still marked with `token` (an atomic
    /// compare-and-delete): a holder whose lock expired and was taken by
    /// another never releases the other's lock.
    ///
    /// # Errors
    ///
    /// When the backend cannot answer.
    fn unlock(&self, key: &str, token: u64) -> Result<(), Error>;

    /// Whether a sync call waits on I/O (a network round trip). memo warns
    /// once when such a call runs inside a Tokio runtime (see the README's
    /// async section). The default: `true`; an in-process backend returns
    /// `false`.
    fn blocks(&self) -> bool {
        true
    }

    /// `key` as this backend stores it (memo-redis puts its `key_prefix`
    /// before it), for `f::cache_key(..)` and for operators. The default:
    /// as it is.
    fn key_as_stored(&self, key: &str) -> String {
        key.to_owned()
    }

    /// Tells every other process sharing this backend that the entry for
    /// `args` (encoded arguments; `None`: every entry) of `namespace`
    /// changed, so they drop their L1 copies. Called after `clear`,
    /// `invalidate` and `set_cached_value`.
    ///
    /// The default does nothing: right for a backend only this process sees.
    ///
    /// # Errors
    ///
    /// When the message could not be sent.
    fn broadcast(&self, namespace: &str, args: Option<&[u8]>) -> Result<(), Error> {
        let _ = (namespace, args);
        Ok(())
    }

    /// Takes what a process knows of one `#[quickcache]` function, given
    /// at its first miss in the process, for operator tools to read (the
    /// `memo` CLI lists functions and encodes their keys from it). Called
    /// on the caller's thread, sync or async: an implementation must not
    /// block (queue the write).
    ///
    /// The default keeps nothing: right for a backend only this process
    /// sees.
    fn describe(&self, descriptor: &crate::admin::Descriptor) {
        let _ = descriptor;
    }

    /// Called once when the backend is installed with
    /// [`set_backend`]. A backend shared between
    /// processes keeps `link` and reports through it: whether its broadcast
    /// channel works ([`Link::up`], [`Link::down`]; L1 is bypassed while it
    /// is down) and what other processes invalidated ([`Link::invalidated`]).
    ///
    /// The default reports the channel up: right for a backend only this
    /// process sees.
    fn attach(&self, link: Link) {
        link.up();
    }

    /// [`Backend::get`] for async callers. The default runs the sync method
    /// in place: right for a backend that does no I/O; a networked backend
    /// overrides every `*_async` method so it never blocks an executor.
    fn get_async<'a>(
        &'a self,
        generation_key: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Fetched, Error>> {
        ready(self.get(generation_key, key))
    }

    /// [`Backend::get_many`] for async callers (see [`Backend::get_async`]).
    fn get_many_async<'a>(
        &'a self,
        generation_key: &'a str,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<FetchedMany, Error>> {
        ready(self.get_many(generation_key, keys))
    }

    /// [`Backend::get_value`] for async callers (see [`Backend::get_async`]).
    fn get_value_async<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, Error>> {
        ready(self.get_value(key))
    }

    /// [`Backend::set`] for async callers (see [`Backend::get_async`]).
    fn set_async<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), Error>> {
        ready(self.set(key, value, ttl))
    }

    /// [`Backend::set_if`] for async callers (see [`Backend::get_async`]).
    fn set_if_async<'a>(
        &'a self,
        key: &'a str,
        expect: Expect<'a>,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        ready(self.set_if(key, expect, value, ttl))
    }

    /// [`Backend::delete`] for async callers (see [`Backend::get_async`]).
    fn delete_async<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        ready(self.delete(key))
    }

    /// [`Backend::generation`] for async callers (see [`Backend::get_async`]).
    fn generation_async<'a>(
        &'a self,
        generation_key: &'a str,
    ) -> BoxFuture<'a, Result<Generation, Error>> {
        ready(self.generation(generation_key))
    }

    /// [`Backend::new_generation`] for async callers (see
    /// [`Backend::get_async`]).
    fn new_generation_async<'a>(
        &'a self,
        generation_key: &'a str,
    ) -> BoxFuture<'a, Result<Generation, Error>> {
        ready(self.new_generation(generation_key))
    }

    /// [`Backend::try_lock`] for async callers (see [`Backend::get_async`]).
    fn try_lock_async<'a>(
        &'a self,
        key: &'a str,
        token: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        ready(self.try_lock(key, token, ttl))
    }

    /// [`Backend::unlock`] for async callers (see [`Backend::get_async`]).
    fn unlock_async<'a>(&'a self, key: &'a str, token: u64) -> BoxFuture<'a, Result<(), Error>> {
        ready(self.unlock(key, token))
    }

    /// [`Backend::broadcast`] for async callers (see [`Backend::get_async`]).
    fn broadcast_async<'a>(
        &'a self,
        namespace: &'a str,
        args: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        ready(self.broadcast(namespace, args))
    }
}

/// A boxed future, as the async methods of [`Backend`] return (the trait
/// stays object-safe, as redis-rs's `ConnectionLike` does).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

static INSTALLED: RwLock<Option<Arc<dyn Backend>>> = RwLock::new(None);
/// Bumped by every [`set_backend`]: a thread's cached handle is current
/// while the count it was cached at is.
static INSTALLS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's handle on the installed backend, so a call does not
    /// take the global lock: under many threads, the lock's cache line
    /// bouncing between cores cost more than the rest of a Redis hit.
    static CACHED: RefCell<Option<(u64, Arc<dyn Backend>)>> = const { RefCell::new(None) };
}

/// Installs `backend` as the shared tier of every `#[quickcache]` function in
/// this process, replacing the embedded [`MemoryBackend`]. Call it once at
/// start-up, before the first cached call; calling it again switches backends
/// and drops every local (L1) entry, so nothing read from the old backend is
/// served afterwards. Each thread keeps a handle on the backend it last used
/// (so a call takes no global lock); a thread lets go of the old backend, and
/// so of its connections, at its next cached call or when it ends.
///
/// # Examples
///
/// ```
/// memo_core::set_backend(memo_core::MemoryBackend::new());
/// ```
pub fn set_backend<B: Backend>(backend: B) {
    let backend: Arc<dyn Backend> = Arc::new(backend);
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&backend));
    INSTALLS.fetch_add(1, Ordering::AcqRel);
    backend.attach(coherence::DEFAULT.install());
}

/// The installed backend; the embedded [`MemoryBackend`] until
/// [`set_backend`] is called.
///
/// # Examples
///
/// ```
/// assert!(!memo_core::backend::current().name().is_empty());
/// ```
pub fn current() -> Arc<dyn Backend> {
    // Read before the backend: a handle cached under an older count is
    // refreshed on the next call.
    let installs = INSTALLS.load(Ordering::Acquire);
    let cached = CACHED.try_with(|cached| match &*cached.borrow() {
        Some((at, backend)) if *at == installs => Some(Arc::clone(backend)),
        _ => None,
    });
    if let Ok(Some(backend)) = cached {
        return backend;
    }
    let backend = installed();
    // During thread teardown there is no cache: use the handle uncached.
    // The replaced handle drops after the cell is released.
    let _replaced =
        CACHED.try_with(|cached| cached.replace(Some((installs, Arc::clone(&backend)))));
    backend
}

/// The named backends (`set_backend_named`), each with its name.
static NAMED: RwLock<Vec<(&'static str, Arc<dyn Backend>)>> = RwLock::new(Vec::new());

/// Installs `backend` under `name`, as the shared tier of the
/// `#[quickcache(backend = "name")]` functions (django-cache-memoize's
/// `cache_alias`); the others keep the default one ([`set_backend`]).
/// Until it is called, such functions use an embedded [`MemoryBackend`]
/// of that name, as the default is embedded until `set_backend`. Calling it
/// again switches that name's backend and drops those functions' L1
/// entries. A named backend has a coherence of its own: its invalidation
/// channel going down bypasses the L1 of its functions only.
///
/// # Examples
///
/// ```
/// use memo_core::{quickcache, MemoryBackend};
///
/// memo_core::set_backend_named("reports", MemoryBackend::new());
///
/// #[quickcache(backend = "reports")]
/// fn monthly(month: u32) -> u64 { u64::from(month) * 1000 }
///
/// assert_eq!(monthly(3), 3000);
/// ```
pub fn set_backend_named<B: Backend>(name: &str, backend: B) {
    let backend: Arc<dyn Backend> = Arc::new(backend);
    let name = {
        let mut named = NAMED.write().unwrap_or_else(|e| e.into_inner());
        match named.iter_mut().find(|(held, _)| *held == name) {
            Some((held, slot)) => {
                *slot = Arc::clone(&backend);
                *held
            }
            None => {
                // One string per backend name the process uses, kept.
                let held: &'static str = Box::leak(name.to_owned().into_boxed_str());
                named.push((held, Arc::clone(&backend)));
                held
            }
        }
    };
    backend.attach(coherence::of(Some(name)).install());
}

/// The backend of the functions named `name` (`None`: the default one,
/// [`current`]): the one `set_backend_named` installed, or an embedded
/// one until it is called.
pub(crate) fn of(name: Option<&'static str>) -> Arc<dyn Backend> {
    let Some(name) = name else {
        return current();
    };
    let find = |named: &[(&'static str, Arc<dyn Backend>)]| {
        named
            .iter()
            .find(|(held, _)| *held == name)
            .map(|(_, backend)| Arc::clone(backend))
    };
    if let Some(backend) = find(&NAMED.read().unwrap_or_else(|e| e.into_inner())) {
        return backend;
    }
    let mut named = NAMED.write().unwrap_or_else(|e| e.into_inner());
    if let Some(backend) = find(&named) {
        return backend;
    }
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    named.push((name, Arc::clone(&backend)));
    drop(named);
    crate::report::implicit_backend(Some(name));
    backend.attach(coherence::of(Some(name)).install());
    backend
}

fn installed() -> Arc<dyn Backend> {
    if let Some(backend) = INSTALLED.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Arc::clone(backend);
    }
    let mut slot = INSTALLED.write().unwrap_or_else(|e| e.into_inner());
    if let Some(backend) = slot.as_ref() {
        return Arc::clone(backend);
    }
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    *slot = Some(Arc::clone(&backend));
    // Reported with no lock held: a subscriber may call cached functions.
    drop(slot);
    crate::report::implicit_backend(None);
    backend
}
