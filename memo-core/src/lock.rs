//! Locks shared by every process on the backend: the dog-pile lock of
//! `#[quickcache(lock = true)]` and [`lock`] for blocks of your own.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{self, new_generation, Backend};
use crate::{key, report, Error};

/// Shortest and longest pause between two attempts to take a held lock.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(5);
pub(crate) const MAX_PAUSE: Duration = Duration::from_millis(100);

/// A held lock; dropping it releases the lock (if it is still ours: a lock
/// that outlived its TTL and was taken by another is left alone).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let guard = memo_core::lock("nightly-report", Duration::from_secs(60)).unwrap();
/// // ... never runs in parallel with another holder of "nightly-report" ...
/// guard.release().unwrap();
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard {
    backend: Arc<dyn Backend>,
    key: String,
    token: u64,
    released: bool,
    /// Taken by an async caller: dropped inside a runtime (a cancelled
    /// future, a guard that goes out of scope), it releases in a task rather
    /// than block the executor thread on the backend.
    taken_async: bool,
}

impl LockGuard {
    pub(crate) async fn try_take_async(
        backend: Arc<dyn Backend>,
        key: String,
        ttl: Duration,
    ) -> Result<Option<Self>, Error> {
        let token = new_generation();
        let taken = backend.try_lock_async(&key, token, ttl).await?;
        Ok(taken.then_some(LockGuard {
            backend,
            key,
            token,
            released: false,
            taken_async: true,
        }))
    }

    /// [`LockGuard::release`] for async callers: releases the lock without
    /// blocking the executor, and says whether the backend confirmed it.
    ///
    /// # Errors
    ///
    /// When the backend fails; the lock then expires with its TTL.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), memo_core::Error> {
    /// let guard = memo_core::lock_async("job", std::time::Duration::from_secs(5)).await?;
    /// guard.release_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn release_async(mut self) -> Result<(), Error> {
        self.released = true;
        self.backend.unlock_async(&self.key, self.token).await
    }

    /// Releases for memo's own async paths: a failure is counted, and the
    /// lock then expires with its TTL.
    pub(crate) async fn release_async_counted(self) {
        let key = self.key.clone();
        if let Err(error) = self.release_async().await {
            report::backend_failed("unlock", &key, &error);
        }
    }

    /// Releases for memo's own paths: a failure is counted, and the lock
    /// then expires with its TTL.
    pub(crate) fn release_counted(self) {
        let key = self.key.clone();
        if let Err(error) = self.release() {
            report::backend_failed("unlock", &key, &error);
        }
    }

    pub(crate) fn try_take(
        backend: Arc<dyn Backend>,
        key: String,
        ttl: Duration,
    ) -> Result<Option<Self>, Error> {
        let token = new_generation();
        Ok(backend.try_lock(&key, token, ttl)?.then_some(LockGuard {
            backend,
            key,
            token,
            released: false,
            taken_async: false,
        }))
    }

    /// Releases the lock now and says whether the backend confirmed it.
    ///
    /// # Errors
    ///
    /// When the backend fails; the lock then expires with its TTL.
    ///
    /// # Examples
    ///
    /// ```
    /// let guard = memo_core::lock("job", std::time::Duration::from_secs(5)).unwrap();
    /// guard.release().unwrap();
    /// ```
    pub fn release(mut self) -> Result<(), Error> {
        self.released = true;
        self.backend.unlock(&self.key, self.token)
    }
}

