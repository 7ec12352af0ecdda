//! The audit: replay the chain and check every link, streaming.
//!
//! Checked, in order, for each stored entry: the key is the next sequence
//! number (no gaps), the bytes decode strictly, the entry's own seq matches
//! its key, `prev` is the hash of the entry before, and the signed event
//! passes every rule (key validity, role, custody, mass, tin balance)
//! against the state rebuilt so far; its signature is checked with
//! `verify_strict` semantics (batched, see `tinledger_core::sigbatch`). Then
//! the recorded head, an optional externally saved head, the genesis header,
//! every stored checkpoint (against the Merkle roots the replay computes
//! from the entries themselves), the stored Merkle tree's root at the head,
//! and the actor and key indices are compared with what the replay rebuilt;
//! with [`AuditOptions::indices`] every other derived index too. The first
//! failure is reported with its seq.
//!
//! The pipeline (docs/performance.md): one thread reads and decodes entries
//! in chunks, the calling thread replays the rules in order, and signatures
//! are checked in batches of [`crate::VERIFY_BATCH`] on rayon's pool, at
//! most a few batches in flight. Memory stays bounded by the rule state
//! (actors, lots, 16 bytes per event id) — never by the number of entries.
//!
//! Incremental audits ([`Ledger::audit_since`]) start from an
//! [`AuditSnapshot`] taken by an earlier audit at a trusted checkpoint.

use crate::schema::*;
use crate::store::{guard, Ledger};
use crate::VERIFY_BATCH;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use tinledger_core::event::PublicKey;
use tinledger_core::merkle::{self, Hash};
use tinledger_core::rules::{
    self, ActorState, Compromise, Delta, Flag, LedgerInfo, LotState, Overlay, StateView, ViewError,
};
use tinledger_core::sigbatch::{self, SigCheck};
use tinledger_core::units::Timestamp;
use tinledger_core::{checkpoint, codec, note};
use tinledger_core::{ActorId, Entry, EntryHash, LotId, SignedEvent};

/// What to compare the chain with, beyond itself.
#[derive(Clone, Debug, Default)]
pub struct AuditOptions {
    /// A head saved earlier (seq of its last entry, entry hash): the chain
    /// must still contain exactly that entry.
    pub expect: Option<(u64, EntryHash)>,
    /// Also compare every derived index (lot states, lot and actor
    /// histories, event ids, every Merkle node) with the replay. Costs a scan
    /// of each index; only for full audits.
    pub indices: bool,
}

/// The first problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Sequence number of the faulty (or first missing) entry, when known.
    pub seq: Option<u64>,
    /// The derived index (sled tree, e.g. `lot_entries`) that disagrees
    /// with the chain, when the fault is there rather than in an entry;
    /// `seq` is then `None` (docs/storage.md §6).
    pub index: Option<&'static str>,
    /// What is wrong, in one line (with a hint such as "run `tinledger
    /// reindex`" where one helps).
    pub reason: String,
}

impl Fault {
    /// A fault at entry `seq` (or at no known entry).
    pub fn at(seq: Option<u64>, reason: impl Into<String>) -> Fault {
        Fault { seq, index: None, reason: reason.into() }
    }
    /// A derived index that disagrees with the chain.
    fn in_index(index: &'static str, reason: String) -> Fault {
        Fault {
            seq: None,
            index: Some(index),
            reason: format!("{reason} (run `tinledger reindex` to rebuild indices from the entries)"),
        }
    }
}

/// The audit's findings.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    /// Whether every check passed: `true` exactly when `fault` is `None`.
    pub ok: bool,
    /// Entries that passed every check (including those vouched for by the
    /// snapshot of an incremental audit).
    pub entries: u64,
    /// Hash of the last entry that passed (hex), if any.
    pub head: Option<String>,
    /// The first problem found, if any; the audit stops there.
    pub fault: Option<Fault>,
    /// The ledger id from the genesis entry (hex), if it verified.
    pub ledger_id: Option<String>,
    /// Actors registered in the verified part of the chain.
    pub actors: usize,
    /// Lots created in the verified part of the chain.
    pub lots: usize,
    /// Flags raised by accepted events (not faults).
    pub flags: Vec<Flag>,
    /// Keys reported compromised: entries they signed in the window are untrusted.
    pub compromised: Vec<Compromise>,
    /// First entry replayed by this audit: 0 for a full audit, the trusted
    /// checkpoint's size for an incremental one.
    pub replayed_from: u64,
    /// Whether every derived index was compared too.
    pub indices_checked: bool,
}

/// The rule state of a verified prefix of the chain, bound to a signed
/// checkpoint of that prefix: the starting point of an incremental audit
/// (docs/storage.md, "Audit snapshots").
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct AuditSnapshot {
    /// The checkpoint's origin line, tree size and root hash.
    pub origin: String,
    /// Tree size of the checkpoint: the snapshot covers entries `0..size`.
    pub size: u64,
    /// The checkpoint's Merkle root hash over those entries.
    pub root: [u8; 32],
    /// Hash of entry `size - 1`.
    pub head: [u8; 32],
    /// Merkle frontier: (level, hash) of the complete subtrees of the first
    /// `size` leaves, largest first.
    pub frontier: Vec<(u8, [u8; 32])>,
    /// Facts from the genesis entry, once replayed.
    pub ledger: Option<LedgerInfo>,
    /// Every actor's state at `size`, with its key history.
    pub actors: Vec<ActorState>,
    /// Every lot's state at `size`.
    pub lots: Vec<LotState>,
    /// Every public key ever bound, and the actor it is bound to.
    pub keys: Vec<(PublicKey, ActorId)>,
    /// First 8 bytes of each event id (big-endian) and its seq; event ids
    /// whose first 8 bytes collide with an earlier one are in `events_exact`.
    pub events_fp: Vec<(u64, u64)>,
    /// Full event ids (and seqs) whose 8-byte prefix collides with an earlier
    /// one in `events_fp`.
    pub events_exact: Vec<([u8; 32], u64)>,
    /// Key compromises reported up to `size`.
    pub compromises: Vec<Compromise>,
    /// Flags raised by the entries up to `size`.
    pub flags: Vec<Flag>,
}

/// File magic of an encoded snapshot (format 3: signed by the auditor; its
/// `LedgerInfo` lists the log key bindings).
pub const SNAPSHOT_MAGIC: &[u8] = b"tinledger-audit-snapshot-v3\n";
/// Format 1 (before 2: checksummed only, so anyone could forge one).
const SNAPSHOT_MAGIC_V1: &[u8] = b"tinledger-audit-snapshot-v1\n";
/// Format 2 (signed, but its `LedgerInfo` had no log keys).
const SNAPSHOT_MAGIC_V2: &[u8] = b"tinledger-audit-snapshot-v2\n";
/// Auditor public key (32 bytes) and Ed25519 signature (64) after the body.
const SNAPSHOT_TRAILER: usize = 32 + 64;

