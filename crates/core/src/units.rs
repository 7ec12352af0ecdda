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
    /// In range: 1970-01-01T00:00:00Z up to [`MAX_TIMESTAMP`] (the last second of 9999).
    pub fn check(&self) -> Result<(), String> {
        if (0..=MAX_TIMESTAMP).contains(&self.0) {
            Ok(())
        } else {
            Err(format!("timestamp {} is outside 1970..9999", self.0))
        }
    }
    /// RFC 3339 in UTC, e.g. `2026-03-02T07:30:00Z`.
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
        let t = time::OffsetDateTime::parse(text, rfc3339).map_err(|_| match time_hint(text) {
            Some(hint) => format!("time {} {hint}", quoted(s)),
            None => format!("time {} is not RFC 3339 (for example 2026-03-02T07:30:00Z)", quoted(s)),
        })?;
        if t.nanosecond() != 0 {
            return Err(format!("time {} has fractions of a second; use whole seconds", quoted(s)));
        }
        let ts = Timestamp(t.unix_timestamp());
        ts.check()?;
        Ok(ts)
    }
}
/// Leading ASCII digits of `s` (at most `max`) as a number, and the rest.
fn digits(s: &str, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take(max).take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// Hours, minutes and (if written) seconds of a time of day.
type Clock = (u32, u32, Option<u32>);

/// `hh:mm` or `hh:mm:ss` at the start of `s`, and the rest.
fn clock(s: &str) -> Option<(Clock, &str)> {
    let (h, r) = digits(s, 2)?;
    let (m, r) = digits(r.strip_prefix(':')?, 2)?;
    match r.strip_prefix(':').and_then(|r| digits(r, 2)) {
        Some((sec, r)) => Some(((h, m, Some(sec)), r)),
        None => Some(((h, m, None), r)),
    }
}

/// A valid calendar date as `yyyy-mm-dd`.
fn iso_date(y: u32, m: u32, d: u32) -> Option<String> {
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()?;
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// What to write instead of a time in a common non-RFC 3339 form
/// (spreadsheet dates `dd/mm/yyyy` and `mm/dd/yyyy`, a space for `T`, no
/// seconds, no UTC offset, `+0700`), as the rest of a message after the
/// quoted value; `None` when the text is not recognisably a time.
fn time_hint(text: &str) -> Option<String> {
    const WIB: &str = "+07:00";
    let wib_or_utc =
        |d: &str, c: &str| format!("write {d}T{c}{WIB} if it is WIB (Bangka Belitung time), or {d}T{c}Z if it is UTC");
    // yyyy-mm-dd[(T| )hh:mm[:ss]][offset]
    if let Some((y, r)) = digits(text, 4).filter(|(_, r)| r.starts_with('-')) {
        let (m, r) = digits(r.strip_prefix('-')?, 2)?;
        let (d, r) = digits(r.strip_prefix('-')?, 2)?;
        let date = iso_date(y, m, d)?;
        if r.is_empty() {
            return Some(format!(
                "is a date without a time of day; {} (for midnight; RFC 3339 needs date, time and offset)",
                wib_or_utc(&date, "00:00:00")
            ));
        }
        let space = r.starts_with(' ');
        let ((h, mi, sec), off) = clock(r.strip_prefix([' ', 'T', 't'])?.trim_start())?;
        let c = format!("{h:02}:{mi:02}:{:02}", sec.unwrap_or(0));
        let mut wrong = Vec::new();
        if space {
            wrong.push("a space instead of T");
        }
        if sec.is_none() {
            wrong.push("no seconds");
        }
        let off = off.trim();
        if off.is_empty() {
            wrong.push("no UTC offset");
            return Some(format!("has {}; {}", wrong.join(", "), wib_or_utc(&date, &c)));
        }
        let fixed_off = match off.as_bytes() {
            [b'+' | b'-', h1, h2, m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
                wrong.push("an offset without a colon");
                format!("{}:{}", &off[..3], &off[3..])
            }
            [b'+' | b'-', h1, h2] if h1.is_ascii_digit() && h2.is_ascii_digit() => {
                wrong.push("an offset without minutes");
                format!("{off}:00")
            }
            _ if off.eq_ignore_ascii_case("z") || off.eq_ignore_ascii_case("utc") => "Z".to_string(),
            _ if off.eq_ignore_ascii_case("wib") => {
                wrong.push("a zone name instead of an offset");
                WIB.to_string()
            }
            _ if off.starts_with(['+', '-']) && off.len() == 6 => off.to_string(),
            _ => return None,
        };
        if wrong.is_empty() {
            return None; // well-formed, so out of range (month 13, hour 25): the generic message
        }
        return Some(format!("has {}; write {date}T{c}{fixed_off}", wrong.join(", ")));
    }
    // a/b/yyyy or a.b.yyyy or a-b-yyyy, optionally followed by a time.
    let (a, r) = digits(text, 2)?;
    let sep = r.chars().next().filter(|c| ['/', '.', '-'].contains(c))?;
    let (b, r) = digits(&r[1..], 2)?;
    let (y, r) = digits(r.strip_prefix(sep)?, 4)?;
    if y < 1000 {
        return None;
    }
    let c = match r.trim() {
        "" => "00:00:00".to_string(),
        t => {
            let ((h, mi, sec), rest) = clock(t)?;
            if !rest.trim().is_empty() {
                return None;
            }
            format!("{h:02}:{mi:02}:{:02}", sec.unwrap_or(0))
        }
    };
    let dm = iso_date(y, b, a); // dd/mm/yyyy
    let md = iso_date(y, a, b); // mm/dd/yyyy
    let fix = |d: &str| format!("{d}T{c}{WIB}");
    let what = format!("is a spreadsheet date (dd{sep}mm{sep}yyyy or mm{sep}dd{sep}yyyy), not RFC 3339;");
    let tail = "with the time of day and offset (+07:00 is WIB, Z is UTC)";
    Some(match (dm, md) {
        (Some(x), Some(y)) if x != y => {
            format!("{what} write {} if it is day/month, or {} if it is month/day, {tail}", fix(&x), fix(&y))
        }
        (Some(x), _) | (None, Some(x)) => format!("{what} write {} {tail}", fix(&x)),
        (None, None) => return None,
    })
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
    /// Latitude, millionths of a degree (-90,000,000 ..= 90,000,000).
    pub lat_micro: i32,
    /// Longitude, millionths of a degree (-180,000,000 ..= 180,000,000).
    pub lon_micro: i32,
}

impl GeoPoint {
    /// Latitude and longitude in range; the error names the one that is not.
    pub fn check(&self) -> Result<(), String> {
        if !(-90_000_000..=90_000_000).contains(&self.lat_micro) {
            return Err(format!("latitude {} is outside -90..90", format_micro(self.lat_micro)));
        }
        if !(-180_000_000..=180_000_000).contains(&self.lon_micro) {
            return Err(format!("longitude {} is outside -180..180", format_micro(self.lon_micro)));
        }
        Ok(())
    }
    /// Latitude in degrees with six decimals, e.g. `-2.061700`.
    pub fn lat(&self) -> String {
        format_micro(self.lat_micro)
    }
    /// Longitude in degrees with six decimals, e.g. `105.158600`.
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

/// The units a mass may be written in (docs/cli.md §1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MassUnit {
    /// `g`: whole grams, no decimals.
    G,
    /// `kg`: up to 3 decimals.
    Kg,
    /// `t` (tonnes): up to 6 decimals.
    T,
}

impl MassUnit {
    /// The suffix as written (`kg`).
    pub fn as_str(&self) -> &'static str {
        match self {
            MassUnit::G => "g",
            MassUnit::Kg => "kg",
            MassUnit::T => "t",
        }
    }
    fn scale(&self) -> u32 {
        match self {
            MassUnit::G => 0,
            MassUnit::Kg => 3,
            MassUnit::T => 6,
        }
    }
    fn from_suffix(s: &str) -> Option<MassUnit> {
        match s.to_ascii_lowercase().as_str() {
            "g" => Some(MassUnit::G),
            "kg" => Some(MassUnit::Kg),
            "t" => Some(MassUnit::T),
            _ => None,
        }
    }
}

/// The units a tin grade may be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradeUnit {
    /// `%` Sn: up to 4 decimals.
    Pct,
    /// `ppm` Sn: whole parts per million.
    Ppm,
}

