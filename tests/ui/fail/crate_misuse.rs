use memo_core::{memoized, quickcache};

// Not a path, as a string.
#[quickcache(crate = "not a path")]
fn spaced(x: u64) -> u64 {
    x
}

// Not a path at all.
#[memoized(crate = 7)]
fn numbered(x: u64) -> u64 {
    x
}

// A path where memo-core is not.
#[quickcache(crate = "std")]
fn elsewhere(x: u64) -> u64 {
    x
}

fn main() {}
