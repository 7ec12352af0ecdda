//! "Did you mean": hints naming the known lot or actor ids closest to one
//! the ledger does not know (`Ledger::suggest_lots`, `suggest_actors`).

use crate::error::CliError;
use tinledger_core::RuleError;
use tinledger_ledger::{Ledger, LedgerError};

/// "did you mean A or B?", or empty when no known id is close.
fn did_you_mean(near: &[String]) -> String {
    match near {
        [] => String::new(),
        [one] => format!("did you mean {one}?"),
        [rest @ .., last] => format!("did you mean {} or {last}?", rest.join(", ")),
    }
}

fn join(first: String, then: &str) -> String {
    if first.is_empty() {
        then.to_string()
    } else {
        format!("{first} ({then})")
    }
}

/// The hint for an unknown lot id.
pub fn lot_hint(l: &Ledger, typed: &str) -> String {
    join(did_you_mean(&l.suggest_lots(typed).unwrap_or_default()), "list lots with `tinledger lot list`")
}

/// The hint for an unknown actor id.
pub fn actor_hint(l: &Ledger, typed: &str) -> String {
    join(did_you_mean(&l.suggest_actors(typed).unwrap_or_default()), "list actors with `tinledger actor list`")
}

/// "unknown lot ID" (exit 2) with a "did you mean" hint.
pub fn unknown_lot(l: &Ledger, typed: &str) -> CliError {
    CliError::usage(format!("unknown lot {typed}")).hint(lot_hint(l, typed))
}

/// "unknown actor ID" (exit 2) with a "did you mean" hint.
pub fn unknown_actor(l: &Ledger, typed: &str) -> CliError {
    CliError::usage(format!("unknown actor {typed}")).hint(actor_hint(l, typed))
}

/// An append refused for an unknown lot or actor gets a "did you mean"
/// before its usual hint; every other error is converted as usual.
pub fn refused(l: &Ledger, e: LedgerError) -> CliError {
    let near = match &e {
        LedgerError::Refused { source: RuleError::UnknownLot(id), .. } => l.suggest_lots(id.as_str()),
        LedgerError::Refused { source: RuleError::UnknownActor(id), .. } => l.suggest_actors(id.as_str()),
        _ => Ok(Vec::new()),
    };
    let mean = did_you_mean(&near.unwrap_or_default());
    let mut err = CliError::from(e);
    if !mean.is_empty() {
        err.hint = Some(match err.hint.take() {
            Some(h) => format!("{mean} {h}"),
            None => mean,
        });
    }
    err
}
