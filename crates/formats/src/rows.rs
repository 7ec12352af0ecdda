//! Reading a bulk file (CSV of one kind, or JSON Lines) into rows, in one
//! pass, collecting every bad row instead of stopping at the first.

use crate::error::FormatError;
use crate::fields::{self, FieldErr, Fields, Spec, Unit};
use crate::keyfile::Passphrase;
use crate::signed::{SignedFile, SIGNED_FORMAT};
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::path::Path;
use tinledger_core::event::MAX_NOTE;
use tinledger_core::units::{check_text, clip, quoted, Numbers, Timestamp, MAX_ECHO_CHARS};

/// Longest reason reported for one bad row (bytes).
const MAX_REASON: usize = 1024;
use tinledger_core::{EventBody, SignedEvent};

/// Largest bulk file read (the whole file is held in memory), counted as
/// bytes read: about 1.4 million signed events, 5 million CSV rows.
pub const MAX_BULK_FILE: u64 = 1 << 30;

/// One event of the file, before or after signing.
pub enum Item {
    /// A row to be signed.
    Unsigned {
        /// The event body.
        body: EventBody,
        /// The row's `at` cell, if filled.
        at: Option<Timestamp>,
        /// The row's `note` cell, if filled.
        note: Option<String>,
    },
    /// A signed event (JSON Lines only).
    Signed(SignedEvent),
}

impl Item {
    /// The event body, signed or not.
    pub fn body(&self) -> &EventBody {
        match self {
            Item::Unsigned { body, .. } => body,
            Item::Signed(s) => &s.event().body,
        }
    }
}

/// A bad row: where and why. `refused` marks signed lines that do not
/// decode or do not match their readable event (exit 1, as `submit`).
#[derive(Debug)]
pub struct RowErr {
    /// The line the row starts on (1-based).
    pub line: u64,
    /// The column to blame, if one is.
    pub column: Option<String>,
    /// Why, for a person (capped).
    pub reason: String,
    /// A check said no (exit 1), rather than the row being malformed.
    pub refused: bool,
}

impl RowErr {
    fn new(line: u64, e: FieldErr) -> RowErr {
        RowErr { line, column: e.column, reason: e.reason, refused: false }.capped()
    }
    /// Column names and reasons come from the file (a header cell, a JSON
    /// member, a library's message quoting a value): keep them short.
    fn capped(mut self) -> RowErr {
        if let Some(c) = &self.column {
            if c.chars().nth(MAX_ECHO_CHARS).is_some() {
                self.column = Some(quoted(c));
            }
        }
        self.reason = clip(&self.reason, MAX_REASON).into_owned();
        self
    }
    /// `line 7, column mass: mass "12x kg" is not …`
    pub fn text(&self) -> String {
        match &self.column {
            Some(c) => format!("line {}, column {c}: {}", self.line, self.reason),
            None => format!("line {}: {}", self.line, self.reason),
        }
    }
}

/// The rows of a file: items and the line each starts on.
pub struct Rows {
    /// The rows, in file order.
    pub items: Vec<Item>,
    /// The line each row starts on.
    pub lines: Vec<u64>,
    /// `csv` or `jsonl`.
    pub format: &'static str,
}

/// What a file holds, by its name or, failing that, its first byte.
fn is_jsonl(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") | Some("tsv") | Some("txt") => false,
        Some("jsonl") | Some("ndjson") | Some("json") => true,
        _ => text.trim_start().starts_with('{'),
    }
}

