//! Ed25519 batch verification: a fast path for [`crate::ed25519::verify`].
//!
//! A batch is one random linear combination of its signature equations,
//! checked with one multiscalar multiplication. It uses exactly the single
//! check's criterion (docs/formats.md, section 4.1): the same prechecks on
//! `s`, `R` and the key, and the same *cofactored* equation, so
//!
//! - if every signature passes [`crate::ed25519::verify`], the batch passes,
//!   whatever its weights;
//! - if one fails, its cofactored residual `[8]([s]B − R − [k]A)` is a
//!   non-zero point of prime order ℓ, and the weighted sum is zero with
//!   probability at most about 2^-125 over the weights.
//!
//! The verdict on a signature therefore never depends on its neighbours.
//! (ed25519-dalek's `verify_batch` checks the cofactorless batch equation,
//! whose verdict on an `R` with a torsion component depends on the random
//! weight it draws, while `verify_strict` always refuses it: it is not used.)
//!
//! Weights: z_i are 128-bit values from SHA-512 over a domain string, the
//! caller's 32-byte seed (fresh randomness in the ledger and the CLI) and a
//! digest of every signature, key and challenge in the batch, so even a
//! fixed seed gives weights no signer can predict before fixing the batch.
//! When a batch fails, each of its signatures is checked alone to name the
//! lowest bad seq. Signatures are grouped by key: one point per distinct key
//! in the multiscalar multiplication, not one per signature.

use crate::ed25519::{self, PreparedKey, SigError};
use crate::event::{PublicKey, SIGNATURE_CONTEXT};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};
use std::collections::HashMap;

/// Domain separation for the batch weights.
const WEIGHT_DOMAIN: &[u8] = b"tinledger-ed25519-batch-weights-v1\0";

/// One signature to check: the entry's seq, the signed event bytes (without
/// the signing context), the signature and the key it must verify with.
#[derive(Clone, Debug)]
pub struct SigCheck {
    /// Sequence number of the entry, to name it when its signature fails.
    pub seq: u64,
    /// The canonical event bytes as signed, without [`crate::event::SIGNATURE_CONTEXT`].
    pub event_bytes: Vec<u8>,
    /// The 64-byte Ed25519 signature (R ‖ s).
    pub signature: [u8; 64],
    /// The key it must verify with: the signer's key at that seq.
    pub key: PublicKey,
    /// The key, checked and decompressed (or why it cannot verify anything).
    pub prepared: Result<PreparedKey, SigError>,
}

impl SigCheck {
    /// The single check ([`crate::ed25519::verify`]) of this signature.
    pub fn verify(&self) -> Result<(), SigError> {
        let key = self.prepared.as_ref().map_err(|e| *e)?;
        ed25519::verify_prepared(key, &[SIGNATURE_CONTEXT, &self.event_bytes], &self.signature)
    }
}

/// Checked, decompressed keys, so that each key's point is decoded once per
/// run, not once per signature (decoding costs about a quarter of a verify).
#[derive(Default)]
pub struct KeyCache {
    keys: HashMap<[u8; 32], Result<PreparedKey, SigError>>,
}

impl KeyCache {
    /// The prepared key for `k`.
    pub fn get(&mut self, k: &PublicKey) -> Result<PreparedKey, SigError> {
        *self.keys.entry(k.0).or_insert_with(|| PreparedKey::new(&k.0))
    }
    /// A check for entry `seq`.
    pub fn check(&mut self, seq: u64, event_bytes: Vec<u8>, signature: [u8; 64], key: PublicKey) -> SigCheck {
        let prepared = self.get(&key);
        SigCheck { seq, event_bytes, signature, key, prepared }
    }
}

/// The lowest seq among `items` whose signature fails the criterion, or
/// `None` when all verify. One multiscalar multiplication when the batch is
/// clean; `seed` should be fresh randomness (see the module docs).
pub fn first_bad(items: &[SigCheck], seed: &[u8; 32]) -> Option<u64> {
    if items.is_empty() || batch_ok(items, seed) {
        return None;
    }
    items.iter().filter(|c| c.verify().is_err()).map(|c| c.seq).min()
}

/// Whether every signature of `items` passes, decided by one cofactored
/// batch equation (false also when any precheck fails).
pub fn batch_ok(items: &[SigCheck], seed: &[u8; 32]) -> bool {
    batch_holds(items.iter().map(|c| (c.prepared, [SIGNATURE_CONTEXT, c.event_bytes.as_slice()], &c.signature)), seed)
}

