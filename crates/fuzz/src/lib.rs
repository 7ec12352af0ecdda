//! The checks behind the cargo-fuzz targets (docs/fuzzing.md).
//!
//! Each function takes one raw fuzzer input, must never panic on any input,
//! and asserts the properties of the code under test. The targets in
//! `fuzz_targets/` are one-line wrappers around these functions, and
//! `crates/core/tests/fuzz_regressions.rs` includes this file (by `#[path]`)
//! to replay the seed corpora and every saved crash input in ordinary
//! `cargo test`, without libFuzzer. Depends on `tinledger_core` and std only.

use std::sync::OnceLock;
use tinledger_core::cert::{self, Certificate};
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::entry::{Entry, ENTRY_VERSION};
use tinledger_core::event::{Event, PublicKey, SignedEvent};
use tinledger_core::ids::LedgerId;
use tinledger_core::merkle::{self, Hash, MemTree};
use tinledger_core::note::{Note, NoteSigner, Verifier};
use tinledger_core::testkeys::test_key;

/// Verifier key of fixtures/vectors/signed-note.txt (a published TEST key).
pub const VECTOR_VERIFIER: &str = "example.org/tinledger-test+7d6efb63+AS1siGnIyxVSKZxbtMBgy//MVOkRLFo4JH8nYTT9PcD5";
/// Ledger id of the demo ledger (fixtures/golden, fixtures/certificates).
pub const DEMO_LEDGER_ID: &str = "b4a9c0d2e1f3a5b7c9d1e3f5a7b9c1d3";
/// Most leaves of the in-memory tree `proof_check` builds.
pub const MAX_TREE_LEAVES: u64 = 64;

/// The signed-note vector's verifier.
pub fn vector_verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| Verifier::parse(VECTOR_VERIFIER).expect("vector verifier key parses"))
}

/// The demo authority's checkpoint verifier: TEST key `AUTH-BABEL`, named
/// `tinledger/<demo ledger id>`.
pub fn demo_verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let id: LedgerId = DEMO_LEDGER_ID.parse().expect("demo ledger id parses");
        Verifier::new(&origin_for(&id), PublicKey::from(&test_key("AUTH-BABEL")).0).expect("demo verifier")
    })
}

/// `event_decode`: `Event::from_bytes` never panics; what it accepts
/// re-encodes to exactly the input (decode→encode identity), passes
/// `Event::check`, can be described, and decodes the same way inside a
/// `SignedEvent`.
pub fn event_decode(data: &[u8]) {
    let Ok(ev) = Event::from_bytes(data) else {
        return;
    };
    assert_eq!(ev.to_bytes(), data, "decoded event does not re-encode to its input");
    assert_eq!(ev.check(), Ok(()), "decoded event fails its own syntax check");
    let _ = (ev.describe(), ev.body.kind(), ev.body.lots(), ev.body.subject_actor());
    let se = SignedEvent::from_parts(data.to_vec(), [0; 64]).expect("from_parts accepts what from_bytes accepts");
    assert_eq!(se.event(), &ev);
    assert_eq!(se.bytes(), data);
}

/// `entry_decode`: `Entry::from_bytes` and `Entry::signed_event` never
/// panic; an accepted entry has the current version and re-encodes to
/// exactly the input; an accepted inner event re-encodes to the entry's
/// event bytes, and `Entry::new` rebuilds the same entry from it.
pub fn entry_decode(data: &[u8]) {
    let Ok(e) = Entry::from_bytes(data) else {
        return;
    };
    assert_eq!(e.version, ENTRY_VERSION);
    assert_eq!(e.to_bytes(), data, "decoded entry does not re-encode to its input");
    assert_eq!(e.leaf_hash(), merkle::leaf_hash(data));
    let _ = e.hash();
    let Ok(se) = e.signed_event() else {
        return;
    };
    assert_eq!(se.bytes(), &e.event[..]);
    assert_eq!(se.event().to_bytes(), e.event, "inner event does not re-encode to the entry's event bytes");
    assert_eq!(Entry::new(e.seq, e.prev_hash(), &se), e);
    assert_eq!(Event::from_bytes(&e.event).as_ref(), Ok(se.event()));
}