/// How far parsing has come, in bytes of the text (a progress bar, or nothing).
pub trait Progress: Sync {
    /// The text is `len` bytes long.
    fn set_length(&self, _len: u64) {}
    /// Parsing has reached byte `pos`.
    fn set_position(&self, _pos: u64) {}
    /// Parsing moved on by `delta` bytes.
    fn inc(&self, _delta: u64) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Parse the bytes of a bulk file. `path` is only a name: its extension
/// tells CSV from JSON Lines (else the first byte does) and its stem a CSV
/// file's event kind, unless `kind` is given. `pass` unlocks an encrypted
/// key named in a `public_key` cell; `numbers` says how masses and grades
/// write their numbers (a decimal comma only when asked for). `Err` is a
/// file-level problem (not UTF-8, kind unknown); `Ok(Err(rows))` lists
/// every bad row.
pub fn parse(
    path: &Path,
    bytes: Vec<u8>,
    kind: Option<&str>,
    pass: Passphrase,
    numbers: Numbers,
    pb: &dyn Progress,
) -> Result<Result<Rows, Vec<RowErr>>, FormatError> {
    let text = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + upto.iter().filter(|b| **b == b'\n').count();
        FormatError::invalid(format!("{}: line {line} is not UTF-8 text", path.display()))
            .hint("save the file as UTF-8 (CSV UTF-8 in a spreadsheet's Save As)")
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    pb.set_length(text.len() as u64);
    if is_jsonl(path, text) {
        if let Some(k) = kind {
            return Err(FormatError::invalid(format!(
                "--kind {k} is for CSV files; each JSON line names its own \"kind\""
            )));
        }
        return Ok(jsonl(text, pass, numbers, pb));
    }
    let spec = match kind {
        Some(k) => fields::spec(k).ok_or_else(|| unknown_kind(k))?,
        None => {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            fields::spec_from_stem(stem).ok_or_else(|| {
                FormatError::invalid(format!("cannot tell the event kind of {}", path.display()))
                    .hint("name the file KIND.csv (for example smelt.csv) or pass --kind KIND")
            })?
        }
    };
    Ok(csv(text, spec, pass, numbers, pb))
}

fn unknown_kind(k: &str) -> FormatError {
    let kinds: Vec<&str> = fields::SPECS.iter().map(|s| s.kind).collect();
    FormatError::invalid(format!("unknown event kind {}; bulk files take {}", quoted(k), kinds.join(", ")))
}

/// `at` and `note` cells, shared by both formats.
fn at_note(f: &dyn Fields) -> Result<(Option<Timestamp>, Option<String>), FieldErr> {
    let at = match f.get("at")? {
        Some(s) => Some(s.parse::<Timestamp>().map_err(|r| FieldErr::at("at", r))?),
        None => None,
    };
    let note = match f.get("note")? {
        Some(n) => {
            check_text("note", &n, MAX_NOTE).map_err(|r| FieldErr::at("note", r))?;
            Some(n.into_owned())
        }
        None => None,
    };
    Ok((at, note))
}

fn unsigned(spec: &Spec, f: &dyn Fields, pass: Passphrase) -> Result<Item, FieldErr> {
    let body = spec.build(f, pass)?;
    let (at, note) = at_note(f)?;
    Ok(Item::Unsigned { body, at, note })
}

// ---- CSV ----

/// A header cell: the column it stands for and the unit its name gives.
type Column = (&'static str, Option<Unit>);

struct CsvRow<'a> {
    rec: &'a csv::StringRecord,
    /// Column of each header position (`None`: an empty header cell).
    header: &'a [Option<Column>],
    numbers: Numbers,
}

impl Fields for CsvRow<'_> {
    fn get(&self, col: &'static str) -> Result<Option<Cow<'_, str>>, FieldErr> {
        let Some(i) = self.header.iter().position(|h| h.is_some_and(|h| h.0 == col)) else { return Ok(None) };
        Ok(self.rec.get(i).map(str::trim).filter(|s| !s.is_empty()).map(Cow::Borrowed))
    }
    fn list(&self, col: &'static str) -> Result<Vec<Cow<'_, str>>, FieldErr> {
        Ok(match self.get(col)? {
            Some(Cow::Borrowed(s)) => fields::split_items(s).map(Cow::Borrowed).collect(),
            Some(Cow::Owned(s)) => fields::split_items(&s).map(|x| Cow::Owned(x.to_string())).collect(),
            None => vec![],
        })
    }
    fn unit(&self, col: &'static str) -> Option<Unit> {
        self.header.iter().flatten().find(|h| h.0 == col).and_then(|h| h.1)
    }
    fn numbers(&self) -> Numbers {
        self.numbers
    }
}

/// Line numbers from byte offsets, counting `\n` (so LF, CRLF and line
/// breaks inside quoted cells all count as one line each). The csv crate
/// ends a record at the `\r` of `\r\n` and starts the next one at the
/// `\n`, so its `Position::line` is one too low after CRLF line ends, and
/// its byte offset may point at line ends before the record (that `\n`,
/// skipped blank lines): a record starts at its first other byte.
/// Offsets are asked for in increasing order, so each byte is counted once.
struct Lines<'a> {
    text: &'a [u8],
    byte: usize,
    line: u64,
}

impl Lines<'_> {
    /// The 1-based line that byte `at` is on.
    fn at(&mut self, at: u64) -> u64 {
        let mut at = usize::try_from(at).unwrap_or(usize::MAX).min(self.text.len());
        while matches!(self.text.get(at), Some(b'\n' | b'\r')) {
            at += 1;
        }
        if at < self.byte {
            self.byte = 0;
            self.line = 1;
        }
        self.line += self.text[self.byte..at].iter().filter(|b| **b == b'\n').count() as u64;
        self.byte = at;
        self.line
    }
}

