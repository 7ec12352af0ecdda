//! The one strict JSON reader every tinledger input goes through (signed
//! event files, bulk JSON Lines, proofs, certificates, export headers).
//!
//! RFC 8259 §4 leaves duplicate member names to the reader; `serde_json`
//! keeps the last one, so `{"mass":"1kg","mass":"900kg"}` reads as 900 kg
//! while a person (or another JSON library) reads 1 kg. This reader refuses
//! any object, at any depth, that names a member twice: what is checked is
//! what every reader of the file sees. Everything else is `serde_json`'s
//! own strict grammar (no comments, no trailing commas, no NaN).

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// Parse `text` as a `T`, refusing duplicate member names anywhere in it.
/// Errors are `serde_json`'s, with its line and column.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    check_unique_members(text)?;
    serde_json::from_str(text)
}

/// Parse `text` as a JSON value, refusing duplicate member names.
pub fn value(text: &str) -> Result<Value, serde_json::Error> {
    from_str(text)
}

/// Walk the whole document once and fail at the first member name that an
/// object repeats ("duplicate member \"mass\" at line 1 column 27").
fn check_unique_members(text: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    <Unique as de::Deserialize>::deserialize(&mut de)?;
    de.end()
}

/// A JSON value that is only looked at, never kept.
struct Unique;

impl<'de> de::Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen = HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(de::Error::custom(format!("duplicate member {k:?}")));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused_at_any_depth() {
        for text in [
            r#"{"mass":"1kg","mass":"900kg"}"#,
            r#"{"a":{"b":1,"b":1}}"#,
            r#"[{"x":1},{"y":[{"z":0,"z":0}]}]"#,
            // The same name spelt with an escape is the same name.
            r#"{"mass":"1kg","m\u0061ss":"900kg"}"#,
        ] {
            let e = value(text).unwrap_err().to_string();
            assert!(e.contains("duplicate member"), "{text}: {e}");
            assert!(e.contains("line 1 column"), "{text}: {e}");
        }
    }

    #[test]
    fn unique_members_parse_as_serde_json_does() {
        for text in [r#"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#, "[]", "1", r#""s""#, "null", " {} "] {
            assert_eq!(value(text).unwrap(), serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
        // Errors of the grammar itself are still errors, trailing bytes too.
        assert!(value("{\"a\":1,}").is_err());
        assert!(value("{} x").is_err());
    }
}
