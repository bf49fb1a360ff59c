//! What operator tools (the `memo` CLI) need of the library, as one stable
//! surface: the description of each `#[quickcache]` function that processes
//! hand their backend, the shape of its key, the envelope header of a stored
//! entry, and `clear` and `invalidate` as the companions do them, for a
//! function the tool knows by namespace only.
//!
//! A tool that turns typed arguments (JSON, say) into a key walks them
//! along the function's [`Shape`] and serializes them through
//! [`key::entry_key_for`](crate::key::entry_key_for), the encoder the
//! library itself uses, so the key matches the one the function writes.

use std::time::Duration;

use serde::ser::{self, Serialize};
use serde::{Deserialize, Serialize as SerializeDerive};

use crate::backend::Backend;
use crate::codec::CodecError;
use crate::Error;

/// The serde shape of a function's key arguments (the tuple of its
/// `vary_on` values), as sampled from one call's arguments: what a tool
/// needs to encode typed arguments as the library would.
///
/// Newtypes and tuple structs are encoded as what they hold, so they are
/// recorded that way. Parts one call cannot show stay unknown (`None`): the
/// inner type of an `Option` seen as `None`, the elements of an empty
/// sequence, the variants of an enum other than the one seen, a struct
/// field skipped by `skip_serializing_if`.
///
/// # Examples
///
/// ```
/// use memo_core::admin::Shape;
///
/// let shape = Shape::of(&(&"example.org", &7u32)).unwrap();
/// assert_eq!(shape, Shape::Tuple(vec![Shape::Str, Shape::U32]));
/// ```
#[derive(Debug, Clone, PartialEq, SerializeDerive, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Shape {
    /// `bool`.
    Bool,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `i128`.
    I128,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u128`.
    U128,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `char`.
    Char,
    /// A string.
    Str,
    /// A byte string (`serialize_bytes`).
    Bytes,
    /// `()` or a unit struct: nothing in the key.
    Unit,
    /// `Option<T>`: `T`'s shape, if a `Some` was seen.
    Option(Option<Box<Shape>>),
    /// A sequence: its elements' shape (if any was seen), and whether its
    /// length was known up front (a `Vec` or slice; an iterator may not).
    Seq {
        /// The elements' shape, from the first element.
        element: Option<Box<Shape>>,
        /// Whether the length was written first.
        sized: bool,
    },
    /// A hashed set (`HashSet`, `IndexSet`): elements encoded sorted.
    Set(Option<Box<Shape>>),
    /// A map: its keys' and values' shapes, from its first entry.
    Map(Option<Box<(Shape, Shape)>>),
    /// A tuple or tuple struct: its fields in order.
    Tuple(Vec<Shape>),
    /// A struct: its fields in order.
    Struct(Vec<Field>),
    /// An enum: the variants seen.
    Enum(Vec<Variant>),
}

/// A struct's field in a [`Shape`].
#[derive(Debug, Clone, PartialEq, SerializeDerive, Deserialize)]
pub struct Field {
    /// The field's name, as serde writes it.
    pub name: String,
    /// Its shape; `None` when it was skipped in the call sampled.
    pub shape: Option<Shape>,
}

/// An enum variant in a [`Shape`].
#[derive(Debug, Clone, PartialEq, SerializeDerive, Deserialize)]
pub struct Variant {
    /// The variant's name, as serde writes it.
    pub name: String,
    /// Its index, which is what the key holds.
    pub index: u32,
    /// What it holds.
    pub payload: Payload,
}

/// What an enum variant holds.
#[derive(Debug, Clone, PartialEq, SerializeDerive, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// Nothing (`A`).
    Unit,
    /// One value (`A(T)`).
    Newtype(Box<Shape>),
    /// Fields by position (`A(T, U)`).
    Tuple(Vec<Shape>),
    /// Fields by name (`A { x: T }`).
    Struct(Vec<Field>),
}

impl Shape {
    /// The shape of `value` as the key encoder sees it.
    ///
    /// # Errors
    ///
    /// When `value`'s `Serialize` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use memo_core::admin::Shape;
    ///
    /// let shape = Shape::of(&Some(vec![1u8])).unwrap();
    /// assert!(matches!(shape, Shape::Option(Some(_))));
    /// ```
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Shape, CodecError> {
        value.serialize(Recorder)
    }
}

