//! An axum service whose handler calls a `#[quickcache]` function that runs
//! an aggregate over a real SQLite table (300 000 rows generated at
//! start-up), with `/stats` showing hits and misses per cached function and
//! `/metrics` the same for Prometheus (memo's `metrics` feature, through
//! `metrics-exporter-prometheus`).
//!
//! ```sh
//! cargo run --release -p memo-example-service -- --port 3000               # embedded backend
//! cargo run --release -p memo-example-service -- --redis redis://127.0.0.1:6379/
//! cargo run --release -p memo-example-service -- --no-cache                # the body every time
//! cargo run --release -p memo-example-service -- --no-l1                   # shared tier only
//! curl localhost:3000/team/team-7 ; curl localhost:3000/user/42 ; curl localhost:3000/stats
//! curl localhost:3000/metrics
//! ```
//!
//! `examples/service/load.sh` drives it with wrk and prints requests/s and
//! p50/p99 latency for each setup: `/team` pages (200 keys, all in L1), or
//! with `--zipf` `/user` pages over every user id, Zipf-distributed, so
//! most ids are not in L1 and the shared tier and the database show.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use memo_core::quickcache;
use memo_tower::{RequestCache, RequestCacheLayer};
use serde::{Deserialize, Serialize};

/// What one team's page shows: an aggregate over every user of the team
/// (a full scan of the `users` table: tens of milliseconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TeamSummary {
    team: String,
    members: u64,
    average_score: f64,
    best: String,
}

/// One user, looked up by id (a primary-key read: tens of microseconds):
/// the page that `load.sh --zipf` requests over far more ids than L1 holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Profile {
    id: u64,
    name: String,
    team: String,
    score: i64,
}

/// A few read-only connections to the database, handed out round-robin.
struct Database {
    connections: Vec<Mutex<rusqlite::Connection>>,
    next: AtomicUsize,
}

static DATABASE: OnceLock<Database> = OnceLock::new();

impl Database {
    fn open(path: &std::path::Path, connections: usize) -> rusqlite::Result<Database> {
        let connections = (0..connections)
            .map(|_| {
                rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .map(Mutex::new)
            })
            .collect::<rusqlite::Result<_>>()?;
        Ok(Database {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[index]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn profile(&self, id: u64) -> rusqlite::Result<Profile> {
        self.connection().query_row(
            "SELECT name, team, score FROM users WHERE id = ?1",
            [id],
            |row| {
                Ok(Profile {
                    id,
                    name: row.get(0)?,
                    team: row.get(1)?,
                    score: row.get(2)?,
                })
            },
        )
    }

    fn summary(&self, team: &str) -> rusqlite::Result<TeamSummary> {
        self.connection().query_row(
            "SELECT COUNT(*), AVG(score), (SELECT name FROM users WHERE team = ?1 ORDER BY score DESC LIMIT 1)
             FROM users WHERE team = ?1",
            [team],
            |row| {
                Ok(TeamSummary {
                    team: team.to_owned(),
                    members: row.get(0)?,
                    average_score: row.get::<_, Option<f64>>(1)?.unwrap_or(0.0),
                    best: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                })
            },
        )
    }
}

/// The cached function: five minutes in the shared tier, ten seconds in L1,
/// one computation per team even under a stampede (single flight, and
/// `lock = true` across processes).
#[quickcache(vary_on = [team], timeout = 300, memoize_timeout = 10, lock = true, lock_ttl = 10)]
async fn team_summary(team: String) -> Option<TeamSummary> {
    tokio::task::spawn_blocking(move || DATABASE.get()?.summary(&team).ok())
        .await
        .ok()
        .flatten()
}

/// A user's profile: L1 at its defaults (10 s, 10 000 entries) in front of
/// the shared tier.
#[quickcache(vary_on = [id], timeout = 300)]
async fn user_profile(id: u64) -> Option<Profile> {
    load_profile(id).await
}

/// The same page with L1 off (`--no-l1`): every call reads the shared tier.
#[quickcache(vary_on = [id], timeout = 300, memoize_timeout = 0)]
async fn user_profile_shared(id: u64) -> Option<Profile> {
    load_profile(id).await
}

async fn load_profile(id: u64) -> Option<Profile> {
    tokio::task::spawn_blocking(move || DATABASE.get()?.profile(id).ok())
        .await
        .ok()
        .flatten()
}

struct Settings {
    cache: bool,
    l1: bool,
}

async fn user(State(settings): State<Arc<Settings>>, Path(id): Path<u64>) -> Json<Option<Profile>> {
    Json(match (settings.cache, settings.l1) {
        (false, _) => user_profile::uncached(id).await,
        (true, true) => user_profile(id).await,
        (true, false) => user_profile_shared(id).await,
    })
}

/// `/users?ids=1,2,1`: several profiles in one page. Within the request a
/// repeated id is looked up once (memo-tower's request scope); each lookup
/// goes through `user_profile` (L1, then the shared tier).
#[derive(serde::Deserialize)]
struct Ids {
    ids: String,
}

async fn users(cache: RequestCache, Query(Ids { ids }): Query<Ids>) -> Json<Vec<Option<Profile>>> {
    let mut profiles = Vec::new();
    for id in ids
        .split(',')
        .filter_map(|id| id.trim().parse::<u64>().ok())
    {
        profiles.push(
            cache
                .get_or_compute_async("profile", id, || user_profile(id))
                .await,
        );
    }
    Json(profiles)
}

async fn team(
    State(settings): State<Arc<Settings>>,
    Path(name): Path<String>,
) -> Json<Option<TeamSummary>> {
    Json(if settings.cache {
        team_summary(name).await
    } else {
        team_summary::uncached(name).await
    })
}

async fn stats() -> Json<serde_json::Value> {
    let functions: Vec<serde_json::Value> = memo_core::stats::functions()
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "function": f.namespace,
                "l1_hits": f.l1_hits,
                "shared_hits": f.shared_hits,
                "misses": f.misses,
                "l1_entries": f.l1_entries,
                "l1_evictions": f.l1_evictions,
            })
        })
        .collect();
    Json(serde_json::json!({
        "backend": memo_core::backend::current().name(),
        "backend_errors": memo_core::stats::backend_errors(),
        "functions": functions,
    }))
}

