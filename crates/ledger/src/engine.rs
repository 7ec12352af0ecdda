//! Opening sled 0.34.7, with the three things its own open gets wrong for
//! us (docs/storage.md §5, "Opening sled"):
//!
//! 1. **The snapshot swap.** On every open that finds log records newer
//!    than its snapshot, sled (`pagecache/snapshot.rs`, `write_snapshot`)
//!    writes `db/snap.<LSN>.generating`, fsyncs it, renames it to
//!    `db/snap.<LSN>`, then unlinks every other `snap.*` file. Its reader
//!    (`read_snapshot`, via `Config::get_snapshot_files`) skips only
//!    `.in___motion` files and takes the lexicographically last `snap.*`
//!    name, which is the `.generating` one. So a kill, a power cut or a full
//!    disk in that window leaves a file that every later open reads as
//!    corrupt (spacejam/sled#1527). Before each open we settle such files
//!    (see [`settle_snapshots`] for why that is always safe), and after it we
//!    fsync `db/` so the swap is durable before any command reports success.
//! 2. **Its lock.** sled takes `flock(LOCK_EX|LOCK_NB)` on `db/db` and
//!    reports a held lock as `ErrorKind::Other` ("could not acquire lock
//!    on …"), not `WouldBlock`. We probe that lock ourselves first, wait for
//!    it, and report the ledger as in use.
//! 3. **Its errors.** (below)
//!
//! And the ledger's own lock, `LOCK` (docs/storage.md §3): one process at a
//! time opens a ledger, readers included, because sled's lock on `db/db` is
//! exclusive. [`lock`] waits for it for a bounded time ([`LockWait`]),
//! telling the caller once who holds it (the holder writes its PID into
//! `LOCK`), so that concurrent commands take turns instead of failing.
//!
//! 4. **Its errors** (the third point above). A failed open is an `io::Error` without a path; we
//!    name the file (an unwritable `db/db`, the snapshot a full disk cut
//!    short) so the message says what to fix.

use crate::error::LedgerError;
use crate::schema::{DB_DIR, LOCK_FILE};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// sled's data file and settings file inside `db/`.
const SLED_DATA: &str = "db";
const SLED_CONF: &str = "conf";
/// sled 0.34.7's snapshot names: `snap.<LSN as 16 hex digits>`, written as
/// `snap.<LSN>.generating` first.
const SNAP_PREFIX: &str = "snap.";
const SNAP_GENERATING: &str = ".generating";
/// How long to wait for sled's own lock before reporting the ledger in use.
const LOCK_WAIT: Duration = Duration::from_secs(5);
const LOCK_POLL: Duration = Duration::from_millis(20);

/// How often a waiting process tries the ledger's `LOCK` again.
const LEDGER_LOCK_POLL: Duration = Duration::from_millis(25);
/// The most of a `LOCK` file read for its PID.
const MAX_LOCK_TEXT: u64 = 64;

/// Who holds a ledger's `LOCK`, as told to a process that waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// The ledger directory.
    pub dir: PathBuf,
    /// The PID the holder wrote into `LOCK`, if it has written one yet.
    pub pid: Option<u32>,
}

/// How long `lock` waits for a ledger held by another process, and what
/// it calls once when the wait begins (to say so on a terminal).
pub struct LockWait<'a> {
    /// Zero: fail at once, as before waiting existed.
    pub timeout: Duration,
    /// Called once, when the lock is found held and `timeout` is not zero.
    pub on_wait: Option<&'a dyn Fn(&LockHolder)>,
}

impl LockWait<'_> {
    /// Do not wait: a held lock is an error at once.
    pub fn none() -> LockWait<'static> {
        LockWait { timeout: Duration::ZERO, on_wait: None }
    }
}

