//! C2SP `tlog-cosignature` v1 (<https://c2sp.org/tlog-cosignature>): a
//! witness's Ed25519 cosignature on a checkpoint.
//!
//! A cosignature is a signed-note signature line whose key type is 0x04
//! (`cosignature/v1`). Its key ID is the first 4 bytes of
//! SHA-256(name ‖ "\n" ‖ 0x04 ‖ 32-byte public key); the verifier key is
//! written `name+hash+base64(0x04 ‖ key)`. The line is
//! `— <name> base64(key ID[4] ‖ timestamp[8, big-endian] ‖ signature[64])`,
//! and the signature is over
//! `cosignature/v1\ntime <timestamp, decimal>\n` followed by the whole
//! checkpoint body (every line, extension lines too, with its final newline).
//! The timestamp is the witness's clock in seconds since the Unix epoch; a
//! cosignature says the witness checked, at that time, that the checkpoint
//! is consistent with every other checkpoint of that log it cosigned.

use crate::note::{check_name, Note, NoteError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

/// Signature type byte of `cosignature/v1` Ed25519 keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Decoded length of a cosignature: key ID, timestamp, signature.
pub const COSIGNATURE_LEN: usize = 4 + 8 + 64;
const SIG_PREFIX: &str = "\u{2014} ";

/// The 4-byte key ID of a `cosignature/v1` key named `name`.
pub fn key_id(name: &str, key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_COSIGNATURE_V1]);
    h.update(key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The exact bytes a witness signs for checkpoint body `body` at `time`.
pub fn signed_message(body: &str, time: u64) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {time}\n").into_bytes();
    m.extend_from_slice(body.as_bytes());
    m
}

/// A witness's public key: its name and Ed25519 key (type 0x04).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CosignatureVerifier {
    /// Key name: non-empty, no spaces, no `+` ([`check_name`]).
    pub name: String,
    /// Ed25519 public key.
    pub key: [u8; 32],
}

/// One cosignature that verified: who made it and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness's name.
    pub name: String,
    /// The witness's timestamp (seconds since the Unix epoch).
    pub time: u64,
}

impl CosignatureVerifier {
    /// A verifier for `key` named `name`; fails if the name is not allowed.
    pub fn new(name: &str, key: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(CosignatureVerifier { name: name.to_string(), key })
    }
    /// The 4-byte key ID ([`key_id`]).
    pub fn id(&self) -> u32 {
        key_id(&self.name, &self.key)
    }
    /// `name+hash+base64(0x04 ‖ key)`.
    pub fn to_key_string(&self) -> String {
        let mut b = vec![ALG_COSIGNATURE_V1];
        b.extend_from_slice(&self.key);
        format!("{}+{:08x}+{}", self.name, self.id(), B64.encode(b))
    }
    /// Parse `name+hash+base64(0x04 ‖ key)`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let (name, key) = crate::note::parse_vkey(s, ALG_COSIGNATURE_V1, "witness key", key_id)?;
        Ok(CosignatureVerifier { name, key })
    }

    /// Check this witness's cosignature in `note` (a signed checkpoint
    /// note, possibly with many signature lines): the line with this name
    /// and key ID whose signature verifies over the note's text. Returns
    /// its timestamp. Lines by other keys are ignored.
    pub fn verify(&self, note: &str) -> Result<u64, NoteError> {
        let parsed = Note::parse_lines(note)?;
        self.verify_lines(&parsed.0, &parsed.1)
    }

    /// As [`Self::verify`], on a note already split by [`Note::parse_lines`].
    pub fn verify_lines(&self, text: &str, lines: &[SignatureLine]) -> Result<u64, NoteError> {
        let id = self.id();
        let mut seen = false;
        for l in lines {
            if l.name != self.name || l.key_id != id {
                continue;
            }
            seen = true;
            let Some((time, sig)) = l.cosignature() else { continue };
            if time > i64::MAX as u64 {
                continue;
            }
            if crate::ed25519::verify(&self.key, &signed_message(text, time), &sig).is_ok() {
                return Ok(time);
            }
        }
        if seen {
            Err(NoteError::BadSignature(format!("witness {}", self.name)))
        } else {
            Err(NoteError::Unsigned(format!("witness {}", self.name)))
        }
    }
}

/// A witness's private key and name.
pub struct CosignatureSigner {
    /// Key name: non-empty, no spaces, no `+`.
    pub name: String,
    /// The Ed25519 private key.
    pub key: SigningKey,
}

impl CosignatureSigner {
    /// A signer for `key` named `name`; fails if the name is not allowed.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(CosignatureSigner { name: name.to_string(), key })
    }
    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier { name: self.name.clone(), key: self.key.verifying_key().to_bytes() }
    }
    /// The signature line (ending in a newline) cosigning checkpoint body
    /// `body` (the note's text, with its final newline) at `time`.
    pub fn cosign(&self, body: &str, time: u64) -> Result<String, NoteError> {
        if !body.ends_with('\n') {
            return Err(NoteError::Malformed("checkpoint body must end in a newline".into()));
        }
        if time > i64::MAX as u64 {
            return Err(NoteError::Malformed("cosignature timestamp out of range".into()));
        }
        let sig = self.key.sign(&signed_message(body, time)).to_bytes();
        let mut b = Vec::with_capacity(COSIGNATURE_LEN);
        b.extend_from_slice(&self.verifier().id().to_be_bytes());
        b.extend_from_slice(&time.to_be_bytes());
        b.extend_from_slice(&sig);
        Ok(format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(b)))
    }
}

/// One signature line of a note, of any key type, not verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    /// The key name on the line.
    pub name: String,
    /// The first 4 decoded bytes (the key ID).
    pub key_id: u32,
    /// The decoded bytes after the key ID.
    pub payload: Vec<u8>,
    /// The line as it was, without its newline.
    pub line: String,
}

