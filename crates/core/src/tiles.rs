//! C2SP `tlog-tiles` (c2sp.org/tlog-tiles): the log as hash tiles and entry
//! bundles, pure and without I/O.
//!
//! - A **hash tile** at level `L`, index `N` holds up to 256 consecutive
//!   Merkle hashes of tree level `8·L` (subtrees of `256^L` leaves), 32 bytes
//!   each, starting at hash `256·N`. Full tiles hold 256; the right edge is a
//!   *partial* tile of width `W` (1..=255): the first `W` hashes of the full
//!   tile it will become, so every partial is a prefix of its full tile.
//! - An **entry bundle** `N` holds entries `256·N ..`, each prefixed by its
//!   length as a big-endian uint16 (so an entry is at most 65,535 bytes).
//! - Paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, `N` in
//!   3-digit groups with an `x` before all but the last (1234067 →
//!   `x001/x234/067`).
//!
//! [`TileReader`] answers [`merkle::NodeReader`] from tiles: a node at tree
//! level `8·L + j` is the root of `2^j` hashes of one level-`L` tile, so any
//! proof costs one tile read per tile level it touches (docs/formats.md §5.3).

use crate::merkle::{self, Hash, NodeReader, ProofError};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Tile height: a full tile spans 8 tree levels.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full hash tile, entries in a full bundle.
pub const TILE_WIDTH: u64 = 256;
/// Bytes of one hash in a hash tile.
pub const HASH_LEN: usize = 32;
/// Largest entry a bundle can hold (its length is a big-endian uint16).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;
/// Highest tile level a path may name (the spec's bound).
pub const MAX_LEVEL: u8 = 63;

/// Why a tile, a bundle or a path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// A path that is not a C2SP tile or bundle path, with what is wrong.
    #[error("not a tile path: {0}")]
    Path(String),
    /// A hash tile whose length is not 1..=256 hashes of 32 bytes.
    #[error("hash tile of {0} bytes: a tile holds 1 to 256 hashes of 32 bytes")]
    TileLength(usize),
    /// A bundle with no entries or more than 256.
    #[error("entry bundle of {0} entries: a bundle holds 1 to 256")]
    BundleWidth(usize),
    /// A bundle that ends inside a length prefix or an entry.
    #[error("entry bundle is truncated in entry {index}")]
    Truncated {
        /// Position in the bundle of the entry cut short.
        index: usize,
    },
    /// An entry longer than a uint16 length prefix can say.
    #[error("entry {index} is {len} bytes, more than the 65535 a bundle can hold")]
    EntryTooLong {
        /// Position of the entry in the bundle.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A bundle decoded to a different width than the one expected.
    #[error("entry bundle holds {found} entries where {expected} were expected")]
    WrongWidth {
        /// Width the caller expected.
        expected: usize,
        /// Width found.
        found: usize,
    },
}

/// What a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileKind {
    /// A hash tile at this tile level.
    Hash(u8),
    /// An entry bundle.
    Entries,
}

/// One tile or bundle, full (`width` 256) or partial (`width` 1..=255).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    /// Hash tile level or entry bundle.
    pub kind: TileKind,
    /// Index within its level.
    pub index: u64,
    /// Hashes or entries it holds, 1..=256.
    pub width: u16,
}

