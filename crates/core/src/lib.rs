//! # tinledger-core
//!
//! The domain of tinledger: identifiers, custody events, their canonical
//! bytes, hashes and signatures, and the custody rules every event must pass.
//!
//! What this crate owns: every byte that is signed or hashed, and every
//! decision about whether an event may join the ledger.
//! What it never does: file, clock, network or database I/O, and randomness.
//! Time, keys and ledger state come in from the caller (see [`rules::StateView`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cert;
pub mod certview;
pub mod checkpoint;
pub mod codec;
pub mod correction;
pub mod cosig;
pub mod ed25519;
pub mod entry;
pub mod event;
pub mod ids;
pub mod json;
pub mod merkle;
pub mod note;
pub mod policy;
pub mod query;
pub mod rules;
pub mod sigbatch;
pub mod testkeys;
pub mod tiles;
pub mod units;
pub mod witness;

pub use codec::CodecError;
pub use entry::{Entry, EntryHash, ENTRY_VERSION};
pub use event::{Event, EventBody, SignedEvent};
pub use ids::{ActorId, LedgerId, LotId};
pub use rules::{apply, Delta, RuleError, StateView};
