//! Provenance certificates: a self-contained, signed document tracing a lot
//! back to its mines, verifiable offline with only the authority's key.
//!
//! A certificate carries the entries upstream of a lot (with their exact
//! signed bytes), the registration history of every actor they involve, an
//! RFC 9162 inclusion proof for each entry against one signed checkpoint, a
//! summary a buyer reads first, and the exporter's signature over all of it.
//! Verification replays the included entries through the same rules as the
//! ledger ([`crate::rules`]) and recomputes the summary; docs/certificates.md
//! is the normative description.

use crate::checkpoint::{origin_for, Checkpoint};
use crate::entry::Entry;
use crate::event::{EventBody, PublicKey, SignedEvent};
use crate::ids::{ActorId, LedgerId, LotId};
use crate::merkle::{self, Hash};
use crate::note::Verifier;
use crate::rules::{self, Flag, LotStatus, Overlay, StateView};
use crate::units::{clip, format_mass, quoted, GeoPoint, Material, Role, Timestamp, MAX_GRADE_PPM, MAX_MASS_G};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Format tag of certificates.
pub const CERT_FORMAT: &str = "tinledger-certificate-v1";
/// Prefix of the exporter's signed message (ASCII, ending in a NUL byte).
pub const CERT_SIG_CONTEXT: &[u8] = b"tinledger-certificate-v1\0";
/// Largest integer a certificate may hold (RFC 8785 numbers are IEEE doubles).
pub const MAX_SAFE_INT: u64 = (1 << 53) - 1;
/// Attribution shares are parts per billion of the lot's contained tin.
pub const SHARE_DENOM: u64 = 1_000_000_000;

/// Why a certificate could not be issued or does not verify. `code` is a
/// stable short name (used by the tampered-certificate corpus).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct CertError {
    /// Stable short name of the failed check: `format`, `checkpoint`,
    /// `entry-decode`, `inclusion`, `order`, `rule`, `event-signature`,
    /// `exporter`, `cert-signature`, `unknown-lot` or `source`
    /// (docs/certificates.md §7, §10).
    pub code: &'static str,
    /// One line for people, naming what is wrong.
    pub msg: String,
}

fn err(code: &'static str, msg: impl Into<String>) -> CertError {
    CertError { code, msg: msg.into() }
}

/// One included entry with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertEntry {
    /// The entry's sequence number (= its leaf index in the checkpoint's tree).
    pub seq: u64,
    /// Canonical entry bytes, hex.
    pub entry_hex: String,
    /// Inclusion proof against the checkpoint, leaf to root, base64.
    pub proof: Vec<String>,
}

/// The certificate document (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Exactly [`CERT_FORMAT`].
    pub format: String,
    /// The ledger (the id of its genesis entry).
    pub ledger_id: LedgerId,
    /// The certified lot.
    pub lot: LotId,
    /// The issuing exporter, whose key signs the certificate.
    pub exporter: ActorId,
    /// When the exporter issued it: the exporter's statement, not checked
    /// against anything.
    pub issued_at: Timestamp,
    /// The signed checkpoint (C2SP signed note) every proof leads to.
    pub checkpoint: String,
    /// Included entries, ascending by seq.
    pub entries: Vec<CertEntry>,
    /// What the entries imply for the lot (docs/certificates.md §6).
    pub summary: Summary,
    /// Exporter's Ed25519 signature, hex, over CERT_SIG_CONTEXT ‖ canonical
    /// JSON of this document without the `signature` member.
    pub signature: String,
}

/// What a buyer reads first. Every field is recomputed by verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// The lot's state.
    pub lot: LotSummary,
    /// Tin in the lot: floor(mass_g × grade_ppm / 1,000,000), grams.
    pub contained_tin_g: u64,
    /// Mines the tin came from, largest share first.
    pub origins: Vec<Origin>,
    /// Smelters that made the lot's refined tin.
    pub smelters: Vec<SmelterSummary>,
    /// Every included custody event on the lot and its ancestors, by seq.
    pub timeline: Vec<TimelineItem>,
    /// The lot's export, if it was exported.
    pub export: Option<ExportSummary>,
    /// Flags raised on the lot or its ancestors.
    pub flags: Vec<Flag>,
    /// Included entries signed with a key later reported compromised.
    pub untrusted_entries: Vec<u64>,
}

/// A lot's state as the certificate states it (docs/certificates.md §1.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LotSummary {
    /// The lot (equal to the certificate's `lot`).
    pub id: LotId,
    /// Its material.
    pub material: Material,
    /// Grams still in the lot (0 once consumed; an exported lot keeps its mass).
    pub mass_g: u64,
    /// Best known grade, ppm Sn (latest assay, else declared); `None` if unknown.
    pub grade_ppm: Option<u32>,
    /// Its holder; the last holder once consumed or exported; the sender while
    /// in transit.
    pub custodian: ActorId,
    /// active, in_transit, consumed or exported.
    pub state: String,
}

/// A mine the lot's tin came from (docs/certificates.md §1.5, §5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// The mine (the signer of the extractions below).
    pub mine: ActorId,
    /// The mine's registered name.
    pub name: String,
    /// The mine's registered IUP licence (`attrs.iup`), if any.
    pub licence: Option<String>,
    /// The mine's registered location, if any.
    pub location: Option<GeoPoint>,
    /// Share of the lot's contained tin, parts per billion.
    pub share_ppb: u64,
    /// floor(contained_tin_g × share_ppb / 10^9).
    pub tin_g: u64,
    /// Its extractions among the lot's ancestors, by seq.
    pub extractions: Vec<Extraction>,
}

/// One extract entry among the lot's ancestors (docs/certificates.md §1.6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extraction {
    /// The extract entry's sequence number.
    pub seq: u64,
    /// The lot it created.
    pub lot: LotId,
    /// Event time.
    pub at: Timestamp,
    /// Extracted mass, grams.
    pub mass_g: u64,
    /// The grade declared in the extract (not a later assay), ppm Sn.
    pub grade_ppm: Option<u32>,
    /// The licence named in the extract.
    pub licence: String,
    /// The location named in the extract.
    pub location: GeoPoint,
}

/// A smelter that made the lot's refined tin (docs/certificates.md §1.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmelterSummary {
    /// The smelter (signer of the smelts below).
    pub smelter: ActorId,
    /// Its registered name.
    pub name: String,
    /// Its registered RMI smelter id (`attrs.rmi_cid`), if any.
    pub rmi_cid: Option<String>,
    /// Its registered location, if any.
    pub location: Option<GeoPoint>,
    /// Sequence numbers of its included smelts that produced a lot of the
    /// lineage, ascending.
    pub smelts: Vec<u64>,
}

