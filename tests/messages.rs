//! Messages and output under stress: values echoed into messages are capped
//! (a 100 MB bad CSV cell, a huge JSON member name, a huge option value),
//! and a failure to write stdout or stderr never panics: a broken pipe on
//! stdout ends quietly (exit 0), any other write failure exits 2.

use crate::util::*;
use std::process::{Command, Stdio};

/// `tinledger` without a ledger from the environment.
fn tl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinledger"));
    c.env_remove("TINLEDGER_LEDGER");
    c
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new().write(true).open("/dev/full").expect("open /dev/full")
}

/// No message line may be long: each quotes at most 64 characters of a value.
fn assert_short(err: &str) {
    for line in err.lines() {
        assert!(line.len() < 600, "a {}-byte message line: {}…", line.len(), &line[..200]);
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn echoed_values_are_capped() {
    let env = Env::new();
    env.demo();
    let before = env.state();
    // A 100 MB mass cell (a spreadsheet export gone wrong).
    let big = "1".repeat(100 * 1024 * 1024) + "x";
    let csv =
        format!("lot,mass,grade,licence,location\nKOB-2026-0101,{big},70%,IUP-OP 540/112/KOBA/2019,\"-2.49,106.41\"\n");
    std::fs::write(env.path("extract.csv"), csv).unwrap();
    drop(big);
    let mut c = env.cmd();
    c.arg("import").arg(env.path("extract.csv")).arg("--key").arg(env.key("MINE-KOBA"));
    let err = fails_with(c, 2);
    assert_short(&err);
    let expect =
        format!("line 2, column mass: mass \"{}\"…(104857601 bytes) does not end in a unit g, kg or t", "1".repeat(64));
    assert!(err.contains(&expect), "{err}");
    std::fs::remove_file(env.path("extract.csv")).unwrap();

    // A 1 MB JSON member name and a 1 MB lot id, with --json too.
    let name = "n".repeat(1 << 20);
    let lot = "L".repeat(1 << 20);
    std::fs::write(
        env.path("day.jsonl"),
        format!("{{\"kind\":\"receive\",\"lot\":\"KOB-1\",\"mass\":\"1kg\",\"{name}\":1}}\n{{\"kind\":\"receive\",\"lot\":\"{lot}\",\"mass\":\"1kg\"}}\n"),
    )
    .unwrap();
    let mut c = env.cmd();
    c.args(["--json", "import"]).arg(env.path("day.jsonl")).arg("--key").arg(env.key("SMELTER-MUNTOK-2"));
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_short(&err);
    assert!(
        err.contains(&format!("line 1, column \"{}\"…(1048576 bytes): not a field of receive", "n".repeat(64))),
        "{err}"
    );
    assert!(err.contains(&format!("line 2, column lot: lot id \"{}\"…(1048576 bytes)", "L".repeat(64))), "{err}");
    assert!(out.stdout.len() < 4096, "{} bytes of JSON", out.stdout.len());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(2), "{v}");

    // A 100 KB option value (argv takes at most 128 KiB per argument).
    let at = "9".repeat(100 * 1024);
    let mut c = env.cmd();
    c.args(["record", "receive", "--lot", "KOB-2026-0001", "--mass", "1kg", "--at", &at, "--key"])
        .arg(env.key("SMELTER-MUNTOK-2"));
    let err = fails_with(c, 2);
    assert_short(&err);
    assert!(err.contains(&format!("time \"{}\"…(102400 bytes) is not RFC 3339", "9".repeat(64))), "{err}");
    assert_eq!(env.state(), before, "the ledger changed");
}

#[test]
fn output_failures_never_panic() {
    let env = Env::new();
    env.demo();
    let ledger = env.ledger();
    let log = || {
        let mut c = tl();
        c.arg("--ledger").arg(&ledger).arg("log");
        c
    };

    // stdout full: one line on stderr, exit 2.
    let out = log().stdout(dev_full()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err, "tinledger: cannot write output: No space left on device (os error 28)\n");
    for args in [&["--help"][..], &["completions", "bash"], &["--version"]] {
        let out = tl().args(args).stdout(dev_full()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write output"), "{args:?}");
    }
    // stdout and stderr both full: exit 2, no panic (a panic exits 101).
    let out = log().stdout(dev_full()).stderr(dev_full()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));

    // An error while stderr is full or closed: the exit code still says it.
    let missing = env.path("no-ledger");
    let out = tl().arg("--ledger").arg(&missing).arg("log").stderr(dev_full()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = tl().args(["--bogus-option"]).stderr(dev_full()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" --ledger \"$1\" log 2>&-")
        .arg(env!("CARGO_BIN_EXE_tinledger"))
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Positive control: the same error with a working stderr is reported.
    let out = tl().arg("--ledger").arg(&missing).arg("log").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("tinledger: "));

    // A pipe whose reader has gone (`tinledger log | head` after head exits):
    // not an error, nothing on stderr.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = log().stdout(writer).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = tl().arg("--help").stdout(writer).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
