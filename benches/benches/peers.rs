//! memo against the peers, in one run. `benches/run.sh` runs it and writes
//! `benches/RESULTS.md` with the ratios.
//!
//! Shapes, the same for every contender: a `u64` key and a 64-byte `String`
//! value; a `(u64, &str)` key; a newtype key (`UserId(u64)`, which
//! `#[quickcache]`'s L1 keys by its encoding); a ~1 KB struct value.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use memo_core::{memoized, quickcache};
use serde::{Deserialize, Serialize};

const KEYS: u64 = 1024;
const HOT_KEYS: u64 = 16;

fn value_of(k: u64) -> String {
    format!("{k:064}")
}

#[memoized]
fn memo_hit(k: u64) -> String {
    value_of(k)
}

#[quickcache(memoize_timeout = 3600, max_entries = 100_000)]
fn quick_hit(k: u64) -> String {
    value_of(k)
}

#[cached::macros::cached(max_size = 100_000)]
fn cached_hit(k: u64) -> String {
    value_of(k)
}

#[cached::macros::concurrent_cached(max_size = 100_000)]
fn concurrent_cached_hit(k: u64) -> String {
    value_of(k)
}

#[memoized]
fn memo_tuple(k: u64, tag: &str) -> String {
    format!("{k:032}{tag:>32}")
}

#[quickcache(memoize_timeout = 3600)]
fn quick_tuple(k: u64, tag: &str) -> String {
    format!("{k:032}{tag:>32}")
}

/// A user type: `#[quickcache]`'s L1 keys it by its encoding, where a
/// plain `u64` is keyed by value (`key::typed`). The same key otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
struct UserId(u64);

#[memoized]
fn memo_user(id: UserId) -> String {
    value_of(id.0)
}

#[quickcache(memoize_timeout = 3600)]
fn quick_user(id: UserId) -> String {
    value_of(id.0)
}

#[derive(Clone, Serialize, Deserialize)]
struct Row {
    id: u64,
    name: String,
    tags: Vec<String>,
    scores: Vec<u32>,
}

fn row_of(id: u64) -> Row {
    Row {
        id,
        name: format!("row {id:>60}"),
        tags: (0..8).map(|t| format!("tag-{t:>26}")).collect(),
        scores: (0..150).map(|s| s as u32 * 7).collect(),
    }
}

#[memoized]
fn memo_row(k: u64) -> Row {
    row_of(k)
}

#[quickcache(memoize_timeout = 3600)]
fn quick_row(k: u64) -> Row {
    row_of(k)
}

/// Runs `op(i)` `iters` times on each of `threads` threads started together;
/// the time per op per thread.
fn threaded(threads: usize, iters: u64, op: impl Fn(u64) + Sync) -> Duration {
    at_once(threads as u64, iters, |t, i| op(i.wrapping_mul(t + 1)))
}

/// Runs `iters` calls of `op(thread, i)` spread over `threads` threads
/// started together; the wall time, so criterion reports time per op over
/// all threads (the inverse of throughput).
fn spread(threads: u64, iters: u64, op: impl Fn(u64, u64) + Sync) -> Duration {
    at_once(threads, iters.div_ceil(threads), op)
}

