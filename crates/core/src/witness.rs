//! C2SP `tlog-witness` v1 (<https://c2sp.org/tlog-witness>): the
//! `add-checkpoint` request and the witness's decision on it.
//!
//! This module parses the request body and decides, from the witness's
//! trusted logs and its latest cosigned checkpoint for the origin, which
//! status the spec prescribes; on success it returns the new state and
//! the `cosignature/v1` line ([`crate::cosig`]). It does no I/O and reads
//! no clock: the caller persists the new state (before answering) and
//! passes the time in.
//!
//! The request body, byte for byte (spec, "add-checkpoint"):
//!
//! ```text
//! old <N>\n                       decimal, no leading zeroes ("0" for zero)
//! <base64 32-byte hash>\n         0 to 63 consistency proof lines
//! \n                              an empty line
//! <checkpoint note>               origin, size, root, extensions, blank line, signatures
//! ```
//!
//! The checks, in the spec's order, and their statuses:
//!
//! | check                                                        | status |
//! |--------------------------------------------------------------|--------|
//! | body not as above (syntax, > 63 proof lines, bad note)        | 400    |
//! | checkpoint origin not a trusted log                          | 404    |
//! | no signature by a trusted key for that origin verifies       | 403    |
//! | old size > checkpoint size                                   | 400    |
//! | old size != size of the latest cosigned checkpoint (0: none) | 409, body `<size>\n` |
//! | proof non-empty when old = 0, or the proof does not verify   | 422    |
//! | old size = checkpoint size but the root differs              | 409, body `<size>\n` |
//! | otherwise: the new state is persisted, then                  | 200, body the cosignature line |

use crate::checkpoint::Checkpoint;
use crate::cosig::CosignatureSigner;
use crate::merkle::{empty_root, verify_consistency, Hash};
use crate::note::{Note, Verifier};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::collections::BTreeMap;

/// Most consistency proof lines a client may send (spec: "MUST NOT send
/// more than 63").
pub const MAX_PROOF_LINES: usize = 63;
/// Largest request body a witness reads (a checkpoint note is far smaller).
pub const MAX_REQUEST_LEN: usize = 1 << 20;
/// `Content-Type` of a 409 answer (spec).
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// A parsed `add-checkpoint` body; the checkpoint is not verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The old size line's value.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The checkpoint note exactly as sent (text and every signature line).
    pub note: String,
    /// The note's parsed body.
    pub checkpoint: Checkpoint,
}

/// Why a request is refused: each variant is one status of the spec.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// 400: the body is not an `add-checkpoint` request.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 404: the witness does not know the checkpoint's origin.
    #[error("unknown log origin {0}")]
    UnknownOrigin(String),
    /// 403: no signature by a trusted key of the origin verifies.
    #[error("no signature on the checkpoint verifies with a trusted key of {0}")]
    Untrusted(String),
    /// 400: the old size is larger than the checkpoint's size.
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldTooLarge {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// 409: the old size is not the size of the witness's latest cosigned
    /// checkpoint (`size`, 0 if none).
    #[error("old size {old} is not this witness's size {size} for the log")]
    SizeMismatch {
        /// The old size sent.
        old: u64,
        /// The witness's size, to be sent back as `<size>\n`.
        size: u64,
    },
    /// 409: the checkpoint has the witness's size but another root hash.
    #[error("the checkpoint has the witness's size {size} but a different root hash")]
    RootMismatch {
        /// The witness's (and the checkpoint's) size.
        size: u64,
    },
    /// 422: the consistency proof is not empty for old size 0, or does not verify.
    #[error("the consistency proof from size {old} to {size} does not verify: {reason}")]
    BadProof {
        /// The old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// What was wrong.
        reason: String,
    },
}

