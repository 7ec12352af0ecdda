//! Portable export files (docs/storage.md, "Portable export"): what
//! `tinledger export` writes and `tinledger import-ledger` reads.
//!
//! UTF-8 text. Line 1 is a JSON header ([`ExportHeader`]:
//! `{"format":"tinledger-export-v1","ledger_id":…,"entries":N,"head":…,
//! "checkpoint":<signed note or null>}`); then N lines, line i+2 the
//! canonical bytes of entry i in lower-case hex ([`entry_line`]). The reader
//! accepts that and nothing else: no CR, no empty or blank-padded line, no
//! upper case, a final newline, exactly N entry lines, each line at most
//! [`MAX_HEADER_LINE`] or [`MAX_ENTRY_LINE`] bytes, and a genesis entry of
//! the header's ledger.
//!
//! The caller reads the lines (with those caps) and hands each one's bytes
//! to [`line_text`], the first to [`parse_header`] and the others, in
//! order, to an [`EntryLines`]. Nothing here opens a file or a ledger;
//! messages name the line but not the file, which the caller prepends.

use crate::error::FormatError;
use serde::{Deserialize, Serialize};
use tinledger_core::units::quoted;
use tinledger_core::{CodecError, Entry, LedgerId, SignedEvent};

/// Format tag of export files (the header's `format`).
pub const EXPORT_FORMAT: &str = "tinledger-export-v1";
/// Longest header line read: the JSON header, with its signed checkpoint note.
pub const MAX_HEADER_LINE: u64 = 1 << 20;
/// Longest entry line read: the hex of the largest entry that decodes.
pub const MAX_ENTRY_LINE: u64 = 2 * tinledger_core::codec::MAX_ENCODED_LEN as u64;

/// Line 1 of an export file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The exported ledger's id.
    pub ledger_id: LedgerId,
    /// How many entry lines follow.
    pub entries: u64,
    /// Hash of the last entry, hex.
    pub head: String,
    /// The latest signed checkpoint (a C2SP signed note), if the ledger has one.
    pub checkpoint: Option<String>,
}

impl ExportHeader {
    /// The header of an export of `entries` entries ending in `head` (hex).
    pub fn new(ledger_id: LedgerId, entries: u64, head: String, checkpoint: Option<String>) -> ExportHeader {
        ExportHeader { format: EXPORT_FORMAT.into(), ledger_id, entries, head, checkpoint }
    }

    /// Line 1 of the file, without its newline: compact JSON, fields in
    /// the order above.
    pub fn to_line(&self) -> Result<String, FormatError> {
        serde_json::to_string(self).map_err(|e| FormatError::invalid(e.to_string()))
    }
}

/// An entry line, without its newline: the entry's canonical bytes in
/// lower-case hex.
pub fn entry_line(entry_bytes: &[u8]) -> String {
    hex::encode(entry_bytes)
}

/// Why an export file was refused. Messages name the line (1-based) but
/// not the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The file has no line at all.
    #[error("empty file")]
    Empty,
    /// The last line has no `\n` after it.
    #[error("line {line}: does not end in a newline (a truncated export?)")]
    Unterminated {
        /// The line.
        line: u64,
    },
    /// A line holds nothing.
    #[error("line {line}: empty line (an export has none)")]
    EmptyLine {
        /// The line.
        line: u64,
    },
    /// A line ends in `\r\n`.
    #[error("line {line}: ends in a carriage return (CRLF); export lines end in \\n alone")]
    CarriageReturn {
        /// The line.
        line: u64,
    },
    /// A line is not UTF-8.
    #[error("line {line}: not UTF-8 text")]
    NotUtf8 {
        /// The line.
        line: u64,
    },
    /// The header line starts or ends with white space.
    #[error("line 1: white space before or after the header")]
    HeaderPadded,
    /// The header line is not the JSON header.
    #[error("line 1: not a tinledger export header: {0}")]
    NotHeader(String),
    /// The header's `format` is not [`EXPORT_FORMAT`].
    #[error("format is {}, expected {EXPORT_FORMAT:?}", quoted(.0))]
    Format(String),
    /// An entry line beyond the header's count.
    #[error("line {line}: more entries than the {entries} the header says")]
    TooManyEntries {
        /// The line.
        line: u64,
        /// The header's `entries`.
        entries: u64,
    },
    /// An entry line that is not lower-case hex.
    #[error("line {line}: {fault}")]
    Hex {
        /// The line.
        line: u64,
        /// What is wrong with it.
        fault: HexFault,
    },
    /// An entry's bytes (or the signed event in them) do not decode.
    #[error("entry {seq}: {source}")]
    Entry {
        /// The entry's place in the file (0 on line 2).
        seq: u64,
        /// The decoder's reason.
        source: CodecError,
    },
    /// An entry whose own seq is not its place in the file.
    #[error("line {line} holds entry {found} where entry {seq} belongs")]
    Misplaced {
        /// The line.
        line: u64,
        /// The seq inside the entry.
        found: u64,
        /// The seq its line stands for.
        seq: u64,
    },
    /// The genesis entry belongs to another ledger than the header's.
    #[error("line 2: the genesis entry is of ledger {found}, but the header says ledger {header}")]
    ForeignGenesis {
        /// The genesis event's ledger id.
        found: LedgerId,
        /// The header's ledger id.
        header: LedgerId,
    },
    /// Fewer entry lines than the header says.
    #[error("header says {header} entries but the file holds {found}")]
    Count {
        /// The header's `entries`.
        header: u64,
        /// The entry lines read.
        found: u64,
    },
    /// A header of 0 entries, and no entry line.
    #[error("the export holds no entries")]
    NoEntries,
}