/// One custody event in the summary's timeline (docs/certificates.md §1.8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineItem {
    /// The entry's sequence number.
    pub seq: u64,
    /// Event time.
    pub at: Timestamp,
    /// The event kind (docs/formats.md §2.4, e.g. `receive`).
    pub kind: String,
    /// The signer.
    pub signer: ActorId,
    /// One line generated by `Event::describe`; verification compares it
    /// byte for byte, so docs/certificates.md §1.8 defines it exactly.
    pub description: String,
}

/// The lot's export (docs/certificates.md §1.9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportSummary {
    /// The export entry's sequence number.
    pub seq: u64,
    /// Event time.
    pub at: Timestamp,
    /// Its signer.
    pub exporter: ActorId,
    /// Destination country, ISO 3166-1 alpha-2.
    pub destination: String,
    /// Harmonized System code.
    pub hs_code: String,
    /// Export permit number.
    pub permit: String,
    /// Surveyor report number.
    pub surveyor_report: String,
    /// Consignee.
    pub consignee: String,
}

/// What the issuer reads from its ledger.
pub trait CertSource {
    /// Sequence numbers of every entry naming `lot`, ascending.
    fn lot_history(&self, lot: &LotId) -> Result<Vec<u64>, String>;
    /// Sequence numbers of every entry registering or changing `actor`
    /// (genesis for the authority), ascending.
    fn actor_history(&self, actor: &ActorId) -> Result<Vec<u64>, String>;
    /// The entry at `seq`; an error if it is missing.
    fn entry(&self, seq: u64) -> Result<Entry, String>;
    /// RFC 9162 inclusion proof of leaf `seq` in the tree of the first `size`
    /// entries, leaf to root.
    fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, String>;
    /// Proofs for many entries against one tree size (sources may share work).
    fn inclusion_proofs(&self, seqs: &[u64], size: u64) -> Result<Vec<Vec<Hash>>, String> {
        seqs.iter().map(|s| self.inclusion_proof(*s, size)).collect()
    }
}

/// Lots an event takes from (that must already exist).
fn consumed(body: &EventBody) -> Vec<&LotId> {
    match body {
        EventBody::Dispatch { lot, .. }
        | EventBody::Receive { lot, .. }
        | EventBody::Assay { lot, .. }
        | EventBody::Export { lot, .. }
        | EventBody::Split { lot, .. } => vec![lot],
        EventBody::Smelt { inputs, .. } | EventBody::Manufacture { inputs, .. } => {
            inputs.iter().map(|t| &t.lot).collect()
        }
        EventBody::Merge { inputs, .. } => inputs.iter().collect(),
        _ => vec![],
    }
}

/// Actors whose registration an event's rules consult.
fn involved(signed: &SignedEvent) -> Vec<ActorId> {
    let ev = signed.event();
    let mut out = vec![ev.signer.clone()];
    if let EventBody::Dispatch { to, transporter, .. } = &ev.body {
        out.push(to.clone());
        if let Some(t) = transporter {
            out.push(t.clone());
        }
    }
    out
}

fn decode(e: &Entry) -> Result<SignedEvent, CertError> {
    e.signed_event().map_err(|x| err("entry-decode", format!("entry {}: {x}", e.seq)))
}

/// The sequence numbers a certificate for `lot` at tree size `size` must
/// include (docs/certificates.md, "Which entries"): every entry naming the
/// lot; for every lot an included entry takes from, every entry naming that
/// lot up to that point; genesis; and every entry registering or changing an
/// actor that signs or receives in them, or the exporter.
pub fn select(src: &impl CertSource, lot: &LotId, size: u64, exporter: &ActorId) -> Result<Vec<u64>, CertError> {
    Ok(select_entries(src, lot, size, exporter)?.into_keys().collect())
}

/// [`select`], returning the decoded entries.
fn select_entries(
    src: &impl CertSource,
    lot: &LotId,
    size: u64,
    exporter: &ActorId,
) -> Result<BTreeMap<u64, (Entry, SignedEvent)>, CertError> {
    let src_err = |e: String| err("source", e);
    if size == 0 {
        return Err(err("source", "empty tree"));
    }
    let mut need: BTreeMap<LotId, u64> = BTreeMap::new();
    let mut queue = vec![lot.clone()];
    need.insert(lot.clone(), size - 1);
    let mut included: BTreeSet<u64> = BTreeSet::new();
    let mut cache: BTreeMap<u64, (Entry, SignedEvent)> = BTreeMap::new();
    while let Some(l) = queue.pop() {
        let cutoff = need[&l];
        for seq in src.lot_history(&l).map_err(src_err)? {
            if seq > cutoff {
                break;
            }
            if let std::collections::btree_map::Entry::Vacant(slot) = cache.entry(seq) {
                let e = src.entry(seq).map_err(src_err)?;
                let d = decode(&e)?;
                slot.insert((e, d));
            }
            included.insert(seq);
            let ev = &cache[&seq].1;
            for y in consumed(&ev.event().body) {
                if y == &l {
                    continue;
                }
                let cur = need.get(y).copied();
                if cur.is_none_or(|c| c < seq) {
                    need.insert(y.clone(), seq);
                    queue.push(y.clone());
                }
            }
        }
    }
    if included.is_empty() {
        return Err(err("unknown-lot", format!("lot {lot} has no entries in the first {size} entries")));
    }
    let mut actors: BTreeSet<ActorId> = BTreeSet::new();
    actors.insert(exporter.clone());
    for seq in &included {
        actors.extend(involved(&cache[seq].1));
    }
    let mut done: BTreeSet<ActorId> = BTreeSet::new();
    let mut pending: Vec<ActorId> = actors.into_iter().collect();
    included.insert(0);
    while let Some(a) = pending.pop() {
        if !done.insert(a.clone()) {
            continue;
        }
        for seq in src.actor_history(&a).map_err(src_err)? {
            if seq >= size {
                break;
            }
            if included.insert(seq) && !cache.contains_key(&seq) {
                let e = src.entry(seq).map_err(src_err)?;
                let d = decode(&e)?;
                // The authority signs these; its own history is needed too.
                pending.extend(involved(&d));
                cache.insert(seq, (e, d));
            }
        }
    }
    if let std::collections::btree_map::Entry::Vacant(slot) = cache.entry(0) {
        let e = src.entry(0).map_err(src_err)?;
        let d = decode(&e)?;
        slot.insert((e, d));
    }
    cache.retain(|s, _| included.contains(s));
    Ok(cache)
}

