//! Input and output files (issue 9, section 3): every output is written
//! whole or not at all (temporary file, fsync, rename, directory fsync) and
//! never over an existing file; `checkpoint --key --out` changes nothing
//! when the output cannot be written; every input is capped by the bytes
//! actually read (pipes, FIFOs and `/dev/zero` included) and a key must be a
//! regular file; audit snapshots are signed and decoded within bounds; every
//! JSON input refuses duplicate members; the export reader is strict and
//! checks the genesis entry against its header.
//!
//! Needs root (a real, full tmpfs is mounted), `strace`, `mkfifo` and `sh`:
//! .ci/run installs strace; CI runs as root.

use crate::util::*;
use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tinledger_core::note::NoteSigner;
use tinledger_core::testkeys::test_key;

// ---------------------------------------------------------------------------
// Helpers

/// Temporary files an output left in `dir` (`.NAME.tmp-XXXXXX`).
fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

/// A real tmpfs of 64 KiB mounted at `dir`, filled to the last byte;
/// unmounted on drop.
struct FullDisk {
    dir: PathBuf,
}

impl FullDisk {
    fn new(dir: PathBuf) -> FullDisk {
        std::fs::create_dir_all(&dir).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(st.success(), "mounting a tmpfs needs root (CI runs as root)");
        let disk = FullDisk { dir };
        let mut f = std::fs::File::create(disk.dir.join("filler")).unwrap();
        let chunk = [0u8; 4096];
        while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
        disk
    }
    /// Names in the filesystem other than the filler.
    fn contents(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n != "filler")
            .collect();
        v.sort();
        v
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.dir).status();
    }
}

/// A FIFO at `path` and a writer (`cat /dev/zero > path`) that blocks until
/// a reader opens it and writes until the reader goes away. The caller
/// kills and reaps it.
fn fifo_writer(path: &Path) -> Child {
    let st = std::process::Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(st.success());
    std::process::Command::new("sh")
        .arg("-c")
        .arg("exec cat /dev/zero > \"$0\"")
        .arg(path)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the FIFO writer")
}

/// Run `c` (bounded in time), expect exit `code`, return the first stderr line.
fn one_line_error(mut c: Command, code: i32) -> String {
    c.timeout(Duration::from_secs(120));
    let t0 = Instant::now();
    let err = fails_with(c, code);
    assert!(t0.elapsed() < Duration::from_secs(100), "took {:?}: {err}", t0.elapsed());
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty() && lines.len() <= 2, "one error line (and a hint): {err}");
    assert!(lines.len() == 1 || lines[1].starts_with("hint: "), "{err}");
    lines[0].to_string()
}

