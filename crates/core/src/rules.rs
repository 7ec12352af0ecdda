//! The custody rules: whether a signed event may join the ledger at a given
//! sequence number, and what it changes.
//!
//! [`apply`] reads ledger state through [`StateView`] and returns a [`Delta`]
//! (new actor and lot states, flags, index entries) without changing
//! anything; the caller writes the delta. Appending and verifying call the
//! same function, so the rules are enforced identically at both points.

use crate::entry::{Entry, EntryHash};
use crate::event::{ActorRecord, EventBody, PublicKey, SignedEvent, Take};
use crate::ids::{ActorId, LedgerId, LotId};
use crate::units::{check_mass_bound, format_grade, format_mass, format_mass_wide, Material, Role, Timestamp};
use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// A receive whose measured mass differs from the dispatched mass by more
/// than this (parts per million of the dispatched mass) raises a flag.
pub const RECEIVE_TOLERANCE_PPM: u64 = 5_000; // 0.5 %
/// A receive whose measured mass is more than this many times the
/// dispatched mass, or less than the dispatched mass divided by it, is
/// refused as a probable unit mistake (grams keyed for kilograms, kilograms
/// for tonnes) rather than flagged: a real loss or gain in transit is never
/// that large, and a wrong mass in an append-only ledger is forever.
pub const RECEIVE_GROSS_FACTOR: u64 = 10;
/// An assay differing from the declared grade by more than this (ppm of the
/// declared grade, i.e. relative) raises a flag.
pub const ASSAY_TOLERANCE_PPM: u64 = 50_000; // 5 % relative
/// Exported tin ingots must hold at least this much tin (Indonesian tin
/// export rules require refined tin of at least 99.9 % Sn).
pub const MIN_EXPORT_INGOT_PPM: u32 = 999_000;
/// Contained tin out of a smelt or manufacture may exceed the tin in by at
/// most this (ppm of the tin in), to absorb assay uncertainty.
pub const TIN_TOLERANCE_PPM: u128 = 10_000; // 1 %
/// The ledger refuses an event dated more than this many seconds after the
/// appender's clock ([`check_clock`], docs/model.md "Times").
pub const MAX_CLOCK_SKEW_SECS: i64 = 600; // 10 minutes

/// Facts fixed by the genesis entry.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct LedgerInfo {
    /// The ledger's random id; every event must name it (docs/formats.md §2.1).
    pub ledger_id: LedgerId,
    /// The ledger's human-readable name, as given at genesis.
    pub name: String,
    /// The ledger authority: the only actor that may register, suspend,
    /// reinstate, revoke and re-key actors (docs/model.md §1).
    pub authority: ActorId,
    /// Every `bind_log_key` entry so far, in order: the keys that may sign
    /// checkpoints besides the authority (docs/server.md, "The log key").
    /// The last one is the current log key.
    pub log_keys: Vec<LogKeyBinding>,
}

/// One binding of the log key (a `bind_log_key` entry).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct LogKeyBinding {
    /// Sequence number of the `bind_log_key` entry.
    pub seq: u64,
    /// The key it binds.
    pub key: PublicKey,
}

impl LedgerInfo {
    /// The log key currently bound, if any.
    pub fn log_key(&self) -> Option<&PublicKey> {
        self.log_keys.last().map(|b| &b.key)
    }

    /// The log key that may sign a checkpoint of a tree of `size` entries:
    /// the one named by the last binding inside that tree (seq < size), if
    /// any (docs/formats.md §5.2).
    pub fn log_key_for_size(&self, size: u64) -> Option<&PublicKey> {
        self.log_keys.iter().rev().find(|b| b.seq < size).map(|b| &b.key)
    }
}

/// Whether an actor's key may sign (docs/model.md §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorStatus {
    /// May sign events its roles allow.
    Active,
    /// Temporarily barred from signing; the authority may reinstate it.
    Suspended,
    /// Barred for good; a revoked actor is never reinstated.
    Revoked,
}

/// One key an actor held, and when.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct KeyEpoch {
    /// The Ed25519 public key held in this epoch.
    pub key: PublicKey,
    /// Sequence number of the entry that registered or rotated in this key.
    pub from_seq: u64,
    /// Sequence number of the entry that rotated it out or revoked the actor.
    pub until_seq: Option<u64>,
    /// Entries signed with this key from this sequence number on (up to
    /// `until_seq`) are untrusted: the key was reported compromised.
    pub compromised_since: Option<u64>,
}

/// An actor's state at some point of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct ActorState {
    /// As registered; `record.key` is the current key.
    pub record: ActorRecord,
    /// Whether this is the ledger authority (registered by genesis).
    pub is_authority: bool,
    /// Whether the actor may sign now.
    pub status: ActorStatus,
    /// Every key the actor held, oldest first; the last is current.
    pub keys: Vec<KeyEpoch>,
    /// Sequence number of the entry that registered the actor (0 for the
    /// authority, registered by genesis).
    pub registered_seq: u64,
    /// Sequence number of the last entry that changed this state.
    pub last_seq: u64,
}

impl ActorState {
    /// Whether the actor was registered with role `r`.
    pub fn has_role(&self, r: Role) -> bool {
        self.record.roles.contains(&r)
    }
    fn current_epoch_start(&self) -> u64 {
        self.keys.last().map_or(self.registered_seq, |k| k.from_seq)
    }
}

/// Where a lot is.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LotStatus {
    /// With its custodian.
    Active,
    /// Dispatched, awaiting the receiver's confirmation.
    InTransit {
        /// The receiver named by the dispatch.
        to: ActorId,
        /// The registered transporter carrying it, if the dispatch named one.
        transporter: Option<ActorId>,
        /// Sequence number of the dispatch entry.
        dispatched_seq: u64,
    },
    /// Nothing left: smelted, merged or split away.
    Consumed {
        /// Sequence number of the entry that consumed the lot.
        seq: u64,
    },
    /// Shipped out of the country.
    Exported {
        /// Sequence number of the export entry.
        seq: u64,
        /// Destination country, an ISO 3166-1 alpha-2 code (e.g. `SG`).
        destination: String,
    },
}

/// Something a reader should notice; flags never refuse an event.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case", deny_unknown_fields)]
pub enum Flag {
    /// Received mass differs from dispatched mass beyond RECEIVE_TOLERANCE_PPM.
    MassDiscrepancy {
        /// Sequence number of the receive entry.
        seq: u64,
        /// The received lot.
        lot: LotId,
        /// Mass in the lot when dispatched, grams.
        dispatched_g: u64,
        /// Mass the receiver measured, grams.
        received_g: u64,
    },
    /// Assayed grade differs from the declared grade beyond ASSAY_TOLERANCE_PPM.
    AssayDisagrees {
        /// Sequence number of the assay entry.
        seq: u64,
        /// The assayed lot.
        lot: LotId,
        /// Grade declared when the lot was created, ppm Sn by mass.
        declared_ppm: u32,
        /// Grade the lab measured, ppm Sn by mass.
        assayed_ppm: u32,
    },
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::MassDiscrepancy { seq, lot, dispatched_g, received_g } => write!(
                f,
                "seq {seq}: mass discrepancy on lot {lot}: dispatched {}, received {}",
                format_mass(*dispatched_g),
                format_mass(*received_g)
            ),
            Flag::AssayDisagrees { seq, lot, declared_ppm, assayed_ppm } => write!(
                f,
                "seq {seq}: assay of lot {lot} disagrees with declared grade: declared {}, assayed {}",
                format_grade(*declared_ppm),
                format_grade(*assayed_ppm)
            ),
        }
    }
}

