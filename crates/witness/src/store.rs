//! The witness's state directory (docs/witness.md, "State directory").
//!
//! ```text
//! DIR/LOCK                     flock(LOCK_EX|LOCK_NB) while a witness runs
//! DIR/<sha256(origin) hex>.cosigned   the latest cosigned note of that log
//! DIR/<sha256(origin) hex>.tmp        a write in progress (removed at open)
//! ```
//!
//! A `.cosigned` file is the checkpoint note exactly as the log sent it,
//! with the witness's cosignature line appended (what
//! `GET /checkpoint/<origin>` serves). It is replaced by: write `.tmp`,
//! fsync it, rename it over `.cosigned`, fsync `DIR`. The crash windows:
//! - **before the rename**: `.cosigned` is the old state, `.tmp` is garbage
//!   that [`Store::open`] removes; nothing was answered.
//! - **after the rename, before the directory fsync**: after a power cut,
//!   either name may survive, each a complete file; the answer was not sent
//!   yet, so either is a state no client holds an inconsistent cosignature
//!   against.
//! - **after the fsync**: the new state; the 200 may or may not have left.
//!
//! A `.cosigned` file that does not parse, or whose origin does not hash to
//! its name, stops [`Store::open`]: treating it as "no state" would let the
//! witness cosign a fork of what it cosigned before.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tinledger_core::note::MAX_NOTE_LEN;
use tinledger_core::witness::LogState;

/// Why the state directory could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the directory's lock.
    #[error("the witness state directory {0} is in use by another witness process (its LOCK file is locked)")]
    Locked(PathBuf),
    /// A state file is damaged: never silently dropped.
    #[error("witness state file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file system refused.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let what = what.into();
    move |source| StoreError::Io { what, source }
}

/// An open state directory: its lock is held until this is dropped.
pub struct Store {
    dir: PathBuf,
    _lock: File,
}

/// The file stem of a log's state: hex SHA-256 of its origin.
pub fn stem(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

impl Store {
    /// Open (creating if needed) `dir`, take its lock, remove leftover
    /// `.tmp` files, and read every stored state, keyed by origin.
    pub fn open(dir: &Path) -> Result<(Store, BTreeMap<String, LogState>), StoreError> {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create the state directory {}", dir.display())))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io(format!("cannot open {}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(dir.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(format!("cannot lock {}", lock_path.display()))(e)),
        }
        let mut states = BTreeMap::new();
        let entries = std::fs::read_dir(dir).map_err(io(format!("cannot read {}", dir.display())))?;
        for e in entries {
            let e = e.map_err(io(format!("cannot read {}", dir.display())))?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                // A write that never reached its rename: nothing was answered for it.
                std::fs::remove_file(&path).map_err(io(format!("cannot remove {}", path.display())))?;
                continue;
            }
            let Some(stem_name) = name.strip_suffix(".cosigned") else { continue };
            let state = read_state(&path)?;
            if stem(&state.checkpoint.origin) != stem_name {
                return Err(StoreError::Corrupt {
                    path,
                    reason: format!(
                        "it holds a checkpoint of origin {}, which is not the log this file is named for",
                        tinledger_core::units::quoted(&state.checkpoint.origin)
                    ),
                });
            }
            states.insert(state.checkpoint.origin.clone(), state);
        }
        Ok((Store { dir: dir.to_path_buf(), _lock: lock }, states))
    }

    /// Replace the state of `state`'s origin, durably (write, fsync,
    /// rename, fsync the directory). When this returns `Ok` the new state
    /// survives a crash; on `Err` the stored state is the old or the new one.
    pub fn persist(&self, state: &LogState) -> Result<(), StoreError> {
        let s = stem(&state.checkpoint.origin);
        let tmp = self.dir.join(format!("{s}.tmp"));
        let dst = self.dir.join(format!("{s}.cosigned"));
        let mut f = File::create(&tmp).map_err(io(format!("cannot create {}", tmp.display())))?;
        f.write_all(state.cosigned_note.as_bytes()).map_err(io(format!("cannot write {}", tmp.display())))?;
        f.sync_all().map_err(io(format!("cannot fsync {}", tmp.display())))?;
        drop(f);
        // If we crash here: the old state stands and open removes the .tmp.
        std::fs::rename(&tmp, &dst).map_err(io(format!("cannot rename {} to {}", tmp.display(), dst.display())))?;
        // If we crash here: either file may survive a power cut; no answer was sent.
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(format!("cannot fsync {}", self.dir.display())))?;
        Ok(())
    }
}

fn read_state(path: &Path) -> Result<LogState, StoreError> {
    let f = File::open(path).map_err(io(format!("cannot open {}", path.display())))?;
    let mut bytes = Vec::new();
    f.take(MAX_NOTE_LEN as u64 + 1).read_to_end(&mut bytes).map_err(io(format!("cannot read {}", path.display())))?;
    let corrupt = |reason: String| StoreError::Corrupt { path: path.to_path_buf(), reason };
    if bytes.len() > MAX_NOTE_LEN {
        return Err(corrupt(format!("it is larger than {MAX_NOTE_LEN} bytes")));
    }
    let text = String::from_utf8(bytes).map_err(|_| corrupt("it is not UTF-8".into()))?;
    LogState::parse(&text).map_err(|e| corrupt(format!("it is not a cosigned checkpoint note ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(origin: &str, size: u64) -> LogState {
        let cp =
            tinledger_core::checkpoint::Checkpoint { origin: origin.into(), size, root: [1; 32], extensions: vec![] };
        let signer =
            tinledger_core::note::NoteSigner::new(origin, ed25519_dalek::SigningKey::from_bytes(&[2; 32])).unwrap();
        LogState::parse(&cp.sign(&signer).unwrap()).unwrap()
    }

    #[test]
    fn persist_reopen_lock_and_corruption() {
        let d = tempfile::tempdir().unwrap();
        {
            let (s, states) = Store::open(d.path()).unwrap();
            assert!(states.is_empty());
            assert!(matches!(Store::open(d.path()), Err(StoreError::Locked(_))));
            s.persist(&state("a.example/log", 3)).unwrap();
            s.persist(&state("a.example/log", 5)).unwrap();
            std::fs::write(d.path().join("junk.tmp"), b"half").unwrap();
        }
        let (_s, states) = Store::open(d.path()).unwrap();
        assert_eq!(states["a.example/log"].checkpoint.size, 5);
        assert!(!d.path().join("junk.tmp").exists());
        drop(_s);
        let f = d.path().join(format!("{}.cosigned", stem("a.example/log")));
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(&f, &text[..text.len() - 10]).unwrap();
        assert!(matches!(Store::open(d.path()), Err(StoreError::Corrupt { .. })));
        // A valid note under another log's name is corrupt too.
        std::fs::write(&f, state("b.example/log", 1).cosigned_note).unwrap();
        assert!(matches!(Store::open(d.path()), Err(StoreError::Corrupt { .. })));
    }
}
