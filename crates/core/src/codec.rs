//! Canonical binary encoding.
//!
//! Everything that is signed or hashed is encoded with bincode 2.0.1 using
//! one fixed configuration: big-endian, fixed-width integers, with a size
//! limit. docs/formats.md states the resulting byte layout field by field.
//! Decoding is strict: trailing bytes are rejected and the decoded value must
//! re-encode to exactly the input bytes, so every value has one encoding.

use bincode::config::{self, BigEndian, Configuration, Fixint, Limit};
use bincode::{Decode, Encode};

/// Upper bound on any single encoded value (event or entry), in bytes.
pub const MAX_ENCODED_LEN: usize = 1 << 20;

type Config = Configuration<BigEndian, Fixint, Limit<MAX_ENCODED_LEN>>;

fn cfg() -> Config {
    config::standard().with_big_endian().with_fixed_int_encoding().with_limit::<MAX_ENCODED_LEN>()
}

/// Why bytes could not be decoded into a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The bytes do not decode as the expected type (a bad tag, an invalid id,
    /// a field outside its syntax: docs/formats.md §3).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded, e.g. `"event"` or `"entry"`.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The value decoded but bytes were left over; strict decoding refuses them.
    #[error("malformed {what}: {extra} trailing bytes")]
    Trailing {
        /// What was being decoded.
        what: &'static str,
        /// Number of bytes left over.
        extra: usize,
    },
    /// The bytes decode, but encoding the value again gives different bytes;
    /// only the one canonical encoding is accepted (docs/formats.md §3).
    #[error("malformed {what}: not in canonical form")]
    NotCanonical {
        /// What was being decoded.
        what: &'static str,
    },
    /// More than [`MAX_ENCODED_LEN`] bytes (1 MiB): refused before decoding
    /// or after encoding.
    #[error("{what} too large: {len} bytes (limit {MAX_ENCODED_LEN})")]
    TooLarge {
        /// What was being decoded or encoded.
        what: &'static str,
        /// Its length, in bytes.
        len: usize,
    },
}

/// Encode a value canonically.
pub fn encode<T: Encode>(value: &T) -> Vec<u8> {
    // Encoding into a Vec cannot fail for our types except by exceeding the
    // limit, which validation prevents; fall back to an empty vector that no
    // decoder accepts rather than panicking.
    bincode::encode_to_vec(value, cfg()).unwrap_or_default()
}

/// Encode a value canonically, reporting values over the size limit.
pub fn try_encode<T: Encode>(value: &T, what: &'static str) -> Result<Vec<u8>, CodecError> {
    let bytes =
        bincode::encode_to_vec(value, cfg()).map_err(|e| CodecError::Malformed { what, reason: e.to_string() })?;
    if bytes.len() > MAX_ENCODED_LEN {
        return Err(CodecError::TooLarge { what, len: bytes.len() });
    }
    Ok(bytes)
}

/// Decode exactly `bytes` into a value: no trailing bytes, canonical form only.
pub fn decode_strict<T: Decode<()> + Encode>(bytes: &[u8], what: &'static str) -> Result<T, CodecError> {
    if bytes.len() > MAX_ENCODED_LEN {
        return Err(CodecError::TooLarge { what, len: bytes.len() });
    }
    let (value, read): (T, usize) =
        bincode::decode_from_slice(bytes, cfg()).map_err(|e| CodecError::Malformed { what, reason: e.to_string() })?;
    if read != bytes.len() {
        return Err(CodecError::Trailing { what, extra: bytes.len() - read });
    }
    // Re-encode into a comparing writer (no allocation): the bytes must be
    // exactly the canonical encoding of the value they decode to.
    let mut w = CompareWriter { expected: bytes, pos: 0, same: true };
    if bincode::encode_into_writer(&value, &mut w, cfg()).is_err() || !w.same || w.pos != bytes.len() {
        return Err(CodecError::NotCanonical { what });
    }
    Ok(value)
}

/// A bincode writer that checks the output against expected bytes.
struct CompareWriter<'a> {
    expected: &'a [u8],
    pos: usize,
    same: bool,
}

impl bincode::enc::write::Writer for &mut CompareWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        let end = self.pos + bytes.len();
        if self.expected.get(self.pos..end) != Some(bytes) {
            self.same = false;
            return Err(bincode::error::EncodeError::Other("not canonical"));
        }
        self.pos = end;
        Ok(())
    }
}
