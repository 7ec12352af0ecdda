//! The server figures of `tinledger bench` (docs/performance.md, "Server
//! figures"): `tinledger serve` runs as a child process on a scratch ledger
//! holding the synthetic registrations, and clients on loopback submit
//! pre-signed, independent events (extracts of new lots by the synthetic
//! mines) to it.
//!
//! - `serve_submit_durable`: [`CONNECTIONS`] client threads, each with its
//!   own keep-alive connection, each submitting one event per request and
//!   waiting for its durable receipt, [`DURABLE_PER_CONNECTION`] times (or
//!   until [`MAX_SECS`] passed): events/s over the whole run, and the p50
//!   and p99 of the request latencies.
//! - `serve_submit_batch`: [`BATCH_CLIENTS`] client threads posting bodies
//!   of [`BATCH_EVENTS`] events (JSON Lines as `sign-batch` writes them),
//!   [`BATCH_BODIES`] bodies in all: events/s.
//!
//! The child is killed when this returns, however it returns.

use crate::{sign_all, KeyRing, Synth, SynthError};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tinledger_core::event::PublicKey;
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Event, EventBody, LotId, SignedEvent};
use tinledger_formats::signed::SignedFile;
use tinledger_ledger::Ledger;

/// Client connections of `serve_submit_durable`.
pub const CONNECTIONS: usize = 64;
/// Events each of them submits, one per request.
pub const DURABLE_PER_CONNECTION: u64 = 60;
/// Client threads of `serve_submit_batch`.
pub const BATCH_CLIENTS: usize = 4;
/// Events per body of `serve_submit_batch`.
pub const BATCH_EVENTS: u64 = 1000;
/// Bodies posted by `serve_submit_batch`, in all.
pub const BATCH_BODIES: u64 = 20;
/// The latency target of `serve_submit_durable` (issue #13: p99 ≤ 100 ms),
/// the limit its p50 and p99 are compared with.
pub const P99_TARGET_MS: f64 = 100.0;
/// Longest a figure's load runs before it stops (bounded in time as in count).
pub const MAX_SECS: u64 = 60;

/// What the server figures measured.
pub struct ServeFigures {
    /// `serve_submit_durable`: events/s.
    pub durable_rate: f64,
    /// Its median request latency, ms.
    pub p50_ms: f64,
    /// Its 99th-percentile request latency, ms.
    pub p99_ms: f64,
    /// `serve_submit_batch`: events/s.
    pub batch_rate: f64,
}

fn err(msg: impl Into<String>) -> SynthError {
    SynthError::Measure(msg.into())
}

/// `n` valid events from `first` on that depend on nothing but the
/// synthetic registrations, in any order: extracts of new lots
/// `SRV-<i>` by the mine of the synthetic stream's first extract.
pub fn independent_events(first: u64, n: u64) -> Result<Vec<Event>, SynthError> {
    let h = Synth::header_len() as usize;
    let mut s = Synth::new(crate::MIN_EVENTS)?;
    let template = s
        .by_ref()
        .skip(h)
        .find(|e| matches!(e.body, EventBody::Extract { .. }))
        .ok_or_else(|| err("the synthetic stream has no extract"))?;
    (first..first + n)
        .map(|i| {
            let mut e = template.clone();
            if let EventBody::Extract { lot, .. } = &mut e.body {
                *lot = LotId::new(format!("SRV-{i:08}")).map_err(err)?;
            }
            Ok(e)
        })
        .collect()
}

/// The log key of the server figures (a TEST key, as every key here).
pub fn log_key() -> ed25519_dalek::SigningKey {
    tinledger_core::testkeys::test_key(LOG_KEY_LABEL)
}

/// The label of [`log_key`].
pub const LOG_KEY_LABEL: &str = "LOG-SYNTH";

/// A scratch ledger holding the synthetic genesis and registrations, and
/// the authority's binding of [`log_key`] (`bind_log_key`): what
/// `tinledger serve --log-key` needs to start.
pub fn header_ledger(dir: &Path, ring: &KeyRing) -> Result<(), SynthError> {
    let h = Synth::header_len() as usize;
    let mut evs: Vec<Event> = Synth::new(crate::MIN_EVENTS)?.take(h).collect();
    let last = evs.last().ok_or_else(|| err("no synthetic events"))?;
    let bind = Event {
        ledger_id: crate::LEDGER_ID,
        signer: ActorId::new(crate::AUTHORITY).map_err(err)?,
        at: Timestamp(last.at.0 + 1),
        note: None,
        body: EventBody::BindLogKey { key: PublicKey::from(&log_key()) },
    };
    evs.push(bind);
    let signed = sign_all(&evs, ring)?;
    let (genesis, rest) = signed.split_first().ok_or_else(|| err("no synthetic events"))?;
    let (mut l, _) = Ledger::create(dir, genesis)?;
    l.append_batch(rest)?;
    Ok(())
}

