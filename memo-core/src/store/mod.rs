//! The in-process map behind every local tier: `#[memoized]` caches, the L1
//! of `#[quickcache]` and the embedded [`MemoryBackend`](crate::MemoryBackend).
//!
//! A lock-free hash map ([`papaya`]) of slots, each with a deadline on the
//! coarse clock, plus a ring of keys in insertion order (kept only when
//! something needs it: a bound or a TTL). It keeps two promises, in O(1)
//! amortised per insert:
//! - **`max_entries` holds, keeping the entries worth keeping.** Over the
//!   bound, an insert evicts with S3-FIFO (Yang et al., "FIFO queues are
//!   all you need for cache eviction", SOSP 2023): new keys enter a small
//!   queue (2% of the bound); the oldest there moves to the main queue if
//!   it was read, or is evicted and its hash remembered in a ghost queue
//!   (as many hashes as the bound), and a remembered key that comes back
//!   goes to the main queue. The main queue evicts its oldest unread entry,
//!   sparing a read one with one read less (up to 3). No list to reorder on
//!   a hit: a hit on a bounded map bumps a small counter, and only while it
//!   is below 3. `benches/src/bin/hitratio.rs` measured it against moka and
//!   quick_cache at equal capacity (`benches/RESULTS.md`); CLOCK, before,
//!   trailed both on every stream but one.
//! - **Expired entries are reclaimed.** An expired slot is never served; each
//!   insert also drops up to two expired keys from the front of the ring
//!   (with one TTL per map, the front is the next to expire).
//!
//! Invalidation is O(1) for readers: every slot carries the map's epoch at the
//! time its value was computed; [`Store::clear`] bumps the epoch (slots of an
//! older epoch are never served, even ones inserted by a computation that
//! raced with the clear) and then drops the slots: at once when the map is
//! small, in one sweep at the next insert when it is large.
//!
//! Per-key invalidations ([`Store::remove`], [`Store::insert_fencing`]) fence
//! the fills of that key already under way: a fill takes a [`Ticket`] before
//! it reads its source, and its insert is refused when a removal of its key
//! (or of any key, once more than `FENCES_KEPT` happened meanwhile) came
//! after the ticket. The check and the insert happen under the ring's lock,
//! which removals take too, so no removal falls between them. This costs a
//! miss one uncontended lock and a hash; a hit nothing.
//!
//! # Why papaya and not a sharded lock
//!
//! A hit must not write to memory other threads read. A sharded `RwLock`
//! map (`DashMap`, quick_cache, a `Mutex<HashMap>`) takes and releases a
//! shard lock on every read: two atomic read-modify-writes on a cache line
//! that every thread reading that shard bounces between cores. papaya reads
//! with plain loads under an epoch guard (seize, with asymmetric fences on
//! Linux), so two threads hitting the same hot keys run in parallel: 4-5x
//! faster than `DashMap` on the two-thread hot-key bench, level with it on
//! one thread (`benches/RESULTS.md`). What it costs: an insert allocates the
//! entry, a removed value is freed once no reader can still see it (seize
//! batches of retired entries) rather than at once, and each map has a
//! fixed ~18 KB (its collector's per-thread slots). So caches of which there
//! may be one per object (per-instance `#[memoized]` methods) stay on a
//! `DashMap` ([`Store::per_instance`]). papaya's `shared_collector` would
//! remove the fixed cost, but papaya 0.2.5 calls `reclaim_all` on the
//! collector when a map drops, which seize documents as sound only when no
//! other thread uses the collector: not usable for maps that come and go.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;

use dashmap::DashMap;

use crate::clock::{self, Tick, NEVER};

mod map;
mod ring;

use map::{Map, Put};
use ring::Ring;

type Hasher = foldhash::fast::RandomState;

