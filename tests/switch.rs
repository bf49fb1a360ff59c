//! The process-wide switch (`memo_core::disable`, `disabled()`,
//! `MEMO_DISABLE`): in a binary of its own, since it turns off every cache
//! of the process and other tests run in parallel.
#![allow(missing_docs)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use memo_core::{memoized, quickcache};

static QUICK: AtomicUsize = AtomicUsize::new(0);
static MEMO: AtomicUsize = AtomicUsize::new(0);
static ASYNC: AtomicUsize = AtomicUsize::new(0);

#[quickcache(vary_on = [x])]
fn quick(x: u32) -> u32 {
    QUICK.fetch_add(1, Ordering::SeqCst);
    x
}

#[memoized]
fn memo(x: u32) -> u32 {
    MEMO.fetch_add(1, Ordering::SeqCst);
    x
}

#[quickcache(vary_on = [x])]
async fn quick_async(x: u32) -> u32 {
    ASYNC.fetch_add(1, Ordering::SeqCst);
    x
}

/// Calls each function twice; how many times each body ran.
fn runs_of_two_calls(x: u32) -> [usize; 3] {
    let before = [&QUICK, &MEMO, &ASYNC].map(|c| c.load(Ordering::SeqCst));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(quick(x), x);
        assert_eq!(memo(x), x);
        assert_eq!(runtime.block_on(quick_async(x)), x);
    }
    let after = [&QUICK, &MEMO, &ASYNC].map(|c| c.load(Ordering::SeqCst));
    [0, 1, 2].map(|i| after[i] - before[i])
}

/// One test, so no other test of this binary sees the switch move.
#[test]
fn the_switch_turns_every_cache_off_and_on() {
    assert!(memo_core::is_enabled());
    assert_eq!(runs_of_two_calls(1), [1, 1, 1], "cached");

    memo_core::disable();
    assert!(!memo_core::is_enabled());
    assert_eq!(
        runs_of_two_calls(1),
        [2, 2, 2],
        "off: every call runs the body"
    );
    assert_eq!(runs_of_two_calls(2), [2, 2, 2], "and stores nothing");
    memo_core::enable();
    assert_eq!(
        runs_of_two_calls(1),
        [0, 0, 0],
        "on again: what was cached before"
    );
    assert_eq!(
        runs_of_two_calls(2),
        [1, 1, 1],
        "nothing was stored while off"
    );

    {
        let _outer = memo_core::disabled();
        let inner = memo_core::disabled();
        memo_core::enable();
        drop(inner);
        assert_eq!(
            runs_of_two_calls(3),
            [2, 2, 2],
            "guards nest and outlast enable()"
        );
    }
    assert!(memo_core::is_enabled());
    assert_eq!(runs_of_two_calls(3), [1, 1, 1]);
}

#[test]
#[ignore = "run in a child process by memo_disable_turns_caching_off_from_the_start"]
fn child_with_memo_disable() {
    assert!(!memo_core::is_enabled());
    assert_eq!(runs_of_two_calls(9), [2, 2, 2]);
}

#[test]
fn memo_disable_turns_caching_off_from_the_start() {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_with_memo_disable", "--ignored", "--quiet"])
        .env("MEMO_DISABLE", "1")
        .status()
        .unwrap();
    assert!(status.success(), "the child's assertions failed");
}
