//! `tinledger witness serve` on loopback (docs/witness.md): the whole
//! `add-checkpoint` status matrix of C2SP tlog-witness v1, cosignatures
//! checked by code that is not the witness's (sha2 for the key ID, the
//! signed message built here, Ed25519 by the `openssl` binary), one
//! cosignature per old size under concurrency, state across SIGKILLs,
//! and bad flags and state. Every witness is a child process, killed by
//! its guard when the test ends however it ends.

use crate::keys::{openssl, openssl_ok, openssl_public_key};
use crate::util::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tinledger_core::checkpoint::Checkpoint;
use tinledger_core::merkle::{consistency_proof, leaf_hash, root, verify_consistency, Hash, MemTree};
use tinledger_core::note::{Note, NoteSigner};

const NAME: &str = "witness.example/w1";
const ORIGIN: &str = "example.org/tin-log";
const ORIGIN2: &str = "example.org/other-log";
/// Leaves every history shares; the forks differ from here on.
const SHARED: u64 = 6;

fn log_signer(origin: &str, seed: u8) -> NoteSigner {
    NoteSigner::new(origin, ed25519_dalek::SigningKey::from_bytes(&[seed; 32])).unwrap()
}

/// A history of `n` leaves: the first `SHARED` are common to every salt.
fn history(n: u64, salt: u8) -> MemTree {
    let mut t = MemTree::new();
    for i in 0..n {
        let s = if i < SHARED { 0 } else { salt };
        t.push(leaf_hash(format!("{s}/{i}").as_bytes()));
    }
    t
}

fn root_at(t: &MemTree, size: u64) -> Hash {
    root(t, size).unwrap_or_else(|_| tinledger_core::merkle::empty_root())
}

/// The checkpoint note of `t` at `size`, signed by `signer`.
fn note(t: &MemTree, size: u64, signer: &NoteSigner) -> String {
    Checkpoint { origin: signer.name.clone(), size, root: root_at(t, size), extensions: vec![] }.sign(signer).unwrap()
}

/// An add-checkpoint body: `old N`, the proof lines, an empty line, the note.
fn body(old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
    tinledger_core::witness::request_body(old, proof, note).into_bytes()
}

/// The honest request from `old` to `size` of history `t`.
fn grow(t: &MemTree, old: u64, size: u64, signer: &NoteSigner) -> Vec<u8> {
    body(old, &consistency_proof(t, old, size).unwrap(), &note(t, size, signer))
}

/// A running `tinledger witness serve`; killed (SIGKILL) and reaped on drop.
struct Witness {
    child: Arc<Mutex<Child>>,
    base: String,
}

/// The files of one witness: its key and state directory, and the logs it trusts.
struct Setup {
    env: Env,
    logs: Vec<String>,
}

impl Setup {
    fn new() -> Setup {
        let env = Env::new();
        env.bare().args(["keygen", "--out", "w.pem"]).assert().success();
        let logs =
            vec![log_signer(ORIGIN, 7).verifier().to_key_string(), log_signer(ORIGIN2, 9).verifier().to_key_string()];
        Setup { env, logs }
    }
    fn state(&self) -> PathBuf {
        self.env.path("state")
    }
    fn serve_cmd(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("tinledger"));
        c.current_dir(self.env.tmp.path()).args(["witness", "serve", "--key", "w.pem", "--name", NAME]);
        c.args(["--listen", "127.0.0.1:0", "--state"]).arg(self.state());
        for l in &self.logs {
            c.args(["--log", l]);
        }
        c
    }
    /// Start the witness and wait (at most 60 s) for its `listening on` line.
    fn start(&self) -> Witness {
        self.start_with(&[])
    }
    fn start_with(&self, extra: &[&str]) -> Witness {
        let mut cmd = self.serve_cmd();
        cmd.args(extra);
        let (child, addr, _stderr) = crate::server::spawn_listening(cmd);
        Witness { child: Arc::new(Mutex::new(child)), base: format!("http://{addr}/") }
    }
}