/// A lot's state at some point of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct LotState {
    /// The lot's id, unique in the ledger.
    pub id: LotId,
    /// What the lot is (ore, concentrate, ingot, …; docs/model.md §3.1).
    pub material: Material,
    /// Mass still in the lot, grams.
    pub mass_g: u64,
    /// Best known grade: the latest assay, else the declared grade.
    pub grade_ppm: Option<u32>,
    /// Grade declared when the lot was created.
    pub declared_grade_ppm: Option<u32>,
    /// The actor holding the lot; for a lot in transit, the sender until the
    /// receiver confirms.
    pub custodian: ActorId,
    /// Where the lot is (docs/model.md §3.2).
    pub status: LotStatus,
    /// Sequence number of the entry that created the lot.
    pub created_seq: u64,
    /// Sequence number of the last entry that changed the lot.
    pub last_seq: u64,
    /// Lots this one was made from (empty for extracted lots).
    pub parents: Vec<LotId>,
    /// Flags raised on this lot, oldest first.
    pub flags: Vec<Flag>,
}

/// A key reported compromised: entries by `actor` signed with `key` in
/// `from_seq..until_seq` are untrusted.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct Compromise {
    /// The actor whose key was compromised.
    pub actor: ActorId,
    /// The compromised public key.
    pub key: PublicKey,
    /// First untrusted sequence number (inclusive).
    pub from_seq: u64,
    /// End of the untrusted window (exclusive).
    pub until_seq: u64,
}

/// What an accepted event changes. Written by the caller, atomically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// The ledger facts after this entry: set by the genesis entry and by
    /// `bind_log_key`.
    pub ledger: Option<LedgerInfo>,
    /// New states of the actors the event changes.
    pub actors: Vec<ActorState>,
    /// New states of the lots the event creates or changes.
    pub lots: Vec<LotState>,
    /// Keys newly bound to actors (a key is never bound twice).
    pub keys: Vec<(PublicKey, ActorId)>,
    /// Lots whose history includes this entry.
    pub touched_lots: Vec<LotId>,
    /// Flags the event raises.
    pub flags: Vec<Flag>,
    /// The untrusted window a key-compromise report opens, if this is one.
    pub compromise: Option<Compromise>,
    /// The event id, for refusing duplicates.
    pub event_id: [u8; 32],
    /// The event's time, for the time-order rule of later entries.
    pub at: Timestamp,
}

/// A storage failure while reading state (not a rule violation).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ViewError(pub String);

/// Read access to ledger state, as of just before the entry being checked.
pub trait StateView {
    /// Facts from the genesis entry; `None` before genesis.
    fn ledger(&self) -> Option<LedgerInfo>;
    /// The current state of actor `id`, if registered.
    fn actor(&self, id: &ActorId) -> Result<Option<ActorState>, ViewError>;
    /// The current state of lot `id`, if created.
    fn lot(&self, id: &LotId) -> Result<Option<LotState>, ViewError>;
    /// The actor `key` is bound to, if any (a key, once bound, stays bound).
    fn actor_by_key(&self, key: &PublicKey) -> Result<Option<ActorId>, ViewError>;
    /// Sequence number of an earlier entry with this event id.
    fn seen_event(&self, id: &[u8; 32]) -> Result<Option<u64>, ViewError>;
    /// The entry at `seq`, if the view holds it. The rules ask only for
    /// entries before the one being checked (a correction's target).
    fn entry(&self, seq: u64) -> Result<Option<Entry>, ViewError>;
    /// The time of the event at `seq` (an earlier entry), if the view holds it.
    fn entry_time(&self, seq: u64) -> Result<Option<Timestamp>, ViewError> {
        match self.entry(seq)? {
            None => Ok(None),
            Some(e) => {
                let s = e.signed_event().map_err(|x| ViewError(format!("entry {seq}: {x}")))?;
                Ok(Some(s.event().at))
            }
        }
    }
}

