//! One Ed25519 criterion on every path (docs/formats.md §4.1): signatures a
//! registered actor made with its own key but with edge-case encodings
//! (fixtures/ed25519/crafted.json) get the same verdict from a single append,
//! batches of 2, 16 and 256 with the odd one at every position, `verify`,
//! `import-ledger` and certificate verification, 100 times out of 100 with
//! fresh batch randomness; keys registration must refuse are refused.

use crate::util::*;
use curve25519_dalek::constants::EIGHT_TORSION;
use serde_json::{json, Value};
use std::path::Path;
use tinledger_core::cert::{self, CertSource};
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::ed25519::{dangerous_craft, Craft};
use tinledger_core::event::{ActorAttrs, ActorRecord, EventBody, PublicKey, SIGNATURE_CONTEXT};
use tinledger_core::merkle::{self, Hash, NodeReader, ProofError};
use tinledger_core::note::NoteSigner;
use tinledger_core::testkeys::test_key;
use tinledger_core::units::{GeoPoint, Material, Role, Timestamp};
use tinledger_core::{ActorId, Entry, EntryHash, Event, LedgerId, LotId, SignedEvent};
use tinledger_ledger::{AuditOptions, Ledger, LedgerError};

const LEDGER_ID: [u8; 16] = *b"tinledger-ed255!";
const IUP: &str = "IUP-OP ED25519/01";

/// p + 1 = 2^255 − 18: a non-canonical encoding of the identity (y = 1).
fn identity_y_p_plus_1() -> [u8; 32] {
    let mut e = [0xffu8; 32];
    e[0] = 0xee;
    e[31] = 0x7f;
    e
}
/// y = 1 with the sign bit set: the identity as "negative zero".
fn identity_negative_zero() -> [u8; 32] {
    let mut e = [0u8; 32];
    e[0] = 1;
    e[31] = 0x80;
    e
}
/// y = p − 1 with the sign bit set: the order-2 point (0, −1) as "negative zero".
fn order2_negative_zero() -> [u8; 32] {
    let mut e = [0xffu8; 32];
    e[0] = 0xec;
    e
}

/// The crafted cases: name, how, expected verdict, reason text when refused.
fn cases() -> Vec<(&'static str, Craft, bool, &'static str)> {
    vec![
        ("honest", Craft::Honest, true, ""),
        ("mixed-order-r-order-8-torsion", Craft::TorsionR(1), true, ""),
        ("mixed-order-r-order-2-torsion", Craft::TorsionR(4), true, ""),
        ("mixed-order-r-order-4-torsion", Craft::TorsionR(2), true, ""),
        ("small-order-r-order-4", Craft::SmallOrderR(2), true, ""),
        ("small-order-r-order-8", Craft::SmallOrderR(3), true, ""),
        ("non-canonical-r-identity-y-p-plus-1", Craft::NonCanonicalR(identity_y_p_plus_1()), false, "its R is not"),
        (
            "non-canonical-r-identity-negative-zero",
            Craft::NonCanonicalR(identity_negative_zero()),
            false,
            "its R is not",
        ),
        ("non-canonical-r-order-2-negative-zero", Craft::NonCanonicalR(order2_negative_zero()), false, "its R is not"),
        ("non-canonical-s-plus-l", Craft::NonCanonicalS, false, "non-canonical s"),
        ("flipped-bit-in-s", Craft::FlippedS, false, "signature does not verify"),
    ]
}

pub(crate) fn event(i: u64, signer: &str, body: EventBody) -> Event {
    test_event(LEDGER_ID, i, signer, body)
}

fn register(i: u64, id: &str, role: Role, key: PublicKey) -> Event {
    let attrs = if role == Role::Mine {
        ActorAttrs { iup: Some(IUP.into()), ..Default::default() }
    } else {
        ActorAttrs::default()
    };
    event(
        i,
        "AUTH",
        EventBody::RegisterActor {
            actor: ActorRecord {
                id: ActorId::new(id).unwrap(),
                name: format!("{id} test"),
                roles: vec![role],
                key,
                attrs,
            },
        },
    )
}

