//! Random custody-event sequences for property tests, shared by
//! crates/core/tests/props.rs (proptest) and tests/props.rs (through the
//! real ledger). Included with `#[path]`; not a test target of its own.
#![allow(dead_code)]

use tinledger_core::event::{ActorAttrs, ActorRecord, Output, PublicKey, Take};
use tinledger_core::ids::LedgerId;
use tinledger_core::rules::{LotState, LotStatus, Overlay};
use tinledger_core::testkeys::test_key;
use tinledger_core::units::{GeoPoint, Material, Role, Timestamp};
use tinledger_core::{ActorId, Event, EventBody, LotId, SignedEvent};

// ---------------------------------------------------------------- generator

pub const AUTH: &str = "AUTH-PROP";
pub const LEDGER: LedgerId = LedgerId([0x42; 16]);
/// (id, roles (sorted), IUP licence)
pub const ACTORS: &[(&str, &[Role], Option<&str>)] = &[
    ("MINE-A", &[Role::Mine], Some("IUP-A")),
    ("MINE-B", &[Role::Mine], Some("IUP-B")),
    ("COLL-A", &[Role::Collector], None),
    ("SMELT-A", &[Role::Smelter], None),
    ("SMELT-B", &[Role::Smelter], None),
    ("LAB-A", &[Role::Lab], None),
    ("MANU-A", &[Role::Manufacturer], None),
    ("EXP-A", &[Role::Exporter], None),
    ("HUB-A", &[Role::Collector, Role::Exporter], None),
    ("TRANS-A", &[Role::Transporter], None),
];
pub const MINES: &[&str] = &["MINE-A", "MINE-B"];
pub const SMELTERS: &[&str] = &["SMELT-A", "SMELT-B"];
pub const HOLDERS: &[&str] = &["COLL-A", "SMELT-A", "SMELT-B", "MANU-A", "EXP-A", "HUB-A"];

/// One random op: (kind, a, b, c).
pub type Op = (u8, u32, u32, u32);

pub fn id(s: &str) -> ActorId {
    ActorId::new(s).unwrap()
}
pub fn lot(s: &str) -> LotId {
    LotId::new(s).unwrap()
}

pub fn sign(signer: &str, n: usize, body: EventBody) -> Option<SignedEvent> {
    let ev = Event { ledger_id: LEDGER, signer: id(signer), at: Timestamp(1_775_000_000 + n as i64), note: None, body };
    // A malformed event (zero mass, say) cannot even be signed: a refusal.
    ev.sign(&test_key(signer)).ok()
}

/// Genesis and the registrations: always accepted.
pub fn setup() -> Vec<SignedEvent> {
    let mut out = vec![sign(
        AUTH,
        0,
        EventBody::Genesis {
            ledger_name: "property test".into(),
            authority: id(AUTH),
            authority_name: "Property authority".into(),
            authority_key: PublicKey::from(&test_key(AUTH)),
        },
    )
    .unwrap()];
    for (i, (a, roles, iup)) in ACTORS.iter().enumerate() {
        let actor = ActorRecord {
            id: id(a),
            name: format!("actor {a}"),
            roles: roles.to_vec(),
            key: PublicKey::from(&test_key(a)),
            attrs: ActorAttrs { iup: iup.map(String::from), ..ActorAttrs::default() },
        };
        out.push(sign(AUTH, i + 1, EventBody::RegisterActor { actor }).unwrap());
    }
    out
}

pub fn pick<T: Clone>(v: &[T], x: u32) -> Option<T> {
    (!v.is_empty()).then(|| v[x as usize % v.len()].clone())
}

/// `m * num / den`, at least 1.
pub fn frac(m: u64, num: u64, den: u64) -> u64 {
    ((u128::from(m) * u128::from(num) / u128::from(den.max(1))) as u64).max(1)
}

