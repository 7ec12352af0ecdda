//! Read commands with `--server URL`: the same output as their local forms,
//! from a served log (docs/server-publish.md, "Remote read clients").
//! Every entry printed is first proved included in the served checkpoint,
//! whose signature is checked with the authority's keys.

use crate::args::{Cli, VerifyArgs};
use crate::error::{CliError, UsageExt};
use crate::output::{emit, emit_json};
use crate::remote_read::{Client, RemoteLog};
use serde_json::json;
use std::path::Path;
use tinledger_core::event::{EventBody, PublicKey};
use tinledger_core::rules::LotState;
use tinledger_core::tiles::{self, TileKind};
use tinledger_core::{ActorId, LotId};
use tinledger_ledger::{AuditOptions, AuditReport, Fault};

fn pinned(keys: &[String]) -> Result<Vec<PublicKey>, CliError> {
    keys.iter().map(|k| crate::keys::parse_public_key(k)).collect()
}

/// `show SEQ --server URL`.
pub fn show(cli: &Cli, url: &str, seq: u64) -> Result<(), CliError> {
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let e = log.entry(seq)?;
    crate::commands::show_entry(cli, &e)
}

/// `lot ID --server URL`: the served state, and the lot's history entries,
/// each proved included.
pub fn lot(cli: &Cli, url: &str, id: &str) -> Result<(), CliError> {
    let lot_id = LotId::new(id).usage()?;
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let (seqs, v) = log
        .described("lot", lot_id.as_str())?
        .ok_or_else(|| CliError::usage(format!("no lot {id} at {}", client.base())))?;
    let state: LotState = v.get("state").cloned().and_then(|s| serde_json::from_value(s).ok()).ok_or_else(|| {
        CliError::refused(format!("{}: no lot state in the answer", client.url(&format!("lot/{}", lot_id.as_str()))))
    })?;
    if state.id != lot_id {
        return Err(CliError::refused(format!("{}: the answer is for lot {}", client.base(), state.id)));
    }
    let mut history = Vec::with_capacity(seqs.len());
    for seq in seqs {
        let e = log.entry(seq)?;
        let s = e.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        history.push((e, s));
    }
    crate::commands::print_lot(cli, &state, &history)
}

/// `log --server URL`: the entries in the range (a lot's history with
/// `--lot`), each proved included, filtered as locally.
pub fn log(cli: &Cli, url: &str, a: &crate::args::LogArgs) -> Result<(), CliError> {
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let unknown = |what: &str, id: &str| CliError::usage(format!("unknown {what} {id} at {}", client.base()));
    let (f, from, to) = crate::queries::log_filter(
        a,
        |id| {
            let a = ActorId::new(id).usage()?;
            log.history("actor", a.as_str())?.ok_or_else(|| unknown("actor", id))?;
            Ok(a)
        },
        |id| {
            let l = LotId::new(id).usage()?;
            log.history("lot", l.as_str())?.ok_or_else(|| unknown("lot", id))?;
            Ok(l)
        },
    )?;
    let last = to.min(log.cp.size - 1);
    let seqs: Vec<u64> = match &f.lot {
        Some(l) => log
            .history("lot", l.as_str())?
            .unwrap_or_default()
            .into_iter()
            .filter(|s| (from..=last).contains(s))
            .collect(),
        None => (from..=last).collect(),
    };
    let mut found = vec![];
    for seq in seqs {
        let e = log.entry(seq)?;
        let s = e.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        if f.matches(s.event()) {
            found.push((e, s));
        }
    }
    let mut corrections = tinledger_core::correction::Corrections::default();
    let mut seen = std::collections::BTreeSet::new();
    for lot in crate::queries::correction_lots(&found) {
        seen.extend(log.history("lot", lot.as_str())?.unwrap_or_default());
    }
    for seq in seen {
        let s = log.entry(seq)?.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        corrections.add(seq, s.event());
    }
    crate::queries::print_log(cli, &found, &corrections);
    Ok(())
}

/// `prove inclusion SEQ --server URL` (against the served checkpoint).
pub fn prove_inclusion(cli: &Cli, url: &str, seq: u64, out: Option<&Path>) -> Result<(), CliError> {
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let e = log.entry(seq)?;
    let proof = log.inclusion_proof(seq)?;
    let f = tinledger_formats::proof::InclusionFile::new(seq, &e.to_bytes(), log.cp.size, &proof, log.note.clone());
    crate::proofs::output(cli, out, f.to_text()?)
}