impl TileId {
    /// Whether it is a full (immutable) tile.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Strictly parse `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`:
    /// canonical groups only (no leading `x000`, exactly three digits each),
    /// `L` and `W` decimal without leading zeros, `W` in 1..=255.
    pub fn parse(path: &str) -> Result<TileId, TileError> {
        let bad = |m: &str| TileError::Path(format!("{m} in {path:?}"));
        let rest = path.strip_prefix("tile/").ok_or_else(|| bad("no `tile/` prefix"))?;
        let (kind, rest) = match rest.split_once('/') {
            Some(("entries", r)) => (TileKind::Entries, r),
            Some((l, r)) => {
                let level = parse_decimal(l, u64::from(MAX_LEVEL)).ok_or_else(|| bad("bad level"))?;
                (TileKind::Hash(level as u8), r)
            }
            None => return Err(bad("no index")),
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = parse_decimal(w, TILE_WIDTH - 1).filter(|w| *w >= 1).ok_or_else(|| bad("bad width"))?;
                (i, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index_part).ok_or_else(|| bad("bad index"))?;
        Ok(TileId { kind, index, width })
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hash(l) => write!(f, "tile/{l}/{}", format_index(self.index))?,
            TileKind::Entries => write!(f, "tile/entries/{}", format_index(self.index))?,
        }
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// `n` in 3-digit groups, `x` before all but the last: 1234067 → `x001/x234/067`.
pub fn format_index(n: u64) -> String {
    let mut groups = vec![n % 1000];
    let mut m = n / 1000;
    while m > 0 {
        groups.push(m % 1000);
        m /= 1000;
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i + 1 < groups.len() {
            out.push('x');
        }
        out.push_str(&format!("{g:03}"));
    }
    out
}

fn parse_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let (last, groups) = parts.split_last()?;
    let mut n: u64 = 0;
    for (i, g) in groups.iter().enumerate() {
        let d = g.strip_prefix('x')?;
        // A leading zero group would be a second spelling of a smaller path.
        if i == 0 && d == "000" {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(three_digits(d)?)?;
    }
    n.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok().filter(|v| *v <= max)
}

/// Encode entries as a bundle: each prefixed by its big-endian uint16 length.
/// Refuses an empty bundle, more than 256 entries, or an entry over 65,535 bytes.
pub fn encode_bundle<B: AsRef<[u8]>>(entries: &[B]) -> Result<Vec<u8>, TileError> {
    if entries.is_empty() || entries.len() as u64 > TILE_WIDTH {
        return Err(TileError::BundleWidth(entries.len()));
    }
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for (index, e) in entries.iter().enumerate() {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLong { index, len: e.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Byte ranges of the entries of a bundle, strictly: 1..=256 entries, every
/// length prefix complete, no trailing bytes.
pub fn bundle_ranges(b: &[u8]) -> Result<Vec<std::ops::Range<usize>>, TileError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < b.len() {
        let index = out.len();
        if index as u64 == TILE_WIDTH {
            return Err(TileError::BundleWidth(index + 1));
        }
        let len = match b.get(at..at + 2) {
            Some(p) => usize::from(u16::from_be_bytes([p[0], p[1]])),
            None => return Err(TileError::Truncated { index }),
        };
        let start = at + 2;
        let end = start + len;
        if end > b.len() {
            return Err(TileError::Truncated { index });
        }
        out.push(start..end);
        at = end;
    }
    if out.is_empty() {
        return Err(TileError::BundleWidth(0));
    }
    Ok(out)
}

/// Decode a bundle into its entries (see [`bundle_ranges`]).
pub fn decode_bundle(b: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    Ok(bundle_ranges(b)?.into_iter().map(|r| &b[r]).collect())
}

/// Encode hashes as a hash tile (their concatenation); 1..=256 of them.
pub fn encode_tile(hashes: &[Hash]) -> Result<Vec<u8>, TileError> {
    if hashes.is_empty() || hashes.len() as u64 > TILE_WIDTH {
        return Err(TileError::TileLength(hashes.len() * HASH_LEN));
    }
    Ok(hashes.concat())
}

/// Decode a hash tile strictly: a multiple of 32 bytes, 1..=256 hashes.
pub fn decode_tile(b: &[u8]) -> Result<Vec<Hash>, TileError> {
    if b.is_empty() || !b.len().is_multiple_of(HASH_LEN) || b.len() as u64 > TILE_WIDTH * HASH_LEN as u64 {
        return Err(TileError::TileLength(b.len()));
    }
    Ok(b.chunks_exact(HASH_LEN).map(|c| c.try_into().unwrap_or([0u8; 32])).collect())
}

/// Number of hashes at tile level `level` in a tree of `size` leaves
/// (complete subtrees of `256^level` leaves).
pub fn hashes_at_level(size: u64, level: u8) -> u64 {
    match 8u32.checked_mul(u32::from(level)) {
        Some(shift) if shift < 64 => size >> shift,
        _ => 0,
    }
}

/// Every hash tile and entry bundle that exists for a tree of `size`
/// leaves: full ones and the partial right edge of each level, bundles
/// last, each level in index order. (70,000 leaves: 273 full level-0 tiles
/// and a partial of 112, one full level-1 tile and a partial of 17, a
/// level-2 partial of 1; 273 full bundles and a partial of 112.)
pub fn tiles_for_size(size: u64) -> Vec<TileId> {
    let mut out = Vec::new();
    let mut level = 0u8;
    loop {
        let n = hashes_at_level(size, level);
        if n == 0 {
            break;
        }
        push_level(&mut out, TileKind::Hash(level), n);
        level += 1;
    }
    push_level(&mut out, TileKind::Entries, size);
    out
}

fn push_level(out: &mut Vec<TileId>, kind: TileKind, n: u64) {
    for index in 0..n / TILE_WIDTH {
        out.push(TileId { kind, index, width: TILE_WIDTH as u16 });
    }
    if !n.is_multiple_of(TILE_WIDTH) {
        out.push(TileId { kind, index: n / TILE_WIDTH, width: (n % TILE_WIDTH) as u16 });
    }
}

/// The straightforward reference: every tile and bundle of the tree over
/// `entries` (leaf = SHA-256(0x00 ‖ entry)), computed from the entries
/// alone with [`merkle::MemTree`]. Stores are tested against it.
pub fn reference_tiles<B: AsRef<[u8]>>(entries: &[B]) -> Result<BTreeMap<TileId, Vec<u8>>, TileError> {
    let mut tree = merkle::MemTree::new();
    for e in entries {
        tree.push(merkle::leaf_hash(e.as_ref()));
    }
    let mut out = BTreeMap::new();
    for id in tiles_for_size(entries.len() as u64) {
        let first = id.index * TILE_WIDTH;
        let bytes = match id.kind {
            TileKind::Entries => encode_bundle(&entries[first as usize..(first + u64::from(id.width)) as usize])?,
            TileKind::Hash(level) => {
                let hashes: Result<Vec<Hash>, ProofError> =
                    (first..first + u64::from(id.width)).map(|i| tree.node(TILE_HEIGHT * level, i)).collect();
                encode_tile(&hashes.map_err(|_| TileError::TileLength(0))?)?
            }
        };
        out.insert(id, bytes);
    }
    Ok(out)
}

/// The root of the 256 hashes of a full tile (or of any power-of-two run):
/// the Merkle node `8` tree levels above them.
pub fn subtree_root(hashes: &[Hash]) -> Hash {
    match hashes.len() {
        0 => merkle::empty_root(),
        1 => hashes[0],
        n => {
            let k = n / 2;
            merkle::node_hash(&subtree_root(&hashes[..k]), &subtree_root(&hashes[k..]))
        }
    }
}

/// The right edge of the hash tiles of a tree growing leaf by leaf: the
/// partial tile of every level (level 0 first). Full tiles leave it as they
/// complete, so a store writes each full tile once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileEdge {
    size: u64,
    partials: Vec<Vec<Hash>>,
}

impl TileEdge {
    /// The edge of the empty tree.
    pub fn new() -> TileEdge {
        TileEdge::default()
    }

    /// Resume at tree size `size` from the partial tiles a store kept, level
    /// 0 first. Refuses partials whose widths do not fit `size`.
    pub fn resume(size: u64, mut partials: Vec<Vec<Hash>>) -> Result<TileEdge, String> {
        let levels = (0..=MAX_LEVEL).take_while(|l| hashes_at_level(size, *l) > 0).count();
        partials.resize(levels.max(partials.len()), Vec::new());
        for (l, p) in partials.iter().enumerate() {
            let want = hashes_at_level(size, l as u8) % TILE_WIDTH;
            if p.len() as u64 != want {
                return Err(format!(
                    "the level-{l} edge tile holds {} hashes but a tree of {size} leaves needs {want}",
                    p.len()
                ));
            }
        }
        Ok(TileEdge { size, partials })
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of tile levels that hold a hash.
    pub fn levels(&self) -> u8 {
        self.partials.len() as u8
    }

    /// The partial tile of `level` (empty when that level's tiles are all full).
    pub fn partial(&self, level: u8) -> &[Hash] {
        self.partials.get(usize::from(level)).map_or(&[], Vec::as_slice)
    }

    /// Index of the partial tile of `level` (the next tile of that level).
    pub fn partial_index(&self, level: u8) -> u64 {
        hashes_at_level(self.size, level) / TILE_WIDTH
    }

    /// Add a leaf hash; return the full tiles it completes (level, index,
    /// 256 hashes), lowest level first.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u8, u64, Vec<Hash>)> {
        self.size += 1;
        let mut out = Vec::new();
        let mut h = leaf;
        let mut level = 0usize;
        loop {
            if self.partials.len() == level {
                self.partials.push(Vec::new());
            }
            self.partials[level].push(h);
            if self.partials[level].len() as u64 != TILE_WIDTH {
                return out;
            }
            let full = std::mem::take(&mut self.partials[level]);
            h = subtree_root(&full);
            let index = hashes_at_level(self.size, level as u8) / TILE_WIDTH - 1;
            out.push((level as u8, index, full));
            level += 1;
        }
    }
}

/// Where a store's hash tiles come from.
pub trait TileSource {
    /// The hashes of hash tile `level`/`index` as stored now: 256 for a full
    /// tile, the partial right edge otherwise; `None` if it does not exist.
    fn hash_tile(&self, level: u8, index: u64) -> Result<Option<Vec<Hash>>, ProofError>;
}

/// A tile's hashes, shared between the cache and a node read.
type SharedTile = std::rc::Rc<Vec<Hash>>;

/// [`NodeReader`] over a [`TileSource`], remembering the tiles it read: a
/// node at tree level `8·L + j` is the root of `2^j` hashes of one level-`L`
/// tile; a node at level `8·L` is read directly.
pub struct TileReader<'a, S: TileSource + ?Sized> {
    src: &'a S,
    tiles: RefCell<HashMap<(u8, u64), SharedTile>>,
}

impl<'a, S: TileSource + ?Sized> TileReader<'a, S> {
    /// A reader over `src`, with an empty cache.
    pub fn new(src: &'a S) -> Self {
        TileReader { src, tiles: RefCell::default() }
    }

    fn tile(&self, level: u8, index: u64) -> Result<SharedTile, ProofError> {
        if let Some(t) = self.tiles.borrow().get(&(level, index)) {
            return Ok(t.clone());
        }
        let t = self
            .src
            .hash_tile(level, index)?
            .ok_or_else(|| ProofError::Storage(format!("hash tile {level}/{index} is missing")))?;
        let t = std::rc::Rc::new(t);
        self.tiles.borrow_mut().insert((level, index), t.clone());
        Ok(t)
    }
}

impl<S: TileSource + ?Sized> NodeReader for TileReader<'_, S> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        let tl = level / TILE_HEIGHT;
        let j = u32::from(level % TILE_HEIGHT);
        let first = index.checked_shl(j).ok_or_else(|| ProofError::Storage(format!("no node {level}/{index}")))?;
        let tile = self.tile(tl, first / TILE_WIDTH)?;
        let at = (first % TILE_WIDTH) as usize;
        let run = tile.get(at..at + (1usize << j)).ok_or_else(|| {
            ProofError::Storage(format!(
                "hash tile {tl}/{} holds {} hashes, too few for node {level}/{index}",
                first / TILE_WIDTH,
                tile.len()
            ))
        })?;
        Ok(subtree_root(run))
    }
}