/// What is wrong with an entry line's hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexFault {
    /// `A`–`F` at this column (1-based).
    #[error("column {0}: upper-case hex digit (export lines are lower-case hex)")]
    UpperCase(usize),
    /// A space or tab at this column.
    #[error("column {0}: white space (export lines are hex digits only)")]
    WhiteSpace(usize),
    /// Another character at this column.
    #[error("column {0}: {1:?} is not a hex digit")]
    NotDigit(usize, char),
    /// Hex digits, but not whole bytes.
    #[error("an odd number of hex digits")]
    OddLength,
}

/// The text of line `line` (its bytes without the `\n`): not empty, no
/// `\r` at its end, UTF-8.
pub fn line_text(line: u64, bytes: &[u8]) -> Result<&str, ExportError> {
    if bytes.is_empty() {
        return Err(ExportError::EmptyLine { line });
    }
    if bytes.last() == Some(&b'\r') {
        return Err(ExportError::CarriageReturn { line });
    }
    std::str::from_utf8(bytes).map_err(|_| ExportError::NotUtf8 { line })
}

/// The header on line 1 (its text from [`line_text`]): the JSON object,
/// no white space around it, no unknown field, format [`EXPORT_FORMAT`].
pub fn parse_header(text: &str) -> Result<ExportHeader, ExportError> {
    if text.trim() != text {
        return Err(ExportError::HeaderPadded);
    }
    let header: ExportHeader =
        tinledger_core::json::from_str(text).map_err(|e| ExportError::NotHeader(e.to_string()))?;
    if header.format != EXPORT_FORMAT {
        return Err(ExportError::Format(header.format));
    }
    Ok(header)
}

/// An entry line's bytes: lower-case hex digits and nothing else.
pub fn lower_hex(text: &str) -> Result<Vec<u8>, HexFault> {
    if let Some((i, c)) = text.char_indices().find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(match c {
            'A'..='F' => HexFault::UpperCase(i + 1),
            ' ' | '\t' => HexFault::WhiteSpace(i + 1),
            _ => HexFault::NotDigit(i + 1, c),
        });
    }
    hex::decode(text).map_err(|_| HexFault::OddLength)
}

/// One entry line, decoded.
pub struct ExportedEntry {
    /// Its place in the file, which is its seq.
    pub seq: u64,
    /// The canonical entry bytes the line holds.
    pub bytes: Vec<u8>,
    /// The signed event inside the entry.
    pub signed: SignedEvent,
}

/// The entry lines after a header, checked in order against it.
pub struct EntryLines<'a> {
    header: &'a ExportHeader,
    /// Entry lines accepted so far (the seq of the next).
    seq: u64,
}

