//! Cache keys: the one place that turns arguments into keys.
//!
//! - **Arguments** (the `vary_on` values) are encoded by memo's own key
//!   encoder (`key::encoder`): typed and self-delimiting, so `f("a,b", "c")` and
//!   `f("a", "b,c")` never share a key, and fast enough for the hit path.
//!   Key encoding does not follow the value codec, so swapping codecs never
//!   moves keys. The bytes are the L1 key, unless every argument is of a
//!   type L1 keys by value (`key::typed`); then the bytes still name the
//!   entry everywhere but on a hit, and are decoded to find it
//!   (`key::decoder`).
//! - **Shared-tier keys** read `memo:v:{namespace}:{hex(args)}`, where the
//!   namespace is `crate::module::function@digest` (or the `name = "..."`
//!   option; see `Spec::digest`).
//!   Arguments are hex so the last `:` always ends the namespace, whatever the
//!   namespace holds. A key that would be longer than [`MAX_KEY_LEN`] bytes
//!   ends in `#{hex(sha256(args))}` instead, which collides with no other key
//!   in practice (2^-128).
//! - **Generation keys** read `memo:g:{namespace}`: the opaque token that
//!   `invalidate()` replaces.
//! - **Lock keys** read `memo:l:{namespace}:{args}` (the dog-pile lock of one
//!   entry) and `memo:lock:{name}` ([`lock`](crate::lock())).
//! - **Long namespaces** (over 120 bytes) are written into keys as their
//!   first 80 bytes, `~`, and 32 hex digits of their SHA-256, so no key
//!   memo writes is longer than [`MAX_KEY_LEN`].

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::codec::CodecError;

pub(crate) mod decoder;
mod encoder;
pub(crate) use encoder::is_hashed_set;
pub(crate) mod typed;

/// Encoded arguments as L1 and the single flight hold them: up to 24 bytes
/// inline (every integer key, most short strings), so a lookup compares
/// without chasing a pointer and a miss stores without allocating. Hashes
/// (see [`hash_args`]) and compares as its bytes, as [`ArgsRef`] does.
#[derive(PartialEq, Eq)]
pub(crate) struct ArgsKey(smallvec::SmallVec<[u8; 24]>);

impl std::hash::Hash for ArgsKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_args(&self.0, state);
    }
}

/// Encoded arguments hash as one `write` of their bytes, without the length
/// prefix that a slice's `Hash` writes first: the encoding is
/// self-delimiting, and foldhash mixes a write's length in anyway. One
/// multiply less on the probe's path to its bucket.
#[inline]
fn hash_args<H: std::hash::Hasher>(bytes: &[u8], state: &mut H) {
    state.write(bytes);
}

impl ArgsKey {
    pub(crate) fn from_slice(bytes: &[u8]) -> Self {
        ArgsKey(smallvec::SmallVec::from_slice(bytes))
    }
}

/// By copy of the bytes: `SmallVec`'s own `Clone` extends byte by byte, and
/// a single flight clones the key twice per miss.
impl Clone for ArgsKey {
    fn clone(&self) -> Self {
        Self::from_slice(&self.0)
    }
}

impl std::ops::Deref for ArgsKey {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Encoded arguments as L1 is probed with on a hit: hashes as its bytes (as
/// [`ArgsKey`] does) and compares short keys as one or two words. Probing
/// with a plain `&[u8]` compared through `Borrow`, which for byte slices is
/// a call to `memcmp`: a tenth of a hit.
#[derive(Clone, Copy)]
pub(crate) struct ArgsRef<'a>(pub(crate) &'a [u8]);

impl std::hash::Hash for ArgsRef<'_> {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hash_args(self.0, state);
    }
}

impl papaya::Equivalent<ArgsKey> for ArgsRef<'_> {
    #[inline]
    fn equivalent(&self, key: &ArgsKey) -> bool {
        bytes_eq(self.0, key)
    }
}

