//! The `memo` command against a real `redis-server`, with this process as
//! the application whose functions it looks at.
#![allow(missing_docs)]

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use memo_core::quickcache;
use memo_redis::RedisBackend;
use serde_json::Value;
use support::{exclusive, install, wait_until, RedisCluster, RedisServer};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "cli_tests::profile", vary_on = [domain, id], timeout = 300)]
fn profile(domain: &str, id: u32, _verbose: bool) -> String {
    RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{domain}/{id}")
}

fn runs() -> usize {
    RUNS.load(Ordering::SeqCst)
}

/// Runs `memo` with `args`, `stdin` as its input.
fn memo(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_memo"))
        .args(args)
        .env_remove("MEMO_REDIS_URL")
        .env_remove("REDIS_URL")
        .env_remove("MEMO_KEY_PREFIX")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `memo --json` on `url` under the prefix `app`, expected to succeed.
fn json(url: &str, args: &[&str]) -> Value {
    json_on(&["--url", url], args)
}

/// `memo --json` on `target` (`--url ..` or `--cluster ..`) under the
/// prefix `app`, expected to succeed.
fn json_on(target: &[&str], args: &[&str]) -> Value {
    let mut all = target.to_vec();
    all.extend_from_slice(&["--prefix", "app", "--json"]);
    all.extend_from_slice(args);
    let output = memo(&all, "");
    assert!(
        output.status.success(),
        "memo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

#[test]
fn an_operator_lists_inspects_clears_invalidates_and_flushes() {
    let _turn = exclusive();
    let server = RedisServer::start();
    let url = server.url();
    let mut redis = server.client();
    install(
        RedisBackend::builder(&url)
            .key_prefix("app")
            .stats_interval(Duration::from_millis(100))
            .build()
            .unwrap(),
    );
    // Another application on the same database: no prefix, and one that
    // only starts like ours.
    for key in ["other:key", "memo:v:foreign:00", "appx:memo:v:x:00"] {
        redis::cmd("SET")
            .arg(key)
            .arg("theirs")
            .query::<()>(&mut redis)
            .unwrap();
    }

    for (domain, id) in [("a.org", 1), ("a.org", 2), ("b.org", 1)] {
        assert_eq!(profile(domain, id, false), format!("{domain}/{id}"));
    }
    assert_eq!(runs(), 3);
    wait_until(Duration::from_secs(5), "the description", || {
        redis::cmd("HEXISTS")
            .arg("app:memo:functions")
            .arg("cli_tests::profile")
            .query::<bool>(&mut redis)
            .unwrap()
    });

    // functions: entries and bytes of ours only.
    let functions = json(&url, &["functions"]);
    let row = functions
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["namespace"] == "cli_tests::profile")
        .unwrap_or_else(|| panic!("{functions}"));
    assert_eq!(row["entries"], 3, "{row}");
    assert!(row["bytes"].as_u64().unwrap() > 0);
    assert!(row["generation"].is_string());
    assert_eq!(functions.as_array().unwrap().len(), 1, "{functions}");

    // inspect: the key the library wrote, found from JSON arguments.
    let expected = format!(
        "app:{}",
        memo_core::key::entry_key_for("cli_tests::profile", &(&"a.org", &1u32)).unwrap()
    );
    let entry = json(&url, &["inspect", "profile", "--args", r#"["a.org", 1]"#]);
    assert_eq!(entry["key"], expected.as_str());
    assert_eq!(entry["state"], "current", "{entry}");
    assert!(entry["ttl_ms"].as_u64().unwrap() > 290_000);
    let described = json(&url, &["inspect", "cli_tests::profile"]);
    assert_eq!(described["arguments"], serde_json::json!(["domain", "id"]));
    assert_eq!(described["function"], "cli::profile");
    assert_eq!(described["entries"], 3);

    // clear: one entry, in Redis and in this process's L1.
    json(
        &url,
        &[
            "clear",
            "profile",
            "--args",
            r#"{"domain": "a.org", "id": 1}"#,
        ],
    );
    wait_until(Duration::from_secs(2), "the clear to reach L1", || {
        profile("a.org", 1, false);
        runs() == 4
    });
    profile("a.org", 2, true);
    assert_eq!(runs(), 4, "the other entries stay");

    // invalidate: every entry.
    json(&url, &["invalidate", "profile"]);
    wait_until(
        Duration::from_secs(2),
        "the invalidation to reach L1",
        || {
            profile("a.org", 2, false);
            runs() == 5
        },
    );
    profile("b.org", 1, false);
    assert_eq!(runs(), 6);

    // stats: this process's report.
    wait_until(Duration::from_secs(5), "a stats report", || {
        let stats = json(&url, &["stats"]);
        stats["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["namespace"] == "cli_tests::profile" && f["misses"].as_u64() >= Some(6))
    });
    // A report expires after three intervals, so a stopped process drops out.
    let reports: Vec<String> = redis::cmd("KEYS")
        .arg("app:memo:s:*")
        .query(&mut redis)
        .unwrap();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&reports[0])
        .query(&mut redis)
        .unwrap();
    assert!((1..=300).contains(&ttl), "{ttl}");

    // Clear errors, with their exit codes.
    let unknown = memo(&["--url", &url, "--prefix", "app", "inspect", "nope"], "");
    assert_eq!(code(&unknown), 3);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no cached function `nope`"));
    let bad_args = memo(
        &[
            "--url", &url, "--prefix", "app", "clear", "profile", "--args", "[1",
        ],
        "",
    );
    assert_eq!(code(&bad_args), 2);
    let wrong_type = memo(
        &[
            "--url",
            &url,
            "--prefix",
            "app",
            "clear",
            "profile",
            "--args",
            r#"["a", -1]"#,
        ],
        "",
    );
    assert_eq!(
        code(&wrong_type),
        2,
        "{}",
        String::from_utf8_lossy(&wrong_type.stderr)
    );
    assert_eq!(code(&memo(&["--url", "http://nope", "functions"], "")), 2);
    let dead = format!("redis://127.0.0.1:{}/", support::free_port(false));
    let unreachable = memo(&["--url", &dead, "functions"], "");
    assert_eq!(code(&unreachable), 4);
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach Redis"));
    assert_eq!(code(&memo(&["functions"], "")), 2, "no URL");

    // flush: asks first; then only our keys go.
    let declined = memo(&["--url", &url, "--prefix", "app", "flush"], "n\n");
    assert_eq!(code(&declined), 5);
    assert!(redis::cmd("EXISTS")
        .arg(&expected)
        .query::<bool>(&mut redis)
        .unwrap());
    let flushed = json(&url, &["flush", "--yes"]);
    assert!(flushed["deleted"].as_u64().unwrap() >= 4, "{flushed}");
    let left: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis).unwrap();
    let mut left: Vec<&str> = left
        .iter()
        .map(String::as_str)
        .filter(|k| !k.starts_with("app:memo:s:"))
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        [
            "app:memo:functions",
            "appx:memo:v:x:00",
            "memo:v:foreign:00",
            "other:key"
        ]
    );
    let functions = json(&url, &["functions"]);
    assert_eq!(functions[0]["entries"], 0, "still listed: {functions}");
    // And this process's L1 was told.
    wait_until(Duration::from_secs(2), "the flush to reach L1", || {
        profile("b.org", 1, false);
        runs() == 7
    });
}

static CLUSTER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[quickcache(name = "cli_tests::spread", memoize_timeout = 0)]
fn spread(id: u64) -> u64 {
    CLUSTER_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 2
}

#[test]
fn on_a_cluster_every_master_is_scanned_and_each_key_reaches_its_node() {
    let _turn = exclusive();
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    let nodes: Vec<&str> = urls.iter().map(String::as_str).collect();
    install(
        RedisBackend::cluster(&nodes)
            .key_prefix("app")
            .build()
            .unwrap(),
    );
    for id in 0..12 {
        assert_eq!(spread(id), id * 2);
    }
    let seeds = urls.join(",");
    let run = |args: &[&str]| json_on(&["--cluster", &seeds], args);
    wait_until(Duration::from_secs(5), "the description", || {
        let output = memo(
            &["--cluster", &seeds, "--prefix", "app", "inspect", "spread"],
            "",
        );
        output.status.success()
    });
    let entries = |run: &dyn Fn(&[&str]) -> Value| {
        let functions = run(&["functions"]);
        functions
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["namespace"] == "cli_tests::spread")
            .map_or(0, |f| f["entries"].as_u64().unwrap())
    };
    assert_eq!(entries(&run), 12, "entries on every master");
    // The entries are on more than one node.
    let holding = cluster
        .nodes
        .iter()
        .filter(|node| {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg("app:memo:v:*")
                .query(&mut node.client())
                .unwrap();
            !keys.is_empty()
        })
        .count();
    assert!(holding > 1, "{holding}");

    let entry = run(&["inspect", "spread", "--args", "7"]);
    assert_eq!(entry["state"], "current", "{entry}");
    let runs = CLUSTER_RUNS.load(Ordering::SeqCst);
    run(&["clear", "spread", "--args", "7"]);
    assert_eq!(spread(7), 14);
    assert_eq!(CLUSTER_RUNS.load(Ordering::SeqCst), runs + 1);
    run(&["flush", "--yes"]);
    assert_eq!(entries(&run), 0);
}