/// Genesis by AUTH, MINE-A and EXP-A registered.
pub(crate) fn base_events() -> Vec<SignedEvent> {
    let auth = test_key("AUTH");
    let genesis = event(
        0,
        "AUTH",
        EventBody::Genesis {
            ledger_name: "ed25519 test".into(),
            authority: ActorId::new("AUTH").unwrap(),
            authority_name: "Ed25519 test authority".into(),
            authority_key: PublicKey::from(&auth),
        },
    );
    vec![
        genesis.sign(&auth).unwrap(),
        register(1, "MINE-A", Role::Mine, PublicKey::from(&test_key("MINE-A"))).sign(&auth).unwrap(),
        register(2, "EXP-A", Role::Exporter, PublicKey::from(&test_key("EXP-A"))).sign(&auth).unwrap(),
    ]
}

/// An extraction of lot `{tag}-{n}` by MINE-A.
pub(crate) fn extract(n: u64, tag: &str) -> Event {
    let location: GeoPoint = "-2.5,106.1".parse().unwrap();
    event(
        1000 + n,
        "MINE-A",
        EventBody::Extract {
            lot: LotId::new(format!("{tag}-{n:06}")).unwrap(),
            material: Material::Ore,
            mass_g: 100_000 + n,
            grade_ppm: Some(600_000),
            licence: IUP.into(),
            location,
        },
    )
}

/// `ev` signed by its signer's TEST key the way `how` says.
fn crafted(ev: &Event, how: Craft) -> SignedEvent {
    let bytes = ev.to_bytes();
    let sig = dangerous_craft(&test_key(ev.signer.as_str()), &[SIGNATURE_CONTEXT, &bytes], how);
    SignedEvent::from_parts(bytes, sig).expect("a crafted signature still decodes")
}

pub(crate) fn honest(ev: &Event) -> SignedEvent {
    ev.sign(&test_key(ev.signer.as_str())).unwrap()
}

fn new_ledger(dir: &Path) -> Ledger {
    let base = base_events();
    let (mut l, _) = Ledger::create(dir, &base[0]).expect("create");
    l.append_batch(&base[1..]).expect("registrations");
    l
}

// ---------------------------------------------------------------------------
// The fixture

fn fixture_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ed25519/crafted.json")
}

fn torsion_key() -> [u8; 32] {
    (test_key("MINE-A").verifying_key().to_edwards() + EIGHT_TORSION[1]).compress().to_bytes()
}

/// Keys a registration must refuse: (name, key, reason text).
fn refused_keys() -> Vec<(&'static str, [u8; 32], &'static str)> {
    vec![
        ("small-order-order-8", EIGHT_TORSION[1].compress().to_bytes(), "weak (small-order)"),
        ("identity", EIGHT_TORSION[0].compress().to_bytes(), "weak (small-order)"),
        ("identity-non-canonical-y-p-plus-1", identity_y_p_plus_1(), "not the canonical encoding"),
        ("order-2-negative-zero", order2_negative_zero(), "not the canonical encoding"),
        ("mixed-order-actor-key-plus-torsion", torsion_key(), "small-order component"),
        (
            "mixed-order-speccheck-case-2",
            hex::decode("f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43")
                .unwrap()
                .try_into()
                .unwrap(),
            "small-order component",
        ),
    ]
}

/// The fixture as the generator makes it.
fn fixture() -> Value {
    let ev = extract(0, "FIXTURE");
    let bytes = ev.to_bytes();
    let cases: Vec<Value> = cases()
        .into_iter()
        .map(|(name, how, accept, reason)| {
            let s = crafted(&ev, how);
            json!({
                "name": name,
                "craft": format!("{how:?}"),
                "signature": hex::encode(s.signature()),
                "expect": if accept { "accept" } else { "reject" },
                "reason": reason,
            })
        })
        .collect();
    let keys: Vec<Value> = refused_keys()
        .into_iter()
        .map(|(name, k, reason)| json!({"name": name, "key": hex::encode(k), "expect": "refuse-registration", "reason": reason}))
        .collect();
    json!({
        "comment": "Signatures by MINE-A's TEST key (tinledger_core::testkeys) over one extract event, made with tinledger_core::ed25519::dangerous_craft; verdicts under docs/formats.md section 4.1. Regenerate: TINLEDGER_REGENERATE=1 cargo test --test integration ed25519::crafted_fixture",
        "signer_key": PublicKey::from(&test_key("MINE-A")).to_hex(),
        "signing_context_hex": hex::encode(SIGNATURE_CONTEXT),
        "event_hex": hex::encode(&bytes),
        "signatures": cases,
        "keys": keys,
    })
}