/// Hash tiles of a whole tree, in memory: a [`TileSource`] for tests and
/// the reference side of the property tests.
#[derive(Clone, Debug, Default)]
pub struct MemTiles {
    tiles: BTreeMap<(u8, u64), Vec<Hash>>,
}

impl MemTiles {
    /// The hash tiles of [`reference_tiles`]'s output.
    pub fn from_reference(tiles: &BTreeMap<TileId, Vec<u8>>) -> Result<MemTiles, TileError> {
        let mut out = MemTiles::default();
        for (id, bytes) in tiles {
            if let TileKind::Hash(l) = id.kind {
                out.tiles.insert((l, id.index), decode_tile(bytes)?);
            }
        }
        Ok(out)
    }
}

impl TileSource for MemTiles {
    fn hash_tile(&self, level: u8, index: u64) -> Result<Option<Vec<Hash>>, ProofError> {
        Ok(self.tiles.get(&(level, index)).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("entry-{i}").into_bytes()).collect()
    }

    #[test]
    fn paths_format_as_the_spec_says() {
        assert_eq!(format_index(0), "000");
        assert_eq!(format_index(999), "999");
        assert_eq!(format_index(1000), "x001/000");
        assert_eq!(format_index(1_234_067), "x001/x234/067");
        let t = TileId { kind: TileKind::Hash(1), index: 1_234_067, width: 17 };
        assert_eq!(t.to_string(), "tile/1/x001/x234/067.p/17");
        let b = TileId { kind: TileKind::Entries, index: 5, width: 256 };
        assert_eq!(b.to_string(), "tile/entries/005");
        for id in [t, b, TileId { kind: TileKind::Hash(0), index: u64::MAX, width: 1 }] {
            assert_eq!(TileId::parse(&id.to_string()), Ok(id));
        }
    }

