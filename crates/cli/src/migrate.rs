//! `tinledger migrate`: convert a format-1 ledger to the current storage
//! format (docs/cli.md, "migrate"; docs/storage.md, "Migration"). The
//! conversion is `tinledger_ledger::migrate`; this file only shows its
//! progress and reports.

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{done, emit_json, note};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::time::Duration;
use tinledger_ledger::migrate::{self, MigrateHooks, Phase};
use tinledger_ledger::LockWait;

/// Test hook (docs/cli.md, "migrate"): stop this long at the phase it names,
/// so that a test can kill the process in that crash window. Bounded: the
/// migration then goes on.
const PAUSE_ENV: &str = "TINLEDGER_MIGRATE_PAUSE_AT";
const PAUSE: Duration = Duration::from_secs(30);

/// Ledgers smaller than this migrate without a progress bar.
const BAR_FROM: u64 = 10_000;

pub fn migrate(cli: &Cli) -> Result<(), CliError> {
    let dir = &cli.ledger;
    let pause_at = std::env::var(PAUSE_ENV).ok();
    let pb = std::cell::RefCell::new(None::<ProgressBar>);
    let on_phase = |p: Phase| {
        if pause_at.as_deref() == Some(p.name()) {
            note(&format!("migrate: paused at phase {} ({PAUSE_ENV})", p.name()));
            std::thread::sleep(PAUSE);
        }
        if p == Phase::Built {
            if let Some(b) = pb.borrow_mut().take() {
                b.finish_and_clear();
            }
        }
    };
    let on_entries = |n: u64, total: u64| {
        let mut slot = pb.borrow_mut();
        if slot.is_none() && total >= BAR_FROM && crate::output::progress_on(cli.json) {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let tpl = "{msg:>9} [{bar:40}] {human_pos}/{human_len} entries ({eta})";
            if let Ok(st) = ProgressStyle::with_template(&crate::output::bar_template(tpl)) {
                b.set_style(st.progress_chars("=> "));
            }
            b.set_message("migrating");
            *slot = Some(b);
        }
        if let Some(b) = slot.as_ref() {
            b.set_position(n);
        }
    };
    let tell = crate::open::tell(cli);
    let wait = LockWait { timeout: Duration::from_secs(cli.wait), on_wait: Some(&tell) };
    let r = migrate::migrate(dir, &wait, &MigrateHooks { on_phase: &on_phase, on_entries: &on_entries });
    if let Some(b) = pb.borrow_mut().take() {
        b.finish_and_clear();
    }
    let r = r?;
    if r.cleaned {
        note(&format!("removed {} left by an interrupted migration", dir.join(migrate::TEMP_DIR).display()));
    }
    if cli.json {
        emit_json(&json!({
            "from_format": r.from,
            "to_format": r.to,
            "entries": r.head.size,
            "head": r.head.hash.to_hex(),
            "checkpoints": r.checkpoints,
            "backup": r.backup.display().to_string(),
        }));
    } else {
        done(&format!(
            "migrated {} from storage format {} to {}: {} entries, head {}:{}, {} checkpoints carried over",
            dir.display(),
            r.from,
            r.to,
            r.head.size,
            r.head.size.saturating_sub(1),
            r.head.hash,
            r.checkpoints
        ));
        note(&format!(
            "the format-{} data is kept in {}: delete it once `tinledger --ledger {} verify` passes",
            r.from,
            r.backup.display(),
            dir.display()
        ));
    }
    Ok(())
}
