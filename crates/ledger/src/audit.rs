//! The audit: replay the whole chain from genesis and check every link.
//!
//! Checked, in order, for each stored entry: the key is the next sequence
//! number (no gaps), the bytes decode strictly, the entry's own seq matches
//! its key, `prev` is the hash of the entry before, and the signed event
//! passes every rule (signature, key validity, role, custody, mass, tin
//! balance) against the state rebuilt so far. Then the recorded head, an
//! optional externally saved head, and every index are compared with what
//! the replay rebuilt. The first failure is reported with its seq.

use crate::schema::*;
use crate::store::{guard, Ledger};
use serde::Serialize;
use std::collections::BTreeSet;
use tinledger_core::merkle::{self, Hash};
use tinledger_core::rules::{self, ActorState, Compromise, Flag, LotState, Overlay};
use tinledger_core::{checkpoint, codec, note};
use tinledger_core::{Entry, EntryHash};

/// What to compare the chain with, beyond itself.
#[derive(Clone, Debug, Default)]
pub struct AuditOptions {
    /// A head saved earlier (seq of its last entry, entry hash): the chain
    /// must still contain exactly that entry.
    pub expect: Option<(u64, EntryHash)>,
}

/// The first problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Sequence number of the faulty (or first missing) entry, when known.
    pub seq: Option<u64>,
    pub reason: String,
}

/// The audit's findings.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub ok: bool,
    /// Entries that passed every check.
    pub entries: u64,
    /// Hash of the last entry that passed (hex), if any.
    pub head: Option<String>,
    pub fault: Option<Fault>,
    /// The ledger id from the genesis entry (hex), if it verified.
    pub ledger_id: Option<String>,
    pub actors: usize,
    pub lots: usize,
    /// Flags raised by accepted events (not faults).
    pub flags: Vec<Flag>,
    /// Keys reported compromised: entries they signed in the window are untrusted.
    pub compromised: Vec<Compromise>,
}

impl Ledger {
    /// Replay and check the whole chain (see the module docs).
    pub fn audit(&self, opts: &AuditOptions) -> AuditReport {
        let mut st = Overlay::empty();
        let mut count: u64 = 0;
        let mut prev = EntryHash::ZERO;
        let mut idx = Rebuilt::default();
        let fault = match guard("auditing", || Ok(self.replay(&mut st, &mut count, &mut prev, &mut idx, opts))) {
            Ok(f) => f,
            Err(e) => Some(Fault { seq: Some(count), reason: e.to_string() }),
        };
        AuditReport {
            ok: fault.is_none(),
            entries: count,
            head: (count > 0).then(|| prev.to_hex()),
            fault,
            ledger_id: st.ledger.as_ref().map(|l| l.ledger_id.to_hex()),
            actors: st.actors.len(),
            lots: st.lots.len(),
            flags: st.flags.clone(),
            compromised: st.compromises.clone(),
        }
    }

