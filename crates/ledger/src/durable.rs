//! Durable appends: after `Db::flush`, fsync exactly what sled 0.34 wrote.
//!
//! What sled writes during an append (strace of `record` and of `demo`,
//! docs/storage.md §4.1): `pwrite64` and `sync_file_range` on its log,
//! `db/db`, and nothing else, except that a value larger than a quarter of a
//! segment (128 KiB with sled's default 512 KiB segments) goes to a new file
//! `db/blobs/<LSN>` (created with `create_new`, written, never fsynced by
//! sled). sled writes snapshots (`db/snap.*`) only while opening, and that
//! swap is made durable by the open itself (docs/storage.md §5.1).
//! `sync_file_range` neither flushes the drive's write cache nor writes the
//! file's size, so after `Db::flush` [`sync_flushed`]:
//!
//! 1. fsyncs every file that appeared under `db/` or `db/blobs/` since this
//!    process last synced the database (a new blob, rarely anything else),
//! 2. then fsyncs the directory that holds each such file (its name),
//! 3. then **fdatasyncs** the log `db/db`: its bytes and its size, which is
//!    all sled reads back; its timestamps need not be durable, so the
//!    journal commit an fsync would add for them is skipped.
//!
//! The order makes a file durable before the name that finds it, and both
//! before the log record that refers to it becomes durable through our
//! flush (the kernel may have written the record already; sled writes a
//! blob before the log record that points to it, as it always has).
//!
//! The first sync of a database in a process knows nothing about what an
//! earlier process may have left unsynced (a crash between its flush and its
//! sync), so it fsyncs every file and directory under `db/`, as every
//! durable append did before issue #12 ([`crate::sync_tree`]). It then
//! remembers the names (with their inode numbers) it made durable; a name
//! that vanishes (sled removes
//! old snapshots and collected blobs) needs no sync, since a removal that
//! is undone by a power cut leaves a file sled ignores or removes again.

use crate::error::LedgerError;
use crate::store::{sync_file_if_present, sync_tree};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// sled's log, inside `db/`.
const LOG: &str = "db";
/// sled's blob directory, inside `db/`.
const BLOBS: &str = "blobs";

/// The entries of one directory: name and inode number. A name whose inode
/// changed (a ledger replaced by another at the same path) counts as new.
type Listing = BTreeMap<OsString, u64>;

/// The names under `db/` and `db/blobs/` known to be durable.
#[derive(Default, PartialEq, Eq, Debug)]
struct Names {
    db: Listing,
    blobs: Listing,
}

/// Per database directory (as given), the names its last sync in this
/// process made durable. Appends to one ledger are serialised by its lock.
static DURABLE: Mutex<BTreeMap<PathBuf, Names>> = Mutex::new(BTreeMap::new());

/// The entry's inode number (0 where there is none to read).
#[cfg(unix)]
fn inode(e: &std::fs::DirEntry) -> u64 {
    std::os::unix::fs::DirEntryExt::ino(e)
}
#[cfg(not(unix))]
fn inode(_: &std::fs::DirEntry) -> u64 {
    0
}

fn list(dir: &Path) -> Result<Listing, LedgerError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Listing::new()),
        Err(e) => return Err(LedgerError::io(format!("cannot list {}", dir.display()), e)),
    };
    rd.map(|ent| {
        ent.map(|e| (e.file_name(), inode(&e)))
            .map_err(|e| LedgerError::io(format!("cannot list {}", dir.display()), e))
    })
    .collect()
}

/// The names of `now` that `old` does not have with the same inode.
fn added<'a>(now: &'a Listing, old: &Listing) -> Vec<&'a OsString> {
    now.iter().filter(|(name, ino)| old.get(*name) != Some(*ino)).map(|(name, _)| name).collect()
}

fn names(db_dir: &Path) -> Result<Names, LedgerError> {
    Ok(Names { db: list(db_dir)?, blobs: list(&db_dir.join(BLOBS))? })
}

/// fsync (`data`: fdatasync) the file or directory `p`.
fn sync_path(p: &Path, data: bool) -> Result<(), LedgerError> {
    File::open(p)
        .and_then(|f| if data { f.sync_data() } else { f.sync_all() })
        .map_err(|e| LedgerError::io(format!("cannot fsync {}", p.display()), e))
}

