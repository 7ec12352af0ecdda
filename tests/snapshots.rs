//! Snapshot tests (insta): the top-level and `verify` help, and the exact
//! stdout, stderr and exit code of the operator mistakes most likely in the
//! field, each on a fresh demo ledger. The snapshots are the committed files
//! in tests/snapshots/; a missing or different snapshot fails `cargo test`
//! (in CI, with CI=true, insta never writes files). To accept a deliberate
//! change: `INSTA_UPDATE=always cargo test --test integration snapshots`,
//! then review the diff of tests/snapshots/.
//!
//! Commands run in the test's temp dir with relative paths (`--ledger
//! demo/ledger`, `demo/keys/...`), so messages are the same on every machine;
//! anything absolute that still leaks is replaced by `[TMP]`.

use crate::util::*;
use assert_cmd::Command;
use tinledger_ledger::Ledger;

/// Event time used throughout: signatures and hashes are deterministic.
const AT: &str = "2026-04-01T00:00:00Z";

/// Help is wrapped to the terminal width; without a terminal clap reads COLUMNS.
const COLUMNS: &str = "100";

/// `tinledger ARGS` in the temp dir, with a fixed width and no ledger from the environment.
fn tl(env: &Env, args: &[&str]) -> Command {
    let mut c = env.bare();
    c.env("COLUMNS", COLUMNS).args(args);
    c
}

/// `tinledger --ledger demo/ledger ARGS`.
pub(crate) fn on_demo(args: &[&str]) -> Vec<String> {
    ["--ledger", "demo/ledger"].iter().chain(args).map(|s| s.to_string()).collect()
}

/// Run `tinledger ARGS` and write what happened as the snapshot body: the
/// command line, the exit code, stdout and stderr.
pub(crate) fn transcript(env: &Env, args: &[String]) -> String {
    transcript_env(env, args, &[])
}

/// [`transcript`] with extra environment variables (not shown in the snapshot).
fn transcript_env(env: &Env, args: &[String], vars: &[(&str, &str)]) -> String {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = tl(env, &argv).envs(vars.iter().copied()).output().expect("run tinledger");
    let shown: Vec<String> =
        args.iter().map(|a| if a.contains(' ') || a.is_empty() { format!("'{a}'") } else { a.clone() }).collect();
    let text = format!(
        "$ tinledger {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        shown.join(" "),
        out.status.code().map(|c| c.to_string()).unwrap_or_else(|| "signal".into()),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!text.contains("panicked"), "{text}");
    let tmp = env.tmp.path().to_string_lossy().to_string();
    let canon = env.tmp.path().canonicalize().map(|p| p.to_string_lossy().to_string()).unwrap_or_else(|_| tmp.clone());
    text.replace(&canon, "[TMP]").replace(&tmp, "[TMP]")
}

/// A fresh demo ledger in a temp dir.
pub(crate) fn demo() -> Env {
    let env = Env::new();
    env.demo();
    env
}

/// Snapshot a mistake that must leave the ledger exactly as it was.
pub(crate) fn mistake(env: &Env, name: &str, args: &[&str], exit: i32) {
    mistake_env(env, name, args, &[], exit)
}

pub(crate) fn mistake_env(env: &Env, name: &str, args: &[&str], vars: &[(&str, &str)], exit: i32) {
    let before = env.state();
    let text = transcript_env(env, &on_demo(args), vars);
    assert_eq!(env.state(), before, "{name}: the ledger changed");
    assert!(text.contains(&format!("\nexit: {exit}\n")), "{name}: expected exit {exit}:\n{text}");
    assert!(text.contains("--- stdout\n--- stderr\ntinledger: "), "{name}: stdout not empty or no error line:\n{text}");
    insta::assert_snapshot!(name, text);
}

fn record<'a>(kind: &'a str, key: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["record", kind, "--key", key, "--at", AT];
    v.extend_from_slice(rest);
    v
}

#[test]
fn help_texts() {
    let env = Env::new();
    insta::assert_snapshot!("help", transcript(&env, &["--help".to_string()]));
    insta::assert_snapshot!("verify_help", transcript(&env, &["verify".to_string(), "--help".to_string()]));
}

#[test]
fn wrong_key_for_the_actor() {
    let env = demo();
    let mut args = record("dispatch", "demo/keys/MINE-KOBA.pem", &["--as", "COLLECTOR-PANGKALPINANG"]);
    args.extend_from_slice(&COLLECTOR_DISPATCH);
    mistake(&env, "wrong_key_for_the_actor", &args, 1);
}

