//! Read-only commands that ask the ledger questions: `log` with filters,
//! `lot` (one lot, its provenance tree, or `lot list`) and `report balance`.
//! The queries are `tinledger_ledger`'s (`entries_matching`, `lots_matching`,
//! `provenance`, `balance`); this module parses their arguments and prints.

use crate::args::{Cli, LogArgs, LotArgs, LotCmd, ReportCmd};
use crate::error::{CliError, UsageExt};
use crate::output::{col_width, emit, emit_json, lot_status, summary, write_stdout};
use crate::suggest;
use serde_json::json;
use std::collections::BTreeSet;
use tinledger_core::correction::annotate;
use tinledger_core::query::{parse_kind, Balance, EntryFilter, LotFilter, LotPhase, Provenance};
use tinledger_core::rules::{LotState, StateView};
use tinledger_core::units::{format_grade, format_mass, format_mass_wide, Material, Timestamp};
use tinledger_core::{ActorId, LotId};
use tinledger_formats::report::{balance_csv, provenance_dot};
use tinledger_ledger::Ledger;

fn open(cli: &Cli) -> Result<Ledger, CliError> {
    Ok(Ledger::open(&cli.ledger)?)
}

/// A lot id the ledger knows, or "unknown lot" with a "did you mean".
fn known_lot(l: &Ledger, typed: &str) -> Result<(LotId, LotState), CliError> {
    let id = LotId::new(typed).usage()?;
    match l.view().lot(&id).map_err(|e| CliError::refused(e.to_string()))? {
        Some(s) => Ok((id, s)),
        None => Err(suggest::unknown_lot(l, typed)),
    }
}

/// An actor id the ledger knows, or "unknown actor" with a "did you mean".
fn known_actor(l: &Ledger, typed: &str) -> Result<ActorId, CliError> {
    let id = ActorId::new(typed).usage()?;
    match l.view().actor(&id).map_err(|e| CliError::refused(e.to_string()))? {
        Some(_) => Ok(id),
        None => Err(suggest::unknown_actor(l, typed)),
    }
}

fn time(flag: &str, s: &Option<String>) -> Result<Option<Timestamp>, CliError> {
    s.as_deref().map(|s| s.parse::<Timestamp>().map_err(|e| CliError::usage(format!("{flag}: {e}")))).transpose()
}

/// `--from`/`--to` of `log`: all digits is a sequence number, anything
/// else must be an RFC 3339 time.
enum Bound {
    Seq(u64),
    Time(Timestamp),
}

fn bound(flag: &str, s: &str) -> Result<Bound, CliError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(Bound::Seq)
            .map_err(|_| CliError::usage(format!("{flag} {s}: sequence number out of range")));
    }
    s.parse().map(Bound::Time).map_err(|e: String| {
        CliError::usage(format!("{flag}: {e}")).hint("give a sequence number (12) or a time (2026-03-02T07:30:00Z)")
    })
}

pub fn log(cli: &Cli, a: &LogArgs) -> Result<(), CliError> {
    let l = open(cli)?;
    let (f, from, to) = log_filter(a, |id| known_actor(&l, id), |id| Ok(known_lot(&l, id)?.0))?;
    let found = l.entries_matching(&f, from, to)?;
    // Corrections and the entries they correct are on the same lot: its
    // history says which entry was corrected by which, and from what.
    let corrections = l.corrections_on(correction_lots(&found))?;
    print_log(cli, &found, &corrections);
    Ok(())
}

/// The lots whose histories say which found entry a correction changed.
pub fn correction_lots(found: &[(tinledger_core::Entry, tinledger_core::SignedEvent)]) -> BTreeSet<&LotId> {
    found.iter().map(|(_, s)| &s.event().body).filter(|b| b.kept_for_corrections()).flat_map(|b| b.lots()).collect()
}

