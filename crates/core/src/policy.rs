//! C2SP `tlog-policy` (<https://c2sp.org/tlog-policy>): which logs a
//! verifier accepts and which witnesses must have cosigned a checkpoint.
//!
//! A policy file is lines of `log <vkey> [<url>]`,
//! `witness <name> <vkey> [<url>]`, `group <name> all|any|<k> <name>...`
//! and exactly one `quorum <name>` (`none`: no cosignature needed).
//! Whitespace is spaces and tabs only; blank lines and lines starting with
//! `#` (after optional whitespace) are ignored; a group or the quorum only
//! names witnesses and groups defined on earlier lines, each member at most
//! once; two logs or two witnesses with the same public key are refused.
//! Allowed octets: tab, newline, 0x20–0x7E and 0x80–0xFF; octets with the
//! high bit set are opaque (names are compared as octet strings).
//! A checkpoint satisfies a policy when one of its logs signed it (the
//! origin is that log's key name) and its witnesses' cosignatures meet
//! the quorum ([`Policy::check`]).

use crate::checkpoint::Checkpoint;
use crate::cosig::{CosignatureVerifier, Cosigned};
use crate::note::{Note, NoteError, Verifier};
use std::collections::BTreeSet;

/// Largest policy file we parse.
pub const MAX_POLICY_LEN: usize = 1 << 20;
/// Most logs, witnesses and groups each (the spec asks for at least 32).
pub const MAX_ITEMS: usize = 1024;

/// A log the policy accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// The log's note verifier (its name is the log's origin).
    pub verifier: Verifier,
    /// Its URL, if given.
    pub url: Option<String>,
}

/// A witness the policy knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// The policy's name for it (opaque octets, shown lossily).
    pub name: Vec<u8>,
    /// Its cosignature verifier key.
    pub verifier: CosignatureVerifier,
    /// Its `tlog-witness` submission prefix URL, if given.
    pub url: Option<String>,
}

impl PolicyWitness {
    /// The policy name, for messages.
    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    name: Vec<u8>,
    k: usize,
    members: Vec<Member>,
}

/// A parsed trust policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Accepted logs (may be empty: the caller knows the log from context).
    pub logs: Vec<PolicyLog>,
    /// Known witnesses.
    pub witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    /// `None`: `quorum none`.
    quorum: Option<Member>,
}

