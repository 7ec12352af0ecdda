//! The columns of each event kind in bulk files (docs/import.md §2), and the
//! builders that turn one row's cells into an event body.
//!
//! Values use the same syntax as the `record`/`sign` options (masses like
//! `1250kg`, grades like `72.5%`, always with a unit unless the column's
//! name gives one: `mass_kg`, `grade_pct`, see [`UNIT_COLUMNS`]; `LOT:MASS` items from `values::take`,
//! `LOT:MATERIAL:MASS:GRADE` items from `values::output`); a multi-valued cell
//! separates its items with `;`.

use crate::error::FormatError;
use crate::keyfile::{parse_public_key, Passphrase};
use crate::values;
use std::borrow::Cow;
use tinledger_core::event::{ActorAttrs, ActorRecord, EventBody, MAX_FIELD};
use tinledger_core::units::{
    check_country, check_required, parse_grade_with, parse_mass_with, quoted, GeoPoint, GradeUnit, MassUnit, Material,
    Numbers, Role,
};
use tinledger_core::{ActorId, LotId};

/// What is wrong with a row: the column (if one is to blame) and why.
#[derive(Debug)]
pub struct FieldErr {
    /// The column to blame, if one is.
    pub column: Option<String>,
    /// Why, for a person.
    pub reason: String,
}

impl FieldErr {
    /// A problem with one column's cell.
    pub fn at(column: &str, reason: impl Into<String>) -> FieldErr {
        FieldErr { column: Some(column.to_string()), reason: reason.into() }
    }
    /// A problem with the row as a whole.
    pub fn row(reason: impl Into<String>) -> FieldErr {
        FieldErr { column: None, reason: reason.into() }
    }
}

/// One row's cells, by column name. Empty cells read as absent.
pub trait Fields {
    /// The cell of column `col`, trimmed; `None` if absent or empty.
    fn get(&self, col: &'static str) -> Result<Option<Cow<'_, str>>, FieldErr>;
    /// A multi-valued cell: `A;B;C` (or, in JSON, an array of strings).
    fn list(&self, col: &'static str) -> Result<Vec<Cow<'_, str>>, FieldErr>;
    /// The unit the file's name for column `col` gives its bare numbers
    /// (`mass_kg` for `mass`), if it gives one.
    fn unit(&self, col: &'static str) -> Option<Unit>;
    /// How the file writes the numbers of masses and grades.
    fn numbers(&self) -> Numbers;
}

/// The unit a column name gives a bare number (docs/import.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A mass column (`mass_kg`).
    Mass(MassUnit),
    /// A grade column (`grade_pct`).
    Grade(GradeUnit),
}

/// Column (CSV header or JSON member) names that name a unit, and the
/// column they stand for: `mass_kg` is `mass` in kilograms.
pub const UNIT_COLUMNS: &[(&str, &str, Unit)] = &[
    ("mass_g", "mass", Unit::Mass(MassUnit::G)),
    ("mass_kg", "mass", Unit::Mass(MassUnit::Kg)),
    ("mass_t", "mass", Unit::Mass(MassUnit::T)),
    ("grade_pct", "grade", Unit::Grade(GradeUnit::Pct)),
    ("grade_ppm", "grade", Unit::Grade(GradeUnit::Ppm)),
];

/// The column a name stands for in `spec` and the unit it gives bare
/// numbers: `mass` → (`mass`, none), `mass_kg` → (`mass`, kg); `None` when
/// the name is not a column of `spec`.
pub fn column(spec: &Spec, name: &str) -> Option<(&'static str, Option<Unit>)> {
    if let Some(c) = spec.required.iter().chain(spec.optional).chain(COMMON).find(|c| **c == name) {
        return Some((c, None));
    }
    let (_, base, unit) = UNIT_COLUMNS.iter().find(|(n, _, _)| *n == name)?;
    let c = spec.required.iter().chain(spec.optional).find(|c| *c == base)?;
    Some((c, Some(*unit)))
}

/// Split a `;`-separated cell into its non-empty, trimmed items.
pub fn split_items(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty())
}

/// An event kind's columns and builder.
pub struct Spec {
    /// The event kind, as in the event JSON (`register_actor`).
    pub kind: &'static str,
    /// Columns every row must fill.
    pub required: &'static [&'static str],
    /// Columns a row may fill (besides [`COMMON`]).
    pub optional: &'static [&'static str],
    build: fn(&dyn Fields, Passphrase) -> Result<EventBody, FieldErr>,
}

/// Columns every kind accepts: event time and note.
pub const COMMON: &[&str] = &["at", "note"];

