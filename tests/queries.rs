//! The read-only query commands of issue #11: `lot list`, `log` filters,
//! `lot ID --tree` (text, JSON, DOT checked with Graphviz), `report balance`
//! against figures computed by hand from the demo ledger (docs/model.md
//! §8.3), and "did you mean" for mistyped lot and actor ids.

use crate::snapshots::{demo, mistake, on_demo, transcript};
use crate::util::*;
use serde_json::Value;

/// `tinledger --json ARGS` on the demo ledger, parsed.
fn json(env: &Env, args: &[&str]) -> Value {
    let out = env.cmd().arg("--json").args(args).output().expect("run");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The seqs `log --json ARGS` lists.
fn log_seqs(env: &Env, args: &[&str]) -> Vec<u64> {
    let mut a = vec!["log"];
    a.extend_from_slice(args);
    json(env, &a)["entries"].as_array().expect("entries").iter().map(|e| e["seq"].as_u64().expect("seq")).collect()
}

/// The lot ids `lot list --json ARGS` lists.
fn listed(env: &Env, args: &[&str]) -> Vec<String> {
    let mut a = vec!["lot", "list"];
    a.extend_from_slice(args);
    json(env, &a)["lots"]
        .as_array()
        .expect("lots")
        .iter()
        .map(|l| l["lot"].as_str().expect("lot").to_string())
        .collect()
}

#[test]
fn lot_list_filters_combine() {
    let env = demo();
    assert_eq!(listed(&env, &[]).len(), 11);
    assert_eq!(
        listed(&env, &["--held-by", "SMELTER-MUNTOK", "--state", "held"]),
        ["INGOT-MTK-2026-0042-C", "KOB-2026-0001"]
    );
    assert_eq!(listed(&env, &["--state", "exported"]), ["INGOT-MTK-2026-0042-B", "SOLDER-KEK-2026-007"]);
    assert_eq!(listed(&env, &["--material", "ore", "--state", "held"]), ["BLY-2026-0001", "JBS-2026-0001"]);
    assert!(listed(&env, &["--state", "in-transit"]).is_empty());
    let v = json(&env, &["lot", "list", "--held-by", "SMELTER-MUNTOK", "--state", "held"]);
    assert_eq!(v["lots"][1]["mass_g"], 500_000);
    assert_eq!(v["lots"][1]["state"], "held");
    insta::assert_snapshot!("lot_list", transcript(&env, &on_demo(&["lot", "list"])));
    mistake(&env, "lot_list_bad_state", &["lot", "list", "--state", "in_transit"], 2);
}

#[test]
fn log_filters_combine_with_and() {
    let env = demo();
    assert_eq!(log_seqs(&env, &["--actor", "SMELTER-MUNTOK", "--kind", "receive"]), [31, 32]);
    assert_eq!(log_seqs(&env, &["--lot", "KOB-2026-0001"]), [14, 30, 32, 33, 35]);
    assert_eq!(log_seqs(&env, &["--actor", "MINE-KOBA", "--lot", "KOB-2026-0001"]), [14, 30]);
    // MINE-KOBA is also the subject of its registration (seq 2).
    assert_eq!(log_seqs(&env, &["--actor", "MINE-KOBA"]), [2, 14, 30]);
    assert_eq!(log_seqs(&env, &["--from", "2026-03-09T00:00:00Z", "--to", "2026-03-09T23:59:59Z"]), [31, 32, 33]);
    assert_eq!(log_seqs(&env, &["--kind", "register-actor", "--from", "10"]), [10, 11]);
    assert_eq!(log_seqs(&env, &["--from", "10", "--to", "12"]), [10, 11, 12]);
    assert!(log_seqs(&env, &["--kind", "export", "--to", "2026-03-16T01:59:59Z"]).is_empty());
    insta::assert_snapshot!(
        "log_filtered",
        transcript(&env, &on_demo(&["log", "--lot", "KOB-2026-0001", "--from", "2026-03-09T00:00:00Z"]))
    );
    mistake(&env, "log_bad_kind", &["log", "--kind", "recieve"], 2);
    mistake(&env, "log_bad_time", &["log", "--from", "2026-03-09"], 2);
}

#[test]
fn provenance_tree_text_json_and_dot() {
    let env = demo();
    insta::assert_snapshot!("lot_tree", transcript(&env, &on_demo(&["lot", "SOLDER-KEK-2026-007", "--tree"])));
    let v = json(&env, &["lot", "SOLDER-KEK-2026-007", "--tree"]);
    let lots: Vec<&str> = v["lots"].as_array().expect("lots").iter().map(|l| l["lot"].as_str().expect("id")).collect();
    assert_eq!(lots.len(), 7, "{lots:?}");
    assert_eq!(lots[0], "SOLDER-KEK-2026-007");
    let smelt = v["lots"].as_array().unwrap().iter().find(|l| l["lot"] == "INGOT-MTK-2026-0042").unwrap();
    assert_eq!(smelt["kind"], "smelt");
    assert_eq!(smelt["inputs"][1], serde_json::json!({"lot": "KOB-2026-0001", "mass_g": 1_500_000}));
    let merged = v["lots"].as_array().unwrap().iter().find(|l| l["lot"] == "CONC-PKP-2026-001").unwrap();
    assert_eq!(merged["inputs"][0]["mass_g"], 1_199_200, "a merge takes the input's received mass");
    // An extracted lot is its own root.
    let root = json(&env, &["lot", "KOB-2026-0001", "--tree"]);
    assert_eq!(root["lots"].as_array().unwrap().len(), 1);

    let out = env.cmd().args(["lot", "SOLDER-KEK-2026-007", "--tree", "--dot"]).output().expect("run");
    assert!(out.status.success());
    let dot = String::from_utf8(out.stdout).expect("utf-8");
    assert!(dot.starts_with("digraph provenance {"), "{dot}");
    assert!(dot.contains("\"KOB-2026-0001\" -> \"INGOT-MTK-2026-0042\" [label=\"1,500.000 kg\"];"), "{dot}");
    let svg_path = env.path("tree.dot");
    std::fs::write(&svg_path, &dot).expect("write");
    let svg = std::process::Command::new("dot")
        .arg("-Tsvg")
        .arg(&svg_path)
        .output()
        .expect("Graphviz's dot must be installed (.ci/run installs graphviz)");
    assert!(svg.status.success(), "dot refused: {}", String::from_utf8_lossy(&svg.stderr));
    let svg = String::from_utf8_lossy(&svg.stdout);
    assert!(svg.contains("<svg") && svg.contains("SOLDER&#45;KEK&#45;2026&#45;007"), "{svg}");
    mistake(&env, "lot_tree_unknown", &["lot", "SOLDER-KEK-2026-07", "--tree"], 2);
}

#[test]
fn balance_matches_the_hand_computation() {
    let env = demo();
    // docs/model.md §8.3 works these figures out by hand from `log`.
    let b = json(&env, &["report", "balance", "--actor", "SMELTER-MUNTOK"]);
    assert_eq!(b["events"], 6);
    assert_eq!(b["opening_g"], 0);
    assert_eq!(b["received_g"], 2_149_200 + 2_000_000);
    assert_eq!(b["produced_g"], 2_270_000 + 2_270_000);
    assert_eq!(b["consumed_g"], 2_149_200 + 1_500_000 + 2_270_000);
    assert_eq!(b["dispatched_g"], 2_000_000);
    assert_eq!(b["exported_g"], 0);
    assert_eq!(b["closing_g"], 770_000);
    assert_eq!(b["process_in_g"], 3_649_200);
    assert_eq!(b["process_out_g"], 2_270_000);
    assert_eq!(b["mass_yield_ppm"], 622_054);
    // CONC-PKP-2026-001's merged grade: (1,199,200 g × 618,000 + 950,000 g × 580,000) / 2,149,200 g
    // = 601,203 ppm; KOB-2026-0001 was assayed 702,000 ppm before the smelt.
    let tin_in: u128 = 2_149_200 * 601_203 + 1_500_000 * 702_000;
    let tin_out: u128 = 2_270_000 * 999_000;
    assert_eq!(b["tin_in_g"].as_u64(), Some((tin_in / 1_000_000) as u64));
    assert_eq!(b["tin_out_g"].as_u64(), Some((tin_out / 1_000_000) as u64));
    assert_eq!(b["tin_yield_ppm"].as_u64(), Some((tin_out * 1_000_000 / tin_in) as u64));
    // The closing stock is what the smelter holds.
    let held: u64 = json(&env, &["lot", "list", "--held-by", "SMELTER-MUNTOK", "--state", "held"])["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mass_g"].as_u64().unwrap())
        .sum();
    assert_eq!(b["closing_g"].as_u64(), Some(held));

    // A period: the receives (9 March) are before it, dispatch B (16 March) after it.
    let p = json(
        &env,
        &[
            "report",
            "balance",
            "--actor",
            "SMELTER-MUNTOK",
            "--from",
            "2026-03-11T00:00:00Z",
            "--to",
            "2026-03-12T23:59:59Z",
        ],
    );
    assert_eq!(p["opening_g"], 4_149_200);
    assert_eq!(p["received_g"], 0);
    assert_eq!(p["dispatched_g"], 1_000_000);
    assert_eq!(p["events"], 3);
    assert_eq!(p["closing_g"], 4_149_200 + 4_540_000 - 5_919_200 - 1_000_000);

    // The collector's receives: AGG-2026-0001 800 g short (not flagged), BLY-2026-0001 24 kg short (flagged).
    let c = json(&env, &["report", "balance", "--actor", "COLLECTOR-PANGKALPINANG"]);
    assert_eq!(c["closing_g"], 776_000 + 600_000);
    let d = c["discrepancies"].as_array().unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(
        (d[0]["seq"].as_u64(), d[0]["received_g"].as_u64(), d[0]["flagged"].as_bool()),
        (Some(21), Some(1_199_200), Some(false))
    );
    assert_eq!(
        (d[1]["lot"].as_str(), d[1]["dispatched_g"].as_u64(), d[1]["flagged"].as_bool()),
        (Some("BLY-2026-0001"), Some(800_000), Some(true))
    );
    assert_eq!(c["mass_yield_ppm"], Value::Null, "no smelt, no yield");

    insta::assert_snapshot!(
        "balance_text",
        transcript(&env, &on_demo(&["report", "balance", "--actor", "SMELTER-MUNTOK"]))
    );
    insta::assert_snapshot!(
        "balance_csv",
        transcript(&env, &on_demo(&["report", "balance", "--actor", "COLLECTOR-PANGKALPINANG", "--csv"]))
    );
    mistake(
        &env,
        "balance_reversed_period",
        &[
            "report",
            "balance",
            "--actor",
            "SMELTER-MUNTOK",
            "--from",
            "2026-04-01T00:00:00Z",
            "--to",
            "2026-03-01T00:00:00Z",
        ],
        2,
    );
}

