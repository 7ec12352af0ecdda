//! The demo scenario, driven through the binary.

use crate::util::*;
use serde_json::Value;

#[test]
fn demo_builds_and_verifies() {
    let env = Env::new();
    env.demo();
    let v = env.verify_json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["entries"], 49);
    assert!(v["fault"].is_null());
    assert_eq!(v["flags"].as_array().map(Vec::len), Some(2));
    env.cmd().arg("verify").assert().success();
}

#[test]
fn demo_refuses_existing_dir() {
    let env = Env::new();
    env.demo();
    let err = fails_with(
        {
            let mut c = env.bare();
            c.args(["demo", "--dir"]).arg(env.path("demo"));
            c
        },
        2,
    );
    assert!(err.contains("already holds a demo"), "{err}");
}

#[test]
fn lot_history_and_state() {
    let env = Env::new();
    env.demo();
    let out = env.cmd().args(["lot", "SOLDER-KEK-2026-007", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lot"]["status"]["state"], "exported");
    assert_eq!(v["lot"]["custodian"], "EXPORTER-MUNTOK");
    let kinds: Vec<&str> = v["history"].as_array().unwrap().iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["manufacture", "dispatch", "receive", "export"]);

    // Partial smelt: 500 kg of the Koba concentrate is still at the smelter.
    let out = env.cmd().args(["lot", "KOB-2026-0001", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lot"]["mass_g"], 500_000);
    assert_eq!(v["lot"]["custodian"], "SMELTER-MUNTOK");
    assert_eq!(v["lot"]["status"]["state"], "active");

    let human = env.cmd().args(["lot", "BLY-2026-0001"]).output().unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("mass discrepancy"), "{text}");
    assert!(text.contains("disagrees"), "{text}");
}

#[test]
fn show_and_log() {
    let env = Env::new();
    env.demo();
    let out = env.cmd().args(["show", "35", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "smelt");
    assert_eq!(v["seq"], 35);
    assert_eq!(v["entry_hex"].as_str().unwrap().len() % 2, 0);
    let out = env.cmd().args(["log", "--from", "40", "--to", "42", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entries"].as_array().unwrap().len(), 3);
    let err = fails_with(
        {
            let mut c = env.cmd();
            c.args(["show", "4000"]);
            c
        },
        2,
    );
    assert!(err.contains("no entry 4000"), "{err}");
}

/// The operator's path: keygen, init, register, record, sign offline, submit.
#[test]
fn fresh_ledger_walkthrough() {
    let env = Env::new();
    let led = env.path("led");
    let run = |args: &[&str]| {
        let mut c = env.bare();
        c.arg("--ledger").arg(&led).args(args);
        c
    };
    run(&["keygen", "--out", "auth.pem"]).assert().success();
    run(&["keygen", "--out", "mine.pem"]).assert().success();
    run(&["keygen", "--out", "coll.pem"]).assert().success();
    let out = run(&["--json", "init", "--authority-key", "auth.pem", "--authority-id", "AUTH", "--name", "test"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let init: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ledger_id = init["ledger_id"].as_str().unwrap().to_string();
    run(&["init", "--authority-key", "auth.pem"]).assert().code(2);

    run(&[
        "actor",
        "register",
        "--key",
        "auth.pem",
        "--id",
        "MINE-A",
        "--name",
        "Mine A",
        "--role",
        "mine",
        "--public-key",
        "mine.pem",
        "--iup",
        "IUP-1",
        "--location=-2.5,106.1",
    ])
    .assert()
    .success();
    run(&[
        "actor",
        "register",
        "--key",
        "auth.pem",
        "--id",
        "COLL-A",
        "--name",
        "Collector A",
        "--role",
        "collector",
        "--public-key",
        "coll.pem",
    ])
    .assert()
    .success();
    run(&[
        "record",
        "extract",
        "--key",
        "mine.pem",
        "--lot",
        "ORE-1",
        "--mass",
        "1t",
        "--grade",
        "60%",
        "--licence",
        "IUP-1",
        "--location=-2.5,106.1",
    ])
    .assert()
    .success();
    // The mine signs its dispatch offline; the collector's host submits it.
    run(&[
        "sign",
        "dispatch",
        "--key",
        "mine.pem",
        "--as",
        "MINE-A",
        "--ledger-id",
        &ledger_id,
        "--out",
        "d.json",
        "--lot",
        "ORE-1",
        "--to",
        "COLL-A",
        "--document",
        "SJ-1",
    ])
    .assert()
    .success();
    run(&["submit", "d.json"]).assert().success();
    // The same file again is a duplicate.
    let err = fails_with(run(&["submit", "d.json"]), 1);
    assert!(err.contains("identical event already recorded at seq 4"), "{err}");
    run(&["record", "receive", "--key", "coll.pem", "--lot", "ORE-1", "--mass", "999.5kg"]).assert().success();
    let out = run(&["--json", "verify"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], 6);
}

/// The authority rotates its own key: the old key stops working, the new one
/// registers actors and signs checkpoints, and proofs against checkpoints
/// signed with the old key still verify.
#[test]
fn authority_rotates_its_own_key() {
    let env = Env::new();
    env.demo();
    let out = env.bare().args(["--json", "keygen", "--out", "auth2.pem"]).output().unwrap();
    let pk = serde_json::from_slice::<Value>(&out.stdout).unwrap()["public_key"].as_str().unwrap().to_string();
    let mut c = env.cmd();
    c.args(["actor", "rotate", "--id", "AUTH-BABEL", "--public-key", &pk, "--at", "2026-04-01T00:00:00Z", "--key"])
        .arg(env.key("AUTH-BABEL"));
    c.assert().success();
    // The old key no longer signs for the authority.
    let mut c = env.cmd();
    c.args(["actor", "suspend", "--id", "LAB-PANGKALPINANG", "--reason", "x", "--as", "AUTH-BABEL", "--key"])
        .arg(env.key("AUTH-BABEL"));
    let err = fails_with(c, 1);
    assert!(err.contains("signature does not verify with the current key of AUTH-BABEL"), "{err}");
    // The new one does, and signs checkpoints.
    env.cmd()
        .args(["actor", "suspend", "--id", "LAB-PANGKALPINANG", "--reason", "audit", "--key", "auth2.pem"])
        .assert()
        .success();
    env.cmd().args(["checkpoint", "--key", "auth2.pem"]).assert().success();
    let err = fails_with(
        {
            let mut c = env.cmd();
            c.args(["checkpoint", "--key"]).arg(env.key("AUTH-BABEL"));
            c
        },
        1,
    );
    assert!(err.contains("is not the ledger authority's current key"), "{err}");
    // The demo's checkpoint (old key) still anchors proofs.
    let mut c = env.cmd();
    c.args(["prove", "inclusion", "12", "--checkpoint"]).arg(env.path("demo/checkpoint.txt"));
    c.assert().success();
    assert_eq!(env.verify_json()["ok"], true);
}
