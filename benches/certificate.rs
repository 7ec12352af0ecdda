//! Certificate issue and verify on a large ledger (issue #3 target: a lot
//! with about 1,000 upstream events in a ledger of 1,000,000 entries; issue
//! under 100 ms, verify under 50 ms on a 2-core machine), next to the raw
//! limits measured in the same run (Ed25519 verify_strict, SHA-256 of an
//! entry).
//!
//!     cargo bench --bench certificate
//!     TINLEDGER_BENCH_ENTRIES=100000 cargo bench --bench certificate   # smaller, faster
//!
//! The ledger is built once (about 2-4 minutes for 1M entries) and cached
//! under target/bench-data/. Results: docs/performance.md.

use criterion::{criterion_group, criterion_main, Criterion};
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tinledger_core::cert::{self, Certificate};
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::event::{ActorAttrs, ActorRecord, EventBody, PublicKey, Take};
use tinledger_core::note::{NoteSigner, Verifier};
use tinledger_core::testkeys::test_key;
use tinledger_core::units::{GeoPoint, Material, Role, Timestamp};
use tinledger_core::{ActorId, Event, LedgerId, LotId, SignedEvent};
use tinledger_ledger::Ledger;

const MINES: usize = 10;
/// Ore lots smelted into the certified ingot: 3 events each (extract,
/// dispatch, receive), plus the smelt, dispatch, receive and export.
const ORE_LOTS: usize = 330;
const LEDGER: [u8; 16] = *b"tinledger-bench!";

fn id(s: &str) -> ActorId {
    ActorId::new(s).expect("id")
}
fn lot(s: String) -> LotId {
    LotId::new(s).expect("lot")
}
fn iup(m: usize) -> String {
    format!("IUP-OP BENCH/{m:02}")
}
fn point() -> GeoPoint {
    "-2.5,106.1".parse().expect("point")
}

fn register(i: u64, aid: &str, role: Role, attrs: ActorAttrs) -> (String, Event) {
    let body = EventBody::RegisterActor {
        actor: ActorRecord {
            id: id(aid),
            name: aid.to_string(),
            roles: vec![role],
            key: PublicKey::from(&test_key(aid)),
            attrs,
        },
    };
    (
        "AUTH".into(),
        Event {
            ledger_id: LedgerId(LEDGER),
            signer: id("AUTH"),
            at: Timestamp(1_770_000_000 + i as i64),
            note: None,
            body,
        },
    )
}

fn ev(i: u64, signer: &str, body: EventBody) -> (String, Event) {
    (
        signer.to_string(),
        Event {
            ledger_id: LedgerId(LEDGER),
            signer: id(signer),
            at: Timestamp(1_770_000_000 + i as i64),
            note: None,
            body,
        },
    )
}

