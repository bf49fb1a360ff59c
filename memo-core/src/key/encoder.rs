//! The key encoding: a serde `Serializer` that writes arguments into a byte
//! buffer, typed and self-delimiting, built for speed on the hit path.
//!
//! Integers and floats are fixed-width little endian; strings, byte strings,
//! sequences and maps carry a LEB128 length (or, when serde does not know a
//! length up front, a `1` before each element and a `0` after the last);
//! enums carry their variant index; `Option` a tag byte. Tuples are their
//! fields in order; a struct's fields each carry a tag byte, `1` before a
//! field present and `0` for one skipped (`skip_serializing_if`), so two
//! values that skip different fields never encode alike. Every value's
//! encoding thus ends where the value does, so the concatenation of a
//! function's arguments (of fixed types) is unambiguous.
//!
//! Equal values encode alike in every process: a map's entries, and the
//! elements of a hashed set (`HashSet`, hashbrown's, indexmap's
//! `IndexSet`, recognised by their type's name since serde serializes sets
//! and sequences alike), are written sorted by their encodings, not in
//! iteration order (which a `RandomState` makes differ between equal
//! maps). Sorting buffers each entry: it costs an allocation per entry,
//! paid by arguments that hold maps or hashed sets only.

use serde::ser::{self, Serialize};

use crate::codec::CodecError;

/// Bytes of arguments a [`Buffer`] holds on the stack.
const INLINE: usize = 64;

/// Where encoded arguments go: 64 bytes on the caller's stack, spilling to
/// the heap only past that. A write into the stack part is one bounds check
/// and a copy (a `SmallVec` goes through `try_reserve` on every push, which
/// cost a quarter of an L1 hit).
pub(crate) struct Buffer {
    /// Bytes written; once over `INLINE`, they are all in `heap`.
    len: usize,
    inline: [u8; INLINE],
    heap: Vec<u8>,
}

impl Buffer {
    #[inline]
    pub(crate) fn new() -> Self {
        Buffer {
            len: 0,
            inline: [0; INLINE],
            heap: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }

    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if end <= INLINE {
            self.inline[self.len..end].copy_from_slice(bytes);
            self.len = end;
        } else {
            self.spill(bytes);
        }
    }

    #[cold]
    fn spill(&mut self, bytes: &[u8]) {
        if self.len <= INLINE {
            self.heap.reserve(2 * INLINE + bytes.len());
            self.heap.extend_from_slice(&self.inline[..self.len]);
        }
        self.heap.extend_from_slice(bytes);
        self.len = self.heap.len();
    }
}

impl std::ops::Deref for Buffer {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        if self.len <= INLINE {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }
}

/// Appends the key encoding of `value` to `out`.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Buffer) -> Result<(), CodecError> {
    value.serialize(&mut KeyEncoder { out })
}

struct KeyEncoder<'a> {
    out: &'a mut Buffer,
}

impl KeyEncoder<'_> {
    #[inline]
    fn length(&mut self, mut n: usize) {
        while n >= 0x80 {
            self.out.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.out.push(n as u8);
    }

    #[inline]
    fn bytes(&mut self, bytes: &[u8]) {
        self.length(bytes.len());
        self.out.extend_from_slice(bytes);
    }
}

impl ser::Error for CodecError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

/// Sequences and maps whose length serde did not give up front.
struct Compound<'e, 'a> {
    encoder: &'e mut KeyEncoder<'a>,
    unsized_: bool,
}

macro_rules! fixed {
    ($($method:ident: $ty:ty),*) => {$(
        #[inline]
        fn $method(self, v: $ty) -> Result<(), CodecError> {
            self.out.extend_from_slice(&v.to_le_bytes());
            Ok(())
        }
    )*};
}

