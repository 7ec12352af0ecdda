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

/// Who signed a ledger's checkpoint (see [`open_for_ledger`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedBy {
    /// A key the authority holds or held.
    Authority([u8; 32]),
    /// The log key bound for the checkpoint's tree size (`bind_log_key`).
    LogKey([u8; 32]),
}

impl SignedBy {
    /// The signing key.
    pub fn key(&self) -> &[u8; 32] {
        match self {
            SignedBy::Authority(k) | SignedBy::LogKey(k) => k,
        }
    }
}

/// Open a checkpoint note of the ledger described by `info`, accepting a
/// signature by any of `authority_keys` (every key the authority has held)
/// or by the log key that `info` binds for the note's own tree size: the
/// key of the last `bind_log_key` entry with seq < size
/// (docs/formats.md §5.2). `info` must include every binding below that
/// size (the facts after replaying the tree's entries). The origin must be
/// the ledger's. The caller still checks that the root matches the entries.
pub fn open_for_ledger(
    note: &str,
    info: &crate::rules::LedgerInfo,
    authority_keys: &[[u8; 32]],
) -> Result<(Checkpoint, SignedBy), NoteError> {
    let origin = origin_for(&info.ledger_id);
    let parsed = Note::parse(note)?;
    let unverified = Checkpoint::parse_body(&parsed.text)?;
    let mut candidates: Vec<SignedBy> = authority_keys.iter().map(|k| SignedBy::Authority(*k)).collect();
    let log_key = info.log_key_for_size(unverified.size).map(|k| k.0);
    if let Some(k) = log_key {
        candidates.push(SignedBy::LogKey(k));
    }
    let mut last = None;
    for c in candidates {
        let v = Verifier::new(&origin, *c.key())?;
        match Checkpoint::open(note, &v) {
            Ok(cp) => return Ok((cp, c)),
            Err(NoteError::Unsigned(_)) => {}
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        NoteError::Unsigned(match log_key {
            Some(k) => format!(
                "the authority or the log key {} (bound for tree size {})",
                crate::event::PublicKey(k).key_id(),
                unverified.size
            ),
            None => format!("the authority (no log key is bound below tree size {})", unverified.size),
        })
    }))
}

/// Open a checkpoint note signed by a log key, trusting only the
/// authority's key `authority` (a note verifier named after the ledger's
/// origin): `binding` must be a `bind_log_key` entry signed with the
/// authority's key, `path` its RFC 9162 inclusion proof in the tree the
/// note commits to (so its seq is below the note's size), and the note must
/// be signed by the key it binds (docs/formats.md §5.2, "Checkpoints signed
/// by the log key"). This shows the key was bound inside the tree; it does
/// not show that no later binding replaced it (a full audit does).
pub fn open_with_binding(
    note: &str,
    authority: &Verifier,
    binding: &crate::entry::Entry,
    path: &[Hash],
) -> Result<Checkpoint, String> {
    let parsed = Note::parse(note).map_err(|e| e.to_string())?;
    let unverified = Checkpoint::parse_body(&parsed.text).map_err(|e| e.to_string())?;
    if unverified.origin != authority.name {
        return Err(format!(
            "checkpoint origin {} is not the trusted key's name {}",
            crate::units::quoted(&unverified.origin),
            crate::units::quoted(&authority.name)
        ));
    }
    let bytes = binding.to_bytes();
    crate::merkle::verify_inclusion(
        &crate::merkle::leaf_hash(&bytes),
        binding.seq,
        unverified.size,
        path,
        &unverified.root,
    )
    .map_err(|e| format!("the log key binding (entry {}) is not in the checkpoint's tree: {e}", binding.seq))?;
    let signed = binding.signed_event().map_err(|e| format!("the log key binding (entry {}): {e}", binding.seq))?;
    let crate::event::EventBody::BindLogKey { key } = &signed.event().body else {
        return Err(format!("entry {} is a {}, not a bind_log_key entry", binding.seq, signed.event().body.kind()));
    };
    if origin_for(&signed.event().ledger_id) != authority.name {
        return Err(format!("the log key binding (entry {}) is for another ledger", binding.seq));
    }
    if !signed.verify(&crate::event::PublicKey(authority.key)) {
        return Err(format!("the log key binding (entry {}) is not signed by the trusted authority key", binding.seq));
    }
    let v = Verifier::new(&authority.name, key.0).map_err(|e| e.to_string())?;
    Checkpoint::open(note, &v).map_err(|e| format!("{e} (the log key bound at entry {})", binding.seq))
}

/// The checkpoint origin (and note key name) of a ledger: `tinledger/<ledger id hex>`.
pub fn origin_for(ledger_id: &crate::LedgerId) -> String {
    format!("tinledger/{}", ledger_id.to_hex())
}
