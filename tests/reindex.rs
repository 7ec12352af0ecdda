//! `tinledger reindex` rebuilds damaged indices from the entries.

use crate::util::*;

#[test]
fn reindex_repairs_damaged_indices_and_refuses_a_broken_chain() {
    let env = Env::new();
    env.demo();
    let before = env.state();
    {
        let db = sled::open(env.ledger().join("db")).unwrap();
        db.open_tree("lot_state").unwrap().remove("KOB-2026-0001").unwrap();
        db.open_tree("merkle").unwrap().insert([0u8, 0, 0, 0, 0, 0, 0, 0, 5], &[7u8; 32][..]).unwrap();
        db.open_tree("lot_entries").unwrap().clear().unwrap();
        db.flush().unwrap();
    }
    // The default audit checks the chain; the damaged derived indices are
    // found by `verify --indices`.
    assert_eq!(env.verify_json()["ok"], true);
    let deep = |env: &Env| -> serde_json::Value {
        let out = env.cmd().args(["verify", "--indices", "--json"]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = deep(&env);
    assert_eq!(v["ok"], false);
    assert!(v["fault"]["reason"].as_str().unwrap().contains("tinledger reindex"), "{v}");
    env.cmd().arg("reindex").assert().success();
    assert_eq!(env.state(), before);
    let v = deep(&env);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["indices_checked"], true);
    // Stored checkpoints still verify against the rebuilt tree.
    env.cmd().args(["prove", "inclusion", "35"]).assert().success();

    // A chain with a missing entry cannot be re-indexed.
    {
        let db = sled::open(env.ledger().join("db")).unwrap();
        db.open_tree("entries").unwrap().remove(20u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = fails_with(
        {
            let mut c = env.cmd();
            c.arg("reindex");
            c
        },
        1,
    );
    assert!(err.contains("entry 20 is missing"), "{err}");
}