/// The decoding limit, in bytes, for a body of `len` bytes: bincode refuses
/// any length prefix that would take the bytes decoded so far, plus the
/// memory that prefix claims (`len × size_of::<T>()`), past the limit. The
/// in-memory form of a snapshot is at most a few times its encoding (a
/// `String` is 24 bytes for an 8-byte length prefix), so
/// [`SNAPSHOT_MEMORY_FACTOR`] times the body, rounded up to a power of two,
/// admits every snapshot this code writes and bounds what a crafted one can
/// make the decoder allocate by the size of the file.
pub const SNAPSHOT_MEMORY_FACTOR: u64 = 16;

/// Decode `body` with a limit of the smallest `2^k ≥ SNAPSHOT_MEMORY_FACTOR ×
/// body.len()` (at least 64 KiB, at most 2^36). Bincode's limit is a type
/// parameter, so each step of the ladder is its own configuration.
fn decode_bounded(body: &[u8]) -> Result<(AuditSnapshot, usize), bincode::error::DecodeError> {
    macro_rules! ladder {
        ($($bits:literal)*) => {{
            let want = (body.len() as u64).saturating_mul(SNAPSHOT_MEMORY_FACTOR);
            $(
                if want <= 1u64 << $bits {
                    let cfg = bincode::config::standard()
                        .with_big_endian()
                        .with_fixed_int_encoding()
                        .with_limit::<{ 1usize << $bits }>();
                    return bincode::decode_from_slice(body, cfg);
                }
            )*
            Err(bincode::error::DecodeError::LimitExceeded)
        }};
    }
    ladder!(16 18 20 22 24 26 28 30 32 34 36)
}

impl AuditSnapshot {
    /// `SNAPSHOT_MAGIC ‖ bincode(body) ‖ auditor public key ‖ signature`,
    /// the Ed25519 signature by `auditor` over everything before it.
    pub fn to_bytes(&self, auditor: &ed25519_dalek::SigningKey) -> Result<Vec<u8>, String> {
        use ed25519_dalek::Signer;
        let cfg = bincode::config::standard().with_big_endian().with_fixed_int_encoding();
        let body = bincode::encode_to_vec(self, cfg).map_err(|e| format!("cannot encode snapshot: {e}"))?;
        let mut out = Vec::with_capacity(SNAPSHOT_MAGIC.len() + body.len() + SNAPSHOT_TRAILER);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&body);
        out.extend_from_slice(auditor.verifying_key().as_bytes());
        let sig = auditor.sign(&out);
        out.extend_from_slice(&sig.to_bytes());
        Ok(out)
    }

    /// Check that `b` is a snapshot signed by `auditor`, then decode it.
    /// Nothing of the body is decoded before the signature verifies, and
    /// decoding is bounded by the body's size (`SNAPSHOT_MEMORY_FACTOR`).
    pub fn from_bytes(b: &[u8], auditor: &PublicKey) -> Result<AuditSnapshot, String> {
        if b.starts_with(SNAPSHOT_MAGIC_V1) {
            return Err("audit snapshot is of format 1, which is not signed and no longer read; \
                        make a new one with a full audit (verify --snapshot CP --auditor-key KEY)"
                .into());
        }
        if b.starts_with(SNAPSHOT_MAGIC_V2) {
            return Err("audit snapshot is of format 2 (before log keys), which is no longer read; \
                        make a new one with a full audit (verify --snapshot CP --auditor-key KEY)"
                .into());
        }
        let rest = b.strip_prefix(SNAPSHOT_MAGIC).ok_or("not a tinledger audit snapshot (bad magic)")?;
        let split = rest.len().checked_sub(SNAPSHOT_TRAILER).ok_or("audit snapshot is truncated")?;
        let (body, trailer) = rest.split_at(split);
        let (key, sig) = trailer.split_at(32);
        let key = PublicKey(<[u8; 32]>::try_from(key).unwrap_or_default());
        let sig = <[u8; 64]>::try_from(sig).unwrap_or([0; 64]);
        let signed = &b[..b.len() - 64];
        // The project's one Ed25519 criterion (docs/formats.md §4.1).
        let signed_by = |k: &PublicKey| tinledger_core::ed25519::verify(&k.0, signed, &sig).is_ok();
        if key != *auditor && signed_by(&key) {
            return Err(format!(
                "audit snapshot was signed by auditor key {}, not by the --auditor-key given ({})",
                key.key_id(),
                auditor.key_id()
            ));
        }
        if key != *auditor || !signed_by(auditor) {
            return Err("audit snapshot is damaged or forged: it is not signed by the auditor key".into());
        }
        let (s, used) = decode_bounded(body).map_err(|e| format!("audit snapshot is malformed: {e}"))?;
        if used != body.len() {
            return Err("audit snapshot has trailing bytes".into());
        }
        Ok(s)
    }
}

impl AuditReport {
    /// A failed audit that verified no entry (storage that cannot be read,
    /// a snapshot that cannot be used); `from` is the first seq it would
    /// have replayed.
    pub fn failed(fault: Fault, from: u64) -> AuditReport {
        AuditReport {
            ok: false,
            entries: 0,
            head: None,
            fault: Some(fault),
            ledger_id: None,
            actors: 0,
            lots: 0,
            flags: vec![],
            compromised: vec![],
            replayed_from: from,
            indices_checked: false,
        }
    }
}

/// Progress: (entries done, entries expected in all).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Entries per chunk handed from the reader to the replay.
const CHUNK: usize = 512;
/// Signature batches allowed in flight, per rayon thread.
const IN_FLIGHT_PER_THREAD: usize = 3;

impl Ledger {
    /// Replay and check the whole chain (see the module docs).
    pub fn audit(&self, opts: &AuditOptions) -> AuditReport {
        self.audit_full(opts, None, &mut |_, _| {}).0
    }

    /// Full audit with progress reports; when `snapshot_at` names a signed
    /// checkpoint note, also check it against the chain and return the rule
    /// state at its size.
    pub fn audit_full(
        &self,
        opts: &AuditOptions,
        snapshot_at: Option<&str>,
        progress: Progress,
    ) -> (AuditReport, Option<AuditSnapshot>) {
        let start = Replay::new(&self.t.tiles);
        self.run_audit(opts, start, None, snapshot_at, progress)
    }

    /// Incremental audit: `since` is a signed checkpoint note the auditor
    /// trusted, `snap` the snapshot an earlier audit took at it. Checks the
    /// snapshot against the checkpoint, a consistency proof from the
    /// checkpoint to the current head, then replays only the newer entries.
    pub fn audit_since(
        &self,
        opts: &AuditOptions,
        since: &str,
        snap: AuditSnapshot,
        snapshot_at: Option<&str>,
        progress: Progress,
    ) -> (AuditReport, Option<AuditSnapshot>) {
        let size = snap.size;
        let start = match Replay::from_snapshot(&self.t.tiles, &snap, since) {
            Ok(r) => r,
            Err(reason) => {
                let rep = AuditReport::failed(Fault::at(None, reason), size);
                return (rep, None);
            }
        };
        if let Some(f) = self.check_extends(&snap) {
            let mut rep = start.report(Some(f), false);
            rep.replayed_from = size;
            return (rep, None);
        }
        self.run_audit(opts, start, Some(size), snapshot_at, progress)
    }