/// `a == b`, without a call for keys of up to 16 bytes: overlapping loads
/// of the first and last word (or half-word) cover every byte.
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    #[inline(always)]
    fn word(bytes: &[u8], at: usize) -> u64 {
        <[u8; 8]>::try_from(&bytes[at..at + 8]).map_or(0, u64::from_le_bytes)
    }
    #[inline(always)]
    fn half(bytes: &[u8], at: usize) -> u32 {
        <[u8; 4]>::try_from(&bytes[at..at + 4]).map_or(0, u32::from_le_bytes)
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Prefix of every key memo writes to a shared tier.
pub const PREFIX: &str = "memo";

/// Longest shared-tier key written as is (memcached's classic limit).
pub const MAX_KEY_LEN: usize = 250;

/// Encodes `args` into a buffer on the stack and hands the bytes to `f`, so
/// a cache hit allocates nothing for its key (up to 64 bytes of arguments).
#[inline]
pub(crate) fn with_encoded<A, R>(args: &A, f: impl FnOnce(Result<&[u8], CodecError>) -> R) -> R
where
    A: Serialize + ?Sized,
{
    let mut buf = encoder::Buffer::new();
    let encoded = encoder::encode(args, &mut buf);
    f(encoded.map(|()| &buf[..]))
}

/// Longest namespace written into keys as is. Longer ones are written as
/// their first [`NAMESPACE_HEAD`] bytes, `~`, and 32 hex digits of their
/// SHA-256, so that every key memo writes stays within [`MAX_KEY_LEN`]:
/// the longest, an entry key whose arguments are hashed, is `memo:v:` +
/// namespace + `:#` + 64 hex digits.
const MAX_NAMESPACE_LEN: usize = 120;
/// How much of a long namespace its keys keep, for whoever reads them.
const NAMESPACE_HEAD: usize = 80;

/// `namespace` as keys spell it: as is, or shortened when long (see
/// [`MAX_NAMESPACE_LEN`]); distinct namespaces stay distinct.
fn key_namespace(namespace: &str) -> std::borrow::Cow<'_, str> {
    if namespace.len() <= MAX_NAMESPACE_LEN {
        return namespace.into();
    }
    let mut head = NAMESPACE_HEAD;
    while !namespace.is_char_boundary(head) {
        head -= 1;
    }
    let digest = Sha256::digest(namespace.as_bytes());
    let mut short = String::with_capacity(head + 1 + 32);
    short.push_str(&namespace[..head]);
    short.push('~');
    push_hex(&mut short, &digest[..16]);
    short.into()
}

/// What every entry key of `namespace` starts with: `memo:v:{namespace}:`.
/// A cache builds it once (see [`entry_key_at`]).
pub(crate) fn entry_prefix(namespace: &str) -> String {
    format!("{PREFIX}:v:{}:", key_namespace(namespace))
}

/// The shared-tier key of one entry of `namespace`.
pub(crate) fn entry_key(namespace: &str, args: &[u8]) -> String {
    entry_key_at(&entry_prefix(namespace), args)
}

/// The shared-tier key of one entry, after its namespace's
/// [`entry_prefix`]: one allocation of the exact size, the prefix copied,
/// the arguments in hex.
pub(crate) fn entry_key_at(prefix: &str, args: &[u8]) -> String {
    if prefix.len() + 2 * args.len() <= MAX_KEY_LEN {
        let mut key = String::with_capacity(prefix.len() + 2 * args.len());
        key.push_str(prefix);
        push_hex(&mut key, args);
        key
    } else {
        let digest = Sha256::digest(args);
        let mut key = String::with_capacity(prefix.len() + 1 + 2 * digest.len());
        key.push_str(prefix);
        key.push('#');
        push_hex(&mut key, &digest);
        key
    }
}

/// The shared-tier key under which a function with this namespace stores its
/// value for `args` (the tuple of its `vary_on` values, each by reference:
/// `&(&a, &b.id)`). For tools and tests that inspect the shared tier. A
/// backend may store it after a prefix of its own (memo-redis's
/// `key_prefix`).
///
/// # Errors
///
/// When the arguments cannot be encoded.
///
/// # Examples
///
/// ```
/// let key = memo_core::key::entry_key_for("my_crate::price", &(&"abc", &2u32)).unwrap();
/// assert!(key.starts_with("memo:v:my_crate::price:"));
/// ```
pub fn entry_key_for<A: Serialize + ?Sized>(
    namespace: &str,
    args: &A,
) -> Result<String, CodecError> {
    with_encoded(args, |bytes| bytes.map(|bytes| entry_key(namespace, bytes)))
}

/// The encoded arguments an entry key names, read back from its hex; `None`
/// for a key whose arguments were hashed (too long to write out), or one
/// memo did not make.
pub(crate) fn args_of_entry_key(entry_key: &str) -> Option<Vec<u8>> {
    let (_, hex) = entry_key.rsplit_once(':')?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect()
}

/// The key of the dog-pile lock of one entry (`lock = true`):
/// `memo:l:{namespace}:{args}`, beside its entry key.
pub(crate) fn entry_lock_key(entry_key: &str) -> String {
    let rest = entry_key
        .strip_prefix(PREFIX)
        .and_then(|k| k.strip_prefix(":v:"))
        .unwrap_or(entry_key);
    format!("{PREFIX}:l:{rest}")
}

/// The key of a lock taken with [`lock`](crate::lock()): `memo:lock:{name}`
/// (a long name shortened as a namespace is).
pub(crate) fn named_lock_key(name: &str) -> String {
    format!("{PREFIX}:lock:{}", key_namespace(name))
}

/// The shared-tier key of `namespace`'s generation token.
pub(crate) fn generation_key(namespace: &str) -> String {
    format!("{PREFIX}:g:{}", key_namespace(namespace))
}

