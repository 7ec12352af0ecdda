//! Ed25519 batch verification with a `verify_strict` fallback.
//!
//! `verify_strict` (docs/formats.md, section 4.1) is the authority on every
//! signature. Batch verification (ed25519-dalek's `verify_batch`, a random
//! linear combination of many signature equations checked with one
//! multiscalar multiplication) is only a fast path: a batch counts as good
//! only when it verifies and none of its keys or `R` values is of small
//! order (the cases `verify_strict` rejects that a batch may accept);
//! otherwise every signature of the batch is checked with `verify_strict`,
//! which also names the first bad one.

use crate::event::{signing_message, PublicKey};
use curve25519_dalek::constants::EIGHT_TORSION;
use ed25519_dalek::VerifyingKey;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One signature to check: the entry's seq, the signed event bytes (without
/// the signing context), the signature and the key it must verify with.
#[derive(Clone, Debug)]
pub struct SigCheck {
    pub seq: u64,
    pub event_bytes: Vec<u8>,
    pub signature: [u8; 64],
    pub key: PublicKey,
    /// The key, decompressed and usable in a batch (`None` when it does not
    /// decode or is of small order: such a signature takes the strict path).
    pub vk: Option<VerifyingKey>,
}

impl SigCheck {
    /// `verify_strict`, as the ledger does on append.
    pub fn verify_strict(&self) -> bool {
        let Ok(vk) = self.key.verifying_key() else { return false };
        let sig = ed25519_dalek::Signature::from_bytes(&self.signature);
        vk.verify_strict(&signing_message(&self.event_bytes), &sig).is_ok()
    }
}

/// Decompressed keys, so that each key's point is decoded once per run,
/// not once per signature (decoding costs about a quarter of a verify).
#[derive(Default)]
pub struct KeyCache {
    keys: HashMap<[u8; 32], Option<VerifyingKey>>,
}

impl KeyCache {
    /// The batch-usable key for `k` (`None` if invalid or weak).
    pub fn get(&mut self, k: &PublicKey) -> Option<VerifyingKey> {
        *self.keys.entry(k.0).or_insert_with(|| k.verifying_key().ok().filter(|vk| !vk.is_weak()))
    }
    /// A check for entry `seq`.
    pub fn check(&mut self, seq: u64, event_bytes: Vec<u8>, signature: [u8; 64], key: PublicKey) -> SigCheck {
        let vk = self.get(&key);
        SigCheck { seq, event_bytes, signature, key, vk }
    }
}

/// The canonical y coordinates (sign bit cleared) of the eight small-order points.
fn small_order_ys() -> &'static [[u8; 32]] {
    static YS: OnceLock<Vec<[u8; 32]>> = OnceLock::new();
    YS.get_or_init(|| {
        let mut ys: Vec<[u8; 32]> = EIGHT_TORSION
            .iter()
            .map(|p| {
                let mut y = p.compress().to_bytes();
                y[31] &= 0x7f;
                y
            })
            .collect();
        ys.sort_unstable();
        ys.dedup();
        ys
    })
}

/// Whether a point encoding (such as a signature's `R`) names a point of
/// small order, canonical or not. Cheap: compares the y coordinate, reduced
/// modulo p = 2^255 - 19, with the five y values of the eight-torsion points.
pub fn is_small_order_encoding(enc: &[u8; 32]) -> bool {
    let mut y = *enc;
    y[31] &= 0x7f;
    // Values p..2^255-1 (non-canonical) reduce to 0..18.
    let ge_p = y[31] == 0x7f && y[1..31].iter().all(|b| *b == 0xff) && y[0] >= 0xed;
    if ge_p {
        let low = y[0] - 0xed;
        y = [0u8; 32];
        y[0] = low;
    }
    small_order_ys().contains(&y)
}

/// The lowest seq among `items` whose signature fails `verify_strict`, or
/// `None` when all verify. One `verify_batch` call when the batch is clean.
pub fn first_bad(items: &[SigCheck]) -> Option<u64> {
    if items.is_empty() {
        return None;
    }
    if batch_ok(items) {
        return None;
    }
    items.iter().filter(|c| !c.verify_strict()).map(|c| c.seq).min()
}

fn batch_ok(items: &[SigCheck]) -> bool {
    let mut vks = Vec::with_capacity(items.len());
    for c in items {
        let r: &[u8; 32] = c.signature.first_chunk().unwrap_or(&[0u8; 32]);
        if is_small_order_encoding(r) {
            return false;
        }
        match c.vk {
            Some(vk) => vks.push(vk),
            None => return false,
        }
    }
    let msgs: Vec<Vec<u8>> = items.iter().map(|c| signing_message(&c.event_bytes)).collect();
    let msg_refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let sigs: Vec<ed25519_dalek::Signature> =
        items.iter().map(|c| ed25519_dalek::Signature::from_bytes(&c.signature)).collect();
    ed25519_dalek::verify_batch(&msg_refs, &sigs, &vks).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::test_key;
    use ed25519_dalek::Signer;

    fn item(seq: u64, label: &str, msg: &[u8]) -> SigCheck {
        let k = test_key(label);
        let sig = k.sign(&signing_message(msg)).to_bytes();
        KeyCache::default().check(seq, msg.to_vec(), sig, PublicKey::from(&k))
    }

    #[test]
    fn small_order_encodings_are_recognised() {
        for p in EIGHT_TORSION.iter() {
            let enc = p.compress().to_bytes();
            assert!(is_small_order_encoding(&enc));
            let mut neg = enc;
            neg[31] ^= 0x80;
            assert!(is_small_order_encoding(&neg));
        }
        // Non-canonical encodings of y = 0 and y = 1: p and p + 1.
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(is_small_order_encoding(&p));
        p[0] = 0xee;
        assert!(is_small_order_encoding(&p));
        assert_eq!(small_order_ys().len(), 5);
        // Real signatures' R values are not small order.
        for i in 0..50u64 {
            let c = item(i, "K", &i.to_be_bytes());
            assert!(!is_small_order_encoding(c.signature.first_chunk().unwrap()));
        }
    }

    #[test]
    fn first_bad_names_the_lowest_bad_seq() {
        let mut items: Vec<SigCheck> = (0..300u64).map(|i| item(i, &format!("K{}", i % 7), &i.to_be_bytes())).collect();
        assert_eq!(first_bad(&items), None);
        items[250].signature[40] ^= 1;
        items[17].event_bytes.push(0);
        assert_eq!(first_bad(&items), Some(17));
        // A small-order R forces the strict path, which rejects it.
        let mut items: Vec<SigCheck> = (0..10u64).map(|i| item(i, "K", &i.to_be_bytes())).collect();
        items[3].signature[..32].copy_from_slice(&EIGHT_TORSION[1].compress().to_bytes());
        assert_eq!(first_bad(&items), Some(3));
    }
}