#[test]
fn did_you_mean_for_lots_and_actors() {
    let env = demo();
    mistake(&env, "did_you_mean_lot", &["lot", "KOB-2026-001"], 2);
    mistake(&env, "did_you_mean_actor_show", &["actor", "show", "SMELTER-MUNTK"], 2);
    mistake(&env, "did_you_mean_log_actor", &["log", "--actor", "smelter-muntok"], 2);
    mistake(&env, "did_you_mean_balance", &["report", "balance", "--actor", "COLLECTOR-PANGKALPINAN"], 2);
    mistake(&env, "did_you_mean_held_by", &["lot", "list", "--held-by", "EXPORTER-MUNTOK-1"], 2);
    mistake(&env, "did_you_mean_nothing_close", &["lot", "NOTHING-LIKE-IT"], 2);
    // A record refused for an unknown receiver names the actor meant.
    let mut dispatch = COLLECTOR_DISPATCH;
    dispatch[3] = "SMELTER-MUNTOC";
    let mut args =
        vec!["record", "dispatch", "--key", "demo/keys/COLLECTOR-PANGKALPINANG.pem", "--at", "2026-04-01T00:00:00Z"];
    args.extend_from_slice(&dispatch);
    mistake(&env, "did_you_mean_record_receiver", &args, 1);
}
