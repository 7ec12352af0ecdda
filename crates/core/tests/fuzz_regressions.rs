//! The fuzz harness without libFuzzer (docs/fuzzing.md).
//!
//! `crates/fuzz/src/lib.rs` holds the checks every cargo-fuzz target runs; it
//! is included here verbatim, so `cargo test` replays every committed seed
//! input (`crates/fuzz/corpus/<target>/seed-*`) and every saved crash input
//! (`fixtures/fuzz-regressions/<target>-<name>.*`) through exactly the code
//! the fuzzer exercises. A crash the fuzzer finds becomes a file in
//! fixtures/fuzz-regressions plus a named test below.

#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files in `dir` whose names start with `prefix`, sorted.
fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
        .collect();
    out.sort();
    out
}

fn run(target: &str, path: &Path) {
    let (_, check) = harness::TARGETS.iter().find(|(n, _)| *n == target).expect("known target");
    let data = std::fs::read(path).unwrap();
    check(&data);
}

#[test]
fn every_seed_input_passes_its_target() {
    let mut n = 0;
    for (target, _) in harness::TARGETS {
        let seeds = files(&root().join("crates/fuzz/corpus").join(target), "seed-");
        assert!(!seeds.is_empty(), "no seed inputs for {target}");
        for p in seeds {
            run(target, &p);
            n += 1;
        }
    }
    assert!(n >= 10, "only {n} seed inputs");
}

#[test]
fn every_saved_crash_input_passes_its_target() {
    for (target, _) in harness::TARGETS {
        for p in files(&root().join("fixtures/fuzz-regressions"), &format!("{target}-")) {
            run(target, &p);
        }
    }
}

#[test]
fn seeds_are_accepted_not_just_survived() {
    // The seeds are valid inputs, so the checks behind each target really ran
    // on them (not only the early rejections).
    use tinledger_core::cert::{self, Certificate};
    use tinledger_core::checkpoint::Checkpoint;
    use tinledger_core::{Entry, Event};
    let corpus = root().join("crates/fuzz/corpus");
    for p in files(&corpus.join("event_decode"), "seed-") {
        Event::from_bytes(&std::fs::read(&p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
    for p in files(&corpus.join("entry_decode"), "seed-") {
        let e = Entry::from_bytes(&std::fs::read(&p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        e.signed_event().unwrap();
    }
    let note = std::fs::read_to_string(corpus.join("checkpoint_parse/seed-vector-note.txt")).unwrap();
    assert_eq!(Checkpoint::open(&note, harness::vector_verifier()).unwrap().size, 1000);
    let demo = std::fs::read_to_string(corpus.join("checkpoint_parse/seed-demo-checkpoint.txt")).unwrap();
    assert_eq!(Checkpoint::open(&demo, harness::demo_verifier()).unwrap().size, 49);
    let text = std::fs::read_to_string(corpus.join("cert_parse_verify/seed-demo-solder-007.json")).unwrap();
    let c = Certificate::from_json(&text).unwrap();
    cert::verify(&c, harness::demo_verifier()).unwrap();
    for p in files(&corpus.join("proof_check"), "seed-") {
        let data = std::fs::read(&p).unwrap();
        let (a, b, leaf, proof, root) = harness::proof_input(&data);
        let name = p.file_name().unwrap().to_str().unwrap();
        let r = if name.starts_with("seed-inclusion") {
            tinledger_core::merkle::verify_inclusion(&leaf, a, b, &proof, &root)
        } else {
            tinledger_core::merkle::verify_consistency(a, b, &leaf, &root, &proof)
        };
        r.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