impl Rejection {
    /// The HTTP status code the spec gives this refusal.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Malformed(_) | Rejection::OldTooLarge { .. } => 400,
            Rejection::Untrusted(_) => 403,
            Rejection::UnknownOrigin(_) => 404,
            Rejection::SizeMismatch { .. } | Rejection::RootMismatch { .. } => 409,
            Rejection::BadProof { .. } => 422,
        }
    }
    /// For a 409: the witness's size, the whole body being `<size>\n`
    /// with `Content-Type: text/x.tlog.size`.
    pub fn witness_size(&self) -> Option<u64> {
        match self {
            Rejection::SizeMismatch { size, .. } | Rejection::RootMismatch { size } => Some(*size),
            _ => None,
        }
    }
}

fn malformed(m: impl Into<String>) -> Rejection {
    Rejection::Malformed(m.into())
}

/// Parse an `add-checkpoint` body (spec, "add-checkpoint"). Strict: every
/// line ends in `\n`, the old size is canonical decimal, each proof line
/// is the standard padded base64 of 32 bytes, at most 63 of them, and the
/// rest is a signed note whose text is a checkpoint.
pub fn parse_request(body: &[u8]) -> Result<AddCheckpoint, Rejection> {
    if body.len() > MAX_REQUEST_LEN {
        return Err(malformed(format!("the body is larger than {MAX_REQUEST_LEN} bytes")));
    }
    let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
    let (first, mut rest) = text.split_once('\n').ok_or_else(|| malformed("no old size line"))?;
    let n = first.strip_prefix("old ").ok_or_else(|| malformed("the first line is not 'old <size>'"))?;
    if !canonical_decimal(n) {
        return Err(malformed("the old size is not a decimal number without leading zeroes"));
    }
    let old: u64 = n.parse().map_err(|_| malformed("the old size is out of range"))?;
    let mut proof = Vec::new();
    loop {
        let (line, after) = rest.split_once('\n').ok_or_else(|| malformed("no empty line before the checkpoint"))?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(malformed(format!("more than {MAX_PROOF_LINES} consistency proof lines")));
        }
        let raw = B64.decode(line).map_err(|_| malformed(format!("proof line {} is not base64", proof.len() + 1)))?;
        let h: Hash =
            raw.try_into().map_err(|_| malformed(format!("proof line {} is not a 32-byte hash", proof.len() + 1)))?;
        proof.push(h);
    }
    let note = Note::parse(rest).map_err(|e| malformed(format!("the checkpoint: {e}")))?;
    let checkpoint = Checkpoint::parse_body(&note.text).map_err(|e| malformed(e.to_string()))?;
    Ok(AddCheckpoint { old, proof, note: rest.to_string(), checkpoint })
}

/// The `add-checkpoint` body a client (a log) sends: `old <old>`, the
/// proof lines, an empty line, the checkpoint note. [`parse_request`]
/// reads it back unchanged.
pub fn request_body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut s = format!("old {old}\n");
    for h in proof {
        s.push_str(&B64.encode(h));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(note);
    s
}

/// The witness's size from a 409 body (`<size>\n`, decimal, no leading
/// zeroes), for a client that retries with `old <size>`; `None` if the
/// body is anything else.
pub fn parse_size_response(body: &[u8]) -> Option<u64> {
    let n = std::str::from_utf8(body).ok()?.strip_suffix('\n')?;
    if canonical_decimal(n) {
        n.parse().ok()
    } else {
        None
    }
}

/// ASCII decimal digits without leading zeroes ("0" for zero).
fn canonical_decimal(n: &str) -> bool {
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'))
}

/// The latest checkpoint a witness cosigned for one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogState {
    /// Its parsed body.
    pub checkpoint: Checkpoint,
    /// The note as the log sent it, with the witness's cosignature line
    /// appended: what `GET /checkpoint/<origin>` serves.
    pub cosigned_note: String,
}

impl LogState {
    /// Read a stored state back: a signed note whose text is a checkpoint.
    /// (The signatures were checked when it was cosigned; a store verifies
    /// its own integrity.)
    pub fn parse(cosigned_note: &str) -> Result<LogState, String> {
        let note = Note::parse(cosigned_note).map_err(|e| e.to_string())?;
        let checkpoint = Checkpoint::parse_body(&note.text).map_err(|e| e.to_string())?;
        Ok(LogState { checkpoint, cosigned_note: cosigned_note.to_string() })
    }
}

