//! On-disk layout. docs/storage.md draws each key and value.
//!
//! A ledger directory holds `LOCK` (an advisory lock held while open) and
//! `db/` (sled). All integers in keys are big-endian so that sled's byte
//! order is numeric order.

/// Version of this layout, stored under `meta/format`. Format 1 (frozen in
/// `v1.rs`) is read only by `tinledger migrate`.
pub const FORMAT_VERSION: u32 = 2;

/// Lock file inside the ledger directory.
pub const LOCK_FILE: &str = "LOCK";
/// sled's directory inside the ledger directory.
pub const DB_DIR: &str = "db";

/// `meta`: `format` → u32 BE; `ledger` → LedgerInfo; `head` → size u64 BE ‖ hash\[32\];
/// `pending` → the head an unfinished append was writing (absent at rest).
pub const T_META: &str = "meta";
/// `tiles`: the log as C2SP tlog-tiles (docs/storage.md §2): full entry
/// bundles ([`bundle_key`]), the entries of the incomplete right-edge bundle
/// one per item ([`edge_key`]), full hash tiles ([`tile_key`]) and the
/// partial right-edge hash tile of each level above 0 ([`partial_key`]).
/// Full bundles and tiles are written once and never change.
pub const T_TILES: &str = "tiles";
/// `lot_entries`: lot id → the seqs (u64 BE each, ascending) of every entry
/// naming the lot ([`history_value`]).
pub const T_LOT_ENTRIES: &str = "lot_entries";
/// `lot_state`: lot id → LotState (current).
pub const T_LOT_STATE: &str = "lot_state";
/// `actor_state`: actor id → ActorState (current, with its whole key history).
pub const T_ACTOR_STATE: &str = "actor_state";
/// `key_actor`: public key\[32\] → actor id. A key, once bound, stays bound.
pub const T_KEY_ACTOR: &str = "key_actor";
/// `event_ids`: the first [`EVENT_KEY_LEN`] bytes of the event id → seq u64
/// BE. Refuses duplicate events (a hit is confirmed against the entry).
pub const T_EVENT_IDS: &str = "event_ids";

/// `actor_entries`: actor id → the seqs (u64 BE each, ascending) of every
/// entry that registers, suspends, reinstates, revokes or re-keys the actor
/// (and genesis for the authority).
pub const T_ACTOR_ENTRIES: &str = "actor_entries";
/// `checkpoints`: tree size u64 BE → signed checkpoint note (UTF-8).
pub const T_CHECKPOINTS: &str = "checkpoints";

/// Key in `meta` of the layout version ([`FORMAT_VERSION`], u32 BE).
pub const META_FORMAT: &[u8] = b"format";
/// Key in `meta` of the ledger's facts from the genesis entry (LedgerInfo).
pub const META_LEDGER: &[u8] = b"ledger";
/// Key in `meta` of the head: size u64 BE ‖ hash of the last entry\[32\].
pub const META_HEAD: &[u8] = b"head";
/// Written (head the append will reach) before an append writes anything
/// else, removed together with the new head: if present when the ledger is
/// opened, an append was interrupted and the indices are rebuilt from the
/// entries (docs/storage.md, "Durability").
pub const META_PENDING: &[u8] = b"pending";

/// Key of entry `seq` in `entries`: `seq` as 8 bytes big-endian.
pub fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// A lot's or actor's record of one entry, `id ‖ 0x00 ‖ seq u64 BE` (ids
/// contain no 0x00 byte): what the audit's index digest counts, one per
/// (id, seq) in `lot_entries` and `actor_entries`.
pub fn history_record(id: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 9);
    k.extend_from_slice(id.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Append `seqs` to a stored history value (`old`, or none yet): the value
/// of `lot_entries` and `actor_entries` is the id's seqs as u64 BE,
/// ascending, nothing else.
pub fn history_value(old: Option<&[u8]>, seqs: &[u64]) -> Vec<u8> {
    let old = old.unwrap_or_default();
    let mut v = Vec::with_capacity(old.len() + 8 * seqs.len());
    v.extend_from_slice(old);
    for s in seqs {
        v.extend_from_slice(&s.to_be_bytes());
    }
    v
}

/// The seqs of a stored history value, or `None` if its length is not a
/// multiple of 8.
pub fn history_seqs(v: &[u8]) -> Option<Vec<u64>> {
    if !v.len().is_multiple_of(8) {
        return None;
    }
    Some(v.chunks_exact(8).filter_map(|c| <[u8; 8]>::try_from(c).ok()).map(u64::from_be_bytes).collect())
}

/// Bytes of an event id that key `event_ids` (a 128-bit prefix: a hit is
/// confirmed against the stored entry).
pub const EVENT_KEY_LEN: usize = 16;

/// Key in `event_ids`: the first [`EVENT_KEY_LEN`] bytes of the event id.
pub fn event_key(id: &[u8; 32]) -> [u8; EVENT_KEY_LEN] {
    let mut k = [0u8; EVENT_KEY_LEN];
    k.copy_from_slice(&id[..EVENT_KEY_LEN]);
    k
}

/// Prefix in `tiles` of full entry bundles.
pub const TILES_BUNDLE: u8 = b'b';
/// Prefix in `tiles` of right-edge entries.
pub const TILES_EDGE: u8 = b'e';
/// Prefix in `tiles` of full hash tiles.
pub const TILES_HASH: u8 = b'h';
/// Prefix in `tiles` of partial right-edge hash tiles (levels above 0).
pub const TILES_PARTIAL: u8 = b'p';

fn tagged(tag: u8, n: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = tag;
    k[1..].copy_from_slice(&n.to_be_bytes());
    k
}

/// Key in `tiles` of full entry bundle `index` (entries `256·index ..`):
/// `b` ‖ index u64 BE → the bundle (256 entries, each after its u16 BE length).
pub fn bundle_key(index: u64) -> [u8; 9] {
    tagged(TILES_BUNDLE, index)
}

/// Key in `tiles` of entry `seq` while its bundle is incomplete:
/// `e` ‖ seq u64 BE → canonical entry bytes. Removed in the batch that
/// writes the full bundle.
pub fn edge_key(seq: u64) -> [u8; 9] {
    tagged(TILES_EDGE, seq)
}

/// Key in `tiles` of full hash tile `level`/`index`: `h` ‖ level u8 ‖ index
/// u64 BE → 256 hashes of 32 bytes.
pub fn tile_key(level: u8, index: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = TILES_HASH;
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Key in `tiles` of the partial right-edge hash tile of `level` (1 and
/// up; level 0's is hashed from the edge entries): `p` ‖ level u8 → tile
/// index u64 BE ‖ 1..=255 hashes of 32 bytes.
pub fn partial_key(level: u8) -> [u8; 2] {
    [TILES_PARTIAL, level]
}