impl<'e, 'a> ser::Serializer for &'e mut KeyEncoder<'a> {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = Compound<'e, 'a>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Sorted<'e, 'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fixed!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
           serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
           serialize_f32: f32, serialize_f64: f64);

    fn serialize_bool(self, v: bool) -> Result<(), CodecError> {
        self.out.push(u8::from(v));
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), CodecError> {
        self.serialize_u32(u32::from(v))
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), CodecError> {
        self.bytes(v.as_bytes());
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), CodecError> {
        self.bytes(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), CodecError> {
        self.out.push(0);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CodecError> {
        self.out.push(1);
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), CodecError> {
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), CodecError> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
    ) -> Result<(), CodecError> {
        self.length(index as usize);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), CodecError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<(), CodecError> {
        self.length(index as usize);
        value.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'e, 'a>, CodecError> {
        if let Some(len) = len {
            self.length(len);
        }
        Ok(Compound {
            encoder: self,
            unsized_: len.is_none(),
        })
    }

    #[inline]
    fn serialize_tuple(self, _len: usize) -> Result<Self, CodecError> {
        Ok(self)
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<Self, CodecError> {
        Ok(self)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, CodecError> {
        self.length(index as usize);
        Ok(self)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Sorted<'e, 'a>, CodecError> {
        Ok(Sorted {
            encoder: self,
            entries: Vec::new(),
            entry: Vec::new(),
        })
    }

    /// A sequence, or a set whose iteration order is not its identity:
    /// serde serializes both through here, so the set is told by its type.
    fn collect_seq<I>(self, iter: I) -> Result<(), CodecError>
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        if !is_hashed_set::<I>() {
            let iter = iter.into_iter();
            let (low, high) = iter.size_hint();
            let mut seq = ser::Serializer::serialize_seq(self, (Some(low) == high).then_some(low))?;
            for element in iter {
                ser::SerializeSeq::serialize_element(&mut seq, &element)?;
            }
            return ser::SerializeSeq::end(seq);
        }
        let mut elements: Vec<Vec<u8>> = Vec::new();
        for element in iter {
            elements.push(encode_alone(&element)?);
        }
        elements.sort_unstable();
        self.length(elements.len());
        for element in &elements {
            self.out.extend_from_slice(element);
        }
        Ok(())
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, CodecError> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self, CodecError> {
        self.length(index as usize);
        Ok(self)
    }
}

/// Whether `I` iterates a set whose equality ignores order, and whose
/// iteration order differs between equal values (a hashed set).
pub(crate) fn is_hashed_set<I>() -> bool {
    let name = std::any::type_name::<I>();
    name.contains("HashSet<") || name.contains("IndexSet<")
}

/// `value`'s encoding on its own, to be sorted among others.
fn encode_alone<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Buffer::new();
    encode(value, &mut out)?;
    Ok(out.to_vec())
}

/// A map being encoded: each entry (key then value) encoded apart, then
/// written sorted, after the count.
pub(crate) struct Sorted<'e, 'a> {
    encoder: &'e mut KeyEncoder<'a>,
    entries: Vec<Vec<u8>>,
    /// The entry whose key was written and whose value is to come.
    entry: Vec<u8>,
}

impl ser::SerializeMap for Sorted<'_, '_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CodecError> {
        self.entry = encode_alone(key)?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        let mut entry = std::mem::take(&mut self.entry);
        entry.extend_from_slice(&encode_alone(value)?);
        self.entries.push(entry);
        Ok(())
    }
    fn end(mut self) -> Result<(), CodecError> {
        self.entries.sort_unstable();
        self.encoder.length(self.entries.len());
        for entry in &self.entries {
            self.encoder.out.extend_from_slice(entry);
        }
        Ok(())
    }
}

impl Compound<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        if self.unsized_ {
            self.encoder.out.push(1);
        }
        value.serialize(&mut *self.encoder)
    }

    fn finish(self) -> Result<(), CodecError> {
        if self.unsized_ {
            self.encoder.out.push(0);
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        self.element(value)
    }
    fn end(self) -> Result<(), CodecError> {
        self.finish()
    }
}

macro_rules! fields {
    ($($trait:ident :: $method:ident $(($key:ident))?),*) => {$(
        impl ser::$trait for &mut KeyEncoder<'_> {
            type Ok = ();
            type Error = CodecError;
            #[inline]
            fn $method<T: Serialize + ?Sized>(&mut self, $($key: &'static str,)? value: &T) -> Result<(), CodecError> {
                $(let _ = $key;)?
                value.serialize(&mut **self)
            }
            #[inline]
            fn end(self) -> Result<(), CodecError> {
                Ok(())
            }
        }
    )*};
}

fields!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// A struct's fields: a tag byte before each, `1` present, `0` skipped.
macro_rules! tagged_fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for &mut KeyEncoder<'_> {
            type Ok = ();
            type Error = CodecError;
            #[inline]
            fn serialize_field<T: Serialize + ?Sized>(&mut self, _key: &'static str, value: &T) -> Result<(), CodecError> {
                self.out.push(1);
                value.serialize(&mut **self)
            }
            #[inline]
            fn skip_field(&mut self, _key: &'static str) -> Result<(), CodecError> {
                self.out.push(0);
                Ok(())
            }
            #[inline]
            fn end(self) -> Result<(), CodecError> {
                Ok(())
            }
        }
    )*};
}

