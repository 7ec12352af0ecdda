//! What each correction changed (docs/model.md, "Corrections"): the values
//! it replaced and the ones it gave, and which entries were corrected by
//! which. The history views (`tinledger lot`, `tinledger log`), the mass
//! balance and the certificate page show both the corrected entry and its
//! correction with these.
//!
//! [`Corrections`] is fed events in sequence order; the rules have already
//! accepted them, so a correction's target is an earlier extract, receive
//! or assay of the same signer on the same lot. A correction whose target
//! was not fed (a partial history) is kept with unknown old values.

use crate::event::{Event, EventBody};
use crate::ids::LotId;
use crate::units::{format_grade, format_mass};
use serde::Serialize;
use std::collections::BTreeMap;

/// A value before and after a correction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    /// The value in effect just before the correction: the corrected
    /// entry's, or an earlier correction's; `None` if the history fed did
    /// not hold the corrected entry.
    pub old: Option<T>,
    /// The value the correction gives.
    pub new: T,
}

/// One correction entry and what it changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CorrectionChange {
    /// The correction's sequence number.
    pub seq: u64,
    /// The corrected entry's sequence number.
    pub entry: u64,
    /// The corrected entry's kind (`extract`, `receive`, `assay`), if fed.
    pub entry_kind: Option<&'static str>,
    /// The lot.
    pub lot: LotId,
    /// The mass, grams, if the correction gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mass_g: Option<Change<u64>>,
    /// The grade, ppm Sn, if the correction gives one. An extract may have
    /// declared none: then `old` is `None` as well.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grade_ppm: Option<Change<u32>>,
    /// Why, in the signer's words.
    pub reason: String,
}

impl CorrectionChange {
    /// The changes as text: `mass 1.250 kg -> 1,250.000 kg, grade 70.00% Sn -> 72.50% Sn`
    /// (`?` for an old value the history did not hold, `none` for an
    /// extract that declared no grade).
    pub fn values(&self) -> String {
        let mut v = Vec::new();
        if let Some(m) = &self.mass_g {
            v.push(format!("mass {} -> {}", m.old.map_or("?".into(), format_mass), format_mass(m.new)));
        }
        if let Some(g) = &self.grade_ppm {
            let old = match (g.old, self.entry_kind) {
                (Some(o), _) => format_grade(o),
                (None, Some(_)) => "none".into(),
                (None, None) => "?".into(),
            };
            v.push(format!("grade {old} -> {}", format_grade(g.new)));
        }
        v.join(", ")
    }

    /// One line: `corrected seq 12 (receive) on LOT: mass A -> B (reason)`.
    pub fn describe(&self) -> String {
        let kind = self.entry_kind.map(|k| format!(" ({k})")).unwrap_or_default();
        format!("corrected seq {}{kind} on {}: {} ({})", self.entry, self.lot, self.values(), self.reason)
    }
}

/// The values of a correctable entry now in effect.
#[derive(Clone, Copy)]
struct Current {
    kind: &'static str,
    mass_g: Option<u64>,
    grade_ppm: Option<u32>,
}

/// Every correction among the events fed, with what it changed.
#[derive(Default)]
pub struct Corrections {
    current: BTreeMap<u64, Current>,
    changes: BTreeMap<u64, CorrectionChange>,
    by_entry: BTreeMap<u64, Vec<u64>>,
}

impl Corrections {
    /// Take in the event at `seq`; call in ascending seq order.
    pub fn add(&mut self, seq: u64, ev: &Event) {
        match &ev.body {
            EventBody::Extract { mass_g, grade_ppm, .. } => {
                self.current.insert(seq, Current { kind: "extract", mass_g: Some(*mass_g), grade_ppm: *grade_ppm });
            }
            EventBody::Receive { mass_g, .. } => {
                self.current.insert(seq, Current { kind: "receive", mass_g: Some(*mass_g), grade_ppm: None });
            }
            EventBody::Assay { grade_ppm, .. } => {
                self.current.insert(seq, Current { kind: "assay", mass_g: None, grade_ppm: Some(*grade_ppm) });
            }
            EventBody::Correct { lot, entry_seq, mass_g, grade_ppm, reason, .. } => {
                let cur = self.current.get_mut(entry_seq);
                let entry_kind = cur.as_ref().map(|c| c.kind);
                let (old_mass, old_grade) = cur.as_ref().map_or((None, None), |c| (c.mass_g, c.grade_ppm));
                if let Some(c) = cur {
                    c.mass_g = mass_g.or(c.mass_g);
                    c.grade_ppm = grade_ppm.or(c.grade_ppm);
                }
                self.changes.insert(
                    seq,
                    CorrectionChange {
                        seq,
                        entry: *entry_seq,
                        entry_kind,
                        lot: lot.clone(),
                        mass_g: mass_g.map(|new| Change { old: old_mass, new }),
                        grade_ppm: grade_ppm.map(|new| Change { old: old_grade, new }),
                        reason: reason.clone(),
                    },
                );
                self.by_entry.entry(*entry_seq).or_default().push(seq);
            }
            _ => {}
        }
    }

