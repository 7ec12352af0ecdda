//! Merkle proof files (docs/merkle.md): what `tinledger prove` writes and
//! `tinledger check` reads, and the checkpoint notes they carry.
//!
//! A proof file is one pretty-printed JSON object, keys in sorted order:
//! an inclusion proof ([`InclusionFile`], `tinledger-inclusion-proof-v1`)
//! or a consistency proof ([`ConsistencyFile`],
//! `tinledger-consistency-proof-v1`). Hashes in them are standard base64
//! ([`hash_b64`], [`parse_hash`]); entry bytes are lower-case hex. A
//! checkpoint file is the signed note itself (`tinledger-core::note`), whose
//! origin line names the ledger ([`tinledger_origin`]).
//!
//! Nothing here opens a checkpoint or checks a proof against a root (the
//! core crate does): these are the bytes ↔ values steps around that.

use crate::error::FormatError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tinledger_core::merkle::{self, Hash};
use tinledger_core::units::quoted;
use tinledger_core::{CodecError, Entry};

/// Format tag of inclusion proof files.
pub const INCLUSION_FORMAT: &str = "tinledger-inclusion-proof-v1";
/// Format tag of consistency proof files.
pub const CONSISTENCY_FORMAT: &str = "tinledger-consistency-proof-v1";
/// What the origin line of a tinledger checkpoint starts with
/// (`tinledger/<ledger id>`).
pub const ORIGIN_PREFIX: &str = "tinledger/";

/// Why a proof file or a checkpoint note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Not the JSON object of a proof file (`what`: "inclusion proof", …);
    /// the message does not name the file, which the caller prepends.
    #[error("not a {what}: {reason}")]
    NotJson {
        /// The kind of file expected.
        what: &'static str,
        /// The JSON parser's reason.
        reason: String,
    },
    /// The file's `format` is not the expected tag.
    #[error("format is {}, expected {expected:?}", quoted(found))]
    Format {
        /// The file's `format`.
        found: String,
        /// The tag expected.
        expected: &'static str,
    },
    /// `entry_hex` is not hex.
    #[error("entry_hex is not hex")]
    EntryNotHex,
    /// `entry_hex` is hex but not an entry.
    #[error("{0}")]
    Entry(CodecError),
    /// The entry's own seq is not the proof's.
    #[error("entry says seq {entry} but the proof is for seq {proof}")]
    Seq {
        /// The seq inside the entry.
        entry: u64,
        /// The file's `seq`.
        proof: u64,
    },
    /// `leaf_hash` is not the leaf hash of `entry_hex`.
    #[error("leaf_hash is not SHA-256(0x00 ‖ entry bytes)")]
    LeafHash,
    /// A hash that is not 32 bytes of standard base64.
    #[error("{field}: {} is not a base64 SHA-256 hash", quoted(value))]
    NotHash {
        /// The field it was read from.
        field: &'static str,
        /// The text found.
        value: String,
    },
    /// A checkpoint note whose origin line is not `tinledger/LEDGER_ID`.
    #[error(
        "checkpoint does not verify with the trusted key: its origin {} is not a tinledger ledger (tinledger/LEDGER_ID)",
        quoted(.0)
    )]
    Origin(String),
}

impl ProofError {
    /// Whether the input is not a proof file of the kind expected (as
    /// opposed to one whose contents a check refused).
    pub fn is_invalid(&self) -> bool {
        matches!(self, ProofError::NotJson { .. } | ProofError::Format { .. })
    }
}

/// A hash as proof files write it: standard base64, padded.
pub fn hash_b64(h: &Hash) -> String {
    B64.encode(h)
}

/// A hash read from the proof file field `field`: 32 bytes of standard base64.
pub fn parse_hash(s: &str, field: &'static str) -> Result<Hash, ProofError> {
    B64.decode(s)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| ProofError::NotHash { field, value: s.to_string() })
}

/// The origin line of a checkpoint note, if it names a tinledger ledger
/// (`tinledger/<ledger id>`); the note's signature is not checked here.
pub fn tinledger_origin(note: &str) -> Result<&str, ProofError> {
    let origin = note.split('\n').next().unwrap_or_default();
    if !origin.starts_with(ORIGIN_PREFIX) {
        return Err(ProofError::Origin(origin.to_string()));
    }
    Ok(origin)
}