/// `log`'s filter and seq range from its arguments; `actor` and `lot`
/// check that an id is known.
pub fn log_filter(
    a: &LogArgs,
    actor: impl Fn(&str) -> Result<ActorId, CliError>,
    lot: impl Fn(&str) -> Result<LotId, CliError>,
) -> Result<(EntryFilter, u64, u64), CliError> {
    let mut f = EntryFilter::default();
    let (mut from, mut to) = (0, u64::MAX);
    if let Some(s) = &a.from {
        match bound("--from", s)? {
            Bound::Seq(n) => from = n,
            Bound::Time(t) => f.from = Some(t),
        }
    }
    if let Some(s) = &a.to {
        match bound("--to", s)? {
            Bound::Seq(n) => to = n,
            Bound::Time(t) => f.to = Some(t),
        }
    }
    if let Some(k) = &a.kind {
        f.kind = Some(parse_kind(k).usage()?);
    }
    if let Some(id) = &a.actor {
        f.actor = Some(actor(id)?);
    }
    if let Some(id) = &a.lot {
        f.lot = Some(lot(id)?);
    }
    Ok((f, from, to))
}

/// `log`'s output.
pub fn print_log(
    cli: &Cli,
    found: &[(tinledger_core::Entry, tinledger_core::SignedEvent)],
    corrections: &tinledger_core::correction::Corrections,
) {
    if cli.json {
        let items: Vec<_> = found
            .iter()
            .map(|(e, s)| {
                let ev = s.event();
                let mut v = json!({"seq": e.seq, "hash": e.hash().to_hex(), "at": ev.at, "signer": ev.signer, "kind": ev.body.kind(), "summary": summary(ev)});
                crate::output::correction_fields(&mut v, corrections, e.seq);
                v
            })
            .collect();
        emit_json(&json!({"entries": items}));
        return;
    }
    let signer_w = col_width(23, found.iter().map(|(_, s)| s.event().signer.as_str()));
    let kind_w = col_width(14, found.iter().map(|(_, s)| s.event().body.kind()));
    for (e, s) in found {
        let ev = s.event();
        emit(&format!(
            "{:>6}  {}  {:<signer_w$}  {:<kind_w$}  {}",
            e.seq,
            ev.at,
            ev.signer.as_str(),
            ev.body.kind(),
            annotate(corrections, e.seq, summary(ev))
        ));
    }
}

pub fn lot(cli: &Cli, a: &LotArgs) -> Result<(), CliError> {
    if let Some(LotCmd::List { held_by, material, state }) = &a.cmd {
        return lot_list(cli, held_by.as_deref(), material.as_deref(), state.as_deref());
    }
    let typed = a.id.as_deref().ok_or_else(|| CliError::usage("a lot id is required (or `tinledger lot list`)"))?;
    if !a.tree {
        return crate::commands::lot(cli, typed);
    }
    let l = open(cli)?;
    let (id, _) = known_lot(&l, typed)?;
    let tree = l.provenance(&id)?.ok_or_else(|| {
        CliError::refused(format!("lot {id} is in the lot index but no entry created it; run `tinledger verify`"))
    })?;
    if a.dot {
        return write_stdout(provenance_dot(&tree).as_bytes());
    }
    if cli.json {
        emit_json(&serde_json::to_value(&tree).unwrap_or_default());
        return Ok(());
    }
    print_tree(&tree);
    Ok(())
}

fn print_tree(tree: &Provenance) {
    for line in tree.walk() {
        let c = line.lot;
        let grade = c.grade_ppm.map(format_grade).unwrap_or_else(|| "grade unknown".into());
        let taken = line.taken_g.map(|g| format!("{} from ", format_mass(g))).unwrap_or_default();
        let repeated = if line.repeated { "; its inputs are listed above" } else { "" };
        emit(&format!(
            "{}{taken}{}: {}, {}, {}; {} by {} at seq {} ({}){repeated}",
            "  ".repeat(line.depth),
            c.lot,
            c.material,
            format_mass(c.mass_g),
            grade,
            c.kind,
            c.signer,
            c.seq,
            c.at
        ));
    }
}