/// `checkpoint_parse`: on UTF-8 input, `Note::parse`, `Checkpoint::parse_body`,
/// `Checkpoint::open` (with the signed-note vector's verifier and the demo
/// authority's), `Verifier::parse` and `NoteSigner::parse` never panic. A
/// parsed checkpoint body round-trips through `Checkpoint::body`; a parsed
/// note's text is a prefix of the input ending in a newline; an opened
/// checkpoint carries the verifier's name; parsed keys round-trip.
pub fn checkpoint_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(note) = Note::parse(text) {
        assert!(note.text.ends_with('\n') && text.starts_with(&note.text), "note text is not a prefix of the note");
    }
    if let Ok(cp) = Checkpoint::parse_body(text) {
        assert_eq!(cp.body(), text, "checkpoint body does not round-trip");
    }
    for v in [vector_verifier(), demo_verifier()] {
        if let Ok(cp) = Checkpoint::open(text, v) {
            assert_eq!(cp.origin, v.name);
            let note = Note::parse(text).expect("an opened checkpoint is a note");
            assert_eq!(cp.body(), note.text, "opened checkpoint body does not round-trip");
        }
    }
    if let Ok(v) = Verifier::parse(text) {
        assert_eq!(Verifier::parse(&v.to_key_string()), Ok(v.clone()), "verifier key does not round-trip");
    }
    if let Ok(s) = NoteSigner::parse(text) {
        let v = s.verifier();
        assert_eq!(Verifier::new(&s.name, v.key), Ok(v.clone()));
        // The signer can sign, and its verifier opens what it signs.
        if let Ok(note) = s.sign("fuzz\n") {
            assert_eq!(Note::open(&note, &v), Ok("fuzz\n".to_string()));
        }
    }
}

/// `cert_parse_verify`: on UTF-8 input, `Certificate::from_json` never
/// panics; a parsed certificate re-parses from its own serialization to the
/// same value, its fast and reference signing messages agree, and
/// `cert::verify` against the demo authority's verifier never panics (and
/// reports a failure with a non-empty code).
pub fn cert_parse_verify(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Certificate::from_json(text) else {
        return;
    };
    match (c.signing_message(), c.signing_message_slow()) {
        (Ok(a), Ok(b)) => assert!(a == b, "fast and reference signing messages differ"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("signing_message {:?} but signing_message_slow {:?}", a.err(), b.err()),
    }
    match cert::verify(&c, demo_verifier()) {
        Ok(v) => assert_eq!(v.entries, c.entries.len()),
        Err(e) => assert!(!e.code.is_empty(), "certificate error without a code: {}", e.msg),
    }
}

/// Read a big-endian u64 at `at` (zero-padded past the end).
fn be_u64(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_be_bytes(b)
}

/// Split the proof input: `a` (u64 BE), `b` (u64 BE), then 32-byte hashes;
/// the first hash is the leaf (or old root), the last the root (or new
/// root), those between the proof. Missing hashes are zero.
pub fn proof_input(data: &[u8]) -> (u64, u64, Hash, Vec<Hash>, Hash) {
    let (a, b) = (be_u64(data, 0), be_u64(data, 8));
    let mut hashes: Vec<Hash> = data.get(16..).unwrap_or(&[]).chunks_exact(32).map(|c| c.try_into().unwrap()).collect();
    let root = hashes.pop().unwrap_or([0; 32]);
    let leaf = if hashes.is_empty() { [0; 32] } else { hashes.remove(0) };
    (a, b, leaf, hashes, root)
}

/// `proof_check`: `verify_inclusion` and `verify_consistency` never panic
/// on arbitrary (index, size, leaf, proof, root); then, for an in-memory
/// tree of 1..=64 leaves chosen by the input, every inclusion proof and
/// every consistency proof into that size verifies, and a proof with one
/// flipped bit, a missing or extra hash, or the wrong leaf or root fails.
pub fn proof_check(data: &[u8]) {
    let (a, b, leaf, proof, root) = proof_input(data);
    let incl = merkle::verify_inclusion(&leaf, a, b, &proof, &root);
    let cons = merkle::verify_consistency(a, b, &leaf, &root, &proof);
    if a >= b {
        assert!(incl.is_err(), "inclusion of index {a} in size {b} verified");
    }
    if a > b {
        assert!(cons.is_err(), "consistency from {a} to smaller {b} verified");
    }

    // Cross-check against proofs the library generates.
    let n = a % MAX_TREE_LEAVES + 1;
    let salt = data.get(16..).unwrap_or(&[]);
    let mut t = MemTree::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        let mut d = i.to_be_bytes().to_vec();
        d.extend_from_slice(&salt[..salt.len().min(32)]);
        let l = merkle::leaf_hash(&d);
        t.push(l);
        leaves.push(l);
    }
    let r = merkle::root(&t, n).expect("root of the whole tree");
    assert_eq!(r, t.root());
    let flip = |p: &[Hash], which: u64| {
        let mut q = p.to_vec();
        let k = (which % q.len() as u64) as usize;
        q[k][(b % 32) as usize] ^= 1 << (b % 8);
        q
    };
    for i in 0..n {
        let p = merkle::inclusion_proof(&t, i, n).expect("inclusion proof");
        let l = &leaves[i as usize];
        merkle::verify_inclusion(l, i, n, &p, &r).unwrap_or_else(|e| panic!("inclusion {i} in {n}: {e}"));
        let other = &leaves[((i + 1) % n) as usize];
        if n > 1 {
            assert!(merkle::verify_inclusion(other, i, n, &p, &r).is_err(), "wrong leaf verified ({i} in {n})");
            assert!(merkle::verify_inclusion(l, i, n, &flip(&p, b), &r).is_err(), "flipped proof ({i} in {n})");
            assert!(merkle::verify_inclusion(l, i, n, &p[..p.len() - 1], &r).is_err(), "short proof ({i} in {n})");
        }
        let mut long = p.clone();
        long.push(r);
        assert!(merkle::verify_inclusion(l, i, n, &long, &r).is_err(), "long proof ({i} in {n})");
        let mut bad_root = r;
        bad_root[0] ^= 1;
        assert!(merkle::verify_inclusion(l, i, n, &p, &bad_root).is_err(), "wrong root ({i} in {n})");
    }
    for old in 0..=n {
        let or = merkle::root(&t, old).expect("old root");
        let p = merkle::consistency_proof(&t, old, n).expect("consistency proof");
        merkle::verify_consistency(old, n, &or, &r, &p).unwrap_or_else(|e| panic!("consistency {old}->{n}: {e}"));
        if old > 0 && old < n {
            assert!(!p.is_empty());
            assert!(merkle::verify_consistency(old, n, &or, &r, &flip(&p, b)).is_err(), "flipped {old}->{n}");
            assert!(merkle::verify_consistency(old, n, &or, &r, &p[..p.len() - 1]).is_err(), "short {old}->{n}");
            let mut long = p.clone();
            long.push(r);
            assert!(merkle::verify_consistency(old, n, &or, &r, &long).is_err(), "long {old}->{n}");
            assert!(merkle::verify_consistency(old, n, &r, &r, &p).is_err(), "wrong old root {old}->{n}");
            assert!(merkle::verify_consistency(old, n, &or, &or, &p).is_err(), "wrong new root {old}->{n}");
        }
    }
}