/// A proof file's text: the file as a JSON value, pretty-printed.
fn to_text<T: Serialize>(f: &T) -> Result<(String, Value), FormatError> {
    let v = serde_json::to_value(f).map_err(|e| FormatError::invalid(e.to_string()))?;
    let text = serde_json::to_string_pretty(&v).map_err(|e| FormatError::invalid(e.to_string()))?;
    Ok((text, v))
}

fn from_text<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
    format: impl Fn(&T) -> &str,
    expected: &'static str,
) -> Result<T, ProofError> {
    let f: T = tinledger_core::json::from_str(text).map_err(|e| ProofError::NotJson { what, reason: e.to_string() })?;
    if format(&f) != expected {
        return Err(ProofError::Format { found: format(&f).to_string(), expected });
    }
    Ok(f)
}

/// An inclusion proof file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionFile {
    /// Always [`INCLUSION_FORMAT`].
    pub format: String,
    /// The entry's seq, which is its leaf index.
    pub seq: u64,
    /// Canonical entry bytes, hex; the leaf hash is SHA-256(0x00 ‖ these bytes).
    pub entry_hex: String,
    /// The leaf hash, base64.
    pub leaf_hash: String,
    /// The tree size of the checkpoint the proof leads to.
    pub tree_size: u64,
    /// Sibling hashes, leaf to root (RFC 9162 §2.1.3), base64.
    pub proof: Vec<String>,
    /// The signed checkpoint (C2SP signed note) the proof leads to.
    pub checkpoint: String,
    /// When the checkpoint is signed by the log key: the `bind_log_key`
    /// entry that binds it and its inclusion proof in the same tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_key_binding: Option<BindingProof>,
}

/// A `bind_log_key` entry and its inclusion proof in a checkpoint's tree,
/// which lets a verifier that trusts only the authority's key accept a
/// checkpoint signed by the log key (docs/formats.md §6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingProof {
    /// The binding entry's seq (its leaf index).
    pub seq: u64,
    /// Its canonical entry bytes, hex.
    pub entry_hex: String,
    /// Sibling hashes, leaf to root, base64.
    pub proof: Vec<String>,
}

impl BindingProof {
    /// The proof of entry `seq` (canonical bytes `entry_bytes`).
    pub fn new(seq: u64, entry_bytes: &[u8], proof: &[Hash]) -> BindingProof {
        BindingProof { seq, entry_hex: hex::encode(entry_bytes), proof: proof.iter().map(hash_b64).collect() }
    }

    /// The entry (seq checked) and its path.
    pub fn entry(&self) -> Result<(Entry, Vec<Hash>), ProofError> {
        let bytes = hex::decode(&self.entry_hex).map_err(|_| ProofError::EntryNotHex)?;
        let entry = Entry::from_bytes(&bytes).map_err(ProofError::Entry)?;
        if entry.seq != self.seq {
            return Err(ProofError::Seq { entry: entry.seq, proof: self.seq });
        }
        let path = self.proof.iter().map(|s| parse_hash(s, "proof")).collect::<Result<Vec<_>, _>>()?;
        Ok((entry, path))
    }
}

/// The entry an inclusion proof is about, decoded and checked against the file.
pub struct ProvenEntry {
    /// The canonical entry bytes.
    pub bytes: Vec<u8>,
    /// The entry.
    pub entry: Entry,
    /// SHA-256(0x00 ‖ bytes), equal to the file's `leaf_hash`.
    pub leaf: Hash,
    /// The sibling hashes.
    pub path: Vec<Hash>,
}

impl InclusionFile {
    /// The proof file of entry `seq` (canonical bytes `entry_bytes`) in the
    /// tree of `checkpoint`, of size `tree_size`.
    pub fn new(seq: u64, entry_bytes: &[u8], tree_size: u64, proof: &[Hash], checkpoint: String) -> InclusionFile {
        InclusionFile {
            format: INCLUSION_FORMAT.into(),
            seq,
            entry_hex: hex::encode(entry_bytes),
            leaf_hash: hash_b64(&merkle::leaf_hash(entry_bytes)),
            tree_size,
            proof: proof.iter().map(hash_b64).collect(),
            checkpoint,
            log_key_binding: None,
        }
    }

