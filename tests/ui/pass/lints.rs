//! Generated code trips none of the users' strict lints.
#![deny(unused_qualifications, unreachable_pub, dead_code, missing_docs, unused)]

use memo_core::{memoized, quickcache};

/// A documented public function.
#[memoized]
pub fn public_memo(x: u32, name: &str) -> u32 {
    x + name.len() as u32
}

/// A documented public cached function.
#[quickcache(vary_on = [x])]
pub fn public_quick(x: u32, unused_in_key: bool) -> u32 {
    x + u32::from(unused_in_key)
}

#[memoized]
fn private_used(x: u8) -> u8 {
    x
}

/// A documented async cached function with a dog-pile lock.
#[quickcache(lock = true, lock_ttl = 5)]
pub async fn public_async(x: u32) -> u32 {
    x
}

/// A documented async memoized function.
#[memoized]
pub async fn public_async_memo(x: u32) -> u32 {
    x
}

fn main() {
    let _ = private_used(1);
}