/// Turn op number `n` into a signed event, looking at state `st`. `None`
/// when the op has nothing to work on (or the event is malformed).
pub fn build(st: &Overlay, n: usize, (kind, a, b, c): Op) -> Option<SignedEvent> {
    let lots: Vec<&LotState> = st.lots_sorted();
    let active: Vec<&LotState> = lots.iter().copied().filter(|l| l.status == LotStatus::Active).collect();
    let held_by = |who: &str, f: &dyn Fn(&LotState) -> bool| -> Vec<LotState> {
        active.iter().filter(|l| l.custodian.as_str() == who && f(l)).map(|l| (*l).clone()).collect()
    };
    // Lots with a custodian who may split or merge.
    let holdings: Vec<&LotState> = active.iter().copied().filter(|l| HOLDERS.contains(&l.custodian.as_str())).collect();
    let all_ids: Vec<&str> = ACTORS.iter().map(|a| a.0).collect();
    // Mostly the custodian; sometimes anyone.
    let signer_for = |l: &LotState, x: u32| -> String {
        if x.is_multiple_of(13) {
            pick(&all_ids, x / 13).unwrap().to_string()
        } else {
            l.custodian.as_str().to_string()
        }
    };
    let new_id = |suffix: &str| -> LotId {
        // Now and then reuse an existing id: refused as LotExists.
        if a.is_multiple_of(23) {
            if let Some(l) = pick(&lots, b) {
                return l.id.clone();
            }
        }
        lot(&format!("L{n}{suffix}"))
    };
    let takes = |src: &[LotState], k: usize| -> Vec<Take> {
        src.iter()
            .cycle()
            .skip(b as usize % src.len().max(1))
            .take(k.min(src.len()))
            .enumerate()
            .map(|(i, l)| {
                let x = c.rotate_left(i as u32 * 7);
                let mass = match x % 8 {
                    0 | 1 => l.mass_g,                         // all of it
                    2 if x.is_multiple_of(19) => l.mass_g + 1, // too much
                    _ => frac(l.mass_g, u64::from(x % 997) + 1, 1000),
                };
                Take { lot: l.id.clone(), mass_g: mass }
            })
            .collect()
    };
    let tin_in = |ts: &[Take]| -> u128 {
        ts.iter()
            .map(|t| {
                let g = st.lots.get(&t.lot).and_then(|l| l.grade_ppm).unwrap_or(0);
                u128::from(t.mass_g) * u128::from(g)
            })
            .sum()
    };
    // Outputs holding `tin * factor_ppm / 10^6` in total, at grade ~`grade`.
    let outputs = |tin: u128, k: u32, grade: u32, materials: &[Material]| -> Vec<Output> {
        let factor = 500_000 + u128::from((c >> 10) % 560_001); // 0.5 .. 1.06
        let target = tin * factor / 1_000_000;
        (0..k)
            .map(|i| {
                let g = grade.max(1);
                Output {
                    lot: new_id(&format!("-o{i}")),
                    material: pick(materials, c >> (3 + i)).unwrap(),
                    mass_g: ((target / u128::from(k) / u128::from(g)) as u64).max(1),
                    grade_ppm: g,
                }
            })
            .collect()
    };
    match kind % 10 {
        0 => {
            let mine = pick(MINES, a).unwrap();
            let iup = ACTORS.iter().find(|x| x.0 == mine).and_then(|x| x.2).unwrap();
            sign(
                mine,
                n,
                EventBody::Extract {
                    lot: new_id(""),
                    material: if b.is_multiple_of(2) { Material::Ore } else { Material::Concentrate },
                    mass_g: 1 + u64::from(b % 5_000_000),
                    grade_ppm: (c % 8 != 0).then_some(c % 800_001),
                    licence: if a.is_multiple_of(17) { "IUP-WRONG".into() } else { iup.into() },
                    location: GeoPoint { lat_micro: -2_000_000, lon_micro: 106_000_000 },
                },
            )
        }
        1 | 2 => {
            // Mostly a lot that still has somewhere to go.
            let onward: Vec<&LotState> = if kind % 10 == 1 {
                active
                    .iter()
                    .copied()
                    .filter(|l| match l.material {
                        m if m.is_raw() => !l.custodian.as_str().starts_with("SMELT"),
                        Material::Ingot => l.custodian.as_str() != "MANU-A",
                        _ => l.custodian.as_str() == "MANU-A",
                    })
                    .collect()
            } else {
                active.clone()
            };
            let l = pick(&onward, a)?;
            let to = if b.is_multiple_of(8) {
                pick(&all_ids, b / 8).unwrap()
            } else if l.material.is_raw() {
                pick(&["COLL-A", "SMELT-A", "SMELT-B", "HUB-A"], b / 8).unwrap()
            } else if l.material == Material::Ingot {
                pick(&["MANU-A", "EXP-A", "HUB-A"], b / 8).unwrap()
            } else {
                pick(&["EXP-A", "HUB-A"], b / 8).unwrap()
            };
            let transporter = match c % 4 {
                0 => Some(id("TRANS-A")),
                1 if c.is_multiple_of(9) => Some(id("LAB-A")), // not a transporter
                _ => None,
            };
            sign(
                &signer_for(l, b),
                n,
                EventBody::Dispatch { lot: l.id.clone(), to: id(to), transporter, document: format!("DOC-{n}") },
            )
        }
        3 => {
            let moving: Vec<&LotState> =
                lots.iter().copied().filter(|l| matches!(l.status, LotStatus::InTransit { .. })).collect();
            let l = pick(&moving, a)?;
            let LotStatus::InTransit { to, .. } = &l.status else { unreachable!() };
            let signer =
                if b.is_multiple_of(11) { pick(&all_ids, b / 11).unwrap().to_string() } else { to.to_string() };
            let m = l.mass_g;
            let mass = match c % 4 {
                0 | 1 => m,
                2 => m.saturating_sub(m * u64::from(c % 8) / 1000).max(1),
                _ => m + m * u64::from(c % 60) / 1000,
            };
            sign(&signer, n, EventBody::Receive { lot: l.id.clone(), mass_g: mass })
        }
        4 => {
            let l = pick(&lots, a)?;
            let grade = match (l.declared_grade_ppm, c % 3) {
                (Some(g), 0 | 1) => {
                    let d = g / 100 * (b % 8);
                    if b.is_multiple_of(2) {
                        g.saturating_sub(d)
                    } else {
                        (g + d).min(1_000_000)
                    }
                }
                _ => b % 1_000_001,
            };
            let signer = if c.is_multiple_of(29) { "MINE-A" } else { "LAB-A" };
            sign(
                signer,
                n,
                EventBody::Assay {
                    lot: l.id.clone(),
                    grade_ppm: grade,
                    method: "XRF".into(),
                    report: format!("R-{n}"),
                },
            )
        }
        5 | 8 => {
            let smelt = kind % 10 == 5;
            // The smelter (or manufacturer) that holds suitable lots.
            let who: Vec<&str> = if smelt { SMELTERS.to_vec() } else { vec!["MANU-A"] };
            let eligible = |l: &LotState| l.grade_ppm.is_some() && l.material.is_raw() == smelt;
            let holders: Vec<&str> = who.iter().copied().filter(|w| !held_by(w, &eligible).is_empty()).collect();
            let signer = if a.is_multiple_of(31) { "COLL-A" } else { pick(&holders, a)? };
            let src = held_by(signer, &eligible);
            let ts = takes(&src, 1 + (b % 3) as usize);
            if ts.is_empty() {
                return None;
            }
            let tin = tin_in(&ts);
            let k = 1 + (c >> 8) % 2;
            if smelt {
                // Export-grade refined tin (>= 99.90 % Sn); assays may lower it later.
                let outs = outputs(tin, k, 999_000 + (c >> 4) % 1_001, &[Material::Ingot]);
                sign(signer, n, EventBody::Smelt { inputs: ts, outputs: outs })
            } else {
                let products = [Material::Solder, Material::Tinplate, Material::Component];
                let outs = outputs(tin, k, 300_000 + (c >> 4) % 600_000, &products);
                sign(signer, n, EventBody::Manufacture { inputs: ts, outputs: outs })
            }
        }
        6 => {
            let l = if c.is_multiple_of(6) { pick(&active, a)? } else { pick(&holdings, a)? };
            let k = 1 + u64::from(b % 3);
            let mut parts: Vec<Take> = (0..k)
                .map(|i| Take { lot: new_id(&format!("-s{i}")), mass_g: frac(l.mass_g, u64::from(c % 300) + 1, 1000) })
                .collect();
            if c.is_multiple_of(5) {
                // Split all of it: the source is consumed.
                let rest = l.mass_g.saturating_sub(parts[1..].iter().map(|p| p.mass_g).sum());
                parts[0].mass_g = rest;
            } else if c.is_multiple_of(17) {
                parts[0].mass_g = l.mass_g + 1; // too much
            }
            sign(&signer_for(l, b), n, EventBody::Split { lot: l.id.clone(), parts })
        }
        7 => {
            let holders: Vec<&str> =
                HOLDERS.iter().copied().filter(|h| held_by(h, &|_: &LotState| true).len() >= 2).collect();
            let signer = pick(&holders, a)?;
            let mine = held_by(signer, &|_: &LotState| true);
            let first = pick(&mine, b)?;
            let same: Vec<LotState> = if c.is_multiple_of(7) {
                mine.clone() // may mix materials: refused
            } else {
                mine.iter().filter(|l| l.material == first.material).cloned().collect()
            };
            let k = 2 + (c % 2) as usize;
            let inputs: Vec<LotId> = same
                .iter()
                .cycle()
                .skip(b as usize % same.len())
                .take(k.min(same.len()))
                .map(|l| l.id.clone())
                .collect();
            sign(signer, n, EventBody::Merge { inputs, output: new_id("-m") })
        }
        _ => {
            // Exporters hold the lot and it is exportable: not ore or
            // concentrate, and an ingot only at 99.90 % Sn or more.
            let exportable = |l: &&LotState| {
                !l.material.is_raw()
                    && (l.material != Material::Ingot
                        || l.grade_ppm.is_some_and(|g| g >= tinledger_core::rules::MIN_EXPORT_INGOT_PPM))
            };
            let exporters: Vec<&LotState> = active
                .iter()
                .copied()
                .filter(|l| matches!(l.custodian.as_str(), "EXP-A" | "HUB-A"))
                .filter(exportable)
                .collect();
            let l = if c.is_multiple_of(6) { pick(&active, a)? } else { pick(&exporters, a)? };
            sign(
                &signer_for(l, b),
                n,
                EventBody::Export {
                    lot: l.id.clone(),
                    destination: pick(&["SG", "JP", "NL"], c).unwrap().into(),
                    hs_code: "8001.10".into(),
                    permit: format!("PE-{n}"),
                    surveyor_report: format!("LS-{n}"),
                    consignee: "Buyer".into(),
                },
            )
        }
    }
}

/// A deterministic op sequence from a seed (xorshift64), for tests that
/// want fixed sequences without proptest.
pub fn xorshift_ops(seed: u64, len: usize) -> Vec<Op> {
    let mut x = seed.max(1);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..len).map(|_| (next() as u8, next() as u32, next() as u32, next() as u32)).collect()
}
