//! Memoize functions with one attribute, in two tiers: a fast in-process map
//! and a shared tier that every process and machine sees (embedded by
//! default, Redis with `memo-redis`).
//!
//! ```
//! use memo_core::{memoized, quickcache};
//!
//! #[memoized]
//! fn fib(n: u64) -> u64 {
//!     if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
//! }
//!
//! #[quickcache(vary_on = [domain], timeout = 300, memoize_timeout = 10)]
//! fn user_count(domain: &str, verbose: bool) -> u64 {
//!     domain.len() as u64 // a database query in real life
//! }
//!
//! assert_eq!(fib(80), 23_416_728_348_467_685);
//! assert_eq!(user_count("example.org", true), 11);
//! user_count::clear("example.org", true).unwrap();
//! ```
//!
//! # Attributes
//!
//! - [`#[memoized]`](macro@memoized): in-process only, keyed by all arguments
//!   (`Hash + Eq + Clone`); per function, or per instance on `&self` methods
//!   (see [`Memos`]).
//! - [`#[quickcache]`](macro@quickcache): an L1 map in front of the shared
//!   tier, keyed by the `vary_on` values (`Serialize`); values must be
//!   `Serialize + DeserializeOwned + Clone`.
//!
//! Beside each function `f` the attribute generates companions, reached as
//! `f::clear(..)`, `f::invalidate()`, `f::set_cached_value(..).to(v)`,
//! `f::refresh(..)` and `f::uncached(..)` (on methods: `self.f_clear(..)`,
//! `Self::f_invalidate()`, and so on).
//!
//! # Guarantees
//!
//! - Never a value computed for other arguments: keys are typed and
//!   length-prefixed encodings of the arguments (equal maps and sets alike),
//!   namespaced per function (a digest of its code tells functions of one
//!   name apart); a stored value of another type or shape is a miss.
//! - Never a value after an acknowledged `clear`, `set_cached_value`,
//!   `refresh` or `invalidate`: computations under way are fenced out of L1,
//!   the shared tier stores a computed value only over what its read found,
//!   and other processes stop serving L1 within memo-redis's
//!   `staleness_bound`.
//! - A failing backend never fails the call: the function computes and
//!   returns; the failure is counted ([`stats`]) and logged (rate-limited).
//! - A `Result`'s `Err` is not cached unless `cache_errors` says so.
//! - `invalidate()` is O(1) on the shared tier, whatever the number of entries.
// Two modules hold `unsafe`, each block with its proof: the fork handler
// (fork.rs) and L1's read of its store by key type (quickcache/local.rs).
// Tests fork with `unsafe` too (clock.rs, stamp.rs).
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admin;
pub mod backend;
mod clock;
pub mod codec;
pub mod coherence;
mod configure;
mod counters;
mod error;
mod flight;
mod fork;
pub mod key;
mod lock;
mod memoized;
mod outcome;
mod quickcache;
mod registry;
mod report;
mod runtime;
mod settings;
mod shape;
mod stamp;
pub mod stats;
mod store;
mod switch;
mod weigh;

pub use backend::memory::{MemoryBackend, MemoryBackendBuilder};
pub use backend::{set_backend, set_backend_named, Backend};
pub use configure::{configure, Settings};
pub use error::Error;
pub use lock::{lock, lock_async, try_lock, LockGuard};
pub use memoized::{HasMemos, Memos};
pub use switch::{disable, disabled, enable, is_enabled, Disabled};
pub use weigh::Weigh;

/// What `f::set_cached_value(args)` returns: call [`to`](Self::to) with the
/// value to store for those arguments. It owns the (encoded or cloned)
/// arguments, so it borrows nothing from the call.
///
/// On `#[quickcache]` functions `to` returns `Result<(), Error>`; on
/// `#[memoized]` ones, `()`.
///
/// # Examples
///
/// ```
/// use memo_core::quickcache;
///
/// #[quickcache]
/// fn price(sku: &str) -> u32 { 100 }
///
/// price::set_cached_value("A-1").to(42).unwrap();
/// assert_eq!(price("A-1"), 42);
/// ```
#[must_use = "call `.to(value)` to store the value"]
pub struct SetCachedValue<V, R = ()> {
    store: Box<dyn FnOnce(V) -> R>,
}

