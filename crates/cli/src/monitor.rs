//! `tinledger monitor --policy FILE --state DIR URL...` (docs/witness.md,
//! "Monitoring"): poll logs, mirrors and the policy's witnesses for
//! checkpoints, keep every one seen, and look for a split view.
//!
//! Each round GETs URL/checkpoint of every URL and, for every witness of
//! the policy with a URL and every log of the policy,
//! `<witness URL>/checkpoint/<origin>` (200: the latest note it cosigned,
//! 404: none). A note that no log of the policy signed is reported and
//! dropped. A new one (origin, size and root not seen before) is appended
//! to STATE/checkpoints.jsonl (fsynced before it is compared), then
//! checked against the stored checkpoints of its origin: same size and a
//! different root, or, for sizes m < n, a tree of size n (from the tiles of
//! a URL that serves it) whose root at m is not the size-m checkpoint's, is
//! a split view: the evidence is written (STATE/split-view-N.json or
//! --evidence) and the command exits with [`EXIT_SPLIT_VIEW`].
//!
//! The stored checkpoints are pairwise consistent (the monitor stops at the
//! first split view), so a new one is compared with those of its own size
//! and its nearest neighbours in size only: consistent with both means
//! consistent with every one.

use crate::args::{Cli, MonitorArgs};
use crate::error::CliError;
use crate::remote_read::{Client, RemoteTiles, MAX_CHECKPOINT};
use crate::splitview::{Evidence, Side};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tinledger_core::checkpoint::Checkpoint;
use tinledger_core::merkle::{self, Hash};
use tinledger_core::note::Verifier;
use tinledger_core::tiles::TileReader;

/// Exit code when a split view was found (docs/cli.md §1.2).
pub const EXIT_SPLIT_VIEW: u8 = 3;
/// The state file, under --state.
const STATE_FILE: &str = "checkpoints.jsonl";
/// Largest state file read (a checkpoint line is at most a few KiB).
const MAX_STATE: u64 = 1 << 30;
/// Most evidence files numbered under --state.
const MAX_EVIDENCE_FILES: u32 = 10_000;

/// One stored checkpoint: a line of STATE/checkpoints.jsonl.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    source: String,
    seen_at: u64,
    checkpoint: String,
}

struct Seen {
    rec: Record,
    cp: Checkpoint,
    /// Index of the policy log that signed it.
    log: usize,
}

/// A URL polled, and what it served this round.
struct Source {
    url: String,
    client: Client,
    path: String,
    /// Serves tiles (a log or mirror base URL), so proofs can be computed from it.
    tiles: bool,
    /// Its checkpoint this round (size, root).
    current: Option<(u64, Hash)>,
}

pub fn monitor(cli: &Cli, a: &MonitorArgs) -> Result<(), CliError> {
    let policy = crate::policyfile::load(&a.policy)?;
    if policy.logs.is_empty() {
        return Err(CliError::usage(format!(
            "{}: the policy lists no log: a monitor checks checkpoints against its logs' keys",
            crate::input::name(&a.policy)
        ))
        .hint("add a `log VKEY` line (tinledger checkpoint --log-verifier-key prints the vkey)"));
    }
    let verifiers: Vec<Verifier> = policy.logs.iter().map(|l| l.verifier.clone()).collect();
    let mut sources = Vec::new();
    for u in &a.urls {
        sources.push(Source {
            url: u.clone(),
            client: Client::new(u)?,
            path: "checkpoint".into(),
            tiles: true,
            current: None,
        });
    }
    for w in &policy.witnesses {
        let Some(u) = &w.url else { continue };
        for l in &policy.logs {
            sources.push(Source {
                url: u.clone(),
                client: Client::new(u)?,
                path: format!("checkpoint/{}", l.verifier.name),
                tiles: false,
                current: None,
            });
        }
    }
    std::fs::create_dir_all(&a.state)
        .map_err(|e| CliError::usage(format!("cannot create --state {}: {e}", a.state.display())))?;
    let mut store = Store::open(&a.state, &verifiers)?;
    let rounds = if a.once { 1 } else { a.rounds.unwrap_or(u64::MAX) };
    for round in 0..rounds {
        if round > 0 {
            std::thread::sleep(Duration::from_secs(a.interval));
        }
        let (answered, new) = poll(&mut sources, &mut store, &verifiers)?;
        if answered == 0 {
            let e = CliError::usage("no URL answered with a checkpoint this round");
            if rounds == 1 {
                return Err(e.hint("check the URLs; nothing was stored"));
            }
            crate::output::note(&format!("monitor: {e}"));
        }
        if let Some(split) = store.find_split(&new, &sources)? {
            let path = write_evidence(&a.state, a.evidence.as_deref(), &split.evidence)?;
            return Err(CliError {
                code: EXIT_SPLIT_VIEW,
                msg: format!(
                    "split view: {} size {} (root {}, from {}) and size {} (root {}, from {}) cannot both be honest; evidence in {}",
                    split.evidence.origin,
                    split.a.size,
                    b64(&split.a.root),
                    split.evidence.a.source,
                    split.b.size,
                    b64(&split.b.root),
                    split.evidence.b.source,
                    path.display()
                ),
                hint: Some(format!(
                    "confirm it offline: tinledger check split-view {} --log-key LOG_KEY",
                    path.display()
                )),
            });
        }
        if cli.json {
            crate::output::emit_json(&serde_json::json!({
                "round": round + 1, "answered": answered, "new_checkpoints": new.len(), "stored": store.seen.len(),
                "split_view": false,
            }));
        } else {
            crate::output::emit(&format!(
                "round {}: {answered} of {} URLs answered, {} new checkpoints, {} stored, no split view",
                round + 1,
                sources.len(),
                new.len(),
                store.seen.len()
            ));
        }
    }
    Ok(())
}

