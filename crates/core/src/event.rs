//! Custody events, their canonical bytes and their signatures.
//!
//! An [`Event`] is what an actor states; its canonical bytes are
//! `codec::encode(&event)`. The signature is Ed25519 over
//! `SIGNATURE_CONTEXT || canonical event bytes`, and since every event names
//! its ledger id, a signature binds the event to one ledger.

use crate::codec::{self, CodecError};
use crate::entry::EntryHash;
use crate::ids::{ActorId, LedgerId, LotId};
use crate::units::{
    check_country, check_mass_bound, check_required, check_text, format_grade, format_mass, quoted, GeoPoint, Material,
    Role, Timestamp, MAX_GRADE_PPM,
};
use bincode::{Decode, Encode};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Prefix of every signed message (ASCII, ending in a NUL byte).
pub const SIGNATURE_CONTEXT: &[u8] = b"tinledger-event-v1\0";
/// Prefix of the event id hash (ASCII, ending in a NUL byte).
pub const EVENT_ID_CONTEXT: &[u8] = b"tinledger-event-id-v1\0";

/// Longest note, in bytes.
pub const MAX_NOTE: usize = 1024;
/// Longest short text field (names, document numbers, reasons), in bytes.
pub const MAX_FIELD: usize = 256;
/// Most inputs or outputs in one smelt, split, merge or manufacture.
pub const MAX_LOTS_PER_EVENT: usize = 1000;

/// An Ed25519 public key (32 bytes). Hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// The key as 64 lower-case hex digits (its JSON and text form).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// A short id for people: the first 8 bytes of SHA-256 of the key, in hex.
    pub fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }
    /// The key as an `ed25519_dalek` verifying key; fails, naming the key, if
    /// the 32 bytes do not decode to a curve point.
    pub fn verifying_key(&self) -> Result<VerifyingKey, String> {
        VerifyingKey::from_bytes(&self.0)
            .map_err(|_| format!("public key {} is not a valid Ed25519 point", self.to_hex()))
    }
    /// Keys that events introduce (genesis, registrations, rotations) must
    /// be canonical encodings of points in the prime-order subgroup
    /// ([`crate::ed25519::check_registrable_key`], docs/formats.md §4.1).
    pub fn check(&self) -> Result<(), String> {
        crate::ed25519::check_registrable_key(&self.0).map_err(|e| format!("public key {} {e}", self.to_hex()))
    }
}
impl From<&SigningKey> for PublicKey {
    fn from(k: &SigningKey) -> Self {
        PublicKey(k.verifying_key().to_bytes())
    }
}
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl std::str::FromStr for PublicKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out)
            .map_err(|_| format!("public key {} is not 64 hex digits", quoted(s)))?;
        Ok(PublicKey(out))
    }
}
impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Optional attributes the trade relies on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorAttrs {
    /// Mining business licence (IUP) number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iup: Option<String>,
    /// RMI smelter id: `CID` followed by 6 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmi_cid: Option<String>,
    /// Indonesian business id (NIB), 13 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nib: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// WGS84 location of the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
}

impl ActorAttrs {
    /// Syntax of every attribute present (docs/formats.md §2.3); the error
    /// names the field.
    pub fn check(&self) -> Result<(), String> {
        if let Some(iup) = &self.iup {
            check_required("IUP licence", iup, MAX_FIELD)?;
        }
        if let Some(cid) = &self.rmi_cid {
            let ok = cid.len() == 9 && cid.starts_with("CID") && cid[3..].chars().all(|c| c.is_ascii_digit());
            if !ok {
                return Err(format!("RMI smelter id {} is not CID followed by 6 digits", quoted(cid)));
            }
        }
        if let Some(nib) = &self.nib {
            if nib.len() != 13 || !nib.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("NIB {} is not 13 digits", quoted(nib)));
            }
        }
        if let Some(c) = &self.country {
            check_country("country", c)?;
        }
        if let Some(p) = &self.location {
            p.check()?;
        }
        Ok(())
    }
}