/// `/metrics`: memo's counters as they are now (`export_metrics`), with the
/// compute-time histogram, in Prometheus's text format.
async fn prometheus(handle: metrics_exporter_prometheus::PrometheusHandle) -> String {
    memo_core::stats::export_metrics();
    handle.run_upkeep();
    handle.render()
}

/// Creates the database with `rows` users over 200 teams.
fn generate(path: &std::path::Path, rows: u64) -> rusqlite::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut connection = rusqlite::Connection::open(path)?;
    connection.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, team TEXT NOT NULL, score INTEGER NOT NULL);",
    )?;
    let insert = connection.transaction()?;
    {
        let mut statement =
            insert.prepare("INSERT INTO users (id, name, team, score) VALUES (?1, ?2, ?3, ?4)")?;
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for id in 0..rows {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let team = format!("team-{}", seed % 200);
            statement.execute(rusqlite::params![
                id,
                format!("user-{id}"),
                team,
                seed % 10_000
            ])?;
        }
    }
    insert.commit()
}

struct Args {
    port: u16,
    rows: u64,
    redis: Option<String>,
    cache: bool,
    l1: bool,
    database: PathBuf,
}

fn args() -> Args {
    let mut args = Args {
        port: 3000,
        rows: 300_000,
        redis: None,
        cache: true,
        l1: true,
        database: std::env::temp_dir().join(format!("memo-service-{}.sqlite", std::process::id())),
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--port" => {
                args.port = given
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(args.port)
            }
            "--rows" => {
                args.rows = given
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(args.rows)
            }
            "--redis" => args.redis = given.next(),
            "--no-cache" => args.cache = false,
            "--no-l1" => args.l1 = false,
            "--database" => {
                args.database = given.next().map(PathBuf::from).unwrap_or(args.database)
            }
            other => {
                eprintln!("unknown argument {other}; expected --port N, --rows N, --redis URL, --no-cache, --no-l1, --database PATH");
                std::process::exit(2);
            }
        }
    }
    args
}

#[tokio::main]
async fn main() {
    let args = args();
    // `--redis URL`, or else the environment (MEMO_REDIS_URL or REDIS_URL,
    // and the MEMO_* settings) when it names a Redis; the embedded backend
    // otherwise.
    let from_env = ["MEMO_REDIS_URL", "REDIS_URL", "MEMO_REDIS_CLUSTER"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    let backend = match &args.redis {
        Some(url) => Some(memo_redis::RedisBackend::connect(url)),
        None if from_env => Some(memo_redis::RedisBackend::from_env()),
        None => None,
    };
    match backend {
        Some(Ok(backend)) => memo_core::set_backend(backend),
        Some(Err(error)) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
        // Meant: a single process needs no shared tier.
        None => memo_core::set_backend(memo_core::MemoryBackend::default()),
    }
    let started = std::time::Instant::now();
    if let Err(error) = generate(&args.database, args.rows) {
        eprintln!("could not create the database: {error}");
        std::process::exit(1);
    }
    let database = Database::open(&args.database, 4).expect("open the database read-only");
    let _ = DATABASE.set(database);
    eprintln!("{} rows generated in {:.1?}", args.rows, started.elapsed());

    // memo's stats through the `metrics` facade, rendered for Prometheus.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("install the Prometheus recorder");
    let app = Router::new()
        .route("/team/{name}", get(team))
        .route("/user/{id}", get(user))
        .route("/users", get(users))
        .route("/stats", get(stats))
        .route("/metrics", get(move || prometheus(metrics.clone())))
        .with_state(Arc::new(Settings {
            cache: args.cache,
            l1: args.l1,
        }))
        .layer(RequestCacheLayer::new());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .expect("bind the port");
    eprintln!(
        "listening on http://127.0.0.1:{} ({} backend, cache {})",
        args.port,
        memo_core::backend::current().name(),
        if args.cache { "on" } else { "off" }
    );
    println!("ready");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("serve");
    let _ = std::fs::remove_file(&args.database);
}
