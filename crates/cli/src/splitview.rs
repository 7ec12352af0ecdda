//! Split-view evidence (docs/witness.md, "Split-view evidence"): two
//! checkpoints signed by one log key that no consistency proof can join.
//! `monitor` writes it; `check split-view FILE --log-key KEY` confirms it
//! offline.
//!
//! The file is one JSON object:
//! `{"format": "tinledger-split-view/v1", "origin", "a": {"checkpoint",
//! "source", "seen_at"}, "b": {…}, "b_root_at_a_size", "consistency_proof"}`
//! with size(a) ≤ size(b). Equal sizes: the roots differ (the two proof
//! fields are absent). Sizes m < n: `b_root_at_a_size` is R', the root at
//! size m of the tree b commits to, and `consistency_proof` the RFC 6962
//! proof from (m, R') to b's root; R' differs from a's root.

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{emit, emit_json};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::Path;
use tinledger_core::checkpoint::Checkpoint;
use tinledger_core::merkle::{self, Hash};
use tinledger_core::note::{Note, Verifier};
use tinledger_core::units::quoted;

/// The `format` value.
pub const FORMAT: &str = "tinledger-split-view/v1";
/// Largest evidence file read.
const MAX_EVIDENCE: u64 = 4 << 20;

/// One side of the evidence: a checkpoint note, verbatim, and where it was seen.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    pub checkpoint: String,
    /// The URL it was fetched from (informational, not checked).
    #[serde(default)]
    pub source: String,
    /// Unix seconds when it was first seen (informational).
    #[serde(default)]
    pub seen_at: u64,
}

/// The evidence file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub format: String,
    pub origin: String,
    pub a: Side,
    pub b: Side,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b_root_at_a_size: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency_proof: Vec<String>,
}

impl Evidence {
    /// Evidence for `a` (size m) and `b` (size n ≥ m); for m < n, with R'
    /// and the proof from (m, R') to b's root.
    pub fn new(origin: &str, a: Side, b: Side, fork: Option<(Hash, Vec<Hash>)>) -> Evidence {
        let (r, proof) = match fork {
            Some((r, p)) => (Some(B64.encode(r)), p.iter().map(|h| B64.encode(h)).collect()),
            None => (None, vec![]),
        };
        Evidence { format: FORMAT.into(), origin: origin.into(), a, b, b_root_at_a_size: r, consistency_proof: proof }
    }
}

fn hash(s: &str, field: &str) -> Result<Hash, CliError> {
    B64.decode(s)
        .ok()
        .and_then(|v| Hash::try_from(v).ok())
        .ok_or_else(|| CliError::usage(format!("split-view evidence: {field} is not a base64 SHA-256 hash")))
}

/// The verifier for `--log-key`: a note verifier key as given, or a public
/// key (PEM file or hex) under the evidence's origin.
fn log_verifier(key: &str, origin: &str) -> Result<Verifier, CliError> {
    if key.contains('+') && !Path::new(key).exists() {
        return Verifier::parse(key).map_err(|e| CliError::usage(format!("--log-key: {e}")));
    }
    let pk = crate::keys::parse_public_key(key)?;
    Verifier::new(origin, pk.0).map_err(|e| CliError::usage(format!("--log-key: {e}")))
}

/// Why `e` proves a split view, or why it does not.
pub fn confirm(e: &Evidence, v: &Verifier) -> Result<(Checkpoint, Checkpoint, String), CliError> {
    if e.format != FORMAT {
        return Err(CliError::usage(format!("not split-view evidence: format is {}, not {FORMAT}", quoted(&e.format))));
    }
    let open = |side: &Side, name: &str| -> Result<Checkpoint, CliError> {
        Note::parse(&side.checkpoint).map_err(|x| CliError::usage(format!("checkpoint {name}: {x}")))?;
        Checkpoint::open(&side.checkpoint, v).map_err(|x| {
            CliError::refused(format!("checkpoint {name} is not signed by the log key {}: {x}", v.to_key_string()))
        })
    };
    let a = open(&e.a, "a")?;
    let b = open(&e.b, "b")?;
    if a.origin != e.origin || b.origin != e.origin {
        return Err(CliError::refused(format!(
            "the checkpoints are of {} and {}, the evidence names {}: not one log",
            quoted(&a.origin),
            quoted(&b.origin),
            quoted(&e.origin)
        )));
    }
    let b64 = |h: &Hash| B64.encode(h);
    if a.size > b.size {
        return Err(CliError::usage(format!(
            "split-view evidence: checkpoint a (size {}) must not be larger than b (size {})",
            a.size, b.size
        )));
    }
    if a.size == b.size {
        if e.b_root_at_a_size.is_some() || !e.consistency_proof.is_empty() {
            return Err(CliError::usage("split-view evidence: equal sizes take no consistency proof"));
        }
        if a.root == b.root {
            return Err(CliError::refused(format!(
                "not a split view: both checkpoints have size {} and root {}",
                a.size,
                b64(&a.root)
            )));
        }
        let why = format!("both have size {} but roots {} and {}", a.size, b64(&a.root), b64(&b.root));
        return Ok((a, b, why));
    }
    let r = e
        .b_root_at_a_size
        .as_deref()
        .ok_or_else(|| CliError::usage("split-view evidence: sizes differ but b_root_at_a_size is missing"))?;
    let r = hash(r, "b_root_at_a_size")?;
    let proof =
        e.consistency_proof.iter().map(|h| hash(h, "a consistency_proof hash")).collect::<Result<Vec<_>, _>>()?;
    merkle::verify_consistency(a.size, b.size, &r, &b.root, &proof).map_err(|x| {
        CliError::refused(format!(
            "bad proof: the consistency proof from size {} (root {}) to checkpoint b (size {}) fails: {x}",
            a.size,
            b64(&r),
            b.size
        ))
    })?;
    if r == a.root {
        return Err(CliError::refused(format!(
            "not a split view: checkpoint b's tree has root {} at size {}, the same as checkpoint a",
            b64(&r),
            a.size
        )));
    }
    let why = format!(
        "checkpoint b (size {}) commits to root {} at size {}, checkpoint a says {}",
        b.size,
        b64(&r),
        a.size,
        b64(&a.root)
    );
    Ok((a, b, why))
}

pub fn check(cli: &Cli, path: &Path, key: &str) -> Result<(), CliError> {
    let text = crate::input::read_text_capped(path, "split-view evidence", MAX_EVIDENCE)?;
    let e: Evidence = serde_json::from_str(&text)
        .map_err(|x| CliError::usage(format!("{}: not split-view evidence: {x}", crate::input::name(path))))?;
    let v = log_verifier(key, &e.origin)?;
    let (a, b, why) = confirm(&e, &v)?;
    if cli.json {
        emit_json(&json!({"ok": true, "origin": e.origin, "a_size": a.size, "b_size": b.size,
            "a_root": B64.encode(a.root), "b_root": B64.encode(b.root), "reason": why}));
    } else {
        emit(&format!("split view confirmed: two checkpoints of {} signed by {}: {why}", e.origin, v.to_key_string()));
    }
    Ok(())
}
