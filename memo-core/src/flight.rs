//! Single-flight: concurrent misses on one key run the computation once.
//!
//! The first caller to miss a key becomes its *leader*; callers that miss the
//! same key while the leader works become *followers* and wait for its value
//! (sync callers park their thread, async callers await without blocking an
//! executor thread). Different keys never wait on each other.
//!
//! If the leader's computation panics (or, for an async caller, its future
//! is dropped), its [`Leader`] guard marks the flight abandoned on drop; the
//! followers wake up and retry, so one of them becomes the next leader and
//! computes. Nothing is poisoned: the next call after a panic computes as if
//! it were the first.
//!
//! An invalidation of a key [`detach`](Flights::detach)es its flight: the
//! followers waiting on it are released to retry (their leader read its
//! source before the invalidation), and callers that come after lead a new
//! flight instead of joining the old one.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use event_listener::{Event, Listener};
use hashbrown::hash_table::{Entry, HashTable};

type Hasher = foldhash::fast::RandomState;

/// The flights in progress of one cache: per key, the followers' meeting
/// point, made by the first follower (an uncontended flight allocates
/// nothing and wakes nobody).
///
/// Sharded tables under plain mutexes, probed with the hash computed once
/// per flight: joining and landing take one lock and hash the key once
/// each. (`DashMap` hashed every key twice, once to pick the shard and once
/// in the shard's table: a quarter of a Redis hit's single-flight cost.)
pub(crate) struct Flights<K, V> {
    hasher: Hasher,
    shards: Box<[Shard<K, V>]>,
    /// Numbers the flights, so a leader lands its own and never one that
    /// started after its own was detached.
    next_id: AtomicU64,
}

/// One shard, on a cache line of its own so that misses on different shards
/// do not contend for one line.
#[repr(align(64))]
struct Shard<K, V>(Mutex<Table<K, V>>);

/// Per key in flight, the flight's number and its followers' meeting point
/// once one joins.
type Table<K, V> = HashTable<(K, u64, Option<Arc<Flight<V>>>)>;

/// Where the followers of one flight wait for its outcome.
pub(crate) struct Flight<V> {
    outcome: Mutex<Outcome<V>>,
    done: Event,
}

enum Outcome<V> {
    Pending,
    Ready(V),
    Abandoned,
    Declined,
}

/// What a follower learns from its flight.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Followed<V> {
    /// The leader's value.
    Value(V),
    /// The leader gave up (a panic, a cancelled future, an invalidation):
    /// join again, and perhaps lead.
    Retry,
    /// The leader's result is not one to cache (an `Err`, say): compute
    /// without a flight, as if uncached.
    Alone,
}

/// What joining a flight made of the caller.
pub(crate) enum Joined<'f, K: Hash + Eq, V> {
    /// Compute, then [`Leader::finish`].
    Leader(Leader<'f, K, V>),
    /// Wait for the leader's value ([`Flight::wait`]).
    Follower(Arc<Flight<V>>),
}

/// The right and duty to compute a key: hand the value to the followers with
/// [`Leader::finish`]; dropped unfinished (a panic, a cancelled future), it
/// releases them to retry.
pub(crate) struct Leader<'f, K: Hash + Eq, V> {
    flights: &'f Flights<K, V>,
    /// The key, its hash and the flight's number; `None` once landed.
    key: Option<(K, u64, u64)>,
}

/// Shards per cache: enough that misses on two cores rarely meet on one
/// lock, few enough that a per-instance cache stays small.
fn shard_count() -> usize {
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(4, usize::from);
        (cores * 2).clamp(4, 64).next_power_of_two()
    })
}

impl<K: Hash + Eq + Clone, V: Clone> Flights<K, V> {
    pub(crate) fn new() -> Self {
        Flights {
            hasher: Hasher::default(),
            shards: (0..shard_count())
                .map(|_| Shard(Mutex::new(HashTable::new())))
                .collect(),
            next_id: AtomicU64::new(0),
        }
    }

