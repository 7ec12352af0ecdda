//! Rebuild every index from the entries: lot and actor histories, lot and
//! actor states, the key and event-id indices, the hash tiles and the head.
//!
//! The entries (bundles and edge items of `tiles`) are only read. The rebuild first replays and checks the
//! whole chain (a chain that does not verify cannot be re-indexed), then
//! clears and rewrites each derived tree, then makes it durable. It sets the
//! `meta/pending` marker first and removes it with the new head, so a crash
//! in the middle makes the next open rebuild the trees again.

use crate::schema::*;
use crate::store::{guard, Ledger};
use crate::{AuditOptions, LedgerError};
use tinledger_core::codec;
use tinledger_core::merkle;
use tinledger_core::rules::{self, Overlay};
use tinledger_core::{Entry, EntryHash};

/// What a rebuild wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReindexReport {
    /// Entries replayed (the whole chain).
    pub entries: u64,
    /// Lot states written to `lot_state`.
    pub lots: usize,
    /// Actor states written to `actor_state`.
    pub actors: usize,
    /// Hash tiles written to `tiles` (full ones and the partial right edge
    /// of each level above 0).
    pub hash_tiles: usize,
}

impl Ledger {
    /// Rebuild all derived trees from the entries (see the module docs).
    pub fn reindex(&mut self) -> Result<ReindexReport, LedgerError> {
        let entries = self.t.tiles.clone();
        let base = crate::store::EntriesOnly(&entries);
        let mut st = Overlay::over(&base);
        let mut lot_keys: Vec<Vec<u8>> = Vec::new();
        let mut actor_keys: Vec<Vec<u8>> = Vec::new();
        let mut leaves: Vec<merkle::Hash> = Vec::new();
        let mut prev = EntryHash::ZERO;
        let mut n: u64 = 0;
        guard("replaying entries", || {
            let mut fail: Option<LedgerError> = None;
            let mut step = |seq: u64, v: &[u8]| -> Result<(), LedgerError> {
                let bad = |reason: String| LedgerError::Corrupt { seq: Some(n), reason };
                if seq != n {
                    return Err(bad(format!("entry {n} is missing or misplaced; the chain itself is damaged")));
                }
                let e = Entry::from_bytes(v).map_err(|x| bad(x.to_string()))?;
                if e.seq != n || e.prev_hash() != prev {
                    return Err(bad("hash chain broken; the chain itself is damaged".into()));
                }
                let s = e.signed_event().map_err(|x| bad(x.to_string()))?;
                let d = rules::apply(&st, n, &s).map_err(|x| bad(format!("event breaks a rule: {x}")))?;
                for lot in &d.touched_lots {
                    lot_keys.push(lot_entry_key(lot.as_str(), n));
                }
                if let Some(a) = s.event().history_actor() {
                    actor_keys.push(lot_entry_key(a.as_str(), n));
                }
                st.absorb(n, &d);
                leaves.push(merkle::leaf_hash(v));
                prev = e.hash();
                n += 1;
                Ok(())
            };
            crate::log::stream_entries(&entries, 0, |item| {
                let r = match item {
                    Ok((seq, v)) => step(seq, v),
                    Err(e) => {
                        Err(LedgerError::Corrupt { seq: None, reason: format!("{e}; the chain itself is damaged") })
                    }
                };
                match r {
                    Ok(()) => true,
                    Err(e) => {
                        fail = Some(e);
                        false
                    }
                }
            })?;
            fail.map_or(Ok(()), Err)
        })?;
        let head = crate::store::Head { size: n, hash: prev };
        let tiles = crate::log::tile_items(leaves.into_iter());
        let t = &self.t;
        guard("rewriting indices", || {
            // A crash while the trees are half rewritten must not leave
            // indices that appends would trust: the pending marker makes the
            // next open rebuild them again (docs/storage.md §4).
            t.meta.insert(META_PENDING, &[] as &[u8])?;
            let write =
                |tree: &sled::Tree, items: &mut dyn Iterator<Item = (Vec<u8>, Vec<u8>)>| -> Result<(), LedgerError> {
                    tree.clear()?;
                    let mut b = sled::Batch::default();
                    for (k, v) in items {
                        b.insert(k, v);
                    }
                    tree.apply_batch(b)?;
                    Ok(())
                };
            write(&t.lot_entries, &mut lot_keys.iter().map(|k| (k.clone(), vec![])))?;
            write(&t.actor_entries, &mut actor_keys.iter().map(|k| (k.clone(), vec![])))?;
            write(&t.lot_state, &mut st.lots.values().map(|l| (l.id.as_str().as_bytes().to_vec(), codec::encode(l))))?;
            write(
                &t.actor_state,
                &mut st.actors.values().map(|a| (a.record.id.as_str().as_bytes().to_vec(), codec::encode(a))),
            )?;
            write(&t.key_actor, &mut st.keys.iter().map(|(k, a)| (k.0.to_vec(), a.as_str().as_bytes().to_vec())))?;
            write(&t.event_ids, &mut st.events.iter().map(|(id, s)| (event_key(id).to_vec(), seq_key(*s).to_vec())))?;
            // The hash tiles share `tiles` with the entries: replace only them.
            let mut b = sled::Batch::default();
            for tag in [TILES_HASH, TILES_PARTIAL] {
                for k in t.tiles.scan_prefix([tag]).keys() {
                    b.remove(k?);
                }
            }
            for (k, v) in &tiles {
                b.insert(k.as_slice(), v.as_slice());
            }
            t.tiles.apply_batch(b)?;
            if let Some(info) = &st.ledger {
                t.meta.insert(META_FORMAT, &FORMAT_VERSION.to_be_bytes())?;
                t.meta.insert(META_LEDGER, codec::encode(info))?;
            }
            let mut hb = [0u8; 40];
            hb[..8].copy_from_slice(&head.size.to_be_bytes());
            hb[8..].copy_from_slice(&head.hash.0);
            let mut m = sled::Batch::default();
            m.insert(META_HEAD, &hb[..]);
            m.remove(META_PENDING);
            t.meta.apply_batch(m)?;
            Ok(())
        })?;
        self.sync()?;
        self.reload()?;
        let rep = self.audit(&AuditOptions { indices: true, ..AuditOptions::default() });
        if let Some(f) = rep.fault {
            return Err(LedgerError::Corrupt { seq: f.seq, reason: format!("after rebuilding: {}", f.reason) });
        }
        Ok(ReindexReport { entries: n, lots: st.lots.len(), actors: st.actors.len(), hash_tiles: tiles.len() })
    }
}
