//! RFC 6962 / RFC 9162 Merkle trees over ledger entries.
//!
//! Leaf hash = SHA-256(0x00 ‖ canonical entry bytes); interior node =
//! SHA-256(0x01 ‖ left ‖ right). Proof generation reads *complete*
//! subtree hashes through [`NodeReader`] (level `l`, index `i` = the hash of
//! leaves `i·2^l .. (i+1)·2^l`), so a store that keeps every complete subtree
//! answers any proof with O(log n) reads. Verification follows RFC 9162
//! §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) and needs no store.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf, an interior node or a root.
pub type Hash = [u8; 32];

/// SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Why a proof could not be made or did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// An inclusion proof was asked for a leaf the tree does not have.
    #[error("leaf {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("cannot prove consistency from size {old} to smaller size {new}")]
    BadSizes {
        /// The first tree size.
        old: u64,
        /// The second, smaller tree size.
        new: u64,
    },
    /// The proof has too few or too many hashes for its index and tree size.
    #[error("proof has the wrong number of hashes")]
    WrongLength,
    /// The proof is well formed but does not lead to the expected root.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    /// Reading stored subtree hashes failed (or one is missing).
    #[error("storage: {0}")]
    Storage(String),
}

/// Reads stored complete-subtree hashes.
pub trait NodeReader {
    /// Hash of the complete subtree at `level`, `index`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError>;

    /// MTH(D\[lo:hi\]); see [`range_hash`]. Readers may memoize it.
    fn range(&self, lo: u64, hi: u64) -> Result<Hash, ProofError> {
        range_hash_uncached(self, lo, hi)
    }
}

/// Memoizes node reads and range hashes: many proofs against one tree size
/// share the subtrees along its right edge.
pub struct CachingReader<'a, R: NodeReader + ?Sized> {
    inner: &'a R,
    nodes: std::cell::RefCell<std::collections::HashMap<(u8, u64), Hash>>,
    ranges: std::cell::RefCell<std::collections::HashMap<(u64, u64), Hash>>,
}

impl<'a, R: NodeReader + ?Sized> CachingReader<'a, R> {
    /// A cache in front of `inner`, empty; it lives as long as the borrow.
    pub fn new(inner: &'a R) -> Self {
        CachingReader { inner, nodes: Default::default(), ranges: Default::default() }
    }
}

impl<R: NodeReader + ?Sized> NodeReader for CachingReader<'_, R> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        if let Some(h) = self.nodes.borrow().get(&(level, index)) {
            return Ok(*h);
        }
        let h = self.inner.node(level, index)?;
        self.nodes.borrow_mut().insert((level, index), h);
        Ok(h)
    }
    fn range(&self, lo: u64, hi: u64) -> Result<Hash, ProofError> {
        if let Some(h) = self.ranges.borrow().get(&(lo, hi)) {
            return Ok(*h);
        }
        let h = range_hash_uncached(self, lo, hi)?;
        self.ranges.borrow_mut().insert((lo, hi), h);
        Ok(h)
    }
}

/// The complete subtrees that appending leaf `n` completes: `(level, index)`
/// pairs, lowest first, each the parent of the one before. A store that
/// writes the leaf hash at (0, n) and then these nodes keeps every complete
/// subtree.
pub fn completed_by_append(n: u64) -> Vec<(u8, u64)> {
    let mut out = Vec::new();
    let mut level = 0u8;
    let mut index = n;
    while index & 1 == 1 {
        level += 1;
        index >>= 1;
        out.push((level, index));
    }
    out
}

fn largest_pow2_below(n: u64) -> u64 {
    // n >= 2
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D\[lo:hi\]) (RFC 9162 §2.1.1), for ranges that arise in proofs: `lo`
/// is a multiple of the largest power of two not exceeding `hi - lo`.
pub fn range_hash(r: &impl NodeReader, lo: u64, hi: u64) -> Result<Hash, ProofError> {
    r.range(lo, hi)
}

fn range_hash_uncached<R: NodeReader + ?Sized>(r: &R, lo: u64, hi: u64) -> Result<Hash, ProofError> {
    let n = hi - lo;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        return r.node(n.trailing_zeros() as u8, lo / n);
    }
    let k = largest_pow2_below(n);
    Ok(node_hash(&r.range(lo, lo + k)?, &r.range(lo + k, hi)?))
}

/// The root of a tree of `size` leaves.
pub fn root(r: &impl NodeReader, size: u64) -> Result<Hash, ProofError> {
    range_hash(r, 0, size)
}

/// Inclusion proof for leaf `index` in a tree of `size` (RFC 9162 §2.1.3.1),
/// leaf to root.
pub fn inclusion_proof(r: &impl NodeReader, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path(r, index, 0, size, &mut out)?;
    Ok(out)
}

fn path(r: &impl NodeReader, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Result<(), ProofError> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = largest_pow2_below(n);
    if m < lo + k {
        path(r, m, lo, lo + k, out)?;
        out.push(range_hash(r, lo + k, hi)?);
    } else {
        path(r, m, lo + k, hi, out)?;
        out.push(range_hash(r, lo, lo + k)?);
    }
    Ok(())
}