impl Witness {
    fn kill(&self) {
        let mut c = self.child.lock().unwrap();
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        self.kill();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// POST /add-checkpoint: (status, Content-Type, body).
fn add(a: &ureq::Agent, w: &Witness, b: &[u8]) -> Result<(u16, String, String), ureq::Error> {
    let mut r = a.post(&format!("{}add-checkpoint", w.base)).send(b)?;
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    Ok((r.status().as_u16(), ct, r.body_mut().read_to_string()?))
}

fn get(a: &ureq::Agent, url: &str) -> (u16, String, String) {
    let mut r = a.get(url).call().expect("GET");
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status().as_u16(), ct, r.body_mut().read_to_string().unwrap())
}

/// The witness's public key and key ID from the spec, not from tinledger:
/// the key from `openssl pkey -pubout`, the ID SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4].
struct Independent {
    dir: PathBuf,
    key: [u8; 32],
    id: [u8; 4],
}

impl Independent {
    fn new(dir: &Path) -> Independent {
        openssl_ok(dir, &["pkey", "-in", "w.pem", "-pubout", "-out", "w.pub.pem"]);
        let key: [u8; 32] = hex::decode(openssl_public_key(dir, "w.pem", false)).unwrap().try_into().unwrap();
        let mut h = Sha256::new();
        h.update(NAME.as_bytes());
        h.update(b"\n");
        h.update([0x04]);
        h.update(key);
        let id = h.finalize()[..4].try_into().unwrap();
        Independent { dir: dir.to_path_buf(), key, id }
    }

    /// Check a 200 body (one cosignature line) on checkpoint body `text`
    /// with openssl; a changed message must fail. Returns the timestamp.
    fn check(&self, line: &str, text: &str) -> u64 {
        let rest = line.strip_suffix('\n').expect("the line ends in a newline");
        let rest = rest.strip_prefix("\u{2014} ").expect("the line starts with an em dash and a space");
        let (name, b64) = rest.split_once(' ').unwrap();
        assert_eq!(name, NAME);
        let raw = B64.decode(b64).unwrap();
        assert_eq!(raw.len(), 4 + 8 + 64, "key ID, timestamp, signature");
        assert_eq!(raw[..4], self.id, "key ID from the spec's formula");
        let time = u64::from_be_bytes(raw[4..12].try_into().unwrap());
        let msg = format!("cosignature/v1\ntime {time}\n{text}");
        std::fs::write(self.dir.join("cosig.msg"), &msg).unwrap();
        std::fs::write(self.dir.join("cosig.sig"), &raw[12..]).unwrap();
        let verify = [
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "w.pub.pem",
            "-rawin",
            "-in",
            "cosig.msg",
            "-sigfile",
            "cosig.sig",
        ];
        let (ok, _, err) = openssl(&self.dir, &verify);
        assert!(ok, "openssl rejects the cosignature: {err}");
        std::fs::write(self.dir.join("cosig.msg"), format!("cosignature/v1\ntime {}\n{text}", time + 1)).unwrap();
        assert!(!openssl(&self.dir, &verify).0, "another timestamp must not verify");
        time
    }

