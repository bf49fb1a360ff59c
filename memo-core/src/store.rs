//! The in-process map behind every local tier: `#[memoized]` caches, the L1
//! of `#[quickcache]` and the embedded [`MemoryBackend`](crate::MemoryBackend).
//!
//! A [`DashMap`] of slots, each with a deadline on the coarse clock. It keeps
//! two promises:
//! - **Expired entries are reclaimed.** An expired slot is never served, and a
//!   sweep removes expired slots once as many inserts have happened as the map
//!   holds entries (amortised O(1) per insert).
//! - **`max_entries` holds.** When an insert takes the map over its bound, a
//!   sweep drops expired slots and then the least recently used ones, down to
//!   7/8 of the bound, so sweeps stay rare. Recency is kept per slot with a
//!   coarse timestamp written at most once per clock tick, so a hit on an
//!   unbounded map writes nothing and a hit on a bounded one rarely does.
//!
//! Invalidation is O(1) for readers: every slot carries the map's epoch at the
//! time its value was computed; [`Store::clear`] bumps the epoch (slots of an
//! older epoch are never served, even ones inserted by a computation that
//! raced with the clear) and then drops the slots.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use crate::clock::{self, Tick, NEVER};

type Hasher = foldhash::fast::RandomState;

/// Slack kept below the bound after an eviction sweep, so that the next one
/// is `max_entries / 8` inserts away.
const EVICT_TO_NUMERATOR: usize = 7;
const EVICT_TO_DENOMINATOR: usize = 8;
/// Largest map that [`Store::clear`] empties at once.
const EAGER_CLEAR: usize = 1024;
/// Fewest inserts between two expiry sweeps.
const MIN_SWEEP_INTERVAL: usize = 1024;

pub(crate) struct Store<K, V> {
    map: DashMap<K, Slot<V>, Hasher>,
    len: AtomicUsize,
    max_entries: usize,
    epoch: AtomicU64,
    inserts_since_sweep: AtomicUsize,
    sweeping: AtomicBool,
}

struct Slot<V> {
    value: V,
    expires: Tick,
    epoch: u64,
    last_used: AtomicU64,
}

impl<K: Hash + Eq, V: Clone> Store<K, V> {
    /// A map holding at most `max_entries` entries (`None`: unbounded).
    pub(crate) fn new(max_entries: Option<usize>) -> Self {
        Store {
            map: DashMap::with_hasher(Hasher::default()),
            len: AtomicUsize::new(0),
            max_entries: max_entries.unwrap_or(usize::MAX).max(1),
            epoch: AtomicU64::new(0),
            inserts_since_sweep: AtomicUsize::new(0),
            sweeping: AtomicBool::new(false),
        }
    }

    fn bounded(&self) -> bool {
        self.max_entries != usize::MAX
    }

