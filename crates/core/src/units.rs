//! Units and small value types: time, places, masses, grades, roles, materials.
//!
//! Masses are whole grams (`u64`), grades are parts per million of tin
//! (`u32`, at most 1,000,000) and coordinates are WGS84 microdegrees
//! (`i32`): no floating point anywhere in what is signed.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Latest accepted timestamp: 9999-12-31T23:59:59Z.
pub const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// A UTC instant, whole seconds since 1970-01-01T00:00:00Z.
/// In JSON and on the command line it is RFC 3339 (`2026-03-02T07:30:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn check(&self) -> Result<(), String> {
        if (0..=MAX_TIMESTAMP).contains(&self.0) {
            Ok(())
        } else {
            Err(format!("timestamp {} is outside 1970..9999", self.0))
        }
    }
    pub fn to_rfc3339(&self) -> String {
        match time::OffsetDateTime::from_unix_timestamp(self.0) {
            Ok(t) => t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| self.0.to_string()),
            Err(_) => self.0.to_string(),
        }
    }
}

impl std::str::FromStr for Timestamp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| format!("time {s:?} is not RFC 3339 (for example 2026-03-02T07:30:00Z)"))?;
        if t.nanosecond() != 0 {
            return Err(format!("time {s:?} has fractions of a second; use whole seconds"));
        }
        let ts = Timestamp(t.unix_timestamp());
        ts.check()?;
        Ok(ts)
    }
}
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}
impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Parse a decimal number with up to `scale` fraction digits into an integer
/// scaled by 10^scale, exactly (no floating point).
pub fn parse_decimal(s: &str, scale: u32) -> Option<i128> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if frac.len() > scale as usize || int.len() > 30 {
        return None;
    }
    let mut v: i128 = 0;
    for c in int.chars() {
        v = v.checked_mul(10)?.checked_add(i128::from(c as u8 - b'0'))?;
    }
    for i in 0..scale as usize {
        let d = frac.as_bytes().get(i).map_or(0, |b| b - b'0');
        v = v.checked_mul(10)?.checked_add(i128::from(d))?;
    }
    Some(if neg { -v } else { v })
}

fn format_micro(v: i32) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = i64::from(v).abs();
    format!("{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
}

/// A WGS84 point in microdegrees. Text form: `"-2.061700,105.158600"` (lat,lon).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct GeoPoint {
    pub lat_micro: i32,
    pub lon_micro: i32,
}

impl GeoPoint {
    pub fn check(&self) -> Result<(), String> {
        if !(-90_000_000..=90_000_000).contains(&self.lat_micro) {
            return Err(format!("latitude {} is outside -90..90", format_micro(self.lat_micro)));
        }
        if !(-180_000_000..=180_000_000).contains(&self.lon_micro) {
            return Err(format!("longitude {} is outside -180..180", format_micro(self.lon_micro)));
        }
        Ok(())
    }
    pub fn lat(&self) -> String {
        format_micro(self.lat_micro)
    }
    pub fn lon(&self) -> String {
        format_micro(self.lon_micro)
    }
}
impl fmt::Display for GeoPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.lat(), self.lon())
    }
}
impl std::str::FromStr for GeoPoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("location {s:?} is not LAT,LON in decimal degrees (for example -2.0617,105.1586)");
        let (a, b) = s.split_once(',').ok_or_else(err)?;
        let lat = parse_decimal(a, 6).ok_or_else(err)?;
        let lon = parse_decimal(b, 6).ok_or_else(err)?;
        let p = GeoPoint {
            lat_micro: i32::try_from(lat).map_err(|_| err())?,
            lon_micro: i32::try_from(lon).map_err(|_| err())?,
        };
        p.check()?;
        Ok(p)
    }
}
impl Serialize for GeoPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}
impl<'de> Deserialize<'de> for GeoPoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Parse a mass: whole grams (`1250000`), or with a unit `g`, `kg` or `t`
/// (`1250kg`, `1.25t`), which must come to a whole number of grams.
pub fn parse_mass(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, scale) = if let Some(n) = t.strip_suffix("kg") {
        (n, 3)
    } else if let Some(n) = t.strip_suffix('t') {
        (n, 6)
    } else if let Some(n) = t.strip_suffix('g') {
        (n, 0)
    } else {
        (t.as_str(), 0)
    };
    let v = parse_decimal(num, scale)
        .ok_or_else(|| format!("mass {s:?} is not a whole number of grams (units: g, kg, t)"))?;
    if v < 0 {
        return Err(format!("mass {s:?} is negative"));
    }
    u64::try_from(v).map_err(|_| format!("mass {s:?} is too large"))
}

