//! Provenance certificates end to end, and the tampered-certificate corpus
//! in fixtures/certificates/tampered (regenerate with
//! `TINLEDGER_BLESS=1 cargo test --test integration certs`, then review).

use crate::util::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use tinledger_core::cert::{dangerous_rebuild, dangerous_resign, Certificate};
use tinledger_core::note::NoteSigner;
use tinledger_core::testkeys::test_key;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/certificates")
}

type Tamper = Box<dyn Fn(&mut Value)>;

/// (file stem, what was changed, expected error code, expected message part, change)
fn cases(env: &Env) -> Vec<(&'static str, &'static str, &'static str, &'static str, Tamper)> {
    let resign = |v: &mut Value, label: &str| {
        let mut c: Certificate = serde_json::from_value(v.clone()).unwrap();
        dangerous_resign(&mut c, &test_key(label)).unwrap();
        *v = serde_json::to_value(c).unwrap();
    };
    let entry_pos =
        |v: &Value, seq: u64| v["entries"].as_array().unwrap().iter().position(|e| e["seq"] == seq).unwrap();
    // An entry the certificate does not need, with its genuine proof.
    let out = env
        .cmd()
        .args(["prove", "inclusion", "15", "--checkpoint"])
        .arg(env.path("demo/checkpoint.txt"))
        .output()
        .unwrap();
    let extra: Value = serde_json::from_slice(&out.stdout).unwrap();
    vec![
        (
            "01-summary-share",
            "summary: 1 percentage point of attribution moved from Koba to Air Gegas",
            "summary",
            "summary differs from what the entries imply: field \"origins\"",
            Box::new(|v: &mut Value| {
                let a = v["summary"]["origins"][0]["share_ppb"].as_u64().unwrap();
                let b = v["summary"]["origins"][1]["share_ppb"].as_u64().unwrap();
                v["summary"]["origins"][0]["share_ppb"] = json!(a + 10_000_000);
                v["summary"]["origins"][1]["share_ppb"] = json!(b - 10_000_000);
            }),
        ),
        (
            "02-summary-contained-tin",
            "summary: contained tin raised by 1 kg",
            "summary",
            "field \"contained_tin_g\"",
            Box::new(|v: &mut Value| {
                let t = v["summary"]["contained_tin_g"].as_u64().unwrap();
                v["summary"]["contained_tin_g"] = json!(t + 1000);
            }),
        ),
        (
            "03-summary-licence",
            "summary: a mine's IUP licence number replaced",
            "summary",
            "field \"origins\"",
            Box::new(|v: &mut Value| {
                v["summary"]["origins"][1]["licence"] = json!("IUP-OP 999/FAKE/2020");
            }),
        ),
        (
            "04-summary-location",
            "summary: a mine's GPS point moved",
            "summary",
            "field \"origins\"",
            Box::new(|v: &mut Value| {
                v["summary"]["origins"][0]["location"] = json!("-2.000000,106.000000");
            }),
        ),
        (
            "05-summary-destination",
            "summary: export destination changed from JP to SG",
            "summary",
            "field \"export\"",
            Box::new(|v: &mut Value| {
                v["summary"]["export"]["destination"] = json!("SG");
            }),
        ),
        (
            "06-summary-smelter-cid",
            "summary: the smelter's RMI CID replaced",
            "summary",
            "field \"smelters\"",
            Box::new(|v: &mut Value| {
                v["summary"]["smelters"][0]["rmi_cid"] = json!("CID000001");
            }),
        ),
        (
            "07-summary-timeline-dropped",
            "summary: the exporter's receive removed from the timeline",
            "summary",
            "field \"timeline\"",
            Box::new(|v: &mut Value| {
                let t = v["summary"]["timeline"].as_array_mut().unwrap();
                let i = t.iter().position(|x| x["seq"] == 41).unwrap();
                t.remove(i);
            }),
        ),
        (
            "08-entry-dropped-receive",
            "entries: the exporter's receive (seq 41) dropped",
            "rule",
            "entry 42 breaks a rule",
            Box::new(move |v: &mut Value| {
                let i = entry_pos(v, 41);
                v["entries"].as_array_mut().unwrap().remove(i);
            }),
        ),
        (
            "09-entry-dropped-assay",
            "entries: the Koba concentrate's assay (seq 33) dropped",
            "summary",
            "summary differs",
            Box::new(move |v: &mut Value| {
                let i = entry_pos(v, 33);
                v["entries"].as_array_mut().unwrap().remove(i);
            }),
        ),
        (
            "10-entry-bytes-changed",
            "entries: one byte of the extract's mass (seq 12) changed",
            "inclusion",
            "entry 12: inclusion proof fails",
            Box::new(move |v: &mut Value| {
                let i = entry_pos(v, 12);
                let h = v["entries"][i]["entry_hex"].as_str().unwrap().to_string();
                // The mass_g field of the extract: find 00124f80 (1,200,000 g) and make it 00134f80.
                let h2 = h.replacen("0000000000124f80", "0000000000134f80", 1);
                assert_ne!(h, h2);
                v["entries"][i]["entry_hex"] = json!(h2);
            }),
        ),
        (
            "11-proofs-swapped",
            "entries: the inclusion proofs of seq 12 and 13 swapped",
            "inclusion",
            "entry 12: inclusion proof fails",
            Box::new(move |v: &mut Value| {
                let (a, b) = (entry_pos(v, 12), entry_pos(v, 13));
                let pa = v["entries"][a]["proof"].clone();
                v["entries"][a]["proof"] = v["entries"][b]["proof"].clone();
                v["entries"][b]["proof"] = pa;
            }),
        ),
        (
            "12-proof-truncated",
            "entries: the last hash of the smelt's (seq 35) proof removed",
            "inclusion",
            "entry 35: inclusion proof fails",
            Box::new(move |v: &mut Value| {
                let i = entry_pos(v, 35);
                v["entries"][i]["proof"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "13-checkpoint-root",
            "checkpoint: root hash replaced, signature kept",
            "checkpoint",
            "checkpoint does not verify",
            Box::new(|v: &mut Value| {
                let cp = v["checkpoint"].as_str().unwrap().to_string();
                let root = cp.lines().nth(2).unwrap().to_string();
                v["checkpoint"] = json!(cp.replacen(&root, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1));
            }),
        ),
        (
            "14-checkpoint-foreign-key",
            "checkpoint: re-signed by a key that is not the authority's",
            "checkpoint",
            "checkpoint does not verify",
            Box::new(|v: &mut Value| {
                let cp = v["checkpoint"].as_str().unwrap().to_string();
                let body = &cp[..cp.find("\n\n").unwrap() + 1];
                let origin = body.lines().next().unwrap();
                let s = NoteSigner::new(origin, test_key("MALLORY")).unwrap();
                v["checkpoint"] = json!(s.sign(body).unwrap());
            }),
        ),
        (
            "15-signature-flipped",
            "signature: one hex digit of the exporter's signature changed",
            "cert-signature",
            "exporter's signature (EXPORTER-MUNTOK) does not verify",
            Box::new(|v: &mut Value| {
                let s = v["signature"].as_str().unwrap().to_string();
                let first = if s.starts_with('0') { "1" } else { "0" };
                v["signature"] = json!(format!("{first}{}", &s[1..]));
            }),
        ),
        (
            "16-exporter-never-held",
            "lot: certificate re-made for KOB-2026-0001, which the exporter never held (summary rebuilt, re-signed)",
            "exporter",
            "exporter EXPORTER-MUNTOK never held lot KOB-2026-0001",
            Box::new(|v: &mut Value| {
                v["lot"] = json!("KOB-2026-0001");
                let mut c: Certificate = serde_json::from_value(v.clone()).unwrap();
                dangerous_rebuild(&mut c, &test_key("EXPORTER-MUNTOK")).unwrap();
                *v = serde_json::to_value(c).unwrap();
            }),
        ),
        (
            "17-entry-dropped-resigned",
            "entries: the exporter's receive (seq 41) dropped and the certificate re-signed",
            "rule",
            "entry 42 breaks a rule",
            Box::new(move |v: &mut Value| {
                let i = entry_pos(v, 41);
                v["entries"].as_array_mut().unwrap().remove(i);
                resign(v, "EXPORTER-MUNTOK");
            }),
        ),
        (
            "18-ledger-id",
            "ledger_id: replaced by another ledger's id",
            "checkpoint",
            "the certificate is for ledger 00112233445566778899aabbccddeeff",
            Box::new(|v: &mut Value| {
                v["ledger_id"] = json!("00112233445566778899aabbccddeeff");
            }),
        ),
        (
            "19-entries-reordered",
            "entries: the second and third entries swapped",
            "order",
            "not in strictly ascending seq order",
            Box::new(|v: &mut Value| {
                v["entries"].as_array_mut().unwrap().swap(1, 2);
            }),
        ),
        (
            "20-genesis-dropped",
            "entries: the genesis entry (seq 0) dropped",
            "order",
            "must start with the ledger's genesis entry",
            Box::new(|v: &mut Value| {
                v["entries"].as_array_mut().unwrap().remove(0);
            }),
        ),
        (
            "21-format",
            "format: tag changed",
            "format",
            "format is \"tinledger-certificate-v0\"",
            Box::new(|v: &mut Value| {
                v["format"] = json!("tinledger-certificate-v0");
            }),
        ),
        (
            "22-exporter-impersonated",
            "exporter: the manufacturer claims to be the exporter and re-signs",
            "exporter",
            "MANUFACTURER-KEK is not a registered exporter",
            Box::new(move |v: &mut Value| {
                v["exporter"] = json!("MANUFACTURER-KEK");
                resign(v, "MANUFACTURER-KEK");
            }),
        ),
        (
            "23-entry-injected",
            "entries: an unrelated entry (seq 15, another mine's extract) with its genuine proof added",
            "rule",
            "entry 15 breaks a rule when the certificate is replayed: unknown actor MINE-BELINYU",
            Box::new(move |v: &mut Value| {
                let e = json!({"seq": 15, "entry_hex": extra["entry_hex"], "proof": extra["proof"]});
                let arr = v["entries"].as_array_mut().unwrap();
                let i = arr.iter().position(|x| x["seq"].as_u64().unwrap() > 15).unwrap();
                arr.insert(i, e);
            }),
        ),
        (
            "24-exporter-key-swapped",
            "signature: made with the manufacturer's key, exporter field unchanged",
            "cert-signature",
            "does not verify",
            Box::new(move |v: &mut Value| {
                resign(v, "MANUFACTURER-KEK");
            }),
        ),
        (
            "25-summary-seq-too-large",
            "summary: a timeline seq set to 2^53, beyond what JSON numbers carry exactly (no signature can cover it)",
            "format",
            "summary.timeline[].seq 9007199254740992 is larger than 2^53 - 1",
            Box::new(move |v: &mut Value| {
                v["summary"]["timeline"][0]["seq"] = json!(1u64 << 53);
            }),
        ),
        (
            "26-summary-mass-too-large",
            "summary: the lot's mass set to 10,000,000,001 g, one gram above the largest mass tinledger records (re-signed)",
            "format",
            "summary.lot.mass_g 10000000001 is more than 10000000000 g",
            Box::new(move |v: &mut Value| {
                v["summary"]["lot"]["mass_g"] = json!(10_000_000_001u64);
                resign(v, "EXPORTER-MUNTOK");
            }),
        ),
        (
            "27-summary-grade-out-of-range",
            "summary: the lot's grade set to 1,000,001 ppm, above pure tin (re-signed)",
            "format",
            "summary.lot.grade_ppm 1000001 is above 1,000,000 ppm",
            Box::new(move |v: &mut Value| {
                v["summary"]["lot"]["grade_ppm"] = json!(1_000_001);
                resign(v, "EXPORTER-MUNTOK");
            }),
        ),
        (
            "28-summary-state-unknown",
            "summary: the lot's state written \"Exported\" instead of \"exported\" (re-signed)",
            "format",
            "summary.lot.state \"Exported\" is not one of active, in_transit, consumed, exported",
            Box::new(move |v: &mut Value| {
                v["summary"]["lot"]["state"] = json!("Exported");
                resign(v, "EXPORTER-MUNTOK");
            }),
        ),
        (
            "29-checkpoint-origin-foreign",
            "checkpoint: origin replaced by a non-tinledger log name, re-signed by the authority's key under that name",
            "checkpoint",
            "checkpoint does not verify with the trusted key",
            Box::new(|v: &mut Value| {
                let cp = v["checkpoint"].as_str().unwrap().to_string();
                let body = &cp[..cp.find("\n\n").unwrap() + 1];
                let origin = body.lines().next().unwrap();
                let foreign = body.replacen(origin, "example.org/tin-log", 1);
                let s = NoteSigner::new("example.org/tin-log", test_key("AUTH-BABEL")).unwrap();
                v["checkpoint"] = json!(s.sign(&foreign).unwrap());
            }),
        ),
    ]
}

#[test]
fn demo_certificate_is_golden_and_verifies() {
    let env = Env::new();
    env.demo();
    let cert = std::fs::read_to_string(env.path("demo/certificate.json")).unwrap();
    let golden = dir().join("demo-solder-007.cert.json");
    if std::env::var_os("TINLEDGER_BLESS").is_some() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&golden, &cert).unwrap();
    } else {
        assert_eq!(cert, std::fs::read_to_string(&golden).unwrap(), "demo certificate changed");
    }
    let out = env
        .bare()
        .args(["cert", "verify"])
        .arg(env.path("demo/certificate.json"))
        .arg("--authority-key")
        .arg(env.path("demo/keys/AUTH-BABEL.pub.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("certificate OK"), "{text}");
    assert!(text.contains("MINE-AIRGEGAS") && text.contains("MINE-KOBA"), "{text}");
    // Another key (the exporter's own) is not trusted for checkpoints.
    let err = fails_with(
        {
            let mut c = env.bare();
            c.args(["cert", "verify"])
                .arg(env.path("demo/certificate.json"))
                .arg("--authority-key")
                .arg(env.key("EXPORTER-MUNTOK"));
            c
        },
        1,
    );
    assert!(err.contains("certificate INVALID: checkpoint does not verify"), "{err}");
}

#[test]
fn tampered_certificates_fail_for_the_stated_reason() {
    let env = Env::new();
    env.demo();
    let base: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("demo/certificate.json")).unwrap()).unwrap();
    let bless = std::env::var_os("TINLEDGER_BLESS").is_some();
    let tdir = dir().join("tampered");
    let all = cases(&env);
    assert!(all.len() >= 15);
    for (stem, what, code, needle, f) in &all {
        let path = tdir.join(format!("{stem}.json"));
        if bless {
            let mut v = base.clone();
            f(&mut v);
            std::fs::create_dir_all(&tdir).unwrap();
            let text = format!("# {what} | expect: {code}: {needle}\n{}\n", serde_json::to_string_pretty(&v).unwrap());
            std::fs::write(&path, text).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {}", path.display()));
        let (header, body) = text.split_once('\n').unwrap();
        assert!(header.contains(&format!("expect: {code}: {needle}")), "{stem}: header {header}");
        let file = env.path(&format!("{stem}.json"));
        std::fs::write(&file, body).unwrap();
        let mut c = env.bare();
        c.args(["cert", "verify", "--json"])
            .arg(&file)
            .arg("--authority-key")
            .arg(env.path("demo/keys/AUTH-BABEL.pub.pem"));
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{stem}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{stem}: no JSON"));
        assert_eq!(v["ok"], false, "{stem}");
        assert_eq!(v["error"]["code"], *code, "{stem}: {v}");
        assert!(v["error"]["reason"].as_str().unwrap().contains(needle), "{stem}: {v}");
    }
}

#[test]
fn issue_refusals() {
    let env = Env::new();
    env.demo();
    // The smelter holds INGOT-MTK-2026-0042-C but is not an exporter.
    let mut c = env.cmd();
    c.args(["cert", "issue", "--lot", "INGOT-MTK-2026-0042-C", "--key"])
        .arg(env.key("SMELTER-MUNTOK-2"))
        .arg("--out")
        .arg(env.path("x.json"));
    let err = fails_with(c, 1);
    assert!(err.contains("SMELTER-MUNTOK is not a registered exporter"), "{err}");
    // The exporter never held KOB-2026-0001.
    let mut c = env.cmd();
    c.args(["cert", "issue", "--lot", "KOB-2026-0001", "--key"])
        .arg(env.key("EXPORTER-MUNTOK"))
        .arg("--out")
        .arg(env.path("x.json"));
    let err = fails_with(c, 1);
    assert!(err.contains("never held lot KOB-2026-0001"), "{err}");
    // A lot with entries after the latest checkpoint needs a new checkpoint.
    env.cmd()
        .args([
            "record",
            "assay",
            "--lot",
            "INGOT-MTK-2026-0042-C",
            "--grade",
            "99.9%",
            "--method",
            "XRF",
            "--report",
            "R9",
            "--at",
            "2026-04-01T00:00:00Z",
            "--key",
        ])
        .arg(env.key("LAB-PANGKALPINANG"))
        .assert()
        .success();
    let mut c = env.cmd();
    c.args(["cert", "issue", "--lot", "INGOT-MTK-2026-0042-C", "--key"])
        .arg(env.key("EXPORTER-MUNTOK"))
        .arg("--out")
        .arg(env.path("x.json"));
    let err = fails_with(c, 2);
    assert!(err.contains("the latest signed checkpoint covers 49 entries"), "{err}");
    assert!(!env.path("x.json").exists());

    // An exporter that received a lot and sent it on no longer holds it.
    let rec = |key: &str, args: &[&str]| {
        let mut c = env.cmd();
        c.arg("record").args(args).arg("--key").arg(env.key(key)).args(["--at", "2026-04-02T00:00:00Z"]);
        c.assert().success();
    };
    let lot = "INGOT-MTK-2026-0042-C";
    rec("SMELTER-MUNTOK-2", &["dispatch", "--lot", lot, "--to", "EXPORTER-MUNTOK", "--document", "SJ-9"]);
    rec("EXPORTER-MUNTOK", &["receive", "--lot", lot, "--mass", "270kg"]);
    rec("EXPORTER-MUNTOK", &["dispatch", "--lot", lot, "--to", "MANUFACTURER-KEK", "--document", "SJ-10"]);
    env.cmd().args(["checkpoint", "--key"]).arg(env.key("AUTH-BABEL")).assert().success();
    let mut c = env.cmd();
    c.args(["cert", "issue", "--lot", lot, "--key"])
        .arg(env.key("EXPORTER-MUNTOK"))
        .arg("--out")
        .arg(env.path("x.json"));
    let err = fails_with(c, 1);
    assert!(err.contains("no longer holds lot INGOT-MTK-2026-0042-C: it is in transit to MANUFACTURER-KEK"), "{err}");
}

#[test]
fn checkpoint_and_proofs_round_trip() {
    let env = Env::new();
    env.demo();
    let pubkey = env.path("demo/keys/AUTH-BABEL.pub.pem");
    let run_ok = |args: &[&str]| {
        let out = env.cmd().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let vkey = run_ok(&["checkpoint", "--verifier-key"]).trim().to_string();
    assert!(vkey.starts_with("tinledger/b4a9c0d2e1f3a5b7c9d1e3f5a7b9c1d3+"), "{vkey}");
    run_ok(&["prove", "inclusion", "35", "--out", "p35.json"]);
    env.bare().args(["check", "inclusion", "p35.json", "--authority-key"]).arg(&pubkey).assert().success();
    env.bare().args(["check", "inclusion", "p35.json", "--verifier-key", &vkey]).assert().success();
    // Grow the ledger, sign a new checkpoint, prove consistency with the old one.
    env.cmd()
        .args([
            "record",
            "assay",
            "--lot",
            "KOB-2026-0001",
            "--grade",
            "70%",
            "--method",
            "XRF",
            "--report",
            "R2",
            "--at",
            "2026-04-01T00:00:00Z",
            "--key",
        ])
        .arg(env.key("LAB-PANGKALPINANG"))
        .assert()
        .success();
    env.cmd().args(["checkpoint", "--key"]).arg(env.key("AUTH-BABEL")).assert().success();
    let old = env.path("demo/checkpoint.txt");
    let mut c = env.cmd();
    c.args(["prove", "consistency", "--out", "cons.json", "--old"]).arg(&old);
    c.assert().success();
    let out = env
        .bare()
        .args(["check", "consistency", "cons.json", "--json", "--authority-key"])
        .arg(&pubkey)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["old_size"].as_u64(), v["new_size"].as_u64()), (Some(49), Some(50)));

    // A checkpoint the authority signed over a different history: the ledger
    // refuses to prove consistency with it, and a forged proof fails offline.
    let text = std::fs::read_to_string(&old).unwrap();
    let body = &text[..text.find("\n\n").unwrap() + 1];
    let origin = body.lines().next().unwrap();
    let forged_body = format!("{origin}\n49\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    let forged = NoteSigner::new(origin, test_key("AUTH-BABEL")).unwrap().sign(&forged_body).unwrap();
    std::fs::write(env.path("forged.txt"), &forged).unwrap();
    let mut c = env.cmd();
    c.args(["prove", "consistency", "--old"]).arg(env.path("forged.txt"));
    let err = fails_with(c, 1);
    assert!(err.contains("history was rewritten"), "{err}");
    let mut cons: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("cons.json")).unwrap()).unwrap();
    cons["old_checkpoint"] = serde_json::json!(forged);
    std::fs::write(env.path("cons2.json"), cons.to_string()).unwrap();
    let mut c = env.bare();
    c.args(["check", "consistency", "cons2.json", "--authority-key"]).arg(&pubkey);
    let err = fails_with(c, 1);
    assert!(err.contains("consistency proof from size 49 to 50 fails"), "{err}");
}