/// Runs `op(thread, i)` for `i` in `0..per_thread` on each of `threads`
/// threads started together; the wall time from start to the last one done.
fn at_once(threads: u64, per_thread: u64, op: impl Fn(u64, u64) + Sync) -> Duration {
    let barrier = Barrier::new(threads as usize + 1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (barrier, op) = (&barrier, &op);
            s.spawn(move || {
                barrier.wait();
                for i in 0..per_thread {
                    op(t, i);
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn l1_hits(c: &mut Criterion) {
    let dashmap: dashmap::DashMap<u64, String> = dashmap::DashMap::new();
    let moka = moka::sync::Cache::<u64, String>::new(100_000);
    let quick = quick_cache::sync::Cache::<u64, String>::new(100_000);
    for k in 0..KEYS {
        dashmap.insert(k, value_of(k));
        moka.insert(k, value_of(k));
        quick.insert(k, value_of(k));
        memo_hit(k);
        quick_hit(k);
        cached_hit(k);
        concurrent_cached_hit(k);
    }
    type Contender<'a> = (&'a str, Box<dyn Fn(u64) -> String + Sync + 'a>);
    let contenders: Vec<Contender<'_>> = vec![
        (
            "dashmap_get_clone",
            Box::new(|k| dashmap.get(&k).map(|v| v.clone()).unwrap_or_default()),
        ),
        ("memo_memoized", Box::new(memo_hit)),
        ("memo_quickcache_l1", Box::new(quick_hit)),
        ("moka_sync", Box::new(|k| moka.get(&k).unwrap_or_default())),
        (
            "quick_cache",
            Box::new(|k| quick.get(&k).unwrap_or_default()),
        ),
        ("cached_cached", Box::new(cached_hit)),
        ("cached_concurrent_cached", Box::new(concurrent_cached_hit)),
    ];
    let mut one = c.benchmark_group("l1_hit_1_thread");
    for (name, get) in &contenders {
        one.bench_function(*name, |b| {
            let mut k = 0;
            b.iter(|| {
                k = (k + 1) % KEYS;
                black_box(get(black_box(k)))
            })
        });
    }
    one.finish();
    let mut two = c.benchmark_group("l1_hit_2_threads_hot_keys");
    for (name, get) in &contenders {
        two.bench_function(*name, |b| {
            b.iter_custom(|iters| threaded(2, iters, |i| drop(black_box(get(i % HOT_KEYS)))))
        });
    }
    two.finish();

    let mut shapes = c.benchmark_group("l1_hit_shapes");
    let tuples: dashmap::DashMap<(u64, String), String> = dashmap::DashMap::new();
    let rows: dashmap::DashMap<u64, Row> = dashmap::DashMap::new();
    let users: dashmap::DashMap<UserId, String> = dashmap::DashMap::new();
    let moka_rows = moka::sync::Cache::<u64, Row>::new(10_000);
    for k in 0..KEYS {
        tuples.insert((k, "tenant".into()), memo_tuple(k, "tenant"));
        quick_tuple(k, "tenant");
        users.insert(UserId(k), value_of(k));
        memo_user(UserId(k));
        quick_user(UserId(k));
        rows.insert(k, row_of(k));
        moka_rows.insert(k, row_of(k));
        memo_row(k);
        quick_row(k);
    }
    let mut k = 0;
    let mut next = move || {
        k = (k + 1) % KEYS;
        k
    };
    shapes.bench_function("tuple_key/dashmap_get_clone", |b| {
        b.iter(|| {
            black_box(
                tuples
                    .get(&(next(), "tenant".to_string()))
                    .map(|v| v.clone()),
            )
        })
    });
    shapes.bench_function("tuple_key/memo_memoized", |b| {
        b.iter(|| black_box(memo_tuple(next(), "tenant")))
    });
    shapes.bench_function("tuple_key/memo_quickcache_l1", |b| {
        b.iter(|| black_box(quick_tuple(next(), "tenant")))
    });
    shapes.bench_function("encoded_key/dashmap_get_clone", |b| {
        b.iter(|| black_box(users.get(&UserId(next())).map(|v| v.clone())))
    });
    shapes.bench_function("encoded_key/memo_memoized", |b| {
        b.iter(|| black_box(memo_user(UserId(next()))))
    });
    shapes.bench_function("encoded_key/memo_quickcache_l1", |b| {
        b.iter(|| black_box(quick_user(UserId(next()))))
    });
    shapes.bench_function("1kb_value/dashmap_get_clone", |b| {
        b.iter(|| black_box(rows.get(&next()).map(|v| v.clone())))
    });
    shapes.bench_function("1kb_value/moka_sync", |b| {
        b.iter(|| black_box(moka_rows.get(&next())))
    });
    shapes.bench_function("1kb_value/memo_memoized", |b| {
        b.iter(|| black_box(memo_row(next())))
    });
    shapes.bench_function("1kb_value/memo_quickcache_l1", |b| {
        b.iter(|| black_box(quick_row(next())))
    });
    shapes.finish();
}

static FRESH: AtomicU64 = AtomicU64::new(1 << 40);

#[memoized(max_entries = 100_000)]
fn memo_miss(k: u64) -> u64 {
    k
}

#[quickcache(max_entries = 100_000)]
fn quick_miss(k: u64) -> u64 {
    k
}

#[cached::macros::cached(max_size = 100_000)]
fn cached_miss(k: u64) -> u64 {
    k
}

fn misses(c: &mut Criterion) {
    let mut group = c.benchmark_group("miss_overhead");
    let fresh = || FRESH.fetch_add(1, Ordering::Relaxed);
    group.bench_function("memo_memoized", |b| {
        b.iter(|| black_box(memo_miss(fresh())))
    });
    group.bench_function("memo_quickcache_embedded", |b| {
        b.iter(|| black_box(quick_miss(fresh())))
    });
    group.bench_function("cached_cached", |b| {
        b.iter(|| black_box(cached_miss(fresh())))
    });
    group.finish();
}

#[quickcache(
    name = "bench::sized",
    timeout = 3600,
    memoize_timeout = 3600,
    max_entries = 10_000
)]
fn sized(k: u64) -> u64 {
    k
}

fn invalidation(c: &mut Criterion) {
    let mut group = c.benchmark_group("invalidate");
    memo_core::set_backend(
        memo_core::MemoryBackend::builder()
            .max_entries(2_000_000)
            .build(),
    );
    let mut filled = 0;
    for entries in [1u64, 10_000, 1_000_000] {
        while filled < entries {
            sized(filled);
            filled += 1;
        }
        group.bench_with_input(
            BenchmarkId::new("quickcache_embedded", entries),
            &entries,
            |b, _| b.iter(|| sized::invalidate().unwrap()),
        );
    }
    group.finish();
    let mut group = c.benchmark_group("clear");
    group.bench_function("quickcache_embedded", |b| {
        b.iter(|| sized::clear(black_box(7)).unwrap())
    });
    group.bench_function("memoized", |b| b.iter(|| memo_hit::clear(black_box(7))));
    group.finish();
}

#[derive(Serialize, Deserialize)]
struct KeyShape<'a>(u64, &'a str);

/// Encoding `value` with each codec, into a reused buffer where the codec
/// allows it.
fn encodes<T: Serialize>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    label: &str,
    value: &T,
) {
    let config = bincode::config::standard();
    let mut buf = Vec::with_capacity(2048);
    group.bench_function(format!("{label}/bincode"), |b| {
        b.iter(|| {
            buf.clear();
            bincode::serde::encode_into_std_write(black_box(value), &mut buf, config).unwrap();
        })
    });
    group.bench_function(format!("{label}/postcard"), |b| {
        b.iter(|| {
            buf.clear();
            buf = postcard::to_extend(black_box(value), std::mem::take(&mut buf)).unwrap();
        })
    });
    group.bench_function(format!("{label}/bitcode"), |b| {
        b.iter(|| black_box(bitcode::serialize(black_box(value)).unwrap()))
    });
}

