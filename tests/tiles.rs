//! The format-2 layout against the reference: after random sequences of
//! single and batch appends of real signed events (crossing bundle and tile
//! boundaries), every stored bundle and hash tile is byte-identical to
//! `tiles::reference_tiles` over the entries, every partial for an earlier
//! tree size is served as the reference at that size gives it, nothing else
//! is stored in `tiles`, and every proof read from the tiles equals
//! `merkle.rs`'s over an in-memory tree. Then tampering with one byte of a
//! bundle or a tile is a fault naming the seq or the tile.

use crate::util::*;
use std::collections::BTreeMap;
use tinledger_core::merkle::{self, MemTree};
use tinledger_core::tiles::{self, TileId, TileKind};
use tinledger_core::units::Timestamp;
use tinledger_core::SignedEvent;
use tinledger_ledger::schema::{bundle_key, edge_key, partial_key, tile_key, TILES_PARTIAL};
use tinledger_ledger::{AuditOptions, Ledger};

/// The synthetic ledger's first `n` events, signed.
fn synthetic(n: u64) -> Vec<SignedEvent> {
    let evs: Vec<_> = tinledger_synth::Synth::new(n).unwrap().collect();
    tinledger_synth::sign_all(&evs, &tinledger_synth::KeyRing::new().unwrap()).unwrap()
}

/// Far after every synthetic event: the clock check never refuses one.
const NOW: Timestamp = Timestamp(4_000_000_000);

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Everything `tiles` should hold for these entries, as raw sled items.
fn expected_items(entries: &[Vec<u8>]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    let size = entries.len() as u64;
    for (id, bytes) in tiles::reference_tiles(entries).unwrap() {
        match (id.kind, id.is_full()) {
            (TileKind::Entries, true) => drop(out.insert(bundle_key(id.index).to_vec(), bytes)),
            (TileKind::Entries, false) => {
                for seq in id.index * 256..size {
                    out.insert(edge_key(seq).to_vec(), entries[seq as usize].clone());
                }
            }
            (TileKind::Hash(l), true) => drop(out.insert(tile_key(l, id.index).to_vec(), bytes)),
            (TileKind::Hash(0), false) => {}
            (TileKind::Hash(l), false) => {
                let mut v = id.index.to_be_bytes().to_vec();
                v.extend_from_slice(&bytes);
                out.insert(partial_key(l).to_vec(), v);
            }
        }
    }
    out
}

fn check_against_reference(dir: &std::path::Path, entries: &[Vec<u8>], sizes: &[u64], rng: &mut Rng) {
    let size = entries.len() as u64;
    // The raw items, exactly (read with the ledger closed: one sled handle
    // at a time).
    let stored: BTreeMap<Vec<u8>, Vec<u8>> = with_db(dir, |db| {
        tiles_tree(db).iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect::<Result<_, _>>().unwrap()
    });
    let want = expected_items(entries);
    assert_eq!(stored.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "keys at size {size}");
    for (k, v) in &want {
        assert!(stored[k] == *v, "item {} at size {size}", hex::encode(k));
    }
    let l = reopen(dir);
    // Served tiles and bundles, at the head and at every earlier size kept.
    let mut tree = MemTree::new();
    for e in entries {
        tree.push(merkle::leaf_hash(e));
    }
    for &s in sizes.iter().chain(std::iter::once(&size)) {
        for (id, bytes) in tiles::reference_tiles(&entries[..s as usize]).unwrap() {
            let got = match id.kind {
                TileKind::Hash(level) => l.tile(level, id.index, id.width),
                TileKind::Entries => l.entry_bundle(id.index, id.width),
            };
            assert_eq!(got.unwrap().as_deref(), Some(&bytes[..]), "{id} for size {s} at head {size}");
        }
        // Proofs read from the tiles are merkle.rs's.
        let seq = rng.below(s);
        assert_eq!(l.inclusion_proof(seq, s).unwrap(), merkle::inclusion_proof(&tree, seq, s).unwrap(), "{seq} in {s}");
        assert_eq!(l.consistency_proof(s, size).unwrap(), merkle::consistency_proof(&tree, s, size).unwrap());
        assert_eq!(l.merkle_root(s).unwrap(), merkle::root(&tree, s).unwrap());
    }
    // Beyond the head there is nothing to serve.
    let past = TileId { kind: TileKind::Hash(0), index: size / 256, width: (size % 256 + 1) as u16 };
    assert_eq!(l.tile(0, past.index, past.width).unwrap(), None);
    assert_eq!(l.entry_bundle(past.index, past.width).unwrap(), None);
    assert_eq!(l.tile(0, 0, 0).unwrap(), None);
}