#[test]
fn unknown_lot() {
    let env = demo();
    // A typo in the lot id (BLY-2026-001 for BLY-2026-0001), when recording and when looking it up.
    let mut dispatch = COLLECTOR_DISPATCH;
    dispatch[1] = "BLY-2026-001";
    mistake(&env, "unknown_lot_record", &record("dispatch", "demo/keys/COLLECTOR-PANGKALPINANG.pem", &dispatch), 1);
    mistake(&env, "unknown_lot_lookup", &["lot", "BLY-2026-001"], 2);
}

#[test]
fn lot_not_in_your_custody() {
    let env = demo();
    let args = record(
        "dispatch",
        "demo/keys/SMELTER-MUNTOK-2.pem",
        &["--lot", "BLY-2026-0001", "--to", "EXPORTER-MUNTOK", "--document", "SJ/MTK/2026/0091"],
    );
    mistake(&env, "lot_not_in_your_custody", &args, 1);
}

#[test]
fn mass_exceeding_the_lot() {
    let env = demo();
    // KOB-2026-0001 holds 500 kg.
    let args = record(
        "smelt",
        "demo/keys/SMELTER-MUNTOK-2.pem",
        &["--input", "KOB-2026-0001:501kg", "--output", "INGOT-MTK-2026-0050:ingot:100kg:99.9%"],
    );
    mistake(&env, "mass_exceeding_the_lot", &args, 1);
}

#[test]
fn file_not_found() {
    let env = demo();
    mistake(&env, "file_not_found", &["submit", "missing.json"], 2);
}

#[test]
fn ledger_locked() {
    let env = demo();
    let before = env.state();
    let mut args = record("dispatch", "demo/keys/COLLECTOR-PANGKALPINANG.pem", &COLLECTOR_DISPATCH);
    // Fail at once instead of waiting for the holder (tests/unix.rs waits).
    args.extend_from_slice(&["--wait", "0"]);
    let text = {
        // Another process's hold on the ledger: the lock taken in this process.
        let _held = Ledger::open(&env.ledger()).expect("open the ledger in the test process");
        // The holder (this test process) names its PID, which varies.
        transcript(&env, &on_demo(&args)).replace(&format!("(PID {})", std::process::id()), "(PID [PID])")
    };
    assert_eq!(env.state(), before, "the ledger changed");
    assert!(text.contains("\nexit: 2\n"), "{text}");
    insta::assert_snapshot!("ledger_locked", text);
    // Positive control: once the lock is released the same command is accepted.
    tl(&env, &on_demo(&args).iter().map(String::as_str).collect::<Vec<_>>()).assert().success();
    assert_eq!(env.state().0, before.0 + 1);
}

#[test]
fn duplicate_submission() {
    let env = demo();
    let out = env.cmd().args(["show", "0", "--json"]).output().expect("run");
    let genesis: serde_json::Value = serde_json::from_slice(&out.stdout).expect("show --json");
    let ledger_id = genesis["event"]["ledger_id"].as_str().expect("ledger id").to_string();
    let mut sign = vec![
        "sign",
        "dispatch",
        "--key",
        "demo/keys/COLLECTOR-PANGKALPINANG.pem",
        "--as",
        "COLLECTOR-PANGKALPINANG",
        "--ledger-id",
        &ledger_id,
        "--at",
        AT,
        "--out",
        "dispatch.json",
    ];
    sign.extend_from_slice(&COLLECTOR_DISPATCH);
    tl(&env, &sign).assert().success();
    // The first submission is accepted (the positive control) ...
    let before = env.state();
    tl(&env, &["--ledger", "demo/ledger", "submit", "dispatch.json"]).assert().success();
    assert_eq!(env.state().0, before.0 + 1);
    // ... the operator submits the same file again.
    mistake(&env, "duplicate_submission", &["submit", "dispatch.json"], 1);
}