    #[test]
    fn paths_parse_strictly() {
        for bad in [
            "tile/0/1",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/0/001/002",
            "tile/00/001",
            "tile/64/001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/017",
            "tile/0/001.p/",
            "tile/entries/x01/000",
            "tile/entries/",
            "tiles/0/001",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/+01",
            "tile/-1/001",
            "tile/0/001/",
        ] {
            assert!(TileId::parse(bad).is_err(), "{bad} was accepted");
        }
        assert_eq!(TileId::parse("tile/0/x018/x446/x744/x073/x709/x551/615").map(|t| t.index), Ok(u64::MAX));
    }

    #[test]
    fn bundles_round_trip_and_refuse_damage() {
        let es = entries(256);
        let b = encode_bundle(&es).unwrap();
        let back: Vec<Vec<u8>> = decode_bundle(&b).unwrap().into_iter().map(<[u8]>::to_vec).collect();
        assert_eq!(back, es);
        assert_eq!(&b[..2], &(es[0].len() as u16).to_be_bytes());
        assert_eq!(decode_bundle(&b[..b.len() - 1]), Err(TileError::Truncated { index: 255 }));
        assert_eq!(decode_bundle(&b[..1]), Err(TileError::Truncated { index: 0 }));
        let mut more = b.clone();
        more.extend_from_slice(&[0, 0]);
        assert_eq!(decode_bundle(&more), Err(TileError::BundleWidth(257)));
        assert_eq!(decode_bundle(&[]), Err(TileError::BundleWidth(0)));
        assert_eq!(encode_bundle::<Vec<u8>>(&[]), Err(TileError::BundleWidth(0)));
        assert_eq!(encode_bundle(&entries(257)), Err(TileError::BundleWidth(257)));
        let big = vec![vec![7u8; MAX_ENTRY_LEN + 1]];
        assert_eq!(encode_bundle(&big), Err(TileError::EntryTooLong { index: 0, len: 65_536 }));
        let max = vec![vec![7u8; MAX_ENTRY_LEN]];
        assert_eq!(decode_bundle(&encode_bundle(&max).unwrap()).unwrap()[0].len(), MAX_ENTRY_LEN);
        // An empty entry is representable (the ledger never writes one).
        assert_eq!(decode_bundle(&[0, 0]).unwrap(), vec![&[] as &[u8]]);
    }

