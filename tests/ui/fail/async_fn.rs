use memo_core::quickcache;

#[quickcache]
async fn f(x: u32) -> u32 {
    x
}

fn main() {}