    /// The current epoch. Read it before computing a value and pass it to
    /// [`Store::insert`], so a value computed across a [`Store::clear`] is
    /// never served.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// A clone of the live value under `key`.
    #[inline]
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.map.get(key)?;
        if slot.epoch != self.epoch() {
            return None;
        }
        if slot.expires != NEVER || self.bounded() {
            let now = clock::now();
            if now >= slot.expires {
                return None;
            }
            if self.bounded() {
                slot.touch(now);
            }
        }
        // Clone out and drop the guard before the caller does anything else.
        let value = slot.value.clone();
        drop(slot);
        Some(value)
    }

    /// Stores `value` under `key` for `ttl` ticks (`None`: until evicted),
    /// unless the map was cleared since `epoch` was read.
    pub(crate) fn insert(&self, key: K, value: V, ttl: Option<Tick>, epoch: u64) {
        if epoch != self.epoch() {
            return;
        }
        let now = clock::now();
        let slot = Slot {
            value,
            expires: match ttl {
                Some(ttl) => now.saturating_add(ttl),
                None => NEVER,
            },
            epoch,
            last_used: AtomicU64::new(now),
        };
        let added = self.map.insert(key, slot).is_none();
        self.count_insert(added);
    }

    /// Accounts for an insert (`added`: of a new key); sweeps when the map
    /// went over its bound or has had as many inserts as it holds entries
    /// since the last sweep.
    fn count_insert(&self, added: bool) {
        let len = if added {
            self.len.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.len()
        };
        let inserts = self.inserts_since_sweep.fetch_add(1, Ordering::Relaxed) + 1;
        if len > self.max_entries || inserts >= len.max(MIN_SWEEP_INTERVAL) {
            self.sweep();
        }
    }

    /// Stores `value` under `key` for `ttl` ticks unless a live value is
    /// there, which it returns instead: create-if-absent, atomic per key.
    pub(crate) fn insert_if_absent(&self, key: K, value: V, ttl: Option<Tick>) -> Result<(), V> {
        let epoch = self.epoch();
        let now = clock::now();
        let slot = Slot {
            value,
            expires: ttl.map_or(NEVER, |ttl| now.saturating_add(ttl)),
            epoch,
            last_used: AtomicU64::new(now),
        };
        // The entry guard locks a shard: count (and maybe sweep) after it.
        let added = match self.map.entry(key) {
            Entry::Occupied(mut held) => {
                if held.get().expires > now && held.get().epoch == epoch {
                    held.get().touch(now);
                    return Err(held.get().value.clone());
                }
                held.insert(slot);
                false
            }
            Entry::Vacant(free) => {
                free.insert(slot);
                true
            }
        };
        self.count_insert(added);
        Ok(())
    }

    /// Drops the entry under `key` if `matches` its value; says whether it
    /// did.
    pub(crate) fn remove_if<Q>(&self, key: &Q, matches: impl FnOnce(&V) -> bool) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = self
            .map
            .remove_if(key, |_, slot| matches(&slot.value))
            .is_some();
        if removed {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }

    /// Drops the entry under `key`, if any.
    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.map.remove(key).is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Drops every entry, in O(1): the epoch moves on, so no slot of the
    /// old one is served again. A small map is emptied at once; a large one
    /// is reclaimed by the sweep that the next insert runs, so `clear` costs
    /// the same whatever the size. Values being computed while this runs are
    /// not stored (see [`Store::epoch`]).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if self.len() <= EAGER_CLEAR {
            self.retain(|_| false);
        } else {
            self.inserts_since_sweep
                .store(usize::MAX / 2, Ordering::Relaxed);
        }
    }

    /// How many entries the map holds, expired ones not yet swept included.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn retain(&self, mut keep: impl FnMut(&Slot<V>) -> bool) {
        let mut removed = 0;
        self.map.retain(|_, slot| {
            let kept = keep(slot);
            removed += usize::from(!kept);
            kept
        });
        self.len.fetch_sub(removed, Ordering::Relaxed);
    }

    /// Drops expired and stale slots, then, if still over the bound, the least
    /// recently used down to 7/8 of it. One sweep at a time; an insert that
    /// finds one running goes on.
    fn sweep(&self) {
        if self.sweeping.swap(true, Ordering::Acquire) {
            return;
        }
        self.inserts_since_sweep.store(0, Ordering::Relaxed);
        let now = clock::now();
        let epoch = self.epoch();
        self.retain(|slot| slot.expires > now && slot.epoch == epoch);

        let len = self.len();
        if len > self.max_entries {
            let target = self.max_entries / EVICT_TO_DENOMINATOR * EVICT_TO_NUMERATOR;
            let mut used: Vec<Tick> = self
                .map
                .iter()
                .map(|slot| slot.last_used.load(Ordering::Relaxed))
                .collect();
            let evict = used.len().saturating_sub(target);
            if evict > 0 {
                let (_, cutoff, _) = used.select_nth_unstable(evict - 1);
                let cutoff = *cutoff;
                let mut budget = evict;
                self.retain(|slot| {
                    if budget > 0 && slot.last_used.load(Ordering::Relaxed) <= cutoff {
                        budget -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
        }
        self.sweeping.store(false, Ordering::Release);
    }
}

impl<V> Slot<V> {
    #[inline]
    fn touch(&self, now: Tick) {
        // Coarse ticks change every few ms; write only when it did, so hot
        // keys read by many threads do not bounce the slot's cache line.
        if self.last_used.load(Ordering::Relaxed) != now {
            self.last_used.store(now, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bound_holds() {
        let store = Store::<u64, u64>::new(Some(100));
        for k in 0..1000 {
            store.insert(k, k, None, store.epoch());
            assert!(store.len() <= 100, "len {} over the bound", store.len());
            assert_eq!(store.map.len(), store.len());
        }
        assert!(store.len() >= 100 * 7 / 8 - 1);
    }

    #[test]
    fn expired_entries_are_not_served_and_are_swept() {
        let store = Store::<u64, u64>::new(None);
        let ttl = clock::ticks(Duration::from_millis(30));
        store.insert(1, 1, Some(ttl), store.epoch());
        assert_eq!(store.get(&1), Some(1));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while store.get(&1).is_some() {
            assert!(std::time::Instant::now() < deadline, "entry never expired");
            std::thread::sleep(Duration::from_millis(5));
        }
        for k in 2..(MIN_SWEEP_INTERVAL as u64 + 2) {
            store.insert(k, k, Some(ttl), store.epoch());
        }
        assert!(store.map.get(&1).is_none(), "expired entry not reclaimed");
    }

    #[test]
    fn clearing_a_large_map_hides_everything_at_once_and_reclaims_later() {
        let store = Store::<u64, u64>::new(None);
        for k in 0..5000 {
            store.insert(k, k, None, store.epoch());
        }
        store.clear();
        assert!((0..5000).all(|k| store.get(&k).is_none()));
        store.insert(1, 1, None, store.epoch());
        assert_eq!(store.len(), 1, "the next insert reclaims the cleared slots");
        assert_eq!(store.get(&1), Some(1));
    }

    #[test]
    fn values_computed_across_a_clear_are_dropped() {
        let store = Store::<u64, u64>::new(None);
        let epoch = store.epoch();
        store.clear();
        store.insert(1, 1, None, epoch);
        assert_eq!(store.get(&1), None);
        assert_eq!(store.len(), 0);
    }
}
