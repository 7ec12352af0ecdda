//! Read commands with `--server URL`: the same output as their local forms,
//! from a served log (docs/server.md, "Remote read clients").
//! Every entry printed is first proved included in the served checkpoint,
//! whose signature is checked with the authority's keys.

use crate::args::{Cli, VerifyArgs};
use crate::error::{CliError, UsageExt};
use crate::output::{emit, emit_json};
use crate::remote_read::{width_at, Client, RemoteLog};
use serde_json::json;
use std::path::Path;
use tinledger_core::event::{EventBody, PublicKey};
use tinledger_core::rules::LotState;
use tinledger_core::tiles::{self, TileKind};
use tinledger_core::{ActorId, LotId};
use tinledger_ledger::Fault;

fn pinned(keys: &[String]) -> Result<Vec<PublicKey>, CliError> {
    keys.iter().map(|k| crate::keys::parse_public_key(k)).collect()
}

/// `show SEQ --server URL`.
pub fn show(cli: &Cli, url: &str, seq: u64) -> Result<(), CliError> {
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let e = log.entry(seq)?;
    crate::commands::show_entry(cli, &e)
}

/// `lot ID --server URL`: the served state, and the lot's history entries,
/// each proved included.
pub fn lot(cli: &Cli, url: &str, id: &str) -> Result<(), CliError> {
    let lot_id = LotId::new(id).usage()?;
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let (seqs, v) = log
        .described("lot", lot_id.as_str())?
        .ok_or_else(|| CliError::usage(format!("no lot {id} at {}", client.base())))?;
    let state: LotState = v.get("state").cloned().and_then(|s| serde_json::from_value(s).ok()).ok_or_else(|| {
        CliError::refused(format!("{}: no lot state in the answer", client.url(&format!("lot/{}", lot_id.as_str()))))
    })?;
    if state.id != lot_id {
        return Err(CliError::refused(format!("{}: the answer is for lot {}", client.base(), state.id)));
    }
    let mut history = Vec::with_capacity(seqs.len());
    for seq in seqs {
        let e = log.entry(seq)?;
        let s = e.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        history.push((e, s));
    }
    crate::commands::print_lot(cli, &state, &history)
}

/// `log --server URL`: the entries in the range (a lot's history with
/// `--lot`), each proved included, filtered as locally.
pub fn log(cli: &Cli, url: &str, a: &crate::args::LogArgs) -> Result<(), CliError> {
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let unknown = |what: &str, id: &str| CliError::usage(format!("unknown {what} {id} at {}", client.base()));
    let (f, from, to) = crate::queries::log_filter(
        a,
        |id| {
            let a = ActorId::new(id).usage()?;
            log.history("actor", a.as_str())?.ok_or_else(|| unknown("actor", id))?;
            Ok(a)
        },
        |id| {
            let l = LotId::new(id).usage()?;
            log.history("lot", l.as_str())?.ok_or_else(|| unknown("lot", id))?;
            Ok(l)
        },
    )?;
    let last = to.min(log.cp.size - 1);
    let seqs: Vec<u64> = match &f.lot {
        Some(l) => log
            .history("lot", l.as_str())?
            .unwrap_or_default()
            .into_iter()
            .filter(|s| (from..=last).contains(s))
            .collect(),
        None => (from..=last).collect(),
    };
    let mut found = vec![];
    for seq in seqs {
        let e = log.entry(seq)?;
        let s = e.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        if f.matches(s.event()) {
            found.push((e, s));
        }
    }
    let mut corrections = tinledger_core::correction::Corrections::default();
    let mut seen = std::collections::BTreeSet::new();
    for lot in crate::queries::correction_lots(&found) {
        seen.extend(log.history("lot", lot.as_str())?.unwrap_or_default());
    }
    for seq in seen {
        let s = log.entry(seq)?.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        corrections.add(seq, s.event());
    }
    crate::queries::print_log(cli, &found, &corrections);
    Ok(())
}

