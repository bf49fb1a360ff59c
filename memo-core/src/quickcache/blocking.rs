//! One sync call, top to bottom: [`Cache::probe`] (L1), then, out of line,
//! [`Cache::lookup_beyond_l1`] (single flight, shared tier, dog-pile lock) and
//! [`Lookup::or_compute`] (compute, store, hand over); and the sync
//! companions.

use serde::de::DeserializeOwned;
use serde::Serialize;

use std::time::Instant;

use super::steps;
use super::{spans, tombstone, Cache, Claim, Entry, Joining, Lookup, Prepared};
use crate::backend::Backend;
use crate::codec::Codec;
use crate::flight::Leader;
use crate::key::ArgsKey;
use crate::outcome::Keep;
use crate::registry::{self, CachedFunction};
use crate::store::Ticket;
use crate::{report, Error};

impl<V, C> Cache<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// After [`Cache::probe`] missed: looks `args` up in L1 again (past
    /// the flight) and in the shared tier. On a miss, the returned
    /// [`Lookup`] owns what it needs to store the value, so the caller can
    /// move its arguments into the computation. A sync `#[quickcache]`
    /// function calls it out of line:
    /// `cache.probe(&args)` or else `cache.lookup_beyond_l1(&args).or_compute(move || body(args))`.
    /// The L1 ticket is taken here, before the shared tier is read or the
    /// value computed: a value read or computed across a flush, or a clear
    /// of its entry, is not kept.
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
    /// tier, so only one process computes.
    pub fn lookup_beyond_l1<A>(&self, args: &A) -> Lookup<'_, V, C>
    where
        A: Serialize + ?Sized,
    {
        self.probe_missed();
        let ticket = self.ticket();
        let args = match self.encode_for_miss(args, ticket) {
            Ok(args) => args,
            Err(done) => return done,
        };
        // Single flight: one caller per key goes on, the others wait for it.
        let mut followed = None;
        loop {
            match self.join_step(&args, followed.take(), ticket) {
                Joining::Done(done) => return done,
                Joining::Wait(flight) => {
                    followed = Some(spans::wait(&self.namespace).in_scope(|| flight.wait()));
                }
                Joining::Lead(leader) => return self.lookup_shared(args, ticket, leader),
            }
        }
    }

    /// Shared tier: the steps of `steps::Read` (the generation and the
    /// entry in one round trip; with `lock = true`, a miss takes the
    /// entry's lock, or waits up to `lock_ttl` for the process holding it
    /// to store the value), carried out blocking.
    fn lookup_shared<'c>(
        &'c self,
        args: ArgsKey,
        ticket: Ticket,
        leader: Leader<'c, ArgsKey, V>,
    ) -> Lookup<'c, V, C> {
        let backend = self.backend();
        if backend.blocks() {
            report::blocking_in_runtime(&self.namespace);
        }
        let key = self.entry_key(&args);
        let read_at = Instant::now();
        let span = spans::lookup(&self.namespace);
        let outcome = span.in_scope(|| steps::drive(steps::Read::new(self, &key), &backend));
        spans::found(&span, &outcome);
        self.looked_up(outcome, args, key, backend, read_at, ticket, leader)
    }

    /// Stores a computed value (`steps::Store`), blocking.
    fn store_computed(&self, entry: &mut Entry, value: &V) -> steps::Wrote {
        let Some((backend, store)) = self.store_steps(entry, value) else {
            return steps::Wrote::Nothing;
        };
        steps::drive(store, &backend)
    }

    /// Stores a value set (not computed from a read) under the current
    /// generation, whatever is there.
    fn store(&self, backend: &dyn Backend, key: &str, value: &V) -> Result<(), Error> {
        let generation = backend.generation(&self.generation_key)?;
        let fresh_for = self.entry_ttl();
        let sealed = self.seal(generation, value, fresh_for)?;
        backend.set(key, &sealed, self.kept_for(fresh_for))
    }

    /// The live value for `args`, from L1 or else the shared tier, without
    /// computing or storing anything (`f::get_cached_value`). `None` when
    /// neither holds one, and when the arguments cannot be encoded or the
    /// backend fails (counted and logged).
    pub fn peek<A: Serialize + ?Sized>(&self, args: &A) -> Option<V> {
        let (args, local) = self.peek_local(args)?;
        if local.is_some() {
            return local;
        }
        let backend = self.backend();
        self.peeked(backend.get(&self.generation_key, &self.entry_key(&args)))
    }

    /// The encoded arguments of one call of a `f::get_many` batch; none
    /// when they cannot be encoded (that call computes on its own).
    pub fn encode_args<A: Serialize + ?Sized>(&self, args: &A) -> super::EncodedArgs {
        super::EncodedArgs(super::encode(args).ok())
    }

    /// The first step of `f::get_many`: the live value for each of `args`
    /// (`None`: not asked for), from L1 or else from the shared tier, all
    /// of L1's misses read in one round trip (`Backend::get_many`). Values
    /// found in the shared tier are kept in L1. What is still `None` the
    /// caller computes with a call of the function each, so single flight,
    /// the dog-pile lock and the stores are those of a call; a miss reads
    /// the shared tier again then. Never fails: a backend failure is
    /// counted and logged, and leaves every call to compute.
    pub fn peek_many(&self, args: &[super::EncodedArgs]) -> Vec<Option<V>> {
        let plan = self.plan_many(args);
        if plan.wanted.is_empty() {
            return plan.found;
        }
        let backend = self.backend();
        if backend.blocks() {
            report::blocking_in_runtime(&self.namespace);
        }
        let fetched = backend.get_many(&self.generation_key, &plan.keys());
        self.finish_many(plan, args, fetched)
    }

    /// Drops the entry for `args` from the shared tier (it leaves a
    /// tombstone for `timeout`, so a value read before cannot be stored
    /// over it), then from L1, then tells the other processes to drop
    /// theirs.
    ///
    /// # Errors
    ///
    /// When the key cannot be encoded or the backend fails; the L1 entry is
    /// dropped all the same.
    pub fn clear<A>(&self, args: &A) -> Result<(), Error>
    where
        A: Serialize + ?Sized,
    {
        let args = super::encode(args)?;
        let backend = self.backend();
        let cleared = backend.set(&self.entry_key(&args), &tombstone(), self.timeout);
        self.forget_local(&args);
        registry::changed_here(self, Some(&args));
        cleared?;
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
        let backend = self.backend();
        let renewed = backend.new_generation(&self.generation_key);
        self.flush_local();
        registry::changed_here(self, None);
        renewed?;
        backend.broadcast(&self.namespace, None)
    }
}

