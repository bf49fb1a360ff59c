//! The embedded backend: the shared tier inside this process.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{new_generation, Backend, Expect, Fetched, Generation};
use crate::clock;
use crate::store::Store;
use crate::Error;

/// The shared tier kept in this process: what `#[quickcache]` uses until
/// [`set_backend`](crate::set_backend) installs another backend. Every feature
/// works on it, so tests and single-process programs need no server.
///
/// Bounded: at most [`max_entries`](MemoryBackendBuilder::max_entries)
/// entries (default 100 000), evicting expired entries first and then the
/// the entries least worth keeping (S3-FIFO, as L1). Generation tokens
/// live in the same map and can be evicted like any key, which memo survives
/// as it does on Redis: an evicted generation is replaced by a fresh random
/// one and older entries stay invisible.
///
/// # Examples
///
/// ```
/// use memo_core::{Backend, MemoryBackend};
/// use std::time::Duration;
///
/// let backend = MemoryBackend::new();
/// let generation = backend.generation("memo:g:ns").unwrap();
/// assert_eq!(backend.generation("memo:g:ns").unwrap(), generation);
/// assert_ne!(backend.new_generation("memo:g:ns").unwrap(), generation);
/// ```
#[derive(Clone)]
pub struct MemoryBackend {
    store: Arc<Store<Arc<str>, Arc<[u8]>>>,
    max_entries: usize,
}

/// Configures a [`MemoryBackend`].
///
/// # Examples
///
/// ```
/// let backend = memo_core::MemoryBackend::builder().max_entries(1_000).build();
/// memo_core::set_backend(backend);
/// ```
#[derive(Debug, Clone)]
pub struct MemoryBackendBuilder {
    max_entries: usize,
}

impl MemoryBackend {
    /// Default bound on entries.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// A backend with the default settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let backend = memo_core::MemoryBackend::new();
    /// ```
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder to configure the backend.
    ///
    /// # Examples
    ///
    /// ```
    /// let backend = memo_core::MemoryBackend::builder().max_entries(500).build();
    /// ```
    pub fn builder() -> MemoryBackendBuilder {
        MemoryBackendBuilder {
            max_entries: Self::DEFAULT_MAX_ENTRIES,
        }
    }

    /// How many entries it holds, including generation tokens and expired
    /// entries not yet swept.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(memo_core::MemoryBackend::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether it holds no entries.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(memo_core::MemoryBackend::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read_generation(&self, generation_key: &str) -> Option<Generation> {
        let bytes = self.store.get(generation_key)?;
        Some(Generation::from_le_bytes(bytes[..].try_into().ok()?))
    }

    fn write_generation(&self, generation_key: &str, generation: Generation) {
        let bytes: Arc<[u8]> = Arc::from(&generation.to_le_bytes()[..]);
        self.store.set(generation_key.into(), bytes, None);
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("len", &self.len())
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl MemoryBackendBuilder {
    /// The most entries the backend holds (default 100 000; at least 1).
    /// Costs about 100 bytes per entry plus the key and value.
    ///
    /// # Examples
    ///
    /// ```
    /// let backend = memo_core::MemoryBackend::builder().max_entries(10).build();
    /// ```
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    /// Builds the backend.
    ///
    /// # Examples
    ///
    /// ```
    /// let backend = memo_core::MemoryBackend::builder().build();
    /// ```
    pub fn build(self) -> MemoryBackend {
        MemoryBackend {
            store: Arc::new(Store::new(Some(self.max_entries))),
            max_entries: self.max_entries,
        }
    }
}

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn blocks(&self) -> bool {
        false
    }

    fn get(&self, generation_key: &str, key: &str) -> Result<Fetched, Error> {
        Ok(Fetched {
            generation: self.read_generation(generation_key),
            value: self.store.get(key).map(|bytes| bytes.to_vec()),
        })
    }

    fn get_value(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.store.get(key).map(|bytes| bytes.to_vec()))
    }

    fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), Error> {
        let ttl = clock::ticks(ttl);
        self.store.set(key.into(), Arc::from(value), Some(ttl));
        Ok(())
    }

    fn set_if(
        &self,
        key: &str,
        expect: Expect<'_>,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, Error> {
        let ttl = clock::ticks(ttl);
        let holds = |held: Option<&Arc<[u8]>>| expect.holds(held.map(|held| &held[..]));
        Ok(self
            .store
            .set_if(key.into(), holds, Arc::from(value), Some(ttl)))
    }

    fn delete(&self, key: &str) -> Result<(), Error> {
        self.store.remove(key);
        Ok(())
    }

    fn generation(&self, generation_key: &str) -> Result<Generation, Error> {
        if let Some(generation) = self.read_generation(generation_key) {
            return Ok(generation);
        }
        // Create-if-absent: the first writer wins, later racers read its token.
        let created = new_generation();
        let stored = Arc::from(&created.to_le_bytes()[..]);
        match self
            .store
            .insert_if_absent(generation_key.into(), stored, None)
        {
            Ok(()) => Ok(created),
            Err(winner) => Ok(winner[..]
                .try_into()
                .map_or(created, Generation::from_le_bytes)),
        }
    }

    fn try_lock(&self, key: &str, token: u64, ttl: Duration) -> Result<bool, Error> {
        let held = Arc::from(&token.to_le_bytes()[..]);
        Ok(self
            .store
            .insert_if_absent(key.into(), held, Some(clock::ticks(ttl)))
            .is_ok())
    }

    fn unlock(&self, key: &str, token: u64) -> Result<(), Error> {
        self.store
            .remove_if(key, |held| held[..] == token.to_le_bytes());
        Ok(())
    }

    fn new_generation(&self, generation_key: &str) -> Result<Generation, Error> {
        let generation = new_generation();
        self.write_generation(generation_key, generation);
        Ok(generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    /// The embedded backend keeps its bound, and the policy's promises, as
    /// L1 does: entries read often survive a stream of one-time keys, and
    /// a key just written is never the one evicted.
    #[test]
    fn the_bound_holds_and_read_entries_survive_one_time_keys() {
        let backend = MemoryBackend::builder().max_entries(200).build();
        for k in 0..20 {
            backend.set(&format!("hot:{k}"), b"h", TTL).unwrap();
        }
        for round in 0..3 {
            for k in 0..20 {
                assert!(
                    backend.get_value(&format!("hot:{k}")).unwrap().is_some(),
                    "round {round}"
                );
            }
        }
        for once in 0..5_000 {
            let key = format!("once:{once}");
            backend.set(&key, b"o", TTL).unwrap();
            assert!(
                backend.get_value(&key).unwrap().is_some(),
                "the write was evicted at once"
            );
            assert!(
                backend.len() <= 200,
                "{} entries over a bound of 200",
                backend.len()
            );
            if once % 100 == 0 {
                for k in 0..20 {
                    assert!(
                        backend.get_value(&format!("hot:{k}")).unwrap().is_some(),
                        "hot:{k} lost to one-time keys at {once}"
                    );
                }
            }
        }
        assert!(
            backend
                .set_if("once:new", Expect::Absent, b"n", TTL)
                .unwrap(),
            "compare-and-set inserts past the bound too"
        );
        assert!(backend.len() <= 200);
    }
}
