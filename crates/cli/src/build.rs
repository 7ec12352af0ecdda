//! Resolve typed arguments into event bodies.

use crate::args::{
    ActorOnly, BindLogKeyArgs, CorrectArgs, Kind, NumberArgs, RegisterArgs, RevokeArgs, RotateArgs, Signing,
    SuspendArgs,
};
use crate::error::{CliError, UsageExt};
use crate::keys::parse_public_key;
use tinledger_core::event::{ActorAttrs, ActorRecord, EventBody, Output, Take};
use tinledger_core::units::{parse_grade, parse_grade_with, parse_mass, parse_mass_with, GeoPoint, Numbers, Role};
use tinledger_core::{ActorId, EntryHash, LotId};
use tinledger_formats::values;

fn actor(s: &str) -> Result<ActorId, CliError> {
    ActorId::new(s).usage()
}
fn lot(s: &str) -> Result<LotId, CliError> {
    LotId::new(s).usage()
}

impl From<NumberArgs> for Numbers {
    fn from(a: NumberArgs) -> Numbers {
        Numbers { decimal_comma: a.decimal_comma }
    }
}

fn mass(s: &str, n: &NumberArgs) -> Result<u64, CliError> {
    parse_mass_with(s, None, (*n).into()).usage()
}
fn grade(s: &str, n: &NumberArgs) -> Result<u32, CliError> {
    parse_grade_with(s, None, (*n).into()).usage()
}

/// `LOT:MASS` items (the syntax is the format crate's).
fn takes(v: &[String], n: &NumberArgs) -> Result<Vec<Take>, CliError> {
    v.iter().map(|s| Ok(values::take(s, (*n).into())?)).collect()
}

/// `LOT:MATERIAL:MASS:GRADE` items
fn outputs(v: &[String], n: &NumberArgs) -> Result<Vec<Output>, CliError> {
    v.iter().map(|s| Ok(values::output(s, (*n).into())?)).collect()
}

pub fn register_body(a: &RegisterArgs) -> Result<EventBody, CliError> {
    let mut roles = a.roles.iter().map(|r| r.parse::<Role>()).collect::<Result<Vec<_>, _>>().usage()?;
    roles.sort();
    roles.dedup();
    Ok(EventBody::RegisterActor {
        actor: ActorRecord {
            id: actor(&a.id)?,
            name: a.name.clone(),
            roles,
            key: parse_public_key(&a.public_key)?,
            attrs: ActorAttrs {
                iup: a.iup.clone(),
                rmi_cid: a.rmi_cid.clone(),
                nib: a.nib.clone(),
                country: a.country.clone(),
                location: a.location.as_deref().map(str::parse::<GeoPoint>).transpose().usage()?,
            },
        },
    })
}
pub fn suspend_body(a: &SuspendArgs) -> Result<EventBody, CliError> {
    Ok(EventBody::SuspendActor { actor: actor(&a.id)?, reason: a.reason.clone() })
}
pub fn reinstate_body(a: &ActorOnly) -> Result<EventBody, CliError> {
    Ok(EventBody::ReinstateActor { actor: actor(&a.id)? })
}
pub fn revoke_body(a: &RevokeArgs) -> Result<EventBody, CliError> {
    Ok(EventBody::RevokeActor {
        actor: actor(&a.id)?,
        reason: a.reason.clone(),
        compromised_since: a.compromised_since,
    })
}
pub fn rotate_body(a: &RotateArgs) -> Result<EventBody, CliError> {
    Ok(EventBody::RotateKey {
        actor: actor(&a.id)?,
        new_key: parse_public_key(&a.public_key)?,
        compromised_since: a.compromised_since,
    })
}
pub fn bind_log_key_body(a: &BindLogKeyArgs) -> Result<EventBody, CliError> {
    Ok(EventBody::BindLogKey { key: parse_public_key(&a.public_key)? })
}

