//! The shared-tier steps of a `#[quickcache]` miss, described once: a
//! sans-IO state machine that says which I/O it needs next ([`Io`]) and
//! takes its answer ([`Reply`]), driven by the sync driver in `blocking`
//! and the async one in `future` (redis-rs's commands-as-values, run by
//! `query` or `query_async`, are the model). The steps decide; the drivers
//! only carry out I/O, so the two surfaces cannot drift apart.
//!
//! [`Read`] finds an entry: a hit, or a miss that knows, before the value
//! is computed, the generation it belongs to (made now if there is none),
//! what it will be stored over (`Seen`), and, with `lock = true`, the
//! entry's dog-pile lock (or that it waited for another process's value,
//! or gave up waiting). [`Store`] stores a computed value and releases the
//! lock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Cache, Read as Found, Seen};
use crate::backend::{Backend, Expect, Fetched, Generation};
use crate::codec::Codec;
use crate::lock::{LockGuard, FIRST_PAUSE, MAX_PAUSE};
use crate::{key, report, Error};

/// The I/O a step needs next.
pub(super) enum Io<'a> {
    /// The entry alone (the generation is known).
    GetValue { key: &'a str },
    /// The generation and the entry, in one round trip.
    Get {
        generation_key: &'a str,
        key: &'a str,
    },
    /// The generation, made if there is none.
    Generation { generation_key: &'a str },
    /// Take the lock `key` for `ttl`.
    TryLock { key: &'a str, ttl: Duration },
    /// Wait before trying again.
    Sleep(Duration),
    /// Store `value` under `key` if it holds what `expect` says.
    SetIf {
        key: &'a str,
        expect: Expect<'a>,
        value: &'a [u8],
        ttl: Duration,
    },
    /// Release a held lock.
    Unlock(LockGuard),
}

/// The answer to an [`Io`].
pub(super) enum Reply {
    Value(Result<Option<Vec<u8>>, Error>),
    Fetched(Result<Fetched, Error>),
    Generation(Result<Generation, Error>),
    Lock(Result<Option<LockGuard>, Error>),
    Slept,
    Stored(Result<bool, Error>),
    Unlocked,
}

/// What a step asks of its driver.
pub(super) enum Step<'a, T> {
    Need(Io<'a>),
    Done(T),
}

/// A description of steps: what to do next, given the answer to the last
/// I/O. [`Read`] and [`Store`] are; [`drive`] and [`drive_async`] carry them
/// out.
pub(super) trait Steps {
    type Output;
    fn step(&mut self, reply: Option<Reply>) -> Step<'_, Self::Output>;
}

/// Carries out `steps` on `backend`, blocking: the sync driver.
pub(super) fn drive<S: Steps>(mut steps: S, backend: &Arc<dyn Backend>) -> S::Output {
    let mut reply = None;
    loop {
        match steps.step(reply.take()) {
            Step::Need(io) => reply = Some(io.run(backend)),
            Step::Done(output) => return output,
        }
    }
}

/// Carries out `steps` on `backend`, awaiting: the async driver.
pub(super) async fn drive_async<S: Steps>(mut steps: S, backend: &Arc<dyn Backend>) -> S::Output {
    let mut reply = None;
    loop {
        match steps.step(reply.take()) {
            Step::Need(io) => reply = Some(io.run_async(backend).await),
            Step::Done(output) => return output,
        }
    }
}

/// What a shared-tier read came to.
pub(super) enum Outcome<V> {
    Hit(V),
    /// Compute, then store under `generation` over what was `seen`,
    /// holding `lock` (with `lock = true`) until stored.
    Miss {
        generation: Generation,
        seen: Seen,
        lock: Option<LockGuard>,
        /// With `stale_on_error`: a value past its `timeout`, to serve if
        /// the body returns `Err`.
        stale: Option<V>,
    },
    /// The backend failed: compute without it.
    Failed(Error),
}

/// Where a [`Read`] is.
enum At {
    Start,
    /// The entry was asked for, under the known generation.
    ReadKnown(Generation),
    /// The generation and the entry were asked for.
    Read,
    /// Waiting for the lock: the last attempt, and the pause after it.
    Locking {
        deadline: Instant,
        pause: Duration,
    },
    /// Asleep before the next read and attempt.
    Asleep {
        deadline: Instant,
        pause: Duration,
    },
    /// Read again while waiting for the lock.
    Reread {
        deadline: Instant,
        pause: Duration,
    },
    /// Read again after taking the lock (a holder may have stored the value
    /// and released just before).
    RereadHeld,
    /// A value was found while holding the lock: released, then a hit.
    Releasing,
    /// The generation was asked for (there was none).
    Generation,
}

/// Finds the entry `key` of `cache` in the shared tier (see the module
/// docs).
pub(super) struct Read<'c, V, C> {
    cache: &'c Cache<V, C>,
    key: &'c str,
    /// The entry's lock key, made at the first attempt to take the lock
    /// (a hit never needs it).
    lock_key: Option<String>,
    at: At,
    /// What the last read found.
    found: Option<Found<V>>,
    lock: Option<LockGuard>,
    /// The generation epoch when the read was asked for (see
    /// `Cache::learn_generation`).
    seen_at: u64,
}

impl<V, C> Steps for Read<'_, V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    type Output = Outcome<V>;

    fn step(&mut self, reply: Option<Reply>) -> Step<'_, Outcome<V>> {
        self.next(reply)
    }
}

