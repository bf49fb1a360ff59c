//! Every cache of the process off, and on again: for an application's own
//! tests (django-cacheops' `CACHEOPS_FAKE`). While off, a cached function
//! runs its body on every call and reads and stores nothing, in any tier;
//! companions (`clear`, `set_cached_value`, ...) still work.
//!
//! The switch is process-wide, not per thread: a test binary whose tests run
//! in parallel sees it in all of them. Tests that want the cache on and off
//! at once belong in different processes (`cargo nextest` runs each test in
//! its own).

use std::sync::atomic::{AtomicUsize, Ordering};

/// 0: caching on. Otherwise bit 0 is `disable()` (or `MEMO_DISABLE`), and
/// the bits above count the live [`Disabled`] guards. `UNREAD`: the
/// environment has not been read yet.
static STATE: AtomicUsize = AtomicUsize::new(UNREAD);
const UNREAD: usize = usize::MAX;
const OFF: usize = 1;
const GUARD: usize = 2;

/// Whether calls bypass the cache: one load on every call.
#[inline(always)]
pub fn bypassed() -> bool {
    match STATE.load(Ordering::Relaxed) {
        0 => false,
        UNREAD => read_environment() != 0,
        _ => true,
    }
}

/// Reads `MEMO_DISABLE` once (set and neither empty nor `0`: off); returns
/// the state.
#[cold]
fn read_environment() -> usize {
    let off = std::env::var_os("MEMO_DISABLE").is_some_and(|v| !v.is_empty() && v != "0");
    match STATE.compare_exchange(
        UNREAD,
        usize::from(off),
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => usize::from(off),
        Err(state) => state,
    }
}

fn update(change: impl Fn(usize) -> usize) {
    read_environment();
    let _ = STATE.fetch_update(Ordering::AcqRel, Ordering::Acquire, |state| {
        Some(change(state))
    });
}

/// Turns every cache of the process off: cached functions run their bodies
/// on every call, reading and storing nothing, until [`enable`]. Setting
/// the environment variable `MEMO_DISABLE=1` does the same from the start.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// static RUNS: AtomicU32 = AtomicU32::new(0);
///
/// #[memo_core::memoized]
/// fn double(x: u32) -> u32 {
///     RUNS.fetch_add(1, Ordering::Relaxed);
///     x * 2
/// }
///
/// memo_core::disable();
/// double(2);
/// double(2);
/// assert_eq!(RUNS.load(Ordering::Relaxed), 2, "both calls ran the body");
/// memo_core::enable();
/// double(2);
/// double(2);
/// assert_eq!(RUNS.load(Ordering::Relaxed), 3);
/// ```
pub fn disable() {
    update(|state| state | OFF);
}

/// Turns caching back on after [`disable`] (or `MEMO_DISABLE`); live
/// [`disabled`] guards still keep it off until they drop.
pub fn enable() {
    update(|state| state & !OFF);
}

/// Whether caching is on: neither [`disable`] (nor `MEMO_DISABLE`) nor a
/// live [`disabled`] guard turned it off.
///
/// # Examples
///
/// ```
/// assert!(memo_core::is_enabled());
/// let guard = memo_core::disabled();
/// assert!(!memo_core::is_enabled());
/// drop(guard);
/// assert!(memo_core::is_enabled());
/// ```
pub fn is_enabled() -> bool {
    !bypassed()
}

/// Turns every cache of the process off until the guard drops (guards
/// nest, and outlast [`enable`]).
///
/// # Examples
///
/// ```
/// #[memo_core::quickcache]
/// fn greeting(name: &str) -> String {
///     format!("hello {name}")
/// }
///
/// {
///     let _uncached = memo_core::disabled();
///     assert_eq!(greeting("ada"), "hello ada"); // computed, not stored
/// }
/// ```
#[must_use = "caching is back on as soon as the guard drops"]
pub fn disabled() -> Disabled {
    update(|state| state + GUARD);
    Disabled(())
}

/// The guard of [`disabled`].
#[derive(Debug)]
pub struct Disabled(());

impl Drop for Disabled {
    fn drop(&mut self) {
        update(|state| state - GUARD);
    }
}