/// The events of the benchmark ledger, in order.
fn events(total: usize) -> Vec<(String, Event)> {
    let mut head = vec![ev(
        0,
        "AUTH",
        EventBody::Genesis {
            ledger_name: "bench".into(),
            authority: id("AUTH"),
            authority_name: "Bench authority".into(),
            authority_key: PublicKey::from(&test_key("AUTH")),
        },
    )];
    for m in 0..MINES {
        head.push(register(
            head.len() as u64,
            &format!("MINE-{m:02}"),
            Role::Mine,
            ActorAttrs { iup: Some(iup(m)), ..Default::default() },
        ));
    }
    head.push(register(
        head.len() as u64,
        "SMELTER",
        Role::Smelter,
        ActorAttrs { rmi_cid: Some("CID000001".into()), ..Default::default() },
    ));
    head.push(register(head.len() as u64, "EXPORTER", Role::Exporter, ActorAttrs::default()));
    let mut upstream = Vec::new();
    for k in 0..ORE_LOTS {
        let m = k % MINES;
        let l = lot(format!("ORE-{k:04}"));
        let mine = format!("MINE-{m:02}");
        upstream.push(ev(
            0,
            &mine,
            EventBody::Extract {
                lot: l.clone(),
                material: Material::Ore,
                mass_g: 1_000_000,
                grade_ppm: Some(600_000),
                licence: iup(m),
                location: point(),
            },
        ));
        upstream.push(ev(
            0,
            &mine,
            EventBody::Dispatch { lot: l.clone(), to: id("SMELTER"), transporter: None, document: format!("SJ-{k}") },
        ));
        upstream.push(ev(0, "SMELTER", EventBody::Receive { lot: l, mass_g: 1_000_000 }));
    }
    let ingot = lot("INGOT-BENCH".into());
    upstream.push(ev(
        0,
        "SMELTER",
        EventBody::Smelt {
            inputs: (0..ORE_LOTS).map(|k| Take { lot: lot(format!("ORE-{k:04}")), mass_g: 1_000_000 }).collect(),
            outputs: vec![tinledger_core::event::Output {
                lot: ingot.clone(),
                material: Material::Ingot,
                mass_g: ORE_LOTS as u64 * 590_000,
                grade_ppm: 999_000,
            }],
        },
    ));
    upstream.push(ev(
        0,
        "SMELTER",
        EventBody::Dispatch { lot: ingot.clone(), to: id("EXPORTER"), transporter: None, document: "SJ-INGOT".into() },
    ));
    upstream.push(ev(0, "EXPORTER", EventBody::Receive { lot: ingot.clone(), mass_g: ORE_LOTS as u64 * 590_000 }));
    upstream.push(ev(
        0,
        "EXPORTER",
        EventBody::Export {
            lot: ingot,
            destination: "JP".into(),
            hs_code: "8001.10".into(),
            permit: "P-1".into(),
            surveyor_report: "LS-1".into(),
            consignee: "Buyer KK".into(),
        },
    ));
    // Filler: unrelated extractions, with the upstream events spread among them.
    let filler = total.saturating_sub(head.len() + upstream.len());
    let gap = filler / (upstream.len() + 1);
    let mut out = head;
    let mut f = 0usize;
    let filler_ev = |f: usize| {
        let m = f % MINES;
        ev(
            0,
            &format!("MINE-{m:02}"),
            EventBody::Extract {
                lot: lot(format!("F-{f:08}")),
                material: Material::Ore,
                mass_g: 500_000,
                grade_ppm: Some(550_000),
                licence: iup(m),
                location: point(),
            },
        )
    };
    for u in upstream {
        for _ in 0..gap {
            out.push(filler_ev(f));
            f += 1;
        }
        out.push(u);
    }
    while f < filler {
        out.push(filler_ev(f));
        f += 1;
    }
    for (i, (_, e)) in out.iter_mut().enumerate() {
        e.at = Timestamp(1_770_000_000 + i as i64);
    }
    out
}

fn build(path: &PathBuf, total: usize) -> Ledger {
    if path.join("db").exists() {
        if let Ok(l) = Ledger::open(path) {
            if l.head().size as usize == total && l.latest_checkpoint().ok().flatten().is_some() {
                return l;
            }
        }
        std::fs::remove_dir_all(path).expect("remove stale bench ledger");
    }
    let t0 = Instant::now();
    let evs = events(total);
    let signed: Vec<SignedEvent> = evs.par_iter().map(|(k, e)| e.sign(&test_key(k)).expect("sign")).collect();
    eprintln!("bench: signed {} events in {:.1?}", signed.len(), t0.elapsed());
    let (mut l, _) = Ledger::create(path, &signed[0]).expect("create");
    for chunk in signed[1..].chunks(10_000) {
        l.append_batch(chunk).expect("append");
    }
    eprintln!("bench: built a ledger of {} entries in {:.1?}", l.head().size, t0.elapsed());
    let info = l.info().cloned().expect("info");
    let origin = origin_for(&info.ledger_id);
    let size = l.head().size;
    let cp = Checkpoint { origin: origin.clone(), size, root: l.merkle_root(size).expect("root"), extensions: vec![] };
    let note = cp.sign(&NoteSigner::new(&origin, test_key("AUTH")).expect("signer")).expect("sign");
    l.store_checkpoint(size, &note).expect("checkpoint");
    l
}