/// Records the serde calls of one value as a [`Shape`]. Normalises as the
/// key encoder does: what it encodes alike is recorded alike.
struct Recorder;

fn shape_of<T: Serialize + ?Sized>(value: &T) -> Result<Shape, CodecError> {
    value.serialize(Recorder)
}

macro_rules! primitives {
    ($($method:ident: $ty:ty => $shape:ident),*) => {$(
        fn $method(self, _: $ty) -> Result<Shape, CodecError> {
            Ok(Shape::$shape)
        }
    )*};
}

impl ser::Serializer for Recorder {
    type Ok = Shape;
    type Error = CodecError;
    type SerializeSeq = Elements;
    type SerializeTuple = Elements;
    type SerializeTupleStruct = Elements;
    type SerializeTupleVariant = Elements;
    type SerializeMap = Entries;
    type SerializeStruct = Fields;
    type SerializeStructVariant = Fields;

    primitives!(serialize_bool: bool => Bool, serialize_i8: i8 => I8, serialize_i16: i16 => I16,
        serialize_i32: i32 => I32, serialize_i64: i64 => I64, serialize_i128: i128 => I128,
        serialize_u8: u8 => U8, serialize_u16: u16 => U16, serialize_u32: u32 => U32,
        serialize_u64: u64 => U64, serialize_u128: u128 => U128, serialize_f32: f32 => F32,
        serialize_f64: f64 => F64, serialize_char: char => Char, serialize_str: &str => Str,
        serialize_bytes: &[u8] => Bytes);

