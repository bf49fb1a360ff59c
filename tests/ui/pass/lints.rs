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

/// A documented fallible function: `Ok` values cached, `Err` not.
#[quickcache]
pub fn public_fallible(x: u32) -> Result<u32, std::num::TryFromIntError> {
    u8::try_from(x).map(u32::from)
}

/// A documented fallible function caching some errors.
#[memoized(cache_errors = is_overflow)]
pub async fn public_fallible_memo(x: u32) -> Result<u8, String> {
    u8::try_from(x).map_err(|e| e.to_string())
}

fn is_overflow(error: &String) -> bool {
    error.contains("out of range")
}

/// A documented optional function that does not cache `None`.
#[quickcache(cache_none = false)]
pub async fn public_optional(x: u32) -> Option<u32> {
    x.checked_sub(1)
}

fn main() {
    let _ = private_used(1);
}