    /// The stored log must extend the trusted checkpoint: an RFC 9162
    /// consistency proof from the stored Merkle tree, checked against the
    /// checkpoint's root. (The replay then checks the stored tree against
    /// the entries at the head.)
    fn check_extends(&self, snap: &AuditSnapshot) -> Option<Fault> {
        let n = self.head().size;
        let bad = |reason: String| Some(Fault::at(Some(snap.size.saturating_sub(1)), reason));
        if n < snap.size {
            return bad(format!(
                "the ledger now has {n} entries, fewer than the {} of the trusted checkpoint: history was removed",
                snap.size
            ));
        }
        let proof = match self.consistency_proof(snap.size, n) {
            Ok(p) => p,
            Err(e) => return bad(format!("cannot build a consistency proof from the trusted checkpoint: {e}")),
        };
        let root = match self.merkle_root(n) {
            Ok(r) => r,
            Err(e) => return bad(format!("cannot read the Merkle root at the head: {e}")),
        };
        if merkle::verify_consistency(snap.size, n, &snap.root, &root, &proof).is_err() {
            return bad(format!(
                "the ledger (size {n}) is not an extension of the trusted checkpoint (size {}): history was rewritten",
                snap.size
            ));
        }
        None
    }

    fn run_audit(
        &self,
        opts: &AuditOptions,
        mut r: Replay<'_>,
        since: Option<u64>,
        snapshot_at: Option<&str>,
        progress: Progress,
    ) -> (AuditReport, Option<AuditSnapshot>) {
        let from = r.count;
        let indices = opts.indices && since.is_none();
        let plan = match self.plan(snapshot_at) {
            Ok(p) => p,
            Err(f) => {
                let mut rep = r.report(Some(f), false);
                rep.replayed_from = from;
                return (rep, None);
            }
        };
        let mut plan = plan;
        plan.digests = indices;
        if plan.sizes.contains(&r.count) {
            r.record_root(&mut plan);
        }
        let fault = match guard("auditing", || Ok(self.replay(&mut r, &mut plan, progress))) {
            Ok(f) => f,
            Err(e) => Some(Fault::at(Some(r.count), e.to_string())),
        };
        let fault = fault.or_else(|| self.finish(&r, &plan, opts, indices));
        let snapshot = if fault.is_none() { plan.snap_state.take() } else { None };
        let mut rep = r.report(fault, indices);
        rep.replayed_from = from;
        (rep, snapshot)
    }

    /// Sizes at which the replay must record the Merkle root: every stored
    /// checkpoint, and the checkpoint to snapshot at.
    fn plan(&self, snapshot_at: Option<&str>) -> Result<Plan, Fault> {
        let cps = self.checkpoints().map_err(|e| Fault::at(None, format!("checkpoints unreadable: {e}")))?;
        let mut sizes: BTreeSet<u64> = cps.iter().map(|(s, _)| *s).collect();
        let snap_size = match snapshot_at {
            None => None,
            Some(note) => {
                let cp = note::Note::parse(note)
                    .and_then(|n| checkpoint::Checkpoint::parse_body(&n.text))
                    .map_err(|e| Fault::at(None, format!("the checkpoint to snapshot at is malformed: {e}")))?;
                sizes.insert(cp.size);
                Some((cp.size, cp.origin, note.to_string()))
            }
        };
        Ok(Plan {
            stored: cps,
            sizes,
            roots: BTreeMap::new(),
            snap_at: snap_size,
            snap_state: None,
            digests: false,
            rebuilt: Digests::default(),
        })
    }