impl<V, C> Lookup<'_, V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// The hit, or on a miss: computes the value, stores what `keep` keeps
    /// of it in the shared tier then in L1, releases the dog-pile lock,
    /// hands the value to the flight's followers and returns it. When
    /// nothing is kept (an `Err`, by default), the lock is released and the
    /// followers compute on their own.
    #[inline]
    pub fn or_compute<O, P: Keep<O, Value = V>>(self, keep: P, compute: impl FnOnce() -> O) -> O {
        let mut miss = match self {
            Lookup::Hit(value) => return P::hit(value),
            Lookup::Miss(miss) => *miss,
        };
        let timing = miss.begin();
        let result = timing.span.in_scope(compute);
        let started = miss.timed(timing);
        let kept = keep.kept(&result);
        if kept.is_none() {
            if let Some(stale) = miss.stale_instead() {
                return P::hit(stale);
            }
        }
        if let Some((mut landing, value)) = miss.settle(started, kept) {
            let wrote = landing.cache.store_computed(&mut landing.entry, value);
            landing.cache.stored(wrote);
            landing.land(value);
        }
        result
    }
}

impl<C: Codec + Default> Lookup<'_, (), C> {
    /// `store_result = false`: the hit, or on a miss the claim first (the
    /// marker stored over what the read found, as a computed value is),
    /// and the body only if the claim won. Another process's claim, or a
    /// clear that came first, means the body ran or runs elsewhere; when
    /// the backend fails, the body runs (nothing can say otherwise). The
    /// flight's followers get the marker at once.
    pub fn run_once(self, compute: impl FnOnce()) {
        let mut landing = match self.claim() {
            Claim::Done => return,
            Claim::Run => return compute(),
            Claim::Store(landing) => landing,
        };
        let wrote = landing.cache.store_computed(&mut landing.entry, &());
        landing.land(&());
        if wrote != steps::Wrote::Lost {
            compute();
        }
    }
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
        let ticket = cache.ticket();
        let args = self.args?;
        let backend = cache.backend();
        let told = cache
            .store(&*backend, &cache.entry_key(&args), &value)
            .map(|()| backend.broadcast(&cache.namespace, Some(&args)));
        cache.settle_set(&args, &value, ticket, told)
    }

    /// Computes the value afresh, stores what `keep` keeps of it in every
    /// tier and returns it. Backend failures are counted and logged, not
    /// returned.
    pub fn refresh<O, P: Keep<O, Value = V>>(self, keep: P, compute: impl FnOnce() -> O) -> O {
        let started = self.cache.start();
        let result = compute();
        let cache = self.cache;
        if let Some(value) = cache.worth_keeping(started, keep.kept(&result)) {
            if let Err(error) = self.set(value.clone()) {
                report::backend_failed("refresh", &cache.namespace, &error);
            }
        }
        result
    }
}
