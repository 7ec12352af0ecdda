//! A synthetic Bangka Belitung ledger for `tinledger bench`, `benches/` and
//! tests: deterministic, exactly N events, every one of which passes the
//! custody rules.
//!
//! Owns: the generator ([`Synth`]), the synthetic actors and their test keys
//! ([`KeyRing`]), parallel signing ([`sign_all`]), the benchmark's default
//! size ([`DEFAULT_EVENTS`]), its raw limits ([`measure`]: sign, verify,
//! hash and sled insert rates on synthetic samples) and its ledger figures
//! ([`figures`]: a synthetic ledger built, verified and certified in the
//! benchmark's work directory), and the embedded demo scenario of
//! `tinledger demo` ([`scenario`]). Never: opens or writes a ledger other than
//! those it builds there (callers append the events otherwise), prints, or
//! uses a real key (every key is `tinledger_core::testkeys::test_key`).
//!
//! Actors: the authority, a lab, a transporter, collectors, one smelter, one
//! manufacturer, one exporter and mines with IUP licences. The events repeat
//! one production cycle of `ORE_MIN..=ORE_MAX` ore lots:
//!
//! 1. each mine extracts a lot (ore or concentrate) and dispatches it, by the
//!    transporter, to a collector or (one lot in four) straight to the smelter;
//! 2. the receiver confirms a slightly lower mass (under the 0.5 % tolerance);
//!    the lab assays one lot in seven at the collector (within ±2 %);
//! 3. collectors forward their lots to the smelter, which receives them;
//! 4. the smelter smelts every lot of the cycle, whole, into one ingot
//!    (97.5 % tin recovery, at least 99.92 % Sn) and splits it in four parts;
//! 5. two parts go to the manufacturer, which makes one solder lot (96.5 % Sn)
//!    and sends it to the exporter; the other two go to the exporter;
//! 6. the exporter exports the solder and both ingot parts.
//!
//! So every lot of a complete cycle ends consumed or exported: the inventory
//! stays small however long the ledger. A prefix of a valid ledger is valid,
//! so the last cycle is simply cut off at N events.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod figures;
pub mod loadgen;
pub mod measure;
pub mod scenario;
pub mod serve;
pub use error::SynthError;

use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use std::collections::{HashMap, VecDeque};
use tinledger_core::event::{ActorAttrs, ActorRecord, Output, PublicKey, Take};
use tinledger_core::testkeys::test_key;
use tinledger_core::units::{GeoPoint, Material, Role, Timestamp};
use tinledger_core::{ActorId, Event, EventBody, LedgerId, LotId, SignedEvent};

/// Events `tinledger bench` generates unless told otherwise.
pub const DEFAULT_EVENTS: u64 = 200_000;

/// Changes whenever the generated events change (a reused bench ledger must match).
pub const SYNTH_VERSION: u32 = 1;
/// The synthetic ledger's id.
pub const LEDGER_ID: LedgerId = LedgerId(*b"tinledger-synth1");
/// The registration authority (signs genesis and registrations).
pub const AUTHORITY: &str = "AUTH-SYNTH";
/// The assay lab.
pub const LAB: &str = "LAB-SYNTH";
/// The transporter of every dispatch.
pub const TRANSPORTER: &str = "TRANSPORTER-SYNTH";
/// The one smelter.
pub const SMELTER: &str = "SMELTER-SYNTH";
/// The solder manufacturer.
pub const MANUFACTURER: &str = "MANUFACTURER-SYNTH";
/// The exporter.
pub const EXPORTER: &str = "EXPORTER-SYNTH";
const MINES: u64 = 24;
const COLLECTORS: u64 = 4;
/// Ore lots per cycle: `ORE_MIN + (13 c mod (ORE_MAX - ORE_MIN + 1))` for cycle c.
const ORE_MIN: u64 = 40;
const ORE_MAX: u64 = 60;
/// 2026-01-01T00:00:00Z; events are 37 s apart.
const START: i64 = 1_767_225_600;
const STEP: i64 = 37;
/// The latest synthetic time: 2026-10-28T00:00:00Z (300 days after START).
const LAST: i64 = START + 300 * 86_400;
/// Fewest events `Synth::new` accepts: the header and the first complete cycle.
pub const MIN_EVENTS: u64 = 300;