impl GradeUnit {
    /// The suffix as written (`%`).
    pub fn as_str(&self) -> &'static str {
        match self {
            GradeUnit::Pct => "%",
            GradeUnit::Ppm => "ppm",
        }
    }
    fn scale(&self) -> u32 {
        match self {
            GradeUnit::Pct => 4,
            GradeUnit::Ppm => 0,
        }
    }
    fn from_suffix(s: &str) -> Option<GradeUnit> {
        match s.to_ascii_lowercase().as_str() {
            "%" => Some(GradeUnit::Pct),
            "ppm" => Some(GradeUnit::Ppm),
            _ => None,
        }
    }
}

/// How the numbers of masses and grades are written: with a decimal point
/// (the default) or, only when asked for (`--decimal-comma`), a decimal
/// comma. Thousand separators are never accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Numbers {
    /// `1998,5kg` means 1998.5 kg (and `1998.5kg` is refused).
    pub decimal_comma: bool,
}

/// The accepted mass forms, for messages.
pub const MASS_FORMS: &str = "1250kg, 1.25t, 1250000g";
/// The accepted grade forms, for messages.
pub const GRADE_FORMS: &str = "72.5%, 725000ppm";

/// Longest number a message rewrites into a suggestion (longer ones are
/// not a mass anyway, and must not be echoed whole).
const MAX_SUGGESTED: usize = 40;

