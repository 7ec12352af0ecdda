//! Shared helpers: a fresh temp dir per test and a command builder.
#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Env {
    pub tmp: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env { tmp: tempfile::tempdir().expect("tempdir") }
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }
    /// The demo's ledger directory (after [`Env::demo`]).
    pub fn ledger(&self) -> PathBuf {
        self.path("demo/ledger")
    }
    /// A key file from the demo's keys (e.g. "SMELTER-MUNTOK-2").
    pub fn key(&self, label: &str) -> PathBuf {
        self.path(&format!("demo/keys/{label}.pem"))
    }
    /// `tinledger` with `--ledger` set to the demo ledger.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("tinledger").expect("binary");
        c.env_remove("TINLEDGER_LEDGER");
        c.arg("--ledger").arg(self.ledger());
        c.current_dir(self.tmp.path());
        c
    }
    /// Plain `tinledger` without `--ledger`.
    pub fn bare(&self) -> Command {
        let mut c = Command::cargo_bin("tinledger").expect("binary");
        c.env_remove("TINLEDGER_LEDGER");
        c.current_dir(self.tmp.path());
        c
    }
    /// Build the demo scenario in `<tmp>/demo`.
    pub fn demo(&self) -> &Self {
        self.bare().arg("demo").arg("--dir").arg(self.path("demo")).assert().success();
        self
    }
    /// `verify --json` parsed.
    pub fn verify_json(&self) -> Value {
        let out = self.cmd().args(["verify", "--json"]).output().expect("run");
        serde_json::from_slice(&out.stdout).expect("verify --json prints JSON")
    }
    /// (entries, head) of the ledger, read by `verify --json`.
    pub fn state(&self) -> (u64, String) {
        let v = self.verify_json();
        (v["entries"].as_u64().expect("entries"), v["head"].as_str().unwrap_or("").to_string())
    }
}

/// Run `cmd`, expect exit code `code`, return stderr.
pub fn fails_with(mut cmd: Command, code: i32) -> String {
    let out = cmd.output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "panic in stderr: {stderr}");
    stderr
}

/// Recursively copy a directory (for tampering with a copy of a ledger).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).expect("copy");
        }
    }
}

/// Copy the env's ledger to `name` inside the env's directory.
pub fn copy_ledger(env: &Env, name: &str) -> PathBuf {
    let dst = env.path(name);
    copy_dir(&env.ledger(), &dst);
    dst
}

/// Open a ledger's sled database directly (behind the binary's back), run
/// `f`, flush and close it.
pub fn with_db<T>(ledger: &Path, f: impl FnOnce(&sled::Db) -> T) -> T {
    // sled's own lock on db/db can be held for a moment by a child another
    // test thread is forking (it holds our descriptors until it execs).
    let start = std::time::Instant::now();
    let db = loop {
        match sled::open(ledger.join("db")) {
            Ok(db) => break db,
            Err(e)
                if start.elapsed() < std::time::Duration::from_secs(10)
                    && (e.to_string().contains("lock") || e.to_string().contains("temporarily")) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("open the ledger with sled: {e}"),
        }
    };
    let r = f(&db);
    db.flush().expect("flush");
    drop(db);
    r
}

/// `record dispatch` of BLY-2026-0001 (held by the collector) to the smelter.
pub const COLLECTOR_DISPATCH: [&str; 8] = [
    "--lot",
    "BLY-2026-0001",
    "--to",
    "SMELTER-MUNTOK",
    "--transporter",
    "TRANSPORTER-BABEL",
    "--document",
    "SJ/PKP/2026/0400",
];

/// `record extract` arguments for a MINE-KOBA extraction of `lot` at `at`
/// on the demo ledger (key, licence and location of the demo's mine).
pub fn koba_extract(env: &Env, lot: &str, at: &str) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = vec!["record".into(), "extract".into(), "--key".into()];
    v.push(env.key("MINE-KOBA").into());
    for a in [
        "--lot",
        lot,
        "--mass",
        "1.5t",
        "--grade",
        "61%",
        "--licence",
        "IUP-OP 540/112/KOBA/2019",
        "--location=-2.4905,106.4075",
        "--at",
        at,
    ] {
        v.push(a.into());
    }
    v
}

/// The auditor's key that signs and checks audit snapshots (made once per test).
pub fn auditor_key(env: &Env) -> PathBuf {
    let p = env.path("auditor.pem");
    if !p.exists() {
        env.bare().args(["keygen", "--out"]).arg(&p).assert().success();
    }
    p
}