/// `,` unless the header row uses `;` and no `,` (spreadsheets in locales
/// with a decimal comma write `;`).
fn delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or_default();
    if first.contains(';') && !first.contains(',') {
        b';'
    } else {
        b','
    }
}

fn csv(
    text: &str,
    spec: &'static Spec,
    pass: Passphrase,
    numbers: Numbers,
    pb: &dyn Progress,
) -> Result<Rows, Vec<RowErr>> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter(text))
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    let mut errs = Vec::new();
    // Header row.
    let mut pos = Lines { text: text.as_bytes(), byte: 0, line: 1 };
    let header: Vec<Option<Column>> = match rdr.read_record(&mut rec) {
        Ok(true) => {
            let mut h: Vec<Option<Column>> = Vec::with_capacity(rec.len());
            for cell in rec.iter() {
                let name = cell.trim().to_ascii_lowercase().replace([' ', '-'], "_");
                if name.is_empty() {
                    h.push(None);
                    continue;
                }
                match fields::column(spec, &name) {
                    Some(c) if h.iter().flatten().any(|x| x.0 == c.0) => errs.push(RowErr::new(
                        1,
                        FieldErr::at(cell.trim(), format!("appears twice in the header row (as {})", c.0)),
                    )),
                    Some(c) => h.push(Some(c)),
                    None => errs.push(RowErr::new(
                        1,
                        FieldErr::at(
                            cell.trim(),
                            format!("not a column of {} (columns: {})", spec.kind, spec.columns()),
                        ),
                    )),
                }
            }
            for c in spec.required {
                if !h.iter().flatten().any(|x| x.0 == *c) {
                    errs.push(RowErr::new(
                        1,
                        FieldErr::row(format!("the header row has no column {c} (required for {})", spec.kind)),
                    ));
                }
            }
            h
        }
        Ok(false) => return Ok(Rows { items: vec![], lines: vec![], format: "csv" }),
        Err(e) => return Err(vec![RowErr::new(1, FieldErr::row(format!("cannot read the header row: {e}")))]),
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut items = Vec::new();
    let mut lines = Vec::new();
    let mut last_err_at = None;
    let mut n = 0u64;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec.position().map_or(0, |p| pos.at(p.byte()));
                n += 1;
                if n.is_multiple_of(4096) {
                    pb.set_position(rec.position().map_or(0, |p| p.byte()));
                }
                if rec.iter().all(|c| c.trim().is_empty()) {
                    continue; // blank spreadsheet row
                }
                if rec.len() > header.len() && rec.iter().skip(header.len()).any(|c| !c.trim().is_empty()) {
                    errs.push(RowErr::new(
                        line,
                        FieldErr::row(format!("{} cells, but the header row has {}", rec.len(), header.len())),
                    ));
                    continue;
                }
                match unsigned(spec, &CsvRow { rec: &rec, header: &header, numbers }, pass) {
                    Ok(item) => {
                        items.push(item);
                        lines.push(line);
                    }
                    Err(e) => errs.push(RowErr::new(line, e)),
                }
            }
            Err(e) => {
                let at = e.position().map(|p| (pos.at(p.byte()), p.byte()));
                errs.push(RowErr::new(at.map_or(0, |p| p.0), FieldErr::row(format!("not CSV: {e}"))));
                // Stop on I/O errors, or if the reader did not move on.
                if matches!(e.kind(), csv::ErrorKind::Io(_)) || at.is_none() || at == last_err_at {
                    break;
                }
                last_err_at = at;
            }
        }
    }
    pb.set_position(text.len() as u64);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Rows { items, lines, format: "csv" })
}

// ---- JSON Lines ----

struct JsonRow<'a> {
    map: &'a Map<String, Value>,
    numbers: Numbers,
}

impl<'a> JsonRow<'a> {
    /// The member for `col`: `col` itself or a name that gives its unit (`mass_kg`).
    fn member(&self, col: &'static str) -> Option<(&'a Value, Option<Unit>)> {
        if let Some(v) = self.map.get(col) {
            return Some((v, None));
        }
        fields::UNIT_COLUMNS
            .iter()
            .filter(|(_, base, _)| *base == col)
            .find_map(|(name, _, unit)| self.map.get(*name).map(|v| (v, Some(*unit))))
    }
}

