//! The sled seam: opening, locking, reading and appending.
//!
//! Write path and crash windows (docs/storage.md §4):
//! 1. Rules run in order against the stored state (plus earlier events of
//!    the same batch) while signatures are checked in batches on the other
//!    cores; a refusal writes nothing.
//! 2. `meta/pending` is set to the head the append will reach.
//! 3. One sled batch writes all new entries (the commit point: sled applies
//!    a batch whole or not at all and recovers a prefix of its log), then one
//!    batch per derived tree, then the head with the marker's removal.
//!    An append of fewer than [`crate::SINGLE_CHECK_BELOW`] events skips the
//!    marker and writes all of step 3 as one sled transaction over the
//!    trees (one record in the log, whole or not at all): the durable
//!    single append writes 2 log records instead of 13.
//! 4. `Db::flush` writes sled's log; on Linux it ends in `sync_file_range`,
//!    which neither syncs metadata nor flushes the disk cache, so we then
//!    fsync the files sled created since the last sync and their
//!    directories, and fdatasync the log (`crate::durable`; the first sync
//!    of a process fsyncs every file and directory under `db/`).
//! 5. Only then is success reported. Opening a ledger whose marker is set
//!    rebuilds the derived trees and the head from the entries, so an append
//!    cut short is wholly present or wholly absent (never acknowledged).

use crate::engine::LockWait;
use crate::error::LedgerError;
use crate::schema::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use tinledger_core::codec;
use tinledger_core::event::PublicKey;
use tinledger_core::merkle;
use tinledger_core::rules::{self, ActorState, LedgerInfo, LotState, Overlay, StateView, ViewError};
use tinledger_core::sigbatch::{self, SigCheck};
use tinledger_core::tiles::TILE_WIDTH;
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Entry, EntryHash, LotId, SignedEvent};

/// Number of entries and hash of the last one (zero hash when empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Number of entries, genesis included (the next entry's seq).
    pub size: u64,
    /// Entry hash of entry `size - 1` (docs/formats.md §4.3), or
    /// [`EntryHash::ZERO`] when the ledger is empty.
    pub hash: EntryHash,
}

impl Head {
    fn to_bytes(self) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[..8].copy_from_slice(&self.size.to_be_bytes());
        b[8..].copy_from_slice(&self.hash.0);
        b
    }
    fn from_bytes(b: &[u8]) -> Option<Head> {
        if b.len() != 40 {
            return None;
        }
        let size = u64::from_be_bytes(b[..8].try_into().ok()?);
        let hash = EntryHash(b[8..].try_into().ok()?);
        Some(Head { size, hash })
    }
}

/// What a successful append reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Sequence number the event was stored at.
    pub seq: u64,
    /// Entry hash of the new entry (docs/formats.md §4.3).
    pub hash: EntryHash,
    /// Flags the event raised (accepted, but worth a look: docs/model.md §6).
    pub flags: Vec<rules::Flag>,
}

pub(crate) struct Trees {
    pub meta: sled::Tree,
    pub tiles: sled::Tree,
    pub lot_entries: sled::Tree,
    pub lot_state: sled::Tree,
    pub actor_state: sled::Tree,
    pub key_actor: sled::Tree,
    pub event_ids: sled::Tree,
    pub actor_entries: sled::Tree,
    pub checkpoints: sled::Tree,
}

/// An open ledger. Holds the directory's lock until dropped.
pub struct Ledger {
    dir: PathBuf,
    db: sled::Db,
    pub(crate) t: Trees,
    cache: crate::log::BundleCache,
    info: Option<LedgerInfo>,
    head: Head,
    _lock: File,
}

/// Run storage-engine code, turning a panic inside it into an error: sled
/// 0.34 can panic on damaged files, and a damaged file must never crash us.
pub(crate) fn guard<T>(what: &str, f: impl FnOnce() -> Result<T, LedgerError>) -> Result<T, LedgerError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("unknown failure");
            Err(LedgerError::Corrupt { seq: None, reason: format!("storage engine failed while {what}: {msg}") })
        }
    }
}

/// sled's page cache (its default is 1 GiB): bounds the memory of a long
/// audit or bulk import; the OS page cache still holds hot files.
const SLED_CACHE_BYTES: u64 = 64 << 20;
/// The audit streams the entries once and reads little else: a small cache
/// is as fast and keeps its memory down (docs/performance.md).
const SLED_AUDIT_CACHE_BYTES: u64 = 8 << 20;

/// The sled configuration a ledger's appends use, for a database at `path`
/// (`tinledger bench` measures raw sled inserts with exactly this).
pub fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(SLED_CACHE_BYTES)
}

fn open_db(dir: &Path, cache_bytes: u64) -> Result<(sled::Db, Trees), LedgerError> {
    guard("opening the database", || {
        let config = sled_config(&dir.join(DB_DIR)).cache_capacity(cache_bytes);
        let db = crate::engine::open(dir, &config)?;
        let t = Trees {
            meta: db.open_tree(T_META)?,
            tiles: db.open_tree(T_TILES)?,
            lot_entries: db.open_tree(T_LOT_ENTRIES)?,
            lot_state: db.open_tree(T_LOT_STATE)?,
            actor_state: db.open_tree(T_ACTOR_STATE)?,
            key_actor: db.open_tree(T_KEY_ACTOR)?,
            event_ids: db.open_tree(T_EVENT_IDS)?,
            actor_entries: db.open_tree(T_ACTOR_ENTRIES)?,
            checkpoints: db.open_tree(T_CHECKPOINTS)?,
        };
        Ok((db, t))
    })
}

