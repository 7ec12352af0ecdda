//! `export` / `import-ledger`: a portable copy rebuilt and checked against
//! the authority's signed checkpoint; anything else leaves no ledger behind.

use crate::util::*;
use tinledger_core::note::NoteSigner;
use tinledger_core::testkeys::test_key;

fn import(env: &Env, file: &str, into: &str, extra: &[&str]) -> assert_cmd::Command {
    let mut c = env.bare();
    c.args(["import-ledger", file, "--into", into]).args(extra);
    if !extra.contains(&"--verifier-key") {
        c.arg("--authority-key").arg(env.path("demo/keys/AUTH-BABEL.pub.pem"));
    }
    c
}

fn leftovers(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("importing"))
        .collect()
}

#[test]
fn export_import_round_trip_and_refusals() {
    let env = Env::new();
    env.demo();
    env.cmd().args(["export", "--out", "l.tlx"]).assert().success();
    // Never overwrites.
    let err = fails_with(
        {
            let mut c = env.cmd();
            c.args(["export", "--out", "l.tlx"]);
            c
        },
        2,
    );
    assert!(err.contains("refusing to overwrite existing file l.tlx"), "{err}");

    import(&env, "l.tlx", "copy", &[]).assert().success();
    let copy = |args: &[&str]| {
        let mut c = env.bare();
        c.arg("--ledger").arg(env.path("copy")).args(args);
        c
    };
    let out = copy(&["verify", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["entries"].clone(), v["head"].clone()),
        (true.into(), 49.into(), env.state().1.into())
    );
    // The checkpoint came along: proofs work on the copy.
    copy(&["prove", "inclusion", "35"]).assert().success();
    let err = fails_with(import(&env, "l.tlx", "copy", &[]), 2);
    assert!(err.contains("already exists"), "{err}");

    // One changed byte in one entry: refused, nothing left behind.
    let text = std::fs::read_to_string(env.path("l.tlx")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let line = &mut lines[31]; // entry 30
    let flipped = if line.ends_with('0') { "1" } else { "0" };
    line.replace_range(line.len() - 1.., flipped);
    std::fs::write(env.path("bad.tlx"), lines.join("\n") + "\n").unwrap();
    let err = fails_with(import(&env, "bad.tlx", "copy-bad", &[]), 1);
    assert!(err.contains("entry 30"), "{err}");
    assert!(!env.path("copy-bad").exists());
    assert!(leftovers(&env).is_empty(), "{:?}", leftovers(&env));

    // A dropped entry.
    let mut dropped = text.lines().map(str::to_string).collect::<Vec<_>>();
    dropped.remove(11);
    std::fs::write(env.path("drop.tlx"), dropped.join("\n") + "\n").unwrap();
    let err = fails_with(import(&env, "drop.tlx", "copy-drop", &[]), 1);
    assert!(err.contains("where entry 10 belongs"), "{err}");
    assert!(!env.path("copy-drop").exists());

    // Not the authority's key.
    let mut c = env.bare();
    c.args(["import-ledger", "l.tlx", "--into", "copy-key", "--authority-key"]).arg(env.key("EXPORTER-MUNTOK"));
    let err = fails_with(c, 1);
    assert!(err.contains("checkpoint does not verify with the trusted key"), "{err}");

    // A checkpoint the authority signed over another history.
    let cp = std::fs::read_to_string(env.path("demo/checkpoint.txt")).unwrap();
    let origin = cp.lines().next().unwrap();
    let forged = NoteSigner::new(origin, test_key("AUTH-BABEL"))
        .unwrap()
        .sign(&format!("{origin}\n49\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
        .unwrap();
    std::fs::write(env.path("forged.txt"), forged).unwrap();
    let err = fails_with(import(&env, "l.tlx", "copy-forged", &["--checkpoint", "forged.txt"]), 1);
    assert!(err.contains("not the history the authority signed"), "{err}");
    assert!(!env.path("copy-forged").exists());
    assert!(leftovers(&env).is_empty(), "{:?}", leftovers(&env));
}
