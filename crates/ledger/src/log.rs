//! The log in the `tiles` tree: entries in C2SP entry bundles (the
//! incomplete right-edge bundle one entry per item), the Merkle tree in hash
//! tiles (the partial right edge of each level above 0 in one item). Reads
//! of single entries, streaming of all of them, the tiles an append writes,
//! and the tiles and bundles a server serves (docs/storage.md §2).

use crate::error::LedgerError;
use crate::schema::*;
use crate::store::{guard, Ledger};
use std::ops::Range;
use std::sync::Mutex;
use tinledger_core::merkle::{self, Hash, ProofError};
use tinledger_core::tiles::{self, TileEdge, TileId, TileKind, TileSource, TILE_WIDTH};

fn corrupt(seq: Option<u64>, reason: String) -> LedgerError {
    LedgerError::Corrupt { seq, reason }
}

fn bundle_name(index: u64, width: u16) -> TileId {
    TileId { kind: TileKind::Entries, index, width }
}

/// Byte ranges of a stored full bundle's 256 entries.
pub(crate) fn full_bundle_ranges(index: u64, b: &[u8]) -> Result<Vec<Range<usize>>, String> {
    let name = bundle_name(index, TILE_WIDTH as u16);
    let r = tiles::bundle_ranges(b).map_err(|e| format!("entry bundle {name} is damaged: {e}"))?;
    if r.len() as u64 != TILE_WIDTH {
        return Err(format!("entry bundle {name} holds {} entries; a stored bundle is full", r.len()));
    }
    Ok(r)
}

/// A full bundle as read: its index, bytes and entry ranges.
type CachedBundle = (u64, sled::IVec, Vec<Range<usize>>);

/// The last full bundle read, decoded: sequential reads decode each once.
#[derive(Default)]
pub(crate) struct BundleCache(Mutex<Option<CachedBundle>>);

/// Bytes of entry `seq`: from its full bundle, else from the edge.
pub(crate) fn read_entry(
    tree: &sled::Tree,
    seq: u64,
    cache: Option<&BundleCache>,
) -> Result<Option<Vec<u8>>, LedgerError> {
    let k = seq / TILE_WIDTH;
    let i = (seq % TILE_WIDTH) as usize;
    if let Some(c) = cache {
        if let Ok(g) = c.0.lock() {
            if let Some((ck, b, r)) = g.as_ref() {
                if *ck == k {
                    return Ok(Some(b[r[i].clone()].to_vec()));
                }
            }
        }
    }
    guard("reading an entry", || {
        if let Some(b) = tree.get(bundle_key(k))? {
            let r = full_bundle_ranges(k, &b).map_err(|e| corrupt(Some(seq), e))?;
            let out = b[r[i].clone()].to_vec();
            if let Some(c) = cache {
                if let Ok(mut g) = c.0.lock() {
                    *g = Some((k, b, r));
                }
            }
            return Ok(Some(out));
        }
        Ok(tree.get(edge_key(seq))?.map(|v| v.to_vec()))
    })
}

/// Stream the stored entries from `from` on, in key order: full bundles,
/// then edge items. `f` gets (seq the entry is stored as, bytes) or a
/// description of what could not be read, and returns whether to go on.
pub(crate) fn stream_entries(
    tree: &sled::Tree,
    from: u64,
    mut f: impl FnMut(Result<(u64, &[u8]), String>) -> bool,
) -> Result<(), sled::Error> {
    let (lo, hi) = (bundle_key(from / TILE_WIDTH), [TILES_BUNDLE + 1]);
    for kv in tree.range(&lo[..]..&hi[..]) {
        let (k, b) = kv?;
        let Ok(index) = <[u8; 8]>::try_from(&k[1..]).map(u64::from_be_bytes) else {
            if !f(Err(format!("malformed entry bundle key {}", hex::encode(&k)))) {
                return Ok(());
            }
            continue;
        };
        match full_bundle_ranges(index, &b) {
            Ok(ranges) => {
                for (i, r) in ranges.into_iter().enumerate() {
                    let seq = index * TILE_WIDTH + i as u64;
                    if seq >= from && !f(Ok((seq, &b[r]))) {
                        return Ok(());
                    }
                }
            }
            Err(e) => {
                if !f(Err(e)) {
                    return Ok(());
                }
            }
        }
    }
    let (lo, hi) = (edge_key(from), [TILES_EDGE + 1]);
    for kv in tree.range(&lo[..]..&hi[..]) {
        let (k, v) = kv?;
        let item = match <[u8; 8]>::try_from(&k[1..]).map(u64::from_be_bytes) {
            Ok(seq) => Ok((seq, &v[..])),
            Err(_) => Err(format!("malformed edge entry key {}", hex::encode(&k))),
        };
        if !f(item) {
            return Ok(());
        }
    }
    Ok(())
}