#[test]
fn crafted_fixture_is_what_the_generator_makes_and_each_case_has_its_verdict() {
    let want = fixture();
    if std::env::var_os("TINLEDGER_REGENERATE").is_some() {
        std::fs::write(fixture_path(), serde_json::to_string_pretty(&want).unwrap() + "\n").unwrap();
    }
    let have: Value = serde_json::from_str(&std::fs::read_to_string(fixture_path()).expect("fixture")).unwrap();
    assert_eq!(have, want, "fixtures/ed25519/crafted.json is stale: regenerate it and review the diff");
    // Each committed signature, checked from the committed bytes alone.
    let key = PublicKey(hex::decode(have["signer_key"].as_str().unwrap()).unwrap().try_into().unwrap());
    let bytes = hex::decode(have["event_hex"].as_str().unwrap()).unwrap();
    for c in have["signatures"].as_array().unwrap() {
        let sig: [u8; 64] = hex::decode(c["signature"].as_str().unwrap()).unwrap().try_into().unwrap();
        let s = SignedEvent::from_parts(bytes.clone(), sig).unwrap();
        assert_eq!(s.verify(&key), c["expect"] == "accept", "{}", c["name"]);
    }
}

// ---------------------------------------------------------------------------
// Appends: alone, and in batches of 2, 16 and 256 at every position

fn assert_refused(r: Result<Vec<tinledger_ledger::Receipt>, LedgerError>, item: usize, reason: &str, what: &str) {
    match r {
        Err(LedgerError::Refused { item: i, source, .. }) => {
            assert_eq!(i, item, "{what}: refusal names item {i}");
            let msg = source.to_string();
            assert!(msg.contains("signature does not verify") && msg.contains(reason), "{what}: {msg}");
        }
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn appends_alone_and_in_batches_of_2_16_256_give_every_case_its_verdict_at_every_position() {
    let tmp = tempfile::tempdir().unwrap();
    // One ledger per case, the cases spread over both cores.
    let cases = cases();
    std::thread::scope(|s| {
        for (ci, chunk) in cases.chunks(cases.len().div_ceil(2)).enumerate() {
            let dir = tmp.path().join(format!("part{ci}"));
            s.spawn(move || {
                for (name, how, accept, reason) in chunk {
                    let dir = dir.join(name);
                    let mut l = new_ledger(&dir);
                    let mut n = 0u64;
                    for size in [1usize, 2, 16, 256] {
                        // Every position, except that accepted cases other
                        // than the mixed-order R of order 8 (the one
                        // `verify_batch` used to accept by chance) take 22
                        // positions of the 256 (both ends, the middle, every
                        // 13th): each accepted batch of 256 appends 256 entries.
                        let every = !*accept || *name == "mixed-order-r-order-8-torsion" || size < 256;
                        for pos in (0..size).filter(|p| every || [1, 127, 128, 254, 255].contains(p) || p % 13 == 0) {
                            let before = l.head();
                            let evs: Vec<SignedEvent> = (0..size)
                                .map(|i| {
                                    n += 1;
                                    let ev = extract(n, name);
                                    if i == pos {
                                        crafted(&ev, *how)
                                    } else {
                                        honest(&ev)
                                    }
                                })
                                .collect();
                            let what = format!("{name} in an append of {size} at position {pos}");
                            let r = if size == 1 { l.append(&evs[0]).map(|r| vec![r]) } else { l.append_batch(&evs) };
                            if *accept {
                                assert_eq!(r.expect(&what).len(), size, "{what}");
                                assert_eq!(l.head().size, before.size + size as u64, "{what}");
                            } else {
                                assert_refused(r, pos, reason, &what);
                                assert_eq!(l.head(), before, "{what}: the ledger changed");
                            }
                        }
                    }
                    // What was appended audits clean.
                    let report = l.audit(&AuditOptions::default());
                    assert!(report.ok, "{name}: {:?}", report.fault);
                }
            });
        }
    });
}

// ---------------------------------------------------------------------------
// verify, import-ledger and certificates on ledgers that hold each case

/// A ledger with the base events, 20 honest extractions, the crafted one
/// (lot `ODD-000500`) dispatched to and received by EXP-A. For a refused
/// case the crafted entry is written into storage directly, as a buggy or
/// hostile writer would.
struct Holding {
    events: Vec<SignedEvent>,
    odd_seq: u64,
}

fn holding(how: Craft) -> Holding {
    let mut events = base_events();
    for n in 0..20 {
        events.push(honest(&extract(n, "FILL")));
    }
    let odd = extract(500, "ODD");
    let lot = LotId::new("ODD-000500").unwrap();
    let odd_seq = events.len() as u64;
    events.push(crafted(&odd, how));
    let exp = ActorId::new("EXP-A").unwrap();
    events.push(honest(&event(
        2000,
        "MINE-A",
        EventBody::Dispatch { lot: lot.clone(), to: exp, transporter: None, document: "SJ-1".into() },
    )));
    events.push(honest(&event(2001, "EXP-A", EventBody::Receive { lot, mass_g: 100_500 })));
    Holding { events, odd_seq }
}

/// The chain's entries.
fn entries_of(events: &[SignedEvent]) -> Vec<Entry> {
    let mut prev = EntryHash::ZERO;
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let entry = Entry::new(i as u64, prev, e);
            prev = entry.hash();
            entry
        })
        .collect()
}