/// Why an event was refused. Every message names what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The event breaks a syntax rule of docs/formats.md §3 or is internally
    /// inconsistent (e.g. a merge with no inputs); the message says which field.
    #[error("malformed event: {0}")]
    Malformed(String),
    /// The ledger is empty and the event is not a genesis event.
    #[error("the first entry must be a genesis event")]
    NotGenesis,
    /// A genesis event was submitted to a ledger that already has one.
    #[error("a genesis event may only be the first entry")]
    GenesisNotFirst,
    /// A genesis event must be signed by the authority it introduces.
    #[error("genesis signer {signer} is not the authority it names ({authority})")]
    GenesisSigner {
        /// Who signed the event.
        signer: ActorId,
        /// The authority the event names.
        authority: ActorId,
    },
    /// The event was signed for another ledger (or a ledger recreated since);
    /// re-sign it for this one.
    #[error("event was signed for ledger {found}, this is ledger {expected}")]
    WrongLedger {
        /// This ledger's id.
        expected: LedgerId,
        /// The ledger id the event names.
        found: LedgerId,
    },
    /// The same event (same event id, docs/formats.md §4.2) is already in the
    /// ledger, at this sequence number; submitting it twice changes nothing.
    #[error("identical event already recorded at seq {0}")]
    Duplicate(u64),
    /// The signer (or another actor the event names) is not registered.
    #[error("unknown actor {0}")]
    UnknownActor(ActorId),
    /// The signer is suspended or revoked and may not sign.
    #[error("actor {actor} is {status}: its key may not sign")]
    ActorNotActive {
        /// The signer.
        actor: ActorId,
        /// `"suspended"` or `"revoked"`.
        status: &'static str,
    },
    /// The signature does not verify with the signer's key at this point of the
    /// chain (docs/formats.md §4.1).
    #[error("signature does not verify with the current key of {actor} (key id {key_id}){hint}")]
    BadSignature {
        /// The signer.
        actor: ActorId,
        /// Key id of the key that was expected to verify.
        key_id: String,
        /// Empty, or a reason starting with `" ("` or `"; "`: a malformed
        /// signature part, or the replaced key the event was signed with.
        hint: String,
    },
    /// The signer lacks a role this kind of event needs (docs/model.md §5).
    #[error("{actor} may not record {kind}: needs role {needs}")]
    RoleNotAllowed {
        /// The signer.
        actor: ActorId,
        /// The event kind, e.g. `"extract"`.
        kind: &'static str,
        /// The roles any one of which would allow it.
        needs: String,
    },
    /// Only the ledger authority may record this kind of event.
    #[error("only the ledger authority ({authority}) may record {kind}, not {signer}")]
    NotAuthority {
        /// Who signed the event.
        signer: ActorId,
        /// The ledger authority.
        authority: ActorId,
        /// The event kind, e.g. `"register_actor"`.
        kind: &'static str,
    },
    /// A register event names an actor id that is already registered.
    #[error("actor {0} is already registered")]
    ActorExists(ActorId),
    /// A key may be bound to one actor only, once; generate a new key.
    #[error("key {key_id} is already registered to {actor}")]
    KeyInUse {
        /// Key id of the offered key.
        key_id: String,
        /// The actor it is already bound to.
        actor: ActorId,
    },
    /// The actor is not in a state the event allows (reinstating an active
    /// actor, suspending the authority, …); the message says which.
    #[error("{0}")]
    ActorState(String),
    /// The event creates a lot whose id is already used.
    #[error("lot {0} already exists")]
    LotExists(LotId),
    /// The event names a lot that was never created.
    #[error("unknown lot {0}")]
    UnknownLot(LotId),
    /// Only a lot's custodian may act on it.
    #[error("lot {lot} is in the custody of {custodian}, not {signer}")]
    NotCustodian {
        /// The lot.
        lot: LotId,
        /// Who holds it.
        custodian: ActorId,
        /// Who signed the event.
        signer: ActorId,
    },
    /// The lot was dispatched and not yet received.
    #[error("lot {lot} is in transit to {to}; it must be received first")]
    InTransit {
        /// The lot.
        lot: LotId,
        /// The receiver it was dispatched to.
        to: ActorId,
    },
    /// A receive names a lot that was not dispatched.
    #[error("lot {0} was not dispatched; nothing to receive")]
    NotInTransit(LotId),
    /// Only the receiver a dispatch named may receive the lot.
    #[error("lot {lot} was dispatched to {to}, not to {signer}")]
    WrongReceiver {
        /// The lot.
        lot: LotId,
        /// The receiver the dispatch named.
        to: ActorId,
        /// Who signed the receive.
        signer: ActorId,
    },
    /// The lot has no mass left (smelted, merged or split away).
    #[error("lot {lot} is fully consumed (seq {seq}); nothing more can happen to it")]
    Consumed {
        /// The lot.
        lot: LotId,
        /// Sequence number of the entry that consumed it.
        seq: u64,
    },
    /// The lot has left the country.
    #[error("lot {lot} was exported (seq {seq}); nothing more can happen to it")]
    Exported {
        /// The lot.
        lot: LotId,
        /// Sequence number of the export entry.
        seq: u64,
    },
    /// More mass was taken from a lot than it holds.
    #[error("lot {lot} holds {remaining} but {wanted} was taken from it")]
    MassExceeded {
        /// The lot.
        lot: LotId,
        /// Mass left in the lot, as [`crate::units::format_mass`] writes it (`"1,250.000 kg"`).
        remaining: String,
        /// Mass the event takes, formatted the same way.
        wanted: String,
    },
    /// A lot would hold more than [`crate::units::MAX_MASS_G`].
    #[error("{0}")]
    MassLimit(String),
    /// A lot of unknown grade cannot be smelted or manufactured: its tin content
    /// is needed for the tin balance.
    #[error("grade of lot {0} is unknown: declare it or assay the lot before it is smelted")]
    GradeUnknown(LotId),
    /// A smelt or manufacture would put out more contained tin than went in,
    /// beyond [`TIN_TOLERANCE_PPM`].
    #[error("contained tin would grow: {kind} puts out {out_g} g Sn from {in_g} g Sn in (tolerance {tol_pct}%)")]
    TinBalance {
        /// The event kind, `"smelt"` or `"manufacture"`.
        kind: &'static str,
        /// Contained tin in, whole grams (rounded down), as a decimal string.
        in_g: String,
        /// Contained tin out, whole grams (rounded down), as a decimal string.
        out_g: String,
        /// The tolerance, in percent.
        tol_pct: String,
    },
    /// The lot's material does not allow the event (smelting refined tin,
    /// exporting ore, an ingot below [`MIN_EXPORT_INGOT_PPM`], …).
    #[error("{0}")]
    Material(String),
    /// A party the event names is not acceptable (a mine without an IUP
    /// licence, a dispatch to oneself or to an actor that may not receive, an
    /// unregistered or inactive transporter); the message says which.
    #[error("{0}")]
    Party(String),
    /// A receive beyond [`RECEIVE_GROSS_FACTOR`] times (or below its
    /// reciprocal) the dispatched mass: refused as a probable unit mistake
    /// (grams keyed for kilograms, or the reverse), not flagged.
    #[error("{}", gross_message(lot, *dispatched_g, *received_g))]
    ProbableUnitMistake {
        /// The lot received.
        lot: LotId,
        /// The mass its dispatch handed over, in grams.
        dispatched_g: u64,
        /// The mass the receive claims, in grams.
        received_g: u64,
    },
    /// Reading ledger state failed (a [`ViewError`]); not a verdict on the event.
    #[error("storage error while checking: {0}")]
    Storage(String),
    /// The event is dated before an earlier entry on a lot it names.
    /// `detail` reads "KIND dated AT is before"; `before` "KIND on lot L, dated T".
    #[error("{detail} seq {before_seq} ({before}); events on a lot must be in time order")]
    TimeOrder {
        /// "KIND dated AT is before".
        detail: String,
        /// The earlier entry the event is dated before.
        before_seq: u64,
        /// "KIND on lot L, dated T" of that entry.
        before: String,
    },
    /// The event is dated too far after the appender's clock.
    #[error("event dated {at} is more than {skew_min} minutes after this machine's clock ({now})")]
    FutureTime {
        /// The event's time, RFC 3339.
        at: String,
        /// The appender's clock, RFC 3339.
        now: String,
        /// The skew allowed, minutes ([`MAX_CLOCK_SKEW_SECS`] / 60).
        skew_min: i64,
    },
    /// A correction that names no correctable entry of its signer.
    #[error("{0}")]
    Correction(String),
    /// A correction of a value something downstream already used.
    /// `detail` names the lot, the kind that used it and what to do.
    #[error("cannot correct seq {seq}: {detail}")]
    CorrectionTooLate {
        /// The entry the correction names.
        seq: u64,
        /// The later entry that used the lot.
        used_seq: u64,
        /// The lot, the kind that used it and what to do instead.
        detail: String,
    },
}

impl From<ViewError> for RuleError {
    fn from(e: ViewError) -> Self {
        RuleError::Storage(e.0)
    }
}

/// Whether a receive is beyond [`RECEIVE_GROSS_FACTOR`] of the dispatched
/// mass: more than 10 times, or less than a tenth.
fn beyond_gross(dispatched_g: u64, received_g: u64) -> bool {
    let (d, r, f) = (u128::from(dispatched_g), u128::from(received_g), u128::from(RECEIVE_GROSS_FACTOR));
    r > d * f || r * f < d
}

/// Refuse a receive beyond [`RECEIVE_GROSS_FACTOR`] of the dispatched mass.
fn gross_tolerance(lot: &LotId, dispatched_g: u64, received_g: u64) -> Result<(), RuleError> {
    if beyond_gross(dispatched_g, received_g) {
        return Err(RuleError::ProbableUnitMistake { lot: lot.clone(), dispatched_g, received_g });
    }
    Ok(())
}

/// The dispatched mass a receive at `receive_seq` (which stated
/// `received_g`) of `lot` is compared with when it is corrected: the
/// dispatched mass its `mass_discrepancy` flag recorded, or, if it raised
/// none, its received mass, which is then within
/// [`RECEIVE_TOLERANCE_PPM`] of the dispatched mass (docs/model.md,
/// "Corrections").
fn dispatched_mass(lot: &LotState, receive_seq: u64, received_g: u64) -> u64 {
    lot.flags
        .iter()
        .find_map(|f| match f {
            Flag::MassDiscrepancy { seq, dispatched_g, .. } if *seq == receive_seq => Some(*dispatched_g),
            _ => None,
        })
        .unwrap_or(received_g)
}

