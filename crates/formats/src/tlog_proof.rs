//! C2SP `tlog-proof` v1 (<https://c2sp.org/tlog-proof>): an offline proof
//! that one entry is in a log's tree, with the (possibly cosigned)
//! checkpoint it is proved against. docs/formats.md, "tlog-proof".
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            (optional; tinledger: the entry's bytes)
//! index <decimal, no leading zeroes>
//! <base64 hash>             (zero or more: the RFC 6962 inclusion path, leaf's sibling first)
//!
//! <the checkpoint note, verbatim>
//! ```

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use tinledger_core::merkle::Hash;

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// Most proof hashes accepted (a tree of 2^64 leaves needs 64).
pub const MAX_HASHES: usize = 64;

/// A parsed tlog-proof (nothing verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// The `extra` line's bytes, if present (not authenticated by the format).
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry.
    pub index: u64,
    /// Inclusion path, leaf's sibling first.
    pub path: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    /// The proof's text.
    pub fn encode(&self) -> String {
        let mut s = format!("{HEADER}\n");
        if let Some(x) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(x)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.path {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parse a proof; the error names the line (1-based) and what is wrong.
    pub fn parse(text: &str) -> Result<TlogProof, String> {
        let mut rest = text;
        let mut n = 0usize;
        let mut next = |what: &str| -> Result<(usize, &str), String> {
            n += 1;
            let (line, after) =
                rest.split_once('\n').ok_or_else(|| format!("line {n}: missing {what} (the file ends early)"))?;
            rest = after;
            Ok((n, line))
        };
        let (_, first) = next("the header")?;
        if first != HEADER {
            return Err(format!("line 1: not a tlog-proof: the first line must be {HEADER}"));
        }
        let (mut ln, mut line) = next("the index line")?;
        let mut extra = None;
        if let Some(x) = line.strip_prefix("extra ") {
            extra = Some(B64.decode(x).map_err(|_| format!("line {ln}: the extra data is not base64"))?);
            (ln, line) = next("the index line")?;
        }
        let idx = line.strip_prefix("index ").ok_or_else(|| format!("line {ln}: expected `index N`"))?;
        let ok = !idx.is_empty() && idx.bytes().all(|b| b.is_ascii_digit()) && (idx == "0" || !idx.starts_with('0'));
        if !ok {
            return Err(format!("line {ln}: the index is not a decimal number without leading zeroes"));
        }
        let index: u64 = idx.parse().map_err(|_| format!("line {ln}: the index is out of range"))?;
        let mut path = Vec::new();
        loop {
            let (ln, line) = next("the blank line before the checkpoint")?;
            if line.is_empty() {
                break;
            }
            if path.len() == MAX_HASHES {
                return Err(format!("line {ln}: more than {MAX_HASHES} proof hashes"));
            }
            let h = B64
                .decode(line)
                .ok()
                .and_then(|v| Hash::try_from(v).ok())
                .ok_or_else(|| format!("line {ln}: a proof hash is not 32 bytes of base64"))?;
            path.push(h);
        }
        if rest.is_empty() {
            return Err("the checkpoint is missing after the blank line".into());
        }
        Ok(TlogProof { extra, index, path, checkpoint: rest.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TlogProof {
        TlogProof {
            extra: Some(b"entry".to_vec()),
            index: 5,
            path: vec![[1; 32], [2; 32]],
            checkpoint: "o\n6\nAAAA\n\n\u{2014} o AAAA\n".into(),
        }
    }

    #[test]
    fn encodes_the_spec_layout_and_parses_back() {
        let p = sample();
        let t = p.encode();
        assert!(t.starts_with("c2sp.org/tlog-proof@v1\nextra ZW50cnk=\nindex 5\nAQEB"));
        assert!(t.contains("=\n\no\n6\n"));
        assert_eq!(TlogProof::parse(&t), Ok(p.clone()));
        let bare = TlogProof { extra: None, path: vec![], ..p };
        assert_eq!(TlogProof::parse(&bare.encode()), Ok(bare));
    }

    #[test]
    fn refuses_bad_lines_naming_them() {
        let t = sample().encode();
        for (bad, want) in [
            (t.replacen("@v1", "@v2", 1), "line 1"),
            (t.replacen("index 5", "index 05", 1), "line 3"),
            (t.replacen("index 5", "idx 5", 1), "line 3"),
            (t.replacen("extra ZW50cnk=", "extra !!", 1), "line 2"),
            (t.replacen("AQEB", "AQ", 1), "line 4"),
            ("c2sp.org/tlog-proof@v1\nindex 1\n".to_string(), "line 3"),
        ] {
            let e = TlogProof::parse(&bad).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