    /// The file's text (pretty JSON, keys sorted) and the same as a JSON value.
    pub fn to_text(&self) -> Result<(String, Value), FormatError> {
        to_text(self)
    }

    /// Read a file's text: one JSON object, no unknown field, format
    /// [`INCLUSION_FORMAT`]. The contents are checked by [`Self::entry`].
    pub fn parse(text: &str) -> Result<InclusionFile, ProofError> {
        from_text(text, "inclusion proof", |f: &InclusionFile| &f.format, INCLUSION_FORMAT)
    }

    /// The entry and the path: `entry_hex` is an entry whose seq is `seq`,
    /// `leaf_hash` is its leaf hash and every sibling hash is base64.
    pub fn entry(&self) -> Result<ProvenEntry, ProofError> {
        let bytes = hex::decode(&self.entry_hex).map_err(|_| ProofError::EntryNotHex)?;
        let entry = Entry::from_bytes(&bytes).map_err(ProofError::Entry)?;
        if entry.seq != self.seq {
            return Err(ProofError::Seq { entry: entry.seq, proof: self.seq });
        }
        let leaf = merkle::leaf_hash(&bytes);
        if hash_b64(&leaf) != self.leaf_hash {
            return Err(ProofError::LeafHash);
        }
        let path = self.proof.iter().map(|s| parse_hash(s, "proof")).collect::<Result<Vec<_>, _>>()?;
        Ok(ProvenEntry { bytes, entry, leaf, path })
    }
}

/// A consistency proof file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyFile {
    /// Always [`CONSISTENCY_FORMAT`].
    pub format: String,
    /// The older signed checkpoint.
    pub old_checkpoint: String,
    /// The newer signed checkpoint.
    pub new_checkpoint: String,
    /// RFC 9162 §2.1.4 proof, base64.
    pub proof: Vec<String>,
    /// The log key binding for `old_checkpoint`, when the log key signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_log_key_binding: Option<BindingProof>,
    /// The log key binding for `new_checkpoint`, when the log key signed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_log_key_binding: Option<BindingProof>,
}

impl ConsistencyFile {
    /// The proof file from `old_checkpoint` to `new_checkpoint`.
    pub fn new(old_checkpoint: String, new_checkpoint: String, proof: &[Hash]) -> ConsistencyFile {
        ConsistencyFile {
            format: CONSISTENCY_FORMAT.into(),
            old_checkpoint,
            new_checkpoint,
            proof: proof.iter().map(hash_b64).collect(),
            old_log_key_binding: None,
            new_log_key_binding: None,
        }
    }

    /// The file's text (pretty JSON, keys sorted) and the same as a JSON value.
    pub fn to_text(&self) -> Result<(String, Value), FormatError> {
        to_text(self)
    }

    /// Read a file's text: one JSON object, no unknown field, format
    /// [`CONSISTENCY_FORMAT`].
    pub fn parse(text: &str) -> Result<ConsistencyFile, ProofError> {
        from_text(text, "consistency proof", |f: &ConsistencyFile| &f.format, CONSISTENCY_FORMAT)
    }