fn json_scalar<'a>(col: &str, v: &'a Value) -> Result<Option<Cow<'a, str>>, FieldErr> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.trim()).filter(|s| !s.is_empty()).map(Cow::Borrowed)),
        Value::Number(n) => Ok(Some(Cow::Owned(n.to_string()))),
        _ => Err(FieldErr::at(col, "expected a string or a number")),
    }
}

impl Fields for JsonRow<'_> {
    fn get(&self, col: &'static str) -> Result<Option<Cow<'_, str>>, FieldErr> {
        match self.member(col).map(|m| m.0) {
            None => Ok(None),
            Some(Value::Array(_)) => Err(FieldErr::at(col, "expected one value, not an array")),
            Some(v) => json_scalar(col, v),
        }
    }
    fn unit(&self, col: &'static str) -> Option<Unit> {
        self.member(col).and_then(|m| m.1)
    }
    fn numbers(&self) -> Numbers {
        self.numbers
    }
    fn list(&self, col: &'static str) -> Result<Vec<Cow<'_, str>>, FieldErr> {
        match self.map.get(col) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(a)) => {
                let mut out = Vec::with_capacity(a.len());
                for v in a {
                    if let Some(s) = json_scalar(col, v)? {
                        out.push(s);
                    }
                }
                Ok(out)
            }
            Some(Value::String(s)) => Ok(fields::split_items(s).map(Cow::Borrowed).collect()),
            Some(_) => Err(FieldErr::at(col, "expected an array of strings, or a string of items separated by ;")),
        }
    }
}

fn json_line(line: u64, text: &str, pass: Passphrase, numbers: Numbers) -> Result<Item, RowErr> {
    let map: Map<String, Value> = tinledger_core::json::from_str(text)
        .map_err(|e| RowErr::new(line, FieldErr::row(format!("not a JSON object: {e}"))))?;
    if map.contains_key("format") || map.contains_key("event_hex") {
        let sf: SignedFile = serde_json::from_value(Value::Object(map))
            .map_err(|e| RowErr::new(line, FieldErr::row(format!("not a signed event ({SIGNED_FORMAT}): {e}"))))?;
        return sf
            .into_signed("signed event")
            .map(Item::Signed)
            .map_err(|e| RowErr { line, column: None, reason: e.msg().to_string(), refused: e.is_refused() }.capped());
    }
    let spec = match map.get("kind") {
        Some(Value::String(k)) => {
            fields::spec(k).ok_or_else(|| RowErr::new(line, FieldErr::at("kind", unknown_kind(k).msg())))?
        }
        Some(_) => return Err(RowErr::new(line, FieldErr::at("kind", "expected a string such as \"receive\""))),
        None => return Err(RowErr::new(line, FieldErr::row("no \"kind\" (and not a signed event)"))),
    };
    if let Some(k) = map.keys().find(|k| k.as_str() != "kind" && !spec.knows(k)) {
        return Err(RowErr::new(
            line,
            FieldErr::at(k, format!("not a field of {} (fields: {})", spec.kind, spec.columns())),
        ));
    }
    let mut named: Vec<(&str, &str)> =
        map.keys().filter_map(|k| Some((fields::column(spec, k)?.0, k.as_str()))).collect();
    named.sort();
    if let Some(w) = named.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(RowErr::new(
            line,
            FieldErr::at(w[1].1, format!("and {} are the same field; give one of them", quoted(w[0].1))),
        ));
    }
    unsigned(spec, &JsonRow { map: &map, numbers }, pass).map_err(|e| RowErr::new(line, e))
}

fn jsonl(text: &str, pass: Passphrase, numbers: Numbers, pb: &dyn Progress) -> Result<Rows, Vec<RowErr>> {
    // One pass to find the lines (borrowed, no copies), then parse them in parallel.
    let lines: Vec<(u64, &str)> =
        text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(i, l)| (i as u64 + 1, l)).collect();
    let chunk = 1024;
    let parsed: Vec<Vec<Result<Item, RowErr>>> = lines
        .par_chunks(chunk)
        .map(|c| {
            let out: Vec<_> = c.iter().map(|(n, l)| json_line(*n, l, pass, numbers)).collect();
            pb.inc(c.iter().map(|(_, l)| l.len() as u64 + 1).sum());
            out
        })
        .collect();
    let mut items = Vec::with_capacity(lines.len());
    let mut errs = Vec::new();
    for r in parsed.into_iter().flatten() {
        match r {
            Ok(item) => items.push(item),
            Err(e) => errs.push(e),
        }
    }
    pb.set_position(text.len() as u64);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Rows { items, lines: lines.iter().map(|(n, _)| *n).collect(), format: "jsonl" })
}
