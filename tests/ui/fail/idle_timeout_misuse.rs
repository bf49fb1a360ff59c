use memo_core::{memoized, quickcache};

#[memoized(idle_timeout = 60, timeout = 600)]
fn both(x: u32) -> u32 {
    x
}

#[memoized(idle_timeout = 0)]
fn zero(x: u32) -> u32 {
    x
}

#[quickcache(idle_timeout = 60)]
fn shared(x: u32) -> u32 {
    x
}

fn main() {}
