use memo_core::quickcache;

#[quickcache(lock_ttl = 5)]
fn f(x: u32) -> u32 {
    x
}

#[quickcache(lock = true, lock_ttl = 0)]
fn g(x: u32) -> u32 {
    x
}

fn main() {}
