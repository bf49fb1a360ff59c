//! What the backend writes for operator tools (the `memo` CLI), off the
//! callers' threads: each function's description (`Backend::describe`),
//! into the hash `memo:functions`, and this process's stats every
//! `stats_interval`, under `memo:s:{process}` with a TTL of three intervals
//! (so a process that is gone drops out). One thread per backend, which
//! ends when the backend is dropped.
//!
//! Both are JSON, so `redis-cli` shows them as they are and a newer tool
//! reads an older process's (unknown fields are ignored, missing ones take
//! their defaults).

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use memo_core::admin::Descriptor;

use crate::Inner;

/// The hash of function descriptions, field = namespace.
pub const FUNCTIONS_KEY: &str = "memo:functions";
/// Where processes' stats reports start: `memo:s:{process}`.
pub const STATS_PREFIX: &str = "memo:s:";

/// A process's stats, as published.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct StatsReport {
    /// The process: `{pid}-{random}`.
    pub process: String,
    /// When it was taken (Unix ms).
    pub at_ms: u64,
    /// Every cached function of the process that has missed or stored.
    pub functions: Vec<memo_core::stats::FunctionStats>,
}

/// This process's id in stats keys.
pub(crate) fn process_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let random = getrandom::u64().unwrap_or_default() & 0xffff_ffff;
        format!("{}-{random:08x}", std::process::id())
    })
}

/// The thread's handle: descriptions to write.
pub(crate) struct Housekeeper {
    queue: std::sync::Mutex<Sender<Descriptor>>,
}

impl Housekeeper {
    /// Queues `descriptor` for the thread to write.
    pub(crate) fn describe(&self, descriptor: &Descriptor) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let _ = queue.send(descriptor.clone());
    }
}

/// The queue of descriptions: the handle the backend keeps, and the end the
/// thread reads.
pub(crate) fn queue() -> (Housekeeper, Receiver<Descriptor>) {
    let (queue, arrivals) = std::sync::mpsc::channel();
    let housekeeper = Housekeeper {
        queue: std::sync::Mutex::new(queue),
    };
    (housekeeper, arrivals)
}

/// Starts the thread for `inner` (`interval` zero: no stats).
pub(crate) fn start(inner: Weak<Inner>, arrivals: Receiver<Descriptor>, interval: Duration) {
    let _ = std::thread::Builder::new()
        .name("memo-redis-housekeeping".into())
        .spawn(move || run(&inner, &arrivals, interval));
}

fn run(inner: &Weak<Inner>, arrivals: &Receiver<Descriptor>, interval: Duration) {
    let mut next_report = Instant::now();
    loop {
        let wait = if interval.is_zero() {
            Duration::from_secs(3600)
        } else {
            next_report.saturating_duration_since(Instant::now())
        };
        match arrivals.recv_timeout(wait) {
            Ok(descriptor) => {
                let Some(inner) = inner.upgrade() else { return };
                write_description(&inner, &descriptor);
            }
            Err(RecvTimeoutError::Timeout) if !interval.is_zero() => {
                let Some(inner) = inner.upgrade() else { return };
                publish_stats(&inner, interval);
                next_report = Instant::now() + interval;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn write_description(inner: &Arc<Inner>, descriptor: &Descriptor) {
    let Ok(json) = serde_json::to_string(descriptor) else {
        return;
    };
    let key = inner.key(FUNCTIONS_KEY);
    let mut cmd = redis::cmd("HSET");
    cmd.arg(&*key).arg(&descriptor.namespace).arg(json);
    // Best effort: the next process to miss describes it again.
    let _ = inner.run(|conn| conn.command::<()>(&cmd));
}

fn publish_stats(inner: &Arc<Inner>, interval: Duration) {
    let report = StatsReport {
        process: process_id().to_owned(),
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        functions: memo_core::stats::functions(),
    };
    let Ok(json) = serde_json::to_string(&report) else {
        return;
    };
    let unprefixed = format!("{STATS_PREFIX}{}", report.process);
    let key = inner.key(&unprefixed);
    let ttl = u64::try_from((interval * 3).as_millis()).unwrap_or(u64::MAX);
    let mut cmd = redis::cmd("SET");
    cmd.arg(&*key).arg(json).arg("PX").arg(ttl);
    let _ = inner.run(|conn| conn.command::<()>(&cmd));
}