tagged_fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn key<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        let mut out = Buffer::new();
        encode(value, &mut out).unwrap();
        out.to_vec()
    }

    #[derive(serde::Serialize)]
    #[allow(dead_code)]
    enum Shape {
        Dot,
        Circle(u8),
        Rect { w: u8, h: u8 },
    }

    #[test]
    fn values_are_typed_and_self_delimiting() {
        assert_ne!(key(&("a,b", "c")), key(&("a", "b,c")));
        assert_ne!(key(&("ab", "")), key(&("a", "b")));
        assert_ne!(
            key(&(vec![1u8, 2], vec![3u8])),
            key(&(vec![1u8], vec![2u8, 3]))
        );
        assert_ne!(key(&(Some(0u8), None::<u8>)), key(&(None::<u8>, Some(0u8))));
        assert_ne!(key(&Shape::Dot), key(&Shape::Circle(0)));
        assert_ne!(key(&Shape::Circle(1)), key(&Shape::Rect { w: 1, h: 0 }));
        let map: BTreeMap<&str, u8> = [("a", 1), ("b", 2)].into();
        assert_eq!(key(&map), [2, 1, b'a', 1, 1, b'b', 2]);
        assert_eq!(key(&Shape::Rect { w: 1, h: 2 }), [2, 1, 1, 1, 2]);
        assert_eq!(key(&7u64), 7u64.to_le_bytes());
        assert_eq!(key(&"x".repeat(200)).len(), 2 + 200);
    }

    /// Equal maps and hashed sets encode alike whatever their iteration
    /// order; sequences keep theirs.
    #[test]
    fn equal_maps_and_sets_encode_alike() {
        use std::collections::{HashMap, HashSet};
        let entries: Vec<(String, u32)> = (0..64).map(|i| (format!("k{i}"), i)).collect();
        let forward: HashMap<String, u32> = entries.iter().cloned().collect();
        let backward: HashMap<String, u32> = entries.iter().rev().cloned().collect();
        let first = key(&forward);
        for _ in 0..8 {
            // Each map has its own `RandomState`: another iteration order.
            let again: HashMap<String, u32> = entries.iter().cloned().collect();
            assert_eq!(key(&again), first);
        }
        assert_eq!(key(&backward), first);
        let set: HashSet<u32> = (0..64).collect();
        let other: HashSet<u32> = (0..64).rev().collect();
        assert_eq!(key(&set), key(&other));
        let set_sorted: Vec<u32> = {
            let mut v: Vec<u32> = (0..64).collect();
            v.sort_by_key(|n| n.to_le_bytes());
            v
        };
        assert_eq!(key(&set), key(&set_sorted), "a set is its sorted elements");
        assert_ne!(
            key(&vec![1u8, 2]),
            key(&vec![2u8, 1]),
            "a sequence keeps its order"
        );
        let mut smaller = forward.clone();
        smaller.remove("k3");
        assert_ne!(key(&smaller), first);
    }

    /// Fields skipped by `skip_serializing_if` leave a mark: two values
    /// that hold different fields never encode alike.
    #[test]
    fn skipped_fields_never_alias() {
        #[derive(serde::Serialize)]
        struct Sparse {
            #[serde(skip_serializing_if = "Option::is_none")]
            a: Option<u8>,
            #[serde(skip_serializing_if = "Option::is_none")]
            b: Option<u8>,
        }
        let a = key(&Sparse {
            a: Some(1),
            b: None,
        });
        let b = key(&Sparse {
            a: None,
            b: Some(1),
        });
        assert_ne!(a, b);
        assert_eq!(a, [1, 1, 1, 0]);
    }

    #[test]
    fn the_buffer_spills_to_the_heap_whole() {
        for split in [0, 1, 63, 64, 65, 200] {
            let (head, tail) = (vec![7u8; split], vec![9u8; 70]);
            let mut out = Buffer::new();
            out.extend_from_slice(&head);
            out.push(1);
            out.extend_from_slice(&tail);
            out.push(2);
            let expected: Vec<u8> = [&head[..], &[1], &tail, &[2]].concat();
            assert_eq!(&out[..], &expected[..], "split at {split}");
        }
    }
}
