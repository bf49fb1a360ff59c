//! What memo-core needs of an async runtime, in one place.
//!
//! Async calls work on any executor: single flight parks on
//! `event-listener`, and the one timer (the pause between a waiter's polls
//! of a dog-pile lock) is `futures-timer`'s, which runs on a helper thread
//! of its own rather than on a runtime's timer wheel. A maintained crate
//! does this as well as a hand-written one would, so ours is not written.
//!
//! Tokio (feature `tokio`, on by default) adds two things no executor-neutral
//! API offers: telling that a sync call runs inside a Tokio runtime (the
//! warning of `report::blocking_in_runtime`), and releasing a dropped async
//! lock guard in a task instead of blocking the thread that dropped it.

use std::future::Future;
use std::time::Duration;

/// Waits `pause` without blocking the executor.
pub(crate) async fn sleep(pause: Duration) {
    futures_timer::Delay::new(pause).await;
}

/// Whether the calling thread is inside a Tokio runtime's context; always
/// false without the `tokio` feature.
pub(crate) fn in_tokio() -> bool {
    #[cfg(feature = "tokio")]
    return tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "tokio"))]
    return false;
}

/// Runs `task` on the current Tokio runtime, if there is one, and says
/// whether it did; otherwise `task` is dropped unrun, for the caller to do
/// its work some other way.
pub(crate) fn spawn<F>(task: F) -> bool
where
    F: Future<Output = ()> + Send + 'static,
{
    #[cfg(feature = "tokio")]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(task);
        return true;
    }
    drop(task);
    false
}