/// `completions SHELL` prints a script for each shell that knows the
/// subcommands; `man` prints tinledger.1; `man --out DIR` writes one page per
/// command, each with the EXAMPLES section from its `--help`.
#[test]
fn completions_and_manual_pages() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = tl(&env, &["completions", shell]).output().expect("run");
        assert!(out.status.success(), "completions {shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["tinledger", "import-ledger", "verify", "expect-head"] {
            assert!(script.contains(word), "completions {shell} lacks {word:?}");
        }
    }
    let err = fails_with(tl(&env, &["completions", "tcsh"]), 2);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");

    let out = tl(&env, &["man"]).output().expect("run");
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.starts_with(".ie \\n(.g .ds Aq") && page.contains(".TH tinledger 1"), "{page}");
    assert!(page.contains("tinledger\\-verify(1)") && page.contains(".SH EXAMPLES"), "{page}");

    let out = tl(&env, &["--json", "man", "--out", "man1"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("man --json");
    let files = v["files"].as_array().expect("files");
    let mut names: Vec<String> = std::fs::read_dir(env.path("man1"))
        .expect("man1")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), files.len(), "{names:?}");
    for n in ["tinledger.1", "tinledger-verify.1", "tinledger-actor-register.1", "tinledger-sign-smelt.1"] {
        assert!(names.iter().any(|f| f == n), "no {n} in {names:?}");
    }
    for n in &names {
        let page = std::fs::read_to_string(env.path("man1").join(n)).expect("read page");
        assert!(page.contains(".SH EXAMPLES\n.nf\n"), "{n} has no EXAMPLES section");
        assert!(page.contains("tinledger"), "{n}");
    }
    let verify = std::fs::read_to_string(env.path("man1/tinledger-verify.1")).expect("verify page");
    assert!(verify.contains("tinledger verify \\-\\-expect\\-head 41:9c1f"), "{verify}");
}

#[test]
fn malformed_csv_row() {
    let env = demo();
    // A mine's day sheet for `import`: the second row's mass has a letter O for a zero.
    std::fs::write(
        env.path("extract.csv"),
        "lot,mass,grade,licence,location\n\
         KOB-2026-0101,1250kg,70%,IUP-OP 540/112/KOBA/2019,\"-2.49,106.41\"\n\
         KOB-2026-0102,12O0kg,70%,IUP-OP 540/112/KOBA/2019,\"-2.49,106.41\"\n",
    )
    .expect("write csv");
    let args = ["import", "extract.csv", "--key", "demo/keys/MINE-KOBA.pem", "--at", AT];
    let before = env.state();
    let text = transcript(&env, &on_demo(&args));
    assert_eq!(env.state(), before, "the ledger changed");
    assert!(text.contains("\nexit: 2\n--- stdout\n--- stderr\nline 3, column mass: "), "{text}");
    insta::assert_snapshot!("malformed_csv_row", text);
    // Positive control: the corrected file imports both rows.
    std::fs::write(
        env.path("extract.csv"),
        std::fs::read_to_string(env.path("extract.csv")).expect("read csv").replace("12O0kg", "1200kg"),
    )
    .expect("write csv");
    tl(&env, &on_demo(&args).iter().map(String::as_str).collect::<Vec<_>>()).assert().success();
    assert_eq!(env.state().0, before.0 + 2);
}

#[test]
fn passphrase_wrong() {
    let env = demo();
    tl(&env, &["--passphrase-env", "TL_PASS", "keygen", "--out", "smelter.pem", "--encrypt"])
        .env("TL_PASS", "the right passphrase")
        .assert()
        .success();
    let args = [
        "--passphrase-env",
        "TL_PASS",
        "record",
        "receive",
        "--key",
        "smelter.pem",
        "--at",
        AT,
        "--lot",
        "INGOT-MTK-2026-0042-C",
        "--mass",
        "270kg",
    ];
    mistake_env(&env, "passphrase_wrong", &args, &[("TL_PASS", "the wrong passphrase")], 2);
}

#[test]
fn key_file_with_bad_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let env = demo();
    // The key copied with a umask that lets everyone read it.
    let key = env.key("MINE-KOBA");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut args = record(
        "extract",
        "demo/keys/MINE-KOBA.pem",
        &["--lot", "KOB-2026-0101", "--mass", "1250kg", "--grade", "70%", "--licence"],
    );
    args.extend_from_slice(&["IUP-OP 540/112/KOBA/2019", "--location=-2.49,106.41"]);
    mistake(&env, "key_file_with_bad_permissions", &args, 2);
    // Positive control: after the suggested chmod 600 the same command is accepted.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let before = env.state();
    tl(&env, &on_demo(&args).iter().map(String::as_str).collect::<Vec<_>>()).assert().success();
    assert_eq!(env.state().0, before.0 + 1);
}

