//! Checkpoints and Merkle proofs: `checkpoint`, `prove …`, `check …`.
//! Proof files (docs/merkle.md) are read and written by
//! `tinledger_formats::proof`; this module reads and writes the files,
//! opens checkpoints and checks proofs with the core crate.

use crate::args::{CheckCmd, Cli, ProveCmd, Trust};
use crate::error::CliError;
use crate::keys;
use crate::output::{emit, emit_json};
use crate::output::{write_atomic, AtomicFile};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use tinledger_core::checkpoint::{self, origin_for, Checkpoint, SignedBy};
use tinledger_core::event::PublicKey;
use tinledger_core::merkle;
use tinledger_core::note::{NoteSigner, Verifier};
use tinledger_core::units::quoted;
use tinledger_core::LedgerId;
use tinledger_formats::proof::{
    hash_b64 as b64, tinledger_origin, BindingProof, ConsistencyFile, InclusionFile, ProofError,
};
use tinledger_ledger::Ledger;

/// Largest proof or checkpoint file read.
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// A proof or checkpoint file's text (at most [`MAX_FILE`] bytes read).
pub fn read_text(path: &Path, what: &str) -> Result<String, CliError> {
    crate::input::read_text_capped(path, what, MAX_FILE)
}

/// The ledger's note verifiers: origin name + each key the authority has
/// held, current key first (checkpoints signed before a rotation stay valid).
pub(crate) fn ledger_verifiers(l: &Ledger) -> Result<(LedgerId, Vec<Verifier>), CliError> {
    let info = l.info().ok_or_else(|| CliError::refused("ledger has no genesis entry"))?;
    let auth = tinledger_core::rules::StateView::actor(&l.view(), &info.authority)
        .map_err(|e| CliError::refused(e.to_string()))?
        .ok_or_else(|| CliError::refused("the authority's record is missing; run `tinledger verify`"))?;
    let origin = origin_for(&info.ledger_id);
    let vs = auth
        .keys
        .iter()
        .rev()
        .map(|k| Verifier::new(&origin, k.key.0).map_err(|e| CliError::usage(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((info.ledger_id, vs))
}

/// The current verifier (for new checkpoints and --verifier-key).
fn ledger_verifier(l: &Ledger) -> Result<(LedgerId, Verifier, Vec<Verifier>), CliError> {
    let (id, vs) = ledger_verifiers(l)?;
    let cur = vs.first().cloned().ok_or_else(|| CliError::refused("the authority has no key"))?;
    Ok((id, cur, vs))
}

pub fn checkpoint(
    cli: &Cli,
    key: Option<&Path>,
    out: Option<&Path>,
    verifier_key: bool,
    log_verifier_key: bool,
) -> Result<(), CliError> {
    let l = crate::open::ledger(cli)?;
    let (_, verifier, _) = ledger_verifier(&l)?;
    if verifier_key || log_verifier_key {
        let v = if log_verifier_key {
            let k = l.log_key().ok_or_else(|| {
                CliError::usage("no log key is bound to this ledger").hint(
                    "the authority binds one: tinledger record bind-log-key --key AUTHORITY_KEY --public-key LOG_PUB",
                )
            })?;
            Verifier::new(&verifier.name, k.0).map_err(|e| CliError::usage(e.to_string()))?
        } else {
            verifier
        };
        if cli.json {
            emit_json(&json!({"verifier_key": v.to_key_string(), "origin": v.name}));
        } else {
            emit(&v.to_key_string());
        }
        return Ok(());
    }
    // Everything that can fail is tried before the ledger changes: the key
    // is read and must be the authority's, the output is created (its
    // directory exists and takes a file, no file is there) and, for a new
    // checkpoint, written and synced. Only then is the checkpoint stored and
    // the output renamed into place.
    let sk = key.map(keys::load_signing_key).transpose()?;
    let mut target = out.map(|p| AtomicFile::create(p, false)).transpose()?;
    let (size, note) = match (key, sk) {
        (Some(k), Some(sk)) => {
            let pk = PublicKey::from(&sk);
            if pk.0 != verifier.key && Some(pk) != l.log_key() {
                return Err(CliError::refused(format!(
                    "{} is not the ledger authority's current key (key id {}) or the bound log key ({}); checkpoints are signed by one of them",
                    k.display(),
                    PublicKey(verifier.key).key_id(),
                    l.log_key().map_or("none is bound".to_string(), |k| format!("key id {}", k.key_id()))
                )));
            }
            let size = l.head().size;
            match l.latest_checkpoint()? {
                // One was already stored for this size: that one stands.
                Some((s, stored)) if s == size => (size, stored),
                _ => {
                    let cp = Checkpoint {
                        origin: verifier.name.clone(),
                        size,
                        root: l.merkle_root(size)?,
                        extensions: vec![],
                    };
                    let signer = NoteSigner::new(&verifier.name, sk).map_err(|e| CliError::usage(e.to_string()))?;
                    let note = cp.sign(&signer).map_err(|e| CliError::usage(e.to_string()))?;
                    if let Some(t) = &mut target {
                        t.write_all(note.as_bytes()).and_then(|_| t.sync()).map_err(|e| t.error(e))?;
                    }
                    let stored = l.store_checkpoint(size, &note)?;
                    if stored != note {
                        // Another process stored one for this size first (it cannot
                        // while this one holds the ledger; kept for safety).
                        target = out.map(|p| AtomicFile::create(p, false)).transpose()?;
                    }
                    (size, stored)
                }
            }
        }
        _ => l.latest_checkpoint()?.ok_or_else(|| {
            CliError::usage("this ledger has no signed checkpoint yet")
                .hint("sign one on the ledger host: tinledger checkpoint --key AUTHORITY_KEY")
        })?,
    };
    if let Some(mut t) = target {
        if t.written() == 0 {
            t.write_all(note.as_bytes()).map_err(|e| t.error(e))?;
        }
        t.commit()?;
    }
    if out.is_some_and(crate::input::is_std) {
        // The note itself went to stdout (`--out -`): print it only once.
        if cli.json {
            crate::output::report_json(Path::new("-"), &json!({"size": size}));
        }
        return Ok(());
    }
    if cli.json {
        emit_json(&json!({"size": size, "checkpoint": note}));
    } else {
        // The note ends in a newline already.
        emit(note.trim_end_matches('\n'));
    }
    Ok(())
}

/// Open a checkpoint of this ledger: signed by any key the authority has
/// held, or by the log key bound for its size (docs/formats.md §5.2). For
/// the latter, also the binding entry's proof in the checkpoint's tree, for
/// proof files that a verifier holding only the authority's key can check.
pub(crate) fn open_ledger_cp(
    l: &Ledger,
    text: &str,
    what: &str,
) -> Result<(Checkpoint, Option<BindingProof>), CliError> {
    let info = l.info().ok_or_else(|| CliError::refused("ledger has no genesis entry"))?;
    let auth = tinledger_core::rules::StateView::actor(&l.view(), &info.authority)
        .map_err(|e| CliError::refused(e.to_string()))?
        .ok_or_else(|| CliError::refused("the authority's record is missing; run `tinledger verify`"))?;
    let keys: Vec<[u8; 32]> = auth.keys.iter().rev().map(|k| k.key.0).collect();
    let (cp, by) =
        checkpoint::open_for_ledger(text, info, &keys).map_err(|e| CliError::refused(format!("{what}: {e}")))?;
    let binding = match by {
        SignedBy::Authority(_) => None,
        SignedBy::LogKey(_) => {
            let b = info
                .log_keys
                .iter()
                .rev()
                .find(|b| b.seq < cp.size)
                .ok_or_else(|| CliError::refused(format!("{what}: no log key binding below its size")))?;
            if cp.size > l.head().size {
                return Err(CliError::refused(format!(
                    "{what}: tree size {} is beyond this ledger's {} entries",
                    cp.size,
                    l.head().size
                )));
            }
            let e = l.get(b.seq)?.ok_or_else(|| CliError::refused(format!("entry {} is missing", b.seq)))?;
            Some(BindingProof::new(b.seq, &e.to_bytes(), &l.inclusion_proof(b.seq, cp.size)?))
        }
    };
    Ok((cp, binding))
}

/// Open a checkpoint file's note trusting only `trust` (the authority's
/// keys): signed by one of them, or by a log key that `binding` shows the
/// authority bound inside the checkpoint's tree.
fn open_trusted(trust: &Trust, note: &str, binding: Option<&BindingProof>, what: &str) -> Result<Checkpoint, CliError> {
    let v = trusted_verifier(trust, note)?;
    match (Checkpoint::open(note, &v), binding) {
        (Ok(cp), _) => Ok(cp),
        (Err(tinledger_core::note::NoteError::Unsigned(_)), Some(b)) => {
            let (entry, path) = b.entry()?;
            let vs = trusted_verifiers(trust, note)?;
            let mut last = String::new();
            for v in &vs {
                match checkpoint::open_with_binding(note, v, &entry, &path) {
                    Ok(cp) => return Ok(cp),
                    Err(e) => last = e,
                }
            }
            Err(CliError::refused(format!("{what}: {last}")))
        }
        (Err(e @ tinledger_core::note::NoteError::Unsigned(_)), None) => Err(CliError::refused(format!(
            "{what}: {e}; if the log key signed it, give the binding (--binding FILE from `tinledger prove log-key`)"
        ))),
        (Err(e), _) => Err(CliError::refused(format!("{what}: {e}"))),
    }
}

/// Write a proof file's text to `out`, or print it (its JSON value with --json).
pub fn output(cli: &Cli, out: Option<&Path>, (text, value): (String, serde_json::Value)) -> Result<(), CliError> {
    match out {
        Some(p) => {
            write_atomic(p, text.as_bytes(), false)?;
            if cli.json {
                crate::output::report_json(p, &json!({"file": p}));
            } else {
                crate::output::report(p, &format!("wrote {}", crate::output::out_name(p)));
            }
        }
        None if cli.json => emit_json(&value),
        None => emit(&text),
    }
    Ok(())
}

pub fn prove(cli: &Cli, p: &ProveCmd) -> Result<(), CliError> {
    let l = crate::open::ledger(cli)?;
    let latest = || -> Result<String, CliError> {
        Ok(l.latest_checkpoint()?
            .ok_or_else(|| {
                CliError::usage("this ledger has no signed checkpoint yet")
                    .hint("sign one: tinledger checkpoint --key AUTHORITY_KEY")
            })?
            .1)
    };
    match p {
        ProveCmd::Inclusion { seq, checkpoint, out, tlog_proof } => {
            let note = match checkpoint {
                Some(f) => read_text(f, "checkpoint")?,
                None => latest()?,
            };
            let (cp, binding) = open_ledger_cp(&l, &note, "checkpoint")?;
            if *seq >= cp.size {
                return Err(CliError::usage(format!(
                    "entry {seq} is not covered by the checkpoint (tree size {})",
                    cp.size
                ))
                .hint("sign a newer checkpoint: tinledger checkpoint --key AUTHORITY_KEY"));
            }
            if l.merkle_root(cp.size)? != cp.root {
                return Err(CliError::refused("the checkpoint's root does not match this ledger: history differs"));
            }
            let e = l.get(*seq)?.ok_or_else(|| CliError::refused(format!("entry {seq} is missing")))?;
            let proof = l.inclusion_proof(*seq, cp.size)?;
            if let Some(path) = tlog_proof {
                let text = crate::tlogproof::write(*seq, &e.to_bytes(), &proof, &note);
                write_atomic(path, text.as_bytes(), false)?;
                if cli.json {
                    crate::output::report_json(path, &json!({"file": path, "seq": seq, "tree_size": cp.size}));
                } else {
                    crate::output::report(path, &format!("wrote {}", crate::output::out_name(path)));
                }
                return Ok(());
            }
            let mut f = InclusionFile::new(*seq, &e.to_bytes(), cp.size, &proof, note);
            f.log_key_binding = binding;
            output(cli, out.as_deref(), f.to_text()?)
        }
        ProveCmd::LogKey { checkpoint, out } => {
            let note = match checkpoint {
                Some(f) => read_text(f, "checkpoint")?,
                None => latest()?,
            };
            let (cp, binding) = open_ledger_cp(&l, &note, "checkpoint")?;
            let Some(b) = binding else {
                return Err(CliError::usage(format!(
                    "the checkpoint (tree size {}) is signed by the authority, not by a log key: it needs no binding",
                    cp.size
                )));
            };
            let (entry, path) = b.entry()?;
            let mut f = InclusionFile::new(b.seq, &entry.to_bytes(), cp.size, &path, note);
            f.log_key_binding = Some(b);
            output(cli, out.as_deref(), f.to_text()?)
        }
        ProveCmd::Consistency { old, new, out } => {
            crate::input::stdin_once(std::iter::once(old.as_path()).chain(new.as_deref()))?;
            let old_note = read_text(old, "old checkpoint")?;
            let new_note = match new {
                Some(f) => read_text(f, "new checkpoint")?,
                None => latest()?,
            };
            let (o, old_binding) = open_ledger_cp(&l, &old_note, "old checkpoint")?;
            let (n, new_binding) = open_ledger_cp(&l, &new_note, "new checkpoint")?;
            if o.size > n.size {
                return Err(CliError::usage(format!(
                    "old checkpoint (size {}) is newer than the new one (size {})",
                    o.size, n.size
                )));
            }
            if n.size > l.head().size {
                return Err(CliError::refused(format!(
                    "checkpoint size {} is beyond this ledger's {} entries",
                    n.size,
                    l.head().size
                )));
            }
            for (cp, what) in [(&o, "old"), (&n, "new")] {
                if l.merkle_root(cp.size)? != cp.root {
                    return Err(CliError::refused(format!(
                        "the {what} checkpoint (size {}) does not match this ledger: history was rewritten",
                        cp.size
                    )));
                }
            }
            let proof = l.consistency_proof(o.size, n.size)?;
            let mut f = ConsistencyFile::new(old_note, new_note, &proof);
            f.old_log_key_binding = old_binding;
            f.new_log_key_binding = new_binding;
            output(cli, out.as_deref(), f.to_text()?)
        }
    }
}

/// The note verifiers a buyer trusts, one per key given. With authority
/// keys, the checkpoint's origin line names the verifiers (`tinledger/<ledger id>`).
pub fn trusted_verifiers(trust: &Trust, note: &str) -> Result<Vec<Verifier>, CliError> {
    if !trust.verifier_key.is_empty() {
        return trust
            .verifier_key
            .iter()
            .map(|vk| Verifier::parse(vk).map_err(|e| CliError::usage(format!("--verifier-key: {e}"))))
            .collect();
    }
    let keys = trust.authority_key.iter().map(|k| keys::parse_public_key(k)).collect::<Result<Vec<_>, _>>()?;
    let origin = tinledger_origin(note)?;
    keys.iter().map(|k| Verifier::new(origin, k.0).map_err(|e| CliError::refused(format!("checkpoint: {e}")))).collect()
}

/// The trusted verifier for one checkpoint note: the first of those given
/// that opens it (several keys are given across an authority key rotation),
/// else the first given, whose error the caller then reports.
pub fn trusted_verifier(trust: &Trust, note: &str) -> Result<Verifier, CliError> {
    let vs = trusted_verifiers(trust, note)?;
    let opens = vs.iter().position(|v| Checkpoint::open(note, v).is_ok()).unwrap_or(0);
    vs.into_iter().nth(opens).ok_or_else(|| CliError::usage("no trusted key given"))
}

/// A proof file's text, parsed by `parse`; a file that is not JSON of the
/// kind is named in the message.
fn parse_file<T>(path: &Path, what: &str, parse: fn(&str) -> Result<T, ProofError>) -> Result<T, CliError> {
    let text = read_text(path, what)?;
    parse(&text).map_err(|e| match e {
        ProofError::NotJson { .. } => CliError::from(e).in_file(path),
        e => e.into(),
    })
}

pub fn check(cli: &Cli, c: &CheckCmd) -> Result<(), CliError> {
    match c {
        CheckCmd::Checkpoint { checkpoint, trust, binding, policy } => {
            let policy = crate::policyfile::load_opt(policy.policy.as_deref())?;
            let note = read_text(checkpoint, "checkpoint")?;
            let binding = binding
                .as_deref()
                .map(|p| parse_file(p, "log key binding", InclusionFile::parse))
                .transpose()?
                .map(|f| BindingProof { seq: f.seq, entry_hex: f.entry_hex, proof: f.proof });
            let cp = open_trusted(trust, &note, binding.as_ref(), "checkpoint")?;
            let verdict = policy.map(|p| crate::policyfile::require(&p, &note, "checkpoint")).transpose()?;
            if cli.json {
                let mut v = json!({"ok": true, "origin": cp.origin, "size": cp.size, "root": b64(&cp.root)});
                if let Some(vd) = &verdict {
                    v["cosigned_by"] = crate::policyfile::cosigned_json(vd);
                }
                emit_json(&v);
            } else {
                emit(&format!("checkpoint OK: {} at tree size {}, root {}", cp.origin, cp.size, b64(&cp.root)));
                if let Some(vd) = &verdict {
                    emit(&format!("  policy OK: {}", crate::policyfile::cosigned_line(vd)));
                }
            }
            Ok(())
        }
        CheckCmd::Inclusion { proof, trust, policy } => {
            let policy = crate::policyfile::load_opt(policy.policy.as_deref())?;
            let f = parse_file(proof, "inclusion proof", InclusionFile::parse)?;
            let cp = open_trusted(trust, &f.checkpoint, f.log_key_binding.as_ref(), "checkpoint")?;
            if let Some(p) = &policy {
                crate::policyfile::require(p, &f.checkpoint, "checkpoint")?;
            }
            if cp.size != f.tree_size {
                return Err(CliError::refused(format!(
                    "proof is for tree size {} but the checkpoint has {}",
                    f.tree_size, cp.size
                )));
            }
            let proven = f.entry()?;
            merkle::verify_inclusion(&proven.leaf, f.seq, cp.size, &proven.path, &cp.root)
                .map_err(|e| CliError::refused(format!("inclusion proof for entry {} fails: {e}", f.seq)))?;
            let ev = proven.entry.signed_event().map_err(|e| CliError::refused(e.to_string()))?;
            let kind = ev.event().body.kind();
            if cli.json {
                emit_json(
                    &json!({"ok": true, "seq": f.seq, "tree_size": cp.size, "kind": kind, "signer": ev.event().signer}),
                );
            } else {
                emit(&format!(
                    "inclusion OK: entry {} ({kind} by {}) is in {} at tree size {}",
                    f.seq,
                    ev.event().signer,
                    cp.origin,
                    cp.size
                ));
            }
            Ok(())
        }
        CheckCmd::Consistency { proof, trust } => {
            let f = parse_file(proof, "consistency proof", ConsistencyFile::parse)?;
            // Each note opens with any trusted key: the authority may have
            // rotated its key between the two checkpoints.
            let o = open_trusted(trust, &f.old_checkpoint, f.old_log_key_binding.as_ref(), "old checkpoint")?;
            let n = open_trusted(trust, &f.new_checkpoint, f.new_log_key_binding.as_ref(), "new checkpoint")?;
            if o.origin != n.origin {
                return Err(CliError::refused(format!(
                    "the old checkpoint is for {} and the new one for {}: not the same ledger",
                    quoted(&o.origin),
                    quoted(&n.origin)
                )));
            }
            let path = f.path()?;
            merkle::verify_consistency(o.size, n.size, &o.root, &n.root, &path).map_err(|e| {
                CliError::refused(format!("consistency proof from size {} to {} fails: {e}", o.size, n.size))
            })?;
            if cli.json {
                emit_json(&json!({"ok": true, "old_size": o.size, "new_size": n.size}));
            } else {
                emit(&format!("consistency OK: tree size {} extends tree size {} of {}", n.size, o.size, n.origin));
            }
            Ok(())
        }
        CheckCmd::TlogProof { proof, policy, entry, verifier_key } => {
            crate::tlogproof::check(cli, proof, policy, entry.as_deref(), verifier_key)
        }
        CheckCmd::SplitView { evidence, log_key } => crate::splitview::check(cli, evidence, log_key),
    }
}
