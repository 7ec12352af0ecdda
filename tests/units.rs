//! Issue 11, units: a clerk cannot write a wrong mass or grade by accident.
//! Bare numbers are refused on the command line and in bulk files (unless
//! a column name gives the unit), locale number forms and spreadsheet times
//! get a message saying what to write, CSV line numbers are right for LF,
//! CRLF and multi-line cells, and a receive beyond 10x (or under a tenth)
//! of the dispatched mass is refused as a probable unit mistake. Each test
//! failed before the change (a bare `2000` was 2,000 g, `1998,5kg` and
//! `01/03/2026` got generic messages, CRLF lines were one too low, a 1000x
//! receive was only flagged).

use crate::util::*;
use serde_json::Value;
use std::path::Path;

const DEMO_LEDGER_ID: &str = "b4a9c0d2e1f3a5b7c9d1e3f5a7b9c1d3";
const AT: &str = "2026-04-01T00:00:00Z";

/// `record KIND --key KEY --at AT ARGS` on the demo ledger.
fn record(env: &Env, kind: &str, key: &str, args: &[&str]) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.args(["record", kind, "--key"]).arg(env.key(key)).args(["--at", AT]).args(args);
    c
}

/// `record` that must fail with `code`, one error line containing `needle`,
/// and leave the ledger as it was.
fn refused(env: &Env, kind: &str, key: &str, args: &[&str], code: i32, needle: &str) {
    let before = env.state();
    let err = fails_with(record(env, kind, key, args), code);
    assert!(err.contains(needle), "{kind} {args:?}: {err}");
    assert!(err.lines().next().is_some_and(|l| l.starts_with("tinledger: ")), "{err}");
    assert_eq!(env.state(), before, "{kind} {args:?}: the ledger changed");
}

/// `sign-batch FILE` (written with `content`) as EXPORTER-MUNTOK for the demo
/// ledger, without a ledger: `Ok(bodies)` of the signed events, or `Err(stderr)`.
fn sign_batch(env: &Env, name: &str, content: &[u8], extra: &[&str]) -> Result<Vec<Value>, String> {
    let file = env.path(name);
    std::fs::write(&file, content).expect("write bulk file");
    let out_path = env.path(&format!("{name}.signed.jsonl"));
    let _ = std::fs::remove_file(&out_path);
    let out = env
        .bare()
        .arg("--ledger")
        .arg(env.path("no-ledger-here"))
        .arg("sign-batch")
        .arg(&file)
        .arg("--key")
        .arg(env.key("EXPORTER-MUNTOK"))
        .args(["--as", "EXPORTER-MUNTOK", "--ledger-id", DEMO_LEDGER_ID, "--at", AT, "--out"])
        .arg(&out_path)
        .args(extra)
        .output()
        .expect("run sign-batch");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(!Path::new(&out_path).exists(), "a refused file wrote SIGNED");
        return Err(stderr);
    }
    let text = std::fs::read_to_string(&out_path).expect("read signed");
    std::fs::remove_file(&out_path).expect("clean up");
    Ok(text.lines().map(|l| serde_json::from_str::<Value>(l).expect("JSON line")["event"]["body"].clone()).collect())
}

