//! `tinledger verify`: the streaming audit, full or incremental, with a
//! progress bar on a terminal (none when piped or with `--json`).

use crate::args::{Cli, VerifyArgs};
use crate::error::{CliError, UsageExt};
use crate::output::{emit, emit_json};
use std::path::{Path, PathBuf};
use tinledger_core::event::PublicKey;
use tinledger_core::units::quoted;
use tinledger_core::EntryHash;
use tinledger_ledger::{AuditOptions, AuditReport, AuditSnapshot, Fault, Head, LedgerError};

fn parse_expect(s: &str) -> Result<(u64, EntryHash), CliError> {
    let (seq, hash) =
        s.split_once(':').ok_or_else(|| CliError::usage(format!("--expect-head {} is not SEQ:HASH", quoted(s))))?;
    let seq = seq
        .trim()
        .parse::<u64>()
        .map_err(|_| CliError::usage(format!("--expect-head: {} is not a sequence number", quoted(seq))))?;
    Ok((seq, hash.parse().usage()?))
}

/// Largest audit snapshot read (about 16 bytes per entry plus the lots:
/// room for tens of millions of entries).
const MAX_SNAPSHOT: u64 = 1 << 30;

/// The auditor's key: the private key that signs a new snapshot (with
/// `--snapshot`) and the public key a snapshot read must be signed by.
struct Auditor {
    signing: Option<ed25519_dalek::SigningKey>,
    public: PublicKey,
}

fn auditor(a: &VerifyArgs) -> Result<Option<Auditor>, CliError> {
    let wanted = a.snapshot.is_some() || a.since.is_some();
    match (&a.auditor_key, wanted) {
        (None, false) => Ok(None),
        (Some(_), false) => Err(CliError::usage("--auditor-key is for --snapshot and --since")),
        (None, true) => Err(CliError::usage(
            "--snapshot and --since need --auditor-key KEY: audit snapshots are signed by the auditor",
        )
        .hint("make an auditor key once with `tinledger keygen --out auditor.pem` and keep it")),
        (Some(k), true) if a.snapshot.is_some() => {
            let sk = crate::keys::load_signing_key(Path::new(k))?;
            Ok(Some(Auditor { public: PublicKey::from(&sk), signing: Some(sk) }))
        }
        (Some(k), true) => Ok(Some(Auditor { public: crate::keys::parse_public_key(k)?, signing: None })),
    }
}

/// `CP.state`, read (capped) and checked against the auditor's key.
fn read_snapshot(cp: &Path, auditor: &PublicKey) -> Result<AuditSnapshot, CliError> {
    let state = state_path(cp);
    let cannot = |e: std::io::Error| {
        CliError::usage(format!("cannot read the audit snapshot {}: {e}", state.display()))
            .hint(format!("make one with a full audit: tinledger verify --snapshot {} --auditor-key KEY", cp.display()))
    };
    let f = std::fs::File::open(&state).map_err(cannot)?;
    let bytes = crate::input::read_all_capped(f, MAX_SNAPSHOT)
        .map_err(cannot)?
        .ok_or_else(|| crate::input::too_large("audit snapshot", &state, MAX_SNAPSHOT))?;
    AuditSnapshot::from_bytes(&bytes, auditor).map_err(|e| CliError::usage(format!("{}: {e}", state.display())))
}