/// The genesis facts and head recorded in `meta`.
fn read_header(t: &Trees) -> Result<(Option<LedgerInfo>, Head), LedgerError> {
    let info = match t.meta.get(META_LEDGER)? {
        Some(v) => Some(
            codec::decode_strict::<LedgerInfo>(&v, "ledger header")
                .map_err(|e| LedgerError::Corrupt { seq: None, reason: e.to_string() })?,
        ),
        None => None,
    };
    let head = match t.meta.get(META_HEAD)? {
        Some(v) => Head::from_bytes(&v)
            .ok_or_else(|| LedgerError::Corrupt { seq: None, reason: "malformed head record".into() })?,
        None => Head { size: 0, hash: EntryHash::ZERO },
    };
    Ok((info, head))
}

/// fsync every file and directory below `path`, then `path` itself: what
/// creation does, and the first durable append of a process after sled's
/// flush ([`crate::sync_flushed`] then syncs only what changed).
pub fn sync_tree(path: &Path) -> Result<(), LedgerError> {
    let rd = std::fs::read_dir(path).map_err(|e| LedgerError::io(format!("cannot list {}", path.display()), e))?;
    for ent in rd {
        let ent = ent.map_err(|e| LedgerError::io(format!("cannot list {}", path.display()), e))?;
        let p = ent.path();
        let ft = ent.file_type().map_err(|e| LedgerError::io(format!("cannot stat {}", p.display()), e))?;
        if ft.is_dir() {
            sync_tree(&p)?;
        } else if ft.is_file() {
            sync_file_if_present(&p)?;
        }
    }
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| LedgerError::io(format!("cannot fsync {}", path.display()), e))
}

/// fsync the file `p` unless it is gone. sled's flusher thread deletes a
/// replaced blob (`db/blobs/`) whenever it likes, so a file listed or
/// stat'ed a moment ago may be gone when opened, and what is gone needs no
/// fsync. (Treating that as an error failed a durable append under load
/// with `cannot fsync db/blobs/<LSN>: No such file or directory`.)
pub(crate) fn sync_file_if_present(p: &Path) -> Result<(), LedgerError> {
    match File::open(p).and_then(|f| f.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LedgerError::io(format!("cannot fsync {}", p.display()), e)),
    }
}

impl Ledger {
    /// Create a ledger in `dir` from its genesis event. Refuses if `dir`
    /// already holds a ledger.
    pub fn create(dir: &Path, genesis: &SignedEvent) -> Result<(Ledger, Receipt), LedgerError> {
        Self::create_waiting(dir, genesis, &LockWait::none())
    }