impl Spec {
    /// Whether `col` is a column of this kind.
    pub fn knows(&self, col: &str) -> bool {
        column(self, col).is_some()
    }
    /// Every column, required first, for messages.
    pub fn columns(&self) -> String {
        let mut v: Vec<String> = self.required.iter().map(|c| c.to_string()).collect();
        v.extend(self.optional.iter().chain(COMMON).map(|c| format!("[{c}]")));
        v.join(", ")
    }
    /// Build and field-check the body of one row; `pass` unlocks an
    /// encrypted private key named in a `public_key` cell.
    pub fn build(&self, f: &dyn Fields, pass: Passphrase) -> Result<EventBody, FieldErr> {
        let body = (self.build)(f, pass)?;
        body.check().map_err(|reason| FieldErr { column: blame(&reason).map(str::to_string), reason })?;
        Ok(body)
    }
}

/// The column a field-check message (`EventBody::check`) is about, if any.
fn blame(reason: &str) -> Option<&'static str> {
    const PREFIXES: &[(&str, &str)] = &[
        ("HS code", "hs_code"),
        ("destination", "destination"),
        ("export permit", "permit"),
        ("surveyor report", "surveyor_report"),
        ("consignee", "consignee"),
        ("licence", "licence"),
        ("document number", "document"),
        ("assay method", "method"),
        ("assay report", "report"),
        ("reason", "reason"),
        ("actor name", "name"),
        ("RMI smelter id", "rmi_cid"),
        ("NIB", "nib"),
        ("country", "country"),
        ("IUP licence", "iup"),
        ("split parts", "parts"),
        ("part ", "parts"),
        ("merge inputs", "inputs"),
        ("smelt inputs", "inputs"),
        ("manufacture inputs", "inputs"),
        ("input ", "inputs"),
        ("smelt outputs", "outputs"),
        ("manufacture outputs", "outputs"),
        ("output ", "outputs"),
        ("smelt cannot produce", "outputs"),
        ("manufacture cannot produce", "outputs"),
        ("a mine extracts", "material"),
        ("latitude", "location"),
        ("longitude", "location"),
    ];
    PREFIXES.iter().find(|(p, _)| reason.starts_with(p)).map(|(_, c)| *c)
}

/// The spec of a kind name (`register_actor` or `register-actor`).
pub fn spec(name: &str) -> Option<&'static Spec> {
    let n = name.trim().to_ascii_lowercase().replace('-', "_");
    SPECS.iter().find(|s| s.kind == n)
}

/// The kind a file name says (`smelt.csv`, `2026-03-21-smelt.csv`,
/// `muntok.register-actor.csv`): its stem is a kind name, or ends with
/// `-`, `_` or `.` followed by one. The longest match wins.
pub fn spec_from_stem(stem: &str) -> Option<&'static Spec> {
    let stem = stem.to_ascii_lowercase();
    let mut best: Option<&'static Spec> = None;
    for s in SPECS {
        let dashed = s.kind.replace('_', "-");
        for name in [s.kind, dashed.as_str()] {
            let hit = stem == name
                || stem
                    .strip_suffix(name)
                    .is_some_and(|rest| rest.ends_with('-') || rest.ends_with('_') || rest.ends_with('.'));
            if hit && best.is_none_or(|b| b.kind.len() < s.kind.len()) {
                best = Some(s);
            }
        }
    }
    best
}

/// Every kind bulk files can hold (all but `genesis`).
pub static SPECS: &[Spec] = &[
    Spec {
        kind: "extract",
        required: &["lot", "mass", "licence", "location"],
        optional: &["material", "grade"],
        build: extract,
    },
    Spec { kind: "dispatch", required: &["lot", "to", "document"], optional: &["transporter"], build: dispatch },
    Spec { kind: "receive", required: &["lot", "mass"], optional: &[], build: receive },
    Spec { kind: "assay", required: &["lot", "grade", "method", "report"], optional: &[], build: assay },
    Spec { kind: "smelt", required: &["inputs", "outputs"], optional: &[], build: smelt },
    Spec { kind: "split", required: &["lot", "parts"], optional: &[], build: split },
    Spec { kind: "merge", required: &["inputs", "output"], optional: &[], build: merge },
    Spec { kind: "manufacture", required: &["inputs", "outputs"], optional: &[], build: manufacture },
    Spec {
        kind: "export",
        required: &["lot", "destination", "hs_code", "permit", "surveyor_report", "consignee"],
        optional: &[],
        build: export,
    },
    Spec {
        kind: "register_actor",
        required: &["id", "name", "roles", "public_key"],
        optional: &["iup", "rmi_cid", "nib", "country", "location"],
        build: register_actor,
    },
    Spec { kind: "suspend_actor", required: &["id", "reason"], optional: &[], build: suspend_actor },
    Spec { kind: "reinstate_actor", required: &["id"], optional: &[], build: reinstate_actor },
    Spec { kind: "revoke_actor", required: &["id", "reason"], optional: &["compromised_since"], build: revoke_actor },
    Spec { kind: "rotate_key", required: &["id", "public_key"], optional: &["compromised_since"], build: rotate_key },
];