/// Characters spreadsheets and people use to group thousands.
const GROUPING: &[char] = &[' ', '\u{a0}', '\u{202f}', '\u{2009}', '\'', '_'];

/// A value split into its number and its unit suffix (the first letter or
/// `%` on), both trimmed: `"1250 kg"` → `("1250", "kg")`.
fn split_unit(t: &str) -> (&str, &str) {
    match t.find(|c: char| c.is_alphabetic() || c == '%') {
        Some(i) => (t[..i].trim_end(), t[i..].trim()),
        None => (t, ""),
    }
}

/// The number of a mass or grade in the canonical form `parse_decimal`
/// takes (digits, at most one `.`), or what to write instead when it uses
/// a locale form (decimal comma, thousand separators). `unit` is the suffix
/// written after it, for the suggestion.
fn canonical_number<'a>(
    what: &str,
    s: &str,
    num: &'a str,
    unit: &str,
    numbers: Numbers,
) -> Result<std::borrow::Cow<'a, str>, String> {
    let grouped = num.contains(GROUPING);
    if numbers.decimal_comma {
        if !grouped && !num.contains('.') {
            return Ok(std::borrow::Cow::Owned(num.replace(',', ".")));
        }
        if num.len() > MAX_SUGGESTED {
            return Err(format!(
                "{what} {} has a thousand separator or a decimal point, but --decimal-comma is set",
                quoted(s)
            ));
        }
        let fixed: String = num.chars().filter(|c| !GROUPING.contains(c) && *c != '.').collect();
        return Err(format!(
            "{what} {} has a thousand separator or a decimal point, but --decimal-comma is set; \
             write {fixed}{unit} (a comma for decimals, no thousand separators)",
            quoted(s)
        ));
    }
    if !grouped && !num.contains(',') {
        return Ok(std::borrow::Cow::Borrowed(num));
    }
    if num.len() > MAX_SUGGESTED {
        return Err(format!(
            "{what} {} is written in a locale form; write a point for decimals and no thousand separators",
            quoted(s)
        ));
    }
    // A bare number gets an example unit in the suggestion, and a note.
    let (unit, also) = match (unit, what) {
        ("", "mass") => ("kg", format!("; and give its unit ({MASS_FORMS})")),
        ("", _) => ("%", format!("; and give its unit ({GRADE_FORMS})")),
        (u, _) => (u, String::new()),
    };
    let bare: String = num.chars().filter(|c| !GROUPING.contains(c)).collect();
    let commas = bare.matches(',').count();
    let points = bare.matches('.').count();
    let tail = "(a point for decimals, no thousand separators)";
    let suggestion = if commas > 0 && points > 0 {
        // 1.998,5 or 1,998.5: the last separator is the decimal one.
        let dec = if bare.rfind(',') > bare.rfind('.') { ',' } else { '.' };
        let group = if dec == ',' { '.' } else { ',' };
        format!("write {}{unit} {tail}", bare.replace(group, "").replace(dec, "."))
    } else if commas == 1 && bare.split_once(',').is_some_and(|(_, f)| f.len() == 3) {
        // 1,998: a thousand separator or a decimal comma, no telling.
        let (i, f) = bare.split_once(',').unwrap_or_default();
        format!(
            "write {i}{f}{unit} if the comma separates thousands, or {i}.{f}{unit} if it is a decimal comma \
             (no thousand separators; a point for decimals, or pass --decimal-comma)"
        )
    } else if commas == 1 {
        format!("write {}{unit} {tail}, or pass --decimal-comma", bare.replace(',', "."))
    } else {
        format!("write {}{unit} {tail}", bare.replace(',', ""))
    };
    Err(format!("{what} {} is written in a locale form; {suggestion}{also}", quoted(s)))
}

