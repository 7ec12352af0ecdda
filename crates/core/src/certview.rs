//! What a certificate's entries say beyond its summary, for the page people
//! read (`tinledger_formats::cert_html`): the authority, the grade each
//! attribution weighed and who stated it, and every smelt's mass balance.
//!
//! Everything here is derived from the certificate's own entries, replayed
//! through the rules like verification does; it is only as trustworthy as
//! the certificate, so the page shows it as verified only when
//! [`crate::cert::verify`] accepted the certificate (docs/certificates.md §13).

use crate::cert::{self, CertError, Certificate};
use crate::correction::{CorrectionChange, Corrections};
use crate::event::{EventBody, PublicKey};
use crate::ids::{ActorId, LotId};
use crate::units::{Material, Timestamp};
use std::collections::HashMap;

/// The ledger's authority, as the replayed entries leave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityView {
    /// The authority's actor id.
    pub id: ActorId,
    /// The authority's name as its genesis entry states it.
    pub name: String,
    /// Its current key (the last genesis or rotation entry included).
    pub key: PublicKey,
}

/// Where a lot's grade came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GradeBasis {
    /// Stated by the actor that created the lot (extract, smelt, manufacture).
    Declared,
    /// Set by an assay entry.
    Assayed {
        /// The assay's method (e.g. XRF).
        method: String,
        /// The assay's report number.
        report: String,
    },
    /// The mass-weighted mix of a merge's inputs.
    Merged,
}

/// The entry that set a lot's grade: its basis, signer and seq. A split part
/// keeps its source lot's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GradeSource {
    /// Declared, assayed or merged.
    pub basis: GradeBasis,
    /// The actor that signed the entry that set the grade.
    pub by: ActorId,
    /// That entry's sequence number.
    pub seq: u64,
    /// The latest correction of that entry's grade, if any (its seq): the
    /// grade shown is the corrected one; [`CertView::corrections`] has the
    /// original.
    pub corrected_by: Option<u64>,
}

/// One input of a merge, smelt or manufacture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInput {
    /// The input lot.
    pub lot: LotId,
    /// The mass taken (a merge takes the whole lot).
    pub mass_g: u64,
    /// The grade the attribution weighed (the lot's grade just before the step).
    pub grade_ppm: Option<u32>,
    /// Which entry set that grade; `None` if the lot had none.
    pub source: Option<GradeSource>,
}

/// One lot a step created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepOutput {
    /// The new lot.
    pub lot: LotId,
    /// Its material, when the step states one (a merge keeps its inputs').
    pub material: Option<Material>,
    /// Its mass when created, grams.
    pub mass_g: u64,
    /// Its grade when created, ppm Sn; `None` if unknown.
    pub grade_ppm: Option<u32>,
}

/// A merge, smelt or manufacture on the lot's lineage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The step's sequence number.
    pub seq: u64,
    /// The step's event time.
    pub at: Timestamp,
    /// `merge`, `smelt` or `manufacture`.
    pub kind: &'static str,
    /// The actor that signed the step.
    pub signer: ActorId,
    /// The lots consumed, in the order the event lists them.
    pub inputs: Vec<StepInput>,
    /// The lots created.
    pub outputs: Vec<StepOutput>,
}

/// floor(mass × grade / 10^6): grams of tin, or `None` without a grade.
pub fn tin_g(mass_g: u64, grade_ppm: Option<u32>) -> Option<u64> {
    grade_ppm.map(|g| u64::try_from(u128::from(mass_g) * u128::from(g) / 1_000_000).unwrap_or(u64::MAX))
}

impl Step {
    /// Total mass in and out, grams.
    pub fn mass_balance(&self) -> (u64, u64) {
        let sum = |it: &mut dyn Iterator<Item = u64>| it.fold(0u64, u64::saturating_add);
        (sum(&mut self.inputs.iter().map(|i| i.mass_g)), sum(&mut self.outputs.iter().map(|o| o.mass_g)))
    }
    /// Total tin in and out, grams; `None` where a grade is unknown.
    pub fn tin_balance(&self) -> (Option<u64>, Option<u64>) {
        let sum = |v: Vec<Option<u64>>| v.into_iter().try_fold(0u64, |a, t| t.map(|t| a.saturating_add(t)));
        (
            sum(self.inputs.iter().map(|i| tin_g(i.mass_g, i.grade_ppm)).collect()),
            sum(self.outputs.iter().map(|o| tin_g(o.mass_g, o.grade_ppm)).collect()),
        )
    }
}