/// A successful `add-checkpoint`: persist `state`, then answer 200 with `body`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The witness's new latest cosigned checkpoint for the origin.
    pub state: LogState,
    /// The 200 body: the cosignature line(s), each ending in `\n`.
    pub body: String,
}

/// A witness: its key and the logs it trusts.
pub struct Witness {
    signer: CosignatureSigner,
    logs: BTreeMap<String, Vec<Verifier>>,
}

impl Witness {
    /// A witness cosigning with `signer` for the logs whose note verifier
    /// keys (type 0x01) are `logs`; each key's name is its log's origin,
    /// and one origin may have several keys (any of them is accepted).
    pub fn new(signer: CosignatureSigner, logs: Vec<Verifier>) -> Witness {
        let mut map: BTreeMap<String, Vec<Verifier>> = BTreeMap::new();
        for v in logs {
            let keys = map.entry(v.name.clone()).or_default();
            if !keys.contains(&v) {
                keys.push(v);
            }
        }
        Witness { signer, logs: map }
    }

    /// The origins this witness cosigns for.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The witness's signer (its name and key).
    pub fn signer(&self) -> &CosignatureSigner {
        &self.signer
    }

    /// Decide `req` against `state`, the latest checkpoint this witness
    /// cosigned for the request's origin (`None`: never), cosigning at
    /// `time` (seconds since the Unix epoch) on success. The caller must
    /// hold the origin's lock from reading `state` until the accepted state
    /// is persisted, and persist it before it answers.
    pub fn add_checkpoint(
        &self,
        req: &AddCheckpoint,
        state: Option<&LogState>,
        time: u64,
    ) -> Result<Accepted, Rejection> {
        let cp = &req.checkpoint;
        let keys = self.logs.get(&cp.origin).ok_or_else(|| Rejection::UnknownOrigin(quoted(&cp.origin)))?;
        // Unknown keys' lines are ignored; one trusted signature suffices.
        if !keys.iter().any(|v| Checkpoint::open(&req.note, v).is_ok()) {
            return Err(Rejection::Untrusted(quoted(&cp.origin)));
        }
        if req.old > cp.size {
            return Err(Rejection::OldTooLarge { old: req.old, size: cp.size });
        }
        let (size, root) = state.map_or((0, empty_root()), |s| (s.checkpoint.size, s.checkpoint.root));
        if req.old != size {
            return Err(Rejection::SizeMismatch { old: req.old, size });
        }
        let bad = |reason: &str| Rejection::BadProof { old: req.old, size: cp.size, reason: reason.to_string() };
        if req.old == 0 && !req.proof.is_empty() {
            return Err(bad("the proof must be empty when the old size is 0"));
        }
        if req.old == cp.size {
            if !req.proof.is_empty() {
                return Err(bad("the proof must be empty between equal sizes"));
            }
            if cp.root != root {
                return Err(Rejection::RootMismatch { size });
            }
        } else {
            verify_consistency(req.old, cp.size, &root, &cp.root, &req.proof).map_err(|e| bad(&e.to_string()))?;
        }
        let line = self.signer.cosign(&cp.body(), time).map_err(|e| malformed(e.to_string()))?;
        let cosigned_note = crate::cosig::add_signature_lines(&req.note, std::slice::from_ref(&line))
            .map_err(|e| malformed(e.to_string()))?;
        Ok(Accepted { state: LogState { checkpoint: cp.clone(), cosigned_note }, body: line })
    }
}

