use memo_core::{memoized, quickcache};

#[quickcache(cache_errors = true)]
fn optional(id: u64) -> Option<u64> {
    Some(id)
}

#[memoized(cache_none = false)]
fn fallible(id: u64) -> Result<u64, String> {
    Ok(id)
}

#[quickcache(cache_errors = "yes")]
fn quoted(id: u64) -> Result<u64, String> {
    Ok(id)
}

type Answer = Result<u64, String>;

#[quickcache(cache_errors = false, cache_none = false)]
fn both(id: u64) -> Answer {
    Ok(id)
}

fn main() {}
