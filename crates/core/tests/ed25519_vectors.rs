//! The Ed25519 criterion (docs/formats.md §4.1) on the "Taming the many
//! EdDSAs" vectors (fixtures/ed25519/speccheck.json): the single check and
//! batches of 2, 16 and 256 with the vector at every position give the
//! fixture's verdict, 100 times out of 100 with fresh batch randomness.
//! The equation is cross-checked against ed25519-zebra (ZIP-215).

use ed25519_dalek::{Signer, SigningKey};
use rand_core::{OsRng, RngCore};
use serde_json::Value;
use tinledger_core::ed25519::{self, PreparedKey, SigError};
use tinledger_core::sigbatch;

struct Vector {
    case: u64,
    msg: Vec<u8>,
    key: [u8; 32],
    sig: [u8; 64],
    accept: bool,
    reason: Option<String>,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/ed25519/speccheck.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Vector {
            case: c["case"].as_u64().unwrap(),
            msg: hex::decode(c["message"].as_str().unwrap()).unwrap(),
            key: hex::decode(c["pub_key"].as_str().unwrap()).unwrap().try_into().unwrap(),
            sig: hex::decode(c["signature"].as_str().unwrap()).unwrap().try_into().unwrap(),
            accept: match c["expect"].as_str().unwrap() {
                "accept" => true,
                "reject" => false,
                other => panic!("expect {other}"),
            },
            reason: c["reason"].as_str().map(str::to_string),
        })
        .collect()
}

fn reason_name(e: SigError) -> &'static str {
    match e {
        SigError::NonCanonicalS => "non-canonical-s",
        SigError::NonCanonicalR => "non-canonical-r",
        SigError::NonCanonicalKey => "non-canonical-key",
        SigError::SmallOrderKey => "small-order-key",
        SigError::Equation => "equation",
        _ => "other",
    }
}

#[test]
fn single_check_gives_each_vector_its_verdict() {
    let vs = vectors();
    assert_eq!(vs.len(), 12);
    for v in &vs {
        let got = ed25519::verify(&v.key, &v.msg, &v.sig);
        assert_eq!(got.is_ok(), v.accept, "case {}: {got:?}", v.case);
        assert_eq!(got.err().map(reason_name).map(str::to_string), v.reason, "case {}", v.case);
    }
}

#[test]
fn the_equation_agrees_with_zip215_where_the_encodings_are_canonical() {
    for v in vectors() {
        let zebra = ed25519_zebra::VerificationKey::try_from(v.key)
            .and_then(|k| k.verify(&ed25519_zebra::Signature::from(v.sig), &v.msg));
        match ed25519::verify(&v.key, &v.msg, &v.sig) {
            // Our prechecks refuse it: ZIP-215 may still accept (it allows
            // non-canonical points and small-order keys), except for s ≥ ℓ.
            Err(SigError::NonCanonicalS) => assert!(zebra.is_err(), "case {}", v.case),
            Err(SigError::NonCanonicalR | SigError::NonCanonicalKey | SigError::SmallOrderKey) => {}
            ours => assert_eq!(ours.is_ok(), zebra.is_ok(), "case {}", v.case),
        }
    }
    // And on many honest and corrupted signatures.
    for i in 0u32..200 {
        let sk = SigningKey::from_bytes(&[i as u8; 32]);
        let msg = i.to_le_bytes();
        let mut sig = sk.sign(&msg).to_bytes();
        if i % 2 == 1 {
            sig[(i as usize * 7) % 64] ^= 1 << (i % 8);
        }
        let key = sk.verifying_key().to_bytes();
        let ours = ed25519::verify(&key, &msg, &sig);
        let zebra = ed25519_zebra::VerificationKey::try_from(key)
            .and_then(|k| k.verify(&ed25519_zebra::Signature::from(sig), &msg));
        if !matches!(ours, Err(SigError::NonCanonicalR)) {
            assert_eq!(ours.is_ok(), zebra.is_ok(), "signature {i}");
        }
    }
}

/// Honest signatures by another key, as the other members of a batch.
fn fillers(n: usize) -> Vec<([u8; 32], Vec<u8>, [u8; 64])> {
    let sk = SigningKey::from_bytes(&[42u8; 32]);
    let key = sk.verifying_key().to_bytes();
    (0..n)
        .map(|i| {
            let msg = format!("filler {i}").into_bytes();
            let sig = sk.sign(&msg).to_bytes();
            (key, msg, sig)
        })
        .collect()
}

fn batch_verdict(members: &[([u8; 32], Vec<u8>, [u8; 64])], seed: &[u8; 32]) -> bool {
    sigbatch::batch_holds(members.iter().map(|(k, m, s)| (PreparedKey::new(k), [&b""[..], m.as_slice()], s)), seed)
}

#[test]
fn batches_of_2_16_and_256_agree_with_the_single_check_at_every_position() {
    use rayon::prelude::*;
    let vs = vectors();
    let fill = fillers(255);
    // The fillers alone verify, whatever the weights.
    assert!(batch_verdict(&fill, &[0u8; 32]));
    for size in [2usize, 16, 256] {
        // 100 fresh seeds at every position for batches of 2 and 16; for
        // 256, 100 fresh seeds at both ends and the middle, and one fresh
        // seed at every other position (a batch of 256 costs ~1 ms).
        vs.par_iter().for_each(|v| {
            for pos in 0..size {
                let trials = if size < 256 || [0, 1, 127, 128, 254, 255].contains(&pos) { 100 } else { 1 };
                let mut members: Vec<_> = fill[..size - 1].to_vec();
                members.insert(pos, (v.key, v.msg.clone(), v.sig));
                for _ in 0..trials {
                    let mut seed = [0u8; 32];
                    OsRng.fill_bytes(&mut seed);
                    assert_eq!(
                        batch_verdict(&members, &seed),
                        v.accept,
                        "case {} in a batch of {size} at position {pos}",
                        v.case
                    );
                }
            }
        });
    }
}
