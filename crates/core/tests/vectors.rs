//! Vectors from Go's reference implementation (fixtures/vectors/README.md).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::path::PathBuf;
use tinledger_core::checkpoint::Checkpoint;
use tinledger_core::merkle::{self, Hash, MemTree};
use tinledger_core::note::{Note, NoteSigner, Verifier};

fn read(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vectors").join(name);
    std::fs::read_to_string(p).unwrap()
}

fn h(s: &str) -> Hash {
    B64.decode(s).unwrap().try_into().unwrap()
}

#[test]
fn rfc6962_vectors_from_go_tlog() {
    let mut t = MemTree::new();
    for i in 0..1000 {
        t.push(merkle::leaf_hash(format!("event-{i}").as_bytes()));
    }
    let (mut roots, mut incl, mut cons) = (0, 0, 0);
    for line in read("rfc6962.txt").lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first() {
            Some(&"root") => {
                let size: u64 = f[1].parse().unwrap();
                assert_eq!(merkle::root(&t, size).unwrap(), h(f[2]), "root {size}");
                roots += 1;
            }
            Some(&"inclusion") => {
                let (i, size): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                let want: Vec<Hash> = f[3..].iter().map(|s| h(s)).collect();
                assert_eq!(merkle::inclusion_proof(&t, i, size).unwrap(), want, "inclusion {i} {size}");
                let root = merkle::root(&t, size).unwrap();
                let leaf = merkle::leaf_hash(format!("event-{i}").as_bytes());
                merkle::verify_inclusion(&leaf, i, size, &want, &root).unwrap();
                incl += 1;
            }
            Some(&"consistency") => {
                let (a, b): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                let want: Vec<Hash> = f[3..].iter().map(|s| h(s)).collect();
                assert_eq!(merkle::consistency_proof(&t, a, b).unwrap(), want, "consistency {a} {b}");
                let (ra, rb) = (merkle::root(&t, a).unwrap(), merkle::root(&t, b).unwrap());
                merkle::verify_consistency(a, b, &ra, &rb, &want).unwrap();
                cons += 1;
            }
            _ => {}
        }
    }
    assert!(roots >= 18 && incl >= 7 && cons >= 8, "{roots} {incl} {cons}");
}

fn field(text: &str, key: &str) -> String {
    text.lines().find_map(|l| l.strip_prefix(key)).unwrap().trim().to_string()
}

#[test]
fn signed_note_vector_from_go_note() {
    let text = read("signed-note.txt");
    let signer = NoteSigner::parse(&field(&text, "signer-key ")).unwrap();
    let verifier_s = field(&text, "verifier-key ");
    assert_eq!(signer.verifier().to_key_string(), verifier_s);
    let start = text.find("---\n").unwrap() + 4;
    let end = text.find("--- end ---").unwrap();
    let note = &text[start..end];

    // Signing the same body gives the same bytes (Ed25519 is deterministic).
    let v = Verifier::parse(&verifier_s).unwrap();
    let cp = Checkpoint::open(note, &v).unwrap();
    assert_eq!(cp.size, 1000);
    assert_eq!(cp.sign(&signer).unwrap(), note);

    // And the root is the size-1000 root of the Merkle vectors.
    let mut t = MemTree::new();
    for i in 0..1000 {
        t.push(merkle::leaf_hash(format!("event-{i}").as_bytes()));
    }
    assert_eq!(cp.root, t.root());

    // Tampering with the body or the signature fails.
    let tampered = note.replacen("1000", "1001", 1);
    assert!(Checkpoint::open(&tampered, &v).is_err());
    let sig_line = note.lines().last().unwrap();
    let b64 = sig_line.rsplit(' ').next().unwrap();
    let mut raw = B64.decode(b64).unwrap();
    raw[10] ^= 1;
    let flipped = note.replace(b64, &B64.encode(raw));
    assert!(Checkpoint::open(&flipped, &v).is_err());
    assert_eq!(Note::parse(&flipped).unwrap().sigs.len(), 1);
    let other = Verifier::new("example.org/other", v.key).unwrap();
    assert!(Note::open(note, &other).is_err());
}