/// The message of [`RuleError::ProbableUnitMistake`]: both masses and the
/// unit slip that most likely explains their ratio.
fn gross_message(lot: &LotId, dispatched_g: u64, received_g: u64) -> String {
    let (d, r) = (u128::from(dispatched_g), u128::from(received_g));
    let relation = if r > d { "more than 10 times" } else { "less than a tenth of" };
    // A ratio within 10 % of 1000 is one step of g/kg/t.
    let near_1000 = |big: u128, small: u128| big * 10 >= small * 9_000 && big * 10 <= small * 11_000;
    let likely = if r < d && near_1000(d, r) {
        format!("did you mean {}? a mass in kg keyed as g, or in t as kg", format_mass_wide(r * 1000))
    } else if r > d && near_1000(r, d) {
        format!("did you mean {}? a mass in g keyed as kg, or in kg as t", format_mass_wide(r / 1000))
    } else {
        "a wrong unit, or a digit too many or too few".to_string()
    };
    format!(
        "received mass {} of lot {lot} is {relation} the dispatched {}: probably a unit mistake ({likely}); \
         check the weighing and the unit of the mass",
        format_mass(received_g),
        format_mass(dispatched_g)
    )
}

fn status_name(s: ActorStatus) -> &'static str {
    match s {
        ActorStatus::Active => "active",
        ActorStatus::Suspended => "suspended",
        ActorStatus::Revoked => "revoked",
    }
}

fn roles_for(body: &EventBody) -> &'static [Role] {
    use Role::*;
    match body {
        EventBody::Extract { .. } => &[Mine],
        EventBody::Dispatch { .. } => &[Mine, Collector, Smelter, Manufacturer, Exporter],
        EventBody::Receive { .. } => RECEIVERS,
        EventBody::Assay { .. } => &[Lab],
        EventBody::Smelt { .. } => &[Smelter],
        EventBody::Split { .. } | EventBody::Merge { .. } => &[Collector, Smelter, Manufacturer, Exporter],
        EventBody::Manufacture { .. } => &[Manufacturer],
        EventBody::Export { .. } => &[Exporter],
        // Whoever could sign the corrected entry; the rule below also wants
        // the very same actor.
        EventBody::Correct { .. } => &[Mine, Lab, Collector, Smelter, Manufacturer, Exporter],
        _ => &[],
    }
}

/// Roles that may take custody of a dispatched lot.
pub const RECEIVERS: &[Role] = &[Role::Collector, Role::Smelter, Role::Manufacturer, Role::Exporter];

/// Check `signed` as the entry at `seq` against `view`, and return what it changes.
pub fn apply(view: &impl StateView, seq: u64, signed: &SignedEvent) -> Result<Delta, RuleError> {
    apply_inner(view, seq, signed, true).map(|(d, _)| d)
}

/// Like [`apply`], but without checking the signature: returns the key the
/// signature must verify with (docs/formats.md §4.1) at this point of the chain.
/// The caller MUST check it before trusting the delta; this lets many
/// signatures be checked in parallel.
pub fn apply_deferred(view: &impl StateView, seq: u64, signed: &SignedEvent) -> Result<(Delta, PublicKey), RuleError> {
    apply_inner(view, seq, signed, false)
}

/// The error [`apply`] reports for a signature that does not verify with `key`.
pub fn bad_signature(signed: &SignedEvent, key: &PublicKey) -> RuleError {
    RuleError::BadSignature {
        actor: signed.event().signer.clone(),
        key_id: key.key_id(),
        hint: sig_reason(signed, key),
    }
}

/// Why the signature is refused, when it is more than "the equation does
/// not hold" (a malformed `s`, `R` or key): `" (its s is not …)"`, or empty.
fn sig_reason(signed: &SignedEvent, key: &PublicKey) -> String {
    match signed.verify_reason(key) {
        Ok(()) | Err(crate::ed25519::SigError::Equation) => String::new(),
        Err(e) => format!(" ({e})"),
    }
}

/// Like [`bad_signature`], with the hint [`apply`] gives when the event was
/// signed with one of the signer's replaced keys (looked up in `view`).
pub fn bad_signature_in(view: &impl StateView, signed: &SignedEvent, key: &PublicKey) -> RuleError {
    match view.actor(&signed.event().signer) {
        Ok(Some(a)) if a.record.key == *key => bad_signature_of(&a, signed),
        _ => bad_signature(signed, key),
    }
}

fn bad_signature_of(signer: &ActorState, signed: &SignedEvent) -> RuleError {
    let old = signer.keys.iter().rev().skip(1).find(|k| signed.verify(&k.key));
    let hint = match old {
        Some(k) => format!(
            "; it was signed with key {} which was replaced at seq {}",
            k.key.key_id(),
            k.until_seq.unwrap_or(k.from_seq)
        ),
        None => sig_reason(signed, &signer.record.key),
    };
    RuleError::BadSignature { actor: signed.event().signer.clone(), key_id: signer.record.key.key_id(), hint }
}

