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

    // A stray hash tile beyond the right edge: every full audit checks the
    // tiles, naming the tile; reindex rewrites them from the entries.
    with_db(&env.ledger(), |db| {
        tiles_tree(db).insert(tinledger_ledger::schema::tile_key(0, 5), vec![7u8; 8192]).unwrap();
    });
    let v = env.verify_json();
    assert_eq!((v["ok"].as_bool(), v["fault"]["index"].as_str()), (Some(false), Some("tiles")), "{v}");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("hash tile tile/0/005 is stored beyond"), "{v}");
    env.cmd().arg("reindex").assert().success();
    assert_eq!(deep(&env)["ok"], true);

    // A chain with a missing entry cannot be re-indexed.
    {
        let db = sled::open(env.ledger().join("db")).unwrap();
        assert!(remove_raw_entry(&db, 20));
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

fn verify_at(env: &Env, ledger: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let out = env.bare().arg("--ledger").arg(ledger).arg("verify").args(extra).arg("--json").output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An append cut short after its entries were written (the commit point)
/// but before the derived trees and the head: the pending marker makes the
/// next open rebuild them from the entries, so the append is wholly present.
/// Cut short before the entries: wholly absent.
#[test]
fn an_interrupted_append_is_recovered_on_open() {
    let env = Env::new();
    env.demo();
    let before = env.state();
    // The same event appended for real on a copy gives the bytes a crash
    // would have left in `entries`.
    let done = copy_ledger(&env, "done");
    env.bare()
        .arg("--ledger")
        .arg(&done)
        .args(koba_extract(&env, "KOB-2026-0999", "2026-06-01T00:00:00Z"))
        .assert()
        .success();
    let want = verify_at(&env, &done, &[]);
    let seq = before.0;
    let (entry, head) = with_db(&done, |db| {
        let e = raw_entry(db, seq).unwrap();
        let h = db.open_tree("meta").unwrap().get("head").unwrap().unwrap().to_vec();
        (e, h)
    });

    // Crash after the entries batch: marker + entry, old indices and head.
    let cut = copy_ledger(&env, "cut-after-entries");
    with_db(&cut, |db| {
        db.open_tree("meta").unwrap().insert("pending", head.clone()).unwrap();
        put_raw_entry(db, seq, &entry);
    });
    let v = verify_at(&env, &cut, &["--indices"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], want["entries"]);
    assert_eq!(v["head"], want["head"]);
    let lot = env.bare().arg("--ledger").arg(&cut).args(["lot", "KOB-2026-0999", "--json"]).output().unwrap();
    assert!(lot.status.success(), "{}", String::from_utf8_lossy(&lot.stderr));
    with_db(&cut, |db| assert!(db.open_tree("meta").unwrap().get("pending").unwrap().is_none()));

    // Crash after the marker only: nothing of the append.
    let early = copy_ledger(&env, "cut-after-marker");
    with_db(&early, |db| {
        db.open_tree("meta").unwrap().insert("pending", head.clone()).unwrap();
    });
    let v = verify_at(&env, &early, &["--indices"]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!((v["entries"].as_u64().unwrap(), v["head"].as_str().unwrap().to_string()), before);
    // And the ledger takes the append again.
    env.bare()
        .arg("--ledger")
        .arg(&early)
        .args(koba_extract(&env, "KOB-2026-0999", "2026-06-01T00:00:00Z"))
        .assert()
        .success();
    assert_eq!(verify_at(&env, &early, &[])["head"], want["head"]);
}