/// fsync the entries of `dir` named in `new` (a new directory recursively,
/// with [`sync_tree`]), then `dir` itself if there were any.
fn sync_new(dir: &Path, new: &[&OsString]) -> Result<(), LedgerError> {
    for name in new {
        let p = dir.join(name);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => sync_tree(&p)?,
            // sled's flusher may collect a replaced blob between our stat
            // and our open: a file gone by then needs no sync.
            Ok(m) if m.is_file() => sync_file_if_present(&p)?,
            // Removed since the listing (a collected blob): nothing to keep.
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LedgerError::io(format!("cannot stat {}", p.display()), e)),
        }
    }
    if !new.is_empty() {
        sync_path(dir, false)?;
    }
    Ok(())
}

/// Make durable what `Db::flush` just wrote to the sled database in
/// `db_dir` (the ledger's `db/`): new files and their directories, then an
/// fdatasync of the log (module docs; docs/storage.md §4). The first call
/// for a directory in a process fsyncs everything under it.
pub fn sync_flushed(db_dir: &Path) -> Result<(), LedgerError> {
    // Forget what we knew until this sync has succeeded: after a failed
    // fsync the next sync starts from scratch. The fsyncs run without the
    // lock, so syncs of different ledgers in one process do not wait for
    // each other (a concurrent sync of the same one finds nothing known and
    // fsyncs everything).
    let before = DURABLE.lock().unwrap_or_else(PoisonError::into_inner).remove(db_dir);
    let now = names(db_dir)?;
    match &before {
        None => sync_tree(db_dir)?,
        Some(old) => {
            sync_new(&db_dir.join(BLOBS), &added(&now.blobs, &old.blobs))?;
            sync_new(db_dir, &added(&now.db, &old.db))?;
            sync_path(&db_dir.join(LOG), true)?;
        }
    }
    DURABLE.lock().unwrap_or_else(PoisonError::into_inner).insert(db_dir.to_path_buf(), now);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sync_learns_the_names_and_later_syncs_add_new_ones() {
        let t = tempfile::tempdir().unwrap();
        let db = t.path().join("db");
        std::fs::create_dir_all(db.join(BLOBS)).unwrap();
        std::fs::write(db.join(LOG), b"log").unwrap();
        sync_flushed(&db).unwrap();
        let snapshot = |db: &Path| DURABLE.lock().unwrap().get(db).map(|n| (n.db.len(), n.blobs.len()));
        assert_eq!(snapshot(&db), Some((2, 0)));
        std::fs::write(db.join(BLOBS).join("123"), b"blob").unwrap();
        std::fs::write(db.join("snap.00000000000000FF"), b"snap").unwrap();
        sync_flushed(&db).unwrap();
        assert_eq!(snapshot(&db), Some((3, 1)));
        std::fs::remove_file(db.join(BLOBS).join("123")).unwrap();
        sync_flushed(&db).unwrap();
        assert_eq!(snapshot(&db), Some((3, 0)));
        // A file replaced under the same name is new (another inode).
        let old = DURABLE.lock().unwrap()[&db].db.clone();
        let keep = db.join("keep");
        std::fs::write(&keep, b"x").unwrap();
        std::fs::rename(&keep, db.join("snap.00000000000000FF")).unwrap();
        let now = names(&db).unwrap();
        assert_eq!(added(&now.db, &old), vec![&OsString::from("snap.00000000000000FF")]);
        sync_flushed(&db).unwrap();
        // A missing log is an error, and the next sync starts from scratch.
        std::fs::remove_file(db.join(LOG)).unwrap();
        let e = sync_flushed(&db).unwrap_err().to_string();
        assert!(e.contains("cannot fsync") && e.contains("db/db"), "{e}");
        assert_eq!(snapshot(&db), None);
    }

    #[test]
    fn a_blob_collected_between_listing_and_fsync_is_not_an_error() {
        let t = tempfile::tempdir().unwrap();
        let blobs = t.path().join(BLOBS);
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join("7"), b"blob").unwrap();
        let gone = OsString::from("8");
        let kept = OsString::from("7");
        // "8" was listed but sled collected it before the fsync.
        sync_new(&blobs, &[&kept, &gone]).unwrap();
        sync_file_if_present(&blobs.join("8")).unwrap();
        sync_file_if_present(&blobs.join("7")).unwrap();
    }
}
