//! Read-only queries over the stored entries and indices: filtered lots and
//! entries, a lot's provenance tree, an actor's mass balance, and "did you
//! mean" for ids. The computations are `tinledger_core::query`'s; this
//! module feeds them from storage.

use crate::error::LedgerError;
use crate::store::{guard, Ledger};
use std::collections::BTreeSet;
use tinledger_core::correction::Corrections;
use tinledger_core::query::{suggest, Balance, BalanceBuilder, EntryFilter, LotFilter, Provenance, ProvenanceBuilder};
use tinledger_core::rules::{self, Delta, LotState, Overlay, StateView, ViewError};
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Entry, LotId, SignedEvent};

fn damaged(seq: u64, what: impl std::fmt::Display) -> LedgerError {
    LedgerError::Corrupt { seq: Some(seq), reason: format!("{what}; run `tinledger verify`") }
}

fn view_failed(e: ViewError) -> LedgerError {
    LedgerError::Storage(e.0)
}

impl Ledger {
    /// The entry at `seq` and its signed event, both present and well-formed.
    fn decoded(&self, seq: u64) -> Result<(Entry, SignedEvent), LedgerError> {
        let e = self.get(seq)?.ok_or_else(|| damaged(seq, format!("entry {seq} is missing")))?;
        let s = e.signed_event().map_err(|err| damaged(seq, format!("entry {seq} does not decode: {err}")))?;
        Ok((e, s))
    }

    /// Replay every entry through the custody rules in memory (signatures
    /// are not checked again: `verify` does that), calling `f` with the rule
    /// state just before each entry, the entry's sequence number and event,
    /// and what the rules said it changes. An entry the rules now refuse
    /// means the ledger is damaged: `Corrupt` at that seq.
    pub fn replay_rules(
        &self,
        mut f: impl FnMut(&dyn StateView, u64, &SignedEvent, &Delta) -> Result<(), ViewError>,
    ) -> Result<(), LedgerError> {
        let mut state = Overlay::empty();
        for seq in 0..self.head().size {
            let (e, s) = self.decoded(seq)?;
            let (delta, _) = rules::apply_deferred(&state, seq, &s)
                .map_err(|e| damaged(seq, format!("entry {seq} no longer passes the rules: {e}")))?;
            f(&state, seq, &s, &delta).map_err(view_failed)?;
            state.absorb(seq, &delta);
            // A later correction looks its target up by seq (and checks its
            // hash), and at an earlier correction of the same target.
            if s.event().body.kept_for_corrections() {
                state.entries.insert(seq, e);
            }
        }
        Ok(())
    }

    /// Every lot that passes `filter`, in id order.
    pub fn lots_matching(&self, filter: &LotFilter) -> Result<Vec<LotState>, LedgerError> {
        Ok(self.lots()?.into_iter().filter(|l| filter.matches(l)).collect())
    }

    /// Entries `from..=to` (sequence numbers, clamped to the head) whose
    /// events pass `filter`, in order. With a lot in the filter only that
    /// lot's entries are read (its index); otherwise the range is scanned.
    pub fn entries_matching(
        &self,
        filter: &EntryFilter,
        from: u64,
        to: u64,
    ) -> Result<Vec<(Entry, SignedEvent)>, LedgerError> {
        let last = to.min(self.head().size.saturating_sub(1));
        let seqs: Box<dyn Iterator<Item = u64>> = match &filter.lot {
            Some(lot) => Box::new(self.lot_history(lot)?.into_iter().filter(move |s| (from..=last).contains(s))),
            None if from > last || self.head().size == 0 => Box::new(std::iter::empty()),
            None => Box::new(from..=last),
        };
        let mut out = Vec::new();
        for seq in seqs {
            let (e, s) = self.decoded(seq)?;
            if filter.matches(s.event()) {
                out.push((e, s));
            }
        }
        Ok(out)
    }

    /// The upstream provenance of `lot`: every lot it was made from, back to
    /// the extractions, with the masses and the entries that linked them.
    /// `None` if the ledger has no such lot.
    pub fn provenance(&self, lot: &LotId) -> Result<Option<Provenance>, LedgerError> {
        if self.view().lot(lot).map_err(view_failed)?.is_none() {
            return Ok(None);
        }
        let mut b = ProvenanceBuilder::default();
        self.replay_rules(|before, seq, s, d| b.step(before, seq, s.event(), d))?;
        Ok(b.tree(lot))
    }

    /// The mass balance of `actor` for events timed `from..=to` (an unset
    /// bound is open): docs/model.md, "Mass balance".
    pub fn balance(
        &self,
        actor: &ActorId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Balance, LedgerError> {
        let mut b = BalanceBuilder::new(actor.clone(), from, to);
        self.replay_rules(|before, seq, s, _| b.step(before, seq, s.event()))?;
        Ok(b.finish())
    }

    /// Every correction of the entries on `lots` and what it changed,
    /// read from the lots' histories (docs/model.md, "Corrections").
    pub fn corrections_on<'a>(&self, lots: impl IntoIterator<Item = &'a LotId>) -> Result<Corrections, LedgerError> {
        let mut seqs = BTreeSet::new();
        for lot in lots {
            seqs.extend(self.lot_history(lot)?);
        }
        let mut c = Corrections::default();
        for seq in seqs {
            let (_, s) = self.decoded(seq)?;
            c.add(seq, s.event());
        }
        Ok(c)
    }

    /// Known lot ids close to `typed` ([`suggest`]), closest first.
    pub fn suggest_lots(&self, typed: &str) -> Result<Vec<String>, LedgerError> {
        Ok(suggest(typed, ids_of(&self.t.lot_state)?.iter().map(String::as_str)))
    }

    /// Known actor ids close to `typed` ([`suggest`]), closest first.
    pub fn suggest_actors(&self, typed: &str) -> Result<Vec<String>, LedgerError> {
        Ok(suggest(typed, ids_of(&self.t.actor_state)?.iter().map(String::as_str)))
    }
}

/// The keys of an id-keyed index (lot or actor states), without decoding values.
fn ids_of(tree: &sled::Tree) -> Result<Vec<String>, LedgerError> {
    guard("reading an index", || {
        let mut out = Vec::new();
        for k in tree.iter().keys() {
            let k = k?;
            let id = std::str::from_utf8(&k)
                .map_err(|_| LedgerError::Corrupt { seq: None, reason: "an index key is not UTF-8".into() })?;
            out.push(id.to_string());
        }
        Ok(out)
    })
}
