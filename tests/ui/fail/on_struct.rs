use memo_core::quickcache;

#[quickcache]
struct NotAFunction {
    x: u32,
}

fn main() {}