impl<'c, V, C> Read<'c, V, C>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    C: Codec + Default,
{
    pub(super) fn new(cache: &'c Cache<V, C>, key: &'c str) -> Self {
        Read {
            cache,
            key,
            lock_key: None,
            at: At::Start,
            found: None,
            lock: None,
            seen_at: 0,
        }
    }

    fn next(&mut self, reply: Option<Reply>) -> Step<'_, Outcome<V>> {
        let cache = self.cache;
        match (std::mem::replace(&mut self.at, At::Start), reply) {
            (At::Start, _) => match cache.known_generation() {
                // Knowing the current generation, a hit is one GET.
                Some(known) => self.ask(At::ReadKnown(known)),
                None => self.read(),
            },
            (At::ReadKnown(known), Some(Reply::Value(Ok(stored)))) => {
                if let Some(value) = stored.as_deref().and_then(|b| cache.open(known, b)) {
                    return Step::Done(Outcome::Hit(value));
                }
                if stored.is_none() && cache.lock_ttl.is_none() {
                    return Step::Done(Outcome::Miss {
                        generation: known,
                        seen: Seen::of(None),
                        lock: None,
                        stale: None,
                    });
                }
                // Another generation's entry, or a lock to take: read the
                // generation too.
                self.read()
            }
            (At::Read, Some(Reply::Fetched(Ok(fetched)))) => {
                let mut found = cache.read(fetched);
                cache.learn_generation(self.seen_at, found.generation);
                if let Some(value) = found.value.take() {
                    return Step::Done(Outcome::Hit(value));
                }
                self.found = Some(found);
                match cache.lock_ttl {
                    Some(ttl) => self.try_lock(Instant::now() + ttl, FIRST_PAUSE),
                    None => self.generation(),
                }
            }
            (At::Locking { deadline, pause }, Some(Reply::Lock(taken))) => match taken {
                Ok(Some(guard)) => {
                    self.lock = Some(guard);
                    self.ask(At::RereadHeld)
                }
                Ok(None) if Instant::now() >= deadline => self.generation(),
                Ok(None) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.at = At::Asleep { deadline, pause };
                    Step::Need(Io::Sleep(pause.min(left)))
                }
                Err(error) => {
                    report::backend_failed("lock", self.lock_key(), &error);
                    self.generation()
                }
            },
            (At::Asleep { deadline, pause }, Some(Reply::Slept)) => {
                let pause = (pause * 2).min(MAX_PAUSE);
                self.ask(At::Reread { deadline, pause })
            }
            (At::Reread { deadline, pause }, Some(Reply::Fetched(read))) => match read {
                Ok(fetched) => {
                    let mut found = cache.read(fetched);
                    if let Some(value) = found.value.take() {
                        return Step::Done(Outcome::Hit(value));
                    }
                    self.found = Some(found);
                    self.try_lock(deadline, pause)
                }
                Err(error) => {
                    report::backend_failed("get", self.lock_key(), &error);
                    self.generation()
                }
            },
            (At::RereadHeld, Some(Reply::Fetched(read))) => {
                if let Ok(fetched) = read {
                    let found = cache.read(fetched);
                    let hit = found.value.is_some();
                    self.found = Some(found);
                    if hit {
                        if let Some(guard) = self.lock.take() {
                            self.at = At::Releasing;
                            return Step::Need(Io::Unlock(guard));
                        }
                    }
                }
                self.generation()
            }
            (At::Releasing, Some(Reply::Unlocked)) => {
                let value = self.found.take().and_then(|found| found.value);
                match value {
                    Some(value) => Step::Done(Outcome::Hit(value)),
                    None => self.generation(),
                }
            }
            (At::Generation, Some(Reply::Generation(made))) => match made {
                Ok(generation) => self.miss(generation),
                Err(error) => Step::Done(Outcome::Failed(error)),
            },
            (_, Some(Reply::Value(Err(error)) | Reply::Fetched(Err(error)))) => {
                Step::Done(Outcome::Failed(error))
            }
            // A reply that does not answer the step: a driver's bug. Fail
            // safe: compute without the shared tier.
            (_, _) => Step::Done(Outcome::Failed(Error::Unavailable {
                backend: "unexpected reply",
            })),
        }
    }

    fn lock_key(&self) -> &str {
        self.lock_key.as_deref().unwrap_or(self.key)
    }

    /// Moves to step `at` and asks for its read.
    fn ask(&mut self, at: At) -> Step<'_, Outcome<V>> {
        self.at = at;
        let (generation_key, key) = (&self.cache.generation_key, self.key);
        Step::Need(match self.at {
            At::ReadKnown(_) => Io::GetValue { key },
            At::Generation => Io::Generation { generation_key },
            _ => Io::Get {
                generation_key,
                key,
            },
        })
    }

    fn read(&mut self) -> Step<'_, Outcome<V>> {
        self.seen_at = self.cache.generation_epoch();
        self.ask(At::Read)
    }

    fn try_lock(&mut self, deadline: Instant, pause: Duration) -> Step<'_, Outcome<V>> {
        let ttl = self.cache.lock_ttl.unwrap_or_default();
        self.at = At::Locking { deadline, pause };
        let key = self.key;
        let lock_key = self
            .lock_key
            .get_or_insert_with(|| key::entry_lock_key(key));
        Step::Need(Io::TryLock { key: lock_key, ttl })
    }

    /// The generation the value belongs to: the one read, or (the first
    /// use, or the token was lost) one made now, before the value is
    /// computed, never one an `invalidate()` makes meanwhile.
    fn generation(&mut self) -> Step<'_, Outcome<V>> {
        match self.found.as_ref().and_then(|found| found.generation) {
            Some(generation) => self.miss(generation),
            None => self.ask(At::Generation),
        }
    }

    fn miss(&mut self, generation: Generation) -> Step<'_, Outcome<V>> {
        let seen = self
            .found
            .as_ref()
            .map_or_else(|| Seen::of(None), |found| found.seen);
        let stale = self.found.as_mut().and_then(|found| found.stale.take());
        Step::Done(Outcome::Miss {
            generation,
            seen,
            lock: self.lock.take(),
            stale,
        })
    }
}

