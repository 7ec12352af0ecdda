//! `tinledger export` / `tinledger import-ledger`: a portable copy of a
//! ledger that an auditor can take home and rebuild independently.
//!
//! File format (docs/storage.md, "Portable export"): UTF-8 text. Line 1 is a
//! JSON header `{"format":"tinledger-export-v1","ledger_id":…,"entries":N,
//! "head":…,"checkpoint":<signed note or null>}`; then N lines, line i+2 the
//! canonical bytes of entry i in lower-case hex.
//!
//! Import rebuilds the ledger in a temporary sibling directory through the
//! normal append path (every rule and signature checked, every entry's bytes
//! compared with the export), checks the Merkle root against a checkpoint
//! signed by the trusted authority key, and only then renames the directory
//! into place: after a crash the target either does not exist or is complete.

use crate::args::{Cli, Trust};
use crate::error::CliError;
use crate::output::{emit, emit_json};
use crate::proofs::{read_text, trusted_verifier};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::{Entry, LedgerId, SignedEvent};
use tinledger_ledger::Ledger;

pub const EXPORT_FORMAT: &str = "tinledger-export-v1";
/// Entries appended per durable batch while importing.
const IMPORT_BATCH: usize = 10_000;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    ledger_id: LedgerId,
    entries: u64,
    head: String,
    checkpoint: Option<String>,
}

pub fn export(cli: &Cli, out: &Path) -> Result<(), CliError> {
    let l = Ledger::open(&cli.ledger)?;
    let info = l.info().ok_or_else(|| CliError::refused("ledger has no genesis entry"))?;
    let head = l.head();
    let header = Header {
        format: EXPORT_FORMAT.into(),
        ledger_id: info.ledger_id,
        entries: head.size,
        head: head.hash.to_hex(),
        checkpoint: l.latest_checkpoint()?.map(|(_, n)| n),
    };
    let f = std::fs::OpenOptions::new().write(true).create_new(true).open(out).map_err(|e| {
        CliError::usage(format!("cannot create {}: {e}", out.display())).hint("export never overwrites a file")
    })?;
    let mut w = BufWriter::new(f);
    let io = |e: std::io::Error| CliError::usage(format!("cannot write {}: {e}", out.display()));
    let text = serde_json::to_string(&header).map_err(|e| CliError::usage(e.to_string()))?;
    writeln!(w, "{text}").map_err(io)?;
    for seq in 0..head.size {
        let e =
            l.get(seq)?.ok_or_else(|| CliError::refused(format!("entry {seq} is missing; run `tinledger verify`")))?;
        writeln!(w, "{}", hex::encode(e.to_bytes())).map_err(io)?;
    }
    let f = w.into_inner().map_err(|e| CliError::usage(format!("cannot write {}: {e}", out.display())))?;
    f.sync_all().map_err(io)?;
    if cli.json {
        emit_json(
            &json!({"file": out, "entries": head.size, "head": head.hash.to_hex(), "checkpoint": header.checkpoint.is_some()}),
        );
    } else {
        emit(&format!("exported {} entries (head {}) to {}", head.size, head.hash, out.display()));
        if header.checkpoint.is_none() {
            emit("note: the ledger has no signed checkpoint; an importer will need one (tinledger checkpoint --key AUTHORITY_KEY)");
        }
    }
    Ok(())
}

fn temp_dir_for(into: &Path) -> PathBuf {
    let name = into.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "ledger".into());
    into.with_file_name(format!(".{name}.importing-{}", std::process::id()))
}

pub fn import(cli: &Cli, file: &Path, into: &Path, checkpoint: Option<&Path>, trust: &Trust) -> Result<(), CliError> {
    if into.exists() {
        return Err(CliError::usage(format!("{} already exists", into.display()))
            .hint("import-ledger creates a new ledger directory"));
    }
    let tmp = temp_dir_for(into);
    let result = import_into(file, &tmp, checkpoint, trust);
    let (entries, head, cp) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, into).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        CliError::usage(format!("cannot move the imported ledger into {}: {e}", into.display()))
    })?;
    if let Some(parent) = into.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| CliError::usage(format!("cannot fsync {}: {e}", parent.display())))?;
    }
    if cli.json {
        emit_json(&json!({"ledger": into, "entries": entries, "head": head, "checkpoint_size": cp.size}));
    } else {
        emit(&format!("imported {entries} entries into {} (head {head})", into.display()));
        emit(&format!(
            "every entry re-checked; the first {} match the checkpoint signed by the authority of {}",
            cp.size, cp.origin
        ));
        if cp.size < entries {
            emit(&format!("note: entries from seq {} on are not covered by that checkpoint", cp.size));
        }
    }
    Ok(())
}

