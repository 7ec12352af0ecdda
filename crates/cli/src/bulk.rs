//! `tinledger sign-batch` and `tinledger import`: many events from one CSV
//! (one kind per file) or JSON Lines file, all or nothing (docs/import.md).
//!
//! Both commands first parse the whole file and report every bad row with
//! its line and column; nothing is signed or appended while any row is bad.
//! `import` then appends every event with one `Ledger::append_batch` (one
//! durable transaction); when the rules refuse the batch, a slower pass
//! re-checks each row on an in-memory overlay to report every refused row.

use crate::args::{Cli, ImportArgs, InputArgs, SignBatchArgs};
use crate::commands::now;
use crate::error::{CliError, UsageExt, EXIT_REFUSED, EXIT_USAGE};
use crate::keys;
use crate::output::emit_json;
use ed25519_dalek::SigningKey;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tinledger_core::event::PublicKey;
use tinledger_core::rules::{self, Overlay, StateView};
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Event, EventBody, LedgerId, SignedEvent};
use tinledger_formats::rows::{self, Item, RowErr, Rows, MAX_BULK_FILE};
use tinledger_formats::signed::SignedFile;
use tinledger_ledger::{Ledger, LedgerError, Receipt};

// ---- progress on a terminal ----

/// Progress bars on stderr, only when stderr is a terminal and not `--json`.
struct Progress {
    on: bool,
}

impl Progress {
    fn new(cli: &Cli) -> Progress {
        Progress { on: crate::output::progress_on(cli.json) }
    }
    fn bar(&self, msg: &'static str, len: u64, bytes: bool) -> ProgressBar {
        if !self.on {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let tpl = if bytes {
            "{msg:>9} [{bar:40}] {bytes}/{total_bytes} ({eta})"
        } else {
            "{msg:>9} [{bar:40}] {human_pos}/{human_len} rows ({eta})"
        };
        if let Ok(st) = ProgressStyle::with_template(&crate::output::bar_template(tpl)) {
            pb.set_style(st.progress_chars("=> "));
        }
        pb.set_message(msg);
        pb
    }
    fn spinner(&self, msg: String) -> ProgressBar {
        if !self.on {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(st) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            pb.set_style(st);
        }
        pb.set_message(msg);
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    }
}

// ---- reporting ----

/// Print every bad row (stderr; with --json also one object on stdout) and
/// return the error that ends the command.
fn report_rows(cli: &Cli, file: &Path, stage: &str, errs: &[RowErr], total: Option<usize>, nothing: &str) -> CliError {
    {
        let mut err = std::io::stderr().lock();
        for e in errs {
            let _ = writeln!(err, "{}", e.text());
        }
    }
    if cli.json {
        let items: Vec<_> =
            errs.iter().map(|e| json!({"line": e.line, "column": e.column, "reason": e.reason})).collect();
        emit_json(&json!({"ok": false, "stage": stage, "file": file, "rows": total, "errors": items}));
    }
    let n = errs.len();
    let rows = if n == 1 { "row" } else { "rows" };
    if stage == "rules" {
        let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
        let rows = if total.unwrap_or(n) == 1 { "row" } else { "rows" };
        CliError::refused(format!(
            "{}: {n}{of} {rows} refused by the ledger rules; nothing was appended",
            file.display()
        ))
        .hint("the ledger is unchanged; fix the rows above and import the whole file again")
    } else {
        let code = if errs.iter().any(|e| e.refused) { EXIT_REFUSED } else { EXIT_USAGE };
        CliError { code, msg: format!("{}: {n} bad {rows}; {nothing}", file.display()), hint: None }
            .hint("fix the rows above and run the command again (docs/import.md)")
    }
}

/// The progress bar, as the row parser's progress.
struct Bar<'a>(&'a ProgressBar);

impl rows::Progress for Bar<'_> {
    fn set_length(&self, len: u64) {
        self.0.set_length(len);
    }
    fn set_position(&self, pos: u64) {
        self.0.set_position(pos);
    }
    fn inc(&self, delta: u64) {
        self.0.inc(delta);
    }
}