/// An actor as registered by the ledger authority.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorRecord {
    /// The actor's id, unique in the ledger.
    pub id: ActorId,
    /// The actor's name for people: Text (docs/formats.md §2.4).
    pub name: String,
    /// Sorted, without repeats (canonical form).
    pub roles: Vec<Role>,
    /// The key the actor signs with (a registrable key, docs/formats.md §4.1).
    pub key: PublicKey,
    /// Licences, ids and location (all optional).
    #[serde(default)]
    pub attrs: ActorAttrs,
}

/// A quantity taken from an existing lot.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Take {
    /// The existing lot taken from; in a split, the new part lot instead.
    pub lot: LotId,
    /// Mass taken, grams (`1 ..= 10000000000`).
    pub mass_g: u64,
}

/// A lot created by a smelt or manufacture.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Id of the new lot.
    pub lot: LotId,
    /// Its material: `ingot` from a smelt; `solder`, `tinplate` or `component`
    /// from a manufacture.
    pub material: Material,
    /// Its mass, grams (`1 ..= 10000000000`).
    pub mass_g: u64,
    /// Its tin grade, ppm Sn by mass (≤ 1,000,000).
    pub grade_ppm: u32,
}

/// What happened. The canonical variant index is the declaration order
/// (docs/formats.md lists it); never reorder, only append.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventBody {
    /// 0. First entry of every ledger: names the authority and its key.
    Genesis {
        /// The ledger's name (Text).
        ledger_name: String,
        /// The authority's actor id.
        authority: ActorId,
        /// The authority's name (Text).
        authority_name: String,
        /// The authority's first key; it must sign this event.
        authority_key: PublicKey,
    },
    /// 1. The authority registers an actor.
    RegisterActor {
        /// The new actor, its roles, key and attributes.
        actor: ActorRecord,
    },
    /// 2. The authority suspends an actor: its key signs nothing until reinstated.
    SuspendActor {
        /// The actor suspended.
        actor: ActorId,
        /// Why (Text).
        reason: String,
    },
    /// 3. The authority lifts a suspension.
    ReinstateActor {
        /// The suspended actor reinstated.
        actor: ActorId,
    },
    /// 4. The authority revokes an actor for good. `compromised_since` marks
    ///    the actor's entries from that sequence number on as untrusted.
    RevokeActor {
        /// The actor revoked.
        actor: ActorId,
        /// Why (Text).
        reason: String,
        /// First untrusted sequence number, if the key leaked.
        compromised_since: Option<u64>,
    },
    /// 5. The authority replaces an actor's key.
    RotateKey {
        /// The actor re-keyed.
        actor: ActorId,
        /// Its new key (a registrable key, docs/formats.md §4.1).
        new_key: PublicKey,
        /// If set, entries signed with the old key from this
        /// sequence number on are untrusted.
        compromised_since: Option<u64>,
    },
    /// 6. A mine creates a lot of ore or concentrate.
    Extract {
        /// Id of the new lot.
        lot: LotId,
        /// `ore` or `concentrate`.
        material: Material,
        /// Mass extracted, grams (`1 ..= 10000000000`).
        mass_g: u64,
        /// Declared tin grade, ppm Sn by mass, if known.
        grade_ppm: Option<u32>,
        /// The mine's IUP licence number; must match its registration.
        licence: String,
        /// Where it was extracted (WGS84).
        location: GeoPoint,
    },
    /// 7. The custodian hands a lot to a receiver.
    Dispatch {
        /// The lot dispatched.
        lot: LotId,
        /// The receiver, which must hold a receiving role.
        to: ActorId,
        /// The registered transporter carrying it, if any.
        transporter: Option<ActorId>,
        /// Transport document number (Text).
        document: String,
    },
    /// 8. The receiver confirms with its measured mass; custody moves.
    Receive {
        /// The lot received.
        lot: LotId,
        /// Mass the receiver measured, grams; a difference beyond
        /// [`crate::rules::RECEIVE_TOLERANCE_PPM`] raises a flag.
        mass_g: u64,
    },
    /// 9. A lab attests a lot's grade.
    Assay {
        /// The lot assayed.
        lot: LotId,
        /// Measured tin grade, ppm Sn by mass.
        grade_ppm: u32,
        /// Assay method (Text), e.g. `XRF`.
        method: String,
        /// The lab's report number (Text).
        report: String,
    },
    /// 10. A smelter consumes inputs (whole or in part) and produces ingots.
    Smelt {
        /// Ore or concentrate taken (1 to 1000 lots).
        inputs: Vec<Take>,
        /// New ingot lots (1 to 1000).
        outputs: Vec<Output>,
    },
    /// 11. The custodian splits parts off a lot; parts keep its material and grade.
    Split {
        /// The lot split.
        lot: LotId,
        /// New lots and their masses (1 to 1000); each `Take` names a new lot.
        parts: Vec<Take>,
    },
    /// 12. The custodian merges whole lots of one material into a new lot.
    Merge {
        /// The whole lots merged (2 to 1000), all of one material.
        inputs: Vec<LotId>,
        /// Id of the new lot.
        output: LotId,
    },
    /// 13. A manufacturer turns tin lots into product lots.
    Manufacture {
        /// Refined tin taken (1 to 1000 lots).
        inputs: Vec<Take>,
        /// New product lots (1 to 1000).
        outputs: Vec<Output>,
    },
    /// 14. An exporter ships a lot out of the country.
    Export {
        /// The lot exported.
        lot: LotId,
        /// Destination country, an ISO 3166-1 alpha-2 code (e.g. `SG`).
        destination: String,
        /// Harmonized System code, 4 to 12 digits and dots (e.g. `8001.10`).
        hs_code: String,
        /// Export permit number (Text).
        permit: String,
        /// Independent surveyor's report number (Text).
        surveyor_report: String,
        /// Who receives the shipment abroad (Text).
        consignee: String,
    },
    /// 15. The signer of an extract, receive or assay corrects a value it
    ///     mis-keyed there, while nothing downstream has used it (the rules
    ///     in docs/model.md, "Corrections"). The corrected entry stays as it
    ///     is; the lot's state takes the new values. `lot` is the lot the
    ///     corrected entry names; `entry_seq` and `entry_hash` name the entry.
    ///     Extract: `mass_g` and/or `grade_ppm`; receive: `mass_g`; assay:
    ///     `grade_ppm`.
    Correct {
        /// The lot the corrected entry names.
        lot: LotId,
        /// The corrected entry's sequence number.
        entry_seq: u64,
        /// The corrected entry's hash (it must match the entry at `entry_seq`).
        entry_hash: EntryHash,
        /// The corrected mass, grams (extract or receive).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mass_g: Option<u64>,
        /// The corrected grade, ppm Sn (extract or assay).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grade_ppm: Option<u32>,
        /// Why the value was wrong, in the signer's words.
        reason: String,
    },
    /// 16. The authority binds the log key: the dedicated Ed25519 key with
    ///     which the log's server signs checkpoints (docs/server.md, "The log
    ///     key"). From this entry on, a checkpoint of a tree that contains it
    ///     may be signed by `key` instead of by the authority; a later
    ///     binding replaces it. The key may not be, or become, an actor's key.
    BindLogKey {
        /// The log key (a registrable key, docs/formats.md §4.1).
        key: PublicKey,
    },
}

