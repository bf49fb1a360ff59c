use memo_core::memoized;

#[memoized]
const fn f(x: u32) -> u32 {
    x
}

fn main() {}