/// Decode a stored partial tile record: tile index u64 BE ‖ hashes.
fn decode_partial(level: u8, v: &[u8]) -> Result<(u64, Vec<Hash>), String> {
    let bad = |why: String| format!("the partial hash tile of level {level} is damaged: {why}");
    let index = v.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
    let index = index.ok_or_else(|| bad("too short".into()))?;
    let hashes = tiles::decode_tile(&v[8..]).map_err(|e| bad(e.to_string()))?;
    if hashes.len() as u64 == TILE_WIDTH {
        return Err(bad("it holds 256 hashes".into()));
    }
    Ok((index, hashes))
}

fn encode_partial(index: u64, hashes: &[Hash]) -> Vec<u8> {
    let mut v = index.to_be_bytes().to_vec();
    for h in hashes {
        v.extend_from_slice(h);
    }
    v
}

/// The stored hash tile `level`/`index` as it is now (full, or the partial
/// right edge), `None` if there is none.
fn stored_tile(tree: &sled::Tree, level: u8, index: u64) -> Result<Option<Vec<Hash>>, LedgerError> {
    let name = |w: u16| TileId { kind: TileKind::Hash(level), index, width: w };
    if let Some(v) = tree.get(tile_key(level, index))? {
        let hs =
            tiles::decode_tile(&v).map_err(|e| corrupt(None, format!("hash tile {} is damaged: {e}", name(256))))?;
        if hs.len() as u64 != TILE_WIDTH {
            return Err(corrupt(
                None,
                format!("hash tile {} holds {} hashes; a stored tile is full", name(256), hs.len()),
            ));
        }
        return Ok(Some(hs));
    }
    if level == 0 {
        let mut hs = Vec::new();
        for kv in tree.range(edge_key(index * TILE_WIDTH)..edge_key((index + 1) * TILE_WIDTH)) {
            let (_, v) = kv?;
            hs.push(merkle::leaf_hash(&v));
        }
        return Ok((!hs.is_empty()).then_some(hs));
    }
    match tree.get(partial_key(level))? {
        None => Ok(None),
        Some(v) => {
            let (at, hs) = decode_partial(level, &v).map_err(|e| corrupt(None, e))?;
            Ok((at == index).then_some(hs))
        }
    }
}

/// The stored tiles, for proofs ([`tiles::TileReader`]).
impl TileSource for Ledger {
    fn hash_tile(&self, level: u8, index: u64) -> Result<Option<Vec<Hash>>, ProofError> {
        guard("reading a hash tile", || stored_tile(&self.t.tiles, level, index))
            .map_err(|e| ProofError::Storage(e.to_string()))
    }
}

/// The right edge as stored for a log of `size` entries: the entries of the
/// incomplete bundle and the partial tiles.
pub(crate) fn load_edge(tree: &sled::Tree, size: u64) -> Result<(Vec<Vec<u8>>, TileEdge), LedgerError> {
    guard("reading the right edge", || {
        let start = size / TILE_WIDTH * TILE_WIDTH;
        let mut entries = Vec::new();
        for kv in tree.range(edge_key(start)..edge_key(size)) {
            let (k, v) = kv?;
            let want = start + entries.len() as u64;
            if k.as_ref() != edge_key(want) {
                return Err(corrupt(Some(want), format!("entry {want} is missing; run `tinledger verify`")));
            }
            entries.push(v.to_vec());
        }
        if start + entries.len() as u64 != size {
            let s = start + entries.len() as u64;
            return Err(corrupt(Some(s), format!("entry {s} is missing; run `tinledger verify`")));
        }
        let mut partials = vec![entries.iter().map(|e| merkle::leaf_hash(e)).collect::<Vec<_>>()];
        let mut level = 1u8;
        while tiles::hashes_at_level(size, level) > 0 {
            let want = tiles::hashes_at_level(size, level) / TILE_WIDTH;
            let hs = match tree.get(partial_key(level))? {
                None => Vec::new(),
                Some(v) => {
                    let (at, hs) = decode_partial(level, &v).map_err(|e| corrupt(None, e))?;
                    if at != want {
                        return Err(corrupt(
                            None,
                            format!("the partial hash tile of level {level} is tile {at}, not {want}"),
                        ));
                    }
                    hs
                }
            };
            partials.push(hs);
            level += 1;
        }
        let edge =
            TileEdge::resume(size, partials).map_err(|e| corrupt(None, format!("{e}; run `tinledger reindex`")))?;
        Ok((entries, edge))
    })
}

