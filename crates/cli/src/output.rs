//! Printing: human text or one JSON object per command (docs/cli.md).

use serde_json::Value;
use std::io::Write;
use tinledger_core::event::EventBody;
use tinledger_core::rules::{LotState, LotStatus};
use tinledger_core::units::{format_grade, format_mass};
use tinledger_core::{Entry, Event};

/// Write to stdout; a closed pipe (`tinledger log | head`) ends quietly.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("tinledger: cannot write output: {e}");
        std::process::exit(2);
    }
}

pub fn emit_json(v: &Value) {
    emit(&v.to_string());
}

/// One line describing what an event does.
pub fn summary(ev: &Event) -> String {
    let m = |g: &u64| format_mass(*g);
    match &ev.body {
        EventBody::Genesis { ledger_name, authority, .. } => {
            format!("ledger {ledger_name:?} created by authority {authority}")
        }
        EventBody::RegisterActor { actor } => format!(
            "registered {} ({}) as {}",
            actor.id,
            actor.name,
            actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        ),
        EventBody::SuspendActor { actor, reason } => format!("suspended {actor}: {reason}"),
        EventBody::ReinstateActor { actor } => format!("reinstated {actor}"),
        EventBody::RevokeActor { actor, reason, compromised_since } => format!(
            "revoked {actor}: {reason}{}",
            compromised_since.map(|s| format!(" (compromised since seq {s})")).unwrap_or_default()
        ),
        EventBody::RotateKey { actor, new_key, compromised_since } => format!(
            "rotated key of {actor} to {}{}",
            new_key.key_id(),
            compromised_since.map(|s| format!(" (old key compromised since seq {s})")).unwrap_or_default()
        ),
        EventBody::Extract { lot, material, mass_g, grade_ppm, .. } => format!(
            "extracted {lot}: {material}, {}{}",
            m(mass_g),
            grade_ppm.map(|g| format!(", {}", format_grade(g))).unwrap_or_default()
        ),
        EventBody::Dispatch { lot, to, document, .. } => format!("dispatched {lot} to {to} (document {document})"),
        EventBody::Receive { lot, mass_g } => format!("received {lot}: {}", m(mass_g)),
        EventBody::Assay { lot, grade_ppm, method, .. } => {
            format!("assayed {lot}: {} ({method})", format_grade(*grade_ppm))
        }
        EventBody::Smelt { inputs, outputs } | EventBody::Manufacture { inputs, outputs } => {
            format!(
                "{} {} -> {}",
                if matches!(ev.body, EventBody::Smelt { .. }) { "smelted" } else { "manufactured" },
                inputs.iter().map(|t| format!("{} {}", t.lot, m(&t.mass_g))).collect::<Vec<_>>().join(" + "),
                outputs
                    .iter()
                    .map(|o| format!("{} {} {} {}", o.lot, o.material, m(&o.mass_g), format_grade(o.grade_ppm)))
                    .collect::<Vec<_>>()
                    .join(" + ")
            )
        }
        EventBody::Split { lot, parts } => format!(
            "split {lot} -> {}",
            parts.iter().map(|p| format!("{} {}", p.lot, m(&p.mass_g))).collect::<Vec<_>>().join(", ")
        ),
        EventBody::Merge { inputs, output } => {
            format!("merged {} -> {output}", inputs.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(" + "))
        }
        EventBody::Export { lot, destination, hs_code, .. } => {
            format!("exported {lot} to {destination} (HS {hs_code})")
        }
    }
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
