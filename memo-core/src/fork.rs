//! What a child process after `fork` must not inherit: the parent's
//! published time (`clock`), which would stand still in a child with no
//! ticker, and the parent's stamp sequence (`stamp`), which the child would
//! repeat. One `pthread_atfork` child handler resets both.

#[cfg(unix)]
mod handler {
    #![allow(unsafe_code)]

    use std::sync::atomic::{AtomicBool, Ordering};

    /// Registers, once per process tree, the child handler. Says whether
    /// it is registered.
    ///
    /// A plain flag, not a `OnceLock`: one caught mid-way by a `fork` would
    /// stay locked in the child. Two callers racing may both register;
    /// the handler is idempotent, so running it twice in a child is as
    /// running it once. A child inherits both the flag and its parent's
    /// handlers.
    pub(crate) fn watch() -> bool {
        static REGISTERED: AtomicBool = AtomicBool::new(false);
        if REGISTERED.load(Ordering::Acquire) {
            return true;
        }
        // SAFETY: `pthread_atfork` may be called at any time from any
        // thread; it takes plain function pointers, and `in_child` is a
        // `'static` `extern "C" fn()` that never unwinds. POSIX lets a
        // child handler of a multi-threaded process do only
        // async-signal-safe work: `in_child` does lock-free atomic stores
        // (no lock, no allocation, no call into libc).
        let registered = unsafe { libc::pthread_atfork(None, None, Some(in_child)) } == 0;
        if registered {
            REGISTERED.store(true, Ordering::Release);
        }
        registered
    }

    extern "C" fn in_child() {
        crate::clock::forget_ticker_in_child();
        crate::stamp::forget_seed_in_child();
    }
}

#[cfg(unix)]
pub(crate) use handler::watch;

/// No `fork` here: nothing to watch.
#[cfg(not(unix))]
pub(crate) fn watch() -> bool {
    true
}
