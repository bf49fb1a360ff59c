use memo_core::quickcache;

#[derive(Clone)]
struct Opaque;

#[quickcache]
fn f(x: u32) -> Opaque {
    Opaque
}

fn main() {}
