//! One async call, top to bottom: [`Cache::lookup_async`] then
//! [`Lookup::or_compute_async`]; and the async companions. The same steps as
//! the `blocking` module, awaiting the backend's async methods instead, so
//! no executor thread blocks on I/O or on another caller's computation.

use std::future::Future;

use tracing::Instrument;

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
    /// [`Cache::lookup_beyond_l1`] for async callers, given what the L1 probe
    /// ([`Cache::probe`] or [`Cache::probe_typed`]) found: a hit is ready
    /// without touching the executor. The returned future owns the encoded
    /// arguments and borrows none of `args`.
    ///
    /// # Concurrency
    ///
    /// As [`Cache::lookup_beyond_l1`]; followers of a flight await the leader's value
    /// without blocking a thread. A leader whose future is dropped (a
    /// cancelled request) releases its followers, and one of them computes.
    #[inline]
    pub fn lookup_async<A>(
        &self,
        probed: Option<V>,
        args: &A,
    ) -> impl Future<Output = Lookup<'_, V, C>> + Send + '_
    where
        A: Serialize + ?Sized,
    {
        // The ticket is taken after the L1 miss, before the shared tier is
        // read or the value computed (see `lookup_beyond_l1`).
        let (ticket, start) = match probed {
            Some(value) => (Ticket::default(), Err(Lookup::Hit(value))),
            None => {
                self.probe_missed();
                let ticket = self.ticket();
                (ticket, self.encode_for_miss(args, ticket))
            }
        };
        async move {
            let args = match start {
                Ok(args) => args,
                Err(done) => return done,
            };
            let mut followed = None;
            loop {
                match self.join_step(&args, followed.take(), ticket) {
                    Joining::Done(done) => return done,
                    Joining::Wait(flight) => {
                        let span = spans::wait(&self.namespace);
                        followed = Some(flight.wait_async().instrument(span).await);
                    }
                    Joining::Lead(leader) => {
                        return self.lookup_shared_async(args, ticket, leader).await
                    }
                }
            }
        }
    }

    /// The shared tier for async callers: the steps of `steps::Read`,
    /// awaited.
    async fn lookup_shared_async<'c>(
        &'c self,
        args: ArgsKey,
        ticket: Ticket,
        leader: Leader<'c, ArgsKey, V>,
    ) -> Lookup<'c, V, C> {
        let backend = self.backend();
        let key = self.entry_key(&args);
        let read_at = Instant::now();
        let span = spans::lookup(&self.namespace);
        let read = steps::drive_async(steps::Read::new(self, &key), &backend);
        let outcome = read.instrument(span.clone()).await;
        spans::found(&span, &outcome);
        self.looked_up(outcome, args, key, backend, read_at, ticket, leader)
    }

    /// Stores a computed value (`steps::Store`), awaited.
    async fn store_computed_async(&self, entry: &mut Entry, value: &V) -> steps::Wrote {
        let Some((backend, store)) = self.store_steps(entry, value) else {
            return steps::Wrote::Nothing;
        };
        steps::drive_async(store, &backend).await
    }

    async fn store_async(&self, backend: &dyn Backend, key: &str, value: &V) -> Result<(), Error> {
        let generation = backend.generation_async(&self.generation_key).await?;
        let fresh_for = self.entry_ttl();
        let sealed = self.seal(generation, value, fresh_for)?;
        backend
            .set_async(key, &sealed, self.kept_for(fresh_for))
            .await
    }

    /// [`Cache::peek_many`] for async callers: the batch's read awaited.
    pub async fn peek_many_async(&self, args: &[super::EncodedArgs]) -> Vec<Option<V>> {
        let plan = self.plan_many(args);
        if plan.wanted.is_empty() {
            return plan.found;
        }
        let backend = self.backend();
        let keys = plan.keys();
        let fetched = backend.get_many_async(&self.generation_key, &keys).await;
        self.finish_many(plan, args, fetched)
    }

    /// [`Cache::peek`] for async callers.
    pub async fn peek_async<A: Serialize + ?Sized>(&self, args: &A) -> Option<V> {
        let (args, local) = self.peek_local(args)?;
        if local.is_some() {
            return local;
        }
        let backend = self.backend();
        let key = self.entry_key(&args);
        self.peeked(backend.get_async(&self.generation_key, &key).await)
    }

    /// [`Cache::clear`] for async callers.
    ///
    /// # Errors
    ///
    /// As [`Cache::clear`].
    pub async fn clear_async<A>(&self, args: &A) -> Result<(), Error>
    where
        A: Serialize + ?Sized,
    {
        let args = super::encode(args)?;
        let backend = self.backend();
        let key = self.entry_key(&args);
        let cleared = backend.set_async(&key, &tombstone(), self.timeout).await;
        self.forget_local(&args);
        registry::changed_here(self, Some(&args));
        cleared?;
        backend.broadcast_async(&self.namespace, Some(&args)).await
    }

    /// [`Cache::invalidate`] for async callers.
    ///
    /// # Errors
    ///
    /// As [`Cache::invalidate`].
    pub async fn invalidate_async(&self) -> Result<(), Error> {
        let backend = self.backend();
        let renewed = backend.new_generation_async(&self.generation_key).await;
        self.flush_local();
        registry::changed_here(self, None);
        renewed?;
        backend.broadcast_async(&self.namespace, None).await
    }
}

