//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, as
//! implemented by Go's `golang.org/x/mod/sumdb/note`.
//!
//! A note is UTF-8 text ending in a newline, a blank line, then signature
//! lines `— <name> <base64(key hash[4] ‖ signature[64])>`. The key hash is
//! the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). Keys are
//! written `name+hash+base64(0x01 ‖ key)` (verifier) and
//! `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)` (signer).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature algorithm byte for Ed25519.
pub const ALG_ED25519: u8 = 0x01;
/// Largest note we parse.
pub const MAX_NOTE_LEN: usize = 1 << 20;
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, key or checkpoint was refused. The message names the part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note (or checkpoint body) does not have the required syntax.
    #[error("malformed note: {0}")]
    Malformed(String),
    /// A key string or key name is not a valid Ed25519 note key.
    #[error("malformed key: {0}")]
    BadKey(String),
    /// No signature line by the named key (matched by name and key hash).
    #[error("note has no signature by {0}")]
    Unsigned(String),
    /// The named key's signature line is there but does not verify.
    #[error("note signature by {0} does not verify")]
    BadSignature(String),
}

/// The 4-byte key hash of an Ed25519 key named `name`.
pub fn key_hash(name: &str, key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Key names: non-empty, no spaces, no `+`, printable.
pub fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c == '+' || c.is_whitespace() || c.is_control()) {
        return Err(NoteError::BadKey(format!(
            "key name {} must be non-empty, without spaces or '+'",
            crate::units::quoted(name)
        )));
    }
    Ok(())
}

/// A named Ed25519 verifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    /// Key name: non-empty, no spaces, no `+` ([`check_name`]).
    pub name: String,
    /// Ed25519 public key.
    pub key: [u8; 32],
}

impl Verifier {
    /// A verifier for `key` named `name`; fails if the name is not allowed.
    pub fn new(name: &str, key: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Verifier { name: name.to_string(), key })
    }
    /// The 4-byte key hash of this name and key ([`key_hash`]).
    pub fn hash(&self) -> u32 {
        key_hash(&self.name, &self.key)
    }
    /// `name+hash+base64(0x01 ‖ key)`.
    pub fn to_key_string(&self) -> String {
        let mut b = vec![ALG_ED25519];
        b.extend_from_slice(&self.key);
        format!("{}+{:08x}+{}", self.name, self.hash(), B64.encode(b))
    }
    /// Parse `name+hash+base64(0x01 ‖ key)`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let (name, key) = parse_vkey(s, ALG_ED25519, "verifier key", key_hash)?;
        Ok(Verifier { name, key })
    }
}

/// Parse a verifier key `name+hash+base64(alg ‖ key)` of signature type
/// `alg` whose key hash is `hash(name, key)`.
pub(crate) fn parse_vkey(
    s: &str,
    alg: u8,
    what: &str,
    hash: fn(&str, &[u8; 32]) -> u32,
) -> Result<(String, [u8; 32]), NoteError> {
    let s = s.trim();
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(h), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey(format!("{what} is not name+hash+base64")));
    };
    check_name(name)?;
    let raw = B64.decode(b64).map_err(|_| NoteError::BadKey(format!("{what} is not base64")))?;
    if raw.len() != 33 || raw[0] != alg {
        return Err(NoteError::BadKey(format!("{what} is not an Ed25519 key of signature type 0x{alg:02x}")));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[1..]);
    if h.len() != 8 || u32::from_str_radix(h, 16).ok() != Some(hash(name, &key)) {
        return Err(NoteError::BadKey(format!("{what} hash {h} does not match its name and key")));
    }
    VerifyingKey::from_bytes(&key).map_err(|_| NoteError::BadKey("not an Ed25519 public key".into()))?;
    Ok((name.to_string(), key))
}

fn parse_alg_key(b64: &str) -> Result<[u8; 32], NoteError> {
    let raw = B64.decode(b64).map_err(|_| NoteError::BadKey("key is not base64".into()))?;
    if raw.len() != 33 || raw[0] != ALG_ED25519 {
        return Err(NoteError::BadKey("key is not an Ed25519 (algorithm 1) key".into()));
    }
    let mut k = [0u8; 32];
    k.copy_from_slice(&raw[1..]);
    Ok(k)
}

