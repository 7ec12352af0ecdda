//! Tampering with a copy of the demo ledger behind the binary's back (through
//! sled directly, or by flipping bytes in sled's files): `verify` must notice,
//! name the first bad entry, and never panic or crash.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tinledger_core::Entry;
use tinledger_ledger::Ledger;

/// Entry layout (canonical bincode, fixed-width big-endian): version u8,
/// seq u64, prev [u8; 32], event (u64 length ‖ bytes), signature [u8; 64].
const PREV_AT: usize = 9;
const EVENT_AT: usize = 49;

fn get_entry(db: &sled::Db, seq: u64) -> Vec<u8> {
    raw_entry(db, seq).expect("entry present")
}

fn put_entry(db: &sled::Db, seq: u64, bytes: &[u8]) {
    put_raw_entry(db, seq, bytes);
}

fn verify_cmd(env: &Env, ledger: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut c = env.bare();
    c.arg("--ledger").arg(ledger).arg("verify").args(extra);
    c.timeout(Duration::from_secs(120));
    c
}

/// `verify --json` (and, with `human`, plain `verify`) fails with exit 1
/// naming `seq`; returns the JSON report.
fn check_fault(env: &Env, ledger: &Path, extra: &[&str], seq: u64, case: &str, human: bool) -> Value {
    if human {
        let out = verify_cmd(env, ledger, extra).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: verify should fail\n{text}\n{err}");
        assert!(
            text.contains(&format!("FAULT at seq {seq}:")),
            "{case}: expected a fault at seq {seq}:\n{text}\n{err}"
        );
        assert!(!err.contains("panicked") && !err.contains("internal error"), "{case}: {err}");
    }
    let mut args = extra.to_vec();
    args.push("--json");
    let out = verify_cmd(env, ledger, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{case}: verify --json should fail");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{case}: not JSON ({e})"));
    assert_eq!(v["ok"], false, "{case}: {v}");
    assert_eq!(v["fault"]["seq"].as_u64(), Some(seq), "{case}: wrong fault seq: {v}");
    v
}

/// Both `verify` and `verify --json` fail naming `seq`.
fn assert_fault(env: &Env, ledger: &Path, extra: &[&str], seq: u64, case: &str) -> Value {
    check_fault(env, ledger, extra, seq, case, true)
}

#[test]
fn changed_byte_in_an_entry_is_found_at_its_seq() {
    let env = Env::new();
    env.demo();
    let (n, _) = env.state();
    assert_eq!(n, 49);
    let mut case_no = 0;
    for (k, seq) in [0u64, 12, 25, 35, 48].into_iter().enumerate() {
        let len = with_db(&env.ledger(), |db| get_entry(db, seq).len());
        let event_len = len - EVENT_AT - 64;
        let positions = [
            ("seq field", 8),
            ("prev hash, first byte", PREV_AT),
            ("prev hash, last byte", PREV_AT + 31),
            ("event bytes, first byte (ledger id)", EVENT_AT),
            ("event bytes, middle", EVENT_AT + event_len / 2),
            ("event bytes, last byte", EVENT_AT + event_len - 1),
            ("signature, first byte", len - 64),
            ("signature, last byte", len - 1),
        ];
        for (j, (what, pos)) in positions.into_iter().enumerate() {
            case_no += 1;
            // Plain `verify` for one position per seq (a different one each
            // time); `verify --json` for all.
            let human = j == (k * 3) % positions.len();
            let copy = copy_ledger(&env, &format!("t{case_no}"));
            with_db(&copy, |db| {
                let mut b = get_entry(db, seq);
                b[pos] ^= 0x01;
                put_entry(db, seq, &b);
            });
            let v = check_fault(&env, &copy, &[], seq, &format!("seq {seq}, {what} (byte {pos})"), human);
            assert_eq!(v["entries"].as_u64(), Some(seq), "entries before the fault all verify: {v}");
        }
    }
}

