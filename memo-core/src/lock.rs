//! Locks shared by every process on the backend: the dog-pile lock of
//! `#[quickcache(lock = true)]` and [`lock`] for blocks of your own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{self, new_generation, Backend};
use crate::{key, stats, Error};

/// Shortest and longest pause between two attempts to take a held lock.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(100);

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
        }))
    }

    /// Releases without blocking the executor; failures are counted, and the
    /// lock then expires with its TTL.
    pub(crate) async fn release_async(mut self) {
        self.released = true;
        if let Err(error) = self.backend.unlock_async(&self.key, self.token).await {
            stats::backend_failed("unlock", &self.key, &error);
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

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.released {
            if let Err(error) = self.backend.unlock(&self.key, self.token) {
                stats::backend_failed("unlock", &self.key, &error);
            }
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
/// drop(guard);
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
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// What waiting on an entry's dog-pile lock came to.
pub(crate) enum Waited<V> {
    /// Another process stored the value meanwhile.
    Value(V),
    /// We hold the lock: compute and store.
    Held(LockGuard),
    /// The lock could not be had in time, or the backend failed: compute
    /// without it rather than fail.
    GaveUp,
}

/// Takes `lock_key` or, while another holds it, polls `read` for the value
/// the holder will store, for at most `ttl`.
pub(crate) fn take_or_wait<V>(
    backend: &Arc<dyn Backend>,
    lock_key: &str,
    ttl: Duration,
    mut read: impl FnMut() -> Result<Option<V>, Error>,
) -> Waited<V> {
    let deadline = Instant::now() + ttl;
    let mut pause = FIRST_PAUSE;
    loop {
        match LockGuard::try_take(Arc::clone(backend), lock_key.to_owned(), ttl) {
            // A holder may have stored the value and released just before we
            // took the lock: read once more so the body runs exactly once.
            Ok(Some(guard)) => {
                return match read() {
                    Ok(Some(value)) => Waited::Value(value),
                    _ => Waited::Held(guard),
                }
            }
            Ok(None) => {}
            Err(error) => {
                stats::backend_failed("lock", lock_key, &error);
                return Waited::GaveUp;
            }
        }
        if Instant::now() >= deadline {
            return Waited::GaveUp;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(MAX_PAUSE);
        match read() {
            Ok(Some(value)) => return Waited::Value(value),
            Ok(None) => {}
            Err(error) => {
                stats::backend_failed("get", lock_key, &error);
                return Waited::GaveUp;
            }
        }
    }
}

/// [`take_or_wait`] for async callers.
pub(crate) async fn take_or_wait_async<V, F, Fut>(
    backend: &Arc<dyn Backend>,
    lock_key: &str,
    ttl: Duration,
    mut read: F,
) -> Waited<V>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<V>, Error>>,
{
    let deadline = Instant::now() + ttl;
    let mut pause = FIRST_PAUSE;
    loop {
        match LockGuard::try_take_async(Arc::clone(backend), lock_key.to_owned(), ttl).await {
            Ok(Some(guard)) => {
                return match read().await {
                    Ok(Some(value)) => {
                        guard.release_async().await;
                        Waited::Value(value)
                    }
                    _ => Waited::Held(guard),
                }
            }
            Ok(None) => {}
            Err(error) => {
                stats::backend_failed("lock", lock_key, &error);
                return Waited::GaveUp;
            }
        }
        if Instant::now() >= deadline {
            return Waited::GaveUp;
        }
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause = (pause * 2).min(MAX_PAUSE);
        match read().await {
            Ok(Some(value)) => return Waited::Value(value),
            Ok(None) => {}
            Err(error) => {
                stats::backend_failed("get", lock_key, &error);
                return Waited::GaveUp;
            }
        }
    }
}
