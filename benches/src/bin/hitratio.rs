//! Hit ratios of the bounded map against the peers, at equal capacity, on
//! the same key streams: `cargo run --release -p memo-benches --bin
//! hitratio [out.svg]`. Prints a markdown table (one row per stream, one
//! column per cache) and writes a plot of hit ratio against cache size for
//! the Zipf 1.0 stream (default `benches/hitratio.svg`).
//!
//! memo's map is measured through the embedded backend (`MemoryBackend`,
//! the same `Store` as L1 and `#[memoized(max_entries)]`). Every stream is
//! deterministic (a fixed seed), every cache sees the same one, and a miss
//! inserts the key, as a cache in front of a database would.

use std::time::Duration;

use memo_core::{Backend, MemoryBackend};

/// Requests per stream.
const REQUESTS: usize = 1_000_000;
/// Requests before counting (the caches fill).
const WARMUP: usize = 100_000;
/// Keys the Zipf streams draw from: far more than any cache holds.
const KEY_SPACE: usize = 1_000_000;
/// The capacity of the table.
const CAPACITY: usize = 10_000;

/// xorshift64*: deterministic and fast; quality enough to sample keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf over `0..n` with exponent `s`, by inverse CDF on a table.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect::<Vec<_>>();
        let cumulative = cumulative.into_iter().map(|c| c / total).collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        self.cumulative.partition_point(|&c| c < u) as u64
    }
}

/// The key streams of the table.
fn streams() -> Vec<(&'static str, Vec<u64>)> {
    let zipf_08 = Zipf::new(KEY_SPACE, 0.8);
    let zipf_10 = Zipf::new(KEY_SPACE, 1.0);
    let zipf = |zipf: &Zipf, seed: u64| {
        let mut rng = Rng(seed);
        (0..REQUESTS)
            .map(|_| zipf.sample(&mut rng))
            .collect::<Vec<_>>()
    };
    // Zipf 1.0, with a scan of 5 000 one-time keys after every 10 000
    // requests (a report walking a table).
    let with_scans = {
        let mut rng = Rng(3);
        let mut keys = Vec::with_capacity(REQUESTS);
        let mut once = 1u64 << 40;
        while keys.len() < REQUESTS {
            for _ in 0..10_000 {
                keys.push(zipf_10.sample(&mut rng));
            }
            for _ in 0..5_000 {
                once += 1;
                keys.push(once);
            }
        }
        keys.truncate(REQUESTS);
        keys
    };
    // A loop over 1.2x the capacity: LRU's worst case.
    let looping = (0..REQUESTS)
        .map(|i| (i % (CAPACITY * 12 / 10)) as u64)
        .collect();
    // Zipf 1.0 whose hot set moves every 200 000 requests.
    let shifting = {
        let mut rng = Rng(5);
        (0..REQUESTS)
            .map(|i| zipf_10.sample(&mut rng) + (i / 200_000) as u64 * 100_003)
            .collect()
    };
    vec![
        ("Zipf 0.8", zipf(&zipf_08, 1)),
        ("Zipf 1.0", zipf(&zipf_10, 2)),
        ("Zipf 1.0 + scans", with_scans),
        ("loop over 1.2x capacity", looping),
        ("shifting hot set", shifting),
    ]
}

/// A cache under test: a get, and an insert after a miss.
trait Contender {
    fn name(&self) -> &'static str;
    fn get(&self, key: u64) -> bool;
    fn insert(&self, key: u64);
}

struct Memo(MemoryBackend);

impl Contender for Memo {
    fn name(&self) -> &'static str {
        "memo"
    }
    fn get(&self, key: u64) -> bool {
        matches!(self.0.get_value(&key.to_string()), Ok(Some(_)))
    }
    fn insert(&self, key: u64) {
        let _ = self
            .0
            .set(&key.to_string(), b"v", Duration::from_secs(3600));
    }
}

struct Moka(moka::sync::Cache<u64, ()>, std::cell::Cell<u64>);

impl Contender for Moka {
    fn name(&self) -> &'static str {
        "moka"
    }
    fn get(&self, key: u64) -> bool {
        self.0.get(&key).is_some()
    }
    fn insert(&self, key: u64) {
        self.0.insert(key, ());
        // moka applies evictions in batches: keep it current, as its own
        // benchmarks do.
        self.1.set(self.1.get() + 1);
        if self.1.get() & 511 == 0 {
            self.0.run_pending_tasks();
        }
    }
}

