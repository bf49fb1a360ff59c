//! The sync side: a bounded pool of blocking connections, so a sync call
//! needs no async runtime, through the circuit breaker. The async side, on
//! one multiplexed connection, is `future`; both follow the same failure
//! rules.

use memo_core::Error;

use crate::target::Conn;
use crate::{broken, redis_error, Inner, NAME};

impl Inner {
    /// Runs `op` on a pooled connection, through the circuit breaker. A
    /// connection that failed is dropped with every idle one (they likely
    /// share its fate, e.g. after a restart), and an op that failed on a
    /// reused connection is retried once on a fresh one.
    pub(crate) fn run<T>(
        &self,
        op: impl Fn(&mut Conn) -> redis::RedisResult<T>,
    ) -> Result<T, Error> {
        let Some(permit) = self.breaker.permit() else {
            return Err(Error::Unavailable { backend: NAME });
        };
        let mut lease = self.pool.lease(self.timeouts.command);
        let (result, conn) = match lease.conn.take() {
            Some(mut conn) => match op(&mut conn) {
                Err(error) if broken(&error) && !error.is_timeout() => {
                    self.pool.clear_idle();
                    self.run_fresh(&op)
                }
                result => (result, Some(conn)),
            },
            None => self.run_fresh(&op),
        };
        match result {
            Ok(value) => {
                self.breaker.success(&permit);
                if let Some(conn) = conn {
                    lease.give_back(conn);
                }
                Ok(value)
            }
            Err(error) if broken(&error) => {
                self.breaker.failure(&permit);
                self.pool.clear_idle();
                Err(redis_error(error))
            }
            Err(error) => {
                // Redis answered (with an error): the server and the
                // connection are fine.
                self.breaker.success(&permit);
                if let Some(conn) = conn {
                    lease.give_back(conn);
                }
                Err(redis_error(error))
            }
        }
    }

    /// `op` on a new connection; the connection, if it was made.
    fn run_fresh<T>(
        &self,
        op: &impl Fn(&mut Conn) -> redis::RedisResult<T>,
    ) -> (redis::RedisResult<T>, Option<Conn>) {
        match self.target.connect(self.timeouts) {
            Ok(mut conn) => (op(&mut conn), Some(conn)),
            Err(error) => (Err(error), None),
        }
    }
}
