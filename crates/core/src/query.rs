//! Read-only questions about a chain: which lots are where, which entries
//! match a filter, where a lot came from, an actor's mass balance over a
//! period, and which known id a mistyped one probably meant.
//!
//! Pure computations over events. The caller (`tinledger-ledger`) replays
//! the chain in sequence order and hands each event over together with the
//! rule state just before it ([`StateView`]) and what the rules said it
//! changes ([`Delta`]); nothing here reads storage or a clock. The figures
//! are defined in docs/model.md ("Queries") so that an auditor can recompute
//! them by hand from `tinledger log`.

use crate::event::{Event, EventBody};
use crate::ids::{ActorId, LotId};
use crate::rules::{Delta, LotState, LotStatus, StateView, ViewError};
use crate::units::{quoted, Material, Timestamp};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// Where a lot is, as `tinledger lot list --state` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LotPhase {
    /// In its custodian's hands (received, extracted or produced, not dispatched since).
    Held,
    /// Dispatched and not yet received; the custodian is still the sender.
    InTransit,
    /// Nothing left: smelted, manufactured, merged or split away.
    Consumed,
    /// Shipped out of the country.
    Exported,
}

impl LotPhase {
    /// Every phase, in the order the docs list them.
    pub const ALL: [LotPhase; 4] = [LotPhase::Held, LotPhase::InTransit, LotPhase::Consumed, LotPhase::Exported];

    /// The phase of a lot status.
    pub fn of(s: &LotStatus) -> LotPhase {
        match s {
            LotStatus::Active => LotPhase::Held,
            LotStatus::InTransit { .. } => LotPhase::InTransit,
            LotStatus::Consumed { .. } => LotPhase::Consumed,
            LotStatus::Exported { .. } => LotPhase::Exported,
        }
    }

    /// The name on the command line and in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            LotPhase::Held => "held",
            LotPhase::InTransit => "in-transit",
            LotPhase::Consumed => "consumed",
            LotPhase::Exported => "exported",
        }
    }
}

impl fmt::Display for LotPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LotPhase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        LotPhase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown lot state {}: use held, in-transit, consumed or exported", quoted(s)))
    }
}

/// Which lots `lot list` shows: every field that is set must match.
#[derive(Clone, Debug, Default)]
pub struct LotFilter {
    /// The lot's custodian: who holds it, or (in transit) who sent it, or
    /// (consumed, exported) who held it last.
    pub held_by: Option<ActorId>,
    /// The lot's material.
    pub material: Option<Material>,
    /// The lot's state (held, in transit, consumed, exported).
    pub phase: Option<LotPhase>,
}

impl LotFilter {
    /// Whether `lot` passes the filter.
    pub fn matches(&self, lot: &LotState) -> bool {
        self.held_by.as_ref().is_none_or(|a| &lot.custodian == a)
            && self.material.is_none_or(|m| lot.material == m)
            && self.phase.is_none_or(|p| LotPhase::of(&lot.status) == p)
    }
}

/// Every event kind, as [`EventBody::kind`] names it.
pub const EVENT_KINDS: &[&str] = &[
    "genesis",
    "register_actor",
    "suspend_actor",
    "reinstate_actor",
    "revoke_actor",
    "rotate_key",
    "extract",
    "dispatch",
    "receive",
    "assay",
    "smelt",
    "split",
    "merge",
    "manufacture",
    "export",
    "correct",
];

/// Parse an event kind as `log --kind` takes it: `register_actor` or
/// `register-actor`.
pub fn parse_kind(s: &str) -> Result<&'static str, String> {
    let norm = s.replace('-', "_");
    EVENT_KINDS.iter().copied().find(|k| *k == norm).ok_or_else(|| {
        let near = suggest(&norm, EVENT_KINDS.iter().copied());
        let mean = near.first().map(|k| format!(" (did you mean {k}?)")).unwrap_or_default();
        format!("unknown event kind {}{mean}: one of {}", quoted(s), EVENT_KINDS.join(", "))
    })
}

