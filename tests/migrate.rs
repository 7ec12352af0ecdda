//! `tinledger migrate` and the format-1 fixture (fixtures/format1/README.md),
//! which every later version must refuse with the migrate hint, migrate and
//! verify, with the values recorded here.
//!
//! Crash safety (docs/storage.md, "Migration"): the migration is killed with
//! SIGKILL in each crash window (the `TINLEDGER_MIGRATE_PAUSE_AT` hook stops
//! it there), at random moments (at least 20 kills), and by strace at its
//! exchange and at fsyncs; after every kill the ledger must be a complete
//! format-1 ledger (then `migrate` succeeds) or a complete format-2 ledger
//! with the same head. `TINLEDGER_CRASH_SEED` replays the random delays.

use crate::util::{copy_dir, fails_with, Env};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/format1");
const ENTRIES: u64 = 51;
const HEAD: &str = "6ccba961312d83600a6ed6899663cbe3ca5ed7d4475db63fe6c62821e9e5d41a";
const LEDGER_ID: &str = "b4a9c0d2e1f3a5b7c9d1e3f5a7b9c1d3";
const OLD_FORMAT: &str = "is in storage format 1; this tinledger reads format 2";

fn tl(ledger: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinledger"));
    c.env_remove("TINLEDGER_LEDGER").env_remove("TINLEDGER_MIGRATE_PAUSE_AT");
    c.arg("--ledger").arg(ledger).stdin(Stdio::null());
    c
}

fn run(ledger: &Path, args: &[&str]) -> Output {
    tl(ledger).args(args).output().expect("run tinledger")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output, ctx: &str) -> Value {
    assert!(o.status.success(), "{ctx}: {}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{ctx}: not JSON ({e}): {}", text(o)))
}

/// A copy of the fixture's ledger at `dst` (sled writes to what it opens).
fn fixture_copy(dst: &Path) -> PathBuf {
    copy_dir(&Path::new(FIXTURE).join("ledger"), dst);
    dst.to_path_buf()
}

/// The ledger verifies (indices too) as the fixture's history.
fn verifies_as_fixture(ledger: &Path, ctx: &str) {
    let v = json(&run(ledger, &["--json", "verify", "--indices"]), ctx);
    assert_eq!(v["ok"], true, "{ctx}: {v}");
    assert_eq!(v["entries"], ENTRIES, "{ctx}: {v}");
    assert_eq!(v["head"], HEAD, "{ctx}: {v}");
    assert_eq!(v["ledger_id"], LEDGER_ID, "{ctx}: {v}");
}

/// `db.format1` is the complete format-1 data: meta/format = 1, every entry.
fn backup_is_format1(ledger: &Path, ctx: &str) {
    let db = sled::open(ledger.join("db.format1")).unwrap_or_else(|e| panic!("{ctx}: backup opens: {e}"));
    let meta = db.open_tree("meta").expect("meta");
    assert_eq!(meta.get("format").expect("read").as_deref(), Some(&1u32.to_be_bytes()[..]), "{ctx}");
    assert_eq!(db.open_tree("entries").expect("entries").len() as u64, ENTRIES, "{ctx}");
}

/// What every kill must leave: a complete format-1 ledger (which then
/// migrates) or a complete format-2 ledger with the fixture's head. Returns
/// whether the kill had already switched.
fn settle_after_kill(ledger: &Path, ctx: &str) -> bool {
    let v = run(ledger, &["--json", "verify"]);
    let switched = if v.status.success() {
        verifies_as_fixture(ledger, ctx);
        // A second run refuses and finishes the backup's name, if needed.
        let again = run(ledger, &["migrate"]);
        assert_eq!(again.status.code(), Some(2), "{ctx}: {}", text(&again));
        assert!(String::from_utf8_lossy(&again.stderr).contains("already in storage format 2"), "{ctx}");
        true
    } else {
        assert_eq!(v.status.code(), Some(2), "{ctx}: {}", text(&v));
        assert!(String::from_utf8_lossy(&v.stderr).contains(OLD_FORMAT), "{ctx}: {}", text(&v));
        let m = run(ledger, &["migrate"]);
        assert!(m.status.success(), "{ctx}: migrate after the kill: {}", text(&m));
        false
    };
    verifies_as_fixture(ledger, ctx);
    backup_is_format1(ledger, ctx);
    assert!(!ledger.join("migrate.tmp").exists(), "{ctx}: migrate.tmp is cleaned up");
    switched
}