/// Text columns line up: `log` across kinds of different lengths, and
/// `actor list` when an actor id is longer than the usual column.
#[test]
fn human_output_columns_are_aligned() {
    let env = demo();
    let long_id = "LAB-SURVEYOR-INDEPENDENT-BANGKA-BELITUNG";
    let pk = tinledger_core::event::PublicKey::from(&tinledger_core::testkeys::test_key("snapshots long id")).to_hex();
    let mut args = vec!["actor", "register", "--key", "demo/keys/AUTH-BABEL.pem", "--at", AT, "--id", long_id];
    args.extend_from_slice(&["--name", "PT Surveyor Independen (fictional)", "--role", "lab", "--public-key", &pk]);
    tl(&env, &on_demo(&args).iter().map(String::as_str).collect::<Vec<_>>()).assert().success();

    let list = transcript(&env, &on_demo(&["actor", "list"]));
    let log = transcript(&env, &on_demo(&["log", "--from", "44", "--to", "49"]));
    let body = |t: &str| -> Vec<String> {
        let out = t.split("--- stdout\n").nth(1).and_then(|r| r.split("--- stderr\n").next()).unwrap_or("");
        out.lines().map(str::to_string).collect()
    };
    // Every `actor list` line has its key column at the same offset, at least
    // two spaces after the id.
    let lines = body(&list);
    assert_eq!(lines.len(), 13, "{list}");
    let offsets: Vec<usize> = lines.iter().map(|l| l.find("  key ").expect("key column")).collect();
    let key_at = lines.iter().map(|l| l.find(" key ").expect("key column")).collect::<Vec<_>>();
    assert!(key_at.windows(2).all(|w| w[0] == w[1]), "key column not aligned:\n{list}");
    assert!(offsets.iter().all(|o| *o + 1 == key_at[0]), "{list}");
    assert!(lines.iter().any(|l| l.starts_with(&format!("{long_id}  "))), "{list}");
    // `log`: the summary starts at the same offset on every line, after at least two spaces.
    let out = env.cmd().args(["--json", "log", "--from", "44", "--to", "49"]).output().expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("log --json");
    let summaries: Vec<&str> =
        v["entries"].as_array().expect("entries").iter().map(|e| e["summary"].as_str().expect("summary")).collect();
    let lines = body(&log);
    assert_eq!(lines.len(), summaries.len(), "{log}");
    let starts: Vec<usize> = lines.iter().zip(&summaries).map(|(l, s)| l.len() - s.len()).collect();
    assert!(starts.windows(2).all(|w| w[0] == w[1]), "summary column not aligned:\n{log}");
    assert!(lines.iter().all(|l| l[..starts[0]].ends_with("  ")), "{log}");

    insta::assert_snapshot!("actor_list", list);
    insta::assert_snapshot!("log", log);
}

#[test]
fn leap_second_and_signed_mass() {
    let env = demo();
    // An operator copies a leap second from a GPS log, then a mass with a sign.
    // (30 June is a leap-second slot; the date follows the lot's last event,
    // as time order requires, and is not in the future.)
    let split = |part: &'static str, at: &'static str| -> [&'static str; 10] {
        let key = "demo/keys/SMELTER-MUNTOK-2.pem";
        ["record", "split", "--key", key, "--lot", "INGOT-MTK-2026-0042-C", "--part", part, "--at", at]
    };
    mistake(&env, "leap_second", &split("INGOT-C-1:70kg", "2026-06-30T23:59:60Z"), 2);
    mistake(&env, "signed_mass", &split("INGOT-C-1:+70kg", AT), 2);
    // Positive control: the second before the leap second, and no sign.
    let before = env.state();
    tl(&env, &on_demo(&split("INGOT-C-1:70kg", "2026-06-30T23:59:59Z")).iter().map(String::as_str).collect::<Vec<_>>())
        .assert()
        .success();
    assert_eq!(env.state().0, before.0 + 1);
}

/// Issue #11: `--expect-head ENTRIES:HEAD` (the count, not the last seq)
/// is a usage error that names the right argument, not a FAULT.
#[test]
fn expect_head_with_the_entry_count() {
    let env = demo();
    let (n, head) = env.state();
    let arg = format!("{n}:{head}");
    mistake(&env, "expect_head_with_the_entry_count", &["verify", "--expect-head", &arg], 2);
}

/// Issue #11: a mistyped --ledger says the directory does not exist and
/// points at the ledger beside it; `init` is offered only as a NEW ledger.
#[test]
fn mistyped_ledger_directory() {
    let env = demo();
    let args: Vec<String> = ["--ledger", "demo/ledgr", "lot", "KOB-2026-0001"].iter().map(|s| s.to_string()).collect();
    let text = transcript(&env, &args);
    assert!(text.contains("\nexit: 2\n"), "{text}");
    assert!(!env.path("demo/ledgr").exists(), "nothing was created");
    insta::assert_snapshot!("mistyped_ledger_directory", text);
}

