use memo_core::{memoized, quickcache};

const NO_TIME: u64 = 0;
const NONE: usize = 0;

#[quickcache(timeout = NO_TIME)]
fn f(x: u32) -> u32 {
    x
}

#[memoized(max_entries = NONE)]
fn g(x: u32) -> u32 {
    x
}

#[quickcache(timeout = "five minutes")]
fn h(x: u32) -> u32 {
    x
}

fn main() {}

struct Account {
    memos: memo_core::Memos,
}

impl memo_core::HasMemos for Account {
    fn memos(&self) -> &memo_core::Memos {
        &self.memos
    }
}

impl Account {
    #[memoized(max_bytes = NONE)]
    fn total(&self) -> u64 {
        1
    }
}
