//! The log and its witnesses on several hosts of one machine
//! (docs/witness.md, "The log and its witnesses"): network namespaces made
//! by the test, one per host, each with one veth into a hub namespace
//! whose bridge joins them (10.77.0.0/24, addresses only inside the
//! namespaces). The log serves with `--witnesses` a 2-of-3 policy; three
//! `tinledger witness serve` run on their own hosts. All up: the served
//! checkpoint meets the quorum; one witness cut off (link down): still
//! met, within the witness timeout; two cut off: checkpoints still go out,
//! and the policy refuses them naming the missing witnesses; links back:
//! met again. A log restarted on a rewritten history (same genesis, same
//! log key) gets no cosignature from any witness.
//!
//! Without root or `ip` the test says why and runs on loopback addresses
//! (127.0.0.2, …), stopping a witness with SIGSTOP instead of cutting its
//! link. Every namespace and process is removed by guards, however the
//! test ends.

use crate::server::{line, Fixture};
use crate::util::*;
use ed25519_dalek::SigningKey;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tinledger_core::cosig::CosignatureSigner;
use tinledger_core::policy::Policy;

const WITNESS_TIMEOUT: u64 = 2;

/// One host: a namespace (or none: loopback) and its address.
#[derive(Clone)]
struct Host {
    ns: Option<String>,
    ip: String,
}

impl Host {
    fn command(&self, program: &Path) -> Command {
        match &self.ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }
}

/// The namespaces; deleted (with their veths and bridge) on drop.
struct Net {
    names: Vec<String>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip").args(args).output().map_err(|e| format!("cannot run ip: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim()))
    }
}

/// The hub and `n` hosts 10.77.0.1…n, or why they cannot be made.
fn namespaces(n: usize) -> Result<(Net, Vec<Host>), String> {
    let tag = std::process::id() % 100_000;
    let hub = format!("tlw{tag}-hub");
    let mut net = Net { names: vec![] };
    ip(&["netns", "add", &hub])?;
    net.names.push(hub.clone());
    ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
    ip(&["-n", &hub, "link", "set", "br0", "up"])?;
    let mut hosts = Vec::new();
    for i in 1..=n {
        let ns = format!("tlw{tag}-h{i}");
        ip(&["netns", "add", &ns])?;
        net.names.push(ns.clone());
        let port = format!("p{i}");
        ip(&["link", "add", "eth0", "netns", &ns, "type", "veth", "peer", "name", &port, "netns", &hub])?;
        ip(&["-n", &hub, "link", "set", &port, "master", "br0"])?;
        ip(&["-n", &hub, "link", "set", &port, "up"])?;
        let addr = format!("10.77.0.{i}");
        ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        hosts.push(Host { ns: Some(ns), ip: addr });
    }
    Ok((net, hosts))
}

/// A running child process; SIGCONT and SIGKILL and reaped on drop.
struct Proc {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    /// Start it and wait (at most 60 s) for `listening on http://`.
    fn start(cmd: Command) -> Proc {
        let (child, _, stderr) = crate::server::spawn_listening(cmd);
        Proc { child, stderr }
    }
    fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success());
    }
    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `curl` from `from`: (HTTP status, body).
