use memo_core::quickcache;

#[quickcache(vary_on = [domain, usr.id])]
fn f(domain: &str, user: &str) -> u32 {
    0
}

fn main() {}
