//! `memo`: look inside memo's Redis tier and act on it, for operators.
//!
//! It reads what processes publish there (each function's description, at
//! its first miss, and their stats every few seconds), scans keys with
//! `SCAN` (never `KEYS`), and invalidates and clears through the library's
//! own code, so every process's L1 drops what it held.
//!
//! Exit codes: 0 done; 1 a Redis command failed midway; 2 bad usage or
//! input (options, `--args`, URL); 3 no such function (or more than one
//! matched); 4 Redis unreachable; 5 `flush` not confirmed.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use memo_core::admin::{Descriptor, Header};
use memo_core::Backend;
use serde_json::{json, Value};

mod store;
mod typed;

use store::Store;

/// Look inside memo's Redis tier: functions, stats, entries; invalidate,
/// clear and flush.
#[derive(Parser)]
#[command(name = "memo", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// The Redis URL (default: $MEMO_REDIS_URL, then $REDIS_URL).
    #[arg(long, global = true)]
    url: Option<String>,
    /// A Redis Cluster instead, by some of its nodes' URLs, comma-separated
    /// (default: $MEMO_REDIS_CLUSTER).
    #[arg(long, global = true, env = "MEMO_REDIS_CLUSTER", value_delimiter = ',')]
    cluster: Vec<String>,
    /// The key prefix the applications use (default: $MEMO_KEY_PREFIX).
    #[arg(long, global = true, env = "MEMO_KEY_PREFIX", default_value = "")]
    prefix: String,
    /// The invalidation channel, if the applications set one.
    #[arg(long, global = true)]
    channel: Option<String>,
    /// JSON on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 done; 1 a Redis command failed; 2 bad usage or input; \
3 no such function; 4 Redis unreachable; 5 flush not confirmed.";

