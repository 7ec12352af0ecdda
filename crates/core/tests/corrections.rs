//! Corrections and time order (issue #11), replayed through an `Overlay`
//! as `verify` and certificates do.

use tinledger_core::entry::{Entry, EntryHash};
use tinledger_core::event::{ActorAttrs, ActorRecord, Event, EventBody, PublicKey};
use tinledger_core::rules::{self, Overlay, RuleError, StateView};
use tinledger_core::testkeys::test_key;
use tinledger_core::units::{GeoPoint, Material, Role, Timestamp};
use tinledger_core::{ActorId, LedgerId, LotId, SignedEvent};

const T0: i64 = 1_780_000_000;

struct Chain {
    st: Overlay<'static>,
    prev: EntryHash,
    n: u64,
}

fn id(s: &str) -> ActorId {
    ActorId::new(s).unwrap()
}
fn lot() -> LotId {
    LotId::new("ORE-1").unwrap()
}

fn signed(signer: &str, at: i64, body: EventBody) -> SignedEvent {
    let ev = Event { ledger_id: LedgerId([3; 16]), signer: id(signer), at: Timestamp(at), note: None, body };
    ev.sign(&test_key(signer)).unwrap()
}

impl Chain {
    fn push(&mut self, s: SignedEvent) -> Result<(u64, EntryHash), RuleError> {
        let d = rules::apply(&self.st, self.n, &s)?;
        let e = Entry::new(self.n, self.prev, &s);
        let h = e.hash();
        self.st.absorb(self.n, &d);
        self.st.entries.insert(self.n, e);
        self.prev = h;
        self.n += 1;
        Ok((self.n - 1, h))
    }
    fn new() -> Chain {
        let mut c = Chain { st: Overlay::empty(), prev: EntryHash::ZERO, n: 0 };
        let genesis = EventBody::Genesis {
            ledger_name: "t".into(),
            authority: id("AUTH"),
            authority_name: "Auth".into(),
            authority_key: PublicKey::from(&test_key("AUTH")),
        };
        c.push(signed("AUTH", T0, genesis)).unwrap();
        for (a, role) in [("MINE-A", Role::Mine), ("MINE-B", Role::Mine), ("COLL", Role::Collector)] {
            let actor = ActorRecord {
                id: id(a),
                name: a.into(),
                roles: vec![role],
                key: PublicKey::from(&test_key(a)),
                attrs: ActorAttrs { iup: Some(format!("IUP {a}")), ..Default::default() },
            };
            c.push(signed("AUTH", T0, EventBody::RegisterActor { actor })).unwrap();
        }
        c
    }
    fn extract(&mut self, at: i64, mass_g: u64) -> Result<(u64, EntryHash), RuleError> {
        self.push(signed(
            "MINE-A",
            at,
            EventBody::Extract {
                lot: lot(),
                material: Material::Ore,
                mass_g,
                grade_ppm: Some(700_000),
                licence: "IUP MINE-A".into(),
                location: GeoPoint { lat_micro: -2_000_000, lon_micro: 106_000_000 },
            },
        ))
    }
}

fn correct(signer: &str, at: i64, (seq, hash): (u64, EntryHash), mass_g: u64) -> SignedEvent {
    signed(
        signer,
        at,
        EventBody::Correct {
            lot: lot(),
            entry_seq: seq,
            entry_hash: hash,
            mass_g: Some(mass_g),
            grade_ppm: None,
            reason: "typed g for kg".into(),
        },
    )
}

fn dispatch(at: i64) -> SignedEvent {
    signed("MINE-A", at, EventBody::Dispatch { lot: lot(), to: id("COLL"), transporter: None, document: "SJ-1".into() })
}

#[test]
fn a_correction_by_the_signer_changes_the_lot_state() {
    let mut c = Chain::new();
    let e = c.extract(T0 + 10, 1250).unwrap();
    c.push(correct("MINE-A", T0 + 20, e, 1_250_000)).unwrap();
    assert_eq!(c.st.lot(&lot()).unwrap().unwrap().mass_g, 1_250_000);
    // A second correction of the same entry is still in time.
    c.push(correct("MINE-A", T0 + 30, e, 1_240_000)).unwrap();
    assert_eq!(c.st.lot(&lot()).unwrap().unwrap().mass_g, 1_240_000);
}

#[test]
fn a_correction_by_another_actor_is_refused() {
    let mut c = Chain::new();
    let e = c.extract(T0 + 10, 1250).unwrap();
    let err = c.push(correct("MINE-B", T0 + 20, e, 1_250_000)).unwrap_err();
    assert!(err.to_string().contains("only its signer may correct it"), "{err}");
}

#[test]
fn a_correction_after_downstream_use_is_refused_with_a_hint() {
    let mut c = Chain::new();
    let e = c.extract(T0 + 10, 1250).unwrap();
    c.push(dispatch(T0 + 20)).unwrap();
    let err = c.push(correct("MINE-A", T0 + 30, e, 1_250_000)).unwrap_err();
    assert!(matches!(err, RuleError::CorrectionTooLate { used_seq: 5, .. }), "{err}");
    assert!(err.to_string().contains("(seq 5, dispatch)"), "{err}");
}

#[test]
fn a_correction_naming_a_wrong_hash_is_refused() {
    let mut c = Chain::new();
    let (seq, _) = c.extract(T0 + 10, 1250).unwrap();
    let err = c.push(correct("MINE-A", T0 + 20, (seq, EntryHash([9; 32])), 1_250_000)).unwrap_err();
    assert!(err.to_string().contains("has hash"), "{err}");
}

#[test]
fn an_event_dated_before_the_last_on_its_lot_is_refused() {
    let mut c = Chain::new();
    c.extract(T0 + 100, 1250).unwrap();
    let err = c.push(dispatch(T0 + 50)).unwrap_err();
    assert!(matches!(err, RuleError::TimeOrder { before_seq: 4, .. }), "{err}");
    // Same second is fine.
    c.push(dispatch(T0 + 100)).unwrap();
    let recv = signed("COLL", T0 + 99, EventBody::Receive { lot: lot(), mass_g: 1250 });
    let err = c.push(recv).unwrap_err();
    assert!(err.to_string().contains("receive dated"), "{err}");
}

#[test]
fn the_clock_check_refuses_events_beyond_the_skew() {
    let now = Timestamp(T0);
    let ok = signed("MINE-A", T0 + rules::MAX_CLOCK_SKEW_SECS, EventBody::Receive { lot: lot(), mass_g: 1 });
    assert!(rules::check_clock(&ok, now).is_ok());
    let late = signed("MINE-A", T0 + rules::MAX_CLOCK_SKEW_SECS + 1, EventBody::Receive { lot: lot(), mass_g: 1 });
    assert!(matches!(rules::check_clock(&late, now), Err(RuleError::FutureTime { .. })));
    // An extraction dated 2031 against a 2026 clock.
    let y2031 = signed("MINE-A", 1_924_992_000, EventBody::Receive { lot: lot(), mass_g: 1 });
    assert!(rules::check_clock(&y2031, Timestamp(1_796_083_200)).is_err());
}
