//! Issue 11, times and corrections end to end: the refusals a clerk meets
//! (a receive dated before its dispatch, an event dated in 2031 or just
//! past the clock skew, a certificate whose timeline is reordered, a
//! correction by another actor or after the lot was used, a tampered
//! correction found by `verify`), and what a correction shows once it is in:
//! `lot` and `log` mark the corrected entry and the correction's old and
//! new values, `report balance` counts the corrected mass, a corrected
//! receive still meets the 10x gross tolerance, and the certificate page
//! lists the correction. Snapshots are in tests/snapshots/.

use crate::snapshots::{demo, mistake, mistake_env, on_demo, transcript};
use crate::util::*;
use serde_json::Value;

/// After the demo's last entry (2026-03-20).
const T0: &str = "2026-04-01T00:00:00Z";
const KOBA_LICENCE: &str = "IUP-OP 540/112/KOBA/2019";

fn key(label: &str) -> String {
    format!("demo/keys/{label}.pem")
}

/// `record KIND --key demo/keys/LABEL.pem --at AT REST…`.
fn rec(kind: &str, label: &str, at: &str, rest: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["record".into(), kind.into(), "--key".into(), key(label), "--at".into(), at.into()];
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

/// Run `tinledger --json ARGS` on the demo ledger; it must succeed. The receipt.
fn ok(env: &Env, args: &[String]) -> Value {
    let out = env.cmd().arg("--json").args(args).output().expect("run");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON receipt")
}

fn seq(v: &Value) -> String {
    v["seq"].as_u64().expect("seq").to_string()
}

/// MINE-KOBA extracts `lot` of `mass` (70 % Sn declared) at `at`; its seq.
fn extract(env: &Env, lot: &str, mass: &str, at: &str) -> String {
    let args = rec(
        "extract",
        "MINE-KOBA",
        at,
        &["--lot", lot, "--mass", mass, "--grade", "70%", "--licence", KOBA_LICENCE, "--location=-2.4905,106.4075"],
    );
    seq(&ok(env, &args))
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn receive_dated_before_its_dispatch_is_refused() {
    let env = demo();
    let mut dispatch = vec!["record", "dispatch", "--key", "demo/keys/COLLECTOR-PANGKALPINANG.pem", "--at", T0];
    dispatch.extend(COLLECTOR_DISPATCH);
    ok(&env, &dispatch.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let early =
        rec("receive", "SMELTER-MUNTOK-2", "2026-03-31T23:59:59Z", &["--lot", "BLY-2026-0001", "--mass", "776kg"]);
    mistake(&env, "receive_before_dispatch", &as_strs(&early), 1);
    // Positive control: dated at the dispatch's time, it is accepted.
    ok(&env, &rec("receive", "SMELTER-MUNTOK-2", T0, &["--lot", "BLY-2026-0001", "--mass", "776kg"]));
}

/// `record extract` of `lot` by MINE-KOBA at `at` (1.5 t, 61 % Sn).
fn koba(lot: &str, at: &str) -> Vec<String> {
    rec(
        "extract",
        "MINE-KOBA",
        at,
        &["--lot", lot, "--mass", "1.5t", "--grade", "61%", "--licence", KOBA_LICENCE, "--location=-2.4905,106.4075"],
    )
}

#[test]
fn extraction_dated_in_2031_is_refused() {
    let env = demo();
    let args = koba("KOB-2026-0901", "2031-01-01T00:00:00Z");
    // Against the real clock (the message names it, so no snapshot here).
    let mut c = env.cmd();
    c.args(&args);
    let err = fails_with(c, 1);
    assert!(
        err.contains("event dated 2031-01-01T00:00:00Z is more than 10 minutes after this machine's clock"),
        "{err}"
    );
    // With the clock injected, the whole message is fixed.
    mistake_env(&env, "extract_in_2031", &as_strs(&args), &[("TINLEDGER_TEST_NOW", T0)], 1);
}

#[test]
fn an_event_more_than_the_skew_ahead_of_the_clock_is_refused() {
    let env = demo();
    let past_skew = koba("KOB-2026-0902", "2026-04-01T00:10:01Z");
    mistake_env(&env, "past_the_clock_skew", &as_strs(&past_skew), &[("TINLEDGER_TEST_NOW", T0)], 1);
    // Positive control: exactly the skew ahead is accepted.
    let mut c = env.cmd();
    c.env("TINLEDGER_TEST_NOW", T0).args(koba("KOB-2026-0903", "2026-04-01T00:10:00Z"));
    c.assert().success();
    // A clock variable that is no time is refused before anything runs.
    let mut c = env.cmd();
    c.env("TINLEDGER_TEST_NOW", "tomorrow").arg("log");
    let err = fails_with(c, 2);
    assert!(err.starts_with("tinledger: TINLEDGER_TEST_NOW: time \"tomorrow\" is not RFC 3339"), "{err}");
}

#[test]
fn certificate_with_its_timeline_out_of_order_is_refused() {
    let env = demo();
    let text = std::fs::read_to_string(env.path("demo/certificate.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let tl = v["summary"]["timeline"].as_array_mut().unwrap();
    assert!(tl.len() > 4);
    tl.swap(2, 3);
    std::fs::write(env.path("reordered.cert.json"), serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let args: Vec<String> =
        ["cert", "verify", "reordered.cert.json", "--authority-key", "demo/keys/AUTH-BABEL.pub.pem"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let out = transcript(&env, &args);
    assert!(out.contains("\nexit: 1\n"), "{out}");
    assert!(out.contains("summary.timeline is out of order"), "{out}");
    insta::assert_snapshot!("cert_timeline_out_of_order", out);
    // Positive control: the file as issued verifies.
    let args: Vec<String> =
        ["cert", "verify", "demo/certificate.json", "--authority-key", "demo/keys/AUTH-BABEL.pub.pem"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert!(transcript(&env, &args).contains("\nexit: 0\n"));
}

#[test]
fn only_the_signer_may_correct() {
    let env = demo();
    let s = extract(&env, "KOB-2026-0904", "1250g", T0);
    let fix = |label: &str| {
        rec(
            "correct",
            label,
            "2026-04-01T01:00:00Z",
            &["--entry", &s, "--mass", "1250kg", "--reason", "keyed g for kg"],
        )
    };
    mistake(&env, "correction_by_another_actor", &as_strs(&fix("MINE-AIRGEGAS")), 1);
    // Positive control: the mine that signed the extract corrects it.
    ok(&env, &fix("MINE-KOBA"));
}

#[test]
fn a_correction_after_the_lot_was_used_is_refused_with_a_hint() {
    let env = demo();
    let s = extract(&env, "KOB-2026-0905", "1250g", T0);
    let fix = rec(
        "correct",
        "MINE-KOBA",
        "2026-04-01T02:00:00Z",
        &["--entry", &s, "--mass", "1250kg", "--reason", "keyed g"],
    );
    // Positive control on a copy: before the dispatch the correction is accepted.
    let copy = copy_ledger(&env, "copy");
    let out = env.bare().arg("--ledger").arg(&copy).args(&fix).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ok(
        &env,
        &rec(
            "dispatch",
            "MINE-KOBA",
            "2026-04-01T01:00:00Z",
            &["--lot", "KOB-2026-0905", "--to", "SMELTER-MUNTOK", "--document", "SJ/KOBA/2026/0905"],
        ),
    );
    mistake(&env, "correction_too_late", &as_strs(&fix), 1);
}

#[test]
fn a_tampered_correction_is_found_by_verify() {
    let env = demo();
    let s = extract(&env, "KOB-2026-0906", "1250g", T0);
    let c = ok(
        &env,
        &rec(
            "correct",
            "MINE-KOBA",
            "2026-04-01T01:00:00Z",
            &["--entry", &s, "--mass", "1250kg", "--reason", "keyed g"],
        ),
    );
    let cseq = c["seq"].as_u64().unwrap();
    assert_eq!(env.verify_json()["ok"], true, "positive control: the correction verifies");
    // Change the corrected mass in the stored entry: 1,250,000 g becomes 1,250,001 g.
    let ledger = env.ledger();
    with_db(&ledger, |db| {
        let mut bytes = crate::util::raw_entry(db, cseq).expect("the correction entry is stored");
        let want = 1_250_000u64.to_be_bytes();
        let at = bytes.windows(8).rposition(|w| w == want).expect("the corrected mass in the entry");
        bytes[at + 7] ^= 1;
        crate::util::put_raw_entry(db, cseq, &bytes);
    });
    let out = env.cmd().arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let fault = text.lines().find(|l| l.starts_with("FAULT")).unwrap_or_else(|| panic!("no FAULT line:\n{text}"));
    assert!(fault.starts_with(&format!("FAULT at seq {cseq}:")), "{text}");
    insta::assert_snapshot!("tampered_correction", fault);
}

/// The demo with KOB-2026-0907 extracted as 1.25 kg and corrected twice
/// (to 1,250 kg, then 1,248 kg): (extract seq, first correction, second).
fn twice_corrected(env: &Env) -> (String, String, String) {
    let s = extract(env, "KOB-2026-0907", "1250g", T0);
    let a = |at: &str, mass: &str, why: &str| {
        seq(&ok(env, &rec("correct", "MINE-KOBA", at, &["--entry", &s, "--mass", mass, "--reason", why])))
    };
    let c1 = a("2026-04-01T01:00:00Z", "1250kg", "keyed g for kg");
    let c2 = a("2026-04-01T02:00:00Z", "1248kg", "reweighed at the pit");
    (s, c1, c2)
}

#[test]
fn history_marks_the_corrected_entry_and_shows_old_and_new() {
    let env = demo();
    let (s, c1, c2) = twice_corrected(&env);
    let lot = transcript(&env, &on_demo(&["lot", "KOB-2026-0907"]));
    assert!(lot.contains(&format!("corrected by seq {c1}, {c2}")), "{lot}");
    assert!(
        lot.contains(&format!("corrected seq {s} (extract) on KOB-2026-0907: mass 1.250 kg -> 1,250.000 kg")),
        "{lot}"
    );
    assert!(lot.contains("mass 1,250.000 kg -> 1,248.000 kg (reweighed at the pit)"), "{lot}");
    assert!(lot.contains("mass       1,248.000 kg"), "the lot takes the latest value: {lot}");
    insta::assert_snapshot!("lot_with_corrections", lot);
    let log = transcript(&env, &on_demo(&["log", "--from", &s]));
    assert!(log.contains(&format!("corrected by seq {c1}, {c2}")), "{log}");
    insta::assert_snapshot!("log_with_corrections", log);
    // A log that shows only the correction still says what it changed.
    let only = transcript(&env, &on_demo(&["log", "--from", &c2]));
    assert!(only.contains("mass 1,250.000 kg -> 1,248.000 kg"), "{only}");

    for args in [vec!["--json", "lot", "KOB-2026-0907"], vec!["--json", "log", "--lot", "KOB-2026-0907"]] {
        let out = env.cmd().args(&args).output().unwrap();
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let items = v.get("history").or_else(|| v.get("entries")).and_then(Value::as_array).unwrap().clone();
        let by_seq = |n: &str| items.iter().find(|i| i["seq"] == n.parse::<u64>().unwrap()).cloned().unwrap();
        let (n1, n2): (u64, u64) = (c1.parse().unwrap(), c2.parse().unwrap());
        assert_eq!(by_seq(&s)["corrected_by"], serde_json::json!([n1, n2]), "{args:?}: {v}");
        let c = &by_seq(&c2)["correction"];
        assert_eq!(c["entry"].to_string(), s, "{c}");
        assert_eq!(c["mass_g"], serde_json::json!({"old": 1_250_000, "new": 1_248_000}), "{c}");
        assert_eq!(c["reason"], "reweighed at the pit");
        assert!(by_seq(&c1).get("corrected_by").is_none(), "a correction is not itself corrected");
    }
    // The in-memory replays take the second correction of the same entry too.
    env.cmd().args(["lot", "KOB-2026-0907", "--tree"]).assert().success();
    env.cmd().args(["report", "balance", "--actor", "MINE-KOBA"]).assert().success();
}

fn balance(env: &Env, actor: &str, extra: &[&str]) -> Value {
    let out = env.cmd().args(["--json", "report", "balance", "--actor", actor]).args(extra).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn int(v: &Value, k: &str) -> i128 {
    v[k].as_i64().map(i128::from).unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn balance_counts_corrected_masses() {
    let env = demo();
    let mut dispatch = vec!["record", "dispatch", "--key", "demo/keys/COLLECTOR-PANGKALPINANG.pem", "--at", T0];
    dispatch.extend(COLLECTOR_DISPATCH);
    ok(&env, &dispatch.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let before = balance(&env, "SMELTER-MUNTOK", &[]);
    // 776 kg dispatched, received as 757 kg (digits swapped), corrected to the 775 kg weighed.
    let r = seq(&ok(
        &env,
        &rec("receive", "SMELTER-MUNTOK-2", "2026-04-01T01:00:00Z", &["--lot", "BLY-2026-0001", "--mass", "757kg"]),
    ));
    let mid = balance(&env, "SMELTER-MUNTOK", &[]);
    assert_eq!(int(&mid, "received_g") - int(&before, "received_g"), 757_000, "{mid}");
    let diff = |b: &Value| {
        b["discrepancies"].as_array().unwrap().iter().find(|d| d["seq"] == r.parse::<u64>().unwrap()).cloned()
    };
    assert_eq!(diff(&mid).expect("differs")["flagged"], true, "{mid}");
    let fix = ["--entry", r.as_str(), "--mass", "775kg", "--reason", "digits swapped"];
    ok(&env, &rec("correct", "SMELTER-MUNTOK-2", "2026-04-02T00:00:00Z", &fix));
    let after = balance(&env, "SMELTER-MUNTOK", &[]);
    assert_eq!(int(&after, "received_g") - int(&before, "received_g"), 775_000, "{after}");
    assert_eq!(int(&after, "closing_g") - int(&before, "closing_g"), 775_000, "{after}");
    // The receive's difference from the dispatched mass is the corrected one.
    let d = diff(&after).expect("the receive still differs from the dispatch");
    assert_eq!((d["received_g"].as_u64(), d["flagged"].as_bool()), (Some(775_000), Some(false)), "{d}");
    // A period that ends before the correction was made still counts the
    // receive it covers at its corrected mass.
    let upto = balance(&env, "SMELTER-MUNTOK", &["--to", "2026-04-01T12:00:00Z"]);
    assert_eq!(int(&upto, "received_g"), int(&after, "received_g"), "{upto}");
    // A period that starts after the receive puts it in the opening stock.
    let later = balance(&env, "SMELTER-MUNTOK", &["--from", "2026-04-01T12:00:00Z"]);
    assert_eq!(int(&later, "opening_g"), int(&after, "closing_g"), "{later}");
    assert_eq!(int(&later, "received_g"), 0, "{later}");
}

#[test]
fn a_corrected_receive_meets_the_gross_tolerance() {
    let env = demo();
    let mut dispatch = vec!["record", "dispatch", "--key", "demo/keys/COLLECTOR-PANGKALPINANG.pem", "--at", T0];
    dispatch.extend(COLLECTOR_DISPATCH);
    ok(&env, &dispatch.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let r = seq(&ok(&env, &rec("receive", "SMELTER-MUNTOK-2", T0, &["--lot", "BLY-2026-0001", "--mass", "770kg"])));
    let fix = |mass: &str| {
        rec(
            "correct",
            "SMELTER-MUNTOK-2",
            "2026-04-01T01:00:00Z",
            &["--entry", &r, "--mass", mass, "--reason", "re-keyed"],
        )
    };
    // 776 kg were dispatched: 776 g (kg keyed as g) is a probable unit mistake.
    mistake(&env, "corrected_receive_gross_mistake", &as_strs(&fix("776g")), 1);
    let mut c = env.cmd();
    c.args(fix("7761kg"));
    let err = fails_with(c, 1);
    assert!(err.contains("is more than 10 times the dispatched 776.000 kg"), "{err}");
    // Positive control: a plausible correction is accepted.
    ok(&env, &fix("775kg"));
}

#[test]
fn the_certificate_page_lists_corrections() {
    let env = demo();
    let lot = "KOB-2026-0908";
    let ingot = "INGOT-MTK-2026-0908";
    let s = extract(&env, lot, "1250g", T0);
    let step = |kind: &str, label: &str, at: &str, rest: &[&str]| ok(&env, &rec(kind, label, at, rest));
    step(
        "correct",
        "MINE-KOBA",
        "2026-04-01T01:00:00Z",
        &["--entry", &s, "--mass", "1250kg", "--reason", "keyed g for kg"],
    );
    step(
        "dispatch",
        "MINE-KOBA",
        "2026-04-01T02:00:00Z",
        &["--lot", lot, "--to", "SMELTER-MUNTOK", "--document", "SJ/K/0908"],
    );
    step("receive", "SMELTER-MUNTOK-2", "2026-04-01T03:00:00Z", &["--lot", lot, "--mass", "1250kg"]);
    let input = format!("{lot}:1250kg");
    let output = format!("{ingot}:ingot:800kg:99.95%");
    step("smelt", "SMELTER-MUNTOK-2", "2026-04-02T00:00:00Z", &["--input", &input, "--output", &output]);
    let to_exporter = ["--lot", ingot, "--to", "EXPORTER-MUNTOK", "--document", "SJ/M/0908"];
    step("dispatch", "SMELTER-MUNTOK-2", "2026-04-02T01:00:00Z", &to_exporter);
    step("receive", "EXPORTER-MUNTOK", "2026-04-02T02:00:00Z", &["--lot", ingot, "--mass", "800kg"]);
    let export = [
        "--lot",
        ingot,
        "--destination",
        "SG",
        "--hs-code",
        "8001.10",
        "--permit",
        "ET/0908",
        "--surveyor-report",
        "LS/0908",
        "--consignee",
        "Straits Metal Trading Pte Ltd (fictional)",
    ];
    step("export", "EXPORTER-MUNTOK", "2026-04-03T00:00:00Z", &export);
    env.cmd().args(["checkpoint", "--key", "demo/keys/AUTH-BABEL.pem"]).assert().success();
    env.cmd()
        .args(["cert", "issue", "--lot", ingot, "--key", "demo/keys/EXPORTER-MUNTOK.pem", "--out", "c.json"])
        .assert()
        .success();
    env.bare()
        .args(["cert", "render", "c.json", "--html", "c.html", "--authority-key", "demo/keys/AUTH-BABEL.pub.pem"])
        .assert()
        .success();
    let html = std::fs::read_to_string(env.path("c.html")).unwrap();
    let start = html.find("Corrections").expect("a corrections section");
    let section = &html[html[..start].rfind("<section>").unwrap()..];
    let section = &section[..section.find("</section>").unwrap() + "</section>".len()];
    assert!(section.contains("mass 1.250 kg \u{2192} 1,250.000 kg"), "{section}");
    assert!(section.contains("keyed g for kg"), "{section}");
    insta::assert_snapshot!("page_corrections_section", section);
    // The extraction shows the corrected mass and notes what was recorded.
    assert!(html.contains("recorded as 1.250 kg"), "the extraction notes the original");
    assert!(html.contains("1,250.000 kg \u{00b7} 70.00% Sn"), "the extraction shows the corrected mass");
    // The timeline marks the corrected extract.
    assert!(
        html.contains(&format!("corrected at entry {}: mass 1.250 kg \u{2192} 1,250.000 kg", seq_after(&s))),
        "timeline"
    );
}

/// `s` + 1, as text.
fn seq_after(s: &str) -> u64 {
    s.parse::<u64>().unwrap() + 1
}
