use memo_core::quickcache;

#[quickcache(timeout = 10, timeout = 20)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