/// An in-memory certificate source over a chain (valid or not).
struct Chain {
    entries: Vec<Entry>,
    leaves: Vec<Hash>,
}

impl Chain {
    fn new(events: &[SignedEvent]) -> Chain {
        let entries = entries_of(events);
        let leaves = entries.iter().map(|e| merkle::leaf_hash(&e.to_bytes())).collect();
        Chain { entries, leaves }
    }
    fn history(&self, f: impl Fn(&SignedEvent) -> bool) -> Vec<u64> {
        (0..self.entries.len() as u64).filter(|s| f(&self.entries[*s as usize].signed_event().unwrap())).collect()
    }
}

impl NodeReader for Chain {
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        if level == 0 {
            return self.leaves.get(index as usize).copied().ok_or(ProofError::Storage("no leaf".into()));
        }
        Ok(merkle::node_hash(&self.node(level - 1, 2 * index)?, &self.node(level - 1, 2 * index + 1)?))
    }
}

impl CertSource for Chain {
    fn lot_history(&self, lot: &LotId) -> Result<Vec<u64>, String> {
        Ok(self.history(|s| s.event().body.lots().contains(&lot)))
    }
    fn actor_history(&self, actor: &ActorId) -> Result<Vec<u64>, String> {
        Ok(self.history(|s| s.event().body.subject_actor() == Some(actor)))
    }
    fn entry(&self, seq: u64) -> Result<Entry, String> {
        self.entries.get(seq as usize).cloned().ok_or_else(|| format!("no entry {seq}"))
    }
    fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, String> {
        merkle::inclusion_proof(self, seq, size).map_err(|e| e.to_string())
    }
}

/// A certificate for ODD-000500 by EXP-A over `chain`, with a checkpoint
/// AUTH signed over the whole chain.
fn checkpoint_of(chain: &Chain) -> Checkpoint {
    let size = chain.entries.len() as u64;
    Checkpoint {
        origin: origin_for(&LedgerId(LEDGER_ID)),
        size,
        root: merkle::root(chain, size).unwrap(),
        extensions: vec![],
    }
}

fn auth_signer() -> NoteSigner {
    NoteSigner::new(&origin_for(&LedgerId(LEDGER_ID)), test_key("AUTH")).unwrap()
}

fn checkpoint_note(chain: &Chain) -> String {
    checkpoint_of(chain).sign(&auth_signer()).unwrap()
}

fn certificate(chain: &Chain) -> (cert::Certificate, tinledger_core::note::Verifier) {
    let cp = checkpoint_of(chain);
    let signer = auth_signer();
    let note = cp.sign(&signer).unwrap();
    let c = cert::issue(
        chain,
        &LotId::new("ODD-000500").unwrap(),
        &note,
        &cp,
        &ActorId::new("EXP-A").unwrap(),
        &test_key("EXP-A"),
        Timestamp(1_770_500_000),
    )
    .expect("issue");
    (c, signer.verifier())
}