    fn replay(&self, r: &mut Replay<'_>, plan: &mut Plan, progress: Progress) -> Option<Fault> {
        let total = self.head().size;
        let threads = rayon::current_num_threads().max(1);
        let max_in_flight = threads * IN_FLIGHT_PER_THREAD;
        let tree = self.t.tiles.clone();
        let from = r.count;
        let (tx, rx) = mpsc::sync_channel::<Vec<Item>>(4);
        let (res_tx, res_rx) = mpsc::channel::<Option<(SigCheck, EntryHash)>>();
        let mut seq_fault: Option<Fault> = None;
        let mut sig_fault: Option<(SigCheck, EntryHash)> = None;
        let note_sig = |res: Option<(SigCheck, EntryHash)>, sig_fault: &mut Option<(SigCheck, EntryHash)>| {
            if let Some((c, prev)) = res {
                if sig_fault.as_ref().is_none_or(|(f, _)| c.seq < f.seq) {
                    *sig_fault = Some((c, prev));
                }
            }
        };
        std::thread::scope(|s| {
            s.spawn(move || read_entries(tree, from, tx));
            rayon::in_place_scope(|scope| {
                let mut in_flight = 0usize;
                let mut batch: Vec<SigCheck> = Vec::with_capacity(VERIFY_BATCH);
                let mut prevs: Vec<EntryHash> = Vec::with_capacity(VERIFY_BATCH);
                let spawn = |mut batch: Vec<SigCheck>, prevs: Vec<EntryHash>, in_flight: &mut usize| {
                    let res_tx = res_tx.clone();
                    *in_flight += 1;
                    scope.spawn(move |_| {
                        let bad = sigbatch::first_bad(&batch, &crate::batch_seed());
                        let res = bad.and_then(|seq| {
                            let i = batch.iter().position(|c| c.seq == seq)?;
                            let prev = prevs.get(i).copied().unwrap_or(EntryHash::ZERO);
                            Some((batch.swap_remove(i), prev))
                        });
                        let _ = res_tx.send(res);
                    });
                };
                'chunks: for chunk in rx.iter() {
                    for item in chunk {
                        let seq = r.count;
                        if let Item::Tile(reason) = item {
                            seq_fault = Some(Fault::in_index(T_TILES, reason));
                            break 'chunks;
                        }
                        match r.step(item, plan) {
                            Ok((check, prev)) => {
                                batch.push(check);
                                prevs.push(prev);
                                if batch.len() == VERIFY_BATCH {
                                    while in_flight >= max_in_flight {
                                        match res_rx.recv() {
                                            Ok(res) => note_sig(res, &mut sig_fault),
                                            Err(_) => break,
                                        }
                                        in_flight -= 1;
                                    }
                                    spawn(std::mem::take(&mut batch), std::mem::take(&mut prevs), &mut in_flight);
                                    batch.reserve(VERIFY_BATCH);
                                    prevs.reserve(VERIFY_BATCH);
                                }
                            }
                            Err(reason) => {
                                seq_fault = Some(Fault::at(Some(seq), reason));
                                break 'chunks;
                            }
                        }
                    }
                    progress(r.count, total);
                    // Stop early once a signature failed: nothing after it counts.
                    while let Ok(res) = res_rx.try_recv() {
                        in_flight -= 1;
                        note_sig(res, &mut sig_fault);
                    }
                    if sig_fault.is_some() {
                        break;
                    }
                }
                drop(rx);
                if !batch.is_empty() {
                    spawn(batch, prevs, &mut in_flight);
                }
                while in_flight > 0 {
                    match res_rx.recv() {
                        Ok(res) => note_sig(res, &mut sig_fault),
                        Err(_) => break,
                    }
                    in_flight -= 1;
                }
            });
        });
        if let Some((c, prev)) = sig_fault {
            if seq_fault.as_ref().and_then(|f| f.seq).is_none_or(|s| c.seq < s) {
                let seq = c.seq;
                let reason = match SignedEvent::from_parts(c.event_bytes.clone(), c.signature) {
                    Ok(signed) => format!("event breaks a rule: {}", rules::bad_signature(&signed, &c.key)),
                    Err(e) => format!("event bytes are damaged: {e}"),
                };
                // Everything before the bad signature passed.
                r.count = seq;
                r.prev = prev;
                return Some(Fault::at(Some(seq), reason));
            }
        }
        seq_fault
    }

    /// Checks after the last entry: head, saved head, header, checkpoints,
    /// the stored Merkle root, and the indices.
    fn finish(&self, r: &Replay<'_>, plan: &Plan, opts: &AuditOptions, indices: bool) -> Option<Fault> {
        let n = r.count;
        let fault = |seq: u64, reason: String| Some(Fault::at(Some(seq), reason));
        let prev = r.prev;
        // The recorded head.
        match self.t.meta.get(META_HEAD) {
            Ok(Some(v)) if v.len() == 40 => {
                let mut size = [0u8; 8];
                size.copy_from_slice(&v[..8]);
                let size = u64::from_be_bytes(size);
                let hash = hex::encode(&v[8..]);
                if size > n {
                    return fault(n, format!("chain ends at {n} entries but the ledger head records {size} (hash {hash}): entries from seq {n} on are missing"));
                }
                if size < n {
                    return fault(size, format!("ledger head records {size} entries but {n} are stored"));
                }
                if hash != prev.to_hex() {
                    return fault(
                        n.saturating_sub(1),
                        format!("ledger head records hash {hash} but the last entry hashes to {prev}"),
                    );
                }
            }
            Ok(_) => return fault(n, "ledger head record is missing or malformed".into()),
            Err(e) => return fault(n, format!("storage error reading the head: {e}")),
        }

        // A head saved earlier by the auditor.
        if let Some((seq, want)) = opts.expect {
            if seq >= n {
                return fault(n, format!("saved head is entry {seq} ({want}) but the chain ends at {n} entries: entries from seq {n} on were removed"));
            }
            match self.get(seq) {
                Ok(Some(e)) if e.hash() == want => {}
                Ok(Some(e)) => {
                    return fault(seq, format!("entry {seq} hashes to {} but the saved head says {want}", e.hash()))
                }
                _ => return fault(seq, format!("entry {seq} of the saved head cannot be read")),
            }
        }

        // Genesis facts recorded in the header.
        match self.t.meta.get(META_LEDGER) {
            Ok(Some(v)) => {
                let stored: Result<LedgerInfo, _> = codec::decode_strict(&v, "ledger header");
                if stored.ok() != r.st.ov.ledger {
                    return fault(0, "ledger header disagrees with the genesis entry".into());
                }
            }
            Ok(None) if n > 0 => return fault(0, "ledger header (genesis facts) is missing".into()),
            Ok(None) => {}
            Err(e) => return fault(0, format!("storage error reading the ledger header: {e}")),
        }

        if let Some(f) = self.check_checkpoints(r, plan, n) {
            return Some(f);
        }
        // The stored Merkle tree must give the entries' root at the head.
        let root = r.frontier.root();
        match self.merkle_root(n) {
            Ok(h) if h == root => {}
            Ok(h) => {
                return Some(Fault::in_index(
                    T_TILES,
                    format!(
                        "the stored hash tiles' root root at size {n} is {} but the entries give {}",
                        hex::encode(h),
                        hex::encode(root)
                    ),
                ))
            }
            Err(e) => {
                return Some(Fault::in_index(
                    T_TILES,
                    format!("the stored hash tiles' root at size {n} cannot be computed: {e}"),
                ))
            }
        }
        self.check_indices(&r.st, plan, indices)
    }

    /// Every stored checkpoint must be signed by a key the authority held and
    /// commit to the root the entries give at its size.
    fn check_checkpoints(&self, r: &Replay<'_>, plan: &Plan, n: u64) -> Option<Fault> {
        let info = r.st.ov.ledger.as_ref()?;
        let authority = r.st.ov.actors.get(&info.authority)?;
        for (size, text) in &plan.stored {
            let size = *size;
            let bad = |reason: String| Some(Fault::at(Some(size.saturating_sub(1)), reason));
            if size > n {
                return bad(format!(
                    "stored checkpoint for tree size {size} is beyond the {n} entries: entries were removed"
                ));
            }
            let Some(cp) = open_checkpoint(text, info, authority) else {
                return bad(format!("stored checkpoint for tree size {size} is not validly signed by the authority or its bound log key"));
            };
            if cp.size != size {
                return bad(format!("stored checkpoint under size {size} says size {}", cp.size));
            }
            // Checkpoints below an incremental audit's start were checked by
            // the audit that made the snapshot.
            match plan.roots.get(&size) {
                Some(root) if *root == cp.root => {}
                None if size < r.start => {}
                _ => {
                    return bad(format!(
                        "signed checkpoint for tree size {size} does not match the entries: history was rewritten"
                    ))
                }
            }
        }
        if let Some((size, _, text)) = &plan.snap_at {
            let size = *size;
            let bad = |reason: String| Some(Fault::at(Some(size.saturating_sub(1)), reason));
            if size > n {
                return bad(format!("the checkpoint to snapshot at has tree size {size}, beyond the {n} entries"));
            }
            let Some(cp) = open_checkpoint(text, info, authority) else {
                return bad("the checkpoint to snapshot at is not validly signed by this ledger's authority or its bound log key".into());
            };
            if plan.roots.get(&size) != Some(&cp.root) {
                return bad(format!(
                    "the checkpoint to snapshot at (tree size {size}) does not match the entries: history was rewritten"
                ));
            }
        }
        None
    }

    /// Compare the derived indices with the replay's state: the actor and
    /// key indices always, the others with `all`. A fault names the index
    /// and what differs, never an entry (the entries all passed).
    fn check_indices(&self, st: &AuditState<'_>, plan: &Plan, all: bool) -> Option<Fault> {
        let lots = &st.lots;
        let st = &st.ov;
        let mut n = 0usize;
        for kv in self.t.actor_state.iter() {
            n += 1;
            let (k, v) = match kv {
                Ok(kv) => kv,
                Err(e) => return Some(Fault::in_index(T_ACTOR_STATE, format!("actor index unreadable: {e}"))),
            };
            let id = String::from_utf8_lossy(&k).to_string();
            let want = ActorId::new(id.clone()).ok().and_then(|i| st.actors.get(&i));
            if let Some(what) = state_differs(&v, ("actor", "actor state"), want, |a| a.last_seq) {
                return Some(Fault::in_index(
                    T_ACTOR_STATE,
                    format!("actor index for {id} disagrees with the chain: {what}"),
                ));
            }
        }
        if n != st.actors.len() {
            return Some(Fault::in_index(
                T_ACTOR_STATE,
                format!("actor index is missing actors: it holds {n}, the chain has {}", st.actors.len()),
            ));
        }
        let mut n = 0usize;
        for kv in self.t.key_actor.iter() {
            n += 1;
            let (k, v) = match kv {
                Ok(kv) => kv,
                Err(e) => return Some(Fault::in_index(T_KEY_ACTOR, format!("key index unreadable: {e}"))),
            };
            let want = <[u8; 32]>::try_from(k.as_ref()).ok().and_then(|k| st.keys.get(&PublicKey(k)));
            if want.is_none_or(|a| a.as_str().as_bytes() != v.as_ref()) {
                let chain = want
                    .map_or_else(|| "the chain never bound it".to_string(), |a| format!("the chain binds it to {a}"));
                return Some(Fault::in_index(
                    T_KEY_ACTOR,
                    format!(
                        "key index disagrees with the chain: key {} is bound to {:?}, {chain}",
                        hex::encode(&k),
                        String::from_utf8_lossy(&v)
                    ),
                ));
            }
        }
        if n != st.keys.len() {
            return Some(Fault::in_index(
                T_KEY_ACTOR,
                format!("key index is missing keys: it holds {n}, the chain bound {}", st.keys.len()),
            ));
        }
        if !all {
            return None;
        }
        let mut n = 0usize;
        for kv in self.t.lot_state.iter() {
            n += 1;
            let (k, v) = match kv {
                Ok(kv) => kv,
                Err(e) => return Some(Fault::in_index(T_LOT_STATE, format!("lot index unreadable: {e}"))),
            };
            let id = String::from_utf8_lossy(&k).to_string();
            let want = LotId::new(id.clone()).ok().and_then(|i| lots.get(&i));
            if let Some(what) = state_differs(&v, ("lot", "lot state"), want.as_ref(), |l| l.last_seq) {
                return Some(Fault::in_index(
                    T_LOT_STATE,
                    format!("lot index for {id} disagrees with the chain: {what}"),
                ));
            }
        }
        if n != lots.len() {
            return Some(Fault::in_index(
                T_LOT_STATE,
                format!("lot index is missing lots: it holds {n}, the chain has {}", lots.len()),
            ));
        }
        let key = &plan.rebuilt.key;
        let scan = |tree: &sled::Tree, tag: u8| -> Result<Digest, sled::Error> {
            let mut d = Digest::default();
            for kv in tree.iter() {
                let (k, v) = kv?;
                d.add(key, tag, &k, &v);
            }
            Ok(d)
        };
        let checks: [(&sled::Tree, &'static str, u8, &Digest, &str); 3] = [
            (&self.t.lot_entries, T_LOT_ENTRIES, TAG_LOT, &plan.rebuilt.lots, "lot history index"),
            (&self.t.actor_entries, T_ACTOR_ENTRIES, TAG_ACTOR, &plan.rebuilt.actors, "actor history index"),
            (&self.t.event_ids, T_EVENT_IDS, TAG_EVENT, &plan.rebuilt.events, "event index"),
        ];
        for (tree, name, tag, want, what) in checks {
            let reason = match scan(tree, tag) {
                Ok(d) if d == *want => continue,
                Ok(d) if d.n != want.n => {
                    format!("{what} disagrees with the chain: it holds {} keys, the entries imply {}", d.n, want.n)
                }
                Ok(_) => format!(
                    "{what} disagrees with the chain: it holds as many keys as the entries imply ({}), but not the same keys and values",
                    want.n
                ),
                Err(e) => format!("{what} unreadable: {e}"),
            };
            return Some(Fault::in_index(name, reason));
        }
        None
    }
}

