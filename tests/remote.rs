//! The network read path (docs/server.md): `publish` output served
//! by a real nginx (headers, gzip, 404s) and read back by `verify
//! --server`, by the independent PyPI client tlog-scales, and by `mirror`
//! (catching up twice, refusing a rewritten history); the remote read
//! clients against their local output; malformed server answers.
//!
//! nginx and tlog-scales are installed by `.ci/run`; outside CI a test that
//! misses one says so and skips.

use crate::util::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tinledger_core::checkpoint::{origin_for, Checkpoint};
use tinledger_core::note::NoteSigner;
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Event, SignedEvent};
use tinledger_ledger::{Ledger, LockWait};
use tinledger_synth::serve::StaticServer;

/// Far after every synthetic event: the clock check never refuses one.
const NOW: Timestamp = Timestamp(4_000_000_000);

/// A tool the test needs: found, or `None` after saying why the test is
/// skipped (never under `CI`, where a missing tool fails the test).
fn tool(name: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{name} is not installed (.ci/run installs it)");
        }
        eprintln!("skipping: {name} is not installed (.ci/run installs it)");
    }
    found
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn nginx_bin() -> Option<PathBuf> {
    tool("nginx", on_path("nginx"))
}

fn tlog_scales_python() -> Option<PathBuf> {
    let py = on_path("python3")?;
    let ok = std::process::Command::new(&py)
        .args(["-c", "import tlog_scales.reader"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    tool("the PyPI package tlog-scales", ok.then_some(py))
}

/// nginx serving `root` with the fixture config on a free loopback port;
/// killed on drop.
struct Nginx {
    child: Child,
    port: u16,
    prefix: tempfile::TempDir,
}

impl Nginx {
    fn start(bin: &Path, root: &Path) -> Nginx {
        let prefix = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let template =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nginx/tinledger.conf.in"))
                .unwrap();
        let mut conf = template
            .replace("@ROOT@", &root.display().to_string())
            .replace("@LISTEN@", &format!("127.0.0.1:{port}"))
            .replace("@PREFIX@", &prefix.path().display().to_string());
        // As root, nginx would serve files as `nobody`, who cannot enter
        // the test's private temp dirs.
        let uid = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout).unwrap_or_default();
        if String::from_utf8_lossy(&uid).trim() == "0" {
            conf = format!("user root;\n{conf}");
        }
        let cfg = prefix.path().join("nginx.conf");
        std::fs::write(&cfg, conf).unwrap();
        let child = std::process::Command::new(bin)
            .arg("-e")
            .arg(prefix.path().join("error.log"))
            .arg("-c")
            .arg(&cfg)
            .arg("-p")
            .arg(prefix.path())
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut n = Nginx { child, port, prefix };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = n.child.try_wait() {
                panic!("nginx exited ({st}): {}", n.log("error.log"));
            }
            assert!(started.elapsed() < Duration::from_secs(20), "nginx did not listen: {}", n.log("error.log"));
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.prefix.path().join(name)).unwrap_or_default()
    }
    /// Requests for `path` in the access log.
    fn hits(&self, path: &str) -> usize {
        let needle = format!("GET /{path} ");
        self.log("access.log").lines().filter(|l| l.contains(&needle)).count()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw HTTP/1.1 GET: (status, headers lower-cased, body).
fn raw_get(port: u16, path: &str, extra: &str) -> (u16, HashMap<String, String>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n").unwrap();
    let mut buf = Vec::new();
    s.take(64 << 20).read_to_end(&mut buf).unwrap();
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, buf[end + 4..].to_vec())
}

/// The synthetic ledger's first `n` events, signed; with `rewrite`, the
/// event at that index carries a different note (a rewritten history).
pub(crate) fn synthetic(n: u64, rewrite: Option<usize>) -> Vec<SignedEvent> {
    let mut evs: Vec<Event> = tinledger_synth::Synth::new(n).unwrap().collect();
    if let Some(i) = rewrite {
        evs[i].note = Some("rewritten".into());
    }
    tinledger_synth::sign_all(&evs, &tinledger_synth::KeyRing::new().unwrap()).unwrap()
}

pub(crate) fn authority_key() -> ed25519_dalek::SigningKey {
    let ring = tinledger_synth::KeyRing::new().unwrap();
    ring.get(&ActorId::new(tinledger_synth::AUTHORITY).unwrap()).unwrap().clone()
}

pub(crate) fn authority_hex() -> String {
    hex::encode(authority_key().verifying_key().to_bytes())
}

fn open(dir: &Path) -> Ledger {
    Ledger::open_waiting(dir, &LockWait { timeout: Duration::from_secs(20), on_wait: None }).unwrap()
}

/// Append `events` (creating the ledger from the first if `dir` has none)
/// and store a checkpoint of the head signed by the authority.
pub(crate) fn grow(dir: &Path, events: &[SignedEvent]) {
    let mut l = if dir.exists() {
        open(dir)
    } else {
        let (l, _) = Ledger::create(dir, &events[0]).unwrap();
        l
    };
    let from = l.head().size as usize;
    for chunk in events[from..].chunks(5000) {
        l.append_batch_at(chunk, NOW).unwrap();
    }
    let id = l.info().unwrap().ledger_id;
    let origin = origin_for(&id);
    let size = l.head().size;
    let cp = Checkpoint { origin: origin.clone(), size, root: l.merkle_root(size).unwrap(), extensions: vec![] };
    let note = cp.sign(&NoteSigner::new(&origin, authority_key()).unwrap()).unwrap();
    l.store_checkpoint(size, &note).unwrap();
}

fn tl(env: &Env) -> assert_cmd::Command {
    env.bare()
}

pub(crate) fn publish(env: &Env, ledger: &Path, out: &Path) -> serde_json::Value {
    let o = tl(env).arg("--ledger").arg(ledger).args(["publish", "--json", "--out"]).arg(out).output().unwrap();
    assert!(o.status.success(), "publish failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Flip one byte of the entry at `seq` inside its published bundle (in
/// the event bytes, past the 2-byte length and the entry header).
fn tamper_bundle(file: &Path, seq: u64) {
    let mut b = std::fs::read(file).unwrap();
    let mut at = 0usize;
    for _ in 0..seq % 256 {
        let len = u16::from_be_bytes([b[at], b[at + 1]]) as usize;
        at += 2 + len;
    }
    let len = u16::from_be_bytes([b[at], b[at + 1]]) as usize;
    b[at + 2 + len - 10] ^= 0x01; // inside the signature
    std::fs::write(file, b).unwrap();
}

fn one_error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("tinledger:")).collect();
    assert_eq!(lines.len(), 1, "one error line expected:\n{stderr}");
    lines[0]
}

#[test]
fn nginx_serves_publish_output_with_the_api_headers_and_verify_server_passes_through_it() {
    let Some(bin) = nginx_bin() else { return };
    let env = Env::new();
    let ledger = env.path("src");
    grow(&ledger, &synthetic(700, None));
    let out = env.path("pub");
    let p = publish(&env, &ledger, &out);
    assert_eq!(p["checkpoint_size"], 700);
    let ng = Nginx::start(&bin, &out);

    let (st, h, body) = raw_get(ng.port, "/checkpoint", "");
    assert_eq!(st, 200);
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(String::from_utf8(body).unwrap().contains("\n700\n"));
    // 700 leaves: level-0 tiles 000, 001 full and 002.p/188; bundles alike.
    for path in ["/tile/0/000", "/tile/entries/001"] {
        let (st, h, _) = raw_get(ng.port, path, "");
        assert_eq!(st, 200, "{path}");
        assert_eq!(h["content-type"], "application/octet-stream", "{path}");
        assert_eq!(h["cache-control"], "public, max-age=604800, immutable", "{path}");
        assert_eq!(h["access-control-allow-origin"], "*", "{path}");
    }
    let (st, h, body) = raw_get(ng.port, "/tile/0/000", "");
    assert_eq!((st, body.len()), (200, 256 * 32));
    assert!(!h.contains_key("content-encoding"), "hash tiles are not compressed");
    for path in ["/tile/0/002.p/188", "/tile/entries/002.p/188", "/tile/1/000.p/2"] {
        let (st, h, _) = raw_get(ng.port, path, "");
        assert_eq!(st, 200, "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}");
        assert_eq!(h["content-type"], "application/octet-stream", "{path}");
    }
    let (st, h, gz) = raw_get(ng.port, "/tile/entries/000", "Accept-Encoding: gzip\r\n");
    assert_eq!(st, 200);
    assert_eq!(h.get("content-encoding").map(String::as_str), Some("gzip"), "bundles are gzipped: {h:?}");
    let plain = std::fs::read(out.join("tile/entries/000")).unwrap();
    assert!(gz.len() < plain.len(), "gzip made it smaller");
    let (st, h, _) = raw_get(ng.port, "/tile/entries/000", "");
    assert_eq!((st, h.get("content-encoding")), (200, None), "no gzip unless asked");
    let (st, h, body) = raw_get(ng.port, "/lot/NO-SUCH-LOT", "");
    assert_eq!((st, h["content-type"].as_str()), (404, "application/json"));
    assert!(String::from_utf8_lossy(&body).contains("\"error\""));
    let actor = raw_get(ng.port, &format!("/actor/{}", tinledger_synth::AUTHORITY), "");
    assert_eq!((actor.0, actor.1["content-type"].as_str()), (200, "application/json"));
    for path in [
        "/",
        "/tile/",
        "/tile/0/",
        "/tile/0/0000",
        "/tile/0/x000/000",
        "/tile/6/000",
        "/tile/0/000.p/256",
        "/tile/0/000.p/0",
        "/tile/0/../checkpoint",
        "/tile/entries/999999",
        "/tile/entries/x001/x002/x003/x004/x005/x006/x007/000",
        "/lot/",
        "/nginx.conf",
        "/.publish.tmp-x",
    ] {
        assert_eq!(raw_get(ng.port, path, "").0, 404, "{path}");
    }

    // verify --server through nginx: a full audit from tiles and bundles.
    let o = tl(&env).args(["--server", &ng.url(), "verify", "--authority-key", &authority_hex()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("intact: 700 entries"), "{stdout}");
    // A pinned key that is not the genesis authority's: refused.
    let other = hex::encode([7u8; 32]);
    let o = tl(&env).args(["--server", &ng.url(), "verify", "--authority-key", &other]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    // A tampered published bundle: a fault naming the seq.
    let good = std::fs::read(out.join("tile/entries/001")).unwrap();
    tamper_bundle(&out.join("tile/entries/001"), 300);
    let o = tl(&env).args(["--server", &ng.url(), "verify", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["fault"]["seq"], 300, "{v}");
    assert!(v["fault"]["reason"].as_str().unwrap().contains("tile/entries/001"), "{v}");
    // A tampered hash tile (the entries intact): a fault naming the tile.
    std::fs::write(out.join("tile/entries/001"), good).unwrap();
    let mut t = std::fs::read(out.join("tile/0/001")).unwrap();
    t[77] ^= 0x10;
    std::fs::write(out.join("tile/0/001"), t).unwrap();
    let o = tl(&env).args(["--server", &ng.url(), "verify", "--json"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let reason = v["fault"]["reason"].as_str().unwrap();
    assert!(reason.contains("tile/0/001") && reason.contains("differs"), "{v}");
}

#[test]
fn tlog_scales_fetches_leaves_and_checks_inclusion_and_the_root_through_nginx() {
    let Some(bin) = nginx_bin() else { return };
    let Some(py) = tlog_scales_python() else { return };
    let env = Env::new();
    let ledger = env.path("src");
    let events = synthetic(700, None);
    grow(&ledger, &events);
    let vkey = tl(&env).arg("--ledger").arg(&ledger).args(["checkpoint", "--verifier-key"]).output().unwrap();
    let vkey = String::from_utf8(vkey.stdout).unwrap().trim().to_string();
    let out = env.path("pub");
    publish(&env, &ledger, &out);
    let ng = Nginx::start(&bin, &out);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/tlog_scales_check.py");
    let run = |indices: &[&str]| {
        std::process::Command::new(&py).arg(&script).arg(ng.url()).arg(&vkey).args(indices).output().unwrap()
    };
    let o = run(&["0", "255", "256", "511", "699"]);
    assert!(o.status.success(), "tlog-scales: {}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["size"], 700);
    let l = open(&ledger);
    assert_eq!(v["root"], hex::encode(l.merkle_root(700).unwrap()));
    for i in [0u64, 255, 256, 511, 699] {
        use sha2::Digest;
        let want = hex::encode(sha2::Sha256::digest(l.get(i).unwrap().unwrap().to_bytes()));
        assert_eq!(v["leaves"][i.to_string()], want, "leaf {i}");
    }
    drop(l);
    // Negative controls: a wrong verifier key, and a tampered hash tile.
    let wrong = vkey.replacen("tinledger/", "tinledger/0", 1);
    let o = std::process::Command::new(&py).arg(&script).arg(ng.url()).arg(&wrong).arg("1").output().unwrap();
    assert!(!o.status.success(), "a wrong key must fail");
    let tile = out.join("tile/0/001");
    let mut b = std::fs::read(&tile).unwrap();
    b[40] ^= 1;
    std::fs::write(&tile, b).unwrap();
    assert!(!run(&["300"]).status.success(), "a tampered hash tile must fail the inclusion or root check");
}

#[test]
fn mirror_catches_up_twice_fetching_only_what_is_new_and_refuses_a_rewritten_history() {
    let Some(bin) = nginx_bin() else { return };
    let env = Env::new();
    let events = synthetic(1400, None);
    let src = env.path("src");
    let out = env.path("pub");
    grow(&src, &events[..500]);
    publish(&env, &src, &out);
    let ng = Nginx::start(&bin, &out);
    let mirror = env.path("mirror");
    let run = |extra: &[&str]| {
        let mut c = tl(&env);
        c.args(["mirror", &ng.url(), "--json", "--into"]).arg(&mirror).args(extra);
        c.output().unwrap()
    };
    // The first run needs the authority's key.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_error_line(&String::from_utf8_lossy(&o.stderr)).contains("--authority-key"));
    assert!(!mirror.exists());
    let o = run(&["--authority-key", &authority_hex()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["appended"].as_u64(), v["checkpoint_size"].as_u64()), (Some(500), Some(500)));
    let cp500 = env.path("cp500.txt");
    std::fs::copy(out.join("checkpoint"), &cp500).unwrap();

    // Twice: the source grows, is published again, the mirror catches up.
    for upto in [900usize, 1400] {
        grow(&src, &events[..upto]);
        let p = publish(&env, &src, &out);
        assert!(p["unchanged"].as_u64().unwrap() > 0, "publish is incremental: {p}");
        let before = ng.hits("tile/entries/000");
        let o = run(&[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["checkpoint_size"].as_u64(), Some(upto as u64));
        assert_eq!(v["before"].as_u64().unwrap() + v["appended"].as_u64().unwrap(), upto as u64, "{v}");
        assert_eq!(ng.hits("tile/entries/000"), before, "bundle 000 is not fetched again");
    }
    assert_eq!(ng.hits("tile/entries/000"), 1, "the first bundle was fetched once");
    // Nothing new: no bundle fetched.
    let before = ng.log("access.log").lines().count();
    let o = run(&[]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["appended"], 0);
    assert_eq!(ng.log("access.log").lines().count() - before, 1, "only the checkpoint is fetched");

    // verify --since: the served log extends a checkpoint trusted earlier.
    let since = |url: &str, cp: &Path| {
        let mut c = tl(&env);
        c.args(["--server", url, "verify", "--since"]).arg(cp);
        c.output().unwrap()
    };
    let o = since(&ng.url(), &cp500);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("size 500 -> 1400"));
    // prove consistency --server: the same proof file as the source's own.
    let local =
        tl(&env).arg("--ledger").arg(&src).args(["prove", "consistency", "--old"]).arg(&cp500).output().unwrap();
    let remote = tl(&env).args(["--server", &ng.url(), "prove", "consistency", "--old"]).arg(&cp500).output().unwrap();
    assert!(local.status.success() && remote.status.success(), "{}", String::from_utf8_lossy(&remote.stderr));
    assert_eq!(String::from_utf8_lossy(&remote.stdout), String::from_utf8_lossy(&local.stdout));
    let cp1400 = env.path("cp1400.txt");
    std::fs::copy(out.join("checkpoint"), &cp1400).unwrap();

    // The mirror is a whole ledger: it verifies locally, and can be
    // published and verified through nginx in its turn.
    let o = tl(&env).arg("--ledger").arg(&mirror).args(["verify", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["ok"].as_bool(), v["entries"].as_u64()), (Some(true), Some(1400)), "{v}");
    let out2 = env.path("pub2");
    publish(&env, &mirror, &out2);
    let ng2 = Nginx::start(&bin, &out2);
    let o = tl(&env).args(["--server", &ng2.url(), "verify", "--authority-key", &authority_hex()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    drop(ng2);

    // A source whose history was rewritten (entry 650 differs), grown past
    // the mirror: refused, naming both roots; the mirror is unchanged.
    let forked = env.path("forked");
    let rewritten = synthetic(1400, Some(650));
    grow(&forked, &rewritten);
    let out3 = env.path("pub3");
    publish(&env, &forked, &out3);
    let ng3 = Nginx::start(&bin, &out3);
    let o = since(&ng3.url(), &cp1400);
    assert_eq!(o.status.code(), Some(1));
    assert!(one_error_line(&String::from_utf8_lossy(&o.stderr)).contains("history was rewritten"));
    let head_before = std::fs::read_dir(mirror.join("db")).map(|d| d.count()).unwrap_or(0);
    let o = tl(&env).args(["mirror", &ng3.url(), "--into"]).arg(&mirror).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let line = one_error_line(&String::from_utf8_lossy(&o.stderr)).to_string();
    assert!(line.contains("history differs") && line.contains("nothing was changed"), "{line}");
    let l = open(&forked);
    let b64 = tinledger_formats::proof::hash_b64;
    assert!(line.contains(&b64(&l.merkle_root(1400).unwrap())), "names the source's root: {line}");
    drop(l);
    let m = open(&mirror);
    assert!(line.contains(&b64(&m.merkle_root(1400).unwrap())), "names the mirror's root: {line}");
    assert_eq!(m.head().size, 1400);
    assert_eq!(m.latest_checkpoint().unwrap().unwrap().0, 1400);
    drop(m);
    assert!(std::fs::read_dir(mirror.join("db")).map(|d| d.count()).unwrap_or(0) >= head_before);
}

#[test]
fn remote_reads_give_the_local_output_and_a_remote_certificate_verifies_offline() {
    let env = Env::new();
    env.demo();
    let out = env.path("pub");
    publish(&env, &env.ledger(), &out);
    let srv = StaticServer::start(&out).unwrap();
    let url = srv.url();
    let same = |args: &[&str]| {
        let local = env.cmd().args(args).output().unwrap();
        let remote = env.bare().args(["--server", &url]).args(args).output().unwrap();
        assert!(local.status.success(), "{args:?}: {}", String::from_utf8_lossy(&local.stderr));
        assert!(remote.status.success(), "{args:?} --server: {}", String::from_utf8_lossy(&remote.stderr));
        assert_eq!(String::from_utf8_lossy(&remote.stdout), String::from_utf8_lossy(&local.stdout), "{args:?}");
    };
    same(&["show", "17"]);
    same(&["show", "17", "--json"]);
    same(&["lot", "BLY-2026-0001"]);
    same(&["lot", "SOLDER-KEK-2026-007", "--json"]);
    same(&["prove", "inclusion", "35"]);
    same(&["log"]);
    same(&["log", "--lot", "BLY-2026-0001", "--json"]);
    same(&["log", "--actor", "SMELTER-MUNTOK", "--from", "10", "--to", "40"]);
    same(&["log", "--kind", "dispatch"]);
    // Positive control for `same`: different entries differ.
    let a = env.bare().args(["--server", &url, "show", "3"]).output().unwrap();
    let b = env.bare().args(["--server", &url, "show", "4"]).output().unwrap();
    assert_ne!(a.stdout, b.stdout);
    // A form that reads only a local ledger refuses --server rather than ignore it.
    for args in [&["lot", "BLY-2026-0001", "--tree"][..], &["report", "balance", "--actor", "SMELTER-MUNTOK"][..]] {
        let o = env.bare().args(["--server", &url]).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(one_error_line(&String::from_utf8_lossy(&o.stderr)).contains("--server is not supported"));
    }
    // Beyond the checkpoint: a usage error.
    let o = env.bare().args(["--server", &url, "show", "4900"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(one_error_line(&String::from_utf8_lossy(&o.stderr)).contains("no entry 4900"));

    // cert issue through a real nginx when there is one (else the small
    // server): built and signed on this machine, verified offline.
    let ng = on_path("nginx").map(|b| Nginx::start(&b, &out));
    let base = ng.as_ref().map_or(url.clone(), Nginx::url);
    let exporter = env.key("EXPORTER-MUNTOK");
    env.bare()
        .args(["--server", &base, "cert", "issue", "--lot", "SOLDER-KEK-2026-007", "--key"])
        .arg(&exporter)
        .args(["--out", "remote.cert.json"])
        .assert()
        .success();
    env.bare()
        .args(["cert", "verify", "remote.cert.json", "--authority-key"])
        .arg(env.path("demo/keys/AUTH-BABEL.pub.pem"))
        .assert()
        .success();
    // Same entries as a local issue.
    env.cmd()
        .args(["cert", "issue", "--lot", "SOLDER-KEK-2026-007", "--key"])
        .arg(&exporter)
        .args(["--out", "local.cert.json"])
        .assert()
        .success();
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(env.path("remote.cert.json")).unwrap()).unwrap();
    let l: serde_json::Value = serde_json::from_slice(&std::fs::read(env.path("local.cert.json")).unwrap()).unwrap();
    assert_eq!(r["entries"], l["entries"]);
    assert_eq!(r["summary"], l["summary"]);
    // A key that exported nothing: refused.
    let o = env
        .bare()
        .args(["--server", &base, "cert", "issue", "--lot", "SOLDER-KEK-2026-007", "--key"])
        .arg(env.key("MINE-KOBA"))
        .args(["--out", "bad.cert.json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!env.path("bad.cert.json").exists());
}

#[test]
fn publish_is_incremental_and_refuses_a_forked_directory() {
    let env = Env::new();
    let src = env.path("src");
    let events = synthetic(800, None);
    let out = env.path("pub");
    // No checkpoint yet: told to sign one.
    let (l, _) = Ledger::create(&src, &events[0]).unwrap();
    drop(l);
    let o = tl(&env).arg("--ledger").arg(&src).args(["publish", "--out"]).arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("tinledger checkpoint --key"));
    grow(&src, &events[..300]);
    let p1 = publish(&env, &src, &out);
    assert_eq!(p1["new"], p1["files"], "{p1}");
    let again = publish(&env, &src, &out);
    assert_eq!(again["new"], 0, "{again}");
    assert_eq!(again["unchanged"], p1["files"], "{again}");
    assert_eq!(again["files"], p1["files"], "{again}");
    grow(&src, &events[..800]);
    let p2 = publish(&env, &src, &out);
    assert!(p2["new"].as_u64().unwrap() > 0 && p2["unchanged"].as_u64().unwrap() > 0, "{p2}");
    // Every checkpointed size keeps its partial tiles.
    assert!(out.join("tile/entries/001.p/44").is_file(), "size 300's partial bundle");
    assert!(out.join("tile/entries/003.p/32").is_file(), "size 800's partial bundle");
    assert!(std::fs::read_to_string(out.join("checkpoint")).unwrap().contains("\n800\n"));
    // A full tile with other bytes: a fork, refused, checkpoint untouched.
    let cp = std::fs::read(out.join("checkpoint")).unwrap();
    let t = out.join("tile/entries/001");
    let mut b = std::fs::read(&t).unwrap();
    b[100] ^= 1;
    std::fs::write(&t, &b).unwrap();
    let o = tl(&env).arg("--ledger").arg(&src).args(["publish", "--out"]).arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(one_error_line(&String::from_utf8_lossy(&o.stderr)).contains("forked"));
    assert_eq!(std::fs::read(out.join("checkpoint")).unwrap(), cp);
    // Publishing an older ledger over a newer directory: refused.
    let old = env.path("old");
    grow(&old, &events[..300]);
    let out_new = env.path("pub-new");
    publish(&env, &src, &out_new);
    let o = tl(&env).arg("--ledger").arg(&old).args(["publish", "--out"]).arg(&out_new).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(one_error_line(&String::from_utf8_lossy(&o.stderr)).contains("larger than"));
}

#[test]
fn malformed_server_answers_give_one_line_errors_naming_the_url() {
    let env = Env::new();
    env.demo();
    let out = env.path("pub");
    publish(&env, &env.ledger(), &out);
    let bundle = "tile/entries/000.p/49".to_string();
    let full = std::fs::read(out.join(&bundle)).unwrap();
    let cp = std::fs::read_to_string(out.join("checkpoint")).unwrap();
    let http = |body: &[u8], declared: usize| {
        let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n").into_bytes();
        r.extend_from_slice(body);
        r
    };
    // The signature line's last base64 characters changed.
    let bad_sig = {
        let mut c: Vec<char> = cp.trim_end().chars().collect();
        let at = c.len() - 10;
        c[at] = if c[at] == 'A' { 'B' } else { 'A' };
        format!("{}\n", c.into_iter().collect::<String>())
    };
    // (what, raw answers by path, exit code, words of the error)
    type Case<'a> = (&'a str, HashMap<String, Vec<u8>>, i32, &'a str);
    let cases: Vec<Case> = vec![
        (
            "truncated body",
            HashMap::from([(bundle.clone(), http(&full[..100], full.len()))]),
            2,
            "reading the response failed",
        ),
        (
            "short bundle",
            HashMap::from([(bundle.clone(), http(&full[..full.len() - 5], full.len() - 5))]),
            1,
            "tile/entries/000.p/49",
        ),
        (
            "bad checkpoint signature",
            HashMap::from([("checkpoint".into(), http(bad_sig.as_bytes(), bad_sig.len()))]),
            1,
            "not validly signed",
        ),
        (
            "oversized",
            HashMap::from([("checkpoint".into(), http(&vec![b'a'; 100_000], 100_000))]),
            2,
            "larger than 65536 bytes",
        ),
        (
            "server error",
            HashMap::from([(
                "checkpoint".into(),
                b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            )]),
            2,
            "answered 500",
        ),
        ("not HTTP", HashMap::from([("checkpoint".into(), b"hello\r\n\r\n".to_vec())]), 2, "GET http://"),
    ];
    for (what, overrides, code, needle) in cases {
        let srv = StaticServer::start_with(&out, overrides).unwrap();
        for args in [&["show", "3"][..], &["verify"][..]] {
            let o = env.bare().args(["--server", &srv.url()]).args(args).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            let stdout = String::from_utf8_lossy(&o.stdout);
            if args[0] == "verify" && code == 1 && stdout.contains("FAULT") {
                // verify reports a fault in the data as a FAULT line (exit 1).
                assert_eq!(o.status.code(), Some(1), "{what}: {err}{stdout}");
                assert!(stdout.contains(needle), "{what}: {stdout}");
                continue;
            }
            assert_eq!(o.status.code(), Some(code), "{what} {args:?}: {err}{stdout}");
            let line = one_error_line(&err);
            assert!(line.contains(needle), "{what} {args:?}: {line}");
            assert!(line.contains(&srv.url()), "{what}: names the URL: {line}");
        }
    }
    // Nobody listening: one line naming the URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/");
    let o = env.bare().args(["--server", &url, "show", "1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(one_error_line(&String::from_utf8_lossy(&o.stderr)).contains(&url));
    // Positive control: the untouched files serve.
    let srv = StaticServer::start(&out).unwrap();
    env.bare().args(["--server", &srv.url(), "verify"]).assert().success();
}

#[test]
fn publish_never_writes_outside_its_directory_for_hostile_lot_ids() {
    let env = Env::new();
    env.demo();
    // Valid ids (letters, digits, `. _ - / :`) that cannot be file paths:
    // `..` segments, and an id another id continues with `/`.
    for (lot, at) in [
        ("ESC/../../../escaped", "2026-04-01T00:00:00Z"),
        ("P", "2026-04-01T00:01:00Z"),
        ("P/Q", "2026-04-01T00:02:00Z"),
        ("OK/2026/1", "2026-04-01T00:03:00Z"),
    ] {
        env.cmd().args(koba_extract(&env, lot, at)).assert().success();
    }
    env.cmd().args(["checkpoint", "--key"]).arg(env.key("AUTH-BABEL")).assert().success();
    let out = env.path("site/pub");
    let o = env.cmd().args(["publish", "--json", "--out"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let skipped: Vec<&str> = v["skipped"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(skipped, ["lot/ESC/../../../escaped", "lot/P"], "{v}");
    assert!(!env.path("escaped").exists() && !env.path("site/escaped").exists());
    assert!(out.join("lot/P/Q").is_file() && out.join("lot/OK/2026/1").is_file());
    // Served: the nested id reads back through its escaped URL; the
    // skipped one is a 404.
    let srv = StaticServer::start(&out).unwrap();
    let same = |lot: &str| {
        let local = env.cmd().args(["lot", lot]).output().unwrap();
        let remote = env.bare().args(["--server", &srv.url(), "lot", lot]).output().unwrap();
        (local.stdout == remote.stdout, remote.status.code())
    };
    assert_eq!(same("OK/2026/1"), (true, Some(0)));
    assert_eq!(same("P").1, Some(2));
}