#[test]
fn the_format1_fixture_is_refused_with_the_hint_then_migrates_and_verifies() {
    let env = Env::new();
    env.demo();
    // The demo's TEST keys, the fixture's ledger.
    std::fs::remove_dir_all(env.ledger()).expect("rm demo ledger");
    let l = fixture_copy(&env.ledger());

    for args in [&["verify"][..], &["show", "0"], &["lot", "KOB-2026-0003"], &["reindex"]] {
        let mut c = env.cmd();
        c.args(args);
        let err = fails_with(c, 2);
        assert!(err.contains(OLD_FORMAT), "{args:?}: {err}");
        assert!(err.contains(&format!("tinledger --ledger {} migrate", l.display())), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 2, "one line and a hint: {err}");
    }

    let m = json(&run(&l, &["--json", "migrate"]), "migrate");
    assert_eq!(m["from_format"], 1, "{m}");
    assert_eq!(m["to_format"], 2, "{m}");
    assert_eq!(m["entries"], ENTRIES, "{m}");
    assert_eq!(m["head"], HEAD, "{m}");
    assert_eq!(m["checkpoints"], 2, "{m}");
    assert_eq!(m["backup"], l.join("db.format1").display().to_string(), "{m}");
    assert!(!l.join("migrate.tmp").exists());
    backup_is_format1(&l, "after migrate");

    verifies_as_fixture(&l, "after migrate");
    let v = env.verify_json();
    assert_eq!(v["actors"], 12, "{v}");
    assert_eq!(v["lots"], 12, "{v}");
    assert_eq!(v["flags"].as_array().map(Vec::len), Some(2), "{v}");

    // The recorded lot states.
    let kob = json(&run(&l, &["--json", "lot", "KOB-2026-0003"]), "lot KOB-2026-0003");
    assert_eq!(kob["lot"]["custodian"], "MINE-KOBA", "{kob}");
    assert_eq!(kob["lot"]["mass_g"], 1_250_000, "{kob}");
    assert_eq!(kob["lot"]["grade_ppm"], 700_000, "corrected from 7%: {kob}");
    assert_eq!(kob["history"].as_array().map(Vec::len), Some(2), "{kob}");
    assert_eq!(kob["history"][1]["kind"], "correct", "{kob}");
    let solder = json(&run(&l, &["--json", "lot", "SOLDER-KEK-2026-007"]), "lot SOLDER-KEK-2026-007");
    assert_eq!(solder["lot"]["mass_g"], 1_030_000, "{solder}");
    assert_eq!(solder["lot"]["grade_ppm"], 965_000, "{solder}");
    assert_eq!(solder["history"][3]["kind"], "export", "{solder}");

    // Both stored checkpoints came over byte for byte; the latest verifies
    // offline and a certificate can be issued against it.
    let cp = json(&run(&l, &["--json", "checkpoint"]), "checkpoint");
    let want = std::fs::read_to_string(Path::new(FIXTURE).join("checkpoint-51.txt")).expect("fixture checkpoint");
    assert_eq!(cp["size"], ENTRIES, "{cp}");
    assert_eq!(cp["checkpoint"].as_str(), Some(want.as_str()), "{cp}");
    let cert = env.path("cert.json");
    let issued = run(
        &l,
        &[
            "cert",
            "issue",
            "--lot",
            "SOLDER-KEK-2026-007",
            "--key",
            env.key("EXPORTER-MUNTOK").to_str().expect("utf-8"),
            "--out",
            cert.to_str().expect("utf-8"),
            "--at",
            "2026-03-22T00:00:00Z",
        ],
    );
    assert!(issued.status.success(), "cert issue: {}", text(&issued));
    let authority = Path::new(FIXTURE).join("AUTH-BABEL.pub.pem");
    let checked = Command::new(env!("CARGO_BIN_EXE_tinledger"))
        .args(["cert", "verify"])
        .arg(&cert)
        .arg("--authority-key")
        .arg(&authority)
        .output()
        .expect("run");
    assert!(checked.status.success(), "cert verify: {}", text(&checked));

    // Twice: refused, nothing changed.
    let mut c = env.cmd();
    c.arg("migrate");
    let err = fails_with(c, 2);
    assert!(err.contains("already in storage format 2"), "{err}");
    verifies_as_fixture(&l, "after the second migrate");
}

