//! Memory per cached entry: resident memory grown by 100 000 inserts, each
//! contender in a fresh process (so no allocator reuse between them): memo's
//! L1 and `#[memoized]` against the peers; and 100 000 instances with a
//! per-instance `#[memoized]` method called once each, against instances
//! holding a `DashMap` of their own. Prints Markdown rows for
//! `benches/RESULTS.md`. Linux only (reads `/proc/self/statm`).

use std::process::Command;

use memo_core::{memoized, quickcache, HasMemos, Memos};

const ENTRIES: u64 = 100_000;
const PAGE: u64 = 4096;

fn value_of(k: u64) -> String {
    format!("{k:064}")
}

#[memoized]
fn memo(k: u64) -> String {
    value_of(k)
}

#[quickcache(memoize_timeout = 3600, max_entries = 200_000)]
fn quick(k: u64) -> String {
    value_of(k)
}

#[derive(Default)]
struct Account {
    id: u64,
    memos: Memos,
}

impl HasMemos for Account {
    fn memos(&self) -> &Memos {
        &self.memos
    }
}

impl Account {
    #[memoized]
    fn statement(&self, month: u64) -> String {
        value_of(self.id * 100 + month)
    }
}

fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * PAGE
}

const CONTENDERS: [&str; 7] = [
    "dashmap",
    "memoized",
    "quickcache_l1",
    "moka",
    "quick_cache",
    "per_instance/dashmap",
    "per_instance/memoized",
];

fn measure(name: &str) -> f64 {
    // The embedded shared tier keeps at most one entry, so only L1 counts.
    memo_core::set_backend(memo_core::MemoryBackend::builder().max_entries(1).build());
    let warm = value_of(1);
    drop(warm);
    let before = resident();
    let keep: Box<dyn std::any::Any> = match name {
        "dashmap" => {
            let map = dashmap::DashMap::new();
            (0..ENTRIES).for_each(|k| drop(map.insert(k, value_of(k))));
            Box::new(map)
        }
        "memoized" => {
            (0..ENTRIES).for_each(|k| drop(memo(k)));
            Box::new(())
        }
        "quickcache_l1" => {
            (0..ENTRIES).for_each(|k| drop(quick(k)));
            Box::new(())
        }
        "moka" => {
            let cache = moka::sync::Cache::new(200_000);
            (0..ENTRIES).for_each(|k| cache.insert(k, value_of(k)));
            cache.run_pending_tasks();
            Box::new(cache)
        }
        "quick_cache" => {
            let cache = quick_cache::sync::Cache::new(200_000);
            (0..ENTRIES).for_each(|k| cache.insert(k, value_of(k)));
            Box::new(cache)
        }
        "per_instance/dashmap" => {
            let instances: Vec<(u64, dashmap::DashMap<u64, String>)> = (0..ENTRIES)
                .map(|id| {
                    let map = dashmap::DashMap::new();
                    map.insert(1, value_of(id * 100 + 1));
                    (id, map)
                })
                .collect();
            Box::new(instances)
        }
        "per_instance/memoized" => {
            let instances: Vec<Account> = (0..ENTRIES)
                .map(|id| {
                    let account = Account {
                        id,
                        ..Default::default()
                    };
                    drop(account.statement(1));
                    account
                })
                .collect();
            Box::new(instances)
        }
        other => panic!("unknown contender {other}"),
    };
    let grown = resident().saturating_sub(before);
    drop(keep);
    grown as f64 / ENTRIES as f64
}

fn main() {
    if let Some(name) = std::env::args().nth(1) {
        println!("{}", measure(&name));
        return;
    }
    let me = std::env::current_exe().expect("own path");
    println!("| contender | resident bytes per entry (64-byte `String` value included) |");
    println!("|---|---|");
    for name in CONTENDERS {
        let out = Command::new(&me)
            .arg(name)
            .output()
            .expect("run a measurement");
        let bytes: f64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(f64::NAN);
        println!("| {name} | {bytes:.0} |");
    }
}