/// One target's check.
pub type Check = fn(&[u8]);

/// The fuzz targets by name, for replaying saved inputs.
pub const TARGETS: [(&str, Check); 6] = [
    ("event_decode", event_decode),
    ("entry_decode", entry_decode),
    ("checkpoint_parse", checkpoint_parse),
    ("cert_parse_verify", cert_parse_verify),
    ("proof_check", proof_check),
    ("tile_decode", tile_decode),
];

/// `tile_decode`: the C2SP tile codecs (`tinledger_core::tiles`) never
/// panic, and what they accept is canonical. The first byte picks the
/// decoder: 0 an entry bundle, 1 a hash tile, anything else a tile path
/// (the rest as UTF-8). An accepted bundle holds 1 to 256 entries and
/// re-encodes to exactly the input; an accepted hash tile holds 1 to 256
/// hashes and re-encodes to the input; an accepted path formats back to
/// exactly itself, so no tile has two names.
pub fn tile_decode(data: &[u8]) {
    use tinledger_core::tiles::{self, TileId};
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode {
        0 => {
            let Ok(entries) = tiles::decode_bundle(rest) else { return };
            assert!((1..=256).contains(&entries.len()), "bundle of {} entries accepted", entries.len());
            assert_eq!(tiles::encode_bundle(&entries).expect("accepted entries re-encode"), rest);
            let ranges = tiles::bundle_ranges(rest).expect("ranges agree with decode");
            assert_eq!(ranges.len(), entries.len());
        }
        1 => {
            let Ok(hashes) = tiles::decode_tile(rest) else { return };
            assert!((1..=256).contains(&hashes.len()));
            assert_eq!(tiles::encode_tile(&hashes).expect("accepted hashes re-encode"), rest);
            // The root of their largest power-of-two prefix (what a node read
            // from the tile computes) is the Merkle root over them.
            let k = 1usize << (usize::BITS - 1 - hashes.len().leading_zeros());
            let mut t = MemTree::new();
            for h in &hashes[..k] {
                t.push(*h);
            }
            assert_eq!(tiles::subtree_root(&hashes[..k]), t.root());
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else { return };
            let Ok(id) = TileId::parse(text) else { return };
            assert_eq!(id.to_string(), text, "a tile path that is not canonical was accepted");
            assert!((1..=256).contains(&id.width));
        }
    }
}