/// Releases the lock if it was not released explicitly. A guard taken by an
/// async caller and dropped inside a Tokio runtime releases in a task spawned
/// there, so dropping it (or cancelling the future that holds it) never
/// blocks the executor thread on a round trip; until that task runs, the lock
/// is still held (and if the runtime shuts down first, it expires with its
/// TTL). Any other guard releases before `drop` returns.
impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if self.taken_async {
            let backend = Arc::clone(&self.backend);
            let (key, token) = (self.key.clone(), self.token);
            let spawned = crate::runtime::spawn(async move {
                if let Err(error) = backend.unlock_async(&key, token).await {
                    report::backend_failed("unlock", &key, &error);
                }
            });
            if spawned {
                return;
            }
            // No runtime to run it on: release here, below.
        }
        if let Err(error) = self.backend.unlock(&self.key, self.token) {
            report::backend_failed("unlock", &self.key, &error);
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Waits until the lock `name` is free, takes it for at most `ttl`, and
/// returns a guard that releases it: the block it guards never runs in
/// parallel with another holder of `name` in any process sharing the
/// backend (CommCare's "never run this block in parallel with the same
/// identifier"). On the embedded backend it excludes within this process.
///
/// The lock expires after `ttl` even if its holder hangs or dies, so a crashed
/// holder blocks the others for at most `ttl`; keep the guarded work shorter
/// than `ttl`, or another process may enter.
///
/// # Errors
///
/// When the backend fails (the lock cannot be taken, so the block should not
/// run as if it held it).
///
/// # Concurrency
///
/// Waiters poll the backend, pausing 5 ms at first and up to 100 ms; there is
/// no fairness between them.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// {
///     let _guard = memo_core::lock("rebuild-index", Duration::from_secs(30))?;
///     // rebuild the index
/// } // released here
/// # Ok::<(), memo_core::Error>(())
/// ```
pub fn lock(name: &str, ttl: Duration) -> Result<LockGuard, Error> {
    let backend = backend::current();
    let key = key::named_lock_key(name);
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(guard) = LockGuard::try_take(Arc::clone(&backend), key.clone(), ttl)? {
            return Ok(guard);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Takes the lock `name` for `ttl` if it is free, without waiting; `None`
/// when another holds it. See [`lock`].
///
/// # Errors
///
/// When the backend fails.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let first = memo_core::try_lock("once", Duration::from_secs(5))?;
/// assert!(first.is_some());
/// assert!(memo_core::try_lock("once", Duration::from_secs(5))?.is_none());
/// # Ok::<(), memo_core::Error>(())
/// ```
pub fn try_lock(name: &str, ttl: Duration) -> Result<Option<LockGuard>, Error> {
    LockGuard::try_take(backend::current(), key::named_lock_key(name), ttl)
}

/// [`lock`] for async callers: waits without blocking a thread (on tokio's
/// timer, so it needs a tokio runtime with time enabled).
///
/// # Errors
///
/// When the backend fails.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), memo_core::Error> {
/// use std::time::Duration;
///
/// let guard = memo_core::lock_async("rebuild-index", Duration::from_secs(30)).await?;
/// // rebuild the index
/// guard.release_async().await?;
/// # Ok(())
/// # }
/// ```
pub async fn lock_async(name: &str, ttl: Duration) -> Result<LockGuard, Error> {
    let backend = backend::current();
    let key = key::named_lock_key(name);
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(guard) =
            LockGuard::try_take_async(Arc::clone(&backend), key.clone(), ttl).await?
        {
            return Ok(guard);
        }
        crate::runtime::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::backend::{BoxFuture, Fetched, Generation};
    use crate::MemoryBackend;

    /// The embedded backend, counting the sync unlocks called from inside a
    /// Tokio runtime (each would block an executor thread on a real server).
    #[derive(Debug, Default)]
    struct Watched {
        inner: MemoryBackend,
        blocking_unlocks: AtomicUsize,
    }

    impl Backend for Watched {
        fn name(&self) -> &'static str {
            "watched"
        }
        fn get(&self, generation_key: &str, key: &str) -> Result<Fetched, Error> {
            self.inner.get(generation_key, key)
        }
        fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
            self.inner.get_value(key)
        }
        fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), Error> {
            self.inner.set(key, value, ttl)
        }
        fn set_if(
            &self,
            key: &str,
            expect: crate::backend::Expect<'_>,
            value: &[u8],
            ttl: Duration,
        ) -> Result<bool, Error> {
            self.inner.set_if(key, expect, value, ttl)
        }
        fn delete(&self, key: &str) -> Result<(), Error> {
            self.inner.delete(key)
        }
        fn generation(&self, generation_key: &str) -> Result<Generation, Error> {
            self.inner.generation(generation_key)
        }
        fn new_generation(&self, generation_key: &str) -> Result<Generation, Error> {
            self.inner.new_generation(generation_key)
        }
        fn try_lock(&self, key: &str, token: u64, ttl: Duration) -> Result<bool, Error> {
            self.inner.try_lock(key, token, ttl)
        }
        fn unlock(&self, key: &str, token: u64) -> Result<(), Error> {
            if tokio::runtime::Handle::try_current().is_ok() {
                self.blocking_unlocks.fetch_add(1, Ordering::SeqCst);
            }
            self.inner.unlock(key, token)
        }
        fn unlock_async<'a>(
            &'a self,
            key: &'a str,
            token: u64,
        ) -> BoxFuture<'a, Result<(), Error>> {
            let unlocked = self.inner.unlock(key, token);
            Box::pin(async move { unlocked })
        }
    }

    fn watched() -> (Arc<Watched>, Arc<dyn Backend>) {
        let watched = Arc::new(Watched::default());
        let backend: Arc<dyn Backend> = watched.clone();
        (watched, backend)
    }

    const TTL: Duration = Duration::from_secs(60);

    fn is_free(backend: &dyn Backend, key: &str) -> bool {
        let free = backend.try_lock(key, 99, TTL).unwrap();
        if free {
            backend.unlock(key, 99).unwrap();
        }
        free
    }

    #[cfg(feature = "tokio")]
    #[tokio::test(flavor = "current_thread")]
    async fn async_guards_dropped_in_a_runtime_release_without_blocking_it() {
        let (watched, backend) = watched();
        let key = "memo:lock:dropped".to_owned();

        let guard = LockGuard::try_take_async(backend.clone(), key.clone(), TTL)
            .await
            .unwrap()
            .expect("free");
        drop(guard);
        tokio::task::yield_now().await;
        assert!(is_free(&watched.inner, &key));

        // A future holding the guard, cancelled.
        let holder = tokio::spawn({
            let (backend, key) = (backend.clone(), key.clone());
            async move {
                let _guard = LockGuard::try_take_async(backend, key, TTL).await;
                std::future::pending::<()>().await;
            }
        });
        tokio::task::yield_now().await;
        assert!(!is_free(&watched.inner, &key), "held by the task");
        holder.abort();
        let _ = holder.await;
        tokio::task::yield_now().await;
        assert!(is_free(&watched.inner, &key));

        let guard = LockGuard::try_take_async(backend.clone(), key.clone(), TTL)
            .await
            .unwrap()
            .expect("free");
        guard.release_async().await.unwrap();
        assert!(is_free(&watched.inner, &key));
        assert_eq!(watched.blocking_unlocks.load(Ordering::SeqCst), 0);
    }

    /// Polls `future` to completion on the calling thread: an executor that
    /// is not Tokio's, with no timer of its own.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Arc::new(Unpark(std::thread::current())).into();
        let mut context = std::task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
            std::thread::park();
        }
    }

    #[test]
    fn async_waits_for_a_lock_on_any_executor() {
        let name = "lock-tests::any-executor";
        let held = crate::try_lock(name, TTL).unwrap().expect("free");
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            held.release().unwrap();
        });
        let started = std::time::Instant::now();
        let guard = block_on(lock_async(name, TTL)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(25));
        releaser.join().unwrap();
        block_on(guard.release_async()).unwrap();
    }

    #[test]
    fn guards_dropped_outside_a_runtime_release_before_drop_returns() {
        let (watched, backend) = watched();
        let key = "memo:lock:sync".to_owned();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let taken_async = runtime
            .block_on(LockGuard::try_take_async(backend.clone(), key.clone(), TTL))
            .unwrap()
            .expect("free");
        drop(taken_async);
        assert!(is_free(&watched.inner, &key));

        let taken = LockGuard::try_take(backend, key.clone(), TTL)
            .unwrap()
            .expect("free");
        assert!(!is_free(&watched.inner, &key));
        drop(taken);
        assert!(is_free(&watched.inner, &key));
    }
}