// ---- cell readers ----

fn req<'a>(f: &'a dyn Fields, col: &'static str) -> Result<Cow<'a, str>, FieldErr> {
    f.get(col)?.ok_or_else(|| FieldErr::at(col, "empty, but required"))
}

fn with<T>(col: &'static str, r: Result<T, String>) -> Result<T, FieldErr> {
    r.map_err(|reason| FieldErr::at(col, reason))
}

fn text(f: &dyn Fields, col: &'static str, what: &'static str) -> Result<String, FieldErr> {
    let s = req(f, col)?;
    with(col, check_required(what, &s, MAX_FIELD))?;
    Ok(s.into_owned())
}

fn opt_text(f: &dyn Fields, col: &'static str, what: &'static str) -> Result<Option<String>, FieldErr> {
    match f.get(col)? {
        None => Ok(None),
        Some(s) => {
            with(col, check_required(what, &s, MAX_FIELD))?;
            Ok(Some(s.into_owned()))
        }
    }
}

fn lot(f: &dyn Fields, col: &'static str) -> Result<LotId, FieldErr> {
    with(col, LotId::new(req(f, col)?.as_ref()))
}

fn actor(f: &dyn Fields, col: &'static str) -> Result<ActorId, FieldErr> {
    with(col, ActorId::new(req(f, col)?.as_ref()))
}

fn mass_unit(f: &dyn Fields, col: &'static str) -> Option<MassUnit> {
    match f.unit(col) {
        Some(Unit::Mass(u)) => Some(u),
        _ => None,
    }
}

fn grade_of(f: &dyn Fields, col: &'static str, s: &str) -> Result<u32, FieldErr> {
    let unit = match f.unit(col) {
        Some(Unit::Grade(u)) => Some(u),
        _ => None,
    };
    with(col, parse_grade_with(s, unit, f.numbers()))
}

fn mass(f: &dyn Fields, col: &'static str) -> Result<u64, FieldErr> {
    let s = req(f, col)?;
    let g = with(col, parse_mass_with(&s, mass_unit(f, col), f.numbers()))?;
    if g == 0 {
        return Err(FieldErr::at(col, format!("mass {} is zero", quoted(&s))));
    }
    Ok(g)
}

fn grade(f: &dyn Fields, col: &'static str) -> Result<u32, FieldErr> {
    grade_of(f, col, &req(f, col)?)
}

fn location(f: &dyn Fields, col: &'static str) -> Result<GeoPoint, FieldErr> {
    with(col, req(f, col)?.parse::<GeoPoint>())
}

fn seq(f: &dyn Fields, col: &'static str) -> Result<Option<u64>, FieldErr> {
    f.get(col)?
        .map(|s| {
            s.trim().parse::<u64>().map_err(|_| FieldErr::at(col, format!("{} is not a sequence number", quoted(&s))))
        })
        .transpose()
}

fn public_key(
    f: &dyn Fields,
    col: &'static str,
    pass: Passphrase,
) -> Result<tinledger_core::event::PublicKey, FieldErr> {
    parse_public_key(&req(f, col)?, pass).map_err(|e| FieldErr::at(col, e.msg()))
}

/// A required multi-valued cell, each item parsed by `p`.
fn items<T>(f: &dyn Fields, col: &'static str, p: impl Fn(&str) -> Result<T, FormatError>) -> Result<Vec<T>, FieldErr> {
    let raw = f.list(col)?;
    if raw.is_empty() {
        return Err(FieldErr::at(col, "empty, but required"));
    }
    raw.iter().map(|s| p(s).map_err(|e| FieldErr::at(col, e.msg()))).collect()
}

fn lot_item(s: &str) -> Result<LotId, FormatError> {
    LotId::new(s).map_err(FormatError::invalid)
}

// ---- builders, one per kind ----