fn ledger_id(env: &Env) -> String {
    let out = env.cmd().args(["show", "0", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["event"]["ledger_id"].as_str().unwrap().to_string()
}

/// The size of the latest stored checkpoint.
fn latest_checkpoint_size(env: &Env) -> u64 {
    let out = env.cmd().args(["checkpoint", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).expect("checkpoint --json");
    v["size"].as_u64().unwrap()
}

fn auth_pub(env: &Env) -> PathBuf {
    env.path("demo/keys/AUTH-BABEL.pub.pem")
}

/// `sign extract` of lot `lot` by MINE-KOBA, written to `out`.
fn sign_extract(env: &Env, lot: &str, out: &Path) -> Command {
    let mut c = env.bare();
    c.args(["sign", "extract", "--key"])
        .arg(env.key("MINE-KOBA"))
        .args(["--as", "MINE-KOBA", "--ledger-id", &ledger_id(env), "--lot", lot, "--mass", "1t", "--grade", "60%"])
        .args(["--licence", "IUP-OP 540/112/KOBA/2019", "--location=-2.4905,106.4075", "--at", "2026-04-01T00:00:00Z"])
        .arg("--out")
        .arg(out);
    c
}

/// Every command that writes an output file, writing to `dir/…`.
fn output_commands(env: &Env, dir: &Path) -> Vec<(&'static str, PathBuf, Command)> {
    let mut v = Vec::new();
    let p = dir.join("l.tlx");
    let mut c = env.cmd();
    c.args(["export", "--out"]).arg(&p);
    v.push(("export", p, c));
    let p = dir.join("cp.txt");
    let mut c = env.cmd();
    c.args(["checkpoint", "--out"]).arg(&p);
    v.push(("checkpoint --out", p, c));
    let p = dir.join("p35.json");
    let mut c = env.cmd();
    c.args(["prove", "inclusion", "35", "--out"]).arg(&p);
    v.push(("prove inclusion", p, c));
    let p = dir.join("cons.json");
    let mut c = env.cmd();
    c.args(["prove", "consistency", "--old"]).arg(env.path("demo/checkpoint.txt")).arg("--out").arg(&p);
    v.push(("prove consistency", p, c));
    let p = dir.join("c.json");
    let mut c = env.cmd();
    c.args(["cert", "issue", "--lot", "SOLDER-KEK-2026-007", "--key"])
        .arg(env.key("EXPORTER-MUNTOK"))
        .args(["--at", "2026-03-21T00:00:00Z", "--out"])
        .arg(&p);
    v.push(("cert issue", p, c));
    let p = dir.join("c.html");
    let mut c = env.cmd();
    c.args(["cert", "render"]).arg(env.path("demo/certificate.json")).arg("--html").arg(&p);
    c.arg("--authority-key").arg(env.path("demo/keys/AUTH-BABEL.pub.pem"));
    v.push(("cert render", p, c));
    let p = dir.join("s.json");
    v.push(("sign --out", p.clone(), sign_extract(env, "KOB-IO-1", &p)));
    v
}

// ---------------------------------------------------------------------------
// Outputs

#[test]
fn every_output_is_whole_and_never_overwritten() {
    let env = Env::new();
    env.demo();
    let out = env.path("out");
    std::fs::create_dir(&out).unwrap();
    for (what, path, c) in output_commands(&env, &out) {
        let mut c = c;
        c.assert().success();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!bytes.is_empty(), "{what}");
        assert!(temps(&out).is_empty(), "{what}: {:?}", temps(&out));
        // Run again: refused, the first file untouched, nothing left behind.
        let again = output_commands(&env, &out).into_iter().find(|(w, ..)| *w == what).unwrap().2;
        let line = one_line_error(again, 2);
        assert_eq!(line, format!("tinledger: refusing to overwrite existing file {}", path.display()), "{what}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{what}: the existing file changed");
        assert!(temps(&out).is_empty(), "{what}: {:?}", temps(&out));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o044, 0o044, "{what}: an output is an ordinary readable file (mode {mode:o})");
        }
    }
    // The files are complete: each checks.
    let check = |args: &[&str], file: &Path| {
        let mut c = env.bare();
        c.args(args).arg(file).arg("--authority-key").arg(auth_pub(&env));
        c.assert().success();
    };
    check(&["check", "checkpoint"], &out.join("cp.txt"));
    check(&["check", "inclusion"], &out.join("p35.json"));
    check(&["check", "consistency"], &out.join("cons.json"));
    check(&["cert", "verify"], &out.join("c.json"));
    let html = std::fs::read_to_string(out.join("c.html")).unwrap();
    assert!(html.trim_end().ends_with("</html>"), "{}", &html[html.len().saturating_sub(100)..]);
    env.cmd().arg("submit").arg(out.join("s.json")).assert().success();
    let mut c = env.bare();
    c.args(["import-ledger"]).arg(out.join("l.tlx")).arg("--into").arg(env.path("copy"));
    c.arg("--authority-key").arg(auth_pub(&env)).assert().success();

    // A directory that does not exist: refused before anything is written.
    let missing = env.path("no-such-dir");
    for (what, path, c) in output_commands(&env, &missing) {
        let line = one_line_error(c, 2);
        assert!(line.starts_with(&format!("tinledger: cannot create {}: ", path.display())), "{what}: {line}");
        assert!(!missing.exists());
    }
    // A target that is a directory.
    std::fs::create_dir(env.path("isdir")).unwrap();
    let mut c = env.cmd();
    c.args(["export", "--out"]).arg(env.path("isdir"));
    let line = one_line_error(c, 2);
    assert!(line.contains("refusing to overwrite existing file"), "{line}");
}

