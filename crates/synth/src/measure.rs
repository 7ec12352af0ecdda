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
use std::path::Path;
use std::time::{Duration, Instant};
use tinledger_core::entry::hash_entry_bytes;
use tinledger_core::event::signing_message;
use tinledger_core::{Entry, EntryHash, Event};
use tinledger_ledger::VERIFY_BATCH;

/// Repetitions of each short measurement; the median is reported.
pub const REPS: usize = 5;
/// Minimum duration of one repetition of a rate measurement, in ms
/// (`TINLEDGER_BENCH_REP_MS` overrides it; the tests use short ones).
pub const MIN_REP_MS: u64 = 300;

/// One raw limit: the fastest the machine does one ingredient of an append.
pub struct Limit {
    /// Its name in `tinledger bench --json` (`verify_batch`).
    pub name: &'static str,
    /// The measured value, in `unit`.
    pub value: f64,
    /// `signatures/s`, `inserts/s`, ...
    pub unit: &'static str,
    /// What was measured, for people.
    pub what: &'static str,
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
/// items it did) until at least the minimum duration has passed; median of `REPS`.
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
    Ok(median(rates))
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
    let evs = synth_events(h + 2048)?;
    let signed = sign(&evs[h as usize..], ring)?;
    let mut s = Samples { msgs: vec![], sigs: vec![], keys: vec![], signers: vec![], entry: vec![] };
    let mut entries = Vec::new();
    for (i, e) in signed.iter().enumerate() {
        let sk =
            ring.get(&e.event().signer).ok_or_else(|| SynthError::Measure("synthetic signer without a key".into()))?;
        s.msgs.push(signing_message(e.bytes()));
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

/// Measure the raw limits on `s`; sled databases are made (and removed)
/// under `scratch`.
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
    let idx: Vec<usize> = (0..s.msgs.len()).collect();
    let batch = rate(|| {
        let ok = idx.par_chunks(VERIFY_BATCH).all(|c| {
            let msgs: Vec<&[u8]> = c.iter().map(|i| s.msgs[*i].as_slice()).collect();
            let sigs: Vec<Signature> = c.iter().map(|i| s.sigs[*i]).collect();
            let keys: Vec<VerifyingKey> = c.iter().map(|i| s.keys[*i]).collect();
            ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok()
        });
        if !ok {
            return Err(SynthError::Measure("a sample signature batch failed verify_batch".into()));
        }
        Ok(n)
    })?;
    let sha = rate(|| {
        for _ in 0..1000 {
            black_box(hash_entry_bytes(black_box(&s.entry)));
        }
        Ok(1000)
    })?;
    // sled: a fresh database per repetition, values the size of an entry.
    let value = s.entry.clone();
    let mut rep = 0;
    let min = min_rep();
    let mut sled_rate = |flush: bool| -> Result<f64, SynthError> {
        let mut rates = Vec::new();
        for _ in 0..REPS {
            rep += 1;
            let p = scratch.join(format!("sled-{rep}"));
            let db = tinledger_ledger::sled_config(&p).open().map_err(|e| io("open a sled database in", &p, e))?;
            let tree = db.open_tree("entries").map_err(|e| io("open a tree in", &p, e))?;
            let t = Instant::now();
            let mut k: u64 = 0;
            while t.elapsed() < min || k < 5 {
                let chunk = if flush { 1 } else { 1000 };
                for _ in 0..chunk {
                    tree.insert(k.to_be_bytes(), value.as_slice()).map_err(|e| io("insert into", &p, e))?;
                    k += 1;
                }
                if flush {
                    db.flush().map_err(|e| io("flush", &p, e))?;
                    tinledger_ledger::sync_tree(&p)?;
                }
            }
            rates.push(k as f64 / t.elapsed().as_secs_f64());
            drop(tree);
            drop(db);
            std::fs::remove_dir_all(&p).map_err(|e| io("remove", &p, e))?;
        }
        Ok(median(rates))
    };
    let sled_plain = sled_rate(false)?;
    let sled_flush = sled_rate(true)?;
    Ok(vec![
        Limit { name: "sign", value: sign, unit: "signatures/s", what: "Ed25519 sign, all cores" },
        Limit { name: "verify_strict", value: strict, unit: "signatures/s", what: "Ed25519 verify_strict, all cores" },
        Limit {
            name: "verify_batch",
            value: batch,
            unit: "signatures/s",
            what: "Ed25519 verify_batch, batches of VERIFY_BATCH, all cores",
        },
        Limit { name: "sha256_entry", value: sha, unit: "hashes/s", what: "entry hash of a typical entry, one core" },
        Limit { name: "sled_insert", value: sled_plain, unit: "inserts/s", what: "sled insert, no flush, one thread" },
        Limit {
            name: "sled_insert_flush",
            value: sled_flush,
            unit: "inserts/s",
            what: "sled insert + flush + fsync of the db files",
        },
    ])
}

/// The value of the limit called `name` (NaN if there is none).
pub fn limit(ls: &[Limit], name: &str) -> f64 {
    ls.iter().find(|l| l.name == name).map_or(f64::NAN, |l| l.value)
}