/// The PID written in `LOCK` at `path`, if any.
fn holder_pid(path: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(path).ok()?.take(MAX_LOCK_TEXT).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Take the ledger's `LOCK` (`flock(LOCK_EX)`, released when the file is
/// closed, so a killed holder never leaves it held), waiting up to
/// `wait.timeout` for another process to release it. The holder writes its
/// PID into `LOCK` for the messages of those who wait; the file's content
/// means nothing else (a stale PID after a holder died is harmless: the
/// lock itself is free then).
pub(crate) fn lock(dir: &Path, wait: &LockWait) -> Result<File, LedgerError> {
    let path = dir.join(LOCK_FILE);
    let mut f = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| {
        // Read-only media or no write permission: sled must write to open
        // the database, so say so here, before anything else is tried.
        if is_not_writable(&e) {
            LedgerError::NotWritable { dir: dir.to_path_buf(), path: path.clone(), source: e }
        } else {
            LedgerError::io(format!("cannot open lock file {}", path.display()), e)
        }
    })?;
    let started = Instant::now();
    let mut told = false;
    loop {
        match f.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let waited = started.elapsed();
                if waited >= wait.timeout {
                    return Err(LedgerError::Locked { dir: dir.to_path_buf(), pid: holder_pid(&path), waited });
                }
                if !told {
                    told = true;
                    if let Some(tell) = wait.on_wait {
                        tell(&LockHolder { dir: dir.to_path_buf(), pid: holder_pid(&path) });
                    }
                }
                std::thread::sleep(LEDGER_LOCK_POLL.min(wait.timeout - waited));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LedgerError::io(format!("cannot lock {}", path.display()), e))
            }
        }
    }
    // Best effort: the PID is only for the messages of those who wait, so
    // a full disk here is not this command's failure (the open that
    // follows reports it if it matters). Crash window: killed between
    // these writes, `LOCK` holds a partial PID or none; waiters then name
    // no PID, and the lock is released anyway.
    let pid = format!("{}\n", std::process::id());
    let _ = f.set_len(0).and_then(|_| f.write_all(pid.as_bytes()));
    Ok(f)
}

/// Why there is no ledger at a directory, for the message that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The directory itself exists (it holds no ledger).
    pub dir_exists: bool,
    /// A ledger directory beside it with a similar name (a typo's target).
    pub similar: Option<PathBuf>,
}

/// How many entries of the parent directory are looked at for a similar name.
const MAX_SIBLINGS: usize = 4096;

/// Explain a missing ledger at `dir`: does the directory exist, and is there
/// a ledger beside it whose name is within two edits (or shares all but
/// a quarter of its letters) of `dir`'s name?
pub fn explain_missing(dir: &Path) -> Missing {
    let dir_exists = dir.is_dir();
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut best: Option<(f64, PathBuf)> = None;
    if !name.is_empty() {
        for ent in std::fs::read_dir(&parent).into_iter().flatten().take(MAX_SIBLINGS).flatten() {
            let other = ent.file_name();
            let Some(other) = other.to_str() else { continue };
            if other == name || !ent.path().join(DB_DIR).is_dir() {
                continue;
            }
            let score = strsim::normalized_damerau_levenshtein(name, other);
            let close = strsim::damerau_levenshtein(name, other) <= 2 || score >= 0.75;
            if close && best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, parent.join(other)));
            }
        }
    }
    Missing { dir_exists, similar: best.map(|(_, p)| p) }
}

/// What [`settle_snapshots`] did with an unfinished snapshot.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settled {
    /// Complete (sled's own length and CRC check passes): renamed to its
    /// final name, the step sled did not get to.
    Finished(PathBuf),
    /// Empty, partial or superseded: removed.
    Removed(PathBuf),
}

/// Why one open attempt did not give a database.
enum Attempt {
    /// sled's lock on `db/db` is held by someone else.
    Busy,
    Failed(LedgerError),
}

impl From<LedgerError> for Attempt {
    fn from(e: LedgerError) -> Self {
        Attempt::Failed(e)
    }
}