/// Lowercase hex, two digits a byte. By table, a chunk at a time into a
/// stack buffer: `write!("{b:02x}")` goes through the formatting machinery
/// per byte, which was most of the client-side cost of a Redis hit.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 128];
    out.reserve(2 * bytes.len());
    for chunk in bytes.chunks(buf.len() / 2) {
        for (pair, &b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0xf)];
        }
        // ASCII digits only: the conversion cannot fail.
        out.push_str(std::str::from_utf8(&buf[..2 * chunk.len()]).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded<A: Serialize + ?Sized>(args: &A) -> Vec<u8> {
        with_encoded(args, |bytes| bytes.unwrap().to_vec())
    }

    #[test]
    fn string_boundaries_are_part_of_the_key() {
        assert_ne!(encoded(&("a,b", "c")), encoded(&("a", "b,c")));
        assert_ne!(encoded(&("ab", "")), encoded(&("a", "b")));
    }

    #[test]
    fn long_keys_are_hashed_and_stay_distinct() {
        let a = entry_key("c::f", &[1; 400]);
        let b = entry_key("c::f", &[2; 400]);
        assert!(a.len() <= MAX_KEY_LEN, "{}", a.len());
        assert_ne!(a, b);
        assert!(a.contains('#'));
        assert_eq!(entry_key("c::f", &[0xab]), "memo:v:c::f:ab");
        let every_byte: Vec<u8> = (0..=255).collect();
        let expected: String = every_byte.iter().map(|b| format!("{b:02x}")).collect();
        let mut hex = String::new();
        push_hex(&mut hex, &every_byte);
        assert_eq!(hex, expected);
        assert_eq!(entry_key("ns::é", &[1, 0xfe]), "memo:v:ns::é:01fe");
    }

    #[test]
    fn args_keys_hash_as_their_probes_and_clone_their_bytes() {
        use std::hash::BuildHasher;
        let hasher = foldhash::fast::FixedState::default();
        for bytes in [&b""[..], b"\x07", &[9; 24], &[3; 100]] {
            let key = ArgsKey::from_slice(bytes);
            assert_eq!(hasher.hash_one(&key), hasher.hash_one(ArgsRef(bytes)));
            assert_eq!(&*key.clone(), bytes);
        }
        // Without a length prefix, the length still counts (foldhash mixes
        // it in): zero runs of different lengths hash apart.
        let zeros: Vec<u64> = (0..=16)
            .map(|n| hasher.hash_one(ArgsKey::from_slice(&vec![0; n])))
            .collect();
        for (i, a) in zeros.iter().enumerate() {
            assert!(!zeros[i + 1..].contains(a), "{i} zero bytes collide");
        }
    }

    #[test]
    fn short_keys_compare_exactly() {
        use std::hash::BuildHasher;
        let hasher = foldhash::fast::FixedState::default();
        let keys: Vec<Vec<u8>> = (0..=20)
            .map(|n| (0..n).map(|i| i * 7 + 1).collect())
            .collect();
        for a in &keys {
            let probe = ArgsRef(a);
            assert_eq!(
                hasher.hash_one(probe),
                hasher.hash_one(ArgsKey::from_slice(a))
            );
            for b in &keys {
                let key = ArgsKey::from_slice(b);
                assert_eq!(papaya::Equivalent::equivalent(&probe, &key), a == b);
                // One byte off, anywhere: never equal.
                for at in 0..b.len() {
                    let mut other = b.clone();
                    other[at] ^= 0x80;
                    let other = ArgsKey::from_slice(&other);
                    assert!(
                        !papaya::Equivalent::equivalent(&probe, &other),
                        "{a:?} {at}"
                    );
                }
            }
        }
    }

    /// However long the namespace and the arguments, every key memo writes
    /// stays within the bound, and long namespaces stay apart.
    #[test]
    fn every_key_stays_within_the_bound() {
        for len in [1, 119, 120, 121, 200, 1000] {
            for namespace in ["n".repeat(len), "é".repeat(len)] {
                for args in [&[7u8; 1][..], &[7; 60], &[7; 400]] {
                    let entry = entry_key(&namespace, args);
                    assert!(entry.len() <= MAX_KEY_LEN, "{} bytes", entry.len());
                    assert!(entry_lock_key(&entry).len() <= MAX_KEY_LEN);
                }
                assert!(generation_key(&namespace).len() <= MAX_KEY_LEN);
                assert!(named_lock_key(&namespace).len() <= MAX_KEY_LEN);
            }
        }
        let (a, b) = ("a".repeat(200), format!("{}b", "a".repeat(199)));
        assert_ne!(generation_key(&a), generation_key(&b));
        assert_ne!(entry_key(&a, b"\x01"), entry_key(&b, b"\x01"));
        assert_eq!(
            generation_key("short::f"),
            "memo:g:short::f",
            "short ones as they are"
        );
    }

    #[test]
    fn namespaces_cannot_alias_arguments() {
        assert_ne!(entry_key("a", b"\xff"), entry_key("a:ff", b""));
    }
}