const DESTINATIONS: [&str; 7] = ["JP", "SG", "KR", "NL", "US", "CN", "TW"];

fn actor(s: &str) -> Result<ActorId, String> {
    ActorId::new(s)
}
fn lot(s: String) -> Result<LotId, String> {
    LotId::new(s)
}
fn mine_id(m: u64) -> String {
    format!("MINE-SYNTH-{m:02}")
}
fn collector_id(c: u64) -> String {
    format!("COLLECTOR-SYNTH-{c}")
}
fn iup(m: u64) -> String {
    format!("IUP-OP {}/{m:02}/DPMPTSP/2024", 100 + 7 * m)
}
fn mine_location(m: u64) -> GeoPoint {
    // Spread over Bangka (about -1.6..-3.0 S, 105.2..106.8 E).
    let m = i32::try_from(m % MINES).unwrap_or(0);
    GeoPoint { lat_micro: -1_600_000 - m * 58_000, lon_micro: 105_200_000 + m * 66_000 }
}

/// Every actor id of the synthetic ledger (authority first).
pub fn actor_ids() -> Vec<String> {
    let mut v = vec![
        AUTHORITY.to_string(),
        LAB.into(),
        TRANSPORTER.into(),
        SMELTER.into(),
        MANUFACTURER.into(),
        EXPORTER.into(),
    ];
    v.extend((0..COLLECTORS).map(collector_id));
    v.extend((0..MINES).map(mine_id));
    v
}

/// splitmix64: deterministic pseudo-random values without a dependency.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One queued event, and whether it is the export of a solder lot made from
/// `ore` ore lots (a certificate candidate).
struct Pending {
    signer: String,
    body: EventBody,
    solder_export: Option<(u64, LotId)>,
}

/// The generator: an iterator over exactly `total` events.
pub struct Synth {
    total: u64,
    emitted: u64,
    queue: VecDeque<Pending>,
    cycle: u64,
    next_lot: u64,
    best_ore: u64,
    candidates: Vec<LotId>,
    error: Option<String>,
}

impl Synth {
    /// A generator of exactly `total` events (at least [`MIN_EVENTS`]).
    pub fn new(total: u64) -> Result<Synth, SynthError> {
        if total < MIN_EVENTS {
            return Err(SynthError::TooFew(format!(
                "a synthetic ledger needs at least {MIN_EVENTS} events, not {total}"
            )));
        }
        let mut s = Synth {
            total,
            emitted: 0,
            queue: VecDeque::new(),
            cycle: 0,
            next_lot: 0,
            best_ore: 0,
            candidates: Vec::new(),
            error: None,
        };
        s.header().map_err(SynthError::Build)?;
        Ok(s)
    }

    /// Events before the first cycle (genesis and registrations).
    pub fn header_len() -> u64 {
        actor_ids().len() as u64
    }

    /// Solder lots exported so far (in events already yielded) from the
    /// cycles with the most ore lots: the lots with the most upstream entries.
    pub fn cert_candidates(&self) -> &[LotId] {
        &self.candidates
    }

