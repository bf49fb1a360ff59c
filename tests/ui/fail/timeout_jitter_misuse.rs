use memo_core::{memoized, quickcache};

#[quickcache(timeout_jitter = 1.5)]
fn f(x: u32) -> u32 {
    x
}

// Entries that never expire have nothing to spread.
#[memoized(timeout_jitter = 0.1)]
fn g(x: u32) -> u32 {
    x
}

fn main() {}