impl EventBody {
    /// The event kind as written in JSON and on the command line.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Genesis { .. } => "genesis",
            EventBody::RegisterActor { .. } => "register_actor",
            EventBody::SuspendActor { .. } => "suspend_actor",
            EventBody::ReinstateActor { .. } => "reinstate_actor",
            EventBody::RevokeActor { .. } => "revoke_actor",
            EventBody::RotateKey { .. } => "rotate_key",
            EventBody::Extract { .. } => "extract",
            EventBody::Dispatch { .. } => "dispatch",
            EventBody::Receive { .. } => "receive",
            EventBody::Assay { .. } => "assay",
            EventBody::Smelt { .. } => "smelt",
            EventBody::Split { .. } => "split",
            EventBody::Merge { .. } => "merge",
            EventBody::Manufacture { .. } => "manufacture",
            EventBody::Export { .. } => "export",
            EventBody::Correct { .. } => "correct",
            EventBody::BindLogKey { .. } => "bind_log_key",
        }
    }

    /// Whether a correction may name an entry of this kind: an extract, a
    /// receive or an assay (docs/model.md, "Corrections"). The rules refuse
    /// a correction of anything else.
    pub fn is_correctable(&self) -> bool {
        matches!(self, EventBody::Extract { .. } | EventBody::Receive { .. } | EventBody::Assay { .. })
    }

    /// Whether the rules of a later correction may read this entry by seq:
    /// its target (a correctable entry) or an earlier correction of the
    /// same target (the lot's latest entry may be one without the target
    /// counting as used). Whoever feeds the rules entries that are not
    /// stored yet (a batch being appended, a query's in-memory replay)
    /// keeps exactly these.
    pub fn kept_for_corrections(&self) -> bool {
        self.is_correctable() || matches!(self, EventBody::Correct { .. })
    }

    /// Every lot id the event names (inputs, outputs, subject).
    pub fn lots(&self) -> Vec<&LotId> {
        match self {
            EventBody::Extract { lot, .. }
            | EventBody::Dispatch { lot, .. }
            | EventBody::Receive { lot, .. }
            | EventBody::Assay { lot, .. }
            | EventBody::Export { lot, .. }
            | EventBody::Correct { lot, .. } => vec![lot],
            EventBody::Smelt { inputs, outputs } | EventBody::Manufacture { inputs, outputs } => {
                inputs.iter().map(|t| &t.lot).chain(outputs.iter().map(|o| &o.lot)).collect()
            }
            EventBody::Split { lot, parts } => std::iter::once(lot).chain(parts.iter().map(|p| &p.lot)).collect(),
            EventBody::Merge { inputs, output } => inputs.iter().chain(std::iter::once(output)).collect(),
            _ => vec![],
        }
    }

    /// The actor an actor-management event is about.
    pub fn subject_actor(&self) -> Option<&ActorId> {
        match self {
            EventBody::Genesis { authority, .. } => Some(authority),
            EventBody::RegisterActor { actor } => Some(&actor.id),
            EventBody::SuspendActor { actor, .. }
            | EventBody::ReinstateActor { actor }
            | EventBody::RevokeActor { actor, .. }
            | EventBody::RotateKey { actor, .. } => Some(actor),
            _ => None,
        }
    }

    /// Field syntax: ids, text lengths, masses non-zero and at most
    /// [`crate::units::MAX_MASS_G`], grades in range.
    /// Rules that need ledger state live in [`crate::rules`].
    pub fn check(&self) -> Result<(), String> {
        let grade = |g: u32| {
            if g > MAX_GRADE_PPM {
                Err(format!("grade {g} ppm is above 1,000,000 ppm"))
            } else {
                Ok(())
            }
        };
        let mass = |what: &str, m: u64| {
            if m == 0 {
                Err(format!("{what} mass is zero"))
            } else {
                check_mass_bound(what, u128::from(m))
            }
        };
        let many = |what: &str, n: usize, min: usize| {
            if n < min {
                Err(format!("{what}: needs at least {min}"))
            } else if n > MAX_LOTS_PER_EVENT {
                Err(format!("{what}: more than {MAX_LOTS_PER_EVENT}"))
            } else {
                Ok(())
            }
        };
        for lot in self.lots() {
            lot.check()?;
        }
        if let Some(a) = self.subject_actor() {
            a.check()?;
        }
        match self {
            EventBody::Genesis { ledger_name, authority_name, authority_key, .. } => {
                check_required("ledger name", ledger_name, MAX_FIELD)?;
                check_required("authority name", authority_name, MAX_FIELD)?;
                authority_key.check()?;
            }
            EventBody::RegisterActor { actor } => {
                check_required("actor name", &actor.name, MAX_FIELD)?;
                if actor.roles.is_empty() {
                    return Err(format!("actor {} has no role", actor.id));
                }
                if actor.roles.windows(2).any(|w| w[0] >= w[1]) {
                    return Err("roles must be sorted and without repeats".into());
                }
                actor.key.check()?;
                actor.attrs.check()?;
            }
            EventBody::SuspendActor { reason, .. } | EventBody::RevokeActor { reason, .. } => {
                check_required("reason", reason, MAX_FIELD)?;
            }
            EventBody::ReinstateActor { .. } => {}
            EventBody::RotateKey { new_key, .. } => new_key.check()?,
            EventBody::BindLogKey { key } => key.check()?,
            EventBody::Extract { material, mass_g, grade_ppm, licence, location, .. } => {
                if !material.is_raw() {
                    return Err(format!("a mine extracts ore or concentrate, not {material}"));
                }
                mass("extracted", *mass_g)?;
                if let Some(g) = grade_ppm {
                    grade(*g)?;
                }
                check_required("licence", licence, MAX_FIELD)?;
                location.check()?;
            }
            EventBody::Dispatch { to, transporter, document, .. } => {
                to.check()?;
                if let Some(t) = transporter {
                    t.check()?;
                }
                check_required("document number", document, MAX_FIELD)?;
            }
            EventBody::Receive { mass_g, .. } => mass("received", *mass_g)?,
            EventBody::Assay { grade_ppm, method, report, .. } => {
                grade(*grade_ppm)?;
                check_required("assay method", method, MAX_FIELD)?;
                check_required("assay report", report, MAX_FIELD)?;
            }
            EventBody::Smelt { inputs, outputs } | EventBody::Manufacture { inputs, outputs } => {
                let what = self.kind();
                many(&format!("{what} inputs"), inputs.len(), 1)?;
                many(&format!("{what} outputs"), outputs.len(), 1)?;
                for t in inputs {
                    mass(&format!("input {}", t.lot), t.mass_g)?;
                }
                for o in outputs {
                    mass(&format!("output {}", o.lot), o.mass_g)?;
                    grade(o.grade_ppm)?;
                    let ok = if matches!(self, EventBody::Smelt { .. }) {
                        o.material == Material::Ingot
                    } else {
                        o.material.is_product()
                    };
                    if !ok {
                        return Err(format!("{what} cannot produce {} (output {})", o.material, o.lot));
                    }
                }
            }
            EventBody::Split { parts, .. } => {
                many("split parts", parts.len(), 1)?;
                for p in parts {
                    mass(&format!("part {}", p.lot), p.mass_g)?;
                }
            }
            EventBody::Merge { inputs, .. } => many("merge inputs", inputs.len(), 2)?,
            EventBody::Export { destination, hs_code, permit, surveyor_report, consignee, .. } => {
                check_country("destination", destination)?;
                let hs_ok = hs_code.len() >= 4
                    && hs_code.len() <= 12
                    && hs_code.chars().all(|c| c.is_ascii_digit() || c == '.');
                if !hs_ok {
                    return Err(format!("HS code {} is not digits and dots (for example 8001.10)", quoted(hs_code)));
                }
                check_required("export permit", permit, MAX_FIELD)?;
                check_required("surveyor report", surveyor_report, MAX_FIELD)?;
                check_required("consignee", consignee, MAX_FIELD)?;
            }
            EventBody::Correct { mass_g, grade_ppm, reason, .. } => {
                if mass_g.is_none() && grade_ppm.is_none() {
                    return Err("a correction gives a new mass, a new grade or both".into());
                }
                if let Some(m) = mass_g {
                    mass("corrected", *m)?;
                }
                if let Some(g) = grade_ppm {
                    grade(*g)?;
                }
                check_required("correction reason", reason, MAX_FIELD)?;
            }
        }
        // No lot may appear twice in one event.
        let mut seen = std::collections::BTreeSet::new();
        for lot in self.lots() {
            if !seen.insert(lot) {
                return Err(format!("lot {lot} appears twice in one event"));
            }
        }
        Ok(())
    }
}