fn codecs(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    let key = KeyShape(42, "tenant-example.org");
    let row = row_of(7);
    let config = bincode::config::standard();
    encodes(&mut group, "key_encode", &key);
    encodes(&mut group, "value_encode", &row);
    let bincoded = bincode::serde::encode_to_vec(&row, config).unwrap();
    let postcarded = postcard::to_allocvec(&row).unwrap();
    let bitcoded = bitcode::serialize(&row).unwrap();
    group.bench_function("value_decode/bincode", |b| {
        b.iter(|| {
            black_box(
                bincode::serde::decode_from_slice::<Row, _>(black_box(&bincoded), config).unwrap(),
            )
        })
    });
    group.bench_function("value_decode/postcard", |b| {
        b.iter(|| black_box(postcard::from_bytes::<Row>(black_box(&postcarded)).unwrap()))
    });
    group.bench_function("value_decode/bitcode", |b| {
        b.iter(|| black_box(bitcode::deserialize::<Row>(black_box(&bitcoded)).unwrap()))
    });
    group.finish();
    eprintln!(
        "codec sizes of the 1 KB row: bincode {} B, postcard {} B, bitcode {} B",
        bincoded.len(),
        postcarded.len(),
        bitcoded.len()
    );
}

#[quickcache(memoize_timeout = 3600)]
fn contended_quick(k: u64) -> String {
    value_of(k)
}