/// The batch check for any messages: each item is a key (as
/// [`KeyCache::get`] gives it), the message in two parts (concatenated
/// when hashed; for events, the signing context and the event bytes) and
/// the signature. True exactly when every item passes
/// [`crate::ed25519::verify`] (module docs).
pub fn batch_holds<'a>(
    items: impl ExactSizeIterator<Item = (Result<PreparedKey, SigError>, [&'a [u8]; 2], &'a [u8; 64])>,
    seed: &[u8; 32],
) -> bool {
    let n = items.len();
    let mut decoded: Vec<(EdwardsPoint, Scalar, Scalar, usize)> = Vec::with_capacity(n);
    let mut key_index: HashMap<[u8; 32], usize> = HashMap::new();
    let mut key_points: Vec<EdwardsPoint> = Vec::new();
    let mut transcript = Sha512::new();
    transcript.update(WEIGHT_DOMAIN);
    transcript.update(seed);
    transcript.update((n as u64).to_le_bytes());
    for (key, msg, sig) in items {
        let Ok(key) = key else { return false };
        let Ok((r, s)) = ed25519::decode_signature(sig) else { return false };
        let r_bytes: &[u8; 32] = sig.first_chunk().unwrap_or(&[0u8; 32]);
        let k = ed25519::challenge(r_bytes, key.bytes(), &msg);
        transcript.update(sig);
        transcript.update(key.bytes());
        transcript.update(k.as_bytes());
        let next = key_points.len();
        let ki = *key_index.entry(*key.bytes()).or_insert(next);
        if ki == next {
            key_points.push(*key.point());
        }
        decoded.push((r, s, k, ki));
    }
    let digest = transcript.finalize();
    // Σ z_i([s_i]B − R_i − [k_i]A_i) = 0, written as
    // [−Σ z_i s_i]B + Σ z_i R_i + Σ_A (Σ_{i: A_i = A} z_i k_i) A = 0.
    let mut b_coeff = Scalar::ZERO;
    let mut key_coeffs = vec![Scalar::ZERO; key_points.len()];
    let mut scalars: Vec<Scalar> = Vec::with_capacity(n + 1 + key_points.len());
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(n + 1 + key_points.len());
    let mut block = [0u8; 64];
    for (i, (r, s, k, ki)) in decoded.iter().enumerate() {
        if i % 4 == 0 {
            let mut h = Sha512::new();
            h.update(digest);
            h.update(((i / 4) as u64).to_le_bytes());
            block.copy_from_slice(&h.finalize());
        }
        let off = (i % 4) * 16;
        let mut zb = [0u8; 16];
        zb.copy_from_slice(&block[off..off + 16]);
        let z = Scalar::from(u128::from_le_bytes(zb));
        b_coeff -= z * s;
        key_coeffs[*ki] += z * k;
        scalars.push(z);
        points.push(*r);
    }
    scalars.push(b_coeff);
    points.push(ed25519::basepoint());
    scalars.extend(key_coeffs);
    points.extend(key_points);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).mul_by_cofactor().is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::signing_message;
    use crate::testkeys::test_key;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::Signer;

    fn item(seq: u64, label: &str, msg: &[u8]) -> SigCheck {
        let k = test_key(label);
        let sig = k.sign(&signing_message(msg)).to_bytes();
        KeyCache::default().check(seq, msg.to_vec(), sig, PublicKey::from(&k))
    }

    #[test]
    fn first_bad_names_the_lowest_bad_seq() {
        let seed = [9u8; 32];
        let mut items: Vec<SigCheck> = (0..300u64).map(|i| item(i, &format!("K{}", i % 7), &i.to_be_bytes())).collect();
        assert_eq!(first_bad(&items, &seed), None);
        items[250].signature[40] ^= 1;
        items[17].event_bytes.push(0);
        assert_eq!(first_bad(&items, &seed), Some(17));
        // A small-order R that does not satisfy the equation is refused.
        let mut items: Vec<SigCheck> = (0..10u64).map(|i| item(i, "K", &i.to_be_bytes())).collect();
        items[3].signature[..32].copy_from_slice(&EIGHT_TORSION[1].compress().to_bytes());
        assert_eq!(first_bad(&items, &seed), Some(3));
        assert_eq!(first_bad(&[], &seed), None);
    }
}
