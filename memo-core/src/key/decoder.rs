//! The key encoding read back: a serde `Deserializer` for the types whose
//! L1 entries are keyed by value (see `key::typed`), so that an entry
//! named by its encoded arguments (a remote `clear(args)`, a value stored
//! after a miss) finds its typed key.
//!
//! It reads what `key::encoder` writes for booleans, integers, chars,
//! strings, byte strings, options, length-prefixed sequences and maps,
//! tuples and newtypes; anything else is an error. Decoding must consume
//! every byte, so bytes that are not the encoding of one value of the
//! asked type never decode to one.

use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};

use crate::codec::CodecError;

/// The value of type `T` whose key encoding is exactly `bytes`.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let mut decoder = KeyDecoder { bytes };
    let value = T::deserialize(&mut decoder)?;
    if decoder.bytes.is_empty() {
        Ok(value)
    } else {
        Err(CodecError("trailing bytes after the key".into()))
    }
}

impl de::Error for CodecError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        CodecError(msg.to_string())
    }
}

struct KeyDecoder<'de> {
    bytes: &'de [u8],
}

fn short() -> CodecError {
    CodecError("key ends early".into())
}

impl<'de> KeyDecoder<'de> {
    fn take(&mut self, n: usize) -> Result<&'de [u8], CodecError> {
        let (head, rest) = self.bytes.split_at_checked(n).ok_or_else(short)?;
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        self.take(N)?.try_into().map_err(|_| short())
    }

    fn tag(&mut self) -> Result<bool, CodecError> {
        match self.array::<1>()? {
            [0] => Ok(false),
            [1] => Ok(true),
            [other] => Err(CodecError(format!("tag byte {other}"))),
        }
    }

    /// A LEB128 length, as `KeyEncoder::length` writes it.
    fn length(&mut self) -> Result<usize, CodecError> {
        let mut n: u64 = 0;
        for group in 0..10 {
            let [byte] = self.array::<1>()?;
            let low = u64::from(byte & 0x7f);
            if group == 9 && low > 1 {
                break;
            }
            n |= low << (7 * group);
            if byte & 0x80 == 0 {
                // One encoding per length: no trailing zero groups.
                if group > 0 && byte == 0 {
                    break;
                }
                return usize::try_from(n).map_err(|e| CodecError(e.to_string()));
            }
        }
        Err(CodecError("length not in LEB128 as encoded".into()))
    }

    fn sized(&mut self) -> Result<&'de [u8], CodecError> {
        let len = self.length()?;
        self.take(len)
    }

    fn str(&mut self) -> Result<&'de str, CodecError> {
        std::str::from_utf8(self.sized()?).map_err(|e| CodecError(e.to_string()))
    }
}

macro_rules! fixed {
    ($($method:ident: $ty:ty => $visit:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
            visitor.$visit(<$ty>::from_le_bytes(self.array()?))
        }
    )*};
}

macro_rules! unsupported {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),*) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? _visitor: V) -> Result<V::Value, CodecError> {
            $($(let _ = $arg;)*)?
            Err(CodecError(concat!("keys are not decoded by ", stringify!($method)).into()))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut KeyDecoder<'de> {
    type Error = CodecError;

    fixed!(deserialize_i8: i8 => visit_i8, deserialize_i16: i16 => visit_i16,
           deserialize_i32: i32 => visit_i32, deserialize_i64: i64 => visit_i64,
           deserialize_i128: i128 => visit_i128,
           deserialize_u8: u8 => visit_u8, deserialize_u16: u16 => visit_u16,
           deserialize_u32: u32 => visit_u32, deserialize_u64: u64 => visit_u64,
           deserialize_u128: u128 => visit_u128,
           deserialize_f32: f32 => visit_f32, deserialize_f64: f64 => visit_f64);

    unsupported!(
        deserialize_any,
        deserialize_ignored_any,
        deserialize_identifier,
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
    );

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_bool(self.tag()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        let code = u32::from_le_bytes(self.array()?);
        let c = char::from_u32(code).ok_or_else(|| CodecError(format!("char {code:#x}")))?;
        visitor.visit_char(c)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_borrowed_bytes(self.sized()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        if self.tag()? {
            visitor.visit_some(self)
        } else {
            visitor.visit_none()
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        let left = self.length()?;
        visitor.visit_seq(Elements {
            decoder: self,
            left,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        visitor.visit_seq(Elements {
            decoder: self,
            left: len,
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, CodecError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CodecError> {
        let left = self.length()?;
        visitor.visit_map(Elements {
            decoder: self,
            left,
        })
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of a sequence, tuple or map, `left` of them still to read.
struct Elements<'a, 'de> {
    decoder: &'a mut KeyDecoder<'de>,
    left: usize,
}

impl<'de> Elements<'_, 'de> {
    /// The next element (or map key), if any is left.
    fn next<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, CodecError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.decoder).map(Some)
    }

    /// A hint, capped by the bytes left: a length read off the wire
    /// reserves no more than the rest of the key could hold (each element
    /// of the types decoded takes a byte at least).
    fn hint(&self) -> Option<usize> {
        Some(self.left.min(self.decoder.bytes.len()))
    }
}

impl<'de> de::SeqAccess<'de> for Elements<'_, 'de> {
    type Error = CodecError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, CodecError> {
        self.next(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.hint()
    }
}

impl<'de> de::MapAccess<'de> for Elements<'_, 'de> {
    type Error = CodecError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, CodecError> {
        self.next(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, CodecError> {
        seed.deserialize(&mut *self.decoder)
    }

    fn size_hint(&self) -> Option<usize> {
        self.hint()
    }
}
