//! `tinledger serve` on loopback (docs/server.md): concurrent submitters
//! with refused and duplicate events, the read API byte for byte, SIGKILL
//! under load, and hostile traffic. Every server is a real child process,
//! killed by its guard when the test ends however it ends.

use crate::util::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::note::Verifier;
use tinledger_core::{Event, EventBody, LotId, SignedEvent};
use tinledger_formats::signed::SignedFile;
use tinledger_ledger::Ledger;
use tinledger_synth::KeyRing;

/// A running `tinledger serve`; killed (SIGKILL) and reaped on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// Everything it printed on stderr (drained by a thread).
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Start `tinledger --ledger LEDGER serve --listen 127.0.0.1:0 ARGS…`
    /// and wait (at most 60 s) for its `listening on` line.
    pub fn start(ledger: &Path, args: &[&str]) -> Server {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("tinledger"));
        cmd.arg("--ledger").arg(ledger).args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        let (child, addr, stderr) = start_listening(cmd);
        Server { child, base: format!("http://{addr}/"), addr, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL now, reaped.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (at most 30 s) for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawn `cmd` (a `tinledger` server of any kind) and wait (at most 60 s)
/// for its `listening on http://ADDR` line: (the child, ADDR, its stderr so
/// far and from now on, drained by a thread). Panics with that stderr if
/// it does not start; the child is killed then.
pub fn start_listening(mut cmd: Command) -> (Child, String, Arc<Mutex<String>>) {
    let mut child = cmd
        .env_remove("TINLEDGER_LEDGER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let err = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = Arc::new(Mutex::new(String::new()));
    let log = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            log.lock().unwrap().push_str(&format!("{line}\n"));
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                if let Some(a) = line.strip_prefix("listening on http://") {
                    return (child, a.trim().to_string(), stderr);
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} did not start: {}", stderr.lock().unwrap())
            }
        }
    }
}

/// An HTTP agent for tests: short timeouts, statuses as values.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// GET: (status, headers, body).
pub fn get(a: &ureq::Agent, url: &str) -> (u16, ureq::http::HeaderMap, Vec<u8>) {
    let mut r = a.get(url).call().expect("GET");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.body_mut().with_config().limit(64 << 20).read_to_vec().expect("body");
    (status, headers, body)
}

/// POST /submit: (status, result objects or the error object).
pub fn post(a: &ureq::Agent, base: &str, body: &[u8]) -> Result<(u16, Vec<Value>), ureq::Error> {
    let mut r = a.post(&format!("{base}submit")).send(body)?;
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string()?;
    Ok((status, text.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()))
}

/// One signed event as a JSON line.
pub fn line(e: &SignedEvent) -> String {
    format!("{}\n", serde_json::to_string(&SignedFile::from_signed(e)).unwrap())
}

/// A synthetic ledger holding its header (genesis and every registration)
/// and a source of valid, independent events: extracts of new lots by the
/// synthetic mines, in any order.
pub struct Fixture {
    pub dir: PathBuf,
    pub log_key: PathBuf,
    pub verifier: Verifier,
    template: Event,
    ring: KeyRing,
}

impl Fixture {
    pub fn new(env: &Env) -> Fixture {
        let dir = env.path("ledger");
        let ring = KeyRing::new().unwrap();
        tinledger_synth::loadgen::header_ledger(&dir, &ring).unwrap();
        let template = tinledger_synth::loadgen::independent_events(0, 1).unwrap().remove(0);
        // header_ledger binds the synthetic log key; serve signs with it.
        let log_key = env.path("log.pem");
        let sk = tinledger_synth::loadgen::log_key();
        tinledger_formats::keyfile::write_signing_key(&log_key, &sk).unwrap();
        let verifier = Verifier::new(&origin_for(&tinledger_synth::LEDGER_ID), sk.verifying_key().to_bytes()).unwrap();
        Fixture { dir, log_key, verifier, template, ring }
    }

    /// The `i`th valid event: an extract of lot `SRV-i`.
    pub fn event(&self, i: u64) -> SignedEvent {
        let mut e = self.template.clone();
        if let EventBody::Extract { lot, .. } = &mut e.body {
            *lot = LotId::new(format!("SRV-{i:08}")).unwrap();
        }
        e.sign(self.ring.get(&e.signer).unwrap()).unwrap()
    }