/// `prove consistency --old CP --server URL` (to the served checkpoint).
pub fn prove_consistency(cli: &Cli, url: &str, old: &Path, out: Option<&Path>) -> Result<(), CliError> {
    let old_note = crate::proofs::read_text(old, "old checkpoint")?;
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let o = check_old(&log, &old_note)?;
    let proof = log.consistency_proof(o.size)?;
    let f = tinledger_formats::proof::ConsistencyFile::new(old_note, log.note.clone(), &proof);
    crate::proofs::output(cli, out, f.to_text()?)
}

/// An older checkpoint of the served log, its signature checked, and the
/// consistency proof from it to the served checkpoint verified.
fn check_old(log: &RemoteLog, old_note: &str) -> Result<tinledger_core::checkpoint::Checkpoint, CliError> {
    let mut keys = vec![];
    if let Ok(g) = log.entry(0) {
        if let Ok(s) = g.signed_event() {
            if let EventBody::Genesis { authority_key, .. } = &s.event().body {
                keys.push(*authority_key);
            }
        }
    }
    let o = crate::remote_read::open_checkpoint(old_note, &log.ledger_id, &keys)
        .map_err(|e| CliError::refused(format!("old checkpoint: {e}")))?;
    if o.size > log.cp.size {
        return Err(CliError::refused(format!(
            "the old checkpoint (size {}) is newer than the one {} serves (size {}): the server rolled back",
            o.size,
            log.client.base(),
            log.cp.size
        )));
    }
    let proof = log.consistency_proof(o.size)?;
    tinledger_core::merkle::verify_consistency(o.size, log.cp.size, &o.root, &log.cp.root, &proof).map_err(|_| {
        CliError::refused(format!(
            "{}: the served checkpoint (size {}) is not an extension of the old one (size {}): history was rewritten",
            log.client.base(),
            log.cp.size,
            o.size
        ))
    })?;
    Ok(o)
}

/// `cert issue --server URL`: build and sign the certificate locally from
/// served, proved entries.
pub fn cert_issue(
    url: &str,
    lot: &LotId,
    key: &ed25519_dalek::SigningKey,
    at: tinledger_core::units::Timestamp,
) -> Result<tinledger_core::cert::Certificate, CliError> {
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let pk = PublicKey::from(key);
    let history = log
        .history("lot", lot.as_str())?
        .ok_or_else(|| CliError::usage(format!("no lot {lot} at {}", client.base())))?;
    if history.is_empty() {
        return Err(CliError::usage(format!(
            "the checkpoint served by {} covers no entry of lot {lot} yet",
            client.base()
        )));
    }
    // The exporter: the actor, among those signing the lot's entries, whose
    // current key is this one.
    let mut signers: Vec<ActorId> = vec![];
    for seq in &history {
        let s = log.entry(*seq)?.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        if !signers.contains(&s.event().signer) {
            signers.push(s.event().signer.clone());
        }
    }
    let mut exporter = None;
    for a in signers {
        if current_key(&log, &a)? == Some(pk) {
            exporter = Some(a);
            break;
        }
    }
    let exporter = exporter.ok_or_else(|| {
        CliError::refused(format!("key id {} is not the current key of any actor that signed lot {lot}", pk.key_id()))
    })?;
    tinledger_core::cert::issue(&log, lot, &log.note, &log.cp, &exporter, key, at)
        .map_err(|e| CliError::refused(format!("cannot issue: {e}")))
}

/// An actor's current key from its served history (registration, then
/// rotations).
fn current_key(log: &RemoteLog, a: &ActorId) -> Result<Option<PublicKey>, CliError> {
    let mut key = None;
    for seq in log.history("actor", a.as_str())?.unwrap_or_default() {
        let s = log.entry(seq)?.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        match &s.event().body {
            EventBody::RegisterActor { actor } if actor.id == *a => key = Some(actor.key),
            EventBody::RotateKey { actor, new_key, .. } if actor == a => key = Some(*new_key),
            EventBody::Genesis { authority, authority_key, .. } if authority == a => key = Some(*authority_key),
            _ => {}
        }
    }
    Ok(key)
}