/// Largest map that [`Store::clear`] empties at once.
const EAGER_CLEAR: usize = 1024;
/// The highest frequency a slot counts to (S3-FIFO's two bits).
const MAX_FREQ: u8 = 3;
/// The small queue's share of a bounded map: one entry in fifty. Measured
/// on `benches/src/bin/hitratio.rs` at 1/10, 1/20, 1/33, 1/50 and 1/100: the
/// loop over 1.2x the capacity wants it small (0.55 at 1/10, 0.70 at 1/50),
/// the Zipf streams do not mind.
const SMALL_SHARE: usize = 50;
/// How many evicted keys the ghost queue remembers, in percent of the
/// map's bound.
const GHOST_SHARE: usize = 100;
/// Expired keys dropped from the front of the ring per insert, at most.
const RECLAIM_PER_INSERT: usize = 2;
/// Per-key removals remembered for fills under way; a fill that spans more
/// is refused whatever its key.
const FENCES_KEPT: usize = 64;

/// What a fill read before it computed: the map's epoch and how many
/// per-key removals had happened. [`Store::insert`] refuses a value whose
/// ticket a later [`Store::clear`] or removal of its key invalidated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ticket {
    epoch: u64,
    fence: u64,
}

impl Ticket {
    /// The ticket of a map not built yet, which will start at `epoch`
    /// ([`Store::new_at`]).
    pub(crate) fn at(epoch: u64) -> Self {
        Ticket { epoch, fence: 0 }
    }
}

/// How many bytes an entry holds, for a `max_bytes` bound.
pub(crate) type Weigher<K, V> = Box<dyn Fn(&K, &V) -> usize + Send + Sync>;

pub(crate) struct Store<K, V> {
    map: Map<K, V>,
    len: AtomicUsize,
    max_entries: usize,
    /// The sum of the slots' weights, and its bound (`usize::MAX`: none).
    weight: AtomicUsize,
    max_weight: usize,
    weigher: Option<Weigher<K, V>>,
    /// Slots dropped to keep a bound, and expired slots reclaimed.
    evicted: AtomicU64,
    expired: AtomicU64,
    epoch: AtomicU64,
    /// `ring.fence`, readable without the lock (written under it).
    fence: AtomicU64,
    ring: Mutex<Ring<K>>,
    /// Hashes keys for the fences (papaya does not lend its hasher).
    fence_hasher: Hasher,
    next_seq: AtomicU64,
    /// Whether any slot has a TTL (the ring is kept from then on).
    timed: AtomicBool,
    /// Set by a deferred [`Store::clear`]: the next insert sweeps.
    stale: AtomicBool,
    /// `idle_timeout`: a hit moves its entry's deadline to now plus this.
    idle: Option<Tick>,
}

impl<V> Slot<V> {
    #[inline]
    fn expires(&self) -> Tick {
        self.expires.load(Ordering::Relaxed)
    }
}

struct Slot<V> {
    value: V,
    /// The deadline; moved on by a hit under `idle` (at most once per
    /// tick of the coarse clock, so a hot key's line is written rarely).
    expires: AtomicU64,
    epoch: u64,
    seq: u64,
    /// How often it was read since it was inserted or last passed over by
    /// eviction, up to 3 (S3-FIFO's frequency).
    freq: AtomicU8,
    /// What the weigher said of it (0 without one).
    weight: u32,
}

/// What the map holds, for the stats: no bounds, so a key type that
/// lacks a trait is reported once, where the cache is used.
impl<K, V> Store<K, V> {
    /// The sum of the entries' weights (expired ones not yet reclaimed
    /// included).
    pub(crate) fn weight(&self) -> usize {
        self.weight.load(Ordering::Relaxed)
    }

    /// How many entries were dropped to keep a bound, and how many expired
    /// ones were reclaimed, so far.
    pub(crate) fn evictions(&self) -> (u64, u64) {
        (
            self.evicted.load(Ordering::Relaxed),
            self.expired.load(Ordering::Relaxed),
        )
    }

    /// How many entries the map holds, expired ones not yet reclaimed
    /// included.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Store<K, V> {
    /// A map holding at most `max_entries` entries (`None`: unbounded).
    pub(crate) fn new(max_entries: Option<usize>) -> Self {
        Self::with_map(
            // Blocking resizes: a bounded map evicts on every miss, and
            // papaya's incremental copying then ran on almost every insert
            // (a sixth of a miss). A writer that resizes copies the table
            // at once instead; readers never wait.
            Map::Lockfree(
                papaya::HashMap::builder()
                    .hasher(Hasher::default())
                    .resize_mode(papaya::ResizeMode::Blocking)
                    .build(),
            ),
            max_entries,
        )
    }

