//! Every custody rule, exercised through the binary on the demo ledger: the
//! violating event is refused with exit code 1 and a message naming the
//! problem, and the ledger is unchanged (same entry count and head, read by
//! `verify --json`). Each test also records valid events of the same shapes
//! (positive controls), so a refusal cannot be a broken command line.

use crate::util::*;
use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tinledger_core::event::PublicKey;
use tinledger_core::testkeys::test_key;

/// Event time used throughout: runs are deterministic.
const AT: &str = "2026-04-01T00:00:00Z";
const AUTH: &str = "AUTH-BABEL";
const KOBA_IUP: &str = "IUP-OP 540/112/KOBA/2019";
const BELINYU_IUP: &str = "IUP-OP 77/BLY/DPMPTSP/2022";
const JEBUS_IUP: &str = "IUP-OP 31/JBS/DPMPTSP/2020";

/// `record KIND --key keys/KEY.pem --at AT ARGS...`
fn record(env: &Env, kind: &str, key: &str, args: &[&str]) -> Command {
    let mut c = env.cmd();
    c.args(["record", kind, "--key"]).arg(env.key(key)).args(["--at", AT]).args(args);
    c
}

/// `actor SUB --key keys/KEY.pem --at AT ARGS...`
fn actor(env: &Env, sub: &str, key: &str, args: &[&str]) -> Command {
    let mut c = env.cmd();
    c.args(["actor", sub, "--key"]).arg(env.key(key)).args(["--at", AT]).args(args);
    c
}

/// `sign KIND --key keys/KEY.pem --as SIGNER --ledger-id ID --out OUT --at AT ARGS...`
fn sign(env: &Env, kind: &str, key: &str, signer: &str, ledger_id: &str, out: &str, args: &[&str]) -> PathBuf {
    let path = env.path(out);
    let mut c = env.bare();
    c.args(["sign", kind, "--key"])
        .arg(env.key(key))
        .args(["--as", signer, "--ledger-id", ledger_id, "--at", AT, "--out"])
        .arg(&path)
        .args(args);
    c.assert().success();
    path
}

fn submit(env: &Env, files: &[&Path]) -> Command {
    let mut c = env.cmd();
    c.arg("submit").args(files);
    c
}

