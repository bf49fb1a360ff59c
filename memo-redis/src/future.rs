//! The async side (the sync one is `blocking`): one multiplexed connection (redis-rs's
//! `MultiplexedConnection`, or the async cluster connection) shared by every
//! task, so concurrent async callers pipeline on one socket instead of
//! holding a connection each. Same circuit breaker and failure rules as the
//! sync pool.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use memo_core::Error;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};

use crate::target::Target;
use crate::{broken, redis_error, Inner, NAME};

/// A clone-able handle on the shared async connection.
#[derive(Clone)]
pub(crate) enum AsyncConn {
    Single(MultiplexedConnection),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl AsyncConn {
    /// Runs `cmd`; hands the handle back with the reply, so it can be kept
    /// for the next call (see [`AsyncSlot`]).
    pub(crate) async fn query<T: redis::FromRedisValue>(
        mut self,
        cmd: &redis::Cmd,
    ) -> (Self, RedisResult<T>) {
        let reply = match &mut self {
            AsyncConn::Single(connection) => cmd.query_async(connection).await,
            #[cfg(feature = "cluster")]
            AsyncConn::Cluster(connection) => cmd.query_async(connection).await,
        };
        (self, reply)
    }
}

/// The shared async connection, made on first use and remade after it
/// breaks. Only connecting takes the async mutex, so one task connects while
/// the others wait for it.
///
/// A call needs a handle of its own (redis-rs's queries take `&mut`), and
/// cloning one from the slot (a read lock, then the channel's sender and
/// reference counts) writes to cache lines every core shares: under 64
/// tasks on two cores that cost more than the rest of a Redis hit. So a
/// handle a call is done with is kept as a spare by the thread it finished
/// on, and the next call there takes it without touching shared memory.
/// Spares are tagged with the slot and the connection they are clones of;
/// once the slot holds another connection they are dropped, never used.
pub(crate) struct AsyncSlot {
    conn: RwLock<Option<AsyncConn>>,
    connecting: tokio::sync::Mutex<()>,
    /// This slot among all slots of the process.
    id: u64,
    /// Bumped whenever the slot's connection changes.
    generation: AtomicU64,
}

/// Handles a thread keeps between calls: clones of one slot's connection.
struct Spares {
    /// The slot id and generation the handles are clones of.
    of: (u64, u64),
    handles: Vec<AsyncConn>,
}

/// Spares a thread keeps, at most: as many calls as it runs at once.
const SPARES_PER_THREAD: usize = 64;

thread_local! {
    static SPARES: RefCell<Spares> = const {
        RefCell::new(Spares { of: (0, 0), handles: Vec::new() })
    };
}

/// A handle on the slot's connection, and the generation it belongs to.
pub(crate) struct Checkout {
    conn: AsyncConn,
    generation: u64,
}

impl Default for AsyncSlot {
    fn default() -> Self {
        static SLOTS: AtomicU64 = AtomicU64::new(1);
        AsyncSlot {
            conn: RwLock::default(),
            connecting: tokio::sync::Mutex::default(),
            id: SLOTS.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
        }
    }
}

impl AsyncSlot {
    /// A spare of this thread's, or a clone of the slot's connection.
    fn current(&self) -> Option<Checkout> {
        // Read before the connection: a clone tagged with an older
        // generation than its connection's is only ever dropped, not kept.
        let generation = self.generation.load(Ordering::Acquire);
        let of = (self.id, generation);
        let spare = SPARES
            .try_with(|spares| {
                let mut spares = spares.borrow_mut();
                (spares.of == of).then(|| spares.handles.pop()).flatten()
            })
            .ok()
            .flatten();
        let conn = match spare {
            Some(conn) => conn,
            None => self
                .conn
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()?,
        };
        Some(Checkout { conn, generation })
    }

    /// Keeps `conn` as this thread's spare, if the slot still holds the
    /// connection it is a clone of.
    fn check_in(&self, conn: AsyncConn, generation: u64) {
        if generation != self.generation.load(Ordering::Acquire) {
            return;
        }
        let of = (self.id, generation);
        let _stale = SPARES.try_with(|spares| {
            let mut spares = spares.borrow_mut();
            let stale = if spares.of == of {
                Vec::new()
            } else {
                spares.of = of;
                std::mem::take(&mut spares.handles)
            };
            if spares.handles.len() < SPARES_PER_THREAD {
                spares.handles.push(conn);
            }
            stale
        });
    }