/// Replayed state of the included entries.
pub(crate) struct Replay {
    pub(crate) state: Overlay<'static>,
    /// Lot → mine → share (ppb, summing to SHARE_DENOM).
    attribution: HashMap<LotId, BTreeMap<ActorId, u64>>,
    /// Seq of the entry that extracted each lot.
    extracted: BTreeMap<LotId, u64>,
    pub(crate) events: BTreeMap<u64, SignedEvent>,
    /// Seq of each merge, smelt and manufacture → (mass taken, grade just
    /// before it) of each input, in input order: what its attribution weighed.
    pub(crate) grades_used: BTreeMap<u64, Vec<(u64, Option<u32>)>>,
}

/// Combine attributions weighted by `w` (integer, exact): floor, then the
/// largest remainders get +1 so shares sum to exactly SHARE_DENOM; ties go
/// to the smaller mine id.
fn combine(parts: &[(u128, &BTreeMap<ActorId, u64>)]) -> BTreeMap<ActorId, u64> {
    let total: u128 = parts.iter().map(|(w, _)| *w).sum();
    let mut raw: BTreeMap<&ActorId, u128> = BTreeMap::new();
    for (w, a) in parts {
        for (m, s) in a.iter() {
            *raw.entry(m).or_default() += w * u128::from(*s);
        }
    }
    if total == 0 {
        return BTreeMap::new();
    }
    let mut out: BTreeMap<ActorId, u64> = BTreeMap::new();
    let mut rems: Vec<(u128, &ActorId)> = Vec::new();
    let mut sum: u64 = 0;
    for (m, r) in &raw {
        let s = u64::try_from(r / total).unwrap_or(SHARE_DENOM);
        sum += s;
        out.insert((*m).clone(), s);
        rems.push((r % total, m));
    }
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let mut deficit = SHARE_DENOM.saturating_sub(sum);
    for (_, m) in rems {
        if deficit == 0 {
            break;
        }
        if let Some(v) = out.get_mut(m) {
            *v += 1;
        }
        deficit -= 1;
    }
    out
}

fn grade_of(state: &Overlay<'static>, lot: &LotId) -> Option<u32> {
    state.lot(lot).ok().flatten().and_then(|l| l.grade_ppm)
}

/// Replay `events` (ascending seq) from an empty state, computing
/// attribution. Signatures are checked in parallel, with batch weights
/// seeded by `sig_seed`, unless it is `None`.
fn replay(included: BTreeMap<u64, (Entry, SignedEvent)>, sig_seed: Option<&[u8; 32]>) -> Result<Replay, CertError> {
    let check_sigs = sig_seed.is_some();
    let seed = sig_seed.copied().unwrap_or_default();
    let mut st = Overlay::empty();
    // The rules look up a correction's target entry (and earlier times) here.
    let mut events = BTreeMap::new();
    for (seq, (e, s)) in included {
        st.entries.insert(seq, e);
        events.insert(seq, s);
    }
    let mut attribution: HashMap<LotId, BTreeMap<ActorId, u64>> = HashMap::new();
    let mut extracted = BTreeMap::new();
    let mut grades_used = BTreeMap::new();
    let mut keys: Vec<(u64, PublicKey)> = Vec::with_capacity(events.len());
    // Signatures are checked in batches on the thread pool while the replay
    // goes on; the lowest failing seq is kept.
    const BATCH: usize = 128;
    let bad_sig: std::sync::Mutex<Option<u64>> = std::sync::Mutex::new(None);
    let events_ref = &events;
    let bad_ref = &bad_sig;
    let replayed: Result<(), CertError> = rayon::in_place_scope(|scope| {
        let spawn_check = |chunk: Vec<(u64, PublicKey)>| {
            scope.spawn(move |_| {
                if let Some(b) = chunk_bad(events_ref, &chunk, &seed) {
                    if let Ok(mut g) = bad_ref.lock() {
                        *g = Some(g.map_or(b, |x| x.min(b)));
                    }
                }
            });
        };
        let mut pending: Vec<(u64, PublicKey)> = Vec::with_capacity(BATCH);
        for (seq, signed) in events_ref {
            let ev = signed.event();
            // Attribution of new lots, from the state just before this entry.
            let attr_of = |l: &LotId| attribution.get(l).cloned().unwrap_or_default();
            let mut new_attr: Vec<(LotId, BTreeMap<ActorId, u64>)> = Vec::new();
            match &ev.body {
                EventBody::Extract { lot, .. } => {
                    new_attr.push((lot.clone(), BTreeMap::from([(ev.signer.clone(), SHARE_DENOM)])));
                    extracted.insert(lot.clone(), *seq);
                }
                EventBody::Split { lot, parts } => {
                    for p in parts {
                        new_attr.push((p.lot.clone(), attr_of(lot)));
                    }
                }
                EventBody::Merge { inputs, output } => {
                    let masses: Vec<(u64, Option<u32>)> = inputs
                        .iter()
                        .map(|l| st.lot(l).ok().flatten().map_or((0, None), |s| (s.mass_g, s.grade_ppm)))
                        .collect();
                    grades_used.insert(*seq, masses.clone());
                    let graded = masses.iter().all(|(_, g)| g.is_some_and(|g| g > 0));
                    let attrs: Vec<BTreeMap<ActorId, u64>> = inputs.iter().map(attr_of).collect();
                    let parts: Vec<(u128, &BTreeMap<ActorId, u64>)> = masses
                        .iter()
                        .zip(&attrs)
                        .map(|((m, g), a)| {
                            let w = if graded { u128::from(*m) * u128::from(g.unwrap_or(0)) } else { u128::from(*m) };
                            (w, a)
                        })
                        .collect();
                    new_attr.push((output.clone(), combine(&parts)));
                }
                EventBody::Smelt { inputs, outputs } | EventBody::Manufacture { inputs, outputs } => {
                    let attrs: Vec<BTreeMap<ActorId, u64>> = inputs.iter().map(|t| attr_of(&t.lot)).collect();
                    grades_used.insert(*seq, inputs.iter().map(|t| (t.mass_g, grade_of(&st, &t.lot))).collect());
                    let grades: Vec<u32> = inputs.iter().map(|t| grade_of(&st, &t.lot).unwrap_or(0)).collect();
                    let by_tin = grades.iter().all(|g| *g > 0);
                    let parts: Vec<(u128, &BTreeMap<ActorId, u64>)> = inputs
                        .iter()
                        .zip(&grades)
                        .zip(&attrs)
                        .map(|((t, g), a)| {
                            let w = if by_tin { u128::from(t.mass_g) * u128::from(*g) } else { u128::from(t.mass_g) };
                            (w, a)
                        })
                        .collect();
                    let c = combine(&parts);
                    for o in outputs {
                        new_attr.push((o.lot.clone(), c.clone()));
                    }
                }
                _ => {}
            }
            let (delta, key) = rules::apply_deferred(&st, *seq, signed)
                .map_err(|e| err("rule", format!("entry {seq} breaks a rule when the certificate is replayed: {e}")))?;
            st.absorb(*seq, &delta);
            attribution.extend(new_attr);
            keys.push((*seq, key));
            if check_sigs {
                pending.push((*seq, key));
                if pending.len() == BATCH {
                    spawn_check(std::mem::take(&mut pending));
                }
            }
        }
        if check_sigs && !pending.is_empty() {
            spawn_check(pending);
        }
        Ok(())
    });
    replayed?;
    let bad = bad_sig.into_inner().ok().flatten();
    if check_sigs {
        if let Some(seq) = bad {
            let key = keys.iter().find(|(s, _)| *s == seq).map_or(PublicKey([0; 32]), |k| k.1);
            let e = rules::bad_signature(&events[&seq], &key);
            return Err(err("event-signature", format!("entry {seq}: {e}")));
        }
    }
    Ok(Replay { state: st, attribution, extracted, events, grades_used })
}