    /// Set if generating an event failed (a bug; the iterator then ends early).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn push(&mut self, signer: &str, body: EventBody) {
        self.queue.push_back(Pending { signer: signer.to_string(), body, solder_export: None });
    }

    fn header(&mut self) -> Result<(), String> {
        let auth = actor(AUTHORITY)?;
        self.push(
            AUTHORITY,
            EventBody::Genesis {
                ledger_name: "Bangka Belitung tin (SYNTHETIC, tinledger bench)".into(),
                authority: auth,
                authority_name: "Synthetic Tin Traceability Authority (TEST)".into(),
                authority_key: PublicKey::from(&test_key(AUTHORITY)),
            },
        );
        let nib = |i: u64| format!("{:013}", 9_120_000_000_000 + i);
        let mut regs: Vec<(String, String, Role, ActorAttrs)> = vec![
            (
                LAB.into(),
                "Laboratorium Uji Mineral Sintetis".into(),
                Role::Lab,
                ActorAttrs { country: Some("ID".into()), ..Default::default() },
            ),
            (
                TRANSPORTER.into(),
                "PT Angkutan Mineral Sintetis".into(),
                Role::Transporter,
                ActorAttrs { nib: Some(nib(1)), country: Some("ID".into()), ..Default::default() },
            ),
            (
                SMELTER.into(),
                "PT Peleburan Timah Sintetis".into(),
                Role::Smelter,
                ActorAttrs {
                    rmi_cid: Some("CID009999".into()),
                    nib: Some(nib(2)),
                    country: Some("ID".into()),
                    location: Some(GeoPoint { lat_micro: -2_061_700, lon_micro: 105_158_600 }),
                    ..Default::default()
                },
            ),
            (
                MANUFACTURER.into(),
                "PT Solder Sintetis".into(),
                Role::Manufacturer,
                ActorAttrs { nib: Some(nib(3)), country: Some("ID".into()), ..Default::default() },
            ),
            (
                EXPORTER.into(),
                "PT Ekspor Logam Sintetis".into(),
                Role::Exporter,
                ActorAttrs { nib: Some(nib(4)), country: Some("ID".into()), ..Default::default() },
            ),
        ];
        for c in 0..COLLECTORS {
            regs.push((
                collector_id(c),
                format!("UD Pengumpul Timah Sintetis {c}"),
                Role::Collector,
                ActorAttrs { nib: Some(nib(10 + c)), country: Some("ID".into()), ..Default::default() },
            ));
        }
        for m in 0..MINES {
            regs.push((
                mine_id(m),
                format!("CV Tambang Timah Sintetis {m:02}"),
                Role::Mine,
                ActorAttrs {
                    iup: Some(iup(m)),
                    nib: Some(nib(100 + m)),
                    country: Some("ID".into()),
                    location: Some(mine_location(m)),
                    ..Default::default()
                },
            ));
        }
        for (id, name, role, attrs) in regs {
            let key = PublicKey::from(&test_key(&id));
            self.push(
                AUTHORITY,
                EventBody::RegisterActor {
                    actor: ActorRecord { id: actor(&id)?, name, roles: vec![role], key, attrs },
                },
            );
        }
        Ok(())
    }

    /// Queue the events of the next production cycle.
    fn cycle(&mut self) -> Result<(), String> {
        let c = self.cycle;
        self.cycle += 1;
        let ore = ORE_MIN + (13 * c) % (ORE_MAX - ORE_MIN + 1);
        let smelter = actor(SMELTER)?;
        let transporter = Some(actor(TRANSPORTER)?);
        // (lot, mass now, grade now, collector or None when sent straight to the smelter)
        let mut lots: Vec<(LotId, u64, u32, Option<u64>)> = Vec::new();
        for _ in 0..ore {
            let g = self.next_lot;
            self.next_lot += 1;
            let r = mix(g);
            let m = g % MINES;
            let concentrate = m.is_multiple_of(4);
            let (material, grade) = if concentrate {
                (Material::Concentrate, 700_000 + (r % 60_000) as u32)
            } else {
                (Material::Ore, 550_000 + (r % 170_000) as u32)
            };
            let mass = 400_000 + (r >> 20) % 1_600_000;
            let id = lot(format!("{}-{g:07}", if concentrate { "CONC" } else { "ORE" }))?;
            let via = if g.is_multiple_of(4) { None } else { Some(m % COLLECTORS) };
            self.push(
                &mine_id(m),
                EventBody::Extract {
                    lot: id.clone(),
                    material,
                    mass_g: mass,
                    grade_ppm: Some(grade),
                    licence: iup(m),
                    location: mine_location(m),
                },
            );
            lots.push((id, mass, grade, via));
        }
        for (i, (id, _, _, via)) in lots.iter().enumerate() {
            let g = self.next_lot - ore + i as u64;
            let to = match via {
                Some(k) => actor(&collector_id(*k))?,
                None => smelter.clone(),
            };
            self.push(
                &mine_id(g % MINES),
                EventBody::Dispatch {
                    lot: id.clone(),
                    to,
                    transporter: transporter.clone(),
                    document: format!("SJ/M{:02}/2026/{g:07}", g % MINES),
                },
            );
        }
        let loss = |mass: u64, r: u64| mass - mass * (r % 20) / 10_000; // 0 to 0.19 %
        for (i, (id, mass, grade, via)) in lots.iter_mut().enumerate() {
            let g = self.next_lot - ore + i as u64;
            *mass = loss(*mass, mix(g ^ 0x5eed));
            match via {
                Some(k) => self.push(&collector_id(*k), EventBody::Receive { lot: id.clone(), mass_g: *mass }),
                None => self.push(SMELTER, EventBody::Receive { lot: id.clone(), mass_g: *mass }),
            }
            if via.is_some() && g % 7 == 3 {
                // Within ±2 % of the declared grade: no flag.
                let d = u64::from(*grade) * (980 + mix(g ^ 0xa55a) % 41) / 1000;
                *grade = u32::try_from(d).map_err(|e| e.to_string())?;
                self.push(
                    LAB,
                    EventBody::Assay {
                        lot: id.clone(),
                        grade_ppm: *grade,
                        method: if g.is_multiple_of(2) { "XRF".into() } else { "wet chemistry (iodometric)".into() },
                        report: format!("LUM-SYN/2026/{g:07}"),
                    },
                );
            }
        }
        for (i, (id, _, _, via)) in lots.iter().enumerate() {
            if let Some(k) = via {
                let g = self.next_lot - ore + i as u64;
                self.push(
                    &collector_id(*k),
                    EventBody::Dispatch {
                        lot: id.clone(),
                        to: smelter.clone(),
                        transporter: transporter.clone(),
                        document: format!("SJ/C{k}/2026/{g:07}"),
                    },
                );
            }
        }
        for (i, (id, mass, _, via)) in lots.iter_mut().enumerate() {
            if via.is_some() {
                let g = self.next_lot - ore + i as u64;
                *mass = loss(*mass, mix(g ^ 0xc011));
                self.push(SMELTER, EventBody::Receive { lot: id.clone(), mass_g: *mass });
            }
        }
        // Smelt everything, whole, into one ingot.
        let tin_in: u128 = lots.iter().map(|(_, m, g, _)| u128::from(*m) * u128::from(*g)).sum();
        let ingot_grade = 999_200 + (mix(c) % 500) as u32;
        let ingot_mass = u64::try_from(tin_in * 975 / 1000 / u128::from(ingot_grade)).map_err(|e| e.to_string())?;
        let ingot = lot(format!("INGOT-SYN-{c:06}"))?;
        self.push(
            SMELTER,
            EventBody::Smelt {
                inputs: lots.iter().map(|(l, m, _, _)| Take { lot: l.clone(), mass_g: *m }).collect(),
                outputs: vec![Output {
                    lot: ingot.clone(),
                    material: Material::Ingot,
                    mass_g: ingot_mass,
                    grade_ppm: ingot_grade,
                }],
            },
        );
        let a = ingot_mass * 3 / 10;
        let b = ingot_mass * 3 / 10;
        let cc = ingot_mass / 5;
        let parts = [("A", a), ("B", b), ("C", cc), ("D", ingot_mass - a - b - cc)];
        let part_ids: Vec<LotId> = parts.iter().map(|(s, _)| lot(format!("{ingot}-{s}"))).collect::<Result<_, _>>()?;
        self.push(
            SMELTER,
            EventBody::Split {
                lot: ingot.clone(),
                parts: part_ids.iter().zip(parts).map(|(l, (_, m))| Take { lot: l.clone(), mass_g: m }).collect(),
            },
        );
        let to = |i: usize| if i < 2 { MANUFACTURER } else { EXPORTER };
        for (i, id) in part_ids.iter().enumerate() {
            self.push(
                SMELTER,
                EventBody::Dispatch {
                    lot: id.clone(),
                    to: actor(to(i))?,
                    transporter: transporter.clone(),
                    document: format!("SJ/SMT/2026/{c:06}-{i}"),
                },
            );
        }
        for (i, id) in part_ids.iter().enumerate() {
            self.push(to(i), EventBody::Receive { lot: id.clone(), mass_g: parts[i].1 });
        }
        let solder = lot(format!("SOLDER-SYN-{c:06}"))?;
        let solder_tin = u128::from(a + b) * u128::from(ingot_grade);
        let solder_mass = u64::try_from(solder_tin / 965_000).map_err(|e| e.to_string())?;
        self.push(
            MANUFACTURER,
            EventBody::Manufacture {
                inputs: vec![
                    Take { lot: part_ids[0].clone(), mass_g: a },
                    Take { lot: part_ids[1].clone(), mass_g: b },
                ],
                outputs: vec![Output {
                    lot: solder.clone(),
                    material: Material::Solder,
                    mass_g: solder_mass,
                    grade_ppm: 965_000,
                }],
            },
        );
        self.push(
            MANUFACTURER,
            EventBody::Dispatch {
                lot: solder.clone(),
                to: actor(EXPORTER)?,
                transporter: transporter.clone(),
                document: format!("SJ/MFG/2026/{c:06}"),
            },
        );
        self.push(EXPORTER, EventBody::Receive { lot: solder.clone(), mass_g: solder_mass });
        let export = |l: &LotId, hs: &str, k: u64| EventBody::Export {
            lot: l.clone(),
            destination: DESTINATIONS[((c + k) % DESTINATIONS.len() as u64) as usize].into(),
            hs_code: hs.into(),
            permit: format!("ET-TIMAH/2026/{c:06}-{k}"),
            surveyor_report: format!("LS-SYN/2026/{c:06}-{k}"),
            consignee: format!("Synthetic Buyer {} Ltd", (c + k) % 97),
        };
        self.push(EXPORTER, export(&part_ids[2], "8001.10", 0));
        self.push(EXPORTER, export(&part_ids[3], "8001.10", 1));
        let body = export(&solder, "8003.00", 2);
        self.queue.push_back(Pending { signer: EXPORTER.to_string(), body, solder_export: Some((ore, solder)) });
        Ok(())
    }
}

