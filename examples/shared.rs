//! Two terminals, one Redis: see results shared and invalidations reach the
//! other process's L1.
//!
//! ```sh
//! redis-server --port 6379 --save '' &            # or any Redis you have
//! cargo run --example shared -- redis://127.0.0.1:6379/   # terminal 1
//! cargo run --example shared -- redis://127.0.0.1:6379/   # terminal 2
//! ```
//!
//! Then type `get ada` in one terminal (a 500 ms computation), `get ada` in
//! the other (instant, computed by the first process), `set ada hello` or
//! `clear ada` or `invalidate` in either, and `get ada` again in the other.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memo_core::quickcache;

static RUNS: AtomicUsize = AtomicUsize::new(0);

/// A slow lookup: 500 ms. L1 keeps it 60 s, Redis 10 minutes.
#[quickcache(timeout = 600, memoize_timeout = 60)]
fn profile(user: &str) -> String {
    RUNS.fetch_add(1, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    format!(
        "profile of {user}, computed by process {}",
        std::process::id()
    )
}

fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".into());
    let backend = match memo_redis::RedisBackend::connect(&url) {
        Ok(backend) => backend,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    };
    if let Err(error) = backend.ping() {
        eprintln!("warning: {url} does not answer ({error}); values are computed until it does");
    }
    memo_core::set_backend(backend);
    println!(
        "process {} on {url}. Commands: get USER | set USER TEXT | clear USER | invalidate | quit",
        std::process::id()
    );
    let stdin = std::io::stdin();
    loop {
        print!("> ");
        std::io::stdout().flush().ok();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["get", user] => {
                let before = RUNS.load(Ordering::Relaxed);
                let start = Instant::now();
                let value = profile(user);
                let how = if RUNS.load(Ordering::Relaxed) > before {
                    "computed here"
                } else {
                    "cached"
                };
                println!("{value}   [{how}, {:.1?}]", start.elapsed());
            }
            ["set", user, text @ ..] => report(profile::set_cached_value(user).to(text.join(" "))),
            ["clear", user] => report(profile::clear(user)),
            ["invalidate"] => report(profile::invalidate()),
            ["quit"] | ["exit"] => break,
            [] => {}
            _ => println!("commands: get USER | set USER TEXT | clear USER | invalidate | quit"),
        }
    }
}

fn report(result: Result<(), memo_core::Error>) {
    match result {
        Ok(()) => println!("done; every other process drops its copy"),
        Err(error) => println!("failed: {error}"),
    }
}