    /// An event the rules refuse whatever comes before it: signed for an
    /// actor nobody registered.
    pub fn refused(&self, i: u64) -> SignedEvent {
        let mut e = self.template.clone();
        e.signer = tinledger_core::ActorId::new(format!("NOBODY-{i}")).unwrap();
        if let EventBody::Extract { lot, .. } = &mut e.body {
            *lot = LotId::new(format!("BAD-{i:08}")).unwrap();
        }
        e.sign(&tinledger_core::testkeys::test_key("NOBODY")).unwrap()
    }

    pub fn serve(&self, extra: &[&str]) -> Server {
        let mut args = vec!["--log-key", self.log_key.to_str().unwrap()];
        args.extend_from_slice(extra);
        Server::start(&self.dir, &args)
    }

    /// The served checkpoint, opened with the log key: (size, root).
    pub fn checkpoint(&self, a: &ureq::Agent, base: &str) -> (u64, [u8; 32]) {
        let (st, h, body) = get(a, &format!("{base}checkpoint"));
        assert_eq!(st, 200);
        assert_eq!(h["content-type"], "text/plain; charset=utf-8");
        let cp = Checkpoint::open(std::str::from_utf8(&body).unwrap(), &self.verifier).expect("signed by the log key");
        (cp.size, cp.root)
    }
}

#[test]
fn append_batch_partial_refuses_one_event_without_failing_the_others() {
    let env = Env::new();
    let f = Fixture::new(&env);
    let copy = env.path("copy");
    copy_dir(&f.dir, &copy);
    let mut batch: Vec<SignedEvent> = (0..6).map(|i| f.event(i)).collect();
    batch.insert(3, f.refused(0));
    // A bad signature (the event of lot 2, re-signed by another key) in the middle.
    let (bytes, _) = f.event(50).into_parts();
    let (_, other_sig) = f.event(99).into_parts();
    batch.insert(5, SignedEvent::from_parts(bytes, other_sig).unwrap());
    let mut l = Ledger::open(&f.dir).unwrap();
    let now = tinledger_core::units::Timestamp(1_800_000_000);
    let got = l.append_batch_partial(&batch, now).unwrap();
    assert_eq!(got.len(), 8);
    let refused: Vec<usize> = got.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(i, _)| i).collect();
    assert_eq!(refused, vec![3, 5], "{got:?}");
    assert!(got[3].as_ref().unwrap_err().to_string().starts_with("unknown actor NOBODY-0"), "{got:?}");
    assert!(got[5].as_ref().unwrap_err().to_string().starts_with("signature does not verify"), "{got:?}");
    // The same as appending the accepted ones one by one.
    let mut one = Ledger::open(&copy).unwrap();
    for (i, ev) in batch.iter().enumerate() {
        let r = one.append_at(ev, now);
        assert_eq!(r.is_ok(), !refused.contains(&i), "{i}: {r:?}");
        if let (Ok(a), Ok(b)) = (r, &got[i]) {
            assert_eq!(&a, b);
        }
    }
    assert_eq!(l.head(), one.head());
    // Nothing accepted: nothing written.
    let head = l.head();
    let got = l.append_batch_partial(&[f.refused(1), f.event(0)], now).unwrap();
    assert!(got.iter().all(|r| r.is_err()), "a duplicate and a refusal: {got:?}");
    assert_eq!(l.head(), head);
}