/// Read `path` (at most [`MAX_BULK_FILE`] bytes) and parse it.
fn read(
    path: &Path,
    kind: Option<&str>,
    numbers: tinledger_core::units::Numbers,
    pb: &ProgressBar,
) -> Result<Result<Rows, Vec<RowErr>>, CliError> {
    if !crate::input::is_std(path) {
        let meta = std::fs::metadata(path).map_err(|e| crate::input::cannot_read("bulk file", path, &e))?;
        if meta.is_dir() {
            return Err(CliError::usage(format!("{} is a directory, not a bulk file", path.display())));
        }
    }
    let f = crate::input::open(path, "bulk file")?;
    let bytes = crate::input::read_all_capped(f, MAX_BULK_FILE)
        .map_err(|e| crate::input::cannot_read("bulk file", path, &e))?
        .ok_or_else(|| crate::input::too_large("bulk file", path, MAX_BULK_FILE).hint("split it into smaller files"))?;
    Ok(rows::parse(path, bytes, kind, keys::passphrase_source(), numbers, &Bar(pb))?)
}

/// Parse the whole file; any bad row ends the command.
fn parse(cli: &Cli, file: &Path, input: &InputArgs, nothing: &str) -> Result<Rows, CliError> {
    let prog = Progress::new(cli);
    let pb = prog.bar("reading", std::fs::metadata(file).map_or(0, |m| m.len()), true);
    let r = read(file, input.kind.as_deref(), input.numbers.into(), &pb);
    pb.finish_and_clear();
    match r? {
        Ok(rows) if rows.items.is_empty() => {
            Err(CliError::usage(format!("{} holds no rows; {nothing}", file.display())))
        }
        Ok(rows) => Ok(rows),
        Err(errs) => Err(report_rows(cli, file, "parse", &errs, None, nothing)),
    }
}

fn default_at(input: &InputArgs) -> Result<Timestamp, CliError> {
    match &input.at {
        Some(s) => s.parse().usage(),
        None => Ok(now()),
    }
}

/// Who signs: `--as`, else the actor the key is registered to in `view`.
fn resolve_signer(
    signer: &Option<String>,
    key: &SigningKey,
    key_path: &Path,
    view: Option<&dyn StateView>,
) -> Result<ActorId, CliError> {
    let pk = PublicKey::from(key);
    match (signer, view) {
        (Some(s), _) => ActorId::new(s).usage(),
        (None, Some(v)) => v.actor_by_key(&pk).map_err(|e| CliError::usage(e.to_string()))?.ok_or_else(|| {
            CliError::refused(format!(
                "key {} (key id {}) is not registered to any actor",
                key_path.display(),
                pk.key_id()
            ))
            .hint("check --key, or pass --as ACTOR")
        }),
        (None, None) => Err(CliError::usage("--as ACTOR is required when signing without a ledger")),
    }
}

