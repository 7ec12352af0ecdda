//! The one error type of this crate.

use tinledger_ledger::LedgerError;

/// Why the synthetic ledger could not be made or a limit not measured.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Fewer events were asked for than one production cycle needs.
    #[error("{0}")]
    TooFew(String),
    /// An event could not be built or signed (a bug in the generator).
    #[error("{0}")]
    Build(String),
    /// A measurement failed: a scratch database could not be used, or a
    /// sample did not verify.
    #[error("{0}")]
    Measure(String),
    /// The storage engine failed during a measurement.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}