/// Format grams for people: `1,250.000 kg`.
pub fn format_mass(g: u64) -> String {
    let kg = g / 1000;
    let rest = g % 1000;
    let digits = kg.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{rest:03} kg")
}

/// The largest grade: pure tin.
pub const MAX_GRADE_PPM: u32 = 1_000_000;

/// Parse a tin grade: parts per million (`725000`) or a percentage (`72.5%`).
pub fn parse_grade(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let v = if let Some(p) = t.strip_suffix('%') { parse_decimal(p, 4) } else { parse_decimal(t, 0) }
        .ok_or_else(|| format!("grade {s:?} is not ppm (725000) or a percentage (72.5%)"))?;
    if !(0..=i128::from(MAX_GRADE_PPM)).contains(&v) {
        return Err(format!("grade {s:?} is outside 0..100%"));
    }
    u32::try_from(v).map_err(|_| format!("grade {s:?} is out of range"))
}

/// Format a grade for people: `72.50% Sn`.
pub fn format_grade(ppm: u32) -> String {
    format!("{}.{:02}% Sn", ppm / 10_000, (ppm % 10_000) / 100)
}

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($var:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($var),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$var => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$var),)+
                    _ => Err(format!(
                        concat!("unknown ", stringify!($name), " {:?} (one of: {})"),
                        s,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

text_enum!(
    /// What an actor does in the supply chain. Canonical index = declaration order.
    Role {
        Mine = "mine",
        Collector = "collector",
        Smelter = "smelter",
        Lab = "lab",
        Manufacturer = "manufacturer",
        Exporter = "exporter",
        Auditor = "auditor",
        Transporter = "transporter",
    }
);

text_enum!(
    /// What a lot physically is. Canonical index = declaration order.
    Material {
        Ore = "ore",
        Concentrate = "concentrate",
        Ingot = "ingot",
        Solder = "solder",
        Tinplate = "tinplate",
        Component = "component",
    }
);

impl Material {
    /// Raw material a mine produces and a smelter consumes.
    pub fn is_raw(&self) -> bool {
        matches!(self, Material::Ore | Material::Concentrate)
    }
    /// Products of a manufacturer.
    pub fn is_product(&self) -> bool {
        matches!(self, Material::Solder | Material::Tinplate | Material::Component)
    }
}

/// Check free text: at most `max` bytes, no control characters.
pub fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        return Err(format!("{field} is longer than {max} bytes"));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(())
}

/// Check a required short text field: non-empty after trimming.
pub fn check_required(field: &'static str, s: &str, max: usize) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err(format!("{field} is empty"));
    }
    check_text(field, s, max)
}

/// ISO 3166-1 alpha-2 country code syntax: two upper-case letters.
pub fn check_country(field: &'static str, s: &str) -> Result<(), String> {
    if s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(format!("{field} {s:?} is not an ISO 3166-1 alpha-2 code (for example ID, SG, JP)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masses() {
        assert_eq!(parse_mass("1250000").unwrap(), 1_250_000);
        assert_eq!(parse_mass("1250kg").unwrap(), 1_250_000);
        assert_eq!(parse_mass("1.25t").unwrap(), 1_250_000);
        assert_eq!(parse_mass("12.5g").ok(), None);
        assert!(parse_mass("-3").is_err());
        assert!(parse_mass("1e3").is_err());
        assert_eq!(format_mass(1_250_005), "1,250.005 kg");
    }

    #[test]
    fn grades() {
        assert_eq!(parse_grade("72.5%").unwrap(), 725_000);
        assert_eq!(parse_grade("725000").unwrap(), 725_000);
        assert!(parse_grade("101%").is_err());
        assert_eq!(format_grade(725_000), "72.50% Sn");
    }

    #[test]
    fn points() {
        let p: GeoPoint = "-2.0617,105.1586".parse().unwrap();
        assert_eq!(p.lat_micro, -2_061_700);
        assert_eq!(p.to_string(), "-2.061700,105.158600");
        assert!("91,0".parse::<GeoPoint>().is_err());
        assert!("-0.5,0".parse::<GeoPoint>().unwrap().lat_micro == -500_000);
        assert_eq!("-0.5,0".parse::<GeoPoint>().unwrap().lat(), "-0.500000");
    }

    #[test]
    fn times() {
        let t: Timestamp = "2026-03-02T07:30:00Z".parse().unwrap();
        assert_eq!(t.to_rfc3339(), "2026-03-02T07:30:00Z");
        let t2: Timestamp = "2026-03-02T14:30:00+07:00".parse().unwrap();
        assert_eq!(t, t2);
        assert!("2026-03-02".parse::<Timestamp>().is_err());
    }
}
