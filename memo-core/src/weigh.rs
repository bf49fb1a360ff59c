//! How many bytes a value holds, for `#[memoized(max_bytes = N)]`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::mem::size_of;
use std::sync::Arc;

/// The bytes a value holds: its own size plus what it owns on the heap.
/// `#[memoized(max_bytes = N)]` weighs each key and value with it; a type
/// that does not implement it is weighed by `size_of` alone, so implement it
/// for values that own heap memory (the default method is that `size_of`).
///
/// # Examples
///
/// ```
/// use memo_core::Weigh;
///
/// struct Report {
///     title: String,
///     rows: Vec<u64>,
/// }
///
/// impl Weigh for Report {
///     fn weigh(&self) -> usize {
///         std::mem::size_of::<Self>() + self.title.heap() + self.rows.heap()
///     }
/// }
///
/// let report = Report { title: "q3".into(), rows: vec![1, 2, 3] };
/// assert_eq!(report.weigh(), std::mem::size_of::<Report>() + 2 + 24);
/// ```
pub trait Weigh {
    /// The value's size plus the heap memory it owns.
    fn weigh(&self) -> usize {
        std::mem::size_of_val(self) + self.heap()
    }

    /// The heap memory the value owns (none, by default).
    fn heap(&self) -> usize {
        0
    }
}

macro_rules! weigh_plain {
    ($($t:ty),*) => {$(impl Weigh for $t {})*};
}

weigh_plain!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    &'static str
);

impl Weigh for String {
    fn heap(&self) -> usize {
        self.capacity()
    }
}

impl<T: Weigh> Weigh for Vec<T> {
    fn heap(&self) -> usize {
        self.capacity() * size_of::<T>() + self.iter().map(Weigh::heap).sum::<usize>()
    }
}

impl<T: Weigh> Weigh for Box<T> {
    fn heap(&self) -> usize {
        (**self).weigh()
    }
}

/// Counted whole for every holder: a cache cannot tell which holder the
/// memory would outlive.
impl<T: Weigh> Weigh for Arc<T> {
    fn heap(&self) -> usize {
        (**self).weigh() + 2 * size_of::<usize>()
    }
}

impl<T: Weigh> Weigh for Option<T> {
    fn heap(&self) -> usize {
        self.as_ref().map_or(0, Weigh::heap)
    }
}

impl<T: Weigh, E: Weigh> Weigh for Result<T, E> {
    fn heap(&self) -> usize {
        match self {
            Ok(ok) => ok.heap(),
            Err(err) => err.heap(),
        }
    }
}

impl<T: Weigh, const N: usize> Weigh for [T; N] {
    fn heap(&self) -> usize {
        self.iter().map(Weigh::heap).sum()
    }
}

/// A hash table's entries at its capacity, plus a control byte each.
fn table<K, V>(capacity: usize) -> usize {
    capacity * (size_of::<(K, V)>() + 1)
}

impl<K: Weigh, V: Weigh, S> Weigh for HashMap<K, V, S> {
    fn heap(&self) -> usize {
        table::<K, V>(self.capacity())
            + self.iter().map(|(k, v)| k.heap() + v.heap()).sum::<usize>()
    }
}

impl<T: Weigh, S> Weigh for HashSet<T, S> {
    fn heap(&self) -> usize {
        table::<T, ()>(self.capacity()) + self.iter().map(Weigh::heap).sum::<usize>()
    }
}

/// Entries as laid out, not the tree's nodes (about a sixth more).
impl<K: Weigh, V: Weigh> Weigh for BTreeMap<K, V> {
    fn heap(&self) -> usize {
        self.iter().map(|(k, v)| k.weigh() + v.weigh()).sum()
    }
}

impl<T: Weigh> Weigh for BTreeSet<T> {
    fn heap(&self) -> usize {
        self.iter().map(Weigh::weigh).sum()
    }
}

macro_rules! weigh_tuples {
    ($(($($n:tt $t:ident),*))*) => {$(
        impl<$($t: Weigh),*> Weigh for ($($t,)*) {
            fn heap(&self) -> usize {
                0 $(+ self.$n.heap())*
            }
        }
    )*};
}

weigh_tuples! {
    (0 A)
    (0 A, 1 B)
    (0 A, 1 B, 2 C)
    (0 A, 1 B, 2 C, 3 D)
    (0 A, 1 B, 2 C, 3 D, 4 E)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H)
}

/// How generated code weighs a key or value, picked by autoref:
/// `(&WeighOf(value)).memo_weight()` is [`Weigh::weigh`] when the type
/// implements it ([`ByWeigh`]), and its `size_of` otherwise ([`BySize`]).
pub struct WeighOf<'a, T>(pub &'a T);

/// See [`WeighOf`].
pub trait ByWeigh {
    /// The weight.
    fn memo_weight(&self) -> usize;
}

impl<T: Weigh> ByWeigh for WeighOf<'_, T> {
    fn memo_weight(&self) -> usize {
        self.0.weigh()
    }
}

/// See [`WeighOf`].
pub trait BySize {
    /// The weight.
    fn memo_weight(&self) -> usize;
}

impl<T> BySize for &WeighOf<'_, T> {
    fn memo_weight(&self) -> usize {
        size_of::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Opaque(#[allow(dead_code)] [u8; 40]);

    #[test]
    #[allow(clippy::needless_borrow)] // the borrow is the autoref that picks
    fn heap_memory_is_counted_and_other_types_weigh_their_size() {
        let text = String::with_capacity(100);
        assert_eq!(text.weigh(), size_of::<String>() + 100);
        let nested = vec!["0123456789".to_owned(); 3];
        assert_eq!(
            nested.weigh(),
            size_of::<Vec<String>>() + 3 * (size_of::<String>() + 10)
        );
        assert_eq!((&WeighOf(&text)).memo_weight(), text.weigh());
        assert_eq!((1u64, text).weigh(), size_of::<(u64, String)>() + 100);
        assert_eq!((&WeighOf(&Opaque([0; 40]))).memo_weight(), 40);
    }
}