/// Every actor an event names: its signer, the receiver and transporter of
/// a dispatch, and the subject of an actor-management event.
pub fn actors_named(ev: &Event) -> Vec<&ActorId> {
    let mut v = vec![&ev.signer];
    if let EventBody::Dispatch { to, transporter, .. } = &ev.body {
        v.push(to);
        v.extend(transporter.iter());
    }
    v.extend(ev.body.subject_actor());
    v
}

/// Which entries `log` shows: every field that is set must match (AND).
#[derive(Clone, Debug, Default)]
pub struct EntryFilter {
    /// The event names this actor ([`actors_named`]).
    pub actor: Option<ActorId>,
    /// The event is of this kind ([`EVENT_KINDS`]).
    pub kind: Option<&'static str>,
    /// The event names this lot ([`EventBody::lots`]).
    pub lot: Option<LotId>,
    /// The event's time is at or after this.
    pub from: Option<Timestamp>,
    /// The event's time is at or before this.
    pub to: Option<Timestamp>,
}

impl EntryFilter {
    /// Whether `ev` passes the filter.
    pub fn matches(&self, ev: &Event) -> bool {
        self.actor.as_ref().is_none_or(|a| actors_named(ev).contains(&a))
            && self.kind.is_none_or(|k| ev.body.kind() == k)
            && self.lot.as_ref().is_none_or(|l| ev.body.lots().contains(&l))
            && in_period(ev.at, self.from, self.to)
    }
}

/// `from <= at <= to`, an unset bound being open.
pub fn in_period(at: Timestamp, from: Option<Timestamp>, to: Option<Timestamp>) -> bool {
    from.is_none_or(|f| at >= f) && to.is_none_or(|t| at <= t)
}

/// Most suggestions [`suggest`] returns.
pub const MAX_SUGGESTIONS: usize = 3;

/// Known ids close to a mistyped one, closest first (at most
/// [`MAX_SUGGESTIONS`]): Damerau-Levenshtein distance (a swap of two
/// neighbouring characters counts as one edit) over the ids compared without
/// case, at most 1 for ids under 10 characters, 2 up to 19, 3 beyond. Ids
/// whose length differs by more than that are skipped without computing a
/// distance, so a look-up over many ids stays cheap.
pub fn suggest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let exact = typed;
    let typed: String = typed.chars().take(crate::ids::MAX_ID_LEN + 8).collect::<String>().to_lowercase();
    let n = typed.chars().count();
    let max = match n {
        0..=9 => 1,
        10..=19 => 2,
        _ => 3,
    };
    let mut near: Vec<(usize, String)> = Vec::new();
    for k in known {
        if k.chars().count().abs_diff(n) > max {
            continue;
        }
        let d = strsim::damerau_levenshtein(&typed, &k.to_lowercase());
        if d <= max && k != exact {
            near.push((d, k.to_string()));
        }
    }
    near.sort();
    near.into_iter().take(MAX_SUGGESTIONS).map(|(_, k)| k).collect()
}

/// How a lot came to be, for [`Provenance`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Creation {
    /// The lot's id.
    pub lot: LotId,
    /// Its material when created.
    pub material: Material,
    /// Mass when created, grams.
    pub mass_g: u64,
    /// Grade when created (declared, or carried over from the source lot).
    pub grade_ppm: Option<u32>,
    /// The entry that created it, its kind, signer and time.
    pub seq: u64,
    /// The creating event's kind (`extract`, `smelt`, `split`, ...).
    pub kind: &'static str,
    /// The actor that signed it.
    pub signer: ActorId,
    /// Its event time.
    pub at: Timestamp,
    /// The lots it was made from and the grams taken from each (a merge
    /// takes each input whole; a split takes the part's mass from its source).
    pub inputs: Vec<Link>,
}

/// One input of a [`Creation`]: the lot and the grams taken from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The input lot.
    pub lot: LotId,
    /// Grams taken from it.
    pub mass_g: u64,
}

/// Collects how every lot was created, from a replay of the chain.
#[derive(Default)]
pub struct ProvenanceBuilder {
    created: HashMap<LotId, Creation>,
}

