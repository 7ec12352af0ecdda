//! The streaming audit (`tinledger verify`): incremental audits from a
//! trusted checkpoint (`verify --snapshot CP`, `verify --since CP`), batched
//! signature checks that still name the lowest bad seq, damaged or
//! mismatched audit snapshots, `verify --indices`, and no progress bar when
//! stderr is not a terminal.

use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::event::{ActorAttrs, ActorRecord, EventBody, PublicKey};
use tinledger_core::note::NoteSigner;
use tinledger_core::testkeys::test_key;
use tinledger_core::units::{GeoPoint, Material, Role};
use tinledger_core::{ActorId, Entry, Event, LotId, SignedEvent};
use tinledger_ledger::Ledger;

// ---------------------------------------------------------------------------
// Helpers

/// Run `tinledger --ledger LEDGER verify ARGS...` in the test's directory.
fn verify_cmd(env: &Env, ledger: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = env.bare();
    c.arg("--ledger").arg(ledger).arg("verify").args(args);
    if args.iter().any(|a| *a == "--snapshot" || *a == "--since") && !args.contains(&"--auditor-key") {
        c.arg("--auditor-key").arg(auditor_key(env));
    }
    c.timeout(Duration::from_secs(300));
    c
}

/// `verify ARGS --json`: (exit code, report).
fn verify_json(env: &Env, ledger: &Path, args: &[&str]) -> (i32, Value) {
    let mut args = args.to_vec();
    args.push("--json");
    let out = verify_cmd(env, ledger, &args).output().expect("run verify");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify {args:?} --json printed no JSON ({e}): {stderr}"));
    (out.status.code().expect("exit code"), v)
}

/// `verify ARGS --json` must succeed; returns the report.
fn verify_ok(env: &Env, ledger: &Path, args: &[&str]) -> Value {
    let (code, v) = verify_json(env, ledger, args);
    assert_eq!(code, 0, "verify {args:?} should pass: {v}");
    assert_eq!(v["ok"], true, "{v}");
    v
}

/// `verify ARGS` (human and JSON) must fail with exit 1 naming `seq` (None:
/// no seq) and a reason containing `reason`; returns the JSON report.
fn verify_fault(env: &Env, ledger: &Path, args: &[&str], seq: Option<u64>, reason: &str) -> Value {
    let out = verify_cmd(env, ledger, args).output().expect("run verify");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "verify {args:?} should fail\n{text}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let at = seq.map_or("unknown seq".to_string(), |s| format!("seq {s}"));
    let first = text.lines().next().unwrap_or_default();
    assert!(first.starts_with(&format!("FAULT at {at}: ")), "verify {args:?}: expected a fault at {at}:\n{text}");
    assert!(first.contains(reason), "verify {args:?}: expected {reason:?} in {first:?}");

    let (code, v) = verify_json(env, ledger, args);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["fault"]["seq"].as_u64(), seq, "verify {args:?}: wrong fault seq: {v}");
    assert!(v["fault"]["reason"].as_str().unwrap_or_default().contains(reason), "{v}");
    v
}

/// The first line of stderr of a command that must exit with `code`.
fn error_line(cmd: assert_cmd::Command, code: i32) -> String {
    let err = fails_with(cmd, code);
    let first = err.lines().next().unwrap_or_default().to_string();
    assert!(first.starts_with("tinledger: "), "one clear error line expected: {err}");
    first
}

fn tree(db: &sled::Db, name: &str) -> sled::Tree {
    db.open_tree(name).expect("tree")
}

/// Flip one bit in the signature of entry `seq` (the last 64 bytes of the
/// entry, docs/formats.md §2.6), in the `R` half.
fn flip_signature(db: &sled::Db, seq: u64) {
    let mut b = raw_entry(db, seq).expect("entry present");
    let at = b.len() - 64 + 5;
    b[at] ^= 0x01;
    put_raw_entry(db, seq, &b);
}

/// Rewrite `prev` of every entry from `from` on so that the hash links hold
/// again after earlier entries were changed: only signatures stay wrong.
fn relink(db: &sled::Db, from: u64) {
    let mut prev = Entry::from_bytes(&raw_entry(db, from - 1).unwrap()).unwrap().hash();
    let mut seq = from;
    while let Some(v) = raw_entry(db, seq) {
        let mut e = Entry::from_bytes(&v).unwrap();
        e.prev = prev.0;
        prev = e.hash();
        put_raw_entry(db, seq, &e.to_bytes());
        seq += 1;
    }
}

