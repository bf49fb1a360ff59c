//! Arguments that L1 keys by value, not by their encoding.
//!
//! A `#[quickcache]` L1 hit on encoded arguments encodes them into a stack
//! buffer, then hashes and compares the bytes. When every `vary_on` value is
//! of a type listed here, L1 instead holds the values themselves (owned: a
//! `&str` as a `String`) and a hit hashes and compares the arguments where
//! they are, as `#[memoized]` does (a tenth of a hit, `benches/RESULTS.md`).
//! The generated code picks the path by autoref
//! (`__private::Probe`), so any other argument type keeps the encoded key.
//!
//! The types are those whose equality is equality of their key encoding
//! (integers, `bool`, `char`, strings, and options and vectors of them; not
//! floats, whose `-0.0 == 0.0` and `NaN != NaN` disagree with their bytes,
//! nor user types, whose `Eq` may be coarser than their encoding). So L1
//! and the shared tier agree on which calls share an entry, and an entry
//! named by encoded arguments (a remote `clear(args)`, a value stored after
//! a miss) is found by decoding them (`key::decoder`).

use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;

mod sealed {
    pub trait Sealed {}
}

/// A `vary_on` value type that L1 can key by value. Sealed; implemented for
/// the integers, `bool`, `char`, `str`, `String`, `Option<T>`, `[T]` and
/// `Vec<T>` of these, and references to any of them.
///
/// Implementations keep three promises: `matches` is equality of the key
/// encodings, `Hash` hashes a value as its `Owned` copy does, and the
/// `Owned` copy encodes (and so decodes) as the value does. The tests in
/// this module check all three.
pub trait KeyPart: Hash + sealed::Sealed {
    /// What L1 holds: the value itself, or its owned form.
    type Owned: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Whether `owned` is this value.
    fn matches(&self, owned: &Self::Owned) -> bool;

    /// An owned copy.
    fn to_owned_part(&self) -> Self::Owned;
}

macro_rules! by_value {
    ($($ty:ty),*) => {$(
        impl sealed::Sealed for $ty {}
        impl KeyPart for $ty {
            type Owned = $ty;

            #[inline]
            fn matches(&self, owned: &$ty) -> bool {
                self == owned
            }

            #[inline]
            fn to_owned_part(&self) -> $ty {
                self.clone()
            }
        }
    )*};
}

by_value!(bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, String);

impl sealed::Sealed for str {}
impl KeyPart for str {
    type Owned = String;

    #[inline]
    fn matches(&self, owned: &String) -> bool {
        self == owned
    }

    fn to_owned_part(&self) -> String {
        self.to_owned()
    }
}

impl<T: KeyPart + ?Sized> sealed::Sealed for &T {}
impl<T: KeyPart + ?Sized> KeyPart for &T {
    type Owned = T::Owned;

    #[inline]
    fn matches(&self, owned: &T::Owned) -> bool {
        (**self).matches(owned)
    }

    fn to_owned_part(&self) -> T::Owned {
        (**self).to_owned_part()
    }
}

impl<T: KeyPart> sealed::Sealed for Option<T> {}
impl<T: KeyPart> KeyPart for Option<T> {
    type Owned = Option<T::Owned>;

    #[inline]
    fn matches(&self, owned: &Option<T::Owned>) -> bool {
        match (self, owned) {
            (Some(value), Some(owned)) => value.matches(owned),
            (None, None) => true,
            _ => false,
        }
    }

    fn to_owned_part(&self) -> Option<T::Owned> {
        self.as_ref().map(T::to_owned_part)
    }
}

// Sequences of elements that are their own owned form only: a slice of
// integers hashes its elements as one write, a slice of references to them
// one by one, so `[&u64]` and `Vec<u64>` would hash apart.
macro_rules! sequence {
    ($($ty:ty),*) => {$(
        impl<T> sealed::Sealed for $ty where
            T: KeyPart<Owned = T> + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static
        {
        }

        impl<T> KeyPart for $ty
        where
            T: KeyPart<Owned = T> + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
        {
            type Owned = Vec<T>;

            #[inline]
            fn matches(&self, owned: &Vec<T>) -> bool {
                self[..] == owned[..]
            }

            fn to_owned_part(&self) -> Vec<T> {
                self.to_vec()
            }
        }
    )*};
}

sequence!([T], Vec<T>);

/// A function's arguments, as the generated code passes them (a tuple of
/// references to the `vary_on` values, or what a `key` function returns),
/// when L1 can key them by value: a tuple of [`KeyPart`]s.
pub trait TypedArgs: Hash + Serialize {
    /// What L1 holds: the tuple of the values' owned forms. Encodes as the
    /// arguments do, and hashes as they do.
    type Owned: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Whether `owned` holds these arguments.
    fn matches(&self, owned: &Self::Owned) -> bool;

    /// An owned copy.
    fn to_owned_args(&self) -> Self::Owned;
}