/// Check every signature: batch verification in parallel chunks; a chunk
/// that fails is re-checked entry by entry to name the lowest bad seq. The
/// criterion is the ledger's (docs/formats.md §4.1), batched or not.
#[cfg(test)]
fn first_bad_signature(events: &BTreeMap<u64, SignedEvent>, keys: &[(u64, PublicKey)]) -> Option<u64> {
    keys.par_chunks(128).filter_map(|chunk| chunk_bad(events, chunk, &[1u8; 32])).min()
}

/// The lowest seq in `chunk` whose signature fails: one batch verification,
/// then single checks only if the batch fails.
fn chunk_bad(events: &BTreeMap<u64, SignedEvent>, chunk: &[(u64, PublicKey)], seed: &[u8; 32]) -> Option<u64> {
    let mut cache = crate::sigbatch::KeyCache::default();
    let items: Vec<crate::sigbatch::SigCheck> =
        chunk.iter().map(|(s, k)| cache.check(*s, events[s].bytes().to_vec(), *events[s].signature(), *k)).collect();
    crate::sigbatch::first_bad(&items, seed)
}

/// The names a lot summary's `state` may have.
pub const LOT_STATES: &[&str] = &["active", "in_transit", "consumed", "exported"];

fn state_name(s: &LotStatus) -> &'static str {
    match s {
        LotStatus::Active => "active",
        LotStatus::InTransit { .. } => "in_transit",
        LotStatus::Consumed { .. } => "consumed",
        LotStatus::Exported { .. } => "exported",
    }
}

/// `lot` and all its ancestors in the replayed state.
pub(crate) fn lineage(st: &Overlay<'static>, lot: &LotId) -> BTreeSet<LotId> {
    let mut lineage: BTreeSet<LotId> = BTreeSet::new();
    let mut stack = vec![lot.clone()];
    while let Some(l) = stack.pop() {
        if lineage.insert(l.clone()) {
            if let Some(s) = st.lots.get(&l) {
                stack.extend(s.parents.iter().cloned());
            }
        }
    }
    lineage
}

/// The summary the included entries imply for `lot`.
fn summarize(r: &Replay, lot: &LotId) -> Result<Summary, CertError> {
    let st = &r.state;
    let target = st.lots.get(lot).ok_or_else(|| err("unknown-lot", format!("lot {lot} is not in the certificate")))?;
    let lineage = lineage(st, lot);
    let contained = u64::try_from(u128::from(target.mass_g) * u128::from(target.grade_ppm.unwrap_or(0)) / 1_000_000)
        .unwrap_or(u64::MAX);
    let shares = r.attribution.get(lot).cloned().unwrap_or_default();

    let mut by_mine: BTreeMap<ActorId, Vec<Extraction>> = BTreeMap::new();
    for l in &lineage {
        let Some(seq) = r.extracted.get(l) else { continue };
        let ev = r.events[seq].event();
        if let EventBody::Extract { lot, mass_g, grade_ppm, licence, location, .. } = &ev.body {
            by_mine.entry(ev.signer.clone()).or_default().push(Extraction {
                seq: *seq,
                lot: lot.clone(),
                at: ev.at,
                mass_g: *mass_g,
                grade_ppm: *grade_ppm,
                licence: licence.clone(),
                location: *location,
            });
        }
    }
    let mut origins: Vec<Origin> = by_mine
        .into_iter()
        .map(|(mine, mut extractions)| {
            extractions.sort_by_key(|e| e.seq);
            let a = st.actors.get(&mine);
            let share = shares.get(&mine).copied().unwrap_or(0);
            Origin {
                name: a.map(|a| a.record.name.clone()).unwrap_or_default(),
                licence: a.and_then(|a| a.record.attrs.iup.clone()),
                location: a.and_then(|a| a.record.attrs.location),
                share_ppb: share,
                tin_g: u64::try_from(u128::from(contained) * u128::from(share) / u128::from(SHARE_DENOM))
                    .unwrap_or(u64::MAX),
                mine,
                extractions,
            }
        })
        .collect();
    origins.sort_by(|a, b| b.share_ppb.cmp(&a.share_ppb).then(a.mine.cmp(&b.mine)));

    let mut smelters: BTreeMap<ActorId, Vec<u64>> = BTreeMap::new();
    let mut timeline = Vec::new();
    let mut export = None;
    for (seq, signed) in &r.events {
        let ev = signed.event();
        if !ev.body.lots().iter().any(|l| lineage.contains(*l)) {
            continue;
        }
        timeline.push(TimelineItem {
            seq: *seq,
            at: ev.at,
            kind: ev.body.kind().to_string(),
            signer: ev.signer.clone(),
            description: ev.describe(),
        });
        match &ev.body {
            EventBody::Smelt { outputs, .. } if outputs.iter().any(|o| lineage.contains(&o.lot)) => {
                smelters.entry(ev.signer.clone()).or_default().push(*seq);
            }
            EventBody::Export { lot: l, destination, hs_code, permit, surveyor_report, consignee } if l == lot => {
                export = Some(ExportSummary {
                    seq: *seq,
                    at: ev.at,
                    exporter: ev.signer.clone(),
                    destination: destination.clone(),
                    hs_code: hs_code.clone(),
                    permit: permit.clone(),
                    surveyor_report: surveyor_report.clone(),
                    consignee: consignee.clone(),
                });
            }
            _ => {}
        }
    }
    let smelters = smelters
        .into_iter()
        .map(|(s, smelts)| {
            let a = st.actors.get(&s);
            SmelterSummary {
                name: a.map(|a| a.record.name.clone()).unwrap_or_default(),
                rmi_cid: a.and_then(|a| a.record.attrs.rmi_cid.clone()),
                location: a.and_then(|a| a.record.attrs.location),
                smelter: s,
                smelts,
            }
        })
        .collect();
    let flags = st
        .flags
        .iter()
        .filter(|f| match f {
            Flag::MassDiscrepancy { lot, .. } | Flag::AssayDisagrees { lot, .. } => lineage.contains(lot),
        })
        .cloned()
        .collect();
    let untrusted_entries = r
        .events
        .iter()
        .filter(|(seq, s)| {
            st.compromises.iter().any(|c| c.actor == s.event().signer && c.from_seq <= **seq && **seq < c.until_seq)
        })
        .map(|(seq, _)| *seq)
        .collect();
    Ok(Summary {
        lot: LotSummary {
            id: target.id.clone(),
            material: target.material,
            mass_g: target.mass_g,
            grade_ppm: target.grade_ppm,
            custodian: target.custodian.clone(),
            state: state_name(&target.status).to_string(),
        },
        contained_tin_g: contained,
        origins,
        smelters,
        timeline,
        export,
        flags,
        untrusted_entries,
    })
}