#[derive(Subcommand)]
enum Command {
    /// Every cached function seen in Redis: entries, bytes, generation.
    Functions,
    /// Hits, misses and errors per function, summed over the processes
    /// that published stats recently.
    Stats,
    /// A function's description, or one entry: key, TTL, size, header.
    Inspect {
        /// The function: its namespace, `module::function`, or its name.
        function: String,
        /// The entry's key arguments, as JSON: an array in order, an
        /// object by name, or the value of a single one.
        #[arg(long)]
        args: Option<String>,
    },
    /// Drop every entry of a function, in Redis and every process's L1.
    Invalidate {
        /// The function.
        function: String,
    },
    /// Drop one entry of a function, in Redis and every process's L1.
    Clear {
        /// The function.
        function: String,
        /// The entry's key arguments, as JSON.
        #[arg(long)]
        args: String,
    },
    /// Delete every cached entry, generation and lock of memo under the
    /// prefix (never FLUSHDB); descriptions and stats reports stay.
    Flush {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// A failure, with its exit code.
struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

const FAILED: u8 = 1;
const USAGE: u8 = 2;
const NOT_FOUND: u8 = 3;
const UNREACHABLE: u8 = 4;
const DECLINED: u8 = 5;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("memo: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// The Redis the command works on.
struct Target {
    url: String,
    /// The prefix as given, and as keys start with it.
    given_prefix: String,
    prefix: String,
    store: Store,
    /// The cluster's nodes, if it is one.
    cluster: Vec<String>,
}

impl Target {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Every key matching `pattern` (after the prefix), by `SCAN` with a
    /// bounded `COUNT`, with a progress line on a terminal.
    fn scan(&mut self, pattern: &str) -> Result<Vec<String>, Failure> {
        let pattern = format!("{}{pattern}", glob_escape(&self.prefix));
        let terminal = std::io::stderr().is_terminal();
        let keys = self
            .store
            .scan(&pattern, |n| {
                if terminal {
                    eprint!("\rscanned: {n} keys");
                }
            })
            .map_err(|e| fail(FAILED, format!("SCAN failed: {e}")))?;
        if terminal {
            eprint!("\r\x1b[K");
        }
        Ok(keys)
    }

    /// The descriptions processes published.
    fn descriptors(&mut self) -> Result<Vec<Descriptor>, Failure> {
        let key = self.key(memo_redis::FUNCTIONS_KEY);
        let all: BTreeMap<String, String> = self
            .store
            .command(redis::cmd("HGETALL").arg(&key))
            .map_err(|e| fail(FAILED, format!("HGETALL {key} failed: {e}")))?;
        Ok(all
            .values()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect())
    }

    /// The one function `query` names: a namespace, `module::function`, a
    /// function's name or a namespace's start.
    fn function(&mut self, query: &str) -> Result<Descriptor, Failure> {
        let descriptors = self.descriptors()?;
        if let Some(exact) = descriptors.iter().find(|d| d.namespace == query) {
            return Ok(exact.clone());
        }
        let matches: Vec<&Descriptor> = descriptors
            .iter()
            .filter(|d| {
                d.function == query
                    || d.function.ends_with(&format!("::{query}"))
                    || d.namespace.starts_with(query)
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(fail(
                NOT_FOUND,
                format!(
                    "no cached function `{query}` under prefix {:?} (a function is known once a process has called it and missed; `memo functions` lists them)",
                    self.prefix
                ),
            )),
            many => Err(fail(
                NOT_FOUND,
                format!(
                    "`{query}` matches {} functions: {}; give the namespace",
                    many.len(),
                    many.iter().map(|d| d.namespace.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// A backend for the library's own `clear`, `invalidate` and
    /// broadcasts, on the same server, prefix and channel.
    fn backend(&self, channel: Option<&str>) -> Result<memo_redis::RedisBackend, Failure> {
        let nodes: Vec<&str> = self.cluster.iter().map(String::as_str).collect();
        let builder = if nodes.is_empty() {
            memo_redis::RedisBackend::builder(&self.url)
        } else {
            memo_redis::RedisBackend::cluster(&nodes)
        };
        let mut builder = builder
            .key_prefix(&self.given_prefix)
            .stats_interval(std::time::Duration::ZERO);
        if let Some(channel) = channel {
            builder = builder.channel(channel);
        }
        builder.build().map_err(|e| fail(USAGE, e.to_string()))
    }
}

fn connect(cli: &Cli) -> Result<Target, Failure> {
    let unreachable_or_usage = |(unreachable, message): (bool, String)| {
        fail(if unreachable { UNREACHABLE } else { USAGE }, message)
    };
    let (url, store) = if cli.cluster.is_empty() {
        let url = cli
            .url
            .clone()
            .or_else(|| std::env::var("MEMO_REDIS_URL").ok())
            .or_else(|| std::env::var("REDIS_URL").ok())
            .ok_or_else(|| {
                fail(
                    USAGE,
                    "no Redis to look at: give --url (or --cluster), or set MEMO_REDIS_URL, REDIS_URL or MEMO_REDIS_CLUSTER",
                )
            })?;
        let store = Store::single(&url).map_err(unreachable_or_usage)?;
        (url, store)
    } else {
        let store = Store::cluster(&cli.cluster).map_err(unreachable_or_usage)?;
        (cli.cluster.join(","), store)
    };
    // As memo-redis's `key_prefix` writes it: `billing` → `billing:`.
    let prefix = if cli.prefix.is_empty() {
        String::new()
    } else {
        format!("{}:", cli.prefix)
    };
    Ok(Target {
        url,
        given_prefix: cli.prefix.clone(),
        prefix,
        store,
        cluster: cli.cluster.clone(),
    })
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let mut target = connect(cli)?;
    match &cli.command {
        Command::Functions => functions(cli, &mut target),
        Command::Stats => stats(cli, &mut target),
        Command::Inspect { function, args } => inspect(cli, &mut target, function, args.as_deref()),
        Command::Invalidate { function } => {
            let descriptor = target.function(function)?;
            let backend = target.backend(cli.channel.as_deref())?;
            memo_core::admin::invalidate(&backend, &descriptor.namespace)
                .map_err(|e| fail(FAILED, format!("invalidate failed: {e}")))?;
            report(cli, json!({"invalidated": descriptor.namespace}), || {
                format!("invalidated {}", descriptor.namespace)
            })
        }
        Command::Clear { function, args } => {
            let descriptor = target.function(function)?;
            let key = entry_key(&descriptor, args)?;
            let backend = target.backend(cli.channel.as_deref())?;
            // The tombstone lives the function's timeout, as `f::clear`'s.
            let timeout = std::time::Duration::from_millis(descriptor.timeout_ms.max(1000));
            memo_core::admin::clear(&backend, &descriptor.namespace, &key, timeout)
                .map_err(|e| fail(FAILED, format!("clear failed: {e}")))?;
            let key = target.key(&key);
            report(cli, json!({"cleared": key}), || format!("cleared {key}"))
        }
        Command::Flush { yes } => flush(cli, &mut target, *yes),
    }
}

/// Prints `json` with `--json`, else the text.
fn report(cli: &Cli, json: Value, text: impl FnOnce() -> String) -> Result<(), Failure> {
    if cli.json {
        println!("{json}");
    } else {
        println!("{}", text());
    }
    Ok(())
}

fn entry_key(descriptor: &Descriptor, args: &str) -> Result<String, Failure> {
    let args: Value =
        serde_json::from_str(args).map_err(|e| fail(USAGE, format!("--args is not JSON: {e}")))?;
    let shape = descriptor.shape.as_ref().ok_or_else(|| {
        fail(
            USAGE,
            format!(
                "{} was described without its key's shape",
                descriptor.namespace
            ),
        )
    })?;
    typed::entry_key(&descriptor.namespace, shape, &descriptor.arguments, &args)
        .map_err(|e| fail(USAGE, format!("--args for {}: {e}", descriptor.namespace)))
}

/// What a key of memo's is, after the prefix.
enum Kind<'k> {
    Entry(&'k str),
    Generation(&'k str),
    Other,
}

fn kind_of(key: &str) -> Kind<'_> {
    if let Some(rest) = key.strip_prefix("memo:v:") {
        return rest
            .rsplit_once(':')
            .map_or(Kind::Other, |(ns, _)| Kind::Entry(ns));
    }
    if let Some(ns) = key.strip_prefix("memo:g:") {
        return Kind::Generation(ns);
    }
    Kind::Other
}

/// `text` matched literally in a `SCAN MATCH` pattern.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A namespace as keys spell it (long ones are shortened).
fn key_namespace(namespace: &str) -> String {
    memo_core::admin::generation_key(namespace)["memo:g:".len()..].to_owned()
}

#[derive(Default)]
struct Summary {
    entries: u64,
    bytes: u64,
    generation: Option<String>,
    function: String,
}

fn functions(cli: &Cli, target: &mut Target) -> Result<(), Failure> {
    let descriptors = target.descriptors()?;
    let keys = target.scan("memo:*")?;
    let mut by_namespace: BTreeMap<String, Summary> = BTreeMap::new();
    let full: BTreeMap<String, &Descriptor> = descriptors
        .iter()
        .map(|d| (key_namespace(&d.namespace), d))
        .collect();
    for descriptor in &descriptors {
        by_namespace
            .entry(key_namespace(&descriptor.namespace))
            .or_default()
            .function = descriptor.function.clone();
    }
    let prefix_len = target.prefix.len();
    let mut entries = Vec::new();
    for key in &keys {
        match kind_of(&key[prefix_len..]) {
            Kind::Entry(ns) => {
                by_namespace.entry(ns.to_owned()).or_default().entries += 1;
                entries.push((ns.to_owned(), key));
            }
            Kind::Generation(ns) => {
                let generation: Option<String> = target
                    .store
                    .command(redis::cmd("GET").arg(key))
                    .ok()
                    .flatten();
                by_namespace.entry(ns.to_owned()).or_default().generation = generation;
            }
            Kind::Other => {}
        }
    }
    // Sizes, a pipeline of STRLEN per thousand keys.
    for chunk in entries.chunks(1000) {
        let strlen = chunk.iter().map(|(_, key)| {
            let mut cmd = redis::cmd("STRLEN");
            cmd.arg(key.as_str());
            cmd
        });
        let sizes: Vec<u64> = target
            .store
            .each(strlen.collect())
            .map_err(|e| fail(FAILED, format!("STRLEN failed: {e}")))?;
        for ((ns, _), size) in chunk.iter().zip(sizes) {
            by_namespace.entry(ns.clone()).or_default().bytes += size;
        }
    }
    if cli.json {
        let rows: Vec<Value> = by_namespace
            .iter()
            .map(|(ns, s)| {
                json!({
                    "namespace": full.get(ns).map_or(ns.as_str(), |d| d.namespace.as_str()),
                    "function": s.function,
                    "entries": s.entries,
                    "bytes": s.bytes,
                    "generation": s.generation,
                })
            })
            .collect();
        println!("{}", Value::Array(rows));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = by_namespace
        .iter()
        .map(|(ns, s)| {
            vec![
                full.get(ns).map_or(ns.clone(), |d| d.namespace.clone()),
                s.entries.to_string(),
                s.bytes.to_string(),
                s.generation.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["FUNCTION", "ENTRIES", "BYTES", "GENERATION"], &rows);
    Ok(())
}

fn stats(cli: &Cli, target: &mut Target) -> Result<(), Failure> {
    let keys = target.scan(&format!("{}*", memo_redis::STATS_PREFIX))?;
    let mut processes = 0;
    let mut by_namespace: BTreeMap<String, [u64; 6]> = BTreeMap::new();
    for key in keys {
        let Ok(Some(json)) = target
            .store
            .command::<Option<String>>(redis::cmd("GET").arg(&key))
        else {
            continue;
        };
        let Ok(report) = serde_json::from_str::<memo_redis::StatsReport>(&json) else {
            continue;
        };
        processes += 1;
        for f in report.functions {
            let sums = by_namespace.entry(f.namespace).or_default();
            for (sum, n) in sums.iter_mut().zip([
                f.l1_hits,
                f.shared_hits,
                f.misses,
                f.errors,
                f.stale_served,
                f.l1_evictions,
            ]) {
                *sum += n;
            }
        }
    }
    const COLUMNS: [&str; 6] = [
        "l1_hits",
        "shared_hits",
        "misses",
        "errors",
        "stale_served",
        "l1_evictions",
    ];
    if cli.json {
        let functions: Vec<Value> = by_namespace
            .iter()
            .map(|(ns, sums)| {
                let mut row = serde_json::Map::new();
                row.insert("namespace".into(), json!(ns));
                for (name, n) in COLUMNS.iter().zip(sums) {
                    row.insert((*name).into(), json!(n));
                }
                Value::Object(row)
            })
            .collect();
        println!(
            "{}",
            json!({"processes": processes, "functions": functions})
        );
        return Ok(());
    }
    println!("{processes} processes reporting");
    let rows: Vec<Vec<String>> = by_namespace
        .iter()
        .map(|(ns, sums)| {
            std::iter::once(ns.clone())
                .chain(sums.iter().map(u64::to_string))
                .collect()
        })
        .collect();
    table(
        &[
            "FUNCTION",
            "L1 HITS",
            "SHARED HITS",
            "MISSES",
            "ERRORS",
            "STALE",
            "EVICTIONS",
        ],
        &rows,
    );
    Ok(())
}

fn inspect(
    cli: &Cli,
    target: &mut Target,
    function: &str,
    args: Option<&str>,
) -> Result<(), Failure> {
    let descriptor = target.function(function)?;
    let generation_key = target.key(&memo_core::admin::generation_key(&descriptor.namespace));
    let generation: Option<String> = target
        .store
        .command(redis::cmd("GET").arg(&generation_key))
        .map_err(|e| fail(FAILED, format!("GET failed: {e}")))?;
    let Some(args) = args else {
        let entries = target
            .scan(&format!(
                "memo:v:{}:*",
                glob_escape(&key_namespace(&descriptor.namespace))
            ))?
            .len();
        let shape = serde_json::to_value(&descriptor.shape).unwrap_or(Value::Null);
        let json = json!({
            "namespace": descriptor.namespace,
            "function": descriptor.function,
            "arguments": descriptor.arguments,
            "shape": shape,
            "timeout_ms": descriptor.timeout_ms,
            "stale_on_error_ms": descriptor.stale_ms,
            "backend": descriptor.backend,
            "generation": generation,
            "entries": entries,
        });
        return report(cli, json, || {
            format!(
                "namespace:  {}\nfunction:   {}\narguments:  {}\ntimeout:    {} ms\ngeneration: {}\nentries:    {entries}\nshape:      {shape}",
                descriptor.namespace,
                descriptor.function,
                descriptor.arguments.join(", "),
                descriptor.timeout_ms,
                generation.as_deref().unwrap_or("-"),
            )
        });
    };
    let key = entry_key(&descriptor, args)?;
    let stored = target.key(&key);
    let bytes: Option<Vec<u8>> = target
        .store
        .command(redis::cmd("GET").arg(&stored))
        .map_err(|e| fail(FAILED, format!("GET failed: {e}")))?;
    let ttl: i64 = target
        .store
        .command(redis::cmd("PTTL").arg(&stored))
        .map_err(|e| fail(FAILED, format!("PTTL failed: {e}")))?;
    let current: Option<u64> = generation.as_deref().and_then(|g| g.parse().ok());
    let header = bytes.as_deref().map(Header::parse);
    let (state, detail) = match header {
        None => ("absent", json!(null)),
        Some(None) => ("unreadable", json!(null)),
        Some(Some(Header::Tombstone)) => ("tombstone", json!(null)),
        Some(Some(Header::Value {
            version,
            fingerprint,
            generation,
            fresh_until_ms,
            payload_len,
        })) => (
            if Some(generation) == current {
                "current"
            } else {
                "stale generation"
            },
            json!({
                "version": version,
                "fingerprint": format!("{fingerprint:016x}"),
                "generation": generation,
                "fresh_until_ms": fresh_until_ms,
                "payload_bytes": payload_len,
            }),
        ),
        Some(Some(_)) => ("unknown header", json!(null)),
    };
    let size = bytes.as_ref().map_or(0, Vec::len);
    let json = json!({
        "key": stored,
        "state": state,
        "ttl_ms": (ttl >= 0).then_some(ttl),
        "bytes": size,
        "header": detail,
        "current_generation": current,
    });
    report(cli, json, || {
        format!(
            "key:        {stored}\nstate:      {state}\nttl:        {}\nbytes:      {size}\nheader:     {detail}",
            if ttl >= 0 { format!("{ttl} ms") } else { "-".into() }
        )
    })
}

fn flush(cli: &Cli, target: &mut Target, yes: bool) -> Result<(), Failure> {
    let descriptors = target.descriptors()?;
    // The cache's keys; the descriptions and stats reports stay, so the
    // functions are still listed after the flush.
    let (functions, reports) = (
        target.key(memo_redis::FUNCTIONS_KEY),
        target.key(memo_redis::STATS_PREFIX),
    );
    let keys: Vec<String> = target
        .scan("memo:*")?
        .into_iter()
        .filter(|key| *key != functions && !key.starts_with(&reports))
        .collect();
    if !yes {
        eprint!(
            "delete {} keys of memo under prefix {:?} on {}? [y/N] ",
            keys.len(),
            target.prefix,
            target.url
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(fail(DECLINED, "not flushed"));
        }
    }
    // A key per command: on a cluster each goes to its own node.
    for chunk in keys.chunks(500) {
        let unlinks = chunk.iter().map(|key| {
            let mut cmd = redis::cmd("UNLINK");
            cmd.arg(key);
            cmd
        });
        target
            .store
            .each::<i64>(unlinks.collect())
            .map_err(|e| fail(FAILED, format!("UNLINK failed: {e}")))?;
    }
    // Every process drops the L1 of every function it was told of.
    let backend = target.backend(cli.channel.as_deref())?;
    for descriptor in &descriptors {
        backend
            .broadcast(&descriptor.namespace, None)
            .map_err(|e| fail(FAILED, format!("PUBLISH failed: {e}")))?;
    }
    report(cli, json!({"deleted": keys.len()}), || {
        format!("deleted {} keys", keys.len())
    })
}

/// Prints `rows` under `headers`, columns padded; numbers right-aligned.
fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, width))| {
                if i == 0 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glob_characters_match_literally() {
        assert_eq!(super::glob_escape("app"), "app");
        assert_eq!(super::glob_escape(r"a*b?[c]\d"), r"a\*b\?\[c\]\\d");
    }
}