/// Append `n` extractions by MINE-KOBA to the demo ledger through the binary.
fn extract_more(env: &Env, tag: &str, n: usize) {
    for i in 0..n {
        let lot = format!("KOB-{tag}-{i:03}");
        let at = format!("2026-06-{:02}T0{}:00:00Z", 1 + i % 28, i / 28);
        env.cmd().args(koba_extract(env, &lot, &at)).assert().success();
    }
}

/// `checkpoint [--key AUTH] --out FILE` on the demo ledger; returns FILE.
fn checkpoint(env: &Env, name: &str, sign: bool) -> PathBuf {
    let mut c = env.cmd();
    c.arg("checkpoint");
    if sign {
        c.arg("--key").arg(env.key("AUTH-BABEL"));
    }
    c.arg("--out").arg(env.path(name));
    c.assert().success();
    env.path(name)
}

// Ledgers built in code: a genesis by AUTH, MINE-A registered, then
// extractions by MINE-A.

const LEDGER_ID: [u8; 16] = *b"tinledger-audit!";
const IUP: &str = "IUP-OP AUDIT/01";

fn event(i: usize, signer: &str, body: EventBody) -> Event {
    test_event(LEDGER_ID, i as u64, signer, body)
}

/// The events of a ledger of `n` entries; extraction lots are named
/// `{tag}-{i}` from entry `tag_from` on (and `A-{i}` before), so two tags
/// give chains identical before `tag_from` and different from it on.
fn events(n: usize, tag: &str, tag_from: usize) -> Vec<SignedEvent> {
    let mut out = vec![
        event(
            0,
            "AUTH",
            EventBody::Genesis {
                ledger_name: "audit test".into(),
                authority: ActorId::new("AUTH").unwrap(),
                authority_name: "Audit test authority".into(),
                authority_key: PublicKey::from(&test_key("AUTH")),
            },
        )
        .sign(&test_key("AUTH"))
        .unwrap(),
        event(
            1,
            "AUTH",
            EventBody::RegisterActor {
                actor: ActorRecord {
                    id: ActorId::new("MINE-A").unwrap(),
                    name: "Mine A".into(),
                    roles: vec![Role::Mine],
                    key: PublicKey::from(&test_key("MINE-A")),
                    attrs: ActorAttrs { iup: Some(IUP.into()), ..Default::default() },
                },
            },
        )
        .sign(&test_key("AUTH"))
        .unwrap(),
    ];
    let mine = test_key("MINE-A");
    let location: GeoPoint = "-2.5,106.1".parse().unwrap();
    for i in 2..n {
        let t = if i >= tag_from { tag } else { "A" };
        let body = EventBody::Extract {
            lot: LotId::new(format!("{t}-{i:05}")).unwrap(),
            material: Material::Ore,
            mass_g: 100_000 + i as u64,
            grade_ppm: Some(600_000),
            licence: IUP.into(),
            location,
        };
        out.push(event(i, "MINE-A", body).sign(&mine).unwrap());
    }
    out
}

fn build(dir: &Path, evs: &[SignedEvent]) -> Ledger {
    let (mut l, _) = Ledger::create(dir, &evs[0]).expect("create");
    for chunk in evs[1..].chunks(500) {
        l.append_batch(chunk).expect("append");
    }
    assert_eq!(l.head().size, evs.len() as u64);
    l
}

/// A checkpoint note for the first `size` entries, signed by AUTH.
fn sign_checkpoint(l: &Ledger, size: u64) -> String {
    let origin = origin_for(&l.info().expect("genesis").ledger_id);
    let cp = Checkpoint { origin: origin.clone(), size, root: l.merkle_root(size).expect("root"), extensions: vec![] };
    cp.sign(&NoteSigner::new(&origin, test_key("AUTH")).expect("signer")).expect("sign")
}

fn state_of(cp: &Path) -> PathBuf {
    PathBuf::from(format!("{}.state", cp.display()))
}

