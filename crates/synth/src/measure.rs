//! The benchmark's raw limits: how fast this machine signs, verifies,
//! hashes and inserts into sled, measured on synthetic samples, so that
//! `tinledger bench` can put each of its figures next to the limit it is
//! bounded by (docs/performance.md). The ledger figures are [`figures`];
//! printing is the CLI's.
//!
//! [`figures`]: crate::figures

use crate::{sign_all, KeyRing, Synth, SynthError};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use rayon::prelude::*;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use tinledger_core::ed25519::{PreparedKey, SigError};
use tinledger_core::entry::hash_entry_bytes;
use tinledger_core::event::{signing_message, PublicKey, SIGNATURE_CONTEXT};
use tinledger_core::sigbatch::{self, KeyCache};
use tinledger_core::{Entry, EntryHash, Event};
use tinledger_ledger::VERIFY_BATCH;

/// Repetitions of each short measurement: a limit reports the fastest, a
/// figure the median.
pub const REPS: usize = 5;
/// Minimum duration of one repetition of a rate measurement, in ms
/// (`TINLEDGER_BENCH_REP_MS` overrides it; the tests use short ones).
pub const MIN_REP_MS: u64 = 300;
/// Signed cycle events the signature limits are measured on: a multiple
/// of every size in [`BATCH_SIZES`], so every batch is full.
pub const SAMPLES: usize = 8192;
/// Batch sizes the batch-verification limits try; each reports its
/// fastest (docs/performance.md, "Honest signature limits").
pub const BATCH_SIZES: [usize; 3] = [256, 1024, 4096];
/// Bytes written before each fsync of the `fsync_4k` limit.
pub const FSYNC_BYTES: usize = 4096;

/// One raw limit: the fastest the machine does one ingredient of an append.
pub struct Limit {
    /// Its name in `tinledger bench --json` (`verify_batch`).
    pub name: &'static str,
    /// The measured value, in `unit`.
    pub value: f64,
    /// `signatures/s`, `inserts/s`, ...
    pub unit: &'static str,
    /// What was measured, for people.
    pub what: String,
}

