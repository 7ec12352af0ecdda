//! Opening the ledger named by `--ledger`: waiting for another process's
//! lock as `--wait` says (telling the user once, on stderr), and `-v`'s
//! line about what was opened. Every command opens its ledger here.

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{detail, note};
use std::path::Path;
use std::time::{Duration, Instant};
use tinledger_core::SignedEvent;
use tinledger_ledger::{Ledger, LedgerError, LockHolder, LockWait, Receipt};

/// The message for a process that starts waiting (docs/cli.md §1.6).
pub fn tell(cli: &Cli) -> impl Fn(&LockHolder) + '_ {
    move |h: &LockHolder| {
        let who = h.pid.map(|p| format!(" held by PID {p}")).unwrap_or_default();
        note(&format!(
            "waiting for the ledger lock on {}{who} (up to {} s; --wait SECONDS changes this)",
            h.dir.display(),
            cli.wait
        ));
    }
}

/// Run `open` with `--wait` in force, then say with `-v` what was opened.
fn with_wait<T>(
    cli: &Cli,
    dir: &Path,
    open: impl FnOnce(&LockWait) -> Result<T, LedgerError>,
    head: impl Fn(&T) -> (u64, String),
) -> Result<T, CliError> {
    let tell = tell(cli);
    let wait = LockWait { timeout: Duration::from_secs(cli.wait), on_wait: Some(&tell) };
    let started = Instant::now();
    let t = open(&wait)?;
    let (size, hash) = head(&t);
    detail(&format!(
        "opened ledger {} ({size} entries, head {hash}) in {} ms",
        dir.display(),
        started.elapsed().as_millis()
    ));
    Ok(t)
}

fn head_of(l: &Ledger) -> (u64, String) {
    (l.head().size, l.head().hash.to_hex())
}

/// Open `--ledger` for reading and appending.
pub fn ledger(cli: &Cli) -> Result<Ledger, CliError> {
    with_wait(cli, &cli.ledger, |w| Ledger::open_waiting(&cli.ledger, w), head_of)
}

/// Open `--ledger` for an audit (no head check first).
pub fn for_audit(cli: &Cli) -> Result<Ledger, LedgerError> {
    let tell = tell(cli);
    let wait = LockWait { timeout: Duration::from_secs(cli.wait), on_wait: Some(&tell) };
    let l = Ledger::open_for_audit_waiting(&cli.ledger, &wait)?;
    detail(&format!("opened ledger {} for audit ({} entries recorded)", cli.ledger.display(), l.head().size));
    Ok(l)
}

/// Create a ledger in `dir` from its genesis event.
pub fn create(cli: &Cli, dir: &Path, genesis: &SignedEvent) -> Result<(Ledger, Receipt), CliError> {
    with_wait(cli, dir, |w| Ledger::create_waiting(dir, genesis, w), |(l, _)| head_of(l))
}
