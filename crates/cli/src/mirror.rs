//! `tinledger mirror URL --into DIR`: copy a served log (tinledger serve,
//! or publish's files behind a web server) into a local ledger, checking
//! everything (docs/server.md §4).
//!
//! Checked, in order: (1) on a later run, that the source's checkpoint is
//! not smaller than the mirror's and that the served tiles prove it
//! consistent with the last mirrored checkpoint (a fork stops here, naming
//! both roots, before anything changes); (2) every new entry decodes, has
//! the next seq and links to the entry before, and passes the ledger's own
//! append (signatures, every rule), which rebuilds it byte for byte; (3) the
//! checkpoint is signed by a key the authority held (first run: the genesis
//! authority key must be one given with `--authority-key`); (4) the local
//! Merkle root at the checkpoint's size is the checkpoint's root. Only then
//! is the checkpoint stored in the mirror.

use crate::error::CliError;
use crate::remote_read::{self, width_at, Client, RemoteTiles};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tinledger_core::event::PublicKey;
use tinledger_core::merkle;
use tinledger_core::policy::Policy;
use tinledger_core::rules::StateView;
use tinledger_core::tiles::{TileReader, TILE_WIDTH};
use tinledger_core::{Entry, SignedEvent};
use tinledger_ledger::{Ledger, LedgerError, LockWait};

/// Entries per `append_batch`.
const BATCH: usize = 16_384;
/// Bundles fetched in parallel.
const PREFETCH: usize = 8;

/// What a mirror run did.
#[derive(Debug, Default, Clone)]
pub struct Mirrored {
    /// Entries in the mirror before the run.
    pub before: u64,
    /// Entries appended by the run.
    pub appended: u64,
    /// The checkpoint size now mirrored.
    pub size: u64,
    /// HTTP requests made.
    pub requests: u64,
    /// Response bytes received.
    pub bytes: u64,
}

pub fn mirror(
    cli: &crate::args::Cli,
    url: &str,
    into: &Path,
    authority_keys: &[String],
    policy: Option<&Path>,
) -> Result<(), CliError> {
    let pinned =
        authority_keys.iter().map(|k| crate::keys::parse_public_key(k)).collect::<Result<Vec<PublicKey>, _>>()?;
    let policy = crate::policyfile::load_opt(policy)?;
    let client = Client::new(url)?;
    let policy = policy.as_ref();
    let m =
        if into.join("db").exists() || into.exists() && std::fs::read_dir(into).is_ok_and(|mut d| d.next().is_some()) {
            let tell = crate::open::tell(cli);
            let wait = LockWait { timeout: Duration::from_secs(cli.wait), on_wait: Some(&tell) };
            let mut l = Ledger::open_waiting(into, &wait)?;
            if !pinned.is_empty() {
                check_pinned(&l, &pinned)?;
            }
            catch_up(&client, &mut l, cli.json, policy)?
        } else {
            if pinned.is_empty() {
                return Err(CliError::usage(format!(
                "the first mirror of {} needs --authority-key KEY: the authority's public key you trust",
                client.base()
            ))
            .hint(
                "get it from the authority out of band (tinledger key show authority.pem); later runs trust the mirror",
            ));
            }
            first_mirror(&client, into, &pinned, cli.json, policy)?
        };
    if cli.json {
        crate::output::emit_json(&serde_json::json!({
            "into": into, "source": client.base(), "before": m.before, "appended": m.appended,
            "checkpoint_size": m.size, "requests": m.requests, "bytes": m.bytes,
        }));
    } else {
        crate::output::emit(&format!(
            "mirrored {} new entries from {} into {} (checkpoint size {}, {} requests, {} bytes)",
            m.appended,
            client.base(),
            into.display(),
            m.size,
            m.requests,
            m.bytes
        ));
    }
    Ok(())
}

/// The genesis authority key must be one of `pinned`.
fn check_pinned(l: &Ledger, pinned: &[PublicKey]) -> Result<(), CliError> {
    let keys = authority_keys(l)?;
    if keys.first().is_some_and(|k| pinned.contains(k)) {
        return Ok(());
    }
    Err(CliError::refused(format!(
        "{}: its authority's key {} is not a key given with --authority-key",
        l.dir().display(),
        keys.first().map(|k| hex::encode(k.0)).unwrap_or_default()
    )))
}