    /// [`Ledger::create`], waiting for the lock as `wait` says.
    pub fn create_waiting(
        dir: &Path,
        genesis: &SignedEvent,
        wait: &LockWait,
    ) -> Result<(Ledger, Receipt), LedgerError> {
        // Check the genesis before touching the disk.
        let empty = Overlay::empty();
        rules::apply(&empty, 0, genesis).map_err(|source| LedgerError::Refused {
            item: 0,
            seq: 0,
            batch: false,
            source,
        })?;
        std::fs::create_dir_all(dir)
            .map_err(|e| LedgerError::io(format!("cannot create ledger directory {}", dir.display()), e))?;
        let lock = crate::engine::lock(dir, wait)?;
        let (db, t) = open_db(dir, SLED_CACHE_BYTES)?;
        // A `db/` without a head is a creation that crashed before its genesis
        // append: nothing was acknowledged, so it is safe to finish it.
        if guard("reading the ledger header", || Ok(t.meta.get(META_HEAD)?))?.is_some() {
            return Err(LedgerError::Exists(dir.to_path_buf()));
        }
        let mut l = Ledger {
            dir: dir.to_path_buf(),
            db,
            t,
            cache: Default::default(),
            info: None,
            head: Head { size: 0, hash: EntryHash::ZERO },
            _lock: lock,
        };
        // The genesis append also writes the format version.
        let r = l.append(genesis)?;
        // Make the new directory entries themselves durable.
        sync_tree(dir)?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(parent)
                .and_then(|f| f.sync_all())
                .map_err(|e| LedgerError::io(format!("cannot fsync {}", parent.display()), e))?;
        }
        Ok((l, r))
    }

    /// Open an existing ledger for reading and appending. Refuses, naming
    /// both values, when the recorded head does not match the last entry.
    /// Fails at once if another process holds the ledger
    /// ([`Ledger::open_waiting`] waits).
    pub fn open(dir: &Path) -> Result<Ledger, LedgerError> {
        Self::open_waiting(dir, &LockWait::none())
    }

    /// [`Ledger::open`], waiting for the lock as `wait` says.
    pub fn open_waiting(dir: &Path, wait: &LockWait) -> Result<Ledger, LedgerError> {
        let mut l = Self::open_unchecked(dir, SLED_CACHE_BYTES, wait)?;
        l.recover()?;
        l.check_head()?;
        Ok(l)
    }

    /// Open without checking the head against the entries: for auditing a
    /// ledger that may be damaged. Never use it to append.
    /// An interrupted append is recovered first when the chain allows it
    /// (otherwise the audit reports what is wrong).
    pub fn open_for_audit(dir: &Path) -> Result<Ledger, LedgerError> {
        Self::open_for_audit_waiting(dir, &LockWait::none())
    }

    /// [`Ledger::open_for_audit`], waiting for the lock as `wait` says.
    pub fn open_for_audit_waiting(dir: &Path, wait: &LockWait) -> Result<Ledger, LedgerError> {
        let mut l = Self::open_unchecked(dir, SLED_AUDIT_CACHE_BYTES, wait)?;
        let _ = l.recover();
        Ok(l)
    }

    fn open_unchecked(dir: &Path, cache_bytes: u64, wait: &LockWait) -> Result<Ledger, LedgerError> {
        if !dir.join(DB_DIR).is_dir() {
            return Err(LedgerError::NotFound(dir.to_path_buf()));
        }
        let lock = crate::engine::lock(dir, wait)?;
        let (db, t) = open_db(dir, cache_bytes)?;
        let (info, head) = guard("reading the ledger header", || {
            match t.meta.get(META_FORMAT)? {
                Some(v) if v.as_ref() == FORMAT_VERSION.to_be_bytes() => {}
                // An older layout: refuse with the way forward (`migrate`),
                // never convert silently (docs/storage.md, "Migration").
                Some(v) if v.len() == 4 && u32::from_be_bytes([v[0], v[1], v[2], v[3]]) < FORMAT_VERSION => {
                    return Err(LedgerError::OldFormat {
                        dir: dir.to_path_buf(),
                        found: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                        current: FORMAT_VERSION,
                    })
                }
                Some(v) => {
                    return Err(LedgerError::Corrupt {
                        seq: None,
                        reason: format!("unknown storage format {}", hex::encode(v)),
                    })
                }
                None => return Err(LedgerError::NotFound(dir.to_path_buf())),
            }
            read_header(&t)
        })?;
        Ok(Ledger { dir: dir.to_path_buf(), db, t, cache: Default::default(), info, head, _lock: lock })
    }

    /// Re-read the header and head from storage (after a rebuild).
    pub(crate) fn reload(&mut self) -> Result<(), LedgerError> {
        let (info, head) = guard("reading the ledger header", || read_header(&self.t))?;
        self.info = info;
        self.head = head;
        Ok(())
    }

    fn check_head(&self) -> Result<(), LedgerError> {
        if self.info.is_none() || self.head.size == 0 {
            return Err(LedgerError::Corrupt { seq: Some(0), reason: "ledger has no genesis entry".into() });
        }
        let last = self.head.size - 1;
        let e = self.get(last)?.ok_or_else(|| LedgerError::Corrupt {
            seq: Some(last),
            reason: format!(
                "head records {} entries but entry {last} is missing; run `tinledger verify`",
                self.head.size
            ),
        })?;
        let h = e.hash();
        if h != self.head.hash {
            return Err(LedgerError::Corrupt {
                seq: Some(last),
                reason: format!(
                    "head records hash {} but entry {last} hashes to {h}; run `tinledger verify`",
                    self.head.hash
                ),
            });
        }
        if self.beyond_head(self.head.size)? {
            return Err(LedgerError::Corrupt {
                seq: Some(self.head.size),
                reason: "entries exist beyond the recorded head; run `tinledger verify`".into(),
            });
        }
        Ok(())
    }

    /// The ledger directory this was opened from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The head as of the last open or append (entries count and last hash).
    pub fn head(&self) -> Head {
        self.head
    }
    /// Facts from the genesis entry (and the log keys bound since).
    pub fn info(&self) -> Option<&LedgerInfo> {
        self.info.as_ref()
    }

    /// The log key currently bound by the authority (`bind_log_key`), if
    /// any: the key a log server must sign checkpoints with.
    pub fn log_key(&self) -> Option<PublicKey> {
        self.info.as_ref().and_then(|i| i.log_key().copied())
    }

    /// Whether an entry is stored at seq `size` (the first beyond a head of
    /// `size` entries): on the edge, or a full bundle starting there.
    fn beyond_head(&self, size: u64) -> Result<bool, LedgerError> {
        guard("reading entries", || {
            Ok(self.t.tiles.get(edge_key(size))?.is_some()
                || (size.is_multiple_of(TILE_WIDTH) && self.t.tiles.get(bundle_key(size / TILE_WIDTH))?.is_some()))
        })
    }

    /// The entry at `seq`, decoded strictly.
    pub fn get(&self, seq: u64) -> Result<Option<Entry>, LedgerError> {
        match crate::log::read_entry(&self.t.tiles, seq, Some(&self.cache))? {
            None => Ok(None),
            Some(v) => Entry::from_bytes(&v)
                .map(Some)
                .map_err(|e| LedgerError::Corrupt { seq: Some(seq), reason: e.to_string() }),
        }
    }

    /// Entries `from..=to` (clamped to the head), in order.
    pub fn range(&self, from: u64, to: u64) -> Result<Vec<Entry>, LedgerError> {
        let mut out = Vec::new();
        let to = to.min(self.head.size.saturating_sub(1));
        let mut s = from;
        while s <= to && s < self.head.size {
            match self.get(s)? {
                Some(e) => out.push(e),
                None => return Err(LedgerError::Corrupt { seq: Some(s), reason: format!("entry {s} is missing") }),
            }
            s += 1;
        }
        Ok(out)
    }

    /// Sequence numbers of every entry that names `lot`, in order.
    pub fn lot_history(&self, lot: &LotId) -> Result<Vec<u64>, LedgerError> {
        self.history(&self.t.lot_entries, lot.as_str())
    }

    /// Every actor, in id order.
    pub fn actors(&self) -> Result<Vec<ActorState>, LedgerError> {
        guard("reading actors", || {
            let mut out = Vec::new();
            for kv in self.t.actor_state.iter() {
                let (_, v) = kv?;
                out.push(
                    codec::decode_strict(&v, "actor state")
                        .map_err(|e| LedgerError::Corrupt { seq: None, reason: e.to_string() })?,
                );
            }
            Ok(out)
        })
    }

    /// Every lot, in id order.
    pub fn lots(&self) -> Result<Vec<LotState>, LedgerError> {
        guard("reading lots", || {
            let mut out = Vec::new();
            for kv in self.t.lot_state.iter() {
                let (_, v) = kv?;
                out.push(
                    codec::decode_strict(&v, "lot state")
                        .map_err(|e| LedgerError::Corrupt { seq: None, reason: e.to_string() })?,
                );
            }
            Ok(out)
        })
    }

    /// State reader over the stored indices.
    pub fn view(&self) -> StoredView<'_> {
        StoredView { l: self }
    }

    /// Append one signed event. Validates, writes atomically, makes the
    /// write durable, and only then returns.
    /// The event may not be dated more than `rules::MAX_CLOCK_SKEW_SECS`
    /// after this machine's clock.
    pub fn append(&mut self, ev: &SignedEvent) -> Result<Receipt, LedgerError> {
        self.append_at(ev, system_now())
    }

    /// [`Ledger::append`] with the appender's clock given (tests inject it).
    pub fn append_at(&mut self, ev: &SignedEvent, now: Timestamp) -> Result<Receipt, LedgerError> {
        let mut r = self.append_all(std::slice::from_ref(ev), false, now, None)?;
        r.pop().ok_or_else(|| LedgerError::Storage("empty append".into()))
    }

    /// Append several signed events all-or-nothing: every event is checked
    /// (later ones see the effects of earlier ones) before anything is
    /// written, then all are written as one atomic append and made durable.
    /// Like [`Ledger::append`], against this machine's clock.
    pub fn append_batch(&mut self, evs: &[SignedEvent]) -> Result<Vec<Receipt>, LedgerError> {
        self.append_batch_at(evs, system_now())
    }

    /// [`Ledger::append_batch`] with the appender's clock given.
    pub fn append_batch_at(&mut self, evs: &[SignedEvent], now: Timestamp) -> Result<Vec<Receipt>, LedgerError> {
        self.append_all(evs, true, now, None)
    }

    /// Append what passes of `evs` (the server's group commit): each event
    /// is checked in order against the stored state plus the events of `evs`
    /// accepted before it; the accepted ones are written as one atomic
    /// append and made durable together, and a refused one changes nothing
    /// and fails no other. The result holds one item per event: its receipt,
    /// or why it was refused ([`LedgerError::Refused`] or
    /// [`LedgerError::TooLarge`], with `batch: false`, so the message is the
    /// one a single `append` gives). The outer error is a storage failure:
    /// nothing of `evs` was acknowledged.
    ///
    /// A bad signature is only known once its batch of checks returns, after
    /// later events may have relied on the refused one: the check then runs
    /// again without every event found so far with a bad signature.
    pub fn append_batch_partial(
        &mut self,
        evs: &[SignedEvent],
        now: Timestamp,
    ) -> Result<Vec<Result<Receipt, LedgerError>>, LedgerError> {
        let mut part = Partial { refused: evs.iter().map(|_| None).collect(), retry: false };
        loop {
            let keep: Vec<usize> = (0..evs.len()).filter(|i| part.refused[*i].is_none()).collect();
            let sub: Vec<SignedEvent> = keep.iter().map(|i| evs[*i].clone()).collect();
            let before: Vec<Option<LedgerError>> = std::mem::take(&mut part.refused);
            part.refused = sub.iter().map(|_| None).collect();
            part.retry = false;
            let receipts = self.append_all(&sub, false, now, Some(&mut part))?;
            // Back from the indices of `sub` to those of `evs`.
            let mut refused = before;
            for (j, r) in std::mem::take(&mut part.refused).into_iter().enumerate() {
                if let (Some(r), Some(i)) = (r, keep.get(j)) {
                    refused[*i] = Some(renumber(r, *i));
                }
            }
            part.refused = refused;
            if part.retry {
                continue;
            }
            let mut receipts = receipts.into_iter();
            let mut out = Vec::with_capacity(evs.len());
            for r in part.refused.drain(..) {
                out.push(match r {
                    Some(e) => Err(e),
                    None => receipts.next().ok_or_else(|| LedgerError::Storage("a receipt is missing".into())),
                });
            }
            return Ok(out);
        }
    }

    fn append_all(
        &mut self,
        evs: &[SignedEvent],
        batch: bool,
        now: Timestamp,
        mut partial: Option<&mut Partial>,
    ) -> Result<Vec<Receipt>, LedgerError> {
        if evs.is_empty() {
            return Ok(vec![]);
        }
        let stored = StoredView { l: self };
        let mut over = Overlay::over(&stored);
        let mut head = self.head;
        let mut tiles = crate::log::TileWriter::load(&self.t.tiles, head.size)?;
        let mut sig_keys: Vec<PublicKey> = Vec::with_capacity(evs.len());
        let mut key_cache = sigbatch::KeyCache::default();
        // New history seqs by lot and actor id, in seq order.
        let mut lot_seqs: BTreeMap<Vec<u8>, Vec<u64>> = BTreeMap::new();
        let mut actor_seqs: BTreeMap<Vec<u8>, Vec<u64>> = BTreeMap::new();
        let mut receipts = Vec::with_capacity(evs.len());
        // The item of `evs` behind each seq from `first` on (with `partial`,
        // refused items take no seq).
        let mut items: Vec<usize> = Vec::with_capacity(evs.len());
        let first = self.head.size;
        // Rules run in order on this thread; signatures are checked in
        // batches on rayon's pool meanwhile. A refusal names the lowest bad
        // item: a bad signature before a broken rule wins.
        let (sig_tx, sig_rx) = std::sync::mpsc::channel::<Option<u64>>();
        let mut storage_err: Option<LedgerError> = None;
        let small = evs.len() < crate::SINGLE_CHECK_BELOW;
        // With `partial`, every bad signature is reported, not only the first.
        let every_bad = partial.is_some();
        let replayed: Result<(), (usize, rules::RuleError)> = rayon::in_place_scope(|scope| {
            let mut pending: Vec<SigCheck> = Vec::new();
            let flush = |pending: &mut Vec<SigCheck>| {
                let b = std::mem::take(pending);
                if b.is_empty() {
                    return;
                }
                let tx = sig_tx.clone();
                // Same criterion either way (docs/formats.md §4.1): below
                // SINGLE_CHECK_BELOW items a batch equation saves nothing.
                if every_bad {
                    let check = move || {
                        if !sigbatch::batch_ok(&b, &crate::batch_seed()) {
                            for c in b.iter().filter(|c| c.verify().is_err()) {
                                let _ = tx.send(Some(c.seq));
                            }
                        }
                    };
                    if small {
                        check();
                    } else {
                        scope.spawn(move |_| check());
                    }
                } else if small {
                    let _ = tx.send(b.iter().find(|c| c.verify().is_err()).map(|c| c.seq));
                } else {
                    scope.spawn(move |_| {
                        let _ = tx.send(sigbatch::first_bad(&b, &crate::batch_seed()));
                    });
                }
            };
            for (item, ev) in evs.iter().enumerate() {
                let seq = head.size;
                // The clock check is the append's alone: verify replays the
                // same rules without it (docs/model.md, "Times").
                let applied = rules::check_clock(ev, now).and_then(|()| rules::apply_deferred(&over, seq, ev));
                let (delta, key) = match applied {
                    Ok(r) => r,
                    Err(source) => {
                        if let Some(p) = partial.as_deref_mut() {
                            p.refused[item] = Some(LedgerError::Refused { item, seq, batch, source });
                            continue;
                        }
                        flush(&mut pending);
                        return Err((item, source));
                    }
                };
                let entry = Entry::new(seq, head.hash, ev);
                let bytes = entry.to_bytes();
                // A bundle prefixes each entry with a uint16 length.
                if bytes.len() > tinledger_core::tiles::MAX_ENTRY_LEN {
                    let too_large = LedgerError::TooLarge { item, seq, batch, len: bytes.len() };
                    if let Some(p) = partial.as_deref_mut() {
                        p.refused[item] = Some(too_large);
                        continue;
                    }
                    flush(&mut pending);
                    storage_err = Some(too_large);
                    return Err((item, rules::RuleError::Storage(String::new())));
                }
                sig_keys.push(key);
                items.push(item);
                pending.push(key_cache.check(seq, ev.bytes().to_vec(), *ev.signature(), key));
                if pending.len() == crate::VERIFY_BATCH {
                    flush(&mut pending);
                }
                let hash = tinledger_core::entry::hash_entry_bytes(&bytes);
                for lot in &delta.touched_lots {
                    lot_seqs.entry(lot.as_str().as_bytes().to_vec()).or_default().push(seq);
                }
                if let Some(a) = ev.event().history_actor() {
                    actor_seqs.entry(a.as_str().as_bytes().to_vec()).or_default().push(seq);
                }
                over.absorb(seq, &delta);
                // A correction later in this batch looks its target (and an
                // earlier correction of it) up in the overlay: not stored yet.
                if ev.event().body.kept_for_corrections() {
                    over.entries.insert(seq, entry);
                }
                if let Err(e) = tiles.push(bytes) {
                    flush(&mut pending);
                    storage_err = Some(e);
                    return Err((item, rules::RuleError::Storage(String::new())));
                }
                receipts.push(Receipt { seq, hash, flags: delta.flags.clone() });
                head = Head { size: seq + 1, hash };
            }
            flush(&mut pending);
            Ok(())
        });
        drop(sig_tx);
        if let Some(e) = storage_err {
            return Err(e);
        }
        let mut bad: Vec<u64> = sig_rx.iter().flatten().collect();
        bad.sort_unstable();
        if let Some(p) = partial {
            // Every event with a bad signature is refused; the rest are
            // checked again without them (they may have relied on one).
            for seq in &bad {
                let i = usize::try_from(seq - first).unwrap_or(0);
                let (Some(item), Some(key)) = (items.get(i), sig_keys.get(i)) else { continue };
                let source = rules::bad_signature_in(&over, &evs[*item], key);
                p.refused[*item] = Some(LedgerError::Refused { item: *item, seq: *seq, batch, source });
            }
            if !bad.is_empty() {
                p.retry = true;
                return Ok(vec![]);
            }
            if receipts.is_empty() {
                return Ok(vec![]);
            }
        } else if let Some(seq) = bad.first().copied() {
            let i = usize::try_from(seq - first).unwrap_or(0);
            let source = rules::bad_signature_in(&over, &evs[i], &sig_keys[i]);
            return Err(LedgerError::Refused { item: i, seq, batch, source });
        }
        if let Err((item, source)) = replayed {
            return Err(LedgerError::Refused { item, seq: first + item as u64, batch, source });
        }
        // The genesis entry and `bind_log_key` change the ledger's facts.
        let new_info = if over.ledger != self.info { over.ledger.clone() } else { None };
        let actors: Vec<(Vec<u8>, Vec<u8>)> =
            over.actors.values().map(|a| (a.record.id.as_str().as_bytes().to_vec(), codec::encode(a))).collect();
        let lots: Vec<(Vec<u8>, Vec<u8>)> =
            over.lots.values().map(|l| (l.id.as_str().as_bytes().to_vec(), codec::encode(l))).collect();
        let keys: Vec<(Vec<u8>, Vec<u8>)> =
            over.keys.iter().map(|(k, a)| (k.0.to_vec(), a.as_str().as_bytes().to_vec())).collect();
        let events: Vec<(Vec<u8>, Vec<u8>)> =
            over.events.iter().map(|(id, s)| (event_key(id).to_vec(), seq_key(*s).to_vec())).collect();
        drop(over);
        // One item per lot and actor: its stored seqs with this append's after them.
        let lot_hist = guard("reading the lot histories", || histories(&self.t.lot_entries, &lot_seqs))?;
        let actor_hist = guard("reading the actor histories", || histories(&self.t.actor_entries, &actor_seqs))?;

        let t = &self.t;
        let head_bytes = head.to_bytes();
        let info_bytes = new_info.as_ref().map(codec::encode);
        let old_size = self.head.size;
        let tiles = tiles.finish();
        // Append-only: nothing may exist at or beyond the head.
        if self.beyond_head(old_size)? {
            return Err(LedgerError::Corrupt {
                seq: Some(old_size),
                reason: format!("entry {old_size} already exists beyond the recorded head"),
            });
        }
        guard("appending", || {
            // sled recovers a prefix of its log after a crash and applies
            // each batch atomically, so: the marker, then one batch of the
            // entries and the hash tiles they complete (the commit point:
            // bundles, edge entries and tiles change together), then the
            // indices, then the head together with the marker's removal.
            // `open` rebuilds the indices and tiles if it finds the marker.
            // A small append (a durable single event, typically) instead
            // writes everything in one sled transaction: one record in the
            // log, whole or not at all after a crash, so no marker.
            if small {
                let mut m = sled::Batch::default();
                if let Some(info) = &info_bytes {
                    m.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes());
                    m.insert(META_LEDGER, info.as_slice());
                }
                m.insert(META_HEAD, &head_bytes[..]);
                let of = |items: &[Item]| batch_of(items.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
                let batches =
                    [&tiles, &of(&lot_hist), &of(&events), &of(&lots), &of(&actor_hist), &of(&actors), &of(&keys), &m];
                return commit_small(t, batches);
            }
            t.meta.insert(META_PENDING, &head_bytes[..])?;
            // The trees are independent after the marker. Each non-empty
            // batch is one record in sled's log (an empty one would still
            // write its batch record, so it is skipped). A large append
            // writes them from two threads (sled is thread-safe), the
            // entries on one; a small one on this thread (a thread costs
            // more than its writes).
            let put = |tree: &sled::Tree, items: &[(Vec<u8>, Vec<u8>)]| -> Result<(), sled::Error> {
                if items.is_empty() {
                    return Ok(());
                }
                tree.apply_batch(batch_of(items.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))))
            };
            let entries = || -> Result<(), sled::Error> {
                t.tiles.apply_batch(tiles)?;
                put(&t.lot_entries, &lot_hist)
            };
            let indices = || -> Result<(), sled::Error> {
                put(&t.event_ids, &events)?;
                put(&t.lot_state, &lots)?;
                put(&t.actor_entries, &actor_hist)?;
                put(&t.actor_state, &actors)?;
                put(&t.key_actor, &keys)
            };
            if small {
                entries()?;
                indices()?;
            } else {
                let (a, b) = std::thread::scope(|sc| {
                    let a = sc.spawn(entries);
                    (a.join(), indices())
                });
                match a {
                    Ok(r) => r?,
                    Err(_) => return Err(LedgerError::Storage("storage engine failed while appending".into())),
                }
                b?;
            }
            let mut m = sled::Batch::default();
            if let Some(info) = &info_bytes {
                m.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes());
                m.insert(META_LEDGER, info.as_slice());
            }
            m.insert(META_HEAD, &head_bytes[..]);
            m.remove(META_PENDING);
            t.meta.apply_batch(m)?;
            Ok(())
        })?;
        self.sync()?;
        if new_info.is_some() {
            self.info = new_info;
        }
        self.head = head;
        Ok(receipts)
    }

    /// If an append was interrupted (the pending marker is set), rebuild
    /// the derived trees and the head from the entries, which sled wrote
    /// atomically: the interrupted append is then either wholly present
    /// (it was never acknowledged, but it passed every check) or absent.
    fn recover(&mut self) -> Result<bool, LedgerError> {
        let pending = guard("reading the ledger header", || Ok(self.t.meta.get(META_PENDING)?))?;
        if pending.is_none() {
            return Ok(false);
        }
        self.reindex()?;
        guard("finishing recovery", || {
            self.t.meta.remove(META_PENDING)?;
            Ok(())
        })?;
        self.sync()?;
        Ok(true)
    }

    /// Sequence numbers of the entries that register or change `actor`.
    pub fn actor_history(&self, actor: &ActorId) -> Result<Vec<u64>, LedgerError> {
        self.history(&self.t.actor_entries, actor.as_str())
    }

    fn history(&self, tree: &sled::Tree, id: &str) -> Result<Vec<u64>, LedgerError> {
        guard("reading an index", || match tree.get(id.as_bytes())? {
            None => Ok(vec![]),
            Some(v) => history_seqs(&v).ok_or_else(|| LedgerError::Corrupt {
                seq: None,
                reason: format!("malformed history of {id}; run `tinledger reindex`"),
            }),
        })
    }

    /// The Merkle root over the first `size` entries.
    pub fn merkle_root(&self, size: u64) -> Result<merkle::Hash, LedgerError> {
        self.check_size(size)?;
        merkle::root(&self.nodes(), size).map_err(proof_err)
    }

    /// Inclusion proof for entry `seq` in the tree of the first `size` entries.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<merkle::Hash>, LedgerError> {
        self.check_size(size)?;
        merkle::inclusion_proof(&self.nodes(), seq, size).map_err(proof_err)
    }

    /// Inclusion proofs for many entries in one tree, sharing node reads.
    pub fn inclusion_proofs(&self, seqs: &[u64], size: u64) -> Result<Vec<Vec<merkle::Hash>>, LedgerError> {
        self.check_size(size)?;
        // One memoizing reader per thread; sled reads are thread-safe.
        use rayon::prelude::*;
        let chunk = seqs.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
        let parts: Result<Vec<Vec<Vec<merkle::Hash>>>, LedgerError> = seqs
            .par_chunks(chunk)
            .map(|part| {
                let nodes = self.nodes();
                let cached = merkle::CachingReader::new(&nodes);
                part.iter().map(|s| merkle::inclusion_proof(&cached, *s, size).map_err(proof_err)).collect()
            })
            .collect();
        Ok(parts?.into_iter().flatten().collect())
    }

    /// Consistency proof between tree sizes `old` and `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<merkle::Hash>, LedgerError> {
        self.check_size(new)?;
        merkle::consistency_proof(&self.nodes(), old, new).map_err(proof_err)
    }

    fn check_size(&self, size: u64) -> Result<(), LedgerError> {
        if size > self.head.size {
            return Err(LedgerError::Storage(format!(
                "tree size {size} is beyond the ledger's {} entries",
                self.head.size
            )));
        }
        Ok(())
    }

    fn nodes(&self) -> tinledger_core::tiles::TileReader<'_, Ledger> {
        tinledger_core::tiles::TileReader::new(self)
    }

    /// Store a signed checkpoint note for tree size `size` (append-only:
    /// an existing checkpoint for that size is kept) and return the note
    /// now stored for that size.
    pub fn store_checkpoint(&self, size: u64, note: &str) -> Result<String, LedgerError> {
        let stored = guard("storing a checkpoint", || {
            let key = size.to_be_bytes();
            let _ = self.t.checkpoints.compare_and_swap(key, None as Option<&[u8]>, Some(note.as_bytes()))?;
            Ok(self.t.checkpoints.get(key)?)
        })?;
        self.sync()?;
        let stored = stored.ok_or_else(|| LedgerError::Storage("checkpoint vanished after storing".into()))?;
        String::from_utf8(stored.to_vec())
            .map_err(|_| LedgerError::Corrupt { seq: None, reason: "stored checkpoint is not UTF-8".into() })
    }

    /// Replace the stored checkpoint note for `size` by `note`, which must
    /// be the stored note with signature lines added (the same text, every
    /// stored signature line kept, in order): the log server stores its
    /// own signed checkpoint first, then adds the witnesses' cosignatures.
    /// Synced before it returns; returns the note now stored. A note that
    /// is not such an extension is refused and nothing changes.
    pub fn add_checkpoint_signatures(&self, size: u64, note: &str) -> Result<String, LedgerError> {
        let key = size.to_be_bytes();
        let old = guard("reading a checkpoint", || Ok(self.t.checkpoints.get(key)?))?
            .ok_or_else(|| LedgerError::Storage(format!("no checkpoint is stored for tree size {size}")))?;
        let old_note = std::str::from_utf8(&old)
            .map_err(|_| LedgerError::Corrupt { seq: None, reason: "stored checkpoint is not UTF-8".into() })?;
        // The stored note ends with its signature block and a newline: an
        // extension only appends lines after it.
        if !(note.len() >= old_note.len() && note.starts_with(old_note) && note.ends_with('\n')) {
            return Err(LedgerError::Storage(format!(
                "the new note for tree size {size} does not extend the stored checkpoint's signatures"
            )));
        }
        if note.len() == old_note.len() {
            return Ok(note.to_string());
        }
        let swapped = guard("storing a checkpoint", || {
            Ok(self.t.checkpoints.compare_and_swap(key, Some(old.as_ref()), Some(note.as_bytes()))?)
        })?;
        if swapped.is_err() {
            return Err(LedgerError::Storage(format!("the checkpoint for tree size {size} changed while signing")));
        }
        self.sync()?;
        Ok(note.to_string())
    }

    /// The newest stored checkpoint note (size, note).
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, LedgerError> {
        guard("reading checkpoints", || {
            let Some((k, v)) = self.t.checkpoints.last()? else { return Ok(None) };
            let size = <[u8; 8]>::try_from(k.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| LedgerError::Corrupt { seq: None, reason: "malformed checkpoint key".into() })?;
            let note = String::from_utf8(v.to_vec())
                .map_err(|_| LedgerError::Corrupt { seq: None, reason: "checkpoint is not UTF-8".into() })?;
            Ok(Some((size, note)))
        })
    }

    /// Every stored checkpoint (size, note), oldest first.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, LedgerError> {
        guard("reading checkpoints", || {
            let mut out = Vec::new();
            for kv in self.t.checkpoints.iter() {
                let (k, v) = kv?;
                let size = <[u8; 8]>::try_from(k.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| LedgerError::Corrupt { seq: None, reason: "malformed checkpoint key".into() })?;
                out.push((size, String::from_utf8_lossy(&v).to_string()));
            }
            Ok(out)
        })
    }

    /// Make everything written so far durable: sled's flush, then
    /// [`crate::sync_flushed`]: fsync of the files sled created since the
    /// last sync and of their directories, fdatasync of its log (see the
    /// module docs and docs/storage.md §4).
    pub fn sync(&self) -> Result<(), LedgerError> {
        guard("flushing", || {
            self.db.flush()?;
            Ok(())
        })?;
        crate::durable::sync_flushed(&self.dir.join(DB_DIR))
    }
}