/// `check consistency` across an authority key rotation: the old checkpoint
/// was signed with the old key, the new one with the new key. Given both
/// keys (as authority keys or as verifier keys), each note opens with the
/// one that signed it; given only one of them, the other note is refused.
#[test]
fn consistency_across_an_authority_key_rotation() {
    let env = Env::new();
    env.demo();
    let old_pub = env.path("demo/keys/AUTH-BABEL.pub.pem");
    let old_vkey = {
        let out = env.cmd().args(["checkpoint", "--verifier-key"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    env.bare().args(["keygen", "--out", "auth-new.pem"]).assert().success();
    let new_key = env.path("auth-new.pem");
    env.cmd()
        .args(["actor", "rotate", "--id", "AUTH-BABEL", "--at", "2026-04-01T00:00:00Z", "--public-key"])
        .arg(&new_key)
        .arg("--key")
        .arg(env.key("AUTH-BABEL"))
        .assert()
        .success();
    // The old key may no longer sign checkpoints; the new one does.
    let mut c = env.cmd();
    c.args(["checkpoint", "--key"]).arg(env.key("AUTH-BABEL"));
    let err = fails_with(c, 1);
    assert!(err.contains("is not the ledger authority's current key"), "{err}");
    env.cmd().args(["checkpoint", "--key"]).arg(&new_key).assert().success();
    let new_vkey = {
        let out = env.cmd().args(["checkpoint", "--verifier-key"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_ne!(old_vkey, new_vkey);
    let mut c = env.cmd();
    c.args(["prove", "consistency", "--out", "cons.json", "--old"]).arg(env.path("demo/checkpoint.txt"));
    c.assert().success();

    let check = |trust: &[(&str, &std::ffi::OsStr)]| {
        let mut c = env.bare();
        c.args(["--json", "check", "consistency", "cons.json"]);
        for (opt, val) in trust {
            c.arg(opt).arg(val);
        }
        c
    };
    let (old_pub, new_key) = (old_pub.as_os_str(), new_key.as_os_str());
    let (old_v, new_v) = (std::ffi::OsStr::new(&old_vkey), std::ffi::OsStr::new(&new_vkey));
    for trust in [
        vec![("--authority-key", old_pub), ("--authority-key", new_key)],
        vec![("--authority-key", new_key), ("--authority-key", old_pub)],
        vec![("--verifier-key", old_v), ("--verifier-key", new_v)],
    ] {
        let out = check(&trust).output().unwrap();
        assert!(out.status.success(), "{trust:?}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((v["old_size"].as_u64(), v["new_size"].as_u64()), (Some(49), Some(50)), "{trust:?}");
    }
    let err = fails_with(check(&[("--authority-key", new_key)]), 1);
    assert!(err.contains("old checkpoint: "), "{err}");
    let err = fails_with(check(&[("--authority-key", old_pub)]), 1);
    assert!(err.contains("new checkpoint: "), "{err}");
    let err = fails_with(check(&[("--verifier-key", old_v)]), 1);
    assert!(err.contains("new checkpoint: "), "{err}");
}

/// `cert verify --json` prints the documented JSON object for every
/// failure: the code of the failing step (exit 1), or `usage` when the check
/// cannot start (exit 2); stderr stays empty.
#[test]
fn cert_verify_json_reports_every_failure() {
    let env = Env::new();
    env.demo();
    let auth = env.path("demo/keys/AUTH-BABEL.pub.pem");
    let cert = env.path("demo/certificate.json");
    let run = |file: &std::path::Path, key: &std::ffi::OsStr, code: i32| -> Value {
        let mut c = env.bare();
        c.args(["--json", "cert", "verify"]).arg(file).arg("--authority-key").arg(key);
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
        assert_eq!(v["ok"], false, "{v}");
        v
    };
    let v = run(&env.path("missing.json"), auth.as_os_str(), 2);
    assert_eq!(v["error"]["code"], "usage", "{v}");
    assert!(v["error"]["reason"].as_str().unwrap().contains("cannot read"), "{v}");
    let v = run(&cert, std::ffi::OsStr::new("not-a-key"), 2);
    assert_eq!(v["error"]["code"], "usage", "{v}");
    assert!(v["error"]["reason"].as_str().unwrap().contains("public key \"not-a-key\" is neither"), "{v}");
    std::fs::write(env.path("garbage.json"), "{\"format\": 1").unwrap();
    let v = run(&env.path("garbage.json"), auth.as_os_str(), 1);
    assert_eq!(v["error"]["code"], "format", "{v}");
    // Positive control: the genuine certificate and key.
    let mut c = env.bare();
    c.args(["--json", "cert", "verify"]).arg(&cert).arg("--authority-key").arg(&auth);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["ok"], true);
    // Without --json the foreign-origin case is one line on stderr.
    let body = std::fs::read_to_string(dir().join("tampered/29-checkpoint-origin-foreign.json")).unwrap();
    std::fs::write(env.path("foreign.json"), body.split_once('\n').unwrap().1).unwrap();
    let mut c = env.bare();
    c.args(["cert", "verify"]).arg(env.path("foreign.json")).arg("--authority-key").arg(&auth);
    let err = fails_with(c, 1);
    assert!(err.starts_with("tinledger: certificate INVALID: checkpoint does not verify with the trusted key: its origin \"example.org/tin-log\""), "{err}");
}
