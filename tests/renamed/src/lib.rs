//! Cached functions whose expansion must reach memo-core through the path
//! their `crate = ...` gives: this crate depends on memo-core as `memo`, so
//! `::memo_core` does not resolve here.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A facade of the kind an application's shared crate might export.
pub mod facade {
    pub use memo as cache;
}

/// Bodies run, by every function below.
pub static RUNS: AtomicUsize = AtomicUsize::new(0);

/// A `#[quickcache]` through the renamed dependency, serde's string form.
#[memo::quickcache(crate = "memo", vary_on = [id], timeout = 60)]
pub fn profile(id: u64, _trace: &str) -> String {
    RUNS.fetch_add(1, Ordering::SeqCst);
    format!("profile {id}")
}

/// An async `#[quickcache]` with the lock, through a facade path.
#[facade::cache::quickcache(crate = crate::facade::cache, lock = true)]
pub async fn report(day: u32) -> Result<String, String> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(format!("report {day}"))
}

/// A `#[memoized]` through the renamed dependency.
#[memo::memoized(crate = "memo", max_entries = 16)]
pub fn square(x: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    x * x
}

/// A type with a per-instance `#[memoized]` method.
#[derive(Default)]
pub struct Catalog {
    memos: memo::Memos,
}

impl memo::HasMemos for Catalog {
    fn memos(&self) -> &memo::Memos {
        &self.memos
    }
}

impl Catalog {
    /// A per-instance memoized method.
    #[memo::memoized(crate = "memo")]
    pub fn price(&self, item: u32) -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        u64::from(item) * 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs() -> usize {
        RUNS.load(Ordering::SeqCst)
    }

    #[test]
    fn every_companion_works_through_the_given_path() {
        let before = runs();
        assert_eq!(profile(1, "a"), "profile 1");
        assert_eq!(profile(1, "b"), "profile 1");
        assert_eq!(square(12), 144);
        assert_eq!(square(12), 144);
        let catalog = Catalog::default();
        assert_eq!(catalog.price(3), 300);
        assert_eq!(catalog.price(3), 300);
        assert_eq!(runs(), before + 3);

        profile::clear(1, "").unwrap();
        assert_eq!(profile::get_cached_value(1, ""), None);
        profile::set_cached_value(2, "")
            .to("primed".into())
            .unwrap();
        assert_eq!(profile(2, ""), "primed");
        assert!(profile::cache_key(2, "").unwrap().contains("profile"));
        square::clear(12);
        assert_eq!(square(12), 144);
        assert_eq!(runs(), before + 4);

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert_eq!(report(7).await.unwrap(), "report 7");
            assert_eq!(report(7).await.unwrap(), "report 7");
            report::invalidate().await.unwrap();
        });
        assert_eq!(runs(), before + 5);
    }
}
