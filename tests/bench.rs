//! `tinledger bench`: the JSON report is complete and self-consistent, and
//! `--dir` reuse and refusals work. No timing assertions: only shapes,
//! positivity and the documented ratio conventions.

use crate::util::{fails_with, Env};
use serde_json::Value;
use std::collections::BTreeMap;

const REQUIRED: [&str; 12] = [
    "append_durable",
    "bulk_append",
    "verify",
    "verify_peak_rss",
    "remote_verify",
    "cert_issue",
    "cert_verify",
    "bytes_per_event",
    "serve_submit_durable",
    "serve_submit_p50",
    "serve_submit_p99",
    "serve_submit_batch",
];
const LIMITS: [&str; 8] = [
    "sign",
    "verify_strict",
    "verify_batch",
    "sigbatch",
    "sha256_entry",
    "sled_insert",
    "sled_insert_flush",
    "fsync_4k",
];

fn run_bench(env: &Env, args: &[&str]) -> Value {
    // Short repetitions: this checks shapes, not speed.
    let out =
        env.bare().env("TINLEDGER_BENCH_REP_MS", "20").arg("bench").args(args).arg("--json").output().expect("run");
    assert!(out.status.success(), "bench failed ({:?}):\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("bench --json prints one JSON object")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn check_report(v: &Value) {
    let limits: BTreeMap<&str, f64> = v["limits"]
        .as_array()
        .expect("limits")
        .iter()
        .map(|l| (l["name"].as_str().expect("name"), l["value"].as_f64().expect("value")))
        .collect();
    for name in LIMITS {
        let x = limits.get(name).copied().unwrap_or_else(|| panic!("limit {name} missing"));
        assert!(x.is_finite() && x > 0.0, "limit {name} = {x}");
    }
    let figs = v["figures"].as_array().expect("figures");
    for name in REQUIRED {
        let f = figs.iter().find(|f| f["name"] == name).unwrap_or_else(|| panic!("figure {name} missing: {v}"));
        let value = f["value"].as_f64().expect("value");
        let limit = f["limit"].as_f64().expect("limit");
        let ratio = f["ratio"].as_f64().expect("ratio");
        let unit = f["unit"].as_str().expect("unit");
        let limit_name = f["limit_name"].as_str().expect("limit_name");
        assert!(value > 0.0 && limit > 0.0 && ratio > 0.0, "{name}: {f}");
        assert!(value.is_finite() && limit.is_finite() && ratio.is_finite(), "{name}: {f}");
        // Rates and sizes: value/limit; times: limit/value.
        let want = if unit == "ms" { limit / value } else { value / limit };
        assert!(close(ratio, want), "{name}: ratio {ratio} but convention gives {want}");
        // Rate limits are the measured raw limits of the same run.
        if unit == "events/s" {
            assert_eq!(limits.get(limit_name).copied(), Some(limit), "{name}: limit {limit_name}");
        }
    }
    let unit_of = |n: &str| figs.iter().find(|f| f["name"] == n).and_then(|f| f["unit"].as_str()).unwrap_or("");
    assert_eq!(unit_of("verify_peak_rss"), "bytes");
    assert_eq!(unit_of("bytes_per_event"), "bytes");
    assert_eq!(unit_of("cert_issue"), "ms");
    assert_eq!(unit_of("cert_verify"), "ms");
    let fig = |n: &str| figs.iter().find(|f| f["name"] == n).cloned().unwrap_or(Value::Null);
    // Signatures are bound by the faster of the two batch checks (issue #12).
    let (sig_name, sig) = if limits["sigbatch"] >= limits["verify_batch"] {
        ("sigbatch", limits["sigbatch"])
    } else {
        ("verify_batch", limits["verify_batch"])
    };
    assert_eq!(fig("verify")["limit_name"], sig_name);
    assert_eq!(fig("verify")["limit"].as_f64(), Some(sig));
    assert_eq!(fig("cert_verify")["limit_name"], sig_name);
    assert_eq!(fig("append_durable")["limit_name"], "sled_insert_flush");
    // append_durable is also compared with the disk's fsync floor.
    let durable = fig("append_durable");
    let also = durable["also"].as_array().expect("append_durable has further limits");
    assert_eq!(also.len(), 1, "{durable}");
    assert_eq!(also[0]["limit_name"], "fsync_4k");
    assert_eq!(also[0]["limit"].as_f64(), Some(limits["fsync_4k"]));
    let want = durable["value"].as_f64().unwrap_or(0.0) / limits["fsync_4k"];
    assert!(close(also[0]["ratio"].as_f64().unwrap_or(f64::NAN), want), "{durable}");
    assert!(fig("verify").get("also").is_none(), "only append_durable has further limits");
    // The server figures: latencies against the 100 ms target, the batch
    // figure also against import_presigned of the same run.
    assert_eq!(fig("serve_submit_p99")["limit"].as_f64(), Some(100.0));
    assert_eq!(unit_of("serve_submit_p50"), "ms");
    assert!(fig("serve_submit_p50")["value"].as_f64() <= fig("serve_submit_p99")["value"].as_f64());
    let batch = fig("serve_submit_batch");
    let also = batch["also"].as_array().expect("serve_submit_batch has further limits");
    assert_eq!(also[0]["limit_name"], "import_presigned");
    assert_eq!(also[0]["limit"].as_f64(), fig("import_presigned")["value"].as_f64());
    assert_eq!(fig("verify_peak_rss")["limit"].as_f64(), Some(268_435_456.0));
    // verify --server of the published ledger against the signature limit,
    // and beside it the local verify of the same run.
    assert_eq!(fig("remote_verify")["limit_name"], sig_name);
    assert_eq!(fig("remote_verify")["limit"].as_f64(), Some(sig));
    assert_eq!(fig("remote_verify")["also"][0]["limit_name"], "verify");
    assert_eq!(fig("remote_verify")["also"][0]["limit"], fig("verify")["value"]);
    // bulk_append is bound by the smaller of the signature limit and sled_insert.
    let bulk = fig("bulk_append");
    let binding = sig.min(limits["sled_insert"]);
    assert_eq!(bulk["limit"].as_f64(), Some(binding));
    assert!(bulk["limit_name"] == sig_name || bulk["limit_name"] == "sled_insert");
    // The batch limits name the batch size that was fastest.
    let what =
        |n: &str| v["limits"].as_array().and_then(|l| l.iter().find(|l| l["name"] == n)).map(|l| l["what"].clone());
    for n in ["verify_batch", "sigbatch"] {
        let w = what(n).and_then(|w| w.as_str().map(String::from)).unwrap_or_default();
        assert!(["256", "1024", "4096"].iter().any(|b| w.contains(&format!("batches of {b} "))), "{n}: {w}");
    }
    // The load average of the run, where /proc has one.
    if std::path::Path::new("/proc/loadavg").exists() {
        let load = &v["load_average"];
        assert!(load["start"].as_f64().is_some_and(|x| x >= 0.0) && load["end"].as_f64().is_some(), "{load}");
    }
    // A ledger costs at least its entries' bytes.
    assert!(fig("bytes_per_event")["ratio"].as_f64().unwrap_or(0.0) >= 1.0);
    assert!(v["certificate"]["entries"].as_u64().unwrap_or(0) > 100, "certificate of a whole cycle: {v}");
}

#[test]
fn bench_json_reports_every_figure_with_consistent_ratios() {
    let env = Env::new();
    let v = run_bench(&env, &["--events", "2000"]);
    assert_eq!(v["events"], 2000);
    check_report(&v);
}

#[test]
fn bench_dir_reuses_its_own_ledger_and_refuses_others() {
    let env = Env::new();
    let dir = env.path("b");
    let ds = dir.to_str().expect("utf8");
    let first = run_bench(&env, &["--events", "1000", "--dir", ds]);
    check_report(&first);
    assert!(dir.join("ledger/db").is_dir() && dir.join("bench.json").is_file());
    assert!(!dir.join("scratch").exists(), "scratch data is removed");
    // Same N: the ledger is reused, bulk_append marked as such.
    let second = run_bench(&env, &["--events", "1000", "--dir", ds]);
    check_report(&second);
    let bulk = second["figures"].as_array().and_then(|f| f.iter().find(|f| f["name"] == "bulk_append").cloned());
    assert_eq!(bulk.as_ref().map(|b| b["reused"].clone()), Some(Value::Bool(true)));
    // Another N: refused, nothing changed.
    let mut c = env.bare();
    c.args(["bench", "--events", "1200", "--dir", ds]);
    let err = fails_with(c, 2);
    assert!(err.contains("of 1000 events, not 1200"), "{err}");
    // A real ledger as --dir: refused.
    env.demo();
    let mut c = env.bare();
    c.args(["bench", "--events", "1000", "--dir"]).arg(env.ledger());
    let err = fails_with(c, 2);
    assert!(err.contains("is a ledger"), "{err}");
    // Too few events: usage error.
    let mut c = env.bare();
    c.args(["bench", "--events", "10"]);
    let err = fails_with(c, 2);
    assert!(err.contains("out of range"), "{err}");
}