#[test]
fn deleted_and_swapped_entries_are_found() {
    let env = Env::new();
    env.demo();

    // A deleted entry in the middle.
    let copy = copy_ledger(&env, "deleted");
    with_db(&copy, |db| {
        assert!(remove_raw_entry(db, 20), "entry 20 existed");
    });
    let v = assert_fault(&env, &copy, &[], 20, "entry 20 deleted");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("entry 20 is missing"), "{v}");

    // Two entries swapped: the lower seq is named.
    let copy = copy_ledger(&env, "swapped");
    with_db(&copy, |db| {
        let a = get_entry(db, 30);
        let b = get_entry(db, 31);
        put_entry(db, 30, &b);
        put_entry(db, 31, &a);
    });
    let v = assert_fault(&env, &copy, &[], 30, "entries 30 and 31 swapped");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("swapped"), "{v}");

    // Two non-adjacent entries swapped.
    let copy = copy_ledger(&env, "swapped2");
    with_db(&copy, |db| {
        let a = get_entry(db, 13);
        let b = get_entry(db, 40);
        put_entry(db, 13, &b);
        put_entry(db, 40, &a);
    });
    assert_fault(&env, &copy, &[], 13, "entries 13 and 40 swapped");

    // An entry replaced by a correctly-numbered copy of another entry's
    // event (seq field and prev rewritten): the signature still verifies but
    // the hash link to the next entry breaks, or the rules refuse it.
    let copy = copy_ledger(&env, "replayed");
    with_db(&copy, |db| {
        let orig = Entry::from_bytes(&get_entry(db, 22)).unwrap();
        let mut forged = Entry::from_bytes(&get_entry(db, 21)).unwrap();
        forged.seq = 22;
        forged.prev = orig.prev;
        put_entry(db, 22, &forged.to_bytes());
    });
    assert_fault(&env, &copy, &[], 22, "entry 22 replaced by entry 21's event");
}

