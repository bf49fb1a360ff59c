use memo_core::memoized;

struct Plain {
    x: u32,
}

impl Plain {
    #[memoized]
    fn doubled(&self) -> u32 {
        self.x * 2
    }
}

fn main() {}