#[test]
fn random_appends_store_the_reference_tiles_and_bundles() {
    let events = synthetic(1_400);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut rng = Rng(0x7115_2026_dead_beef);
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    let mut at = 1usize;
    {
        let (l, _) = Ledger::create(&dir, &events[0]).unwrap();
        entries.push(l.get(0).unwrap().unwrap().to_bytes());
    }
    let mut singles = 0;
    while at < events.len() {
        let n = match rng.below(4) {
            0 if singles < 12 => {
                singles += 1;
                1
            }
            1 => 255 + rng.below(3) as usize,
            _ => 1 + rng.below(300) as usize,
        }
        .min(events.len() - at);
        {
            let mut l = reopen(&dir);
            let r = if n == 1 {
                vec![l.append_at(&events[at], NOW).unwrap()]
            } else {
                l.append_batch_at(&events[at..at + n], NOW).unwrap()
            };
            assert_eq!(r.len(), n);
            for s in at..at + n {
                entries.push(l.get(s as u64).unwrap().unwrap().to_bytes());
            }
        }
        at += n;
        check_against_reference(&dir, &entries, &sizes, &mut rng);
        sizes.push(entries.len() as u64);
        if sizes.len() > 4 {
            sizes.remove(rng.below(sizes.len() as u64) as usize);
        }
    }
    let l = reopen(&dir);
    let rep = l.audit(&AuditOptions { indices: true, ..AuditOptions::default() });
    assert!(rep.ok, "{:?}", rep.fault);
    assert_eq!(rep.entries, 1_400);
}