#[test]
fn a_full_disk_leaves_no_output_and_no_temporary_file() {
    let env = Env::new();
    env.demo();
    let disk = FullDisk::new(env.path("full"));
    for (what, path, c) in output_commands(&env, &disk.dir) {
        let line = one_line_error(c, 2);
        assert!(line.contains(&path.display().to_string()), "{what}: the message names the file: {line}");
        assert!(line.contains("No space left on device"), "{what}: {line}");
        assert_eq!(disk.contents(), Vec::<String>::new(), "{what}: left a file behind");
    }
}

#[test]
fn checkpoint_with_an_output_that_cannot_be_written_changes_nothing() {
    let env = Env::new();
    env.demo();
    env.cmd().args(koba_extract(&env, "KOB-IO-CP", "2026-04-01T00:00:00Z")).assert().success();
    assert_eq!(latest_checkpoint_size(&env), 49);
    std::fs::write(env.path("exists.txt"), "keep me").unwrap();
    std::fs::create_dir(env.path("adir")).unwrap();
    let disk = FullDisk::new(env.path("full"));
    let sign = |key: &Path, out: &Path| {
        let mut c = env.cmd();
        c.args(["checkpoint", "--key"]).arg(key).arg("--out").arg(out);
        c
    };
    let auth = env.key("AUTH-BABEL");
    let cases: Vec<(PathBuf, PathBuf, i32, &str)> = vec![
        (auth.clone(), env.path("exists.txt"), 2, "refusing to overwrite existing file"),
        (auth.clone(), env.path("no-dir/cp.txt"), 2, "cannot create"),
        (auth.clone(), env.path("adir"), 2, "refusing to overwrite existing file"),
        (auth.clone(), disk.dir.join("cp.txt"), 2, "No space left on device"),
        (env.key("MINE-KOBA"), env.path("cp-wrong-key.txt"), 1, "not the ledger authority's current key"),
        (env.path("no-such-key.pem"), env.path("cp-no-key.txt"), 2, "cannot read key file"),
    ];
    for (key, out, code, want) in cases {
        let line = one_line_error(sign(&key, &out), code);
        assert!(line.contains(want), "{}: {line}", out.display());
        assert_eq!(latest_checkpoint_size(&env), 49, "{}: a checkpoint was stored", out.display());
        assert!(temps(env.tmp.path()).is_empty() && disk.contents().is_empty());
    }
    assert_eq!(std::fs::read_to_string(env.path("exists.txt")).unwrap(), "keep me");
    assert!(!env.path("cp-wrong-key.txt").exists() && !env.path("cp-no-key.txt").exists());
    // A good path: stored and written, the same note.
    let out =
        env.cmd().args(["checkpoint", "--key"]).arg(&auth).args(["--out", "cp50.txt", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["size"], 50);
    assert_eq!(std::fs::read_to_string(env.path("cp50.txt")).unwrap(), v["checkpoint"].as_str().unwrap());
    assert_eq!(latest_checkpoint_size(&env), 50);
}

/// Seeded xorshift64 (`TINLEDGER_CRASH_SEED` replays).
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn export_killed_at_any_point_leaves_no_partial_file() {
    const ROUNDS: u64 = 30;
    let env = Env::new();
    env.demo();
    // A ledger large enough that an export takes a while: 3,000 more extracts.
    let mut csv = String::from("lot,material,mass,grade,licence,location,at\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "EXP-{i},concentrate,{}kg,70%,IUP-OP 540/112/KOBA/2019,\"-2.4905,106.4075\",2026-04-02T00:00:00Z\n",
            1000 + i
        ));
    }
    std::fs::write(env.path("extract.csv"), csv).unwrap();
    env.cmd().arg("import").arg(env.path("extract.csv")).arg("--key").arg(env.key("MINE-KOBA")).assert().success();
    // One read-only open first, so the exports below open a settled ledger.
    env.cmd().arg("verify").assert().success();
    let exe = assert_cmd::cargo::cargo_bin("tinledger");
    let export = |out: &Path| {
        let mut c = std::process::Command::new(&exe);
        c.env_remove("TINLEDGER_LEDGER").arg("--ledger").arg(env.ledger()).args(["export", "--out"]).arg(out);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        c
    };
    let t0 = Instant::now();
    let st = export(&env.path("ref.tlx")).status().unwrap();
    let full = t0.elapsed();
    assert!(st.success());
    let reference = std::fs::read(env.path("ref.tlx")).unwrap();
    let mut seed =
        std::env::var("TINLEDGER_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x10_2026u64).max(1);
    eprintln!("export kill test: seed {seed}, an export takes {full:?}");
    let out_dir = env.path("kills");
    std::fs::create_dir(&out_dir).unwrap();
    let (mut absent, mut whole) = (0, 0);
    for round in 0..ROUNDS {
        let out = out_dir.join(format!("k{round}.tlx"));
        let delay = Duration::from_micros(next(&mut seed) % (full.as_micros() as u64 * 6 / 5).max(1));
        let mut child = export(&out).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let res = child.wait_with_output().unwrap();
        assert!(!String::from_utf8_lossy(&res.stderr).contains("panicked"));
        let ctx = format!("round {round}, killed after {delay:?}, exit {:?}", res.status.code());
        match std::fs::read(&out) {
            Ok(b) => {
                assert!(b == reference, "{ctx}: a partial export ({} of {} bytes)", b.len(), reference.len());
                whole += 1;
            }
            Err(_) => {
                absent += 1;
                // A rerun writes it whole, whatever was left behind.
                assert!(export(&out).status().unwrap().success(), "{ctx}: the rerun failed");
                assert!(std::fs::read(&out).unwrap() == reference, "{ctx}: rerun");
            }
        }
    }
    eprintln!("after {ROUNDS} kills: {absent} exports absent (rerun whole), {whole} whole");

    // Killed exactly in the crash windows: at the first write of the output
    // (sled itself writes with pwrite64) and at the rename. The target is
    // absent each time, a rerun succeeds.
    for (i, inject) in ["write", "rename,renameat,renameat2,link,linkat"].iter().enumerate() {
        let out = out_dir.join(format!("strace{i}.tlx"));
        let mut c = std::process::Command::new("strace");
        c.args(["-f", "-qq", "-o", "/dev/null", "-e"]).arg(format!("inject={inject}:signal=KILL:when=1"));
        let mut inner = export(&out);
        c.arg(inner.get_program()).args(inner.get_args());
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let res = c.output().expect("run strace (.ci/run installs it)");
        assert!(!res.status.success(), "{inject}: the export was not killed");
        assert!(!out.exists(), "{inject}: a target file after a kill at {inject}");
        assert!(inner.status().unwrap().success(), "{inject}: the rerun failed");
        assert!(std::fs::read(&out).unwrap() == reference, "{inject}: rerun");
    }
}

