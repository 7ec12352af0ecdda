//! The one Ed25519 acceptance criterion (docs/formats.md, section 4.1).
//!
//! Every signature the project checks (events on append, in batches of any
//! size, on `import-ledger`, in `verify`, in certificates, checkpoint notes)
//! is accepted or refused by [`verify`] and nothing else. Batch verification
//! (`crate::sigbatch`) is a fast path for exactly this predicate: it uses the
//! same prechecks and the same *cofactored* equation, so it can never accept
//! what [`verify`] refuses, nor refuse what it accepts (except with
//! probability about 2^-125 per batch, over the batch's random weights).
//!
//! A signature `(R, s)` by key `A` on message `M` is valid when all hold:
//! 1. `s` (bytes 32..64, little-endian) is less than ℓ = 2^252 +
//!    27742317777372353535851937790883648493 (RFC 8032 §5.1.7 step 1);
//! 2. `R` and `A` are *canonical* encodings of curve points: the 255-bit y
//!    is less than p = 2^255 − 19, the point is on the curve, and the sign
//!    bit is clear when x = 0 (y = 1 or y = p − 1);
//! 3. `A` is not of small order (the identity and the seven other points of
//!    order dividing 8);
//! 4. with k = SHA-512(R ‖ A ‖ M) read little-endian and reduced mod ℓ, the
//!    cofactored equation `[8]([s]B − R − [k]A) = 0` holds.
//!
//! Mixed-order and small-order `R` values are accepted when the equation
//! holds (a torsion component in `R` is multiplied away by the cofactor); the
//! verdict depends only on the bytes of `A`, `M` and the signature.
//! Registering a key asks more ([`check_registrable_key`]): a key must lie in
//! the prime-order subgroup, so that one point has one encoding and one key.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};

/// Why a signature or key is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// `s` is not less than ℓ.
    #[error("its s is not reduced modulo the group order (non-canonical s)")]
    NonCanonicalS,
    /// `R` is not the canonical encoding of a curve point.
    #[error("its R is not the canonical encoding of a curve point")]
    NonCanonicalR,
    /// The key is not the canonical encoding of a curve point.
    #[error("the key is not the canonical encoding of a curve point")]
    NonCanonicalKey,
    /// The key is a point of small order.
    #[error("the key is a point of small order")]
    SmallOrderKey,
    /// The encodings are fine but `[8]([s]B − R − [k]A) ≠ 0`.
    #[error("the signature equation does not hold")]
    Equation,
}

/// Why a public key may not be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not the canonical encoding of a curve point (y ≥ p, not on the curve,
    /// or x = 0 with the sign bit set).
    #[error("is not the canonical encoding of an Ed25519 point")]
    NonCanonical,
    /// A point of small order (a "weak" key anyone can sign for).
    #[error("is a weak (small-order) key")]
    SmallOrder,
    /// A point with a small-order component: outside the prime-order subgroup.
    #[error("has a small-order component (it is not in the prime-order subgroup)")]
    Torsion,
}

