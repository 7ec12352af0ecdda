//! The text forms of multi-part values, shared by `record`/`sign` options
//! and bulk-file cells: `LOT:MASS` takes and `LOT:MATERIAL:MASS:GRADE`
//! outputs.

use crate::error::{FormatError, InvalidExt};
use tinledger_core::event::{Output, Take};
use tinledger_core::units::{parse_grade_with, parse_mass_with, quoted, Material, Numbers};
use tinledger_core::LotId;

fn lot(s: &str) -> Result<LotId, FormatError> {
    LotId::new(s).invalid()
}

/// `LOT:MASS`; the mass carries its unit (`ORE-001:1250kg`), its number
/// written as `numbers` says.
pub fn take(s: &str, numbers: Numbers) -> Result<Take, FormatError> {
    let (l, m) = s
        .rsplit_once(':')
        .ok_or_else(|| FormatError::invalid(format!("{} is not LOT:MASS (for example ORE-001:1250kg)", quoted(s))))?;
    Ok(Take { lot: lot(l)?, mass_g: parse_mass_with(m, None, numbers).invalid()? })
}

/// `LOT:MATERIAL:MASS:GRADE`; mass and grade carry their units
/// (`INGOT-42:ingot:540kg:99.9%`).
pub fn output(s: &str, numbers: Numbers) -> Result<Output, FormatError> {
    let parts: Vec<&str> = s.rsplitn(4, ':').collect();
    if parts.len() != 4 {
        return Err(FormatError::invalid(format!(
            "{} is not LOT:MATERIAL:MASS:GRADE (for example INGOT-42:ingot:540kg:99.9%)",
            quoted(s)
        )));
    }
    Ok(Output {
        lot: lot(parts[3])?,
        material: parts[2].parse::<Material>().invalid()?,
        mass_g: parse_mass_with(parts[1], None, numbers).invalid()?,
        grade_ppm: parse_grade_with(parts[0], None, numbers).invalid()?,
    })
}
