//! `tinledger migrate`: convert a format-1 ledger to the current format
//! (docs/storage.md, "Migration"), using only the public API of the new
//! layout, so that this file does not change when the layout does.
//!
//! Steps and crash windows (each numbered window is a [`Phase`] reported to
//! the caller just after it is reached):
//! 1. Take the ledger's `LOCK` for the whole run; a second `migrate` (or any
//!    other command) waits or is refused. If `db/` is format 1 and
//!    `migrate.tmp/` exists, an earlier run died while building: nothing of
//!    it was ever switched in, so it is deleted (and reported).
//!    *Killed here:* `db/` is the untouched format-1 ledger.
//! 2. Build the new ledger in `migrate.tmp/` (a ledger directory of its own:
//!    `Ledger::create` with the genesis, then `append_batch` in chunks,
//!    which re-checks every rule and signature), compare every entry's
//!    hash, the head and every stored checkpoint's root with the old ones,
//!    store the checkpoints, fsync everything under `migrate.tmp/`.
//!    *Killed here:* `db/` is still format 1; the next `migrate` deletes
//!    the partial `migrate.tmp/` (step 1) and starts again.
//! 3. Switch: one `renameat2(RENAME_EXCHANGE)` swaps `db` and
//!    `migrate.tmp/db` (both stay complete databases; the exchange is
//!    atomic on Linux filesystems), then the ledger directory and
//!    `migrate.tmp/` are fsynced. *Killed before the exchange reaches the
//!    disk:* format 1, as in 2. *After:* `db/` is the complete, fsynced
//!    format-2 ledger and `migrate.tmp/db` holds the format-1 data.
//! 4. Rename `migrate.tmp/db` to `db.format1` (the backup) and fsync.
//!    *Killed between 3 and 4:* every command opens the format-2 ledger;
//!    `migrate` says it is already current and finishes this rename.
//! 5. Delete `migrate.tmp/` (only its `LOCK` is left) and fsync.
//!    *Killed between 4 and 5:* a leftover empty `migrate.tmp/`, which the
//!    next `migrate` deletes.

use crate::engine::LockWait;
use crate::error::LedgerError;
use crate::schema::{DB_DIR, FORMAT_VERSION};
use crate::store::{Head, Ledger};
use crate::v1;
use std::fs::File;
use std::path::{Path, PathBuf};
use tinledger_core::checkpoint::Checkpoint;
use tinledger_core::{Entry, SignedEvent};

/// The directory inside the ledger directory where the new ledger is built.
pub const TEMP_DIR: &str = "migrate.tmp";
/// The name, inside the ledger directory, under which the format-1 data is
/// kept after the switch. The user may delete it once the migrated ledger
/// verifies.
pub const BACKUP_DIR: &str = "db.format1";
/// Events appended per `append_batch` while building (bounds memory and
/// makes each chunk one durable append).
pub const CHUNK: usize = 4096;

/// A point the migration has reached, for progress and for tests that stop
/// the process there (`TINLEDGER_MIGRATE_PAUSE_AT`, docs/cli.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// The lock is held and leftovers of an interrupted build are gone.
    Locked,
    /// The new ledger exists in `migrate.tmp/` with its genesis only.
    Building,
    /// The new ledger is complete, compared and fsynced; not switched yet.
    Built,
    /// `db/` is the new ledger; the old data is still in `migrate.tmp/db`.
    Switched,
    /// The old data is at `db.format1`; `migrate.tmp/` is still there.
    BackedUp,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 5] = [Phase::Locked, Phase::Building, Phase::Built, Phase::Switched, Phase::BackedUp];

    /// The phase's name (as `TINLEDGER_MIGRATE_PAUSE_AT` spells it).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Locked => "locked",
            Phase::Building => "building",
            Phase::Built => "built",
            Phase::Switched => "switched",
            Phase::BackedUp => "backed-up",
        }
    }
}

/// What the caller is told while migrating.
pub struct MigrateHooks<'a> {
    /// Called as each phase is reached.
    pub on_phase: &'a dyn Fn(Phase),
    /// Called after each chunk: (entries appended so far, entries in all).
    pub on_entries: &'a dyn Fn(u64, u64),
}