#[test]
fn verify_import_ledger_and_cert_verify_give_every_case_its_verdict_100_times() {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey};
    let env = Env::new();
    let auth_pub = env.path("authority.pub.pem");
    std::fs::write(&auth_pub, test_key("AUTH").verifying_key().to_public_key_pem(LineEnding::LF).unwrap()).unwrap();
    for (name, how, accept, reason) in cases() {
        let h = holding(how);
        let dir = env.path(&format!("{name}/ledger"));
        {
            let mut l = new_ledger(&dir);
            let odd = h.odd_seq as usize;
            l.append_batch(&h.events[3..odd]).unwrap();
            if accept {
                l.append_batch(&h.events[odd..]).unwrap();
            } else {
                // Write the entry past the rules, then its successors
                // re-chained onto it, as a hostile writer would.
                let entries = entries_of(&h.events);
                drop(l);
                with_db(&dir, |db| {
                    for e in &entries[odd..] {
                        put_raw_entry(db, e.seq, &e.to_bytes());
                    }
                    db.flush().unwrap();
                });
            }
        }
        // verify: library audits with fresh batch weights, then the CLI.
        let l = Ledger::open_for_audit(&dir).expect("open");
        for round in 0..100 {
            let r = l.audit(&AuditOptions::default());
            if accept {
                assert!(r.ok, "{name}, round {round}: {:?}", r.fault);
            } else {
                let f = r.fault.unwrap_or_else(|| panic!("{name}, round {round}: verify passed"));
                assert_eq!(f.seq, Some(h.odd_seq), "{name}, round {round}: {}", f.reason);
                assert!(
                    f.reason.contains("signature does not verify") && f.reason.contains(reason),
                    "{name}: {}",
                    f.reason
                );
            }
        }
        drop(l);
        let out = env.bare().arg("--ledger").arg(&dir).args(["verify", "--json"]).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).expect("verify --json");
        assert_eq!(v["ok"], accept, "{name}: {v}");
        if !accept {
            assert_eq!(v["fault"]["seq"], h.odd_seq, "{name}: {v}");
        }

        // import-ledger of the chain's export, with a checkpoint AUTH signed
        // over the whole chain.
        let chain = Chain::new(&h.events);
        let cp_path = env.path(&format!("{name}/checkpoint.txt"));
        std::fs::write(&cp_path, checkpoint_note(&chain)).unwrap();
        let export = env.path(&format!("{name}/export.tle"));
        let exported = env.bare().arg("--ledger").arg(&dir).arg("export").arg("--out").arg(&export).output().unwrap();
        if export.exists() {
            let into = env.path(&format!("{name}/imported"));
            let out = env
                .bare()
                .arg("import-ledger")
                .arg(&export)
                .arg("--into")
                .arg(&into)
                .arg("--authority-key")
                .arg(&auth_pub)
                .arg("--checkpoint")
                .arg(&cp_path)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.success(), accept, "{name}: import-ledger: {stderr}");
            if !accept {
                assert!(stderr.contains("signature does not verify"), "{name}: {stderr}");
                assert!(!into.join("db").exists() || !into.exists(), "{name}: a refused import left a ledger");
            }
        } else {
            // export audits first and refused the damaged ledger.
            assert!(!accept && !exported.status.success(), "{name}: export wrote nothing");
        }

        // Certificates: issued over the chain, verified with fresh weights.
        let (c, v) = certificate(&chain);
        for round in 0..100 {
            let mut seed = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
            match cert::verify_seeded(&c, &v, &seed) {
                Ok(_) => assert!(accept, "{name}, round {round}: certificate verified"),
                Err(e) => {
                    assert!(!accept, "{name}, round {round}: {e}");
                    assert_eq!(e.code, "event-signature", "{name}: {e}");
                    assert!(e.msg.contains(&format!("entry {}", h.odd_seq)) && e.msg.contains(reason), "{name}: {e}");
                }
            }
        }
        // And once through `tinledger cert verify`.
        let cert_path = env.path(&format!("{name}/cert.json"));
        std::fs::write(&cert_path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
        let _ = v;
        let out = env
            .bare()
            .args(["cert", "verify"])
            .arg(&cert_path)
            .arg("--authority-key")
            .arg(&auth_pub)
            .arg("--json")
            .output()
            .unwrap();
        let j: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: cert verify --json: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(j["ok"], accept, "{name}: {j}");
    }
}

// ---------------------------------------------------------------------------
// Keys

#[test]
fn registration_refuses_small_order_mixed_order_and_non_canonical_keys() {
    let auth = test_key("AUTH");
    for (name, key, reason) in refused_keys() {
        let ev = register(9, "BAD-KEY", Role::Mine, PublicKey(key));
        // Signing refuses it, and so does decoding the signed bytes.
        let e = ev.sign(&auth).expect_err(name);
        assert!(e.contains(reason), "{name}: {e}");
        let bytes = ev.to_bytes();
        let sig = dangerous_craft(&auth, &[SIGNATURE_CONTEXT, &bytes], Craft::Honest);
        let e = SignedEvent::from_parts(bytes, sig).expect_err(name).to_string();
        assert!(e.contains(reason), "{name}: {e}");
    }
}
