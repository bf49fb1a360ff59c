use memo_core::{memoized, quickcache};

#[quickcache(backend = "")]
fn empty(x: u32) -> u32 {
    x
}

#[quickcache(backend = reports)]
fn not_a_string(x: u32) -> u32 {
    x
}

#[memoized(backend = "reports")]
fn local(x: u32) -> u32 {
    x
}

fn main() {}
