use memo_core::{memoized, quickcache};

#[quickcache(store_result = false)]
fn returns_a_value(x: u32) -> u32 {
    x
}

#[quickcache(store_result = false, min_time = 1)]
fn slow(x: u32) {
    let _ = x;
}

#[memoized(store_result = false)]
fn local(x: u32) {
    let _ = x;
}

fn main() {}