    #[test]
    fn hash_tiles_decode_strictly() {
        assert!(decode_tile(&[0u8; 32 * 256]).is_ok());
        assert_eq!(decode_tile(&[0u8; 32 * 257]), Err(TileError::TileLength(32 * 257)));
        assert_eq!(decode_tile(&[0u8; 33]), Err(TileError::TileLength(33)));
        assert_eq!(decode_tile(&[]), Err(TileError::TileLength(0)));
        let hs = [[1u8; 32], [2u8; 32]];
        assert_eq!(decode_tile(&encode_tile(&hs).unwrap()).unwrap(), hs.to_vec());
    }

    #[test]
    fn the_specs_example_of_70000_entries() {
        let ids = tiles_for_size(70_000);
        let count = |kind: TileKind, full: bool| ids.iter().filter(|t| t.kind == kind && t.is_full() == full).count();
        let partial = |kind: TileKind| ids.iter().find(|t| t.kind == kind && !t.is_full()).map(|t| (t.index, t.width));
        assert_eq!(count(TileKind::Hash(0), true), 273);
        assert_eq!(partial(TileKind::Hash(0)), Some((273, 112)));
        assert_eq!(count(TileKind::Hash(1), true), 1);
        assert_eq!(partial(TileKind::Hash(1)), Some((1, 17)));
        assert_eq!(count(TileKind::Hash(2), false), 1);
        assert_eq!(partial(TileKind::Hash(2)), Some((0, 1)));
        assert_eq!(count(TileKind::Hash(2), true), 0);
        assert!(!ids.iter().any(|t| t.kind == TileKind::Hash(3)));
        assert_eq!(count(TileKind::Entries, true), 273);
        assert_eq!(partial(TileKind::Entries), Some((273, 112)));
        assert_eq!(tiles_for_size(0), vec![]);
        assert_eq!(tiles_for_size(256).len(), 3, "{:?}", tiles_for_size(256));
    }