/// The exporter must be a registered, active exporter holding the lot (or
/// having exported it), and `key` must be its current key.
fn check_exporter(r: &Replay, lot: &LotId, exporter: &ActorId, key: &PublicKey) -> Result<(), CertError> {
    let a = r.state.actors.get(exporter).ok_or_else(|| {
        err("exporter", format!("exporter {exporter} is not registered in the certificate's entries"))
    })?;
    if !a.has_role(Role::Exporter) {
        return Err(err("exporter", format!("{exporter} is not a registered exporter")));
    }
    if a.status != rules::ActorStatus::Active {
        return Err(err("exporter", format!("exporter {exporter} is not active")));
    }
    if &a.record.key != key {
        return Err(err("exporter", format!("the certificate is not signed with {exporter}'s current key")));
    }
    let l = r.state.lots.get(lot).ok_or_else(|| err("unknown-lot", format!("lot {lot} is not in the certificate")))?;
    if &l.custodian != exporter {
        return Err(err(
            "exporter",
            format!("exporter {exporter} never held lot {lot} (its custodian is {})", l.custodian),
        ));
    }
    if let LotStatus::InTransit { to, .. } = &l.status {
        return Err(err(
            "exporter",
            format!("exporter {exporter} no longer holds lot {lot}: it is in transit to {to}"),
        ));
    }
    Ok(())
}

/// RFC 8785 (JCS) canonical JSON for the values certificates hold: objects
/// with keys sorted, no whitespace, integers only.
pub fn canonical_json(v: &Value) -> Result<String, CertError> {
    let mut out = String::new();
    write_canonical(v, &mut out)?;
    Ok(out)
}