#[test]
fn concurrent_submitters_get_one_receipt_per_event_duplicates_and_refusals() {
    let env = Env::new();
    let f = Arc::new(Fixture::new(&env));
    let s = f.serve(&["--batch-wait-ms", "3"]);
    const THREADS: u64 = 6;
    const PER: u64 = 30;
    let base = s.base.clone();
    // Thread t submits events t*PER.., each twice; every fifth also by the
    // next thread (a race); every seventh request carries a refused event.
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (f, base) = (f.clone(), base.clone());
            std::thread::spawn(move || {
                let a = agent();
                let mut seen: Vec<(u64, Value)> = Vec::new();
                for k in 0..PER {
                    let i = t * PER + k;
                    let mut ids = vec![i];
                    if k % 5 == 0 {
                        ids.push(((t + 1) % THREADS) * PER + k + 1);
                    }
                    let mut body = String::new();
                    for id in &ids {
                        body.push_str(&line(&f.event(*id)));
                    }
                    let bad = k % 7 == 0;
                    if bad {
                        body.push_str(&line(&f.refused(i)));
                    }
                    for round in 0..2 {
                        let (st, rs) = post(&a, &base, body.as_bytes()).unwrap();
                        assert_eq!(st, if bad { 422 } else { 200 }, "{rs:?}");
                        assert_eq!(rs.len(), ids.len() + usize::from(bad));
                        for (n, id) in ids.iter().enumerate() {
                            assert_eq!(rs[n]["line"], n as u64 + 1);
                            if round == 1 {
                                assert_eq!(rs[n]["status"], "duplicate", "a resubmission: {:?}", rs[n]);
                            }
                            seen.push((*id, rs[n].clone()));
                        }
                        if bad {
                            let r = &rs[ids.len()];
                            assert_eq!(r["status"], "refused");
                            assert_eq!(r["error"], format!("refused: unknown actor NOBODY-{i}"));
                        }
                    }
                }
                seen
            })
        })
        .collect();
    let mut all: Vec<(u64, Value)> = Vec::new();
    for h in handles {
        all.extend(h.join().expect("submitter"));
    }
    let mut by_event: std::collections::BTreeMap<u64, Vec<Value>> = Default::default();
    for (id, r) in all {
        by_event.entry(id).or_default().push(r);
    }
    let mut seqs = std::collections::BTreeSet::new();
    for (id, rs) in &by_event {
        let appended: Vec<&Value> = rs.iter().filter(|r| r["status"] == "appended").collect();
        assert_eq!(appended.len(), 1, "event {id}: exactly one receipt: {rs:?}");
        let (seq, hash) = (&appended[0]["seq"], &appended[0]["entry_hash"]);
        for r in rs {
            assert_eq!((&r["seq"], &r["entry_hash"]), (seq, hash), "event {id}: duplicates name the original");
        }
        assert!(seqs.insert(seq.as_u64().unwrap()), "one seq per event");
    }
    assert_eq!(by_event.len() as u64, THREADS * PER, "every event was submitted");
    // The refusal's message is the one `tinledger submit` prints.
    let a = agent();
    let (_, rs) = post(&a, &s.base, line(&f.refused(0)).as_bytes()).unwrap();
    assert_eq!(s.terminate().code(), Some(0), "SIGTERM stops the server cleanly");
    std::fs::write(env.path("bad.json"), line(&f.refused(0))).unwrap();
    let mut c = env.bare();
    c.arg("--ledger").arg(&f.dir).arg("submit").arg(env.path("bad.json"));
    let err = fails_with(c, 1);
    let msg = rs[0]["error"].as_str().unwrap();
    assert_eq!(msg, "refused: unknown actor NOBODY-0", "the message `record` prints");
    assert!(err.starts_with("tinledger: refused: ") && err.contains(": unknown actor NOBODY-0\n"), "{err} vs {msg}");
    // Every receipt is in the ledger, and the ledger verifies.
    let l = Ledger::open(&f.dir).unwrap();
    for rs in by_event.values() {
        let r = rs.iter().find(|r| r["status"] == "appended").unwrap();
        let e = l.get(r["seq"].as_u64().unwrap()).unwrap().unwrap();
        assert_eq!(e.hash().to_hex(), r["entry_hash"].as_str().unwrap());
    }
    drop(l);
    verify_passes(&env, &f.dir);
}