/// What the page shows beyond the summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertView {
    /// The ledger's authority, as the entries leave it.
    pub authority: AuthorityView,
    /// Merges, smelts and manufactures on the lot's lineage, by seq.
    pub steps: Vec<Step>,
    /// Every correction of an entry on the lot's lineage, by seq, with the
    /// values it replaced.
    pub corrections: Vec<CorrectionChange>,
}

impl CertView {
    /// The corrections of the entry at `seq`, oldest first.
    pub fn corrections_of(&self, seq: u64) -> impl Iterator<Item = &CorrectionChange> {
        self.corrections.iter().filter(move |c| c.entry == seq)
    }
}

/// Replay `c`'s entries (no proof or signature checks) and collect the
/// [`CertView`]. Fails where the entries do not replay.
pub fn view(c: &Certificate) -> Result<CertView, CertError> {
    let r = cert::replay_entries(c)?;
    let st = &r.state;
    let info = st.ledger.as_ref().ok_or_else(|| CertError { code: "order", msg: "no genesis entry".into() })?;
    let authority = st
        .actors
        .get(&info.authority)
        .map(|a| AuthorityView { id: a.record.id.clone(), name: a.record.name.clone(), key: a.record.key })
        .ok_or_else(|| CertError { code: "rule", msg: "the authority is not in the entries".into() })?;
    let lineage = cert::lineage(st, &c.lot);
    // Who set each lot's grade, in entry order. A new event kind that
    // changes a grade adds its arm here.
    let mut source: HashMap<LotId, GradeSource> = HashMap::new();
    let mut steps = Vec::new();
    let mut corrections = Corrections::default();
    for (seq, signed) in &r.events {
        let ev = signed.event();
        corrections.add(*seq, ev);
        let set = |basis: GradeBasis| GradeSource { basis, by: ev.signer.clone(), seq: *seq, corrected_by: None };
        let used = r.grades_used.get(seq).cloned().unwrap_or_default();
        let inputs = |lots: Vec<&LotId>| -> Vec<StepInput> {
            lots.into_iter()
                .enumerate()
                .map(|(i, l)| {
                    let (mass_g, grade_ppm) = used.get(i).copied().unwrap_or((0, None));
                    StepInput { lot: l.clone(), mass_g, grade_ppm, source: source.get(l).cloned() }
                })
                .collect()
        };
        let mut step = |kind: &'static str, ins: Vec<StepInput>, outs: Vec<StepOutput>| {
            if outs.iter().any(|o| lineage.contains(&o.lot)) {
                steps.push(Step { seq: *seq, at: ev.at, kind, signer: ev.signer.clone(), inputs: ins, outputs: outs });
            }
        };
        match &ev.body {
            EventBody::Extract { lot, .. } => {
                source.insert(lot.clone(), set(GradeBasis::Declared));
            }
            EventBody::Assay { lot, method, report, .. } => {
                source.insert(lot.clone(), set(GradeBasis::Assayed { method: method.clone(), report: report.clone() }));
            }
            EventBody::Correct { lot, entry_seq, grade_ppm: Some(_), .. } => {
                // The grade's source stays the corrected entry, marked.
                if let Some(s) = source.get_mut(lot).filter(|s| s.seq == *entry_seq) {
                    s.corrected_by = Some(*seq);
                }
            }
            EventBody::Split { lot, parts } => {
                if let Some(s) = source.get(lot).cloned() {
                    for p in parts {
                        source.insert(p.lot.clone(), s.clone());
                    }
                }
            }
            EventBody::Merge { inputs: ins, output } => {
                let ins = inputs(ins.iter().collect());
                let mass_g = ins.iter().map(|i| i.mass_g).fold(0u64, u64::saturating_add);
                // As the merge rule sets it: the mass-weighted mean, rounded down
                // (a later assay may have changed the lot's grade since).
                let tin: Option<u128> =
                    ins.iter().try_fold(0u128, |a, i| i.grade_ppm.map(|g| a + u128::from(i.mass_g) * u128::from(g)));
                let grade_ppm = tin.filter(|_| mass_g > 0).and_then(|t| u32::try_from(t / u128::from(mass_g)).ok());
                let material = st.lots.get(output).map(|l| l.material);
                step("merge", ins, vec![StepOutput { lot: output.clone(), material, mass_g, grade_ppm }]);
                source.insert(output.clone(), set(GradeBasis::Merged));
            }
            EventBody::Smelt { inputs: ins, outputs } | EventBody::Manufacture { inputs: ins, outputs } => {
                let kind = if matches!(ev.body, EventBody::Smelt { .. }) { "smelt" } else { "manufacture" };
                let outs = outputs
                    .iter()
                    .map(|o| StepOutput {
                        lot: o.lot.clone(),
                        material: Some(o.material),
                        mass_g: o.mass_g,
                        grade_ppm: Some(o.grade_ppm),
                    })
                    .collect();
                step(kind, inputs(ins.iter().map(|t| &t.lot).collect()), outs);
                for o in outputs {
                    source.insert(o.lot.clone(), set(GradeBasis::Declared));
                }
            }
            _ => {}
        }
    }
    let corrections = corrections.all().filter(|c| lineage.contains(&c.lot)).cloned().collect();
    Ok(CertView { authority, steps, corrections })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's certificate (golden; `tinledger demo` writes the same file).
    const DEMO: &str = include_str!("../../../fixtures/certificates/demo-solder-007.cert.json");

    fn id(s: &str) -> ActorId {
        ActorId::new(s).unwrap()
    }

    #[test]
    fn demo_view_names_the_authority_and_every_grade_source() {
        let c = Certificate::from_json(DEMO).unwrap();
        let v = view(&c).unwrap();
        assert_eq!(v.authority.id, id("AUTH-BABEL"));
        assert_eq!(v.authority.key, PublicKey::from(&crate::testkeys::test_key("AUTH-BABEL")));
        assert!(!v.authority.name.is_empty());
        let kinds: Vec<(u64, &str)> = v.steps.iter().map(|s| (s.seq, s.kind)).collect();
        assert_eq!(kinds, [(28, "merge"), (35, "smelt"), (39, "manufacture")]);
        assert!(v.corrections.is_empty(), "the demo corrects nothing");
        let merge = &v.steps[0];
        // AGG-2026-0001 was assayed (entry 26) after its receive; AGG-2026-0002 keeps the mine's declared grade.
        let a = &merge.inputs[0];
        assert_eq!((a.lot.as_str(), a.mass_g, a.grade_ppm), ("AGG-2026-0001", 1_199_200, Some(618_000)));
        let src = a.source.as_ref().unwrap();
        assert_eq!((src.by.as_str(), src.seq), ("LAB-PANGKALPINANG", 26));
        assert!(matches!(&src.basis, GradeBasis::Assayed { method, .. } if method == "XRF"));
        let b = &merge.inputs[1];
        assert_eq!((b.mass_g, b.grade_ppm), (950_000, Some(580_000)));
        assert_eq!(
            b.source,
            Some(GradeSource { basis: GradeBasis::Declared, by: id("MINE-AIRGEGAS"), seq: 13, corrected_by: None })
        );
        let mixed = ((1_199_200u128 * 618_000 + 950_000 * 580_000) / 2_149_200) as u32;
        assert_eq!(merge.outputs[0].grade_ppm, Some(mixed));
        assert_eq!(merge.outputs[0].mass_g, 2_149_200);

        let smelt = &v.steps[1];
        assert_eq!(smelt.signer, id("SMELTER-MUNTOK"));
        let conc = &smelt.inputs[0];
        assert_eq!(conc.grade_ppm, Some(mixed));
        assert_eq!(conc.source.as_ref().map(|s| (&s.basis, s.seq)), Some((&GradeBasis::Merged, 28)));
        let kob = &smelt.inputs[1];
        assert_eq!((kob.mass_g, kob.grade_ppm), (1_500_000, Some(702_000)));
        assert_eq!(kob.source.as_ref().map(|s| (s.by.as_str(), s.seq)), Some(("LAB-PANGKALPINANG", 33)));
        let (m_in, m_out) = smelt.mass_balance();
        assert_eq!(m_in, 2_149_200 + 1_500_000);
        assert_eq!(m_out, smelt.outputs.iter().map(|o| o.mass_g).sum::<u64>());
        let (t_in, t_out) = smelt.tin_balance();
        let want_in = tin_g(2_149_200, Some(mixed)).unwrap() + tin_g(1_500_000, Some(702_000)).unwrap();
        assert_eq!(t_in, Some(want_in));
        assert!(t_out.unwrap() <= want_in + want_in / 100, "the rules bound tin out");

        let manu = &v.steps[2];
        assert_eq!(
            manu.inputs[0].source.as_ref().map(|s| (&s.basis, s.by.as_str(), s.seq)),
            Some((&GradeBasis::Declared, "SMELTER-MUNTOK", 35))
        );
    }

    #[test]
    fn entries_that_do_not_replay_give_an_error() {
        let mut c = Certificate::from_json(DEMO).unwrap();
        c.entries.retain(|e| e.seq != 41);
        assert_eq!(view(&c).unwrap_err().code, "rule");
        assert_eq!(tin_g(1_000_000, Some(500_000)), Some(500_000));
        assert_eq!(tin_g(3, Some(333_333)), Some(0));
        assert_eq!(tin_g(3, None), None);
    }
}
