//! The key encoding: a serde `Serializer` that writes arguments into a byte
//! buffer, typed and self-delimiting, built for speed on the hit path.
//!
//! Integers and floats are fixed-width little endian; strings, byte strings,
//! sequences and maps carry a LEB128 length (or, when serde does not know a
//! length up front, a `1` before each element and a `0` after the last);
//! enums carry their variant index; `Option` a tag byte. Structs and tuples
//! are their fields in order. Every value's encoding thus ends where the
//! value does, so the concatenation of a function's arguments (of fixed
//! types) is unambiguous.

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
    type SerializeMap = Compound<'e, 'a>;
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

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'e, 'a>, CodecError> {
        self.serialize_seq(len)
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

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CodecError> {
        self.element(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        value.serialize(&mut *self.encoder)
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
    SerializeTupleVariant::serialize_field,
    SerializeStruct::serialize_field(key),
    SerializeStructVariant::serialize_field(key)
);

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
        assert_eq!(key(&7u64), 7u64.to_le_bytes());
        assert_eq!(key(&"x".repeat(200)).len(), 2 + 200);
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
