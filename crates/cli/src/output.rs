//! Printing: human text or one JSON object per command (docs/cli.md).

use serde_json::Value;
use std::io::Write;
use tinledger_core::rules::{LotState, LotStatus};
use tinledger_core::{Entry, Event};

/// Write to stdout; a closed pipe (`tinledger log | head`) ends quietly
/// (exit 0), any other failure (`>/dev/full`, a closed stdout) ends with
/// exit 2 and one line on stderr (if stderr can take it). Never panics.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        note(&format!("tinledger: cannot write output: {e}"));
        std::process::exit(2);
    }
}

/// One line on stderr (progress, warnings). A closed or full stderr loses
/// the line instead of panicking as `eprintln!` would.
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Write raw bytes to stdout (completion scripts, manual pages); a closed
/// pipe ends quietly.
pub fn write_stdout(bytes: &[u8]) -> Result<(), crate::error::CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(crate::error::CliError::usage(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Width of a text column: the longest item, at least `min` (so the usual
/// layout stays put and long ids widen the column instead of breaking it).
pub fn col_width<'a>(min: usize, items: impl IntoIterator<Item = &'a str>) -> usize {
    items.into_iter().map(|s| s.chars().count()).fold(min, usize::max)
}

pub fn emit_json(v: &Value) {
    emit(&v.to_string());
}

/// One line describing what an event does.
pub fn summary(ev: &Event) -> String {
    ev.describe()
}

pub fn entry_json(e: &Entry, ev: &Event) -> Value {
    serde_json::json!({
        "seq": e.seq,
        "hash": e.hash().to_hex(),
        "prev": hex::encode(e.prev),
        "leaf_hash": hex::encode(e.leaf_hash()),
        "kind": ev.body.kind(),
        "signer": ev.signer,
        "at": ev.at,
        "summary": summary(ev),
        "event": ev,
        "event_hex": hex::encode(&e.event),
        "signature": hex::encode(e.signature),
        "entry_hex": hex::encode(e.to_bytes()),
    })
}

pub fn lot_status(l: &LotState) -> String {
    match &l.status {
        LotStatus::Active => format!("held by {}", l.custodian),
        LotStatus::InTransit { to, dispatched_seq, .. } => {
            format!("in transit from {} to {to} (dispatched at seq {dispatched_seq})", l.custodian)
        }
        LotStatus::Consumed { seq } => format!("fully consumed at seq {seq} (last custodian {})", l.custodian),
        LotStatus::Exported { seq, destination } => {
            format!("exported to {destination} at seq {seq} by {}", l.custodian)
        }
    }
}

/// This process's peak resident set size in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Write `bytes` to `path` all at once: a temporary file beside it, synced,
/// then renamed into place (replacing an existing file only if `replace`),
/// then the directory synced. A crash leaves the old file or the new one.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8], replace: bool) -> Result<(), crate::error::CliError> {
    use crate::error::CliError;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let fail = |e: std::io::Error| CliError::usage(format!("cannot write {}: {e}", path.display()));
    let mut tmp = tempfile::Builder::new().prefix(".tinledger-").tempfile_in(&dir).map_err(fail)?;
    tmp.write_all(bytes).and_then(|_| tmp.as_file().sync_all()).map_err(fail)?;
    let persisted = if replace { tmp.persist(path) } else { tmp.persist_noclobber(path) };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::usage(format!("refusing to overwrite existing file {}", path.display()))
        } else {
            fail(e.error)
        }
    })?;
    // Make the rename itself durable (best effort: not every platform can open a directory).
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