impl ProvenanceBuilder {
    /// Take in the entry `seq`: `before` is the rule state just before it,
    /// `delta` what the rules said it changes.
    pub fn step(&mut self, before: &dyn StateView, seq: u64, ev: &Event, delta: &Delta) -> Result<(), ViewError> {
        let inputs: Vec<Link> = match &ev.body {
            EventBody::Smelt { inputs, .. } | EventBody::Manufacture { inputs, .. } => {
                inputs.iter().map(|t| Link { lot: t.lot.clone(), mass_g: t.mass_g }).collect()
            }
            EventBody::Merge { inputs, .. } => {
                let mut v = Vec::with_capacity(inputs.len());
                for id in inputs {
                    v.push(Link { lot: id.clone(), mass_g: before.lot(id)?.map_or(0, |l| l.mass_g) });
                }
                v
            }
            _ => Vec::new(),
        };
        for l in delta.lots.iter().filter(|l| l.created_seq == seq) {
            let inputs = match &ev.body {
                EventBody::Split { lot, .. } => vec![Link { lot: lot.clone(), mass_g: l.mass_g }],
                _ => inputs.clone(),
            };
            self.created.insert(
                l.id.clone(),
                Creation {
                    lot: l.id.clone(),
                    material: l.material,
                    mass_g: l.mass_g,
                    grade_ppm: l.grade_ppm,
                    seq,
                    kind: ev.body.kind(),
                    signer: ev.signer.clone(),
                    at: ev.at,
                    inputs,
                },
            );
        }
        Ok(())
    }

    /// The upstream tree of `root`: every lot it was made from, back to the
    /// extractions; `None` if no replayed entry created `root`.
    pub fn tree(&self, root: &LotId) -> Option<Provenance> {
        self.created.get(root)?;
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        let mut queue = std::collections::VecDeque::from([root.clone()]);
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(c) = self.created.get(&id) {
                queue.extend(c.inputs.iter().map(|i| i.lot.clone()));
                order.push(c.clone());
            }
        }
        Some(Provenance { root: root.clone(), lots: order })
    }
}

/// A lot's upstream provenance: each lot once, the root first, then
/// breadth-first towards the mines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The lot the tree is for.
    pub root: LotId,
    /// Every lot in the tree once: the root first, then breadth-first.
    pub lots: Vec<Creation>,
}

/// One line of [`Provenance::walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeLine<'a> {
    /// 0 for the root.
    pub depth: usize,
    /// The lot on this line.
    pub lot: &'a Creation,
    /// Grams the child (one level up) took from this lot; `None` for the root.
    pub taken_g: Option<u64>,
    /// This lot's inputs were already listed above (a lot reached twice).
    pub repeated: bool,
}

impl Provenance {
    /// The creation of `lot`, if it is in the tree.
    pub fn get(&self, lot: &LotId) -> Option<&Creation> {
        self.lots.iter().find(|c| &c.lot == lot)
    }

    /// The tree depth-first, the root first and each lot's inputs in the
    /// order its event lists them; a lot reached a second time is listed
    /// with `repeated` and without its inputs again. Iterative: a chain of
    /// any length cannot overflow the stack.
    pub fn walk(&self) -> Vec<TreeLine<'_>> {
        let index: HashMap<&LotId, &Creation> = self.lots.iter().map(|c| (&c.lot, c)).collect();
        let mut out = Vec::new();
        let mut expanded = BTreeSet::new();
        let mut stack: Vec<(usize, &LotId, Option<u64>)> = vec![(0, &self.root, None)];
        while let Some((depth, id, taken_g)) = stack.pop() {
            let Some(c) = index.get(id) else { continue };
            let repeated = !c.inputs.is_empty() && !expanded.insert(id);
            out.push(TreeLine { depth, lot: c, taken_g, repeated });
            if !repeated {
                for i in c.inputs.iter().rev() {
                    stack.push((depth + 1, &i.lot, Some(i.mass_g)));
                }
            }
        }
        out
    }
}

/// A receive whose measured mass differs from the dispatched mass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiveDifference {
    /// The receive's sequence number.
    pub seq: u64,
    /// The receive's event time.
    pub at: Timestamp,
    /// The lot received.
    pub lot: LotId,
    /// Its mass just before the receive (what the dispatch handed over), grams.
    pub dispatched_g: u64,
    /// The measured mass the receive states, grams.
    pub received_g: u64,
    /// Beyond [`crate::rules::RECEIVE_TOLERANCE_PPM`]: the rules flagged it.
    pub flagged: bool,
}