fn write_canonical(v: &Value, out: &mut String) -> Result<(), CertError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let fits = n.as_u64().is_some_and(|x| x <= MAX_SAFE_INT)
                || n.as_i64().is_some_and(|x| x.unsigned_abs() <= MAX_SAFE_INT);
            if !fits {
                return Err(err("format", format!("number {n} is not an integer of magnitude at most 2^53 - 1")));
            }
            out.push_str(&n.to_string());
        }
        Value::String(s) => out.push_str(&serde_json::to_string(s).map_err(|e| err("format", e.to_string()))?),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out)?;
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).map_err(|e| err("format", e.to_string()))?);
                out.push(':');
                write_canonical(&o[*k], out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

impl Certificate {
    /// Parse a certificate file strictly: unknown and duplicate members are refused, and
    /// the file must be exactly what re-serializing the parsed certificate
    /// gives (no omitted optional members, no alternative spellings of
    /// times, ids or points), so what is verified is what the file says.
    pub fn from_json(text: &str) -> Result<Certificate, CertError> {
        let c: Certificate = crate::json::from_str(text)
            .map_err(|e| err("format", format!("not a tinledger certificate: {}", clip(&e.to_string(), 512))))?;
        let file: Value = crate::json::value(text).map_err(|e| err("format", e.to_string()))?;
        let again = serde_json::to_value(&c).map_err(|e| err("format", e.to_string()))?;
        if file != again {
            let field = match (&file, &again) {
                (Value::Object(a), Value::Object(b)) => {
                    a.keys().chain(b.keys()).find(|k| a.get(*k) != b.get(*k)).cloned().unwrap_or_default()
                }
                _ => String::new(),
            };
            return Err(err("format", format!("member {} is not in canonical form", quoted(&field))));
        }
        c.check_values()?;
        Ok(c)
    }

    /// Every value is one the format allows (docs/certificates.md §1): a
    /// `format` error otherwise, before anything is compared. Numbers are at
    /// most 2^53 − 1, masses (`*_g`) at most `MAX_MASS_G`, grades at most
    /// 1,000,000 ppm, shares at most 10^9 ppb, and a lot state is one of the
    /// four names. (A summary whose values are allowed but differ from what
    /// the entries imply is a `summary` error, found later.)
    pub fn check_values(&self) -> Result<(), CertError> {
        let seq = |what: &str, v: u64| {
            if v > MAX_SAFE_INT {
                return Err(err("format", format!("{what} {v} is larger than 2^53 - 1")));
            }
            Ok(())
        };
        let mass = |what: &str, v: u64| {
            if v > MAX_MASS_G {
                return Err(err(
                    "format",
                    format!(
                        "{what} {v} is more than {} g ({}), the largest mass tinledger records",
                        MAX_MASS_G,
                        format_mass(MAX_MASS_G)
                    ),
                ));
            }
            Ok(())
        };
        let grade = |what: &str, v: Option<u32>| match v {
            Some(g) if g > MAX_GRADE_PPM => Err(err("format", format!("{what} {g} is above 1,000,000 ppm"))),
            _ => Ok(()),
        };
        for e in &self.entries {
            seq("entries[].seq", e.seq)?;
        }
        let s = &self.summary;
        mass("summary.lot.mass_g", s.lot.mass_g)?;
        grade("summary.lot.grade_ppm", s.lot.grade_ppm)?;
        if !LOT_STATES.contains(&s.lot.state.as_str()) {
            return Err(err(
                "format",
                format!("summary.lot.state {} is not one of {}", quoted(&s.lot.state), LOT_STATES.join(", ")),
            ));
        }
        mass("summary.contained_tin_g", s.contained_tin_g)?;
        for o in &s.origins {
            if o.share_ppb > SHARE_DENOM {
                return Err(err("format", format!("summary.origins[].share_ppb {} is above 10^9", o.share_ppb)));
            }
            mass("summary.origins[].tin_g", o.tin_g)?;
            for x in &o.extractions {
                seq("summary.origins[].extractions[].seq", x.seq)?;
                mass("summary.origins[].extractions[].mass_g", x.mass_g)?;
                grade("summary.origins[].extractions[].grade_ppm", x.grade_ppm)?;
            }
        }
        for sm in &s.smelters {
            for n in &sm.smelts {
                seq("summary.smelters[].smelts[]", *n)?;
            }
        }
        for t in &s.timeline {
            seq("summary.timeline[].seq", t.seq)?;
        }
        // A reordered timeline would tell a different custody story: name
        // it before the summary comparison's "field timeline".
        if let Some(w) = s.timeline.windows(2).find(|w| w[0].seq >= w[1].seq) {
            return Err(err(
                "format",
                format!(
                    "summary.timeline is out of order: entry {} ({}, {}) is listed after entry {} ({}, {}); \
                     the timeline lists the lot's entries in ascending seq",
                    w[1].seq,
                    w[1].kind,
                    w[1].at.to_rfc3339(),
                    w[0].seq,
                    w[0].kind,
                    w[0].at.to_rfc3339()
                ),
            ));
        }
        if let Some(x) = &s.export {
            seq("summary.export.seq", x.seq)?;
        }
        for f in &s.flags {
            match f {
                Flag::MassDiscrepancy { seq: n, dispatched_g, received_g, .. } => {
                    seq("summary.flags[].seq", *n)?;
                    mass("summary.flags[].dispatched_g", *dispatched_g)?;
                    mass("summary.flags[].received_g", *received_g)?;
                }
                Flag::AssayDisagrees { seq: n, declared_ppm, assayed_ppm, .. } => {
                    seq("summary.flags[].seq", *n)?;
                    grade("summary.flags[].declared_ppm", Some(*declared_ppm))?;
                    grade("summary.flags[].assayed_ppm", Some(*assayed_ppm))?;
                }
            }
        }
        for n in &s.untrusted_entries {
            seq("summary.untrusted_entries[]", *n)?;
        }
        Ok(())
    }

    /// The exact bytes the exporter signs: CERT_SIG_CONTEXT ‖ JCS canonical
    /// JSON of the certificate without `signature`. The large `entries`
    /// array is written directly (its members hold only ASCII strings and
    /// integers); `canonical_json_slow` is the reference it is tested against.
    pub fn signing_message(&self) -> Result<Vec<u8>, CertError> {
        let mut v = serde_json::to_value(CertHead {
            format: &self.format,
            ledger_id: &self.ledger_id,
            lot: &self.lot,
            exporter: &self.exporter,
            issued_at: &self.issued_at,
            checkpoint: &self.checkpoint,
            summary: &self.summary,
        })
        .map_err(|e| err("format", e.to_string()))?;
        let mut entries =
            String::with_capacity(self.entries.iter().map(|e| e.entry_hex.len() + 60 * e.proof.len() + 64).sum());
        entries.push('[');
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                entries.push(',');
            }
            entries.push_str("{\"entry_hex\":");
            entries.push_str(&json_str(&e.entry_hex)?);
            entries.push_str(",\"proof\":[");
            for (j, p) in e.proof.iter().enumerate() {
                if j > 0 {
                    entries.push(',');
                }
                entries.push_str(&json_str(p)?);
            }
            if e.seq > MAX_SAFE_INT {
                return Err(err("format", "seq is larger than 2^53 - 1"));
            }
            entries.push_str("],\"seq\":");
            entries.push_str(&e.seq.to_string());
            entries.push('}');
        }
        entries.push(']');
        // Splice the entries in at their sorted position ("entries" sorts
        // between "checkpoint" and "exporter").
        if let Value::Object(o) = &mut v {
            o.insert("entries".into(), Value::String(String::new()));
        }
        let mut text = canonical_json(&v)?;
        let marker = "\"entries\":\"\"";
        let at = text.find(marker).ok_or_else(|| err("format", "cannot place entries"))?;
        text.replace_range(at..at + marker.len(), &format!("\"entries\":{entries}"));
        let mut m = CERT_SIG_CONTEXT.to_vec();
        m.extend_from_slice(text.as_bytes());
        Ok(m)
    }

    /// Reference implementation of [`Certificate::signing_message`].
    #[doc(hidden)]
    pub fn signing_message_slow(&self) -> Result<Vec<u8>, CertError> {
        let mut v = serde_json::to_value(self).map_err(|e| err("format", e.to_string()))?;
        if let Value::Object(o) = &mut v {
            o.remove("signature");
        }
        let mut m = CERT_SIG_CONTEXT.to_vec();
        m.extend_from_slice(canonical_json(&v)?.as_bytes());
        Ok(m)
    }
}

/// The certificate's members other than `entries` and `signature`.
#[derive(Serialize)]
struct CertHead<'a> {
    format: &'a str,
    ledger_id: &'a LedgerId,
    lot: &'a LotId,
    exporter: &'a ActorId,
    issued_at: &'a Timestamp,
    checkpoint: &'a str,
    summary: &'a Summary,
}

fn json_str(s: &str) -> Result<String, CertError> {
    serde_json::to_string(s).map_err(|e| err("format", e.to_string()))
}

/// Issue a certificate for `lot` against the signed checkpoint `note`
/// (already opened as `cp`), signed by `exporter` with `key`.
pub fn issue(
    src: &impl CertSource,
    lot: &LotId,
    note: &str,
    cp: &Checkpoint,
    exporter: &ActorId,
    key: &SigningKey,
    issued_at: Timestamp,
) -> Result<Certificate, CertError> {
    let selected = select_entries(src, lot, cp.size, exporter)?;
    let seqs: Vec<u64> = selected.keys().copied().collect();
    let proofs = src.inclusion_proofs(&seqs, cp.size).map_err(|x| err("source", x))?;
    let mut events = BTreeMap::new();
    let mut entries = Vec::with_capacity(selected.len());
    for ((seq, (e, d)), proof) in selected.into_iter().zip(proofs) {
        let entry_hex = hex::encode(e.to_bytes());
        events.insert(seq, (e, d));
        entries.push(CertEntry { seq, entry_hex, proof: proof.iter().map(|h| B64.encode(h)).collect() });
    }
    // The ledger checked these signatures when it appended them.
    let r = replay(events, None)?;
    let ledger_id = r.state.ledger.as_ref().map(|l| l.ledger_id).ok_or_else(|| err("rule", "no genesis entry"))?;
    check_exporter(&r, lot, exporter, &PublicKey::from(key))?;
    let summary = summarize(&r, lot)?;
    let mut cert = Certificate {
        format: CERT_FORMAT.into(),
        ledger_id,
        lot: lot.clone(),
        exporter: exporter.clone(),
        issued_at,
        checkpoint: note.to_string(),
        entries,
        summary,
        signature: String::new(),
    };
    cert.signature = hex::encode(key.sign(&cert.signing_message()?).to_bytes());
    Ok(cert)
}