    /// Leads the flight for `key`, or follows the one in progress.
    pub(crate) fn join(&self, key: K) -> Joined<'_, K, V> {
        let hash = self.hasher.hash_one(&key);
        let mut table = self.shard(hash);
        let entry = table.entry(
            hash,
            |(held, ..)| *held == key,
            |(held, ..)| self.hasher.hash_one(held),
        );
        match entry {
            Entry::Occupied(mut held) => {
                let flight = held.get_mut().2.get_or_insert_with(|| {
                    Arc::new(Flight {
                        outcome: Mutex::new(Outcome::Pending),
                        done: Event::new(),
                    })
                });
                Joined::Follower(Arc::clone(flight))
            }
            Entry::Vacant(free) => {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                free.insert((key.clone(), id, None));
                Joined::Leader(Leader {
                    flights: self,
                    key: Some((key, hash, id)),
                })
            }
        }
    }
}

impl<K: Hash + Eq, V> Flights<K, V> {
    /// The table of the shard `hash` falls in, locked. Bits of the hash the
    /// table does not use first (it takes the low bits for the bucket and
    /// the top seven for its tags).
    fn shard(&self, hash: u64) -> MutexGuard<'_, Table<K, V>> {
        let index = (hash >> 32) as usize & (self.shards.len() - 1);
        self.shards[index]
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Ends the flight numbered `id` for `key` (only its leader calls
    /// this): removes it, so a new flight may start, then publishes the
    /// outcome to the followers, if any, and wakes them. A flight detached
    /// meanwhile is gone already, and its followers with it.
    fn land(&self, key: &K, hash: u64, id: u64, outcome: impl FnOnce() -> Outcome<V>) {
        let removed = match self
            .shard(hash)
            .find_entry(hash, |(held, held_id, _)| *held_id == id && held == key)
        {
            Ok(entry) => entry.remove().0 .2,
            Err(_) => None,
        };
        if let Some(flight) = removed {
            flight.settle(outcome());
        }
    }

    /// The flight for `key`, if one is in progress, stops taking followers
    /// and releases the ones it has (to retry); its leader's value reaches
    /// only its own caller. For an invalidation of `key`: the leader read
    /// its source before it.
    pub(crate) fn detach<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hasher.hash_one(key);
        let removed = match self
            .shard(hash)
            .find_entry(hash, |(held, ..)| held.borrow() == key)
        {
            Ok(entry) => entry.remove().0 .2,
            Err(_) => None,
        };
        if let Some(flight) = removed {
            flight.settle(Outcome::Abandoned);
        }
    }

    /// [`Flights::detach`] for every key: for an invalidation of them all.
    pub(crate) fn detach_all(&self) {
        for shard in &self.shards {
            let flights: Vec<_> = {
                let mut table = shard.0.lock().unwrap_or_else(|e| e.into_inner());
                table.drain().filter_map(|(_, _, flight)| flight).collect()
            };
            for flight in flights {
                flight.settle(Outcome::Abandoned);
            }
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.shards
            .iter()
            .all(|shard| shard.0.lock().unwrap().is_empty())
    }
}

impl<K: Hash + Eq, V: Clone> Leader<'_, K, V> {
    /// Hands `value` to every follower and ends the flight.
    pub(crate) fn finish(mut self, value: &V) {
        if let Some((key, hash, id)) = self.key.take() {
            self.flights
                .land(&key, hash, id, || Outcome::Ready(value.clone()));
        }
    }
}

impl<K: Hash + Eq, V> Leader<'_, K, V> {
    /// Ends the flight without a value to share (the result is not one to
    /// cache): the followers compute on their own, at once, rather than one
    /// after another.
    pub(crate) fn decline(mut self) {
        if let Some((key, hash, id)) = self.key.take() {
            self.flights.land(&key, hash, id, || Outcome::Declined);
        }
    }
}

