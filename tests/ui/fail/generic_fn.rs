use memo_core::memoized;

#[memoized]
fn f<T: Clone>(x: T) -> T {
    x
}

fn main() {}