/// Open the sled database of the ledger in `ledger` with `config` (whose
/// path is `ledger/db`). The caller holds the ledger's `LOCK`.
pub(crate) fn open(ledger: &Path, config: &sled::Config) -> Result<sled::Db, LedgerError> {
    // We hold the ledger's LOCK, so sled's lock can be held only for a
    // moment (by a process that has just released LOCK, or by a child it
    // forked that has not yet exec'd and still shares the descriptor), or
    // by a process that reached `db/` another way (LOCK deleted while held,
    // a symlink or bind mount to `db/`). Wait a little, then report it.
    let started = Instant::now();
    loop {
        match attempt(ledger, config) {
            Ok(db) => return Ok(db),
            Err(Attempt::Failed(e)) => return Err(e),
            Err(Attempt::Busy) if started.elapsed() < LOCK_WAIT => std::thread::sleep(LOCK_POLL),
            Err(Attempt::Busy) => {
                return Err(LedgerError::Locked { dir: ledger.to_path_buf(), pid: None, waited: started.elapsed() })
            }
        }
    }
}

fn attempt(ledger: &Path, config: &sled::Config) -> Result<sled::Db, Attempt> {
    let db_dir = ledger.join(DB_DIR);
    under_sled_lock(&db_dir, || settle_snapshots(&db_dir).map(drop))?;
    let db = match config.open() {
        Ok(db) => db,
        Err(sled::Error::Io(e)) if is_sled_lock_error(&e) => return Err(Attempt::Busy),
        Err(e) => {
            // A failed open (a full disk while writing the snapshot) leaves
            // its partial snapshot behind: remove it now, which also frees
            // its space, and name it in the error.
            let mut settled = Vec::new();
            under_sled_lock(&db_dir, || {
                settled = settle_snapshots(&db_dir)?;
                Ok(())
            })?;
            return Err(Attempt::Failed(diagnose(ledger, &db_dir, e, &settled)));
        }
    };
    // The swap (rename, unlink of the old snapshot) and any blob sled's
    // recovery removed are directory changes: make them durable now, so a
    // power cut after a command reported success cannot bring back the
    // state before the swap (docs/storage.md §5).
    for dir in [db_dir.clone(), db_dir.join("blobs")] {
        if dir.is_dir() {
            fsync(&dir)?;
        }
    }
    Ok(db)
}

/// Run `f` while holding sled's own lock on `db/db` (if that file exists;
/// without it there is no database yet and nothing to settle). Busy if
/// another process holds it.
fn under_sled_lock(db_dir: &Path, f: impl FnOnce() -> Result<(), LedgerError>) -> Result<(), Attempt> {
    let path = db_dir.join(SLED_DATA);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Attempt::Failed(LedgerError::io(format!("cannot open {}", path.display()), e))),
    };
    // The same flock sled takes (fs2 uses flock(2) on Linux, as std does).
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(Attempt::Busy),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Attempt::Failed(LedgerError::io(format!("cannot lock {}", path.display()), e)))
        }
    }
    f()?;
    // Dropping `file` releases the lock for sled's own open.
    drop(file);
    Ok(())
}

/// sled 0.34.7 (`Config::try_lock`) turns a held lock into
/// `io::Error::new(ErrorKind::Other, "could not acquire lock on …")`.
fn is_sled_lock_error(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
        || (e.kind() == ErrorKind::Other && e.to_string().starts_with("could not acquire lock on"))
}

/// Whether `e` says a file cannot be written at all (read-only media, no
/// permission), as opposed to a write that failed.
pub(crate) fn is_not_writable(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied)
}