    fn replay(
        &self,
        st: &mut Overlay<'static>,
        count: &mut u64,
        prev: &mut EntryHash,
        idx: &mut Rebuilt,
        opts: &AuditOptions,
    ) -> Option<Fault> {
        let fault = |seq: u64, reason: String| Some(Fault { seq: Some(seq), reason });
        for kv in self.t.entries.iter() {
            let seq = *count;
            let (k, v) = match kv {
                Ok(kv) => kv,
                Err(e) => return fault(seq, format!("storage error reading entry {seq}: {e}")),
            };
            let key_seq = match <[u8; 8]>::try_from(k.as_ref()) {
                Ok(b) => u64::from_be_bytes(b),
                Err(_) => return fault(seq, format!("malformed entry key {}", hex::encode(&k))),
            };
            if key_seq != seq {
                return fault(seq, format!("entry {seq} is missing (the next stored entry is {key_seq})"));
            }
            let entry = match Entry::from_bytes(&v) {
                Ok(e) => e,
                Err(e) => return fault(seq, format!("entry bytes are damaged: {e}")),
            };
            if entry.seq != seq {
                return fault(
                    seq,
                    format!("entry stored at seq {seq} says it is seq {} (entries moved or swapped)", entry.seq),
                );
            }
            if entry.prev_hash() != *prev {
                return fault(
                    seq,
                    format!(
                        "hash link broken: prev is {} but entry {} hashes to {}",
                        entry.prev_hash(),
                        seq.wrapping_sub(1),
                        prev
                    ),
                );
            }
            let signed = match entry.signed_event() {
                Ok(s) => s,
                Err(e) => return fault(seq, format!("event bytes are damaged: {e}")),
            };
            let delta = match rules::apply(&*st, seq, &signed) {
                Ok(d) => d,
                Err(e) => return fault(seq, format!("event breaks a rule: {e}")),
            };
            for lot in &delta.touched_lots {
                idx.lots.insert(lot_entry_key(lot.as_str(), seq));
            }
            if let Some(a) = signed.event().body.subject_actor() {
                idx.actors.insert(lot_entry_key(a.as_str(), seq));
            }
            // Merkle tree: every complete subtree this leaf completes must be stored as computed.
            for (level, index, hash) in idx.frontier.push(seq, merkle::leaf_hash(&v)) {
                match self.t.merkle.get(merkle_key(level, index)) {
                    Ok(Some(h)) if h.as_ref() == hash.as_slice() => {}
                    Ok(_) => {
                        return fault(seq, format!("Merkle tree node level {level} index {index} disagrees with the entries (run `tinledger reindex` to rebuild it from the entries)"))
                    }
                    Err(e) => return fault(seq, format!("storage error reading the Merkle tree: {e}")),
                }
                idx.merkle_nodes += 1;
            }
            st.absorb(seq, &delta);
            *prev = entry.hash();
            *count += 1;
        }
        let n = *count;

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
                let stored: Result<rules::LedgerInfo, _> = codec::decode_strict(&v, "ledger header");
                if stored.ok() != st.ledger {
                    return fault(0, "ledger header disagrees with the genesis entry".into());
                }
            }
            Ok(None) if n > 0 => return fault(0, "ledger header (genesis facts) is missing".into()),
            Ok(None) => {}
            Err(e) => return fault(0, format!("storage error reading the ledger header: {e}")),
        }

        // Indices must be exactly what the chain implies.
        if let Some(f) = self.check_indices(st, idx) {
            return Some(f);
        }
        if let Some(f) = self.check_checkpoints(st, n) {
            return Some(f);
        }
        None
    }

    /// Every stored checkpoint must be signed by a key the authority held and
    /// commit to the root the entries give at its size.
    fn check_checkpoints(&self, st: &Overlay<'static>, n: u64) -> Option<Fault> {
        let info = st.ledger.as_ref()?;
        let authority = st.actors.get(&info.authority)?;
        let origin = checkpoint::origin_for(&info.ledger_id);
        let cps = match self.checkpoints() {
            Ok(c) => c,
            Err(e) => return Some(Fault { seq: None, reason: format!("checkpoints unreadable: {e}") }),
        };
        for (size, text) in cps {
            let bad = |reason: String| Some(Fault { seq: Some(size.saturating_sub(1)), reason });
            if size > n {
                return bad(format!(
                    "stored checkpoint for tree size {size} is beyond the {n} entries: entries were removed"
                ));
            }
            let opened = authority.keys.iter().find_map(|k| {
                let v = note::Verifier::new(&origin, k.key.0).ok()?;
                checkpoint::Checkpoint::open(&text, &v).ok()
            });
            let Some(cp) = opened else {
                return bad(format!("stored checkpoint for tree size {size} is not validly signed by the authority"));
            };
            if cp.size != size {
                return bad(format!("stored checkpoint under size {size} says size {}", cp.size));
            }
            match self.merkle_root(size) {
                Ok(r) if r == cp.root => {}
                _ => {
                    return bad(format!(
                        "signed checkpoint for tree size {size} does not match the entries: history was rewritten"
                    ))
                }
            }
        }
        None
    }

    fn check_indices(&self, st: &Overlay<'static>, rebuilt: &Rebuilt) -> Option<Fault> {
        let lot_index = &rebuilt.lots;
        let idx = |seq: u64, what: &str| {
            Some(Fault {
                seq: Some(seq),
                reason: format!("{what} (run `tinledger reindex` to rebuild indices from the entries)"),
            })
        };
        let mut n = 0usize;
        for kv in self.t.actor_state.iter() {
            n += 1;
            let Ok((k, v)) = kv else {
                return idx(0, "actor index unreadable");
            };
            let id = String::from_utf8_lossy(&k).to_string();
            let stored: Option<ActorState> = codec::decode_strict(&v, "actor state").ok();
            let want = tinledger_core::ActorId::new(id.clone()).ok().and_then(|i| st.actors.get(&i));
            if stored.as_ref() != want {
                return idx(want.map_or(0, |a| a.last_seq), &format!("actor index for {id} disagrees with the chain"));
            }
        }
        if n != st.actors.len() {
            return idx(0, "actor index is missing actors");
        }
        n = 0;
        for kv in self.t.lot_state.iter() {
            n += 1;
            let Ok((k, v)) = kv else {
                return idx(0, "lot index unreadable");
            };
            let id = String::from_utf8_lossy(&k).to_string();
            let stored: Option<LotState> = codec::decode_strict(&v, "lot state").ok();
            let want = tinledger_core::LotId::new(id.clone()).ok().and_then(|i| st.lots.get(&i));
            if stored.as_ref() != want {
                return idx(want.map_or(0, |l| l.last_seq), &format!("lot index for {id} disagrees with the chain"));
            }
        }
        if n != st.lots.len() {
            return idx(0, "lot index is missing lots");
        }
        let stored_lot_index: Result<BTreeSet<Vec<u8>>, _> =
            self.t.lot_entries.iter().keys().map(|k| k.map(|k| k.to_vec())).collect();
        if stored_lot_index.ok().as_ref() != Some(lot_index) {
            return idx(0, "lot history index disagrees with the chain");
        }
        let stored_actor_index: Result<BTreeSet<Vec<u8>>, _> =
            self.t.actor_entries.iter().keys().map(|k| k.map(|k| k.to_vec())).collect();
        if stored_actor_index.ok().as_ref() != Some(&rebuilt.actors) {
            return idx(0, "actor history index disagrees with the chain");
        }
        if self.t.merkle.len() as u64 != rebuilt.merkle_nodes {
            return idx(0, "Merkle tree holds nodes the entries do not imply");
        }
        let mut n = 0usize;
        for kv in self.t.key_actor.iter() {
            n += 1;
            let Ok((k, v)) = kv else {
                return idx(0, "key index unreadable");
            };
            let ok = <[u8; 32]>::try_from(k.as_ref())
                .ok()
                .and_then(|k| st.keys.get(&tinledger_core::event::PublicKey(k)))
                .is_some_and(|a| a.as_str().as_bytes() == v.as_ref());
            if !ok {
                return idx(0, "key index disagrees with the chain");
            }
        }
        if n != st.keys.len() {
            return idx(0, "key index is missing keys");
        }
        let mut n = 0usize;
        for kv in self.t.event_ids.iter() {
            n += 1;
            let Ok((k, v)) = kv else {
                return idx(0, "event index unreadable");
            };
            let ok = <[u8; 32]>::try_from(k.as_ref())
                .ok()
                .and_then(|k| st.events.get(&k))
                .is_some_and(|s| s.to_be_bytes().as_slice() == v.as_ref());
            if !ok {
                return idx(0, "event index disagrees with the chain");
            }
        }
        if n != st.events.len() {
            return idx(0, "event index is missing events");
        }
        None
    }
}

/// Indices rebuilt while replaying, compared with the stored ones.
#[derive(Default)]
struct Rebuilt {
    lots: BTreeSet<Vec<u8>>,
    actors: BTreeSet<Vec<u8>>,
    frontier: Frontier,
    merkle_nodes: u64,
}

/// The right edge of a Merkle tree being built leaf by leaf: O(log n) memory.
#[derive(Default)]
struct Frontier {
    /// (level, hash) of complete subtrees not yet combined, lowest last.
    stack: Vec<(u8, Hash)>,
}

impl Frontier {
    /// Add leaf `n`; return every complete subtree (level, index, hash) it completes, leaf first.
    fn push(&mut self, n: u64, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        let mut out = vec![(0u8, n, leaf)];
        self.stack.push((0, leaf));
        while self.stack.len() >= 2 {
            let (rl, rh) = self.stack[self.stack.len() - 1];
            let (ll, lh) = self.stack[self.stack.len() - 2];
            if ll != rl {
                break;
            }
            self.stack.truncate(self.stack.len() - 2);
            let h = merkle::node_hash(&lh, &rh);
            let level = rl + 1;
            self.stack.push((level, h));
            out.push((level, n >> level, h));
        }
        out
    }
}
