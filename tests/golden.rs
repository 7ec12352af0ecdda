//! Golden vectors: the exact bytes and hashes of selected demo entries.
//! Regenerate with `TINLEDGER_BLESS=1 cargo test --test integration golden`
//! (then review the diff: any change is a format change).

use crate::util::*;
use serde_json::Value;
use std::path::PathBuf;

/// Entries pinned: genesis, a registration, an extract, a receive with a
/// flag, the smelt, the split, the export, and the key-compromise revocation.
const PINNED: &[(u64, &str)] = &[
    (0, "genesis"),
    (8, "register-smelter"),
    (12, "extract"),
    (23, "receive-flagged"),
    (35, "smelt"),
    (36, "split"),
    (42, "export"),
    (48, "revoke"),
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden")
}

fn render(v: &Value, signer_key: &str, label: &str) -> String {
    let event_hex = v["event_hex"].as_str().unwrap();
    let msg = format!("{}{}", hex::encode(b"tinledger-event-v1\0"), event_hex);
    format!(
        "# tinledger golden vector: demo entry {seq} ({label}).\n\
         # Made by `tinledger demo` (fixtures/scenario/bangka-belitung.json) with TEST keys.\n\
         # expect: event decodes and re-encodes to event_hex; signature verifies (Ed25519 verify_strict)\n\
         #         over signing_message with public_key; entry_hash and leaf_hash as given.\n\
         seq: {seq}\n\
         kind: {kind}\n\
         signer: {signer}\n\
         public_key: {signer_key}\n\
         event_json: {event}\n\
         event_hex: {event_hex}\n\
         signing_message_hex: {msg}\n\
         signature: {sig}\n\
         entry_hex: {entry}\n\
         entry_hash: {hash}\n\
         leaf_hash: {leaf}\n",
        seq = v["seq"],
        kind = v["kind"].as_str().unwrap(),
        signer = v["signer"].as_str().unwrap(),
        event = v["event"],
        sig = v["signature"].as_str().unwrap(),
        entry = v["entry_hex"].as_str().unwrap(),
        hash = v["hash"].as_str().unwrap(),
        leaf = v["leaf_hash"].as_str().unwrap(),
    )
}

#[test]
fn golden_vectors_match_demo() {
    let env = Env::new();
    env.demo();
    let bless = std::env::var_os("TINLEDGER_BLESS").is_some();
    let actors: Value =
        serde_json::from_slice(&env.cmd().args(["actor", "list", "--json"]).output().unwrap().stdout).unwrap();
    let key_history = |signer: &str, seq: u64| -> String {
        let a = actors["actors"].as_array().unwrap().iter().find(|a| a["record"]["id"] == signer).unwrap();
        let ep = a["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["from_seq"].as_u64().unwrap() <= seq && k["until_seq"].as_u64().is_none_or(|u| seq < u))
            .unwrap();
        ep["key"].as_str().unwrap().to_string()
    };
    for (seq, label) in PINNED {
        let out = env.cmd().args(["show", &seq.to_string(), "--json"]).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let key = key_history(v["signer"].as_str().unwrap(), *seq);
        let text = render(&v, &key, label);
        let path = golden_dir().join(format!("entry-{seq:04}-{label}.txt"));
        if bless {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else {
            let want = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {}", path.display()));
            assert_eq!(text, want, "golden vector {} changed", path.display());
        }
    }
    let v = env.verify_json();
    let head = format!(
        "# tinledger golden vector: the demo ledger's head after `tinledger demo`.\nentries: {}\nhead: {}\n",
        v["entries"],
        v["head"].as_str().unwrap()
    );
    let path = golden_dir().join("demo-head.txt");
    if bless {
        std::fs::write(&path, &head).unwrap();
    } else {
        assert_eq!(head, std::fs::read_to_string(&path).unwrap(), "demo head changed");
    }
}
