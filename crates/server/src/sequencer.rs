//! The sequencer: the one writer of the ledger. It takes jobs from the
//! queue, sequences up to `--batch-size` events (or what arrived within
//! `--batch-wait-ms`) with ONE durable append, answers every job only after
//! that append's sync returned, and signs a checkpoint when the tree grew,
//! at most every `--checkpoint-interval`.
//!
//! Crash windows (docs/server.md, "Group commit"): a kill before the
//! append's commit point leaves none of the batch (no receipt was sent);
//! after the commit point but before the sync returned, the batch may be
//! wholly present after restart although no receipt was sent (a retry then
//! gets `duplicate` with the same seq and hash); after the sync, every
//! receipt sent is in the log. A checkpoint is signed only over synced
//! entries and stored (and synced) before it is served.

use crate::queue::{Job, Outcome, Reply};
use crate::Shared;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tinledger_core::checkpoint::Checkpoint;
use tinledger_core::cosig::add_signature_lines;
use tinledger_core::rules::StateView;
use tinledger_core::{EventBody, SignedEvent};

/// What a `bind_log_key` event submitted over HTTP gets.
pub const BIND_REFUSED: &str = "refused: a log key is bound with the server stopped: stop it, \
    run `tinledger record bind-log-key` on the ledger host, and restart it with the new --log-key";
use tinledger_ledger::{LedgerError, Receipt};

/// Run until the queue is closed and drained, or storage fails (then the
/// failure is returned and the server stops).
pub fn run(s: &Arc<Shared>) -> Result<(), String> {
    let mut last_cp = Instant::now();
    loop {
        let since = last_cp.elapsed();
        // While a checkpoint is out for cosigning the next one waits; the
        // publication wakes this loop when it is done.
        let idle = if s.grown() && s.publishing().is_none() {
            s.cfg.checkpoint_interval.saturating_sub(since)
        } else {
            Duration::from_secs(1)
        };
        let taken = s.queue.take(s.cfg.batch_size, s.cfg.batch_wait, idle);
        if !taken.jobs.is_empty() {
            sequence(s, taken.jobs)?;
        }
        if s.grown() && (last_cp.elapsed() >= s.cfg.checkpoint_interval || taken.done) {
            checkpoint(s, taken.done)?;
            last_cp = Instant::now();
        }
        if taken.done {
            return Ok(());
        }
    }
}

/// Sequence the events of `jobs` with one append and answer each job.
fn sequence(s: &Shared, jobs: Vec<Job>) -> Result<(), String> {
    let mut flat: Vec<&SignedEvent> = Vec::new();
    for j in &jobs {
        flat.extend(j.events.iter());
    }
    let result = decide(s, &flat);
    let mut outcomes = match result {
        Ok(o) => o.into_iter(),
        Err(e) => {
            let msg = format!("storage failed: {e}; the server stops, nothing of this request was acknowledged");
            for j in jobs {
                let _ = j.reply.send(Err(msg.clone()));
            }
            return Err(e);
        }
    };
    for j in jobs {
        let n = j.events.len();
        let mine: Vec<Outcome> = outcomes.by_ref().take(n).collect();
        let reply: Reply = if mine.len() == n { Ok(mine) } else { Err("an outcome is missing".into()) };
        let _ = j.reply.send(reply);
    }
    Ok(())
}

/// The outcome of every event: duplicates (of the log or of an earlier
/// event of the batch) are answered with the existing receipt, the rest
/// are appended together, each accepted or refused on its own.
fn decide(s: &Shared, flat: &[&SignedEvent]) -> Result<Vec<Outcome>, String> {
    let mut out: Vec<Option<Outcome>> = flat.iter().map(|_| None).collect();
    let mut first_of: HashMap<[u8; 32], usize> = HashMap::new();
    let mut same_as: Vec<Option<usize>> = flat.iter().map(|_| None).collect();
    let mut fresh: Vec<SignedEvent> = Vec::new();
    let mut fresh_at: Vec<usize> = Vec::new();
    {
        let l = s.ledger.read().map_err(|_| "the ledger lock is poisoned".to_string())?;
        let view = l.view();
        for (i, ev) in flat.iter().enumerate() {
            let id = ev.id();
            if let Some(j) = first_of.get(&id) {
                same_as[i] = Some(*j);
                continue;
            }
            first_of.insert(id, i);
            // The server signs with the bound log key and checks it at
            // start: a new binding is made with the server stopped.
            if matches!(ev.event().body, EventBody::BindLogKey { .. }) {
                out[i] = Some(Outcome::Refused(BIND_REFUSED.to_string()));
                continue;
            }
            match view.seen_event(&id).map_err(|e| e.to_string())? {
                Some(seq) => {
                    let e = l.get(seq).map_err(|e| e.to_string())?.ok_or_else(|| format!("entry {seq} is missing"))?;
                    out[i] = Some(Outcome::Duplicate(Receipt { seq, hash: e.hash(), flags: vec![] }));
                }
                None => {
                    fresh.push((*ev).clone());
                    fresh_at.push(i);
                }
            }
        }
    }
    if !fresh.is_empty() {
        let results = {
            let mut l = s.ledger.write().map_err(|_| "the ledger lock is poisoned".to_string())?;
            l.append_batch_partial(&fresh, crate::now()).map_err(|e| e.to_string())?
        };
        for (r, i) in results.into_iter().zip(fresh_at) {
            out[i] = Some(match r {
                Ok(rc) => Outcome::Appended(rc),
                Err(e @ (LedgerError::Refused { .. } | LedgerError::TooLarge { .. })) => {
                    // The message `tinledger record` prints for the same refusal.
                    Outcome::Refused(format!("refused: {e}"))
                }
                Err(e) => return Err(e.to_string()),
            });
        }
    }
    for i in 0..flat.len() {
        if let Some(j) = same_as[i] {
            out[i] = Some(match &out[j] {
                Some(Outcome::Appended(r) | Outcome::Duplicate(r)) => {
                    Outcome::Duplicate(Receipt { seq: r.seq, hash: r.hash, flags: vec![] })
                }
                Some(Outcome::Refused(m)) => Outcome::Refused(m.clone()),
                None => return Err("an outcome is missing".into()),
            });
        }
    }
    out.into_iter().map(|o| o.ok_or_else(|| "an outcome is missing".to_string())).collect()
}