/// The field prime p = 2^255 − 19, little-endian.
const P: [u8; 32] = {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// Whether `enc` is the canonical encoding of *some* field element pair:
/// y < p, and the sign bit is clear when x must be 0 (y = 1 or y = p − 1).
/// (Whether the point is on the curve is decided by decompression.)
pub fn is_canonical_encoding(enc: &[u8; 32]) -> bool {
    let mut y = *enc;
    let sign = y[31] >> 7;
    y[31] &= 0x7f;
    // y < p, compared from the most significant byte down.
    let lt_p = {
        let mut lt = false;
        let mut decided = false;
        for i in (0..32).rev() {
            if !decided && y[i] != P[i] {
                lt = y[i] < P[i];
                decided = true;
            }
        }
        lt
    };
    if !lt_p {
        return false;
    }
    if sign == 1 {
        let mut one = [0u8; 32];
        one[0] = 1;
        let mut minus_one = P;
        minus_one[0] -= 1;
        if y == one || y == minus_one {
            return false;
        }
    }
    true
}

/// Decompress a canonical encoding (`None` if non-canonical or not on the curve).
pub fn decode_point(enc: &[u8; 32]) -> Option<EdwardsPoint> {
    if !is_canonical_encoding(enc) {
        return None;
    }
    CompressedEdwardsY(*enc).decompress()
}

/// A public key that passed checks 2 and 3 of the criterion, decompressed
/// once so that many signatures by it are cheap to check.
#[derive(Clone, Copy, Debug)]
pub struct PreparedKey {
    bytes: [u8; 32],
    point: EdwardsPoint,
}

impl PreparedKey {
    /// Check the key's encoding and order.
    pub fn new(bytes: &[u8; 32]) -> Result<PreparedKey, SigError> {
        let point = decode_point(bytes).ok_or(SigError::NonCanonicalKey)?;
        if point.is_small_order() {
            return Err(SigError::SmallOrderKey);
        }
        Ok(PreparedKey { bytes: *bytes, point })
    }
    /// The key's 32 bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
    /// The decompressed point.
    pub fn point(&self) -> &EdwardsPoint {
        &self.point
    }
}

/// k = SHA-512(R ‖ A ‖ M) mod ℓ, with `M` given as parts (so that the
/// signing context and the event bytes need not be concatenated).
pub fn challenge(r: &[u8; 32], a: &[u8; 32], msg_parts: &[&[u8]]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    for p in msg_parts {
        h.update(p);
    }
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// The parts of a signature that pass checks 1 and 2: `R` decompressed, `s` as a scalar.
pub fn decode_signature(sig: &[u8; 64]) -> Result<(EdwardsPoint, Scalar), SigError> {
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&sig[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or(SigError::NonCanonicalS)?;
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&sig[..32]);
    let r = decode_point(&r_bytes).ok_or(SigError::NonCanonicalR)?;
    Ok((r, s))
}

/// The criterion for a key already prepared, the message given as parts.
pub fn verify_prepared(key: &PreparedKey, msg_parts: &[&[u8]], sig: &[u8; 64]) -> Result<(), SigError> {
    let (r, s) = decode_signature(sig)?;
    let r_bytes: &[u8; 32] = sig.first_chunk().ok_or(SigError::NonCanonicalR)?;
    let k = challenge(r_bytes, &key.bytes, msg_parts);
    // [s]B − [k]A − R, times the cofactor.
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &(-key.point), &s);
    if (sb_minus_ka - r).mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(SigError::Equation)
    }
}

/// The project's Ed25519 acceptance criterion (module docs): `Ok` exactly
/// when `sig` is a valid signature by `key` on `msg`.
pub fn verify(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), SigError> {
    verify_prepared(&PreparedKey::new(key)?, &[msg], sig)
}

/// What a key must satisfy to be registered (genesis authority key, actor
/// keys, rotated-in keys): a canonical encoding of a point in the
/// prime-order subgroup other than the identity. Signature checks only ask
/// for checks 2 and 3; this stricter rule makes "one point, one key".
pub fn check_registrable_key(bytes: &[u8; 32]) -> Result<(), KeyError> {
    let p = decode_point(bytes).ok_or(KeyError::NonCanonical)?;
    if p.is_small_order() {
        return Err(KeyError::SmallOrder);
    }
    if !p.is_torsion_free() {
        return Err(KeyError::Torsion);
    }
    Ok(())
}

/// The base point B (for the batch equation).
pub(crate) fn basepoint() -> EdwardsPoint {
    ED25519_BASEPOINT_POINT
}

/// How [`dangerous_craft`] makes a signature: the edge cases of the
/// criterion, made with a real secret key over a real message.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Craft {
    /// An ordinary signature (deterministic nonce).
    Honest,
    /// `R = [r]B + T` for the torsion point `EIGHT_TORSION[j]` (j in 1..8):
    /// a mixed-order `R`; `s = r + k·a`. Valid under the cofactored equation
    /// only (what `verify_strict` refuses and `verify_batch` accepts by chance).
    TorsionR(usize),
    /// `R = EIGHT_TORSION[j]` (small order), `s = k·a`. Valid (cofactored).
    SmallOrderR(usize),
    /// `R` given as raw bytes that must be a non-canonical encoding of a
    /// small-order point, `s = k·a`: the equation holds, the encoding is refused.
    NonCanonicalR([u8; 32]),
    /// An honest signature with `s + ℓ` in place of `s`.
    NonCanonicalS,
    /// An honest signature with the lowest bit of `s` flipped: the equation fails.
    FlippedS,
}

