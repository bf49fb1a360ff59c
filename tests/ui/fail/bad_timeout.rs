use memo_core::quickcache;

#[quickcache(timeout = 0)]
fn f(x: u32) -> u32 {
    x
}

#[quickcache(memoize_timeout = "10")]
fn g(x: u32) -> u32 {
    x
}

fn main() {}