#[test]
fn bare_masses_and_grades_are_refused_on_the_command_line() {
    let env = Env::new();
    env.demo();
    let extract = |mass: &str, grade: &str| {
        vec![
            "--lot".to_string(),
            "KOB-2026-0101".into(),
            "--mass".into(),
            mass.into(),
            "--grade".into(),
            grade.into(),
            "--licence".into(),
            "IUP-OP 540/112/KOBA/2019".into(),
            "--location=-2.49,106.41".into(),
        ]
    };
    let run = |mass: &str, grade: &str, needle: &str| {
        let a = extract(mass, grade);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        refused(&env, "extract", "MINE-KOBA", &a, 2, needle);
    };
    run("1250", "70%", "mass \"1250\" has no unit; write 1250kg, 1250t or 1250g (accepted: 1250kg, 1.25t, 1250000g)");
    run("1250kg", "70", "grade \"70\" has no unit; write 70% (percent Sn) or 70ppm (parts per million Sn)");
    run("1.25", "70%", "mass \"1.25\" has no unit; write 1.25kg, 1.25t (accepted");
    run("1250 lb", "70%", "mass \"1250 lb\" does not end in a unit g, kg or t");
    // Receives and LOT:MASS values too.
    refused(
        &env,
        "receive",
        "EXPORTER-MUNTOK",
        &["--lot", "INGOT-MTK-2026-0042-C", "--mass", "2000"],
        2,
        "mass \"2000\" has no unit",
    );
    refused(
        &env,
        "smelt",
        "SMELTER-MUNTOK-2",
        &["--input", "KOB-2026-0001:300", "--output", "INGOT-MTK-2026-0050:ingot:208kg:99.92%"],
        2,
        "mass \"300\" has no unit",
    );
    refused(
        &env,
        "smelt",
        "SMELTER-MUNTOK-2",
        &["--input", "KOB-2026-0001:300kg", "--output", "INGOT-MTK-2026-0050:ingot:208kg:999200"],
        2,
        "grade \"999200\" has no unit",
    );
    // Positive control: the same extract with units is recorded, with exactly those values.
    let a = extract("1.25t", "725000ppm");
    record(&env, "extract", "MINE-KOBA", &a.iter().map(String::as_str).collect::<Vec<_>>()).assert().success();
    let lot: Value =
        serde_json::from_slice(&env.cmd().args(["--json", "lot", "KOB-2026-0101"]).output().unwrap().stdout)
            .expect("lot --json");
    let text = lot.to_string();
    assert!(text.contains("1250000") && text.contains("725000"), "{text}");
}

#[test]
fn locale_forms_get_a_hint_and_decimal_comma_reads_them() {
    let env = Env::new();
    env.demo();
    let dispatch = ["--lot", "INGOT-MTK-2026-0042-C", "--to", "EXPORTER-MUNTOK", "--document", "SJ/MTK/2026/0100"];
    record(&env, "dispatch", "SMELTER-MUNTOK-2", &dispatch).assert().success();
    let lot = "INGOT-MTK-2026-0042-C";
    refused(
        &env,
        "receive",
        "EXPORTER-MUNTOK",
        &["--lot", lot, "--mass", "269,5kg"],
        2,
        "mass \"269,5kg\" is written in a locale form; write 269.5kg (a point for decimals, no thousand separators), or pass --decimal-comma",
    );
    refused(
        &env,
        "receive",
        "EXPORTER-MUNTOK",
        &["--lot", lot, "--mass", "1.998,5kg"],
        2,
        "write 1998.5kg (a point for decimals, no thousand separators)",
    );
    refused(&env, "receive", "EXPORTER-MUNTOK", &["--lot", lot, "--mass", "1 998kg"], 2, "write 1998kg");
    refused(
        &env,
        "receive",
        "EXPORTER-MUNTOK",
        &["--lot", lot, "--mass", "269.5kg", "--decimal-comma"],
        2,
        "but --decimal-comma is set; write 2695kg",
    );
    // With --decimal-comma the comma is the decimal separator.
    record(&env, "receive", "EXPORTER-MUNTOK", &["--lot", lot, "--mass", "269,5kg", "--decimal-comma"])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&env.cmd().args(["--json", "lot", lot]).output().unwrap().stdout).unwrap();
    assert!(v.to_string().contains("269500"), "{v}");

    // In bulk files: a `;` sheet from a decimal-comma locale.
    let sheet = b"lot;mass_kg\nKOB-1;1998,5\n";
    let err = sign_batch(&env, "receive.csv", sheet, &[]).unwrap_err();
    assert!(err.contains("line 2, column mass: mass \"1998,5\" is written in a locale form; write 1998.5kg"), "{err}");
    let bodies = sign_batch(&env, "receive.csv", sheet, &["--decimal-comma"]).expect("--decimal-comma");
    assert_eq!(bodies[0]["mass_g"], 1_998_500, "{bodies:?}");
}

