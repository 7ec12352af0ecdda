//! The remote read client: the C2SP tlog-tiles read API of `tinledger
//! serve` or of `tinledger publish`'s files behind any web server
//! (docs/server.md). Every request has a timeout and a cap on the
//! response size; connection failures and 5xx answers are retried with
//! backoff; every error is one line naming the URL and what failed.
//!
//! Nothing fetched is trusted: the checkpoint is opened with the
//! authority's keys ([`open_checkpoint`], the one place that decides which
//! keys may sign a checkpoint), and every entry a command prints is first
//! proved included in that checkpoint from the served hash tiles.

use crate::error::CliError;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tinledger_core::checkpoint::{self, Checkpoint};
use tinledger_core::event::{EventBody, PublicKey};
use tinledger_core::merkle::{self, Hash, ProofError};
use tinledger_core::note::{Note, Verifier};
use tinledger_core::tiles::{self, TileId, TileKind, TileSource, TILE_WIDTH};
use tinledger_core::{ActorId, Entry, LedgerId};

/// Largest checkpoint note accepted (bytes).
pub const MAX_CHECKPOINT: u64 = 64 * 1024;
/// Largest hash tile: 256 hashes.
pub const MAX_HASH_TILE: u64 = TILE_WIDTH * 32;
/// Largest entry bundle: 256 entries of at most 65535 bytes, each with its
/// 2-byte length.
pub const MAX_BUNDLE: u64 = TILE_WIDTH * (2 + tiles::MAX_ENTRY_LEN as u64);
/// Largest `/lot/` or `/actor/` answer.
pub const MAX_JSON: u64 = 64 << 20;
/// Attempts per request (connection failures, timeouts and 5xx are retried).
const ATTEMPTS: u32 = 4;
/// First backoff; doubled after each failed attempt.
const BACKOFF: Duration = Duration::from_millis(250);
/// Whole-request timeout (connect, send, read the body).
const TIMEOUT: Duration = Duration::from_secs(60);
/// Connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client for one log's base URL. Cheap to share between threads.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    requests: AtomicU64,
    bytes: AtomicU64,
}

impl Client {
    /// A client for `url` (`http://` or `https://`, the base under which
    /// `checkpoint` and `tile/` are served).
    pub fn new(url: &str) -> Result<Client, CliError> {
        let url = url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(CliError::usage(format!("--server {}: not an http:// or https:// URL", quoted(url))));
        }
        let base = if url.ends_with('/') { url.to_string() } else { format!("{url}/") };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("tinledger/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Client { base, agent, requests: AtomicU64::new(0), bytes: AtomicU64::new(0) })
    }

    /// The base URL, ending in `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (relative, no leading `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests made so far (each retry counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Response body bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// GET `path`: `Some(body)` on 200, `None` on 404 or 410, an error for
    /// anything else, a body over `max` bytes, or a network failure that
    /// persists after the retries.
    pub fn get(&self, path: &str, max: u64) -> Result<Option<Vec<u8>>, CliError> {
        let url = self.url(path);
        let mut wait = BACKOFF;
        let mut attempt = 1;
        loop {
            let retry = match self.get_once(&url, max) {
                Ok(r) => return Ok(r),
                Err((e, retry)) if !retry || attempt >= ATTEMPTS => return Err(CliError::usage(e)),
                Err((_, retry)) => retry,
            };
            debug_assert!(retry);
            std::thread::sleep(wait);
            wait *= 2;
            attempt += 1;
        }
    }

