use memo_core::memoized;

#[derive(Clone, PartialEq)]
struct Point(f64, f64);

#[memoized]
fn norm(p: Point) -> f64 {
    p.0.hypot(p.1)
}

fn main() {}