#[test]
fn bulk_files_need_units_or_a_column_that_names_one() {
    let env = Env::new();
    env.demo();
    // CSV: a bare number in `mass` is refused, in `mass_kg` it is kilograms.
    let err = sign_batch(&env, "receive.csv", b"lot,mass\nKOB-1,2000\nKOB-2,2t\n", &[]).unwrap_err();
    assert!(err.starts_with("line 2, column mass: mass \"2000\" has no unit; write 2000kg, 2000t or 2000g"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("line ")).count(), 1, "{err}");
    let csv_cases: [(&[u8], u64); 4] = [
        (b"lot,mass_kg\nKOB-1,2000\n", 2_000_000),
        (b"lot,Mass KG\nKOB-1,1.5\n", 1_500),
        (b"lot,mass_t\nKOB-1,1.25\n", 1_250_000),
        (b"lot,mass_g\nKOB-1,58000\n", 58_000),
    ];
    for (csv, want) in csv_cases {
        let b = sign_batch(&env, "receive.csv", csv, &[]).expect("unit column");
        assert_eq!(b[0]["mass_g"], want, "{}", String::from_utf8_lossy(csv));
    }
    let err = sign_batch(&env, "receive.csv", b"lot,mass,mass_kg\nKOB-1,1kg,1\n", &[]).unwrap_err();
    assert!(err.contains("line 1, column mass_kg: appears twice in the header row (as mass)"), "{err}");
    let err = sign_batch(&env, "assay.csv", b"lot,grade,method,report\nKOB-1,70,XRF,R1\n", &[]).unwrap_err();
    assert!(err.contains("line 2, column grade: grade \"70\" has no unit; write 70% (percent Sn) or 70ppm"), "{err}");
    let b = sign_batch(&env, "assay.csv", b"lot,grade_pct,method,report\nKOB-1,70.5,XRF,R1\n", &[]).unwrap();
    assert_eq!(b[0]["grade_ppm"], 705_000);
    let err = sign_batch(&env, "split.csv", b"lot,parts\nL-1,L-1-A:100;L-1-B:50kg\n", &[]).unwrap_err();
    assert!(err.contains("line 2, column parts: mass \"100\" has no unit"), "{err}");

    // JSON Lines: a number in "mass" is refused, in "mass_kg" it is kilograms.
    let err =
        sign_batch(&env, "day.jsonl", b"{\"kind\":\"receive\",\"lot\":\"KOB-1\",\"mass\":2000}\n", &[]).unwrap_err();
    assert!(err.contains("line 1, column mass: mass \"2000\" has no unit"), "{err}");
    let day = b"{\"kind\":\"receive\",\"lot\":\"KOB-1\",\"mass_kg\":2000}\n{\"kind\":\"receive\",\"lot\":\"KOB-2\",\"mass_g\":\"58000\"}\n\
{\"kind\":\"assay\",\"lot\":\"KOB-3\",\"grade_ppm\":725000,\"method\":\"XRF\",\"report\":\"R1\"}\n";
    let b = sign_batch(&env, "day.jsonl", day, &[]).expect("unit keys");
    assert_eq!(
        (b[0]["mass_g"].clone(), b[1]["mass_g"].clone(), b[2]["grade_ppm"].clone()),
        (2_000_000.into(), 58_000.into(), 725_000.into())
    );
    let err = sign_batch(
        &env,
        "day.jsonl",
        b"{\"kind\":\"receive\",\"lot\":\"KOB-1\",\"mass\":\"1kg\",\"mass_kg\":1}\n",
        &[],
    )
    .unwrap_err();
    assert!(err.contains("line 1, column mass_kg: and \"mass\" are the same field; give one of them"), "{err}");
}

#[test]
fn csv_line_numbers_are_right_for_lf_crlf_and_multiline_cells() {
    let env = Env::new();
    env.demo();
    // Rows 2 and 4 are bad; row 3 holds a quoted cell over two lines.
    for eol in ["\n", "\r\n"] {
        let text = ["lot,mass,note", "KOB-1,2000,", "KOB-2,1kg,\"two", "lines\"", "", "KOB-3,12O0kg,", ""].join(eol);
        let err = sign_batch(&env, "receive.csv", text.as_bytes(), &[]).unwrap_err();
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("line ")).collect();
        assert_eq!(lines.len(), 3, "{eol:?}: {err}");
        assert!(lines[0].starts_with("line 2, column mass: mass \"2000\" has no unit"), "{eol:?}: {err}");
        assert!(lines[1].starts_with("line 3, column note: "), "{eol:?}: {err}");
        assert!(lines[2].starts_with("line 6, column mass: mass \"12O0kg\""), "{eol:?}: {err}");
    }
    // Positive control: a good CRLF file signs every row.
    let b = sign_batch(&env, "receive.csv", b"lot,mass\r\nKOB-1,1kg\r\nKOB-2,2kg\r\n", &[]).expect("CRLF file");
    assert_eq!(b.len(), 2);
}