    /// One attempt: the result, or the error line and whether to retry.
    fn get_once(&self, url: &str, max: u64) -> Result<Option<Vec<u8>>, (String, bool)> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut resp = self.agent.get(url).call().map_err(|e| {
            let retry = matches!(
                e,
                ureq::Error::Io(_)
                    | ureq::Error::Timeout(_)
                    | ureq::Error::ConnectionFailed
                    | ureq::Error::HostNotFound
                    | ureq::Error::Protocol(_)
            );
            (format!("GET {url}: {}", one_line(&e.to_string())), retry)
        })?;
        let status = resp.status().as_u16();
        match status {
            200 => {}
            404 | 410 => return Ok(None),
            s if s >= 500 => return Err((format!("GET {url}: the server answered {s}"), true)),
            s => return Err((format!("GET {url}: the server answered {s}"), false)),
        }
        let body = resp.body_mut().with_config().limit(max).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => (format!("GET {url}: the response is larger than {max} bytes"), false),
            e => (format!("GET {url}: reading the response failed: {}", one_line(&e.to_string())), true),
        })?;
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        Ok(Some(body))
    }

    /// GET `path`, which must exist.
    pub fn get_required(&self, path: &str, max: u64, what: &str) -> Result<Vec<u8>, CliError> {
        self.get(path, max)?.ok_or_else(|| {
            CliError::usage(format!("GET {}: not found (404): the server has no {what}", self.url(path)))
        })
    }

    /// The latest checkpoint note, unverified.
    pub fn checkpoint_note(&self) -> Result<String, CliError> {
        let b = self.get_required("checkpoint", MAX_CHECKPOINT, "checkpoint")?;
        String::from_utf8(b)
            .map_err(|_| CliError::refused(format!("{}: the checkpoint is not UTF-8", self.url("checkpoint"))))
    }

    /// Hash tile `level`/`index` with `width` hashes: the partial tile, or
    /// the first `width` hashes of the full tile where the partial one is
    /// gone (the log grew; tlog-tiles lets a client use the full tile).
    pub fn hash_tile(&self, level: u8, index: u64, width: u16) -> Result<Option<Vec<Hash>>, CliError> {
        let id = TileId { kind: TileKind::Hash(level), index, width };
        let (path, bytes) = self.tile_bytes(id, MAX_HASH_TILE)?;
        let Some(bytes) = bytes else { return Ok(None) };
        let mut hashes =
            tiles::decode_tile(&bytes).map_err(|e| CliError::refused(format!("{}: {e}", self.url(&path))))?;
        if hashes.len() < usize::from(width) {
            return Err(CliError::refused(format!(
                "{}: the hash tile holds {} hashes where {width} were expected",
                self.url(&path),
                hashes.len()
            )));
        }
        hashes.truncate(usize::from(width));
        Ok(Some(hashes))
    }

    /// The raw bytes of tile `id` (falling back to the full tile for a
    /// missing partial one), and the path they came from.
    fn tile_bytes(&self, id: TileId, max: u64) -> Result<(String, Option<Vec<u8>>), CliError> {
        let path = id.to_string();
        if let Some(b) = self.get(&path, max)? {
            return Ok((path, Some(b)));
        }
        if id.is_full() {
            return Ok((path, None));
        }
        let full = TileId { width: TILE_WIDTH as u16, ..id }.to_string();
        Ok((full.clone(), self.get(&full, max)?))
    }

    /// Entry bundle `index` holding `width` entries, split into entries.
    pub fn bundle(&self, index: u64, width: u16) -> Result<Vec<Vec<u8>>, CliError> {
        let id = TileId { kind: TileKind::Entries, index, width };
        let (path, bytes) = self.tile_bytes(id, MAX_BUNDLE)?;
        let bytes = bytes.ok_or_else(|| {
            CliError::usage(format!("GET {}: not found (404): the server lacks an entry bundle", self.url(&path)))
        })?;
        let entries =
            tiles::decode_bundle(&bytes).map_err(|e| CliError::refused(format!("{}: {e}", self.url(&path))))?;
        if entries.len() < usize::from(width) {
            return Err(CliError::refused(format!(
                "{}: the entry bundle holds {} entries where {width} were expected (truncated?)",
                self.url(&path),
                entries.len()
            )));
        }
        Ok(entries.into_iter().take(usize::from(width)).map(<[u8]>::to_vec).collect())
    }

    /// `/lot/ID` or `/actor/ID` as JSON; `None` when unknown (404).
    pub fn json(&self, path: &str) -> Result<Option<Value>, CliError> {
        let Some(b) = self.get(path, MAX_JSON)? else { return Ok(None) };
        serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| CliError::refused(format!("{}: the response is not JSON: {e}", self.url(path))))
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn quoted(s: &str) -> String {
    tinledger_core::units::quoted(s)
}

/// Width of bundle / level-`level` tile `index` in a tree of `size`
/// leaves: 256 for a full one, 0 when it lies beyond the tree.
pub fn width_at(size: u64, level: u8, index: u64) -> u16 {
    let n = tiles::hashes_at_level(size, level);
    let start = index.saturating_mul(TILE_WIDTH);
    n.saturating_sub(start).min(TILE_WIDTH) as u16
}