fn bench(c: &mut Criterion) {
    let total: usize = std::env::var("TINLEDGER_BENCH_ENTRIES").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-data/cert-ledger-{total}"));
    let l = build(&path, total);
    let (size, note) = l.latest_checkpoint().expect("read").expect("checkpoint");
    let origin = origin_for(&l.info().expect("info").ledger_id);
    let v = Verifier::new(&origin, PublicKey::from(&test_key("AUTH")).0).expect("verifier");
    let cp = Checkpoint::open(&note, &v).expect("open");
    let target = lot("INGOT-BENCH".into());
    let key = test_key("EXPORTER");
    let issue =
        || cert::issue(&l, &target, &note, &cp, &id("EXPORTER"), &key, Timestamp(1_780_000_000)).expect("issue");
    let certificate: Certificate = issue();
    let json = serde_json::to_string(&certificate).expect("json");
    eprintln!(
        "bench: ledger {size} entries; certificate for {target}: {} entries, {} bytes of JSON",
        certificate.entries.len(),
        json.len()
    );
    cert::verify(&certificate, &v).expect("verifies");

    let mut g = c.benchmark_group("certificate");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("issue", |b| b.iter(issue));
    g.bench_function("verify", |b| b.iter(|| cert::verify(&certificate, &v).expect("verify")));
    g.bench_function("parse_and_verify", |b| {
        b.iter(|| {
            let c = Certificate::from_json(&json).expect("parse");
            cert::verify(&c, &v).expect("verify")
        })
    });
    g.finish();

    // Raw limits on this machine, same run.
    let mut g = c.benchmark_group("limits");
    let e = l.get(100).expect("read").expect("entry");
    let s = e.signed_event().expect("decode");
    let k = PublicKey::from(&test_key(s.event().signer.as_str()));
    assert!(s.verify(&k));
    // `s.verify` is the project's criterion (docs/formats.md §4.1), single.
    g.bench_function("ed25519_verify_single", |b| b.iter(|| s.verify(&k)));
    let bytes = e.to_bytes();
    g.bench_function("sha256_entry", |b| b.iter(|| tinledger_core::entry::hash_entry_bytes(&bytes)));
    g.bench_function("leaf_hash_entry", |b| b.iter(|| tinledger_core::merkle::leaf_hash(&bytes)));
    g.finish();

    // One batch of VERIFY_BATCH entries' signatures, one core: the
    // project's cofactored batch check against ed25519-dalek's
    // (cofactorless) verify_batch, which it replaced (threat-model.md §3.11).
    let mut g = c.benchmark_group("signature_batch_256");
    let mut cache = tinledger_core::sigbatch::KeyCache::default();
    let items: Vec<_> = (0..tinledger_ledger::VERIFY_BATCH as u64)
        .map(|seq| {
            let s = l.get(seq + 1).expect("read").expect("entry").signed_event().expect("decode");
            let k = PublicKey::from(&test_key(s.event().signer.as_str()));
            cache.check(seq, s.bytes().to_vec(), *s.signature(), k)
        })
        .collect();
    let msgs: Vec<Vec<u8>> = items.iter().map(|c| tinledger_core::event::signing_message(&c.event_bytes)).collect();
    let msg_refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let sigs: Vec<_> = items.iter().map(|c| ed25519_dalek::Signature::from_bytes(&c.signature)).collect();
    let vks: Vec<_> = items.iter().map(|c| c.key.verifying_key().expect("key")).collect();
    g.throughput(criterion::Throughput::Elements(items.len() as u64));
    g.bench_function("tinledger_cofactored", |b| {
        b.iter(|| assert!(tinledger_core::sigbatch::batch_ok(&items, &[7u8; 32])))
    });
    g.bench_function("dalek_verify_batch", |b| {
        b.iter(|| assert!(ed25519_dalek::verify_batch(&msg_refs, &sigs, &vks).is_ok()))
    });
    g.finish();
    let _ = s;
}

criterion_group!(benches, bench);
criterion_main!(benches);
