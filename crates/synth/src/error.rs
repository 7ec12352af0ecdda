//! The one error type of this crate.

use tinledger_ledger::LedgerError;

/// Why the synthetic ledger could not be made or a limit not measured.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// Fewer events were asked for than one production cycle needs.
    #[error("{0}")]
    TooFew(String),
    /// An event could not be built or signed (a bug in the generator), or
    /// the demo scenario does not parse.
    #[error("{0}")]
    Build(String),
    /// A measurement failed: a scratch database could not be used, or a
    /// sample did not verify.
    #[error("{0}")]
    Measure(String),
    /// `tinledger bench` was asked for fewer or more events than it builds.
    #[error("{0}")]
    OutOfRange(String),
    /// The bench work directory cannot be used as it is.
    #[error("{msg}")]
    Dir {
        /// What is wrong with it.
        msg: String,
        /// What to do about it.
        hint: String,
    },
    /// A check said no during a measurement: the synthetic ledger did not
    /// verify, or its certificate could not be issued or verified.
    #[error("{0}")]
    Refused(String),
    /// The storage engine failed during a measurement.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl SynthError {
    /// A [`SynthError::Dir`].
    pub fn dir(msg: impl Into<String>, hint: impl Into<String>) -> Self {
        SynthError::Dir { msg: msg.into(), hint: hint.into() }
    }
}
