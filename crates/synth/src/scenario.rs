//! The demo scenario (`fixtures/scenario/bangka-belitung.json`), embedded
//! for `tinledger demo`: its JSON form (a ledger id and steps, each a
//! signer, a time, an optional key label and note, and an event body in
//! which `"test-key:LABEL"` stands for that test key's public key) and its
//! events, signed with the test keys. Never: a real key, a ledger.

use crate::SynthError;
use serde::Deserialize;
use serde_json::Value;
use tinledger_core::event::PublicKey;
use tinledger_core::testkeys::test_key;
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Event, EventBody, LedgerId, SignedEvent};

/// The scenario, embedded so the demo needs no files.
pub const SCENARIO: &str = include_str!("../../../fixtures/scenario/bangka-belitung.json");

#[derive(Deserialize)]
struct Scenario {
    ledger_id: LedgerId,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    signer: ActorId,
    at: Timestamp,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    note: Option<String>,
    body: Value,
}

/// Replace every `"test-key:LABEL"` string with that test key's public key.
fn resolve_keys(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(label) = s.strip_prefix("test-key:") {
                *s = PublicKey::from(&test_key(label)).to_hex();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(resolve_keys),
        Value::Object(o) => o.values_mut().for_each(resolve_keys),
        _ => {}
    }
}

/// The scenario's events, signed with their test keys, with each key's label.
pub fn scenario_events(text: &str) -> Result<Vec<(String, SignedEvent)>, SynthError> {
    let sc: Scenario = serde_json::from_str(text).map_err(|e| SynthError::Build(format!("scenario: {e}")))?;
    let mut out = Vec::new();
    for (i, mut st) in sc.steps.into_iter().enumerate() {
        resolve_keys(&mut st.body);
        let body: EventBody =
            serde_json::from_value(st.body).map_err(|e| SynthError::Build(format!("scenario step {i}: {e}")))?;
        let label = st.key.unwrap_or_else(|| st.signer.to_string());
        let ev = Event { ledger_id: sc.ledger_id, signer: st.signer, at: st.at, note: st.note, body };
        let signed = ev.sign(&test_key(&label)).map_err(|e| SynthError::Build(format!("scenario step {i}: {e}")))?;
        out.push((label, signed));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_scenario_signs_and_placeholders_become_keys() {
        let evs = scenario_events(SCENARIO).unwrap();
        assert!(evs.len() > 10);
        assert_eq!(evs[0].1.event().body.kind(), "genesis");
        assert!(!SCENARIO.contains(&PublicKey::from(&test_key(&evs[0].0)).to_hex()));
        let text = serde_json::to_string(&evs[0].1.event()).unwrap();
        assert!(text.contains(&PublicKey::from(&test_key(&evs[0].0)).to_hex()), "{text}");
    }

    #[test]
    fn a_bad_scenario_names_the_step() {
        let e = scenario_events("{}").unwrap_err().to_string();
        assert!(e.starts_with("scenario: "), "{e}");
        let bad = r#"{"ledger_id":"00000000000000000000000000000000","steps":[{"signer":"A","at":"2026-01-01T00:00:00Z","body":{}}]}"#;
        let e = scenario_events(bad).unwrap_err().to_string();
        assert!(e.starts_with("scenario step 0: "), "{e}");
    }
}