/// Copy a checkpoint file and its snapshot to `to` (and `to`.state).
fn copy_cp(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    std::fs::copy(state_of(from), state_of(to)).unwrap();
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn incremental_audit_rolls_forward_from_a_trusted_checkpoint() {
    let env = Env::new();
    env.demo();
    let ledger = env.ledger();
    // The demo stored a checkpoint for its 49 entries; save it and snapshot it.
    let cp1 = checkpoint(&env, "cp1.txt", false);
    let v = verify_ok(&env, &ledger, &["--snapshot", "cp1.txt"]);
    assert_eq!(v["entries"], 49);
    assert_eq!(v["replayed_from"], 0);
    assert_eq!(v["snapshot"], "cp1.txt.state", "{v}");
    let state1 = std::fs::read(state_of(&cp1)).expect("cp1.txt.state written");
    assert!(state1.starts_with(b"tinledger-audit-snapshot-v3\n"));

    // Newer events and a newer checkpoint.
    extract_more(&env, "X", 5);
    let cp2 = checkpoint(&env, "cp2.txt", true);
    let full = verify_ok(&env, &ledger, &[]);
    assert_eq!(full["entries"], 54);

    // Incremental from cp1, snapshotting at cp2.
    let v = verify_ok(&env, &ledger, &["--since", "cp1.txt", "--snapshot", "cp2.txt"]);
    assert_eq!(v["replayed_from"], 49, "{v}");
    assert_eq!(v["entries"], 54, "{v}");
    assert_eq!(v["indices_checked"], false);
    assert_eq!(v["snapshot"], "cp2.txt.state");
    // It reaches the same conclusions as the full audit.
    for field in ["head", "ledger_id", "actors", "lots", "flags", "compromised"] {
        assert_eq!(v[field], full[field], "{field} differs between the incremental and the full audit");
    }
    // Its snapshot equals the one a full audit takes at cp2, byte for byte.
    let rolled = std::fs::read(state_of(&cp2)).unwrap();
    std::fs::copy(&cp2, env.path("cp2-full.txt")).unwrap();
    verify_ok(&env, &ledger, &["--snapshot", "cp2-full.txt"]);
    assert_eq!(rolled, std::fs::read(env.path("cp2-full.txt.state")).unwrap(), "snapshots differ");

    // From cp2 nothing is left to replay.
    let v = verify_ok(&env, &ledger, &["--since", "cp2.txt"]);
    assert_eq!((v["replayed_from"].as_u64(), v["entries"].as_u64()), (Some(54), Some(54)), "{v}");
    // Human output says what was vouched for.
    let out = verify_cmd(&env, &ledger, &["--since", "cp1.txt"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("intact: 54 entries"), "{text}");
    assert!(text.contains("incremental: entries 0..49 vouched for"), "{text}");
    assert!(text.contains("5 entries replayed"), "{text}");

    // Still more events: roll forward again from cp2.
    extract_more(&env, "Y", 2);
    let v = verify_ok(&env, &ledger, &["--since", "cp2.txt"]);
    assert_eq!((v["replayed_from"].as_u64(), v["entries"].as_u64()), (Some(54), Some(56)), "{v}");

    // --indices is for full audits only.
    let c = {
        let mut c = verify_cmd(&env, &ledger, &["--since", "cp1.txt", "--indices"]);
        c.arg("--json");
        c
    };
    fails_with(c, 2);
}

#[test]
fn since_detects_rewritten_and_removed_history() {
    let env = Env::new();
    const K: usize = 12; // first entry where ledger B differs from A
    let a_events = events(30, "A", K);
    let b_events = events(34, "B", K);
    assert_eq!(a_events[..K], b_events[..K]);
    assert_ne!(a_events[K], b_events[K]);

    let a = build(&env.path("a"), &a_events);
    let note = sign_checkpoint(&a, 20);
    drop(a);
    let cp = env.path("cp-a.txt");
    std::fs::write(&cp, &note).unwrap();
    // The auditor's full audit of A at its checkpoint of size 20.
    verify_ok(&env, &env.path("a"), &["--snapshot", "cp-a.txt"]);
    // A extends its own checkpoint.
    let v = verify_ok(&env, &env.path("a"), &["--since", "cp-a.txt"]);
    assert_eq!((v["replayed_from"].as_u64(), v["entries"].as_u64()), (Some(20), Some(30)));

    // Ledger B: same genesis and authority, entries from seq 12 on differ.
    drop(build(&env.path("b"), &b_events));
    copy_cp(&cp, &env.path("b-cp.txt"));
    let v = verify_fault(&env, &env.path("b"), &["--since", "b-cp.txt"], Some(19), "history was rewritten");
    assert_eq!(v["replayed_from"], 20, "{v}");
    // The full audit of B is fine on its own terms (it is a valid chain) but
    // refuses the checkpoint of A as the one to snapshot at.
    verify_ok(&env, &env.path("b"), &[]);
    verify_fault(&env, &env.path("b"), &["--snapshot", "b-cp.txt"], Some(19), "history was rewritten");

    // Ledger C: A cut back to 15 entries (below the checkpoint).
    drop(build(&env.path("c"), &a_events[..15]));
    verify_ok(&env, &env.path("c"), &[]);
    let v = verify_fault(&env, &env.path("c"), &["--since", "cp-a.txt"], Some(19), "history was removed");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("15 entries"), "{v}");

    // Ledger D: A's first 20 entries exactly, then B's: a valid extension of
    // the checkpoint.
    let mut d_events = a_events[..20].to_vec();
    d_events.extend(events(26, "D", 20).into_iter().skip(20));
    drop(build(&env.path("d"), &d_events));
    let v = verify_ok(&env, &env.path("d"), &["--since", "cp-a.txt"]);
    assert_eq!((v["replayed_from"].as_u64(), v["entries"].as_u64()), (Some(20), Some(26)));
}

#[test]
fn bad_signature_after_the_checkpoint_is_found_at_its_seq() {
    let env = Env::new();
    env.demo();
    checkpoint(&env, "cp1.txt", false);
    verify_ok(&env, &env.ledger(), &["--snapshot", "cp1.txt"]);
    extract_more(&env, "S", 5); // seqs 49..=53

    for seq in [49u64, 51, 53] {
        let copy = copy_ledger(&env, &format!("sig{seq}"));
        with_db(&copy, |db| flip_signature(db, seq));
        let reason = "signature does not verify with the current key of MINE-KOBA";
        let v = verify_fault(&env, &copy, &["--since", "cp1.txt"], Some(seq), reason);
        assert_eq!(v["entries"], seq, "entries before the bad one passed: {v}");
        assert_eq!(v["replayed_from"], 49);
        let v = verify_fault(&env, &copy, &[], Some(seq), reason);
        assert_eq!(v["entries"], seq, "{v}");
        assert_eq!(v["replayed_from"], 0);
    }
}

#[test]
fn lowest_bad_signature_is_named_across_batches() {
    const N: usize = 1_500;
    // Seqs 700 and 1200 must fall in different signature batches.
    const { assert!(tinledger_ledger::VERIFY_BATCH < 500) };
    let env = Env::new();
    let clean = env.path("clean");
    let l = build(&clean, &events(N, "A", N));
    let note = sign_checkpoint(&l, 600);
    drop(l);
    std::fs::write(env.path("cp600.txt"), note).unwrap();
    verify_ok(&env, &clean, &["--snapshot", "cp600.txt"]);

    // Each copy has the hash links repaired after the tampering, so that only
    // the signatures are wrong and the replay runs on past them.
    let tampered = |name: &str, seqs: &[u64]| -> PathBuf {
        let dir = env.path(name);
        copy_dir(&clean, &dir);
        with_db(&dir, |db| {
            for s in seqs {
                flip_signature(db, *s);
            }
            relink(db, seqs[0] + 1);
        });
        dir
    };
    let reason = "signature does not verify with the current key of MINE-A";

    let only_late = tampered("late", &[1_200]);
    let v = verify_fault(&env, &only_late, &[], Some(1_200), reason);
    assert_eq!(v["entries"], 1_200, "{v}");

    let both = tampered("both", &[700, 1_200]);
    let v = verify_fault(&env, &both, &[], Some(700), reason);
    assert_eq!(v["entries"], 700, "{v}");
    assert_eq!(v["head"].as_str().unwrap().len(), 64);
    let v = verify_fault(&env, &both, &["--since", "cp600.txt"], Some(700), reason);
    assert_eq!(v["entries"], 700, "{v}");
    assert_eq!(v["replayed_from"], 600, "{v}");
}

#[test]
fn damaged_or_mismatched_snapshots_are_refused_cleanly() {
    let env = Env::new();
    env.demo();
    let ledger = env.ledger();
    let cp1 = checkpoint(&env, "cp1.txt", false);
    verify_ok(&env, &ledger, &["--snapshot", "cp1.txt"]);
    extract_more(&env, "M", 2);
    let cp2 = checkpoint(&env, "cp2.txt", true);
    let good = std::fs::read(state_of(&cp1)).unwrap();

    let with_state = |name: &str, bytes: &[u8]| -> String {
        std::fs::copy(&cp1, env.path(name)).unwrap();
        std::fs::write(state_of(&env.path(name)), bytes).unwrap();
        name.to_string()
    };

    // No snapshot at all: a hint how to make one.
    std::fs::copy(&cp1, env.path("nostate.txt")).unwrap();
    let err = fails_with(verify_cmd(&env, &ledger, &["--since", "nostate.txt"]), 2);
    assert!(err.starts_with("tinledger: cannot read the audit snapshot nostate.txt.state"), "{err}");
    assert!(err.contains("hint: make one with a full audit: tinledger verify --snapshot nostate.txt"), "{err}");

    // Truncated to half, to a few bytes, and to nothing; one bit flipped.
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("half.txt", good[..good.len() / 2].to_vec(), "audit snapshot is damaged or forged"),
        ("short.txt", good[..40].to_vec(), "audit snapshot is truncated"),
        ("magic.txt", good[..10].to_vec(), "not a tinledger audit snapshot"),
        ("empty.txt", vec![], "not a tinledger audit snapshot"),
        (
            "flipped.txt",
            {
                let mut b = good.clone();
                let mid = b.len() / 2;
                b[mid] ^= 0x10;
                b
            },
            "audit snapshot is damaged or forged",
        ),
    ];
    for (name, bytes, want) in cases {
        let name = with_state(name, &bytes);
        let line = error_line(verify_cmd(&env, &ledger, &["--since", &name]), 2);
        assert!(line.contains(&format!("{name}.state")), "{name}: the message names the file: {line}");
        assert!(line.contains(want), "{name}: expected {want:?} in {line:?}");
        let line = error_line(verify_cmd(&env, &ledger, &["--since", &name, "--json"]), 2);
        assert!(line.contains(want), "{name} --json: {line}");
    }

    // Signed by the auditor, but a body that is not a snapshot.
    let auditor = auditor_signing_key(&env);
    let me = auditor.verifying_key().to_bytes();
    let name = with_state("garbage.txt", &signed_snapshot(&[0xff; 20], &auditor, &me));
    let line = error_line(verify_cmd(&env, &ledger, &["--since", &name]), 2);
    assert!(line.contains("audit snapshot is malformed"), "{line}");
    // No --auditor-key: refused before anything is read.
    let mut c = env.bare();
    c.arg("--ledger").arg(&ledger).args(["verify", "--since", "cp1.txt"]);
    let err = fails_with(c, 2);
    assert!(err.contains("--snapshot and --since need --auditor-key KEY"), "{err}");

    // The snapshot of cp1 beside cp2: it was not taken at that checkpoint.
    std::fs::copy(&cp2, env.path("swapped.txt")).unwrap();
    std::fs::copy(state_of(&cp1), env.path("swapped.txt.state")).unwrap();
    verify_fault(&env, &ledger, &["--since", "swapped.txt"], None, "was not taken at this checkpoint");
    // And the other way round.
    verify_ok(&env, &ledger, &["--snapshot", "cp2.txt"]);
    std::fs::copy(&cp1, env.path("swapped2.txt")).unwrap();
    std::fs::copy(state_of(&cp2), env.path("swapped2.txt.state")).unwrap();
    verify_fault(&env, &ledger, &["--since", "swapped2.txt"], None, "was not taken at this checkpoint");

    // A checkpoint whose text was changed no longer carries a valid signature.
    let text = std::fs::read_to_string(&cp1).unwrap();
    let forged = text.replacen("\n49\n", "\n50\n", 1);
    assert_ne!(forged, text);
    std::fs::write(env.path("forged.txt"), forged).unwrap();
    std::fs::copy(state_of(&cp1), env.path("forged.txt.state")).unwrap();
    verify_fault(&env, &ledger, &["--since", "forged.txt"], None, "not validly signed by this ledger's authority");

    // A checkpoint to snapshot at that does not parse.
    std::fs::write(env.path("junk.txt"), "not a checkpoint\n").unwrap();
    verify_fault(&env, &ledger, &["--snapshot", "junk.txt"], None, "the checkpoint to snapshot at is malformed");
    assert!(!env.path("junk.txt.state").exists(), "no snapshot is written for a failed audit");

    // None of this touched the ledger.
    verify_ok(&env, &ledger, &["--since", "cp2.txt"]);
}