#[test]
fn truncated_tail() {
    let env = Env::new();
    env.demo();
    let (n, head) = env.state();
    assert_eq!(n, 49);
    let expect_orig = format!("48:{head}");

    // 1. The last 3 entries removed and nothing else: the recorded head
    //    still says 49 entries.
    let copy = copy_ledger(&env, "cut");
    with_db(&copy, |db| {
        for s in 46u64..49 {
            assert!(remove_raw_entry(db, s), "entry existed");
        }
    });
    let v = assert_fault(&env, &copy, &[], 46, "tail cut, head record untouched");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("49"), "{v}");
    assert_eq!(v["entries"], 46);

    // 2. The last 3 entries removed and the `meta` head rewritten to match
    //    the shortened chain (the other indices still describe 49 entries).
    let copy = copy_ledger(&env, "cut-head");
    let head45 = with_db(&copy, |db| {
        for s in 46u64..49 {
            assert!(remove_raw_entry(db, s), "entry existed");
        }
        let last = Entry::from_bytes(&get_entry(db, 45)).unwrap().hash();
        let mut rec = 46u64.to_be_bytes().to_vec();
        rec.extend_from_slice(&last.0);
        db.open_tree("meta").unwrap().insert("head", rec).unwrap();
        last.to_hex()
    });
    // A saved head from before the cut names the first missing entry.
    let v = assert_fault(&env, &copy, &["--expect-head", &expect_orig], 46, "tail cut, head rewritten, saved head");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("removed"), "{v}");
    // Even without it, the indices (actor states, event ids) still describe
    // the removed entries, which the audit notices.
    let out = verify_cmd(&env, &copy, &["--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "stale indices after a cut must fail: {v}");
    assert_eq!(v["entries"], 46, "{v}");
    assert_eq!(v["head"].as_str(), Some(head45.as_str()), "{v}");
    eprintln!("tail cut with only the head record rewritten: {}", v["fault"]);

    // 3. A consistent truncation: the first 46 entries rebuilt into a new
    //    ledger (every index matches). Plain verify passes; only a saved head
    //    reveals the cut, naming seq 46, the first missing entry.
    let rebuilt = env.path("rebuilt");
    {
        let orig = Ledger::open(&env.ledger()).unwrap();
        let evs: Vec<_> = (0..46).map(|s| orig.get(s).unwrap().unwrap().signed_event().unwrap()).collect();
        drop(orig);
        let (mut l, _) = Ledger::create(&rebuilt, &evs[0]).unwrap();
        for e in &evs[1..] {
            l.append(e).unwrap();
        }
    }
    let out = verify_cmd(&env, &rebuilt, &["--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["entries"], 46);
    assert_eq!(v["head"].as_str(), Some(head45.as_str()), "same entries, same hashes");
    verify_cmd(&env, &rebuilt, &[]).assert().success();
    let v = assert_fault(&env, &rebuilt, &["--expect-head", &expect_orig], 46, "consistent truncation, saved head");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("removed"), "{v}");
    // A saved head that is still in the chain passes, and one with the wrong
    // hash for an existing seq is named.
    verify_cmd(&env, &rebuilt, &["--expect-head", &format!("45:{head45}")]).assert().success();
    assert_fault(&env, &rebuilt, &["--expect-head", &format!("45:{head}")], 45, "saved head with another hash");
    // The original is untouched.
    assert_eq!(env.state(), (n, head));
}

/// xorshift64*: a tiny deterministic RNG.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn random_byte_flips_in_sled_files_never_crash_verify() {
    let env = Env::new();
    env.demo();
    let (n, head) = env.state();
    let mut rng = Rng(0x7a11_ed6e_5eed_0001);
    let mut codes = [0usize; 3];
    let mut silently_shorter = Vec::new();
    for i in 0..60 {
        let copy = copy_ledger(&env, &format!("flip{i}"));
        let mut files = Vec::new();
        files_under(&copy.join("db"), &mut files);
        files.sort();
        files.retain(|f| std::fs::metadata(f).unwrap().len() > 0);
        let file = &files[rng.below(files.len() as u64) as usize];
        let mut bytes = std::fs::read(file).unwrap();
        let flips = 1 + rng.below(8);
        let mut at = Vec::new();
        for _ in 0..flips {
            let pos = rng.below(bytes.len() as u64) as usize;
            let mask = (1 + rng.below(255)) as u8;
            bytes[pos] ^= mask;
            at.push(pos);
        }
        std::fs::write(file, &bytes).unwrap();
        let what = format!("copy {i}: {} flipped at {at:?}", file.strip_prefix(&copy).unwrap().display());

        let started = Instant::now();
        let out = verify_cmd(&env, &copy, &["--json"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        assert!(
            code.is_some(),
            "{what}: verify was killed by a signal ({:?}) after {:?}\n{stderr}",
            out.status,
            started.elapsed()
        );
        let code = code.unwrap();
        assert!((0..=2).contains(&code), "{what}: exit code {code}\n{stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(!stderr.contains("internal error"), "{what}: {stderr}");
        codes[code as usize] += 1;
        // A failure is never silent: a report on stdout or a message on stderr.
        if code != 0 {
            let report: Option<Value> = serde_json::from_slice(&out.stdout).ok();
            let reported = report.is_some_and(|v| v["ok"] == false);
            assert!(reported || stderr.starts_with("tinledger: "), "{what}: exit {code} without a report or message");
        }
        if code == 0 {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            if v["entries"].as_u64() != Some(n) || v["head"].as_str() != Some(head.as_str()) {
                silently_shorter.push(format!("{what}: verify passed with {v}"));
            }
        }
        // Human output never crashes either (every 10th copy, to keep the test fast).
        if i % 10 != 0 {
            std::fs::remove_dir_all(&copy).unwrap();
            continue;
        }
        let out = verify_cmd(&env, &copy, &[]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(0..=2)), "{what}: human verify: {:?}\n{stderr}", out.status);
        assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{what}: {stderr}");
        std::fs::remove_dir_all(&copy).unwrap();
    }
    eprintln!("random flips: exit 0 x{}, exit 1 x{}, exit 2 x{}", codes[0], codes[1], codes[2]);
    for s in &silently_shorter {
        eprintln!("note: {s}");
    }
}