/// Start `migrate` paused at `phase`; returns once it says it is paused.
fn paused_at(ledger: &Path, phase: &str) -> std::process::Child {
    let mut c = tl(ledger);
    c.arg("migrate").env("TINLEDGER_MIGRATE_PAUSE_AT", phase).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn migrate");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let want = format!("paused at phase {phase}");
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains(&want) => break,
            Some(Ok(_)) => {}
            _ => {
                let status = child.wait().expect("wait");
                panic!("migrate ended ({status}) without pausing at {phase}");
            }
        }
    }
    child
}

fn kill(mut child: std::process::Child) {
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL");
}

#[test]
fn a_migration_killed_in_each_crash_window_leaves_one_complete_ledger() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (i, (phase, switched)) in
        [("locked", false), ("building", false), ("built", false), ("switched", true), ("backed-up", true)]
            .into_iter()
            .enumerate()
    {
        let l = fixture_copy(&tmp.path().join(format!("l{i}")));
        let child = paused_at(&l, phase);
        if phase == "locked" {
            // A second migrate (or any command) meanwhile is refused by the lock.
            let o = run(&l, &["--wait", "0", "migrate"]);
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            assert!(String::from_utf8_lossy(&o.stderr).contains("in use by another tinledger process"), "{}", text(&o));
        }
        kill(child);
        assert_eq!(settle_after_kill(&l, &format!("killed at {phase}")), switched, "killed at {phase}");
    }
}

/// A tiny xorshift for the kill delays (seed printed, replayable).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_kills_of_a_migration_never_lose_or_corrupt_the_ledger() {
    const KILLS: usize = 24;
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let seed = std::env::var("TINLEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) | 1 << 40);
    eprintln!("TINLEDGER_CRASH_SEED={seed}");
    let mut rng = seed;
    // How long a whole migration takes here: the delays span it.
    let l = fixture_copy(&tmp.path().join("timing"));
    let t0 = Instant::now();
    let o = run(&l, &["migrate"]);
    assert!(o.status.success(), "{}", text(&o));
    let span = t0.elapsed().as_micros().max(1) as u64;
    let (mut before, mut after, mut tries) = (0, 0, 0);
    // Kills that land after the process has exited do not count.
    while before + after < KILLS {
        tries += 1;
        assert!(tries <= 4 * KILLS, "only {} of {tries} runs were killed (span {span} µs)", before + after);
        let l = fixture_copy(&tmp.path().join(format!("k{tries}")));
        let delay = Duration::from_micros(next(&mut rng) % span);
        let mut child = tl(&l).arg("migrate").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().expect("wait");
        let ctx = format!("run {tries}, killed after {delay:?} (seed {seed})");
        if status.signal() == Some(9) {
            if settle_after_kill(&l, &ctx) {
                after += 1;
            } else {
                before += 1;
            }
        } else {
            assert!(status.success(), "{ctx}: {status}");
        }
        std::fs::remove_dir_all(&l).expect("clean up");
    }
    eprintln!("{KILLS} kills in {tries} runs over {span} µs: {before} left format 1, {after} format 2");
    assert!(started.elapsed() < Duration::from_secs(300), "took {:?}", started.elapsed());
}

/// Whether strace killed the command (strace re-raises the tracee's signal).
fn strace_killed(out: &Output) -> bool {
    out.status.signal() == Some(9) || out.status.code() == Some(128 + 9)
}

