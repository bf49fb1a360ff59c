//! L1 of one `#[quickcache]` function: a [`Store`] keyed by the arguments'
//! values when their types allow it (`key::typed`), by their encoding
//! otherwise.
//!
//! Which key type a function's arguments have is known only where it is
//! called (a `vary_on` path such as `user.id` names no type the macro can
//! write), while its cache lives in a static built before that. So the
//! store is built by the first probe, which knows the key type, and held
//! behind a trait object that every other step reaches it through by
//! encoded arguments (storing a value, a remote `clear(args)`, a flush):
//! the steps off the hit path, where decoding a key costs little.
//!
//! The hit path cannot afford the trait object's indirect call: it checks
//! the store's key type against the one it probes with, one comparison,
//! and reads the store directly (the one `unsafe` block, below).

#![allow(unsafe_code)]

use std::any::TypeId;
use std::hash::Hash;
use std::sync::{Mutex, OnceLock};

use serde::de::DeserializeOwned;

use crate::clock::Tick;
use crate::key::typed::{self, TypedArgs};
use crate::key::{decoder, ArgsKey, ArgsRef};
use crate::store::{Store, Ticket};

fn decode_typed<K: DeserializeOwned>(args: &[u8]) -> Option<K> {
    decoder::decode(args).ok()
}

fn decode_encoded(args: &[u8]) -> Option<ArgsKey> {
    Some(ArgsKey::from_slice(args))
}

/// `max_bytes`, and how a value is weighed (its encoded length).
pub(crate) type ByteBound<V> = Option<(usize, fn(&V) -> usize)>;

/// One function's L1.
pub(crate) struct Local<V> {
    max_entries: usize,
    max_bytes: ByteBound<V>,
    keyed: OnceLock<Keyed<V>>,
    /// How many times L1 was flushed before its store was built. The store
    /// starts at that epoch, so a value whose computation read an earlier
    /// one (before a flush that found no store to clear) is not kept.
    early_epoch: Mutex<u64>,
}

/// The store and its key type. Built only by [`Keyed::new`], never changed.
struct Keyed<V> {
    /// `TypeId::of::<K>()` for the store's key type `K`.
    key: TypeId,
    /// A `Decoding<K, V>`, of that `K`.
    store: Box<dyn Erased<V>>,
}

/// A store reached by encoded arguments, whatever its key type.
trait Erased<V>: Send + Sync {
    fn get(&self, args: &[u8]) -> Option<V>;
    fn insert(&self, args: &[u8], value: V, ttl: Tick, ticket: Ticket, fencing: bool);
    fn remove(&self, args: &[u8]);
    fn clear(&self);
    fn ticket(&self) -> Ticket;
    fn evictions(&self) -> (u64, u64);
    fn usage(&self) -> (usize, usize);
}

/// A store, and how its key is read from encoded arguments.
struct Decoding<K, V> {
    store: Store<K, V>,
    /// `None` for bytes that are not the encoding of a key: no entry can
    /// have been stored for them.
    decode: fn(&[u8]) -> Option<K>,
}

impl<K, V> Erased<V> for Decoding<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync,
{
    fn get(&self, args: &[u8]) -> Option<V> {
        self.store.get(&(self.decode)(args)?)
    }

    fn insert(&self, args: &[u8], value: V, ttl: Tick, ticket: Ticket, fencing: bool) {
        // Arguments this function encoded always decode; were they not to,
        // L1 would only miss.
        if let Some(key) = (self.decode)(args) {
            if fencing {
                self.store.insert_fencing(key, value, Some(ttl), ticket);
            } else {
                self.store.insert(key, value, Some(ttl), ticket);
            }
        }
    }

    fn remove(&self, args: &[u8]) {
        if let Some(key) = (self.decode)(args) {
            self.store.remove(&key);
        }
    }

    fn clear(&self) {
        self.store.clear();
    }

    fn ticket(&self) -> Ticket {
        self.store.ticket()
    }

    fn evictions(&self) -> (u64, u64) {
        self.store.evictions()
    }

    fn usage(&self) -> (usize, usize) {
        (self.store.len(), self.store.weight())
    }
}

