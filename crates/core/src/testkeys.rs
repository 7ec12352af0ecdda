//! Deterministic TEST keys for fixtures, golden vectors and the demo.
//!
//! The seed of the key labelled `L` is SHA-256("tinledger TEST key, never use: " || L).
//! Anyone can recompute these keys: they protect nothing.

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

/// Prefix hashed with a label to make a test key's seed.
pub const TEST_KEY_PREFIX: &str = "tinledger TEST key, never use: ";

/// The deterministic test key for `label` (an actor id, or `ID#2` after a rotation).
pub fn test_key(label: &str) -> SigningKey {
    let mut h = Sha256::new();
    h.update(TEST_KEY_PREFIX.as_bytes());
    h.update(label.as_bytes());
    SigningKey::from_bytes(&h.finalize().into())
}
