//! The ledger as a source for certificates.

use crate::store::Ledger;
use tinledger_core::cert::CertSource;
use tinledger_core::merkle::Hash;
use tinledger_core::{ActorId, Entry, LotId};

impl CertSource for Ledger {
    fn lot_history(&self, lot: &LotId) -> Result<Vec<u64>, String> {
        Ledger::lot_history(self, lot).map_err(|e| e.to_string())
    }
    fn actor_history(&self, actor: &ActorId) -> Result<Vec<u64>, String> {
        Ledger::actor_history(self, actor).map_err(|e| e.to_string())
    }
    fn entry(&self, seq: u64) -> Result<Entry, String> {
        self.get(seq).map_err(|e| e.to_string())?.ok_or_else(|| format!("entry {seq} is missing"))
    }
    fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, String> {
        Ledger::inclusion_proof(self, seq, size).map_err(|e| e.to_string())
    }
    fn inclusion_proofs(&self, seqs: &[u64], size: u64) -> Result<Vec<Vec<Hash>>, String> {
        Ledger::inclusion_proofs(self, seqs, size).map_err(|e| e.to_string())
    }
}
