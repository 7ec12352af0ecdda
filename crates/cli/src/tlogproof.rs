//! `prove inclusion SEQ --tlog-proof FILE` and `check tlog-proof FILE
//! --policy POLICY`: C2SP tlog-proof files (docs/formats.md, "tlog-proof").
//! tinledger puts the entry's bytes on the `extra` line, so one file is
//! all a buyer needs; the bytes are trusted only once they hash to the leaf
//! the inclusion path proves.

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{emit, emit_json};
use serde_json::json;
use std::path::Path;
use tinledger_core::checkpoint::Checkpoint;
use tinledger_core::merkle::{self, Hash};
use tinledger_core::note::Verifier;
use tinledger_core::Entry;
use tinledger_formats::tlog_proof::TlogProof;

/// Largest tlog-proof file read (a proof is a few kilobytes; the entry and
/// the cosigned checkpoint add at most about 130 KiB).
const MAX_TLOG_PROOF: u64 = 16 * 1024 * 1024;

/// The proof text for entry `seq` (bytes `entry`) with `path` in the tree
/// of the checkpoint `note` (kept verbatim, cosignatures included).
pub fn write(seq: u64, entry: &[u8], path: &[Hash], note: &str) -> String {
    TlogProof { extra: Some(entry.to_vec()), index: seq, path: path.to_vec(), checkpoint: note.to_string() }.encode()
}

/// Largest entry file read: a stored entry is at most 65535 bytes.
const MAX_ENTRY: u64 = 65_535;

pub fn check(
    cli: &Cli,
    file: &Path,
    policy: &Path,
    entry: Option<&Path>,
    verifier_keys: &[String],
) -> Result<(), CliError> {
    crate::input::stdin_once([file, policy].into_iter().chain(entry))?;
    let policy = crate::policyfile::load(policy)?;
    let text = crate::input::read_text_capped(file, "tlog-proof", MAX_TLOG_PROOF)?;
    let p = TlogProof::parse(&text).map_err(|e| CliError::usage(format!("{}: {e}", crate::input::name(file))))?;
    let bytes = match (entry, &p.extra) {
        (Some(f), _) => crate::input::read_capped(f, "entry", MAX_ENTRY)?,
        (None, Some(x)) => x.clone(),
        (None, None) => {
            return Err(CliError::usage(format!(
                "{}: the proof carries no entry (no extra line): give the entry's bytes with --entry FILE",
                crate::input::name(file)
            )))
        }
    };
    // Who signed the checkpoint: a log of the policy, or a key given.
    let extra: Vec<Verifier> = verifier_keys
        .iter()
        .map(|k| Verifier::parse(k).map_err(|e| CliError::usage(format!("--verifier-key: {e}"))))
        .collect::<Result<_, _>>()?;
    if policy.logs.is_empty() && extra.is_empty() {
        return Err(CliError::usage("the policy lists no log: give the log's key with --verifier-key VKEY")
            .hint("or add a `log VKEY` line to the policy (tinledger checkpoint --log-verifier-key prints it)"));
    }
    // The policy's log lines decide who may sign; --verifier-key is only
    // for a policy that lists none. The witnesses' quorum applies always.
    let verdict = if policy.logs.is_empty() {
        let cp = Checkpoint::open_any(&p.checkpoint, &extra).map_err(|e| {
            CliError::refused(format!(
                "the proof's checkpoint: {}",
                e.map(|e| e.to_string()).unwrap_or_else(|| "no key given".into())
            ))
        })?;
        let cosigned = policy
            .check_quorum(&p.checkpoint)
            .map_err(|e| CliError::refused(format!("the proof's checkpoint: {e}")))?;
        tinledger_core::policy::Verdict { checkpoint: cp, log: None, cosigned }
    } else {
        crate::policyfile::require(&policy, &p.checkpoint, "the proof's checkpoint")?
    };
    let cp = &verdict.checkpoint;
    if p.index >= cp.size {
        return Err(CliError::refused(format!(
            "the proof is for index {} but the checkpoint covers {} entries",
            p.index, cp.size
        )));
    }
    let leaf = merkle::leaf_hash(&bytes);
    merkle::verify_inclusion(&leaf, p.index, cp.size, &p.path, &cp.root).map_err(|e| {
        CliError::refused(format!("the inclusion proof for index {} fails: {e} (wrong entry, index or path)", p.index))
    })?;
    let e = Entry::from_bytes(&bytes).map_err(|e| CliError::refused(format!("the entry does not decode: {e}")))?;
    if e.seq != p.index {
        return Err(CliError::refused(format!("the entry says seq {} but the proof's index is {}", e.seq, p.index)));
    }
    let ev = e.signed_event().map_err(|x| CliError::refused(format!("the entry does not decode: {x}")))?;
    let kind = ev.event().body.kind();
    if cli.json {
        emit_json(&json!({"ok": true, "seq": p.index, "tree_size": cp.size, "origin": cp.origin, "kind": kind,
            "signer": ev.event().signer, "cosigned_by": crate::policyfile::cosigned_json(&verdict)}));
    } else {
        emit(&format!(
            "tlog-proof OK: entry {} ({kind} by {}) is in {} at tree size {}; {}",
            p.index,
            ev.event().signer,
            cp.origin,
            cp.size,
            crate::policyfile::cosigned_line(&verdict)
        ));
    }
    Ok(())
}