impl<V> Keyed<V>
where
    V: Clone + Send + Sync + 'static,
{
    fn new<K>(store: Store<K, V>, decode: fn(&[u8]) -> Option<K>) -> Self
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
    {
        Keyed {
            key: TypeId::of::<K>(),
            store: Box::new(Decoding { store, decode }),
        }
    }

    /// The store, if its key type is `K`.
    #[inline]
    fn store<K: 'static>(&self) -> Option<&Store<K, V>> {
        if self.key != TypeId::of::<K>() {
            return None;
        }
        let erased: *const dyn Erased<V> = &*self.store;
        // SAFETY: `self.store` was made by `Keyed::new::<K0>` from a
        // `Box<Decoding<K0, V>>`, with `self.key` set to `TypeId::of::<K0>()`
        // in the same expression, and neither field changes after (they are
        // private to this module, and `Keyed` is reached only through a
        // `OnceLock`'s shared reference). Equal `TypeId`s mean `K` is `K0`
        // (what `<dyn Any>::downcast_ref` relies on too), so the data
        // pointer of the trait object points to a live `Decoding<K, V>`;
        // casting away the vtable keeps that pointer. The reference lives
        // no longer than `&self`, which owns the box.
        let decoding = unsafe { &*erased.cast::<Decoding<K, V>>() };
        Some(&decoding.store)
    }
}