impl SignatureLine {
    /// As a cosignature: (timestamp, signature) when the payload is 72 bytes.
    pub fn cosignature(&self) -> Option<(u64, [u8; 64])> {
        if self.payload.len() != COSIGNATURE_LEN - 4 {
            return None;
        }
        let mut t = [0u8; 8];
        t.copy_from_slice(&self.payload[..8]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&self.payload[8..]);
        Some((u64::from_be_bytes(t), sig))
    }
}

/// Append signature lines (each `— name base64`, with or without its
/// newline) to a signed note, skipping any line the note already has.
pub fn add_signature_lines(note: &str, lines: &[String]) -> Result<String, NoteError> {
    let (_, have) = Note::parse_lines(note)?;
    let mut out = note.to_string();
    for l in lines {
        let l = l.strip_suffix('\n').unwrap_or(l);
        if l.contains('\n') || !l.starts_with(SIG_PREFIX) {
            return Err(NoteError::Malformed("a cosignature is not one '— name signature' line".into()));
        }
        if have.iter().any(|h| h.line == l) || out.lines().any(|x| x == l) {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    // The result must still parse.
    Note::parse_lines(&out)?;
    Ok(out)
}

impl Note {
    /// Split a note into its text and every signature line, of any key
    /// type (cosignatures included), without verifying any.
    pub fn parse_lines(msg: &str) -> Result<(String, Vec<SignatureLine>), NoteError> {
        if msg.len() > crate::note::MAX_NOTE_LEN {
            return Err(NoteError::Malformed("note is too large".into()));
        }
        // Checks text and signature block syntax the same way as `parse`.
        Note::parse(msg)?;
        let split = msg.rfind("\n\n").ok_or_else(|| NoteError::Malformed("no blank line".into()))?;
        let text = &msg[..split + 1];
        let block = &msg[split + 2..];
        let mut lines = Vec::new();
        for line in block[..block.len().saturating_sub(1)].split('\n') {
            let rest = line.strip_prefix(SIG_PREFIX).unwrap_or(line);
            let Some((name, b64)) = rest.split_once(' ') else { continue };
            let Ok(raw) = B64.decode(b64) else { continue };
            if raw.len() < 4 {
                return Err(NoteError::Malformed("signature is shorter than its key ID".into()));
            }
            lines.push(SignatureLine {
                name: name.to_string(),
                key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                payload: raw[4..].to_vec(),
                line: line.to_string(),
            });
        }
        Ok((text.to_string(), lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::note::NoteSigner;

    fn cp_note() -> (String, String) {
        let log = NoteSigner::new("example.org/log", SigningKey::from_bytes(&[7; 32])).unwrap();
        let cp = Checkpoint { origin: "example.org/log".into(), size: 5, root: [9; 32], extensions: vec![] };
        (cp.body(), cp.sign(&log).unwrap())
    }

    #[test]
    fn a_cosignature_verifies_and_names_its_time() {
        let (body, note) = cp_note();
        let w = CosignatureSigner::new("witness.example", SigningKey::from_bytes(&[3; 32])).unwrap();
        let line = w.cosign(&body, 1_700_000_000).unwrap();
        let cosigned = add_signature_lines(&note, std::slice::from_ref(&line)).unwrap();
        assert_eq!(w.verifier().verify(&cosigned).unwrap(), 1_700_000_000);
        // The log's signature still opens (the 76-byte line is ignored by the log verifier).
        let v = NoteSigner::new("example.org/log", SigningKey::from_bytes(&[7; 32])).unwrap().verifier();
        assert!(Checkpoint::open(&cosigned, &v).is_ok());
        // Adding the same line twice keeps one.
        assert_eq!(add_signature_lines(&cosigned, &[line]).unwrap(), cosigned);
        // Another witness's key does not accept it.
        let other = CosignatureSigner::new("witness.example", SigningKey::from_bytes(&[4; 32])).unwrap();
        assert!(matches!(other.verifier().verify(&cosigned), Err(NoteError::Unsigned(_))));
    }

    #[test]
    fn a_changed_body_or_timestamp_fails() {
        let (body, note) = cp_note();
        let w = CosignatureSigner::new("w", SigningKey::from_bytes(&[3; 32])).unwrap();
        let line = w.cosign(&body, 42).unwrap();
        let b64 = line.trim_end().rsplit(' ').next().unwrap();
        let mut raw = B64.decode(b64).unwrap();
        raw[11] ^= 1; // timestamp
        let forged = format!("\u{2014} w {}\n", B64.encode(&raw));
        let n = add_signature_lines(&note, &[forged]).unwrap();
        assert!(matches!(w.verifier().verify(&n), Err(NoteError::BadSignature(_))));
        assert!(w.cosign("no newline", 1).is_err());
    }

    #[test]
    fn key_strings_round_trip_and_refuse_type_1() {
        let w = CosignatureSigner::new("w.example/a", SigningKey::from_bytes(&[5; 32])).unwrap().verifier();
        let s = w.to_key_string();
        assert_eq!(CosignatureVerifier::parse(&s).unwrap(), w);
        let log = NoteSigner::new("w.example/a", SigningKey::from_bytes(&[5; 32])).unwrap().verifier();
        assert!(CosignatureVerifier::parse(&log.to_key_string()).is_err());
        assert_ne!(w.id(), log.hash());
    }

    #[test]
    fn the_signed_message_is_the_spec_s() {
        assert_eq!(signed_message("o\n1\nAA==\n", 0), b"cosignature/v1\ntime 0\no\n1\nAA==\n".to_vec());
    }
}
