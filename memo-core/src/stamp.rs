//! Write stamps: the random 64 bits after an envelope's version byte (and
//! a tombstone's), which a miss's compare-and-set checks are still there.
//! What they must be: different for every write, in every process, so that
//! a key rewritten never holds a stamp a miss read before (no ABA).
//!
//! Drawn from the OS's randomness, as generation tokens are, a stamp would
//! cost a `getrandom` system call per write, a sixth of an embedded miss
//! (`benches/RESULTS.md`). So a process
//! draws one random seed and numbers its writes: stamp `n` is a bijective
//! mix (SplitMix64) of the seed plus `n`, distinct for every `n`, and
//! apart from other processes' as long as their seeds differ (64 random
//! bits). A child after `fork` would repeat its parent's numbers: the fork
//! handler drops the seed there, and the child draws its own.

use std::sync::atomic::{AtomicU64, Ordering};

/// The seed; 0 until drawn (and in a child after `fork`).
static SEED: AtomicU64 = AtomicU64::new(0);
/// Writes numbered so far.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// A stamp no write of any process has used.
pub(crate) fn next() -> u64 {
    let seed = match SEED.load(Ordering::Acquire) {
        0 => draw(),
        seed => seed,
    };
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    mix(seed.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

/// Draws the seed (once; racing callers agree on the first). Without a
/// fork handler a child could repeat its parent's stamps: then every stamp
/// is drawn from the OS.
#[cold]
fn draw() -> u64 {
    let drawn = crate::backend::new_generation() | 1;
    if !crate::fork::watch() {
        return drawn;
    }
    match SEED.compare_exchange(0, drawn, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => drawn,
        Err(seed) => seed,
    }
}

/// SplitMix64's finalizer: a bijection on 64-bit words.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// In a child after `fork`: draw a seed of its own (async-signal-safe: one
/// atomic store).
pub(crate) fn forget_seed_in_child() {
    SEED.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_never_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            assert!(seen.insert(next()), "a stamp repeated");
        }
    }

    /// A child after `fork` draws its own seed: its stamps are not its
    /// parent's next ones.
    #[cfg(unix)]
    #[test]
    #[allow(unsafe_code)]
    fn a_forked_child_does_not_repeat_its_parents_stamps() {
        next();
        let (parent_next, status) = {
            // SAFETY: the child does only async-signal-safe work before it
            // exits (an atomic load and `_exit`: it reads the seed rather
            // than stamp, since a stamp would draw from the OS), as POSIX
            // requires of a child of a multi-threaded process; the parent
            // waits for it by pid.
            let status = unsafe {
                match libc::fork() {
                    -1 => panic!("fork failed"),
                    0 => libc::_exit(i32::from(SEED.load(Ordering::Relaxed) != 0)),
                    child => {
                        let mut status = 0;
                        assert_eq!(libc::waitpid(child, &mut status, 0), child);
                        status
                    }
                }
            };
            (next(), status)
        };
        assert_ne!(parent_next, 0);
        assert!(libc::WIFEXITED(status), "the child did not exit");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "the child kept its parent's seed"
        );
    }
}
