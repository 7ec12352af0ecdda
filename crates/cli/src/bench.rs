//! `tinledger bench`: measure this machine, like `openssl speed`.
//!
//! First the raw limits (Ed25519 sign, `verify_strict`, `verify_batch`,
//! SHA-256 of an entry, sled inserts with and without a durable flush), then
//! the figures on a synthetic ledger of N events (`tinledger-synth`), each next to
//! the limit that bounds it and the ratio between them. docs/performance.md
//! explains every figure and the ratio conventions.

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{emit, emit_json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tinledger_core::cert;
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::event::PublicKey;
use tinledger_core::note::{NoteSigner, Verifier};
use tinledger_core::testkeys::test_key;
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Entry, EntryHash, Event, LotId, SignedEvent};
use tinledger_ledger::{Ledger, VERIFY_BATCH};
use tinledger_synth::measure::{limit, measure_limits, median, samples, Limit, REPS};
use tinledger_synth::{self as synth, KeyRing, Synth, SYNTH_VERSION};

/// Events per `append_batch` when building the ledger.
pub const BULK_BATCH: usize = 10_000;
/// Events appended one at a time, durably, for `append_durable`.
pub const DURABLE_EVENTS: u64 = 300;
/// Peak memory target of a full verify (issue #4): 256 MiB.
pub const RSS_TARGET: u64 = 256 * 1024 * 1024;
/// Largest ledger bench builds.
const MAX_EVENTS: u64 = 100_000_000;
const MARKER: &str = "bench.json";
const MARKER_FORMAT: &str = "tinledger-bench-ledger-v1";

/// What `bench --dir` leaves next to the ledger it built, to reuse it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    format: String,
    synth_version: u32,
    events: u64,
    /// `bulk_append` as measured by the run that built the ledger.
    bulk_append_events_per_s: f64,
    mean_entry_bytes: f64,
    cert_lots: Vec<LotId>,
    built_at: Timestamp,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Higher is better; ratio value/limit.
    Rate,
    /// Lower is better; ratio limit/value.
    Time,
    /// Ratio value/limit.
    Size,
}

struct Figure {
    name: &'static str,
    value: f64,
    unit: &'static str,
    kind: Kind,
    limit_name: &'static str,
    limit: f64,
    reused: bool,
}

impl Figure {
    fn ratio(&self) -> f64 {
        match self.kind {
            Kind::Rate | Kind::Size => self.value / self.limit,
            Kind::Time => self.limit / self.value,
        }
    }
}

fn progress(msg: &str) {
    crate::output::note(&format!("bench: {msg}"));
}

fn io(what: &str, p: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("cannot {what} {}: {e}", p.display()))
}

/// Total size of the files below `p`.
fn dir_bytes(p: &Path) -> Result<u64, CliError> {
    let mut total = 0;
    for ent in std::fs::read_dir(p).map_err(|e| io("list", p, e))? {
        let ent = ent.map_err(|e| io("list", p, e))?;
        let ft = ent.file_type().map_err(|e| io("stat", &ent.path(), e))?;
        if ft.is_dir() {
            total += dir_bytes(&ent.path())?;
        } else if ft.is_file() {
            total += ent.metadata().map_err(|e| io("stat", &ent.path(), e))?.len();
        }
    }
    Ok(total)
}

fn synth_events(n: u64) -> Result<(Vec<Event>, Synth), CliError> {
    let mut s = Synth::new(n)?;
    let evs: Vec<Event> = s.by_ref().collect();
    if let Some(e) = s.error() {
        return Err(CliError::usage(format!("synthetic ledger: {e}")));
    }
    Ok((evs, s))
}

fn sign(evs: &[Event], ring: &KeyRing) -> Result<Vec<SignedEvent>, CliError> {
    synth::sign_all(evs, ring).map_err(|e| CliError::usage(format!("synthetic ledger: {e}")))
}

/// Events/s of `Ledger::append`, one durable event at a time, on a scratch ledger.
fn append_durable(ring: &KeyRing, scratch: &Path) -> Result<f64, CliError> {
    let h = Synth::header_len();
    let (evs, _) = synth_events(h + DURABLE_EVENTS)?;
    let signed = sign(&evs, ring)?;
    let p = scratch.join("durable");
    progress(&format!("appending {DURABLE_EVENTS} events one at a time, each durable"));
    let (genesis, rest) = signed.split_first().ok_or_else(|| CliError::usage("no synthetic events"))?;
    let (mut l, _) = Ledger::create(&p, genesis)?;
    let (head, tail) = rest.split_at(h as usize - 1);
    l.append_batch(head)?;
    let t = Instant::now();
    for e in tail {
        l.append(e)?;
    }
    let r = tail.len() as f64 / t.elapsed().as_secs_f64();
    drop(l);
    std::fs::remove_dir_all(&p).map_err(|e| io("remove", &p, e))?;
    Ok(r)
}

