//! A loop of L1 hits, for profiling the hit path with callgrind:
//! `valgrind --tool=callgrind target/release/hitloop`.

use memo_core::quickcache;

fn value_of(k: u64) -> String {
    format!("{k:064}")
}

#[quickcache(memoize_timeout = 3600, max_entries = 100_000)]
fn quick_hit(k: u64) -> String {
    value_of(k)
}

fn main() {
    for k in 0..1024 {
        quick_hit(k);
    }
    let mut total = 0;
    for i in 0..200_000u64 {
        total += quick_hit(i % 1024).len();
    }
    println!("{total}");
}