/// What an actor signs.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The ledger the event is for; binds the signature to it.
    pub ledger_id: LedgerId,
    /// The actor whose current key signs the event.
    pub signer: ActorId,
    /// When the actor says it happened (UTC, whole seconds). The rules do not
    /// compare it with any clock.
    pub at: Timestamp,
    /// Free text, at most [`MAX_NOTE`] bytes, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What happened.
    pub body: EventBody,
}

impl Event {
    /// Canonical bytes (docs/formats.md, "Event").
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Strictly decode canonical bytes and check field syntax.
    pub fn from_bytes(bytes: &[u8]) -> Result<Event, CodecError> {
        let ev: Event = codec::decode_strict(bytes, "event")?;
        ev.check().map_err(|reason| CodecError::Malformed { what: "event", reason })?;
        Ok(ev)
    }

    /// Field syntax of the whole event.
    pub fn check(&self) -> Result<(), String> {
        self.signer.check()?;
        self.at.check()?;
        if let Some(n) = &self.note {
            check_text("note", n, MAX_NOTE)?;
        }
        self.body.check()
    }

    /// Sign with `key`. Fails if the event is malformed.
    pub fn sign(&self, key: &SigningKey) -> Result<SignedEvent, String> {
        self.check()?;
        let bytes = codec::try_encode(self, "event").map_err(|e| e.to_string())?;
        let signature = key.sign(&signing_message(&bytes)).to_bytes();
        Ok(SignedEvent { bytes, signature, event: self.clone() })
    }
}