/// What one append writes to `tiles`, built entry by entry.
pub(crate) struct TileWriter {
    /// First seq of this append.
    first: u64,
    /// First seq of the bundle being filled, and its entries so far.
    bundle_start: u64,
    bundle: Vec<Vec<u8>>,
    edge: TileEdge,
    batch: sled::Batch,
    /// Levels whose partial tile changed.
    changed: std::collections::BTreeSet<u8>,
}

impl TileWriter {
    /// Start an append at the stored head `size`.
    pub(crate) fn load(tree: &sled::Tree, size: u64) -> Result<TileWriter, LedgerError> {
        let (bundle, edge) = load_edge(tree, size)?;
        Ok(TileWriter {
            first: size,
            bundle_start: size / TILE_WIDTH * TILE_WIDTH,
            bundle,
            edge,
            batch: sled::Batch::default(),
            changed: Default::default(),
        })
    }

    /// Add the next entry (at most [`tiles::MAX_ENTRY_LEN`] bytes; the
    /// caller checks).
    pub(crate) fn push(&mut self, bytes: Vec<u8>) -> Result<(), LedgerError> {
        for (level, index, hashes) in self.edge.push(merkle::leaf_hash(&bytes)) {
            self.batch.insert(&tile_key(level, index)[..], hashes.concat());
            self.changed.insert(level + 1);
        }
        self.bundle.push(bytes);
        if self.bundle.len() as u64 == TILE_WIDTH {
            let index = self.bundle_start / TILE_WIDTH;
            let b = tiles::encode_bundle(&self.bundle).map_err(|e| LedgerError::Storage(e.to_string()))?;
            self.batch.insert(&bundle_key(index)[..], b);
            // The entries of this bundle that earlier appends left on the edge.
            for seq in self.bundle_start..self.first.max(self.bundle_start).min(self.bundle_start + TILE_WIDTH) {
                self.batch.remove(&edge_key(seq)[..]);
            }
            self.bundle.clear();
            self.bundle_start += TILE_WIDTH;
        }
        Ok(())
    }

    /// The one batch that writes this append's entries and tiles.
    pub(crate) fn finish(mut self) -> sled::Batch {
        let from = self.first.max(self.bundle_start);
        for (i, e) in self.bundle.iter().enumerate() {
            let seq = self.bundle_start + i as u64;
            if seq >= from {
                self.batch.insert(&edge_key(seq)[..], e.as_slice());
            }
        }
        for level in std::mem::take(&mut self.changed) {
            let p = self.edge.partial(level);
            if p.is_empty() {
                self.batch.remove(&partial_key(level)[..]);
            } else {
                self.batch.insert(&partial_key(level)[..], encode_partial(self.edge.partial_index(level), p));
            }
        }
        self.batch
    }
}

/// Every hash tile a tree over `leaves` has, as `tiles` items: the full
/// tiles and the partials of levels above 0 (for reindex).
pub(crate) fn tile_items(leaves: impl Iterator<Item = Hash>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut edge = TileEdge::new();
    let mut out = Vec::new();
    for leaf in leaves {
        for (level, index, hashes) in edge.push(leaf) {
            out.push((tile_key(level, index).to_vec(), hashes.concat()));
        }
    }
    for level in 1..edge.levels() {
        let p = edge.partial(level);
        if !p.is_empty() {
            out.push((partial_key(level).to_vec(), encode_partial(edge.partial_index(level), p)));
        }
    }
    out
}

/// Checks the stored hash tiles against leaves streamed in order from leaf 0.
pub(crate) struct TileCheck {
    edge: TileEdge,
}

impl TileCheck {
    pub(crate) fn new() -> TileCheck {
        TileCheck { edge: TileEdge::new() }
    }

    /// Add the next leaf; a fault names the first full tile it completes
    /// that is stored differently.
    pub(crate) fn push(&mut self, tree: &sled::Tree, leaf: Hash) -> Result<(), String> {
        for (level, index, hashes) in self.edge.push(leaf) {
            let name = TileId { kind: TileKind::Hash(level), index, width: 256 };
            match tree.get(tile_key(level, index)) {
                Ok(Some(v)) if v.as_ref() == hashes.concat().as_slice() => {}
                Ok(Some(_)) => return Err(format!("hash tile {name} disagrees with the entries")),
                Ok(None) => return Err(format!("hash tile {name} is missing")),
                Err(e) => return Err(format!("hash tile {name} unreadable: {e}")),
            }
        }
        Ok(())
    }