impl<V> Local<V>
where
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(max_entries: usize, max_bytes: ByteBound<V>) -> Self {
        Local {
            max_entries,
            max_bytes,
            keyed: OnceLock::new(),
            early_epoch: Mutex::new(0),
        }
    }

    /// A live value for `args`, compared by value; builds the store, keyed
    /// so, on the first probe.
    #[inline]
    pub(crate) fn get_typed<A: TypedArgs>(&self, args: &A) -> Option<V> {
        match self.keyed.get().and_then(Keyed::store::<A::Owned>) {
            Some(store) => store.get_equivalent(&typed::Probe(args), || args.to_owned_args()),
            None => self.first_probe(decode_typed::<A::Owned>),
        }
    }

    /// A live value for the encoded `args`; builds the store, keyed by
    /// encoding, on the first probe.
    #[inline]
    pub(crate) fn get_encoded(&self, args: &[u8]) -> Option<V> {
        match self.keyed.get().and_then(Keyed::store::<ArgsKey>) {
            Some(store) => store.get_equivalent(&ArgsRef(args), || ArgsKey::from_slice(args)),
            None => self.first_probe(decode_encoded),
        }
    }

    /// A probe that found no store of its key type: builds one, and misses.
    /// Were the store keyed otherwise (call sites of one function that
    /// disagree on its key type, which generated code never has), every
    /// probe of the other type misses and L1 serves them nothing.
    #[cold]
    #[inline(never)]
    fn first_probe<K>(&self, decode: fn(&[u8]) -> Option<K>) -> Option<V>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
    {
        if self.keyed.get().is_none() {
            let early = self.early_epoch.lock().unwrap_or_else(|e| e.into_inner());
            self.keyed.get_or_init(|| {
                let store = Store::new_at(Some(self.max_entries), *early);
                let store = match self.max_bytes {
                    // The key as held (encoded keys of up to 16 bytes are
                    // inline), and the value as encoded.
                    Some((max, value)) => store.weighed(
                        max,
                        Box::new(move |_: &K, v: &V| std::mem::size_of::<K>() + value(v)),
                    ),
                    None => store,
                };
                Keyed::new(store, decode)
            });
        }
        None
    }

    /// The ticket to store a value with once it is computed (see
    /// [`Store::ticket`]).
    pub(crate) fn ticket(&self) -> Ticket {
        match self.keyed.get() {
            Some(keyed) => keyed.store.ticket(),
            None => Ticket::at(*self.early_epoch.lock().unwrap_or_else(|e| e.into_inner())),
        }
    }

    /// A live value for the encoded `args`, after a probe missed.
    pub(crate) fn get(&self, args: &[u8]) -> Option<V> {
        self.keyed.get()?.store.get(args)
    }

    /// Keeps `value` for the encoded `args` for `ttl`, unless L1 was flushed,
    /// or the entry dropped, since `ticket` was taken; `fencing`: and refuses
    /// the fills of `args` under way (for a value set, not read). Without a
    /// store yet (no call has probed), keeps nothing: the next call builds
    /// the store and misses.
    pub(crate) fn insert(&self, args: &[u8], value: V, ttl: Tick, ticket: Ticket, fencing: bool) {
        if let Some(keyed) = self.keyed.get() {
            keyed.store.insert(args, value, ttl, ticket, fencing);
        }
    }

    /// Drops the entry for the encoded `args`, and refuses the fills of
    /// `args` under way. Before the store is built, that is a flush.
    pub(crate) fn remove(&self, args: &[u8]) {
        match self.keyed.get() {
            Some(keyed) => keyed.store.remove(args),
            None => self.clear(),
        }
    }

    /// Entries dropped to keep the bounds, and expired ones reclaimed.
    pub(crate) fn evictions(&self) -> (u64, u64) {
        self.keyed
            .get()
            .map_or((0, 0), |keyed| keyed.store.evictions())
    }

    /// Entries held, and their weight (0 without `max_bytes`).
    pub(crate) fn usage(&self) -> (usize, usize) {
        self.keyed.get().map_or((0, 0), |keyed| keyed.store.usage())
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        if let Some(keyed) = self.keyed.get() {
            keyed.store.clear();
            return;
        }
        let mut early = self.early_epoch.lock().unwrap_or_else(|e| e.into_inner());
        match self.keyed.get() {
            Some(keyed) => keyed.store.clear(),
            None => *early += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::with_encoded;

    const TTL: Tick = 1 << 40;

    fn encoded<A: serde::Serialize>(args: &A) -> Vec<u8> {
        with_encoded(args, |bytes| bytes.unwrap().to_vec())
    }

    /// Keyed by value, L1 is probed with the arguments and reached by
    /// their encoding everywhere else: both name the same entries.
    #[test]
    fn by_value_and_by_encoding_name_the_same_entries() {
        let local = Local::<String>::new(100, None);
        let (id, name) = (7u64, "ada");
        let args = (&id, &name);
        assert_eq!(local.get_typed(&args), None, "the first probe builds");
        let bytes = encoded(&args);
        local.insert(&bytes, "v".into(), TTL, local.ticket(), false);
        assert_eq!(local.get_typed(&args).as_deref(), Some("v"));
        assert_eq!(local.get(&bytes).as_deref(), Some("v"));
        let other = (&id, &"bob");
        assert_eq!(local.get_typed(&other), None);
        local.insert(&encoded(&other), "w".into(), TTL, local.ticket(), false);
        local.remove(&bytes);
        assert_eq!(local.get_typed(&args), None);
        assert_eq!(local.get_typed(&other).as_deref(), Some("w"));
        // Bytes of another type name no entry, and drop none.
        local.remove(&encoded(&(1u8,)));
        assert_eq!(local.get_typed(&other).as_deref(), Some("w"));
        local.clear();
        assert_eq!(local.get_typed(&other), None);
    }

    /// The store's key type is checked on every probe: a probe with another
    /// (which generated code never makes) misses, and is never served an
    /// entry of the first.
    #[test]
    fn a_probe_of_another_key_type_is_served_nothing() {
        let local = Local::<u64>::new(100, None);
        assert_eq!(local.get_typed(&(&1u64,)), None);
        local.insert(&encoded(&(1u64,)), 10, TTL, local.ticket(), false);
        assert_eq!(local.get_typed(&(&1u64,)), Some(10));
        assert_eq!(local.get_typed(&(&1i64,)), None);
        assert_eq!(local.get_encoded(&encoded(&(1u64,))), None);
        let keyed = local.keyed.get().unwrap();
        assert!(keyed.store::<(u64,)>().is_some());
        assert!(keyed.store::<(i64,)>().is_none());
        assert!(keyed.store::<ArgsKey>().is_none());

        let encoded_first = Local::<u64>::new(100, None);
        let bytes = encoded(&(1u64,));
        assert_eq!(encoded_first.get_encoded(&bytes), None);
        encoded_first.insert(&bytes, 10, TTL, encoded_first.ticket(), false);
        assert_eq!(encoded_first.get_encoded(&bytes), Some(10));
        assert_eq!(encoded_first.get_typed(&(&1u64,)), None);
    }

    /// A flush before any probe has no store to clear; the store, built
    /// later, starts past it, so a value computed across it is dropped.
    #[test]
    fn flushes_before_the_store_is_built_still_drop_values_computed_across_them() {
        let local = Local::<u64>::new(100, None);
        let ticket = local.ticket();
        local.clear();
        let bytes = encoded(&(5u64,));
        local.insert(&bytes, 1, TTL, ticket, false);
        assert_eq!(local.get_typed(&(&5u64,)), None);
        local.insert(&bytes, 1, TTL, ticket, false);
        assert_eq!(local.get_typed(&(&5u64,)), None, "computed across a flush");
        local.insert(&bytes, 2, TTL, local.ticket(), false);
        assert_eq!(local.get_typed(&(&5u64,)), Some(2));
    }
}