/// The median (0 for no values).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The minimum duration of one repetition ([`MIN_REP_MS`], or
/// `TINLEDGER_BENCH_REP_MS`).
pub fn min_rep() -> Duration {
    let ms = std::env::var("TINLEDGER_BENCH_REP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(MIN_REP_MS);
    Duration::from_millis(ms.max(1))
}

/// Items per second: each repetition calls `step` (which returns how many
/// items it did) until at least the minimum duration has passed; the
/// fastest of `REPS`, since a limit is how fast the machine *can* go, and on
/// a shared machine a slower repetition measured its neighbours
/// (docs/performance.md, "Honest signature limits").
pub fn rate(mut step: impl FnMut() -> Result<u64, SynthError>) -> Result<f64, SynthError> {
    let mut rates = Vec::with_capacity(REPS);
    let min = min_rep();
    step()?; // warm up
    for _ in 0..REPS {
        let t = Instant::now();
        let mut n = 0u64;
        while t.elapsed() < min {
            n += step()?;
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    Ok(rates.into_iter().fold(0.0, f64::max))
}

pub(crate) fn io(what: &str, p: &Path, e: impl std::fmt::Display) -> SynthError {
    SynthError::Measure(format!("cannot {what} {}: {e}", p.display()))
}

pub(crate) fn synth_events(n: u64) -> Result<Vec<Event>, SynthError> {
    let mut s = Synth::new(n)?;
    let evs: Vec<Event> = s.by_ref().collect();
    if let Some(e) = s.error() {
        return Err(SynthError::Measure(format!("synthetic ledger: {e}")));
    }
    Ok(evs)
}

/// [`sign_all`], its error prefixed with "synthetic ledger".
pub(crate) fn sign(evs: &[Event], ring: &KeyRing) -> Result<Vec<tinledger_core::SignedEvent>, SynthError> {
    sign_all(evs, ring).map_err(|e| SynthError::Measure(format!("synthetic ledger: {e}")))
}

/// Signed samples for the limits: (signing message, signature, key).
pub struct Samples {
    msgs: Vec<Vec<u8>>,
    /// The canonical event bytes (the signing message without the context).
    events: Vec<Vec<u8>>,
    sigs: Vec<Signature>,
    keys: Vec<VerifyingKey>,
    signers: Vec<ed25519_dalek::SigningKey>,
    /// A typical entry's canonical bytes (closest to the mean size).
    entry: Vec<u8>,
}

/// Signed samples of cycle events, for [`measure_limits`].
pub fn samples(ring: &KeyRing) -> Result<Samples, SynthError> {
    // Skip the header: cycle events are what a ledger mostly holds.
    let h = Synth::header_len();
    let evs = synth_events(h + SAMPLES as u64)?;
    let signed = sign(&evs[h as usize..], ring)?;
    let mut s = Samples { msgs: vec![], events: vec![], sigs: vec![], keys: vec![], signers: vec![], entry: vec![] };
    let mut entries = Vec::new();
    for (i, e) in signed.iter().enumerate() {
        let sk =
            ring.get(&e.event().signer).ok_or_else(|| SynthError::Measure("synthetic signer without a key".into()))?;
        s.msgs.push(signing_message(e.bytes()));
        s.events.push(e.bytes().to_vec());
        s.sigs.push(Signature::from_bytes(e.signature()));
        s.keys.push(sk.verifying_key());
        s.signers.push(sk.clone());
        entries.push(Entry::new(h + i as u64, EntryHash([7; 32]), e).to_bytes());
    }
    let mean = entries.iter().map(Vec::len).sum::<usize>() as f64 / entries.len().max(1) as f64;
    s.entry = entries
        .into_iter()
        .min_by(|a, b| (a.len() as f64 - mean).abs().total_cmp(&(b.len() as f64 - mean).abs()))
        .unwrap_or_default();
    Ok(s)
}

/// The fastest of `rate(batch)` over [`BATCH_SIZES`]: (items/s, batch size).
fn fastest_batch(mut rate_of: impl FnMut(usize) -> Result<f64, SynthError>) -> Result<(f64, usize), SynthError> {
    let mut best = (0.0, VERIFY_BATCH);
    for b in BATCH_SIZES {
        let r = rate_of(b)?;
        if r > best.0 {
            best = (r, b);
        }
    }
    Ok(best)
}

/// One signature of the cofactored batch limit: prepared key, event bytes, signature.
type BatchItem<'a> = (Result<PreparedKey, SigError>, &'a [u8], [u8; 64]);

/// The batch signature limits: ed25519-dalek's `verify_batch` and
/// tinledger's cofactored `sigbatch`, each at its fastest batch size, on
/// both cores. Everything a batch needs is built before the clock starts,
/// so the timed loop does nothing but verify (docs/performance.md).
fn batch_limits(s: &Samples) -> Result<[(f64, usize); 2], SynthError> {
    let n = s.msgs.len() as u64;
    let msgs: Vec<&[u8]> = s.msgs.iter().map(Vec::as_slice).collect();
    let dalek = fastest_batch(|b| {
        rate(|| {
            let ok = msgs
                .par_chunks(b)
                .zip(s.sigs.par_chunks(b))
                .zip(s.keys.par_chunks(b))
                .all(|((m, sig), k)| ed25519_dalek::verify_batch(m, sig, k).is_ok());
            if !ok {
                return Err(SynthError::Measure("a sample signature batch failed verify_batch".into()));
            }
            Ok(n)
        })
    })?;
    let mut cache = KeyCache::default();
    let items: Vec<BatchItem> = s
        .keys
        .iter()
        .zip(&s.events)
        .zip(&s.sigs)
        .map(|((k, e), sig)| (cache.get(&PublicKey(k.to_bytes())), e.as_slice(), sig.to_bytes()))
        .collect();
    let seed = [7u8; 32];
    let ours = fastest_batch(|b| {
        rate(|| {
            let ok = items
                .par_chunks(b)
                .all(|c| sigbatch::batch_holds(c.iter().map(|(k, e, sig)| (*k, [SIGNATURE_CONTEXT, *e], sig)), &seed));
            if !ok {
                return Err(SynthError::Measure("a sample signature batch failed the cofactored batch check".into()));
            }
            Ok(n)
        })
    })?;
    Ok([dalek, ours])
}

/// sled inserts per second (the fastest repetition) on a fresh database per repetition,
/// values the size of an entry; with `flush`, each insert is followed by
/// `Db::flush` and the syncs a durable append does after it
/// ([`tinledger_ledger::sync_flushed`]).
fn sled_rate(value: &[u8], scratch: &Path, flush: bool) -> Result<f64, SynthError> {
    let min = min_rep();
    let mut rates = Vec::new();
    for rep in 0..REPS {
        let p = scratch.join(format!("sled-{}-{rep}", if flush { "flush" } else { "plain" }));
        let db = tinledger_ledger::sled_config(&p).open().map_err(|e| io("open a sled database in", &p, e))?;
        let tree = db.open_tree("entries").map_err(|e| io("open a tree in", &p, e))?;
        if flush {
            // The first sync of a database fsyncs everything under it (a
            // ledger's first durable append in a process does too): not timed.
            db.flush().map_err(|e| io("flush", &p, e))?;
            tinledger_ledger::sync_flushed(&p)?;
        }
        let t = Instant::now();
        let mut k: u64 = 0;
        while t.elapsed() < min || k < 5 {
            let chunk = if flush { 1 } else { 1000 };
            for _ in 0..chunk {
                tree.insert(k.to_be_bytes(), value).map_err(|e| io("insert into", &p, e))?;
                k += 1;
            }
            if flush {
                db.flush().map_err(|e| io("flush", &p, e))?;
                tinledger_ledger::sync_flushed(&p)?;
            }
        }
        rates.push(k as f64 / t.elapsed().as_secs_f64());
        drop(tree);
        drop(db);
        std::fs::remove_dir_all(&p).map_err(|e| io("remove", &p, e))?;
    }
    Ok(rates.into_iter().fold(0.0, f64::max))
}

/// fsyncs per second of a file in `scratch` (the ledger's filesystem), one
/// at a time, each after appending [`FSYNC_BYTES`] bytes: the physical
/// floor of a durable append on this disk.
fn fsync_rate(scratch: &Path) -> Result<f64, SynthError> {
    let p = scratch.join("fsync-4k");
    let mut f = std::fs::File::create(&p).map_err(|e| io("create", &p, e))?;
    let block = [0x5au8; FSYNC_BYTES];
    let r = rate(|| {
        f.write_all(&block).and_then(|_| f.sync_all()).map_err(|e| io("write and fsync", &p, e))?;
        Ok(1)
    })?;
    drop(f);
    std::fs::remove_file(&p).map_err(|e| io("remove", &p, e))?;
    Ok(r)
}

/// Measure the raw limits on `s`; sled databases and the fsync file are
/// made (and removed) under `scratch`, on the ledger's filesystem.
pub fn measure_limits(s: &Samples, scratch: &Path) -> Result<Vec<Limit>, SynthError> {
    let n = s.msgs.len() as u64;
    let sign = rate(|| {
        s.msgs.par_iter().zip(&s.signers).for_each(|(m, k)| {
            black_box(k.sign(m));
        });
        Ok(n)
    })?;
    let strict = rate(|| {
        let ok = s.msgs.par_iter().zip(&s.sigs).zip(&s.keys).all(|((m, sig), k)| k.verify_strict(m, sig).is_ok());
        if !ok {
            return Err(SynthError::Measure("a sample signature failed verify_strict".into()));
        }
        Ok(n)
    })?;
    let [(batch, batch_size), (ours, ours_size)] = batch_limits(s)?;
    let sha = rate(|| {
        for _ in 0..1000 {
            black_box(hash_entry_bytes(black_box(&s.entry)));
        }
        Ok(1000)
    })?;
    let sled_plain = sled_rate(&s.entry, scratch, false)?;
    let sled_flush = sled_rate(&s.entry, scratch, true)?;
    let fsync = fsync_rate(scratch)?;
    Ok(vec![
        Limit { name: "sign", value: sign, unit: "signatures/s", what: "Ed25519 sign, all cores".into() },
        Limit {
            name: "verify_strict",
            value: strict,
            unit: "signatures/s",
            what: "Ed25519 verify_strict, all cores".into(),
        },
        Limit {
            name: "verify_batch",
            value: batch,
            unit: "signatures/s",
            what: format!(
                "ed25519-dalek verify_batch, batches of {batch_size} (fastest of {BATCH_SIZES:?}), all cores"
            ),
        },
        Limit {
            name: "sigbatch",
            value: ours,
            unit: "signatures/s",
            what: format!(
                "tinledger cofactored batch check, batches of {ours_size} (fastest of {BATCH_SIZES:?}), all cores"
            ),
        },
        Limit {
            name: "sha256_entry",
            value: sha,
            unit: "hashes/s",
            what: "entry hash of a typical entry, one core".into(),
        },
        Limit {
            name: "sled_insert",
            value: sled_plain,
            unit: "inserts/s",
            what: "sled insert, no flush, one thread".into(),
        },
        Limit {
            name: "sled_insert_flush",
            value: sled_flush,
            unit: "inserts/s",
            what: "sled insert + flush + the syncs of a durable append (fdatasync of the log)".into(),
        },
        Limit {
            name: "fsync_4k",
            value: fsync,
            unit: "fsyncs/s",
            what: "append 4 KiB to a file on the ledger's filesystem + fsync, one at a time".into(),
        },
    ])
}

/// The signature limit a figure is bound by: the faster of `verify_batch`
/// and `sigbatch` (name, value).
pub fn signature_limit(ls: &[Limit]) -> (&'static str, f64) {
    let (dalek, ours) = (limit(ls, "verify_batch"), limit(ls, "sigbatch"));
    if ours >= dalek {
        ("sigbatch", ours)
    } else {
        ("verify_batch", dalek)
    }
}

/// The value of the limit called `name` (NaN if there is none).
pub fn limit(ls: &[Limit], name: &str) -> f64 {
    ls.iter().find(|l| l.name == name).map_or(f64::NAN, |l| l.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(name: &'static str, value: f64) -> Limit {
        Limit { name, value, unit: "signatures/s", what: String::new() }
    }

    #[test]
    fn the_signature_limit_is_the_faster_batch_check() {
        let ls = [lim("verify_batch", 100.0), lim("sigbatch", 150.0)];
        assert_eq!(signature_limit(&ls), ("sigbatch", 150.0));
        let ls = [lim("verify_batch", 200.0), lim("sigbatch", 150.0)];
        assert_eq!(signature_limit(&ls), ("verify_batch", 200.0));
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), 2.5);
    }

    #[test]
    fn fsync_rate_writes_and_removes_its_file() {
        let t = tempfile::tempdir().unwrap();
        let r = fsync_rate(t.path()).unwrap();
        assert!(r.is_finite() && r > 0.0, "{r}");
        assert!(!t.path().join("fsync-4k").exists());
        let e = fsync_rate(&t.path().join("missing")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("cannot create") && e.contains("missing/fsync-4k"), "{e}");
    }
}