#[test]
fn a_changed_byte_in_a_bundle_or_tile_is_a_fault_naming_it() {
    let env = Env::new();
    let events = synthetic(700);
    let clean = env.path("clean");
    {
        let (mut l, _) = Ledger::create(&clean, &events[0]).unwrap();
        l.append_batch_at(&events[1..], NOW).unwrap();
    }
    let verify = |dir: &std::path::Path| -> serde_json::Value {
        let out = env.bare().arg("--ledger").arg(dir).args(["verify", "--json"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // A byte of entry 300 inside full bundle 1 (its event bytes): named by seq.
    let copy = env.path("bundle-byte");
    copy_dir(&clean, &copy);
    with_db(&copy, |db| {
        let t = tiles_tree(db);
        let mut b = t.get(bundle_key(1)).unwrap().unwrap().to_vec();
        let r = tiles::bundle_ranges(&b).unwrap()[300 - 256].clone();
        b[r.start + 60] ^= 0x01;
        t.insert(bundle_key(1), b).unwrap();
    });
    let v = verify(&copy);
    assert_eq!(v["fault"]["seq"], 300, "{v}");
    // A length prefix: the bundle no longer decodes; named by its first seq.
    let copy = env.path("bundle-length");
    copy_dir(&clean, &copy);
    with_db(&copy, |db| {
        let t = tiles_tree(db);
        let mut b = t.get(bundle_key(0)).unwrap().unwrap().to_vec();
        b[0] ^= 0x40;
        t.insert(bundle_key(0), b).unwrap();
    });
    let v = verify(&copy);
    assert_eq!(v["fault"]["seq"], 0, "{v}");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("tile/entries/000"), "{v}");
    // Any byte of a full hash tile: named by the tile.
    for (k, at) in [(tile_key(0, 1), 0usize), (tile_key(0, 0), 8191)] {
        let copy = env.path(&format!("tile-{at}"));
        copy_dir(&clean, &copy);
        with_db(&copy, |db| {
            let t = tiles_tree(db);
            let mut b = t.get(k).unwrap().unwrap().to_vec();
            b[at] ^= 0x80;
            t.insert(k, b).unwrap();
        });
        let v = verify(&copy);
        assert_eq!(v["fault"]["index"], "tiles", "{v}");
        let name = if at == 0 { "tile/0/001" } else { "tile/0/000" };
        assert!(v["fault"]["reason"].as_str().unwrap().contains(&format!("hash tile {name} disagrees")), "{v}");
        // reindex rewrites the tiles from the entries.
        env.bare().arg("--ledger").arg(&copy).arg("reindex").assert().success();
    }
    // The partial level-1 tile (2 hashes at 700 entries).
    let copy = env.path("partial");
    copy_dir(&clean, &copy);
    with_db(&copy, |db| {
        let t = tiles_tree(db);
        let mut b = t.get(partial_key(1)).unwrap().unwrap().to_vec();
        assert_eq!(b.len(), 8 + 64);
        b[40] ^= 0x01;
        t.insert(partial_key(1), b).unwrap();
        assert_eq!(t.scan_prefix([TILES_PARTIAL]).count(), 1);
    });
    let v = verify(&copy);
    assert_eq!(v["fault"]["index"], "tiles", "{v}");
}

#[test]
fn an_entry_over_65535_bytes_is_refused_and_nothing_is_written() {
    use crate::ed25519::{base_events, event, extract, honest};
    use tinledger_core::event::Take;
    use tinledger_core::{ActorId, EventBody, LotId};
    let tmp = tempfile::tempdir().unwrap();
    let base = base_events();
    let (mut l, _) = Ledger::create(&tmp.path().join("l"), &base[0]).unwrap();
    l.append_batch(&base[1..]).unwrap();
    // The exporter receives one lot and splits it into parts with 64-byte
    // ids: 1000 parts name 80,000 bytes, 700 parts 56,000.
    let lot = LotId::new("BIG-000001").unwrap();
    let exp = ActorId::new("EXP-A").unwrap();
    let setup = [
        honest(&extract(1, "BIG")),
        honest(&event(
            2_000,
            "MINE-A",
            EventBody::Dispatch { lot: lot.clone(), to: exp, transporter: None, document: "SJ-1".into() },
        )),
        honest(&event(2_001, "EXP-A", EventBody::Receive { lot: lot.clone(), mass_g: 100_001 })),
    ];
    l.append_batch(&setup).unwrap();
    let split = |n: u64| {
        let parts = (0..n)
            .map(|i| Take { lot: LotId::new(format!("{}-{i:06}", "P".repeat(57))).unwrap(), mass_g: 10 })
            .collect();
        honest(&event(5_000 + n, "EXP-A", EventBody::Split { lot: lot.clone(), parts }))
    };
    let before = l.head();
    let err = l.append(&split(1000)).unwrap_err();
    match &err {
        tinledger_ledger::LedgerError::TooLarge { len, seq, .. } => {
            assert!(*len > 65_535, "{err}");
            assert_eq!(*seq, before.size);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(err.to_string().contains("is too large: an entry holds at most 65535 bytes"), "{err}");
    assert_eq!(l.head(), before);
    drop(l);
    let mut l = reopen(&tmp.path().join("l"));
    assert_eq!(l.head(), before, "nothing was written");
    // One that fits is stored whole (and so it was the size that refused the first).
    let r = l.append(&split(700)).unwrap();
    assert!(l.get(r.seq).unwrap().unwrap().to_bytes().len() <= 65_535);
    assert!(l.audit(&AuditOptions { indices: true, ..AuditOptions::default() }).ok);
}

/// Open a ledger this test just closed. A short wait: another test thread
/// forking a child holds a copy of the LOCK descriptor until the child execs
/// (tests/crash.rs, `open_parent`).
fn reopen(dir: &std::path::Path) -> Ledger {
    let wait = tinledger_ledger::LockWait { timeout: std::time::Duration::from_secs(10), on_wait: None };
    Ledger::open_waiting(dir, &wait).unwrap_or_else(|e| panic!("reopen {}: {e}", dir.display()))
}
