//! `tinledger demo`: the embedded Bangka Belitung scenario, built into a
//! fresh ledger with deterministic TEST keys, then verified.

use crate::args::Cli;
use crate::error::CliError;
use crate::keys;
use crate::output::{emit, emit_json, summary};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::EncodePublicKey;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use tinledger_core::cert;
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::event::PublicKey;
use tinledger_core::note::{NoteSigner, Verifier};
use tinledger_core::testkeys::test_key;
use tinledger_core::units::Timestamp;
use tinledger_core::LotId;
use tinledger_formats::cert_html::{page, share_pct, Checked};
use tinledger_ledger::{AuditOptions, Ledger};
use tinledger_synth::scenario::{scenario_events, SCENARIO};

/// The lot the demo certifies, and when.
pub const DEMO_CERT_LOT: &str = "SOLDER-KEK-2026-007";
pub const DEMO_CERT_AT: &str = "2026-03-21T00:00:00Z";

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    crate::output::write_atomic(path, bytes, false)
}

pub fn demo(cli: &Cli, dir: &Path) -> Result<(), CliError> {
    let ledger_dir = dir.join("ledger");
    let keys_dir = dir.join("keys");
    if ledger_dir.exists() || keys_dir.exists() || dir.join("certificate.json").exists() {
        return Err(CliError::usage(format!("{} already holds a demo (ledger/ or keys/)", dir.display()))
            .hint("remove it or choose another --dir"));
    }
    let events = scenario_events(SCENARIO)?;
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
    // The authority signs a checkpoint; the exporter issues a certificate
    // for the exported solder, which a buyer verifies offline.
    let auth_key = test_key("AUTH-BABEL");
    let info = ledger.info().cloned().ok_or_else(|| CliError::refused("demo ledger has no genesis"))?;
    let origin = origin_for(&info.ledger_id);
    let size = ledger.head().size;
    let cp = Checkpoint { origin: origin.clone(), size, root: ledger.merkle_root(size)?, extensions: vec![] };
    let signer = NoteSigner::new(&origin, auth_key.clone()).map_err(|e| CliError::usage(e.to_string()))?;
    let note = cp.sign(&signer).map_err(|e| CliError::usage(e.to_string()))?;
    ledger.store_checkpoint(size, &note)?;
    write_file(&dir.join("checkpoint.txt"), note.as_bytes())?;
    let auth_pub = auth_key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| CliError::usage(format!("cannot encode key: {e}")))?;
    write_file(&keys_dir.join("AUTH-BABEL.pub.pem"), auth_pub.as_bytes())?;
    let lot = LotId::new(DEMO_CERT_LOT).map_err(CliError::usage)?;
    let at: Timestamp = DEMO_CERT_AT.parse().map_err(CliError::usage)?;
    let certificate = crate::cert::issue_from(&ledger, &lot, &test_key("EXPORTER-MUNTOK"), at)?;
    let cert_text = serde_json::to_string_pretty(&certificate).map_err(|e| CliError::usage(e.to_string()))?;
    let cert_path = dir.join("certificate.json");
    write_file(&cert_path, cert_text.as_bytes())?;
    let verifier = Verifier::new(&origin, PublicKey::from(&auth_key).0).map_err(|e| CliError::usage(e.to_string()))?;
    let cert_ok =
        cert::verify(&certificate, &verifier).map_err(|e| CliError::refused(format!("demo certificate: {e}")))?;
    let html_path = dir.join("certificate.html");
    let checked = Checked::Verified { authority_key: PublicKey::from(&auth_key) };
    write_file(&html_path, page(&certificate, cert_text.as_bytes(), &checked).as_bytes())?;

    let rep = ledger.audit(&AuditOptions { indices: true, ..AuditOptions::default() });
    if cli.json {
        emit_json(&json!({
            "ledger": ledger_dir,
            "keys": keys_dir,
            "ledger_id": genesis.event().ledger_id,
            "checkpoint": note,
            "certificate": cert_path,
            "certificate_html": html_path,
            "certificate_entries": cert_ok.entries,
            "verify": rep,
        }));
    } else {
        emit("");
        emit(&format!("verify: {}", if rep.ok { "intact" } else { "FAULT" }));
        crate::verify::report_audit(false, &rep, None);
        emit("");
        emit(&format!(
            "checkpoint: tree size {size} signed by the authority -> {}",
            dir.join("checkpoint.txt").display()
        ));
        emit(&format!(
            "certificate: {DEMO_CERT_LOT} issued by EXPORTER-MUNTOK, {} entries, verified offline -> {}",
            cert_ok.entries,
            cert_path.display()
        ));
        for o in &certificate.summary.origins {
            emit(&format!("  {:>8} of its tin from {} ({})", share_pct(o.share_ppb), o.mine, o.name));
        }
        emit(&format!("  page for people: {}", html_path.display()));
        emit("");
        emit(&format!("next: tinledger --ledger {} verify", ledger_dir.display()));
        emit(&format!("      tinledger --ledger {} lot SOLDER-KEK-2026-007", ledger_dir.display()));
        emit(&format!(
            "      tinledger cert verify {} --authority-key {}",
            cert_path.display(),
            keys_dir.join("AUTH-BABEL.pub.pem").display()
        ));
    }
    if rep.ok {
        Ok(())
    } else {
        Err(CliError::refused("the demo ledger failed verification"))
    }
}