fn quoted(s: &str) -> String {
    crate::units::quoted(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{consistency_proof, leaf_hash, MemTree};
    use crate::note::NoteSigner;
    use ed25519_dalek::SigningKey;

    const ORIGIN: &str = "example.org/log";

    fn tree(n: u64, salt: u8) -> MemTree {
        let mut t = MemTree::new();
        for i in 0..n {
            // Leaves below 4 are shared by every salt: forks start at 4.
            let s = if i < 4 { 0 } else { salt };
            t.push(leaf_hash(&[s, i as u8]));
        }
        t
    }

    fn log() -> NoteSigner {
        NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    fn witness() -> Witness {
        let w = CosignatureSigner::new("witness.example/w", SigningKey::from_bytes(&[3; 32])).unwrap();
        Witness::new(w, vec![log().verifier()])
    }

    fn body(old: u64, proof: &[Hash], t: &MemTree, size: u64, signer: &NoteSigner) -> Vec<u8> {
        let cp = Checkpoint {
            origin: signer.name.clone(),
            size,
            root: crate::merkle::root(t, size).unwrap_or_else(|_| empty_root()),
            extensions: vec![],
        };
        request_body(old, proof, &cp.sign(signer).unwrap()).into_bytes()
    }

    fn add(w: &Witness, st: Option<&LogState>, b: &[u8]) -> Result<Accepted, Rejection> {
        w.add_checkpoint(&parse_request(b)?, st, 1_700_000_000)
    }

    #[test]
    fn the_status_matrix() {
        let w = witness();
        let t = tree(20, 1);
        let fork = tree(20, 2);
        // First checkpoint: old 0, empty proof.
        let a = add(&w, None, &body(0, &[], &t, 8, &log())).unwrap();
        assert_eq!(w.signer().verifier().verify(&a.state.cosigned_note).unwrap(), 1_700_000_000);
        assert!(a.body.starts_with("\u{2014} witness.example/w ") && a.body.ends_with('\n'));
        let st = Some(&a.state);
        // Growth with a valid proof.
        let p = consistency_proof(&t, 8, 13).unwrap();
        let b = add(&w, st, &body(8, &p, &t, 13, &log())).unwrap();
        assert_eq!(b.state.checkpoint.size, 13);
        // The same checkpoint again is cosigned again.
        assert!(add(&w, st, &body(8, &[], &t, 8, &log())).is_ok());
        // Same size, another root: 409 with the size.
        let e = add(&w, st, &body(8, &[], &fork, 8, &log())).unwrap_err();
        assert_eq!((e.status(), e.witness_size()), (409, Some(8)));
        // Old size not the witness's: 409.
        let e = add(&w, st, &body(0, &[], &t, 13, &log())).unwrap_err();
        assert_eq!((e.status(), e.witness_size()), (409, Some(8)));
        // Old larger than the checkpoint: 400.
        assert_eq!(add(&w, st, &body(14, &[], &t, 13, &log())).unwrap_err().status(), 400);
        // A fork's proof from 8 (its own history) does not match the witness's root: 422.
        let pf = consistency_proof(&fork, 8, 13).unwrap();
        assert_eq!(add(&w, st, &body(8, &pf, &fork, 13, &log())).unwrap_err().status(), 422);
        // Non-empty proof with old 0: 422.
        assert_eq!(add(&w, None, &body(0, &p, &t, 13, &log())).unwrap_err().status(), 422);
        // Unknown origin: 404; untrusted key on a known origin: 403.
        let other = NoteSigner::new("example.org/other", SigningKey::from_bytes(&[7; 32])).unwrap();
        assert_eq!(add(&w, None, &body(0, &[], &t, 8, &other)).unwrap_err().status(), 404);
        let impostor = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[8; 32])).unwrap();
        assert_eq!(add(&w, None, &body(0, &[], &t, 8, &impostor)).unwrap_err().status(), 403);
    }

    #[test]
    fn unknown_signatures_are_ignored() {
        let w = witness();
        let t = tree(8, 1);
        // The impostor's line first, the log's second: accepted.
        let impostor = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[8; 32])).unwrap();
        let good = String::from_utf8(body(0, &[], &t, 8, &log())).unwrap();
        let bad = String::from_utf8(body(0, &[], &t, 8, &impostor)).unwrap();
        let bad_line = bad.lines().last().unwrap();
        let (head, sig) = good.rsplit_once("\n\n").unwrap();
        let both = format!("{head}\n\n{bad_line}\n{sig}");
        assert!(add(&w, None, both.as_bytes()).is_ok());
    }

    #[test]
    fn malformed_bodies_are_400() {
        let w = witness();
        let t = tree(8, 1);
        let good = String::from_utf8(body(0, &[], &t, 8, &log())).unwrap();
        let h = format!("{}\n", B64.encode([1u8; 32]));
        for bad in [
            String::new(),
            "old 0".to_string(),
            good.replacen("old 0", "old 00", 1),
            good.replacen("old 0", "old -1", 1),
            good.replacen("old 0", "old  0", 1),
            good.replacen("old 0", "Old 0", 1),
            good.replacen("old 0\n\n", "old 0\n", 1),
            good.replacen("old 0\n", &format!("old 0\n{}", B64.encode([1u8; 31]) + "\n"), 1),
            good.replacen("old 0\n", "old 0\n!!!!\n", 1),
            good.replacen("old 0\n", &format!("old 0\n{}", h.repeat(64)), 1),
            good.replacen("\n\n\u{2014}", "\n\n-", 1),
            good.replacen(ORIGIN, "", 1),
        ] {
            let e = add(&w, None, bad.as_bytes()).unwrap_err();
            assert_eq!(e.status(), 400, "{bad:?}: {e}");
        }
        // 63 lines parse (then fail as a proof), 64 do not.
        let ok63 = good.replacen("old 0\n", &format!("old 0\n{}", h.repeat(63)), 1);
        assert_eq!(parse_request(ok63.as_bytes()).unwrap().proof.len(), 63);
        assert_eq!(add(&w, None, &[0xff, b'\n']).unwrap_err().status(), 400);
    }
    #[test]
    fn request_bodies_round_trip_and_409_bodies_parse() {
        let t = tree(9, 1);
        let p = consistency_proof(&t, 3, 9).unwrap();
        let note = String::from_utf8(body(3, &p, &t, 9, &log())).unwrap();
        let r = parse_request(note.as_bytes()).unwrap();
        assert_eq!(request_body(r.old, &r.proof, &r.note), note);
        assert_eq!((r.old, r.proof, r.checkpoint.size), (3, p, 9));
        assert_eq!(parse_size_response(b"12\n"), Some(12));
        assert_eq!(parse_size_response(b"0\n"), Some(0));
        for bad in [&b"12"[..], b"012\n", b" 1\n", b"\n", b"1\n\n", b"-1\n"] {
            assert_eq!(parse_size_response(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn size_zero_is_the_empty_tree() {
        let w = witness();
        let t = MemTree::new();
        let a = add(&w, None, &body(0, &[], &t, 0, &log())).unwrap();
        assert_eq!(a.state.checkpoint.root, empty_root());
        // A size-0 checkpoint with another root is a different tree: 409.
        let bad = Checkpoint { origin: ORIGIN.into(), size: 0, root: [1; 32], extensions: vec![] };
        let req = format!("old 0\n\n{}", bad.sign(&log()).unwrap());
        let e = add(&w, None, req.as_bytes()).unwrap_err();
        assert_eq!((e.status(), e.witness_size()), (409, Some(0)));
        // From size 0 any tree is consistent, with an empty proof.
        let t = tree(5, 1);
        assert!(add(&w, Some(&a.state), &body(0, &[], &t, 5, &log())).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn any_body_gets_a_status_never_a_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            flips in proptest::collection::vec((0usize..2000, proptest::prelude::any::<u8>()), 0..4),
        ) {
            let w = witness();
            let t = tree(12, 1);
            let state = add(&w, None, &body(0, &[], &t, 5, &log())).unwrap().state;
            let p = consistency_proof(&t, 5, 12).unwrap();
            // Random bytes, and a valid body with a few bytes changed.
            let mut valid = body(5, &p, &t, 12, &log());
            for (at, b) in flips {
                let n = valid.len();
                valid[at % n] = b;
            }
            for b in [bytes, valid] {
                match add(&w, Some(&state), &b) {
                    Ok(a) => proptest::prop_assert!(a.state.checkpoint.size >= 5),
                    Err(e) => proptest::prop_assert!([400, 403, 404, 409, 422].contains(&e.status())),
                }
            }
        }
    }
}
