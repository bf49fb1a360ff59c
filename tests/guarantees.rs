//! The README's guarantees under the interleavings that would break them:
//! a body blocked while its entry is invalidated, values that must not
//! alias, results that must not be kept. One process; the cross-process
//! cases are in `redis.rs`.
#![allow(missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use memo_core::memoized;

/// A body that reports what it read and then waits to be let go: the
/// test runs an invalidation in between.
struct Gate {
    read: Mutex<Option<mpsc::Sender<u64>>>,
    go: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            read: Mutex::new(None),
            go: Mutex::new(None),
        }
    }

    /// Arms the gate for one body: returns where it reports its read and
    /// what lets it go.
    fn arm(&self) -> (mpsc::Receiver<u64>, mpsc::Sender<()>) {
        let (read_tx, read_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel();
        *self.read.lock().unwrap() = Some(read_tx);
        *self.go.lock().unwrap() = Some(go_rx);
        (read_rx, go_tx)
    }

    /// In the body: reports `value` and waits, if armed.
    fn pass(&self, value: u64) {
        let read = self.read.lock().unwrap().take();
        let go = self.go.lock().unwrap().take();
        if let (Some(read), Some(go)) = (read, go) {
            read.send(value).unwrap();
            go.recv_timeout(Duration::from_secs(10)).unwrap();
        }
    }
}

/// The data a body computes from; tests bump it, then invalidate.
static DATA: AtomicU64 = AtomicU64::new(1);
static MEMO_GATE: Gate = Gate::new();

#[memoized]
fn memo_read(key: u64) -> u64 {
    let value = DATA.load(Ordering::SeqCst) * 1000 + key;
    MEMO_GATE.pass(value);
    value
}

/// Runs `call` on a thread whose body reads old data and blocks; changes the
/// data and runs `invalidate` meanwhile; lets the body go. Returns what the
/// blocked call returned and what a call after the invalidation returns
/// while the blocked one is still in flight.
fn across_an_invalidation<T: Send + 'static>(
    gate: &'static Gate,
    call: fn() -> T,
    invalidate: impl FnOnce(),
) -> (T, T) {
    let (read, go) = gate.arm();
    let blocked = std::thread::spawn(call);
    read.recv_timeout(Duration::from_secs(10)).unwrap();
    DATA.fetch_add(1, Ordering::SeqCst);
    invalidate();
    // A call after the invalidation must not join the flight under way.
    let (done_tx, done_rx) = mpsc::channel();
    let after = std::thread::spawn(move || {
        let value = call();
        done_tx.send(()).unwrap();
        value
    });
    let joined_the_old_flight = done_rx.recv_timeout(Duration::from_secs(2)).is_err();
    go.send(()).unwrap();
    let old = blocked.join().unwrap();
    let after = after.join().unwrap();
    assert!(
        !joined_the_old_flight,
        "a call after the invalidation waited for the computation under way"
    );
    (old, after)
}

#[test]
fn memoized_a_clear_during_a_computation_fences_its_value() {
    let (old, after) = across_an_invalidation(&MEMO_GATE, || memo_read(7), || memo_read::clear(7));
    assert_ne!(old, after, "the call after the clear got the old value");
    assert_eq!(
        memo_read(7),
        after,
        "the old value was stored after the clear"
    );

    let (old, after) = across_an_invalidation(&MEMO_GATE, || memo_read(8), memo_read::invalidate);
    assert_ne!(old, after);
    assert_eq!(memo_read(8), after);

    let (_, after) = across_an_invalidation(
        &MEMO_GATE,
        || memo_read(9),
        || memo_read::set_cached_value(9).to(42),
    );
    assert_eq!(after, 42);
    assert_eq!(
        memo_read(9),
        42,
        "the computation under way overwrote the set value"
    );
}