/// One sled transaction over every tree an append writes, in the order of
/// [`Trees`]' fields after `meta` (tiles, lot_entries, event_ids,
/// lot_state, actor_entries, actor_state, key_actor), then `meta`.
fn commit_small(t: &Trees, b: [&sled::Batch; 8]) -> Result<(), LedgerError> {
    use sled::transaction::TransactionError;
    use sled::Transactional;
    let trees =
        (&t.tiles, &t.lot_entries, &t.event_ids, &t.lot_state, &t.actor_entries, &t.actor_state, &t.key_actor, &t.meta);
    let r = trees.transaction(
        |(tiles, le, ev, ls, ae, st, ka, meta)| -> sled::transaction::ConflictableTransactionResult<(), ()> {
            for (tree, batch) in [tiles, le, ev, ls, ae, st, ka, meta].into_iter().zip(b) {
                tree.apply_batch(batch)?;
            }
            Ok(())
        },
    );
    match r {
        Ok(()) => Ok(()),
        Err(TransactionError::Storage(e)) => Err(e.into()),
        Err(TransactionError::Abort(())) => Err(LedgerError::Storage("storage engine aborted the append".into())),
    }
}

/// A sled item: key and value.
type Item = (Vec<u8>, Vec<u8>);

/// The new value of each history item in `new` (id → seqs to add): the
/// stored value with the seqs after it.
fn histories(tree: &sled::Tree, new: &BTreeMap<Vec<u8>, Vec<u64>>) -> Result<Vec<Item>, LedgerError> {
    let mut out = Vec::with_capacity(new.len());
    for (id, seqs) in new {
        let old = tree.get(id)?;
        out.push((id.clone(), history_value(old.as_deref(), seqs)));
    }
    Ok(out)
}

