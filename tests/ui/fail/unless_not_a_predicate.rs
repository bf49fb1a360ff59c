use memo_core::quickcache;

fn wrong(x: &u32) -> u32 {
    *x
}

#[quickcache(unless = wrong)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
