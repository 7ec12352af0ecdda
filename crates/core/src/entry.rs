//! Ledger entries: the hash chain.
//!
//! An entry wraps one signed event with its sequence number and the hash of
//! the previous entry. Its canonical bytes are `codec::encode(&entry)`; the
//! entry hash is SHA-256(ENTRY_HASH_CONTEXT || canonical entry bytes), and
//! (for the Merkle tree of later versions) the RFC 6962 leaf hash is
//! SHA-256(0x00 || canonical entry bytes).

use crate::codec::{self, CodecError};
use crate::event::SignedEvent;
use bincode::{Decode, Encode};
use sha2::{Digest, Sha256};
use std::fmt;

/// Current entry format version (first byte of every entry).
pub const ENTRY_VERSION: u8 = 1;
/// Prefix of the entry hash (ASCII, ending in a NUL byte).
pub const ENTRY_HASH_CONTEXT: &[u8] = b"tinledger-entry-v1\0";

/// A SHA-256 entry hash. The genesis entry's `prev` is all zeros.
/// In canonical bytes it is its 32 bytes; in JSON, 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Encode, Decode)]
pub struct EntryHash(pub [u8; 32]);

impl EntryHash {
    /// The all-zero hash: the genesis entry's `prev`, and the head of an empty ledger.
    pub const ZERO: EntryHash = EntryHash([0; 32]);
    /// The hash as 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}
impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryHash({})", self.to_hex())
    }
}
impl fmt::Display for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl std::str::FromStr for EntryHash {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|_| format!("hash {} is not 64 hex digits", crate::units::quoted(s)))?;
        Ok(EntryHash(out))
    }
}

impl serde::Serialize for EntryHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> serde::Deserialize<'de> for EntryHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One link of the chain, exactly as stored.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Entry {
    /// Entry format version, always [`ENTRY_VERSION`] (the strict decoder refuses others).
    pub version: u8,
    /// Sequence number: 0 for genesis, then one more per entry, no gaps.
    pub seq: u64,
    /// Entry hash of the entry before (docs/formats.md §4.3); all zeros for genesis.
    pub prev: [u8; 32],
    /// Canonical event bytes, exactly as signed.
    pub event: Vec<u8>,
    /// Ed25519 signature of the signer over [`crate::event::signing_message`] of `event`.
    pub signature: [u8; 64],
}

impl Entry {
    /// The entry that stores `signed` at `seq`, linked to `prev`.
    pub fn new(seq: u64, prev: EntryHash, signed: &SignedEvent) -> Entry {
        Entry {
            version: ENTRY_VERSION,
            seq,
            prev: prev.0,
            event: signed.bytes().to_vec(),
            signature: *signed.signature(),
        }
    }

    /// Canonical entry bytes (docs/formats.md, "Entry").
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Strict decode. Does not decode the inner event; see [`Entry::signed_event`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, CodecError> {
        let e: Entry = codec::decode_strict(bytes, "entry")?;
        if e.version != ENTRY_VERSION {
            return Err(CodecError::Malformed {
                what: "entry",
                reason: format!("unknown entry version {}", e.version),
            });
        }
        Ok(e)
    }

    /// Decode the signed event inside.
    pub fn signed_event(&self) -> Result<SignedEvent, CodecError> {
        SignedEvent::from_parts(self.event.clone(), self.signature)
    }

    /// `prev` as an [`EntryHash`].
    pub fn prev_hash(&self) -> EntryHash {
        EntryHash(self.prev)
    }

    /// SHA-256(ENTRY_HASH_CONTEXT || canonical entry bytes).
    pub fn hash(&self) -> EntryHash {
        hash_entry_bytes(&self.to_bytes())
    }

    /// RFC 6962 leaf hash: SHA-256(0x00 || canonical entry bytes).
    pub fn leaf_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(self.to_bytes());
        h.finalize().into()
    }
}

/// The entry hash of canonical entry bytes.
pub fn hash_entry_bytes(bytes: &[u8]) -> EntryHash {
    let mut h = Sha256::new();
    h.update(ENTRY_HASH_CONTEXT);
    h.update(bytes);
    EntryHash(h.finalize().into())
}