fn import_into(
    file: &Path,
    tmp: &Path,
    checkpoint: Option<&Path>,
    trust: &Trust,
) -> Result<(u64, String, Checkpoint), CliError> {
    let f = std::fs::File::open(file).map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
    let mut lines = BufReader::new(f).lines();
    let bad = |m: String| CliError::refused(format!("{}: {m}", file.display()));
    let first = lines
        .next()
        .ok_or_else(|| bad("empty file".into()))?
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
    let header: Header = serde_json::from_str(&first).map_err(|e| bad(format!("not a tinledger export: {e}")))?;
    if header.format != EXPORT_FORMAT {
        return Err(bad(format!(
            "format is {}, expected {EXPORT_FORMAT:?}",
            tinledger_core::units::quoted(&header.format)
        )));
    }
    let note = match checkpoint {
        Some(p) => read_text(p, "checkpoint")?,
        None => header.checkpoint.clone().ok_or_else(|| {
            bad("the export holds no signed checkpoint".into()).hint("pass one with --checkpoint FILE")
        })?,
    };
    let verifier = trusted_verifier(trust, &note)?;
    if verifier.name != origin_for(&header.ledger_id) {
        return Err(bad(format!("the checkpoint is for {}, not ledger {}", verifier.name, header.ledger_id)));
    }
    let cp = Checkpoint::open(&note, &verifier)
        .map_err(|e| CliError::refused(format!("checkpoint does not verify with the trusted key: {e}")))?;
    if cp.size > header.entries {
        return Err(bad(format!("the checkpoint covers {} entries but the export holds {}", cp.size, header.entries)));
    }

    let mut ledger: Option<Ledger> = None;
    let mut batch: Vec<(u64, Vec<u8>, SignedEvent)> = Vec::with_capacity(IMPORT_BATCH);
    let mut seq: u64 = 0;
    let flush = |ledger: &mut Option<Ledger>, batch: &mut Vec<(u64, Vec<u8>, SignedEvent)>| -> Result<(), CliError> {
        if batch.is_empty() {
            return Ok(());
        }
        let l = match ledger {
            Some(l) => l,
            None => {
                let (l, r) = Ledger::create(tmp, &batch[0].2).map_err(|e| match e {
                    tinledger_ledger::LedgerError::Refused { source, .. } => {
                        CliError::refused(format!("{}: entry 0 breaks a rule: {source}", file.display()))
                    }
                    other => other.into(),
                })?;
                if r.hash.0 != tinledger_core::entry::hash_entry_bytes(&batch[0].1).0 {
                    return Err(CliError::refused(format!(
                        "{}: entry 0 differs from the rebuilt genesis",
                        file.display()
                    )));
                }
                batch.remove(0);
                ledger.insert(l)
            }
        };
        let evs: Vec<SignedEvent> = batch.iter().map(|(_, _, s)| s.clone()).collect();
        let rs = l.append_batch(&evs).map_err(|e| match e {
            tinledger_ledger::LedgerError::Refused { seq, source, .. } => {
                CliError::refused(format!("{}: entry {seq} breaks a rule: {source}", file.display()))
                    .hint("nothing was imported")
            }
            other => other.into(),
        })?;
        for ((s, bytes, _), r) in batch.iter().zip(rs) {
            if r.hash != tinledger_core::entry::hash_entry_bytes(bytes) {
                return Err(CliError::refused(format!(
                    "{}: entry {s} differs from the entry the ledger rebuilds from its signed event (seq or prev changed)",
                    file.display()
                )));
            }
        }
        batch.clear();
        Ok(())
    };
    for line in lines {
        let line = line.map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
        if line.is_empty() {
            continue;
        }
        let bytes = hex::decode(line.trim()).map_err(|_| bad(format!("line {}: not hex", seq + 2)))?;
        let e = Entry::from_bytes(&bytes).map_err(|x| bad(format!("entry {seq}: {x}")))?;
        if e.seq != seq {
            return Err(bad(format!("line {} holds entry {} where entry {seq} belongs", seq + 2, e.seq)));
        }
        let s = e.signed_event().map_err(|x| bad(format!("entry {seq}: {x}")))?;
        batch.push((seq, bytes, s));
        seq += 1;
        if batch.len() >= IMPORT_BATCH {
            flush(&mut ledger, &mut batch)?;
        }
    }
    flush(&mut ledger, &mut batch)?;
    if seq != header.entries {
        return Err(bad(format!("header says {} entries but the file holds {seq}", header.entries)));
    }
    let l = ledger.ok_or_else(|| bad("the export holds no entries".into()))?;
    if l.head().hash.to_hex() != header.head {
        return Err(bad(format!("header says head {} but the entries hash to {}", header.head, l.head().hash)));
    }
    if l.merkle_root(cp.size)? != cp.root {
        return Err(CliError::refused(format!(
            "the entries do not match the signed checkpoint at tree size {}: this is not the history the authority signed",
            cp.size
        )));
    }
    l.store_checkpoint(cp.size, &note)?;
    let head = l.head().hash.to_hex();
    Ok((seq, head, cp))
}
