//! The async side: one multiplexed connection (redis-rs's
//! `MultiplexedConnection`, or the async cluster connection) shared by every
//! task, so concurrent async callers pipeline on one socket instead of
//! holding a connection each. Same circuit breaker and failure rules as the
//! sync pool.

use std::future::Future;
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
    Cluster(redis::cluster_async::ClusterConnection),
}

impl AsyncConn {
    pub(crate) async fn query<T: redis::FromRedisValue>(
        mut self,
        cmd: &redis::Cmd,
    ) -> RedisResult<T> {
        match &mut self {
            AsyncConn::Single(connection) => cmd.query_async(connection).await,
            AsyncConn::Cluster(connection) => cmd.query_async(connection).await,
        }
    }
}

/// The shared async connection, made on first use and remade after it
/// breaks. Calls clone the handle under a brief read lock (never held across
/// an await); only connecting takes the async mutex, so one task connects
/// while the others wait for it.
#[derive(Default)]
pub(crate) struct AsyncSlot {
    conn: RwLock<Option<AsyncConn>>,
    connecting: tokio::sync::Mutex<()>,
}

impl AsyncSlot {
    fn current(&self) -> Option<AsyncConn> {
        self.conn.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, conn: Option<AsyncConn>) {
        *self.conn.write().unwrap_or_else(|e| e.into_inner()) = conn;
    }
}

impl Inner {
    async fn async_conn(&self, fresh: bool) -> RedisResult<AsyncConn> {
        if fresh {
            self.async_slot.replace(None);
        } else if let Some(conn) = self.async_slot.current() {
            return Ok(conn);
        }
        let _connecting = self.async_slot.connecting.lock().await;
        if let Some(conn) = self.async_slot.current() {
            return Ok(conn);
        }
        let conn = connect(&self.target, self.timeouts).await?;
        self.async_slot.replace(Some(conn.clone()));
        Ok(conn)
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
        Fut: Future<Output = RedisResult<T>>,
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
        Fut: Future<Output = RedisResult<T>>,
    {
        // The connection carries the connect and response timeouts (see
        // `connect`), so no timer is armed per command here.
        op(self.async_conn(fresh).await?).await
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
        Target::Cluster { client, .. } => {
            client.get_async_connection().await.map(AsyncConn::Cluster)
        }
    }
}