#[memoized]
fn contended_memo(k: u64) -> String {
    value_of(k)
}

#[cached::macros::cached(sync_writes = "by_key", max_size = 100_000)]
fn contended_cached(k: u64) -> String {
    value_of(k)
}

fn contention(c: &mut Criterion) {
    let moka = moka::sync::Cache::<u64, String>::new(100_000);
    let mut group = c.benchmark_group("contention_get_or_compute");
    for threads in [2usize, 4] {
        group.bench_with_input(
            BenchmarkId::new("memo_memoized", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    threaded(t, iters, |i| drop(black_box(contended_memo(i % HOT_KEYS))))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("memo_quickcache", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    threaded(t, iters, |i| drop(black_box(contended_quick(i % HOT_KEYS))))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("cached_sync_writes", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    threaded(t, iters, |i| {
                        drop(black_box(contended_cached(i % HOT_KEYS)))
                    })
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("moka_get_with", threads),
            &threads,
            |b, &t| {
                b.iter_custom(|iters| {
                    threaded(t, iters, |i| {
                        let k = i % HOT_KEYS;
                        drop(black_box(moka.get_with(k, || value_of(k))));
                    })
                })
            },
        );
    }
    group.finish();
}

#[quickcache(name = "bench::l2", timeout = 3600, memoize_timeout = 0)]
fn l2_hit(k: u64) -> String {
    value_of(k)
}

#[quickcache(name = "bench::l2_async", timeout = 3600, memoize_timeout = 0)]
async fn l2_hit_async(k: u64) -> String {
    value_of(k)
}

fn redis_tier(c: &mut Criterion) {
    let Ok(url) = std::env::var("MEMO_BENCH_REDIS") else {
        eprintln!(
            "MEMO_BENCH_REDIS is not set: skipping the Redis benches (benches/run.sh sets it)"
        );
        return;
    };
    let backend = memo_redis::RedisBackend::connect(&url).expect("valid MEMO_BENCH_REDIS");
    memo_core::set_backend(backend);
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut raw = client.get_connection().unwrap();
    let cached_store = cached::RedisCache::<u64, String>::builder("bench-cached")
        .ttl_secs(3600)
        .connection_string(&url)
        .build()
        .unwrap();
    for k in 0..KEYS {
        l2_hit(k);
        let _: () = redis::cmd("SET")
            .arg(format!("raw:{k}"))
            .arg(value_of(k))
            .query(&mut raw)
            .unwrap();
        cached::ConcurrentCached::cache_set(&cached_store, k, value_of(k)).unwrap();
    }
    let mut group = c.benchmark_group("l2_redis_hit_sync");
    let mut k = 0;
    let mut next = move || {
        k = (k + 1) % KEYS;
        k
    };
    group.bench_function("raw_get", |b| {
        b.iter(|| {
            black_box(
                redis::cmd("GET")
                    .arg(format!("raw:{}", next()))
                    .query::<String>(&mut raw)
                    .unwrap(),
            )
        })
    });
    group.bench_function("memo_quickcache", |b| b.iter(|| black_box(l2_hit(next()))));
    group.bench_function("cached_redis_store", |b| {
        b.iter(|| black_box(cached::ConcurrentCached::cache_get(&cached_store, &next()).unwrap()))
    });
    group.finish();

    // 64 threads at once: raw GETs on a connection of each thread's own
    // against memo's pool and `cached`'s; time per op over all threads.
    const THREADS: u64 = 64;
    let key_of = |t: u64, i: u64| (i + t * 7) % KEYS;
    let raw_conns: Vec<std::sync::Mutex<redis::Connection>> = (0..THREADS)
        .map(|_| std::sync::Mutex::new(client.get_connection().unwrap()))
        .collect();
    let mut group = c.benchmark_group("l2_redis_hit_sync_64_threads");
    group.bench_function("raw_get", |b| {
        b.iter_custom(|iters| {
            spread(THREADS, iters, |t, i| {
                let mut conn = raw_conns[t as usize].lock().unwrap();
                let value: String = redis::cmd("GET")
                    .arg(format!("raw:{}", key_of(t, i)))
                    .query(&mut *conn)
                    .unwrap();
                black_box(value);
            })
        })
    });
    group.bench_function("memo_quickcache", |b| {
        b.iter_custom(|iters| spread(THREADS, iters, |t, i| drop(black_box(l2_hit(key_of(t, i))))))
    });
    group.bench_function("cached_redis_store", |b| {
        b.iter_custom(|iters| {
            spread(THREADS, iters, |t, i| {
                black_box(
                    cached::ConcurrentCached::cache_get(&cached_store, &key_of(t, i)).unwrap(),
                );
            })
        })
    });
    group.finish();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let multiplexed = runtime
        .block_on(client.get_multiplexed_async_connection())
        .unwrap();
    let cached_async = runtime.block_on(async {
        for k in 0..KEYS {
            l2_hit_async(k).await;
        }
        cached::AsyncRedisCache::<u64, String>::builder("bench-cached")
            .ttl_secs(3600)
            .connection_string(&url)
            .build()
            .await
            .unwrap()
    });
    let mut group = c.benchmark_group("l2_redis_hit_async");
    for tasks in [1u64, 64] {
        let key_of = move |t: u64, i: u64| (i + t * 7) % KEYS;
        group.bench_with_input(
            BenchmarkId::new("raw_get_multiplexed", tasks),
            &tasks,
            |b, &tasks| {
                b.iter_custom(|iters| {
                    concurrently(&runtime, tasks, iters, |t, n| {
                        let mut conn = multiplexed.clone();
                        async move {
                            for i in 0..n {
                                let v: String = redis::cmd("GET")
                                    .arg(format!("raw:{}", key_of(t, i)))
                                    .query_async(&mut conn)
                                    .await
                                    .unwrap();
                                black_box(v);
                            }
                        }
                    })
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("memo_quickcache", tasks),
            &tasks,
            |b, &tasks| {
                b.iter_custom(|iters| {
                    concurrently(&runtime, tasks, iters, |t, n| async move {
                        for i in 0..n {
                            black_box(l2_hit_async(key_of(t, i)).await);
                        }
                    })
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("cached_redis_store", tasks),
            &tasks,
            |b, &tasks| {
                b.iter_custom(|iters| {
                    concurrently(&runtime, tasks, iters, |t, n| {
                        let store = cached_async.clone();
                        async move {
                            for i in 0..n {
                                let key = key_of(t, i);
                                let found =
                                    cached::ConcurrentCachedAsync::async_cache_get(&store, &key);
                                black_box(found.await.unwrap());
                            }
                        }
                    })
                })
            },
        );
    }
    group.finish();
}

/// Spawns `tasks` tasks at once, task `t` made by `task(t, n)` to run `n`
/// of the `iters` operations; the wall time until all are done.
fn concurrently<F>(
    runtime: &tokio::runtime::Runtime,
    tasks: u64,
    iters: u64,
    task: impl Fn(u64, u64) -> F,
) -> Duration
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    runtime.block_on(async {
        let per_task = iters.div_ceil(tasks);
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| tokio::spawn(task(t, per_task)))
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        start.elapsed()
    })
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = l1_hits, misses, contention, codecs, invalidation, redis_tier
}
criterion_main!(benches);