impl Iterator for Synth {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        if self.emitted >= self.total || self.error.is_some() {
            return None;
        }
        if self.queue.is_empty() {
            if let Err(e) = self.cycle() {
                self.error = Some(e);
                return None;
            }
        }
        let p = self.queue.pop_front()?;
        let signer = match actor(&p.signer) {
            Ok(s) => s,
            Err(e) => {
                self.error = Some(e);
                return None;
            }
        };
        if let Some((ore, l)) = p.solder_export {
            if ore > self.best_ore {
                self.best_ore = ore;
                self.candidates.clear();
            }
            if ore == self.best_ore && self.candidates.len() < 4 {
                self.candidates.push(l);
            }
        }
        // Times never decrease (the core refuses an event dated before the
        // last one on its lots) and stop at LAST, in the past, so appends
        // pass the ledger's clock check (MAX_CLOCK_SKEW_SECS) on any big ledger.
        let at =
            Timestamp(START.saturating_add(STEP.saturating_mul(i64::try_from(self.emitted).unwrap_or(0))).min(LAST));
        self.emitted += 1;
        Some(Event { ledger_id: LEDGER_ID, signer, at, note: None, body: p.body })
    }
}

/// The test keys of every synthetic actor, derived once.
pub struct KeyRing {
    keys: HashMap<ActorId, SigningKey>,
}

