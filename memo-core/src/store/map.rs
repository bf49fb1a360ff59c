//! The concurrent map under a [`Store`](super::Store): papaya or a
//! `DashMap`, behind one small interface.

use std::borrow::Borrow;
use std::hash::Hash;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use papaya::{Compute, Operation};

use super::{Hasher, Slot};

/// The map under a [`Store`]: papaya for the caches that live as long as
/// the process (reads without read-modify-writes), a `DashMap` for the small
/// per-instance ones (a fraction of papaya's fixed cost per map).
pub(super) enum Map<K, V> {
    Lockfree(papaya::HashMap<K, Slot<V>, Hasher>),
    Sharded(DashMap<K, Slot<V>, Hasher>),
}

/// What [`Map::put_unless_live`] did.
pub(super) enum Put<V> {
    /// Stored under a new key; the slot's sequence number.
    Added(u64),
    /// Stored over a dead slot; the new slot's sequence number and the old
    /// one's weight.
    Replaced(u64, u32),
    /// Left the live value there, a clone of which this is.
    Live(V),
}

impl<K: Hash + Eq, V> Map<K, V> {
    /// `f` of the slot under `key`, read in place.
    #[inline]
    pub(super) fn read<Q, R>(&self, key: &Q, f: impl FnOnce(&Slot<V>) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self {
            Map::Lockfree(map) => map.pin().get(key).map(f),
            Map::Sharded(map) => map.get(key).map(|slot| f(&slot)),
        }
    }

    /// Stores `slot`; the weight of the slot it replaced (`None`: the key
    /// is new).
    pub(super) fn insert(&self, key: K, slot: Slot<V>) -> Option<u32> {
        match self {
            Map::Lockfree(map) => map.pin().insert(key, slot).map(|old| old.weight),
            Map::Sharded(map) => map.insert(key, slot).map(|old| old.weight),
        }
    }

    /// Stores `make()` under `key` unless `live` finds the slot there alive,
    /// atomically per key. `make` may be called more than once (papaya
    /// retries when the entry changes under it); one slot is stored.
    pub(super) fn put_unless_live(
        &self,
        key: K,
        live: impl Fn(&Slot<V>) -> Option<V>,
        make: impl Fn() -> Slot<V>,
    ) -> Put<V> {
        match self {
            Map::Lockfree(map) => {
                let pinned = map.pin();
                let computed =
                    pinned.compute(key, |held| match held.and_then(|(_, slot)| live(slot)) {
                        Some(value) => Operation::Abort(value),
                        None => Operation::Insert(make()),
                    });
                match computed {
                    Compute::Inserted(_, slot) => Put::Added(slot.seq),
                    Compute::Updated {
                        old: (_, old),
                        new: (_, slot),
                    } => Put::Replaced(slot.seq, old.weight),
                    Compute::Aborted(value) => Put::Live(value),
                    Compute::Removed(..) => unreachable!("the closure never removes"),
                }
            }
            Map::Sharded(map) => match map.entry(key) {
                Entry::Occupied(mut held) => {
                    if let Some(value) = live(held.get()) {
                        return Put::Live(value);
                    }
                    let slot = make();
                    let seq = slot.seq;
                    let old = held.insert(slot);
                    Put::Replaced(seq, old.weight)
                }
                Entry::Vacant(free) => {
                    let slot = make();
                    let seq = slot.seq;
                    free.insert(slot);
                    Put::Added(seq)
                }
            },
        }
    }

    /// Drops the slot under `key` if `matches` it; the weight of the slot
    /// it dropped.
    pub(super) fn remove_if<Q>(&self, key: &Q, matches: impl Fn(&Slot<V>) -> bool) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self {
            Map::Lockfree(map) => match map.pin().remove_if(key, |_, slot| matches(slot)) {
                Ok(Some((_, slot))) => Some(slot.weight),
                _ => None,
            },
            Map::Sharded(map) => map
                .remove_if(key, |_, slot| matches(slot))
                .map(|(_, slot)| slot.weight),
        }
    }

    /// Keeps the slots `keep` says to.
    pub(super) fn retain(&self, mut keep: impl FnMut(&Slot<V>) -> bool) {
        match self {
            Map::Lockfree(map) => map.pin().retain(|_, slot| keep(slot)),
            Map::Sharded(map) => map.retain(|_, slot| keep(slot)),
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        match self {
            Map::Lockfree(map) => map.len(),
            Map::Sharded(map) => map.len(),
        }
    }
}