    /// What the correction at `seq` changed, if it is one.
    pub fn change(&self, seq: u64) -> Option<&CorrectionChange> {
        self.changes.get(&seq)
    }

    /// The corrections of the entry at `seq`, ascending (empty if none).
    pub fn corrected_by(&self, seq: u64) -> &[u64] {
        self.by_entry.get(&seq).map_or(&[], Vec::as_slice)
    }

    /// Every correction, by seq.
    pub fn all(&self) -> impl Iterator<Item = &CorrectionChange> {
        self.changes.values()
    }

    /// The latest correction of the entry at `seq` that gives a mass, and that mass.
    pub fn corrected_mass(&self, seq: u64) -> Option<(u64, u64)> {
        self.corrected_by(seq).iter().rev().find_map(|c| Some((*c, self.changes.get(c)?.mass_g?.new)))
    }

    /// The latest correction of the entry at `seq` that gives a grade, and that grade.
    pub fn corrected_grade(&self, seq: u64) -> Option<(u64, u32)> {
        self.corrected_by(seq).iter().rev().find_map(|c| Some((*c, self.changes.get(c)?.grade_ppm?.new)))
    }
}

/// `summary` with `; corrected by seq N[, M]` when `corrections` holds any
/// correction of the entry at `seq`, or the correction's own line
/// ([`CorrectionChange::describe`]) when it is one.
pub fn annotate(corrections: &Corrections, seq: u64, summary: String) -> String {
    if let Some(c) = corrections.change(seq) {
        return c.describe();
    }
    match corrections.corrected_by(seq) {
        [] => summary,
        by => {
            format!("{summary}; corrected by seq {}", by.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryHash;
    use crate::ids::{ActorId, LedgerId};
    use crate::units::Timestamp;

    fn ev(body: EventBody) -> Event {
        Event {
            ledger_id: LedgerId([1; 16]),
            signer: ActorId::new("SMELTER-1").unwrap(),
            at: Timestamp(1_770_000_000),
            note: None,
            body,
        }
    }

    fn correct(entry_seq: u64, mass_g: Option<u64>, grade_ppm: Option<u32>) -> Event {
        ev(EventBody::Correct {
            lot: LotId::new("KOB-1").unwrap(),
            entry_seq,
            entry_hash: EntryHash([0; 32]),
            mass_g,
            grade_ppm,
            reason: "keyed in g".into(),
        })
    }

    #[test]
    fn a_second_correction_starts_from_the_first() {
        let mut c = Corrections::default();
        c.add(3, &ev(EventBody::Receive { lot: LotId::new("KOB-1").unwrap(), mass_g: 2_000 }));
        c.add(4, &correct(3, Some(2_000_000), None));
        c.add(5, &correct(3, Some(1_998_500), None));
        assert_eq!(c.corrected_by(3), [4, 5]);
        assert_eq!(c.change(4).unwrap().mass_g, Some(Change { old: Some(2_000), new: 2_000_000 }));
        assert_eq!(c.change(5).unwrap().mass_g, Some(Change { old: Some(2_000_000), new: 1_998_500 }));
        assert_eq!(c.corrected_mass(3), Some((5, 1_998_500)));
        assert_eq!(c.corrected_grade(3), None);
        assert_eq!(
            c.change(5).unwrap().describe(),
            "corrected seq 3 (receive) on KOB-1: mass 2,000.000 kg -> 1,998.500 kg (keyed in g)"
        );
        assert_eq!(annotate(&c, 3, "received".into()), "received; corrected by seq 4, 5");
        assert_eq!(annotate(&c, 2, "other".into()), "other");
    }

    #[test]
    fn unknown_targets_and_undeclared_grades_are_said_so() {
        let mut c = Corrections::default();
        c.add(9, &correct(1, None, Some(725_000)));
        assert_eq!(c.change(9).unwrap().values(), "grade ? -> 72.50% Sn");
        let mut c = Corrections::default();
        c.add(
            1,
            &ev(EventBody::Extract {
                lot: LotId::new("KOB-1").unwrap(),
                material: crate::units::Material::Ore,
                mass_g: 1_250,
                grade_ppm: None,
                licence: "IUP".into(),
                location: crate::units::GeoPoint { lat_micro: 0, lon_micro: 0 },
            }),
        );
        c.add(2, &correct(1, Some(1_250_000), Some(700_000)));
        assert_eq!(c.change(2).unwrap().values(), "mass 1.250 kg -> 1,250.000 kg, grade none -> 70.00% Sn");
    }
}