    /// The proof's hashes, each 32 bytes of base64.
    pub fn path(&self) -> Result<Vec<Hash>, ProofError> {
        self.proof.iter().map(|s| parse_hash(s, "proof")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_events::genesis;
    use tinledger_core::entry::EntryHash;
    use tinledger_core::LedgerId;

    fn entry_bytes(seq: u64) -> Vec<u8> {
        Entry::new(seq, EntryHash::ZERO, &genesis(LedgerId([7; 16]))).to_bytes()
    }

    #[test]
    fn hashes_are_32_bytes_of_base64() {
        let h = [9u8; 32];
        assert_eq!(parse_hash(&hash_b64(&h), "proof"), Ok(h));
        assert_eq!(parse_hash("AAAA", "proof"), Err(ProofError::NotHash { field: "proof", value: "AAAA".into() }));
        assert_eq!(parse_hash("!", "proof").unwrap_err().to_string(), r#"proof: "!" is not a base64 SHA-256 hash"#);
    }

    #[test]
    fn inclusion_file_round_trips_with_sorted_keys() {
        let bytes = entry_bytes(3);
        let f = InclusionFile::new(3, &bytes, 9, &[[1; 32], [2; 32]], "note\n".into());
        let (text, value) = f.to_text().unwrap();
        assert_eq!(value, serde_json::to_value(&f).unwrap());
        let keys: Vec<&str> = text.lines().filter_map(|l| l.trim().strip_prefix('"')?.split('"').next()).collect();
        assert_eq!(&keys[..2], ["checkpoint", "entry_hex"], "{text}");
        let back = InclusionFile::parse(&text).unwrap();
        assert_eq!(back, f);
        let e = back.entry().unwrap();
        assert_eq!((e.entry.seq, e.bytes, e.path), (3, bytes, vec![[1; 32], [2; 32]]));
    }

    #[test]
    fn inclusion_file_refusals() {
        let bytes = entry_bytes(3);
        let f = InclusionFile::new(3, &bytes, 9, &[[1; 32]], "note\n".into());
        let (text, _) = f.to_text().unwrap();
        let e = InclusionFile::parse("{").unwrap_err();
        assert!(e.is_invalid() && e.to_string().starts_with("not a inclusion proof: "), "{e}");
        let e = InclusionFile::parse(&text.replace("-v1", "-v2")).unwrap_err();
        assert!(e.is_invalid());
        assert_eq!(
            e.to_string(),
            r#"format is "tinledger-inclusion-proof-v2", expected "tinledger-inclusion-proof-v1""#
        );
        let unknown = text.replacen('{', "{\"x\": 1,", 1);
        assert!(matches!(InclusionFile::parse(&unknown), Err(ProofError::NotJson { .. })));

        let with = |g: &dyn Fn(&mut InclusionFile)| {
            let mut f = f.clone();
            g(&mut f);
            f.entry().err()
        };
        assert_eq!(with(&|f| f.entry_hex = "zz".into()), Some(ProofError::EntryNotHex));
        assert!(matches!(with(&|f| f.entry_hex = "00".into()), Some(ProofError::Entry(_))));
        assert_eq!(with(&|f| f.seq = 4), Some(ProofError::Seq { entry: 3, proof: 4 }));
        assert_eq!(with(&|f| f.leaf_hash = hash_b64(&[0; 32])), Some(ProofError::LeafHash));
        assert_eq!(
            with(&|f| f.proof = vec!["x".into()]),
            Some(ProofError::NotHash { field: "proof", value: "x".into() })
        );
        assert!(!ProofError::LeafHash.is_invalid());
    }

    #[test]
    fn consistency_file_round_trips_and_refusals() {
        let f = ConsistencyFile::new("old\n".into(), "new\n".into(), &[[3; 32]]);
        let (text, _) = f.to_text().unwrap();
        let back = ConsistencyFile::parse(&text).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.path(), Ok(vec![[3; 32]]));
        let e = ConsistencyFile::parse(&text.replace("consistency", "inclusion")).unwrap_err();
        assert!(matches!(e, ProofError::Format { expected: CONSISTENCY_FORMAT, .. }), "{e}");
        assert!(matches!(ConsistencyFile::parse("[]"), Err(ProofError::NotJson { what: "consistency proof", .. })));
        let bad = ConsistencyFile { proof: vec!["AA==".into()], ..f };
        assert!(matches!(bad.path(), Err(ProofError::NotHash { .. })));
    }

    #[test]
    fn checkpoint_origin_must_name_a_tinledger_ledger() {
        assert_eq!(tinledger_origin("tinledger/ab\n42\n"), Ok("tinledger/ab"));
        let e = tinledger_origin("example.com/log\n42\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"checkpoint does not verify with the trusted key: its origin "example.com/log" is not a tinledger ledger (tinledger/LEDGER_ID)"#
        );
    }
}
