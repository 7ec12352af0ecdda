//! The log key (issue #13): the authority binds a dedicated key with which
//! the log server signs checkpoints, so that the server never holds the
//! authority's key. Checkpoints, proofs and certificates signed by the log
//! key are checked by a verifier that trusts only the authority's key; the
//! rules refuse a log key that is an actor's key (and the other way round),
//! and a rotated-out log key signs nothing for the trees after it.

use crate::util::*;
use serde_json::Value;
use tinledger_core::checkpoint::Checkpoint;
use tinledger_core::note::NoteSigner;

const T1: &str = "2026-04-01T00:00:00Z";
const T2: &str = "2026-04-02T00:00:00Z";

fn authority_pub(env: &Env) -> std::path::PathBuf {
    env.path("demo/keys/AUTH-BABEL.pub.pem")
}

/// A fresh key pair at `name`.pem / `name`.pub.pem.
fn keygen(env: &Env, name: &str) -> std::path::PathBuf {
    let p = env.path(&format!("{name}.pem"));
    env.bare().args(["keygen", "--out"]).arg(&p).assert().success();
    p
}

fn bind(env: &Env, name: &str, at: &str) -> std::process::Output {
    env.cmd()
        .args(["record", "bind-log-key", "--key"])
        .arg(env.key("AUTH-BABEL"))
        .arg("--public-key")
        .arg(env.path(&format!("{name}.pub.pem")))
        .args(["--at", at])
        .output()
        .expect("run")
}

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn err(out: std::process::Output) -> String {
    assert!(!out.status.success(), "unexpectedly succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The demo with a log key bound at seq 49 and a checkpoint of size 50
/// signed with it, saved to `cp-log.txt`.
fn bound_demo(env: &Env) -> std::path::PathBuf {
    env.demo();
    let log = keygen(env, "log");
    let r = ok(bind(env, "log", T1));
    assert!(r.contains("recorded seq 49") && r.contains("bind_log_key"), "{r}");
    ok(env.cmd().args(["checkpoint", "--key"]).arg(&log).arg("--out").arg(env.path("cp-log.txt")).output().unwrap());
    log
}

#[test]
fn log_key_checkpoints_verify_with_the_authority_key_alone() {
    let env = Env::new();
    let log = bound_demo(&env);
    // The stored checkpoint is signed by the log key, not by the authority.
    let note = std::fs::read_to_string(env.path("cp-log.txt")).unwrap();
    assert!(note.starts_with("tinledger/") && note.contains("\n50\n"), "{note}");
    let lvk = ok(env.cmd().args(["checkpoint", "--log-verifier-key"]).output().unwrap());
    let avk = ok(env.cmd().args(["checkpoint", "--verifier-key"]).output().unwrap());
    assert_ne!(lvk, avk);
    let v = tinledger_core::note::Verifier::parse(lvk.trim()).expect("log verifier key");
    assert_eq!(Checkpoint::open(&note, &v).expect("log key signed it").size, 50);
    let auth_v = tinledger_core::note::Verifier::parse(avk.trim()).unwrap();
    assert!(Checkpoint::open(&note, &auth_v).is_err(), "the authority did not sign it");
    // The audit accepts it.
    let out = ok(env.cmd().arg("verify").output().unwrap());
    assert!(out.contains("intact: 50 entries"), "{out}");

    // An inclusion proof carries the binding; the authority's key suffices.
    ok(env.cmd().args(["prove", "inclusion", "12", "--out"]).arg(env.path("p12.json")).output().unwrap());
    let p: Value = serde_json::from_str(&std::fs::read_to_string(env.path("p12.json")).unwrap()).unwrap();
    assert_eq!(p["log_key_binding"]["seq"], 49, "{p}");
    let check = |file: &str| {
        env.bare()
            .args(["check", "inclusion"])
            .arg(env.path(file))
            .arg("--authority-key")
            .arg(authority_pub(&env))
            .output()
            .unwrap()
    };
    let out = ok(check("p12.json"));
    assert!(out.contains("inclusion OK: entry 12"), "{out}");
    // Without the binding, the authority's key alone cannot open it.
    let mut stripped = p.clone();
    stripped.as_object_mut().unwrap().remove("log_key_binding");
    std::fs::write(env.path("p12-bare.json"), serde_json::to_string_pretty(&stripped).unwrap()).unwrap();
    let e = err(check("p12-bare.json"));
    assert!(e.contains("note has no signature by") && e.contains("--binding"), "{e}");
    // A binding that is not a bind_log_key entry (entry 12 itself) is refused.
    let mut wrong = p.clone();
    wrong["log_key_binding"] = serde_json::json!({"seq": 12, "entry_hex": p["entry_hex"], "proof": p["proof"]});
    std::fs::write(env.path("p12-wrong.json"), serde_json::to_string_pretty(&wrong).unwrap()).unwrap();
    let e = err(check("p12-wrong.json"));
    assert!(e.contains("not a bind_log_key entry"), "{e}");
    // A binding whose proof is for another tree is refused.
    let mut moved = p.clone();
    moved["log_key_binding"]["proof"] = p["proof"].clone();
    std::fs::write(env.path("p12-moved.json"), serde_json::to_string_pretty(&moved).unwrap()).unwrap();
    let e = err(check("p12-moved.json"));
    assert!(e.contains("is not in the checkpoint's tree"), "{e}");

    // `check checkpoint` takes the binding from `prove log-key`.
    ok(env.cmd().args(["prove", "log-key", "--out"]).arg(env.path("binding.json")).output().unwrap());
    let cc = |binding: bool| {
        let mut c = env.bare();
        c.args(["check", "checkpoint"]).arg(env.path("cp-log.txt")).arg("--authority-key").arg(authority_pub(&env));
        if binding {
            c.arg("--binding").arg(env.path("binding.json"));
        }
        c.output().unwrap()
    };
    assert!(ok(cc(true)).contains("checkpoint OK:"));
    assert!(err(cc(false)).contains("--binding"));

    // A consistency proof from the demo's authority-signed checkpoint (49)
    // to the log-key-signed one (50).
    let demo_cp = env.path("cp49.txt");
    with_ledger(&env, |l| {
        let (_, n) = l.checkpoints().unwrap().into_iter().find(|(s, _)| *s == 49).expect("the demo's checkpoint 49");
        std::fs::write(&demo_cp, n).unwrap();
    });
    ok(env
        .cmd()
        .args(["prove", "consistency", "--old"])
        .arg(&demo_cp)
        .arg("--out")
        .arg(env.path("c.json"))
        .output()
        .unwrap());
    let c: Value = serde_json::from_str(&std::fs::read_to_string(env.path("c.json")).unwrap()).unwrap();
    assert!(c.get("old_log_key_binding").is_none() && c["new_log_key_binding"]["seq"] == 49, "{c}");
    let out = ok(env
        .bare()
        .args(["check", "consistency"])
        .arg(env.path("c.json"))
        .arg("--authority-key")
        .arg(authority_pub(&env))
        .output()
        .unwrap());
    assert!(out.contains("consistency OK: tree size 50 extends tree size 49"), "{out}");
    drop(log);
}

#[test]
fn certificates_against_a_log_key_checkpoint_verify_offline() {
    let env = Env::new();
    bound_demo(&env);
    let cert = env.path("solder.cert.json");
    ok(env
        .cmd()
        .args(["cert", "issue", "--lot", "SOLDER-KEK-2026-007", "--key"])
        .arg(env.key("EXPORTER-MUNTOK"))
        .arg("--out")
        .arg(&cert)
        .output()
        .unwrap());
    let c: Value = serde_json::from_str(&std::fs::read_to_string(&cert).unwrap()).unwrap();
    assert!(c["checkpoint"].as_str().unwrap().contains("\n50\n"), "the certificate uses the log key's checkpoint");
    let seqs: Vec<u64> = c["entries"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.contains(&49), "the binding is included: {seqs:?}");
    let verify = |file: &std::path::Path| {
        env.bare().args(["cert", "verify"]).arg(file).arg("--authority-key").arg(authority_pub(&env)).output().unwrap()
    };
    let out = ok(verify(&cert));
    assert!(out.contains("OK") || out.contains("verified"), "{out}");
    // A certificate without the binding entry cannot use the log key's signature.
    let mut v = c.clone();
    v["entries"].as_array_mut().unwrap().retain(|e| e["seq"] != 49);
    let stripped = env.path("stripped.cert.json");
    std::fs::write(&stripped, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let e = err(verify(&stripped));
    assert!(e.contains("log key"), "{e}");
}

#[test]
fn the_rules_keep_log_keys_and_actor_keys_apart() {
    let env = Env::new();
    env.demo();
    keygen(&env, "log");
    let before = env.state();
    // Only the authority binds.
    let e = err(env
        .cmd()
        .args(["record", "bind-log-key", "--key"])
        .arg(env.key("MINE-KOBA"))
        .arg("--public-key")
        .arg(env.path("log.pub.pem"))
        .args(["--at", T1])
        .output()
        .unwrap());
    assert!(e.contains("only the ledger authority (AUTH-BABEL) may record bind_log_key"), "{e}");
    // An actor's key is not a log key.
    let e = err(env
        .cmd()
        .args(["record", "bind-log-key", "--key"])
        .arg(env.key("AUTH-BABEL"))
        .arg("--public-key")
        .arg(env.key("MINE-KOBA"))
        .args(["--at", T1])
        .output()
        .unwrap());
    assert!(e.contains("is already registered to MINE-KOBA"), "{e}");
    assert_eq!(env.state(), before, "refusals change nothing");
    // Positive control, then the same key twice.
    ok(bind(&env, "log", T1));
    let e = err(bind(&env, "log", T2));
    assert!(e.contains("was bound as the log key at seq 49"), "{e}");
    // The log key is not an actor key either.
    let e = err(env
        .cmd()
        .args(["record", "register-actor", "--key"])
        .arg(env.key("AUTH-BABEL"))
        .args(["--id", "LAB-BARU", "--name", "Lab Baru", "--role", "lab", "--country", "ID", "--at", T2])
        .arg("--public-key")
        .arg(env.path("log.pub.pem"))
        .output()
        .unwrap());
    assert!(e.contains("is the ledger's log key (bound at seq 49)"), "{e}");
    // A key that is neither the authority's nor the log key signs no checkpoint.
    let stranger = keygen(&env, "stranger");
    let e = err(env.cmd().args(["checkpoint", "--key"]).arg(&stranger).output().unwrap());
    assert!(e.contains("is not the ledger authority's current key") && e.contains("or the bound log key"), "{e}");
}

#[test]
fn a_rotated_out_log_key_signs_nothing_after_the_rotation() {
    let env = Env::new();
    let old = bound_demo(&env);
    keygen(&env, "log2");
    ok(bind(&env, "log2", T2));
    // The old key may no longer sign through the CLI.
    let e = err(env.cmd().args(["checkpoint", "--key"]).arg(&old).output().unwrap());
    assert!(e.contains("or the bound log key (key id"), "{e}");
    // A checkpoint of the new tree signed with the old key, stored behind
    // the CLI's back, is a fault; one for the tree before the rotation
    // (size 50, already stored) is still valid.
    let sk = {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        ed25519_dalek::SigningKey::read_pkcs8_pem_file(&old).unwrap()
    };
    with_ledger(&env, |l| {
        let origin = tinledger_core::checkpoint::origin_for(&l.info().unwrap().ledger_id);
        let cp = Checkpoint { origin: origin.clone(), size: 51, root: l.merkle_root(51).unwrap(), extensions: vec![] };
        let note = cp.sign(&NoteSigner::new(&origin, sk).unwrap()).unwrap();
        l.store_checkpoint(51, &note).unwrap();
    });
    let out = env.cmd().arg("verify").output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("stored checkpoint for tree size 51 is not validly signed by the authority or its bound log key"),
        "{text}"
    );
}

#[test]
fn a_new_log_key_signs_after_the_rotation() {
    let env = Env::new();
    bound_demo(&env);
    let new = keygen(&env, "log2");
    ok(bind(&env, "log2", T2));
    ok(env.cmd().args(["checkpoint", "--key"]).arg(&new).arg("--out").arg(env.path("cp51.txt")).output().unwrap());
    let out = ok(env.cmd().arg("verify").output().unwrap());
    assert!(out.contains("intact: 51 entries"), "{out}");
    ok(env
        .cmd()
        .args(["prove", "log-key", "--checkpoint"])
        .arg(env.path("cp51.txt"))
        .arg("--out")
        .arg(env.path("b51.json"))
        .output()
        .unwrap());
    let b: Value = serde_json::from_str(&std::fs::read_to_string(env.path("b51.json")).unwrap()).unwrap();
    assert_eq!(b["seq"], 50, "the latest binding below size 51: {b}");
    // The old binding (seq 49) does not open the new checkpoint.
    ok(env
        .cmd()
        .args(["prove", "log-key", "--checkpoint"])
        .arg(env.path("cp-log.txt"))
        .arg("--out")
        .arg(env.path("b50.json"))
        .output()
        .unwrap());
    let e = err(env
        .bare()
        .args(["check", "checkpoint"])
        .arg(env.path("cp51.txt"))
        .arg("--authority-key")
        .arg(authority_pub(&env))
        .arg("--binding")
        .arg(env.path("b50.json"))
        .output()
        .unwrap());
    assert!(e.contains("is not in the checkpoint's tree") || e.contains("no signature"), "{e}");
}

/// Open the demo ledger in-process (waiting out a forked child's lock).
fn with_ledger(env: &Env, f: impl FnOnce(&tinledger_ledger::Ledger)) {
    let wait = tinledger_ledger::LockWait { timeout: std::time::Duration::from_secs(10), on_wait: None };
    let l = tinledger_ledger::Ledger::open_waiting(&env.ledger(), &wait).expect("open");
    f(&l);
}
