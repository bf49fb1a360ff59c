//! Loops of L1 hits, misses and Redis hits, for profiling with callgrind:
//! `valgrind --tool=callgrind target/release/hitloop [hit|miss|l2|raw]`
//! (`l2` and `raw`: async hits from 64 tasks on one thread, memo's against
//! raw GETs on the same kind of multiplexed connection, 500 per task or the
//! number given after the mode; they need `MEMO_BENCH_REDIS=redis://...`).

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
        _ => {
            for k in 0..1024 {
                quick_hit(k);
            }
            for i in 0..200_000u64 {
                total += quick_hit(i % 1024).len() as u64;
            }
        }
    }
    println!("{total}");
}
