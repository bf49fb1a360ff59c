//! Every cached function of the process, by namespace: the ground floor
//! that `coherence` (which drops L1 entries when the shared tier changes)
//! and `stats` (which reads their counters) both stand on.

use std::sync::{Mutex, OnceLock};

use crate::counters::Counters;

/// A cached function's cache, as the registry sees it: its namespace, its
/// local tier (to flush), its counters.
pub(crate) trait CachedFunction: Send + Sync {
    /// The namespace its shared-tier keys live under.
    fn namespace(&self) -> &str;
    /// Drops every local entry.
    fn flush_local(&self);
    /// Drops the local entry for these encoded arguments.
    fn forget_local(&self, args: &[u8]);
    /// Its hit and miss counters.
    fn counters(&self) -> &Counters;
    /// Its local tier's state: entries held and their weight, entries
    /// evicted to keep its bounds, expired entries reclaimed.
    fn local_tier(&self) -> LocalTier;
    /// The name of the backend it uses (`None`: the default one), whose
    /// coherence flushes its local tier.
    fn backend(&self) -> Option<&'static str> {
        None
    }
}

/// See [`CachedFunction::local_tier`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LocalTier {
    pub(crate) entries: usize,
    pub(crate) bytes: usize,
    pub(crate) evictions: u64,
    pub(crate) expirations: u64,
}

static REGISTRY: OnceLock<Mutex<Vec<&'static dyn CachedFunction>>> = OnceLock::new();

fn registry() -> std::sync::MutexGuard<'static, Vec<&'static dyn CachedFunction>> {
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Adds `cache` to the registry; called once per cache.
pub(crate) fn register(cache: &'static dyn CachedFunction) {
    registry().push(cache);
}

/// Calls `f` with every registered cache.
pub(crate) fn each(mut f: impl FnMut(&dyn CachedFunction)) {
    let caches = registry().clone();
    for cache in caches {
        f(cache);
    }
}

/// This process changed `namespace`'s entry for `args` (every entry, for
/// `None`) through the cache `origin`: drops the L1 copies of the other
/// caches of that namespace, the functions that share a `name` with it
/// (their remembered generation too, for `None`). `origin` sees to its own.
pub(crate) fn changed_here(origin: &dyn CachedFunction, args: Option<&[u8]>) {
    let namespace = origin.namespace();
    let caches = registry().clone();
    for cache in caches {
        if cache.namespace() != namespace || std::ptr::addr_eq(cache, origin) {
            continue;
        }
        match args {
            Some(args) => cache.forget_local(args),
            None => cache.flush_local(),
        }
    }
}