/// Events in the `import_presigned` figure (the issue's 100,000, or fewer
/// when the whole synthetic ledger is smaller).
const IMPORT_EVENTS: u64 = 100_000;

/// `tinledger import` of a JSON Lines file of pre-signed events (as
/// `sign-batch` writes them) into a ledger holding only the genesis, run as
/// a child process and timed from start to exit: parsing, every signature,
/// every rule, one atomic durable append. Events/s.
fn import_presigned(ring: &KeyRing, scratch: &Path, n: u64) -> Result<(f64, u64), CliError> {
    let m = n.min(IMPORT_EVENTS + 1);
    let (evs, _) = synth_events(m)?;
    let signed = sign(&evs, ring)?;
    let (genesis, rest) = signed.split_first().ok_or_else(|| CliError::usage("no synthetic events"))?;
    let ledger = scratch.join("import");
    drop(Ledger::create(&ledger, genesis)?);
    let file = scratch.join("import.jsonl");
    let mut text = String::with_capacity(rest.len() * 800);
    for e in rest {
        let line = serde_json::to_string(&tinledger_formats::signed::SignedFile::from_signed(e))
            .map_err(|e| CliError::usage(e.to_string()))?;
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&file, text).map_err(|e| io("write", &file, e))?;
    progress(&format!("importing {} pre-signed events (`tinledger import` in a child process)", rest.len()));
    let exe = std::env::current_exe().map_err(|e| CliError::usage(format!("cannot find this executable: {e}")))?;
    let t = Instant::now();
    let out = std::process::Command::new(&exe)
        .arg("--ledger")
        .arg(&ledger)
        .arg("import")
        .arg(&file)
        .arg("--json")
        .output()
        .map_err(|e| io("run", &exe, e))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(CliError::usage(format!(
            "`tinledger import` of the synthetic events failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let head = Ledger::open(&ledger)?.head().size;
    if head != m {
        return Err(CliError::usage(format!("import left {head} entries, expected {m}")));
    }
    std::fs::remove_dir_all(&ledger).map_err(|e| io("remove", &ledger, e))?;
    std::fs::remove_file(&file).map_err(|e| io("remove", &file, e))?;
    Ok((rest.len() as f64 / secs, rest.len() as u64))
}

/// Build the ledger of `n` events with `append_batch`; returns the marker.
fn build(ring: &KeyRing, dir: &Path, n: u64) -> Result<Marker, CliError> {
    progress(&format!("building a synthetic ledger of {n} events (batches of {BULK_BATCH}, full validation)"));
    let mut s = Synth::new(n)?;
    let mut l: Option<Ledger> = None;
    let (mut appended, mut entry_bytes) = (0u64, 0u64);
    let mut append_time = Duration::ZERO;
    let mut sign_time = Duration::ZERO;
    let mut next_report = n / 10;
    loop {
        let chunk: Vec<Event> = s.by_ref().take(BULK_BATCH).collect();
        if chunk.is_empty() {
            break;
        }
        let t = Instant::now();
        let signed = sign(&chunk, ring)?;
        sign_time += t.elapsed();
        for (i, e) in signed.iter().enumerate() {
            entry_bytes += Entry::new(appended + i as u64, EntryHash::ZERO, e).to_bytes().len() as u64;
        }
        // Creating the ledger (genesis) is not timed; every append_batch is.
        let (ledger, batch) = match l.take() {
            Some(l) => (l, signed.as_slice()),
            None => {
                let (first, rest) = signed.split_first().ok_or_else(|| CliError::usage("no synthetic events"))?;
                (Ledger::create(dir, first)?.0, rest)
            }
        };
        let ledger = l.insert(ledger);
        let t = Instant::now();
        ledger.append_batch(batch)?;
        append_time += t.elapsed();
        appended += signed.len() as u64;
        if appended >= next_report && appended < n {
            progress(&format!(
                "  {appended}/{n} events, {:.0} events/s appending (signing took {:.1?} so far)",
                appended as f64 / append_time.as_secs_f64(),
                sign_time
            ));
            next_report += n / 10;
        }
    }
    if let Some(e) = s.error() {
        return Err(CliError::usage(format!("synthetic ledger: {e}")));
    }
    let l = l.ok_or_else(|| CliError::usage("no synthetic events"))?;
    if appended != n || l.head().size != n {
        return Err(CliError::usage(format!("built {} entries, expected {n}", l.head().size)));
    }
    // The authority signs a checkpoint, for the certificate figures.
    let origin = origin_for(&synth::LEDGER_ID);
    let cp = Checkpoint { origin: origin.clone(), size: n, root: l.merkle_root(n)?, extensions: vec![] };
    let signer = NoteSigner::new(&origin, test_key(synth::AUTHORITY)).map_err(|e| CliError::usage(e.to_string()))?;
    let note = cp.sign(&signer).map_err(|e| CliError::usage(e.to_string()))?;
    l.store_checkpoint(n, &note)?;
    let bulk = (n - 1) as f64 / append_time.as_secs_f64();
    progress(&format!("  built: {bulk:.0} events/s appending; signing took {sign_time:.1?}"));
    Ok(Marker {
        format: MARKER_FORMAT.into(),
        synth_version: SYNTH_VERSION,
        events: n,
        bulk_append_events_per_s: bulk,
        mean_entry_bytes: entry_bytes as f64 / n as f64,
        cert_lots: s.cert_candidates().to_vec(),
        built_at: crate::commands::now(),
    })
}

/// Run `tinledger --ledger DIR verify --json` as a child: (events/s, peak RSS bytes).
fn verify_child(ledger: &Path, n: u64) -> Result<(f64, u64), CliError> {
    progress(&format!("verifying all {n} entries (`tinledger verify` in a child process)"));
    let exe = std::env::current_exe().map_err(|e| CliError::usage(format!("cannot find this executable: {e}")))?;
    let t = Instant::now();
    let out = std::process::Command::new(&exe)
        .arg("--ledger")
        .arg(ledger)
        .args(["verify", "--json"])
        .output()
        .map_err(|e| io("run", &exe, e))?;
    let secs = t.elapsed().as_secs_f64();
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        CliError::usage(format!(
            "`tinledger verify --json` printed no JSON (exit {:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })?;
    if v["ok"] != json!(true) || v["entries"] != json!(n) {
        return Err(CliError::refused(format!(
            "the synthetic ledger did not verify: {} entries, fault {}",
            v["entries"], v["fault"]
        )));
    }
    let rss = v["peak_rss_bytes"]
        .as_u64()
        .ok_or_else(|| CliError::usage("`tinledger verify --json` reported no peak_rss_bytes"))?;
    Ok((n as f64 / secs, rss))
}

/// Median milliseconds of `f` over `REPS` runs (after one warm-up).
fn time_ms<T>(mut f: impl FnMut() -> Result<T, CliError>) -> Result<f64, CliError> {
    f()?;
    let mut v = Vec::with_capacity(REPS);
    for _ in 0..REPS {
        let t = Instant::now();
        black_box(f()?);
        v.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(v))
}

/// (issue ms, verify ms, certificate entries, lot).
fn cert_figures(ledger: &Path, m: &Marker) -> Result<(f64, f64, usize, LotId), CliError> {
    let l = Ledger::open(ledger)?;
    let (size, note) =
        l.latest_checkpoint()?.ok_or_else(|| CliError::usage("the bench ledger has no signed checkpoint"))?;
    let origin = origin_for(&synth::LEDGER_ID);
    let v = Verifier::new(&origin, PublicKey::from(&test_key(synth::AUTHORITY)).0)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let cp = Checkpoint::open(&note, &v).map_err(|e| CliError::usage(format!("bench checkpoint: {e}")))?;
    let exporter = ActorId::new(synth::EXPORTER).map_err(CliError::usage)?;
    let key = test_key(synth::EXPORTER);
    // The exported lot with the most upstream entries.
    let mut best: Option<(usize, LotId)> = None;
    for lot in &m.cert_lots {
        let n =
            cert::select(&l, lot, size, &exporter).map_err(|e| CliError::refused(format!("certificate: {e}")))?.len();
        if best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, lot.clone()));
        }
    }
    let (_, lot) = best.ok_or_else(|| CliError::usage("the bench ledger has no exported lot to certify"))?;
    progress(&format!("certificate for {lot}: issue and verify, {REPS} times each"));
    let at = Timestamp(1_800_000_000);
    let issue = || {
        cert::issue(&l, &lot, &note, &cp, &exporter, &key, at)
            .map_err(|e| CliError::refused(format!("cannot issue: {e}")))
    };
    let c = issue()?;
    let entries = c.entries.len();
    let issue_ms = time_ms(issue)?;
    let verify_ms =
        time_ms(|| cert::verify(&c, &v).map_err(|e| CliError::refused(format!("certificate INVALID: {e}"))))?;
    Ok((issue_ms, verify_ms, entries, lot))
}

enum Work {
    Temp(tempfile::TempDir),
    Dir(PathBuf),
}

impl Work {
    fn path(&self) -> &Path {
        match self {
            Work::Temp(t) => t.path(),
            Work::Dir(p) => p,
        }
    }
}

/// The work directory, and the marker of a ledger to reuse.
fn prepare(dir: Option<&Path>, n: u64) -> Result<(Work, Option<Marker>), CliError> {
    let Some(d) = dir else {
        let t = tempfile::Builder::new()
            .prefix("tinledger-bench-")
            .tempdir()
            .map_err(|e| CliError::usage(format!("cannot create a temp dir: {e}")))?;
        return Ok((Work::Temp(t), None));
    };
    if d.join("db").exists() {
        return Err(CliError::usage(format!("{} is a ledger; bench builds its own", d.display()))
            .hint("give bench an empty or new --dir; it never touches other ledgers"));
    }
    std::fs::create_dir_all(d).map_err(|e| io("create", d, e))?;
    let ledger = d.join("ledger");
    if !ledger.exists() {
        return Ok((Work::Dir(d.to_path_buf()), None));
    }
    let refuse = |why: String| {
        CliError::usage(format!("{} already holds a ledger {why}", d.display()))
            .hint(format!("remove {} or choose another --dir", ledger.display()))
    };
    let text = std::fs::read_to_string(d.join(MARKER))
        .map_err(|_| refuse("that bench did not finish building (no bench.json)".into()))?;
    let m: Marker = serde_json::from_str(&text).map_err(|_| refuse("with an unreadable bench.json".into()))?;
    if m.format != MARKER_FORMAT || m.synth_version != SYNTH_VERSION {
        return Err(refuse("built by another version of tinledger bench".into()));
    }
    if m.events != n {
        return Err(refuse(format!("of {} events, not {n}", m.events)).hint(format!(
            "run `tinledger bench --events {} --dir {}` to reuse it, or remove {}",
            m.events,
            d.display(),
            ledger.display()
        )));
    }
    let size = Ledger::open(&ledger)?.head().size;
    if size != n {
        return Err(refuse(format!("of {size} entries where bench.json says {n}")));
    }
    Ok((Work::Dir(d.to_path_buf()), Some(m)))
}

pub fn bench(cli: &Cli, n: u64, dir: Option<&Path>, keep: bool) -> Result<(), CliError> {
    if !(synth::MIN_EVENTS..=MAX_EVENTS).contains(&n) {
        return Err(CliError::usage(format!(
            "--events {n} is out of range: bench builds ledgers of {} to {MAX_EVENTS} events",
            synth::MIN_EVENTS
        )));
    }
    let started = Instant::now();
    let (work, reuse) = prepare(dir, n)?;
    let root = work.path().to_path_buf();
    let scratch = root.join("scratch");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(|e| io("remove", &scratch, e))?;
    }
    std::fs::create_dir_all(&scratch).map_err(|e| io("create", &scratch, e))?;
    let result = run(&root, &scratch, n, reuse);
    // Scratch data never outlives the run; the ledger stays with --dir or --keep.
    let _ = std::fs::remove_dir_all(&scratch);
    let kept = match work {
        Work::Temp(t) if keep => Some(t.keep()),
        Work::Temp(t) => {
            drop(t);
            None
        }
        Work::Dir(p) => Some(p),
    };
    let (limits, figures, cert_info) = result?;
    if let Some(p) = &kept {
        progress(&format!("ledger kept in {}", p.join("ledger").display()));
    }
    progress(&format!("done in {:.1?}", started.elapsed()));
    print(cli.json, n, &limits, &figures, &cert_info);
    Ok(())
}

type RunResult = (Vec<Limit>, Vec<Figure>, (usize, LotId));

fn run(root: &Path, scratch: &Path, n: u64, reuse: Option<Marker>) -> Result<RunResult, CliError> {
    let ring = KeyRing::new()?;
    let s = samples(&ring)?;
    let threads = rayon::current_num_threads();
    progress(&format!("measuring raw limits ({REPS} repetitions each, {threads} threads)"));
    let limits = measure_limits(&s, scratch)?;
    let durable = append_durable(&ring, scratch)?;
    let (import_rate, _) = import_presigned(&ring, scratch, n)?;
    let ledger = root.join("ledger");
    let (marker, reused) = match reuse {
        Some(m) => {
            progress(&format!(
                "reusing the ledger of {n} events in {} (bulk_append as measured when it was built)",
                ledger.display()
            ));
            (m, true)
        }
        None => {
            let m = build(&ring, &ledger, n)?;
            let text = serde_json::to_string_pretty(&m).map_err(|e| CliError::usage(e.to_string()))?;
            let p = root.join(MARKER);
            std::fs::write(&p, text).map_err(|e| io("write", &p, e))?;
            (m, false)
        }
    };
    let bytes = dir_bytes(&ledger)?;
    let (verify_rate, rss) = verify_child(&ledger, n)?;
    let (issue_ms, verify_ms, cert_entries, cert_lot) = cert_figures(&ledger, &marker)?;

    let batch = limit(&limits, "verify_batch");
    let sled_plain = limit(&limits, "sled_insert");
    let (bulk_limit_name, bulk_limit) =
        if batch <= sled_plain { ("verify_batch", batch) } else { ("sled_insert", sled_plain) };
    let cert_limit_ms = cert_entries as f64 / batch * 1000.0;
    let f = |name, value, unit, kind, limit_name, limit| Figure {
        name,
        value,
        unit,
        kind,
        limit_name,
        limit,
        reused: false,
    };
    let mut bulk =
        f("bulk_append", marker.bulk_append_events_per_s, "events/s", Kind::Rate, bulk_limit_name, bulk_limit);
    bulk.reused = reused;
    let figures = vec![
        f("append_durable", durable, "events/s", Kind::Rate, "sled_insert_flush", limit(&limits, "sled_insert_flush")),
        bulk,
        f("import_presigned", import_rate, "events/s", Kind::Rate, bulk_limit_name, bulk_limit),
        f("verify", verify_rate, "events/s", Kind::Rate, "verify_batch", batch),
        f("verify_peak_rss", rss as f64, "bytes", Kind::Size, "rss_target", RSS_TARGET as f64),
        f("cert_issue", issue_ms, "ms", Kind::Time, "verify_batch", cert_limit_ms),
        f("cert_verify", verify_ms, "ms", Kind::Time, "verify_batch", cert_limit_ms),
        f("bytes_per_event", bytes as f64 / n as f64, "bytes", Kind::Size, "entry_bytes", marker.mean_entry_bytes),
    ];
    Ok((limits, figures, (cert_entries, cert_lot)))
}

/// A number for people: thousands separators, few decimals.
fn num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v.abs() < 100.0 {
        return format!("{v:.2}");
    }
    let s = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

fn print(json: bool, n: u64, limits: &[Limit], figures: &[Figure], cert_info: &(usize, LotId)) {
    let threads = rayon::current_num_threads();
    if json {
        let figs: Vec<Value> = figures
            .iter()
            .map(|f| {
                let mut v = json!({"name": f.name, "value": f.value, "unit": f.unit, "limit_name": f.limit_name,
                    "limit": f.limit, "ratio": f.ratio()});
                if f.reused {
                    v["reused"] = json!(true);
                }
                v
            })
            .collect();
        let lims: Vec<Value> =
            limits.iter().map(|l| json!({"name": l.name, "value": l.value, "unit": l.unit, "what": l.what})).collect();
        emit_json(&json!({
            "events": n,
            "threads": threads,
            "verify_batch_size": VERIFY_BATCH,
            "certificate": {"lot": cert_info.1, "entries": cert_info.0},
            "limits": lims,
            "figures": figs,
        }));
        return;
    }
    emit(&format!(
        "tinledger bench: {n} events, {threads} threads; limits and figures measured in this run (medians of {REPS})"
    ));
    emit("ratio: rates value/limit, times limit/value, sizes value/limit (1.00 = at the limit)");
    emit("");
    emit(&format!("{:<18} {:>14}  {:<13} {}", "limit", "value", "unit", "what"));
    for l in limits {
        emit(&format!("{:<18} {:>14}  {:<13} {}", l.name, num(l.value), l.unit, l.what));
    }
    emit("");
    emit(&format!(
        "{:<16} {:>14}  {:<9} {:<18} {:>14}  {:>6}",
        "figure", "value", "unit", "limit", "limit value", "ratio"
    ));
    for f in figures {
        emit(&format!(
            "{:<16} {:>14}  {:<9} {:<18} {:>14}  {:>6.2}{}",
            f.name,
            num(f.value),
            f.unit,
            f.limit_name,
            num(f.limit),
            f.ratio(),
            if f.reused { "  (from the run that built the ledger)" } else { "" }
        ));
    }
    emit("");
    emit(&format!("certificate: {} with {} entries", cert_info.1, cert_info.0));
}