    #[test]
    fn reference_tiles_of_70000_entries_give_the_roots_and_proofs() {
        let es = entries(70_000);
        let tiles = reference_tiles(&es).unwrap();
        let mut tree = merkle::MemTree::new();
        for e in &es {
            tree.push(merkle::leaf_hash(e));
        }
        let mem = MemTiles::from_reference(&tiles).unwrap();
        let r = TileReader::new(&mem);
        assert_eq!(tiles[&TileId { kind: TileKind::Hash(2), index: 0, width: 1 }], tree.node(16, 0).unwrap().to_vec());
        for size in [1u64, 255, 256, 257, 65_535, 65_536, 65_537, 70_000] {
            assert_eq!(merkle::root(&r, size).unwrap(), merkle::root(&tree, size).unwrap(), "root at {size}");
        }
        for (i, size) in [(0u64, 70_000u64), (65_535, 70_000), (69_999, 70_000), (300, 65_537)] {
            assert_eq!(merkle::inclusion_proof(&r, i, size), merkle::inclusion_proof(&tree, i, size));
        }
        assert_eq!(merkle::consistency_proof(&r, 257, 70_000), merkle::consistency_proof(&tree, 257, 70_000));
        // A partial is a prefix of the full tile it becomes.
        let shorter = reference_tiles(&es[..300]).unwrap();
        let p = &shorter[&TileId { kind: TileKind::Hash(0), index: 1, width: 44 }];
        assert_eq!(&tiles[&TileId { kind: TileKind::Hash(0), index: 1, width: 256 }][..p.len()], &p[..]);
    }

    #[test]
    fn the_edge_emits_the_reference_tiles() {
        let es = entries(70_000);
        let tiles = reference_tiles(&es).unwrap();
        let mut edge = TileEdge::new();
        let mut full = BTreeMap::new();
        for (i, e) in es.iter().enumerate() {
            for (l, idx, hs) in edge.push(merkle::leaf_hash(e)) {
                full.insert(TileId { kind: TileKind::Hash(l), index: idx, width: 256 }, encode_tile(&hs).unwrap());
            }
            if i == 65_535 {
                assert_eq!(edge.partial(0), &[] as &[Hash]);
                assert_eq!(edge.partial(1), &[] as &[Hash]);
                assert_eq!(edge.partial(2).len(), 1);
                assert_eq!(TileEdge::resume(65_536, vec![vec![], vec![], edge.partial(2).to_vec()]).unwrap(), edge);
            }
        }
        let want: BTreeMap<_, _> =
            tiles.iter().filter(|(id, _)| id.is_full() && id.kind != TileKind::Entries).collect();
        assert_eq!(want.len(), full.len());
        for (id, bytes) in want {
            assert_eq!(&full[id], bytes, "{id}");
        }
        for l in 0..3u8 {
            let id =
                TileId { kind: TileKind::Hash(l), index: edge.partial_index(l), width: edge.partial(l).len() as u16 };
            assert_eq!(tiles[&id], encode_tile(edge.partial(l)).unwrap(), "{id}");
        }
        let resumed = TileEdge::resume(70_000, (0..3).map(|l| edge.partial(l).to_vec()).collect()).unwrap();
        assert_eq!(resumed, edge);
        assert!(TileEdge::resume(70_001, (0..3).map(|l| edge.partial(l).to_vec()).collect()).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
        /// Any tree size: the tiles' roots and proofs equal `merkle.rs`'s,
        /// and every partial is a prefix of the bigger tree's tile.
        #[test]
        fn tiles_answer_like_the_tree(n in 1usize..1_200, cut in 0usize..1_200, probe in 0u64..1_200) {
            let es = entries(n);
            let tiles = reference_tiles(&es).unwrap();
            let mem = MemTiles::from_reference(&tiles).unwrap();
            let r = TileReader::new(&mem);
            let mut tree = merkle::MemTree::new();
            for e in &es { tree.push(merkle::leaf_hash(e)); }
            let size = n as u64;
            let old = (cut as u64 % size) + 1;
            let i = probe % size;
            prop_assert_eq!(merkle::root(&r, size).unwrap(), tree.root());
            prop_assert_eq!(merkle::inclusion_proof(&r, i, size).unwrap(), merkle::inclusion_proof(&tree, i, size).unwrap());
            prop_assert_eq!(merkle::inclusion_proof(&r, i % old, old).unwrap(), merkle::inclusion_proof(&tree, i % old, old).unwrap());
            prop_assert_eq!(merkle::consistency_proof(&r, old, size).unwrap(), merkle::consistency_proof(&tree, old, size).unwrap());
            for (id, bytes) in reference_tiles(&es[..old as usize]).unwrap() {
                let full = TileId { width: 256, ..id };
                let now = tiles.get(&id).or_else(|| tiles.get(&full))
                    .or_else(|| tiles.iter().find(|(t, _)| t.kind == id.kind && t.index == id.index).map(|(_, b)| b))
                    .unwrap();
                prop_assert_eq!(&now[..bytes.len()], &bytes[..], "{} is not a prefix", id);
            }
        }
    }
}