/// Every key the ledger's authority has held, oldest first.
fn authority_keys(l: &Ledger) -> Result<Vec<PublicKey>, CliError> {
    let info = l.info().ok_or_else(|| CliError::refused("the ledger has no genesis entry"))?;
    let a = l
        .view()
        .actor(&info.authority)
        .map_err(|e| CliError::refused(e.to_string()))?
        .ok_or_else(|| CliError::refused("the ledger's authority is not registered"))?;
    Ok(a.keys.iter().map(|k| k.key).collect())
}

/// A temporary directory beside `into` for the first copy.
fn temp_dir_for(into: &Path) -> PathBuf {
    let name = into.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "mirror".into());
    let parent = into.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join(format!(".{name}.mirror-{}", std::process::id()))
}

/// First run: build the mirror in a temporary directory and rename it into
/// place only when every check passed (a failure leaves nothing).
fn first_mirror(
    client: &Client,
    into: &Path,
    pinned: &[PublicKey],
    json: bool,
    policy: Option<&Policy>,
) -> Result<Mirrored, CliError> {
    let tmp = temp_dir_for(into);
    let _ = std::fs::remove_dir_all(&tmp);
    let res = copy_new_ledger(client, &tmp, pinned, json, policy).map(|(m, _)| m);
    let m = match res {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if into.exists() {
        let _ = std::fs::remove_dir(into);
    }
    std::fs::rename(&tmp, into).map_err(|e| {
        let _ = std::fs::remove_dir_all(&tmp);
        CliError::usage(format!("cannot move the mirror into {}: {e}", into.display()))
    })?;
    if let Some(parent) = into.parent().filter(|p| !p.as_os_str().is_empty()) {
        crate::output::sync_dir(parent)
            .map_err(|e| CliError::usage(format!("cannot fsync {}: {e}", parent.display())))?;
    }
    Ok(m)
}

/// A first copy of the served log into a new ledger at `dir`, and the
/// ledger, open.
fn copy_new_ledger(
    client: &Client,
    dir: &Path,
    pinned: &[PublicKey],
    json: bool,
    policy: Option<&Policy>,
) -> Result<(Mirrored, Ledger), CliError> {
    let note = client.checkpoint_note()?;
    check_policy(client, &note, policy)?;
    let claimed = remote_read::unverified_body(&note)
        .map_err(|e| CliError::refused(format!("{}: {e}", client.url("checkpoint"))))?;
    if claimed.size == 0 {
        return Err(CliError::refused(format!("{}: the checkpoint covers no entries", client.url("checkpoint"))));
    }
    let first = client.bundle(0, width_at(claimed.size, 0, 0))?;
    let genesis_bytes = first.first().ok_or_else(|| CliError::refused("the first entry bundle is empty"))?;
    let genesis = decode_entry(client, genesis_bytes, 0, claimed.size)?;
    let signed = signed(client, &genesis, claimed.size)?;
    if let tinledger_core::event::EventBody::Genesis { authority_key, .. } = &signed.event().body {
        if !pinned.is_empty() && !pinned.contains(authority_key) {
            return Err(CliError::refused(format!(
                "{}: the log's genesis names authority key {}, not a key given with --authority-key",
                client.base(),
                hex::encode(authority_key.0)
            )));
        }
    }
    let (mut l, r) = Ledger::create(dir, &signed).map_err(|e| refused_at(client, 0, claimed.size, e))?;
    if r.hash != tinledger_core::entry::hash_entry_bytes(genesis_bytes) {
        return Err(CliError::refused(format!(
            "{}: entry 0 differs from the genesis the ledger rebuilds from its signed event",
            bundle_url(client, 0, claimed.size)
        )));
    }
    let mut m = fetch_append(client, &mut l, &note, &claimed, json, Some(first))?;
    m.before = 0;
    m.appended += 1;
    Ok((m, l))
}

/// With `--policy`, the served checkpoint must satisfy it before anything
/// is fetched or written (the signature by the authority's keys and the
/// root are still checked after the copy).
fn check_policy(client: &Client, note: &str, policy: Option<&Policy>) -> Result<(), CliError> {
    let Some(p) = policy else { return Ok(()) };
    crate::policyfile::require(p, note, &client.url("checkpoint"))
        .map(|_| ())
        .map_err(|e| e.hint("nothing was changed; the mirror keeps its last checkpoint"))
}

/// A later run: catch up from the mirror's head.
fn catch_up(client: &Client, l: &mut Ledger, json: bool, policy: Option<&Policy>) -> Result<Mirrored, CliError> {
    let note = client.checkpoint_note()?;
    check_policy(client, &note, policy)?;
    let claimed = remote_read::unverified_body(&note)
        .map_err(|e| CliError::refused(format!("{}: {e}", client.url("checkpoint"))))?;
    let (old_size, old_note) = l.latest_checkpoint()?.ok_or_else(|| {
        CliError::usage(format!("{} holds no mirrored checkpoint: it is not a mirror", l.dir().display()))
    })?;
    let old = remote_read::unverified_body(&old_note).map_err(CliError::refused)?;
    if claimed.origin != old.origin {
        return Err(CliError::refused(format!(
            "{} serves another log ({}), not the mirrored {}; nothing was changed",
            client.base(),
            claimed.origin,
            old.origin
        )));
    }
    let b64 = tinledger_formats::proof::hash_b64;
    if claimed.size < old_size {
        return Err(CliError::refused(format!(
            "{}: the source's checkpoint (size {}, root {}) is smaller than the mirrored one (size {old_size}, root {}): the source rolled back; nothing was changed",
            client.base(),
            claimed.size,
            b64(&claimed.root),
            b64(&old.root)
        )));
    }
    let forked = || {
        CliError::refused(format!(
            "{}: the source's history differs from the mirror's: mirrored root {} at size {old_size}, the source's tree (size {}, root {}) does not extend it; nothing was changed",
            client.base(),
            b64(&old.root),
            claimed.size,
            b64(&claimed.root)
        ))
    };
    if claimed.size == old_size {
        if claimed.root != old.root {
            return Err(forked());
        }
    } else {
        let tiles = RemoteTiles::new(client, claimed.size);
        let proof = merkle::consistency_proof(&TileReader::new(&tiles), old_size, claimed.size)
            .map_err(|e| CliError::refused(format!("{}: cannot build a consistency proof: {e}", client.base())))?;
        merkle::verify_consistency(old_size, claimed.size, &old.root, &claimed.root, &proof).map_err(|_| forked())?;
    }
    let before = l.head().size;
    let mut m = fetch_append(client, l, &note, &claimed, json, None)?;
    m.before = before;
    Ok(m)
}

/// Fetch entries from the ledger's head to the checkpoint's size, append
/// them in batches (signatures, rules, chain), then check the checkpoint's
/// signature and root and store it.
fn fetch_append(
    client: &Client,
    l: &mut Ledger,
    note: &str,
    claimed: &tinledger_core::checkpoint::Checkpoint,
    json: bool,
    mut first: Option<Vec<Vec<u8>>>,
) -> Result<Mirrored, CliError> {
    let size = claimed.size;
    let start = l.head().size;
    let bar = progress_bar(json, size.saturating_sub(start));
    let mut batch: Vec<(u64, Vec<u8>, SignedEvent)> = Vec::with_capacity(BATCH);
    let mut prev = l.head().hash;
    let mut appended = 0u64;
    let first_bundle = start / TILE_WIDTH;
    // Up to date: no bundle to fetch.
    let last_bundle = if start >= size { first_bundle } else { size.div_ceil(TILE_WIDTH) };
    let mut index = first_bundle;
    while index < last_bundle {
        let hi = (index + PREFETCH as u64).min(last_bundle);
        // The first bundle of a first copy was fetched for its genesis.
        let mut known = if index == 0 { first.take() } else { None };
        let fetched: Vec<Result<Vec<Vec<u8>>, CliError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (index..hi)
                .map(|i| {
                    let known = if i == 0 { known.take() } else { None };
                    s.spawn(move || match known {
                        Some(b) => Ok(b),
                        None => client.bundle(i, width_at(size, 0, i)),
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(CliError::usage("a download thread failed"))))
                .collect()
        });
        for (i, bundle) in (index..hi).zip(fetched) {
            let bundle = bundle?;
            for (k, bytes) in bundle.into_iter().enumerate() {
                let seq = i * TILE_WIDTH + k as u64;
                if seq < start {
                    continue;
                }
                let e = decode_entry(client, &bytes, seq, size)?;
                if e.prev != prev.0 {
                    // The entry before may be the damaged one: the append
                    // names it first (a bad signature, a broken rule).
                    append(client, l, &mut batch, size)?;
                    return Err(CliError::refused(format!(
                        "{}: entry {seq} does not link to the entry before it (its prev is {}, the entry before hashes to {prev})",
                        bundle_url(client, seq, size),
                        hex::encode(e.prev)
                    )));
                }
                prev = tinledger_core::entry::hash_entry_bytes(&bytes);
                let s = signed(client, &e, size)?;
                batch.push((seq, bytes, s));
                if batch.len() >= BATCH {
                    appended += append(client, l, &mut batch, size)?;
                    if let Some(b) = &bar {
                        b.set_position(appended);
                    }
                }
            }
        }
        index = hi;
    }
    appended += append(client, l, &mut batch, size)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if l.head().size != size {
        return Err(CliError::refused(format!(
            "{}: the mirror has {} entries after the copy, the checkpoint says {size}",
            client.base(),
            l.head().size
        )));
    }
    let info = l.info().ok_or_else(|| CliError::refused("the mirror has no genesis entry"))?;
    let keys = authority_keys(l)?;
    // The mirror has replayed every entry below `size`, so its facts know
    // the log key bound for that size.
    let cp = remote_read::open_checkpoint(note, &info.ledger_id, &keys, info.log_key_for_size(size).copied())
        .map_err(|e| CliError::refused(format!("{}: {e}", client.url("checkpoint"))))?;
    let root = l.merkle_root(size)?;
    if root != cp.root {
        return Err(CliError::refused(format!(
            "{}: the served entries give root {} at size {size} but the signed checkpoint says {}: the entries were tampered with",
            client.base(),
            tinledger_formats::proof::hash_b64(&root),
            tinledger_formats::proof::hash_b64(&cp.root)
        )));
    }
    l.store_checkpoint(size, note)?;
    Ok(Mirrored { before: start, appended, size, requests: client.requests(), bytes: client.bytes() })
}

fn bundle_url(client: &Client, seq: u64, size: u64) -> String {
    let index = seq / TILE_WIDTH;
    let id = tinledger_core::tiles::TileId {
        kind: tinledger_core::tiles::TileKind::Entries,
        index,
        width: width_at(size, 0, index),
    };
    client.url(&id.to_string())
}

fn decode_entry(client: &Client, bytes: &[u8], seq: u64, size: u64) -> Result<Entry, CliError> {
    let e = Entry::from_bytes(bytes)
        .map_err(|x| CliError::refused(format!("{}: entry {seq} is damaged: {x}", bundle_url(client, seq, size))))?;
    if e.seq != seq {
        return Err(CliError::refused(format!(
            "{}: the entry at position {seq} says seq {}",
            bundle_url(client, seq, size),
            e.seq
        )));
    }
    Ok(e)
}

fn signed(client: &Client, e: &Entry, size: u64) -> Result<SignedEvent, CliError> {
    e.signed_event().map_err(|x| {
        CliError::refused(format!("{}: entry {} does not decode: {x}", bundle_url(client, e.seq, size), e.seq))
    })
}

fn refused_at(client: &Client, _seq: u64, size: u64, e: LedgerError) -> CliError {
    match e {
        LedgerError::Refused { seq, source, .. } => {
            CliError::refused(format!("{}: entry {seq} breaks a rule: {source}", bundle_url(client, seq, size)))
        }
        other => other.into(),
    }
}

/// Append the batch; every rebuilt entry must be the served one.
fn append(
    client: &Client,
    l: &mut Ledger,
    batch: &mut Vec<(u64, Vec<u8>, SignedEvent)>,
    size: u64,
) -> Result<u64, CliError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let evs: Vec<SignedEvent> = batch.iter().map(|(_, _, s)| s.clone()).collect();
    let first = batch[0].0;
    let rs = l.append_batch(&evs).map_err(|e| refused_at(client, first, size, e))?;
    for ((seq, bytes, _), r) in batch.iter().zip(&rs) {
        if r.hash != tinledger_core::entry::hash_entry_bytes(bytes) {
            return Err(CliError::refused(format!(
                "{}: entry {seq} differs from the entry the ledger rebuilds from its signed event",
                bundle_url(client, *seq, size)
            )));
        }
    }
    let n = batch.len() as u64;
    batch.clear();
    Ok(n)
}

pub fn progress_bar(json: bool, total: u64) -> Option<indicatif::ProgressBar> {
    if !crate::output::progress_on(json) || total < 10_000 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(&crate::output::bar_template(
        "fetching {bar:25} {human_pos}/{human_len} entries  eta {eta}",
    ))
    .ok()?;
    bar.set_style(style);
    Some(bar)
}