/// `prove inclusion SEQ --server URL` (against the served checkpoint).
pub fn prove_inclusion(cli: &Cli, url: &str, seq: u64, out: Option<&Path>) -> Result<(), CliError> {
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let e = log.entry(seq)?;
    let proof = log.inclusion_proof(seq)?;
    let f = tinledger_formats::proof::InclusionFile::new(seq, &e.to_bytes(), log.cp.size, &proof, log.note.clone());
    crate::proofs::output(cli, out, f.to_text()?)
}

/// `prove consistency --old CP --server URL` (to the served checkpoint).
pub fn prove_consistency(cli: &Cli, url: &str, old: &Path, out: Option<&Path>) -> Result<(), CliError> {
    let old_note = crate::proofs::read_text(old, "old checkpoint")?;
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let o = check_old(&log, &old_note)?;
    let proof = log.consistency_proof(o.size)?;
    let f = tinledger_formats::proof::ConsistencyFile::new(old_note, log.note.clone(), &proof);
    crate::proofs::output(cli, out, f.to_text()?)
}

/// An older checkpoint of the served log, its signature checked, and the
/// consistency proof from it to the served checkpoint verified.
fn check_old(log: &RemoteLog, old_note: &str) -> Result<tinledger_core::checkpoint::Checkpoint, CliError> {
    // The binding of a log key below the old size is in the served tree,
    // and the consistency proof checked below shows the old tree is its
    // prefix: so the binding is in the old tree too.
    let claimed =
        crate::remote_read::unverified_body(old_note).map_err(|e| CliError::refused(format!("old checkpoint: {e}")))?;
    let (keys, log_key) = log.signing_keys(claimed.size.min(log.cp.size))?;
    let o = crate::remote_read::open_checkpoint(old_note, &log.ledger_id, &keys, log_key)
        .map_err(|e| CliError::refused(format!("old checkpoint: {e}")))?;
    if o.size > log.cp.size {
        return Err(CliError::refused(format!(
            "the old checkpoint (size {}) is newer than the one {} serves (size {}): the server rolled back",
            o.size,
            log.client.base(),
            log.cp.size
        )));
    }
    let proof = log.consistency_proof(o.size)?;
    tinledger_core::merkle::verify_consistency(o.size, log.cp.size, &o.root, &log.cp.root, &proof).map_err(|_| {
        CliError::refused(format!(
            "{}: the served checkpoint (size {}) is not an extension of the old one (size {}): history was rewritten",
            log.client.base(),
            log.cp.size,
            o.size
        ))
    })?;
    Ok(o)
}

/// `cert issue --server URL`: build and sign the certificate locally from
/// served, proved entries.
pub fn cert_issue(
    url: &str,
    lot: &LotId,
    key: &ed25519_dalek::SigningKey,
    at: tinledger_core::units::Timestamp,
) -> Result<tinledger_core::cert::Certificate, CliError> {
    let client = Client::new(url)?;
    let log = RemoteLog::open(&client, &[])?;
    let pk = PublicKey::from(key);
    let history = log
        .history("lot", lot.as_str())?
        .ok_or_else(|| CliError::usage(format!("no lot {lot} at {}", client.base())))?;
    if history.is_empty() {
        return Err(CliError::usage(format!(
            "the checkpoint served by {} covers no entry of lot {lot} yet",
            client.base()
        )));
    }
    // The exporter: the actor, among those signing the lot's entries, whose
    // current key is this one.
    let mut signers: Vec<ActorId> = vec![];
    for seq in &history {
        let s = log.entry(*seq)?.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        if !signers.contains(&s.event().signer) {
            signers.push(s.event().signer.clone());
        }
    }
    let mut exporter = None;
    for a in signers {
        if current_key(&log, &a)? == Some(pk) {
            exporter = Some(a);
            break;
        }
    }
    let exporter = exporter.ok_or_else(|| {
        CliError::refused(format!("key id {} is not the current key of any actor that signed lot {lot}", pk.key_id()))
    })?;
    tinledger_core::cert::issue(&log, lot, &log.note, &log.cp, &exporter, key, at)
        .map_err(|e| CliError::refused(format!("cannot issue: {e}")))
}

