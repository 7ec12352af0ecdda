//! `tinledger demo`: the embedded Bangka Belitung scenario, built into a
//! fresh ledger with deterministic TEST keys, then verified.

use crate::args::Cli;
use crate::error::CliError;
use crate::keys;
use crate::output::{emit, emit_json, summary};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use tinledger_core::event::PublicKey;
use tinledger_core::testkeys::test_key;
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Event, EventBody, LedgerId, SignedEvent};
use tinledger_ledger::{AuditOptions, Ledger};

/// The scenario, embedded so the demo needs no files.
pub const SCENARIO: &str = include_str!("../../../fixtures/scenario/bangka-belitung.json");

#[derive(Deserialize)]
struct Scenario {
    ledger_id: LedgerId,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    signer: ActorId,
    at: Timestamp,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    note: Option<String>,
    body: Value,
}

/// Replace every `"test-key:LABEL"` string with that test key's public key.
fn resolve_keys(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(label) = s.strip_prefix("test-key:") {
                *s = PublicKey::from(&test_key(label)).to_hex();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(resolve_keys),
        Value::Object(o) => o.values_mut().for_each(resolve_keys),
        _ => {}
    }
}

/// The scenario's events, signed with their test keys, with each key's label.
pub fn scenario_events(text: &str) -> Result<Vec<(String, SignedEvent)>, String> {
    let sc: Scenario = serde_json::from_str(text).map_err(|e| format!("scenario: {e}"))?;
    let mut out = Vec::new();
    for (i, mut st) in sc.steps.into_iter().enumerate() {
        resolve_keys(&mut st.body);
        let body: EventBody = serde_json::from_value(st.body).map_err(|e| format!("scenario step {i}: {e}"))?;
        let label = st.key.unwrap_or_else(|| st.signer.to_string());
        let ev = Event { ledger_id: sc.ledger_id, signer: st.signer, at: st.at, note: st.note, body };
        let signed = ev.sign(&test_key(&label)).map_err(|e| format!("scenario step {i}: {e}"))?;
        out.push((label, signed));
    }
    Ok(out)
}

pub fn demo(cli: &Cli, dir: &Path) -> Result<(), CliError> {
    let ledger_dir = dir.join("ledger");
    let keys_dir = dir.join("keys");
    if ledger_dir.exists() || keys_dir.exists() {
        return Err(CliError::usage(format!("{} already holds a demo (ledger/ or keys/)", dir.display()))
            .hint("remove it or choose another --dir"));
    }
    let events = scenario_events(SCENARIO).map_err(CliError::usage)?;
    std::fs::create_dir_all(&keys_dir)
        .map_err(|e| CliError::usage(format!("cannot create {}: {e}", keys_dir.display())))?;
    let labels: BTreeSet<&str> = events.iter().map(|(l, _)| l.as_str()).collect();
    for label in &labels {
        keys::write_signing_key(&keys_dir.join(format!("{label}.pem")), &test_key(label))?;
    }
    let Some(((_, genesis), rest)) = events.split_first() else {
        return Err(CliError::usage("scenario is empty"));
    };
    let (mut ledger, _) = Ledger::create(&ledger_dir, genesis)?;
    if !cli.json {
        emit(&format!(
            "tinledger demo: Bangka Belitung scenario (fictional data, TEST keys in {})",
            keys_dir.display()
        ));
        let ev = genesis.event();
        emit(&format!("{:>4}  {}  {:<24} {}", 0, ev.at, ev.signer.as_str(), summary(ev)));
    }
    for (_, s) in rest {
        let r = ledger.append(s)?;
        if !cli.json {
            let ev = s.event();
            emit(&format!("{:>4}  {}  {:<24} {}", r.seq, ev.at, ev.signer.as_str(), summary(ev)));
            for f in &r.flags {
                emit(&format!("        flag: {f}"));
            }
        }
    }
    let rep = ledger.audit(&AuditOptions::default());
    if cli.json {
        emit_json(&json!({
            "ledger": ledger_dir,
            "keys": keys_dir,
            "ledger_id": genesis.event().ledger_id,
            "verify": rep,
        }));
    } else {
        emit("");
        emit(&format!("verify: {}", if rep.ok { "intact" } else { "FAULT" }));
        crate::commands::report_audit(false, &rep);
        emit("");
        emit(&format!("next: tinledger --ledger {} verify", ledger_dir.display()));
        emit(&format!("      tinledger --ledger {} lot SOLDER-KEK-2026-007", ledger_dir.display()));
    }
    if rep.ok {
        Ok(())
    } else {
        Err(CliError::refused("the demo ledger failed verification"))
    }
}