#[test]
fn the_read_api_serves_the_ledgers_bytes_with_the_contracts_headers() {
    let env = Env::new();
    let f = Fixture::new(&env);
    let s = f.serve(&["--checkpoint-interval", "0.05"]);
    let a = agent();
    let (size0, _) = f.checkpoint(&a, &s.base);
    // Grow the log past one full tile, in two steps (two checkpoints).
    let body: String = (0..300).map(|i| line(&f.event(i))).collect();
    assert_eq!(post(&a, &s.base, body.as_bytes()).unwrap().0, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    let size = loop {
        let (n, _) = f.checkpoint(&a, &s.base);
        if n == size0 + 300 {
            break n;
        }
        assert!(Instant::now() < deadline, "no checkpoint of the new size");
        std::thread::sleep(Duration::from_millis(50));
    };
    let (st, h, _) = get(&a, &format!("{}checkpoint", s.base));
    assert_eq!(
        (st, &h["cache-control"], &h["access-control-allow-origin"]),
        (200, &"no-store".parse().unwrap(), &"*".parse().unwrap())
    );
    let w = (size % 256) as u16;
    let w0 = (size0 % 256) as u16;
    let wanted = [
        ("tile/0/000".to_string(), Some((0u8, 0u64, 256u16))),
        (format!("tile/0/001.p/{w}"), Some((0, 1, w))),
        ("tile/1/000.p/1".to_string(), Some((1, 0, 1))),
        ("tile/entries/000".to_string(), None),
        (format!("tile/entries/001.p/{w}"), None),
        (format!("tile/0/000.p/{w0}"), Some((0, 0, w0))),
    ];
    let mut got = Vec::new();
    for (p, _) in &wanted {
        let (st, h, body) = get(&a, &format!("{}{p}", s.base));
        assert_eq!(st, 200, "{p}");
        assert_eq!(h["content-type"], "application/octet-stream");
        assert_eq!(h["access-control-allow-origin"], "*");
        let cache = if p.contains(".p/") { "no-cache" } else { "public, max-age=604800, immutable" };
        assert_eq!(h["cache-control"], cache, "{p}");
        got.push(body);
    }
    let lot = get(&a, &format!("{}lot/SRV-00000001", s.base));
    assert_eq!(lot.0, 200);
    let v: Value = serde_json::from_slice(&lot.2).unwrap();
    assert_eq!((v["lot"].as_str(), v["size"].as_u64()), (Some("SRV-00000001"), Some(size)));
    assert_eq!(v["history"], serde_json::json!([size0 + 1]));
    assert_eq!(v["state"]["id"], "SRV-00000001");
    let actor = f.template.signer.to_string();
    let (st, _, body) = get(&a, &format!("{}actor/{actor}", s.base));
    assert_eq!(st, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(!v["history"].as_array().unwrap().is_empty(), "{v}");
    // Not served: partials of sizes never checkpointed, tiles beyond the
    // tree, bad spellings, unknown ids, wrong methods.
    for p in [
        format!("tile/0/001.p/{}", w - 1),
        "tile/0/002".to_string(),
        "tile/entries/x001/000".to_string(),
        "tile/0/0".to_string(),
        "tile/00/000".to_string(),
        "tile/0/x000/000".to_string(),
        "tile/9/000".to_string(),
        "tile/0/x999/x999/x999/x999/x999/x999/999".to_string(),
        "lot/NO-SUCH-LOT".to_string(),
        "actor/NO-SUCH-ACTOR".to_string(),
        "checkpoint/".to_string(),
        "index.html".to_string(),
    ] {
        let (st, h, body) = get(&a, &format!("{}{p}", s.base));
        assert_eq!(st, 404, "{p}");
        assert_eq!(h["access-control-allow-origin"], "*");
        let v: Value = serde_json::from_slice(&body).expect("a JSON error");
        assert!(v["error"].is_string(), "{p}: {v}");
    }
    let mut r = a.post(&format!("{}checkpoint", s.base)).send(&b""[..]).unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let _ = r.body_mut().read_to_vec();
    // Raw paths a client library would normalise.
    for p in ["/tile/0/../0/000", "/tile/0/./000", "/tile//0/000", "/tile/0/%30%30%30", "/../checkpoint"] {
        let resp = raw(&s.addr, format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        assert!(resp.starts_with("HTTP/1.1 404"), "{p}: {resp}");
    }
    // Byte for byte what the ledger holds.
    assert_eq!(s.terminate().code(), Some(0));
    let l = Ledger::open(&f.dir).unwrap();
    for ((p, want), body) in wanted.iter().zip(&got) {
        let expect = match want {
            Some((lv, i, w)) => l.tile(*lv, *i, *w).unwrap().unwrap(),
            None if p.contains(".p/") => l.entry_bundle(1, w).unwrap().unwrap(),
            None => l.entry_bundle(0, 256).unwrap().unwrap(),
        };
        assert_eq!(&expect, body, "{p}");
    }
    let (n, note) = l.latest_checkpoint().unwrap().unwrap();
    assert_eq!(n, size, "the served checkpoint is the stored one");
    assert_eq!(Checkpoint::open(&note, &f.verifier).unwrap().root, l.merkle_root(size).unwrap());
}

/// Send `bytes` on a fresh connection; the response (or what came before
/// the server closed it), read for at most 10 s.
pub fn raw(addr: &str, bytes: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = c.write_all(bytes);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

#[test]
fn sigkill_under_load_loses_no_receipt_and_no_checkpoint_shrinks() {
    let env = Env::new();
    let f = Arc::new(Fixture::new(&env));
    const KILLS: u64 = 50;
    let a = agent();
    // (seq, entry hash, event) of every receipt, and every checkpoint seen.
    let mut receipts: Vec<(u64, String, u64)> = Vec::new();
    let mut cps: Vec<(u64, [u8; 32])> = Vec::new();
    let mut next = 0u64;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for round in 0..KILLS {
        let s = f.serve(&["--checkpoint-interval", "0.02", "--batch-wait-ms", "2"]);
        // After each restart: every earlier receipt stands (a resubmission is
        // a duplicate with the same seq and hash) ...
        let last: Vec<&(u64, String, u64)> = receipts.iter().rev().take(40).collect();
        if !last.is_empty() {
            let body: String = last.iter().map(|(_, _, i)| line(&f.event(*i))).collect();
            let (st, rs) = post(&a, &s.base, body.as_bytes()).unwrap();
            assert_eq!(st, 200, "round {round}");
            for ((seq, hash, i), r) in last.iter().zip(&rs) {
                assert_eq!(r["status"], "duplicate", "round {round}: event {i} lost: {r}");
                assert_eq!((r["seq"].as_u64().unwrap(), r["entry_hash"].as_str().unwrap()), (*seq, hash.as_str()));
            }
        }
        // ... and the checkpoint never shrinks.
        let cp = f.checkpoint(&a, &s.base);
        if let Some(prev) = cps.last() {
            assert!(cp.0 >= prev.0, "round {round}: checkpoint went from {} to {}", prev.0, cp.0);
        }
        cps.push(cp);
        // Load from three threads; kill at a pseudo-random moment.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen_cps = Arc::new(Mutex::new(Vec::new()));
        let start = next;
        next += 3 * 200;
        let workers: Vec<_> = (0..3u64)
            .map(|t| {
                let (f, base, stop, got, seen_cps) =
                    (f.clone(), s.base.clone(), stop.clone(), got.clone(), seen_cps.clone());
                std::thread::spawn(move || {
                    let a = agent();
                    for k in 0..200u64 {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let i = start + t * 200 + k;
                        match post(&a, &base, line(&f.event(i)).as_bytes()) {
                            Ok((200, rs)) => {
                                let r = &rs[0];
                                got.lock().unwrap().push((
                                    r["seq"].as_u64().unwrap(),
                                    r["entry_hash"].as_str().unwrap().to_string(),
                                    i,
                                ));
                            }
                            Ok((st, rs)) => panic!("HTTP {st}: {rs:?}"),
                            Err(_) => break,
                        }
                        if k % 10 == 0 {
                            if let Ok(mut r) = a.get(&format!("{base}checkpoint")).call() {
                                if let Ok(b) = r.body_mut().read_to_string() {
                                    seen_cps.lock().unwrap().push(b);
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(20 + rng % 180));
        s.kill();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            w.join().expect("worker");
        }
        receipts.extend(got.lock().unwrap().drain(..));
        for note in seen_cps.lock().unwrap().iter() {
            if let Ok(cp) = Checkpoint::open(note, &f.verifier) {
                cps.push((cp.size, cp.root));
            }
        }
    }
    assert!(receipts.len() as u64 > KILLS, "the load got receipts: {}", receipts.len());
    // Every receipt is in the log with its seq and hash; every checkpoint
    // ever served is a prefix of the log (so each is consistent with every
    // earlier one), and the sizes never went down in the order seen per round.
    let l = Ledger::open(&f.dir).unwrap();
    for (seq, hash, i) in &receipts {
        let e = l.get(*seq).unwrap().unwrap_or_else(|| panic!("event {i}: seq {seq} is missing"));
        assert_eq!(&e.hash().to_hex(), hash, "event {i}");
    }
    let mut sizes: Vec<(u64, [u8; 32])> = cps.clone();
    sizes.sort();
    sizes.dedup();
    for w in sizes.windows(2) {
        let (old, new) = (w[0], w[1]);
        assert_ne!(old.0, new.0, "two roots for one size");
        let proof = l.consistency_proof(old.0, new.0).unwrap();
        tinledger_core::merkle::verify_consistency(old.0, new.0, &old.1, &new.1, &proof).expect("consistent");
    }
    for (size, root) in &sizes {
        assert_eq!(&l.merkle_root(*size).unwrap(), root);
    }
    drop(l);
    verify_passes(&env, &f.dir);
}

/// `tinledger verify` of a served ledger passes: every entry replays, and
/// every stored checkpoint is signed by the log key bound below its size.
fn verify_passes(env: &Env, dir: &Path) {
    let out = env.bare().arg("--ledger").arg(dir).arg("verify").output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// VmRSS of `pid` in bytes.
fn rss(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 =
        s.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
    kb * 1024
}

/// Open file descriptors of `pid`.
fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn hostile_traffic_gets_4xx_and_the_server_stays_up_and_small() {
    let env = Env::new();
    let f = Fixture::new(&env);
    let s = f.serve(&["--read-timeout", "1", "--max-body", "65536", "--max-connections", "256"]);
    let a = agent();
    let ok = |why: &str| {
        let (st, _, _) = get(&a, &format!("{}checkpoint", s.base));
        assert_eq!(st, 200, "the server answers after {why}");
    };
    // Oversized: declared, and streamed without a length.
    let big = vec![b'{'; 70_000];
    let (st, rs) = post(&a, &s.base, &big).unwrap();
    assert_eq!((st, rs[0]["error"].as_str().unwrap()), (413, "request body is larger than 65536 bytes"));
    let resp = raw(
        &s.addr,
        &[
            &b"POST /submit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n11170\r\n"[..],
            &big,
            b"\r\n0\r\n\r\n",
        ]
        .concat(),
    );
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    ok("oversized bodies");
    // Malformed JSON, and a bad line among good ones: 400, nothing appended.
    let (st, rs) = post(&a, &s.base, b"{\"format\":").unwrap();
    assert_eq!(st, 400);
    assert!(rs[0]["error"].as_str().unwrap().starts_with("line 1: "), "{rs:?}");
    let body = format!("{}{}not json\n", line(&f.event(1)), line(&f.event(2)));
    let (st, rs) = post(&a, &s.base, body.as_bytes()).unwrap();
    assert_eq!(st, 400);
    assert!(rs[0]["error"].as_str().unwrap().starts_with("line 3: not a signed event"), "{rs:?}");
    let (st, rs) = post(&a, &s.base, line(&f.event(1)).as_bytes()).unwrap();
    assert_eq!((st, rs[0]["status"].as_str()), (200, Some("appended")), "the bad body appended nothing");
    // Truncated body: the length promises more than comes.
    let resp = {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"format\":").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        String::from_utf8_lossy(&out).to_string()
    };
    assert!(resp.is_empty() || resp.starts_with("HTTP/1.1 400"), "{resp}");
    // Malformed HTTP, and a request head larger than the limit.
    for junk in [&b"GARBAGE\r\n\r\n"[..], b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"GET / HTTP/9.9\r\n\r\n"] {
        let resp = raw(&s.addr, junk);
        assert!(resp.is_empty() || resp.starts_with("HTTP/1.1 4"), "{resp}");
    }
    let huge = format!("GET /checkpoint HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200_000));
    let resp = raw(&s.addr, huge.as_bytes());
    assert!(resp.is_empty() || resp.starts_with("HTTP/1.1 4"), "{}", &resp[..resp.len().min(200)]);
    ok("malformed requests");
    // A slow client, one byte per 200 ms: cut off by the 1 s read timeout.
    let slow = |req: &[u8]| -> (usize, String) {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut sent = 0;
        let mut out = Vec::new();
        for b in req {
            if c.write_all(&[*b]).is_err() {
                break;
            }
            sent += 1;
            let mut buf = [0u8; 1024];
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    break;
                }
                Err(_) => {}
            }
        }
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = c.read_to_end(&mut out);
        (sent, String::from_utf8_lossy(&out).to_string())
    };
    let head = b"GET /checkpoint HTTP/1.1\r\nHost: slow.example\r\nUser-Agent: a-very-slow-client\r\n\r\n";
    let (sent, resp) = slow(head);
    assert!(sent < head.len(), "the slow head was cut off after {sent} bytes: {resp}");
    let body = line(&f.event(3));
    let post_head = format!("POST /submit HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len());
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(post_head.as_bytes()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut resp = Vec::new();
    for b in body.as_bytes().iter().take(60) {
        if c.write_all(&[*b]).is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        if let Ok(n) = c.read(&mut buf) {
            resp.extend_from_slice(&buf[..n]);
            break;
        }
    }
    let resp = String::from_utf8_lossy(&resp).to_string();
    assert!(resp.starts_with("HTTP/1.1 408") || resp.is_empty(), "a slow body: {resp}");
    ok("slow clients");
    // 2,000 idle connections, held: the server keeps at most
    // --max-connections of them (the rest wait in the backlog or are
    // refused by the kernel), and still answers a normal request.
    let mut idle = Vec::new();
    for _ in 0..2000 {
        if let Ok(c) = TcpStream::connect_timeout(&s.addr.parse().unwrap(), Duration::from_millis(500)) {
            idle.push(c);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let open = fds(s.pid());
    assert!(open < 256 + 64, "the server holds {open} descriptors with 2,000 idle clients and --max-connections 256");
    ok("2,000 idle connections");
    drop(idle);
    let r = rss(s.pid());
    assert!(r < 256 << 20, "RSS {r} bytes after the hostile traffic");
    ok("all of it");
    assert_eq!(s.terminate().code(), Some(0));
}

#[test]
fn a_body_of_more_than_10000_events_is_413() {
    let env = Env::new();
    let f = Fixture::new(&env);
    let one = line(&f.event(0));
    let body = one.repeat(10_001);
    let e = tinledger_server::parse_body(body.as_bytes()).err().unwrap();
    assert_eq!(e.0.as_u16(), 413, "{}", e.1);
    let ok = tinledger_server::parse_body(one.repeat(10_000).as_bytes()).unwrap();
    assert_eq!((ok.len(), ok[9_999].0), (10_000, 10_000));
}

#[test]
fn remote_clients_submit_record_and_sign_batch_through_the_server() {
    let env = Env::new();
    env.demo();
    let log_key = env.path("log.pem");
    env.bare().args(["keygen", "--out"]).arg(&log_key).assert().success();
    // Not bound yet: serve refuses to start, naming the command that binds it.
    let mut c = env.cmd();
    c.args(["serve", "--listen", "127.0.0.1:0", "--log-key"]).arg(&log_key);
    let err = fails_with(c, 1);
    assert!(err.contains("is not this ledger's log key: no log key is bound to it"), "{err}");
    assert!(err.contains("record bind-log-key --key AUTHORITY.pem --public-key "), "{err}");
    let mut c = env.cmd();
    c.args(["record", "bind-log-key", "--key"])
        .arg(env.key("AUTH-BABEL"))
        .arg("--public-key")
        .arg(env.path("log.pub.pem"));
    c.assert().success();
    // Another key than the bound one: refused too.
    let other = env.path("other.pem");
    env.bare().args(["keygen", "--out"]).arg(&other).assert().success();
    let mut c = env.cmd();
    c.args(["serve", "--listen", "127.0.0.1:0", "--log-key"]).arg(&other);
    assert!(fails_with(c, 1).contains("is not this ledger's log key: the bound log key is key id "));
    let s = Server::start(&env.ledger(), &["--log-key", log_key.to_str().unwrap()]);
    // A new binding over HTTP: 422, made with the server stopped instead.
    let mut c = env.bare();
    c.args(["sign", "bind-log-key", "--key"]).arg(env.key("AUTH-BABEL")).args(["--as", "AUTH-BABEL"]);
    c.arg("--public-key").arg(env.path("other.pub.pem")).args(["--ledger-id", &remote_ledger_id(&s.base), "--out"]);
    c.arg(env.path("bind.json")).assert().success();
    let (st, rs) = post(&agent(), &s.base, &std::fs::read(env.path("bind.json")).unwrap()).unwrap();
    assert_eq!(st, 422);
    assert!(
        rs[0]["error"].as_str().unwrap().starts_with("refused: a log key is bound with the server stopped"),
        "{rs:?}"
    );
    let url = s.base.clone();
    let mut c = env.bare();
    c.args(koba_extract(&env, "KOB-2026-0100", "2026-04-01T00:00:00Z"));
    c.args(["--as", "MINE-KOBA", "--server", &url]);
    let out = c.assert().success().get_output().stdout.clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("recorded seq "), "{out}");
    // Without --as: refused before anything is signed.
    let mut c = env.bare();
    c.args(koba_extract(&env, "KOB-2026-0101", "2026-04-01T00:00:00Z")).args(["--server", &url]);
    assert!(fails_with(c, 2).contains("--as ACTOR is required with --server"));
    // sign, submit twice: appended, then duplicate with the same seq.
    let ledger_id = remote_ledger_id(&url);
    let mut c = env.bare();
    c.args(["sign", "extract", "--key"]).arg(env.key("MINE-KOBA")).args([
        "--as",
        "MINE-KOBA",
        "--lot",
        "KOB-2026-0102",
        "--mass",
        "1t",
        "--grade",
        "60%",
        "--licence",
        "IUP-OP 540/112/KOBA/2019",
        "--location=-2.4905,106.4075",
        "--at",
        "2026-04-01T00:00:00Z",
        "--ledger-id",
        &ledger_id,
        "--out",
    ]);
    c.arg(env.path("e.json")).assert().success();
    let submit = |json: bool| {
        let mut c = env.bare();
        c.arg("submit").arg(env.path("e.json")).args(["--server", &url]);
        if json {
            c.arg("--json");
        }
        String::from_utf8(c.assert().success().get_output().stdout.clone()).unwrap()
    };
    let first = submit(false);
    assert!(first.starts_with("recorded seq "), "{first}");
    let again: Value = serde_json::from_str(&submit(true)).unwrap();
    assert_eq!(again["results"][0]["status"], "duplicate");
    assert_eq!(first.split_whitespace().nth(2).unwrap(), again["results"][0]["seq"].to_string());
    // sign-batch --server: sign here, submit there.
    std::fs::write(
        env.path("rows.jsonl"),
        "{\"kind\":\"extract\",\"lot\":\"KOB-2026-0103\",\"material\":\"ore\",\"mass\":\"1t\",\"grade\":\"60%\",\"licence\":\"IUP-OP 540/112/KOBA/2019\",\"location\":\"-2.4905,106.4075\",\"at\":\"2026-04-02T00:00:00Z\"}\n",
    )
    .unwrap();
    let mut c = env.bare();
    c.arg("sign-batch").arg(env.path("rows.jsonl")).arg("--key").arg(env.key("MINE-KOBA"));
    c.args(["--as", "MINE-KOBA", "--server", &url, "--out"]).arg(env.path("rows.signed.jsonl"));
    let out = String::from_utf8(c.assert().success().get_output().stdout.clone()).unwrap();
    assert!(out.contains("recorded seq "), "{out}");
    // A refused event: exit 1 with the rule's message.
    let mut c = env.bare();
    c.args(koba_extract(&env, "KOB-2026-0100", "2026-04-03T00:00:00Z")).args(["--as", "MINE-KOBA", "--server", &url]);
    let err = fails_with(c, 1);
    assert!(err.contains("KOB-2026-0100"), "{err}");
    // A server that is not there: one line naming the URL, after the retries.
    drop(s);
    let mut c = env.bare();
    c.arg("submit").arg(env.path("e.json")).args(["--server", &url]);
    let err = fails_with(c, 2);
    assert!(err.starts_with(&format!("tinledger: {url}submit: ")), "{err}");
    assert!(err.contains("after 5 tries"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    env.cmd().arg("verify").assert().success();
}

/// The ledger id, from the served checkpoint's origin line.
fn remote_ledger_id(url: &str) -> String {
    let (_, _, body) = get(&agent(), &format!("{url}checkpoint"));
    let text = String::from_utf8(body).unwrap();
    text.lines().next().unwrap().strip_prefix("tinledger/").unwrap().to_string()
}