/// Issue #11: with --json the error is also one object on stdout.
#[test]
fn json_error_object() {
    let env = demo();
    let before = env.state();
    let mut args = vec!["--json"];
    args.extend(record("dispatch", "demo/keys/MINE-KOBA.pem", &["--as", "COLLECTOR-PANGKALPINANG"]));
    args.extend_from_slice(&COLLECTOR_DISPATCH);
    let text = transcript(&env, &on_demo(&args));
    assert_eq!(env.state(), before, "the ledger changed");
    assert!(text.contains("\nexit: 1\n--- stdout\n{\"error\":{\"code\":\"refused\""), "{text}");
    insta::assert_snapshot!("json_error_object", text);
}

// ---- issue 11: units, locale forms, times, gross receive tolerance ----

#[test]
fn bare_mass() {
    // `--mass 2000` was 2 kg, recorded with exit 0.
    let env = demo();
    let args = record(
        "extract",
        "demo/keys/MINE-KOBA.pem",
        &[
            "--lot",
            "KOB-2026-0101",
            "--mass",
            "2000",
            "--licence",
            "IUP-OP 540/112/KOBA/2019",
            "--location=-2.49,106.41",
        ],
    );
    mistake(&env, "bare_mass", &args, 2);
}

#[test]
fn bare_grade() {
    let env = demo();
    let args = record(
        "assay",
        "demo/keys/LAB-PANGKALPINANG.pem",
        &["--lot", "KOB-2026-0001", "--grade", "70", "--method", "XRF", "--report", "LAB/2026/0999"],
    );
    mistake(&env, "bare_grade", &args, 2);
}

#[test]
fn decimal_comma() {
    let env = demo();
    let args = record(
        "smelt",
        "demo/keys/SMELTER-MUNTOK-2.pem",
        &["--input", "KOB-2026-0001:300,5kg", "--output", "INGOT-MTK-2026-0050:ingot:208kg:99.92%"],
    );
    mistake(&env, "decimal_comma", &args, 2);
}

#[test]
fn spreadsheet_date() {
    let env = demo();
    let mut args = record("dispatch", "demo/keys/SMELTER-MUNTOK-2.pem", &[]);
    args.retain(|a| *a != "--at" && *a != AT);
    args.extend_from_slice(&[
        "--lot",
        "INGOT-MTK-2026-0042-C",
        "--to",
        "EXPORTER-MUNTOK",
        "--document",
        "SJ/MTK/2026/0100",
        "--at",
        "01/04/2026 08:30",
    ]);
    mistake(&env, "spreadsheet_date", &args, 2);
}

#[test]
fn time_without_offset() {
    let env = demo();
    let mut args = record("dispatch", "demo/keys/SMELTER-MUNTOK-2.pem", &[]);
    args.retain(|a| *a != "--at" && *a != AT);
    args.extend_from_slice(&[
        "--lot",
        "INGOT-MTK-2026-0042-C",
        "--to",
        "EXPORTER-MUNTOK",
        "--document",
        "SJ/MTK/2026/0100",
        "--at",
        "2026-04-01T08:30:00",
    ]);
    mistake(&env, "time_without_offset", &args, 2);
}

#[test]
fn gross_receive_mistake() {
    let env = demo();
    let dispatch = record(
        "dispatch",
        "demo/keys/SMELTER-MUNTOK-2.pem",
        &["--lot", "INGOT-MTK-2026-0042-C", "--to", "EXPORTER-MUNTOK", "--document", "SJ/MTK/2026/0100"],
    );
    tl(&env, &on_demo(&dispatch).iter().map(String::as_str).collect::<Vec<_>>()).assert().success();
    // 270 kg dispatched; the clerk keys 270g.
    let receive =
        record("receive", "demo/keys/EXPORTER-MUNTOK.pem", &["--lot", "INGOT-MTK-2026-0042-C", "--mass", "270g"]);
    mistake(&env, "gross_receive_mistake", &receive, 1);
}

#[test]
fn bulk_rows_without_units() {
    let env = demo();
    // A weighbridge sheet with CRLF line ends: bare grams, a decimal comma, an Excel date.
    std::fs::write(
        env.path("receive.csv"),
        "lot;mass;at\r\nINGOT-MTK-2026-0042-C;270000;2026-04-01T08:00:00+07:00\r\n\
         INGOT-MTK-2026-0042-C;269,5kg;2026-04-01T09:00:00+07:00\r\nINGOT-MTK-2026-0042-C;270kg;01/04/2026\r\n",
    )
    .expect("write csv");
    let args = ["import", "receive.csv", "--key", "demo/keys/EXPORTER-MUNTOK.pem"];
    let before = env.state();
    let text = transcript(&env, &on_demo(&args));
    assert_eq!(env.state(), before, "the ledger changed");
    assert!(text.contains("\nline 4, column at: "), "{text}");
    insta::assert_snapshot!("bulk_rows_without_units", text);
}
