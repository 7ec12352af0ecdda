//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the signed
//! tree head of a ledger's Merkle tree.
//!
//! Body: `<origin>\n<tree size, decimal>\n<base64 root hash>\n`, then any
//! extension lines (we write none). The body is signed as a signed note.

use crate::merkle::Hash;
use crate::note::{Note, NoteError, NoteSigner, Verifier};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// A parsed checkpoint body (docs/formats.md §5.2, docs/merkle.md §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, which names the ledger (see [`origin_for`]).
    pub origin: String,
    /// Tree size: the number of entries the root covers.
    pub size: u64,
    /// RFC 9162 Merkle root over the first `size` entries (base64 in the body).
    pub root: Hash,
    /// Extension lines, kept verbatim (without newlines).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text (body) of this checkpoint.
    pub fn body(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root));
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parse a checkpoint body.
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |m: &str| NoteError::Malformed(format!("checkpoint: {m}"));
        let body = text.strip_suffix('\n').ok_or_else(|| bad("must end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or_else(|| bad("missing origin"))?;
        let size_s = lines.next().ok_or_else(|| bad("missing tree size"))?;
        let size_ok = !size_s.is_empty()
            && size_s.chars().all(|c| c.is_ascii_digit())
            && (size_s == "0" || !size_s.starts_with('0'));
        if !size_ok {
            return Err(bad("tree size is not a decimal number"));
        }
        let size: u64 = size_s.parse().map_err(|_| bad("tree size out of range"))?;
        let root_s = lines.next().ok_or_else(|| bad("missing root hash"))?;
        let raw = B64.decode(root_s).map_err(|_| bad("root hash is not base64"))?;
        let root: Hash = raw.try_into().map_err(|_| bad("root hash is not 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Checkpoint { origin: origin.to_string(), size, root, extensions })
    }

    /// Sign as a note.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, NoteError> {
        signer.sign(&self.body())
    }

    /// Verify a signed checkpoint note with `v` and parse it. The origin
    /// must equal the verifier's name (our convention; C2SP allows others).
    pub fn open(note: &str, v: &Verifier) -> Result<Checkpoint, NoteError> {
        let text = Note::open(note, v)?;
        let cp = Checkpoint::parse_body(&text)?;
        if cp.origin != v.name {
            return Err(NoteError::Malformed(format!(
                "checkpoint origin {} is not the verifier key name {}",
                crate::units::quoted(&cp.origin),
                crate::units::quoted(&v.name)
            )));
        }
        Ok(cp)
    }

    /// Open with the first of `verifiers` that accepts the note (such as
    /// every key an authority has held); otherwise the last one's error
    /// (`None` when there are no verifiers).
    pub fn open_any(note: &str, verifiers: &[Verifier]) -> Result<Checkpoint, Option<NoteError>> {
        let mut last = None;
        for v in verifiers {
            match Checkpoint::open(note, v) {
                Ok(cp) => return Ok(cp),
                Err(e) => last = Some(e),
            }
        }
        Err(last)
    }
}

/// The checkpoint origin (and note key name) of a ledger: `tinledger/<ledger id hex>`.
pub fn origin_for(ledger_id: &crate::LedgerId) -> String {
    format!("tinledger/{}", ledger_id.to_hex())
}
