//! Batched async reads: entry reads that find the connection busy go out
//! together, as one `MGET`.
//!
//! Up to [`MAX_DIRECT`] async reads are on the wire at once as plain `GET`s,
//! exactly as without batching: a caller on a quiet connection waits for
//! nothing. A read that comes while that many are out joins a queue, and one
//! flusher task sends the queue as one `MGET` (up to [`MAX_BATCH`] keys),
//! hands each caller its value, and sends what queued meanwhile, until the
//! queue is empty. Under load, Redis parses and answers one command per
//! batch instead of one per read, and the client writes, times and parses
//! one reply per batch: 64 tasks reading on one thread sent one command
//! per nine reads (`hitloop l2`), and read 1.2–1.4x as fast as raw `GET`s
//! (`benches/RESULTS.md`).
//!
//! Nothing waits on a timer to batch: a queued read waits for the `MGET`
//! already on the wire, then its own. The flusher is a task of its own, so
//! its progress does not depend on any caller polling its future; a caller
//! cancelled while queued is skipped. A flusher that dies with its runtime
//! drops the queue, and the callers it stranded read their key on their
//! own. A flusher whose runtime stops running it (a one-thread runtime
//! between two `block_on`s) holds no one up for long: a queued read waits
//! for it at most twice the command timeout, then reads on its own, and
//! the next read that queues starts a new flusher on its own runtime.
//!
//! A value goes to the caller whose key is at its index in the `MGET`, and a
//! reply of another length fails the whole batch: no caller ever gets
//! another key's value.
//!
//! Cluster connections do not batch: an `MGET` across shards fails every key
//! when one shard does.

use std::sync::{Arc, Mutex, MutexGuard};

use memo_core::Error;
use tokio::sync::oneshot;

use crate::{Inner, NAME};

/// Plain `GET`s on the wire at once before reads queue for an `MGET`.
pub(crate) const MAX_DIRECT: usize = 4;
/// Keys per `MGET`, at most; a longer queue goes in several.
pub(crate) const MAX_BATCH: usize = 128;

/// The value stored under a key, if any.
type Read = Result<Option<Vec<u8>>, Error>;

/// One backend's queue of reads.
#[derive(Default)]
pub(crate) struct Batcher {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Plain `GET`s on the wire.
    direct: usize,
    /// The flusher trusted to take what is queued, if any. A flusher whose
    /// callers gave up on it may run on, but is no longer this one.
    flusher: Option<u64>,
    /// The id of the next flusher.
    next_flusher: u64,
    queued: Vec<Queued>,
}

/// A read waiting for the flusher.
struct Queued {
    /// The key as stored.
    key: String,
    reply: oneshot::Sender<Read>,
}

/// How a read goes out.
enum Route<'b> {
    Direct(Direct<'b>),
    Queued(oneshot::Receiver<Read>),
}

/// One of the [`MAX_DIRECT`] places on the wire, given back when dropped
/// (the read done, failed or cancelled).
struct Direct<'b>(&'b Batcher);

impl Drop for Direct<'_> {
    fn drop(&mut self) {
        self.0.state().direct -= 1;
    }
}

/// Owned by the flusher task: if the task is dropped unfinished (its
/// runtime shut down), the queue is dropped too, so the callers waiting in
/// it read on their own, and the next queued read starts a new flusher.
struct Flushing {
    inner: Arc<Inner>,
    id: u64,
    /// The queue was found empty: nothing to drop (reads queued since then
    /// belong to the next flusher).
    done: bool,
}

impl Drop for Flushing {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(batcher) = &self.inner.batcher {
            let stranded = {
                let mut state = batcher.state();
                if state.flusher != Some(self.id) {
                    // The queue is a newer flusher's now.
                    return;
                }
                state.flusher = None;
                std::mem::take(&mut state.queued)
            };
            drop(stranded);
        }
    }
}

