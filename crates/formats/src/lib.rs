//! tinledger's file formats: everything that crosses the project's boundary
//! as a file, as pure transforms between bytes and domain values.
//!
//! Owns: key files ([`keyfile`]: Ed25519 PKCS#8 PEM, plain or encrypted,
//! public keys as hex or SPKI PEM), signed-event files ([`signed`]), bulk
//! rows ([`fields`], [`rows`]: CSV of one kind, JSON Lines), the text forms
//! of multi-part values ([`values`]), the certificate's HTML page
//! ([`cert_html`]), portable ledger exports ([`export`]), Merkle proof
//! files ([`proof`]) and query results for other tools ([`report`]: DOT,
//! CSV). Later: EPCIS and other trade exports.
//!
//! Never: opens a ledger, applies custody rules (the core crate does),
//! talks to a network, prints, prompts, or decides exit codes. The only
//! file-system access is reading and creating key files ([`keyfile`]),
//! whose safety checks (regular file, size cap, owner-only mode) are part
//! of the format; every other function takes bytes or text.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cert_html;
mod error;
pub mod export;
pub mod fields;
pub mod keyfile;
pub mod proof;
pub mod report;
pub mod rows;
pub mod signed;
#[cfg(test)]
mod test_events;
pub mod tlog_proof;
pub mod values;

pub use error::FormatError;
