//! Issue #14, trust policies (docs/witness.md): `--policy` on the
//! verifiers, certificates and tlog-proofs that carry a cosigned
//! checkpoint, `monitor` and split-view evidence on loopback.
//!
//! Cosignatures are made here with `CosignatureSigner` and fixed test
//! keys, and stored in the ledger as the log server stores them: the
//! log-signed note plus the witnesses' lines.

use crate::remote::{authority_hex, authority_key, grow, publish, synthetic};
use crate::util::*;
use std::path::Path;
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::cosig::{add_signature_lines, CosignatureSigner};
use tinledger_core::note::{Note, NoteSigner, Verifier};
use tinledger_core::testkeys::test_key;
use tinledger_ledger::{Ledger, LockWait};
use tinledger_synth::serve::StaticServer;

/// The three witnesses of the examples: the provincial mining office, the
/// smelters' association and an independent auditor.
const WITNESSES: [&str; 3] = ["esdm-babel", "smelters", "auditor"];

fn witness(i: usize) -> CosignatureSigner {
    let name = format!("witness.{}.example", WITNESSES[i]);
    CosignatureSigner::new(&name, test_key(&format!("WITNESS-{}", WITNESSES[i]))).unwrap()
}

/// `note` with cosignatures by the witnesses `which`.
fn cosign(note: &str, which: &[usize]) -> String {
    let text = Note::parse(note).unwrap().text;
    let lines: Vec<String> =
        which.iter().map(|&i| witness(i).cosign(&text, 1_780_000_000 + i as u64).unwrap()).collect();
    add_signature_lines(note, &lines).unwrap()
}

/// A policy: `log` line for `log` (if any), the three witnesses (with
/// `urls[i]` if given), and a quorum of `k` of them.
fn policy(log: Option<&Verifier>, k: &str, urls: &[Option<String>]) -> String {
    let mut s = String::from("# Bangka Belitung tin trade: test policy\n");
    if let Some(v) = log {
        s.push_str(&format!("log {}\n", v.to_key_string()));
    }
    for (i, w) in WITNESSES.iter().enumerate() {
        let url = urls.get(i).cloned().flatten().map(|u| format!(" {u}")).unwrap_or_default();
        s.push_str(&format!("witness {w} {}{url}\n", witness(i).verifier().to_key_string()));
    }
    s.push_str(&format!("group babel {k} {}\nquorum babel\n", WITNESSES.join(" ")));
    s
}