impl Batcher {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place on the wire if one is free; otherwise a place in the queue,
    /// starting the flusher if none runs. `None` where no flusher can run
    /// (no Tokio runtime here): read directly.
    fn route(&self, inner: &Arc<Inner>, key: &str) -> Option<Route<'_>> {
        let mut state = self.state();
        if state.direct < MAX_DIRECT {
            state.direct += 1;
            return Some(Route::Direct(Direct(self)));
        }
        if state.flusher.is_none() {
            let runtime = tokio::runtime::Handle::try_current().ok()?;
            let id = state.next_flusher;
            state.next_flusher += 1;
            state.flusher = Some(id);
            runtime.spawn(flush(Flushing {
                inner: Arc::clone(inner),
                id,
                done: false,
            }));
        }
        let (reply, receiver) = oneshot::channel();
        state.queued.push(Queued {
            key: key.to_owned(),
            reply,
        });
        Some(Route::Queued(receiver))
    }

    /// The next batch for flusher `id` to send, oldest reads first,
    /// skipping cancelled ones; `None` (and the flusher stops) once the
    /// queue is empty.
    fn next_batch(&self, id: u64) -> Option<Vec<Queued>> {
        let mut state = self.state();
        loop {
            let batch: Vec<Queued> = if state.queued.len() <= MAX_BATCH {
                std::mem::take(&mut state.queued)
            } else {
                state.queued.drain(..MAX_BATCH).collect()
            };
            if batch.is_empty() {
                if state.flusher == Some(id) {
                    state.flusher = None;
                }
                return None;
            }
            let live: Vec<Queued> = batch.into_iter().filter(|q| !q.reply.is_closed()).collect();
            if !live.is_empty() {
                return Some(live);
            }
        }
    }
}

impl Inner {
    /// Reads the entry stored under `key` (as stored), batched with
    /// concurrent reads when the backend batches.
    pub(crate) async fn read(self: &Arc<Self>, key: &str) -> Read {
        let route = self.batcher.as_ref().and_then(|b| b.route(self, key));
        match route {
            None => self.read_one(key).await,
            Some(Route::Direct(_place)) => self.read_one(key).await,
            Some(Route::Queued(receiver)) => {
                match tokio::time::timeout(self.queued_wait(), receiver).await {
                    Ok(Ok(read)) => read,
                    // The flusher died with its runtime before answering.
                    Ok(Err(_)) => self.read_one(key).await,
                    // The flusher's runtime is not running (a one-thread
                    // runtime outside `block_on`): the next queued read
                    // starts a flusher of its own, and this one reads on
                    // its own. Its queued entry is skipped, its receiver
                    // gone.
                    Err(_) => {
                        if let Some(batcher) = &self.batcher {
                            batcher.state().flusher = None;
                        }
                        self.read_one(key).await
                    }
                }
            }
        }
    }

    /// How long a queued read waits for the flusher: for the `MGET` on the
    /// wire, then its own, each bounded by the command timeout.
    fn queued_wait(&self) -> std::time::Duration {
        2 * self.timeouts.command
    }

    /// One `GET`.
    async fn read_one(&self, key: &str) -> Read {
        let cmd = crate::commands::get(key);
        self.run_async(|conn| conn.query(&cmd)).await
    }
}

/// The flusher: sends the queue as `MGET`s until it is empty.
async fn flush(mut flushing: Flushing) {
    let inner = Arc::clone(&flushing.inner);
    let Some(batcher) = &inner.batcher else {
        flushing.done = true;
        return;
    };
    while let Some(batch) = batcher.next_batch(flushing.id) {
        let mut cmd = redis::Cmd::with_capacity(
            1 + batch.len(),
            4 + batch.iter().map(|q| q.key.len()).sum::<usize>(),
        );
        cmd.arg("MGET");
        for queued in &batch {
            cmd.arg(&queued.key);
        }
        let values: Result<Vec<Option<Vec<u8>>>, Error> =
            inner.run_async(|conn| conn.query(&cmd)).await;
        match values {
            Ok(values) if values.len() == batch.len() => {
                for (queued, value) in batch.into_iter().zip(values) {
                    let _ = queued.reply.send(Ok(value));
                }
            }
            Ok(values) => {
                let error = Error::backend(
                    NAME,
                    format!(
                        "MGET of {} keys answered {} values",
                        batch.len(),
                        values.len()
                    ),
                );
                answer_all(batch, &error);
            }
            Err(error) => answer_all(batch, &error),
        }
    }
    flushing.done = true;
}

/// Hands every caller of a failed batch the error.
fn answer_all(batch: Vec<Queued>, error: &Error) {
    for queued in batch {
        let _ = queued.reply.send(Err(copy(error)));
    }
}

/// An error for one more caller: the same kind and message (the source,
/// which is not `Clone`, stays with the first).
fn copy(error: &Error) -> Error {
    match error {
        Error::Unavailable { backend } => Error::Unavailable { backend },
        Error::Backend {
            backend, message, ..
        } => Error::backend(backend, message),
        other => Error::backend(NAME, other),
    }
}