fn apply_inner(
    view: &impl StateView,
    seq: u64,
    signed: &SignedEvent,
    check_sig: bool,
) -> Result<(Delta, PublicKey), RuleError> {
    let ev = signed.event();
    // Field syntax was checked when the SignedEvent was made: both of its
    // constructors (`SignedEvent::from_parts`, `Event::sign`) run
    // `Event::check`, so it is not repeated here.
    let mut d = Delta { event_id: signed.id(), at: ev.at, ..Delta::default() };

    // Genesis: only at seq 0, signed by the key it introduces.
    let ledger = match (&ev.body, view.ledger()) {
        (EventBody::Genesis { ledger_name, authority, authority_name, authority_key }, None) => {
            if seq != 0 {
                return Err(RuleError::GenesisNotFirst);
            }
            if &ev.signer != authority {
                return Err(RuleError::GenesisSigner { signer: ev.signer.clone(), authority: authority.clone() });
            }
            if check_sig && !signed.verify(authority_key) {
                return Err(RuleError::BadSignature {
                    actor: authority.clone(),
                    key_id: authority_key.key_id(),
                    hint: sig_reason(signed, authority_key),
                });
            }
            let info = LedgerInfo {
                ledger_id: ev.ledger_id,
                name: ledger_name.clone(),
                authority: authority.clone(),
                log_keys: vec![],
            };
            d.actors.push(ActorState {
                record: ActorRecord {
                    id: authority.clone(),
                    name: authority_name.clone(),
                    roles: vec![],
                    key: *authority_key,
                    attrs: Default::default(),
                },
                is_authority: true,
                status: ActorStatus::Active,
                keys: vec![KeyEpoch { key: *authority_key, from_seq: seq, until_seq: None, compromised_since: None }],
                registered_seq: seq,
                last_seq: seq,
            });
            d.keys.push((*authority_key, authority.clone()));
            d.ledger = Some(info);
            return Ok((d, *authority_key));
        }
        (EventBody::Genesis { .. }, Some(_)) => return Err(RuleError::GenesisNotFirst),
        (_, None) => return Err(RuleError::NotGenesis),
        (_, Some(l)) => l,
    };

    if ev.ledger_id != ledger.ledger_id {
        return Err(RuleError::WrongLedger { expected: ledger.ledger_id, found: ev.ledger_id });
    }
    if let Some(first) = view.seen_event(&d.event_id)? {
        return Err(RuleError::Duplicate(first));
    }

    // The signer: registered, active, and this is its current key.
    let signer = view.actor(&ev.signer)?.ok_or_else(|| RuleError::UnknownActor(ev.signer.clone()))?;
    if signer.status != ActorStatus::Active {
        return Err(RuleError::ActorNotActive { actor: ev.signer.clone(), status: status_name(signer.status) });
    }
    let sig_key = signer.record.key;
    if check_sig && !signed.verify(&signer.record.key) {
        return Err(bad_signature_of(&signer, signed));
    }

    // Role.
    let is_actor_event = matches!(
        ev.body,
        EventBody::RegisterActor { .. }
            | EventBody::SuspendActor { .. }
            | EventBody::ReinstateActor { .. }
            | EventBody::RevokeActor { .. }
            | EventBody::RotateKey { .. }
            | EventBody::BindLogKey { .. }
    );
    if is_actor_event {
        if ev.signer != ledger.authority {
            return Err(RuleError::NotAuthority {
                signer: ev.signer.clone(),
                authority: ledger.authority.clone(),
                kind: ev.body.kind(),
            });
        }
    } else {
        let allowed = roles_for(&ev.body);
        if !allowed.iter().any(|r| signer.has_role(*r)) {
            return Err(RuleError::RoleNotAllowed {
                actor: ev.signer.clone(),
                kind: ev.body.kind(),
                needs: allowed.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" or "),
            });
        }
    }

    check_time_order(view, seq, signed)?;
    let mut lots = LotWork::new(view, seq, &ev.signer);
    match &ev.body {
        EventBody::Genesis { .. } => return Err(RuleError::GenesisNotFirst),
        EventBody::RegisterActor { actor } => {
            if view.actor(&actor.id)?.is_some() {
                return Err(RuleError::ActorExists(actor.id.clone()));
            }
            fresh_key(view, &actor.key)?;
            d.keys.push((actor.key, actor.id.clone()));
            d.actors.push(ActorState {
                record: actor.clone(),
                is_authority: false,
                status: ActorStatus::Active,
                keys: vec![KeyEpoch { key: actor.key, from_seq: seq, until_seq: None, compromised_since: None }],
                registered_seq: seq,
                last_seq: seq,
            });
        }
        EventBody::SuspendActor { actor, .. } => {
            let mut a = subject(view, actor, &ledger)?;
            if a.status != ActorStatus::Active {
                return Err(RuleError::ActorState(format!("{actor} is {}, not active", status_name(a.status))));
            }
            a.status = ActorStatus::Suspended;
            a.last_seq = seq;
            d.actors.push(a);
        }
        EventBody::ReinstateActor { actor } => {
            let mut a = subject(view, actor, &ledger)?;
            if a.status != ActorStatus::Suspended {
                return Err(RuleError::ActorState(format!("{actor} is {}, not suspended", status_name(a.status))));
            }
            a.status = ActorStatus::Active;
            a.last_seq = seq;
            d.actors.push(a);
        }
        EventBody::RevokeActor { actor, compromised_since, .. } => {
            let mut a = subject(view, actor, &ledger)?;
            if a.status == ActorStatus::Revoked {
                return Err(RuleError::ActorState(format!("{actor} is already revoked")));
            }
            d.compromise = close_epoch(&mut a, seq, *compromised_since)?;
            a.status = ActorStatus::Revoked;
            a.last_seq = seq;
            d.actors.push(a);
        }
        EventBody::RotateKey { actor, new_key, compromised_since } => {
            let mut a = view.actor(actor)?.ok_or_else(|| RuleError::UnknownActor(actor.clone()))?;
            if a.status == ActorStatus::Revoked {
                return Err(RuleError::ActorState(format!("{actor} is revoked; register a new actor instead")));
            }
            fresh_key(view, new_key)?;
            d.compromise = close_epoch(&mut a, seq, *compromised_since)?;
            a.keys.push(KeyEpoch { key: *new_key, from_seq: seq, until_seq: None, compromised_since: None });
            a.record.key = *new_key;
            a.last_seq = seq;
            d.keys.push((*new_key, actor.clone()));
            d.actors.push(a);
        }
        EventBody::BindLogKey { key } => {
            if let Some(b) = ledger.log_keys.iter().find(|b| b.key == *key) {
                return Err(RuleError::ActorState(format!(
                    "key {} was bound as the log key at seq {}; a log key is never bound twice: make a new one with tinledger keygen",
                    key.key_id(),
                    b.seq
                )));
            }
            fresh_key(view, key)?;
            let mut info = ledger.clone();
            info.log_keys.push(LogKeyBinding { seq, key: *key });
            d.ledger = Some(info);
        }
        EventBody::Extract { lot, material, mass_g, grade_ppm, licence, .. } => {
            match &signer.record.attrs.iup {
                Some(iup) if iup == licence => {}
                Some(iup) => {
                    return Err(RuleError::Party(format!(
                        "licence {licence:?} is not {}'s registered IUP {iup:?}",
                        ev.signer
                    )))
                }
                None => return Err(RuleError::Party(format!("{} has no registered IUP licence", ev.signer))),
            }
            lots.create(lot, *material, *mass_g, *grade_ppm, vec![])?;
        }
        EventBody::Dispatch { lot, to, transporter, .. } => {
            let mut l = lots.held(lot)?;
            if to == &ev.signer {
                return Err(RuleError::Party(format!("{to} cannot dispatch lot {lot} to itself")));
            }
            let recv = view.actor(to)?.ok_or_else(|| RuleError::UnknownActor(to.clone()))?;
            if recv.status != ActorStatus::Active {
                return Err(RuleError::Party(format!(
                    "receiver {to} is {} and cannot take custody",
                    status_name(recv.status)
                )));
            }
            if !RECEIVERS.iter().any(|r| recv.has_role(*r)) {
                return Err(RuleError::Party(format!(
                    "receiver {to} cannot take custody: needs role collector, smelter, manufacturer or exporter"
                )));
            }
            if let Some(t) = transporter {
                let ta = view.actor(t)?.ok_or_else(|| RuleError::UnknownActor(t.clone()))?;
                if !ta.has_role(Role::Transporter) {
                    return Err(RuleError::Party(format!("{t} is not a registered transporter")));
                }
                if ta.status != ActorStatus::Active {
                    return Err(RuleError::Party(format!("transporter {t} is {}", status_name(ta.status))));
                }
            }
            l.status = LotStatus::InTransit { to: to.clone(), transporter: transporter.clone(), dispatched_seq: seq };
            lots.put(l);
        }
        EventBody::Receive { lot, mass_g } => {
            let mut l = lots.get(lot)?;
            lots.live(&l)?;
            match &l.status {
                LotStatus::InTransit { to, .. } if to == &ev.signer => {}
                LotStatus::InTransit { to, .. } => {
                    return Err(RuleError::WrongReceiver {
                        lot: lot.clone(),
                        to: to.clone(),
                        signer: ev.signer.clone(),
                    })
                }
                _ => return Err(RuleError::NotInTransit(lot.clone())),
            }
            gross_tolerance(lot, l.mass_g, *mass_g)?;
            let diff = l.mass_g.abs_diff(*mass_g);
            if u128::from(diff) * 1_000_000 > u128::from(l.mass_g) * u128::from(RECEIVE_TOLERANCE_PPM) {
                let f = Flag::MassDiscrepancy { seq, lot: lot.clone(), dispatched_g: l.mass_g, received_g: *mass_g };
                l.flags.push(f.clone());
                d.flags.push(f);
            }
            l.mass_g = *mass_g;
            l.custodian = ev.signer.clone();
            l.status = LotStatus::Active;
            lots.put(l);
        }
        EventBody::Assay { lot, grade_ppm, .. } => {
            let mut l = lots.get(lot)?;
            lots.live(&l)?;
            if let Some(decl) = l.declared_grade_ppm {
                let diff = u64::from(decl.abs_diff(*grade_ppm));
                if diff * 1_000_000 > u64::from(decl) * ASSAY_TOLERANCE_PPM {
                    let f = Flag::AssayDisagrees { seq, lot: lot.clone(), declared_ppm: decl, assayed_ppm: *grade_ppm };
                    l.flags.push(f.clone());
                    d.flags.push(f);
                }
            }
            l.grade_ppm = Some(*grade_ppm);
            lots.put(l);
        }
        EventBody::Smelt { inputs, outputs } | EventBody::Manufacture { inputs, outputs } => {
            let smelt = matches!(ev.body, EventBody::Smelt { .. });
            let mut tin_in: u128 = 0;
            let mut parents = Vec::new();
            for t in inputs {
                let l = lots.held(&t.lot)?;
                if smelt && !l.material.is_raw() {
                    return Err(RuleError::Material(format!(
                        "a smelter smelts ore or concentrate; lot {} is {}",
                        t.lot, l.material
                    )));
                }
                if !smelt && l.material.is_raw() {
                    return Err(RuleError::Material(format!(
                        "a manufacturer uses refined tin; lot {} is {} (smelt it first)",
                        t.lot, l.material
                    )));
                }
                let g = l.grade_ppm.ok_or_else(|| RuleError::GradeUnknown(t.lot.clone()))?;
                tin_in += u128::from(t.mass_g) * u128::from(g);
                parents.push(t.lot.clone());
                lots.take(l, t)?;
            }
            let tin_out: u128 = outputs.iter().map(|o| u128::from(o.mass_g) * u128::from(o.grade_ppm)).sum();
            if tin_out * 1_000_000 > tin_in * (1_000_000 + TIN_TOLERANCE_PPM) {
                return Err(RuleError::TinBalance {
                    kind: ev.body.kind(),
                    in_g: tin_grams(tin_in),
                    out_g: tin_grams(tin_out),
                    tol_pct: format!("{}", TIN_TOLERANCE_PPM as f64 / 10_000.0),
                });
            }
            for o in outputs {
                lots.create(&o.lot, o.material, o.mass_g, Some(o.grade_ppm), parents.clone())?;
            }
        }
        EventBody::Split { lot, parts } => {
            let mut src = lots.held(lot)?;
            let total: u128 = parts.iter().map(|p| u128::from(p.mass_g)).sum();
            if total > u128::from(src.mass_g) {
                return Err(RuleError::MassExceeded {
                    lot: lot.clone(),
                    remaining: format_mass(src.mass_g),
                    wanted: format_mass_wide(total),
                });
            }
            for p in parts {
                lots.create(&p.lot, src.material, p.mass_g, src.grade_ppm, vec![lot.clone()])?;
                if let Some(new) = lots.pending.get_mut(&p.lot) {
                    new.declared_grade_ppm = src.declared_grade_ppm;
                }
            }
            src.mass_g -= u64::try_from(total).unwrap_or(u64::MAX).min(src.mass_g);
            if src.mass_g == 0 {
                src.status = LotStatus::Consumed { seq };
            }
            lots.put(src);
        }
        EventBody::Merge { inputs, output } => {
            let mut total: u64 = 0;
            let mut tin: u128 = 0;
            let mut all_graded = true;
            let mut material = None;
            for id in inputs {
                let mut l = lots.held(id)?;
                match material {
                    None => material = Some(l.material),
                    Some(m) if m != l.material => {
                        return Err(RuleError::Material(format!("cannot merge {m} with {} (lot {id})", l.material)))
                    }
                    _ => {}
                }
                total =
                    total.checked_add(l.mass_g).ok_or_else(|| RuleError::Malformed("merged mass overflows".into()))?;
                match l.grade_ppm {
                    Some(g) => tin += u128::from(l.mass_g) * u128::from(g),
                    None => all_graded = false,
                }
                l.mass_g = 0;
                l.status = LotStatus::Consumed { seq };
                lots.put(l);
            }
            check_mass_bound(&format!("merged lot {output}:"), u128::from(total)).map_err(RuleError::MassLimit)?;
            let grade = if all_graded && total > 0 { u32::try_from(tin / u128::from(total)).ok() } else { None };
            let material = material.ok_or_else(|| RuleError::Malformed("merge has no inputs".into()))?;
            lots.create(output, material, total, grade, inputs.clone())?;
        }
        EventBody::Export { lot, destination, .. } => {
            let mut l = lots.held(lot)?;
            if l.material.is_raw() {
                return Err(RuleError::Material(format!(
                    "lot {lot} is {}: tin ore and concentrate may not be exported; smelt it first",
                    l.material
                )));
            }
            if l.material == Material::Ingot && l.grade_ppm.is_none_or(|g| g < MIN_EXPORT_INGOT_PPM) {
                return Err(RuleError::Material(format!(
                    "ingot lot {lot} is {}: tin ingots may only be exported at {} or more",
                    l.grade_ppm.map(format_grade).unwrap_or_else(|| "of unknown grade".into()),
                    format_grade(MIN_EXPORT_INGOT_PPM)
                )));
            }
            l.status = LotStatus::Exported { seq, destination: destination.clone() };
            lots.put(l);
        }
        EventBody::Correct { lot, entry_seq, entry_hash, mass_g, grade_ppm, .. } => {
            let mut l = lots.get(lot)?;
            let target = correctable(view, seq, signed, &l, *entry_seq, entry_hash)?;
            match (&target, mass_g, grade_ppm) {
                (EventBody::Receive { .. }, _, Some(_)) => {
                    return Err(RuleError::Correction(format!(
                        "seq {entry_seq} is a receive, which has no grade; correct the mass only (a lab's assay sets the grade)"
                    )))
                }
                (EventBody::Assay { .. }, Some(_), _) => {
                    return Err(RuleError::Correction(format!(
                        "seq {entry_seq} is an assay, which has no mass; correct the grade only"
                    )))
                }
                (EventBody::Receive { mass_g: received_g, .. }, Some(m), _) => {
                    // The gross tolerance holds for the corrected mass too:
                    // a correction is no way round it.
                    gross_tolerance(lot, dispatched_mass(&l, *entry_seq, *received_g), *m)?;
                }
                _ => {}
            }
            if let Some(m) = mass_g {
                l.mass_g = *m;
            }
            if let Some(g) = grade_ppm {
                l.grade_ppm = Some(*g);
                if matches!(target, EventBody::Extract { .. }) {
                    l.declared_grade_ppm = Some(*g);
                }
            }
            lots.put(l);
        }
    }
    if !is_actor_event {
        let mut s = signer;
        s.last_seq = seq;
        d.actors.push(s);
    }
    d.touched_lots = ev.body.lots().into_iter().cloned().collect();
    d.lots = lots.finish();
    Ok((d, sig_key))
}