/// Stores a computed value over what its read found, then releases the
/// lock, if any.
pub(super) struct Store<'e> {
    key: &'e str,
    expect: Expect<'e>,
    sealed: Option<Vec<u8>>,
    ttl: Duration,
    lock: Option<LockGuard>,
    stored: bool,
    wrote: Wrote,
}

/// What a [`Store`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrote {
    /// The value is stored.
    Stored,
    /// Another write came first (a clear, a set, another process's
    /// value since the read).
    Lost,
    /// Nothing was written: nothing to store.
    Nothing,
    /// The backend failed (counted and logged).
    Failed,
}

impl<'e> Store<'e> {
    /// `sealed`: the envelope to store; `None` to store nothing (it could
    /// not be sealed, or the read is too old to trust: see
    /// `Cache::seal_computed`).
    pub(super) fn new(
        key: &'e str,
        seen: &'e Seen,
        sealed: Option<Vec<u8>>,
        ttl: Duration,
        lock: Option<LockGuard>,
    ) -> Self {
        Store {
            key,
            expect: seen.expect(),
            sealed,
            ttl,
            lock,
            stored: false,
            wrote: Wrote::Nothing,
        }
    }

    fn unlock(&mut self) -> Step<'_, Wrote> {
        match self.lock.take() {
            Some(guard) => Step::Need(Io::Unlock(guard)),
            None => Step::Done(self.wrote),
        }
    }
}

