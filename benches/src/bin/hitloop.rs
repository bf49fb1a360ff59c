//! Loops of L1 hits, misses and Redis hits, for profiling with callgrind:
//! `valgrind --tool=callgrind target/release/hitloop [hit|memoized|miss|l2|raw]`
//! (`hit`: `#[quickcache]` L1 hits; `memoized`: `#[memoized]` hits;
//! `miss`, `qmiss`: `#[memoized]` and `#[quickcache]` misses on the embedded
//! backend;
//! `dashmap`, `quick_cache`, `cached`: the same loop on the peers of the
//! `l1_hit_1_thread` bench, to compare instructions per hit;
//! (`l2` and `raw`: async hits from 64 tasks on one thread, memo's against
//! raw GETs on the same kind of multiplexed connection, 500 per task or the
//! number given after the mode; they need `MEMO_BENCH_REDIS=redis://...`).
//! `MEMO_HITS=100000000` makes the hit loops long enough for a sampling
//! profiler (`perf record`, then `perf annotate`): that is how the stalls on
//! reloading a fresh clone were found, which callgrind cannot show.
//! Under valgrind the `memo-clock` thread seldom runs (valgrind runs one
//! thread at a time), so a hit with a deadline reads the clock itself:
//! ~40 instructions per hit that a real run does not spend (`perf`: 0.02%).

use memo_core::{memoized, quickcache};

fn value_of(k: u64) -> String {
    format!("{k:064}")
}

#[quickcache(memoize_timeout = 3600, max_entries = 100_000)]
fn quick_hit(k: u64) -> String {
    value_of(k)
}

#[memoized]
fn memo_hit(k: u64) -> String {
    value_of(k)
}

#[cached::macros::cached(max_size = 100_000)]
fn cached_hit(k: u64) -> String {
    value_of(k)
}

#[quickcache(max_entries = 100_000)]
fn quick_miss(k: u64) -> u64 {
    k
}

#[memoized(max_entries = 100_000)]
fn memo_miss(k: u64) -> u64 {
    k
}

#[quickcache(name = "hitloop::l2", timeout = 3600, memoize_timeout = 0)]
async fn l2_hit(k: u64) -> String {
    value_of(k)
}

const TASKS: u64 = 64;
const KEYS: u64 = 1024;

/// `per_task` async hits from each of 64 tasks; `raw`: plain GETs instead.
fn redis_loop(raw: bool, per_task: u64) -> u64 {
    let url = std::env::var("MEMO_BENCH_REDIS").expect("MEMO_BENCH_REDIS=redis://...");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    memo_core::set_backend(memo_redis::RedisBackend::connect(&url).expect("redis"));
    // Until the invalidation channel is up, a hit also reads the generation
    // (two GETs instead of one): give the subscriber time to connect, so
    // that runs count the same path.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let client = redis::Client::open(url.as_str()).expect("url");
    runtime.block_on(async move {
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connection");
        for k in 0..KEYS {
            let mut c = conn.clone();
            let _: () = redis::cmd("SET")
                .arg(format!("raw:{k}"))
                .arg(value_of(k))
                .query_async(&mut c)
                .await
                .expect("SET");
            l2_hit(k).await;
        }
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let mut conn = conn.clone();
                tokio::spawn(async move {
                    let mut total = 0;
                    for i in 0..per_task {
                        let k = (i + t * 7) % KEYS;
                        let value = if raw {
                            redis::cmd("GET")
                                .arg(format!("raw:{k}"))
                                .query_async::<String>(&mut conn)
                                .await
                                .expect("GET")
                        } else {
                            l2_hit(k).await
                        };
                        total += value.len() as u64;
                    }
                    total
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.expect("task");
        }
        total
    })
}

/// 200 000 hits on 1024 keys (after one miss each), as in `l1_hit_1_thread`;
/// as many as `MEMO_HITS` says, for a sampling profiler.
fn hits(get: impl Fn(u64) -> String) -> u64 {
    let n = std::env::var("MEMO_HITS").ok().and_then(|n| n.parse().ok());
    for k in 0..KEYS {
        get(k);
    }
    (0..n.unwrap_or(200_000u64))
        .map(|i| get(i % KEYS).len() as u64)
        .sum()
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "hit".into());
    let mut total = 0;
    match mode.as_str() {
        "miss" => {
            for k in 0..300_000u64 {
                total += memo_miss(k);
            }
        }
        "l2" | "raw" => {
            let per_task = std::env::args().nth(2).and_then(|n| n.parse().ok());
            total = redis_loop(mode == "raw", per_task.unwrap_or(500));
        }
        "qmiss" => {
            for k in 0..100_000u64 {
                total += quick_miss(k);
            }
        }
        "memoized" => total = hits(memo_hit),
        "cached" => total = hits(cached_hit),
        "dashmap" => {
            let map = dashmap::DashMap::new();
            total = hits(|k| map.entry(k).or_insert_with(|| value_of(k)).value().clone());
        }
        "papaya" => {
            let map = papaya::HashMap::<u64, String, foldhash::fast::RandomState>::default();
            total = hits(|k| {
                let map = map.pin();
                match map.get(&k) {
                    Some(value) => value.clone(),
                    None => map.get_or_insert(k, value_of(k)).clone(),
                }
            });
        }
        "quick_cache" => {
            let cache = quick_cache::sync::Cache::new(100_000);
            total = hits(|k| {
                cache.get(&k).unwrap_or_else(|| {
                    cache
                        .get_or_insert_with(&k, || Ok::<_, ()>(value_of(k)))
                        .unwrap_or_default()
                })
            });
        }
        _ => total = hits(quick_hit),
    }
    println!("{total}");
}