/// What a finished migration reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrateReport {
    /// The format converted from (1).
    pub from: u32,
    /// The format converted to ([`FORMAT_VERSION`]).
    pub to: u32,
    /// The head of both ledgers (they are compared before the switch).
    pub head: Head,
    /// Stored checkpoints carried over, each root compared.
    pub checkpoints: usize,
    /// Where the format-1 data now is.
    pub backup: PathBuf,
    /// Whether an interrupted earlier build was deleted first.
    pub cleaned: bool,
}

fn io(what: &str, p: &Path) -> impl FnOnce(std::io::Error) -> LedgerError {
    let context = format!("cannot {what} {}", p.display());
    move |e| LedgerError::io(context, e)
}

fn fsync_dir(p: &Path) -> Result<(), LedgerError> {
    File::open(p).and_then(|f| f.sync_all()).map_err(io("fsync", p))
}

fn remove_leftover(dir: &Path, tmp: &Path) -> Result<bool, LedgerError> {
    if !tmp.exists() {
        return Ok(false);
    }
    std::fs::remove_dir_all(tmp).map_err(io("remove", tmp))?;
    fsync_dir(dir)?;
    Ok(true)
}

/// Convert the format-1 ledger in `dir` to the current format, crash-safely
/// (module docs). Refuses with [`LedgerError::AlreadyCurrent`] when `dir`
/// is already current (finishing the backup rename of a migration killed
/// after its switch), [`LedgerError::BackupExists`] when `db.format1` is
/// taken, and with the error of the first entry, rule or comparison that
/// fails; in every refusal `db/` is unchanged.
pub fn migrate(dir: &Path, wait: &LockWait, hooks: &MigrateHooks) -> Result<MigrateReport, LedgerError> {
    let _lock = crate::engine::lock(dir, wait)?;
    let tmp = dir.join(TEMP_DIR);
    let backup = dir.join(BACKUP_DIR);
    let db = v1::open_db(dir)?;
    match v1::stored_format(&db)? {
        Some(v1::FORMAT) => {}
        Some(FORMAT_VERSION) => {
            drop(db);
            return Err(already_current(dir, &tmp, &backup)?);
        }
        Some(v) => {
            return Err(LedgerError::Corrupt { seq: None, reason: format!("unknown storage format {v}") });
        }
        None => return Err(LedgerError::NotFound(dir.to_path_buf())),
    }
    if backup.exists() {
        return Err(LedgerError::BackupExists(backup));
    }
    // Window 1: an interrupted build was never switched in.
    let cleaned = remove_leftover(dir, &tmp)?;
    (hooks.on_phase)(Phase::Locked);

    let old = v1::V1::from_db(db)?;
    // A refusal while building leaves `db/` as it was; the partial new
    // ledger goes (a failure to delete it is left to the next run's step 1).
    let (head, checkpoints) = build(&old, &tmp, hooks).inspect_err(|_| {
        let _ = remove_leftover(dir, &tmp);
    })?;
    (hooks.on_phase)(Phase::Built);

    // Window 3: the switch. sled must have let go of the old files first.
    old.close()?;
    exchange(&dir.join(DB_DIR), &tmp.join(DB_DIR))?;
    fsync_dir(dir)?;
    fsync_dir(&tmp)?;
    (hooks.on_phase)(Phase::Switched);

    // Window 4: name the backup.
    std::fs::rename(tmp.join(DB_DIR), &backup).map_err(io("rename the old data to", &backup))?;
    fsync_dir(dir)?;
    fsync_dir(&tmp)?;
    (hooks.on_phase)(Phase::BackedUp);

    // Window 5: only the temporary ledger's LOCK is left in it.
    remove_leftover(dir, &tmp)?;
    Ok(MigrateReport { from: v1::FORMAT, to: FORMAT_VERSION, head, checkpoints, backup, cleaned })
}

/// The refusal for a current ledger, after finishing what a migration
/// killed between its switch and its backup rename left (window 4).
fn already_current(dir: &Path, tmp: &Path, backup: &Path) -> Result<LedgerError, LedgerError> {
    let mut finished = None;
    let old = tmp.join(DB_DIR);
    if old.is_dir() && !backup.exists() {
        std::fs::rename(&old, backup).map_err(io("rename the old data to", backup))?;
        fsync_dir(dir)?;
        finished = Some(backup.to_path_buf());
    }
    if !old.exists() {
        remove_leftover(dir, tmp)?;
    }
    Ok(LedgerError::AlreadyCurrent { dir: dir.to_path_buf(), format: FORMAT_VERSION, finished })
}