pub fn verify(cli: &Cli, a: &VerifyArgs) -> Result<(), CliError> {
    if a.policy.is_some() {
        return Err(CliError::usage("--policy is for `verify --server URL` (the served checkpoint)")
            .hint("for a local ledger's checkpoint: tinledger checkpoint --out cp.txt && tinledger check checkpoint cp.txt --policy FILE --authority-key KEY"));
    }
    let opts = AuditOptions { expect: a.expect_head.as_deref().map(parse_expect).transpose()?, indices: a.indices };
    for (flag, cp) in [("--since", &a.since), ("--snapshot", &a.snapshot)] {
        if cp.as_deref().is_some_and(crate::input::is_std) {
            return Err(CliError::usage(format!(
                "{flag} - is not supported: the audit snapshot is CHECKPOINT.state beside the checkpoint file"
            ))
            .hint(format!("save the checkpoint to a file first and pass {flag} FILE")));
        }
    }
    let auditor = auditor(a)?;
    let since = match (&a.since, &auditor) {
        (Some(cp), Some(au)) => {
            let note = crate::proofs::read_text(cp, "checkpoint")?;
            Some((note, read_snapshot(cp, &au.public)?))
        }
        _ => None,
    };
    let snapshot_note = a.snapshot.as_deref().map(|p| crate::proofs::read_text(p, "checkpoint")).transpose()?;
    let mut damaged = false;
    let (rep, snap) = match crate::open::for_audit(cli) {
        Ok(l) => {
            if let Some((seq, want)) = opts.expect {
                off_by_one(seq, want, l.head())?;
            }
            let bar = progress_bar(cli.json, l.head().size);
            let mut tick = |done: u64, total: u64| {
                if let Some(b) = &bar {
                    b.set_length(total.max(done));
                    b.set_position(done);
                }
            };
            let out = match since {
                Some((note, snap)) => l.audit_since(&opts, &note, snap, snapshot_note.as_deref(), &mut tick),
                None => l.audit_full(&opts, snapshot_note.as_deref(), &mut tick),
            };
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            out
        }
        // Damaged storage files are a failed check, reported like any fault.
        Err(e @ (LedgerError::Corrupt { .. } | LedgerError::Storage(_))) => {
            damaged = true;
            let why = match &e {
                LedgerError::Corrupt { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            let what = format!("the ledger's storage files are damaged: {why} (ledger {})", cli.ledger.display());
            (AuditReport::failed(Fault::at(None, what), 0), None)
        }
        Err(e) => return Err(e.into()),
    };
    let signing = auditor.as_ref().and_then(|au| au.signing.as_ref());
    let saved = match (&a.snapshot, snap, signing) {
        (Some(cp), Some(s), Some(key)) if rep.ok => Some(save_snapshot(&state_path(cp), &s, key)?),
        _ => None,
    };
    report_audit(cli.json, &rep, saved.as_deref());
    if damaged && !cli.json {
        crate::output::note(&format!("hint: {}", crate::error::DAMAGED_HINT));
    }
    if rep.ok {
        Ok(())
    } else {
        Err(CliError { code: crate::error::EXIT_REFUSED, msg: String::new(), hint: None })
    }
}

/// The argument that pins `head` for a later `verify --expect-head`: the
/// seq of its last entry and that entry's hash (docs/cli.md, verify).
pub fn expect_head_arg(entries: u64, head: &str) -> Option<String> {
    entries.checked_sub(1).map(|last| format!("{last}:{head}"))
}

/// `--expect-head N:HASH` where N is the number of entries (the head's
/// size) rather than the last seq: a usage error naming the right form,
/// not a FAULT. Judged on the stored head before the audit; the audit
/// itself still checks everything.
fn off_by_one(seq: u64, want: EntryHash, head: Head) -> Result<(), CliError> {
    if seq == head.size && want == head.hash && seq > 0 {
        let right = format!("{}:{want}", seq - 1);
        return Err(CliError::usage(format!(
            "--expect-head {seq}:{want}: {seq} is the number of entries; --expect-head takes the seq of the last entry"
        ))
        .hint(format!("write --expect-head {right} (verify prints the argument to keep on its `keep:` line)")));
    }
    Ok(())
}

/// Where the snapshot for a checkpoint file lives: beside it, `.state` appended.
fn state_path(cp: &Path) -> PathBuf {
    let mut s = cp.as_os_str().to_owned();
    s.push(".state");
    PathBuf::from(s)
}

/// Write the snapshot atomically (replacing an older one for the same checkpoint).
fn save_snapshot(path: &Path, s: &AuditSnapshot, key: &ed25519_dalek::SigningKey) -> Result<PathBuf, CliError> {
    let bytes = s.to_bytes(key).usage()?;
    crate::output::write_atomic(path, &bytes, true)?;
    Ok(path.to_path_buf())
}

fn progress_bar(json: bool, total: u64) -> Option<indicatif::ProgressBar> {
    if !crate::output::progress_on(json) {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(&crate::output::bar_template(
        "verifying {bar:25} {human_pos}/{human_len} entries  {rate}  eta {eta}",
    ))
    .ok()?
    .with_key("rate", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.0}/s", s.per_sec());
    });
    bar.set_style(style);
    Some(bar)
}

pub fn report_audit(json: bool, rep: &AuditReport, snapshot: Option<&Path>) {
    if json {
        let mut v = serde_json::to_value(rep).unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            if let Some(rss) = crate::output::peak_rss_bytes() {
                obj.insert("peak_rss_bytes".into(), rss.into());
            }
            if let Some(p) = snapshot {
                obj.insert("snapshot".into(), p.display().to_string().into());
            }
            if let (true, Some(arg)) = (rep.ok, rep.head.as_deref().and_then(|h| expect_head_arg(rep.entries, h))) {
                obj.insert("expect_head".into(), arg.into());
            }
        }
        emit_json(&v);
        return;
    }
    match &rep.fault {
        None => {
            emit(&format!(
                "{}: {} entries, head {}",
                crate::output::paint(crate::output::Paint::Good, "intact"),
                rep.entries,
                rep.head.as_deref().unwrap_or("(empty)")
            ));
            if let Some(arg) = rep.head.as_deref().and_then(|h| expect_head_arg(rep.entries, h)) {
                emit(&format!("keep: --expect-head {arg}"));
            }
            if let Some(id) = &rep.ledger_id {
                emit(&format!("ledger id {id}"));
            }
            emit(&format!("{} actors, {} lots, {} flags", rep.actors, rep.lots, rep.flags.len()));
            if rep.replayed_from > 0 {
                emit(&format!(
                    "incremental: entries 0..{} vouched for by the trusted checkpoint and its snapshot; {} entries replayed",
                    rep.replayed_from,
                    rep.entries - rep.replayed_from
                ));
            }
            if rep.indices_checked {
                emit("every derived index matches the chain");
            }
            if let Some(p) = snapshot {
                emit(&format!("audit snapshot saved to {}", p.display()));
            }
        }
        Some(f) => {
            let at = match (f.seq, f.index) {
                (Some(s), _) => format!("at seq {s}"),
                (None, Some(index)) => format!("in index {index}"),
                (None, None) => "at unknown seq".into(),
            };
            emit(&format!("{} {at}: {}", crate::output::paint(crate::output::Paint::Bad, "FAULT"), f.reason));
            if rep.replayed_from > 0 && rep.entries <= rep.replayed_from && f.seq.is_none_or(|s| s < rep.replayed_from)
            {
                emit(&format!(
                    "no entry after the trusted checkpoint's {} was replayed: the checkpoint, its snapshot or the \
                     consistency of the ledger with them failed",
                    rep.replayed_from
                ));
            } else if f.index.is_some() || f.seq.is_some_and(|s| s < rep.entries) {
                emit(&format!("all {} entries replayed; the fault is in the data derived from them", rep.entries));
            } else {
                emit(&format!(
                    "{} entries verified before the fault, last good head {}",
                    rep.entries,
                    rep.head.as_deref().unwrap_or("(none)")
                ));
            }
        }
    }
    for f in &rep.flags {
        emit(&format!("{} {f}", crate::output::paint(crate::output::Paint::Warn, "flag:")));
    }
    for c in &rep.compromised {
        emit(&format!(
            "compromised: key {} of {} was reported compromised; its entries from seq {} to {} are untrusted",
            c.key.key_id(),
            c.actor,
            c.from_seq,
            c.until_seq
        ));
    }
}