/// The exact message an Ed25519 signature covers.
pub fn signing_message(event_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNATURE_CONTEXT.len() + event_bytes.len());
    m.extend_from_slice(SIGNATURE_CONTEXT);
    m.extend_from_slice(event_bytes);
    m
}

/// A signed event: the canonical bytes that were signed, the signature, and
/// the decoded event (always equal to decoding `bytes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEvent {
    bytes: Vec<u8>,
    signature: [u8; 64],
    event: Event,
}

impl SignedEvent {
    /// Build from untrusted parts: decodes and checks the bytes. The signature
    /// is checked by the rules, which know the signer's key.
    pub fn from_parts(bytes: Vec<u8>, signature: [u8; 64]) -> Result<SignedEvent, CodecError> {
        let event = Event::from_bytes(&bytes)?;
        Ok(SignedEvent { bytes, signature, event })
    }
    /// The signed bytes and the signature, consuming the event.
    pub fn into_parts(self) -> (Vec<u8>, [u8; 64]) {
        (self.bytes, self.signature)
    }
    /// The canonical event bytes that were signed (docs/formats.md §2.5).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The 64-byte Ed25519 signature over [`signing_message`] of the bytes.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
    /// The decoded event (always what `bytes()` decodes to).
    pub fn event(&self) -> &Event {
        &self.event
    }
    /// The event id: SHA-256(EVENT_ID_CONTEXT || canonical event bytes).
    /// Two submissions of the same event have the same id.
    pub fn id(&self) -> [u8; 32] {
        event_id(&self.bytes)
    }
    /// Whether the signature is valid for `key` under the project's one
    /// criterion ([`crate::ed25519::verify`], docs/formats.md §4.1).
    pub fn verify(&self, key: &PublicKey) -> bool {
        self.verify_reason(key).is_ok()
    }
    /// Like [`SignedEvent::verify`], saying why a signature is refused.
    pub fn verify_reason(&self, key: &PublicKey) -> Result<(), crate::ed25519::SigError> {
        let k = crate::ed25519::PreparedKey::new(&key.0)?;
        crate::ed25519::verify_prepared(&k, &[SIGNATURE_CONTEXT, &self.bytes], &self.signature)
    }
}

