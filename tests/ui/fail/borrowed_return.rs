use memo_core::memoized;

#[memoized]
fn first(items: &[String]) -> &String {
    &items[0]
}

fn main() {}
