//! The sync connections: at most `size` open at once. A caller takes an idle
//! one, or opens one while under the bound, or else waits for one to be
//! given back; past the wait it uses a one-off connection rather than fail.
//! So many threads share a few connections instead of opening and closing
//! one per call beyond the idle ones (each a TCP handshake and a socket in
//! `TIME_WAIT`).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::target::Conn;

pub(crate) struct Pool {
    state: Mutex<State>,
    freed: Condvar,
    size: usize,
}

struct State {
    idle: Vec<Conn>,
    /// Connections counted against the bound: idle and leased.
    open: usize,
}

/// A place to run a command: an idle connection, or the right to open one.
/// Dropped without [`Lease::give_back`], it frees its place in the bound.
pub(crate) struct Lease<'p> {
    pool: &'p Pool,
    /// Whether it holds a place in the bound (a one-off connection does not).
    counted: bool,
    /// An idle connection to reuse; `None`: open one.
    pub(crate) conn: Option<Conn>,
}

impl Pool {
    pub(crate) fn new(size: usize) -> Self {
        Pool {
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            size: size.max(1),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection, or a place to open one; waits up to `wait` for
    /// either when all places are taken, then hands out a one-off place.
    pub(crate) fn lease(&self, wait: Duration) -> Lease<'_> {
        let deadline = Instant::now() + wait;
        let mut state = self.state();
        loop {
            if let Some(conn) = state.idle.pop() {
                return self.counted(Some(conn));
            }
            if state.open < self.size {
                state.open += 1;
                return self.counted(None);
            }
            let now = Instant::now();
            if now >= deadline {
                return Lease {
                    pool: self,
                    counted: false,
                    conn: None,
                };
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn counted(&self, conn: Option<Conn>) -> Lease<'_> {
        Lease {
            pool: self,
            counted: true,
            conn,
        }
    }

    /// Closes every idle connection (after one broke: they likely share its
    /// fate, e.g. after a restart).
    pub(crate) fn clear_idle(&self) {
        let mut state = self.state();
        let closed = state.idle.len();
        state.idle.clear();
        state.open -= closed;
        drop(state);
        self.freed.notify_all();
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.state().open
    }
}

impl Lease<'_> {
    /// Keeps `conn` for the next caller (a one-off connection is closed).
    pub(crate) fn give_back(mut self, conn: Conn) {
        if std::mem::take(&mut self.counted) {
            self.pool.state().idle.push(conn);
            self.pool.freed.notify_one();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.pool.state().open -= 1;
            self.pool.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_holds_and_a_long_wait_gets_a_one_off_place() {
        let pool = Pool::new(2);
        let (a, b) = (pool.lease(Duration::ZERO), pool.lease(Duration::ZERO));
        assert!(a.counted && b.counted && a.conn.is_none());
        let start = Instant::now();
        let extra = pool.lease(Duration::from_millis(20));
        assert!(!extra.counted, "over the bound: one-off");
        assert!(start.elapsed() >= Duration::from_millis(20));
        drop(extra);
        assert_eq!(pool.open(), 2);
        drop(a);
        assert_eq!(pool.open(), 1);
        assert!(pool.lease(Duration::ZERO).counted);
    }

    #[test]
    fn a_waiting_caller_gets_the_place_freed() {
        let pool = Pool::new(1);
        let held = pool.lease(Duration::ZERO);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let start = Instant::now();
                let lease = pool.lease(Duration::from_secs(10));
                (lease.counted, start.elapsed())
            });
            std::thread::sleep(Duration::from_millis(50));
            drop(held);
            let (counted, waited) = waiter.join().unwrap();
            assert!(counted);
            assert!(waited < Duration::from_secs(5), "{waited:?}");
        });
        assert_eq!(pool.open(), 0);
    }
}