/// An actor's current key from its served history (registration, then
/// rotations).
fn current_key(log: &RemoteLog, a: &ActorId) -> Result<Option<PublicKey>, CliError> {
    let mut key = None;
    for seq in log.history("actor", a.as_str())?.unwrap_or_default() {
        let s = log.entry(seq)?.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
        match &s.event().body {
            EventBody::RegisterActor { actor } if actor.id == *a => key = Some(actor.key),
            EventBody::RotateKey { actor, new_key, .. } if actor == a => key = Some(*new_key),
            EventBody::Genesis { authority, authority_key, .. } if authority == a => key = Some(*authority_key),
            _ => {}
        }
    }
    Ok(key)
}

/// `verify --server URL`: a full audit from the served tiles and bundles
/// alone, streaming: bundles are fetched in order (eight at a time) and
/// replayed through the ledger's audit (`tinledger_ledger::audit_stream`:
/// strict decoding, seq, hash links, every rule, batched signatures); every
/// hash tile is recomputed from the entries and compared with the served
/// one; the root of the entries must be the checkpoint's, whose signature
/// `RemoteLog::open` checked. With `--since CP`: only the consistency of CP
/// with the served checkpoint and the new entries' chain and inclusion
/// (docs/server.md §6).
pub fn verify(cli: &Cli, url: &str, a: &VerifyArgs) -> Result<(), CliError> {
    if a.snapshot.is_some() || a.indices || a.expect_head.is_some() || a.auditor_key.is_some() {
        return Err(CliError::usage(
            "--snapshot, --indices, --expect-head and --auditor-key are for local audits, not --server",
        ));
    }
    let pinned = pinned(&a.authority_key)?;
    let policy = crate::policyfile::load_opt(a.policy.as_deref())?;
    let client = Client::new(url)?;
    if let Some(cp) = &a.since {
        return verify_since(cli, &client, cp, &pinned, policy.as_ref());
    }
    let log = RemoteLog::open(&client, &pinned)?;
    let verdict = served_policy(&log, policy.as_ref())?;
    if pinned.is_empty() && !cli.json {
        crate::output::note(&format!(
            "trusting the authority key the log's genesis names for {}: {} (pin it with --authority-key)",
            log.authority,
            hex::encode(log.authority_key.0)
        ));
    }
    let size = log.cp.size;
    let root = log.cp.root;
    let fatal: std::sync::Mutex<Option<CliError>> = std::sync::Mutex::new(None);
    let stream = BundleStream::new(&client, size, &fatal);
    let c = &client;
    let lookup = move |seq: u64| -> Result<Option<Vec<u8>>, String> { proved_entry(c, size, &root, seq) };
    let bar = crate::mirror::progress_bar(cli.json, size);
    let mut tick = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total.max(done));
            b.set_position(done);
        }
    };
    let (mut rep, got) = tinledger_ledger::audit_stream(size, stream, &lookup, &mut tick);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = fatal.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    // A fault at an entry names the bundle it was served in.
    if let Some(f) = rep.fault.as_mut() {
        if let (Some(seq), false) = (f.seq.filter(|s| *s < size), f.reason.contains(client.base())) {
            let index = seq / tiles::TILE_WIDTH;
            let id = tiles::TileId { kind: TileKind::Entries, index, width: width_at(size, 0, index) };
            f.reason = format!("{} (entry served in {})", f.reason, client.url(&id.to_string()));
        }
    }
    if rep.ok && (rep.entries != size || got != root) {
        let b64 = tinledger_formats::proof::hash_b64;
        rep.ok = false;
        rep.fault = Some(Fault::at(
            None,
            format!(
                "{}: the {} served entries give root {} but the signed checkpoint (size {size}) says {}",
                client.base(),
                rep.entries,
                b64(&got),
                b64(&root)
            ),
        ));
    }
    crate::verify::report_audit(cli.json, &rep, None);
    if let (Some(vd), true, false) = (&verdict, rep.ok, cli.json) {
        crate::output::emit(&format!(
            "policy OK: the served checkpoint (size {size}) is {}",
            crate::policyfile::cosigned_line(vd)
        ));
    }
    if rep.ok {
        Ok(())
    } else {
        Err(CliError { code: crate::error::EXIT_REFUSED, msg: String::new(), hint: None })
    }
}

