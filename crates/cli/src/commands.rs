//! One function per command. Each gets resolved values and prints its result.

use crate::args::{ActorCmd, Cli, InitArgs, Kind, Signing};
use crate::build;
use crate::error::{CliError, UsageExt};
use crate::keys;
use crate::output::{col_width, emit, emit_json, entry_json, lot_status, summary};
use serde_json::json;
use std::path::PathBuf;
use tinledger_core::correction::{annotate, Corrections};
use tinledger_core::event::{EventBody, PublicKey};
use tinledger_core::rules::{ActorState, RuleError, StateView};
use tinledger_core::units::{format_grade, format_mass, Timestamp};
use tinledger_core::{ActorId, Entry, EntryHash, Event, LedgerId, LotId, SignedEvent};
use tinledger_formats::signed::{parse_signed_text, SignedFile};
use tinledger_ledger::{Ledger, LedgerError, Receipt};

/// The variable that sets this process's clock, for tests only
/// (docs/cli.md §1.11): an RFC 3339 time, or unset for the system clock.
pub const TEST_NOW_VAR: &str = "TINLEDGER_TEST_NOW";

/// This machine's clock: the default `--at`, and what appends check an
/// event's time against (at most `rules::MAX_CLOCK_SKEW_SECS` ahead).
/// [`TEST_NOW_VAR`] replaces it; `main` refuses a value that does not parse.
pub fn now() -> Timestamp {
    if let Some(Ok(t)) = test_now() {
        return t;
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Timestamp(i64::try_from(secs).unwrap_or(0))
}

/// [`TEST_NOW_VAR`], parsed, if set.
pub fn test_now() -> Option<Result<Timestamp, CliError>> {
    let v = std::env::var_os(TEST_NOW_VAR)?;
    Some(v.to_str().unwrap_or("").parse::<Timestamp>().map_err(|e| {
        CliError::usage(format!("{TEST_NOW_VAR}: {e}"))
            .hint(format!("unset {TEST_NOW_VAR} (it is for tests only), or give an RFC 3339 time"))
    }))
}

fn at(s: &Option<String>) -> Result<Timestamp, CliError> {
    match s {
        Some(s) => s.parse().usage(),
        None => Ok(now()),
    }
}

fn open(cli: &Cli) -> Result<Ledger, CliError> {
    crate::open::ledger(cli)
}

fn receipt_json(r: &Receipt, ev: &Event) -> serde_json::Value {
    json!({"seq": r.seq, "hash": r.hash.to_hex(), "kind": ev.body.kind(), "signer": ev.signer, "flags": r.flags})
}

fn print_receipts(cli: &Cli, rs: &[Receipt], evs: &[SignedEvent]) {
    if cli.json {
        let items: Vec<_> = rs.iter().zip(evs).map(|(r, e)| receipt_json(r, e.event())).collect();
        if items.len() == 1 {
            emit_json(&items[0]);
        } else {
            emit_json(&json!({"appended": items}));
        }
        return;
    }
    for (r, e) in rs.iter().zip(evs) {
        crate::output::done(&format!("recorded seq {:<5} {:<15} {}", r.seq, e.event().body.kind(), r.hash));
        for f in &r.flags {
            // Flags are shown even with -q: they need a person's attention.
            emit(&format!("  {} {f}", crate::output::paint(crate::output::Paint::Warn, "flag:")));
        }
    }
}

pub fn init(cli: &Cli, a: &InitArgs) -> Result<(), CliError> {
    let key = keys::load_signing_key(&a.authority_key)?;
    let ledger_id = match &a.ledger_id {
        Some(h) => h.parse::<LedgerId>().usage()?,
        None => {
            let mut id = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
            LedgerId(id)
        }
    };
    let authority = ActorId::new(&a.authority_id).usage()?;
    let ev = Event {
        ledger_id,
        signer: authority.clone(),
        at: at(&a.at)?,
        note: None,
        body: EventBody::Genesis {
            ledger_name: a.name.clone(),
            authority,
            authority_name: a.authority_name.clone(),
            authority_key: PublicKey::from(&key),
        },
    };
    let signed = ev.sign(&key).usage()?;
    let (_l, r) = crate::open::create(cli, &cli.ledger, &signed)?;
    if cli.json {
        emit_json(&json!({"ledger": cli.ledger, "ledger_id": ledger_id, "seq": r.seq, "hash": r.hash.to_hex()}));
    } else {
        emit(&format!("created ledger {} at {}", ledger_id, cli.ledger.display()));
        emit(&format!("genesis entry {}", r.hash));
    }
    Ok(())
}

/// Sign `body` as the holder of `signing.key`, resolving the signer.
pub(crate) fn sign_body(
    signing: &Signing,
    body: EventBody,
    ledger_id: LedgerId,
    view: Option<&dyn StateView>,
) -> Result<(SignedEvent, PublicKey), CliError> {
    let key = keys::load_signing_key(&signing.key)?;
    let pk = PublicKey::from(&key);
    let signer = match (&signing.signer, view) {
        (Some(s), _) => ActorId::new(s).usage()?,
        (None, Some(v)) => v.actor_by_key(&pk).map_err(|e| CliError::usage(e.to_string()))?.ok_or_else(|| {
            CliError::refused(format!(
                "key {} (key id {}) is not registered to any actor",
                signing.key.display(),
                pk.key_id()
            ))
            .hint("check --key, or ask the authority to register the key")
        })?,
        (None, None) => return Err(CliError::usage("--as ACTOR is required when signing without a ledger")),
    };
    let ev = Event { ledger_id, signer, at: at(&signing.at)?, note: signing.note.clone(), body };
    let signed = ev.sign(&key).map_err(|e| CliError::usage(format!("cannot sign: {e}")))?;
    Ok((signed, pk))
}

fn record_body(cli: &Cli, signing: &Signing, body: EventBody) -> Result<(), CliError> {
    if signing.out.is_some() || signing.ledger_id.is_some() {
        return Err(CliError::usage(
            "--out and --ledger-id belong to `tinledger sign`; `record` appends to the ledger",
        ));
    }
    let mut l = open(cli)?;
    let info = l.info().cloned().ok_or_else(|| CliError::refused("ledger has no genesis entry"))?;
    let (signed, used) = {
        let view = l.view();
        sign_body(signing, body, info.ledger_id, Some(&view))?
    };
    let r = match l.append_at(&signed, now()) {
        Ok(r) => r,
        Err(e @ LedgerError::Refused { source: RuleError::BadSignature { .. }, .. }) => {
            return Err(wrong_key(&l, signing, &signed, &used, e));
        }
        Err(e) => return Err(crate::suggest::refused(&l, e)),
    };
    print_receipts(cli, &[r], &[signed]);
    Ok(())
}

/// A signature that does not verify with the signer's key: say whose key
/// the operator used, which is usually the mistake.
fn wrong_key(l: &Ledger, signing: &Signing, signed: &SignedEvent, used: &PublicKey, e: LedgerError) -> CliError {
    let signer = &signed.event().signer;
    let hint = match l.view().actor_by_key(used).ok().flatten() {
        Some(a) if &a != signer => format!(
            "{} is the key of {a}, not of {signer}: sign with {signer}'s key, or as {a}; the ledger is unchanged",
            signing.key.display()
        ),
        Some(_) => "the ledger is unchanged".to_string(),
        None => format!(
            "{} (key id {}) is not registered to any actor; the ledger is unchanged",
            signing.key.display(),
            used.key_id()
        ),
    };
    let mut err = CliError::from(e);
    err.hint = Some(hint);
    err
}

pub fn record(cli: &Cli, kind: &Kind) -> Result<(), CliError> {
    if let Kind::Correct(a) = kind {
        let (seq, hash, lot) = resolve_entry(cli, a)?;
        return record_body(cli, &a.signing, build::correct_body(a, seq, hash, lot)?);
    }
    let (signing, body) = build::kind_body(kind)?;
    record_body(cli, signing, body)
}

/// A correction's `--entry` (SEQ, HASH or SEQ:HASH) and `--lot`, completed
/// from the ledger: the seq, the entry hash and the lot the entry names.
fn resolve_entry(cli: &Cli, a: &crate::args::CorrectArgs) -> Result<(u64, EntryHash, LotId), CliError> {
    let l = open(cli)?;
    let size = l.head().size;
    let (seq, hash) = build::entry_ref(&a.entry)?;
    let entry = match (seq, hash) {
        (Some(s), _) => l.get(s)?.ok_or_else(|| {
            CliError::refused(format!("there is no entry seq {s}: the ledger has {size} entries"))
                .hint("look the entry up with `tinledger lot LOT` or `tinledger log`")
        })?,
        (None, Some(h)) => find_entry(&l, &h)?.ok_or_else(|| {
            CliError::refused(format!("no entry of this ledger has hash {h}"))
                .hint("look the entry up with `tinledger lot LOT` or `tinledger log`")
        })?,
        (None, None) => return Err(CliError::usage("--entry is empty")),
    };
    if let Some(h) = hash {
        if entry.hash() != h {
            return Err(CliError::refused(format!("entry seq {} has hash {}, not {h}", entry.seq, entry.hash()))
                .hint("check --entry against `tinledger log`"));
        }
    }
    let named = entry.signed_event().map_err(|e| CliError::refused(format!("entry {}: {e}", entry.seq)))?;
    let body = &named.event().body;
    let lot = match (&a.lot, body.lots().first()) {
        (_, Some(l)) if body.is_correctable() => match &a.lot {
            Some(given) => LotId::new(given).usage()?,
            None => (*l).clone(),
        },
        _ => {
            return Err(CliError::refused(format!(
                "seq {} is a {}; only an extract, a receive or an assay can be corrected",
                entry.seq,
                body.kind()
            ))
            .hint("name the extract, receive or assay with the wrong value (see `tinledger lot LOT`)"))
        }
    };
    Ok((entry.seq, entry.hash(), lot))
}

/// The entry with hash `h`, scanning the ledger in chunks.
fn find_entry(l: &Ledger, h: &EntryHash) -> Result<Option<Entry>, CliError> {
    const CHUNK: u64 = 4096;
    let size = l.head().size;
    let mut from = 0;
    while from < size {
        let to = (from + CHUNK).min(size);
        if let Some(e) = l.range(from, to - 1)?.into_iter().find(|e| e.hash() == *h) {
            return Ok(Some(e));
        }
        from = to;
    }
    Ok(None)
}

pub fn sign(cli: &Cli, kind: &Kind) -> Result<(), CliError> {
    let (signing, body) = build::kind_body(kind)?;
    let ledger_id = signing
        .ledger_id
        .as_deref()
        .ok_or_else(|| {
            CliError::usage("--ledger-id is required: sign events for one ledger (see `tinledger verify` on its host)")
        })?
        .parse::<LedgerId>()
        .usage()?;
    let out = signing.out.clone().ok_or_else(|| CliError::usage("--out FILE is required"))?;
    let (signed, _) = sign_body(signing, body, ledger_id, None)?;
    let text = serde_json::to_string_pretty(&SignedFile::from_signed(&signed))
        .map_err(|e| CliError::usage(format!("cannot encode: {e}")))?;
    crate::output::write_atomic(&out, text.as_bytes(), false)?;
    if cli.json {
        crate::output::report_json(
            &out,
            &json!({"file": out, "kind": signed.event().body.kind(), "signer": signed.event().signer, "event_id": hex::encode(signed.id())}),
        );
    } else {
        crate::output::report(
            &out,
            &format!(
                "signed {} by {} for ledger {} -> {}",
                signed.event().body.kind(),
                signed.event().signer,
                ledger_id,
                out.display()
            ),
        );
    }
    Ok(())
}

/// Largest signed-event file `submit` reads.
const MAX_SUBMIT_FILE: u64 = 256 * 1024 * 1024;

pub fn read_signed_files(files: &[PathBuf]) -> Result<Vec<SignedEvent>, CliError> {
    crate::input::stdin_once(files.iter().map(PathBuf::as_path))?;
    let mut out = Vec::new();
    for f in files {
        let text = crate::input::read_text_capped(f, "signed-event file", MAX_SUBMIT_FILE)?;
        out.extend(parse_signed_text(&crate::input::name(f), &text)?);
    }
    Ok(out)
}

pub fn submit(cli: &Cli, files: &[PathBuf]) -> Result<(), CliError> {
    let evs = read_signed_files(files)?;
    let mut l = open(cli)?;
    let rs = l.append_batch_at(&evs, now()).map_err(|e| crate::suggest::refused(&l, e))?;
    print_receipts(cli, &rs, &evs);
    Ok(())
}

fn decode(e: &tinledger_core::Entry) -> Result<SignedEvent, CliError> {
    e.signed_event()
        .map_err(|err| CliError::refused(format!("entry {} is damaged: {err}; run `tinledger verify`", e.seq)))
}

pub fn show(cli: &Cli, seq: u64) -> Result<(), CliError> {
    let l = open(cli)?;
    let e = l.get(seq)?.ok_or_else(|| {
        CliError::usage(format!(
            "no entry {seq}: the ledger has {} entries (0..{})",
            l.head().size,
            l.head().size.saturating_sub(1)
        ))
    })?;
    show_entry(cli, &e)
}

/// `show`'s output for one entry (local or, with --server, proved remote).
pub fn show_entry(cli: &Cli, e: &tinledger_core::Entry) -> Result<(), CliError> {
    let s = decode(e)?;
    let v = entry_json(e, s.event());
    if cli.json {
        emit_json(&v);
        return Ok(());
    }
    let ev = s.event();
    emit(&format!("seq        {}", e.seq));
    emit(&format!("hash       {}", e.hash()));
    emit(&format!("prev       {}", hex::encode(e.prev)));
    emit(&format!("leaf hash  {}", hex::encode(e.leaf_hash())));
    emit(&format!("time       {}", ev.at));
    emit(&format!("signer     {}", ev.signer));
    emit(&format!("kind       {}", ev.body.kind()));
    emit(&format!("summary    {}", summary(ev)));
    if let Some(n) = &ev.note {
        emit(&format!("note       {n}"));
    }
    emit(&format!("signature  {}", hex::encode(e.signature)));
    emit(&format!("event      {}", serde_json::to_string_pretty(&v["event"]).unwrap_or_default()));
    Ok(())
}

pub fn lot(cli: &Cli, id: &str) -> Result<(), CliError> {
    let l = open(cli)?;
    let lot_id = LotId::new(id).usage()?;
    let state = l
        .view()
        .lot(&lot_id)
        .map_err(|e| CliError::refused(e.to_string()))?
        .ok_or_else(|| crate::suggest::unknown_lot(&l, id))?;
    let mut history = Vec::new();
    for seq in l.lot_history(&lot_id)? {
        let e = l.get(seq)?.ok_or_else(|| CliError::refused(format!("lot index names missing entry {seq}")))?;
        let s = decode(&e)?;
        history.push((e, s));
    }
    print_lot(cli, &state, &history)
}

/// `lot ID`'s output from the lot's state and its entries.
pub fn print_lot(
    cli: &Cli,
    state: &tinledger_core::rules::LotState,
    history: &[(tinledger_core::Entry, SignedEvent)],
) -> Result<(), CliError> {
    let mut corrections = Corrections::default();
    for (e, s) in history {
        corrections.add(e.seq, s.event());
    }
    if cli.json {
        let h: Vec<_> = history
            .iter()
            .map(|(e, s)| {
                let mut v = json!({"seq": e.seq, "at": s.event().at, "signer": s.event().signer, "kind": s.event().body.kind(), "summary": summary(s.event())});
                crate::output::correction_fields(&mut v, &corrections, e.seq);
                v
            })
            .collect();
        emit_json(&json!({"lot": state, "history": h}));
        return Ok(());
    }
    emit(&format!("lot        {}", state.id));
    emit(&format!("material   {}", state.material));
    emit(&format!("status     {}", lot_status(state)));
    emit(&format!("mass       {}", format_mass(state.mass_g)));
    emit(&format!(
        "grade      {}{}",
        state.grade_ppm.map(format_grade).unwrap_or_else(|| "unknown".into()),
        match (state.grade_ppm, state.declared_grade_ppm) {
            (Some(g), Some(d)) if g != d => format!(" (declared {})", format_grade(d)),
            _ => String::new(),
        }
    ));
    if !state.parents.is_empty() {
        emit(&format!("made from  {}", state.parents.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")));
    }
    for f in &state.flags {
        emit(&format!("flag       {f}"));
    }
    emit("history");
    let signer_w = col_width(23, history.iter().map(|(_, s)| s.event().signer.as_str()));
    for (e, s) in history {
        let ev = s.event();
        let line = annotate(&corrections, e.seq, summary(ev));
        emit(&format!("  {:>6}  {}  {:<signer_w$}  {line}", e.seq, ev.at, ev.signer.as_str()));
    }
    Ok(())
}

fn actor_json(a: &ActorState) -> serde_json::Value {
    serde_json::to_value(a).unwrap_or_default()
}

pub fn actor(cli: &Cli, cmd: &ActorCmd) -> Result<(), CliError> {
    let (signing, body) = match cmd {
        ActorCmd::Register(a) => (&a.signing, build::register_body(a)?),
        ActorCmd::Suspend(a) => (&a.signing, build::suspend_body(a)?),
        ActorCmd::Reinstate(a) => (&a.signing, build::reinstate_body(a)?),
        ActorCmd::Revoke(a) => (&a.signing, build::revoke_body(a)?),
        ActorCmd::Rotate(a) => (&a.signing, build::rotate_body(a)?),
        ActorCmd::List => {
            let l = open(cli)?;
            let actors = l.actors()?;
            if cli.json {
                emit_json(&json!({"actors": actors.iter().map(actor_json).collect::<Vec<_>>()}));
            } else {
                let roles: Vec<String> = actors
                    .iter()
                    .map(|a| {
                        if a.is_authority {
                            "authority".to_string()
                        } else {
                            a.record.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
                        }
                    })
                    .collect();
                let id_w = col_width(25, actors.iter().map(|a| a.record.id.as_str()));
                let roles_w = col_width(23, roles.iter().map(String::as_str));
                for (a, roles) in actors.iter().zip(&roles) {
                    emit(&format!(
                        "{:<id_w$}  {:<9}  {:<roles_w$}  key {}  {}",
                        a.record.id.as_str(),
                        format!("{:?}", a.status).to_lowercase(),
                        roles,
                        a.record.key.key_id(),
                        a.record.name
                    ));
                }
            }
            return Ok(());
        }
        ActorCmd::Show { id } => {
            let l = open(cli)?;
            let id = ActorId::new(id).usage()?;
            let a = l
                .view()
                .actor(&id)
                .map_err(|e| CliError::refused(e.to_string()))?
                .ok_or_else(|| crate::suggest::unknown_actor(&l, id.as_str()))?;
            if cli.json {
                emit_json(&actor_json(&a));
            } else {
                emit(&serde_json::to_string_pretty(&actor_json(&a)).unwrap_or_default());
            }
            return Ok(());
        }
    };
    record_body(cli, signing, body)
}

pub fn reindex(cli: &Cli) -> Result<(), CliError> {
    let mut l = crate::open::for_audit(cli)?;
    let r = l.reindex()?;
    if cli.json {
        emit_json(&json!({"entries": r.entries, "lots": r.lots, "actors": r.actors, "hash_tiles": r.hash_tiles}));
    } else {
        emit(&format!(
            "rebuilt indices from {} entries: {} lots, {} actors, {} hash tiles; verify passes",
            r.entries, r.lots, r.actors, r.hash_tiles
        ));
    }
    Ok(())
}