impl<V, R> SetCachedValue<V, R> {
    #[doc(hidden)]
    pub fn new(store: impl FnOnce(V) -> R + 'static) -> Self {
        SetCachedValue {
            store: Box::new(store),
        }
    }

    /// Stores `value` for the arguments given to `set_cached_value`.
    ///
    /// # Errors
    ///
    /// On `#[quickcache]` functions: when the arguments cannot be encoded or
    /// the shared tier fails (this process's L1 entry is dropped then).
    ///
    /// # Examples
    ///
    /// ```
    /// #[memo_core::memoized]
    /// fn answer() -> u32 { 41 }
    ///
    /// answer::set_cached_value().to(42);
    /// assert_eq!(answer(), 42);
    /// ```
    pub fn to(self, value: V) -> R {
        (self.store)(value)
    }
}

impl<V, R> std::fmt::Debug for SetCachedValue<V, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetCachedValue").finish_non_exhaustive()
    }
}

/// Memoizes a function in this process. See the [crate docs](crate) and the
/// README's attribute reference.
///
/// Options: `timeout = <seconds>` (entries expire; default never),
/// `max_entries = N` (bounded, S3-FIFO eviction; default
/// unbounded).
///
/// # Examples
///
/// ```
/// use memo_core::memoized;
///
/// #[memoized(max_entries = 1000)]
/// fn slow_square(x: u32) -> u32 { x * x }
///
/// assert_eq!(slow_square(4), 16);
/// slow_square::clear(4);
/// slow_square::set_cached_value(5).to(26);
/// assert_eq!(slow_square(5), 26);
/// assert_eq!(slow_square::uncached(5), 25);
/// ```
pub use memo_macros::memoized;

/// Caches a function in two tiers: L1 in this process, then the shared tier.
/// See the [crate docs](crate) and the README's attribute reference.
///
/// # Examples
///
/// ```
/// use memo_core::quickcache;
///
/// #[derive(serde::Serialize)]
/// struct User { id: u64, name: String }
///
/// #[quickcache(vary_on = [domain, user.id], timeout = 60)]
/// fn greeting(domain: &str, user: &User) -> String {
///     format!("{}@{}", user.name, domain)
/// }
///
/// let ada = User { id: 1, name: "ada".into() };
/// assert_eq!(greeting("example.org", &ada), "ada@example.org");
/// greeting::invalidate().unwrap();
/// ```
pub use memo_macros::quickcache;

/// Lets `#[quickcache]` and `#[memoized]` apply to associated functions
/// without `self` in an inherent impl.
///
/// An attribute sees only its own function, so on `fn find(id: u64)` it
/// cannot tell a free function (whose companions are `find::clear(..)`, on a
/// struct named after it) from an associated one (an impl cannot hold a
/// struct). On the impl, this attribute tells it: the companions of each
/// such function are associated functions beside it, named as a method's
/// are (`Self::find_clear(..)`, `Self::find_invalidate()`,
/// `Self::find_set_cached_value(..).to(v)`, `Self::find_refresh(..)`,
/// `Self::find_uncached(..)`). Methods with `self` need nothing more.
///
/// In an impl with type parameters, a `#[quickcache]` function gets a cache
/// and a namespace per `Self` type; `#[memoized]` is refused there (its one
/// static cache would serve every `Self` type).
///
/// # Examples
///
/// ```
/// use memo_core::{cached_impl, quickcache};
///
/// struct Prices;
///
/// #[cached_impl]
/// impl Prices {
///     #[quickcache(timeout = 60)]
///     fn of(sku: &str) -> u64 {
///         sku.len() as u64 * 100
///     }
/// }
///
/// assert_eq!(Prices::of("abc"), 300);
/// Prices::of_set_cached_value("abc").to(1).unwrap();
/// assert_eq!(Prices::of("abc"), 1);
/// Prices::of_invalidate().unwrap();
/// ```
pub use memo_macros::cached_impl;

/// Runtime items the attribute macros call. Not public API: no stability
/// promise, do not use directly.
#[doc(hidden)]
pub mod __private {
    pub use crate::codec::DefaultCodec;
    pub use crate::key::typed::{KeyPart, TypedArgs};
    pub use crate::memoized::{
        instance_cache, invalidate_all, BorrowedKey, MemoSpec, MemoStats, MemoUsage, Memoized,
    };
    pub use crate::outcome::{keep_errors_if, Keep, KeepIf, OkPart, Outcome, Whole};
    pub use crate::quickcache::{Cache, EncodedArgs, Lookup, Prepared, QuickCache, Spec};
    pub use crate::settings::{count, positive, Secs};
    pub use crate::switch::bypassed;
    pub use crate::weigh::{BySize, ByWeigh, WeighOf};
    pub use core::time::Duration;