/// Entry `seq` fetched again (for the rules' rare look-ups), proved
/// included in the checkpoint of `size` and `root` before it is used.
fn proved_entry(
    client: &Client,
    size: u64,
    root: &tinledger_core::merkle::Hash,
    seq: u64,
) -> Result<Option<Vec<u8>>, String> {
    if seq >= size {
        return Ok(None);
    }
    let index = seq / tiles::TILE_WIDTH;
    let bundle = client.bundle(index, width_at(size, 0, index)).map_err(|e| e.msg)?;
    let bytes =
        bundle.get((seq % tiles::TILE_WIDTH) as usize).cloned().ok_or_else(|| format!("entry {seq} is missing"))?;
    let t = crate::remote_read::RemoteTiles::new(client, size);
    let r = tiles::TileReader::new(&t);
    let proof = tinledger_core::merkle::inclusion_proof(&r, seq, size).map_err(|e| e.to_string())?;
    tinledger_core::merkle::verify_inclusion(&tinledger_core::merkle::leaf_hash(&bytes), seq, size, &proof, root)
        .map_err(|_| format!("{}: entry {seq} served again is not the one in the checkpoint", client.base()))?;
    Ok(Some(bytes))
}

/// Bundles fetched in parallel.
const PREFETCH: u64 = 8;

/// The served entries in order, as `audit_stream` reads them, with every
/// hash tile recomputed from them and compared with the served one. A
/// network or HTTP failure is kept in `fatal` (reported as an error, not a
/// fault) and ends the stream.
struct BundleStream<'c> {
    client: &'c Client,
    size: u64,
    next: u64,
    buf: std::collections::VecDeque<Result<(u64, Vec<u8>), String>>,
    edge: tiles::TileEdge,
    fatal: &'c std::sync::Mutex<Option<CliError>>,
    done: bool,
}

impl<'c> BundleStream<'c> {
    fn new(client: &'c Client, size: u64, fatal: &'c std::sync::Mutex<Option<CliError>>) -> Self {
        BundleStream {
            client,
            size,
            next: 0,
            buf: Default::default(),
            edge: tiles::TileEdge::new(),
            fatal,
            done: false,
        }
    }

    fn fail(&mut self, e: CliError) {
        let msg = e.msg.clone();
        if e.code == crate::error::EXIT_USAGE {
            if let Ok(mut f) = self.fatal.lock() {
                f.get_or_insert(e);
            }
        }
        self.buf.push_back(Err(msg));
        self.done = true;
    }

