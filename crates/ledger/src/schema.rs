//! On-disk layout. docs/storage.md draws each key and value.
//!
//! A ledger directory holds `LOCK` (an advisory lock held while open) and
//! `db/` (sled). All integers in keys are big-endian so that sled's byte
//! order is numeric order.

/// Version of this layout, stored under `meta/format`. Format 1 (frozen in
/// `v1.rs`) is read only by `tinledger migrate`.
// Branch `migrate` bumps this to 2 with today's layout still in place, so
// that the refusal of format-1 ledgers and `migrate` run for real; branch
// `tiles` brings format 2's layout (issue 12). The lead merges both.
pub const FORMAT_VERSION: u32 = 2;

/// Lock file inside the ledger directory.
pub const LOCK_FILE: &str = "LOCK";
/// sled's directory inside the ledger directory.
pub const DB_DIR: &str = "db";

/// `meta`: `format` → u32 BE; `ledger` → LedgerInfo; `head` → size u64 BE ‖ hash\[32\];
/// `pending` → the head an unfinished append was writing (absent at rest).
pub const T_META: &str = "meta";
/// `entries`: seq u64 BE → canonical entry bytes. Never updated or deleted.
pub const T_ENTRIES: &str = "entries";
/// `lot_entries`: lot id ‖ 0x00 ‖ seq u64 BE → empty. Every entry naming the lot.
pub const T_LOT_ENTRIES: &str = "lot_entries";
/// `lot_state`: lot id → LotState (current).
pub const T_LOT_STATE: &str = "lot_state";
/// `actor_state`: actor id → ActorState (current, with its whole key history).
pub const T_ACTOR_STATE: &str = "actor_state";
/// `key_actor`: public key\[32\] → actor id. A key, once bound, stays bound.
pub const T_KEY_ACTOR: &str = "key_actor";
/// `event_ids`: event id\[32\] → seq u64 BE. Refuses duplicate events.
pub const T_EVENT_IDS: &str = "event_ids";

/// `actor_entries`: actor id ‖ 0x00 ‖ seq u64 BE → empty. Every entry that
/// registers, suspends, reinstates, revokes or re-keys the actor (and genesis
/// for the authority).
pub const T_ACTOR_ENTRIES: &str = "actor_entries";
/// `merkle`: level u8 ‖ index u64 BE → hash\[32\]. Every complete subtree of
/// the RFC 6962 tree over the entries (level 0 = leaf hashes).
pub const T_MERKLE: &str = "merkle";
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

/// Key in `lot_entries`: lot id ‖ 0x00 ‖ seq u64 BE. Lot ids contain no
/// 0x00 byte, so the separator keeps one lot's keys apart from another's.
pub fn lot_entry_key(lot: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(lot.len() + 9);
    k.extend_from_slice(lot.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Prefix of every `lot_entries` key of `lot` (lot id ‖ 0x00): scanning it
/// yields the lot's entries in seq order.
pub fn lot_entry_prefix(lot: &str) -> Vec<u8> {
    let mut k = lot.as_bytes().to_vec();
    k.push(0);
    k
}

/// Key in `merkle`: level u8 ‖ index u64 BE (level 0 = leaf hashes; node
/// `index` at `level` covers leaves `index·2^level ..< (index+1)·2^level`).
pub fn merkle_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}