    /// [`Store::new`], with its epoch starting at `epoch`: a map built after
    /// flushes of the cache it serves, so values computed before those
    /// flushes (which read the earlier epochs) are not stored.
    pub(crate) fn new_at(max_entries: Option<usize>, epoch: u64) -> Self {
        let store = Self::new(max_entries);
        store.epoch.store(epoch, Ordering::Release);
        store
    }

    /// A map for caches that many objects each hold (per-instance
    /// `#[memoized]` methods): on a `DashMap`, ~1 KB when small, where an
    /// empty papaya map costs ~18 KB (its epoch collector's per-thread
    /// slots).
    pub(crate) fn per_instance(max_entries: Option<usize>) -> Self {
        Self::with_map(
            Map::Sharded(DashMap::with_hasher(Hasher::default())),
            max_entries,
        )
    }

    fn with_map(map: Map<K, V>, max_entries: Option<usize>) -> Self {
        Store {
            map,
            len: AtomicUsize::new(0),
            max_entries: max_entries.unwrap_or(usize::MAX).max(1),
            weight: AtomicUsize::new(0),
            max_weight: usize::MAX,
            weigher: None,
            evicted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            fence: AtomicU64::new(0),
            ring: Mutex::new(Ring {
                records: VecDeque::new(),
                main: VecDeque::new(),
                ghost: VecDeque::new(),
                ghosts: Vec::new(),
                fence: 0,
                fences: VecDeque::new(),
            }),
            fence_hasher: Hasher::default(),
            next_seq: AtomicU64::new(0),
            timed: AtomicBool::new(false),
            stale: AtomicBool::new(false),
            idle: None,
        }
    }

    /// Entries expire `idle` ticks after they were last read (or stored):
    /// each hit moves the deadline of its entry (`idle_timeout`), and
    /// inserts pass over the live entries at the front of the queues to
    /// reclaim the idle ones behind them. Entries are to be stored with a
    /// TTL of `idle`.
    pub(crate) fn idle(mut self, idle: Tick) -> Self {
        self.idle = Some(idle);
        self
    }

    /// Bounds the map by weight too: at most `max_bytes` in all, as
    /// `weigher` weighs each entry when it is stored. An entry heavier than
    /// the whole bound is not stored.
    pub(crate) fn weighed(mut self, max_bytes: usize, weigher: Weigher<K, V>) -> Self {
        self.max_weight = max_bytes.max(1);
        self.weigher = Some(weigher);
        self
    }

    fn bounded(&self) -> bool {
        self.max_entries != usize::MAX || self.max_weight != usize::MAX
    }

    /// Whether the map holds more than a bound allows.
    fn over_bound(&self) -> bool {
        self.len() > self.max_entries || self.weight() > self.max_weight
    }

    /// The size the bounds are shared out by: the entry bound, or the
    /// entries held when only weight bounds the map.
    fn capacity(&self) -> usize {
        self.max_entries.min(self.len()).max(1)
    }

    /// The time, for an insert of a slot living `ttl`: read from the clock
    /// only if a deadline is set or compared (a map with no TTL has slots
    /// that never expire, to which any time is the same).
    fn now(&self, ttl: Option<Tick>) -> Tick {
        if ttl.is_some() || self.timed.load(Ordering::Relaxed) {
            clock::now()
        } else {
            0
        }
    }

    fn weigh(&self, key: &K, value: &V) -> u32 {
        self.weigher.as_ref().map_or(0, |weigh| {
            u32::try_from(weigh(key, value)).unwrap_or(u32::MAX)
        })
    }

    /// Accounts for a slot of `weight` gone from the map.
    fn forget(&self, weight: u32) {
        self.len.fetch_sub(1, Ordering::Relaxed);
        if weight != 0 {
            self.weight.fetch_sub(weight as usize, Ordering::Relaxed);
        }
    }

    /// Whether inserts keep the ring (for eviction or expiry).
    fn ringed(&self) -> bool {
        self.bounded() || self.timed.load(Ordering::Relaxed)
    }