/// Settle every `db/snap.*.generating` file an interrupted sled open left:
/// finish a complete one (rename it, as sled would have next), remove any
/// other. Called only under sled's lock, so no live open is writing one.
///
/// Why removing an incomplete one is always safe, window by window of
/// sled's `write_snapshot` (write, fsync, rename, unlink the old ones):
/// - **Died while writing or before the fsync** (kill, full disk): the file
///   is empty or partial. The previous complete snapshot is unlinked only
///   after the rename, so it is still there (or there never was one, and
///   sled rebuilds from the start of its log). A snapshot is only an index
///   of sled's log, and nothing after `write_snapshot` has run (sled zeroes
///   torn log segments and removes stale blobs only after it returns), so
///   the older snapshot plus the log is exactly the state sled had before
///   this open: every later open recovers from it the way it recovers
///   after any run of appends.
/// - **Died after the fsync, before the rename**, or **power cut after the
///   rename but before the directory reached the disk**: the file is
///   complete (length and CRC check out, the same check sled's reader
///   makes), and sled may already have acted on it. It is renamed, which is
///   what sled would have done, and sled then reads it as it would have.
/// - **Died after the rename, before unlinking the old snapshot**: no
///   `.generating` file is left; sled reads the newest snapshot by name and
///   removes the older one at its next snapshot.
/// - A complete file whose final name already exists is a duplicate: removed.
///
/// Removing is also needed for correctness beyond the wrong pick: sled
/// opens `.generating` without truncating it, so a longer leftover of the
/// same LSN would leave stale bytes after the new snapshot.
pub(crate) fn settle_snapshots(db_dir: &Path) -> Result<Vec<Settled>, LedgerError> {
    let list = |e| LedgerError::io(format!("cannot list {}", db_dir.display()), e);
    let mut done = Vec::new();
    for ent in std::fs::read_dir(db_dir).map_err(list)? {
        let ent = ent.map_err(list)?;
        let name = ent.file_name();
        let Some(final_name) =
            name.to_str().and_then(|n| n.strip_prefix(SNAP_PREFIX)).and_then(|n| n.strip_suffix(SNAP_GENERATING))
        else {
            continue;
        };
        let path = ent.path();
        let final_path = db_dir.join(format!("{SNAP_PREFIX}{final_name}"));
        let not_writable = |e: std::io::Error| {
            if is_not_writable(&e) {
                LedgerError::NotWritable { dir: ledger_of(db_dir), path: path.clone(), source: e }
            } else {
                LedgerError::io(format!("cannot remove sled's unfinished snapshot {}", path.display()), e)
            }
        };
        if !final_path.exists() && snapshot_is_complete(&path)? {
            std::fs::rename(&path, &final_path).map_err(not_writable)?;
            done.push(Settled::Finished(path));
        } else {
            std::fs::remove_file(&path).map_err(not_writable)?;
            done.push(Settled::Removed(path));
        }
    }
    if !done.is_empty() {
        fsync(db_dir)?;
    }
    Ok(done)
}

/// sled 0.34.7's own check of a snapshot file (`read_snapshot`): more than
/// 12 bytes, ending in the decompressed length (u64 LE) and the CRC-32 (u32
/// LE) of everything before those 12 bytes. Streams the file.
fn snapshot_is_complete(path: &Path) -> Result<bool, LedgerError> {
    let read = |e| LedgerError::io(format!("cannot read sled's snapshot {}", path.display()), e);
    let mut f = File::open(path).map_err(read)?;
    let meta = f.metadata().map_err(read)?;
    let len = meta.len();
    if !meta.is_file() || len <= 12 {
        return Ok(false);
    }
    let mut hasher = crc32fast::Hasher::new();
    let mut body = (&mut f).take(len - 12);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = body.read(&mut buf).map_err(read)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    let mut tail = [0u8; 12];
    if f.read_exact(&mut tail).is_err() {
        return Ok(false);
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&tail[8..]);
    Ok(u32::from_le_bytes(crc) == hasher.finalize())
}

/// The ledger directory of a `db/` directory.
fn ledger_of(db_dir: &Path) -> PathBuf {
    db_dir.parent().map_or_else(|| db_dir.to_path_buf(), Path::to_path_buf)
}

fn fsync(dir: &Path) -> Result<(), LedgerError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| LedgerError::io(format!("cannot fsync {}", dir.display()), e))
}