/// Per-event outcomes of [`Ledger::append_batch_partial`]'s passes.
struct Partial {
    /// Why each item of the pass was refused, if it was.
    refused: Vec<Option<LedgerError>>,
    /// A bad signature was found: run the pass again without it.
    retry: bool,
}

/// A refusal of item `j` of a pass, renamed item `i` of the whole batch.
fn renumber(e: LedgerError, i: usize) -> LedgerError {
    match e {
        LedgerError::Refused { seq, batch, source, .. } => LedgerError::Refused { item: i, seq, batch, source },
        LedgerError::TooLarge { seq, batch, len, .. } => LedgerError::TooLarge { item: i, seq, batch, len },
        other => other,
    }
}

fn batch_of<'a>(items: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> sled::Batch {
    let mut b = sled::Batch::default();
    for (k, v) in items {
        b.insert(k, v);
    }
    b
}

fn proof_err(e: merkle::ProofError) -> LedgerError {
    match e {
        merkle::ProofError::Storage(m) => LedgerError::Corrupt { seq: None, reason: m },
        other => LedgerError::Storage(other.to_string()),
    }
}

/// [`StateView`] over the stored indices.
pub struct StoredView<'a> {
    l: &'a Ledger,
}

fn view_err(e: LedgerError) -> ViewError {
    ViewError(e.to_string())
}

