//! The one error type of this crate.

/// Why the synthetic ledger could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SynthError {
    /// Fewer events were asked for than one production cycle needs.
    #[error("{0}")]
    TooFew(String),
    /// An event could not be built or signed (a bug in the generator).
    #[error("{0}")]
    Build(String),
}
