//! Identifiers: actors, lots and ledgers.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest actor or lot id, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Check the id syntax shared by actors and lots: 1 to 64 ASCII characters,
/// letters, digits and `. _ - / :`, starting with a letter or digit.
pub fn check_id(kind: &'static str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("{kind} id is empty"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(format!("{kind} id {} is longer than {MAX_ID_LEN} characters", crate::units::quoted(s)));
    }
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':'));
    if !first_ok || !rest_ok {
        return Err(format!(
            "{kind} id {} may only hold letters, digits and . _ - / : and must start with a letter or digit",
            crate::units::quoted(s)
        ));
    }
    Ok(())
}

macro_rules! string_id {
    ($name:ident, $kind:literal) => {
        #[doc = concat!("A validated ", $kind, " id.")]
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parse and validate an id.
            pub fn new(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                check_id($kind, &s)?;
                Ok(Self(s))
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// Re-check the syntax (used after decoding untrusted bytes).
            pub fn check(&self) -> Result<(), String> {
                check_id($kind, &self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::new(s)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(ActorId, "actor");
string_id!(LotId, "lot");

/// A ledger's random 16-byte id, chosen at genesis. Every event names it, so
/// a signature made for one ledger is worthless in another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LedgerId(pub [u8; 16]);

impl LedgerId {
    /// The id as 32 lower-case hex digits (its JSON and text form).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}
impl TryFrom<String> for LedgerId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}
impl From<LedgerId> for String {
    fn from(id: LedgerId) -> String {
        id.to_hex()
    }
}
impl std::str::FromStr for LedgerId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 16];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|_| format!("ledger id {} is not 32 hex digits", crate::units::quoted(s)))?;
        Ok(LedgerId(out))
    }
}
impl fmt::Display for LedgerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_syntax() {
        assert!(ActorId::new("SMELTER-MUNTOK").is_ok());
        assert!(LotId::new("ORE/2026/0001").is_ok());
        assert!(ActorId::new("").is_err());
        assert!(ActorId::new("-X").is_err());
        assert!(ActorId::new("A B").is_err());
        assert!(ActorId::new("Ä").is_err());
        assert!(LotId::new("x".repeat(65)).is_err());
        assert!(LotId::new("x".repeat(64)).is_ok());
    }

    #[test]
    fn ledger_id_hex() {
        let id: LedgerId = "000102030405060708090a0b0c0d0e0f".parse().unwrap();
        assert_eq!(id.0[15], 15);
        assert!("00".parse::<LedgerId>().is_err());
    }
}