    /// A served hash tile must be the recomputed one.
    fn check_tile(
        &mut self,
        level: u8,
        index: u64,
        mine: &[tinledger_core::merkle::Hash],
        served: Option<Result<Option<Vec<tinledger_core::merkle::Hash>>, CliError>>,
    ) -> bool {
        let width = mine.len() as u16;
        let served = served.unwrap_or_else(|| self.client.hash_tile(level, index, width));
        let path = tiles::TileId { kind: TileKind::Hash(level), index, width }.to_string();
        match served {
            Ok(Some(t)) if t == mine => true,
            Ok(Some(_)) => {
                let m =
                    format!("{}: the served hash tile differs from the one the entries give", self.client.url(&path));
                self.buf.push_back(Err(m));
                self.done = true;
                false
            }
            Ok(None) => {
                self.fail(CliError::usage(format!(
                    "GET {}: not found (404): the hash tile is missing",
                    self.client.url(&path)
                )));
                false
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Fetch the next window of bundles (and their level-0 hash tiles).
    fn fill(&mut self) {
        let last = self.size.div_ceil(tiles::TILE_WIDTH);
        if self.next >= last {
            // After the last entry: the partial tiles of the right edge.
            self.done = true;
            for level in 0..self.edge.levels() {
                let part = self.edge.partial(level).to_vec();
                if !part.is_empty() {
                    let index = self.edge.partial_index(level);
                    if !self.check_tile(level, index, &part, None) {
                        return;
                    }
                }
            }
            return;
        }
        let hi = (self.next + PREFETCH).min(last);
        let (client, size) = (self.client, self.size);
        type Fetched =
            (Result<Vec<Vec<u8>>, CliError>, Option<Result<Option<Vec<tinledger_core::merkle::Hash>>, CliError>>);
        let fetched: Vec<Fetched> = std::thread::scope(|s| {
            let hs: Vec<_> = (self.next..hi)
                .map(|i| {
                    s.spawn(move || {
                        let w = width_at(size, 0, i);
                        let b = client.bundle(i, w);
                        let t = (w == tiles::TILE_WIDTH as u16).then(|| client.hash_tile(0, i, w));
                        (b, t)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_else(|_| (Err(CliError::usage("a download thread failed")), None)))
                .collect()
        });
        for (i, (bundle, tile0)) in (self.next..hi).zip(fetched) {
            let bundle = match bundle {
                Ok(b) => b,
                Err(e) => return self.fail(e),
            };
            let mut tile0 = tile0;
            for (k, bytes) in bundle.into_iter().enumerate() {
                let seq = i * tiles::TILE_WIDTH + k as u64;
                let completed = self.edge.push(tinledger_core::merkle::leaf_hash(&bytes));
                self.buf.push_back(Ok((seq, bytes)));
                for (level, index, hashes) in completed {
                    let served = if level == 0 { tile0.take() } else { None };
                    if !self.check_tile(level, index, &hashes, served) {
                        return;
                    }
                }
            }
        }
        self.next = hi;
    }
}

impl Iterator for BundleStream<'_> {
    type Item = Result<(u64, Vec<u8>), String>;
    fn next(&mut self) -> Option<Self::Item> {
        while self.buf.is_empty() && !self.done {
            self.fill();
        }
        self.buf.pop_front()
    }
}

/// `verify --server URL --since CP`.
/// The served checkpoint must satisfy `--policy` (after its signature
/// was checked with the authority's keys by `RemoteLog::open`).
fn served_policy(
    log: &RemoteLog,
    policy: Option<&tinledger_core::policy::Policy>,
) -> Result<Option<tinledger_core::policy::Verdict>, CliError> {
    let what = log.client.url("checkpoint");
    policy.map(|p| crate::policyfile::require(p, &log.note, &what)).transpose()
}

fn verify_since(
    cli: &Cli,
    client: &Client,
    cp: &Path,
    pinned: &[PublicKey],
    policy: Option<&tinledger_core::policy::Policy>,
) -> Result<(), CliError> {
    let old_note = crate::proofs::read_text(cp, "checkpoint")?;
    let log = RemoteLog::open(client, pinned)?;
    served_policy(&log, policy)?;
    let o = check_old(&log, &old_note)?;
    // The new entries: each decodes, has its seq, links to the one before
    // and is proved included in the served checkpoint.
    let from = o.size.saturating_sub(1);
    let mut prev: Option<tinledger_core::EntryHash> = None;
    for seq in from..log.cp.size {
        let e = log.entry(seq)?;
        if let Some(p) = prev {
            if e.prev != p.0 {
                return Err(CliError::refused(format!(
                    "{}: entry {seq} does not link to entry {}",
                    client.base(),
                    seq - 1
                )));
            }
        }
        prev = Some(e.hash());
    }
    let new = log.cp.size - o.size;
    if cli.json {
        emit_json(&json!({"ok": true, "server": client.base(), "old_size": o.size, "size": log.cp.size,
                          "new_entries": new, "checks": "consistency, chain, inclusion"}));
    } else {
        emit(&format!(
            "consistent: {} extends the trusted checkpoint (size {} -> {}); {new} new entries chained and proved included",
            client.base(),
            o.size,
            log.cp.size
        ));
        emit("not checked by --since: the new entries' signatures and rules (run a full `verify --server` or a mirror for those)");
    }
    Ok(())
}
