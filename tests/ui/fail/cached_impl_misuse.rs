use memo_core::{cached_impl, memoized};

struct Generic<T>(T);

// One static cache would serve every `Self` type.
#[cached_impl]
impl<T> Generic<T> {
    #[memoized]
    fn double(x: u64) -> u64 {
        x * 2
    }
}

struct Plain;

// A trait impl cannot hold the companions.
#[cached_impl]
impl Default for Plain {
    fn default() -> Self {
        Plain
    }
}

#[cached_impl(fast)]
impl Plain {
    #[memo_core::quickcache]
    fn half(x: u64) -> u64 {
        x / 2
    }
}

struct Typo;

// The attribute's own error only: the companions are still there.
#[cached_impl]
impl Typo {
    #[memo_core::quickcache(timout = 5)]
    fn triple(x: u64) -> u64 {
        x * 3
    }
}

fn main() {
    let _ = Generic::<u8>::double(1);
    Generic::<u8>::double_clear(1);
    let _ = Typo::triple(1);
    let _ = Typo::triple_clear(1);
    let _ = Plain::half_clear(1);
}
