use memo_core::quickcache;

fn k(x: &u32) -> u32 {
    *x
}

#[quickcache(vary_on = [x], key = k)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