/// An actor's mass balance over a period (docs/model.md, "Mass balance").
/// Masses in grams; contained tin in grams, rounded down; yields in ppm
/// (1,000,000 = 100 %), rounded down.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// The actor balanced.
    pub actor: Option<ActorId>,
    /// Start of the period (inclusive); `None`: the ledger's start.
    pub from: Option<Timestamp>,
    /// End of the period (inclusive); `None`: no end.
    pub to: Option<Timestamp>,
    /// Entries the actor signed in the period.
    pub events: u64,
    /// Stock at the start of the period: (+) minus (-) over the entries before it, grams.
    pub opening_g: i128,
    /// Σ extracts in the period, grams.
    pub extracted_g: u128,
    /// Σ measured masses of receives in the period, grams.
    pub received_g: u128,
    /// Σ outputs of smelts, manufactures, splits and merges in the period, grams.
    pub produced_g: u128,
    /// Σ inputs of smelts, manufactures, splits and merges in the period, grams.
    pub consumed_g: u128,
    /// Σ masses of the lots dispatched in the period (just before dispatch), grams.
    pub dispatched_g: u128,
    /// Σ masses of the lots exported in the period (just before export), grams.
    pub exported_g: u128,
    /// opening + extracted + received + produced - consumed - dispatched - exported, grams.
    pub closing_g: i128,
    /// Smelts and manufactures only: mass in and out, contained tin in and
    /// out (`None` if an input's grade was unknown), and the yields.
    pub process_in_g: u128,
    /// Σ outputs of the period's smelts and manufactures, grams.
    pub process_out_g: u128,
    /// Contained tin of their inputs, grams, rounded down; `None` if a grade is unknown.
    pub tin_in_g: Option<u128>,
    /// Contained tin of their outputs, grams, rounded down; `None` if a grade is unknown.
    pub tin_out_g: Option<u128>,
    /// out × 1,000,000 / in, ppm, rounded down; `None` without processing.
    pub mass_yield_ppm: Option<u128>,
    /// tin out × 1,000,000 / tin in (unrounded sums), ppm, rounded down.
    pub tin_yield_ppm: Option<u128>,
    /// Every receive in the period whose measured mass differs from the dispatched one.
    pub discrepancies: Vec<ReceiveDifference>,
}

/// Computes a [`Balance`] from a replay of the chain.
pub struct BalanceBuilder {
    b: Balance,
    tin_in: u128,
    tin_out: u128,
    tin_known: bool,
    /// The extracts and receives counted so far, by seq: a later
    /// correction of one moves the figure it was counted in.
    booked: HashMap<u64, Booked>,
}

/// Where an extract or receive was counted.
#[derive(Clone, Copy)]
struct Booked {
    /// Before the period (in the opening stock), else in it.
    before: bool,
    /// A receive, and the mass dispatched to it; `None` for an extract.
    dispatched_g: Option<u64>,
}

impl BalanceBuilder {
    /// The balance of `actor` for events at or after `from` and at or before
    /// `to` (an unset bound is open).
    pub fn new(actor: ActorId, from: Option<Timestamp>, to: Option<Timestamp>) -> BalanceBuilder {
        BalanceBuilder {
            b: Balance { actor: Some(actor), from, to, ..Balance::default() },
            tin_in: 0,
            tin_out: 0,
            tin_known: true,
            booked: HashMap::new(),
        }
    }