/// The demo ledger's id, from its genesis entry.
fn ledger_id(env: &Env) -> String {
    let out = env.cmd().args(["show", "0", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["event"]["ledger_id"].as_str().unwrap().to_string()
}

/// A deterministic public key (hex) that no demo actor holds.
fn fresh_key(label: &str) -> String {
    PublicKey::from(&test_key(&format!("rules test {label}"))).to_hex()
}

/// A public key (hex) of one of the demo's key files.
fn demo_public_key(label: &str) -> String {
    PublicKey::from(&test_key(label)).to_hex()
}

/// Tracks the ledger state between cases.
struct Check<'a> {
    env: &'a Env,
    state: (u64, String),
}

impl<'a> Check<'a> {
    fn new(env: &'a Env) -> Self {
        let state = env.state();
        assert!(state.0 >= 49 && !state.1.is_empty(), "{state:?}");
        Check { env, state }
    }

    /// `cmd` is refused by the custody rules: exit 1, the documented
    /// `tinledger: refused: …` line naming the problem (every needle) and a
    /// hint ending `the ledger is unchanged`, and the ledger is exactly as before.
    fn refused(&self, case: &str, cmd: Command, needles: &[&str]) {
        let err = self.refused_before_rules(case, cmd, needles);
        assert!(err.starts_with("tinledger: refused: "), "case {case:?}: {err}");
        let hint = err.lines().last().unwrap_or_default();
        assert!(hint.starts_with("hint: ") && hint.ends_with("the ledger is unchanged"), "case {case:?}: {err}");
    }

    /// `cmd` is refused (exit 1) with one message line naming the problem
    /// (plus at most a hint line), and the ledger is exactly as before.
    fn refused_before_rules(&self, case: &str, cmd: Command, needles: &[&str]) -> String {
        let err = fails_with(cmd, 1);
        for n in needles {
            assert!(err.contains(n), "case {case:?}: stderr lacks {n:?}:\n{err}");
        }
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines.first().is_some_and(|l| l.starts_with("tinledger: ")), "case {case:?}: {err}");
        assert!(lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")), "case {case:?}: {err}");
        assert!(!err.contains("internal error"), "case {case:?}: {err}");
        assert_eq!(self.env.state(), self.state, "case {case:?}: the refused event changed the ledger");
        err
    }

    /// `cmd` succeeds and appends exactly one entry.
    fn accepted(&mut self, case: &str, mut cmd: Command) {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "positive control {case:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let st = self.env.state();
        assert_eq!(st.0, self.state.0 + 1, "positive control {case:?} appended a different number of entries");
        assert_ne!(st.1, self.state.1, "positive control {case:?}: head did not move");
        self.state = st;
    }
}

/// Read a signed-event file as JSON.
fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// Flip the lowest bit of hex digit `i` of a hex string.
fn flip_hex(s: &str, i: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    let d = u8::from_str_radix(std::str::from_utf8(&b[i..=i]).unwrap(), 16).unwrap() ^ 1;
    b[i] = format!("{d:x}").as_bytes()[0];
    String::from_utf8(b).unwrap()
}

#[test]
fn signature_ledger_and_signer_rules() {
    let env = Env::new();
    env.demo();
    let id = ledger_id(&env);
    let mut ck = Check::new(&env);
    let coll_dispatch = COLLECTOR_DISPATCH;

    // A correctly signed file, kept aside as the positive control.
    let good =
        sign(&env, "dispatch", "COLLECTOR-PANGKALPINANG", "COLLECTOR-PANGKALPINANG", &id, "good.json", &coll_dispatch);
    let good_json = read_json(&good);

    // Bad signature: one bit of signature_hex flipped.
    let mut v = good_json.clone();
    v["signature_hex"] = Value::String(flip_hex(v["signature_hex"].as_str().unwrap(), 5));
    let f = env.path("badsig.json");
    write_json(&f, &v);
    ck.refused(
        "edited signature_hex",
        submit(&env, &[&f]),
        &["refused", "signature does not verify with the current key of COLLECTOR-PANGKALPINANG"],
    );

    // Bad signature: the signed bytes edited (document SJ/PKP/2026/0400 -> 0401),
    // readable "event" dropped so only the signature can catch it.
    let mut v = good_json.clone();
    let ev_hex = v["event_hex"].as_str().unwrap().to_string();
    let from = hex::encode("SJ/PKP/2026/0400");
    let to = hex::encode("SJ/PKP/2026/0401");
    assert_eq!(ev_hex.matches(&from).count(), 1);
    v["event_hex"] = Value::String(ev_hex.replace(&from, &to));
    v.as_object_mut().unwrap().remove("event");
    let f = env.path("badevent.json");
    write_json(&f, &v);
    ck.refused(
        "edited event_hex",
        submit(&env, &[&f]),
        &["signature does not verify with the current key of COLLECTOR-PANGKALPINANG"],
    );
    // The same edit with the readable "event" left in: caught before the rules.
    let mut v2 = v.clone();
    v2["event"] = good_json["event"].clone();
    let f = env.path("badevent2.json");
    write_json(&f, &v2);
    ck.refused_before_rules(
        "edited event_hex, readable event kept",
        submit(&env, &[&f]),
        &["does not match the signed event_hex"],
    );

    // Signed with a key that is not the --as actor's.
    let f = sign(&env, "dispatch", "MINE-KOBA", "COLLECTOR-PANGKALPINANG", &id, "wrongkey.json", &coll_dispatch);
    ck.refused(
        "signed with another actor's key (submit)",
        submit(&env, &[&f]),
        &["signature does not verify with the current key of COLLECTOR-PANGKALPINANG"],
    );
    let mut args = vec!["--as", "COLLECTOR-PANGKALPINANG"];
    args.extend_from_slice(&coll_dispatch);
    ck.refused(
        "signed with another actor's key (record)",
        record(&env, "dispatch", "MINE-KOBA", &args),
        &[
            "signature does not verify with the current key of COLLECTOR-PANGKALPINANG",
            "MINE-KOBA.pem is the key of MINE-KOBA, not of COLLECTOR-PANGKALPINANG",
        ],
    );

    // Signed for another ledger.
    let other = "00112233445566778899aabbccddeeff";
    assert_ne!(other, id);
    let f = sign(
        &env,
        "dispatch",
        "COLLECTOR-PANGKALPINANG",
        "COLLECTOR-PANGKALPINANG",
        other,
        "otherledger.json",
        &coll_dispatch,
    );
    ck.refused(
        "wrong ledger id",
        submit(&env, &[&f]),
        &[&format!("event was signed for ledger {other}, this is ledger {id}")],
    );

    // A genesis event may not be appended to an existing ledger.
    let gen = tinledger_core::Event {
        ledger_id: id.parse().unwrap(),
        signer: AUTH.parse().unwrap(),
        at: AT.parse().unwrap(),
        note: None,
        body: tinledger_core::EventBody::Genesis {
            ledger_name: "second genesis".into(),
            authority: AUTH.parse().unwrap(),
            authority_name: "x".into(),
            authority_key: PublicKey::from(&test_key(AUTH)),
        },
    }
    .sign(&test_key(AUTH))
    .unwrap();
    let f = env.path("genesis.json");
    write_json(
        &f,
        &serde_json::json!({
            "format": "tinledger-signed-event-v1",
            "event_hex": hex::encode(gen.bytes()),
            "signature_hex": hex::encode(gen.signature()),
        }),
    );
    ck.refused("second genesis", submit(&env, &[&f]), &["a genesis event may only be the first entry"]);

    // A malformed event (a mine "extracting" ingot), validly signed by a
    // registered key: refused when the file is read, before the rules.
    let bad_ev = tinledger_core::Event {
        ledger_id: id.parse().unwrap(),
        signer: "MINE-KOBA".parse().unwrap(),
        at: AT.parse().unwrap(),
        note: None,
        body: tinledger_core::EventBody::Extract {
            lot: "KOB-2026-0777".parse().unwrap(),
            material: tinledger_core::units::Material::Ingot,
            mass_g: 1000,
            grade_ppm: Some(999_000),
            licence: KOBA_IUP.into(),
            location: "-2.49,106.41".parse().unwrap(),
        },
    };
    assert!(bad_ev.sign(&test_key("MINE-KOBA")).is_err(), "the CLI's signer refuses it");
    let bytes = tinledger_core::codec::encode(&bad_ev);
    let sig = ed25519_dalek::Signer::sign(&test_key("MINE-KOBA"), &tinledger_core::event::signing_message(&bytes));
    let f = env.path("malformed.json");
    write_json(
        &f,
        &serde_json::json!({
            "format": "tinledger-signed-event-v1",
            "event_hex": hex::encode(&bytes),
            "signature_hex": hex::encode(sig.to_bytes()),
        }),
    );
    ck.refused_before_rules(
        "malformed event",
        submit(&env, &[&f]),
        &["malformed event: a mine extracts ore or concentrate, not ingot"],
    );

    // Unknown actor: named with --as, and found by no key.
    let mut args = vec!["--as", "NOBODY-AT-ALL"];
    args.extend_from_slice(&coll_dispatch);
    ck.refused(
        "unknown actor",
        record(&env, "dispatch", "COLLECTOR-PANGKALPINANG", &args),
        &["unknown actor NOBODY-AT-ALL"],
    );
    env.bare().args(["keygen", "--out"]).arg(env.path("stranger.pem")).assert().success();
    let mut c = env.cmd();
    c.args(["record", "dispatch", "--key"]).arg(env.path("stranger.pem")).args(["--at", AT]).args(coll_dispatch);
    ck.refused_before_rules("key registered to nobody", c, &["is not registered to any actor"]);

    // Revoked actor (MINE-JEBUS, revoked at seq 48).
    ck.refused(
        "revoked actor",
        record(
            &env,
            "extract",
            "MINE-JEBUS",
            &[
                "--lot",
                "JBS-2026-0099",
                "--mass",
                "100kg",
                "--grade",
                "60%",
                "--licence",
                JEBUS_IUP,
                "--location=-1.67,105.44",
            ],
        ),
        &["actor MINE-JEBUS is revoked: its key may not sign"],
    );

    // Rotated-out key: SMELTER-MUNTOK.pem was replaced at seq 34.
    let smelter_dispatch =
        ["--lot", "INGOT-MTK-2026-0042-C", "--to", "EXPORTER-MUNTOK", "--document", "SJ/MTK/2026/0300"];
    ck.refused(
        "rotated-out key (record)",
        record(&env, "dispatch", "SMELTER-MUNTOK", &smelter_dispatch),
        &["signature does not verify with the current key of SMELTER-MUNTOK", "which was replaced at seq 34"],
    );
    let f = sign(&env, "dispatch", "SMELTER-MUNTOK", "SMELTER-MUNTOK", &id, "oldkey.json", &smelter_dispatch);
    ck.refused(
        "rotated-out key (submit)",
        submit(&env, &[&f]),
        &["signature does not verify with the current key of SMELTER-MUNTOK", "replaced at seq 34"],
    );

    // All or nothing: a good event followed by a bad one appends neither.
    let old = env.path("oldkey.json");
    ck.refused(
        "batch with a bad item",
        submit(&env, &[&good, &old]),
        &["item 2 (would be seq 50)", "signature does not verify with the current key of SMELTER-MUNTOK"],
    );
    // The event id covers the event bytes, not the signature: the same event
    // with another signature is a duplicate, even within one batch.
    let bad = env.path("badsig.json");
    ck.refused(
        "batch repeating an event",
        submit(&env, &[&good, &bad]),
        &["item 2 (would be seq 50): identical event already recorded at seq 49"],
    );

    // Positive controls: the same shapes, correctly signed.
    ck.accepted("signed dispatch file", submit(&env, &[&good]));
    ck.accepted(
        "dispatch with the smelter's current key",
        record(&env, "dispatch", "SMELTER-MUNTOK-2", &smelter_dispatch),
    );

    // Duplicate: the identical signed file, and the identical `record`.
    ck.refused("duplicate submit", submit(&env, &[&good]), &["identical event already recorded at seq 49"]);
    ck.refused(
        "duplicate record",
        record(&env, "dispatch", "SMELTER-MUNTOK-2", &smelter_dispatch),
        &["identical event already recorded at seq 50"],
    );

    // Suspended actor: suspend MINE-KOBA, it may not sign; reinstated, it may.
    ck.accepted("suspend", actor(&env, "suspend", AUTH, &["--id", "MINE-KOBA", "--reason", "licence audit"]));
    let koba_extract = [
        "--lot",
        "KOB-2026-0002",
        "--material",
        "concentrate",
        "--mass",
        "300kg",
        "--grade",
        "70%",
        "--licence",
        KOBA_IUP,
        "--location=-2.49,106.41",
    ];
    ck.refused(
        "suspended actor",
        record(&env, "extract", "MINE-KOBA", &koba_extract),
        &["actor MINE-KOBA is suspended: its key may not sign"],
    );
    ck.accepted("reinstate", actor(&env, "reinstate", AUTH, &["--id", "MINE-KOBA"]));
    ck.accepted("extract after reinstatement", record(&env, "extract", "MINE-KOBA", &koba_extract));

    env.cmd().arg("verify").assert().success();
}

#[test]
fn role_and_authority_rules() {
    let env = Env::new();
    env.demo();
    let mut ck = Check::new(&env);

    let extract = [
        "--lot",
        "PKP-2026-0001",
        "--mass",
        "100kg",
        "--grade",
        "60%",
        "--licence",
        KOBA_IUP,
        "--location=-2.49,106.41",
    ];
    ck.refused(
        "collector extracts",
        record(&env, "extract", "COLLECTOR-PANGKALPINANG", &extract),
        &["COLLECTOR-PANGKALPINANG may not record extract: needs role mine"],
    );
    let smelt = ["--input", "KOB-2026-0001:100kg", "--output", "INGOT-MTK-2026-0050:ingot:70kg:99.9%"];
    ck.refused(
        "mine smelts",
        record(&env, "smelt", "MINE-KOBA", &smelt),
        &["MINE-KOBA may not record smelt: needs role smelter"],
    );
    ck.refused(
        "manufacturer smelts",
        record(&env, "smelt", "MANUFACTURER-KEK", &smelt),
        &["MANUFACTURER-KEK may not record smelt: needs role smelter"],
    );
    ck.refused(
        "lab exports",
        record(
            &env,
            "export",
            "LAB-PANGKALPINANG",
            &[
                "--lot",
                "INGOT-MTK-2026-0042-C",
                "--destination",
                "SG",
                "--hs-code",
                "8001.10",
                "--permit",
                "PE-1",
                "--surveyor-report",
                "LS-1",
                "--consignee",
                "Buyer Pte Ltd",
            ],
        ),
        &["LAB-PANGKALPINANG may not record export: needs role exporter"],
    );
    ck.refused(
        "lab dispatches",
        record(&env, "dispatch", "LAB-PANGKALPINANG", &["--lot", "BLY-2026-0001", "--to", "SMELTER-MUNTOK", "--document", "D-1"]),
        &["LAB-PANGKALPINANG may not record dispatch: needs role mine or collector or smelter or manufacturer or exporter"],
    );
    let assay = ["--lot", "KOB-2026-0001", "--grade", "71%", "--method", "XRF", "--report", "LAB/2026/0999"];
    ck.refused(
        "smelter assays",
        record(&env, "assay", "SMELTER-MUNTOK-2", &assay),
        &["SMELTER-MUNTOK may not record assay: needs role lab"],
    );
    ck.refused(
        "smelter manufactures",
        record(
            &env,
            "manufacture",
            "SMELTER-MUNTOK-2",
            &["--input", "INGOT-MTK-2026-0042-C:10kg", "--output", "SOLDER-X:solder:10kg:60%"],
        ),
        &["SMELTER-MUNTOK may not record manufacture: needs role manufacturer"],
    );
    ck.refused(
        "mine receives",
        record(&env, "receive", "MINE-KOBA", &["--lot", "KOB-2026-0001", "--mass", "500kg"]),
        &["MINE-KOBA may not record receive: needs role collector or smelter or manufacturer or exporter"],
    );

    // Actor management: the authority only.
    let fresh = fresh_key("role-1");
    let not_auth = |kind: &str| format!("only the ledger authority (AUTH-BABEL) may record {kind}, not MINE-KOBA");
    ck.refused(
        "mine registers an actor",
        actor(
            &env,
            "register",
            "MINE-KOBA",
            &["--id", "MINE-NEW", "--name", "New mine", "--role", "mine", "--public-key", &fresh],
        ),
        &[&not_auth("register_actor")],
    );
    ck.refused(
        "mine suspends an actor",
        actor(&env, "suspend", "MINE-KOBA", &["--id", "MINE-AIRGEGAS", "--reason", "competitor"]),
        &[&not_auth("suspend_actor")],
    );
    ck.refused(
        "mine reinstates an actor",
        actor(&env, "reinstate", "MINE-KOBA", &["--id", "MINE-KOBA"]),
        &[&not_auth("reinstate_actor")],
    );
    ck.refused(
        "mine revokes an actor",
        actor(&env, "revoke", "MINE-KOBA", &["--id", "MINE-AIRGEGAS", "--reason", "competitor"]),
        &[&not_auth("revoke_actor")],
    );
    ck.refused(
        "mine rotates its own key",
        actor(&env, "rotate", "MINE-KOBA", &["--id", "MINE-KOBA", "--public-key", &fresh]),
        &[&not_auth("rotate_key")],
    );
    // The same through `record register-actor`.
    ck.refused(
        "smelter registers via record",
        record(
            &env,
            "register-actor",
            "SMELTER-MUNTOK-2",
            &["--id", "MINE-NEW", "--name", "New mine", "--role", "mine", "--public-key", &fresh],
        ),
        &["only the ledger authority (AUTH-BABEL) may record register_actor, not SMELTER-MUNTOK"],
    );

    // Positive controls: the right roles, the same shapes.
    ck.accepted(
        "mine extracts",
        record(
            &env,
            "extract",
            "MINE-KOBA",
            &[
                "--lot",
                "KOB-2026-0002",
                "--mass",
                "100kg",
                "--grade",
                "60%",
                "--licence",
                KOBA_IUP,
                "--location=-2.49,106.41",
            ],
        ),
    );
    ck.accepted("smelter smelts", record(&env, "smelt", "SMELTER-MUNTOK-2", &smelt));
    ck.accepted("lab assays", record(&env, "assay", "LAB-PANGKALPINANG", &assay));
    ck.accepted(
        "authority registers",
        actor(
            &env,
            "register",
            AUTH,
            &["--id", "MINE-NEW", "--name", "New mine", "--role", "mine", "--public-key", &fresh],
        ),
    );
    ck.accepted("authority suspends", actor(&env, "suspend", AUTH, &["--id", "MINE-AIRGEGAS", "--reason", "audit"]));
    env.cmd().arg("verify").assert().success();
}

#[test]
fn actor_registry_rules() {
    let env = Env::new();
    env.demo();
    let mut ck = Check::new(&env);
    let reg = |id: &str, key: &str| -> Command {
        actor(&env, "register", AUTH, &["--id", id, "--name", "Someone", "--role", "collector", "--public-key", key])
    };

    // Keys are bound once: a current key, a rotated-out key, the authority's key.
    let koba = demo_public_key("MINE-KOBA");
    ck.refused("register with a bound key", reg("COLLECTOR-NEW", &koba), &["is already registered to MINE-KOBA"]);
    let old_smelter = demo_public_key("SMELTER-MUNTOK");
    ck.refused(
        "register with a rotated-out key",
        reg("COLLECTOR-NEW", &old_smelter),
        &["is already registered to SMELTER-MUNTOK"],
    );
    // A PEM file holding the private key works as --public-key too.
    let auth_pem = env.key(AUTH).display().to_string();
    ck.refused(
        "register with the authority's key",
        reg("COLLECTOR-NEW", &auth_pem),
        &["is already registered to AUTH-BABEL"],
    );
    ck.refused(
        "rotate to a bound key",
        actor(&env, "rotate", AUTH, &["--id", "MINE-KOBA", "--public-key", &demo_public_key("MINE-AIRGEGAS")]),
        &["is already registered to MINE-AIRGEGAS"],
    );

    // Ids are registered once.
    ck.refused(
        "register an existing id",
        reg("MINE-KOBA", &fresh_key("reg-1")),
        &["actor MINE-KOBA is already registered"],
    );
    ck.refused(
        "register the authority's id",
        reg(AUTH, &fresh_key("reg-1")),
        &["actor AUTH-BABEL is already registered"],
    );

    // The authority cannot be suspended or revoked.
    ck.refused(
        "suspend the authority",
        actor(&env, "suspend", AUTH, &["--id", AUTH, "--reason", "x"]),
        &["the ledger authority AUTH-BABEL cannot be suspended or revoked"],
    );
    ck.refused(
        "revoke the authority",
        actor(&env, "revoke", AUTH, &["--id", AUTH, "--reason", "x"]),
        &["the ledger authority AUTH-BABEL cannot be suspended or revoked"],
    );

    // Status transitions.
    ck.refused(
        "suspend a revoked actor",
        actor(&env, "suspend", AUTH, &["--id", "MINE-JEBUS", "--reason", "x"]),
        &["MINE-JEBUS is revoked, not active"],
    );
    ck.refused(
        "revoke a revoked actor",
        actor(&env, "revoke", AUTH, &["--id", "MINE-JEBUS", "--reason", "x"]),
        &["MINE-JEBUS is already revoked"],
    );
    ck.refused(
        "reinstate an active actor",
        actor(&env, "reinstate", AUTH, &["--id", "MINE-KOBA"]),
        &["MINE-KOBA is active, not suspended"],
    );
    ck.refused(
        "rotate a revoked actor",
        actor(&env, "rotate", AUTH, &["--id", "MINE-JEBUS", "--public-key", &fresh_key("reg-2")]),
        &["MINE-JEBUS is revoked; register a new actor instead"],
    );
    ck.refused(
        "suspend an unknown actor",
        actor(&env, "suspend", AUTH, &["--id", "GHOST", "--reason", "x"]),
        &["unknown actor GHOST"],
    );
    ck.refused(
        "rotate an unknown actor",
        actor(&env, "rotate", AUTH, &["--id", "GHOST", "--public-key", &fresh_key("reg-2")]),
        &["unknown actor GHOST"],
    );
    // compromised-since must lie within the current key's epoch (34..=49).
    ck.refused(
        "compromised-since before the key took effect",
        actor(
            &env,
            "rotate",
            AUTH,
            &["--id", "SMELTER-MUNTOK", "--public-key", &fresh_key("reg-2"), "--compromised-since", "10"],
        ),
        &["compromised-since 10 must lie between seq 34"],
    );
    ck.refused(
        "compromised-since in the future",
        actor(&env, "revoke", AUTH, &["--id", "MINE-KOBA", "--reason", "x", "--compromised-since", "60"]),
        &["compromised-since 60 must lie between seq 2"],
    );

    // Positive controls.
    ck.accepted("register a new id with a fresh key", reg("COLLECTOR-NEW", &fresh_key("reg-1")));
    ck.accepted("suspend", actor(&env, "suspend", AUTH, &["--id", "COLLECTOR-NEW", "--reason", "x"]));
    ck.refused(
        "suspend twice",
        actor(&env, "suspend", AUTH, &["--id", "COLLECTOR-NEW", "--reason", "again"]),
        &["COLLECTOR-NEW is suspended, not active"],
    );
    ck.accepted("reinstate", actor(&env, "reinstate", AUTH, &["--id", "COLLECTOR-NEW"]));
    ck.accepted(
        "rotate with compromised-since in range",
        actor(
            &env,
            "rotate",
            AUTH,
            &["--id", "SMELTER-MUNTOK", "--public-key", &fresh_key("reg-2"), "--compromised-since", "40"],
        ),
    );
    ck.accepted("revoke", actor(&env, "revoke", AUTH, &["--id", "MINE-KOBA", "--reason", "x"]));
    env.cmd().arg("verify").assert().success();
}

#[test]
fn lot_identity_and_lifecycle_rules() {
    let env = Env::new();
    env.demo();
    let mut ck = Check::new(&env);
    let koba_extract = |lot: &str, licence: &str| {
        record(
            &env,
            "extract",
            "MINE-KOBA",
            &[
                "--lot",
                lot,
                "--material",
                "concentrate",
                "--mass",
                "300kg",
                "--grade",
                "70%",
                "--licence",
                licence,
                "--location=-2.49,106.41",
            ],
        )
    };

    // Licence.
    ck.refused(
        "extract under another mine's IUP",
        koba_extract("KOB-2026-0002", BELINYU_IUP),
        &["is not MINE-KOBA's registered IUP"],
    );
    ck.refused(
        "extract under a made-up IUP",
        koba_extract("KOB-2026-0002", "IUP-OP 1/FAKE/2026"),
        &["\"IUP-OP 1/FAKE/2026\" is not MINE-KOBA's registered IUP"],
    );

    // Lot ids are used once.
    ck.refused(
        "extract an existing lot id",
        koba_extract("KOB-2026-0001", KOBA_IUP),
        &["lot KOB-2026-0001 already exists"],
    );
    ck.refused(
        "extract a consumed lot's id",
        koba_extract("AGG-2026-0001", KOBA_IUP),
        &["lot AGG-2026-0001 already exists"],
    );
    ck.refused(
        "extract an exported lot's id",
        koba_extract("SOLDER-KEK-2026-007", KOBA_IUP),
        &["lot SOLDER-KEK-2026-007 already exists"],
    );
    ck.refused(
        "smelt output named like an existing lot",
        record(
            &env,
            "smelt",
            "SMELTER-MUNTOK-2",
            &["--input", "KOB-2026-0001:100kg", "--output", "INGOT-MTK-2026-0042-C:ingot:50kg:99.9%"],
        ),
        &["lot INGOT-MTK-2026-0042-C already exists"],
    );
    ck.refused(
        "split part named like an existing lot",
        record(
            &env,
            "split",
            "SMELTER-MUNTOK-2",
            &["--lot", "INGOT-MTK-2026-0042-C", "--part", "INGOT-MTK-2026-0042-A:10kg"],
        ),
        &["lot INGOT-MTK-2026-0042-A already exists"],
    );
    ck.refused(
        "merge output named like an existing lot",
        record(
            &env,
            "merge",
            "COLLECTOR-PANGKALPINANG",
            &["--input", "BLY-2026-0001", "--input", "JBS-2026-0001", "--output", "AGG-2026-0002"],
        ),
        &["lot AGG-2026-0002 already exists"],
    );

    // Unknown lots.
    ck.refused(
        "dispatch an unknown lot",
        record(
            &env,
            "dispatch",
            "COLLECTOR-PANGKALPINANG",
            &["--lot", "NO-SUCH-LOT", "--to", "SMELTER-MUNTOK", "--document", "D-1"],
        ),
        &["unknown lot NO-SUCH-LOT"],
    );
    ck.refused(
        "receive an unknown lot",
        record(&env, "receive", "SMELTER-MUNTOK-2", &["--lot", "NO-SUCH-LOT", "--mass", "1kg"]),
        &["unknown lot NO-SUCH-LOT"],
    );
    ck.refused(
        "smelt an unknown lot",
        record(
            &env,
            "smelt",
            "SMELTER-MUNTOK-2",
            &["--input", "NO-SUCH-LOT:1kg", "--output", "INGOT-NEW:ingot:1kg:50%"],
        ),
        &["unknown lot NO-SUCH-LOT"],
    );
    ck.refused(
        "assay an unknown lot",
        record(
            &env,
            "assay",
            "LAB-PANGKALPINANG",
            &["--lot", "NO-SUCH-LOT", "--grade", "50%", "--method", "XRF", "--report", "R-1"],
        ),
        &["unknown lot NO-SUCH-LOT"],
    );

    // Consumed lots.
    ck.refused(
        "dispatch a merged lot",
        record(
            &env,
            "dispatch",
            "COLLECTOR-PANGKALPINANG",
            &["--lot", "AGG-2026-0001", "--to", "SMELTER-MUNTOK", "--document", "D-1"],
        ),
        &["lot AGG-2026-0001 is fully consumed (seq 28)"],
    );
    ck.refused(
        "smelt a fully smelted lot",
        record(
            &env,
            "smelt",
            "SMELTER-MUNTOK-2",
            &["--input", "CONC-PKP-2026-001:1kg", "--output", "INGOT-NEW:ingot:0.5kg:99%"],
        ),
        &["lot CONC-PKP-2026-001 is fully consumed (seq 35)"],
    );
    ck.refused(
        "assay a consumed lot",
        record(
            &env,
            "assay",
            "LAB-PANGKALPINANG",
            &["--lot", "AGG-2026-0002", "--grade", "58%", "--method", "XRF", "--report", "R-1"],
        ),
        &["lot AGG-2026-0002 is fully consumed (seq 28)"],
    );
    ck.refused(
        "receive a consumed lot",
        record(&env, "receive", "SMELTER-MUNTOK-2", &["--lot", "CONC-PKP-2026-001", "--mass", "1kg"]),
        &["lot CONC-PKP-2026-001 is fully consumed (seq 35)"],
    );
    ck.refused(
        "split a lot split away",
        record(&env, "split", "SMELTER-MUNTOK-2", &["--lot", "INGOT-MTK-2026-0042", "--part", "P-1:1kg"]),
        &["lot INGOT-MTK-2026-0042 is fully consumed (seq 36)"],
    );

    // Exported lots.
    ck.refused(
        "dispatch an exported lot",
        record(
            &env,
            "dispatch",
            "EXPORTER-MUNTOK",
            &["--lot", "SOLDER-KEK-2026-007", "--to", "MANUFACTURER-KEK", "--document", "D-1"],
        ),
        &["lot SOLDER-KEK-2026-007 was exported (seq 42)"],
    );
    ck.refused(
        "export an exported lot again",
        record(
            &env,
            "export",
            "EXPORTER-MUNTOK",
            &[
                "--lot",
                "INGOT-MTK-2026-0042-B",
                "--destination",
                "SG",
                "--hs-code",
                "8001.10",
                "--permit",
                "PE-2",
                "--surveyor-report",
                "LS-2",
                "--consignee",
                "Buyer Pte Ltd",
            ],
        ),
        &["lot INGOT-MTK-2026-0042-B was exported (seq 45)"],
    );
    ck.refused(
        "assay an exported lot",
        record(
            &env,
            "assay",
            "LAB-PANGKALPINANG",
            &["--lot", "SOLDER-KEK-2026-007", "--grade", "96%", "--method", "XRF", "--report", "R-1"],
        ),
        &["lot SOLDER-KEK-2026-007 was exported (seq 42)"],
    );

    // Positive controls: the same shapes on live lots.
    ck.accepted("extract under the mine's own IUP", koba_extract("KOB-2026-0002", KOBA_IUP));
    ck.accepted(
        "assay a live lot",
        record(
            &env,
            "assay",
            "LAB-PANGKALPINANG",
            &["--lot", "JBS-2026-0001", "--grade", "59%", "--method", "XRF", "--report", "R-1"],
        ),
    );
    ck.accepted(
        "dispatch a live lot",
        record(
            &env,
            "dispatch",
            "COLLECTOR-PANGKALPINANG",
            &["--lot", "BLY-2026-0001", "--to", "SMELTER-MUNTOK", "--document", "D-1"],
        ),
    );
    env.cmd().arg("verify").assert().success();
}

#[test]
fn custody_and_transit_rules() {
    let env = Env::new();
    env.demo();
    let mut ck = Check::new(&env);

    // Custody.
    ck.refused(
        "smelter dispatches the collector's lot",
        record(
            &env,
            "dispatch",
            "SMELTER-MUNTOK-2",
            &["--lot", "BLY-2026-0001", "--to", "EXPORTER-MUNTOK", "--document", "D-1"],
        ),
        &["lot BLY-2026-0001 is in the custody of COLLECTOR-PANGKALPINANG, not SMELTER-MUNTOK"],
    );
    ck.refused(
        "collector splits the smelter's lot",
        record(&env, "split", "COLLECTOR-PANGKALPINANG", &["--lot", "INGOT-MTK-2026-0042-C", "--part", "P-1:10kg"]),
        &["lot INGOT-MTK-2026-0042-C is in the custody of SMELTER-MUNTOK, not COLLECTOR-PANGKALPINANG"],
    );
    ck.refused(
        "smelter smelts the collector's lot",
        record(
            &env,
            "smelt",
            "SMELTER-MUNTOK-2",
            &["--input", "JBS-2026-0001:10kg", "--output", "INGOT-NEW:ingot:5kg:99%"],
        ),
        &["lot JBS-2026-0001 is in the custody of COLLECTOR-PANGKALPINANG, not SMELTER-MUNTOK"],
    );
    ck.refused(
        "receive a lot at rest",
        record(&env, "receive", "SMELTER-MUNTOK-2", &["--lot", "INGOT-MTK-2026-0042-C", "--mass", "270kg"]),
        &["lot INGOT-MTK-2026-0042-C was not dispatched; nothing to receive"],
    );

    // Dispatch parties.
    let dispatch = |to: &str, transporter: Option<&str>| {
        let mut a = vec!["--lot", "BLY-2026-0001", "--to", to, "--document", "SJ/PKP/2026/0500"];
        if let Some(t) = transporter {
            a.extend(["--transporter", t]);
        }
        record(&env, "dispatch", "COLLECTOR-PANGKALPINANG", &a)
    };
    ck.refused("dispatch to a mine", dispatch("MINE-KOBA", None), &["receiver MINE-KOBA cannot take custody"]);
    ck.refused(
        "dispatch to a lab",
        dispatch("LAB-PANGKALPINANG", None),
        &["receiver LAB-PANGKALPINANG cannot take custody"],
    );
    ck.refused(
        "dispatch to a transporter",
        dispatch("TRANSPORTER-BABEL", None),
        &["receiver TRANSPORTER-BABEL cannot take custody"],
    );
    ck.refused("dispatch to an unknown actor", dispatch("GHOST", None), &["unknown actor GHOST"]);
    ck.refused(
        "dispatch to a revoked actor",
        dispatch("MINE-JEBUS", None),
        &["receiver MINE-JEBUS is revoked and cannot take custody"],
    );
    ck.refused(
        "dispatch to oneself",
        dispatch("COLLECTOR-PANGKALPINANG", None),
        &["cannot dispatch lot BLY-2026-0001 to itself"],
    );
    ck.refused(
        "transporter that is a lab",
        dispatch("SMELTER-MUNTOK", Some("LAB-PANGKALPINANG")),
        &["LAB-PANGKALPINANG is not a registered transporter"],
    );
    ck.refused(
        "transporter that is a smelter",
        dispatch("EXPORTER-MUNTOK", Some("SMELTER-MUNTOK")),
        &["SMELTER-MUNTOK is not a registered transporter"],
    );
    ck.refused(
        "unknown transporter",
        dispatch("SMELTER-MUNTOK", Some("GHOST-TRUCKS")),
        &["unknown actor GHOST-TRUCKS"],
    );

    // Positive controls for these shapes, then the transit rules.

    ck.accepted("dispatch by the custodian", dispatch("SMELTER-MUNTOK", Some("TRANSPORTER-BABEL")));

    ck.refused(
        "dispatch a lot in transit",
        dispatch("EXPORTER-MUNTOK", None),
        &["lot BLY-2026-0001 is in transit to SMELTER-MUNTOK; it must be received first"],
    );
    ck.refused(
        "merge a lot in transit",
        record(
            &env,
            "merge",
            "COLLECTOR-PANGKALPINANG",
            &["--input", "BLY-2026-0001", "--input", "JBS-2026-0001", "--output", "MIX-1"],
        ),
        &["lot BLY-2026-0001 is in transit to SMELTER-MUNTOK"],
    );
    ck.refused(
        "receive by someone other than the receiver",
        record(&env, "receive", "EXPORTER-MUNTOK", &["--lot", "BLY-2026-0001", "--mass", "776kg"]),
        &["lot BLY-2026-0001 was dispatched to SMELTER-MUNTOK, not to EXPORTER-MUNTOK"],
    );
    ck.refused(
        "receive by the sender",
        record(&env, "receive", "COLLECTOR-PANGKALPINANG", &["--lot", "BLY-2026-0001", "--mass", "776kg"]),
        &["lot BLY-2026-0001 was dispatched to SMELTER-MUNTOK, not to COLLECTOR-PANGKALPINANG"],
    );
    ck.refused(
        "smelt a lot in transit to the smelter (not yet received)",
        record(
            &env,
            "smelt",
            "SMELTER-MUNTOK-2",
            &["--input", "BLY-2026-0001:10kg", "--output", "INGOT-NEW:ingot:4kg:99%"],
        ),
        &["lot BLY-2026-0001 is in the custody of COLLECTOR-PANGKALPINANG, not SMELTER-MUNTOK"],
    );
    // The smelter sends its own concentrate away: it stays custodian while in transit.
    ck.accepted(
        "smelter dispatches concentrate",
        record(
            &env,
            "dispatch",
            "SMELTER-MUNTOK-2",
            &["--lot", "KOB-2026-0001", "--to", "COLLECTOR-PANGKALPINANG", "--document", "SJ/MTK/2026/0301"],
        ),
    );
    ck.refused(
        "smelt a lot in transit",
        record(
            &env,
            "smelt",
            "SMELTER-MUNTOK-2",
            &["--input", "KOB-2026-0001:100kg", "--output", "INGOT-NEW:ingot:70kg:99.9%"],
        ),
        &["lot KOB-2026-0001 is in transit to COLLECTOR-PANGKALPINANG; it must be received first"],
    );
    ck.refused(
        "dispatch a lot in transit again (by its custodian)",
        record(
            &env,
            "dispatch",
            "SMELTER-MUNTOK-2",
            &["--lot", "KOB-2026-0001", "--to", "EXPORTER-MUNTOK", "--document", "SJ/MTK/2026/0302"],
        ),
        &["lot KOB-2026-0001 is in transit to COLLECTOR-PANGKALPINANG; it must be received first"],
    );
    ck.accepted(
        "receive by the named receiver",
        record(&env, "receive", "SMELTER-MUNTOK-2", &["--lot", "BLY-2026-0001", "--mass", "776kg"]),
    );
    ck.refused(
        "receive twice",
        record(&env, "receive", "SMELTER-MUNTOK-2", &["--lot", "BLY-2026-0001", "--mass", "775kg"]),
        &["lot BLY-2026-0001 was not dispatched; nothing to receive"],
    );
    env.cmd().arg("verify").assert().success();
}

#[test]
fn mass_grade_and_material_rules() {
    let env = Env::new();
    env.demo();
    let mut ck = Check::new(&env);
    let smelt = |args: &[&str]| record(&env, "smelt", "SMELTER-MUNTOK-2", args);

    // Taking more than the lot holds (KOB-2026-0001: 500 kg; INGOT-...-C: 270 kg).
    ck.refused(
        "smelt input larger than the lot",
        smelt(&["--input", "KOB-2026-0001:501kg", "--output", "INGOT-MTK-2026-0050:ingot:100kg:99.9%"]),
        &["lot KOB-2026-0001 holds 500.000 kg but 501.000 kg was taken from it"],
    );
    ck.refused(
        "split parts larger than the lot",
        record(
            &env,
            "split",
            "SMELTER-MUNTOK-2",
            &["--lot", "INGOT-MTK-2026-0042-C", "--part", "INGOT-C-1:200kg", "--part", "INGOT-C-2:71kg"],
        ),
        &["lot INGOT-MTK-2026-0042-C holds 270.000 kg but 271.000 kg was taken from it"],
    );

    // Contained tin: 100 kg at 70.20 % is 70,200 g Sn; 71 kg of pure tin is
    // 1.14 % more (limit 1 %).
    ck.refused(
        "smelt creates tin",
        smelt(&["--input", "KOB-2026-0001:100kg", "--output", "INGOT-MTK-2026-0050:ingot:71kg:100%"]),
        &["contained tin would grow: smelt puts out 71000 g Sn from 70200 g Sn in (tolerance 1%)"],
    );
    // Smelt of refined tin.
    ck.refused(
        "smelt an ingot",
        smelt(&["--input", "INGOT-MTK-2026-0042-C:10kg", "--output", "INGOT-MTK-2026-0050:ingot:9kg:99.9%"]),
        &["a smelter smelts ore or concentrate; lot INGOT-MTK-2026-0042-C is ingot"],
    );
    // Merge of different materials.
    ck.refused(
        "merge concentrate with ingot",
        record(
            &env,
            "merge",
            "SMELTER-MUNTOK-2",
            &["--input", "KOB-2026-0001", "--input", "INGOT-MTK-2026-0042-C", "--output", "MIX-1"],
        ),
        &["cannot merge concentrate with ingot (lot INGOT-MTK-2026-0042-C)"],
    );

    // Grade unknown: a concentrate extracted without --grade, moved to the smelter.
    ck.accepted(
        "extract without grade",
        record(
            &env,
            "extract",
            "MINE-KOBA",
            &[
                "--lot",
                "KOB-2026-0099",
                "--material",
                "concentrate",
                "--mass",
                "300kg",
                "--licence",
                KOBA_IUP,
                "--location=-2.49,106.41",
            ],
        ),
    );
    ck.accepted(
        "dispatch to smelter",
        record(
            &env,
            "dispatch",
            "MINE-KOBA",
            &["--lot", "KOB-2026-0099", "--to", "SMELTER-MUNTOK", "--document", "SJ/KOB/2026/0099"],
        ),
    );
    ck.accepted(
        "smelter receives",
        record(&env, "receive", "SMELTER-MUNTOK-2", &["--lot", "KOB-2026-0099", "--mass", "300kg"]),
    );
    let ungraded = ["--input", "KOB-2026-0099:100kg", "--output", "INGOT-MTK-2026-0051:ingot:60kg:99.9%"];
    ck.refused(
        "smelt a lot of unknown grade",
        smelt(&ungraded),
        &["grade of lot KOB-2026-0099 is unknown: declare it or assay the lot before it is smelted"],
    );
    ck.accepted(
        "lab assays it",
        record(
            &env,
            "assay",
            "LAB-PANGKALPINANG",
            &["--lot", "KOB-2026-0099", "--grade", "65%", "--method", "XRF", "--report", "LAB/2026/0400"],
        ),
    );
    ck.accepted("smelt after the assay", smelt(&ungraded));

    // Positive controls: within the limits.
    ck.accepted(
        "smelt within 1% tin tolerance",
        smelt(&["--input", "KOB-2026-0001:100kg", "--output", "INGOT-MTK-2026-0050:ingot:70.9kg:99.9%"]),
    );
    ck.refused(
        "smelt more than is left",
        smelt(&["--input", "KOB-2026-0001:400.001kg", "--output", "INGOT-MTK-2026-0052:ingot:1kg:99.9%"]),
        &["lot KOB-2026-0001 holds 400.000 kg but 400.001 kg was taken from it"],
    );
    ck.accepted(
        "smelt exactly what is left",
        smelt(&["--input", "KOB-2026-0001:400kg", "--output", "INGOT-MTK-2026-0052:ingot:280kg:99.9%"]),
    );
    ck.refused(
        "smelt the emptied lot",
        smelt(&["--input", "KOB-2026-0001:1kg", "--output", "INGOT-MTK-2026-0053:ingot:0.5kg:99.9%"]),
        &["is fully consumed"],
    );
    ck.accepted(
        "split exactly the lot",
        record(
            &env,
            "split",
            "SMELTER-MUNTOK-2",
            &["--lot", "INGOT-MTK-2026-0042-C", "--part", "INGOT-C-1:200kg", "--part", "INGOT-C-2:70kg"],
        ),
    );
    ck.accepted(
        "merge lots of one material",
        record(
            &env,
            "merge",
            "COLLECTOR-PANGKALPINANG",
            &["--input", "BLY-2026-0001", "--input", "JBS-2026-0001", "--output", "MIX-PKP-2026-002"],
        ),
    );

    // Manufacture: refined tin in, no tin created. Move an ingot part (200 kg
    // at 99.90 %) and the rest of the assayed concentrate to the manufacturer.
    for (lot, doc) in [("INGOT-C-1", "SJ/MTK/2026/0401"), ("KOB-2026-0099", "SJ/MTK/2026/0402")] {
        ck.accepted(
            "dispatch to the manufacturer",
            record(
                &env,
                "dispatch",
                "SMELTER-MUNTOK-2",
                &["--lot", lot, "--to", "MANUFACTURER-KEK", "--document", doc],
            ),
        );
    }
    ck.accepted("receive", record(&env, "receive", "MANUFACTURER-KEK", &["--lot", "INGOT-C-1", "--mass", "200kg"]));
    ck.accepted("receive", record(&env, "receive", "MANUFACTURER-KEK", &["--lot", "KOB-2026-0099", "--mass", "200kg"]));
    let manufacture = |args: &[&str]| record(&env, "manufacture", "MANUFACTURER-KEK", args);
    ck.refused(
        "manufacture from concentrate",
        manufacture(&["--input", "KOB-2026-0099:100kg", "--output", "SOLDER-KEK-2026-010:solder:60kg:60%"]),
        &["a manufacturer uses refined tin; lot KOB-2026-0099 is concentrate (smelt it first)"],
    );
    // 100 kg at 99.90 % is 99,900 g Sn; 110 kg of solder at 96.5 % is 106,150 g.
    ck.refused(
        "manufacture creates tin",
        manufacture(&["--input", "INGOT-C-1:100kg", "--output", "SOLDER-KEK-2026-010:solder:110kg:96.5%"]),
        &["contained tin would grow: manufacture puts out 106150 g Sn from 99900 g Sn in (tolerance 1%)"],
    );
    ck.refused(
        "manufacture takes more than the lot holds",
        manufacture(&["--input", "INGOT-C-1:200.5kg", "--output", "SOLDER-KEK-2026-010:solder:100kg:96.5%"]),
        &["lot INGOT-C-1 holds 200.000 kg but 200.500 kg was taken from it"],
    );
    ck.accepted(
        "manufacture within the limits",
        manufacture(&["--input", "INGOT-C-1:100kg", "--output", "SOLDER-KEK-2026-010:solder:103kg:96.5%"]),
    );
    env.cmd().arg("verify").assert().success();
}

/// Indonesia prohibits exporting unprocessed tin ore and concentrate: an
/// exporter holding ore may not export it, but may export refined tin.
#[test]
fn raw_ore_may_not_be_exported() {
    let env = Env::new();
    env.demo();
    let mut ck = Check::new(&env);
    ck.accepted(
        "mine dispatches its remaining ore lot to the exporter",
        record(
            &env,
            "extract",
            "MINE-KOBA",
            &[
                "--lot",
                "KOB-2026-0099",
                "--mass",
                "500kg",
                "--grade",
                "70%",
                "--licence",
                "IUP-OP 540/112/KOBA/2019",
                "--location=-2.49,106.41",
            ],
        ),
    );
    ck.accepted(
        "dispatch to exporter",
        record(
            &env,
            "dispatch",
            "MINE-KOBA",
            &["--lot", "KOB-2026-0099", "--to", "EXPORTER-MUNTOK", "--document", "SJ-X"],
        ),
    );
    ck.accepted(
        "exporter receives",
        record(&env, "receive", "EXPORTER-MUNTOK", &["--lot", "KOB-2026-0099", "--mass", "500kg"]),
    );
    let export = [
        "--lot",
        "KOB-2026-0099",
        "--destination",
        "CN",
        "--hs-code",
        "2609.00",
        "--permit",
        "P-1",
        "--surveyor-report",
        "LS-1",
        "--consignee",
        "Buyer",
    ];
    ck.refused(
        "export of ore",
        record(&env, "export", "EXPORTER-MUNTOK", &export),
        &["lot KOB-2026-0099 is ore: tin ore and concentrate may not be exported"],
    );

    // Concentrate relabelled as a low-grade "ingot" is not exportable either.
    ck.accepted(
        "smelter turns the rest of the Koba concentrate into a 70% 'ingot'",
        record(
            &env,
            "smelt",
            "SMELTER-MUNTOK-2",
            &["--input", "KOB-2026-0001:500kg", "--output", "INGOT-LOW-1:ingot:300kg:70%"],
        ),
    );
    ck.accepted(
        "dispatch to exporter",
        record(
            &env,
            "dispatch",
            "SMELTER-MUNTOK-2",
            &["--lot", "INGOT-LOW-1", "--to", "EXPORTER-MUNTOK", "--document", "SJ-Y"],
        ),
    );
    ck.accepted(
        "exporter receives",
        record(&env, "receive", "EXPORTER-MUNTOK", &["--lot", "INGOT-LOW-1", "--mass", "300kg"]),
    );
    let mut low = export;
    low[1] = "INGOT-LOW-1";
    low[5] = "8001.20";
    ck.refused(
        "export of a 70% ingot",
        record(&env, "export", "EXPORTER-MUNTOK", &low),
        &["ingot lot INGOT-LOW-1 is 70.00% Sn: tin ingots may only be exported at 99.90% Sn or more"],
    );
}

/// Masses are bounded at 10,000 t (docs/model.md §5) so that every number a
/// certificate derives from them fits a JSON integer: at the bound accepted,
/// one gram more refused, by `record` and by `import`, and a merge that would
/// exceed it is refused by the rules; a signed `+` is refused. A split that
/// takes too much reports the real sum of its parts.
#[test]
fn masses_are_bounded_and_unsigned() {
    let env = Env::new();
    env.demo();
    let mut ck = Check::new(&env);
    let extract = |lot: &str, mass: &str| {
        record(
            &env,
            "extract",
            "MINE-KOBA",
            &["--lot", lot, "--mass", mass, "--grade", "70%", "--licence", KOBA_IUP, "--location=-2.49,106.41"],
        )
    };
    let bad_value = |ck: &Check, case: &str, cmd: Command, needle: &str| {
        let err = fails_with(cmd, 2);
        assert!(err.contains(needle), "case {case:?}: {err}");
        assert_eq!(err.lines().count(), 1, "case {case:?}: {err}");
        assert_eq!(env.state(), ck.state, "case {case:?}: the ledger changed");
    };
    bad_value(
        &ck,
        "one gram above the bound",
        extract("KOB-BIG-X", "10000000001g"),
        "mass \"10000000001g\" is more than 10,000,000.000 kg, the largest mass tinledger records",
    );
    bad_value(
        &ck,
        "far above the bound",
        extract("KOB-BIG-X", "18446744073709551616g"),
        "is more than 10,000,000.000 kg",
    );
    bad_value(&ck, "a signed mass", extract("KOB-BIG-X", "+5kg"), "mass \"+5kg\" has a sign");
    ck.accepted("exactly the bound", extract("KOB-BIG-A", "10000t"));
    ck.accepted("below the bound", extract("KOB-BIG-B", "6000t"));
    ck.accepted("another", extract("KOB-BIG-C", "1kg"));
    for lot in ["KOB-BIG-A", "KOB-BIG-B", "KOB-BIG-C"] {
        ck.accepted(
            "dispatch to the collector",
            record(
                &env,
                "dispatch",
                "MINE-KOBA",
                &["--lot", lot, "--to", "COLLECTOR-PANGKALPINANG", "--document", lot],
            ),
        );
    }
    bad_value(
        &ck,
        "receive above the bound",
        record(&env, "receive", "COLLECTOR-PANGKALPINANG", &["--lot", "KOB-BIG-A", "--mass", "10000.000001t"]),
        "is more than 10,000,000.000 kg",
    );
    for (lot, mass) in [("KOB-BIG-A", "10000t"), ("KOB-BIG-B", "6000t"), ("KOB-BIG-C", "1kg")] {
        ck.accepted("receive", record(&env, "receive", "COLLECTOR-PANGKALPINANG", &["--lot", lot, "--mass", mass]));
    }
    let merge = |a: &str, b: &str, out: &str| {
        record(&env, "merge", "COLLECTOR-PANGKALPINANG", &["--input", a, "--input", b, "--output", out])
    };
    ck.refused(
        "merge above the bound",
        merge("KOB-BIG-A", "KOB-BIG-C", "MIX-BIG-1"),
        &["merged lot MIX-BIG-1: mass 10,000,001.000 kg is more than 10,000,000.000 kg, the largest mass tinledger records"],
    );
    ck.refused(
        "split taking more than the lot",
        record(
            &env,
            "split",
            "COLLECTOR-PANGKALPINANG",
            &["--lot", "KOB-BIG-A", "--part", "KOB-BIG-A1:10000t", "--part", "KOB-BIG-A2:10000t"],
        ),
        &["lot KOB-BIG-A holds 10,000,000.000 kg but 20,000,000.000 kg was taken from it"],
    );
    ck.accepted("merge below the bound", merge("KOB-BIG-B", "KOB-BIG-C", "MIX-BIG-2"));

    // Bulk files: the same bound, the same messages, nothing appended.
    let csv = |rows: &str| {
        let p = env.path("extract.csv");
        std::fs::write(&p, format!("lot,mass,grade,licence,location\n{rows}")).unwrap();
        let mut c = env.cmd();
        c.arg("import").arg(&p).arg("--key").arg(env.key("MINE-KOBA")).args(["--at", AT]);
        c
    };
    let row = |lot: &str, mass: &str| format!("{lot},{mass},70%,{KOBA_IUP},\"-2.49,106.41\"\n");
    let err = fails_with(csv(&(row("KOB-BULK-1", "10000t") + &row("KOB-BULK-2", "10000000001g"))), 2);
    assert!(
        err.contains("line 3, column mass: mass \"10000000001g\" is more than 10,000,000.000 kg, the largest mass"),
        "{err}"
    );
    assert_eq!(env.state(), ck.state, "a bad bulk row changed the ledger");
    let err = fails_with(csv(&row("KOB-BULK-1", "+5kg")), 2);
    assert!(err.contains("line 2, column mass: mass \"+5kg\" has a sign"), "{err}");
    assert_eq!(env.state(), ck.state, "a bad bulk row changed the ledger");
    let out = csv(&row("KOB-BULK-1", "10000t")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.state().0, ck.state.0 + 1);
    env.cmd().arg("verify").assert().success();
}