// ---------------------------------------------------------------------------
// Inputs

#[test]
fn every_input_is_capped_by_the_bytes_read() {
    let env = &Env::new();
    env.demo();
    let before = env.state();
    env.cmd().args(["export", "--out", "l.tlx"]).assert().success();
    env.cmd().args(["checkpoint", "--out", "cp.txt"]).assert().success();
    let key = auditor_key(env);
    let mut c = env.cmd();
    c.args(["verify", "--snapshot", "cp.txt", "--auditor-key"]).arg(&key).assert().success();
    // Each command with FILE where an input goes, and the cap it names.
    type Build<'a> = Box<dyn Fn(&Path) -> Command + 'a>;
    let on_ledger = |args: &'static [&'static str], tail: &'static [&'static str]| -> Build<'_> {
        Box::new(move |f: &Path| {
            let mut c = env.cmd();
            c.args(args).arg(f).args(tail);
            c
        })
    };
    let with_auth = |args: &'static [&'static str]| -> Build<'_> {
        Box::new(move |f: &Path| {
            let mut c = env.bare();
            c.args(args).arg(f).arg("--authority-key").arg(auth_pub(env));
            c
        })
    };
    let id = ledger_id(env);
    let cases: Vec<(&str, &str, Build)> = vec![
        ("submit", "signed-event file FILE holds more than 256 MiB", on_ledger(&["submit"], &[])),
        ("import", "bulk file FILE holds more than 1 GiB", on_ledger(&["import"], &[])),
        (
            "sign-batch",
            "bulk file FILE holds more than 1 GiB",
            Box::new(|f: &Path| {
                let mut c = env.bare();
                c.arg("sign-batch").arg(f).arg("--key").arg(env.key("MINE-KOBA"));
                c.args(["--as", "MINE-KOBA", "--ledger-id", &id, "--out", "sb.jsonl"]);
                c
            }),
        ),
        ("cert verify", "certificate FILE holds more than 256 MiB", with_auth(&["cert", "verify"])),
        ("check inclusion", "inclusion proof FILE holds more than 16 MiB", with_auth(&["check", "inclusion"])),
        ("check consistency", "consistency proof FILE holds more than 16 MiB", with_auth(&["check", "consistency"])),
        ("check checkpoint", "checkpoint FILE holds more than 16 MiB", with_auth(&["check", "checkpoint"])),
        (
            "prove inclusion",
            "checkpoint FILE holds more than 16 MiB",
            on_ledger(&["prove", "inclusion", "3", "--checkpoint"], &[]),
        ),
        (
            "prove consistency",
            "old checkpoint FILE holds more than 16 MiB",
            on_ledger(&["prove", "consistency", "--old"], &[]),
        ),
        (
            "verify --snapshot",
            "checkpoint FILE holds more than 16 MiB",
            Box::new(|f: &Path| {
                let mut c = env.cmd();
                c.args(["verify", "--snapshot"]).arg(f).arg("--auditor-key").arg(&key);
                c
            }),
        ),
        (
            "verify --since",
            "checkpoint FILE holds more than 16 MiB",
            Box::new(|f: &Path| {
                let mut c = env.cmd();
                c.args(["verify", "--since"]).arg(f).arg("--auditor-key").arg(&key);
                c
            }),
        ),
        (
            "verify --since (its .state)",
            "audit snapshot FILE.cp.state holds more than 1 GiB",
            Box::new(|f: &Path| {
                // CP.state is the input here: a link to FILE beside a copy of cp.txt.
                let cp = PathBuf::from(format!("{}.cp", f.display()));
                std::fs::copy(env.path("cp.txt"), &cp).unwrap();
                std::os::unix::fs::symlink(f, format!("{}.state", cp.display())).unwrap();
                let mut c = env.cmd();
                c.args(["verify", "--since"]).arg(&cp).arg("--auditor-key").arg(&key);
                c
            }),
        ),
        (
            "import-ledger",
            "FILE: line 1 is longer than 1 MiB",
            Box::new(|f: &Path| {
                let mut c = env.bare();
                c.arg("import-ledger").arg(f).arg("--into").arg(env.path("copy"));
                c.arg("--authority-key").arg(auth_pub(env));
                c
            }),
        ),
        (
            "import-ledger --checkpoint",
            "checkpoint FILE holds more than 16 MiB",
            Box::new(|f: &Path| {
                let mut c = env.bare();
                c.args(["import-ledger", "l.tlx", "--into"]).arg(env.path("copy")).arg("--checkpoint").arg(f);
                c.arg("--authority-key").arg(auth_pub(env));
                c
            }),
        ),
    ];
    for (i, (what, want, build)) in cases.iter().enumerate() {
        // /dev/zero, through a link whose name the message must carry.
        let zero = env.path(&format!("zero-{i}"));
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let line = one_line_error(build(&zero), 2);
        assert!(line.contains(&want.replace("FILE", &zero.display().to_string())), "{what} /dev/zero: {line}");
        // A FIFO fed without end by a writer.
        let fifo = env.path(&format!("fifo-{i}"));
        let mut writer = fifo_writer(&fifo);
        let line = one_line_error(build(&fifo), 2);
        let _ = writer.kill();
        let _ = writer.wait();
        assert!(line.contains(&want.replace("FILE", &fifo.display().to_string())), "{what} FIFO: {line}");
    }
    assert_eq!(env.state(), before, "the ledger changed");
    assert!(!env.path("copy").exists() && !env.path("sb.jsonl").exists());
}