/// Sign and store a checkpoint for the head if the tree grew since the
/// latest one; then serve it, or, with witnesses, hand it to a
/// publication task that collects their cosignatures (for at most the
/// witness timeout), adds them to the stored note and serves that. One
/// publication at a time: while one runs this returns at once, or with
/// `wait` (the last checkpoint at shutdown) waits for it first.
///
/// Crash windows: the log-signed note is stored (synced) before any witness
/// sees it, so a size a witness cosigned is always a stored checkpoint the
/// log can prove from after a restart; a crash before the cosignatures are
/// added leaves that size's stored note with the log's signature only,
/// and it is served so after the restart.
pub fn checkpoint(s: &Arc<Shared>, wait: bool) -> Result<(), String> {
    let Some(signer) = &s.signer else { return Ok(()) };
    if s.cfg.witnesses.is_some() {
        let running = s.publishing.lock().map_err(|_| "the publication lock is poisoned".to_string())?.take();
        if let Some((size, h)) = running {
            if !wait && !h.is_finished() {
                if let Ok(mut p) = s.publishing.lock() {
                    *p = Some((size, h));
                }
                return Ok(());
            }
            let _ = s.rt.block_on(h);
        }
    }
    let l = s.ledger.read().map_err(|_| "the ledger lock is poisoned".to_string())?;
    let size = l.head().size;
    if size == 0 || s.checkpointed_size() >= size {
        return Ok(());
    }
    let root = l.merkle_root(size).map_err(|e| e.to_string())?;
    let cp = Checkpoint { origin: signer.name.clone(), size, root, extensions: vec![] };
    let note = cp.sign(signer).map_err(|e| e.to_string())?;
    // Stored and synced before it is served: a served checkpoint survives a crash.
    let stored = l.store_checkpoint(size, &note).map_err(|e| e.to_string())?;
    drop(l);
    let Some(ws) = s.cfg.witnesses.clone() else {
        s.serve_checkpoint(size, stored);
        return Ok(());
    };
    let s2 = s.clone();
    let task = s.rt.spawn(async move {
        let proofs = proof_source(&s2, size);
        let lines = ws.cosign(&stored, size, proofs).await;
        let s3 = s2.clone();
        let kept = stored.clone();
        let served =
            tokio::task::spawn_blocking(move || add_cosignatures(&s3, size, &kept, &lines)).await.unwrap_or(stored);
        s2.serve_checkpoint(size, served);
        if let Ok(mut p) = s2.publishing.lock() {
            if p.as_ref().is_some_and(|(n, _)| *n == size) {
                *p = None;
            }
        }
        s2.queue.wake();
    });
    if let Ok(mut p) = s.publishing.lock() {
        *p = Some((size, task));
    }
    Ok(())
}

/// Consistency proofs to `size`, from 0, from `size` itself, or from a
/// size the log has a stored checkpoint for.
fn proof_source(s: &Arc<Shared>, size: u64) -> crate::witnesses::ProofSource {
    let s = s.clone();
    Arc::new(move |old: u64| {
        if old == 0 || old == size {
            return Some(vec![]);
        }
        if old > size || !s.cps.read().ok()?.sizes.contains(&old) {
            return None;
        }
        s.ledger.read().ok()?.consistency_proof(old, size).ok()
    })
}

/// The stored note for `size` with `lines` added (stored and synced), or
/// the note as it was when there are none or storing fails (logged).
fn add_cosignatures(s: &Shared, size: u64, note: &str, lines: &[String]) -> String {
    if lines.is_empty() {
        return note.to_string();
    }
    let log = |m: String| {
        if let Some(ws) = &s.cfg.witnesses {
            ws.log(&m);
        }
    };
    let cosigned = match add_signature_lines(note, lines) {
        Ok(n) => n,
        Err(e) => {
            log(format!("checkpoint {size}: cannot add the cosignatures: {e}"));
            return note.to_string();
        }
    };
    let stored = s
        .ledger
        .read()
        .map_err(|_| "the ledger lock is poisoned".to_string())
        .and_then(|l| l.add_checkpoint_signatures(size, &cosigned).map_err(|e| e.to_string()));
    match stored {
        Ok(n) => n,
        Err(e) => {
            log(format!("checkpoint {size}: cannot store the cosignatures, serving it without them: {e}"));
            note.to_string()
        }
    }
}