/// Window 2: the new ledger in `tmp`, compared with the old one and fsynced.
fn build(old: &v1::V1, tmp: &Path, hooks: &MigrateHooks) -> Result<(Head, usize), LedgerError> {
    let total = old.len();
    let mut entries = old.entries();
    let genesis = match entries.next() {
        Some(e) => e?,
        None => return Err(LedgerError::Corrupt { seq: Some(0), reason: "ledger has no genesis entry".into() }),
    };
    let (mut new, r) = Ledger::create_waiting(tmp, &signed(&genesis)?, &LockWait::none())?;
    same_hash(&genesis, r.hash)?;
    (hooks.on_phase)(Phase::Building);
    (hooks.on_entries)(1, total);
    let mut done = 1u64;
    let mut chunk: Vec<Entry> = Vec::with_capacity(CHUNK);
    loop {
        let next = entries.next().transpose()?;
        let end = next.is_none();
        if let Some(e) = next {
            chunk.push(e);
            if chunk.len() < CHUNK {
                continue;
            }
        }
        if !chunk.is_empty() {
            let evs = chunk.iter().map(signed).collect::<Result<Vec<SignedEvent>, _>>()?;
            let receipts = new.append_batch(&evs)?;
            for (e, r) in chunk.iter().zip(&receipts) {
                same_hash(e, r.hash)?;
            }
            done += chunk.len() as u64;
            chunk.clear();
            (hooks.on_entries)(done, total);
        }
        if end {
            break;
        }
    }
    let head = new.head();
    if let Some((size, hash)) = old.head() {
        if (size, hash) != (head.size, head.hash) {
            return Err(LedgerError::Corrupt {
                seq: None,
                reason: format!(
                    "the format-1 head records {size}:{hash} but its entries rebuild to {}:{}; nothing was switched",
                    head.size, head.hash
                ),
            });
        }
    }
    let cps = old.checkpoints()?;
    for (size, note) in &cps {
        let claimed = checkpoint_root(*size, note)?;
        if *size > head.size || new.merkle_root(*size)? != claimed {
            return Err(LedgerError::Corrupt {
                seq: Some(size.saturating_sub(1)),
                reason: format!(
                    "the stored checkpoint for tree size {size} does not match the rebuilt tree; nothing was switched"
                ),
            });
        }
        new.store_checkpoint(*size, note)?;
    }
    new.sync()?;
    drop(new);
    crate::store::sync_tree(tmp)?;
    Ok((head, cps.len()))
}

fn signed(e: &Entry) -> Result<SignedEvent, LedgerError> {
    e.signed_event().map_err(|err| LedgerError::Corrupt { seq: Some(e.seq), reason: err.to_string() })
}

fn same_hash(old: &Entry, new: tinledger_core::EntryHash) -> Result<(), LedgerError> {
    let h = old.hash();
    if h == new {
        return Ok(());
    }
    Err(LedgerError::Corrupt {
        seq: Some(old.seq),
        reason: format!("entry {} hashes to {h} in format 1 but to {new} rebuilt; nothing was switched", old.seq),
    })
}

/// The root a stored checkpoint note claims (its body: the text before the
/// blank line that starts the signatures, docs/formats.md §5.2).
fn checkpoint_root(size: u64, note: &str) -> Result<[u8; 32], LedgerError> {
    let bad = |why: String| LedgerError::Corrupt {
        seq: Some(size.saturating_sub(1)),
        reason: format!("the stored checkpoint for tree size {size} {why}"),
    };
    let end = note.find("\n\n").ok_or_else(|| bad("is not a signed note".into()))?;
    let cp = Checkpoint::parse_body(&note[..=end]).map_err(|e| bad(format!("does not parse: {e}")))?;
    if cp.size != size {
        return Err(bad(format!("says tree size {}", cp.size)));
    }
    Ok(cp.root)
}

/// Swap two directories in one atomic step (Linux `renameat2` with
/// `RENAME_EXCHANGE`): at every instant each name is one complete database.
fn exchange(a: &Path, b: &Path) -> Result<(), LedgerError> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(|e| {
        LedgerError::io(format!("cannot exchange {} and {}", a.display(), b.display()), std::io::Error::from(e))
    })
}
