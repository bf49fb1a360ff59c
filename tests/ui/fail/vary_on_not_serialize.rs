use memo_core::quickcache;

struct Opaque;

#[quickcache(vary_on = [thing])]
fn f(thing: &Opaque) -> u32 {
    0
}

fn main() {}
