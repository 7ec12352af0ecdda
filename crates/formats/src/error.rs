//! The one error type of this crate.

/// Why bytes could not become a domain value (or a value bytes). Each
/// variant carries the message shown to a person and, sometimes, a hint on
/// what to do; the CLI maps the variants to exit codes (`Invalid`: 2,
/// `Refused`: 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The input is not in the format, cannot be read, or asks for
    /// something this crate does not do.
    #[error("{msg}")]
    Invalid {
        /// What is wrong, for a person.
        msg: String,
        /// What to do about it, if there is advice.
        hint: Option<String>,
    },
    /// The input is in the format but a check said no (a signature that
    /// does not decode, a readable event that does not match the signed one).
    #[error("{msg}")]
    Refused {
        /// What is wrong, for a person.
        msg: String,
        /// What to do about it, if there is advice.
        hint: Option<String>,
    },
}

impl FormatError {
    /// An [`FormatError::Invalid`] without a hint.
    pub fn invalid(msg: impl Into<String>) -> Self {
        FormatError::Invalid { msg: msg.into(), hint: None }
    }
    /// A [`FormatError::Refused`] without a hint.
    pub fn refused(msg: impl Into<String>) -> Self {
        FormatError::Refused { msg: msg.into(), hint: None }
    }
    /// The same error with a hint.
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        match &mut self {
            FormatError::Invalid { hint, .. } | FormatError::Refused { hint, .. } => *hint = Some(h.into()),
        }
        self
    }
    /// The message, without the hint.
    pub fn msg(&self) -> &str {
        match self {
            FormatError::Invalid { msg, .. } | FormatError::Refused { msg, .. } => msg,
        }
    }
    /// Whether a check said no ([`FormatError::Refused`]).
    pub fn is_refused(&self) -> bool {
        matches!(self, FormatError::Refused { .. })
    }
}

/// Shorthand for `map_err(FormatError::invalid)` on string errors.
pub(crate) trait InvalidExt<T> {
    fn invalid(self) -> Result<T, FormatError>;
}
impl<T> InvalidExt<T> for Result<T, String> {
    fn invalid(self) -> Result<T, FormatError> {
        self.map_err(FormatError::invalid)
    }
}