fn extract(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::Extract {
        lot: lot(f, "lot")?,
        material: match f.get("material")? {
            Some(m) => with("material", m.parse::<Material>())?,
            None => Material::Ore,
        },
        mass_g: mass(f, "mass")?,
        grade_ppm: match f.get("grade")? {
            Some(g) => Some(grade_of(f, "grade", &g)?),
            None => None,
        },
        licence: text(f, "licence", "licence")?,
        location: location(f, "location")?,
    })
}

fn dispatch(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::Dispatch {
        lot: lot(f, "lot")?,
        to: actor(f, "to")?,
        transporter: match f.get("transporter")? {
            Some(t) => Some(with("transporter", ActorId::new(t.as_ref()))?),
            None => None,
        },
        document: text(f, "document", "document number")?,
    })
}

fn receive(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::Receive { lot: lot(f, "lot")?, mass_g: mass(f, "mass")? })
}

fn assay(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::Assay {
        lot: lot(f, "lot")?,
        grade_ppm: grade(f, "grade")?,
        method: text(f, "method", "assay method")?,
        report: text(f, "report", "assay report")?,
    })
}

fn smelt(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    let n = f.numbers();
    Ok(EventBody::Smelt {
        inputs: items(f, "inputs", |s| values::take(s, n))?,
        outputs: items(f, "outputs", |s| values::output(s, n))?,
    })
}

fn manufacture(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    let n = f.numbers();
    Ok(EventBody::Manufacture {
        inputs: items(f, "inputs", |s| values::take(s, n))?,
        outputs: items(f, "outputs", |s| values::output(s, n))?,
    })
}

fn split(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    let n = f.numbers();
    Ok(EventBody::Split { lot: lot(f, "lot")?, parts: items(f, "parts", |s| values::take(s, n))? })
}

fn merge(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::Merge { inputs: items(f, "inputs", lot_item)?, output: lot(f, "output")? })
}

fn export(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::Export {
        lot: lot(f, "lot")?,
        destination: {
            let d = req(f, "destination")?;
            with("destination", check_country("destination", &d))?;
            d.into_owned()
        },
        hs_code: text(f, "hs_code", "HS code")?,
        permit: text(f, "permit", "export permit")?,
        surveyor_report: text(f, "surveyor_report", "surveyor report")?,
        consignee: text(f, "consignee", "consignee")?,
    })
}

fn register_actor(f: &dyn Fields, pass: Passphrase) -> Result<EventBody, FieldErr> {
    let mut roles = items(f, "roles", |r| r.parse::<Role>().map_err(FormatError::invalid))?;
    roles.sort();
    roles.dedup();
    Ok(EventBody::RegisterActor {
        actor: ActorRecord {
            id: actor(f, "id")?,
            name: text(f, "name", "actor name")?,
            roles,
            key: public_key(f, "public_key", pass)?,
            attrs: ActorAttrs {
                iup: opt_text(f, "iup", "IUP licence")?,
                rmi_cid: f.get("rmi_cid")?.map(Cow::into_owned),
                nib: f.get("nib")?.map(Cow::into_owned),
                country: f.get("country")?.map(Cow::into_owned),
                location: match f.get("location")? {
                    Some(p) => Some(with("location", p.parse::<GeoPoint>())?),
                    None => None,
                },
            },
        },
    })
}

fn suspend_actor(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::SuspendActor { actor: actor(f, "id")?, reason: text(f, "reason", "reason")? })
}

fn reinstate_actor(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::ReinstateActor { actor: actor(f, "id")? })
}

fn revoke_actor(f: &dyn Fields, _: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::RevokeActor {
        actor: actor(f, "id")?,
        reason: text(f, "reason", "reason")?,
        compromised_since: seq(f, "compromised_since")?,
    })
}

fn rotate_key(f: &dyn Fields, pass: Passphrase) -> Result<EventBody, FieldErr> {
    Ok(EventBody::RotateKey {
        actor: actor(f, "id")?,
        new_key: public_key(f, "public_key", pass)?,
        compromised_since: seq(f, "compromised_since")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_file_names() {
        let k = |s: &str| spec_from_stem(s).map(|s| s.kind);
        assert_eq!(k("smelt"), Some("smelt"));
        assert_eq!(k("2026-03-21-receive"), Some("receive"));
        assert_eq!(k("muntok.register-actor"), Some("register_actor"));
        assert_eq!(k("register_actor"), Some("register_actor"));
        assert_eq!(k("emerge"), None);
        assert_eq!(k("day"), None);
        assert_eq!(spec("rotate-key").map(|s| s.kind), Some("rotate_key"));
        assert!(spec("genesis").is_none());
    }
}