/// Why a policy file was refused, or a checkpoint failed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy file is malformed (line number, 1-based, and why).
    #[error("policy line {line}: {msg}")]
    Syntax {
        /// 1-based line number (0: the whole file).
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// No log of the policy signed the checkpoint.
    #[error("the checkpoint is not signed by a log of the policy ({0})")]
    NoLog(String),
    /// The cosignatures do not meet the quorum.
    #[error("the checkpoint lacks the policy's quorum ({rule}): missing cosignatures from {}{}", missing.join(", "), if cosigned.is_empty() { String::new() } else { format!("; cosigned by {}", cosigned.join(", ")) })]
    Quorum {
        /// The quorum rule, spelled out.
        rule: String,
        /// Witnesses of the quorum that did not cosign (policy names).
        missing: Vec<String>,
        /// Witnesses that did (policy names).
        cosigned: Vec<String>,
    },
    /// The note itself is malformed.
    #[error("{0}")]
    Note(#[from] NoteError),
}

/// A checkpoint that satisfies a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The checkpoint (when the policy lists logs, opened with one of them).
    pub checkpoint: Checkpoint,
    /// The log that signed it (`None` when the policy lists no logs).
    pub log: Option<Verifier>,
    /// Every witness of the policy whose cosignature verified, by policy name.
    pub cosigned: Vec<(String, Cosigned)>,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn utf8(tok: &[u8], what: &str, line: usize) -> Result<String, PolicyError> {
    String::from_utf8(tok.to_vec()).map_err(|_| PolicyError::Syntax { line, msg: format!("{what} is not valid UTF-8") })
}

impl Policy {
    /// Parse a policy file.
    pub fn parse(src: &[u8]) -> Result<Policy, PolicyError> {
        if src.len() > MAX_POLICY_LEN {
            return Err(PolicyError::Syntax { line: 0, msg: "policy file is larger than 1 MiB".into() });
        }
        let mut p = Policy { logs: Vec::new(), witnesses: Vec::new(), groups: Vec::new(), quorum: None };
        let mut have_quorum = false;
        let mut names: Vec<(Vec<u8>, Member)> = Vec::new();
        let lookup = |names: &[(Vec<u8>, Member)], n: &[u8]| names.iter().find(|(x, _)| x == n).map(|(_, m)| *m);
        let body = src.strip_suffix(b"\n").unwrap_or(src);
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let err = |msg: String| PolicyError::Syntax { line, msg };
            if let Some(b) = raw.iter().find(|&&b| !(b == b'\t' || (0x20..=0x7e).contains(&b) || b >= 0x80)) {
                return Err(err(format!("octet 0x{b:02x} is not allowed in a policy file")));
            }
            let toks: Vec<&[u8]> = raw.split(|&b| is_ws(b)).filter(|t| !t.is_empty()).collect();
            let Some(first) = toks.first() else { continue };
            if first.starts_with(b"#") {
                continue;
            }
            match *first {
                b"log" => {
                    if !(2..=3).contains(&toks.len()) {
                        return Err(err("expected 'log <vkey> [<url>]'".into()));
                    }
                    let v =
                        Verifier::parse(&utf8(toks[1], "log key", line)?).map_err(|e| err(format!("log key: {e}")))?;
                    if p.logs.iter().any(|l| l.verifier.key == v.key) {
                        return Err(err("duplicate log (the same public key is listed twice)".into()));
                    }
                    let url = toks.get(2).map(|u| utf8(u, "log URL", line)).transpose()?;
                    p.logs.push(PolicyLog { verifier: v, url });
                    if p.logs.len() > MAX_ITEMS {
                        return Err(err(format!("more than {MAX_ITEMS} logs")));
                    }
                }
                b"witness" => {
                    if !(3..=4).contains(&toks.len()) {
                        return Err(err("expected 'witness <name> <vkey> [<url>]'".into()));
                    }
                    let name = toks[1].to_vec();
                    if name == b"none" || lookup(&names, &name).is_some() {
                        return Err(err(format!("name {} is already defined", String::from_utf8_lossy(&name))));
                    }
                    let v = CosignatureVerifier::parse(&utf8(toks[2], "witness key", line)?)
                        .map_err(|e| err(format!("witness key: {e}")))?;
                    if p.witnesses.iter().any(|w| w.verifier.key == v.key) {
                        return Err(err("duplicate witness (the same public key is listed twice)".into()));
                    }
                    let url = toks.get(3).map(|u| utf8(u, "witness URL", line)).transpose()?;
                    names.push((name.clone(), Member::Witness(p.witnesses.len())));
                    p.witnesses.push(PolicyWitness { name, verifier: v, url });
                    if p.witnesses.len() > MAX_ITEMS {
                        return Err(err(format!("more than {MAX_ITEMS} witnesses")));
                    }
                }
                b"group" => {
                    if toks.len() < 4 {
                        return Err(err("expected 'group <name> all|any|<k> <name>...'".into()));
                    }
                    let name = toks[1].to_vec();
                    if name == b"none" || lookup(&names, &name).is_some() {
                        return Err(err(format!("name {} is already defined", String::from_utf8_lossy(&name))));
                    }
                    let mut members = Vec::new();
                    for m in &toks[3..] {
                        let Some(found) = lookup(&names, m) else {
                            return Err(err(format!(
                                "group member {} is not a witness or group defined on an earlier line",
                                String::from_utf8_lossy(m)
                            )));
                        };
                        if members.contains(&found) {
                            return Err(err(format!("group member {} is listed twice", String::from_utf8_lossy(m))));
                        }
                        members.push(found);
                    }
                    let n = members.len();
                    let k = match toks[2] {
                        b"all" => n,
                        b"any" => 1,
                        t => {
                            let ok = !t.is_empty() && t.iter().all(u8::is_ascii_digit) && t[0] != b'0';
                            let k: usize = if ok {
                                std::str::from_utf8(t).ok().and_then(|s| s.parse().ok()).unwrap_or(usize::MAX)
                            } else {
                                return Err(err("the threshold must be all, any or a decimal number".into()));
                            };
                            if k > n {
                                return Err(err(format!("threshold {k} is larger than the group's {n} members")));
                            }
                            k
                        }
                    };
                    names.push((name.clone(), Member::Group(p.groups.len())));
                    p.groups.push(Group { name, k, members });
                    if p.groups.len() > MAX_ITEMS {
                        return Err(err(format!("more than {MAX_ITEMS} groups")));
                    }
                }
                b"quorum" => {
                    if toks.len() != 2 {
                        return Err(err("expected 'quorum <name>'".into()));
                    }
                    if have_quorum {
                        return Err(err("a policy has exactly one quorum line".into()));
                    }
                    have_quorum = true;
                    p.quorum = if toks[1] == b"none" {
                        None
                    } else {
                        Some(lookup(&names, toks[1]).ok_or_else(|| {
                            err(format!(
                                "quorum {} is not a witness or group defined on an earlier line",
                                String::from_utf8_lossy(toks[1])
                            ))
                        })?)
                    };
                }
                other => {
                    return Err(err(format!(
                        "unknown keyword {} (expected log, witness, group or quorum)",
                        String::from_utf8_lossy(other)
                    )))
                }
            }
        }
        if !have_quorum {
            return Err(PolicyError::Syntax { line: 0, msg: "the policy has no quorum line".into() });
        }
        Ok(p)
    }

    /// Whether the quorum is `none`.
    pub fn needs_no_cosignature(&self) -> bool {
        self.quorum.is_none()
    }

    /// The quorum rule, spelled out for messages (`none`, a witness's
    /// name, or `G: 2 of A, B, C`).
    pub fn quorum_rule(&self) -> String {
        match self.quorum {
            None => "none".into(),
            Some(m) => self.describe(m),
        }
    }

    fn member_name(&self, m: Member) -> String {
        match m {
            Member::Witness(i) => self.witnesses[i].display_name(),
            Member::Group(i) => String::from_utf8_lossy(&self.groups[i].name).into_owned(),
        }
    }

    fn describe(&self, m: Member) -> String {
        match m {
            Member::Witness(i) => self.witnesses[i].display_name(),
            Member::Group(i) => {
                let g = &self.groups[i];
                let inner: Vec<String> = g.members.iter().map(|&x| self.describe(x)).collect();
                format!("{}: {} of [{}]", String::from_utf8_lossy(&g.name), g.k, inner.join(", "))
            }
        }
    }

    fn met(&self, m: Member, ok: &[bool]) -> bool {
        match m {
            Member::Witness(i) => ok[i],
            Member::Group(i) => {
                let g = &self.groups[i];
                g.members.iter().filter(|&&x| self.met(x, ok)).count() >= g.k
            }
        }
    }

    fn collect(&self, m: Member, out: &mut BTreeSet<usize>) {
        match m {
            Member::Witness(i) => {
                out.insert(i);
            }
            Member::Group(i) => {
                for &x in &self.groups[i].members {
                    self.collect(x, out);
                }
            }
        }
    }

    /// The witnesses whose cosignature on `note` verifies, by index.
    fn cosigners(&self, text: &str, lines: &[crate::cosig::SignatureLine]) -> Vec<Option<Cosigned>> {
        self.witnesses
            .iter()
            .map(|w| {
                w.verifier.verify_lines(text, lines).ok().map(|time| Cosigned { name: w.verifier.name.clone(), time })
            })
            .collect()
    }

    /// Check only the quorum: the cosignatures on `note` by this policy's
    /// witnesses (the caller checks the log's signature). Names the
    /// witnesses of the quorum that are missing when it is not met.
    pub fn check_quorum(&self, note: &str) -> Result<Vec<(String, Cosigned)>, PolicyError> {
        let (text, lines) = Note::parse_lines(note)?;
        let got = self.cosigners(&text, &lines);
        let cosigned: Vec<(String, Cosigned)> = got
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.clone().map(|c| (self.witnesses[i].display_name(), c)))
            .collect();
        let Some(q) = self.quorum else { return Ok(cosigned) };
        let ok: Vec<bool> = got.iter().map(Option::is_some).collect();
        if self.met(q, &ok) {
            return Ok(cosigned);
        }
        let mut in_quorum = BTreeSet::new();
        self.collect(q, &mut in_quorum);
        Err(PolicyError::Quorum {
            rule: self.describe(q),
            missing: in_quorum.iter().filter(|&&i| !ok[i]).map(|&i| self.witnesses[i].display_name()).collect(),
            cosigned: in_quorum.iter().filter(|&&i| ok[i]).map(|&i| self.witnesses[i].display_name()).collect(),
        })
    }

    /// Check `note` against the whole policy: signed by one of its logs
    /// (when it lists any) and cosigned to its quorum.
    pub fn check(&self, note: &str) -> Result<Verdict, PolicyError> {
        let (log, checkpoint) = if self.logs.is_empty() {
            let parsed = Note::parse(note)?;
            (None, Checkpoint::parse_body(&parsed.text)?)
        } else {
            let mut last = None;
            let mut found = None;
            for l in &self.logs {
                match Checkpoint::open(note, &l.verifier) {
                    Ok(cp) => {
                        found = Some((Some(l.verifier.clone()), cp));
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            match found {
                Some(f) => f,
                None => {
                    let names: Vec<String> = self.logs.iter().map(|l| l.verifier.name.clone()).collect();
                    return Err(PolicyError::NoLog(match last {
                        Some(NoteError::Unsigned(_)) | None => format!("it has no signature by {}", names.join(", ")),
                        Some(e) => e.to_string(),
                    }));
                }
            }
        };
        let cosigned = self.check_quorum(note)?;
        Ok(Verdict { checkpoint, log, cosigned })
    }

    /// The names of every witness and group, for listing.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.witnesses.iter().map(PolicyWitness::display_name).collect();
        v.extend(self.groups.iter().map(|g| String::from_utf8_lossy(&g.name).into_owned()));
        v
    }

    /// The name a group or witness member is shown under (for tests and docs).
    pub fn quorum_name(&self) -> String {
        self.quorum.map(|m| self.member_name(m)).unwrap_or_else(|| "none".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosig::{add_signature_lines, CosignatureSigner};
    use crate::note::NoteSigner;
    use ed25519_dalek::SigningKey;

    fn witness(n: u8) -> CosignatureSigner {
        CosignatureSigner::new(&format!("w{n}.example"), SigningKey::from_bytes(&[n; 32])).unwrap()
    }
    fn log() -> NoteSigner {
        NoteSigner::new("tinledger/abc", SigningKey::from_bytes(&[99; 32])).unwrap()
    }
    fn policy(extra: &str) -> Policy {
        let mut s = format!("# test\nlog {}\n", log().verifier().to_key_string());
        for n in 1..=3 {
            s.push_str(&format!("witness W{n} {} http://w{n}/\n", witness(n).verifier().to_key_string()));
        }
        s.push_str(extra);
        Policy::parse(s.as_bytes()).unwrap()
    }
    fn note(cosigners: &[u8]) -> String {
        let cp = Checkpoint { origin: "tinledger/abc".into(), size: 3, root: [1; 32], extensions: vec![] };
        let n = cp.sign(&log()).unwrap();
        let lines: Vec<String> = cosigners.iter().map(|&i| witness(i).cosign(&cp.body(), 100).unwrap()).collect();
        add_signature_lines(&n, &lines).unwrap()
    }

    #[test]
    fn two_of_three() {
        let p = policy("group G 2 W1 W2 W3\nquorum G\n");
        assert!(p.check(&note(&[1, 3])).is_ok());
        let e = p.check(&note(&[2])).unwrap_err();
        match &e {
            PolicyError::Quorum { missing, cosigned, .. } => {
                assert_eq!(missing, &["W1".to_string(), "W3".to_string()]);
                assert_eq!(cosigned, &["W2".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("missing cosignatures from W1, W3"), "{e}");
    }

    #[test]
    fn nested_groups_and_none() {
        let p = policy("group A any W1 W2\ngroup B all A W3\nquorum B\n");
        assert!(p.check(&note(&[2, 3])).is_ok());
        assert!(p.check(&note(&[1, 2])).is_err());
        assert!(policy("quorum none\n").check(&note(&[])).is_ok());
        assert!(policy("quorum W2\n").check(&note(&[2])).is_ok());
    }

    #[test]
    fn another_log_is_refused() {
        let p = policy("quorum none\n");
        let other = NoteSigner::new("tinledger/abc", SigningKey::from_bytes(&[98; 32])).unwrap();
        let cp = Checkpoint { origin: "tinledger/abc".into(), size: 3, root: [1; 32], extensions: vec![] };
        assert!(matches!(p.check(&cp.sign(&other).unwrap()), Err(PolicyError::NoLog(_))));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let w = witness(1).verifier().to_key_string();
        let bad = [
            (format!("witness A {w}\nwitness B {w}\nquorum A\n"), 2, "duplicate"),
            ("group G 1 X\nquorum G\n".to_string(), 1, "earlier line"),
            (format!("witness A {w}\ngroup G 2 A\nquorum G\n"), 2, "larger"),
            (format!("witness A {w}\ngroup G 0 A\nquorum G\n"), 2, "threshold"),
            (format!("witness A {w}\ngroup G 1 A A\nquorum G\n"), 2, "twice"),
            (format!("witness A {w}\nquorum A\nquorum A\n"), 3, "exactly one"),
            (format!("witness none {w}\nquorum none\n"), 1, "already"),
            ("quorum none\nfoo\n".to_string(), 2, "unknown keyword"),
            ("quorum\tnone\x01\n".to_string(), 1, "0x01"),
            (format!("log {}\nquorum none\n", w), 1, "log key"),
            ("# nothing\n".to_string(), 0, "no quorum"),
        ];
        for (src, line, needle) in bad {
            match Policy::parse(src.as_bytes()) {
                Err(PolicyError::Syntax { line: l, msg }) => {
                    assert_eq!(l, line, "{src}: {msg}");
                    assert!(msg.contains(needle), "{src}: {msg}");
                }
                other => panic!("{src}: {other:?}"),
            }
        }
        // Tabs, leading whitespace, comments after whitespace.
        assert!(Policy::parse(format!("  # c\n\twitness\tA\t{w}\t\nquorum A").as_bytes()).is_ok());
    }

    #[test]
    fn thirty_two_of_each() {
        let mut s = String::new();
        for i in 0..40u8 {
            let k = CosignatureSigner::new(&format!("w{i}"), SigningKey::from_bytes(&[i + 1; 32])).unwrap();
            s.push_str(&format!("witness W{i} {}\n", k.verifier().to_key_string()));
            s.push_str(&format!("group G{i} any W{i}\n"));
        }
        let all: Vec<String> = (0..40).map(|i| format!("G{i}")).collect();
        s.push_str(&format!("group Q 32 {}\nquorum Q\n", all.join(" ")));
        let p = Policy::parse(s.as_bytes()).unwrap();
        assert_eq!(p.witnesses.len(), 40);
        assert!(p.quorum_rule().starts_with("Q: 32 of"));
    }
}
