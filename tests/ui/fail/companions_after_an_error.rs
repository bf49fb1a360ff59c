// An attribute with an error still gives the function its companions (with
// the signatures they would have), so the only errors are the attribute's.
use memo_core::{memoized, quickcache};

#[quickcache(timeout = 0)]
fn price(sku: &str) -> u64 {
    sku.len() as u64
}

#[quickcache(vary_on = [missing])]
async fn stock(sku: &str) -> u64 {
    sku.len() as u64
}

#[memoized(max_entries = 0)]
fn total(n: u64) -> u64 {
    n
}

struct Cart {
    memos: memo_core::Memos,
}

impl Cart {
    #[memoized(ttl = 5)]
    fn size(&self) -> usize {
        let _ = &self.memos;
        1
    }
}

async fn uses_stock() -> Result<u64, memo_core::Error> {
    stock::clear("a").await?;
    stock::invalidate().await?;
    Ok(stock("a").await + stock::refresh("a").await)
}

fn main() -> Result<(), memo_core::Error> {
    price::clear("a")?;
    price::invalidate()?;
    price::set_cached_value("a").to(3)?;
    let _: u64 = price("a") + price::refresh("a") + price::uncached("a");
    total::clear(1);
    total::invalidate();
    total::set_cached_value(1).to(2);
    let _: u64 = total(2);
    let cart = Cart { memos: memo_core::Memos::new() };
    cart.size_clear();
    cart.size_invalidate();
    let _: usize = cart.size();
    drop(uses_stock());
    Ok(())
}
