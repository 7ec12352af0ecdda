//! The text forms of multi-part values, shared by `record`/`sign` options
//! and bulk-file cells: `LOT:MASS` takes and `LOT:MATERIAL:MASS:GRADE`
//! outputs.

use crate::error::{FormatError, InvalidExt};
use tinledger_core::event::{Output, Take};
use tinledger_core::units::{parse_grade, parse_mass, quoted, Material};
use tinledger_core::LotId;

fn lot(s: &str) -> Result<LotId, FormatError> {
    LotId::new(s).invalid()
}

/// `LOT:MASS`
pub fn take(s: &str) -> Result<Take, FormatError> {
    let (l, m) = s
        .rsplit_once(':')
        .ok_or_else(|| FormatError::invalid(format!("{} is not LOT:MASS (for example ORE-001:1250kg)", quoted(s))))?;
    Ok(Take { lot: lot(l)?, mass_g: parse_mass(m).invalid()? })
}

/// `LOT:MATERIAL:MASS:GRADE`
pub fn output(s: &str) -> Result<Output, FormatError> {
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
        mass_g: parse_mass(parts[1]).invalid()?,
        grade_ppm: parse_grade(parts[0]).invalid()?,
    })
}
