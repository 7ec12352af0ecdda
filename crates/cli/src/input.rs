//! Reading input files with a cap on the bytes actually read.
//!
//! A size from `metadata()` is 0 for pipes, FIFOs, `/dev/zero` and most of
//! `/proc`, so it can only be a hint: every cap here counts the bytes that
//! were read (`Read::take(cap + 1)`) and refuses the file as soon as there is
//! one byte more than the cap. Nothing is read without a bound.
//!
//! `-` names standard input wherever a file is read (docs/cli.md §1.8): it
//! is capped exactly like a file, and read at most once per command.

use crate::error::CliError;
use std::io::{BufRead, Read};
use std::path::Path;

/// `256 MiB`, `2 GiB`, `64 KiB`: a cap as the messages and docs write it.
pub fn human(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} bytes")
}

/// Whether `path` is `-`: standard input (or, for an output, standard output).
pub fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How messages name an input: its path, or `standard input` for `-`.
pub fn name(path: &Path) -> String {
    if is_std(path) {
        "standard input".into()
    } else {
        path.display().to_string()
    }
}

/// The error for an input that holds more than `cap` bytes.
pub fn too_large(what: &str, path: &Path, cap: u64) -> CliError {
    CliError::usage(format!("{what} {} holds more than {}, the most tinledger reads", name(path), human(cap)))
}

/// The error for an input that cannot be opened or read.
pub fn cannot_read(what: &str, path: &Path, e: &std::io::Error) -> CliError {
    CliError::usage(format!("cannot read {what} {}: {e}", name(path)))
}

/// Open `path` for streaming, or standard input for `-`. The caller caps
/// what it reads (a line cap, or [`read_all_capped`]).
pub fn open(path: &Path, what: &str) -> Result<Box<dyn Read>, CliError> {
    if is_std(path) {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = std::fs::File::open(path).map_err(|e| cannot_read(what, path, &e))?;
    Ok(Box::new(f))
}

/// Every byte of `path` (standard input for `-`), refusing it once more
/// than `cap` bytes have been read.
pub fn read_capped(path: &Path, what: &str, cap: u64) -> Result<Vec<u8>, CliError> {
    let f = open(path, what)?;
    read_all_capped(f, cap).map_err(|e| cannot_read(what, path, &e))?.ok_or_else(|| too_large(what, path, cap))
}

/// [`read_capped`], as UTF-8 text.
pub fn read_text_capped(path: &Path, what: &str, cap: u64) -> Result<String, CliError> {
    String::from_utf8(read_capped(path, what, cap)?)
        .map_err(|_| CliError::usage(format!("{what} {} is not UTF-8 text", name(path))))
}

/// Refuse a second `-` among a command's inputs: standard input can be
/// read only once.
pub fn stdin_once<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), CliError> {
    if paths.into_iter().filter(|p| is_std(p)).count() > 1 {
        return Err(CliError::usage("`-` (standard input) is given more than once")
            .hint("standard input can be read only once: save all but one of the inputs to files"));
    }
    Ok(())
}

/// Read `r` to its end; `None` when it holds more than `cap` bytes.
pub fn read_all_capped(r: impl Read, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= cap).then_some(buf))
}

/// One line read by [`read_line_capped`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes without its `\n`.
    Complete,
    /// The input ended without a `\n` after these bytes (maybe none).
    Unterminated,
    /// The line is longer than the cap (nothing more of it was read).
    TooLong,
}

/// Read the next line of `r` into `buf` (cleared first), reading at most
/// `cap + 1` bytes. `Ok(None)` at the end of the input.
pub fn read_line_capped(r: &mut impl BufRead, cap: u64, buf: &mut Vec<u8>) -> std::io::Result<Option<Line>> {
    buf.clear();
    let n = r.by_ref().take(cap.saturating_add(1)).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(Line::Complete));
    }
    if buf.len() as u64 > cap {
        return Ok(Some(Line::TooLong));
    }
    Ok(Some(Line::Unterminated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_bytes_read() {
        assert_eq!(read_all_capped(&b"abcd"[..], 4).unwrap(), Some(b"abcd".to_vec()));
        assert_eq!(read_all_capped(&b"abcde"[..], 4).unwrap(), None);
        // An endless reader is read only up to the cap.
        assert_eq!(read_all_capped(std::io::repeat(0), 1000).unwrap(), None);
        assert_eq!(human(256 << 20), "256 MiB");
        assert_eq!(human(2 << 30), "2 GiB");
        assert_eq!(human(1000), "1000 bytes");
    }

    #[test]
    fn lines_are_capped_and_their_end_is_told() {
        let mut r = std::io::Cursor::new(b"ab\ncdef\n\ngh".to_vec());
        let mut b = Vec::new();
        assert_eq!(read_line_capped(&mut r, 3, &mut b).unwrap(), Some(Line::Complete));
        assert_eq!(b, b"ab");
        assert_eq!(read_line_capped(&mut r, 3, &mut b).unwrap(), Some(Line::TooLong));
        let mut r = std::io::Cursor::new(b"\ngh".to_vec());
        assert_eq!(read_line_capped(&mut r, 3, &mut b).unwrap(), Some(Line::Complete));
        assert!(b.is_empty());
        assert_eq!(read_line_capped(&mut r, 3, &mut b).unwrap(), Some(Line::Unterminated));
        assert_eq!(b, b"gh");
        assert_eq!(read_line_capped(&mut r, 3, &mut b).unwrap(), None);
        let mut r = std::io::BufReader::new(std::io::repeat(b'x'));
        assert_eq!(read_line_capped(&mut r, 10, &mut b).unwrap(), Some(Line::TooLong));
    }
}