/// Open a checkpoint note with the keys that may sign checkpoints of the
/// ledger `ledger_id`: every key the authority has held, and the log key
/// bound for the note's size if the caller found one (docs/formats.md §5.2).
pub fn open_checkpoint(
    note: &str,
    ledger_id: &LedgerId,
    authority_keys: &[PublicKey],
    log_key: Option<PublicKey>,
) -> Result<Checkpoint, String> {
    let origin = checkpoint::origin_for(ledger_id);
    let vs: Vec<Verifier> =
        authority_keys.iter().chain(log_key.iter()).filter_map(|k| Verifier::new(&origin, k.0).ok()).collect();
    match Checkpoint::open_any(note, &vs) {
        Ok(cp) => Ok(cp),
        Err(Some(e)) => Err(format!(
            "the checkpoint is not validly signed by the authority of ledger {ledger_id}{}: {e}",
            if log_key.is_some() { " or its bound log key" } else { "" }
        )),
        Err(None) => Err(format!("the checkpoint is not signed by any key the authority of ledger {ledger_id} held")),
    }
}

/// The size and root a note claims, before its signature is checked.
pub fn unverified_body(note: &str) -> Result<Checkpoint, String> {
    Note::parse(note).and_then(|n| Checkpoint::parse_body(&n.text)).map_err(|e| format!("malformed checkpoint: {e}"))
}

/// Hash tiles of a served tree of `size` leaves, as a [`TileSource`]
/// (so `TileReader` computes roots and proofs from them), cached.
pub struct RemoteTiles<'c> {
    client: &'c Client,
    size: u64,
    cache: RefCell<HashMap<(u8, u64), Vec<Hash>>>,
}

impl<'c> RemoteTiles<'c> {
    pub fn new(client: &'c Client, size: u64) -> Self {
        RemoteTiles { client, size, cache: RefCell::default() }
    }
}

impl TileSource for RemoteTiles<'_> {
    fn hash_tile(&self, level: u8, index: u64) -> Result<Option<Vec<Hash>>, ProofError> {
        if let Some(t) = self.cache.borrow().get(&(level, index)) {
            return Ok(Some(t.clone()));
        }
        let width = width_at(self.size, level, index);
        if width == 0 {
            return Ok(None);
        }
        let t = self.client.hash_tile(level, index, width).map_err(|e| ProofError::Storage(e.msg))?;
        if let Some(t) = &t {
            self.cache.borrow_mut().insert((level, index), t.clone());
        }
        Ok(t)
    }
}

/// A served log opened against its checkpoint: the checkpoint's signature
/// checked with the authority's keys (from the genesis entry and the
/// authority's key rotations), every entry read proved included.
pub struct RemoteLog<'c> {
    pub client: &'c Client,
    pub note: String,
    pub cp: Checkpoint,
    pub ledger_id: LedgerId,
    pub authority: ActorId,
    /// The authority's key named by the genesis entry.
    pub authority_key: PublicKey,
    tiles: RemoteTiles<'c>,
    bundles: RefCell<HashMap<u64, Rc<Vec<Vec<u8>>>>>,
}

/// Bundles kept in memory by a [`RemoteLog`].
const BUNDLE_CACHE: usize = 64;

