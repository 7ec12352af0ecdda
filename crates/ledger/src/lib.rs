//! # tinledger-ledger
//!
//! The storage of a tinledger ledger: an append-only, hash-chained log of
//! signed entries in sled, with indices that can always be rebuilt from the
//! entries.
//!
//! What this crate owns: the on-disk layout (see [`schema`] and
//! docs/storage.md), locking, atomic and durable appends, the audit that
//! replays the chain, and the crash-safe migration of older storage formats
//! ([`v1`], [`migrate`]). What it never does: decide a rule (that is
//! `tinledger_core::rules`), update or delete an entry, or print anything.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod audit;
mod certsrc;
mod durable;
mod engine;
mod error;
mod log;
pub mod migrate;
mod query;
mod reindex;
pub mod schema;
mod store;
pub mod v1;

pub use audit::{audit_stream, AuditOptions, AuditReport, AuditSnapshot, EntryLookup, Fault};
pub use durable::sync_flushed;
pub use engine::{explain_missing, LockHolder, LockWait, Missing};
pub use error::LedgerError;
pub use reindex::ReindexReport;
pub use store::{sled_config, sync_tree, Head, Ledger, Receipt};

/// Signatures checked per Ed25519 batch (`tinledger_core::sigbatch`) by the
/// audit and by appends of many events. `tinledger bench` measures the raw
/// limits at this size and at larger ones, and reports the fastest
/// (docs/performance.md).
pub const VERIFY_BATCH: usize = 1024;

/// Appends of fewer events than this check each signature alone (a batch
/// equation saves nothing there); larger appends check them in batches of
/// [`VERIFY_BATCH`]. Both use the one criterion of docs/formats.md §4.1, so
/// this is only a speed setting: the verdict on a signature never depends on
/// it, nor on the other signatures appended with it.
pub const SINGLE_CHECK_BELOW: usize = 4;

/// Fresh randomness for one signature batch's weights (the verdict does not
/// depend on it; see `tinledger_core::sigbatch`). Falls back to a fixed seed
/// if the OS has no randomness to give: the weights stay bound to the
/// batch's contents, so that is still sound.
pub(crate) fn batch_seed() -> [u8; 32] {
    use rand_core::RngCore;
    let mut seed = [0u8; 32];
    if rand_core::OsRng.try_fill_bytes(&mut seed).is_err() {
        seed = [0u8; 32];
    }
    seed
}