/// SHA-256(EVENT_ID_CONTEXT || event bytes).
pub fn event_id(event_bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(EVENT_ID_CONTEXT);
    h.update(event_bytes);
    h.finalize().into()
}

impl Event {
    /// The actor whose history (the ledger's actor-history index, and what a
    /// certificate includes for an actor) lists this entry: the subject of
    /// an actor-management event, or the authority for `bind_log_key` (which
    /// only the authority signs).
    pub fn history_actor(&self) -> Option<&ActorId> {
        match &self.body {
            EventBody::BindLogKey { .. } => Some(&self.signer),
            b => b.subject_actor(),
        }
    }
}

impl Event {
    /// One line describing what the event does, for people.
    pub fn describe(&self) -> String {
        let ev = self;
        let m = |g: &u64| format_mass(*g);
        match &ev.body {
            EventBody::Genesis { ledger_name, authority, .. } => {
                format!("ledger {ledger_name:?} created by authority {authority}")
            }
            EventBody::RegisterActor { actor } => format!(
                "registered {} ({}) as {}",
                actor.id,
                actor.name,
                actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            ),
            EventBody::SuspendActor { actor, reason } => format!("suspended {actor}: {reason}"),
            EventBody::ReinstateActor { actor } => format!("reinstated {actor}"),
            EventBody::RevokeActor { actor, reason, compromised_since } => format!(
                "revoked {actor}: {reason}{}",
                compromised_since.map(|s| format!(" (compromised since seq {s})")).unwrap_or_default()
            ),
            EventBody::RotateKey { actor, new_key, compromised_since } => format!(
                "rotated key of {actor} to {}{}",
                new_key.key_id(),
                compromised_since.map(|s| format!(" (old key compromised since seq {s})")).unwrap_or_default()
            ),
            EventBody::Extract { lot, material, mass_g, grade_ppm, .. } => format!(
                "extracted {lot}: {material}, {}{}",
                m(mass_g),
                grade_ppm.map(|g| format!(", {}", format_grade(g))).unwrap_or_default()
            ),
            EventBody::Dispatch { lot, to, document, .. } => format!("dispatched {lot} to {to} (document {document})"),
            EventBody::Receive { lot, mass_g } => format!("received {lot}: {}", m(mass_g)),
            EventBody::Assay { lot, grade_ppm, method, .. } => {
                format!("assayed {lot}: {} ({method})", format_grade(*grade_ppm))
            }
            EventBody::Smelt { inputs, outputs } | EventBody::Manufacture { inputs, outputs } => {
                format!(
                    "{} {} -> {}",
                    if matches!(ev.body, EventBody::Smelt { .. }) { "smelted" } else { "manufactured" },
                    inputs.iter().map(|t| format!("{} {}", t.lot, m(&t.mass_g))).collect::<Vec<_>>().join(" + "),
                    outputs
                        .iter()
                        .map(|o| format!("{} {} {} {}", o.lot, o.material, m(&o.mass_g), format_grade(o.grade_ppm)))
                        .collect::<Vec<_>>()
                        .join(" + ")
                )
            }
            EventBody::Split { lot, parts } => format!(
                "split {lot} -> {}",
                parts.iter().map(|p| format!("{} {}", p.lot, m(&p.mass_g))).collect::<Vec<_>>().join(", ")
            ),
            EventBody::Merge { inputs, output } => {
                format!("merged {} -> {output}", inputs.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(" + "))
            }
            EventBody::Export { lot, destination, hs_code, .. } => {
                format!("exported {lot} to {destination} (HS {hs_code})")
            }
            EventBody::Correct { lot, entry_seq, mass_g, grade_ppm, reason, .. } => {
                let mut values = Vec::new();
                if let Some(g) = mass_g {
                    values.push(format!("mass {}", m(g)));
                }
                if let Some(g) = grade_ppm {
                    values.push(format!("grade {}", format_grade(*g)));
                }
                format!("corrected seq {entry_seq} on {lot}: {} ({reason})", values.join(", "))
            }
            EventBody::BindLogKey { key } => format!("bound log key {} (signs checkpoints)", key.key_id()),
        }
    }
}