#[test]
fn a_key_that_is_not_a_regular_file_is_refused_without_blocking() {
    let env = Env::new();
    env.demo();
    let before = env.state();
    let fifo = env.path("key.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (key, kind) in
        [(fifo.clone(), "a FIFO"), (PathBuf::from("/dev/zero"), "a device"), (env.path("demo"), "a directory")]
    {
        let mut args = koba_extract(&env, "KOB-IO-FIFO", "2026-04-01T00:00:00Z");
        args[3] = key.clone().into();
        let mut c = env.cmd();
        c.args(&args);
        let line = one_line_error(c, 2);
        assert_eq!(line, format!("tinledger: key file {} is not a regular file (it is {kind})", key.display()));
        // A public key argument too.
        let mut c = env.bare();
        c.args(["check", "checkpoint"]).arg(env.path("demo/checkpoint.txt")).arg("--authority-key").arg(&key);
        let line = one_line_error(c, 2);
        assert!(line.contains("is not a regular file"), "{line}");
    }
    assert_eq!(env.state(), before);
}

// ---------------------------------------------------------------------------
// Audit snapshots

#[test]
fn crafted_and_forged_snapshots_are_refused() {
    let env = Env::new();
    env.demo();
    env.cmd().args(["checkpoint", "--out", "cp.txt"]).assert().success();
    let key = auditor_key(&env);
    let verify = |cp: &str, key: &Path| {
        let mut c = env.cmd();
        c.args(["verify", "--since", cp, "--auditor-key"]).arg(key);
        c
    };
    let mut c = env.cmd();
    c.args(["verify", "--snapshot", "cp.txt", "--auditor-key"]).arg(&key).assert().success();
    let good = std::fs::read(env.path("cp.txt.state")).unwrap();
    verify("cp.txt", &key).assert().success();
    // The auditor's public key alone checks it (hex, as `key show` prints it).
    let pk = auditor_signing_key(&env).verifying_key().to_bytes();
    let mut c = env.cmd();
    c.args(["verify", "--since", "cp.txt", "--auditor-key", &hex::encode(pk)]).assert().success();

    let place = |name: &str, bytes: &[u8]| {
        std::fs::copy(env.path("cp.txt"), env.path(name)).unwrap();
        std::fs::write(env.path(&format!("{name}.state")), bytes).unwrap();
    };
    // A body whose frontier claims 2^29 items of 33 bytes (16 GiB) after a
    // valid origin, size, root and head.
    let mut body = Vec::new();
    let origin = std::fs::read_to_string(env.path("cp.txt")).unwrap().lines().next().unwrap().to_string();
    body.extend_from_slice(&(origin.len() as u64).to_be_bytes());
    body.extend_from_slice(origin.as_bytes());
    body.extend_from_slice(&49u64.to_be_bytes());
    body.extend_from_slice(&[0; 64]);
    body.extend_from_slice(&(1u64 << 29).to_be_bytes());
    // The issue's file: format 1 with a valid (unkeyed) checksum.
    let mut v1 = b"tinledger-audit-snapshot-v1\n".to_vec();
    v1.extend_from_slice(&body);
    let sum: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&v1).into();
    v1.extend_from_slice(&sum);
    place("v1.txt", &v1);
    let line = one_line_error(verify("v1.txt", &key), 2);
    assert!(line.contains("v1.txt.state: audit snapshot is of format 1, which is not signed"), "{line}");
    // The same body signed by the auditor: decoding is bounded, not an abort.
    let auditor = auditor_signing_key(&env);
    place("huge.txt", &signed_snapshot(&body, &auditor, &pk));
    let line = one_line_error(verify("huge.txt", &key), 2);
    assert!(line.contains("huge.txt.state: audit snapshot is malformed"), "{line}");
    // A forged rule state: one byte of the body changed, re-signed by someone
    // else's key but naming the auditor's.
    let thief = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let mut forged_body = good[28..good.len() - 96].to_vec();
    let last = forged_body.len() - 1;
    forged_body[last] ^= 1;
    place("forged.txt", &signed_snapshot(&forged_body, &thief, &pk));
    let line = one_line_error(verify("forged.txt", &key), 2);
    assert!(line.contains("forged.txt.state: audit snapshot is damaged or forged"), "{line}");
    // Another auditor's genuine snapshot.
    place("theirs.txt", &signed_snapshot(&good[28..good.len() - 96], &thief, &thief.verifying_key().to_bytes()));
    let line = one_line_error(verify("theirs.txt", &key), 2);
    assert!(line.contains("theirs.txt.state: audit snapshot was signed by auditor key"), "{line}");
}

