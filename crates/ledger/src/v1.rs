//! A reader of storage format 1 (docs/storage.md, "Format versions"), for
//! `tinledger migrate` only: the layout every ledger written before issue 12
//! has, frozen here so that it survives every later layout change. Nothing
//! in this file may depend on [`crate::schema`], which describes the
//! current format.
//!
//! Format 1 is one sled database in `db/` with, among others:
//! - `meta`: `format` → u32 BE = 1; `head` → size u64 BE ‖ entry hash\[32\];
//!   `pending` → present only while an append was cut short;
//! - `entries`: seq u64 BE → canonical entry bytes (docs/formats.md §4.2);
//! - `checkpoints`: tree size u64 BE → signed checkpoint note (UTF-8).
//!
//! Its other trees (indices, Merkle nodes) are derived from the entries and
//! are not read: the migration rebuilds everything from the entries.

use crate::error::LedgerError;
use crate::store::guard;
use std::path::Path;
use tinledger_core::{Entry, EntryHash};

/// The value of `meta/format` in a format-1 ledger.
pub const FORMAT: u32 = 1;
/// sled's directory inside a format-1 ledger directory.
pub const DB_DIR: &str = "db";
const T_META: &str = "meta";
const T_ENTRIES: &str = "entries";
const T_CHECKPOINTS: &str = "checkpoints";
const META_FORMAT: &[u8] = b"format";
const META_HEAD: &[u8] = b"head";
const META_PENDING: &[u8] = b"pending";
/// sled's page cache while migrating: the entries are read once, in order.
const CACHE_BYTES: u64 = 8 << 20;

/// The stored format version of the sled database already open as `db`:
/// `None` when it has no `meta/format` record (no ledger), an error when the
/// record is not a u32.
pub(crate) fn stored_format(db: &sled::Db) -> Result<Option<u32>, LedgerError> {
    guard("reading the format version", || {
        let meta = db.open_tree(T_META)?;
        match meta.get(META_FORMAT)? {
            None => Ok(None),
            Some(v) => <[u8; 4]>::try_from(v.as_ref()).map(|b| Some(u32::from_be_bytes(b))).map_err(|_| {
                LedgerError::Corrupt { seq: None, reason: format!("malformed format version {}", hex::encode(v)) }
            }),
        }
    })
}

/// Open the sled database `db/` of the ledger directory `dir` (any format),
/// with the settling of [`crate::engine::open`]; the caller holds `LOCK`.
pub(crate) fn open_db(dir: &Path) -> Result<sled::Db, LedgerError> {
    if !dir.join(DB_DIR).is_dir() {
        return Err(LedgerError::NotFound(dir.to_path_buf()));
    }
    let config = sled::Config::new()
        .path(dir.join(DB_DIR))
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(CACHE_BYTES);
    guard("opening the database", || crate::engine::open(dir, &config))
}

/// A format-1 ledger's database, open with sled (which writes to it while
/// it settles its own log, but never changes a tree): the caller holds the
/// ledger's `LOCK`.
pub struct V1 {
    db: sled::Db,
    entries: sled::Tree,
    checkpoints: sled::Tree,
    head: Option<(u64, EntryHash)>,
}

impl V1 {
    /// Open the format-1 database of the ledger directory `dir`. Refuses
    /// (with [`LedgerError::NotFound`]) a directory without a ledger, and
    /// with [`LedgerError::Corrupt`] one whose `meta/format` is not 1.
    pub fn open(dir: &Path) -> Result<V1, LedgerError> {
        let db = open_db(dir)?;
        match stored_format(&db)? {
            Some(FORMAT) => V1::from_db(db),
            Some(v) => Err(LedgerError::Corrupt { seq: None, reason: format!("storage format is {v}, not {FORMAT}") }),
            None => Err(LedgerError::NotFound(dir.to_path_buf())),
        }
    }

    /// Read the header of `db`, already known to be format 1 ([`stored_format`]).
    pub(crate) fn from_db(db: sled::Db) -> Result<V1, LedgerError> {
        guard("reading the format-1 header", || {
            let meta = db.open_tree(T_META)?;
            let pending = meta.get(META_PENDING)?.is_some();
            let head = meta
                .get(META_HEAD)?
                .ok_or_else(|| LedgerError::Corrupt { seq: Some(0), reason: "ledger has no head record".into() })?;
            if head.len() != 40 {
                return Err(LedgerError::Corrupt { seq: None, reason: "malformed head record".into() });
            }
            let mut size = [0u8; 8];
            size.copy_from_slice(&head[..8]);
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&head[8..]);
            let entries = db.open_tree(T_ENTRIES)?;
            let checkpoints = db.open_tree(T_CHECKPOINTS)?;
            let head = (!pending).then_some((u64::from_be_bytes(size), EntryHash(hash)));
            Ok(V1 { db, entries, checkpoints, head })
        })
    }

    /// The recorded head: number of entries and the last entry's hash.
    /// `None` when an append was cut short (`meta/pending` is set): the head
    /// record may then lag the entries, which are the commit point, so the
    /// entries decide, exactly as format 1's own recovery on open did.
    pub fn head(&self) -> Option<(u64, EntryHash)> {
        self.head
    }

    /// The number of stored entries, for progress (sled counts them by
    /// walking its tree's keys).
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Whether no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry in seq order, decoded strictly, with its stored bytes
    /// checked to be the canonical encoding (decode → encode is the
    /// identity) and its key to be the next seq. Stops at the first fault.
    pub fn entries(&self) -> impl Iterator<Item = Result<Entry, LedgerError>> + '_ {
        let mut next = 0u64;
        let mut iter = self.entries.iter();
        std::iter::from_fn(move || {
            let item = guard("reading a format-1 entry", || Ok(iter.next().transpose()?));
            let r = match item {
                Err(e) => Err(e),
                Ok(None) => return None,
                Ok(Some((k, v))) => decode(next, &k, &v),
            };
            next += 1;
            Some(r)
        })
    }

    /// Every stored checkpoint (tree size, note), oldest first.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, LedgerError> {
        guard("reading format-1 checkpoints", || {
            let mut out = Vec::new();
            for kv in self.checkpoints.iter() {
                let (k, v) = kv?;
                let size = <[u8; 8]>::try_from(k.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| LedgerError::Corrupt { seq: None, reason: "malformed checkpoint key".into() })?;
                let note = String::from_utf8(v.to_vec()).map_err(|_| LedgerError::Corrupt {
                    seq: None,
                    reason: format!("stored checkpoint for tree size {size} is not UTF-8"),
                })?;
                out.push((size, note));
            }
            Ok(out)
        })
    }

    /// Close the database, flushing what sled wrote while opening it.
    pub fn close(self) -> Result<(), LedgerError> {
        guard("closing the format-1 database", || {
            self.db.flush()?;
            Ok(())
        })
    }
}

fn decode(expected: u64, key: &[u8], value: &[u8]) -> Result<Entry, LedgerError> {
    let seq = <[u8; 8]>::try_from(key).map(u64::from_be_bytes).map_err(|_| LedgerError::Corrupt {
        seq: Some(expected),
        reason: format!("malformed entry key {}", hex::encode(key)),
    })?;
    if seq != expected {
        return Err(LedgerError::Corrupt { seq: Some(expected), reason: format!("entry {expected} is missing") });
    }
    let e = Entry::from_bytes(value).map_err(|e| LedgerError::Corrupt { seq: Some(seq), reason: e.to_string() })?;
    if e.to_bytes() != value {
        return Err(LedgerError::Corrupt { seq: Some(seq), reason: "entry bytes are not canonical".into() });
    }
    Ok(e)
}