/// Turn sled's failed open into an error that names the file.
fn diagnose(ledger: &Path, db_dir: &Path, e: sled::Error, settled: &[Settled]) -> LedgerError {
    let sled::Error::Io(e) = e else { return e.into() };
    if is_not_writable(&e) {
        // sled opens `db/db` (and writes `conf` once) read-write, and creates
        // its snapshot in `db/`: name the first of those that refuses.
        for name in [SLED_DATA, SLED_CONF] {
            let path = db_dir.join(name);
            if let Err(source) = OpenOptions::new().read(true).write(true).open(&path) {
                if is_not_writable(&source) {
                    return LedgerError::NotWritable { dir: ledger.to_path_buf(), path, source };
                }
            }
        }
        return LedgerError::NotWritable { dir: ledger.to_path_buf(), path: db_dir.to_path_buf(), source: e };
    }
    let partial = settled.iter().find_map(|s| match s {
        Settled::Removed(p) => Some(p),
        Settled::Finished(_) => None,
    });
    match partial {
        Some(p) => LedgerError::io(
            format!("cannot open ledger {}: writing sled's snapshot {} failed", ledger.display(), p.display()),
            e,
        ),
        None => LedgerError::io(
            format!("cannot open ledger {} (storage engine in {})", ledger.display(), db_dir.display()),
            e,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_bytes(body: &[u8]) -> Vec<u8> {
        let mut v = body.to_vec();
        v.extend_from_slice(&(body.len() as u64).to_le_bytes());
        v.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        v
    }

    #[test]
    fn unfinished_snapshots_are_finished_when_complete_and_removed_otherwise() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let full = snapshot_bytes(&[7u8; 100_000]);
        std::fs::write(d.join("snap.0000000000000010"), snapshot_bytes(b"older")).unwrap();
        std::fs::write(d.join("snap.0000000000000020.generating"), &full).unwrap();
        std::fs::write(d.join("snap.0000000000000030.generating"), &full[..full.len() - 1]).unwrap();
        std::fs::write(d.join("snap.0000000000000040.generating"), b"").unwrap();
        let mut bad_crc = full.clone();
        bad_crc[5] ^= 1;
        std::fs::write(d.join("snap.0000000000000050.generating"), &bad_crc).unwrap();
        // A complete one whose final name exists is a duplicate.
        std::fs::write(d.join("snap.0000000000000010.generating"), snapshot_bytes(b"older")).unwrap();
        std::fs::write(d.join("conf"), b"untouched").unwrap();

        let mut done = settle_snapshots(d).unwrap();
        done.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        assert_eq!(done.len(), 5, "{done:?}");
        assert!(done.contains(&Settled::Finished(d.join("snap.0000000000000020.generating"))));
        for n in ["10", "30", "40", "50"] {
            let p = d.join(format!("snap.00000000000000{n}.generating"));
            assert!(done.contains(&Settled::Removed(p)), "{n}: {done:?}");
        }
        let mut left: Vec<String> =
            std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, ["conf", "snap.0000000000000010", "snap.0000000000000020"]);
        assert_eq!(std::fs::read(d.join("snap.0000000000000020")).unwrap(), full);
        // Nothing left to do.
        assert_eq!(settle_snapshots(d).unwrap(), vec![]);
    }

    #[test]
    fn a_held_sled_lock_is_recognised() {
        // sled itself: a second open of a database this process has open.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("db");
        let first = sled::Config::new().path(&path).open().unwrap();
        match sled::Config::new().path(&path).open() {
            Err(sled::Error::Io(e)) => assert!(is_sled_lock_error(&e), "{e}"),
            other => panic!("expected sled's lock error, got {:?}", other.map(|_| ())),
        }
        drop(first);
    }

    #[test]
    fn sled_lock_errors_are_recognised() {
        let held = std::io::Error::other(
            "could not acquire lock on \"/x/db/db\": Os { code: 11, kind: WouldBlock, message: \"Resource temporarily unavailable\" }",
        );
        assert!(is_sled_lock_error(&held));
        assert!(is_sled_lock_error(&std::io::Error::from(ErrorKind::WouldBlock)));
        assert!(!is_sled_lock_error(&std::io::Error::other("something else")));
        assert!(!is_sled_lock_error(&std::io::Error::from(ErrorKind::StorageFull)));
    }
}
