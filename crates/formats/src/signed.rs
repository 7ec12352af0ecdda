//! Signed-event files (docs/formats.md): what `tinledger sign` writes and
//! `tinledger submit` reads, one JSON object per file or one per line.

use crate::error::FormatError;
use serde::{Deserialize, Serialize};
use tinledger_core::SignedEvent;

/// Format tag of signed event files.
pub const SIGNED_FORMAT: &str = "tinledger-signed-event-v1";

/// A signed event file, as written by `sign` and read by `submit` (docs/formats.md).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedFile {
    /// Always [`SIGNED_FORMAT`].
    pub format: String,
    /// Canonical event bytes, hex: what was signed (after the context prefix).
    pub event_hex: String,
    /// Ed25519 signature, hex.
    pub signature_hex: String,
    /// The decoded event, for people; if present it must match `event_hex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<serde_json::Value>,
}

impl SignedFile {
    /// The file form of a signed event.
    pub fn from_signed(s: &SignedEvent) -> SignedFile {
        SignedFile {
            format: SIGNED_FORMAT.into(),
            event_hex: hex::encode(s.bytes()),
            signature_hex: hex::encode(s.signature()),
            event: serde_json::to_value(s.event()).ok(),
        }
    }
    /// The signed event in the file; `origin` (a file name, a line) starts
    /// every message. A readable `event` that does not match is refused.
    pub fn into_signed(self, origin: &str) -> Result<SignedEvent, FormatError> {
        if self.format != SIGNED_FORMAT {
            return Err(FormatError::invalid(format!(
                "{origin}: format is {}, expected {SIGNED_FORMAT:?}",
                tinledger_core::units::quoted(&self.format)
            )));
        }
        let bytes = hex::decode(self.event_hex.trim())
            .map_err(|_| FormatError::invalid(format!("{origin}: event_hex is not hex")))?;
        let mut sig = [0u8; 64];
        hex::decode_to_slice(self.signature_hex.trim(), &mut sig)
            .map_err(|_| FormatError::invalid(format!("{origin}: signature_hex is not 128 hex digits")))?;
        let s = SignedEvent::from_parts(bytes, sig).map_err(|e| FormatError::refused(format!("{origin}: {e}")))?;
        if let Some(shown) = self.event {
            if serde_json::to_value(s.event()).ok().as_ref() != Some(&shown) {
                return Err(FormatError::refused(format!(
                    "{origin}: the readable \"event\" does not match the signed event_hex (file edited after signing?)"
                )));
            }
        }
        Ok(s)
    }
}

/// The signed events of one file's text: a single signed-event object, or
/// JSON Lines of them. `name` (the file's name) starts every message.
pub fn parse_signed_text(name: &str, text: &str) -> Result<Vec<SignedEvent>, FormatError> {
    let mut out = Vec::new();
    let trimmed = text.trim_start();
    let single = tinledger_core::json::from_str::<SignedFile>(text);
    match single {
        Ok(sf) => out.push(sf.into_signed(name)?),
        Err(e) if !trimmed.starts_with('{') || !text.trim().contains('\n') => {
            return Err(FormatError::invalid(format!("{name}: not a signed event file: {e}")))
        }
        Err(_) => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let origin = format!("{name} line {}", i + 1);
                let sf: SignedFile = tinledger_core::json::from_str(line)
                    .map_err(|e| FormatError::invalid(format!("{origin}: not a signed event: {e}")))?;
                out.push(sf.into_signed(&origin)?);
            }
        }
    }
    Ok(out)
}