    /// A correction by the actor of the extract or receive at `entry`
    /// giving `new_g`: its figure moves by the difference from the mass in
    /// effect just before (the rules allow a correction only while the lot
    /// is unchanged since that entry, so the lot's mass is it).
    fn correct(&mut self, before: &dyn StateView, entry: u64, lot: &LotId, new_g: u64) -> Result<(), ViewError> {
        let Some(booked) = self.booked.get(&entry).copied() else { return Ok(()) };
        let old_g = before.lot(lot)?.map_or(0, |l| l.mass_g);
        let delta = i128::from(new_g) - i128::from(old_g);
        if booked.before {
            self.b.opening_g += delta;
            return Ok(());
        }
        let figure = if booked.dispatched_g.is_some() { &mut self.b.received_g } else { &mut self.b.extracted_g };
        // The figure holds the old mass, so it stays at or above zero.
        *figure = u128::try_from(to_i(*figure) + delta).unwrap_or(0);
        if let Some(sent) = booked.dispatched_g {
            let i = self.b.discrepancies.iter().position(|d| d.seq == entry);
            match (i, difference(sent, new_g)) {
                (Some(i), Some(flagged)) => {
                    self.b.discrepancies[i].received_g = new_g;
                    self.b.discrepancies[i].flagged = flagged;
                }
                (Some(i), None) => {
                    self.b.discrepancies.remove(i);
                }
                (None, Some(flagged)) => {
                    let at = before.entry_time(entry)?.unwrap_or_default();
                    let d = ReceiveDifference {
                        seq: entry,
                        at,
                        lot: lot.clone(),
                        dispatched_g: sent,
                        received_g: new_g,
                        flagged,
                    };
                    let pos = self.b.discrepancies.partition_point(|d| d.seq < entry);
                    self.b.discrepancies.insert(pos, d);
                }
                (None, None) => {}
            }
        }
        Ok(())
    }

    /// Take in the entry `seq`, with the rule state just before it.
    pub fn step(&mut self, before: &dyn StateView, seq: u64, ev: &Event) -> Result<(), ViewError> {
        if Some(&ev.signer) != self.b.actor.as_ref() {
            return Ok(());
        }
        // A correction counts where the entry it corrects was counted,
        // whenever it was made (docs/model.md §8.3).
        if let EventBody::Correct { lot, entry_seq, mass_g: Some(new_g), .. } = &ev.body {
            self.correct(before, *entry_seq, lot, *new_g)?;
        }
        if self.b.to.is_some_and(|t| ev.at > t) {
            return Ok(());
        }
        let mass = |id: &LotId| -> Result<u64, ViewError> { Ok(before.lot(id)?.map_or(0, |l| l.mass_g)) };
        let mut f = Flows::default();
        match &ev.body {
            EventBody::Extract { mass_g, .. } => f.extracted = u128::from(*mass_g),
            EventBody::Receive { lot, mass_g } => {
                f.received = u128::from(*mass_g);
                let sent = mass(lot)?;
                f.dispatched_to_receive = Some(sent);
                if let Some(flagged) = difference(sent, *mass_g) {
                    f.difference = Some(ReceiveDifference {
                        seq,
                        at: ev.at,
                        lot: lot.clone(),
                        dispatched_g: sent,
                        received_g: *mass_g,
                        flagged,
                    });
                }
            }
            EventBody::Dispatch { lot, .. } => f.dispatched = u128::from(mass(lot)?),
            EventBody::Export { lot, .. } => f.exported = u128::from(mass(lot)?),
            EventBody::Smelt { inputs, outputs } | EventBody::Manufacture { inputs, outputs } => {
                f.process = true;
                f.tin_known = true;
                for t in inputs {
                    f.consumed += u128::from(t.mass_g);
                    match before.lot(&t.lot)?.and_then(|l| l.grade_ppm) {
                        Some(g) => f.tin_in += u128::from(t.mass_g) * u128::from(g),
                        None => f.tin_known = false,
                    }
                }
                for o in outputs {
                    f.produced += u128::from(o.mass_g);
                    f.tin_out += u128::from(o.mass_g) * u128::from(o.grade_ppm);
                }
            }
            EventBody::Split { parts, .. } => {
                let total: u128 = parts.iter().map(|p| u128::from(p.mass_g)).sum();
                f.consumed = total;
                f.produced = total;
            }
            EventBody::Merge { inputs, .. } => {
                for id in inputs {
                    f.consumed += u128::from(mass(id)?);
                }
                f.produced = f.consumed;
            }
            _ => {}
        }
        let before_period = self.b.from.is_some_and(|from| ev.at < from);
        if matches!(ev.body, EventBody::Extract { .. } | EventBody::Receive { .. }) {
            self.booked.insert(seq, Booked { before: before_period, dispatched_g: f.dispatched_to_receive });
        }
        if before_period {
            self.b.opening_g += f.net();
            return Ok(());
        }
        self.b.events += 1;
        self.b.extracted_g += f.extracted;
        self.b.received_g += f.received;
        self.b.produced_g += f.produced;
        self.b.consumed_g += f.consumed;
        self.b.dispatched_g += f.dispatched;
        self.b.exported_g += f.exported;
        if f.process {
            self.b.process_in_g += f.consumed;
            self.b.process_out_g += f.produced;
            self.tin_in += f.tin_in;
            self.tin_out += f.tin_out;
            self.tin_known &= f.tin_known;
        }
        self.b.discrepancies.extend(f.difference);
        Ok(())
    }