// ---------------------------------------------------------------------------
// Strict JSON

#[test]
fn duplicate_members_are_refused_in_every_json_input() {
    let env = Env::new();
    env.demo();
    let before = env.state();
    let dup_row = r#"{"kind":"extract","lot":"KOB-DUP-1","material":"concentrate","mass":"1kg","mass":"900kg","grade":"60%","licence":"IUP-OP 540/112/KOBA/2019","location":"-2.4905,106.4075","at":"2026-04-01T00:00:00Z"}"#;
    std::fs::write(env.path("dup.jsonl"), format!("{dup_row}\n")).unwrap();
    let mut c = env.cmd();
    c.arg("import").arg(env.path("dup.jsonl")).arg("--key").arg(env.key("MINE-KOBA"));
    let err = fails_with(c, 2);
    assert!(err.contains("line 1: not a JSON object: duplicate member \"mass\""), "{err}");
    let mut c = env.bare();
    c.arg("sign-batch").arg(env.path("dup.jsonl")).arg("--key").arg(env.key("MINE-KOBA"));
    c.args(["--as", "MINE-KOBA", "--ledger-id", &ledger_id(&env), "--out", "dup.signed.jsonl"]);
    let err = fails_with(c, 2);
    assert!(err.contains("duplicate member \"mass\""), "{err}");

    // A signed event whose readable "event" names a member twice (the last,
    // matching the signed bytes, used to win): import and submit refuse it.
    sign_extract(&env, "KOB-DUP-2", &env.path("s.json")).assert().success();
    let signed: Value = serde_json::from_str(&std::fs::read_to_string(env.path("s.json")).unwrap()).unwrap();
    let line = serde_json::to_string(&signed).unwrap();
    let doubled = line.replacen("\"event\":{", "\"event\":{\"at\":\"2000-01-01T00:00:00Z\",", 1);
    assert_ne!(doubled, line);
    std::fs::write(env.path("dup.signed.jsonl"), format!("{doubled}\n")).unwrap();
    let err = fails_with(
        {
            let mut c = env.cmd();
            c.arg("import").arg(env.path("dup.signed.jsonl"));
            c
        },
        2,
    );
    assert!(err.contains("duplicate member \"at\""), "{err}");
    std::fs::write(env.path("dup.json"), &doubled).unwrap();
    let line = one_line_error(
        {
            let mut c = env.cmd();
            c.arg("submit").arg(env.path("dup.json"));
            c
        },
        2,
    );
    assert!(line.contains("duplicate member \"at\""), "{line}");
    assert_eq!(env.state(), before);

    // Proofs, certificates, export headers.
    env.cmd().args(["prove", "inclusion", "35", "--out", "p.json"]).assert().success();
    let p = std::fs::read_to_string(env.path("p.json")).unwrap();
    std::fs::write(env.path("p-dup.json"), p.replacen('{', "{\"seq\": 0,", 1)).unwrap();
    let mut c = env.bare();
    c.args(["check", "inclusion", "p-dup.json", "--authority-key"]).arg(auth_pub(&env));
    assert!(one_line_error(c, 2).contains("duplicate member \"seq\""));
    let cert = std::fs::read_to_string(env.path("demo/certificate.json")).unwrap();
    let at = cert.find("\"summary\": {").expect("summary");
    let mut dup = cert.clone();
    dup.insert_str(at + "\"summary\": {".len(), "\"flags\": [],");
    std::fs::write(env.path("c-dup.json"), dup).unwrap();
    let mut c = env.bare();
    c.args(["cert", "verify", "c-dup.json", "--authority-key"]).arg(auth_pub(&env));
    let err = fails_with(c, 1);
    assert!(err.contains("duplicate member \"flags\""), "{err}");
    env.cmd().args(["export", "--out", "l.tlx"]).assert().success();
    let l = std::fs::read_to_string(env.path("l.tlx")).unwrap();
    std::fs::write(env.path("l-dup.tlx"), l.replacen('{', "{\"entries\":1,", 1)).unwrap();
    let mut c = env.bare();
    c.args(["import-ledger", "l-dup.tlx", "--into", "copy", "--authority-key"]).arg(auth_pub(&env));
    assert!(one_line_error(c, 1).contains("line 1: not a tinledger export header: duplicate member \"entries\""));
    assert!(!env.path("copy").exists());
}

