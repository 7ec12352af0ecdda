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

/// Most characters of an input value repeated in a message.
pub const MAX_ECHO_CHARS: usize = 64;

/// An input value as messages quote it: Rust string syntax (`"12O0kg"`),
/// cut after [`MAX_ECHO_CHARS`] characters and then marked with the
/// value's full length (`"AAAA…"…(104857600 bytes)`), so a hostile or
/// mistaken 100 MB cell cannot flood a terminal or a log.
pub fn quoted(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}…({} bytes)", &s[..cut], s.len()),
    }
}

/// A whole message cut to at most `max` bytes (at a character boundary),
/// marked with its full length: the last guard against echoing input that
/// reached a message through a library's own error text.
pub fn clip(msg: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if msg.len() <= max {
        return std::borrow::Cow::Borrowed(msg);
    }
    let mut cut = max;
    while !msg.is_char_boundary(cut) {
        cut -= 1;
    }
    std::borrow::Cow::Owned(format!("{}…({} bytes)", &msg[..cut], msg.len()))
}

/// A UTC instant, whole seconds since 1970-01-01T00:00:00Z.
/// In JSON and on the command line it is RFC 3339 (`2026-03-02T07:30:00Z`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
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
        let text = s.trim();
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        // RFC 3339 allows second 60 (a leap second); the `time` crate reads
        // one at the end of a UTC month as 59.999999999 and refuses others,
        // and neither must be reported as a fraction or a bad format.
        if text.get(17..19) == Some("60") {
            let as59 = format!("{}59{}", &text[..17], &text[19..]);
            if time::OffsetDateTime::parse(&as59, rfc3339).is_ok() {
                return Err(format!(
                    "time {} is a leap second (second 60), which tinledger does not record; \
                     write the second before it (:59) or after it (:00 of the next minute)",
                    quoted(s)
                ));
            }
        }
        let t = time::OffsetDateTime::parse(text, rfc3339)
            .map_err(|_| format!("time {} is not RFC 3339 (for example 2026-03-02T07:30:00Z)", quoted(s)))?;
        if t.nanosecond() != 0 {
            return Err(format!("time {} has fractions of a second; use whole seconds", quoted(s)));
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
        let err = || format!("location {} is not LAT,LON in decimal degrees (for example -2.0617,105.1586)", quoted(s));
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

/// The largest mass tinledger records, in grams: 10,000 t, for one lot and
/// for every quantity in an event. Far above any physical lot of tin ore,
/// concentrate or metal (a large ore carrier holds a few thousand tonnes),
/// and small enough that every number a certificate derives from masses
/// (lot masses, contained tin, each mine's tin) stays below 2^53 − 1, the
/// largest integer JSON carries exactly.
pub const MAX_MASS_G: u64 = 10_000_000_000;

/// `mass` is at most [`MAX_MASS_G`].
pub fn check_mass_bound(what: &str, mass_g: u128) -> Result<(), String> {
    if mass_g > u128::from(MAX_MASS_G) {
        return Err(format!(
            "{what} mass {} is more than {}, the largest mass tinledger records",
            format_mass_wide(mass_g),
            format_mass(MAX_MASS_G)
        ));
    }
    Ok(())
}

/// Parse a mass: whole grams (`1250000`), or with a unit `g`, `kg` or `t`
/// (`1250kg`, `1.25t`), which must come to a whole number of grams, without
/// a sign, at most [`MAX_MASS_G`].
pub fn parse_mass(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    if t.starts_with('+') {
        return Err(format!("mass {} has a sign; write masses without + (for example 1250kg)", quoted(s)));
    }
    let (num, scale) = if let Some(n) = t.strip_suffix("kg") {
        (n, 3)
    } else if let Some(n) = t.strip_suffix('t') {
        (n, 6)
    } else if let Some(n) = t.strip_suffix('g') {
        (n, 0)
    } else {
        (t.as_str(), 0)
    };
    let too_large =
        || format!("mass {} is more than {}, the largest mass tinledger records", quoted(s), format_mass(MAX_MASS_G));
    let v = match parse_decimal(num, scale) {
        Some(v) => v,
        // Well-formed, but more digits than parse_decimal takes: only too large.
        None if plain_decimal(num, scale) => return Err(too_large()),
        None => return Err(format!("mass {} is not a whole number of grams (units: g, kg, t)", quoted(s))),
    };
    if v < 0 {
        return Err(format!("mass {} is negative", quoted(s)));
    }
    if v > i128::from(MAX_MASS_G) {
        return Err(too_large());
    }
    u64::try_from(v).map_err(|_| too_large())
}

/// Digits, optionally `.` and at most `scale` more digits (no sign).
fn plain_decimal(num: &str, scale: u32) -> bool {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= scale as usize
}

/// Format grams for people: `1,250.000 kg`.
pub fn format_mass(g: u64) -> String {
    format_mass_wide(u128::from(g))
}

/// [`format_mass`] for sums that may exceed `u64` (such as a split's parts).
pub fn format_mass_wide(g: u128) -> String {
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
        .ok_or_else(|| format!("grade {} is not ppm (725000) or a percentage (72.5%)", quoted(s)))?;
    if !(0..=i128::from(MAX_GRADE_PPM)).contains(&v) {
        return Err(format!("grade {} is outside 0..100%", quoted(s)));
    }
    u32::try_from(v).map_err(|_| format!("grade {} is out of range", quoted(s)))
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
                        concat!("unknown ", stringify!($name), " {} (one of: {})"),
                        quoted(s),
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
        Err(format!("{field} {} is not an ISO 3166-1 alpha-2 code (for example ID, SG, JP)", quoted(s)))
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
    fn masses_are_bounded_and_unsigned() {
        assert_eq!(parse_mass("10000t").unwrap(), MAX_MASS_G);
        assert_eq!(parse_mass("10000000000").unwrap(), MAX_MASS_G);
        for s in ["10000000001", "10000.000001t", "10000000.001kg", "18446744073709551616", &"9".repeat(40)] {
            let e = parse_mass(s).unwrap_err();
            assert!(e.contains("is more than 10,000,000.000 kg, the largest mass tinledger records"), "{s}: {e}");
        }
        let e = parse_mass("+5kg").unwrap_err();
        assert!(e.contains("has a sign"), "{e}");
        assert!(parse_mass("1.2.3kg").unwrap_err().contains("is not a whole number of grams"));
        assert!(parse_mass("-5kg").unwrap_err().contains("is negative"));
        assert!(check_mass_bound("merged", u128::from(MAX_MASS_G)).is_ok());
        let e = check_mass_bound("merged", u128::from(MAX_MASS_G) + 1).unwrap_err();
        assert_eq!(
            e,
            "merged mass 10,000,000.001 kg is more than 10,000,000.000 kg, the largest mass tinledger records"
        );
        assert_eq!(format_mass_wide(u128::from(u64::MAX) + 1000), "18,446,744,073,709,552.615 kg");
    }

    #[test]
    fn echoed_values_are_capped() {
        assert_eq!(quoted("12O0kg"), "\"12O0kg\"");
        let long = "x".repeat(100 * 1024 * 1024);
        let q = quoted(&long);
        assert_eq!(q, format!("\"{}\"…(104857600 bytes)", "x".repeat(64)));
        // Cut at a character, not a byte.
        let wide = "é".repeat(65);
        assert_eq!(quoted(&wide), format!("\"{}\"…(130 bytes)", "é".repeat(64)));
        let e = parse_mass(&long).unwrap_err();
        assert!(e.len() < 200, "{}", e.len());
        let e = long.parse::<Timestamp>().unwrap_err();
        assert!(e.len() < 200, "{}", e.len());
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 5), "éé…(10 bytes)");
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
        for leap in ["2016-12-31T23:59:60Z", "2017-01-01T07:59:60+07:00", "2026-03-02T07:30:60Z"] {
            let e = leap.parse::<Timestamp>().unwrap_err();
            assert!(e.contains("is a leap second") && !e.contains("fraction"), "{leap}: {e}");
        }
        assert!("2026-03-02T07:30:61Z".parse::<Timestamp>().unwrap_err().contains("is not RFC 3339"));
        let e = "2026-03-02T07:30:00.5Z".parse::<Timestamp>().unwrap_err();
        assert!(e.contains("fractions of a second"), "{e}");
    }
}