/// Refuse an event dated more than [`MAX_CLOCK_SKEW_SECS`] after `now`,
/// the appender's clock. Appends call it; verification does not (a
/// verdict on a stored entry depends only on its bytes and the entries
/// before it, never on when it is checked).
pub fn check_clock(signed: &SignedEvent, now: Timestamp) -> Result<(), RuleError> {
    let at = signed.event().at;
    if at.0 > now.0.saturating_add(MAX_CLOCK_SKEW_SECS) {
        return Err(RuleError::FutureTime {
            at: at.to_rfc3339(),
            now: now.to_rfc3339(),
            skew_min: MAX_CLOCK_SKEW_SECS / 60,
        });
    }
    Ok(())
}

/// An event may not be dated before the latest earlier entry on any lot it
/// names (docs/model.md, "Times"): a receive not before its dispatch, a
/// smelt, split, merge, manufacture or export not before its inputs' last
/// event, an assay not before the lot's last event, a correction not before
/// the entry it corrects.
fn check_time_order(view: &impl StateView, seq: u64, signed: &SignedEvent) -> Result<(), RuleError> {
    let ev = signed.event();
    for lot in ev.body.lots() {
        let Some(l) = view.lot(lot)? else { continue };
        if l.last_seq >= seq {
            continue;
        }
        let before_at = view
            .entry_time(l.last_seq)?
            .ok_or_else(|| RuleError::Storage(format!("entry {} (last on lot {lot}) is missing", l.last_seq)))?;
        if ev.at < before_at {
            return Err(RuleError::TimeOrder {
                detail: format!("{} dated {} is before", ev.body.kind(), ev.at.to_rfc3339()),
                before_seq: l.last_seq,
                before: format!(
                    "{} on lot {lot}, dated {}",
                    kind_at(view, l.last_seq).unwrap_or_else(|| "entry".into()),
                    before_at.to_rfc3339()
                ),
            });
        }
    }
    Ok(())
}