    /// Calls `f`, out of line and marked cold: a sync `#[quickcache]`
    /// function's miss path, so that its hit path (an L1 probe) is all the
    /// function holds. With the miss inline, the function saves registers
    /// and sets up a large frame on every hit, and the optimizer, seeing
    /// one big function, stops inlining the probe into it.
    #[cold]
    #[inline(never)]
    pub fn cold<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// Asserts at compile time that a `#[memoized]` argument can be a key.
    #[inline(always)]
    pub fn require_key<T: core::hash::Hash + Eq + Clone + Send + Sync + 'static>() {}

    /// Asserts at compile time that a `vary_on` value can be encoded.
    #[inline(always)]
    pub fn require_vary_on<T: serde::Serialize + ?Sized>(_: &T) {}

    /// The key a `#[quickcache]` function passes to its cache, picked by
    /// autoref: `(&KeyOf(key)).memo_key()` is `key` itself when it is
    /// `Serialize` ([`SerializedKey`]), and `&()` otherwise
    /// ([`UnserializableKey`]). The second case never runs: the
    /// `require_vary_on` check beside it fails to compile, with its span on
    /// the `vary_on` entry, and the cache calls type-check instead of adding
    /// errors of their own.
    pub struct KeyOf<'a, T: ?Sized>(pub &'a T);

    /// See [`KeyOf`].
    pub trait SerializedKey<'a, T: ?Sized> {
        /// The key.
        fn memo_key(&self) -> &'a T;
    }

    impl<'a, T: serde::Serialize + ?Sized> SerializedKey<'a, T> for KeyOf<'a, T> {
        #[inline]
        fn memo_key(&self) -> &'a T {
            self.0
        }
    }

    /// See [`KeyOf`].
    pub trait UnserializableKey {
        /// A stand-in key, for code that does not compile anyway.
        fn memo_key(&self) -> &'static ();
    }

    impl<T: ?Sized> UnserializableKey for &KeyOf<'_, T> {
        fn memo_key(&self) -> &'static () {
            &()
        }
    }

    /// How a `#[quickcache]` function probes L1, picked by autoref:
    /// `(&Probe(key)).memo_probe(cache)` compares the arguments by value
    /// ([`Cache::probe_typed`], through [`ProbeByValue`]) when every one is
    /// of a type L1 can key so ([`TypedArgs`]), and by their encoding
    /// ([`Cache::probe`], through [`ProbeEncoded`]) otherwise.
    pub struct Probe<'a, T: ?Sized>(pub &'a T);

    /// See [`Probe`].
    pub trait ProbeByValue {
        /// A live L1 value for the arguments.
        fn memo_probe<V, C>(&self, cache: &Cache<V, C>) -> Option<V>
        where
            V: Clone + Send + Sync + 'static;
    }

    impl<T: TypedArgs> ProbeByValue for Probe<'_, T> {
        #[inline(always)]
        fn memo_probe<V, C>(&self, cache: &Cache<V, C>) -> Option<V>
        where
            V: Clone + Send + Sync + 'static,
        {
            cache.probe_typed(self.0)
        }
    }

    /// See [`Probe`].
    pub trait ProbeEncoded {
        /// A live L1 value for the arguments.
        fn memo_probe<V, C>(&self, cache: &Cache<V, C>) -> Option<V>
        where
            V: Clone + Send + Sync + 'static;
    }

    impl<T: serde::Serialize + ?Sized> ProbeEncoded for &Probe<'_, T> {
        #[inline(always)]
        fn memo_probe<V, C>(&self, cache: &Cache<V, C>) -> Option<V>
        where
            V: Clone + Send + Sync + 'static,
        {
            cache.probe(self.0)
        }
    }

    /// Asserts at compile time that a `#[quickcache]` return type can be
    /// stored in the shared tier.
    #[inline(always)]
    pub fn require_value<T>()
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
    }

    /// The type name of `T`, for namespacing methods by their `Self` type.
    pub fn type_name<T: ?Sized>() -> &'static str {
        core::any::type_name::<T>()
    }
}
