//! `tinledger cert issue|verify|render`.

use crate::args::{CertCmd, Cli, PassphraseEnv, Trust};
use crate::error::{CliError, UsageExt};
use crate::keys;
use crate::output::{emit, emit_json};
use crate::output::{out_name, report, report_json, write_atomic};
use crate::proofs::trusted_verifier;
use serde_json::json;
use std::path::Path;
use tinledger_core::cert::{self, Certificate};
use tinledger_core::event::PublicKey;
use tinledger_core::rules::StateView;
use tinledger_core::units::{format_grade, format_mass, Timestamp};
use tinledger_core::LotId;
use tinledger_formats::cert_html::{self, share_pct, Checked};
use tinledger_ledger::Ledger;

pub fn run(cli: &Cli, c: &CertCmd) -> Result<(), CliError> {
    match c {
        CertCmd::Issue { lot, key, out, at, .. } => issue(cli, lot, key, out, at.as_deref()),
        CertCmd::Verify { cert, trust, policy } => verify(cli, cert, trust, policy.policy.as_deref()),
        CertCmd::Render { cert, html, authority_key, verifier_key, unverified, policy } => {
            let trust = (!unverified).then(|| Trust {
                authority_key: authority_key.clone(),
                verifier_key: verifier_key.clone(),
                pass: PassphraseEnv { var: None },
            });
            render(cli, cert, html, trust.as_ref(), policy.policy.as_deref())
        }
    }
}

/// Issue a certificate from an open ledger (shared with the demo).
pub fn issue_from(
    l: &Ledger,
    lot: &LotId,
    key: &ed25519_dalek::SigningKey,
    at: Timestamp,
) -> Result<Certificate, CliError> {
    let pk = PublicKey::from(key);
    let exporter = l
        .view()
        .actor_by_key(&pk)
        .map_err(|e| CliError::refused(e.to_string()))?
        .ok_or_else(|| CliError::refused(format!("key id {} is not registered to any actor", pk.key_id())))?;
    let (_, note) = l.latest_checkpoint()?.ok_or_else(|| {
        CliError::usage("this ledger has no signed checkpoint yet")
            .hint("the authority signs one on the ledger host: tinledger checkpoint --key AUTHORITY_KEY")
    })?;
    let (cp, _) = crate::proofs::open_ledger_cp(l, &note, "the latest stored checkpoint")?;
    let history = l.lot_history(lot)?;
    match history.last() {
        None => return Err(crate::suggest::unknown_lot(l, lot.as_str())),
        Some(last) if *last >= cp.size => {
            return Err(CliError::usage(format!(
                "the latest signed checkpoint covers {} entries, but lot {lot} has entries up to seq {last}",
                cp.size
            ))
            .hint("ask the authority to sign a new checkpoint: tinledger checkpoint --key AUTHORITY_KEY"))
        }
        _ => {}
    }
    cert::issue(l, lot, &note, &cp, &exporter, key, at).map_err(|e| CliError::refused(format!("cannot issue: {e}")))
}

fn issue(cli: &Cli, lot: &str, key: &Path, out: &Path, at: Option<&str>) -> Result<(), CliError> {
    let lot = LotId::new(lot).usage()?;
    let sk = keys::load_signing_key(key)?;
    let at = match at {
        Some(s) => s.parse().usage()?,
        None => crate::commands::now(),
    };
    let c = match cli.server.as_deref() {
        Some(url) => crate::remote_cmds::cert_issue(url, &lot, &sk, at)?,
        None => issue_from(&crate::open::ledger(cli)?, &lot, &sk, at)?,
    };
    let text = serde_json::to_string_pretty(&c).map_err(|e| CliError::usage(e.to_string()))?;
    write_atomic(out, text.as_bytes(), false)?;
    if cli.json {
        report_json(out, &json!({"file": out, "lot": c.lot, "entries": c.entries.len(), "tree_size": tree_size(&c)}));
    } else {
        report(
            out,
            &format!(
                "issued certificate for {} by {}: {} entries, checkpoint tree size {} -> {}",
                c.lot,
                c.exporter,
                c.entries.len(),
                tree_size(&c),
                out.display()
            ),
        );
    }
    Ok(())
}