/// This machine's clock, whole seconds (0 if it is set before 1970).
pub fn system_now() -> Timestamp {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Read one stored entry by seq (for the rules' look-ups).
pub(crate) fn stored_entry(tree: &sled::Tree, seq: u64) -> Result<Option<Entry>, ViewError> {
    let v = crate::log::read_entry(tree, seq, None).map_err(view_err)?;
    match v {
        None => Ok(None),
        Some(v) => Entry::from_bytes(&v).map(Some).map_err(|e| ViewError(format!("entry {seq}: {e}"))),
    }
}

/// A view that holds only the stored entries: the base under the
/// in-memory state of a replay (reindex), for the rules' entry look-ups.
pub(crate) struct EntriesOnly<'a>(pub &'a sled::Tree);

impl StateView for EntriesOnly<'_> {
    fn ledger(&self) -> Option<LedgerInfo> {
        None
    }
    fn actor(&self, _: &ActorId) -> Result<Option<ActorState>, ViewError> {
        Ok(None)
    }
    fn lot(&self, _: &LotId) -> Result<Option<LotState>, ViewError> {
        Ok(None)
    }
    fn actor_by_key(&self, _: &PublicKey) -> Result<Option<ActorId>, ViewError> {
        Ok(None)
    }
    fn seen_event(&self, _: &[u8; 32]) -> Result<Option<u64>, ViewError> {
        Ok(None)
    }
    fn entry(&self, seq: u64) -> Result<Option<Entry>, ViewError> {
        stored_entry(self.0, seq)
    }
}