// ---------------------------------------------------------------------------
// The export reader

#[test]
fn the_export_reader_is_strict_and_checks_the_header_against_the_genesis() {
    let env = Env::new();
    env.demo();
    env.cmd().args(["export", "--out", "l.tlx"]).assert().success();
    let text = std::fs::read_to_string(env.path("l.tlx")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 50);
    let import = |file: &str| {
        let mut c = env.bare();
        c.args(["import-ledger", file, "--into", "copy", "--authority-key"]).arg(auth_pub(&env));
        c
    };
    let with = |f: &dyn Fn(&mut Vec<String>)| -> String {
        let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        f(&mut v);
        v.join("\n") + "\n"
    };
    let first_letter = lines[2].find(|c: char| c.is_ascii_lowercase()).unwrap() + 1;
    let upper = format!("line 3: column {first_letter}: upper-case hex digit");
    let cases: Vec<(&str, String, &str)> = vec![
        ("upper", with(&|v| v[2] = v[2].to_uppercase()), &upper),
        ("crlf", text.replace('\n', "\r\n"), "line 1: ends in a carriage return (CRLF)"),
        ("crlf-entry", with(&|v| v[4].push('\r')), "line 5: ends in a carriage return (CRLF)"),
        ("blank", with(&|v| v.insert(5, String::new())), "line 6: empty line"),
        ("trailing", with(&|v| v[3].push(' ')), "white space (export lines are hex digits only)"),
        ("header-space", with(&|v| v[0].push(' ')), "line 1: white space before or after the header"),
        ("truncated", text[..text.len() - 1].to_string(), "line 50: does not end in a newline"),
        ("extra", with(&|v| v.push(v[49].clone())), "line 51: more entries than the 49 the header says"),
        ("odd", with(&|v| v[7].push('0')), "line 8: an odd number of hex digits"),
    ];
    for (name, bytes, want) in cases {
        let file = format!("{name}.tlx");
        std::fs::write(env.path(&file), bytes).unwrap();
        let line = one_line_error(import(&file), 1);
        assert!(line.contains(&format!("{file}: ")) && line.contains(want), "{name}: expected {want:?} in {line}");
        assert!(!env.path("copy").exists(), "{name}");
    }

    // A header of another ledger, with a checkpoint the same authority signed
    // for that ledger over these very entries: refused at line 2, before
    // anything is written (it used to import, and fail its first verify).
    let cp = std::fs::read_to_string(env.path("demo/checkpoint.txt")).unwrap();
    let root = cp.lines().nth(2).unwrap();
    let other = "00112233445566778899aabbccddeeff";
    let origin = format!("tinledger/{other}");
    let note =
        NoteSigner::new(&origin, test_key("AUTH-BABEL")).unwrap().sign(&format!("{origin}\n49\n{root}\n")).unwrap();
    let mut header: Value = serde_json::from_str(lines[0]).unwrap();
    header["ledger_id"] = other.into();
    header["checkpoint"] = note.into();
    let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    v[0] = serde_json::to_string(&header).unwrap();
    std::fs::write(env.path("other.tlx"), v.join("\n") + "\n").unwrap();
    let line = one_line_error(import("other.tlx"), 1);
    assert!(
        line.contains(&format!(
            "line 2: the genesis entry is of ledger {}, but the header says ledger {other}",
            ledger_id(&env)
        )),
        "{line}"
    );
    assert!(!env.path("copy").exists());
    let leftovers: Vec<_> = std::fs::read_dir(env.tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("importing"))
        .collect();
    assert!(leftovers.is_empty());
    // The untouched export still imports.
    import("l.tlx").assert().success();
}