/// The signing options and event body of a `record`/`sign` kind.
pub fn kind_body(k: &Kind) -> Result<(&Signing, EventBody), CliError> {
    Ok(match k {
        Kind::Extract { signing, numbers, lot: l, material, mass: m, grade: g, licence, location } => (
            signing,
            EventBody::Extract {
                lot: lot(l)?,
                material: material.parse().usage()?,
                mass_g: mass(m, numbers)?,
                grade_ppm: g.as_deref().map(|g| grade(g, numbers)).transpose()?,
                licence: licence.clone(),
                location: location.parse().usage()?,
            },
        ),
        Kind::Dispatch { signing, lot: l, to, transporter, document } => (
            signing,
            EventBody::Dispatch {
                lot: lot(l)?,
                to: actor(to)?,
                transporter: transporter.as_deref().map(actor).transpose()?,
                document: document.clone(),
            },
        ),
        Kind::Receive { signing, numbers, lot: l, mass: m } => {
            (signing, EventBody::Receive { lot: lot(l)?, mass_g: mass(m, numbers)? })
        }
        Kind::Assay { signing, numbers, lot: l, grade: g, method, report } => (
            signing,
            EventBody::Assay {
                lot: lot(l)?,
                grade_ppm: grade(g, numbers)?,
                method: method.clone(),
                report: report.clone(),
            },
        ),
        Kind::Smelt { signing, numbers, inputs, outputs: o } => {
            (signing, EventBody::Smelt { inputs: takes(inputs, numbers)?, outputs: outputs(o, numbers)? })
        }
        Kind::Manufacture { signing, numbers, inputs, outputs: o } => {
            (signing, EventBody::Manufacture { inputs: takes(inputs, numbers)?, outputs: outputs(o, numbers)? })
        }
        Kind::Split { signing, numbers, lot: l, parts } => {
            (signing, EventBody::Split { lot: lot(l)?, parts: takes(parts, numbers)? })
        }
        Kind::Merge { signing, inputs, output } => (
            signing,
            EventBody::Merge { inputs: inputs.iter().map(|s| lot(s)).collect::<Result<_, _>>()?, output: lot(output)? },
        ),
        Kind::Export { signing, lot: l, destination, hs_code, permit, surveyor_report, consignee } => (
            signing,
            EventBody::Export {
                lot: lot(l)?,
                destination: destination.clone(),
                hs_code: hs_code.clone(),
                permit: permit.clone(),
                surveyor_report: surveyor_report.clone(),
                consignee: consignee.clone(),
            },
        ),
        Kind::RegisterActor(a) => (&a.signing, register_body(a)?),
        Kind::SuspendActor(a) => (&a.signing, suspend_body(a)?),
        Kind::ReinstateActor(a) => (&a.signing, reinstate_body(a)?),
        Kind::RevokeActor(a) => (&a.signing, revoke_body(a)?),
        Kind::RotateKey(a) => (&a.signing, rotate_body(a)?),
        Kind::BindLogKey(a) => (&a.signing, bind_log_key_body(a)?),
        Kind::Correct(a) => {
            let (seq, hash) = match entry_ref(&a.entry)? {
                (Some(seq), Some(hash)) => (seq, hash),
                _ => {
                    return Err(CliError::usage(format!(
                        "--entry {} names the entry by seq or hash only; signing offline needs both",
                        a.entry
                    ))
                    .hint("write --entry SEQ:HASH with the seq and hash `tinledger log` shows, and --lot LOT"))
                }
            };
            let l = a.lot.as_deref().ok_or_else(|| {
                CliError::usage("--lot is required when signing a correction offline")
                    .hint("give the lot the corrected entry names")
            })?;
            (&a.signing, correct_body(a, seq, hash, lot(l)?)?)
        }
    })
}

/// `--entry` of a correction: `SEQ`, `HASH` (64 hex digits) or `SEQ:HASH`.
pub fn entry_ref(s: &str) -> Result<(Option<u64>, Option<EntryHash>), CliError> {
    let bad = || {
        CliError::usage(format!("--entry {s:?} is not SEQ, HASH or SEQ:HASH"))
            .hint("for example --entry 12, or --entry 12:<the 64 hex digits of its hash>")
    };
    let seq = |t: &str| t.parse::<u64>().map_err(|_| bad());
    let hash = |t: &str| t.parse::<EntryHash>().map_err(|_| bad());
    match s.split_once(':') {
        Some((a, b)) => Ok((Some(seq(a)?), Some(hash(b)?))),
        None if s.len() == 64 => Ok((None, Some(hash(s)?))),
        None => Ok((Some(seq(s)?), None)),
    }
}

/// The body of a correction of entry `seq` (with hash `hash`) on `lot`.
pub fn correct_body(a: &CorrectArgs, seq: u64, hash: EntryHash, lot: LotId) -> Result<EventBody, CliError> {
    if a.mass.is_none() && a.grade.is_none() {
        return Err(CliError::usage("a correction needs --mass, --grade or both").hint("give the right value"));
    }
    Ok(EventBody::Correct {
        lot,
        entry_seq: seq,
        entry_hash: hash,
        mass_g: a.mass.as_deref().map(parse_mass).transpose().usage()?,
        grade_ppm: a.grade.as_deref().map(parse_grade).transpose().usage()?,
        reason: a.reason.clone(),
    })
}