    /// The current epoch.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Take it before reading what a value is computed from, and pass it to
    /// [`Store::insert`]: a value computed across a [`Store::clear`], or
    /// across a removal of its key, is then never stored.
    #[inline]
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket {
            epoch: self.epoch(),
            fence: self.fence.load(Ordering::Acquire),
        }
    }

    fn lock_ring(&self) -> std::sync::MutexGuard<'_, Ring<K>> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        use std::hash::BuildHasher;
        self.fence_hasher.hash_one(key)
    }

    /// A clone of the live value under `key`.
    #[inline]
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match &self.map {
            Map::Lockfree(map) => {
                let map = map.pin();
                self.serve(map.get(key)?)
            }
            Map::Sharded(map) => self.serve(&*map.get(key)?),
        }
    }

    /// [`Store::get`] by a key that compares with `K` without being one
    /// (papaya's `Equivalent`): encoded arguments compared without a call
    /// to `memcmp` ([`ArgsRef`](crate::key::ArgsRef)), or arguments
    /// compared with an owned copy where they are (`key::typed`), as L1 is
    /// probed on a hit. `owned` makes the key for a map that cannot probe
    /// so (a `DashMap`).
    #[inline]
    pub(crate) fn get_equivalent<Q>(&self, key: &Q, owned: impl FnOnce() -> K) -> Option<V>
    where
        Q: Hash + papaya::Equivalent<K> + ?Sized,
    {
        match &self.map {
            Map::Lockfree(map) => {
                let map = map.pin();
                self.serve(map.get(key)?)
            }
            Map::Sharded(map) => self.serve(&*map.get(&owned())?),
        }
    }

    /// A clone of `slot`'s value if it is live. The clone is the last step
    /// and `get` returns it as is: a value copied again after its clone
    /// stalls on reloading the clone's fresh stores.
    #[inline]
    fn serve(&self, slot: &Slot<V>) -> Option<V> {
        let expires = slot.expires();
        if slot.epoch != self.epoch() {
            return None;
        }
        if expires != NEVER {
            let now = clock::recent();
            if now >= expires {
                return None;
            }
            if let Some(idle) = self.idle {
                let renewed = now.saturating_add(idle);
                if renewed > expires {
                    slot.expires.store(renewed, Ordering::Relaxed);
                }
            }
        }
        // Written once per insert or spare, not per hit: a hot key's slot
        // stays a line every core can hold shared.
        if self.bounded() {
            let freq = slot.freq.load(Ordering::Relaxed);
            if freq < MAX_FREQ {
                slot.freq.store(freq + 1, Ordering::Relaxed);
            }
        }
        Some(slot.value.clone())
    }

    fn slot(&self, value: V, weight: u32, ttl: Option<Tick>, epoch: u64, now: Tick) -> Slot<V> {
        if ttl.is_some() && !self.timed.load(Ordering::Relaxed) {
            self.timed.store(true, Ordering::Relaxed);
        }
        Slot {
            value,
            expires: AtomicU64::new(ttl.map_or(NEVER, |ttl| now.saturating_add(ttl))),
            epoch,
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            freq: AtomicU8::new(0),
            weight,
        }
    }

    /// Stores `value` under `key` for `ttl` ticks (`None`: until evicted),
    /// unless the map was cleared, or `key` removed, since `ticket` was
    /// taken. Says whether it stored it.
    pub(crate) fn insert(&self, key: K, value: V, ttl: Option<Tick>, ticket: Ticket) -> bool {
        self.put(key, value, ttl, ticket, false)
    }

    /// [`Store::insert`], and a fence for `key`: fills of `key` that took
    /// their ticket before this are refused, as after a removal. For a value
    /// that supersedes whatever is being computed (a `set`, a `refresh`).
    pub(crate) fn insert_fencing(
        &self,
        key: K,
        value: V,
        ttl: Option<Tick>,
        ticket: Ticket,
    ) -> bool {
        self.put(key, value, ttl, ticket, true)
    }

    /// Stores `value` under `key` for `ttl` ticks, whatever happened before:
    /// a write, not a fill (the embedded backend's `SET`).
    pub(crate) fn set(&self, key: K, value: V, ttl: Option<Tick>) {
        self.put(key, value, ttl, None, false);
    }

    /// Stores `value` under `key` for `ttl` ticks if `holds` says yes to the
    /// live value there (`None`: none), atomically with respect to every
    /// other write of the map but `insert_if_absent`: a compare-and-set.
    /// Says whether it stored.
    pub(crate) fn set_if(
        &self,
        key: K,
        holds: impl FnOnce(Option<&V>) -> bool,
        value: V,
        ttl: Option<Tick>,
    ) -> bool {
        let mut ring = self.lock_ring();
        let epoch = self.epoch();
        let now = clock::now();
        let live = self
            .map
            .read(&key, |slot| {
                (slot.epoch == epoch && (slot.expires() == NEVER || slot.expires() > now))
                    .then(|| slot.value.clone())
            })
            .flatten();
        if !holds(live.as_ref()) {
            return false;
        }
        self.put_locked(&mut ring, key, value, ttl, epoch);
        true
    }

    /// Stores the value unless `ticket` (`None`: any) was invalidated;
    /// `fencing`: and invalidates the tickets of `key` taken before.
    fn put(
        &self,
        key: K,
        value: V,
        ttl: Option<Tick>,
        ticket: impl Into<Option<Ticket>>,
        fencing: bool,
    ) -> bool {
        let ticket = ticket.into();
        if ticket.is_some_and(|ticket| ticket.epoch != self.epoch()) {
            return false;
        }
        let hash = self.hash(&key);
        let mut ring = self.lock_ring();
        let admitted = ticket.is_none_or(|ticket| ring.admits(hash, ticket.fence));
        if fencing {
            ring.fence(hash);
            self.fence.store(ring.fence, Ordering::Release);
        }
        if !admitted {
            return false;
        }
        let epoch = ticket.map_or_else(|| self.epoch(), |ticket| ticket.epoch);
        self.put_locked(&mut ring, key, value, ttl, epoch);
        true
    }

    fn put_locked(&self, ring: &mut Ring<K>, key: K, value: V, ttl: Option<Tick>, epoch: u64) {
        let weight = self.weigh(&key, &value);
        if weight as usize > self.max_weight {
            // Too heavy to keep, but it supersedes what the key held.
            if let Some(old) = self.map.remove_if(&key, |_| true) {
                self.forget(old);
            }
            return;
        }
        let slot = self.slot(value, weight, ttl, epoch, self.now(ttl));
        let seq = slot.seq;
        let record = self.ringed().then(|| key.clone());
        let replaced = self.map.insert(key, slot);
        self.inserted(ring, replaced, weight, record.map(|key| (key, seq)));
    }

    /// Stores `value` under `key` for `ttl` ticks unless a live value is
    /// there, which it returns instead: create-if-absent, atomic per key.
    pub(crate) fn insert_if_absent(&self, key: K, value: V, ttl: Option<Tick>) -> Result<(), V> {
        let epoch = self.epoch();
        let now = self.now(ttl);
        let record = self.ringed().then(|| key.clone());
        let weight = self.weigh(&key, &value);
        let put = self.map.put_unless_live(
            key,
            |held| (held.expires() > now && held.epoch == epoch).then(|| held.value.clone()),
            || self.slot(value.clone(), weight, ttl, epoch, now),
        );
        let (replaced, seq) = match put {
            Put::Added(seq) => (None, seq),
            Put::Replaced(seq, old) => (Some(old), seq),
            Put::Live(live) => return Err(live),
        };
        let record = record.map(|key| (key, seq));
        self.inserted(&mut self.lock_ring(), replaced, weight, record);
        Ok(())
    }

    /// Accounts for an insert (`added`: of a new key), records it in the
    /// ring, and keeps the promises: the bound, and expired keys reclaimed.
    /// The new record joins the ring after the hand has moved, so an insert
    /// never evicts the entry it inserts.
    fn inserted(
        &self,
        ring: &mut Ring<K>,
        replaced: Option<u32>,
        weight: u32,
        record: Option<(K, u64)>,
    ) {
        let added = replaced.is_none();
        if added {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        if self.weigher.is_some() {
            self.weight.fetch_add(weight as usize, Ordering::Relaxed);
            self.weight
                .fetch_sub(replaced.unwrap_or(0) as usize, Ordering::Relaxed);
        }
        if self.stale.load(Ordering::Relaxed) && self.stale.swap(false, Ordering::AcqRel) {
            self.sweep_locked(ring);
        }
        let Some(record) = record else {
            return;
        };
        let now = self.now(None);
        if self.timed.load(Ordering::Relaxed) {
            for _ in 0..RECLAIM_PER_INSERT {
                if !self.drop_front_if_dead(&mut ring.records, now)
                    && !self.drop_front_if_dead(&mut ring.main, now)
                {
                    break;
                }
            }
        }
        while self.over_bound() && !(ring.records.is_empty() && ring.main.is_empty()) {
            self.evict_one(ring, now);
        }
        // New keys start in the small queue, but those the ghost queue
        // remembers (evicted unread not long ago) and those written again,
        // which go to the main queue.
        let to_main = self.bounded() && (!added || ring.forget_ghost(self.hash(&record.0)));
        if to_main {
            ring.main.push_back(record);
        } else {
            ring.records.push_back(record);
        }
        // Records of replaced or removed slots pile up where nothing evicts
        // (an unbounded map): compact when they outnumber the live ones.
        if ring.records.len() + ring.main.len() > 2 * self.len().max(512) {
            self.compact(&mut ring.records);
            self.compact(&mut ring.main);
        }
    }

    /// Drops the ring records whose slot is gone or was replaced.
    fn compact(&self, ring: &mut VecDeque<(K, u64)>) {
        ring.retain(|(key, seq)| self.map.read(key, |slot| slot.seq == *seq) == Some(true));
    }

    /// Pops the front record if its slot is gone, replaced, expired or of an
    /// old epoch (removing the slot); says whether it did. Under `idle`, a
    /// live front goes to the back instead (hits moved its deadline past
    /// those behind it), which counts as done too: the callers bound how
    /// many records one insert passes over.
    fn drop_front_if_dead(&self, ring: &mut VecDeque<(K, u64)>, now: Tick) -> bool {
        let Some((key, seq)) = ring.front() else {
            return false;
        };
        let epoch = self.epoch();
        let dead = self
            .map
            .read(key, |slot| {
                slot.seq != *seq || slot.expires() <= now || slot.epoch != epoch
            })
            .unwrap_or(true);
        if dead {
            if let Some((key, seq)) = ring.pop_front() {
                if self.remove_if_seq(&key, seq) {
                    self.expired.fetch_add(1, Ordering::Relaxed);
                }
            }
        } else if self.idle.is_some() && ring.len() > 1 {
            ring.rotate_left(1);
            return true;
        }
        dead
    }

    /// One step of S3-FIFO eviction (Yang et al., SOSP 2023): from the
    /// small queue while it holds more than its share, else from the main
    /// one. Says whether a slot was evicted.
    fn evict_one(&self, ring: &mut Ring<K>, now: Tick) -> bool {
        let small_share = (self.capacity() / SMALL_SHARE).max(1);
        if ring.records.len() > small_share || ring.main.is_empty() {
            self.evict_small(ring, now)
        } else {
            self.evict_main(ring, now)
        }
    }

    /// The small queue's oldest: read since it came, it moves to the main
    /// queue; unread, it is evicted and its hash remembered in the ghost
    /// queue (a key that comes back soon goes to the main queue then).
    fn evict_small(&self, ring: &mut Ring<K>, now: Tick) -> bool {
        let Some((key, seq)) = ring.records.pop_front() else {
            return false;
        };
        match self.evict_or_judge(&key, seq, now) {
            Verdict::Gone => false,
            Verdict::Dead => true,
            Verdict::Read => {
                ring.main.push_back((key, seq));
                false
            }
            Verdict::Unread => {
                let ghost_share = self.capacity() * GHOST_SHARE / 100;
                ring.remember_ghost(self.hash(&key), ghost_share.max(1));
                true
            }
        }
    }

    /// The main queue's oldest: read since it was last passed over, it
    /// goes round again with one read less; unread, it is evicted.
    fn evict_main(&self, ring: &mut Ring<K>, now: Tick) -> bool {
        let Some((key, seq)) = ring.main.pop_front() else {
            return false;
        };
        match self.evict_or_judge(&key, seq, now) {
            Verdict::Gone => false,
            Verdict::Dead | Verdict::Unread => true,
            Verdict::Read => {
                ring.main.push_back((key, seq));
                false
            }
        }
    }

    /// Evicts the slot a record names if it is dead or unread, in one probe
    /// (the usual case under eviction); otherwise looks again to tell a
    /// stale record from a read slot, whose count goes down by one.
    /// `Dead` and `Unread` mean the slot was removed.
    fn evict_or_judge(&self, key: &K, seq: u64, now: Tick) -> Verdict {
        let epoch = self.epoch();
        let dead = std::cell::Cell::new(false);
        let evicted = self.map.remove_if(key, |slot| {
            if slot.seq != seq {
                return false;
            }
            dead.set(slot.expires() <= now || slot.epoch != epoch);
            dead.get() || slot.freq.load(Ordering::Relaxed) == 0
        });
        if let Some(weight) = evicted {
            self.forget(weight);
            let (verdict, count) = if dead.get() {
                (Verdict::Dead, &self.expired)
            } else {
                (Verdict::Unread, &self.evicted)
            };
            count.fetch_add(1, Ordering::Relaxed);
            return verdict;
        }
        self.map
            .read(key, |slot| {
                if slot.seq != seq {
                    return Verdict::Gone;
                }
                let freq = slot.freq.load(Ordering::Relaxed);
                slot.freq.store(freq.saturating_sub(1), Ordering::Relaxed);
                Verdict::Read
            })
            .unwrap_or(Verdict::Gone)
    }

    fn remove_if_seq(&self, key: &K, seq: u64) -> bool {
        let removed = self.map.remove_if(key, |slot| slot.seq == seq);
        removed.map(|weight| self.forget(weight)).is_some()
    }

    /// Drops the entry under `key` if `matches` its value; says whether it
    /// did.
    pub(crate) fn remove_if<Q>(&self, key: &Q, matches: impl Fn(&V) -> bool) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let removed = self.map.remove_if(key, |slot| matches(&slot.value));
        removed.map(|weight| self.forget(weight)).is_some()
    }

    /// Drops the entry under `key`, if any, and fences the fills of `key`
    /// under way: none of them stores its value (see [`Store::ticket`]).
    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut ring = self.lock_ring();
        ring.fence(hash);
        self.fence.store(ring.fence, Ordering::Release);
        if let Some(weight) = self.map.remove_if(key, |_| true) {
            self.forget(weight);
        }
    }

    /// Drops every entry, in O(1) for readers: the epoch moves on, so no slot
    /// of the old one is served again. A small map is emptied at once; a
    /// large one by one sweep at the next insert, so `clear` costs the same
    /// whatever the size. Values being computed while this runs are not
    /// stored (see [`Store::epoch`]).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if self.len() <= EAGER_CLEAR {
            self.sweep();
        } else {
            self.stale.store(true, Ordering::Release);
        }
    }

    /// Drops every slot of an old epoch, and their ring records.
    fn sweep(&self) {
        self.sweep_locked(&mut self.lock_ring());
    }

    fn sweep_locked(&self, ring: &mut Ring<K>) {
        let epoch = self.epoch();
        let (mut removed, mut weight) = (0, 0);
        self.map.retain(|slot| {
            let kept = slot.epoch == epoch;
            if !kept {
                removed += 1;
                weight += slot.weight as usize;
            }
            kept
        });
        self.len.fetch_sub(removed, Ordering::Relaxed);
        self.weight.fetch_sub(weight, Ordering::Relaxed);
        self.compact(&mut ring.records);
        self.compact(&mut ring.main);
    }
}

/// What eviction finds in the slot a record names.
enum Verdict {
    /// Replaced or removed since: the record is stale.
    Gone,
    /// Expired, or of an old epoch.
    Dead,
    /// Read since it was last looked at.
    Read,
    Unread,
}

#[cfg(test)]
mod tests;
