//! `tinledger export` / `tinledger import-ledger`: a portable copy of a
//! ledger that an auditor can take home and rebuild independently.
//!
//! The file format (docs/storage.md, "Portable export") is
//! `tinledger_formats::export`: this module reads the file line by line
//! with the format's caps and hands each line to it, and refuses a genesis
//! entry of another ledger than the header's before writing.
//!
//! Import rebuilds the ledger in a temporary sibling directory through the
//! normal append path (every rule and signature checked, every entry's bytes
//! compared with the export), checks the Merkle root against a checkpoint
//! signed by the trusted authority key, and only then renames the directory
//! into place: after a crash the target either does not exist or is complete.

use crate::args::{Cli, Trust};
use crate::error::CliError;
use crate::input::{read_line_capped, Line};
use crate::output::AtomicFile;
use crate::output::{emit, emit_json, out_name, report, report_json};
use crate::proofs::{read_text, trusted_verifier};
use serde_json::json;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::SignedEvent;
use tinledger_formats::export::{self, EntryLines, ExportError, ExportHeader, MAX_ENTRY_LINE, MAX_HEADER_LINE};
use tinledger_ledger::Ledger;

/// Entries appended per durable batch while importing.
const IMPORT_BATCH: usize = 10_000;

pub fn export(cli: &Cli, out: &Path) -> Result<(), CliError> {
    // The target is checked (absent, in a directory that takes a new file)
    // before the ledger is read, and written only whole (AtomicFile).
    let mut w = AtomicFile::create(out, false)?;
    let l = crate::open::ledger(cli)?;
    let info = l.info().ok_or_else(|| CliError::refused("ledger has no genesis entry"))?;
    let head = l.head();
    let header =
        ExportHeader::new(info.ledger_id, head.size, head.hash.to_hex(), l.latest_checkpoint()?.map(|(_, n)| n));
    let text = header.to_line()?;
    writeln!(w, "{text}").map_err(|e| w.error(e))?;
    for seq in 0..head.size {
        let e =
            l.get(seq)?.ok_or_else(|| CliError::refused(format!("entry {seq} is missing; run `tinledger verify`")))?;
        writeln!(w, "{}", export::entry_line(&e.to_bytes())).map_err(|e| w.error(e))?;
    }
    w.commit()?;
    if cli.json {
        report_json(
            out,
            &json!({"file": out, "entries": head.size, "head": head.hash.to_hex(), "checkpoint": header.checkpoint.is_some()}),
        );
    } else {
        report(out, &format!("exported {} entries (head {}) to {}", head.size, head.hash, out_name(out)));
        if header.checkpoint.is_none() {
            report(out, "note: the ledger has no signed checkpoint; an importer will need one (tinledger checkpoint --key AUTHORITY_KEY)");
        }
    }
    Ok(())
}

/// The lines of an export file, read with the format's caps and checked by
/// `export::line_text`. Errors name the file and the line.
struct ExportLines<'a, R> {
    file: &'a Path,
    r: R,
    /// Number of the line last read (1-based).
    n: u64,
    buf: Vec<u8>,
}

impl<R: std::io::BufRead> ExportLines<'_, R> {
    fn next(&mut self, cap: u64) -> Result<Option<&str>, CliError> {
        let got = read_line_capped(&mut self.r, cap, &mut self.buf)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", self.file.display())))?;
        self.n += 1;
        let n = self.n;
        match got {
            None => return Ok(None),
            Some(Line::TooLong) => {
                return Err(CliError::usage(format!(
                    "{}: line {n} is longer than {}, the most tinledger reads for one export line",
                    self.file.display(),
                    crate::input::human(cap)
                )))
            }
            Some(Line::Unterminated) => return Err(in_file(self.file, ExportError::Unterminated { line: n })),
            Some(Line::Complete) => {}
        }
        export::line_text(n, &self.buf).map(Some).map_err(|e| in_file(self.file, e))
    }
}

/// An export format error, with the file's name before it.
fn in_file(file: &Path, e: ExportError) -> CliError {
    CliError::from(e).in_file(file)
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
    let f = crate::input::open(file, "export")?;
    let mut lines = ExportLines { file, r: BufReader::new(f), n: 0, buf: Vec::new() };
    let bad = |m: String| CliError::refused(format!("{}: {m}", file.display()));
    let first = lines.next(MAX_HEADER_LINE)?.ok_or_else(|| in_file(file, ExportError::Empty))?;
    let header = export::parse_header(first).map_err(|e| in_file(file, e))?;
    crate::input::stdin_once(std::iter::once(file).chain(checkpoint))?;
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
    let mut entries = EntryLines::new(&header);
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
    while let Some(line) = lines.next(MAX_ENTRY_LINE)? {
        // Before anything is written, the first line is checked to be a
        // genesis of the header's ledger (ExportError::ForeignGenesis).
        let e = entries.next_entry(line).map_err(|e| in_file(file, e))?;
        batch.push((e.seq, e.bytes, e.signed));
        if batch.len() >= IMPORT_BATCH {
            flush(&mut ledger, &mut batch)?;
        }
    }
    flush(&mut ledger, &mut batch)?;
    let seq = entries.finish().map_err(|e| in_file(file, e))?;
    let l = ledger.ok_or_else(|| in_file(file, ExportError::NoEntries))?;
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