/// How a stored state record (an actor's or a lot's) differs from the
/// chain's, `want`; `None` when they are equal.
fn state_differs<T: bincode::Decode<()> + bincode::Encode + PartialEq>(
    stored: &[u8],
    (what, record): (&str, &'static str),
    want: Option<&T>,
    last_seq: impl Fn(&T) -> u64,
) -> Option<String> {
    match (codec::decode_strict::<T>(stored, record), want) {
        (Ok(stored), Some(want)) if stored == *want => None,
        (Ok(_), Some(want)) => {
            Some(format!("the stored state differs from the chain's (last changed at seq {})", last_seq(want)))
        }
        (Ok(_), None) => Some(format!("no such {what} in the chain")),
        (Err(e), _) => Some(format!("the stored state does not decode: {e}")),
    }
}

/// Open a checkpoint note with any key the authority has held, or with the
/// log key bound for its tree size (docs/formats.md §5.2).
fn open_checkpoint(text: &str, info: &LedgerInfo, authority: &ActorState) -> Option<checkpoint::Checkpoint> {
    let keys: Vec<[u8; 32]> = authority.keys.iter().map(|k| k.key.0).collect();
    checkpoint::open_for_ledger(text, info, &keys).ok().map(|(cp, _)| cp)
}

/// What the replay records besides the state.
struct Plan {
    /// Stored checkpoints (size, note).
    stored: Vec<(u64, String)>,
    /// Sizes whose root the replay records.
    sizes: BTreeSet<u64>,
    roots: BTreeMap<u64, Hash>,
    /// Snapshot wanted at this size: (size, origin, checkpoint note).
    snap_at: Option<(u64, String, String)>,
    /// The state captured at the snapshot size, until the audit succeeds.
    snap_state: Option<AuditSnapshot>,
    /// Accumulate digests of the derived indices.
    digests: bool,
    rebuilt: Digests,
}

/// One decoded entry from the reader thread.
enum Item {
    /// `key`: the seq the entry is stored under, or the malformed key (hex).
    Entry {
        key: Result<u64, String>,
        decoded: Result<(Entry, Hash, Hash), String>,
    },
    Error(String),
    /// A stored hash tile disagrees with the entries streamed before it.
    Tile(String),
}

fn decode_item(seq: u64, v: &[u8]) -> Item {
    let decoded = match Entry::from_bytes(v) {
        Ok(e) => {
            let hash = tinledger_core::entry::hash_entry_bytes(v).0;
            Ok((e, hash, merkle::leaf_hash(v)))
        }
        Err(e) => Err(format!("entry bytes are damaged: {e}")),
    };
    Item::Entry { key: Ok(seq), decoded }
}

/// Reader thread: stream entries from `from` on, decoded, in chunks. A full
/// audit (from 0) also recomputes every hash tile from the entries and
/// compares it with the stored one as it completes (`Item::Tile` after the
/// entries it covers).
fn read_entries(tree: sled::Tree, from: u64, tx: mpsc::SyncSender<Vec<Item>>) {
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut tiles = (from == 0).then(crate::log::TileCheck::new);
        let mut next = from;
        let streamed = crate::log::stream_entries(&tree, from, |item| {
            let (item, stop) = match item {
                Ok((seq, v)) => {
                    let item = decode_item(seq, v);
                    let mut tile_fault = None;
                    if let (Some(t), Item::Entry { decoded: Ok((_, _, leaf)), .. }) = (tiles.as_mut(), &item) {
                        if seq == next {
                            tile_fault = t.push(&tree, *leaf).err();
                        } else {
                            tiles = None;
                        }
                    }
                    next = seq.saturating_add(1);
                    chunk.push(item);
                    match tile_fault {
                        Some(f) => (Item::Tile(f), true),
                        None => {
                            if chunk.len() < CHUNK {
                                return true;
                            }
                            let sent = tx.send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK))).is_ok();
                            return sent;
                        }
                    }
                }
                Err(e) => (Item::Error(e), true),
            };
            chunk.push(item);
            let _ = tx.send(std::mem::take(&mut chunk));
            !stop
        });
        if let Err(e) = streamed {
            chunk.push(Item::Error(format!("storage error reading entries: {e}")));
        } else if let Some(t) = &tiles {
            if let Err(f) = t.finish(&tree) {
                chunk.push(Item::Tile(f));
            }
        }
        if !chunk.is_empty() {
            let _ = tx.send(chunk);
        }
    }));
    if res.is_err() {
        let _ = tx.send(vec![Item::Error("storage engine failed while reading entries".into())]);
    }
}

