//! Two processes on one ledger: the directory lock turns the second away
//! cleanly (with `--wait 0`; by default it waits, tests/unix.rs), and
//! concurrent appends never damage the chain.

use crate::util::*;
use std::process::Stdio;
use tinledger_ledger::Ledger;

const LOCKED: &str = "in use by another tinledger process";

#[test]
fn second_process_is_turned_away_while_the_ledger_is_open() {
    let env = Env::new();
    env.demo();
    let before = env.state();

    let held = Ledger::open(&env.ledger()).expect("open in the test process");
    let record = || {
        let mut c = env.cmd();
        c.args(["record", "extract", "--key"]).arg(env.key("MINE-KOBA")).args([
            "--at",
            "2026-04-01T00:00:00Z",
            "--lot",
            "KOB-2026-0002",
            "--mass",
            "100kg",
            "--grade",
            "70%",
            "--licence",
            "IUP-OP 540/112/KOBA/2019",
            "--location=-2.49,106.41",
        ]);
        c
    };
    let cases: Vec<(&str, assert_cmd::Command)> = vec![
        ("verify", {
            let mut c = env.cmd();
            c.arg("verify");
            c
        }),
        ("verify --json", {
            let mut c = env.cmd();
            c.args(["verify", "--json"]);
            c
        }),
        ("record", record()),
        ("show", {
            let mut c = env.cmd();
            c.args(["show", "3"]);
            c
        }),
        ("lot", {
            let mut c = env.cmd();
            c.args(["lot", "KOB-2026-0001"]);
            c
        }),
        ("actor suspend", {
            let mut c = env.cmd();
            c.args(["actor", "suspend", "--key"]).arg(env.key("AUTH-BABEL")).args([
                "--id",
                "MINE-KOBA",
                "--reason",
                "x",
            ]);
            c
        }),
    ];
    for (what, mut c) in cases {
        // Without --wait 0 each would wait (30 s by default) for the holder.
        c.args(["--wait", "0"]);
        let err = fails_with(c, 2);
        assert!(err.contains(LOCKED), "{what}: {err}");
        assert!(err.lines().count() <= 2, "{what}: a short message: {err}");
    }
    assert_eq!(held.head().size, before.0, "the holder sees the ledger unchanged");
    drop(held);

    // Released: the binary works and nothing changed.
    env.cmd().arg("verify").assert().success();
    assert_eq!(env.state(), before);
    record().assert().success();
    let after = env.state();
    assert_eq!(after.0, before.0 + 1);
}

#[test]
fn concurrent_records_either_append_or_are_turned_away() {
    let env = Env::new();
    env.demo();
    let (n0, _) = env.state();
    let bin = assert_cmd::cargo::cargo_bin("tinledger");
    const PROCS: usize = 8;
    let mut children = Vec::new();
    for i in 0..PROCS {
        let lot = format!("KOB-2026-1{i:03}");
        let child = std::process::Command::new(&bin)
            .env_remove("TINLEDGER_LEDGER")
            .arg("--ledger")
            .arg(env.ledger())
            .args(["record", "extract", "--key"])
            .arg(env.key("MINE-KOBA"))
            .args([
                "--at",
                "2026-04-01T00:00:00Z",
                "--lot",
                &lot,
                "--material",
                "concentrate",
                "--mass",
                "100kg",
                "--grade",
                "70%",
                "--licence",
                "IUP-OP 540/112/KOBA/2019",
                "--location=-2.49,106.41",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        children.push((lot, child));
    }
    let mut appended = Vec::new();
    for (lot, child) in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked") && !err.contains("internal error"), "{lot}: {err}");
        match out.status.code() {
            Some(0) => appended.push(lot),
            Some(2) => assert!(err.contains(LOCKED), "{lot}: exit 2 but not the lock error: {err}"),
            other => panic!("{lot}: unexpected exit {other:?}: {err}"),
        }
    }
    assert!(!appended.is_empty(), "at least one process gets the lock");

    let v = env.verify_json();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"].as_u64(), Some(n0 + appended.len() as u64), "{v}");
    // Exactly the successful lots exist.
    for i in 0..PROCS {
        let lot = format!("KOB-2026-1{i:03}");
        let ok = env.cmd().args(["lot", &lot]).output().unwrap().status.success();
        assert_eq!(ok, appended.contains(&lot), "{lot}");
    }
}