fn tree_size(c: &Certificate) -> u64 {
    c.checkpoint.lines().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Largest certificate read.
const MAX_CERT: u64 = 256 * 1024 * 1024;

pub fn load(path: &Path) -> Result<Certificate, CliError> {
    load_with_bytes(path).map(|(c, _)| c)
}

/// [`load`], also returning the file's bytes (the page hashes them).
fn load_with_bytes(path: &Path) -> Result<(Certificate, String), CliError> {
    let text = crate::input::read_text_capped(path, "certificate", MAX_CERT)?;
    let c = Certificate::from_json(&text)
        .map_err(|e| CliError::refused(format!("certificate INVALID: {}: {e}", crate::input::name(path))))?;
    Ok((c, text))
}

/// Verify `c` with `trust` (fresh batch weights; the verdict does not depend
/// on them), returning the trusted authority key that opened the checkpoint.
fn verify_with(c: &Certificate, trust: &Trust) -> Result<(cert::Verified, PublicKey), (&'static str, CliError)> {
    let v = trusted_verifier(trust, &c.checkpoint).map_err(|mut e| {
        if e.code == crate::error::EXIT_REFUSED {
            e.msg = format!("certificate INVALID: {}", e.msg);
        }
        ("checkpoint", e)
    })?;
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    cert::verify_seeded(c, &v, &seed)
        .map(|vf| (vf, PublicKey(v.key)))
        .map_err(|e| (e.code, CliError::refused(format!("certificate INVALID: {e}"))))
}

fn verify(cli: &Cli, path: &Path, trust: &Trust, policy: Option<&Path>) -> Result<(), CliError> {
    // With --json every failure is one JSON object on stdout (docs/cli.md,
    // cert): `usage` for what stops the check before it starts (exit 2),
    // otherwise the code of the failing step (exit 1).
    let fail = |code: &str, e: CliError| -> CliError {
        if !cli.json {
            return e;
        }
        let code = if e.code == crate::error::EXIT_REFUSED { code } else { "usage" };
        let reason = e.msg.strip_prefix("certificate INVALID: ").unwrap_or(&e.msg);
        emit_json(&json!({"ok": false, "error": {"code": code, "reason": reason}}));
        CliError { code: e.code, msg: String::new(), hint: None }
    };
    let policy = crate::policyfile::load_opt(policy).map_err(|e| fail("usage", e))?;
    let c = load(path).map_err(|e| fail("format", e))?;
    let ok = verify_with(&c, trust);
    match ok {
        Err((code, e)) => Err(fail(code, e)),
        Ok((vf, _)) => {
            // The policy adds the witnesses' requirement to the checks above.
            let verdict = policy
                .map(|p| crate::policyfile::require(&p, &c.checkpoint, "certificate INVALID: its checkpoint"))
                .transpose()
                .map_err(|e| fail("policy", e))?;
            let s = &c.summary;
            if cli.json {
                let mut v = json!({"ok": true, "lot": c.lot, "exporter": c.exporter, "entries": vf.entries,
                    "tree_size": vf.checkpoint.size, "summary": s});
                if let Some(vd) = &verdict {
                    v["cosigned_by"] = crate::policyfile::cosigned_json(vd);
                }
                emit_json(&v);
                return Ok(());
            }
            emit(&format!("certificate OK: lot {} issued by {} at {}", c.lot, c.exporter, c.issued_at));
            emit(&format!(
                "  {} entries proven in {} at tree size {}",
                vf.entries, vf.checkpoint.origin, vf.checkpoint.size
            ));
            match &verdict {
                Some(vd) => emit(&format!("  witnesses: policy OK, {}", crate::policyfile::cosigned_line(vd))),
                None => {
                    let names = cosignature_names(&c.checkpoint);
                    if !names.is_empty() {
                        emit(&format!(
                            "  witnesses: cosignature lines by {} (not checked: give --policy FILE)",
                            names.join(", ")
                        ));
                    }
                }
            }
            emit(&format!(
                "  lot: {} {}, {}, contained tin {} ({})",
                s.lot.material,
                format_mass(s.lot.mass_g),
                s.lot.grade_ppm.map(format_grade).unwrap_or_else(|| "grade unknown".into()),
                format_mass(s.contained_tin_g),
                s.lot.state
            ));
            for o in &s.origins {
                emit(&format!(
                    "  origin: {:<8} {:<20} {} licence {} at {}",
                    share_pct(o.share_ppb),
                    o.mine.as_str(),
                    o.name,
                    o.licence.as_deref().unwrap_or("-"),
                    o.location.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
                ));
            }
            for sm in &s.smelters {
                emit(&format!("  smelter: {} ({}) RMI {}", sm.smelter, sm.name, sm.rmi_cid.as_deref().unwrap_or("-")));
            }
            if let Some(x) = &s.export {
                emit(&format!(
                    "  export: seq {} to {} HS {} permit {} surveyor {} consignee {}",
                    x.seq, x.destination, x.hs_code, x.permit, x.surveyor_report, x.consignee
                ));
            }
            for f in &s.flags {
                emit(&format!("  flag: {f}"));
            }
            if !s.untrusted_entries.is_empty() {
                emit(&format!(
                    "  WARNING: entries signed with keys later reported compromised: {:?}",
                    s.untrusted_entries
                ));
            }
            Ok(())
        }
    }
}

/// The key names on a note's cosignature lines (unverified: only a policy
/// knows the witnesses' keys).
pub fn cosignature_names(note: &str) -> Vec<String> {
    let Ok((_, lines)) = tinledger_core::note::Note::parse_lines(note) else { return vec![] };
    let mut names: Vec<String> = lines.into_iter().filter(|l| l.cosignature().is_some()).map(|l| l.name).collect();
    names.dedup();
    names
}

fn render(cli: &Cli, path: &Path, html: &Path, trust: Option<&Trust>, policy: Option<&Path>) -> Result<(), CliError> {
    let policy = crate::policyfile::load_opt(policy)?;
    let (c, text) = load_with_bytes(path)?;
    // A page is only rendered as verified after the same checks as `cert
    // verify`; a certificate that fails them is refused (nothing written)
    // unless --unverified asked for a page marked NOT VERIFIED.
    let checked = match trust {
        Some(t) => {
            let (_, authority_key) = verify_with(&c, t).map_err(|(_, e)| match e.code {
                crate::error::EXIT_REFUSED => e.hint(
                    "nothing was written; to look at it anyway: tinledger cert render FILE --html OUT --unverified",
                ),
                _ => e,
            })?;
            match &policy {
                None => Checked::Verified { authority_key },
                Some(p) => {
                    let vd = crate::policyfile::require(p, &c.checkpoint, "certificate INVALID: its checkpoint")
                        .map_err(|e| e.hint("nothing was written"))?;
                    Checked::VerifiedWithPolicy {
                        authority_key,
                        witnesses: vd.cosigned.into_iter().map(|(n, _)| n).collect(),
                        quorum: p.quorum_rule(),
                    }
                }
            }
        }
        None => Checked::Unverified,
    };
    let page = cert_html::page(&c, text.as_bytes(), &checked);
    write_atomic(html, page.as_bytes(), false)?;
    let verified = trust.is_some();
    if cli.json {
        report_json(html, &json!({"file": html, "verified": verified}));
    } else if verified {
        report(html, &format!("certificate OK; wrote the page to {}", out_name(html)));
    } else {
        report(html, &format!("wrote the page to {} (NOT VERIFIED: rendered with --unverified)", out_name(html)));
    }
    Ok(())
}