struct QuickCache(quick_cache::sync::Cache<u64, ()>);

impl Contender for QuickCache {
    fn name(&self) -> &'static str {
        "quick_cache"
    }
    fn get(&self, key: u64) -> bool {
        self.0.get(&key).is_some()
    }
    fn insert(&self, key: u64) {
        self.0.insert(key, ());
    }
}

fn contenders(capacity: usize) -> Vec<Box<dyn Contender>> {
    vec![
        Box::new(Memo(MemoryBackend::builder().max_entries(capacity).build())),
        Box::new(Moka(
            moka::sync::Cache::new(capacity as u64),
            std::cell::Cell::new(0),
        )),
        Box::new(QuickCache(quick_cache::sync::Cache::new(capacity))),
    ]
}

/// The hit ratio of `cache` on `keys`, after the warm-up.
fn hit_ratio(cache: &dyn Contender, keys: &[u64]) -> f64 {
    let mut hits = 0usize;
    for (i, &key) in keys.iter().enumerate() {
        let hit = cache.get(key);
        if !hit {
            cache.insert(key);
        }
        if i >= WARMUP && hit {
            hits += 1;
        }
    }
    hits as f64 / (keys.len() - WARMUP) as f64
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "benches/hitratio.svg".into());
    let streams = streams();
    let names: Vec<&str> = contenders(1).iter().map(|c| c.name()).collect();
    println!(
        "| stream (capacity {CAPACITY}, {REQUESTS} requests) | {} |",
        names.join(" | ")
    );
    println!("|---|{}", "---|".repeat(names.len()));
    for (stream, keys) in &streams {
        let ratios: Vec<String> = contenders(CAPACITY)
            .iter()
            .map(|cache| format!("{:.3}", hit_ratio(&**cache, keys)))
            .collect();
        println!("| {stream} | {} |", ratios.join(" | "));
    }

    let sizes = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000];
    let zipf = &streams[1].1;
    let curves: Vec<(&str, Vec<f64>)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let ratios = sizes
                .iter()
                .map(|&size| hit_ratio(&*contenders(size).swap_remove(i), zipf))
                .collect();
            (*name, ratios)
        })
        .collect();
    std::fs::write(&out, svg(&sizes, &curves)).expect("write the plot");
    eprintln!("wrote {out}");
}

/// A line plot of hit ratio against cache size (log scale), one line per
/// cache.
fn svg(sizes: &[usize], curves: &[(&str, Vec<f64>)]) -> String {
    let (width, height, margin) = (640.0, 400.0, 60.0);
    let (min, max) = ((sizes[0] as f64).ln(), (sizes[sizes.len() - 1] as f64).ln());
    let x =
        |size: usize| margin + ((size as f64).ln() - min) / (max - min) * (width - 2.0 * margin);
    let y = |ratio: f64| height - margin - ratio * (height - 2.0 * margin);
    let colours = ["#d62728", "#1f77b4", "#2ca02c"];
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">Hit ratio against cache size, Zipf 1.0 over {KEY_SPACE} keys</text>\n",
        width / 2.0
    );
    out += &format!(
        "<line x1=\"{margin}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"black\"/>\n<line x1=\"{margin}\" y1=\"{margin}\" x2=\"{margin}\" y2=\"{0}\" stroke=\"black\"/>\n",
        height - margin,
        width - margin
    );
    for &size in sizes {
        out += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{size}</text>\n",
            x(size),
            height - margin + 18.0
        );
    }
    for tick in 0..=5 {
        let ratio = f64::from(tick) / 5.0;
        out += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{ratio:.1}</text>\n",
            margin - 6.0,
            y(ratio) + 4.0
        );
    }
    for (i, (name, ratios)) in curves.iter().enumerate() {
        let points: Vec<String> = sizes
            .iter()
            .zip(ratios)
            .map(|(&size, &ratio)| format!("{:.1},{:.1}", x(size), y(ratio)))
            .collect();
        let colour = colours[i % colours.len()];
        out += &format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>\n",
            points.join(" "),
            width - margin - 80.0,
            margin + 16.0 * (i as f64 + 1.0)
        );
    }
    out + "</svg>\n"
}