/// What a successful verification established.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The signed checkpoint every proof led to, its signature verified.
    pub checkpoint: Checkpoint,
    /// Number of included entries that were verified.
    pub entries: usize,
}

/// Verify a certificate offline, trusting only `v` (the authority's note
/// verifier). Checks, in order: format; checkpoint signature and origin;
/// every entry's bytes and inclusion proof; genesis first; every rule and
/// signature when the entries are replayed; the checkpoint key belongs to
/// the authority; the exporter held the lot; the summary is exactly what the
/// entries imply; the exporter's signature.
pub fn verify(cert: &Certificate, v: &Verifier) -> Result<Verified, CertError> {
    verify_seeded(cert, v, &[0u8; 32])
}

/// [`verify`], with the 32-byte seed of the signature batches' random
/// weights given by the caller (fresh randomness in the CLI). The verdict
/// does not depend on it (docs/formats.md §4.1).
pub fn verify_seeded(cert: &Certificate, v: &Verifier, seed: &[u8; 32]) -> Result<Verified, CertError> {
    if cert.format != CERT_FORMAT {
        return Err(err("format", format!("format is {}, expected {CERT_FORMAT:?}", quoted(&cert.format))));
    }
    cert.check_values()?;
    let origin = origin_for(&cert.ledger_id);
    if v.name != origin {
        return Err(err(
            "checkpoint",
            format!("the trusted key is for {:?}, but the certificate is for ledger {}", v.name, cert.ledger_id),
        ));
    }
    // Signed by the trusted (authority) key, or else by a log key: that one
    // is checked once the replay has shown which key the authority bound.
    let (cp, by_log_key) = match Checkpoint::open(&cert.checkpoint, v) {
        Ok(cp) => (cp, None),
        Err(unsigned @ crate::note::NoteError::Unsigned(_)) => {
            let unverified =
                crate::note::Note::parse(&cert.checkpoint)
                    .and_then(|n| Checkpoint::parse_body(&n.text))
                    .map_err(|e| err("checkpoint", format!("checkpoint does not verify with the trusted key: {e}")))?;
            if unverified.origin != v.name {
                return Err(err(
                    "checkpoint",
                    format!("checkpoint does not verify with the trusted key: {unsigned} (and its origin is not the trusted key's name)"),
                ));
            }
            (unverified, Some(unsigned))
        }
        Err(e) => return Err(err("checkpoint", format!("checkpoint does not verify with the trusted key: {e}"))),
    };
    if cert.entries.is_empty() || cert.entries[0].seq != 0 {
        return Err(err("order", "the certificate must start with the ledger's genesis entry (seq 0)"));
    }
    if cert.entries.windows(2).any(|w| w[0].seq >= w[1].seq) {
        return Err(err("order", "entries are not in strictly ascending seq order"));
    }
    let decoded: Result<Vec<Included>, CertError> = cert.entries.par_iter().map(|ce| check_entry(ce, &cp)).collect();
    let decoded = match decoded {
        Ok(d) => d,
        // Name the lowest failing seq (the parallel collect returns any one).
        Err(e) => return Err(cert.entries.iter().find_map(|ce| check_entry(ce, &cp).err()).unwrap_or(e)),
    };
    let r = replay(decoded.into_iter().collect(), Some(seed))?;
    let info = r.state.ledger.as_ref().ok_or_else(|| err("order", "no genesis entry"))?;
    if info.ledger_id != cert.ledger_id {
        return Err(err("checkpoint", "the genesis entry is for another ledger"));
    }
    let authority = r.state.actors.get(&info.authority).ok_or_else(|| err("rule", "authority missing"))?;
    let trusted_is_authority = authority.keys.iter().any(|k| k.key.0 == v.key);
    if let Some(unsigned) = by_log_key {
        // Not signed by the trusted key: only the log key the authority
        // bound in these entries may have signed it, and only if the
        // trusted key is the authority's.
        let by_bound = trusted_is_authority
            && matches!(crate::checkpoint::open_for_ledger(&cert.checkpoint, info, &[]), Ok((signed, _)) if signed == cp);
        if !by_bound {
            let bound = match info.log_key_for_size(cp.size) {
                Some(k) => format!(", nor by the log key {} its entries bind", k.key_id()),
                None => ", and its entries bind no log key".to_string(),
            };
            return Err(err(
                "checkpoint",
                format!("checkpoint does not verify with the trusted key: {unsigned}{bound}"),
            ));
        }
    }
    if !trusted_is_authority {
        return Err(err("checkpoint", "the trusted key is not a key of this ledger's authority"));
    }
    let mut sig = [0u8; 64];
    hex::decode_to_slice(&cert.signature, &mut sig)
        .map_err(|_| err("cert-signature", "signature is not 128 hex digits"))?;
    let exporter_key = r.state.actors.get(&cert.exporter).map(|a| a.record.key).unwrap_or(PublicKey([0; 32]));
    check_exporter(&r, &cert.lot, &cert.exporter, &exporter_key)?;
    let want = summarize(&r, &cert.lot)?;
    if want != cert.summary {
        return Err(err(
            "summary",
            format!("summary differs from what the entries imply: {}", first_difference(&want, &cert.summary)),
        ));
    }
    crate::ed25519::verify(&exporter_key.0, &cert.signing_message()?, &sig).map_err(|e| {
        err("cert-signature", format!("the exporter's signature ({}) does not verify: {e}", cert.exporter))
    })?;
    Ok(Verified { checkpoint: cp, entries: cert.entries.len() })
}

/// An included entry by seq: its stored form and its decoded event.
type Included = (u64, (Entry, SignedEvent));