impl KeyRing {
    /// Derive the key of every actor of [`actor_ids`].
    pub fn new() -> Result<KeyRing, SynthError> {
        let mut keys = HashMap::new();
        for id in actor_ids() {
            keys.insert(actor(&id).map_err(SynthError::Build)?, test_key(&id));
        }
        Ok(KeyRing { keys })
    }
    /// The key of a synthetic actor.
    pub fn get(&self, id: &ActorId) -> Option<&SigningKey> {
        self.keys.get(id)
    }
}

/// Sign events in parallel (rayon), each with its signer's test key.
pub fn sign_all(events: &[Event], ring: &KeyRing) -> Result<Vec<SignedEvent>, SynthError> {
    events
        .par_iter()
        .map(|e| {
            let k = ring.get(&e.signer).ok_or_else(|| format!("no synthetic key for {}", e.signer))?;
            e.sign(k)
        })
        .collect::<Result<_, String>>()
        .map_err(SynthError::Build)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinledger_core::rules::LotStatus;
    use tinledger_ledger::{AuditOptions, Ledger};

    fn build(n: u64) -> (tempfile::TempDir, Ledger, Synth) {
        let mut s = Synth::new(n).expect("synth");
        let events: Vec<Event> = s.by_ref().collect();
        assert!(s.error().is_none(), "{:?}", s.error());
        assert_eq!(events.len() as u64, n, "exactly n events");
        let signed = sign_all(&events, &KeyRing::new().expect("keys")).expect("sign");
        let tmp = tempfile::tempdir().expect("tmp");
        let (mut l, _) = Ledger::create(&tmp.path().join("l"), &signed[0]).expect("genesis");
        for chunk in signed[1..].chunks(500) {
            l.append_batch(chunk).expect("every synthetic event passes the rules");
        }
        (tmp, l, s)
    }

    #[test]
    fn synth_small_ledger_passes_rules_and_audit() {
        let n = 2_345;
        let (_tmp, l, s) = build(n);
        assert_eq!(l.head().size, n);
        let rep = l.audit(&AuditOptions::default());
        assert!(rep.ok, "audit: {:?}", rep.fault);
        assert_eq!(rep.entries, n);
        assert!(rep.flags.is_empty(), "no flags expected: {:?}", rep.flags);
        // A realistic inventory: most lots consumed or exported.
        let lots = l.lots().expect("lots");
        let done =
            lots.iter().filter(|x| matches!(x.status, LotStatus::Consumed { .. } | LotStatus::Exported { .. })).count();
        assert!(done * 10 >= lots.len() * 8, "{done} of {} lots done", lots.len());
        let cands = s.cert_candidates();
        assert!(!cands.is_empty());
        for c in cands {
            let st = lots.iter().find(|x| &x.id == c).expect("candidate exists");
            assert!(matches!(st.status, LotStatus::Exported { .. }));
        }
    }

    #[test]
    fn synth_minimum_has_a_complete_cycle_and_is_deterministic() {
        let (_tmp, l, s) = build(MIN_EVENTS);
        assert_eq!(l.head().size, MIN_EVENTS);
        assert!(!s.cert_candidates().is_empty(), "first cycle completes within MIN_EVENTS");
        assert!(Synth::new(MIN_EVENTS - 1).is_err());
        let a: Vec<Event> = Synth::new(400).expect("synth").collect();
        let b: Vec<Event> = Synth::new(1000).expect("synth").take(400).collect();
        assert_eq!(a, b, "a shorter ledger is a prefix of a longer one");
        assert_eq!(
            a.iter().skip(1).take_while(|e| e.signer.as_str() == AUTHORITY).count() as u64 + 1,
            Synth::header_len()
        );
    }
}