#[test]
fn spreadsheet_and_local_times_say_what_to_write() {
    let env = Env::new();
    env.demo();
    let cases = [
        ("2026-03-01T10:00:00", "time \"2026-03-01T10:00:00\" has no UTC offset; write 2026-03-01T10:00:00+07:00 if it is WIB (Bangka Belitung time), or 2026-03-01T10:00:00Z if it is UTC"),
        ("2026-03-01 10:00", "has a space instead of T, no seconds, no UTC offset; write 2026-03-01T10:00:00+07:00 if it is WIB"),
        ("25/03/2026", "is a spreadsheet date (dd/mm/yyyy or mm/dd/yyyy), not RFC 3339; write 2026-03-25T00:00:00+07:00"),
        ("01/03/2026 10:00", "write 2026-03-01T10:00:00+07:00 if it is day/month, or 2026-01-03T10:00:00+07:00 if it is month/day"),
    ];
    for (at, needle) in cases {
        let before = env.state();
        let mut c = env.cmd();
        c.args(["record", "receive", "--key"]).arg(env.key("EXPORTER-MUNTOK"));
        c.args(["--lot", "INGOT-MTK-2026-0042-C", "--mass", "270kg", "--at", at]);
        let err = fails_with(c, 2);
        assert!(err.contains(needle), "{at}: {err}");
        assert_eq!(env.state(), before);
    }
    // And in a bulk file's `at` column.
    let err = sign_batch(&env, "receive.csv", b"lot,mass,at\nKOB-1,1kg,01/03/2026\n", &[]).unwrap_err();
    assert!(err.contains("line 2, column at: time \"01/03/2026\" is a spreadsheet date"), "{err}");
}

#[test]
fn a_receive_beyond_ten_times_the_dispatched_mass_is_refused() {
    let env = Env::new();
    env.demo();
    // INGOT-MTK-2026-0042-C holds 270 kg.
    let lot = "INGOT-MTK-2026-0042-C";
    let dispatch = ["--lot", lot, "--to", "EXPORTER-MUNTOK", "--document", "SJ/MTK/2026/0100"];
    record(&env, "dispatch", "SMELTER-MUNTOK-2", &dispatch).assert().success();
    refused(
        &env,
        "receive",
        "EXPORTER-MUNTOK",
        &["--lot", lot, "--mass", "270g"],
        1,
        "received mass 0.270 kg of lot INGOT-MTK-2026-0042-C is less than a tenth of the dispatched 270.000 kg: \
         probably a unit mistake (did you mean 270.000 kg? a mass in kg keyed as g, or in t as kg)",
    );
    refused(
        &env,
        "receive",
        "EXPORTER-MUNTOK",
        &["--lot", lot, "--mass", "270t"],
        1,
        "is more than 10 times the dispatched 270.000 kg: probably a unit mistake (did you mean 270.000 kg? a mass in g keyed as kg, or in kg as t)",
    );
    refused(
        &env,
        "receive",
        "EXPORTER-MUNTOK",
        &["--lot", lot, "--mass", "26.999kg"],
        1,
        "a wrong unit, or a digit too many or too few",
    );
    refused(&env, "receive", "EXPORTER-MUNTOK", &["--lot", lot, "--mass", "2700.001kg"], 1, "more than 10 times");
    // Exactly a tenth is still a receive, with the discrepancy flag as before.
    let out = record(&env, "receive", "EXPORTER-MUNTOK", &["--lot", lot, "--mass", "27kg"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("flag: seq 50: mass discrepancy on lot INGOT-MTK-2026-0042-C"), "{text}");
    assert!(env.verify_json()["fault"].is_null());
}