/// Sign `msg_parts` with `sk` the way `how` says. Only for building test
/// vectors: most of these signatures are deliberately malformed.
#[doc(hidden)]
pub fn dangerous_craft(sk: &ed25519_dalek::SigningKey, msg_parts: &[&[u8]], how: Craft) -> [u8; 64] {
    use curve25519_dalek::constants::EIGHT_TORSION;
    let a = sk.to_scalar();
    let a_bytes = sk.verifying_key().to_bytes();
    let mut nonce = Sha512::new();
    nonce.update(b"tinledger crafted nonce");
    nonce.update(sk.to_bytes());
    for p in msg_parts {
        nonce.update(p);
    }
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&nonce.finalize());
    let r = Scalar::from_bytes_mod_order_wide(&wide);
    let (r_bytes, s) = match how {
        Craft::Honest | Craft::NonCanonicalS | Craft::FlippedS => {
            let rb = EdwardsPoint::mul_base(&r).compress().to_bytes();
            (rb, r + challenge(&rb, &a_bytes, msg_parts) * a)
        }
        Craft::TorsionR(j) => {
            let rb = (EdwardsPoint::mul_base(&r) + EIGHT_TORSION[j % 8]).compress().to_bytes();
            (rb, r + challenge(&rb, &a_bytes, msg_parts) * a)
        }
        Craft::SmallOrderR(j) => {
            let rb = EIGHT_TORSION[j % 8].compress().to_bytes();
            (rb, challenge(&rb, &a_bytes, msg_parts) * a)
        }
        Craft::NonCanonicalR(rb) => (rb, challenge(&rb, &a_bytes, msg_parts) * a),
    };
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r_bytes);
    let mut s_bytes = s.to_bytes();
    match how {
        Craft::NonCanonicalS => s_bytes = add_ell(&s_bytes),
        Craft::FlippedS => s_bytes[0] ^= 1,
        _ => {}
    }
    sig[32..].copy_from_slice(&s_bytes);
    sig
}

/// s + ℓ as 32 little-endian bytes (fits: s < ℓ < 2^253).
fn add_ell(s: &[u8; 32]) -> [u8; 32] {
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = s[i] as u16 + ELL[i] as u16 + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn canonical_check_matches_decompress_then_compress() {
        // Random-ish encodings plus every edge: y near p, y = ±1 with either sign.
        let mut cases: Vec<[u8; 32]> = Vec::new();
        for i in 0u32..4000 {
            let d = Sha512::digest(i.to_le_bytes());
            let mut e = [0u8; 32];
            e.copy_from_slice(&d[..32]);
            cases.push(e);
        }
        for low in 0u8..=40 {
            for sign in [0u8, 0x80] {
                let mut e = P;
                e[0] = e[0].wrapping_sub(20).wrapping_add(low);
                e[31] = 0x7f | sign;
                cases.push(e);
                let mut small = [0u8; 32];
                small[0] = low;
                small[31] = sign;
                cases.push(small);
            }
        }
        for p in EIGHT_TORSION.iter() {
            cases.push(p.compress().to_bytes());
        }
        let mut on_curve = 0;
        for e in cases {
            let roundtrip = CompressedEdwardsY(e).decompress().map(|p| p.compress().to_bytes() == e);
            match roundtrip {
                // On the curve: canonical exactly when re-encoding gives the same bytes.
                Some(same) => {
                    on_curve += 1;
                    assert_eq!(is_canonical_encoding(&e), same, "{}", hex::encode(e));
                    assert_eq!(decode_point(&e).is_some(), same);
                }
                None => assert!(decode_point(&e).is_none()),
            }
        }
        assert!(on_curve > 1000);
    }

    #[test]
    fn honest_signatures_verify_and_tampering_is_named() {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let a = sk.verifying_key().to_bytes();
        let msg = b"tin";
        let sig = sk.sign(msg).to_bytes();
        assert_eq!(verify(&a, msg, &sig), Ok(()));
        assert_eq!(verify(&a, b"tim", &sig), Err(SigError::Equation));
        // s + ℓ: the same equation, a non-canonical scalar.
        let mut high = sig;
        high[32..].copy_from_slice(&add_ell(sig[32..].try_into().unwrap()));
        assert_eq!(verify(&a, msg, &high), Err(SigError::NonCanonicalS));
        // A small-order key.
        let weak = EIGHT_TORSION[1].compress().to_bytes();
        assert_eq!(verify(&weak, msg, &sig), Err(SigError::SmallOrderKey));
        assert_eq!(check_registrable_key(&weak), Err(KeyError::SmallOrder));
        assert_eq!(check_registrable_key(&a), Ok(()));
        // A key with a torsion component signs fine but may not be registered.
        let mixed = (sk.verifying_key().to_edwards() + EIGHT_TORSION[2]).compress().to_bytes();
        assert_eq!(check_registrable_key(&mixed), Err(KeyError::Torsion));
    }
}
