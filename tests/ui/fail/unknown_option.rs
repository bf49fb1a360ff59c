use memo_core::{memoized, quickcache};

#[quickcache(timeout = 10, ttl = 5)]
fn f(x: u32) -> u32 {
    x
}

#[memoized(vary_on = [x])]
fn g(x: u32) -> u32 {
    x
}

fn main() {}