macro_rules! tuples {
    ($(($($n:tt $t:ident),+))*) => {$(
        impl<$($t: KeyPart + Serialize),+> TypedArgs for ($($t,)+) {
            type Owned = ($($t::Owned,)+);

            #[inline]
            fn matches(&self, owned: &Self::Owned) -> bool {
                $(self.$n.matches(&owned.$n))&&+
            }

            fn to_owned_args(&self) -> Self::Owned {
                ($(self.$n.to_owned_part(),)+)
            }
        }
    )*};
}

tuples! {
    (0 A)
    (0 A, 1 B)
    (0 A, 1 B, 2 C)
    (0 A, 1 B, 2 C, 3 D)
    (0 A, 1 B, 2 C, 3 D, 4 E)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
}

/// Arguments probing a by-value L1: hash as their owned copy does, equal to
/// it when they match.
pub(crate) struct Probe<'a, A>(pub(crate) &'a A);

impl<A: TypedArgs> Hash for Probe<'_, A> {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<A: TypedArgs> papaya::Equivalent<A::Owned> for Probe<'_, A> {
    #[inline]
    fn equivalent(&self, key: &A::Owned) -> bool {
        self.0.matches(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{decoder, with_encoded};
    use proptest::prelude::*;
    use std::hash::BuildHasher;

    /// The promises L1 relies on, for one set of arguments: the owned copy
    /// matches them, hashes as they do, encodes as they do, and is what
    /// their encoding decodes to.
    fn keeps_promises<A: TypedArgs + std::fmt::Debug>(args: &A) {
        let hasher = foldhash::fast::FixedState::default();
        let owned = args.to_owned_args();
        assert!(args.matches(&owned), "{args:?}");
        assert_eq!(hasher.hash_one(Probe(args)), hasher.hash_one(&owned));
        let bytes = with_encoded(args, |b| b.unwrap().to_vec());
        let again = with_encoded(&owned, |b| b.unwrap().to_vec());
        assert_eq!(bytes, again, "{args:?}");
        let decoded: A::Owned = decoder::decode(&bytes).unwrap();
        assert!(decoded == owned, "{args:?}");
    }

    proptest! {
        #[test]
        fn integers_strings_and_options(a: u64, b: i32, s: String, o: Option<u8>, c: char, t: bool) {
            keeps_promises(&(&a,));
            keeps_promises(&(&a, &s.as_str()));
            keeps_promises(&(&s, &b, &o, &c, &t));
            keeps_promises(&(&Some(s.as_str()), &u128::from(a), &(b as isize)));
            // Owned parts, as a `key` function may return them.
            keeps_promises(&(a, s.clone(), Some(s.as_str())));
        }

        #[test]
        fn vectors(v: Vec<u32>, w: Vec<String>, n: Option<Vec<i64>>) {
            keeps_promises(&(&v,));
            keeps_promises(&(&v.as_slice(), &w));
            keeps_promises(&(&n, &w.as_slice()));
        }

        /// Arguments match an owned copy exactly when their encodings are
        /// equal: L1 and the shared tier agree on which calls share an entry.
        #[test]
        fn matching_is_equality_of_encodings(a: (u8, String), b: (u8, String)) {
            let (x, y) = ((&a.0, &a.1.as_str()), (&b.0, &b.1.as_str()));
            let bytes = |args: &(&u8, &&str)| with_encoded(args, |b| b.unwrap().to_vec());
            prop_assert_eq!(x.matches(&y.to_owned_args()), bytes(&x) == bytes(&y));
        }

        /// Bytes that are not one value's encoding decode to nothing: a
        /// remote `clear` with arguments of another type drops no entry.
        #[test]
        fn stray_bytes_decode_to_nothing_or_to_their_own_encoding(bytes: Vec<u8>) {
            if let Ok(owned) = decoder::decode::<(u64, String)>(&bytes) {
                let again = with_encoded(&owned, |b| b.unwrap().to_vec());
                prop_assert_eq!(again, bytes);
            }
        }
    }

    #[test]
    fn edge_values_keep_their_promises() {
        keeps_promises(&(&u64::MAX, &i128::MIN, &usize::MAX, &'\u{10ffff}'));
        keeps_promises(&(&"", &None::<&str>, &Vec::<u8>::new()));
        keeps_promises(&(&"é".repeat(300),));
        assert!(decoder::decode::<(u64,)>(&[0; 9]).is_err(), "trailing byte");
        assert!(decoder::decode::<(bool,)>(&[2]).is_err());
        assert!(decoder::decode::<(char,)>(&0xd800u32.to_le_bytes()).is_err());
        assert!(decoder::decode::<(String,)>(&[2, 0xff, 0xfe]).is_err());
        assert!(
            decoder::decode::<(Vec<u8>,)>(&[0xff; 11]).is_err(),
            "length"
        );
    }
}