/// The rule state while replaying. Event ids are kept as 8-byte prefixes
/// (a prefix hit is confirmed against the stored entry), so memory is
/// about 16 bytes per event plus the actors and lots.
struct AuditState<'l> {
    /// Everything but the lots and event ids.
    ov: Overlay<'static>,
    lots: Lots,
    fp: HashMap<u64, u64>,
    exact: HashMap<[u8; 32], u64>,
    entries: &'l sled::Tree,
    keys: sigbatch::KeyCache,
    /// Times of the replayed entries (for the time-order rule); entries
    /// before an audit snapshot are read from the tree.
    times: HashMap<u64, Timestamp>,
}

fn fp(id: &[u8; 32]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&id[..8]);
    u64::from_be_bytes(b)
}

impl AuditState<'_> {
    fn absorb(&mut self, seq: u64, d: &Delta) {
        self.ov.absorb_except_lots_and_event(d);
        self.times.insert(seq, d.at);
        for l in &d.lots {
            self.lots.insert(l);
        }
        // `apply` has already refused a duplicate, so an occupied prefix
        // belongs to a different event.
        match self.fp.entry(fp(&d.event_id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(seq);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.exact.insert(d.event_id, seq);
            }
        }
    }
}

impl StateView for AuditState<'_> {
    fn ledger(&self) -> Option<LedgerInfo> {
        self.ov.ledger.clone()
    }
    fn actor(&self, id: &ActorId) -> Result<Option<ActorState>, ViewError> {
        self.ov.actor(id)
    }
    fn lot(&self, id: &LotId) -> Result<Option<LotState>, ViewError> {
        Ok(self.lots.get(id))
    }
    fn actor_by_key(&self, key: &PublicKey) -> Result<Option<ActorId>, ViewError> {
        self.ov.actor_by_key(key)
    }
    fn entry(&self, seq: u64) -> Result<Option<Entry>, ViewError> {
        crate::store::stored_entry(self.entries, seq)
    }
    fn entry_time(&self, seq: u64) -> Result<Option<Timestamp>, ViewError> {
        if let Some(t) = self.times.get(&seq) {
            return Ok(Some(*t));
        }
        match self.entry(seq)? {
            None => Ok(None),
            Some(e) => Ok(Some(e.signed_event().map_err(|x| ViewError(format!("entry {seq}: {x}")))?.event().at)),
        }
    }
    fn seen_event(&self, id: &[u8; 32]) -> Result<Option<u64>, ViewError> {
        if let Some(s) = self.exact.get(id) {
            return Ok(Some(*s));
        }
        let Some(seq) = self.fp.get(&fp(id)) else { return Ok(None) };
        // Confirm against the earlier entry (already verified by this audit).
        let v = crate::log::read_entry(self.entries, *seq, None)
            .map_err(|e| ViewError(format!("storage error reading entry {seq}: {e}")))?
            .ok_or_else(|| ViewError(format!("entry {seq} vanished during the audit")))?;
        let e = Entry::from_bytes(&v).map_err(|e| ViewError(format!("entry {seq}: {e}")))?;
        Ok((tinledger_core::event::event_id(&e.event) == *id).then_some(*seq))
    }
}

/// Lot states, compactly: encoded (canonical bytes) under a keyed 64-bit
/// hash of the lot id; the rare lot whose hash collides with another's is
/// kept whole in `collided`. About 100 bytes per lot instead of ~400.
struct Lots {
    hasher: std::collections::hash_map::RandomState,
    by_hash: HashMap<u64, Box<[u8]>>,
    collided: HashMap<LotId, LotState>,
}

impl Lots {
    fn new() -> Lots {
        Lots { hasher: Default::default(), by_hash: HashMap::new(), collided: HashMap::new() }
    }
    fn hash(&self, id: &LotId) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(id.as_str())
    }
    fn get(&self, id: &LotId) -> Option<LotState> {
        if let Some(l) = self.collided.get(id) {
            return Some(l.clone());
        }
        let b = self.by_hash.get(&self.hash(id))?;
        let l: LotState = codec::decode_strict(b, "lot state").ok()?;
        (l.id == *id).then_some(l)
    }
    fn insert(&mut self, l: &LotState) {
        if let Some(c) = self.collided.get_mut(&l.id) {
            *c = l.clone();
            return;
        }
        let h = self.hash(&l.id);
        let bytes = codec::encode(l).into_boxed_slice();
        match self.by_hash.entry(h) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(bytes);
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                // The encoding starts with the id (u64 BE length, bytes).
                let id = l.id.as_str().as_bytes();
                let same = o.get().get(..8) == Some(&(id.len() as u64).to_be_bytes()[..])
                    && o.get().get(8..8 + id.len()) == Some(id);
                if same {
                    o.insert(bytes);
                } else {
                    self.collided.insert(l.id.clone(), l.clone());
                }
            }
        }
    }
    fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }
    /// Every lot, in no particular order.
    fn all(&self) -> impl Iterator<Item = LotState> + '_ {
        self.by_hash
            .values()
            .filter_map(|b| codec::decode_strict::<LotState>(b, "lot state").ok())
            .chain(self.collided.values().cloned())
    }
}