/// `verify --server URL`: copy the served log into a temporary ledger
/// (every entry through the ledger's own append: signatures, rules, chain;
/// the checkpoint's signature and root), compare every served hash tile with
/// the one the entries give, then run the local audit on the copy and print
/// its report. With `--since CP`: only the consistency of CP with the served
/// checkpoint and the new entries' chain and inclusion (docs/server-publish.md).
pub fn verify(cli: &Cli, url: &str, a: &VerifyArgs) -> Result<(), CliError> {
    if a.snapshot.is_some() || a.indices || a.expect_head.is_some() || a.auditor_key.is_some() {
        return Err(CliError::usage(
            "--snapshot, --indices, --expect-head and --auditor-key are for local audits, not --server",
        ));
    }
    let pinned = pinned(&a.authority_key)?;
    let client = Client::new(url)?;
    if let Some(cp) = &a.since {
        return verify_since(cli, &client, cp, &pinned);
    }
    let tmp = tempfile::Builder::new()
        .prefix("tinledger-verify-")
        .tempdir()
        .map_err(|e| CliError::usage(format!("cannot create a temporary directory: {e}")))?;
    let dir = tmp.path().join("ledger");
    let rep = match crate::mirror::copy_new_ledger(&client, &dir, &pinned, cli.json) {
        Ok((m, l)) => match compare_tiles(&client, &l, m.size) {
            Some(f) => AuditReport::failed(f, 0),
            None => {
                if pinned.is_empty() && !cli.json {
                    let keys = crate::mirror::authority_keys(&l)?;
                    crate::output::note(&format!(
                        "trusting the authority key the log's genesis names: {} (pin it with --authority-key)",
                        keys.first().map(|k| hex::encode(k.0)).unwrap_or_default()
                    ));
                }
                l.audit(&AuditOptions::default())
            }
        },
        Err(e) if e.code == crate::error::EXIT_REFUSED => AuditReport::failed(Fault::at(seq_in(&e.msg), e.msg), 0),
        Err(e) => return Err(e),
    };
    crate::verify::report_audit(cli.json, &rep, None);
    if rep.ok {
        Ok(())
    } else {
        Err(CliError { code: crate::error::EXIT_REFUSED, msg: String::new(), hint: None })
    }
}

/// The seq a fault message names ("entry N ..."), if any.
fn seq_in(msg: &str) -> Option<u64> {
    let i = msg.find("entry ")?;
    msg[i + 6..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// Every served hash tile of the checkpoint's tree must be the one the
/// copied entries give.
fn compare_tiles(client: &Client, l: &tinledger_ledger::Ledger, size: u64) -> Option<Fault> {
    for id in tiles::tiles_for_size(size) {
        let TileKind::Hash(level) = id.kind else { continue };
        let path = id.to_string();
        let mine = match l.tile(level, id.index, id.width) {
            Ok(Some(b)) => b,
            _ => return Some(Fault::at(None, format!("the copy has no {path}"))),
        };
        match client.get(&path, crate::remote_read::MAX_HASH_TILE) {
            Ok(Some(b)) if b == mine => {}
            // A missing partial tile is allowed (the full one serves it).
            Ok(None) if !id.is_full() => {}
            Ok(Some(_)) => {
                return Some(Fault::at(
                    None,
                    format!("{}: the served hash tile differs from the one the entries give", client.url(&path)),
                ))
            }
            Ok(None) => return Some(Fault::at(None, format!("{}: the hash tile is missing", client.url(&path)))),
            Err(e) => return Some(Fault::at(None, e.msg)),
        }
    }
    None
}

/// `verify --server URL --since CP`.
fn verify_since(cli: &Cli, client: &Client, cp: &Path, pinned: &[PublicKey]) -> Result<(), CliError> {
    let old_note = crate::proofs::read_text(cp, "checkpoint")?;
    let log = RemoteLog::open(client, pinned)?;
    let o = check_old(&log, &old_note)?;
    // The new entries: each decodes, has its seq, links to the one before
    // and is proved included in the served checkpoint.
    let from = o.size.saturating_sub(1);
    let mut prev: Option<tinledger_core::EntryHash> = None;
    for seq in from..log.cp.size {
        let e = log.entry(seq)?;
        if let Some(p) = prev {
            if e.prev != p.0 {
                return Err(CliError::refused(format!(
                    "{}: entry {seq} does not link to entry {}",
                    client.base(),
                    seq - 1
                )));
            }
        }
        prev = Some(e.hash());
    }
    let new = log.cp.size - o.size;
    if cli.json {
        emit_json(&json!({"ok": true, "server": client.base(), "old_size": o.size, "size": log.cp.size,
                          "new_entries": new, "checks": "consistency, chain, inclusion"}));
    } else {
        emit(&format!(
            "consistent: {} extends the trusted checkpoint (size {} -> {}); {new} new entries chained and proved included",
            client.base(),
            o.size,
            log.cp.size
        ));
        emit("not checked by --since: the new entries' signatures and rules (run a full `verify --server` or a mirror for those)");
    }
    Ok(())
}
