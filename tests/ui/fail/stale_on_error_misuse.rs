use memo_core::quickcache;

#[quickcache(stale_on_error = true)]
fn not_a_result(x: u32) -> u32 {
    x
}

#[quickcache(stale_on_error = 60, cache_errors = true)]
fn errors_cached(x: u32) -> Result<u32, String> {
    Ok(x)
}

#[quickcache(stale_on_error = 0)]
fn no_grace(x: u32) -> Result<u32, String> {
    Ok(x)
}

#[memo_core::memoized(stale_on_error = true)]
fn local(x: u32) -> Result<u32, String> {
    Ok(x)
}

fn main() {}
