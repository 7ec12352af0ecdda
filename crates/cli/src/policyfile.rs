//! `--policy FILE`: a C2SP tlog-policy (docs/witness.md, "Trust policies")
//! that a checkpoint must satisfy on top of a command's own trust checks.
//!
//! The policy adds requirements; it never replaces a check: the command
//! still opens the checkpoint with the authority's (or the bound log's)
//! key and checks entries against its root. When the policy lists logs,
//! one of them must also have signed the checkpoint; its quorum of
//! witnesses must have cosigned it.

use crate::error::CliError;
use std::path::Path;
use tinledger_core::policy::{Policy, Verdict, MAX_POLICY_LEN};

/// Read and parse a policy file. A malformed one is a usage error naming
/// the file and the line.
pub fn load(path: &Path) -> Result<Policy, CliError> {
    let bytes = crate::input::read_capped(path, "policy", MAX_POLICY_LEN as u64)?;
    Policy::parse(&bytes).map_err(|e| {
        CliError::usage(format!("{}: {e}", crate::input::name(path)))
            .hint("the format is C2SP tlog-policy: log, witness, group and quorum lines (docs/witness.md)")
    })
}

/// [`load`] for an optional `--policy`.
pub fn load_opt(path: Option<&Path>) -> Result<Option<Policy>, CliError> {
    path.map(load).transpose()
}

/// `note` must satisfy `policy`: a refusal (exit 1) naming what is missing.
pub fn require(policy: &Policy, note: &str, what: &str) -> Result<Verdict, CliError> {
    policy.check(note).map_err(|e| CliError::refused(format!("{what}: {e}")))
}

/// The witnesses that cosigned, for a report line: `cosigned by A, B`.
pub fn cosigned_line(v: &Verdict) -> String {
    if v.cosigned.is_empty() {
        return "no witness cosignature needed".into();
    }
    let names: Vec<&str> = v.cosigned.iter().map(|(n, _)| n.as_str()).collect();
    format!("cosigned by {}", names.join(", "))
}

/// The witness names, for `--json`.
pub fn cosigned_json(v: &Verdict) -> serde_json::Value {
    serde_json::Value::from(v.cosigned.iter().map(|(n, _)| n.clone()).collect::<Vec<String>>())
}
