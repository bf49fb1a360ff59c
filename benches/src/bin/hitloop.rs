//! Loops of L1 hits and of misses, for profiling with callgrind:
//! `valgrind --tool=callgrind target/release/hitloop [hit|miss]`.

use memo_core::{memoized, quickcache};

fn value_of(k: u64) -> String {
    format!("{k:064}")
}

#[quickcache(memoize_timeout = 3600, max_entries = 100_000)]
fn quick_hit(k: u64) -> String {
    value_of(k)
}

#[memoized(max_entries = 100_000)]
fn memo_miss(k: u64) -> u64 {
    k
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "hit".into());
    let mut total = 0;
    if mode == "miss" {
        for k in 0..300_000u64 {
            total += memo_miss(k);
        }
    } else {
        for k in 0..1024 {
            quick_hit(k);
        }
        for i in 0..200_000u64 {
            total += quick_hit(i % 1024).len() as u64;
        }
    }
    println!("{total}");
}