    /// The balance: closing stock, contained tin and yields.
    pub fn finish(mut self) -> Balance {
        let b = &mut self.b;
        b.closing_g = b.opening_g + to_i(b.extracted_g) + to_i(b.received_g) + to_i(b.produced_g)
            - to_i(b.consumed_g)
            - to_i(b.dispatched_g)
            - to_i(b.exported_g);
        // Sums stay far below u128::MAX: at most 10^10 g per lot, 10^6 ppm.
        b.mass_yield_ppm = (b.process_out_g * 1_000_000).checked_div(b.process_in_g);
        if b.process_in_g > 0 && self.tin_known {
            b.tin_in_g = Some(self.tin_in / 1_000_000);
            b.tin_out_g = Some(self.tin_out / 1_000_000);
            b.tin_yield_ppm = (self.tin_out * 1_000_000).checked_div(self.tin_in);
        }
        self.b
    }
}

/// Whether a receive of `received_g` differs from the dispatched `sent_g`:
/// `None` if not, else whether beyond the tolerance that raises a flag.
fn difference(sent_g: u64, received_g: u64) -> Option<bool> {
    (sent_g != received_g).then(|| {
        u128::from(sent_g.abs_diff(received_g)) * 1_000_000
            > u128::from(sent_g) * u128::from(crate::rules::RECEIVE_TOLERANCE_PPM)
    })
}

fn to_i(v: u128) -> i128 {
    i128::try_from(v).unwrap_or(i128::MAX)
}

/// What one event moves in or out of its signer's stock.
#[derive(Default)]
struct Flows {
    extracted: u128,
    received: u128,
    produced: u128,
    consumed: u128,
    dispatched: u128,
    exported: u128,
    process: bool,
    tin_in: u128,
    tin_out: u128,
    tin_known: bool,
    difference: Option<ReceiveDifference>,
    /// A receive: the lot's mass just before it.
    dispatched_to_receive: Option<u64>,
}

impl Flows {
    fn net(&self) -> i128 {
        to_i(self.extracted) + to_i(self.received) + to_i(self.produced)
            - to_i(self.consumed)
            - to_i(self.dispatched)
            - to_i(self.exported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_near_ids_only() {
        let known = ["KOB-2026-0004", "KOB-2026-0001", "AGG-2026-0001", "SMELTER-MUNTOK"];
        assert_eq!(suggest("KOB-2026-004", known), vec!["KOB-2026-0004", "KOB-2026-0001"]);
        assert_eq!(suggest("smelter-muntok", known), vec!["SMELTER-MUNTOK"]);
        assert!(suggest("INGOT-9", known).is_empty());
        assert_eq!(suggest("KOB-2026-0004", known), vec!["KOB-2026-0001"], "an id is no suggestion for itself");
    }

    #[test]
    fn kinds_parse_with_dashes_and_refuse_typos() {
        assert_eq!(parse_kind("register-actor"), Ok("register_actor"));
        let e = parse_kind("recieve").unwrap_err();
        assert!(e.contains("did you mean receive?"), "{e}");
    }

    #[test]
    fn phases_round_trip() {
        for p in LotPhase::ALL {
            assert_eq!(p.as_str().parse::<LotPhase>(), Ok(p));
        }
        assert!("in_transit".parse::<LotPhase>().is_err());
    }
}