fn write(env: &Env, name: &str, text: &str) -> std::path::PathBuf {
    let p = env.path(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn policies_on_cosigned_checkpoints_certificates_and_tlog_proofs() {
    let env = Env::new();
    env.demo();
    // One more entry, then a checkpoint at 50 cosigned by two of the three
    // witnesses, stored as the log server stores it.
    let mut c = env.cmd();
    c.args(["record", "dispatch", "--lot", "INGOT-MTK-2026-0042-C", "--to", "EXPORTER-MUNTOK", "--document", "SJ-9"])
        .arg("--key")
        .arg(env.key("SMELTER-MUNTOK-2"))
        .args(["--at", "2026-04-02T00:00:00Z"]);
    c.assert().success();
    let (note, vkey) = {
        let l = Ledger::open_waiting(
            &env.ledger(),
            &LockWait { timeout: std::time::Duration::from_secs(20), on_wait: None },
        )
        .unwrap();
        let origin = origin_for(&l.info().unwrap().ledger_id);
        let size = l.head().size;
        assert_eq!(size, 50);
        let cp = Checkpoint { origin: origin.clone(), size, root: l.merkle_root(size).unwrap(), extensions: vec![] };
        let signer = NoteSigner::new(&origin, test_key("AUTH-BABEL")).unwrap();
        let note = cosign(&cp.sign(&signer).unwrap(), &[0, 2]);
        assert_eq!(l.store_checkpoint(size, &note).unwrap(), note);
        (note, signer.verifier())
    };
    let auth = env.key("AUTH-BABEL.pub");
    let p2 = write(&env, "2of3.policy", &policy(Some(&vkey), "2", &[]));
    let p3 = write(&env, "3of3.policy", &policy(Some(&vkey), "all", &[]));
    let cp = write(&env, "cp50.txt", &note);

    // check checkpoint: the authority's key still opens the cosigned note;
    // the policy adds the quorum.
    let check_cp = |pol: Option<&Path>| {
        let mut c = env.bare();
        c.args(["check", "checkpoint"]).arg(&cp).arg("--authority-key").arg(&auth);
        if let Some(p) = pol {
            c.arg("--policy").arg(p);
        }
        c.output().unwrap()
    };
    let o = check_cp(None);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = check_cp(Some(&p2));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("policy OK: cosigned by esdm-babel, auditor"), "{}", stdout(&o));
    let o = check_cp(Some(&p3));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing cosignatures from smelters"), "{}", stderr(&o));

    // A certificate keeps the cosigned checkpoint byte for byte.
    let cert = env.path("cert.json");
    let mut c = env.cmd();
    c.args(["cert", "issue", "--lot", "SOLDER-KEK-2026-007", "--key"])
        .arg(env.key("EXPORTER-MUNTOK"))
        .arg("--out")
        .arg(&cert);
    c.assert().success();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cert).unwrap()).unwrap();
    assert_eq!(v["checkpoint"].as_str(), Some(note.as_str()));
    let verify = |extra: &[&Path]| {
        let mut c = env.bare();
        c.args(["cert", "verify"]).arg(&cert).arg("--authority-key").arg(&auth);
        if let Some(p) = extra.first() {
            c.arg("--policy").arg(p);
        }
        c.output().unwrap()
    };
    let o = verify(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("cosignature lines by witness.esdm-babel.example, witness.auditor.example (not checked"),
        "{}",
        stdout(&o)
    );
    let o = verify(&[&p2]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("witnesses: policy OK, cosigned by esdm-babel, auditor"), "{}", stdout(&o));
    let o = verify(&[&p3]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("certificate INVALID") && err.contains("missing cosignatures from smelters"), "{err}");

    // The page for people lists the witnesses that cosigned; short of the
    // quorum, nothing is written.
    let render = |pol: &Path, out: &str| {
        let mut c = env.bare();
        c.args(["cert", "render"]).arg(&cert).arg("--html").arg(env.path(out));
        c.arg("--authority-key").arg(&auth).arg("--policy").arg(pol).output().unwrap()
    };
    let o = render(&p2, "page.html");
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(env.path("page.html")).unwrap();
    assert!(page.contains("Witnesses that cosigned") && page.contains("esdm-babel, auditor"));
    let o = render(&p3, "page3.html");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing cosignatures from smelters"));
    assert!(!env.path("page3.html").exists());

    // A malformed policy: exit 2, naming the file and the line.
    let bad = write(&env, "bad.policy", "log x\nquorum none\n");
    let o = verify(&[&bad]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.policy: policy line 1"), "{}", stderr(&o));

    // tlog-proof: written from the stored (cosigned) checkpoint, checked offline.
    let tp = env.path("e35.tlog-proof");
    env.cmd().args(["prove", "inclusion", "35", "--tlog-proof"]).arg(&tp).assert().success();
    let text = std::fs::read_to_string(&tp).unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
    assert!(text.contains("\nindex 35\n"));
    assert!(text.ends_with(&format!("\n\n{note}")), "the checkpoint is included verbatim");
    let check = |file: &Path, pol: &Path| {
        env.bare().args(["check", "tlog-proof"]).arg(file).arg("--policy").arg(pol).output().unwrap()
    };
    let o = check(&tp, &p2);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("tlog-proof OK: entry 35")
            && stdout(&o).contains("at tree size 50; cosigned by esdm-babel, auditor"),
        "{}",
        stdout(&o)
    );
    let o = check(&tp, &p3);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing cosignatures from smelters"));
    // A wrong index, a tampered proof hash: refused.
    let wrong = write(&env, "wrong.tlog-proof", &text.replacen("\nindex 35\n", "\nindex 36\n", 1));
    let o = check(&wrong, &p2);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("inclusion proof for index 36 fails"), "{}", stderr(&o));
    let lines: Vec<&str> = text.split('\n').collect();
    let mut h = lines[3].as_bytes().to_vec();
    h[0] = if h[0] == b'A' { b'B' } else { b'A' };
    let mut tampered = lines.clone();
    let hs = String::from_utf8(h).unwrap();
    tampered[3] = &hs;
    let bad = write(&env, "bad.tlog-proof", &tampered.join("\n"));
    let o = check(&bad, &p2);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("inclusion proof for index 35 fails"));
    // A policy whose log is another key refuses the checkpoint.
    let other = NoteSigner::new(&vkey.name, test_key("SOMEONE-ELSE")).unwrap().verifier();
    let po = write(&env, "other.policy", &policy(Some(&other), "2", &[]));
    let o = check(&tp, &po);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not signed by a log of the policy"), "{}", stderr(&o));
}

