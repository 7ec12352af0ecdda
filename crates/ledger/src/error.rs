use std::path::PathBuf;
use tinledger_core::RuleError;

/// Errors from opening, reading and appending.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// `create` found a ledger that already has a head at this path;
    /// nothing was changed. Choose another directory or open the existing
    /// ledger.
    #[error("a ledger already exists at {0}")]
    Exists(PathBuf),
    /// `open` found no ledger at this path (no `db/` directory in it, or no
    /// `meta/format` record); nothing was created.
    #[error("no ledger at {0}")]
    NotFound(PathBuf),
    /// The ledger is in an older storage format than this version reads
    /// (docs/storage.md, "Format versions"); nothing was changed. Convert it
    /// once with `tinledger migrate` ([`crate::migrate::migrate`]).
    #[error("ledger {} is in storage format {found}; this tinledger reads format {current}", dir.display())]
    OldFormat {
        /// The ledger directory.
        dir: PathBuf,
        /// The format version stored in `meta/format`.
        found: u32,
        /// The format this version reads and writes.
        current: u32,
    },
    /// `migrate` found the ledger already in the current format: nothing
    /// to convert. `finished` names the backup it completed when an earlier
    /// migration was cut short after its switch (docs/storage.md, "Migration").
    #[error("ledger {} is already in storage format {format}{}", dir.display(),
        finished.as_ref().map(|p| format!(" (finished the interrupted migration's backup at {})", p.display())).unwrap_or_default())]
    AlreadyCurrent {
        /// The ledger directory.
        dir: PathBuf,
        /// The current format version.
        format: u32,
        /// The backup an interrupted migration left unnamed, now renamed.
        finished: Option<PathBuf>,
    },
    /// `migrate` would keep the old data under a name that is taken (an
    /// earlier migration's backup); nothing was changed.
    #[error("cannot keep the old data as {}: it already exists", .0.display())]
    BackupExists(PathBuf),
    /// Another process holds the ledger (its PID, when it wrote one) and
    /// did not release it within the wait.
    #[error(
        "ledger {} is in use by another tinledger process{}{}",
        dir.display(),
        pid.map(|p| format!(" (PID {p})")).unwrap_or_default(),
        if waited.as_millis() >= 1000 { format!("; waited {} s", waited.as_secs()) } else { String::new() }
    )]
    Locked {
        /// The ledger directory.
        dir: PathBuf,
        /// The PID the holder wrote into the lock file, if it wrote one.
        pid: Option<u32>,
        /// How long this process waited before giving up.
        waited: std::time::Duration,
    },
    #[error("{context}: {source}")]
    /// Reading or writing the ledger's files failed (a full disk, EIO,
    /// a missing permission); the ledger may be fine, the operation is not
    /// done.
    Io {
        /// What was being done, e.g. `"storage engine I/O"`.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file or directory of the ledger cannot be written at all
    /// (read-only media, no permission). sled must write to open a
    /// database, so this refuses readers as well as writers; nothing was
    /// changed.
    #[error("ledger {} is not writable: {}: {source}", dir.display(), path.display())]
    NotWritable {
        /// The ledger directory.
        dir: PathBuf,
        /// The file or directory inside it that cannot be written.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The storage engine (sled) or the stored Merkle tree failed in a way
    /// that is neither I/O nor proven damage; the message says what.
    #[error("storage error: {0}")]
    Storage(String),
    /// Stored state is not what the chain says; the ledger must be audited.
    #[error("ledger is corrupted{}: {reason}", seq.map(|s| format!(" at seq {s}")).unwrap_or_default())]
    Corrupt {
        /// The entry at which the damage was found, when it is one entry.
        seq: Option<u64>,
        /// What disagrees, in one line.
        reason: String,
    },
    /// An event's entry would exceed the 65,535 bytes an entry bundle can
    /// hold (docs/formats.md §5.3); nothing was written.
    #[error("{}entry of {len} bytes is too large: an entry holds at most 65535 bytes", if *batch { format!("item {} (would be seq {seq}): ", item + 1) } else { String::new() })]
    TooLarge {
        /// 0-based index of the event among those appended together.
        item: usize,
        /// The sequence number the event would have had.
        seq: u64,
        /// Whether the event came in a multi-event append.
        batch: bool,
        /// Bytes its entry would have.
        len: usize,
    },
    /// An event broke a rule; nothing was written.
    #[error("{}{source}", if *batch { format!("item {} (would be seq {seq}): ", item + 1) } else { String::new() })]
    Refused {
        /// 0-based index of the refused event among those appended together
        /// (printed 1-based).
        item: usize,
        /// The sequence number the event would have had.
        seq: u64,
        /// Whether the event came in a multi-event append; only then does the
        /// message name the item and seq.
        batch: bool,
        /// The rule the event broke.
        source: RuleError,
    },
}

impl LedgerError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LedgerError::Io { context: context.into(), source }
    }
}

impl From<sled::Error> for LedgerError {
    fn from(e: sled::Error) -> Self {
        match e {
            // sled's own Display prints its Debug form ("file offset None
            // backtrace ()"): say what is damaged in words instead.
            sled::Error::Corruption { at, .. } => LedgerError::Corrupt {
                seq: None,
                reason: match at {
                    Some(ptr) => format!(
                        "the storage engine's files (db/) hold damaged data (a record at log offset {} fails its check)",
                        ptr.lid()
                    ),
                    None => "the storage engine's files (db/) hold damaged data (a record fails its check)".into(),
                },
            },
            // A failed read or write of sled's files (a full disk, EIO) is an
            // I/O error, not damage to the ledger.
            sled::Error::Io(source) => LedgerError::Io { context: "storage engine I/O".into(), source },
            other => LedgerError::Storage(other.to_string()),
        }
    }
}