impl<V, C> Lookup<'_, V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// [`Lookup::or_compute`] for async callers: awaits `compute` on a miss.
    pub async fn or_compute_async<O, P: Keep<O, Value = V>>(
        self,
        keep: P,
        compute: impl Future<Output = O>,
    ) -> O {
        let mut miss = match self {
            Lookup::Hit(value) => return P::hit(value),
            Lookup::Miss(miss) => *miss,
        };
        let timing = miss.begin();
        let result = compute.instrument(timing.span.clone()).await;
        let started = miss.timed(timing);
        let kept = keep.kept(&result);
        if kept.is_none() {
            if let Some(stale) = miss.stale_instead() {
                return P::hit(stale);
            }
        }
        if let Some((mut landing, value)) = miss.settle(started, kept) {
            let cache = landing.cache;
            cache.stored(cache.store_computed_async(&mut landing.entry, value).await);
            landing.land(value);
        }
        result
    }
}

impl<C: Codec + Default> Lookup<'_, (), C> {
    /// [`Lookup::run_once`] for async callers.
    pub async fn run_once_async(self, compute: impl Future<Output = ()>) {
        let mut landing = match self.claim() {
            Claim::Done => return,
            Claim::Run => return compute.await,
            Claim::Store(landing) => landing,
        };
        let entry = &mut landing.entry;
        let wrote = landing.cache.store_computed_async(entry, &()).await;
        landing.land(&());
        if wrote != steps::Wrote::Lost {
            compute.await;
        }
    }
}

impl<V, C> Prepared<V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    /// [`Prepared::set`] for async callers.
    ///
    /// # Errors
    ///
    /// As [`Prepared::set`].
    pub async fn set_async(self, value: V) -> Result<(), Error> {
        let cache = self.cache;
        let ticket = cache.ticket();
        let args = self.args?;
        let backend = cache.backend();
        let key = cache.entry_key(&args);
        let told = match cache.store_async(&*backend, &key, &value).await {
            Ok(()) => Ok(backend.broadcast_async(&cache.namespace, Some(&args)).await),
            Err(error) => Err(error),
        };
        cache.settle_set(&args, &value, ticket, told)
    }

    /// [`Prepared::refresh`] for async callers.
    pub async fn refresh_async<O, P: Keep<O, Value = V>>(
        self,
        keep: P,
        compute: impl Future<Output = O>,
    ) -> O {
        let started = self.cache.start();
        let result = compute.await;
        let cache = self.cache;
        if let Some(value) = cache.worth_keeping(started, keep.kept(&result)) {
            if let Err(error) = self.set_async(value.clone()).await {
                report::backend_failed("refresh", &cache.namespace, &error);
            }
        }
        result
    }
}