/// A published copy of `n` synthetic events (rewritten at `rewrite`), served.
fn served(env: &Env, name: &str, n: usize, rewrite: Option<usize>) -> StaticServer {
    let ev = synthetic(n as u64, rewrite);
    let dir = env.path(name);
    grow(&dir, &ev);
    let out = env.path(&format!("{name}-pub"));
    publish(env, &dir, &out);
    StaticServer::start(&out).unwrap()
}

fn log_verifier(env: &Env, pub_dir: &str) -> Verifier {
    let note = std::fs::read_to_string(env.path(&format!("{pub_dir}/checkpoint"))).unwrap();
    let origin = note.lines().next().unwrap().to_string();
    Verifier::new(&origin, authority_key().verifying_key().to_bytes()).unwrap()
}

fn monitor(env: &Env, pol: &Path, state: &str, urls: &[String]) -> std::process::Output {
    env.bare()
        .args(["monitor", "--once", "--policy"])
        .arg(pol)
        .arg("--state")
        .arg(env.path(state))
        .args(urls)
        .output()
        .unwrap()
}

#[test]
fn monitor_finds_split_views_that_check_split_view_confirms_and_stays_quiet_for_honest_copies() {
    let env = Env::new();
    let honest = served(&env, "honest", 300, None);
    let mirror = served(&env, "mirror", 300, None);
    let v = log_verifier(&env, "honest-pub");
    // A witness (static files at the tinledger witness extension's path)
    // that cosigned the honest checkpoint.
    let note = std::fs::read_to_string(env.path("honest-pub/checkpoint")).unwrap();
    let wdir = env.path("witness");
    let wpath = wdir.join("checkpoint").join(&v.name);
    std::fs::create_dir_all(wpath.parent().unwrap()).unwrap();
    std::fs::write(&wpath, cosign(&note, &[0])).unwrap();
    let wsrv = StaticServer::start(&wdir).unwrap();
    let pol = write(&env, "m.policy", &policy(Some(&v), "any", &[Some(wsrv.url()), None, None]));

    // Honest log and mirror: exit 0, one checkpoint stored (same size and root).
    let o = monitor(&env, &pol, "state", &[honest.url(), mirror.url()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 of 3 URLs answered, 1 new checkpoints, 1 stored, no split view"), "{}", stdout(&o));
    // The state survives: a second run stores nothing new.
    let o = monitor(&env, &pol, "state", &[honest.url(), mirror.url()]);
    assert!(stdout(&o).contains("0 new checkpoints, 1 stored"), "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(env.path("state/checkpoints.jsonl")).unwrap().lines().count(), 1);

    // A torn last line (a crash while appending) is cut off on start;
    // two rounds print two lines.
    let state = env.path("state/checkpoints.jsonl");
    let mut f = std::fs::OpenOptions::new().append(true).open(&state).unwrap();
    std::io::Write::write_all(&mut f, b"{\"source\":\"x\",\"seen").unwrap();
    drop(f);
    let o = env
        .bare()
        .args(["monitor", "--rounds", "2", "--interval", "0", "--policy"])
        .arg(&pol)
        .arg("--state")
        .arg(env.path("state"))
        .arg(honest.url())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().filter(|l| l.starts_with("round ")).count(), 2, "{}", stdout(&o));
    assert_eq!(std::fs::read_to_string(&state).unwrap().lines().count(), 1);
    // A policy without a log line cannot drive a monitor.
    let nolog = write(&env, "nolog.policy", &policy(None, "any", &[]));
    let o = monitor(&env, &nolog, "state9", &[honest.url()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the policy lists no log"), "{}", stderr(&o));

    // A fork of the same size: same genesis, entry 250 rewritten.
    let fork = served(&env, "fork", 300, Some(250));
    let o = monitor(&env, &pol, "state", &[honest.url(), fork.url()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("split view: ") && err.contains("size 300") && err.contains("split-view-1.json"), "{err}");
    let ev = env.path("state/split-view-1.json");
    let confirm = |file: &Path, key: &str| {
        env.bare().args(["check", "split-view"]).arg(file).args(["--log-key", key]).output().unwrap()
    };
    let o = confirm(&ev, &authority_hex());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("split view confirmed: "), "{}", stdout(&o));
    let o = confirm(&ev, &v.to_key_string());
    assert!(o.status.success(), "the note vkey is accepted too: {}", stderr(&o));

    // A longer fork: sizes 300 and 400, joined by no consistency proof.
    let long = served(&env, "long", 400, Some(250));
    let o = monitor(&env, &pol, "state2", &[honest.url(), long.url()]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let ev2 = env.path("state2/split-view-1.json");
    let e: serde_json::Value = serde_json::from_slice(&std::fs::read(&ev2).unwrap()).unwrap();
    assert!(
        e["b_root_at_a_size"].is_string() && e["consistency_proof"].as_array().is_some_and(|a| !a.is_empty()),
        "{e}"
    );
    let o = confirm(&ev2, &authority_hex());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("commits to root"), "{}", stdout(&o));

    // Tampered evidence is refused: a proof hash changed, a's root put as R',
    // the wrong key.
    let mut t = e.clone();
    let h = t["consistency_proof"][0].as_str().unwrap().to_string();
    t["consistency_proof"][0] =
        (if h.starts_with('A') { h.replacen('A', "B", 1) } else { format!("A{}", &h[1..]) }).into();
    let f = write(&env, "t1.json", &t.to_string());
    let o = confirm(&f, &authority_hex());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad proof"), "{}", stderr(&o));
    let a_root = e["a"]["checkpoint"].as_str().unwrap().lines().nth(2).unwrap().to_string();
    let mut t = e.clone();
    t["b_root_at_a_size"] = a_root.into();
    let o = confirm(&write(&env, "t2.json", &t.to_string()), &authority_hex());
    assert_eq!(o.status.code(), Some(1));
    let o = confirm(&ev2, &hex::encode(test_key("SOMEONE-ELSE").verifying_key().to_bytes()));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not signed by the log key"), "{}", stderr(&o));
    let mut t = e.clone();
    t["b"] = e["a"].clone();
    let o = confirm(&write(&env, "t3.json", &t.to_string()), &authority_hex());
    assert_ne!(o.status.code(), Some(0), "two copies of one checkpoint are no split view");
    let o = confirm(&write(&env, "t4.json", "{}"), &authority_hex());
    assert_eq!(o.status.code(), Some(2));
    drop((honest, mirror, fork, long, wsrv));
}

#[test]
fn mirror_and_verify_server_refuse_a_served_checkpoint_without_the_quorum() {
    let env = Env::new();
    let srv = served(&env, "src", 300, None);
    let v = log_verifier(&env, "src-pub");
    let pol = write(&env, "q.policy", &policy(Some(&v), "2", &[]));
    let mirror = env.path("mirror");
    let run_mirror = || {
        env.bare()
            .args(["mirror", &srv.url(), "--authority-key", &authority_hex(), "--policy"])
            .arg(&pol)
            .arg("--into")
            .arg(&mirror)
            .output()
            .unwrap()
    };
    let run_verify = || env.bare().args(["--server", &srv.url(), "verify", "--policy"]).arg(&pol).output().unwrap();
    // Served without cosignatures: refused, nothing written.
    let o = run_mirror();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing cosignatures from esdm-babel, smelters, auditor"), "{}", stderr(&o));
    assert!(!mirror.exists(), "nothing is written");
    let o = run_verify();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("lacks the policy's quorum"), "{}", stderr(&o));
    // Cosigned by one witness: still short of 2.
    let cpfile = env.path("src-pub/checkpoint");
    let note = std::fs::read_to_string(&cpfile).unwrap();
    std::fs::write(&cpfile, cosign(&note, &[1])).unwrap();
    let o = run_mirror();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("missing cosignatures from esdm-babel, auditor; cosigned by smelters"),
        "{}",
        stderr(&o)
    );
    assert!(!mirror.exists());
    // By two: accepted; the mirror stores the cosigned note as served.
    let cosigned = cosign(&note, &[1, 2]);
    std::fs::write(&cpfile, &cosigned).unwrap();
    let o = run_mirror();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_verify();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("policy OK: the served checkpoint (size 300) is cosigned by smelters, auditor"),
        "{}",
        stdout(&o)
    );
    let o = env.bare().arg("--ledger").arg(&mirror).args(["checkpoint", "--out", "-"]).output().unwrap();
    assert_eq!(stdout(&o), cosigned);
    // A local verify refuses --policy rather than ignore it.
    let o = env.bare().arg("--ledger").arg(&mirror).args(["verify", "--policy"]).arg(&pol).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    drop(srv);
}