/// A named Ed25519 signer.
pub struct NoteSigner {
    /// Key name: non-empty, no spaces, no `+` ([`check_name`]).
    pub name: String,
    /// The Ed25519 private key.
    pub key: SigningKey,
}

impl NoteSigner {
    /// A signer for `key` named `name`; fails if the name is not allowed.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(NoteSigner { name: name.to_string(), key })
    }
    /// The matching verifier (same name, the public half of the key).
    pub fn verifier(&self) -> Verifier {
        Verifier { name: self.name.clone(), key: self.key.verifying_key().to_bytes() }
    }
    /// Parse `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let rest = s
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::BadKey("signer key does not start with PRIVATE+KEY+".into()))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::BadKey("signer key is not PRIVATE+KEY+name+hash+base64".into()));
        };
        let seed = parse_alg_key(b64)?;
        let s = NoteSigner::new(name, SigningKey::from_bytes(&seed))?;
        if u32::from_str_radix(hash, 16).ok() != Some(s.verifier().hash()) {
            return Err(NoteError::BadKey("signer key hash does not match".into()));
        }
        Ok(s)
    }
    /// Sign `text` (which must end in a newline) and return the whole note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes()).to_bytes();
        let mut b = self.verifier().hash().to_be_bytes().to_vec();
        b.extend_from_slice(&sig);
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(b)))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end in a newline".into()));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(NoteError::Malformed("text must not contain blank lines".into()));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("text contains control characters".into()));
    }
    Ok(())
}

/// A parsed note: its text and signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline, without the blank line that follows it.
    pub text: String,
    /// (name, key hash, signature)
    pub sigs: Vec<(String, u32, [u8; 64])>,
}

impl Note {
    /// Split a note into text and signatures (no verification).
    pub fn parse(msg: &str) -> Result<Note, NoteError> {
        if msg.len() > MAX_NOTE_LEN {
            return Err(NoteError::Malformed("note is too large".into()));
        }
        let split =
            msg.rfind("\n\n").ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
        let text = &msg[..split + 1];
        check_text(text)?;
        let sig_block = &msg[split + 2..];
        if !sig_block.ends_with('\n') {
            return Err(NoteError::Malformed("signature block must end in a newline".into()));
        }
        let mut sigs = Vec::new();
        for line in sig_block[..sig_block.len() - 1].split('\n') {
            let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
                NoteError::Malformed(format!(
                    "signature line {} does not start with an em dash",
                    crate::units::quoted(line)
                ))
            })?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| NoteError::Malformed("signature line is not '— name signature'".into()))?;
            check_name(name).map_err(|e| NoteError::Malformed(e.to_string()))?;
            let raw = B64.decode(b64).map_err(|_| NoteError::Malformed("signature is not base64".into()))?;
            if raw.len() != 68 {
                // Other algorithms: keep the line out of our list, as Go does for unknown keys.
                continue;
            }
            let hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            let mut sig = [0u8; 64];
            sig.copy_from_slice(&raw[4..]);
            sigs.push((name.to_string(), hash, sig));
        }
        if sigs.is_empty() && sig_block.is_empty() {
            return Err(NoteError::Malformed("note has no signatures".into()));
        }
        Ok(Note { text: text.to_string(), sigs })
    }

    /// Parse and require a valid signature by `v`; returns the text.
    pub fn open(msg: &str, v: &Verifier) -> Result<String, NoteError> {
        let note = Note::parse(msg)?;
        let want = v.hash();
        let mut found = false;
        for (name, hash, sig) in &note.sigs {
            if name == &v.name && *hash == want {
                // The project's one Ed25519 criterion (docs/formats.md §4.1).
                match crate::ed25519::verify(&v.key, note.text.as_bytes(), sig) {
                    Ok(()) => {}
                    Err(crate::ed25519::SigError::NonCanonicalKey | crate::ed25519::SigError::SmallOrderKey) => {
                        return Err(NoteError::BadKey("not a valid Ed25519 key".into()))
                    }
                    Err(_) => return Err(NoteError::BadSignature(v.name.clone())),
                }
                found = true;
            }
        }
        if !found {
            return Err(NoteError::Unsigned(v.to_key_string()));
        }
        Ok(note.text)
    }
}