    /// `name+hash+base64(0x04 ‖ key)`, built here.
    fn vkey(&self) -> String {
        let mut b = vec![0x04];
        b.extend_from_slice(&self.key);
        format!("{NAME}+{}+{}", hex::encode(self.id), B64.encode(b))
    }
}

fn text_of(note: &str) -> String {
    Note::parse(note).unwrap().text
}

#[test]
fn add_checkpoint_status_matrix_and_independent_cosignatures() {
    let s = Setup::new();
    let ind = Independent::new(s.env.tmp.path());
    let out = s.env.bare().args(["witness", "key", "--key", "w.pem", "--name", NAME]).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), ind.vkey());
    let w = s.start();
    let a = agent();
    let (log, log2) = (log_signer(ORIGIN, 7), log_signer(ORIGIN2, 9));
    let (t, fork) = (history(40, 1), history(40, 2));
    let cp_url = format!("{}checkpoint/{ORIGIN}", w.base);
    assert_eq!(get(&a, &cp_url).0, 404, "nothing cosigned yet");

    // 404: unknown origin. 403: a known origin signed by another key.
    let stranger = log_signer("example.org/stranger", 7);
    assert_eq!(add(&a, &w, &grow(&t, 0, 8, &stranger)).unwrap().0, 404);
    assert_eq!(add(&a, &w, &grow(&t, 0, 8, &log_signer(ORIGIN, 8))).unwrap().0, 403);
    // 400: malformed bodies, 64 or 65 proof lines.
    let good = String::from_utf8(grow(&t, 0, 8, &log)).unwrap();
    let h = format!("{}\n", B64.encode([5u8; 32]));
    for bad in [
        String::new(),
        "old 0\n".into(),
        good.replacen("old 0", "old 00", 1),
        good.replacen("old 0", "old 0 ", 1),
        good.replacen("old 0\n\n", "old 0\n", 1),
        good.replacen("old 0\n", "old 0\nnot base64\n", 1),
        good.replacen("old 0\n", &format!("old 0\n{}\n", B64.encode([5u8; 31])), 1),
        good.replacen("old 0\n", &format!("old 0\n{}", h.repeat(64)), 1),
        good.replacen("old 0\n", &format!("old 0\n{}", h.repeat(65)), 1),
        good.replacen("\n\u{2014} ", "\n- ", 1),
        good.trim_end().to_string(),
    ] {
        let (st, ct, msg) = add(&a, &w, bad.as_bytes()).unwrap();
        assert_eq!((st, ct.as_str()), (400, "text/plain; charset=utf-8"), "{bad:?}: {msg}");
        assert!(msg.ends_with('\n') && msg.lines().count() == 1, "one line: {msg:?}");
    }
    // 413: a body over 1 MiB.
    // (Declared: the witness answers before reading a byte of it.)
    let addr = w.base.trim_start_matches("http://").trim_end_matches('/');
    let head = format!("POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", (1 << 20) + 1);
    let resp = crate::server::raw(addr, head.as_bytes());
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    // 405 and 404 for other methods and paths.
    assert_eq!(get(&a, &format!("{}add-checkpoint", w.base)).0, 405);
    assert_eq!(get(&a, &format!("{}checkpoint", w.base)).0, 404);
    assert_eq!(a.post(&format!("{}checkpoint/{ORIGIN}", w.base)).send("x").unwrap().status().as_u16(), 405);
    // 422: a non-empty proof with old size 0.
    let p = consistency_proof(&t, 4, 8).unwrap();
    assert_eq!(add(&a, &w, &body(0, &p, &note(&t, 8, &log))).unwrap().0, 422);

    // 200: the first checkpoint, cosigned; openssl agrees.
    let (st, ct, line) = add(&a, &w, good.as_bytes()).unwrap();
    assert_eq!((st, ct.as_str()), (200, "text/plain; charset=utf-8"), "{line}");
    assert_eq!(line.lines().count(), 1);
    let t0 = ind.check(&line, &text_of(&note(&t, 8, &log)));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(t0.abs_diff(now) < 600, "the timestamp is the clock's, in seconds: {t0} vs {now}");
    // 409: old size not the witness's; the exact body and Content-Type.
    let (st, ct, b) = add(&a, &w, &grow(&t, 0, 12, &log)).unwrap();
    assert_eq!((st, ct.as_str(), b.as_str()), (409, "text/x.tlog.size", "8\n"));
    let (st, ct, b) = add(&a, &w, &grow(&t, 4, 12, &log)).unwrap();
    assert_eq!((st, ct.as_str(), b.as_str()), (409, "text/x.tlog.size", "8\n"));
    // 400: old size above the checkpoint's.
    assert_eq!(add(&a, &w, &body(8, &[], &note(&t, 7, &log))).unwrap().0, 400);
    // 409: the witness's size with another root (a fork).
    let (st, ct, b) = add(&a, &w, &body(8, &[], &note(&fork, 8, &log))).unwrap();
    assert_eq!((st, ct.as_str(), b.as_str()), (409, "text/x.tlog.size", "8\n"));
    // 422: the fork's own proof does not start from the witness's root; a
    // proof that is one hash short or altered does not verify either.
    assert_eq!(add(&a, &w, &grow(&fork, 8, 12, &log)).unwrap().0, 422);
    let mut p = consistency_proof(&t, 8, 12).unwrap();
    p[0][0] ^= 1;
    assert_eq!(add(&a, &w, &body(8, &p, &note(&t, 12, &log))).unwrap().0, 422);
    p.pop();
    assert_eq!(add(&a, &w, &body(8, &p, &note(&t, 12, &log))).unwrap().0, 422);
    // The same checkpoint again is cosigned again (equal sizes, equal roots).
    let (st, _, again) = add(&a, &w, &body(8, &[], &note(&t, 8, &log))).unwrap();
    assert_eq!(st, 200);
    ind.check(&again, &text_of(&note(&t, 8, &log)));

    // 200 with several signatures: an unknown key's line and another
    // witness's cosignature on the note are ignored.
    let n12 = note(&t, 12, &log);
    let impostor = note(&t, 12, &log_signer(ORIGIN, 8));
    let other_w = tinledger_core::cosig::CosignatureSigner::new(
        "witness.example/other",
        ed25519_dalek::SigningKey::from_bytes(&[4; 32]),
    )
    .unwrap()
    .cosign(&text_of(&n12), 1)
    .unwrap();
    let (head, sig) = n12.rsplit_once("\n\n").unwrap();
    let multi = format!("{head}\n\n{}\n{other_w}{sig}", impostor.trim_end().rsplit('\n').next().unwrap());
    let (st, _, line12) = add(&a, &w, &body(8, &consistency_proof(&t, 8, 12).unwrap(), &multi)).unwrap();
    assert_eq!(st, 200, "{line12}");
    ind.check(&line12, &text_of(&n12));
    // The second log is independent: its first checkpoint needs old 0.
    let (st, _, l2) = add(&a, &w, &grow(&t, 0, 3, &log2)).unwrap();
    assert_eq!(st, 200);
    ind.check(&l2, &text_of(&note(&t, 3, &log2)));

    // GET /checkpoint/<origin>: the note as sent, with the cosignature attached.
    let (st, ct, served) = get(&a, &cp_url);
    assert_eq!((st, ct.as_str()), (200, "text/plain; charset=utf-8"));
    assert!(served.starts_with(&multi) && served.ends_with(&line12), "{served}");

    // The state survives a restart: same size, same note.
    w.kill();
    let w = s.start();
    let (st, _, b) = add(&a, &w, &grow(&t, 0, 20, &log)).unwrap();
    assert_eq!((st, b.as_str()), (409, "12\n"));
    assert_eq!(get(&a, &format!("{}checkpoint/{ORIGIN}", w.base)).2, served);
    assert_eq!(add(&a, &w, &grow(&t, 12, 20, &log)).unwrap().0, 200);
    // SIGTERM: a clean stop, exit 0.
    let pid = w.child.lock().unwrap().id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = w.child.lock().unwrap().try_wait().unwrap() {
            assert!(st.success(), "SIGTERM exit: {st:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the witness did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = s.env.bare().args(["--json", "witness", "key", "--key", "w.pem", "--name", NAME]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["name"].as_str(), v["verifier_key"].as_str()), (Some(NAME), Some(ind.vkey().as_str())));
}

#[test]
fn one_old_size_gets_one_cosignature_under_concurrency() {
    let s = Setup::new();
    let w = s.start();
    let a = agent();
    let log = log_signer(ORIGIN, 7);
    let t = history(64, 1);
    assert_eq!(add(&a, &w, &grow(&t, 0, 10, &log)).unwrap().0, 200);
    for round in 0..5u64 {
        let old = 10 + round * 10;
        let bodies: Vec<Vec<u8>> = (1..=8).map(|k| grow(&t, old, old + k, &log)).collect();
        let wr = &w;
        let statuses: Vec<u16> = std::thread::scope(|sc| {
            let hs: Vec<_> = bodies.iter().map(|b| sc.spawn(move || add(&agent(), wr, b).unwrap().0)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "round {round}: {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 200 || *s == 409), "{statuses:?}");
        let (st, _, size) = add(&a, &w, &grow(&t, 0, 64, &log)).unwrap();
        assert_eq!(st, 409);
        let size: u64 = size.trim().parse().unwrap();
        assert!(size > old && size <= old + 8);
        // Move to a known size for the next round.
        assert_eq!(add(&a, &w, &grow(&t, size, old + 10, &log)).unwrap().0, 200);
    }
}

/// A cosigned (or possibly cosigned) checkpoint: size, root, which history.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Seen {
    size: u64,
    root: Hash,
    hist: usize,
}

/// Whether a valid consistency proof joins `a` and `b`: built from the
/// larger one's history, it must verify between the two roots.
fn consistent(a: &Seen, b: &Seen, hists: &[MemTree]) -> bool {
    let (s, l) = if a.size <= b.size { (a, b) } else { (b, a) };
    if s.size == l.size {
        return s.root == l.root;
    }
    let p = consistency_proof(&hists[l.hist], s.size, l.size).unwrap();
    verify_consistency(s.size, l.size, &s.root, &l.root, &p).is_ok()
}

#[test]
fn sigkill_at_random_points_never_cosigns_two_inconsistent_checkpoints() {
    const KILLS: usize = 55;
    const LEAVES: u64 = 3000;
    let s = Setup::new();
    let a = agent();
    let log = log_signer(ORIGIN, 7);
    let hists = [history(LEAVES, 1), history(LEAVES, 2)];
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("sigkill test seed {seed}");
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let started = Instant::now();
    let mut cosigned: Vec<Seen> = Vec::new();
    let mut in_flight: Option<Seen> = None;
    let mut size = 0u64; // what the client believes the witness's size is
    let (mut oks, mut conflicts, mut refused, mut unanswered) = (0, 0, 0, 0);
    for round in 0..KILLS {
        assert!(started.elapsed() < Duration::from_secs(300), "the test ran out of time at round {round}");
        let w = s.start();
        // The persisted state: the last cosignature returned, or the
        // request in flight at the kill (its 200 never arrived).
        let (st, _, served) = get(&a, &format!("{}checkpoint/{ORIGIN}", w.base));
        if st == 200 {
            let cp = Checkpoint::parse_body(&text_of(&served)).unwrap();
            let got = |c: &Seen| c.size == cp.size && c.root == cp.root;
            let last = cosigned.last();
            if in_flight.as_ref().is_some_and(got) {
                let f = in_flight.unwrap();
                for c in &cosigned {
                    assert!(consistent(c, &f, &hists), "round {round}: persisted {f:?} forks from {c:?}");
                }
                cosigned.push(f);
                unanswered += 1;
            } else {
                assert!(last.is_some_and(got), "round {round}: persisted {cp:?} is neither {last:?} nor {in_flight:?}");
            }
        } else {
            assert_eq!(st, 404);
            assert!(cosigned.is_empty(), "round {round}: the state was lost");
        }
        in_flight = None;
        let delay = Duration::from_micros(1_000 + rnd(40_000));
        let child = w.child.clone();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let mut c = child.lock().unwrap();
            let _ = c.kill();
            let _ = c.wait();
        });
        for _ in 0..2000 {
            let hist = if rnd(10) < 7 { 0 } else { 1 };
            let new = (size + rnd(4)).min(LEAVES);
            let t = &hists[hist];
            let seen = Seen { size: new, root: root_at(t, new), hist };
            let b = body(size, &consistency_proof(t, size, new).unwrap(), &note(t, new, &log));
            match add(&a, &w, &b) {
                Ok((200, _, line)) => {
                    assert!(line.starts_with(&format!("\u{2014} {NAME} ")));
                    for c in &cosigned {
                        assert!(consistent(c, &seen, &hists), "round {round}: cosigned {seen:?} forks from {c:?}");
                    }
                    cosigned.push(seen);
                    size = new;
                    oks += 1;
                }
                Ok((409, _, b)) => {
                    size = b.trim().parse().unwrap();
                    conflicts += 1;
                }
                Ok((422, _, _)) => refused += 1,
                Ok((st, _, b)) => panic!("round {round}: unexpected {st}: {b}"),
                Err(_) => {
                    // Killed: this request may or may not have been persisted.
                    in_flight = Some(seen);
                    break;
                }
            }
        }
        killer.join().unwrap();
    }
    eprintln!(
        "{KILLS} kills ({unanswered} left a persisted state whose 200 never arrived): {oks} cosigned, {conflicts} conflicts, {refused} refused, {:?}",
        started.elapsed()
    );
    assert!(oks >= KILLS / 2, "too few cosignatures to mean anything: {oks}");
    assert!(refused > 0, "the forked history was never refused");
}

#[test]
fn stalled_and_oversized_requests_are_cut_off_and_the_witness_stays_up() {
    let s = Setup::new();
    let w = s.start_with(&["--read-timeout", "1", "--max-connections", "4"]);
    let addr = w.base.trim_start_matches("http://").trim_end_matches('/').to_string();
    // Bodies that never arrive, on more connections than it serves at once:
    // each is answered 408 or closed by the witness, well before the test
    // client's own 10 s read timeout.
    let started = Instant::now();
    let stalled: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let addr = &addr;
                sc.spawn(move || {
                    crate::server::raw(
                        addr,
                        b"POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nold 0\n",
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(started.elapsed() < Duration::from_secs(9), "stalled requests held for {:?}", started.elapsed());
    for r in &stalled {
        assert!(r.is_empty() || r.starts_with("HTTP/1.1 408"), "{r}");
    }
    // A request line or head over 64 KiB is refused.
    let big = format!("GET /checkpoint/{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    let r = crate::server::raw(&addr, big.as_bytes());
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 414") || r.starts_with("HTTP/1.1 431"), "{r}");
    let big = format!("GET /checkpoint/x HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(200_000));
    let r = crate::server::raw(&addr, big.as_bytes());
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 431"), "{r}");
    // And it still cosigns.
    assert_eq!(add(&agent(), &w, &grow(&history(4, 1), 0, 4, &log_signer(ORIGIN, 7))).unwrap().0, 200);
}

#[test]
fn bad_flags_and_state_are_clear_errors() {
    let s = Setup::new();
    let w = s.start();
    // A second witness on the same state directory.
    let err = fails_with(s.serve_cmd().into(), 2);
    assert!(err.contains("is in use by another witness process"), "{err}");
    let log = log_signer(ORIGIN, 7);
    let t = history(8, 1);
    assert_eq!(add(&agent(), &w, &grow(&t, 0, 8, &log)).unwrap().0, 200);
    w.kill();
    // A corrupt state file stops the start: it is never taken for "no state".
    let file = std::fs::read_dir(s.state())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cosigned"))
        .expect("a state file");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let err = fails_with(s.serve_cmd().into(), 2);
    assert!(err.contains("is corrupt") && err.contains(&file.display().to_string()), "{err}");
    // Bad --log keys and --name.
    let mut c = s.env.bare();
    c.args([
        "witness",
        "serve",
        "--key",
        "w.pem",
        "--name",
        NAME,
        "--state",
        "st2",
        "--log",
        "example.org/x+00000000+AAAA",
    ]);
    let err = fails_with(c, 2);
    assert!(err.contains("--log") && err.contains("malformed key"), "{err}");
    let witness_vkey = s.env.bare().args(["witness", "key", "--key", "w.pem", "--name", NAME]).output().unwrap();
    let mut c = s.env.bare();
    let wk = String::from_utf8(witness_vkey.stdout).unwrap();
    c.args(["witness", "serve", "--key", "w.pem", "--name", NAME, "--state", "st2", "--log", wk.trim()]);
    let err = fails_with(c, 2);
    assert!(err.contains("type 0x01"), "a witness key is not a log key: {err}");
    for name in ["", "has space", "a+b"] {
        let mut c = s.env.bare();
        c.args(["witness", "key", "--key", "w.pem", "--name", name]);
        let err = fails_with(c, 2);
        assert!(err.contains("--name"), "{err}");
    }
    assert!(!s.env.path("st2").exists(), "a refused start creates no state");
}