/// Parse a mass written with its unit (docs/cli.md §1.5): a number without
/// a sign, an optional space and `g`, `kg` or `t` (any case): `1250kg`,
/// `1.25t`, `1250000g`, `99.4 kg`. Up to 3 decimals in kg, 6 in t, none in
/// g; it must come to a whole number of grams, at most [`MAX_MASS_G`]. A
/// bare number is refused: use [`parse_mass_with`] when the context (a
/// `mass_kg` column) names the unit.
pub fn parse_mass(s: &str) -> Result<u64, String> {
    parse_mass_with(s, None, Numbers::default())
}

/// [`parse_mass`], with `unit` for a bare number (a column named
/// `mass_kg`; a unit written in the value wins) and `numbers` saying
/// whether a decimal comma is accepted. Exact integer arithmetic.
pub fn parse_mass_with(s: &str, unit: Option<MassUnit>, numbers: Numbers) -> Result<u64, String> {
    let t = s.trim();
    if t.starts_with('+') {
        return Err(format!("mass {} has a sign; write masses without + (for example 1250kg)", quoted(s)));
    }
    if t.starts_with('-') {
        return Err(format!("mass {} is negative", quoted(s)));
    }
    let (num, suffix) = split_unit(t);
    let unit = match (suffix, unit) {
        ("", Some(u)) => u,
        ("", None) if num.is_empty() => {
            return Err(format!("mass is empty; write it with a unit: {MASS_FORMS}"));
        }
        ("", None) => {
            let n = canonical_number("mass", s, num, "", numbers)?;
            if n.len() > MAX_SUGGESTED {
                return Err(format!("mass {} has no unit; write it with one (accepted: {MASS_FORMS})", quoted(s)));
            }
            let g = if n.contains('.') { String::new() } else { format!(" or {n}g") };
            return Err(format!("mass {} has no unit; write {n}kg, {n}t{g} (accepted: {MASS_FORMS})", quoted(s)));
        }
        (x, _) => MassUnit::from_suffix(x).ok_or_else(|| match x.contains(|c: char| c.is_ascii_digit()) {
            // A letter among the digits (12O0kg): not a number before the unit.
            true => {
                format!("mass {} is not a number followed by a unit g, kg or t (for example {MASS_FORMS})", quoted(s))
            }
            false => format!("mass {} does not end in a unit g, kg or t (for example {MASS_FORMS})", quoted(s)),
        })?,
    };
    let num = canonical_number("mass", s, num, unit.as_str(), numbers)?;
    let scale = unit.scale();
    let too_large =
        || format!("mass {} is more than {}, the largest mass tinledger records", quoted(s), format_mass(MAX_MASS_G));
    let v = match parse_decimal(&num, scale) {
        Some(v) => v,
        // Well-formed, but more digits than parse_decimal takes: only too large.
        None if plain_decimal(&num, scale) => return Err(too_large()),
        None => {
            return Err(format!(
                "mass {} is not a whole number of grams (units: g, kg up to 3 decimals, t up to 6)",
                quoted(s)
            ))
        }
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

/// Parse a tin grade written with its unit: a percentage with up to 4
/// decimals (`72.5%`) or whole parts per million (`725000ppm`), an optional
/// space before the unit, at most 100 %. A bare number is refused.
pub fn parse_grade(s: &str) -> Result<u32, String> {
    parse_grade_with(s, None, Numbers::default())
}

/// [`parse_grade`], with `unit` for a bare number (a `grade_pct` column)
/// and `numbers` saying whether a decimal comma is accepted.
pub fn parse_grade_with(s: &str, unit: Option<GradeUnit>, numbers: Numbers) -> Result<u32, String> {
    let t = s.trim();
    if t.starts_with(['-', '+']) {
        return Err(format!("grade {} has a sign; write grades without one (for example {GRADE_FORMS})", quoted(s)));
    }
    let (num, suffix) = split_unit(t);
    let unit = match (suffix, unit) {
        ("", Some(u)) => u,
        ("", None) if num.is_empty() => return Err(format!("grade is empty; write it with a unit: {GRADE_FORMS}")),
        ("", None) => {
            let n = canonical_number("grade", s, num, "", numbers)?;
            if n.len() > MAX_SUGGESTED {
                return Err(format!("grade {} has no unit; write it with one (accepted: {GRADE_FORMS})", quoted(s)));
            }
            return Err(format!(
                "grade {} has no unit; write {n}% (percent Sn) or {n}ppm (parts per million Sn)",
                quoted(s)
            ));
        }
        (x, _) => GradeUnit::from_suffix(x).ok_or_else(|| {
            format!("grade {} does not end in a unit % or ppm (for example {GRADE_FORMS})", quoted(s))
        })?,
    };
    let num = canonical_number("grade", s, num, unit.as_str(), numbers)?;
    let v = parse_decimal(&num, unit.scale()).ok_or_else(|| match unit {
        GradeUnit::Pct => format!("grade {} is not a percentage with up to 4 decimals (72.5%)", quoted(s)),
        GradeUnit::Ppm => format!("grade {} is not a whole number of ppm (725000ppm)", quoted(s)),
    })?;
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
        pub enum $name { $(#[doc = concat!("Written `", $text, "` in JSON, on the command line and in messages.")] $var),+ }

        impl $name {
            /// Every value, in canonical index order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The value's text form: JSON, command line and messages.
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
        assert_eq!(parse_mass("1250000g").unwrap(), 1_250_000);
        assert_eq!(parse_mass("1250kg").unwrap(), 1_250_000);
        assert_eq!(parse_mass("1250 KG").unwrap(), 1_250_000);
        assert_eq!(parse_mass("1.25t").unwrap(), 1_250_000);
        assert_eq!(parse_mass("12.5g").ok(), None);
        assert!(parse_mass("-3").is_err());
        assert!(parse_mass("1e3").is_err());
        assert_eq!(format_mass(1_250_005), "1,250.005 kg");
    }

    #[test]
    fn masses_are_bounded_and_unsigned() {
        assert_eq!(parse_mass("10000t").unwrap(), MAX_MASS_G);
        assert_eq!(parse_mass("10000000000g").unwrap(), MAX_MASS_G);
        for s in [
            "10000000001g",
            "10000.000001t",
            "10000000.001kg",
            "18446744073709551616g",
            &format!("{}kg", "9".repeat(40)),
        ] {
            let e = parse_mass(s).unwrap_err();
            assert!(e.contains("is more than 10,000,000.000 kg, the largest mass tinledger records"), "{s}: {e}");
        }
        let e = parse_mass("+5kg").unwrap_err();
        assert!(e.contains("has a sign"), "{e}");
        assert!(
            parse_mass("1.2.3kg").unwrap_err().contains("is not a whole number of grams"),
            "{}",
            parse_mass("1.2.3kg").unwrap_err()
        );
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
        for big in ["1".repeat(1 << 20), format!("1,{}", "2".repeat(1 << 20)), format!("1 {}kg", "2".repeat(1 << 20))] {
            for numbers in [Numbers::default(), Numbers { decimal_comma: true }] {
                let e = parse_mass_with(&big, None, numbers).unwrap_err();
                assert!(e.len() < 300, "{}: {e}", e.len());
                let e = parse_grade_with(&big, None, numbers).unwrap_err();
                assert!(e.len() < 300, "{}: {e}", e.len());
            }
        }
        let e = long.parse::<Timestamp>().unwrap_err();
        assert!(e.len() < 200, "{}", e.len());
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 5), "éé…(10 bytes)");
    }

    #[test]
    fn grades() {
        assert_eq!(parse_grade("72.5%").unwrap(), 725_000);
        assert_eq!(parse_grade("725000ppm").unwrap(), 725_000);
        assert_eq!(parse_grade("72.5 %").unwrap(), 725_000);
        assert_eq!(parse_grade("725000 PPM").unwrap(), 725_000);
        assert_eq!(parse_grade("72.1234%").unwrap(), 721_234);
        assert!(parse_grade("72.12345%").unwrap_err().contains("up to 4 decimals"));
        assert!(parse_grade("72.5ppm").unwrap_err().contains("whole number of ppm"));
        assert!(parse_grade("-5%").unwrap_err().contains("has a sign"));
        assert!(parse_grade("101%").is_err());
        assert_eq!(format_grade(725_000), "72.50% Sn");
    }

    /// Issue 11: `--mass 2000` recorded 2 kg, `--grade 70` 70 ppm.
    #[test]
    fn bare_numbers_are_refused() {
        assert_eq!(
            parse_mass("2000").unwrap_err(),
            "mass \"2000\" has no unit; write 2000kg, 2000t or 2000g (accepted: 1250kg, 1.25t, 1250000g)"
        );
        assert_eq!(
            parse_mass("1.25").unwrap_err(),
            "mass \"1.25\" has no unit; write 1.25kg, 1.25t (accepted: 1250kg, 1.25t, 1250000g)"
        );
        assert_eq!(
            parse_grade("70").unwrap_err(),
            "grade \"70\" has no unit; write 70% (percent Sn) or 70ppm (parts per million Sn)"
        );
        assert!(parse_mass("").unwrap_err().contains("is empty"));
        assert!(parse_mass("5lb").unwrap_err().contains("does not end in a unit g, kg or t"));
        assert!(parse_mass("12O0kg").unwrap_err().contains("is not a number followed by a unit g, kg or t"));
        assert!(parse_grade("70pct").unwrap_err().contains("does not end in a unit % or ppm"));
        // A column that names the unit makes the bare number explicit.
        let n = Numbers::default();
        assert_eq!(parse_mass_with("1250", Some(MassUnit::Kg), n).unwrap(), 1_250_000);
        assert_eq!(parse_mass_with("1.25", Some(MassUnit::T), n).unwrap(), 1_250_000);
        assert_eq!(parse_mass_with("1250", Some(MassUnit::G), n).unwrap(), 1_250);
        assert_eq!(parse_mass_with("2t", Some(MassUnit::Kg), n).unwrap(), 2_000_000, "a written unit wins");
        assert_eq!(parse_grade_with("72.5", Some(GradeUnit::Pct), n).unwrap(), 725_000);
        assert_eq!(parse_grade_with("725000", Some(GradeUnit::Ppm), n).unwrap(), 725_000);
    }

    /// Issue 11: Excel's `1998,5` and thousand separators get a message
    /// saying what to write, or are read under `--decimal-comma`.
    #[test]
    fn locale_forms_are_refused_with_what_to_write() {
        let cases = [
            ("1998,5kg", "write 1998.5kg (a point for decimals, no thousand separators), or pass --decimal-comma"),
            ("1.998,5kg", "write 1998.5kg (a point for decimals, no thousand separators)"),
            ("1,998.5kg", "write 1998.5kg (a point for decimals, no thousand separators)"),
            ("1 998kg", "write 1998kg (a point for decimals, no thousand separators)"),
            ("1\u{a0}998 kg", "write 1998kg (a point for decimals, no thousand separators)"),
            ("1,250,000g", "write 1250000g (a point for decimals, no thousand separators)"),
            ("1,998kg", "write 1998kg if the comma separates thousands, or 1.998kg if it is a decimal comma"),
            ("72,5%", "write 72.5% (a point for decimals, no thousand separators), or pass --decimal-comma"),
        ];
        for (v, want) in cases {
            let e = if v.ends_with('%') { parse_grade(v) } else { parse_mass(v).map(|_| 0) }.unwrap_err();
            assert!(e.contains("is written in a locale form") && e.contains(want), "{v}: {e}");
        }
        let e = parse_mass("1998,5").unwrap_err();
        assert!(e.contains("write 1998.5kg ") && e.ends_with("and give its unit (1250kg, 1.25t, 1250000g)"), "{e}");
        let dc = Numbers { decimal_comma: true };
        assert_eq!(parse_mass_with("1998,5kg", None, dc).unwrap(), 1_998_500);
        assert_eq!(parse_mass_with("1998,5", Some(MassUnit::Kg), dc).unwrap(), 1_998_500);
        assert_eq!(parse_mass_with("1250kg", None, dc).unwrap(), 1_250_000);
        assert_eq!(parse_grade_with("72,5%", None, dc).unwrap(), 725_000);
        let e = parse_mass_with("1.998,5kg", None, dc).unwrap_err();
        assert!(e.contains("but --decimal-comma is set; write 1998,5kg"), "{e}");
        let e = parse_mass_with("1998.5kg", None, dc).unwrap_err();
        assert!(e.contains("write 19985kg"), "a point under --decimal-comma is a separator: {e}");
        assert!(parse_mass_with("1998,5", None, dc).unwrap_err().contains("has no unit; write 1998.5kg"));
    }

    /// Issue 11: spreadsheet and local times get what to write instead.
    #[test]
    fn time_forms_get_what_to_write() {
        let cases = [
            ("2026-03-01T10:00:00", "has no UTC offset; write 2026-03-01T10:00:00+07:00 if it is WIB (Bangka Belitung time), or 2026-03-01T10:00:00Z if it is UTC"),
            ("2026-03-01 10:00:00", "has a space instead of T, no UTC offset; write 2026-03-01T10:00:00+07:00 if it is WIB"),
            ("2026-03-01T10:00+07:00", "has no seconds; write 2026-03-01T10:00:00+07:00"),
            ("2026-03-01T10:00:00+0700", "has an offset without a colon; write 2026-03-01T10:00:00+07:00"),
            ("2026-03-01T10:00:00 WIB", "has a zone name instead of an offset; write 2026-03-01T10:00:00+07:00"),
            ("2026-03-01", "is a date without a time of day; write 2026-03-01T00:00:00+07:00 if it is WIB"),
            ("25/03/2026", "is a spreadsheet date (dd/mm/yyyy or mm/dd/yyyy), not RFC 3339; write 2026-03-25T00:00:00+07:00 with"),
            ("03/25/2026 14:30", "write 2026-03-25T14:30:00+07:00 with the time of day"),
            ("01/03/2026 10:00:00", "write 2026-03-01T10:00:00+07:00 if it is day/month, or 2026-01-03T10:00:00+07:00 if it is month/day"),
            ("01.03.2026", "(dd.mm.yyyy or mm.dd.yyyy)"),
        ];
        for (v, want) in cases {
            let e = v.parse::<Timestamp>().map(|t| t.to_string()).expect_err(v);
            assert!(e.starts_with(&format!("time {v:?} ")) && e.contains(want), "{v}: {e}");
        }
        // RFC 3339 (§5.6, note) allows a space for T; with an offset it is exact.
        assert_eq!("2026-03-01 10:00:00+07:00".parse::<Timestamp>().unwrap().to_string(), "2026-03-01T03:00:00Z");
        for v in ["2026-13-01T10:00:00Z", "31/02/2026", "yesterday", "2026-03-01T25:00:00Z"] {
            let e = v.parse::<Timestamp>().unwrap_err();
            assert!(e.contains("is not RFC 3339 (for example"), "{v}: {e}");
        }
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