/// The kind of the entry at `seq`, if the view holds it (for messages).
fn kind_at(view: &impl StateView, seq: u64) -> Option<String> {
    let e = view.entry(seq).ok()??;
    Some(e.signed_event().ok()?.event().body.kind().to_string())
}

/// The body of the entry a correction at `seq` names, if the signer may
/// correct it now (docs/model.md, "Corrections"): an earlier extract,
/// receive or assay of `lot`, with that hash, by the same actor, and still
/// the lot's latest entry apart from earlier corrections of it.
fn correctable(
    view: &impl StateView,
    seq: u64,
    signed: &SignedEvent,
    lot: &LotState,
    entry_seq: u64,
    entry_hash: &EntryHash,
) -> Result<EventBody, RuleError> {
    let ev = signed.event();
    let no = |m: String| Err(RuleError::Correction(m));
    if entry_seq >= seq {
        return no(format!("a correction names an earlier entry; seq {entry_seq} is not before this one ({seq})"));
    }
    let Some(entry) = view.entry(entry_seq)? else {
        return no(format!("seq {entry_seq} is not an entry of this ledger yet; append it before correcting it"));
    };
    if entry.hash() != *entry_hash {
        return no(format!(
            "entry seq {entry_seq} has hash {}, not {entry_hash}; name the entry by its seq and hash as recorded",
            entry.hash()
        ));
    }
    let target = entry.signed_event().map_err(|x| RuleError::Storage(format!("entry {entry_seq}: {x}")))?;
    let target = target.event();
    let target_lot = match target.body.lots().first() {
        Some(l) if target.body.is_correctable() => *l,
        _ => {
            return no(format!(
                "seq {entry_seq} is a {}; only an extract, a receive or an assay can be corrected",
                target.body.kind()
            ))
        }
    };
    if target_lot != &lot.id {
        return no(format!("seq {entry_seq} is about lot {target_lot}, not {}", lot.id));
    }
    if target.signer != ev.signer {
        return no(format!(
            "seq {entry_seq} was signed by {}; only its signer may correct it (ask {} to record the correction)",
            target.signer, target.signer
        ));
    }
    if lot.last_seq != entry_seq {
        // The latest entry may be one of the same batch, not stored yet: then
        // it is not an earlier correction of this entry.
        let last = view.entry(lot.last_seq)?.and_then(|e| e.signed_event().ok());
        let last_body = last.as_ref().map(|l| &l.event().body);
        let earlier_correction = matches!(last_body, Some(EventBody::Correct { entry_seq: s, .. }) if *s == entry_seq);
        if !earlier_correction {
            let hint = if matches!(target.body, EventBody::Assay { .. }) {
                "record a new assay of the lot instead"
            } else {
                "the value is part of what came after; record what happens next with the right figures, or ask the ledger authority to suspend the lot's custodian until it is sorted out"
            };
            return Err(RuleError::CorrectionTooLate {
                seq: entry_seq,
                used_seq: lot.last_seq,
                detail: format!(
                    "lot {} was used after it (seq {}, {}); {hint}",
                    lot.id,
                    lot.last_seq,
                    last_body.map_or("entry", |b| b.kind())
                ),
            });
        }
    }
    Ok(target.body.clone())
}

fn tin_grams(gram_ppm: u128) -> String {
    let g = gram_ppm / 1_000_000;
    format!("{g}")
}

fn fresh_key(view: &impl StateView, key: &PublicKey) -> Result<(), RuleError> {
    if let Some(owner) = view.actor_by_key(key)? {
        return Err(RuleError::KeyInUse { key_id: key.key_id(), actor: owner });
    }
    // A key that signs (or signed) checkpoints never signs events, and the
    // other way round: a compromised log server must not be able to act as
    // an actor.
    if let Some(b) = view.ledger().and_then(|l| l.log_keys.iter().find(|b| b.key == *key).cloned()) {
        return Err(RuleError::ActorState(format!(
            "key {} is the ledger's log key (bound at seq {}); an actor needs its own key",
            key.key_id(),
            b.seq
        )));
    }
    Ok(())
}

fn subject(view: &impl StateView, id: &ActorId, ledger: &LedgerInfo) -> Result<ActorState, RuleError> {
    if id == &ledger.authority {
        return Err(RuleError::ActorState(format!("the ledger authority {id} cannot be suspended or revoked")));
    }
    view.actor(id)?.ok_or_else(|| RuleError::UnknownActor(id.clone()))
}

/// End the current key epoch at `seq`, marking it compromised from `since`.
fn close_epoch(a: &mut ActorState, seq: u64, since: Option<u64>) -> Result<Option<Compromise>, RuleError> {
    let start = a.current_epoch_start();
    if let Some(n) = since {
        if n < start || n > seq {
            return Err(RuleError::ActorState(format!(
                "compromised-since {n} must lie between seq {start}, when the current key of {} took effect, and this entry ({seq})",
                a.record.id
            )));
        }
    }
    let key = a.record.key;
    if let Some(last) = a.keys.last_mut() {
        last.until_seq = Some(seq);
        last.compromised_since = since;
    }
    Ok(since.map(|n| Compromise { actor: a.record.id.clone(), key, from_seq: n, until_seq: seq }))
}

/// Lot reads and writes within one event: reads see earlier writes.
struct LotWork<'a, V: StateView> {
    view: &'a V,
    seq: u64,
    signer: &'a ActorId,
    pending: BTreeMap<LotId, LotState>,
    order: Vec<LotId>,
}

impl<'a, V: StateView> LotWork<'a, V> {
    fn new(view: &'a V, seq: u64, signer: &'a ActorId) -> Self {
        LotWork { view, seq, signer, pending: BTreeMap::new(), order: Vec::new() }
    }

    fn get(&self, id: &LotId) -> Result<LotState, RuleError> {
        if let Some(l) = self.pending.get(id) {
            return Ok(l.clone());
        }
        self.view.lot(id)?.ok_or_else(|| RuleError::UnknownLot(id.clone()))
    }