/// Consistency proof between sizes `old` and `new` (RFC 9162 §2.1.4.1).
pub fn consistency_proof(r: &impl NodeReader, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    let mut out = Vec::new();
    if old == 0 || old == new {
        return Ok(out);
    }
    subproof(r, old, 0, new, true, &mut out)?;
    Ok(out)
}

fn subproof(r: &impl NodeReader, m: u64, lo: u64, hi: u64, b: bool, out: &mut Vec<Hash>) -> Result<(), ProofError> {
    let n = hi - lo;
    if m == n {
        if !b {
            out.push(range_hash(r, lo, hi)?);
        }
        return Ok(());
    }
    let k = largest_pow2_below(n);
    if m <= k {
        subproof(r, m, lo, lo + k, b, out)?;
        out.push(range_hash(r, lo + k, hi)?);
    } else {
        subproof(r, m - k, lo + k, hi, false, out)?;
        out.push(range_hash(r, lo, lo + k)?);
    }
    Ok(())
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verify a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if old == 0 {
        // Every tree extends the empty tree, whose root is SHA-256("").
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == &empty_root() { Ok(()) } else { Err(ProofError::RootMismatch) };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let mut fn_ = old - 1;
    let mut sn = new - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != old_root || &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// An in-memory tree that keeps every complete subtree: the reference the
/// store is tested against, and handy for tests and certificates.
#[derive(Clone, Debug, Default)]
pub struct MemTree {
    /// levels[l][i] = complete subtree hash at level l, index i.
    levels: Vec<Vec<Hash>>,
}

impl MemTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }
    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }
    /// Append a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let n = self.size();
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        for (level, index) in completed_by_append(n) {
            let l = level as usize;
            let below = &self.levels[l - 1];
            let h = node_hash(&below[(2 * index) as usize], &below[(2 * index + 1) as usize]);
            if self.levels.len() <= l {
                self.levels.push(Vec::new());
            }
            self.levels[l].push(h);
        }
    }
    /// Root hash over every leaf (RFC 9162 MTH); [`empty_root`] when empty.
    pub fn root(&self) -> Hash {
        root(self, self.size()).unwrap_or_else(|_| empty_root())
    }
}

impl NodeReader for MemTree {
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or_else(|| ProofError::Storage(format!("no node at level {level} index {index}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straight from the RFC 9162 §2.1.1 definition, for comparison.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_pow2_below(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn tree(n: u64) -> (MemTree, Vec<Hash>) {
        let mut t = MemTree::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let l = leaf_hash(format!("leaf-{i}").as_bytes());
            t.push(l);
            leaves.push(l);
        }
        (t, leaves)
    }

    #[test]
    fn roots_match_definition() {
        let (t, leaves) = tree(300);
        for n in 0..=300u64 {
            assert_eq!(root(&t, n).unwrap(), mth(&leaves[..n as usize]), "size {n}");
        }
    }

    #[test]
    fn every_inclusion_proof_up_to_300() {
        let (t, leaves) = tree(300);
        for size in 1..=300u64 {
            let r = root(&t, size).unwrap();
            for i in 0..size {
                let p = inclusion_proof(&t, i, size).unwrap();
                verify_inclusion(&leaves[i as usize], i, size, &p, &r).unwrap();
                // A wrong leaf or index fails.
                let other = leaves[((i + 1) % size) as usize];
                if size > 1 {
                    assert!(verify_inclusion(&other, i, size, &p, &r).is_err());
                }
            }
        }
    }

    #[test]
    fn consistency_between_all_sizes_up_to_100() {
        let (t, _) = tree(100);
        for new in 0..=100u64 {
            let nr = root(&t, new).unwrap();
            for old in 0..=new {
                let or = root(&t, old).unwrap();
                let p = consistency_proof(&t, old, new).unwrap();
                verify_consistency(old, new, &or, &nr, &p).unwrap_or_else(|e| panic!("{old}->{new}: {e}"));
                if old > 0 && old < new {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_consistency(old, new, &or, &nr, &bad).is_err());
                    assert!(verify_consistency(old, new, &nr, &nr, &p).is_err() || or == nr);
                }
            }
        }
    }

    #[test]
    fn consistency_from_empty_checks_the_empty_root() {
        let (t, _) = tree(5);
        let r = root(&t, 5).unwrap();
        verify_consistency(0, 5, &empty_root(), &r, &[]).unwrap();
        assert!(verify_consistency(0, 5, &r, &r, &[]).is_err());
    }

    #[test]
    fn completed_nodes() {
        assert_eq!(completed_by_append(0), vec![]);
        assert_eq!(completed_by_append(1), vec![(1, 0)]);
        assert_eq!(completed_by_append(3), vec![(1, 1), (2, 0)]);
        assert_eq!(completed_by_append(6), vec![]);
        assert_eq!(completed_by_append(7), vec![(1, 3), (2, 1), (3, 0)]);
    }
}