impl Steps for Store<'_> {
    type Output = Wrote;

    fn step(&mut self, reply: Option<Reply>) -> Step<'_, Wrote> {
        match reply {
            None if self.sealed.is_some() && !self.stored => {
                self.stored = true;
                Step::Need(Io::SetIf {
                    key: self.key,
                    expect: self.expect,
                    value: self.sealed.as_deref().unwrap_or_default(),
                    ttl: self.ttl,
                })
            }
            Some(Reply::Stored(Err(error))) => {
                report::backend_failed("set", self.key, &error);
                self.wrote = Wrote::Failed;
                self.unlock()
            }
            // Stored, or another write won (a clear or a set since the
            // read): either way the value is where it may be.
            Some(Reply::Stored(Ok(stored))) => {
                self.wrote = if stored { Wrote::Stored } else { Wrote::Lost };
                self.unlock()
            }
            None => self.unlock(),
            Some(_) => Step::Done(self.wrote),
        }
    }
}

impl Io<'_> {
    /// Carries out the I/O on `backend`, blocking.
    pub(super) fn run(self, backend: &Arc<dyn Backend>) -> Reply {
        match self {
            Io::GetValue { key } => Reply::Value(backend.get_value(key)),
            Io::Get {
                generation_key,
                key,
            } => Reply::Fetched(backend.get(generation_key, key)),
            Io::Generation { generation_key } => {
                Reply::Generation(backend.generation(generation_key))
            }
            Io::TryLock { key, ttl } => Reply::Lock(LockGuard::try_take(
                Arc::clone(backend),
                key.to_owned(),
                ttl,
            )),
            Io::Sleep(pause) => {
                std::thread::sleep(pause);
                Reply::Slept
            }
            Io::SetIf {
                key,
                expect,
                value,
                ttl,
            } => Reply::Stored(backend.set_if(key, expect, value, ttl)),
            Io::Unlock(guard) => {
                guard.release_counted();
                Reply::Unlocked
            }
        }
    }

    /// Carries out the I/O on `backend`, awaiting.
    pub(super) async fn run_async(self, backend: &Arc<dyn Backend>) -> Reply {
        match self {
            Io::GetValue { key } => Reply::Value(backend.get_value_async(key).await),
            Io::Get {
                generation_key,
                key,
            } => Reply::Fetched(backend.get_async(generation_key, key).await),
            Io::Generation { generation_key } => {
                Reply::Generation(backend.generation_async(generation_key).await)
            }
            Io::TryLock { key, ttl } => Reply::Lock(
                LockGuard::try_take_async(Arc::clone(backend), key.to_owned(), ttl).await,
            ),
            Io::Sleep(pause) => {
                crate::runtime::sleep(pause).await;
                Reply::Slept
            }
            Io::SetIf {
                key,
                expect,
                value,
                ttl,
            } => Reply::Stored(backend.set_if_async(key, expect, value, ttl).await),
            Io::Unlock(guard) => {
                guard.release_async_counted().await;
                Reply::Unlocked
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Postcard;
    use crate::quickcache::Spec;
    use crate::MemoryBackend;

    fn cache(lock: bool) -> Cache<String, Postcard> {
        Cache::new(
            &Spec {
                module: "steps",
                function: "tests",
                digest: 0,
                name: None,
                timeout: Duration::from_secs(60),
                memoize_timeout: Duration::ZERO,
                max_entries: 10,
                max_bytes: None,
                lock_ttl: lock.then_some(Duration::from_millis(200)),
                min_time: Duration::ZERO,
                timeout_jitter: 0.0,
                stale_on_error: Duration::ZERO,
                backend: None,
                arguments: &[],
            },
            None,
        )
    }

    fn fetched(cache: &Cache<String, Postcard>, value: Option<&str>) -> Reply {
        Reply::Fetched(Ok(Fetched {
            generation: Some(7),
            value: value.map(|v| {
                cache
                    .seal(7, &v.to_owned(), Duration::from_secs(60))
                    .unwrap()
            }),
        }))
    }

    fn guard() -> LockGuard {
        let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
        LockGuard::try_take(backend, "memo:l:steps".into(), Duration::from_secs(5))
            .unwrap()
            .unwrap()
    }

    /// Feeds `replies` in turn, checking each step asks for the I/O
    /// `asks` names; returns the outcome.
    fn drive(
        read: &mut Read<'_, String, Postcard>,
        script: Vec<(&str, Option<Reply>)>,
    ) -> Outcome<String> {
        let mut reply = None;
        for (asks, next) in script {
            match read.step(reply.take()) {
                Step::Need(io) => {
                    let name = match io {
                        Io::GetValue { .. } => "get_value",
                        Io::Get { .. } => "get",
                        Io::Generation { .. } => "generation",
                        Io::TryLock { .. } => "try_lock",
                        Io::Sleep(_) => "sleep",
                        Io::SetIf { .. } => "set_if",
                        Io::Unlock(_) => "unlock",
                    };
                    assert_eq!(name, asks);
                    reply = next;
                }
                Step::Done(_) => panic!("done before {asks}"),
            }
        }
        match read.step(reply) {
            Step::Done(outcome) => outcome,
            Step::Need(_) => panic!("more I/O than scripted"),
        }
    }

    #[test]
    fn a_hit_and_a_miss_without_a_generation() {
        let cache = cache(false);
        let mut read = Read::new(&cache, "k");
        let hit = drive(&mut read, vec![("get", Some(fetched(&cache, Some("v"))))]);
        assert!(matches!(hit, Outcome::Hit(v) if v == "v"));

        // A cache that does not know the generation yet (this one learned 7).
        let cache = self::cache(false);
        let mut read = Read::new(&cache, "k");
        let nothing = Reply::Fetched(Ok(Fetched::default()));
        let miss = drive(
            &mut read,
            vec![
                ("get", Some(nothing)),
                ("generation", Some(Reply::Generation(Ok(9)))),
            ],
        );
        assert!(matches!(
            miss,
            Outcome::Miss {
                generation: 9,
                lock: None,
                ..
            }
        ));
    }

    /// Taking the lock, then finding the value a holder stored just
    /// before: the lock is released, then the value is a hit.
    /// Taking the lock and finding nothing: the miss holds the lock until
    /// its value is stored.
    #[test]
    fn a_miss_under_the_lock_keeps_it() {
        let cache = cache(true);
        let mut read = Read::new(&cache, "k");
        let outcome = drive(
            &mut read,
            vec![
                ("get", Some(fetched(&cache, None))),
                ("try_lock", Some(Reply::Lock(Ok(Some(guard()))))),
                ("get", Some(fetched(&cache, None))),
            ],
        );
        assert!(matches!(
            outcome,
            Outcome::Miss {
                lock: Some(_),
                generation: 7,
                ..
            }
        ));
    }

    #[test]
    fn a_value_found_after_taking_the_lock_releases_it() {
        let cache = cache(true);
        let mut read = Read::new(&cache, "k");
        let outcome = drive(
            &mut read,
            vec![
                ("get", Some(fetched(&cache, None))),
                ("try_lock", Some(Reply::Lock(Ok(Some(guard()))))),
                ("get", Some(fetched(&cache, Some("theirs")))),
                ("unlock", Some(Reply::Unlocked)),
            ],
        );
        assert!(matches!(outcome, Outcome::Hit(v) if v == "theirs"));
    }

    /// The lock held elsewhere: sleep, read again, and take the value the
    /// holder stored; or give up at the deadline and compute unlocked.
    #[test]
    fn waiting_for_the_lock_ends_in_a_value_or_gives_up() {
        let cache = cache(true);
        let mut read = Read::new(&cache, "k");
        let outcome = drive(
            &mut read,
            vec![
                ("get", Some(fetched(&cache, None))),
                ("try_lock", Some(Reply::Lock(Ok(None)))),
                ("sleep", Some(Reply::Slept)),
                ("get", Some(fetched(&cache, Some("stored")))),
            ],
        );
        assert!(matches!(outcome, Outcome::Hit(v) if v == "stored"));

        let cache = self::cache(true);
        let mut read = Read::new(&cache, "k");
        let Step::Need(Io::Get { .. }) = read.step(None) else {
            panic!("reads first")
        };
        let Step::Need(Io::TryLock { .. }) = read.step(Some(fetched(&cache, None))) else {
            panic!("then tries the lock")
        };
        // Past the deadline (the lock's 200 ms), a refusal gives up.
        std::thread::sleep(Duration::from_millis(250));
        match read.step(Some(Reply::Lock(Ok(None)))) {
            Step::Done(Outcome::Miss {
                lock: None,
                generation: 7,
                ..
            }) => {}
            _ => panic!("did not give up at the deadline"),
        }
    }

    #[test]
    fn a_failed_read_is_a_failure_and_a_store_releases_the_lock() {
        let cache = cache(false);
        let mut read = Read::new(&cache, "k");
        let failed = drive(
            &mut read,
            vec![(
                "get",
                Some(Reply::Fetched(Err(Error::Unavailable { backend: "test" }))),
            )],
        );
        assert!(matches!(failed, Outcome::Failed(_)));

        let seen = Seen::of(None);
        let mut store = Store::new(
            "k",
            &seen,
            Some(b"env".to_vec()),
            Duration::from_secs(1),
            Some(guard()),
        );
        let Step::Need(Io::SetIf {
            expect: Expect::Absent,
            ..
        }) = store.step(None)
        else {
            panic!()
        };
        let Step::Need(Io::Unlock(_)) = store.step(Some(Reply::Stored(Ok(false)))) else {
            panic!()
        };
        assert!(matches!(
            store.step(Some(Reply::Unlocked)),
            Step::Done(Wrote::Lost)
        ));
    }

    /// A computation that took longer than a tombstone lives (`timeout`)
    /// stores nothing: a `clear` since may have left a tombstone that is
    /// gone by now, so its compare-and-set could not protect the clear.
    #[test]
    fn a_computation_longer_than_a_tombstone_lives_stores_nothing() {
        let cache = cache(false);
        let entry = |read_at| crate::quickcache::Entry {
            args: crate::key::ArgsKey::from_slice(b"\x01"),
            key: "k".into(),
            backend: None,
            generation: Some(7),
            seen: Seen::of(None),
            read_at,
            lock: None,
        };
        let value = "v".to_owned();
        assert!(cache
            .seal_computed(&entry(Instant::now()), &value, Duration::from_secs(60))
            .is_some());
        let long_ago = Instant::now() - Duration::from_secs(61);
        assert!(
            cache
                .seal_computed(&entry(long_ago), &value, Duration::from_secs(60))
                .is_none(),
            "stored after 61 s (timeout 60 s)"
        );
    }
}