    /// After the last leaf: the stored partials above level 0 and nothing
    /// beyond the right edge.
    pub(crate) fn finish(&self, tree: &sled::Tree) -> Result<(), String> {
        let size = self.edge.size();
        for level in 0..=self.edge.levels() {
            let full = tiles::hashes_at_level(size, level) / TILE_WIDTH;
            match tree.range(tile_key(level, full)..tile_key(level, u64::MAX)).next() {
                None => {}
                Some(Ok((k, _))) => {
                    let index = <[u8; 8]>::try_from(&k[2..]).map(u64::from_be_bytes).unwrap_or(u64::MAX);
                    let name = TileId { kind: TileKind::Hash(level), index, width: 256 };
                    return Err(format!("hash tile {name} is stored beyond the {size} entries"));
                }
                Some(Err(e)) => return Err(format!("hash tiles unreadable: {e}")),
            }
        }
        for kv in tree.scan_prefix([TILES_PARTIAL]) {
            let (k, v) = kv.map_err(|e| format!("hash tiles unreadable: {e}"))?;
            let level = k.get(1).copied().filter(|_| k.len() == 2).ok_or("malformed partial tile key")?;
            let (index, hs) = decode_partial(level, &v)?;
            if level == 0 || index != self.edge.partial_index(level) || hs.as_slice() != self.edge.partial(level) {
                let name = TileId { kind: TileKind::Hash(level), index, width: hs.len() as u16 };
                return Err(format!("partial hash tile {name} disagrees with the entries"));
            }
        }
        for level in 1..self.edge.levels() {
            if !self.edge.partial(level).is_empty() && tree.get(partial_key(level)).ok().flatten().is_none() {
                let p = self.edge.partial(level);
                let name = TileId {
                    kind: TileKind::Hash(level),
                    index: self.edge.partial_index(level),
                    width: p.len() as u16,
                };
                return Err(format!("partial hash tile {name} is missing"));
            }
        }
        Ok(())
    }
}

impl Ledger {
    /// Hash tile `level`/`index` of width `width` (1..=256, 256 = full) in
    /// the C2SP encoding, or `None` if the tree at the head has no such tile.
    /// A partial tile for any tree size S ≤ the head is served: it is a
    /// prefix of the tile stored now (docs/formats.md §5.3).
    pub fn tile(&self, level: u8, index: u64, width: u16) -> Result<Option<Vec<u8>>, LedgerError> {
        let have = tiles::hashes_at_level(self.head().size, level);
        let Some(end) = index.checked_mul(TILE_WIDTH).and_then(|s| s.checked_add(u64::from(width))) else {
            return Ok(None);
        };
        if width == 0 || u64::from(width) > TILE_WIDTH || end > have {
            return Ok(None);
        }
        let hs = guard("reading a hash tile", || stored_tile(&self.t.tiles, level, index))?;
        let hs =
            hs.ok_or_else(|| corrupt(None, format!("hash tile {level}/{index} is missing; run `tinledger verify`")))?;
        let w = usize::from(width);
        if hs.len() < w {
            return Err(corrupt(None, format!("hash tile {level}/{index} holds {} hashes, fewer than {w}", hs.len())));
        }
        Ok(Some(hs[..w].concat()))
    }

    /// Entry bundle `index` of width `width` (1..=256) in the C2SP encoding,
    /// or `None` if the log at the head has no such bundle. Like
    /// [`Ledger::tile`], any partial up to the head is served.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Option<Vec<u8>>, LedgerError> {
        let Some(first) = index.checked_mul(TILE_WIDTH) else { return Ok(None) };
        if width == 0 || u64::from(width) > TILE_WIDTH || first + u64::from(width) > self.head().size {
            return Ok(None);
        }
        let w = usize::from(width);
        guard("reading an entry bundle", || {
            if let Some(b) = self.t.tiles.get(bundle_key(index))? {
                let r = full_bundle_ranges(index, &b).map_err(|e| corrupt(Some(first), e))?;
                return Ok(Some(b[..r[w - 1].end].to_vec()));
            }
            let mut es = Vec::with_capacity(w);
            for seq in first..first + u64::from(width) {
                let e = self.t.tiles.get(edge_key(seq))?;
                es.push(
                    e.ok_or_else(|| corrupt(Some(seq), format!("entry {seq} is missing; run `tinledger verify`")))?,
                );
            }
            tiles::encode_bundle(&es).map(Some).map_err(|e| corrupt(Some(first), e.to_string()))
        })
    }
}