    fn serialize_none(self) -> Result<Shape, CodecError> {
        Ok(Shape::Option(None))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Shape, CodecError> {
        Ok(Shape::Option(Some(Box::new(shape_of(value)?))))
    }
    fn serialize_unit(self) -> Result<Shape, CodecError> {
        Ok(Shape::Unit)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Shape, CodecError> {
        Ok(Shape::Unit)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<Shape, CodecError> {
        Ok(variant_shape(variant, index, Payload::Unit))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Shape, CodecError> {
        shape_of(value)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Shape, CodecError> {
        let payload = Payload::Newtype(Box::new(shape_of(value)?));
        Ok(variant_shape(variant, index, payload))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Elements, CodecError> {
        Ok(Elements::new(Kind::Seq {
            sized: len.is_some(),
        }))
    }
    fn serialize_tuple(self, _: usize) -> Result<Elements, CodecError> {
        Ok(Elements::new(Kind::Tuple))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Elements, CodecError> {
        Ok(Elements::new(Kind::Tuple))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Elements, CodecError> {
        Ok(Elements::new(Kind::Variant(variant, index)))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Entries, CodecError> {
        Ok(Entries::default())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields, CodecError> {
        Ok(Fields {
            fields: Vec::new(),
            variant: None,
        })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Fields, CodecError> {
        Ok(Fields {
            fields: Vec::new(),
            variant: Some((variant, index)),
        })
    }
    /// As the key encoder tells them apart: a hashed set by its type.
    fn collect_seq<I>(self, iter: I) -> Result<Shape, CodecError>
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        let mut iter = iter.into_iter();
        let hashed = crate::key::is_hashed_set::<I>();
        let (low, high) = iter.size_hint();
        let element = match iter.next() {
            Some(item) => Some(Box::new(shape_of(&item)?)),
            None => None,
        };
        Ok(if hashed {
            Shape::Set(element)
        } else {
            Shape::Seq {
                element,
                sized: Some(low) == high,
            }
        })
    }
}

fn variant_shape(name: &str, index: u32, payload: Payload) -> Shape {
    Shape::Enum(vec![Variant {
        name: name.to_owned(),
        index,
        payload,
    }])
}

enum Kind {
    Seq { sized: bool },
    Tuple,
    Variant(&'static str, u32),
}

struct Elements {
    kind: Kind,
    shapes: Vec<Shape>,
}

impl Elements {
    fn new(kind: Kind) -> Self {
        Elements {
            kind,
            shapes: Vec::new(),
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        // A sequence's shape is its first element's.
        if !matches!(self.kind, Kind::Seq { .. }) || self.shapes.is_empty() {
            self.shapes.push(shape_of(value)?);
        }
        Ok(())
    }

    fn finish(self) -> Shape {
        match self.kind {
            Kind::Seq { sized } => Shape::Seq {
                element: self.shapes.into_iter().next().map(Box::new),
                sized,
            },
            Kind::Tuple => Shape::Tuple(self.shapes),
            Kind::Variant(name, index) => variant_shape(name, index, Payload::Tuple(self.shapes)),
        }
    }
}

macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Elements {
            type Ok = Shape;
            type Error = CodecError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
                self.push(value)
            }
            fn end(self) -> Result<Shape, CodecError> {
                Ok(self.finish())
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

#[derive(Default)]
struct Entries {
    key: Option<Shape>,
    first: Option<(Shape, Shape)>,
}

impl ser::SerializeMap for Entries {
    type Ok = Shape;
    type Error = CodecError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CodecError> {
        if self.first.is_none() {
            self.key = Some(shape_of(key)?);
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CodecError> {
        if let Some(key) = self.key.take() {
            self.first = Some((key, shape_of(value)?));
        }
        Ok(())
    }
    fn end(self) -> Result<Shape, CodecError> {
        Ok(Shape::Map(self.first.map(Box::new)))
    }
}

struct Fields {
    fields: Vec<Field>,
    variant: Option<(&'static str, u32)>,
}

impl Fields {
    fn finish(self) -> Shape {
        match self.variant {
            None => Shape::Struct(self.fields),
            Some((name, index)) => variant_shape(name, index, Payload::Struct(self.fields)),
        }
    }
}

macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Fields {
            type Ok = Shape;
            type Error = CodecError;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) -> Result<(), CodecError> {
                self.fields.push(Field { name: name.to_owned(), shape: Some(shape_of(value)?) });
                Ok(())
            }
            fn skip_field(&mut self, name: &'static str) -> Result<(), CodecError> {
                self.fields.push(Field { name: name.to_owned(), shape: None });
                Ok(())
            }
            fn end(self) -> Result<Shape, CodecError> {
                Ok(self.finish())
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

/// What a process tells its backend about one `#[quickcache]` function at
/// its first miss ([`Backend::describe`]), so that tools can list the
/// functions, read their settings and encode their keys.
///
/// # Examples
///
/// ```
/// use memo_core::admin::{Descriptor, Shape};
///
/// let descriptor = Descriptor::new("my_crate::price", Some(Shape::Tuple(vec![Shape::U32])));
/// assert_eq!(descriptor.namespace, "my_crate::price");
/// ```
#[derive(Debug, Clone, PartialEq, SerializeDerive, Deserialize)]
#[non_exhaustive]
pub struct Descriptor {
    /// The namespace of its keys (`crate::module::function@digest`, or
    /// its `name`).
    pub namespace: String,
    /// `module::function`, where it is declared.
    #[serde(default)]
    pub function: String,
    /// Its `vary_on` entries as written (`user.id`), or its parameters.
    #[serde(default)]
    pub arguments: Vec<String>,
    /// The shape of its key arguments, from the call that missed.
    #[serde(default)]
    pub shape: Option<Shape>,
    /// `timeout`, in milliseconds (how long a `clear`'s tombstone lives).
    #[serde(default)]
    pub timeout_ms: u64,
    /// `stale_on_error`'s grace, in milliseconds (0: off).
    #[serde(default)]
    pub stale_ms: u64,
    /// The named backend (`backend = "..."`), if any.
    #[serde(default)]
    pub backend: Option<String>,
    /// When the process described it (Unix milliseconds).
    #[serde(default)]
    pub described_at_ms: u64,
}

impl Descriptor {
    /// A descriptor with only a namespace and a shape, the rest empty.
    pub fn new(namespace: &str, shape: Option<Shape>) -> Descriptor {
        Descriptor {
            namespace: namespace.to_owned(),
            function: String::new(),
            arguments: Vec::new(),
            shape,
            timeout_ms: 0,
            stale_ms: 0,
            backend: None,
            described_at_ms: crate::clock::unix_ms(),
        }
    }
}

/// The header of a stored entry, as [`Header::parse`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Header {
    /// What `clear` leaves: read as a miss until it expires.
    Tombstone,
    /// A value.
    Value {
        /// The envelope version (2; 3 with `stale_on_error`).
        version: u8,
        /// The fingerprint of the value type's shape: a value of another
        /// type (an older build) is a miss.
        fingerprint: u64,
        /// The generation it was stored in: one other than the function's
        /// current generation is a miss.
        generation: u64,
        /// Until when it is fresh (Unix ms), with `stale_on_error`.
        fresh_until_ms: Option<u64>,
        /// The encoded value's length.
        payload_len: usize,
    },
}

impl Header {
    /// Reads the header of the stored bytes of an entry; `None` for bytes
    /// the library did not write.
    ///
    /// # Examples
    ///
    /// ```
    /// use memo_core::admin::Header;
    ///
    /// assert_eq!(Header::parse(&[0xfe; 9]), Some(Header::Tombstone));
    /// assert_eq!(Header::parse(b"not memo's"), None);
    /// ```
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        crate::quickcache::parse_header(bytes)
    }
}

/// What `f::clear(args)` does, for a function known by its namespace, with
/// its key arguments already encoded: a tombstone for `timeout` in place of
/// the entry, then a message to every process to drop its L1 copy.
///
/// # Errors
///
/// When the backend fails.
///
/// # Examples
///
/// ```
/// let backend = memo_core::MemoryBackend::new();
/// let key = memo_core::key::entry_key_for("my_crate::price", &(&7u32,)).unwrap();
/// memo_core::admin::clear(&backend, "my_crate::price", &key, std::time::Duration::from_secs(300)).unwrap();
/// ```
pub fn clear(
    backend: &dyn Backend,
    namespace: &str,
    entry_key: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let args = crate::key::args_of_entry_key(entry_key);
    backend.set(entry_key, &crate::quickcache::tombstone(), timeout)?;
    backend.broadcast(namespace, args.as_deref())
}

/// What `f::invalidate()` does, for a function known by its namespace: a
/// new generation (every entry becomes a miss, O(1)), then a message to
/// every process to drop the function's L1.
///
/// # Errors
///
/// When the backend fails.
///
/// # Examples
///
/// ```
/// let backend = memo_core::MemoryBackend::new();
/// memo_core::admin::invalidate(&backend, "my_crate::price").unwrap();
/// ```
pub fn invalidate(backend: &dyn Backend, namespace: &str) -> Result<(), Error> {
    backend.new_generation(&crate::key::generation_key(namespace))?;
    backend.broadcast(namespace, None)
}

/// The key of `namespace`'s generation token.
///
/// # Examples
///
/// ```
/// assert_eq!(memo_core::admin::generation_key("my_crate::price"), "memo:g:my_crate::price");
/// ```
pub fn generation_key(namespace: &str) -> String {
    crate::key::generation_key(namespace)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashSet};

    use super::*;

    #[derive(serde::Serialize)]
    struct User {
        id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        team: Option<String>,
    }

    #[derive(serde::Serialize)]
    struct Id(u32);

    #[derive(serde::Serialize)]
    enum Scope {
        Team(String),
    }

    #[test]
    fn shapes_follow_the_key_encoder() {
        let user = User { id: 1, team: None };
        let set: HashSet<u8> = [1].into();
        let map: BTreeMap<String, i16> = [("a".to_owned(), 1)].into();
        let shape = Shape::of(&(
            &user,
            &Id(3),
            &Scope::Team("x".into()),
            &set,
            &map,
            &Vec::<u8>::new(),
        ))
        .unwrap();
        assert_eq!(
            shape,
            Shape::Tuple(vec![
                Shape::Struct(vec![
                    Field {
                        name: "id".into(),
                        shape: Some(Shape::U64)
                    },
                    Field {
                        name: "team".into(),
                        shape: None
                    },
                ]),
                Shape::U32,
                Shape::Enum(vec![Variant {
                    name: "Team".into(),
                    index: 0,
                    payload: Payload::Newtype(Box::new(Shape::Str)),
                }]),
                Shape::Set(Some(Box::new(Shape::U8))),
                Shape::Map(Some(Box::new((Shape::Str, Shape::I16)))),
                Shape::Seq {
                    element: None,
                    sized: true
                },
            ])
        );
    }
}