    /// Neither consumed nor exported.
    fn live(&self, l: &LotState) -> Result<(), RuleError> {
        match &l.status {
            LotStatus::Consumed { seq } => Err(RuleError::Consumed { lot: l.id.clone(), seq: *seq }),
            LotStatus::Exported { seq, .. } => Err(RuleError::Exported { lot: l.id.clone(), seq: *seq }),
            _ => Ok(()),
        }
    }

    /// A live lot, at rest, in the signer's custody.
    fn held(&self, id: &LotId) -> Result<LotState, RuleError> {
        let l = self.get(id)?;
        self.live(&l)?;
        if &l.custodian != self.signer {
            return Err(RuleError::NotCustodian {
                lot: id.clone(),
                custodian: l.custodian.clone(),
                signer: self.signer.clone(),
            });
        }
        if let LotStatus::InTransit { to, .. } = &l.status {
            return Err(RuleError::InTransit { lot: id.clone(), to: to.clone() });
        }
        Ok(l)
    }

    /// Take `t.mass_g` from `l`, consuming it when nothing is left.
    fn take(&mut self, mut l: LotState, t: &Take) -> Result<(), RuleError> {
        if t.mass_g > l.mass_g {
            return Err(RuleError::MassExceeded {
                lot: l.id.clone(),
                remaining: format_mass(l.mass_g),
                wanted: format_mass(t.mass_g),
            });
        }
        l.mass_g -= t.mass_g;
        if l.mass_g == 0 {
            l.status = LotStatus::Consumed { seq: self.seq };
        }
        self.put(l);
        Ok(())
    }

    fn create(
        &mut self,
        id: &LotId,
        material: Material,
        mass_g: u64,
        grade: Option<u32>,
        parents: Vec<LotId>,
    ) -> Result<(), RuleError> {
        if self.pending.contains_key(id) || self.view.lot(id)?.is_some() {
            return Err(RuleError::LotExists(id.clone()));
        }
        self.put(LotState {
            id: id.clone(),
            material,
            mass_g,
            grade_ppm: grade,
            declared_grade_ppm: grade,
            custodian: self.signer.clone(),
            status: LotStatus::Active,
            created_seq: self.seq,
            last_seq: self.seq,
            parents,
            flags: vec![],
        });
        Ok(())
    }

    fn put(&mut self, mut l: LotState) {
        l.last_seq = self.seq;
        if !self.pending.contains_key(&l.id) {
            self.order.push(l.id.clone());
        }
        self.pending.insert(l.id.clone(), l);
    }

    fn finish(mut self) -> Vec<LotState> {
        self.order.iter().filter_map(|id| self.pending.remove(id)).collect()
    }
}

/// Ledger state held in memory: used to replay a chain (verify) and as an
/// overlay that stacks a batch's deltas on top of a stored state.
#[derive(Default)]
pub struct Overlay<'a> {
    base: Option<&'a dyn StateView>,
    /// Facts from the genesis entry, once absorbed.
    pub ledger: Option<LedgerInfo>,
    /// Actor states changed here (all of them when replaying from empty).
    pub actors: HashMap<ActorId, ActorState>,
    /// Lot states changed here.
    pub lots: HashMap<LotId, LotState>,
    /// Keys bound here, and their actors.
    pub keys: HashMap<PublicKey, ActorId>,
    /// Event ids absorbed here, and their sequence numbers.
    pub events: HashMap<[u8; 32], u64>,
    /// Key compromises reported here.
    pub compromises: Vec<Compromise>,
    /// Flags raised here.
    pub flags: Vec<Flag>,
    /// Times of the absorbed entries, by seq.
    pub times: HashMap<u64, Timestamp>,
    /// Entries the holder chose to keep (a certificate's), by seq; others
    /// are asked of the base.
    pub entries: HashMap<u64, Entry>,
}

impl<'a> Overlay<'a> {
    /// An empty state (before genesis).
    pub fn empty() -> Overlay<'static> {
        Overlay::default()
    }
    /// Changes on top of `base`.
    pub fn over(base: &'a dyn StateView) -> Overlay<'a> {
        Overlay { base: Some(base), ledger: base.ledger(), ..Overlay::default() }
    }
    /// Record an accepted delta for entry `seq`.
    pub fn absorb(&mut self, seq: u64, d: &Delta) {
        self.absorb_except_lots_and_event(d);
        for l in &d.lots {
            self.lots.insert(l.id.clone(), l.clone());
        }
        self.events.insert(d.event_id, seq);
        self.times.insert(seq, d.at);
    }

    /// Everything of `d` but its lots and event id: for a holder that keeps
    /// those in its own, more compact form (the ledger's streaming audit).
    pub fn absorb_except_lots_and_event(&mut self, d: &Delta) {
        if let Some(l) = &d.ledger {
            self.ledger = Some(l.clone());
        }
        for a in &d.actors {
            self.actors.insert(a.record.id.clone(), a.clone());
        }
        for (k, a) in &d.keys {
            self.keys.insert(*k, a.clone());
        }
        if let Some(c) = &d.compromise {
            self.compromises.push(c.clone());
        }
        self.flags.extend(d.flags.iter().cloned());
    }
    /// Lots in id order (for comparisons and listings).
    pub fn lots_sorted(&self) -> Vec<&LotState> {
        let ids: BTreeSet<&LotId> = self.lots.keys().collect();
        ids.into_iter().filter_map(|id| self.lots.get(id)).collect()
    }
}

impl StateView for Overlay<'_> {
    fn ledger(&self) -> Option<LedgerInfo> {
        self.ledger.clone()
    }
    fn actor(&self, id: &ActorId) -> Result<Option<ActorState>, ViewError> {
        match (self.actors.get(id), self.base) {
            (Some(a), _) => Ok(Some(a.clone())),
            (None, Some(b)) => b.actor(id),
            (None, None) => Ok(None),
        }
    }
    fn lot(&self, id: &LotId) -> Result<Option<LotState>, ViewError> {
        match (self.lots.get(id), self.base) {
            (Some(l), _) => Ok(Some(l.clone())),
            (None, Some(b)) => b.lot(id),
            (None, None) => Ok(None),
        }
    }
    fn actor_by_key(&self, key: &PublicKey) -> Result<Option<ActorId>, ViewError> {
        match (self.keys.get(key), self.base) {
            (Some(a), _) => Ok(Some(a.clone())),
            (None, Some(b)) => b.actor_by_key(key),
            (None, None) => Ok(None),
        }
    }
    fn seen_event(&self, id: &[u8; 32]) -> Result<Option<u64>, ViewError> {
        match (self.events.get(id), self.base) {
            (Some(s), _) => Ok(Some(*s)),
            (None, Some(b)) => b.seen_event(id),
            (None, None) => Ok(None),
        }
    }
    fn entry(&self, seq: u64) -> Result<Option<Entry>, ViewError> {
        match (self.entries.get(&seq), self.base) {
            (Some(e), _) => Ok(Some(e.clone())),
            (None, Some(b)) => b.entry(seq),
            (None, None) => Ok(None),
        }
    }
    fn entry_time(&self, seq: u64) -> Result<Option<Timestamp>, ViewError> {
        if let Some(t) = self.times.get(&seq) {
            return Ok(Some(*t));
        }
        match (self.entries.get(&seq), self.base) {
            (Some(e), _) => {
                let s = e.signed_event().map_err(|x| ViewError(format!("entry {seq}: {x}")))?;
                Ok(Some(s.event().at))
            }
            (None, Some(b)) => b.entry_time(seq),
            (None, None) => Ok(None),
        }
    }
}