/// strace kills the migration at its exchange (`renameat2`) and at fsyncs
/// spread over the whole run (every one near the switch).
#[test]
fn strace_kills_at_the_exchange_and_at_fsyncs_leave_one_complete_ledger() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Count the fsyncs of one migration.
    let l = fixture_copy(&tmp.path().join("count"));
    let summary = tmp.path().join("summary.txt");
    let out = Command::new("strace")
        .args(["-f", "-c", "-e", "trace=fsync", "-o"])
        .arg(&summary)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_tinledger"))
        .arg("--ledger")
        .arg(&l)
        .arg("migrate")
        .output()
        .expect("strace is installed (apt-get install strace)");
    assert!(out.status.success(), "{}", text(&out));
    let table = std::fs::read_to_string(&summary).expect("summary");
    let fsyncs: u64 = table
        .lines()
        .find(|l| l.trim_end().ends_with(" fsync"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no fsync count in {table}"));
    assert!(fsyncs > 10, "{table}");
    let mut points: Vec<(String, u64)> = vec![("renameat2".into(), 1)];
    // Ten spread over the build, and the last eight (the switch and after).
    points.extend((1..=10).map(|k| ("fsync".to_string(), k * fsyncs / 11)));
    points.extend((fsyncs.saturating_sub(7)..=fsyncs).map(|n| ("fsync".to_string(), n)));
    let mut kills = 0;
    for (i, (syscall, at)) in points.iter().enumerate() {
        let l = fixture_copy(&tmp.path().join(format!("s{i}")));
        let out = Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e"])
            .arg(format!("trace={syscall}"))
            .arg("-e")
            .arg(format!("inject={syscall}:signal=KILL:when={at}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_tinledger"))
            .arg("--ledger")
            .arg(&l)
            .arg("migrate")
            .stdin(Stdio::null())
            .output()
            .expect("strace");
        let ctx = format!("killed at {syscall} #{at} of {fsyncs} fsyncs");
        assert!(strace_killed(&out) || out.status.success(), "{ctx}: {}", text(&out));
        kills += usize::from(strace_killed(&out));
        let switched = settle_after_kill(&l, &ctx);
        if syscall == "renameat2" {
            assert!(!switched, "{ctx}: a kill at the exchange leaves format 1");
        }
        std::fs::remove_dir_all(&l).expect("clean up");
    }
    assert!(kills >= points.len() - 1, "strace killed {kills} of {} runs", points.len());
}

/// A format-1 ledger whose data does not carry over is refused, naming the
/// problem, and left exactly as it was (still format 1, no `migrate.tmp/`).
#[test]
fn a_damaged_format1_ledger_is_refused_and_left_as_it_was() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // What is done to the copy's database, and what the refusal must say.
    type Damage = fn(&sled::Db);
    let damage: [(&str, Damage, &str); 3] = [
        (
            "a signature byte of entry 12 flipped",
            |db| {
                let t = db.open_tree("entries").expect("entries");
                let mut v = t.get(12u64.to_be_bytes()).expect("get").expect("entry 12").to_vec();
                let last = v.len() - 1;
                v[last] ^= 1;
                t.insert(12u64.to_be_bytes(), v).expect("insert");
            },
            "signature",
        ),
        (
            "the size-51 checkpoint stored under size 50",
            |db| {
                let t = db.open_tree("checkpoints").expect("checkpoints");
                let note = t.remove(51u64.to_be_bytes()).expect("remove").expect("checkpoint 51");
                t.insert(50u64.to_be_bytes(), note).expect("insert");
            },
            "the stored checkpoint for tree size 50 says tree size 51",
        ),
        (
            "entry 30 missing",
            |db| {
                db.open_tree("entries").expect("entries").remove(30u64.to_be_bytes()).expect("remove");
            },
            "entry 30 is missing",
        ),
    ];
    for (i, (what, f, says)) in damage.into_iter().enumerate() {
        let l = fixture_copy(&tmp.path().join(format!("d{i}")));
        crate::util::with_db(&l, f);
        let o = run(&l, &["migrate"]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{what}: {}", text(&o));
        assert!(err.contains(says), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(!l.join("migrate.tmp").exists() && !l.join("db.format1").exists(), "{what}: nothing left over");
        let v = run(&l, &["verify"]);
        assert!(String::from_utf8_lossy(&v.stderr).contains(OLD_FORMAT), "{what}: still format 1: {}", text(&v));
    }
    // A backup name already taken: refused before anything is built.
    let l = fixture_copy(&tmp.path().join("taken"));
    std::fs::create_dir(l.join("db.format1")).expect("mkdir");
    let o = run(&l, &["migrate"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot keep the old data as"), "{}", text(&o));
    assert!(!l.join("migrate.tmp").exists());
}