/// Decode one included entry and check its inclusion proof.
fn check_entry(ce: &CertEntry, cp: &Checkpoint) -> Result<Included, CertError> {
    if ce.seq >= cp.size {
        return Err(err("inclusion", format!("entry {} is beyond the checkpoint's {} entries", ce.seq, cp.size)));
    }
    let bytes = hex::decode(&ce.entry_hex).map_err(|_| err("entry-decode", format!("entry {}: not hex", ce.seq)))?;
    let e = Entry::from_bytes(&bytes).map_err(|x| err("entry-decode", format!("entry {}: {x}", ce.seq)))?;
    if e.seq != ce.seq {
        return Err(err("entry-decode", format!("entry listed as seq {} says it is seq {}", ce.seq, e.seq)));
    }
    let path = ce
        .proof
        .iter()
        .map(|s| B64.decode(s).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()))
        .collect::<Option<Vec<Hash>>>()
        .ok_or_else(|| err("inclusion", format!("entry {}: proof is not base64 hashes", ce.seq)))?;
    merkle::verify_inclusion(&merkle::leaf_hash(&bytes), ce.seq, cp.size, &path, &cp.root)
        .map_err(|x| err("inclusion", format!("entry {}: inclusion proof fails: {x}", ce.seq)))?;
    let d = decode(&e)?;
    Ok((ce.seq, (e, d)))
}

/// Name the first summary field that differs.
fn first_difference(want: &Summary, got: &Summary) -> String {
    let (Ok(Value::Object(w)), Ok(Value::Object(g))) = (serde_json::to_value(want), serde_json::to_value(got)) else {
        return "summary".into();
    };
    for (k, wv) in &w {
        if g.get(k) != Some(wv) {
            return format!("field {k:?}");
        }
    }
    "summary".into()
}

/// Recompute the summary from the certificate's own entries (without any
/// exporter or signature checks) and re-sign with `key`. Only for building
/// test corpora: a certificate made this way is as trustworthy as `key`.
#[doc(hidden)]
pub fn dangerous_rebuild(cert: &mut Certificate, key: &SigningKey) -> Result<(), CertError> {
    let r = replay_entries(cert)?;
    cert.summary = summarize(&r, &cert.lot)?;
    dangerous_resign(cert, key)
}

/// Replay a certificate's own entries through the rules, without checking
/// proofs or signatures (for [`dangerous_rebuild`] and [`crate::certview`]).
pub(crate) fn replay_entries(cert: &Certificate) -> Result<Replay, CertError> {
    let mut events = BTreeMap::new();
    for ce in &cert.entries {
        let bytes =
            hex::decode(&ce.entry_hex).map_err(|_| err("entry-decode", format!("entry {}: not hex", ce.seq)))?;
        let e = Entry::from_bytes(&bytes).map_err(|x| err("entry-decode", format!("entry {}: {x}", ce.seq)))?;
        let d = decode(&e)?;
        events.insert(ce.seq, (e, d));
    }
    replay(events, None)
}

/// Re-sign a certificate as it stands. Only for building test corpora.
#[doc(hidden)]
pub fn dangerous_resign(cert: &mut Certificate, key: &SigningKey) -> Result<(), CertError> {
    cert.signature = hex::encode(key.sign(&cert.signing_message()?).to_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::test_key;

    #[test]
    fn batch_signature_check_names_the_lowest_bad_entry() {
        let mut events = BTreeMap::new();
        let mut keys = Vec::new();
        for i in 0..300u64 {
            let k = test_key(&format!("K{i}"));
            let ev = crate::Event {
                ledger_id: LedgerId([7; 16]),
                signer: ActorId::new(format!("A{i}")).unwrap(),
                at: Timestamp(i as i64),
                note: None,
                body: EventBody::ReinstateActor { actor: ActorId::new("X").unwrap() },
            };
            let s = ev.sign(&k).unwrap();
            events.insert(i, s);
            keys.push((i, PublicKey::from(&k)));
        }
        assert_eq!(first_bad_signature(&events, &keys), None);
        // Wrong keys for entries 200 and 150: the lowest is named.
        keys[200].1 = PublicKey::from(&test_key("other"));
        keys[150].1 = PublicKey::from(&test_key("other2"));
        assert_eq!(first_bad_signature(&events, &keys), Some(150));
    }

    #[test]
    fn fast_signing_message_is_canonical_json() {
        let text = include_str!("../../../fixtures/certificates/demo-solder-007.cert.json");
        let c: Certificate = serde_json::from_str(text).unwrap();
        assert_eq!(c.signing_message().unwrap(), c.signing_message_slow().unwrap());
        // Also with awkward strings in the summary and checkpoint.
        let mut c2 = c.clone();
        c2.summary.origins[0].name = "\"entries\":\"\" <é> \u{1}".into();
        c2.checkpoint = format!("{}\"entries\":\"\"", c2.checkpoint);
        assert_eq!(c2.signing_message().unwrap(), c2.signing_message_slow().unwrap());
    }

    #[test]
    fn strict_parsing_refuses_alternative_spellings() {
        let text = include_str!("../../../fixtures/certificates/demo-solder-007.cert.json");
        assert!(Certificate::from_json(text).is_ok());
        let offset =
            text.replacen("\"issued_at\": \"2026-03-21T00:00:00Z\"", "\"issued_at\": \"2026-03-21T07:00:00+07:00\"", 1);
        assert_ne!(offset, text);
        let e = Certificate::from_json(&offset).unwrap_err();
        assert_eq!(e.code, "format");
        assert!(e.msg.contains("issued_at"), "{}", e.msg);
        let upper = text.replacen("b4a9c0d2e1f3a5b7c9d1e3f5a7b9c1d3\",", "B4A9C0D2E1F3A5B7C9D1E3F5A7B9C1D3\",", 1);
        assert_ne!(upper, text);
        assert_eq!(Certificate::from_json(&upper).unwrap_err().code, "format");
        let extra = text.replacen("\"format\":", "\"extra\": 1, \"format\":", 1);
        assert_eq!(Certificate::from_json(&extra).unwrap_err().code, "format");
    }

    #[test]
    fn attribution_sums_exactly() {
        let a = BTreeMap::from([(ActorId::new("M1").unwrap(), SHARE_DENOM)]);
        let b = BTreeMap::from([(ActorId::new("M2").unwrap(), SHARE_DENOM)]);
        let c = BTreeMap::from([(ActorId::new("M3").unwrap(), SHARE_DENOM)]);
        let out = combine(&[(1, &a), (1, &b), (1, &c)]);
        assert_eq!(out.values().sum::<u64>(), SHARE_DENOM);
        // 333333333 each, the remainder goes to the smallest id.
        assert_eq!(out[&ActorId::new("M1").unwrap()], 333_333_334);
        assert_eq!(out[&ActorId::new("M3").unwrap()], 333_333_333);
    }
}
