//! The golden vectors in fixtures/golden, checked with the core alone:
//! decode → re-encode is the identity, signatures verify, hashes match.

use std::collections::HashMap;
use std::path::PathBuf;
use tinledger_core::event::{signing_message, PublicKey};
use tinledger_core::{Entry, Event, SignedEvent};

fn vectors() -> Vec<(String, HashMap<String, String>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/golden");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).expect("fixtures/golden exists") {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("entry-") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let kv = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        out.push((name, kv));
    }
    assert!(out.len() >= 5, "expected golden vectors");
    out
}

#[test]
fn golden_events_and_entries() {
    for (name, v) in vectors() {
        let event_bytes = hex::decode(&v["event_hex"]).unwrap();
        let ev = Event::from_bytes(&event_bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ev.to_bytes(), event_bytes, "{name}: re-encoding differs");
        assert_eq!(ev.body.kind(), v["kind"], "{name}");
        // The readable JSON is the same event.
        let from_json: Event = serde_json::from_str(&v["event_json"]).unwrap();
        assert_eq!(from_json, ev, "{name}: event_json differs from event_hex");

        let msg = hex::decode(&v["signing_message_hex"]).unwrap();
        assert_eq!(msg, signing_message(&event_bytes), "{name}: signing message");

        let mut sig = [0u8; 64];
        hex::decode_to_slice(&v["signature"], &mut sig).unwrap();
        let key: PublicKey = v["public_key"].parse().unwrap();
        let signed = SignedEvent::from_parts(event_bytes.clone(), sig).unwrap();
        assert!(signed.verify(&key), "{name}: signature does not verify");
        let mut bad = sig;
        bad[0] ^= 1;
        assert!(!SignedEvent::from_parts(event_bytes.clone(), bad).unwrap().verify(&key));

        let entry_bytes = hex::decode(&v["entry_hex"]).unwrap();
        let entry = Entry::from_bytes(&entry_bytes).unwrap();
        assert_eq!(entry.to_bytes(), entry_bytes);
        assert_eq!(entry.event, event_bytes);
        assert_eq!(entry.seq.to_string(), v["seq"]);
        assert_eq!(entry.hash().to_hex(), v["entry_hash"], "{name}: entry hash");
        assert_eq!(hex::encode(entry.leaf_hash()), v["leaf_hash"], "{name}: leaf hash");
    }
}
