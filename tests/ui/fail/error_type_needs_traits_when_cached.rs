use memo_core::quickcache;

#[derive(Debug)]
struct Down;

// Without `cache_errors`, `Down` needs nothing; with it, `Err` values are
// stored, so `Down` must be `Serialize + DeserializeOwned + Clone`.
#[quickcache(cache_errors = true)]
fn fetch(id: u64) -> Result<u64, Down> {
    Ok(id)
}

fn main() {}
