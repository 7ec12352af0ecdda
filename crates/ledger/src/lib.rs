//! # tinledger-ledger
//!
//! The storage of a tinledger ledger: an append-only, hash-chained log of
//! signed entries in sled, with indices that can always be rebuilt from the
//! entries.
//!
//! What this crate owns: the on-disk layout (see [`schema`] and
//! docs/storage.md), locking, atomic and durable appends, and the audit that
//! replays the chain. What it never does: decide a rule (that is
//! `tinledger_core::rules`), update or delete an entry, or print anything.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod audit;
mod certsrc;
mod engine;
mod error;
mod reindex;
pub mod schema;
mod store;

pub use audit::{AuditOptions, AuditReport, AuditSnapshot, Fault};
pub use error::LedgerError;
pub use reindex::ReindexReport;
pub use store::{sled_config, sync_tree, Head, Ledger, Receipt};

/// Signatures checked per Ed25519 batch (`verify_batch`) by the audit and by
/// bulk appends; `tinledger bench` measures the raw limit with the same size.
pub const VERIFY_BATCH: usize = 256;