impl StoredView<'_> {
    fn read<T: bincode::Decode<()> + bincode::Encode>(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, ViewError> {
        let v = guard("reading an index", || Ok(tree.get(key)?)).map_err(view_err)?;
        match v {
            None => Ok(None),
            Some(v) => codec::decode_strict(&v, what).map(Some).map_err(|e| ViewError(e.to_string())),
        }
    }
}

impl StateView for StoredView<'_> {
    fn ledger(&self) -> Option<LedgerInfo> {
        self.l.info.clone()
    }
    fn actor(&self, id: &ActorId) -> Result<Option<ActorState>, ViewError> {
        self.read(&self.l.t.actor_state, id.as_str().as_bytes(), "actor state")
    }
    fn lot(&self, id: &LotId) -> Result<Option<LotState>, ViewError> {
        self.read(&self.l.t.lot_state, id.as_str().as_bytes(), "lot state")
    }
    fn actor_by_key(&self, key: &PublicKey) -> Result<Option<ActorId>, ViewError> {
        let v = guard("reading the key index", || Ok(self.l.t.key_actor.get(key.0)?)).map_err(view_err)?;
        match v {
            None => Ok(None),
            Some(v) => {
                let s = std::str::from_utf8(&v).map_err(|_| ViewError("malformed key index".into()))?;
                ActorId::new(s).map(Some).map_err(ViewError)
            }
        }
    }
    fn entry(&self, seq: u64) -> Result<Option<Entry>, ViewError> {
        self.l.get(seq).map_err(view_err)
    }
    fn seen_event(&self, id: &[u8; 32]) -> Result<Option<u64>, ViewError> {
        let v = guard("reading the event index", || Ok(self.l.t.event_ids.get(event_key(id))?)).map_err(view_err)?;
        let Some(v) = v else { return Ok(None) };
        let b: [u8; 8] = v.as_ref().try_into().map_err(|_| ViewError("malformed event index".into()))?;
        let seq = u64::from_be_bytes(b);
        // The key is a 128-bit prefix: confirm against the entry itself.
        let e = self
            .l
            .get(seq)
            .map_err(view_err)?
            .ok_or_else(|| ViewError(format!("event index names missing entry {seq}")))?;
        Ok((tinledger_core::event::event_id(&e.event) == *id).then_some(seq))
    }
}
