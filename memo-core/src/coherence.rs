//! Keeping local (L1) tiers coherent with the shared tier.
//!
//! Every `#[quickcache]` function registers its cache here on first use, by
//! namespace. Whatever learns that the shared tier changed underneath this
//! process (a new backend installed, or an invalidation message from another
//! process) drops the affected L1 entries through this registry.

use std::sync::{Mutex, OnceLock};

/// A cache with a local tier that the registry can flush.
pub(crate) trait LocalTier: Send + Sync {
    /// The namespace its shared-tier keys live under.
    fn namespace(&self) -> &str;
    /// Drops every local entry.
    fn flush_local(&self);
    /// Drops the local entry for these encoded arguments.
    fn forget_local(&self, args: &[u8]);
}

static REGISTRY: OnceLock<Mutex<Vec<&'static dyn LocalTier>>> = OnceLock::new();

fn registry() -> std::sync::MutexGuard<'static, Vec<&'static dyn LocalTier>> {
    REGISTRY
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Adds `cache` to the registry; called once per cache.
pub(crate) fn register(cache: &'static dyn LocalTier) {
    registry().push(cache);
}

/// Drops every registered cache's local entries.
pub(crate) fn flush_all_local() {
    let caches = registry().clone();
    for cache in caches {
        cache.flush_local();
    }
}

/// Drops the local entries of every cache registered under `namespace`.
#[allow(dead_code)] // used by the cross-process channel
pub(crate) fn flush_namespace(namespace: &str, args: Option<&[u8]>) {
    let caches = registry().clone();
    for cache in caches.into_iter().filter(|c| c.namespace() == namespace) {
        match args {
            Some(args) => cache.forget_local(args),
            None => cache.flush_local(),
        }
    }
}