fn b64(h: &Hash) -> String {
    tinledger_formats::proof::hash_b64(h)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Fetch every source's checkpoint; store the new ones. Returns how many
/// sources answered and the indices of the new checkpoints in the store.
fn poll(sources: &mut [Source], store: &mut Store, verifiers: &[Verifier]) -> Result<(usize, Vec<usize>), CliError> {
    let mut answered = 0;
    let mut new = Vec::new();
    for s in sources.iter_mut() {
        s.current = None;
        let url = s.client.url(&s.path);
        let body = match s.client.get(&s.path, MAX_CHECKPOINT) {
            Ok(Some(b)) => b,
            Ok(None) if !s.tiles => continue, // the witness has cosigned nothing for this log yet
            Ok(None) => {
                crate::output::note(&format!("monitor: GET {url}: not found (404)"));
                continue;
            }
            Err(e) => {
                crate::output::note(&format!("monitor: {}", e.msg));
                continue;
            }
        };
        let Ok(note) = String::from_utf8(body) else {
            crate::output::note(&format!("monitor: {url}: the checkpoint is not UTF-8"));
            continue;
        };
        let Some((log, cp)) = open(&note, verifiers) else {
            crate::output::note(&format!(
                "monitor: {url}: the checkpoint is not signed by a log of the policy; ignored"
            ));
            continue;
        };
        answered += 1;
        s.current = Some((cp.size, cp.root));
        if let Some(i) = store.add(Record { source: url, seen_at: now(), checkpoint: note }, cp, log)? {
            new.push(i);
        }
    }
    Ok((answered, new))
}

fn open(note: &str, verifiers: &[Verifier]) -> Option<(usize, Checkpoint)> {
    verifiers.iter().enumerate().find_map(|(i, v)| Checkpoint::open(note, v).ok().map(|cp| (i, cp)))
}

/// Every checkpoint seen, backed by an append-only JSON Lines file.
struct Store {
    path: PathBuf,
    file: std::fs::File,
    seen: Vec<Seen>,
}

struct Split {
    a: Checkpoint,
    b: Checkpoint,
    evidence: Evidence,
}

impl Store {
    /// Load STATE/checkpoints.jsonl. A last line without its newline (a
    /// crash while appending) is cut off; any other bad line is an error.
    fn open(dir: &Path, verifiers: &[Verifier]) -> Result<Store, CliError> {
        let path = dir.join(STATE_FILE);
        let bad = |m: String| CliError::usage(format!("{}: {m}", path.display()));
        let mut bytes = match std::fs::metadata(&path) {
            Ok(_) => crate::input::read_capped(&path, "monitor state", MAX_STATE)?,
            Err(_) => vec![],
        };
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let torn = complete < bytes.len();
        bytes.truncate(complete);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| bad(format!("cannot open: {e}")))?;
        if torn {
            file.set_len(complete as u64).map_err(|e| bad(format!("cannot cut off the torn last line: {e}")))?;
            file.sync_all().map_err(|e| bad(format!("cannot fsync: {e}")))?;
        }
        let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
        let mut seen = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let rec: Record =
                serde_json::from_str(line).map_err(|e| bad(format!("line {}: not a stored checkpoint: {e}", i + 1)))?;
            let (log, cp) = open(&rec.checkpoint, verifiers).ok_or_else(|| {
                bad(format!(
                    "line {}: the checkpoint is not signed by a log of this policy (another policy's state?)",
                    i + 1
                ))
            })?;
            seen.push(Seen { rec, cp, log });
        }
        if seen.is_empty() {
            crate::output::sync_dir(dir).map_err(|e| bad(format!("cannot fsync the directory: {e}")))?;
        }
        Ok(Store { path, file, seen })
    }

    /// Store a checkpoint not seen before (by origin, size and root),
    /// durably; its index, or `None` when it was known.
    fn add(&mut self, rec: Record, cp: Checkpoint, log: usize) -> Result<Option<usize>, CliError> {
        if self.seen.iter().any(|s| s.cp.origin == cp.origin && s.cp.size == cp.size && s.cp.root == cp.root) {
            return Ok(None);
        }
        let mut line = serde_json::to_string(&rec).map_err(|e| CliError::usage(e.to_string()))?;
        line.push('\n');
        let err = |e: std::io::Error| CliError::usage(format!("cannot append to {}: {e}", self.path.display()));
        self.file.write_all(line.as_bytes()).map_err(err)?;
        self.file.sync_data().map_err(err)?;
        self.seen.push(Seen { rec, cp, log });
        Ok(Some(self.seen.len() - 1))
    }

    /// Compare each new checkpoint with the stored ones of its origin.
    fn find_split(&self, new: &[usize], sources: &[Source]) -> Result<Option<Split>, CliError> {
        for &i in new {
            let c = &self.seen[i];
            let same: Vec<&Seen> = self.others(i).filter(|s| s.cp.size == c.cp.size).collect();
            if let Some(s) = same.iter().find(|s| s.cp.root != c.cp.root) {
                return Ok(Some(self.split(s, c, None)));
            }
            let below = self.others(i).filter(|s| s.cp.size < c.cp.size).max_by_key(|s| s.cp.size);
            let above = self.others(i).filter(|s| s.cp.size > c.cp.size).min_by_key(|s| s.cp.size);
            for (small, large) in [below.map(|b| (b, c)), above.map(|a| (c, a))].into_iter().flatten() {
                match fork_between(small, large, sources) {
                    Some(Ok((r, proof))) if r != small.cp.root => {
                        return Ok(Some(self.split(small, large, Some((r, proof)))));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => crate::output::note(&format!("monitor: {e}")),
                    None => crate::output::note(&format!(
                        "monitor: cannot check size {} against size {} of {} yet: no URL serves the tiles of the size-{} tree",
                        small.cp.size, large.cp.size, c.cp.origin, large.cp.size
                    )),
                }
            }
        }
        Ok(None)
    }

    /// The stored checkpoints of the same origin and log as `i`, but not `i`.
    fn others(&self, i: usize) -> impl Iterator<Item = &Seen> {
        let c = &self.seen[i];
        self.seen
            .iter()
            .enumerate()
            .filter(move |(j, s)| *j != i && s.cp.origin == c.cp.origin && s.log == c.log)
            .map(|(_, s)| s)
    }

    fn split(&self, a: &Seen, b: &Seen, fork: Option<(Hash, Vec<Hash>)>) -> Split {
        let side = |s: &Seen| Side {
            checkpoint: s.rec.checkpoint.clone(),
            source: s.rec.source.clone(),
            seen_at: s.rec.seen_at,
        };
        Split { a: a.cp.clone(), b: b.cp.clone(), evidence: Evidence::new(&a.cp.origin, side(a), side(b), fork) }
    }
}