/// The child `tinledger serve`, killed on drop.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(exe: &Path, ledger: &Path, key: &Path) -> Result<Served, SynthError> {
    let mut child = Command::new(exe)
        .arg("--ledger")
        .arg(ledger)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-key"])
        .arg(key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| crate::measure::io("run", exe, e))?;
    let stderr = child.stderr.take().ok_or_else(|| err("no stderr of `tinledger serve`"))?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut served = Served { child, base: String::new() };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut said = String::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(a) = line.strip_prefix("listening on ") {
            served.base = format!("{}/", a.trim());
            return Ok(served);
        }
        said = line;
    }
    Err(err(format!("`tinledger serve` did not start: {said}")))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn jsonl(evs: &[SignedEvent]) -> Result<String, SynthError> {
    let mut s = String::with_capacity(evs.len() * 800);
    for e in evs {
        s.push_str(&serde_json::to_string(&SignedFile::from_signed(e)).map_err(|e| err(e.to_string()))?);
        s.push('\n');
    }
    Ok(s)
}

/// POST one body; the number of events appended (every result must be
/// `appended`: the events are valid and new).
fn submit(a: &ureq::Agent, url: &str, body: &str) -> Result<u64, SynthError> {
    let mut r = a.post(url).send(body).map_err(|e| err(format!("{url}: {e}")))?;
    let status = r.status().as_u16();
    let text = r.body_mut().with_config().limit(64 << 20).read_to_string().map_err(|e| err(format!("{url}: {e}")))?;
    if status != 200 {
        return Err(err(format!("{url}: HTTP {status}: {}", text.lines().next().unwrap_or(""))));
    }
    let n = text.lines().filter(|l| l.contains("\"status\":\"appended\"")).count() as u64;
    Ok(n)
}

/// The q-quantile of sorted `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// Measure both server figures with `exe` in `scratch`.
pub fn measure(
    exe: &Path,
    scratch: &Path,
    ring: &KeyRing,
    progress: &dyn Fn(&str),
) -> Result<ServeFigures, SynthError> {
    let ledger = scratch.join("serve");
    header_ledger(&ledger, ring)?;
    let key = scratch.join("serve-log.pem");
    tinledger_formats::keyfile::write_signing_key(&key, &log_key()).map_err(|e| err(e.to_string()))?;
    let durable_n = CONNECTIONS as u64 * DURABLE_PER_CONNECTION;
    let batch_n = BATCH_EVENTS * BATCH_BODIES;
    progress(&format!("signing {} independent events for the server figures", durable_n + batch_n));
    let evs = sign_all(&independent_events(0, durable_n + batch_n)?, ring)?;
    let (durable_evs, batch_evs) = evs.split_at(durable_n as usize);
    let served = start(exe, &ledger, &key)?;
    let url = format!("{}submit", served.base);

    progress(&format!(
        "serve_submit_durable: {CONNECTIONS} connections, each submitting {DURABLE_PER_CONNECTION} events one at a time"
    ));
    let lines: Vec<String> = durable_evs.iter().map(|e| jsonl(std::slice::from_ref(e))).collect::<Result<_, _>>()?;
    let lines = Arc::new(lines);
    let stop_at = Instant::now() + Duration::from_secs(MAX_SECS);
    let t = Instant::now();
    let done = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..CONNECTIONS)
        .map(|c| {
            let (lines, url, done) = (lines.clone(), url.clone(), done.clone());
            std::thread::spawn(move || -> Result<Vec<f64>, SynthError> {
                let a = agent();
                let mut lat = Vec::with_capacity(DURABLE_PER_CONNECTION as usize);
                for k in 0..DURABLE_PER_CONNECTION as usize {
                    if Instant::now() >= stop_at {
                        break;
                    }
                    let Some(body) = lines.get(c * DURABLE_PER_CONNECTION as usize + k) else { break };
                    let t = Instant::now();
                    let n = submit(&a, &url, body)?;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    done.fetch_add(n, Ordering::Relaxed);
                }
                Ok(lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.join().map_err(|_| err("a client thread failed"))??);
    }
    let secs = t.elapsed().as_secs_f64();
    let durable_rate = done.load(Ordering::Relaxed) as f64 / secs;
    lat.sort_by(f64::total_cmp);
    let (p50_ms, p99_ms) = (quantile(&lat, 0.5), quantile(&lat, 0.99));

    progress(&format!(
        "serve_submit_batch: {BATCH_CLIENTS} clients posting {BATCH_BODIES} bodies of {BATCH_EVENTS} events"
    ));
    let bodies: Vec<String> = batch_evs.chunks(BATCH_EVENTS as usize).map(jsonl).collect::<Result<_, _>>()?;
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let stop_at = Instant::now() + Duration::from_secs(MAX_SECS);
    let t = Instant::now();
    let handles: Vec<_> = (0..BATCH_CLIENTS)
        .map(|_| {
            let (bodies, url, next, done) = (bodies.clone(), url.clone(), next.clone(), done.clone());
            std::thread::spawn(move || -> Result<(), SynthError> {
                let a = agent();
                while Instant::now() < stop_at {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(body) = bodies.get(i) else { break };
                    done.fetch_add(submit(&a, &url, body)?, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| err("a client thread failed"))??;
    }
    let batch_rate = done.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    drop(served);
    let _ = std::fs::remove_dir_all(&ledger);
    Ok(ServeFigures { durable_rate, p50_ms, p99_ms, batch_rate })
}