impl<'a> EntryLines<'a> {
    /// The entry lines of the export that `header` starts.
    pub fn new(header: &'a ExportHeader) -> EntryLines<'a> {
        EntryLines { header, seq: 0 }
    }

    /// The next entry line (its text from [`line_text`]): within the
    /// header's count, lower-case hex of an entry that decodes, whose seq is
    /// its place, and (the first) a genesis of the header's ledger.
    pub fn next_entry(&mut self, text: &str) -> Result<ExportedEntry, ExportError> {
        let seq = self.seq;
        let line = seq + 2;
        if seq >= self.header.entries {
            return Err(ExportError::TooManyEntries { line, entries: self.header.entries });
        }
        let bytes = lower_hex(text).map_err(|fault| ExportError::Hex { line, fault })?;
        let e = Entry::from_bytes(&bytes).map_err(|source| ExportError::Entry { seq, source })?;
        if e.seq != seq {
            return Err(ExportError::Misplaced { line, found: e.seq, seq });
        }
        let signed = e.signed_event().map_err(|source| ExportError::Entry { seq, source })?;
        if seq == 0 && signed.event().ledger_id != self.header.ledger_id {
            return Err(ExportError::ForeignGenesis { found: signed.event().ledger_id, header: self.header.ledger_id });
        }
        self.seq += 1;
        Ok(ExportedEntry { seq, bytes, signed })
    }

    /// At the end of the file: as many entry lines as the header says, and
    /// at least one. Returns their number.
    pub fn finish(&self) -> Result<u64, ExportError> {
        if self.seq != self.header.entries {
            return Err(ExportError::Count { header: self.header.entries, found: self.seq });
        }
        if self.seq == 0 {
            return Err(ExportError::NoEntries);
        }
        Ok(self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_events::genesis;
    use tinledger_core::entry::EntryHash;

    const ID: LedgerId = LedgerId([7; 16]);

    fn line_of(seq: u64, s: &SignedEvent) -> String {
        entry_line(&Entry::new(seq, EntryHash::ZERO, s).to_bytes())
    }

    #[test]
    fn header_round_trips_and_is_strict() {
        let h = ExportHeader::new(ID, 3, "ab".repeat(32), Some("note\n".into()));
        let line = h.to_line().unwrap();
        assert!(line.starts_with(r#"{"format":"tinledger-export-v1","ledger_id":"#), "{line}");
        assert_eq!(parse_header(&line).unwrap(), h);
        assert_eq!(parse_header(&format!(" {line}")), Err(ExportError::HeaderPadded));
        assert!(matches!(parse_header("{}"), Err(ExportError::NotHeader(_))));
        let extra = line.replacen('{', r#"{"x":1,"#, 1);
        assert!(matches!(parse_header(&extra), Err(ExportError::NotHeader(m)) if m.contains("unknown field")));
        let other = line.replace("tinledger-export-v1", "tinledger-export-v9");
        let e = parse_header(&other).unwrap_err();
        assert_eq!(e.to_string(), r#"format is "tinledger-export-v9", expected "tinledger-export-v1""#);
    }

    #[test]
    fn lines_must_be_plain_text() {
        assert_eq!(line_text(4, b"ab"), Ok("ab"));
        assert_eq!(line_text(4, b""), Err(ExportError::EmptyLine { line: 4 }));
        assert_eq!(line_text(4, b"ab\r"), Err(ExportError::CarriageReturn { line: 4 }));
        assert_eq!(line_text(4, b"a\xff"), Err(ExportError::NotUtf8 { line: 4 }));
        assert_eq!(
            ExportError::CarriageReturn { line: 4 }.to_string(),
            "line 4: ends in a carriage return (CRLF); export lines end in \\n alone"
        );
    }

    #[test]
    fn entry_hex_is_lower_case_digits_only() {
        assert_eq!(lower_hex("00ff"), Ok(vec![0, 255]));
        assert_eq!(lower_hex("00Ff"), Err(HexFault::UpperCase(3)));
        assert_eq!(lower_hex("00 f"), Err(HexFault::WhiteSpace(3)));
        assert_eq!(lower_hex("0g"), Err(HexFault::NotDigit(2, 'g')));
        assert_eq!(lower_hex("0f0"), Err(HexFault::OddLength));
        let e = ExportError::Hex { line: 5, fault: HexFault::UpperCase(3) };
        assert_eq!(e.to_string(), "line 5: column 3: upper-case hex digit (export lines are lower-case hex)");
    }

    #[test]
    fn entries_round_trip_and_are_checked_against_the_header() {
        let g = genesis(ID);
        let h = ExportHeader::new(ID, 1, String::new(), None);
        let mut lines = EntryLines::new(&h);
        let got = lines.next_entry(&line_of(0, &g)).unwrap();
        assert_eq!((got.seq, got.signed.bytes()), (0, g.bytes()));
        assert_eq!(entry_line(&got.bytes), line_of(0, &g));
        assert_eq!(lines.finish(), Ok(1));
        // One line more than the header says.
        assert_eq!(lines.next_entry(&line_of(1, &g)).err(), Some(ExportError::TooManyEntries { line: 3, entries: 1 }));

        let mut lines = EntryLines::new(&h);
        assert_eq!(lines.finish(), Err(ExportError::Count { header: 1, found: 0 }));
        assert_eq!(lines.next_entry(&line_of(1, &g)).err(), Some(ExportError::Misplaced { line: 2, found: 1, seq: 0 }));
        assert!(matches!(lines.next_entry("00"), Err(ExportError::Entry { seq: 0, .. })));
        assert!(matches!(lines.next_entry("0"), Err(ExportError::Hex { line: 2, fault: HexFault::OddLength })));
        let foreign = genesis(LedgerId([8; 16]));
        assert_eq!(
            lines.next_entry(&line_of(0, &foreign)).err(),
            Some(ExportError::ForeignGenesis { found: LedgerId([8; 16]), header: ID })
        );

        let empty = ExportHeader::new(ID, 0, String::new(), None);
        assert_eq!(EntryLines::new(&empty).finish(), Err(ExportError::NoEntries));
    }
}