fn curl(from: &Host, args: &[&str]) -> (u16, String) {
    let o = from
        .command(Path::new("curl"))
        .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

struct Setup {
    fx: Fixture,
    log_host: Host,
    log_url: String,
    policy: Policy,
    policy_file: std::path::PathBuf,
}

impl Setup {
    /// Submit event `i` and wait (at most 30 s) until the served checkpoint
    /// covers it; (the note, the time that took).
    fn submit_and_wait(&self, env: &Env, i: u64) -> (String, Duration) {
        let file = env.path(&format!("ev-{i}.jsonl"));
        std::fs::write(&file, line(&self.fx.event(i))).unwrap();
        let before = self.size();
        let t = Instant::now();
        let (st, body) = curl(
            &self.log_host,
            &["-X", "POST", "--data-binary", &format!("@{}", file.display()), &format!("{}submit", self.log_url)],
        );
        assert_eq!(st, 200, "{body}");
        let deadline = t + Duration::from_secs(30);
        loop {
            let (st, note) = curl(&self.log_host, &[&format!("{}checkpoint", self.log_url)]);
            if st == 200 && size_of(&note) > before {
                return (note, t.elapsed());
            }
            assert!(Instant::now() < deadline, "no new checkpoint within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    fn size(&self) -> u64 {
        let (st, note) = curl(&self.log_host, &[&format!("{}checkpoint", self.log_url)]);
        if st == 200 {
            size_of(&note)
        } else {
            0
        }
    }
    /// The policy's verdict on a served note, from `tinledger check
    /// checkpoint --policy` (offline, with the log's note key), which must
    /// agree with the policy code's own verdict.
    fn check(&self, note: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cp.txt");
        std::fs::write(&f, note).unwrap();
        let o = Command::new(assert_cmd::cargo::cargo_bin("tinledger"))
            .args(["check", "checkpoint"])
            .arg(&f)
            .args(["--verifier-key", &self.fx.verifier.to_key_string(), "--policy"])
            .arg(&self.policy_file)
            .output()
            .unwrap();
        let lib = self.policy.check(note).map(|_| ()).map_err(|e| e.to_string());
        let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
        assert_eq!(o.status.success(), lib.is_ok(), "check checkpoint --policy: {err} / {lib:?}");
        if o.status.success() {
            Ok(())
        } else {
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            Err(err)
        }
    }
}

/// `tinledger mirror URL --into DIR` (first run: with the authority key), run by `c`.
fn mirror_into(mut c: Command, url: &str, dir: &Path) {
    let o = c.args(["mirror", url, "--into"]).arg(dir).args(["--authority-key", &authority_hex()]).output().unwrap();
    assert!(o.status.success(), "mirror: {}", String::from_utf8_lossy(&o.stderr));
}

/// The checkpoint `base` serves once it is beyond size `min` (at most 30 s).
fn served(a: &ureq::Agent, base: &str, min: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (st, _, body) = crate::server::get(a, &format!("{base}checkpoint"));
        let note = String::from_utf8(body).unwrap();
        if st == 200 && size_of(&note) > min {
            return note;
        }
        assert!(Instant::now() < deadline, "no checkpoint beyond {min} within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The synthetic authority's public key, hex (mirror's first run).
fn authority_hex() -> String {
    let ring = tinledger_synth::KeyRing::new().unwrap();
    let k = ring.get(&tinledger_core::ActorId::new(tinledger_synth::AUTHORITY).unwrap()).unwrap();
    hex::encode(k.verifying_key().to_bytes())
}

fn size_of(note: &str) -> u64 {
    note.lines().nth(1).and_then(|l| l.parse().ok()).unwrap_or(0)
}

#[test]
fn a_two_of_three_quorum_across_hosts_survives_one_cut_witness_and_refuses_a_rewritten_log() {
    let env = Env::new();
    let exe = assert_cmd::cargo::cargo_bin("tinledger");
    // Hosts: 1 the log, 2..4 the witnesses, 5 a mirror.
    let (_net, hosts) = match namespaces(5) {
        Ok(x) => x,
        Err(why) => {
            eprintln!(
                "network namespaces unavailable ({why}): falling back to loopback addresses, SIGSTOP for link down"
            );
            let hosts = (1..=5).map(|i| Host { ns: None, ip: format!("127.0.0.{}", i + 1) }).collect();
            (Net { names: vec![] }, hosts)
        }
    };
    let netns = hosts[0].ns.is_some();
    let fx = Fixture::new(&env);
    let log_vkey = fx.verifier.to_key_string();
    // Witness keys and the policy.
    let mut policy = format!("log {log_vkey}\n");
    let mut wargs = Vec::new();
    for (n, h) in hosts[1..4].iter().enumerate() {
        let name = format!("W{}", n + 1);
        let sk = SigningKey::from_bytes(&[40 + n as u8; 32]);
        let key = env.path(&format!("{name}.pem"));
        tinledger_formats::keyfile::write_signing_key(&key, &sk).unwrap();
        let vkey = CosignatureSigner::new(&name, sk).unwrap().verifier().to_key_string();
        policy.push_str(&format!("witness {name} {vkey} http://{}:7380/\n", h.ip));
        wargs.push((name, key, h.clone()));
    }
    policy.push_str("group two 2 W1 W2 W3\nquorum two\n");
    let policy_file = env.path("policy.txt");
    std::fs::write(&policy_file, &policy).unwrap();
    let witnesses: Vec<Proc> = wargs
        .iter()
        .map(|(name, key, h)| {
            let mut c = h.command(&exe);
            c.args(["witness", "serve", "--key"]).arg(key).args(["--name", name, "--listen"]);
            c.arg(format!("{}:7380", h.ip)).arg("--state").arg(env.path(&format!("{name}-state")));
            c.args(["--log", &log_vkey]);
            Proc::start(c)
        })
        .collect();
    let log_host = hosts[0].clone();
    let log_key = fx.log_key.clone();
    let serve = |dir: &Path| {
        let mut c = log_host.command(&exe);
        c.arg("--ledger").arg(dir).args(["serve", "--listen", &format!("{}:8080", log_host.ip), "--log-key"]);
        c.arg(&log_key).arg("--witnesses").arg(&policy_file);
        c.args(["--witness-timeout", &WITNESS_TIMEOUT.to_string(), "--checkpoint-interval", "0.2"]);
        Proc::start(c)
    };
    let log = serve(&fx.dir);
    let s = Setup {
        log_url: format!("http://{}:8080/", log_host.ip),
        log_host: log_host.clone(),
        policy: Policy::parse(policy.as_bytes()).unwrap(),
        policy_file: policy_file.clone(),
        fx,
    };
    let cut = |i: usize, down: bool| {
        if netns {
            let ns = hosts[i + 1].ns.as_deref().unwrap();
            ip(&["-n", ns, "link", "set", "eth0", if down { "down" } else { "up" }]).unwrap();
        } else {
            witnesses[i].signal(if down { "-STOP" } else { "-CONT" });
        }
    };

    // All up: the quorum is met.
    let (note, _) = s.submit_and_wait(&env, 1);
    s.check(&note).unwrap_or_else(|e| panic!("{e}\n{note}\n{}", log.log()));

    // W3 cut off: still met, published within the timeout (plus slack).
    cut(2, true);
    let (note, took) = s.submit_and_wait(&env, 2);
    s.check(&note).unwrap_or_else(|e| panic!("{e}\n{note}\n{}", log.log()));
    assert!(took < Duration::from_secs(WITNESS_TIMEOUT + 5), "publication took {took:?}");

    // W2 cut off too: checkpoints still go out, without quorum.
    cut(1, true);
    let (note, took) = s.submit_and_wait(&env, 3);
    assert!(took < Duration::from_secs(WITNESS_TIMEOUT + 5), "publication took {took:?}");
    let e = s.check(&note).expect_err("two of three witnesses are cut off");
    assert!(e.contains("missing cosignatures from W2, W3; cosigned by W1"), "{e}");

    // Links back: the witnesses catch up (proofs from what they last cosigned).
    // A link just brought up may miss one checkpoint (neighbour discovery):
    // a few checkpoints at most.
    cut(1, false);
    cut(2, false);
    let mut note = String::new();
    for i in 4..8 {
        note = s.submit_and_wait(&env, i).0;
        if s.check(&note).is_ok() {
            break;
        }
    }
    s.check(&note).unwrap_or_else(|e| panic!("{e}\n{note}\n{}", log.log()));

    // A mirror on its own host copies the cosigned checkpoint and serves it.
    let mhost = &hosts[4];
    let mdir = env.path("mirror");
    mirror_into(mhost.command(&exe), &s.log_url, &mdir);
    let mut c = mhost.command(&exe);
    c.arg("--ledger").arg(&mdir).args(["serve", "--read-only", "--listen", &format!("{}:8080", mhost.ip)]);
    let mirror = Proc::start(c);
    let (st, mnote) = curl(mhost, &[&format!("http://{}:8080/checkpoint", mhost.ip)]);
    assert_eq!((st, &mnote), (200, &note));
    s.check(&mnote).unwrap();
    // A policy mirror refuses nothing here: the served note has its quorum.
    let mut c = mhost.command(&exe);
    c.args(["mirror", &s.log_url, "--into"]).arg(env.path("mirror2")).args(["--authority-key", &authority_hex()]);
    let o = c.arg("--policy").arg(&s.policy_file).output().unwrap();
    assert!(o.status.success(), "mirror --policy: {}", String::from_utf8_lossy(&o.stderr));
    drop(log);

    // A rewritten history: the same genesis and log key, other entries,
    // longer than what the witnesses hold. No witness cosigns it.
    let env2 = Env::new();
    let rw = Fixture::new(&env2);
    let rewritten = Setup { fx: rw, ..s };
    let log = serve(&rewritten.fx.dir);
    let mut note = String::new();
    for i in 100..106 {
        note = rewritten.submit_and_wait(&env2, i).0;
    }
    let e = rewritten.check(&note).expect_err("no witness cosigns a rewritten history");
    assert!(e.contains("W1") && e.contains("W2") && e.contains("W3"), "{e}");
    assert!(!note.contains("\u{2014} W"), "a witness cosigned the rewritten log:\n{note}");
    let l = log.log();
    for w in ["W1", "W2", "W3"] {
        assert!(l.contains(&format!("witness {w}: checkpoint")), "{l}");
    }
    // A monitor on the mirror's host polls the rewritten log, the honest
    // mirror and the three witnesses: split view, evidence written (exit 3),
    // and `check split-view` confirms it offline with the log's key alone.
    let evidence = env.path("evidence.json");
    let mut c = mhost.command(&exe);
    c.args(["monitor", "--policy"]).arg(&rewritten.policy_file).arg("--state").arg(env.path("monitor"));
    c.arg("--once").arg("--evidence").arg(&evidence);
    c.args([rewritten.log_url.as_str(), &format!("http://{}:8080/", mhost.ip)]);
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "monitor: {err}");
    assert!(err.contains("split view"), "{err}");
    let o = Command::new(&exe)
        .args(["check", "split-view"])
        .arg(&evidence)
        .args(["--log-key", &rewritten.fx.verifier.to_key_string()])
        .output()
        .unwrap();
    assert!(o.status.success(), "check split-view: {}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("split view confirmed"), "{o:?}");
    drop(mirror);
    drop(log);
    drop(witnesses);
}

/// Without any witness command: a witness that refuses connections and one
/// that accepts and never answers cost a checkpoint at most the timeout;
/// the checkpoint goes out with the log's signature only, both failures
/// are one stderr line each; a witness line without URL stops `serve`
/// before it starts.
#[test]
fn dead_and_silent_witnesses_delay_publication_by_at_most_the_timeout() {
    use crate::server::{agent, post};
    let env = Env::new();
    let fx = Fixture::new(&env);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // Accepts (the kernel's backlog) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let key = |seed: u8, name: &str| {
        CosignatureSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap().verifier().to_key_string()
    };
    let policy = format!(
        "witness D {} http://{dead}/\nwitness S {} http://{}/x/\ngroup g 1 D S\nquorum g\n",
        key(1, "D"),
        key(2, "S"),
        silent.local_addr().unwrap()
    );
    let pf = env.path("policy.txt");
    std::fs::write(&pf, &policy).unwrap();
    let srv =
        fx.serve(&["--witnesses", pf.to_str().unwrap(), "--witness-timeout", "1", "--checkpoint-interval", "0.1"]);
    let a = agent();
    // The header's checkpoint is published after its (failed) cosigning.
    let start = size_of(&served(&a, &srv.base, 0));
    let t = Instant::now();
    let (st, _) = post(&a, &srv.base, line(&fx.event(1)).as_bytes()).unwrap();
    assert_eq!(st, 200);
    // The receipt does not wait for witnesses (no timed assertion: the
    // checkpoint, below, is what the timeout bounds).
    let note = served(&a, &srv.base, start);
    assert!(t.elapsed() < Duration::from_secs(1 + 5), "publication took {:?}", t.elapsed());
    let e = Policy::parse(policy.as_bytes()).unwrap().check(&note).expect_err("no witness cosigned");
    assert!(e.to_string().contains('D') && e.to_string().contains('S'), "{e}");
    let err = srv.stderr.lock().unwrap().clone();
    assert!(err.contains(&format!("witness D: checkpoint {}: cannot connect to {dead}", size_of(&note))), "{err}");
    assert!(err.contains(&format!("witness S: checkpoint {}: no answer within 1 s", size_of(&note))), "{err}");
    // `mirror` copies the served note as it is.
    let mdir = env.path("mirror");
    mirror_into(
        Host { ns: None, ip: String::new() }.command(&assert_cmd::cargo::cargo_bin("tinledger")),
        &srv.base,
        &mdir,
    );
    let (cp_size, cp_note) = tinledger_ledger::Ledger::open(&mdir).unwrap().latest_checkpoint().unwrap().unwrap();
    assert_eq!((cp_size, cp_note.as_str()), (size_of(&note), note.as_str()));
    drop(srv);
    drop(silent);

    // A witness line without its URL: a clear startup error.
    std::fs::write(&pf, format!("witness D {}\nquorum D\n", key(1, "D"))).unwrap();
    let o = env
        .bare()
        .arg("--ledger")
        .arg(&fx.dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-key"])
        .arg(&fx.log_key)
        .arg("--witnesses")
        .arg(&pf)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(msg.contains("policy.txt: witness D has no URL"), "{msg}");
}

/// A one-thread witness that cosigns whatever it is sent (no proof
/// checks: the real witness is tested elsewhere), on loopback; it stops
/// when dropped.
struct CosigningFake {
    addr: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CosigningFake {
    fn start(signer: CosignatureSigner) -> CosigningFake {
        use std::io::{BufRead, BufReader, Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((st, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                st.set_nonblocking(false).unwrap();
                st.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut r = BufReader::new(st.try_clone().unwrap());
                let mut len = 0usize;
                for _ in 0..100 {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len.min(1 << 20)];
                if r.read_exact(&mut body).is_err() {
                    continue;
                }
                let body = String::from_utf8_lossy(&body).to_string();
                let note = &body[body.find("\n\n").map_or(0, |i| i + 2)..];
                let text = &note[..note.find("\n\n").map_or(0, |i| i + 1)];
                let line = signer.cosign(text, 1_700_000_000).unwrap_or_default();
                let _ = (&st).write_all(
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{line}", line.len())
                        .as_bytes(),
                );
            }
        });
        CosigningFake { addr, stop, thread: Some(thread) }
    }
}

impl Drop for CosigningFake {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The whole server path without the witness command: two witnesses
/// cosign, the served checkpoint carries both cosignatures and meets a
/// 2-of-2 policy, it is the stored note (`publish` writes it), and a
/// SIGTERM publishes the last checkpoint before the exit.
#[test]
fn cosignatures_are_stored_served_and_published() {
    use crate::server::{agent, post};
    let env = Env::new();
    let fx = Fixture::new(&env);
    let signers: Vec<CosignatureSigner> = (0..2u8)
        .map(|i| CosignatureSigner::new(&format!("F{i}"), SigningKey::from_bytes(&[60 + i; 32])).unwrap())
        .collect();
    let mut policy = String::new();
    for s in &signers {
        policy.push_str(&format!("witness {} {} ", s.name, s.verifier().to_key_string()));
        policy.push_str("http://ADDR/\n");
    }
    let fakes: Vec<CosigningFake> = signers.into_iter().map(CosigningFake::start).collect();
    let mut policy_text = String::new();
    for (l, f) in policy.lines().zip(&fakes) {
        policy_text.push_str(&l.replace("ADDR", &f.addr.to_string()));
        policy_text.push('\n');
    }
    policy_text.push_str("group both all F0 F1\nquorum both\n");
    let pf = env.path("policy.txt");
    std::fs::write(&pf, &policy_text).unwrap();
    let p = Policy::parse(policy_text.as_bytes()).unwrap();
    let srv = fx.serve(&["--witnesses", pf.to_str().unwrap(), "--checkpoint-interval", "0.1"]);
    let a = agent();
    let first = served(&a, &srv.base, 0);
    p.check(&first).unwrap_or_else(|e| panic!("{e}\n{first}\n{}", srv.stderr.lock().unwrap()));
    assert_eq!(post(&a, &srv.base, line(&fx.event(1)).as_bytes()).unwrap().0, 200);
    let note = served(&a, &srv.base, size_of(&first));
    p.check(&note).unwrap();
    assert_eq!(note.matches("\u{2014} F").count(), 2, "{note}");
    // The last events before a SIGTERM still get their cosigned checkpoint.
    assert_eq!(post(&a, &srv.base, line(&fx.event(2)).as_bytes()).unwrap().0, 200);
    assert!(srv.terminate().success());
    let out = env.path("pub");
    let o = env.bare().arg("--ledger").arg(&fx.dir).args(["publish", "--out"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let published = std::fs::read_to_string(out.join("checkpoint")).unwrap();
    assert_eq!(size_of(&published), size_of(&note) + 1);
    p.check(&published).unwrap_or_else(|e| panic!("{e}\n{published}"));
    drop(fakes);
}

/// `Ledger::add_checkpoint_signatures` only ever adds signature lines to a
/// stored note: anything else is refused and nothing changes.
#[test]
fn a_stored_checkpoint_only_gains_signature_lines() {
    use tinledger_core::checkpoint::Checkpoint;
    use tinledger_core::cosig::add_signature_lines;
    use tinledger_core::note::NoteSigner;
    let env = Env::new();
    let fx = Fixture::new(&env);
    let l = tinledger_ledger::Ledger::open(&fx.dir).unwrap();
    let size = l.head().size;
    let origin = fx.verifier.name.clone();
    let signer = NoteSigner::new(&origin, tinledger_synth::loadgen::log_key()).unwrap();
    let note =
        Checkpoint { origin, size, root: l.merkle_root(size).unwrap(), extensions: vec![] }.sign(&signer).unwrap();
    assert!(l.add_checkpoint_signatures(size, &note).unwrap_err().to_string().contains("no checkpoint is stored"));
    l.store_checkpoint(size, &note).unwrap();
    let w = CosignatureSigner::new("W", SigningKey::from_bytes(&[5; 32])).unwrap();
    let text = &note[..note.find("\n\n").unwrap() + 1];
    let cosigned = add_signature_lines(&note, &[w.cosign(text, 7).unwrap()]).unwrap();
    // Not an extension: another text, or a stored line dropped.
    let other = cosigned.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1);
    let dropped = format!("{text}\n{}", w.cosign(text, 7).unwrap());
    for bad in [&other, &dropped] {
        let e = l.add_checkpoint_signatures(size, bad).unwrap_err().to_string();
        assert!(e.contains("does not extend"), "{e}");
        assert_eq!(l.latest_checkpoint().unwrap().unwrap().1, note);
    }
    assert_eq!(l.add_checkpoint_signatures(size, &cosigned).unwrap(), cosigned);
    assert_eq!(l.latest_checkpoint().unwrap().unwrap(), (size, cosigned.clone()));
    w.verifier().verify(&l.latest_checkpoint().unwrap().unwrap().1).unwrap();
}