const TAG_LOT: u8 = 1;
const TAG_ACTOR: u8 = 2;
const TAG_EVENT: u8 = 3;

/// A keyed multiset hash (sum modulo 2^256 of SHA-256(key ‖ tag ‖ len ‖ k ‖ v))
/// and a count: equal digests mean equal multisets of (k, v), except with
/// negligible probability for a key the index's writer could not know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Digest {
    sum: [u64; 4],
    n: u64,
}

impl Digest {
    fn add(&mut self, key: &[u8; 32], tag: u8, k: &[u8], v: &[u8]) {
        let mut h = Sha256::new();
        h.update(key);
        h.update([tag]);
        h.update((k.len() as u64).to_be_bytes());
        h.update(k);
        h.update(v);
        let d: [u8; 32] = h.finalize().into();
        let mut carry = false;
        for (i, limb) in self.sum.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&d[i * 8..i * 8 + 8]);
            let (s1, c1) = limb.overflowing_add(u64::from_le_bytes(b));
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            *limb = s2;
            carry = c1 || c2;
        }
        self.n += 1;
    }
}

/// Digests of the derived indices the replay implies.
struct Digests {
    key: [u8; 32],
    lots: Digest,
    actors: Digest,
    events: Digest,
}

impl Default for Digests {
    fn default() -> Self {
        Digests { key: random_key(), lots: Digest::default(), actors: Digest::default(), events: Digest::default() }
    }
}

/// 32 unpredictable bytes from the standard library's randomly keyed hasher
/// (the ledger crate does not need a random number generator otherwise).
fn random_key() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 32];
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    for (i, c) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(t);
        h.write_u32(std::process::id());
        c.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// The replay's position: state, count, last hash, Merkle frontier.
struct Replay<'l> {
    st: AuditState<'l>,
    count: u64,
    /// First seq replayed.
    start: u64,
    prev: EntryHash,
    frontier: Frontier,
}