/// The auditor's private key, to craft signed snapshots.
pub fn auditor_signing_key(env: &Env) -> ed25519_dalek::SigningKey {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    ed25519_dalek::SigningKey::read_pkcs8_pem_file(auditor_key(env)).expect("auditor key")
}

/// `magic ‖ body ‖ public key ‖ signature`: a snapshot file signed by `key`
/// (docs/storage.md, "Audit snapshots"), whatever `body` holds.
pub fn signed_snapshot(body: &[u8], key: &ed25519_dalek::SigningKey, claimed: &[u8; 32]) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let mut b = b"tinledger-audit-snapshot-v3\n".to_vec();
    b.extend_from_slice(body);
    b.extend_from_slice(claimed);
    let sig = key.sign(&b);
    b.extend_from_slice(&sig.to_bytes());
    b
}

/// An event of the code-built test ledgers: ledger `ledger_id`, signed by
/// `signer`, at a time one minute per `i` after a fixed start.
pub fn test_event(ledger_id: [u8; 16], i: u64, signer: &str, body: tinledger_core::EventBody) -> tinledger_core::Event {
    tinledger_core::Event {
        ledger_id: tinledger_core::LedgerId(ledger_id),
        signer: tinledger_core::ActorId::new(signer).unwrap(),
        at: tinledger_core::units::Timestamp(1_770_000_000 + i as i64 * 60),
        note: None,
        body,
    }
}

/// Flip a byte of the snapshot sled completed in `ledger/db`: real damage
/// to the storage files, which sled's own check finds at the next open.
pub fn damage_sled_snapshot(ledger: &Path) {
    let snap = std::fs::read_dir(ledger.join("db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().and_then(|f| f.to_str()).is_some_and(|f| f.starts_with("snap.")))
        .expect("a snapshot");
    let mut bytes = std::fs::read(&snap).unwrap();
    bytes[3] ^= 0xff;
    std::fs::write(&snap, bytes).unwrap();
}

/// The `tiles` tree of a format-2 ledger (docs/storage.md §2).
pub fn tiles_tree(db: &sled::Db) -> sled::Tree {
    db.open_tree(tinledger_ledger::schema::T_TILES).expect("tiles tree")
}

/// The stored bytes of entry `seq`: inside its full entry bundle, or its
/// right-edge item.
pub fn raw_entry(db: &sled::Db, seq: u64) -> Option<Vec<u8>> {
    use tinledger_ledger::schema::{bundle_key, edge_key};
    let t = tiles_tree(db);
    if let Some(b) = t.get(bundle_key(seq / 256)).expect("read") {
        let es = tinledger_core::tiles::decode_bundle(&b).expect("a stored bundle decodes");
        return es.get((seq % 256) as usize).map(|e| e.to_vec());
    }
    t.get(edge_key(seq)).expect("read").map(|v| v.to_vec())
}

/// Replace the stored bytes of entry `seq` (re-encoding its bundle if it is
/// in one; otherwise as a right-edge item).
pub fn put_raw_entry(db: &sled::Db, seq: u64, bytes: &[u8]) {
    edit_bundle(db, seq, |es| es[(seq % 256) as usize] = bytes.to_vec()).unwrap_or_else(|| {
        tiles_tree(db).insert(tinledger_ledger::schema::edge_key(seq), bytes).map(|_| ()).expect("write")
    });
}

/// Remove entry `seq` from storage: its edge item, or from its bundle (which
/// then holds 255 entries). Returns whether it was there.
pub fn remove_raw_entry(db: &sled::Db, seq: u64) -> bool {
    if edit_bundle(db, seq, |es| {
        es.remove((seq % 256) as usize);
    })
    .is_some()
    {
        return true;
    }
    tiles_tree(db).remove(tinledger_ledger::schema::edge_key(seq)).expect("remove").is_some()
}

fn edit_bundle(db: &sled::Db, seq: u64, f: impl FnOnce(&mut Vec<Vec<u8>>)) -> Option<()> {
    let t = tiles_tree(db);
    let k = tinledger_ledger::schema::bundle_key(seq / 256);
    let b = t.get(k).expect("read")?;
    let mut es: Vec<Vec<u8>> =
        tinledger_core::tiles::decode_bundle(&b).expect("a stored bundle decodes").iter().map(|e| e.to_vec()).collect();
    f(&mut es);
    t.insert(k, tinledger_core::tiles::encode_bundle(&es).expect("encodes")).expect("write");
    Some(())
}

/// A finished command's standard output, as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A finished command's standard error, as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