impl<K: Hash + Eq, V> Drop for Leader<'_, K, V> {
    fn drop(&mut self) {
        if let Some((key, hash, id)) = self.key.take() {
            self.flights.land(&key, hash, id, || Outcome::Abandoned);
        }
    }
}

impl<V> Flight<V> {
    fn settle(&self, outcome: Outcome<V>) {
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = outcome;
        self.done.notify(usize::MAX);
    }
}

impl<V: Clone> Flight<V> {
    /// The outcome if the leader landed; otherwise a listener registered
    /// before the lock is released, so the leader cannot land unseen in
    /// between.
    fn outcome_or_listen(&self) -> Result<Followed<V>, event_listener::EventListener> {
        let outcome = self.outcome.lock().unwrap_or_else(|e| e.into_inner());
        match &*outcome {
            Outcome::Pending => Err(self.done.listen()),
            Outcome::Ready(value) => Ok(Followed::Value(value.clone())),
            Outcome::Abandoned => Ok(Followed::Retry),
            Outcome::Declined => Ok(Followed::Alone),
        }
    }

    /// Parks until the leader lands.
    pub(crate) fn wait(&self) -> Followed<V> {
        loop {
            match self.outcome_or_listen() {
                Ok(outcome) => return outcome,
                Err(listener) => listener.wait(),
            }
        }
    }

    /// [`Flight::wait`] for async callers: awaits without blocking a thread.
    pub(crate) async fn wait_async(&self) -> Followed<V> {
        loop {
            match self.outcome_or_listen() {
                Ok(outcome) => return outcome,
                Err(listener) => listener.await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn one_leader_many_followers() {
        let flights = Flights::<u32, u32>::new();
        let runs = AtomicUsize::new(0);
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    barrier.wait();
                    match flights.join(1) {
                        Joined::Leader(leader) => {
                            runs.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            leader.finish(&7);
                        }
                        Joined::Follower(flight) => assert_eq!(flight.wait(), Followed::Value(7)),
                    }
                });
            }
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(flights.is_empty());
    }

    #[test]
    fn an_abandoned_flight_releases_followers() {
        let flights = Flights::<u32, u32>::new();
        let Joined::Leader(leader) = flights.join(1) else {
            panic!("first caller leads")
        };
        let Joined::Follower(flight) = flights.join(1) else {
            panic!("second caller follows")
        };
        drop(leader);
        assert_eq!(flight.wait(), Followed::Retry);
        assert!(matches!(flights.join(1), Joined::Leader(_)));

        let Joined::Leader(leader) = flights.join(2) else {
            panic!("first caller leads")
        };
        let Joined::Follower(flight) = flights.join(2) else {
            panic!("second caller follows")
        };
        leader.decline();
        assert_eq!(flight.wait(), Followed::Alone);
    }

    /// After a detach, the old followers retry and new callers lead a flight
    /// of their own, which the old leader's landing leaves alone.
    #[test]
    fn a_detached_flight_takes_no_more_followers() {
        let flights = Flights::<u32, u32>::new();
        let Joined::Leader(old) = flights.join(1) else {
            panic!("first caller leads")
        };
        let Joined::Follower(early) = flights.join(1) else {
            panic!("second caller follows")
        };
        flights.detach(&1);
        assert_eq!(early.wait(), Followed::Retry, "released to retry");
        let Joined::Leader(new) = flights.join(1) else {
            panic!("a caller after the detach leads")
        };
        let Joined::Follower(late) = flights.join(1) else {
            panic!("and is followed")
        };
        old.finish(&1);
        new.finish(&2);
        assert_eq!(late.wait(), Followed::Value(2));
        assert!(flights.is_empty());

        let Joined::Leader(_kept) = flights.join(3) else {
            panic!("leads")
        };
        let Joined::Follower(waiting) = flights.join(3) else {
            panic!("follows")
        };
        flights.detach_all();
        assert_eq!(waiting.wait(), Followed::Retry);
        assert!(flights.is_empty());
    }
}