/// Sign every unsigned item in parallel (signed items pass through), in file order.
fn sign_all(
    items: Vec<Item>,
    lines: &[u64],
    key: Option<(&SigningKey, &ActorId, LedgerId, Timestamp)>,
    pb: &ProgressBar,
) -> Result<Vec<SignedEvent>, Vec<RowErr>> {
    let out: Vec<Result<SignedEvent, RowErr>> = items
        .into_par_iter()
        .zip(lines.par_iter())
        .with_min_len(64)
        .map(|(item, line)| {
            let r = match (item, key) {
                (Item::Signed(s), _) => Ok(s),
                (Item::Unsigned { body, at, note }, Some((k, signer, ledger_id, default_at))) => {
                    Event { ledger_id, signer: signer.clone(), at: at.unwrap_or(default_at), note, body }
                        .sign(k)
                        .map_err(|reason| RowErr { line: *line, column: None, reason, refused: false })
                }
                (Item::Unsigned { .. }, None) => Err(RowErr {
                    line: *line,
                    column: None,
                    reason: "unsigned row, and no --key to sign it".into(),
                    refused: false,
                }),
            };
            pb.inc(1);
            r
        })
        .collect();
    let mut evs = Vec::with_capacity(out.len());
    let mut errs = Vec::new();
    for r in out {
        match r {
            Ok(s) => evs.push(s),
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(evs)
    } else {
        Err(errs)
    }
}

/// Counts for the summary.
#[derive(Default)]
struct Tally {
    kinds: BTreeMap<&'static str, u64>,
    lots_created: u64,
    lots_moved: u64,
}

fn tally<'a>(bodies: impl Iterator<Item = &'a EventBody>) -> Tally {
    let mut t = Tally::default();
    for b in bodies {
        *t.kinds.entry(b.kind()).or_default() += 1;
        t.lots_created += match b {
            EventBody::Extract { .. } | EventBody::Merge { .. } => 1,
            EventBody::Smelt { outputs, .. } | EventBody::Manufacture { outputs, .. } => outputs.len() as u64,
            EventBody::Split { parts, .. } => parts.len() as u64,
            _ => 0,
        };
        if matches!(b, EventBody::Dispatch { .. } | EventBody::Receive { .. }) {
            t.lots_moved += 1;
        }
    }
    t
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn kinds_text(t: &Tally) -> String {
    t.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
}

/// `extract KOB-2026-0101`: what a refused row is about.
fn what(ev: &SignedEvent) -> String {
    let b = &ev.event().body;
    match (b.lots().first(), b.subject_actor()) {
        (Some(l), _) => format!("{} {l}", b.kind()),
        (None, Some(a)) => format!("{} {a}", b.kind()),
        (None, None) => b.kind().to_string(),
    }
}

/// The slow pass after a refused batch: check each row on an overlay of the
/// stored state, absorbing only the rows that pass, and report every refusal.
fn diagnose(l: &Ledger, evs: &[SignedEvent], lines: &[u64], pb: &ProgressBar) -> Vec<RowErr> {
    let view = l.view();
    let mut over = Overlay::over(&view);
    let mut seq = l.head().size;
    let mut errs = Vec::new();
    for (ev, line) in evs.iter().zip(lines) {
        match rules::apply(&over, seq, ev) {
            Ok(d) => {
                over.absorb(seq, &d);
                seq += 1;
            }
            Err(e) => {
                errs.push(RowErr { line: *line, column: None, reason: format!("{}: {e}", what(ev)), refused: true })
            }
        }
        pb.inc(1);
    }
    errs
}

// ---- sign-batch ----

pub fn sign_batch(cli: &Cli, a: &SignBatchArgs) -> Result<(), CliError> {
    const NOTHING: &str = "nothing was signed";
    if a.out.exists() {
        return Err(CliError::usage(format!("refusing to overwrite existing file {}", a.out.display()))
            .hint("choose another --out path"));
    }
    let default_at = default_at(&a.input)?;
    let explicit_id = a.ledger_id.as_deref().map(str::parse::<LedgerId>).transpose().usage()?;
    let rows = parse(cli, &a.file, &a.input, NOTHING)?;
    if let Some(i) = rows.items.iter().position(|it| matches!(it, Item::Signed(_))) {
        return Err(CliError::usage(format!(
            "{} line {}: already signed; import signed files with `tinledger import` (or `submit`)",
            a.file.display(),
            rows.lines.get(i).copied().unwrap_or(0)
        )));
    }
    let key = keys::load_signing_key(&a.key)?;
    let remote = cli.server.as_deref().map(crate::remote::Client::new).transpose()?;
    if remote.is_some() && a.signer.is_none() {
        return Err(CliError::usage(
            "--as ACTOR is required with --server (the key's actor is not looked up remotely)",
        ));
    }
    // The ledger, if one is at --ledger and something must be read from it.
    let ledger = if remote.is_none() && (explicit_id.is_none() || a.signer.is_none()) {
        match Ledger::open(&cli.ledger) {
            Ok(l) => Some(l),
            Err(LedgerError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let ledger_id = match (explicit_id, ledger.as_ref().and_then(|l| l.info())) {
        (Some(id), _) => id,
        (None, _) if remote.is_some() => match &remote {
            Some(c) => crate::remote::ledger_id(c)?,
            None => return Err(CliError::usage("no server")),
        },
        (None, Some(info)) => info.ledger_id,
        (None, None) => {
            return Err(CliError::usage(format!(
                "--ledger-id HEX is required: there is no ledger at {} to read it from",
                cli.ledger.display()
            ))
            .hint("the ledger id is printed by `init` and by `verify` on the ledger host"))
        }
    };
    let signer = {
        let view = ledger.as_ref().map(|l| l.view());
        resolve_signer(&a.signer, &key, &a.key, view.as_ref().map(|v| v as &dyn StateView))?
    };
    drop(ledger);

    let prog = Progress::new(cli);
    let t = tally(rows.items.iter().map(Item::body));
    let n = rows.items.len();
    let pb = prog.bar("signing", n as u64, false);
    let signed = sign_all(rows.items, &rows.lines, Some((&key, &signer, ledger_id, default_at)), &pb);
    pb.finish_and_clear();
    let signed = signed.map_err(|errs| report_rows(cli, &a.file, "sign", &errs, Some(n), NOTHING))?;

    let pb = prog.spinner(format!("writing {}", a.out.display()));
    let lines: Vec<Result<String, serde_json::Error>> =
        signed.par_iter().map(|s| serde_json::to_string(&SignedFile::from_signed(s))).collect();
    let mut text = String::with_capacity(lines.iter().map(|l| l.as_ref().map_or(0, |s| s.len() + 1)).sum());
    for l in lines {
        text.push_str(&l.map_err(|e| CliError::usage(format!("cannot encode: {e}")))?);
        text.push('\n');
    }
    let written = crate::output::write_atomic(&a.out, text.as_bytes(), false);
    pb.finish_and_clear();
    written?;
    // The signed file is kept whatever the server says: it can be submitted again.
    let results = match &remote {
        Some(c) => {
            let pb = prog.spinner(format!("submitting {} to {}", plural(n, "event"), c.url("submit")));
            let r = crate::remote::post_events(c, &signed);
            pb.finish_and_clear();
            Some(r?)
        }
        None => None,
    };
    if let Some(results) = &results {
        return crate::remote::report(cli, &signed, results);
    }

    if cli.json {
        crate::output::report_json(
            &a.out,
            &json!({
                "file": a.file,
                "format": rows.format,
                "out": a.out,
                "rows": n,
                "signer": signer,
                "ledger_id": ledger_id,
                "kinds": t.kinds,
                "lots_created": t.lots_created,
                "lots_moved": t.lots_moved,
            }),
        );
    } else {
        crate::output::report(
            &a.out,
            &format!(
                "signed {} from {} by {signer} for ledger {ledger_id} -> {}",
                plural(n, "row"),
                a.file.display(),
                a.out.display()
            ),
        );
        crate::output::report(&a.out, &format!("  {}", kinds_text(&t)));
        crate::output::report(&a.out, &format!("  lots created {}, lots moved {}", t.lots_created, t.lots_moved));
    }
    Ok(())
}

// ---- import ----

pub fn import(cli: &Cli, a: &ImportArgs) -> Result<(), CliError> {
    const NOTHING: &str = "nothing was appended";
    let default_at = default_at(&a.input)?;
    let rows = parse(cli, &a.file, &a.input, NOTHING)?;
    let unsigned = rows.items.iter().filter(|i| matches!(i, Item::Unsigned { .. })).count();
    let key = match (&a.key, unsigned) {
        (_, 0) => None,
        (Some(k), _) => Some(keys::load_signing_key(k)?),
        (None, _) => {
            let first = rows.items.iter().position(|i| matches!(i, Item::Unsigned { .. })).unwrap_or(0);
            return Err(CliError::usage(format!(
                "{}: {unsigned} rows are not signed (the first on line {}); {NOTHING}",
                a.file.display(),
                rows.lines.get(first).copied().unwrap_or(0)
            ))
            .hint("pass --key KEY (and --as ACTOR) to sign them on this host, or sign them first with `tinledger sign-batch`"));
        }
    };
    let mut l = crate::open::ledger(cli)?;
    let info = l.info().cloned().ok_or_else(|| CliError::refused("ledger has no genesis entry"))?;
    let signer = match (&key, &a.key) {
        (Some(k), Some(path)) => {
            let view = l.view();
            Some(resolve_signer(&a.signer, k, path, Some(&view))?)
        }
        _ => None,
    };

    let prog = Progress::new(cli);
    let n = rows.items.len();
    let t = tally(rows.items.iter().map(Item::body));
    let pb = if unsigned > 0 { prog.bar("signing", unsigned as u64, false) } else { ProgressBar::hidden() };
    let signing = match (&key, &signer) {
        (Some(k), Some(s)) => Some((k, s, info.ledger_id, default_at)),
        _ => None,
    };
    let evs = sign_all(rows.items, &rows.lines, signing, &pb);
    pb.finish_and_clear();
    let evs = evs.map_err(|errs| report_rows(cli, &a.file, "sign", &errs, Some(n), NOTHING))?;

    let pb = prog.spinner(format!("appending {n} events (all or nothing)"));
    let appended = l.append_batch_at(&evs, now());
    pb.finish_and_clear();
    let receipts = match appended {
        Ok(r) => r,
        Err(LedgerError::Refused { item, seq, batch, source }) => {
            let pb = prog.bar("checking", n as u64, false);
            let mut errs = diagnose(&l, &evs, &rows.lines, &pb);
            pb.finish_and_clear();
            if errs.is_empty() {
                // The overlay pass found nothing: report what the ledger said.
                let err = LedgerError::Refused { item, seq, batch, source };
                errs.push(RowErr {
                    line: rows.lines.get(item).copied().unwrap_or(0),
                    column: None,
                    reason: evs.get(item).map(|e| format!("{}: {err}", what(e))).unwrap_or_else(|| err.to_string()),
                    refused: true,
                });
            }
            return Err(report_rows(cli, &a.file, "rules", &errs, Some(n), NOTHING));
        }
        Err(e) => return Err(e.into()),
    };
    print_import(cli, &a.file, rows.format, unsigned, &t, &receipts);
    Ok(())
}

fn print_import(cli: &Cli, file: &Path, format: &str, signed_here: usize, t: &Tally, rs: &[Receipt]) {
    let flags: Vec<_> = rs.iter().flat_map(|r| r.flags.iter()).collect();
    let (first, last) = (rs.first(), rs.last());
    if cli.json {
        emit_json(&json!({
            "file": file,
            "format": format,
            "rows": rs.len(),
            "signed_here": signed_here,
            "kinds": t.kinds,
            "lots_created": t.lots_created,
            "lots_moved": t.lots_moved,
            "flags_raised": flags.len(),
            "flags": flags,
            "first_seq": first.map(|r| r.seq),
            "last_seq": last.map(|r| r.seq),
            "head": last.map(|r| r.hash.to_hex()),
        }));
        return;
    }
    let emit = crate::output::emit;
    let (a, b) = (first.map_or(0, |r| r.seq), last.map_or(0, |r| r.seq));
    let seqs = if a == b { format!("seq {a}") } else { format!("seqs {a}..{b}") };
    emit(&format!("imported {} from {}: {seqs}", plural(rs.len(), "row"), file.display()));
    emit(&format!("  {}", kinds_text(t)));
    emit(&format!("  lots created {}, lots moved {}, flags raised {}", t.lots_created, t.lots_moved, flags.len()));
    for f in &flags {
        emit(&format!("  flag: {f}"));
    }
    if let Some(r) = last {
        emit(&format!("head {}:{}", r.seq, r.hash));
    }
}