    /// Puts `conn` in the slot; its generation. Bumped under the lock, so
    /// generations follow the order connections were put in.
    fn replace(&self, conn: Option<AsyncConn>) -> u64 {
        let mut slot = self.conn.write().unwrap_or_else(|e| e.into_inner());
        *slot = conn;
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }
}

impl Inner {
    async fn async_conn(&self, fresh: bool) -> RedisResult<Checkout> {
        if fresh {
            self.async_slot.replace(None);
        } else if let Some(checkout) = self.async_slot.current() {
            return Ok(checkout);
        }
        // One task connects while the others wait for it, up to the connect
        // timeout: the task holding the lock may never be polled again (its
        // one-thread runtime stopped between two `block_on`s), so a waiter
        // that times out connects on its own rather than wait for ever.
        let connecting =
            tokio::time::timeout(self.timeouts.connect, self.async_slot.connecting.lock()).await;
        if let Some(checkout) = self.async_slot.current() {
            return Ok(checkout);
        }
        let _connecting = connecting.ok();
        let conn = connect(&self.target, self.timeouts).await?;
        let generation = self.async_slot.replace(Some(conn.clone()));
        Ok(Checkout { conn, generation })
    }

    fn forget_async_conn(&self) {
        self.async_slot.replace(None);
    }

    /// Runs `op` on the shared async connection through the circuit breaker,
    /// bounded by the connection's timeouts. An op that finds the connection broken
    /// (for one, its driver task died with the runtime that made it) is
    /// retried once on a fresh connection.
    pub(crate) async fn run_async<T, F, Fut>(&self, op: F) -> Result<T, Error>
    where
        F: Fn(AsyncConn) -> Fut,
        Fut: Future<Output = (AsyncConn, RedisResult<T>)>,
    {
        let Some(permit) = self.breaker.permit() else {
            return Err(Error::Unavailable { backend: NAME });
        };
        let mut result = self.attempt(&op, false).await;
        if let Err(error) = &result {
            if broken(error) && !error.is_timeout() {
                result = self.attempt(&op, true).await;
            }
        }
        match result {
            Ok(value) => {
                self.breaker.success(&permit);
                Ok(value)
            }
            Err(error) => {
                if broken(&error) {
                    self.breaker.failure(&permit);
                    self.forget_async_conn();
                } else {
                    self.breaker.success(&permit);
                }
                Err(redis_error(error))
            }
        }
    }

    async fn attempt<T, F, Fut>(&self, op: &F, fresh: bool) -> RedisResult<T>
    where
        F: Fn(AsyncConn) -> Fut,
        Fut: Future<Output = (AsyncConn, RedisResult<T>)>,
    {
        // The connection carries the connect and response timeouts (see
        // `connect`), so no timer is armed per command here.
        let Checkout { conn, generation } = self.async_conn(fresh).await?;
        let (conn, reply) = op(conn).await;
        if !reply.as_ref().is_err_and(broken) {
            self.async_slot.check_in(conn, generation);
        }
        reply
    }
}

async fn connect(
    target: &Arc<Target>,
    timeouts: crate::target::Timeouts,
) -> RedisResult<AsyncConn> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.command));
    match &**target {
        Target::Single(client) => client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map(AsyncConn::Single),
        #[cfg(feature = "sentinel")]
        Target::Sentinel(_) => {
            // Sentinel discovery is sync in redis-rs: keep it off the executor.
            let target = Arc::clone(target);
            let client = tokio::task::spawn_blocking(move || target.master_client())
                .await
                .map_err(|e| redis::RedisError::from(std::io::Error::other(e.to_string())))??;
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map(AsyncConn::Single)
        }
        #[cfg(feature = "cluster")]
        Target::Cluster { client, .. } => {
            client.get_async_connection().await.map(AsyncConn::Cluster)
        }
    }
}
