//! How values become bytes for the shared tier, in one swappable place.
//!
//! The default is [`Postcard`]: in `benches/RESULTS.md` it encodes a 1 KB
//! struct 1.5x faster than bincode 2, decodes it 1.5x faster and 14%
//! smaller, its wire format is specified and stable since 1.0, and it is
//! maintained (bincode no longer is upstream). `Bincode` (2.0.x, serde
//! mode) stays available behind the `bincode` feature. Swap per function
//! with `#[quickcache(codec = memo_core::codec::Bincode)]`, or implement
//! [`Codec`] for your own format; nothing else in the crate names either.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Turns values into bytes and back for the shared tier.
///
/// Decoding failures are never fatal: the cache treats a value it cannot
/// decode as a miss, recomputes it and overwrites it.
///
/// # Examples
///
/// A JSON codec (any self-describing format works the same way):
///
/// ```
/// use memo_core::codec::{Codec, CodecError};
///
/// #[derive(Default)]
/// struct Debuggable;
///
/// impl Codec for Debuggable {
///     fn encode<T: serde::Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
///         // Stand-in for serde_json::to_writer(out, value).
///         memo_core::codec::Postcard.encode(value, out)
///     }
///     fn decode<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
///         memo_core::codec::Postcard.decode(bytes)
///     }
/// }
///
/// let mut out = Vec::new();
/// Debuggable.encode(&(1u8, "x"), &mut out).unwrap();
/// let back: (u8, String) = Debuggable.decode(&out).unwrap();
/// assert_eq!(back, (1, "x".to_string()));
/// ```
pub trait Codec: Send + Sync + 'static {
    /// Appends the encoding of `value` to `out`.
    ///
    /// # Errors
    ///
    /// When the value's `Serialize` implementation fails or the format cannot
    /// represent it.
    fn encode<T: Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>)
        -> Result<(), CodecError>;

    /// Decodes a whole value from `bytes`; trailing bytes are an error.
    ///
    /// # Errors
    ///
    /// When the bytes are not a valid encoding of a `T`.
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError>;

    /// The length of `value`'s encoding (0 when it cannot be encoded),
    /// which `max_bytes` counts. By default it encodes into a buffer;
    /// override it where the format can count without one.
    fn encoded_len<T: Serialize + ?Sized>(&self, value: &T) -> usize {
        let mut out = Vec::new();
        self.encode(value, &mut out).map_or(0, |()| out.len())
    }
}

/// Why a value could not be encoded or decoded.
///
/// # Examples
///
/// ```
/// use memo_core::codec::{Codec, Postcard};
///
/// let err = Postcard.decode::<String>(&[0xff, 0xff]).unwrap_err();
/// assert!(!err.to_string().is_empty());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// bincode 2.0.x in serde mode, standard configuration
/// (variable-length integers, little endian, no size limit on encode, 16 MiB
/// limit on decode so a corrupt length cannot allocate without bound).
/// Behind the `bincode` feature: bincode is unmaintained upstream
/// (RUSTSEC-2025-0141), so it is no mandatory dependency.
///
/// # Examples
///
/// ```
/// use memo_core::codec::{Bincode, Codec};
///
/// let mut out = Vec::new();
/// Bincode.encode(&vec![1u32, 2, 3], &mut out).unwrap();
/// assert_eq!(Bincode.decode::<Vec<u32>>(&out).unwrap(), vec![1, 2, 3]);
/// ```
#[cfg(feature = "bincode")]
#[cfg_attr(docsrs, doc(cfg(feature = "bincode")))]
#[derive(Debug, Default, Clone, Copy)]
pub struct Bincode;

/// The codec used where none is named.
pub type DefaultCodec = Postcard;

/// The default codec: postcard 1.x (compact varint encoding, serde, stable
/// wire format). Trailing bytes after a value are an error.
///
/// # Examples
///
/// ```
/// use memo_core::codec::{Codec, Postcard};
///
/// let mut out = Vec::new();
/// Postcard.encode(&("id", 7u64), &mut out).unwrap();
/// assert_eq!(Postcard.decode::<(String, u64)>(&out).unwrap(), ("id".to_string(), 7));
/// assert!(Postcard.decode::<(String, u64)>(&out[..2]).is_err());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct Postcard;

impl Codec for Postcard {
    fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let written = postcard::to_extend(value, std::mem::take(out))
            .map_err(|e| CodecError(e.to_string()))?;
        *out = written;
        Ok(())
    }

    fn encoded_len<T: Serialize + ?Sized>(&self, value: &T) -> usize {
        let size = postcard::ser_flavors::Size::default();
        postcard::serialize_with_flavor::<T, _, usize>(value, size).unwrap_or(0)
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        let (value, rest) =
            postcard::take_from_bytes(bytes).map_err(|e| CodecError(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CodecError(format!(
                "{} trailing bytes after the value",
                rest.len()
            )));
        }
        Ok(value)
    }
}

#[cfg(feature = "bincode")]
const DECODE_LIMIT: usize = 16 << 20;

#[cfg(feature = "bincode")]
impl Codec for Bincode {
    fn encode<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        bincode::serde::encode_into_std_write(value, out, bincode::config::standard())
            .map(drop)
            .map_err(|e| CodecError(e.to_string()))
    }

    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, CodecError> {
        let config = bincode::config::standard().with_limit::<DECODE_LIMIT>();
        let (value, read) = bincode::serde::decode_from_slice(bytes, config)
            .map_err(|e| CodecError(e.to_string()))?;
        if read != bytes.len() {
            return Err(CodecError(format!(
                "{} trailing bytes after the value",
                bytes.len() - read
            )));
        }
        Ok(value)
    }
}
