use memo_core::{memoized, quickcache};

// Names no parameter.
#[quickcache(skip = refresh)]
fn a(x: u32, fresh: bool) -> u32 {
    let _ = fresh;
    x
}

// Also in the key.
#[quickcache(vary_on = [x, fresh], skip = fresh)]
fn b(x: u32, fresh: bool) -> u32 {
    let _ = fresh;
    x
}

// Not a `bool`.
#[quickcache(vary_on = [x], skip = fresh)]
fn c(x: u32, fresh: u8) -> u32 {
    let _ = fresh;
    x
}

// `#[memoized]` keys on every argument: no `skip`.
#[memoized(skip = fresh)]
fn d(x: u32, fresh: bool) -> u32 {
    let _ = fresh;
    x
}

fn main() {}