/// The root at `small`'s size of the tree `large` commits to, and the
/// consistency proof from there to `large`, computed from the tiles of a
/// URL whose tree is at least `large`'s size and has `large`'s root there.
/// `None`: no URL serves such a tree this round.
fn fork_between(small: &Seen, large: &Seen, sources: &[Source]) -> Option<Result<(Hash, Vec<Hash>), String>> {
    let (m, n) = (small.cp.size, large.cp.size);
    for s in sources.iter().filter(|s| s.tiles && s.current.is_some_and(|(size, _)| size >= n)) {
        let tiles = RemoteTiles::new(&s.client, n);
        let r = TileReader::new(&tiles);
        match merkle::root(&r, n) {
            Ok(root) if root == large.cp.root => {}
            Ok(_) => continue, // this URL's tree is another one (a split view found when its own checkpoint is compared)
            Err(e) => return Some(Err(format!("{}: cannot read the tiles of the size-{n} tree: {e}", s.url))),
        }
        let res = merkle::root(&r, m).and_then(|rm| Ok((rm, merkle::consistency_proof(&r, m, n)?)));
        let (rm, proof) = match res {
            Ok(x) => x,
            Err(e) => return Some(Err(format!("{}: cannot compute a consistency proof {m} -> {n}: {e}", s.url))),
        };
        if merkle::verify_consistency(m, n, &rm, &large.cp.root, &proof).is_err() {
            return Some(Err(format!("{}: its tiles give a consistency proof {m} -> {n} that does not verify", s.url)));
        }
        return Some(Ok((rm, proof)));
    }
    None
}

/// Write the evidence: to `given` (never overwritten), else to the first
/// free STATE/split-view-N.json.
fn write_evidence(state: &Path, given: Option<&Path>, e: &Evidence) -> Result<PathBuf, CliError> {
    let mut text = serde_json::to_string_pretty(e).map_err(|x| CliError::usage(x.to_string()))?;
    text.push('\n');
    if let Some(p) = given {
        crate::output::write_atomic(p, text.as_bytes(), false)?;
        return Ok(p.to_path_buf());
    }
    for n in 1..=MAX_EVIDENCE_FILES {
        let p = state.join(format!("split-view-{n}.json"));
        if !p.exists() {
            crate::output::write_atomic(&p, text.as_bytes(), false)?;
            return Ok(p);
        }
    }
    Err(CliError::usage(format!(
        "{}: {MAX_EVIDENCE_FILES} evidence files already; give --evidence FILE",
        state.display()
    )))
}