#[test]
fn indices_flag_compares_every_derived_index() {
    let env = Env::new();
    env.demo();
    let v = verify_ok(&env, &env.ledger(), &["--indices"]);
    assert_eq!(v["indices_checked"], true);
    assert_eq!(verify_ok(&env, &env.ledger(), &[])["indices_checked"], false);

    // (tree, remove the first key? else change its value, expected words).
    // (Format 2 has no Merkle-node index: the hash tiles are checked by
    // every full audit, see tiles_are_checked_against_the_entries.)
    let cases: [(&str, bool, &str); 8] = [
        ("lot_state", true, "lot index is missing lots: it holds 10, the chain has 11"),
        ("lot_state", false, "lot index for AGG-2026-0001 disagrees with the chain: the stored state does not decode"),
        ("lot_entries", true, "lot history index disagrees with the chain: it holds 39 keys, the entries imply 40"),
        (
            "lot_entries",
            false,
            "lot history index disagrees with the chain: it holds as many keys as the entries imply (40)",
        ),
        ("actor_entries", true, "actor history index disagrees with the chain: it holds 16 keys, the entries imply 17"),
        ("actor_entries", false, "actor history index disagrees with the chain: it holds as many keys"),
        ("event_ids", true, "event index disagrees with the chain: it holds 48 keys, the entries imply 49"),
        ("event_ids", false, "event index disagrees with the chain: it holds as many keys as the entries imply (49)"),
    ];
    for (i, (name, remove, want)) in cases.into_iter().enumerate() {
        let copy = copy_ledger(&env, &format!("idx{i}"));
        with_db(&copy, |db| {
            let t = tree(db, name);
            let (k, v) = t.first().unwrap().expect("tree is not empty");
            if remove {
                t.remove(&k).unwrap();
            } else {
                let mut v = v.to_vec();
                match v.last_mut() {
                    Some(b) => *b ^= 0x01,
                    None => v.push(1), // history indices have empty values
                }
                t.insert(&k, v).unwrap();
            }
        });
        // The default audit checks the chain, the Merkle root at the head and
        // the actor and key indices only: this damage is outside them.
        let v = verify_ok(&env, &copy, &[]);
        assert_eq!(v["indices_checked"], false);
        let case = format!("{name} {}", if remove { "key removed" } else { "value changed" });
        let (code, v) = verify_json(&env, &copy, &["--indices"]);
        assert_eq!(code, 1, "{case}: {v}");
        let reason = v["fault"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(want), "{case}: expected {want:?} in {reason:?}");
        assert!(reason.contains("run `tinledger reindex`"), "{case}: {reason}");
        assert_eq!(v["entries"], 49, "{case}: the chain itself replayed: {v}");
        // An index fault names the index, not a (made-up) entry.
        assert_eq!(v["fault"]["index"], name, "{case}: {v}");
        assert!(v["fault"]["seq"].is_null(), "{case}: no seq for an index fault: {v}");
        if i < 2 {
            let out = verify_cmd(&env, &copy, &["--indices"]).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.starts_with(&format!("FAULT in index {name}: {want}")), "{text}");
            assert!(text.contains("tinledger reindex"), "{text}");
            assert!(text.contains("all 49 entries replayed; the fault is in the data derived from them"), "{text}");
        }
    }
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let env = Env::new();
    env.demo();
    checkpoint(&env, "cp1.txt", false);
    for args in [&[][..], &["--indices"], &["--snapshot", "cp1.txt"], &["--since", "cp1.txt"]] {
        let out = verify_cmd(&env, &env.ledger(), args).output().unwrap();
        assert!(out.status.success(), "verify {args:?}");
        assert!(out.stderr.is_empty(), "verify {args:?} wrote to stderr: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("intact: 49 entries"));
    }
}