fn lot_list(cli: &Cli, held_by: Option<&str>, material: Option<&str>, state: Option<&str>) -> Result<(), CliError> {
    let l = open(cli)?;
    let filter = LotFilter {
        held_by: held_by.map(|a| known_actor(&l, a)).transpose()?,
        material: material.map(|m| m.parse::<Material>().usage()).transpose()?,
        phase: state.map(|s| s.parse::<LotPhase>().usage()).transpose()?,
    };
    let lots = l.lots_matching(&filter)?;
    if cli.json {
        let items: Vec<_> = lots
            .iter()
            .map(|s| {
                json!({"lot": s.id, "state": LotPhase::of(&s.status), "material": s.material, "mass_g": s.mass_g,
                       "grade_ppm": s.grade_ppm, "custodian": s.custodian, "status": s.status})
            })
            .collect();
        emit_json(&json!({"lots": items}));
        return Ok(());
    }
    let id_w = col_width(20, lots.iter().map(|s| s.id.as_str()));
    for s in &lots {
        emit(&format!(
            "{:<id_w$}  {:<10}  {:<12}  {:>16}  {:>10}  {}",
            s.id.as_str(),
            LotPhase::of(&s.status).as_str(),
            s.material.as_str(),
            format_mass(s.mass_g),
            s.grade_ppm.map(format_grade).unwrap_or_else(|| "unknown".into()),
            lot_status(s)
        ));
    }
    Ok(())
}

pub fn report(cli: &Cli, r: &ReportCmd) -> Result<(), CliError> {
    let ReportCmd::Balance { actor, from, to, csv } = r;
    if *csv && cli.json {
        return Err(CliError::usage("--csv and --json both choose the output: give one"));
    }
    let (from, to) = (time("--from", from)?, time("--to", to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(CliError::usage(format!("--from {f} is after --to {t}")).hint("swap them"));
        }
    }
    let l = open(cli)?;
    let actor = known_actor(&l, actor)?;
    let b = l.balance(&actor, from, to)?;
    if *csv {
        return write_stdout(balance_csv(&b)?.as_bytes());
    }
    if cli.json {
        emit_json(&serde_json::to_value(&b).unwrap_or_default());
        return Ok(());
    }
    print_balance(&actor, &b);
    Ok(())
}

/// Grams with a sign, as `format_mass` writes them.
fn signed_mass(g: i128) -> String {
    let m = format_mass_wide(g.unsigned_abs());
    if g < 0 {
        format!("-{m}")
    } else {
        m
    }
}

fn pct(ppm: Option<u128>) -> String {
    ppm.map(|p| format!("{}.{:02}%", p / 10_000, (p % 10_000) / 100)).unwrap_or_else(|| "unknown".into())
}

fn print_balance(actor: &ActorId, b: &Balance) {
    let bound = |t: Option<Timestamp>, open: &str| t.map(|t| t.to_string()).unwrap_or_else(|| open.to_string());
    emit(&format!(
        "mass balance of {actor} from {} to {} ({} entries signed by {actor} in the period)",
        bound(b.from, "the start"),
        bound(b.to, "now"),
        b.events
    ));
    let row = |label: &str, g: i128| emit(&format!("  {label:<16} {:>20}", signed_mass(g)));
    let u = |v: u128| i128::try_from(v).unwrap_or(i128::MAX);
    row("opening stock", b.opening_g);
    row("+ extracted", u(b.extracted_g));
    row("+ received", u(b.received_g));
    row("+ produced", u(b.produced_g));
    row("- consumed", u(b.consumed_g));
    row("- dispatched", u(b.dispatched_g));
    row("- exported", u(b.exported_g));
    row("= closing stock", b.closing_g);
    if b.process_in_g == 0 {
        emit("  processing       no smelt or manufacture in the period");
    } else {
        emit(&format!(
            "  processing       {} in, {} out (smelt, manufacture): mass yield {}",
            format_mass_wide(b.process_in_g),
            format_mass_wide(b.process_out_g),
            pct(b.mass_yield_ppm)
        ));
        match (b.tin_in_g, b.tin_out_g) {
            (Some(i), Some(o)) => emit(&format!(
                "  contained tin    {} in, {} out: tin yield {}",
                format_mass_wide(i),
                format_mass_wide(o),
                pct(b.tin_yield_ppm)
            )),
            _ => emit("  contained tin    unknown: an input's grade was unknown"),
        }
    }
    if b.discrepancies.is_empty() {
        emit("  discrepancies    none: every receive matched its dispatch");
    }
    for d in &b.discrepancies {
        emit(&format!(
            "  discrepancy      seq {} {}: dispatched {}, received {} ({}){}",
            d.seq,
            d.lot,
            format_mass(d.dispatched_g),
            format_mass(d.received_g),
            signed_mass(i128::from(d.received_g) - i128::from(d.dispatched_g)),
            if d.flagged { ", flagged" } else { "" }
        ));
    }
}
