use memo_core::{memoized, quickcache};

fn takes_nothing() {}

#[quickcache(on_hit = takes_nothing)]
fn f(x: u32) -> u32 {
    x
}

#[memoized(on_miss = takes_nothing)]
fn g(x: u32) -> u32 {
    x
}

fn main() {}
