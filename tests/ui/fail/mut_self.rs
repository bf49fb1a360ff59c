use memo_core::{memoized, HasMemos, Memos};

struct Counter {
    n: u32,
    memos: Memos,
}

impl HasMemos for Counter {
    fn memos(&self) -> &Memos {
        &self.memos
    }
}

impl Counter {
    #[memoized]
    fn bump(&mut self) -> u32 {
        self.n += 1;
        self.n
    }
}

fn main() {}