impl<'l> Replay<'l> {
    fn new(entries: &'l sled::Tree) -> Replay<'l> {
        Replay {
            st: AuditState {
                ov: Overlay::empty(),
                lots: Lots::new(),
                fp: HashMap::new(),
                exact: HashMap::new(),
                entries,
                keys: Default::default(),
                times: HashMap::new(),
            },
            count: 0,
            start: 0,
            prev: EntryHash::ZERO,
            frontier: Frontier::default(),
        }
    }

    /// Start from a snapshot, after checking it against the checkpoint note
    /// it claims to be bound to (signed by the authority it records).
    fn from_snapshot(entries: &'l sled::Tree, s: &AuditSnapshot, note: &str) -> Result<Replay<'l>, String> {
        let info = s.ledger.as_ref().ok_or("the audit snapshot has no genesis facts")?;
        let authority =
            s.actors.iter().find(|a| a.record.id == info.authority).ok_or("the audit snapshot has no authority")?;
        let cp = open_checkpoint(note, info, authority)
            .ok_or("the trusted checkpoint is not validly signed by this ledger's authority or its bound log key")?;
        if cp.origin != s.origin || cp.size != s.size || cp.root != s.root {
            return Err(format!(
                "the audit snapshot (size {}) was not taken at this checkpoint (size {})",
                s.size, cp.size
            ));
        }
        let frontier = Frontier { stack: s.frontier.clone() };
        if frontier.size() != s.size || frontier.root() != s.root {
            return Err("the audit snapshot's Merkle frontier does not give the checkpoint's root".into());
        }
        let mut ov = Overlay::empty();
        ov.ledger = s.ledger.clone();
        ov.actors = s.actors.iter().map(|a| (a.record.id.clone(), a.clone())).collect();
        ov.keys = s.keys.iter().cloned().collect();
        ov.compromises = s.compromises.clone();
        ov.flags = s.flags.clone();
        let mut lots = Lots::new();
        for l in &s.lots {
            lots.insert(l);
        }
        Ok(Replay {
            st: AuditState {
                ov,
                lots,
                fp: s.events_fp.iter().copied().collect(),
                exact: s.events_exact.iter().copied().collect(),
                entries,
                keys: Default::default(),
                times: HashMap::new(),
            },
            count: s.size,
            start: s.size,
            prev: EntryHash(s.head),
            frontier,
        })
    }

    fn snapshot(&self, origin: String, root: Hash) -> AuditSnapshot {
        let ov = &self.st.ov;
        let mut actors: Vec<ActorState> = ov.actors.values().cloned().collect();
        actors.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        let mut lots: Vec<LotState> = self.st.lots.all().collect();
        lots.sort_by(|a, b| a.id.cmp(&b.id));
        let mut keys: Vec<(PublicKey, ActorId)> = ov.keys.iter().map(|(k, a)| (*k, a.clone())).collect();
        keys.sort_by_key(|k| k.0 .0);
        let mut events_fp: Vec<(u64, u64)> = self.st.fp.iter().map(|(k, v)| (*k, *v)).collect();
        events_fp.sort_unstable();
        let mut events_exact: Vec<([u8; 32], u64)> = self.st.exact.iter().map(|(k, v)| (*k, *v)).collect();
        events_exact.sort_unstable();
        AuditSnapshot {
            origin,
            size: self.count,
            root,
            head: self.prev.0,
            frontier: self.frontier.stack.clone(),
            ledger: ov.ledger.clone(),
            actors,
            lots,
            keys,
            events_fp,
            events_exact,
            compromises: ov.compromises.clone(),
            flags: ov.flags.clone(),
        }
    }

    /// Check one entry (everything but its signature, which is returned to
    /// be checked in a batch) and absorb it.
    fn step(&mut self, item: Item, plan: &mut Plan) -> Result<(SigCheck, EntryHash), String> {
        let seq = self.count;
        let (key, decoded) = match item {
            Item::Entry { key, decoded } => (key, decoded),
            Item::Error(e) | Item::Tile(e) => return Err(e),
        };
        let key_seq = match key {
            Ok(s) => s,
            Err(k) => return Err(format!("malformed entry key {k}")),
        };
        if key_seq != seq {
            return Err(format!("entry {seq} is missing (the next stored entry is {key_seq})"));
        }
        let (entry, hash, leaf) = decoded?;
        if entry.seq != seq {
            return Err(format!("entry stored at seq {seq} says it is seq {} (entries moved or swapped)", entry.seq));
        }
        if entry.prev_hash() != self.prev {
            return Err(format!(
                "hash link broken: prev is {} but entry {} hashes to {}",
                entry.prev_hash(),
                seq.wrapping_sub(1),
                self.prev
            ));
        }
        let signed = SignedEvent::from_parts(entry.event, entry.signature)
            .map_err(|e| format!("event bytes are damaged: {e}"))?;
        let (delta, key) =
            rules::apply_deferred(&self.st, seq, &signed).map_err(|e| format!("event breaks a rule: {e}"))?;
        if plan.digests {
            let d = &mut plan.rebuilt;
            for lot in &delta.touched_lots {
                d.lots.add(&d.key, TAG_LOT, &lot_entry_key(lot.as_str(), seq), &[]);
            }
            if let Some(a) = signed.event().history_actor() {
                d.actors.add(&d.key, TAG_ACTOR, &lot_entry_key(a.as_str(), seq), &[]);
            }
            d.events.add(&d.key, TAG_EVENT, &event_key(&delta.event_id), &seq_key(seq));
        }
        self.frontier.push_leaf(leaf);
        self.st.absorb(seq, &delta);
        let prev = self.prev;
        self.prev = EntryHash(hash);
        self.count += 1;
        if plan.sizes.contains(&self.count) {
            self.record_root(plan);
        }
        let (event_bytes, signature) = signed.into_parts();
        Ok((self.st.keys.check(seq, event_bytes, signature, key), prev))
    }

    /// At a checkpoint size: record the root, and the snapshot if wanted there.
    fn record_root(&self, plan: &mut Plan) {
        let root = self.frontier.root();
        plan.roots.insert(self.count, root);
        if let Some((size, origin, _)) = &plan.snap_at {
            if *size == self.count {
                plan.snap_state = Some(self.snapshot(origin.clone(), root));
            }
        }
    }

    fn report(&self, fault: Option<Fault>, indices: bool) -> AuditReport {
        let ov = &self.st.ov;
        AuditReport {
            ok: fault.is_none(),
            entries: self.count,
            head: (self.count > 0).then(|| self.prev.to_hex()),
            fault,
            ledger_id: ov.ledger.as_ref().map(|l| l.ledger_id.to_hex()),
            actors: ov.actors.len(),
            lots: self.st.lots.len(),
            flags: ov.flags.clone(),
            compromised: ov.compromises.clone(),
            replayed_from: self.start,
            indices_checked: indices,
        }
    }
}

/// The right edge of a Merkle tree being built leaf by leaf: O(log n) memory.
#[derive(Clone, Default)]
struct Frontier {
    /// (level, hash) of complete subtrees not yet combined, largest first.
    stack: Vec<(u8, Hash)>,
}

impl Frontier {
    /// Add a leaf.
    fn push_leaf(&mut self, leaf: Hash) {
        let mut level = 0u8;
        let mut h = leaf;
        while let Some(&(l, left)) = self.stack.last() {
            if l != level {
                break;
            }
            self.stack.pop();
            h = merkle::node_hash(&left, &h);
            level += 1;
        }
        self.stack.push((level, h));
    }

    /// Number of leaves.
    fn size(&self) -> u64 {
        self.stack.iter().map(|(l, _)| 1u64.checked_shl(u32::from(*l)).unwrap_or(0)).sum()
    }

    /// RFC 9162 root of the leaves so far.
    fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some((_, last)) = it.next() else { return merkle::empty_root() };
        it.fold(*last, |right, (_, left)| merkle::node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_roots_match_the_reference_tree() {
        let mut a = Frontier::default();
        let mut mem = merkle::MemTree::new();
        assert_eq!(a.root(), mem.root());
        for n in 0..300u64 {
            let leaf = merkle::leaf_hash(&n.to_be_bytes());
            a.push_leaf(leaf);
            mem.push(leaf);
            assert_eq!(a.size(), n + 1);
            assert_eq!(a.root(), mem.root(), "size {}", n + 1);
        }
    }

    #[test]
    fn digests_are_order_independent_and_sensitive() {
        let key = [7u8; 32];
        let (mut x, mut y, mut z) = (Digest::default(), Digest::default(), Digest::default());
        for i in 0..50u64 {
            x.add(&key, 1, &i.to_be_bytes(), b"v");
            y.add(&key, 1, &(49 - i).to_be_bytes(), b"v");
            z.add(&key, 1, &i.to_be_bytes(), if i == 30 { b"w" } else { b"v" });
        }
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn snapshot_bytes_are_checked() {
        let s = AuditSnapshot {
            origin: "tinledger/00".into(),
            size: 0,
            root: merkle::empty_root(),
            head: [0; 32],
            frontier: vec![],
            ledger: None,
            actors: vec![],
            lots: vec![],
            keys: vec![],
            events_fp: vec![(1, 2)],
            events_exact: vec![],
            compromises: vec![],
            flags: vec![],
        };
        let auditor = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let pk = PublicKey(auditor.verifying_key().to_bytes());
        let b = s.to_bytes(&auditor).unwrap();
        assert_eq!(AuditSnapshot::from_bytes(&b, &pk).unwrap(), s);
        let mut bad = b.clone();
        bad[SNAPSHOT_MAGIC.len() + 3] ^= 1;
        assert!(AuditSnapshot::from_bytes(&bad, &pk).unwrap_err().contains("damaged or forged"));
        assert!(AuditSnapshot::from_bytes(&b[..10], &pk).is_err());
        // Another auditor's snapshot, and one re-signed by another key.
        let other = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
        let theirs = s.to_bytes(&other).unwrap();
        assert!(AuditSnapshot::from_bytes(&theirs, &pk).unwrap_err().contains("signed by auditor key"));
        let mut spliced = theirs.clone();
        let at = spliced.len() - 96;
        spliced[at..at + 32].copy_from_slice(&pk.0);
        assert!(AuditSnapshot::from_bytes(&spliced, &pk).unwrap_err().contains("damaged or forged"));
    }

    /// A signed body whose first vector claims 2^40 elements: refused by the
    /// decoding limit (which follows the body's size), never allocated.
    #[test]
    fn snapshot_lengths_are_bounded_by_the_file() {
        use ed25519_dalek::Signer;
        let auditor = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let pk = PublicKey(auditor.verifying_key().to_bytes());
        for (len, field) in [(1u64 << 40, "origin"), (1 << 20, "origin"), (u64::MAX, "origin")] {
            let mut b = SNAPSHOT_MAGIC.to_vec();
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(b"tinledger/00");
            b.extend_from_slice(&pk.0);
            let sig = auditor.sign(&b);
            b.extend_from_slice(&sig.to_bytes());
            let e = AuditSnapshot::from_bytes(&b, &pk).unwrap_err();
            assert!(e.starts_with("audit snapshot is malformed"), "{field} {len}: {e}");
        }
        // A vector of 2^30 frontier items after a valid origin, size, root and head.
        let mut b = SNAPSHOT_MAGIC.to_vec();
        b.extend_from_slice(&12u64.to_be_bytes());
        b.extend_from_slice(b"tinledger/00");
        b.extend_from_slice(&[0; 8 + 32 + 32]);
        b.extend_from_slice(&(1u64 << 30).to_be_bytes());
        b.extend_from_slice(&pk.0);
        let sig = auditor.sign(&b);
        b.extend_from_slice(&sig.to_bytes());
        let e = AuditSnapshot::from_bytes(&b, &pk).unwrap_err();
        assert!(e.contains("malformed"), "{e}");
        assert!(decode_bounded(&[0; 100]).is_err());
    }
}