impl<'c> RemoteLog<'c> {
    /// Fetch and check the checkpoint. With `pinned` keys, the genesis
    /// entry's authority key must be one of them (trust is otherwise on
    /// first use: whoever wrote the genesis entry).
    pub fn open(client: &'c Client, pinned: &[PublicKey]) -> Result<RemoteLog<'c>, CliError> {
        let note = client.checkpoint_note()?;
        let cpurl = client.url("checkpoint");
        let claimed = unverified_body(&note).map_err(|e| CliError::refused(format!("{cpurl}: {e}")))?;
        if claimed.size == 0 {
            return Err(CliError::refused(format!("{cpurl}: the checkpoint covers no entries")));
        }
        let mut log = RemoteLog {
            client,
            note: note.clone(),
            cp: claimed.clone(),
            ledger_id: LedgerId([0; 16]),
            authority: ActorId::new("x").map_err(|e| CliError::usage(e.to_string()))?,
            authority_key: PublicKey([0; 32]),
            tiles: RemoteTiles::new(client, claimed.size),
            bundles: RefCell::default(),
        };
        let genesis = log.entry_unproved(0)?;
        let signed = genesis.signed_event().map_err(|e| {
            CliError::refused(format!("{}: entry 0 does not decode: {e}", client.url("tile/entries/000")))
        })?;
        let ev = signed.event();
        let EventBody::Genesis { authority, authority_key, .. } = &ev.body else {
            return Err(CliError::refused(format!("{}: entry 0 is not a genesis entry", client.base())));
        };
        if !pinned.is_empty() && !pinned.contains(authority_key) {
            return Err(CliError::refused(format!(
                "{}: the log's genesis names authority key {}, not a key given with --authority-key",
                client.base(),
                hex::encode(authority_key.0)
            )));
        }
        log.ledger_id = ev.ledger_id;
        log.authority = authority.clone();
        log.authority_key = *authority_key;
        let (keys, log_key) = log.signing_keys(claimed.size)?;
        log.cp = open_checkpoint(&note, &log.ledger_id, &keys, log_key)
            .map_err(|e| CliError::refused(format!("{cpurl}: {e}")))?;
        log.prove(&genesis)?;
        Ok(log)
    }

    /// The keys that may sign a checkpoint of `size` entries of this log:
    /// every key the authority held, and the log key of the last
    /// `bind_log_key` entry below `size`, that entry proved included in the
    /// served checkpoint and its signature checked with an authority key
    /// (docs/formats.md §5.2). `size` is at most the served checkpoint's.
    pub fn signing_keys(&self, size: u64) -> Result<(Vec<PublicKey>, Option<PublicKey>), CliError> {
        let mut keys = vec![self.authority_key];
        keys.extend(self.rotated_keys()?);
        let Some(seqs) = self.history("actor", self.authority.as_str())? else { return Ok((keys, None)) };
        for seq in seqs.into_iter().rev().filter(|s| *s > 0 && *s < size) {
            let e = self.entry_unproved(seq)?;
            let s = e.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
            let ev = s.event();
            let EventBody::BindLogKey { key } = &ev.body else { continue };
            if ev.signer != self.authority || ev.ledger_id != self.ledger_id || !keys.iter().any(|k| s.verify(k)) {
                return Err(CliError::refused(format!(
                    "{}: entry {seq} binds a log key but is not signed by the authority",
                    self.client.base()
                )));
            }
            self.prove(&e)?;
            return Ok((keys, Some(*key)));
        }
        Ok((keys, None))
    }

    /// New keys of the authority's key rotations (from `/actor/AUTH`),
    /// each entry proved included.
    fn rotated_keys(&self) -> Result<Vec<PublicKey>, CliError> {
        let Some(seqs) = self.history("actor", self.authority.as_str())? else { return Ok(vec![]) };
        let mut out = vec![];
        for seq in seqs.into_iter().filter(|s| *s > 0) {
            let e = self.entry_unproved(seq)?;
            let s = e.signed_event().map_err(|x| CliError::refused(format!("entry {seq}: {x}")))?;
            if let EventBody::RotateKey { actor, new_key, .. } = &s.event().body {
                if *actor == self.authority {
                    out.push(*new_key);
                }
            }
        }
        Ok(out)
    }

    /// Entry `seq` as served, decoded, not yet proved.
    fn entry_unproved(&self, seq: u64) -> Result<Entry, CliError> {
        let size = self.cp.size;
        if seq >= size {
            return Err(CliError::usage(format!(
                "no entry {seq}: the checkpoint of {} covers {size} entries (0..{})",
                self.client.base(),
                size - 1
            )));
        }
        let index = seq / TILE_WIDTH;
        let cached = self.bundles.borrow().get(&index).cloned();
        let bundle = match cached {
            Some(b) => b,
            None => {
                let b = Rc::new(self.client.bundle(index, width_at(size, 0, index))?);
                let mut c = self.bundles.borrow_mut();
                if c.len() >= BUNDLE_CACHE {
                    c.clear();
                }
                c.insert(index, b.clone());
                b
            }
        };
        let at = (seq % TILE_WIDTH) as usize;
        let bytes =
            bundle.get(at).ok_or_else(|| CliError::refused(format!("entry {seq} is missing from its bundle")))?;
        let url =
            self.client.url(&TileId { kind: TileKind::Entries, index, width: width_at(size, 0, index) }.to_string());
        let e =
            Entry::from_bytes(bytes).map_err(|e| CliError::refused(format!("{url}: entry {seq} is damaged: {e}")))?;
        if e.seq != seq {
            return Err(CliError::refused(format!("{url}: the entry at position {seq} says seq {}", e.seq)));
        }
        Ok(e)
    }

    /// Check `e`'s inclusion in the checkpoint from the served hash tiles.
    fn prove(&self, e: &Entry) -> Result<(), CliError> {
        let proof = self.inclusion_proof(e.seq)?;
        merkle::verify_inclusion(&e.leaf_hash(), e.seq, self.cp.size, &proof, &self.cp.root).map_err(|_| {
            CliError::refused(format!(
                "{}: entry {} is not included in the signed checkpoint (size {}): the served entry or tiles were tampered with",
                self.client.base(),
                e.seq,
                self.cp.size
            ))
        })
    }

    /// Entry `seq`, proved included in the checkpoint.
    pub fn entry(&self, seq: u64) -> Result<Entry, CliError> {
        let e = self.entry_unproved(seq)?;
        self.prove(&e)?;
        Ok(e)
    }

    /// Inclusion proof of `seq` in the checkpoint's tree, from the tiles.
    pub fn inclusion_proof(&self, seq: u64) -> Result<Vec<Hash>, CliError> {
        let r = tiles::TileReader::new(&self.tiles);
        merkle::inclusion_proof(&r, seq, self.cp.size)
            .map_err(|e| CliError::refused(format!("{}: cannot build an inclusion proof: {e}", self.client.base())))
    }

    /// Consistency proof from `old` to the checkpoint's size, from the tiles.
    pub fn consistency_proof(&self, old: u64) -> Result<Vec<Hash>, CliError> {
        let r = tiles::TileReader::new(&self.tiles);
        merkle::consistency_proof(&r, old, self.cp.size)
            .map_err(|e| CliError::refused(format!("{}: cannot build a consistency proof: {e}", self.client.base())))
    }

    /// The `history` of `/lot/ID` or `/actor/ID` below the checkpoint's
    /// size; `None` if unknown.
    pub fn history(&self, what: &str, id: &str) -> Result<Option<Vec<u64>>, CliError> {
        Ok(self.described(what, id)?.map(|(h, _)| h))
    }

    /// `/lot/ID` or `/actor/ID`: the history below the checkpoint's size and
    /// the whole answer.
    pub fn described(&self, what: &str, id: &str) -> Result<Option<(Vec<u64>, Value)>, CliError> {
        let path = format!("{what}/{}", url_escape(id));
        let Some(v) = self.client.json(&path)? else { return Ok(None) };
        let bad = || CliError::refused(format!("{}: no \"history\" list of sequence numbers", self.client.url(&path)));
        let hist = v.get("history").and_then(Value::as_array).ok_or_else(bad)?;
        let mut out = Vec::with_capacity(hist.len());
        for s in hist {
            let s = s.as_u64().ok_or_else(bad)?;
            if s < self.cp.size {
                out.push(s);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(Some((out, v)))
    }
}

/// Percent-encode everything but unreserved characters.
pub fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl tinledger_core::cert::CertSource for RemoteLog<'_> {
    fn lot_history(&self, lot: &tinledger_core::LotId) -> Result<Vec<u64>, String> {
        Ok(self.history("lot", lot.as_str()).map_err(|e| e.msg)?.unwrap_or_default())
    }
    fn actor_history(&self, actor: &ActorId) -> Result<Vec<u64>, String> {
        let mut h = self.history("actor", actor.as_str()).map_err(|e| e.msg)?.unwrap_or_default();
        if *actor == self.authority && h.first() != Some(&0) {
            h.insert(0, 0);
        }
        Ok(h)
    }
    fn entry(&self, seq: u64) -> Result<Entry, String> {
        RemoteLog::entry(self, seq).map_err(|e| e.msg)
    }
    fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, String> {
        if size != self.cp.size {
            return Err(format!("only proofs at the served checkpoint's size {} can be built", self.cp.size));
        }
        RemoteLog::inclusion_proof(self, seq).map_err(|e| e.msg)
    }
}
