use memo_core::memoized;

#[memoized(min_time = 0)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
