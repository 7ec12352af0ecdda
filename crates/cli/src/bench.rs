//! `tinledger bench`: measure this machine, like `openssl speed`.
//!
//! First the raw limits (Ed25519 sign, `verify_strict`, `verify_batch`,
//! the cofactored `sigbatch`, SHA-256 of an entry, sled inserts with and
//! without a durable flush, a 4 KiB write + fsync), then
//! the figures on a synthetic ledger of N events, each next to the limit
//! that bounds it and the ratio between them: both measured by
//! `tinledger_synth::figures`. This module passes it the arguments and
//! this binary's path (for its child processes) and prints the report.
//! docs/performance.md explains every figure and the ratio conventions.

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{emit, emit_json};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;
use tinledger_ledger::VERIFY_BATCH;
use tinledger_synth::figures::{self, Options, Report};
use tinledger_synth::measure::REPS;

fn progress(msg: &str) {
    crate::output::note(&format!("bench: {msg}"));
}

pub fn bench(cli: &Cli, n: u64, dir: Option<&Path>, keep: bool) -> Result<(), CliError> {
    let started = Instant::now();
    let exe = std::env::current_exe().map_err(|e| CliError::usage(format!("cannot find this executable: {e}")))?;
    let report =
        figures::run(&Options { events: n, dir, keep, exe: &exe, now: crate::commands::now(), progress: &progress })?;
    if let Some(p) = &report.kept {
        progress(&format!("ledger kept in {}", p.join("ledger").display()));
    }
    progress(&format!("done in {:.1?}", started.elapsed()));
    print(cli.json, &report);
    Ok(())
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

fn print(json: bool, r: &Report) {
    let (n, limits, figures) = (r.events, &r.limits, &r.figures);
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
                if !f.also.is_empty() {
                    v["also"] = f
                        .also
                        .iter()
                        .map(|(name, limit)| json!({"limit_name": name, "limit": limit, "ratio": f.ratio_to(*limit)}))
                        .collect();
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
            "certificate": {"lot": r.cert_lot, "entries": r.cert_entries},
            "load_average": r.load.map(|(start, end)| json!({"start": start, "end": end})),
            "limits": lims,
            "figures": figs,
        }));
        return;
    }
    emit(&format!(
        "tinledger bench: {n} events, {threads} threads; limits and figures measured in this run \
         (limits: fastest of {REPS} repetitions; certificate times: medians of {REPS})"
    ));
    if let Some((start, end)) = r.load {
        emit(&format!("load average (1 min): {start:.2} at the start, {end:.2} at the end"));
    }
    emit("ratio: rates value/limit, times limit/value, sizes value/limit (1.00 = at the limit)");
    emit("");
    emit(&format!("{:<18} {:>14}  {:<13} {}", "limit", "value", "unit", "what"));
    for l in limits.iter() {
        emit(&format!("{:<18} {:>14}  {:<13} {}", l.name, num(l.value), l.unit, l.what));
    }
    emit("");
    emit(&format!(
        "{:<20} {:>14}  {:<9} {:<18} {:>14}  {:>6}",
        "figure", "value", "unit", "limit", "limit value", "ratio"
    ));
    for f in figures.iter() {
        emit(&format!(
            "{:<20} {:>14}  {:<9} {:<18} {:>14}  {:>6.2}{}",
            f.name,
            num(f.value),
            f.unit,
            f.limit_name,
            num(f.limit),
            f.ratio(),
            if f.reused { "  (from the run that built the ledger)" } else { "" }
        ));
        for (name, limit) in &f.also {
            emit(&format!(
                "{:<20} {:>14}  {:<9} {:<18} {:>14}  {:>6.2}",
                "",
                "",
                "",
                name,
                num(*limit),
                f.ratio_to(*limit)
            ));
        }
    }
    emit("");
    emit(&format!("certificate: {} with {} entries", r.cert_lot, r.cert_entries));
}
