//! Opening a ledger when things go wrong around sled's own open
//! (docs/storage.md §5): a kill at every write of its snapshot swap
//! (strace's fault injection), a full disk (a small tmpfs), random SIGKILLs
//! of read-only commands on a ledger of 100,000 entries, sled's lock
//! reached around `LOCK`, an unwritable `db/db`, and a ledger on read-only
//! media. After each, the next command must work without manual steps, or
//! the command must fail with a one-line error that says what is wrong.
//!
//! Tests that mount a filesystem need root (CI runs as root); without it
//! they print that they are skipped and why.

use crate::crash::{create_ledger, extract, open_parent, XorShift};
use crate::util::*;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tinledger_core::SignedEvent;
use tinledger_ledger::{Ledger, LedgerError};

const LOCKED: &str = "in use by another tinledger process";

fn tl(ledger: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinledger"));
    c.env_remove("TINLEDGER_LEDGER").arg("--ledger").arg(ledger).stdin(Stdio::null());
    c
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?} (signal {:?})\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        out.status.signal(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run a command that must succeed. A moment of "in use" is retried: while
/// another test thread of this binary forks a process, the child holds a
/// copy of every descriptor of this process (a `Ledger` the test holds
/// briefly) until it execs.
fn must_succeed(mut make: impl FnMut() -> Command, ctx: &str) -> Output {
    let start = Instant::now();
    loop {
        let out = make().output().expect("run tinledger");
        if out.status.success() {
            return out;
        }
        let busy = String::from_utf8_lossy(&out.stderr).contains(LOCKED);
        assert!(busy && start.elapsed() < Duration::from_secs(30), "{ctx}: {}", text(&out));
    }
}

/// `verify --indices --json` must pass with `entries` entries.
fn verify_indices(ledger: &Path, entries: u64, ctx: &str) {
    let out = must_succeed(
        || {
            let mut c = tl(ledger);
            c.args(["verify", "--indices", "--json"]);
            c
        },
        ctx,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verify --json prints JSON");
    assert_eq!(v["ok"], true, "{ctx}: {v}");
    assert_eq!(v["indices_checked"], true, "{ctx}: {v}");
    assert_eq!(v["entries"], entries, "{ctx}: {v}");
}

/// Append one extract with the library, so that the next open has log
/// records newer than sled's snapshot and performs the snapshot swap.
fn append_one(ledger: &Path, n: &mut u64) -> u64 {
    let mut l = open_parent(ledger, "append between kills");
    *n += 1;
    l.append(&extract(&format!("SWAP-{n}"), *n)).expect("append");
    l.head().size
}

/// sled's unfinished snapshots in `db/`.
fn generating(ledger: &Path) -> Vec<String> {
    std::fs::read_dir(ledger.join("db"))
        .expect("list db/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("snap.") && n.ends_with(".generating"))
        .collect()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

fn skip_unless_root(test: &str, why: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("{test}: SKIPPED: needs root to {why} (CI runs as root)");
    true
}

/// A mount made by a test, unmounted when dropped (also when the test
/// fails), so the temporary directory can be removed.
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&std::ffi::OsStr]) {
        let out = Command::new("mount").args(args).output().expect("mount is installed");
        assert!(out.status.success(), "mount {args:?}: {}", text(&out));
    }
    /// A tmpfs of `size` (e.g. "4m") at `at`.
    fn tmpfs(at: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let opts = format!("size={size}");
        Self::run(&["-t".as_ref(), "tmpfs".as_ref(), "-o".as_ref(), opts.as_ref(), "tmpfs".as_ref(), at.as_os_str()]);
        Mount(at.to_path_buf())
    }
    /// `from` (a file or directory) seen read-only at `at`.
    fn read_only(from: &Path, at: &Path) -> Mount {
        Self::run(&["--bind".as_ref(), from.as_os_str(), at.as_os_str()]);
        let m = Mount(at.to_path_buf());
        Self::run(&["-o".as_ref(), "remount,ro,bind".as_ref(), at.as_os_str()]);
        m
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Every file under `dir` with its bytes, to show nothing changed.
/// Every file under `dir` and its bytes, except `LOCK`: the lock holder's
/// PID in it is advisory (docs/storage.md §3) and is rewritten by every
/// process that takes the lock, readers included.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "LOCK") {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A temporary directory holding `ledger/`: genesis and one registration.
fn small_ledger() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    create_ledger(&ledger);
    (tmp, ledger)
}

/// Build a ledger of exactly `n` entries (genesis, one registration, then
/// extracts of distinct lots) with the library: signed on all cores,
/// appended in durable batches of 10,000.
fn build_ledger(dir: &Path, n: u64) {
    use rayon::prelude::*;
    create_ledger(dir);
    let mut l = Ledger::open(dir).unwrap();
    let mut next = l.head().size;
    while next < n {
        let upto = (next + 10_000).min(n);
        let evs: Vec<SignedEvent> = (next..upto).into_par_iter().map(|i| extract(&format!("L{i}"), i)).collect();
        l.append_batch(&evs).unwrap();
        next = upto;
    }
    assert_eq!(l.head().size, n);
}

/// Whether strace killed the command (strace re-raises the tracee's signal).
fn killed(out: &Output) -> bool {
    out.status.signal() == Some(9) || out.status.code() == Some(128 + 9)
}

/// Syscalls that change files, of which a read-only command's open may use
/// some: sled's snapshot swap (write, fsync, rename, unlink), the tail of its
/// log it zeroes (pwrite64, fsync), `blobs/` (mkdir), tinledger's fsyncs.
const WRITE_LIKE: [&str; 19] = [
    "write",
    "writev",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "rename",
    "renameat",
    "renameat2",
    "unlink",
    "unlinkat",
    "ftruncate",
    "fallocate",
    "mkdir",
    "mkdirat",
    "link",
    "linkat",
];

/// The write-like syscalls `args` makes on `ledger`, from `strace -f -c`.
fn write_syscalls(ledger: &Path, args: &[&str], summary: &Path) -> Vec<&'static str> {
    let mut c = Command::new("strace");
    c.args(["-f", "-c", "-o"]).arg(summary).arg("--").arg(env!("CARGO_BIN_EXE_tinledger"));
    c.arg("--ledger").arg(ledger).args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = c.output().expect("strace is installed (apt-get install strace)");
    assert!(out.status.success(), "strace -c {args:?}: {}", text(&out));
    let table = std::fs::read_to_string(summary).unwrap();
    let used: Vec<&str> = table.lines().filter_map(|l| l.split_whitespace().last()).collect();
    WRITE_LIKE.into_iter().filter(|s| used.contains(s)).collect()
}

/// (a) A read-only command killed (strace `inject=SYSCALL:signal=KILL:when=N`)
/// at each write-like syscall of its open, N = 1, 2, … until it completes,
/// each time right after an append so that the open does sled's snapshot
/// swap. After every kill a normal open works; `verify --indices` passes
/// every 10 kills and at the end. Before the fix, a kill at any of the
/// snapshot's writes left `snap.*.generating` and nothing opened again.
#[test]
fn open_survives_a_kill_at_every_write_of_the_snapshot_swap() {
    const MAX_N: u64 = 200;
    let started = Instant::now();
    let (tmp, ledger) = small_ledger();
    let mut n = 0u64;
    let mut size = append_one(&ledger, &mut n);
    let (mut kills, mut left_unfinished) = (0u64, 0u64);
    let mut swept = Vec::new();
    for cmd in [&["show", "1"][..], &["verify", "--json"]] {
        size = append_one(&ledger, &mut n);
        let syscalls = write_syscalls(&ledger, cmd, &tmp.path().join("summary.txt"));
        for must in ["write", "fsync", "rename", "unlink"] {
            assert!(syscalls.contains(&must), "{cmd:?}'s open after an append should {must}: {syscalls:?}");
        }
        for syscall in syscalls {
            let mut at = 1;
            loop {
                assert!(at <= MAX_N, "{cmd:?} still killed at {syscall} #{MAX_N}");
                size = append_one(&ledger, &mut n);
                let inject = format!("inject={syscall}:signal=KILL:when={at}");
                let out = Command::new("strace")
                    .args(["-f", "-qq", "-o", "/dev/null", "-e"])
                    .arg(format!("trace={syscall}"))
                    .args(["-e", &inject, "--"])
                    .arg(env!("CARGO_BIN_EXE_tinledger"))
                    .arg("--ledger")
                    .arg(&ledger)
                    .args(cmd)
                    .stdin(Stdio::null())
                    .output()
                    .expect("strace is installed (apt-get install strace)");
                let ctx = format!("{cmd:?} killed at {syscall} #{at}");
                if out.status.success() {
                    swept.push(format!("{} {syscall}: {}", cmd[0], at - 1));
                    break;
                }
                if !killed(&out) {
                    // Only a moment of "in use" (a forked child of another
                    // test thread) may stop it otherwise: try N again.
                    assert!(String::from_utf8_lossy(&out.stderr).contains(LOCKED), "{ctx}: {}", text(&out));
                    continue;
                }
                kills += 1;
                left_unfinished += u64::from(!generating(&ledger).is_empty());
                // The next open, of any command, works without help.
                must_succeed(
                    || {
                        let mut c = tl(&ledger);
                        c.args(["show", "0"]);
                        c
                    },
                    &format!("show after {ctx}"),
                );
                assert!(generating(&ledger).is_empty(), "{ctx}: the next open settled the snapshot");
                if kills % 10 == 0 {
                    verify_indices(&ledger, size, &ctx);
                }
                at += 1;
            }
        }
    }
    verify_indices(&ledger, size, "after every kill");
    eprintln!("kill points per syscall: {swept:?}; {kills} kills, {left_unfinished} left an unfinished snapshot");
    assert!(left_unfinished >= 2, "the kills hit the snapshot swap ({left_unfinished} of {kills})");
    assert!(started.elapsed() < Duration::from_secs(300), "took {:?}", started.elapsed());
}

/// (b) No space left at the open (writing sled's snapshot): a one-line I/O
/// error naming the ledger and the OS error, exit 2 (also from `verify`:
/// not "damaged storage"), nothing left behind; once the space is freed
/// the next open works. First injected with strace (ENOSPC at each of the
/// snapshot's three writes, after the lock's PID), then on a real full filesystem (root only).
#[test]
fn a_full_disk_at_open_is_an_io_error_and_the_next_open_works() {
    let (tmp, ledger) = small_ledger();
    let mut n = 0u64;
    // Write #1 is the lock holder's PID into LOCK (best effort: a failure
    // there is ignored, docs/storage.md §3); the snapshot's writes follow.
    for at in 2..=4 {
        let size = append_one(&ledger, &mut n);
        let out = Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=write", "-e"])
            .arg(format!("inject=write:error=ENOSPC:when={at}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_tinledger"))
            .arg("--ledger")
            .arg(&ledger)
            .args(["verify", "--json"])
            .stdin(Stdio::null())
            .output()
            .expect("strace is installed (apt-get install strace)");
        check_disk_full(&ledger, &out, &format!("ENOSPC at write #{at}"));
        verify_indices(&ledger, size, &format!("after ENOSPC at write #{at}"));
    }

    if skip_unless_root("a_full_disk_at_open_is_an_io_error_and_the_next_open_works", "mount a small tmpfs") {
        return;
    }
    let fs = tmp.path().join("small");
    let _mount = Mount::tmpfs(&fs, "4m");
    let ledger = fs.join("ledger");
    create_ledger(&ledger);
    let size = append_one(&ledger, &mut n);
    // Fill the filesystem.
    let filler = fs.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 << 10];
        let mut written = 0u64;
        while f.write_all(&chunk).and_then(|_| f.flush()).is_ok() {
            written += chunk.len() as u64;
            assert!(written < 8 << 20, "a 4 MiB filesystem does not fill");
        }
        let mut left = chunk.len();
        while left > 0 && f.write_all(&chunk[..left]).is_err() {
            left /= 2;
        }
        assert!(left == 0 || f.write_all(&[0]).is_err());
    }
    let before = contents(&ledger);
    for cmd in [&["verify", "--json"][..], &["show", "1"], &["log"]] {
        let out = tl(&ledger).args(cmd).output().unwrap();
        check_disk_full(&ledger, &out, &format!("{cmd:?} on a full disk"));
    }
    assert_eq!(contents(&ledger), before, "a failed open changes nothing");
    // A writer on the full disk fails the same way.
    match Ledger::open(&ledger) {
        Err(LedgerError::Io { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::StorageFull),
        other => panic!("open on a full disk: {:?}", other.map(|l| l.head())),
    }
    std::fs::remove_file(&filler).unwrap();
    verify_indices(&ledger, size, "after freeing space");
}

/// Nothing on stdout but, with `--json`, the error object (issue #11:
/// docs/cli.md §1.9): never an audit report.
fn no_report(out: &Output, ctx: &str) {
    if out.stdout.is_empty() {
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(v["error"]["exit"], 2, "{ctx}: {}", text(out));
    assert!(v.get("ok").is_none(), "{ctx}: {}", text(out));
}

/// A failed open on a full disk: exit 2, one line naming the ledger and
/// "No space left on device", a hint, no panic, no unfinished snapshot.
fn check_disk_full(ledger: &Path, out: &Output, ctx: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{ctx}: {}", text(out));
    no_report(out, ctx);
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with(&format!("tinledger: cannot open ledger {}", ledger.display())), "{ctx}: {err}");
    assert!(first.contains("No space left on device"), "{ctx}: {err}");
    assert!(err.lines().nth(1).is_some_and(|h| h.starts_with("hint: free space")), "{ctx}: {err}");
    assert_eq!(err.lines().count(), 2, "{ctx}: {err}");
    assert!(generating(ledger).is_empty(), "{ctx}: the partial snapshot was removed");
}

/// (c) 100 SIGKILLs at random points of read-only commands on a ledger of
/// 100,000 entries, each followed by an append (so the next open does the
/// snapshot swap again, and the append's own open must work), and every
/// few rounds a read by the binary. Finally `verify --indices` passes.
#[test]
fn random_kills_of_read_only_commands_on_a_large_ledger_need_no_repair() {
    const ENTRIES: u64 = 100_000;
    const ROUNDS: u64 = 100;
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let ledger = tmp.path().join("ledger");
    build_ledger(&ledger, ENTRIES);
    eprintln!("built {ENTRIES} entries in {:?}", started.elapsed());
    let mut rng = XorShift::from_env(0x5707_a6e5);
    let built = started.elapsed();
    let mut n = 0u64;
    let mut size = append_one(&ledger, &mut n);
    // How long a command takes here (the open, mostly): the kills fall in
    // that window, so most of them land inside an open.
    let t = Instant::now();
    must_succeed(
        || {
            let mut c = tl(&ledger);
            c.args(["show", "0"]);
            c
        },
        "first open",
    );
    let window = (t.elapsed().as_millis() as u64).clamp(50, 2_000);
    let (mut before_exit, mut left_unfinished) = (0u64, 0u64);
    for round in 0..ROUNDS {
        let seq = rng.below(size).to_string();
        let lot = format!("L{}", 2 + rng.below(ENTRIES - 2));
        let cmd: Vec<&str> = match rng.below(6) {
            0 => vec!["show", &seq],
            1 => vec!["lot", &lot],
            2 => vec!["log", "--from", &seq],
            3 => vec!["actor", "list"],
            4 => vec!["verify"],
            _ => vec!["verify", "--json"],
        };
        let mut child = tl(&ledger).args(&cmd).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(window)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        before_exit += u64::from(status.signal() == Some(9));
        left_unfinished += u64::from(!generating(&ledger).is_empty());
        size = append_one(&ledger, &mut n);
        if round % 10 == 9 {
            must_succeed(
                || {
                    let mut c = tl(&ledger);
                    c.args(["show", &seq]);
                    c
                },
                &format!("round {round}: show after killing {cmd:?}"),
            );
        }
    }
    eprintln!(
        "{ROUNDS} rounds (kills within {window} ms): {before_exit} commands killed before they finished, \
         {left_unfinished} left an unfinished snapshot, in {:?}",
        started.elapsed() - built
    );
    assert!(before_exit >= ROUNDS / 2, "most kills land before the command ends ({before_exit})");
    verify_indices(&ledger, size, "after 100 kills");
    assert!(started.elapsed() < Duration::from_secs(600), "took {:?}", started.elapsed());
}

/// sled's lock on `db/db` held by a process that reached it without
/// `LOCK` (LOCK deleted while held; `db` through a symlink): the command
/// waits for it (5 s) and then reports the ledger as in use, not sled's
/// raw "could not acquire lock … WouldBlock".
#[test]
fn sleds_own_lock_held_around_lock_reports_the_ledger_in_use() {
    let (tmp, ledger) = small_ledger();
    let alias = tmp.path().join("alias");
    std::fs::create_dir(&alias).unwrap();
    std::os::unix::fs::symlink(ledger.join("db"), alias.join("db")).unwrap();

    let held = open_parent(&ledger, "holder");
    std::fs::remove_file(ledger.join("LOCK")).unwrap();
    let t = Instant::now();
    // Both at once: each waits for the lock.
    let children: Vec<(&str, std::process::Child)> = [("LOCK deleted", &ledger), ("db through a symlink", &alias)]
        .into_iter()
        .map(|(what, dir)| {
            let child = tl(dir).args(["show", "0"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
            (what, child)
        })
        .collect();
    for (what, child) in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out));
        assert!(err.contains(LOCKED), "{what}: {err}");
        assert!(!err.contains("could not acquire lock") && !err.contains("WouldBlock"), "{what}: {err}");
        assert_eq!(err.lines().count(), 2, "{what}: one line and a hint: {err}");
    }
    let waited = t.elapsed();
    assert!(waited >= Duration::from_secs(5) && waited < Duration::from_secs(60), "waited {waited:?}");
    drop(held);
    // Released: both paths open again.
    let size = open_parent(&ledger, "after the holder").head().size;
    for dir in [&alias, &ledger] {
        verify_indices(dir, size, "after the holder released sled's lock");
    }
}

/// `db/db` cannot be written (a read-only bind mount over it as root, mode
/// 0444 otherwise): `verify` reports an I/O error naming the file and the
/// OS error, exit 2, not damaged storage. Real damage stays exit 1.
#[test]
fn an_unwritable_db_file_is_an_io_error_and_real_damage_a_fault() {
    let (_tmp, ledger) = small_ledger();
    let mut n = 0u64;
    let size = append_one(&ledger, &mut n);
    let db = ledger.join("db/db");
    {
        let _guard = if is_root() {
            Some(Mount::read_only(&db, &db))
        } else {
            std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
            None
        };
        for cmd in [&["verify"][..], &["verify", "--json"], &["show", "0"]] {
            let out = tl(&ledger).args(cmd).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd:?}: {}", text(&out));
            no_report(&out, &format!("{cmd:?}: no audit report"));
            let first = err.lines().next().unwrap_or_default();
            assert!(first.contains(&format!("{}: ", db.display())), "{cmd:?} names db/db: {err}");
            assert!(
                first.contains("Read-only file system (os error 30)")
                    || first.contains("Permission denied (os error 13)"),
                "{cmd:?}: {err}"
            );
            assert!(!err.contains("damaged"), "{cmd:?}: {err}");
        }
        if !is_root() {
            std::fs::set_permissions(&db, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        }
    }
    verify_indices(&ledger, size, "writable again");

    // A snapshot sled completed and renamed, then damaged: real corruption.
    damage_sled_snapshot(&ledger);
    let out = tl(&ledger).args(["verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report");
    let reason = v["fault"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("storage files are damaged"), "{v}");
}

/// A ledger on read-only media (a read-only bind mount; `chmod -R a-w`
/// without root): every command, readers and writers, refuses with one
/// line naming the file and the OS error and a hint saying to copy the
/// ledger to writable storage; nothing changes; the copy the hint suggests
/// verifies.
#[test]
fn a_ledger_on_read_only_media_is_refused_with_what_to_do() {
    let env = Env::new();
    env.demo();
    let src = env.ledger();
    let ro = env.path("ro");
    let before = contents(&src);
    {
        let _guard = if is_root() {
            std::fs::create_dir(&ro).unwrap();
            Some(Mount::read_only(&src, &ro))
        } else {
            copy_dir(&src, &ro);
            chmod_tree(&ro, false);
            None
        };
        let key = |k: &str| env.key(k).display().to_string();
        let mine = key("MINE-KOBA");
        let auth = key("AUTH-BABEL");
        let cases: [Vec<&str>; 10] = [
            vec!["verify"],
            vec!["verify", "--indices", "--json"],
            vec!["show", "3"],
            vec!["log"],
            vec!["lot", "KOB-2026-0001"],
            vec!["actor", "list"],
            vec!["prove", "inclusion", "3"],
            vec!["export", "--out", "export.txt"],
            vec![
                "record",
                "extract",
                "--key",
                &mine,
                "--lot",
                "KOB-RO-1",
                "--mass",
                "1t",
                "--grade",
                "60%",
                "--licence",
                "IUP-OP 540/112/KOBA/2019",
                "--location=-2.49,106.41",
            ],
            vec!["checkpoint", "--key", &auth],
        ];
        for args in cases {
            let out = tl(&ro).args(&args).current_dir(env.path("")).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
            let mut lines = err.lines();
            let first = lines.next().unwrap_or_default();
            let want = format!("tinledger: ledger {} is not writable: {}: ", ro.display(), ro.join("LOCK").display());
            assert!(first.starts_with(&want), "{args:?}: {err}");
            assert!(first.ends_with("(os error 30)") || first.ends_with("(os error 13)"), "{args:?}: {err}");
            let hint = lines.next().unwrap_or_default();
            assert!(
                hint.starts_with("hint: ") && hint.contains(&format!("cp -a {} COPY", ro.display())),
                "{args:?}: {err}"
            );
            assert!(lines.next().is_none(), "{args:?}: {err}");
        }
        // The copy the hint suggests works.
        let copy = env.path("copy");
        let st = Command::new("cp").arg("-a").arg(&ro).arg(&copy).status().unwrap();
        assert!(st.success());
        if !is_root() {
            chmod_tree(&copy, true);
        }
        verify_indices(&copy, 49, "the copy of a read-only ledger");
        if !is_root() {
            chmod_tree(&ro, true);
        }
    }
    assert_eq!(contents(&src), before, "nothing changed");
}

/// Remove (or give back) the write permission of everything under `dir`.
fn chmod_tree(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            chmod_tree(&p, writable);
        }
    }
    let set = |p: &Path| {
        let m = std::fs::metadata(p).unwrap().permissions().mode();
        let m = if writable { m | 0o200 } else { m & !0o222 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if !p.is_dir() {
            set(&p);
        }
    }
    set(dir);
}

/// A durable append syncs what docs/storage.md §4.1 lists, in that order:
/// the first append of a process fsyncs every file and directory under
/// `db/` (it cannot know what an earlier process left unsynced); after it,
/// an append that creates no file issues one fdatasync of the log `db/db`
/// and no other fsync under `db/`. `demo` appends its events one at a time
/// in one process, each durable, then stores a checkpoint (synced too).
#[test]
fn durable_appends_fdatasync_only_the_log() {
    let env = Env::new();
    let trace = env.path("sync.trace");
    let out = Command::new("strace")
        .args(["-f", "-y", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_tinledger"))
        .arg("demo")
        .arg("--dir")
        .arg(env.path("demo"))
        .stdin(Stdio::null())
        .output()
        .expect("strace is installed (apt-get install strace)");
    assert!(out.status.success(), "strace demo: {}", text(&out));
    let db = std::fs::canonicalize(env.ledger().join("db")).unwrap();
    let db = db.to_str().unwrap();
    // (call, path relative to db/) of every sync of db/ or a file under it, in order.
    let syncs: Vec<(String, String)> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let call = l.split_whitespace().nth(1)?.split('(').next()?;
            let path = l.split_once('<')?.1.split_once('>')?.0;
            let rel = path.strip_prefix(db)?;
            Some((call.to_string(), rel.trim_start_matches('/').to_string()))
        })
        .collect();
    let show = format!("{syncs:#?}");
    let first = syncs.iter().position(|(c, _)| c == "fdatasync").unwrap_or_else(|| panic!("no fdatasync: {show}"));
    // Creation and the genesis append: everything, files before db/ itself.
    let full = &syncs[..first];
    for want in ["db", "conf", "blobs"] {
        assert!(full.iter().any(|(c, p)| c == "fsync" && p == want), "no fsync of db/{want} at creation: {show}");
    }
    assert_eq!(full.last().map(|(c, p)| (c.as_str(), p.as_str())), Some(("fsync", "")), "db/ last: {show}");
    // Then one fdatasync of the log per durable append, and nothing else
    // (but sled's own fsync of its log when the database is closed).
    let mut rest = &syncs[first..];
    if rest.last().is_some_and(|(c, p)| c == "fsync" && p == "db") {
        rest = &rest[..rest.len() - 1];
    }
    assert!(rest.iter().all(|(c, p)| c == "fdatasync" && p == "db"), "{show}");
    let entries = env.verify_json()["entries"].as_u64().unwrap();
    assert!(entries > 40, "demo ledger of {entries} entries");
    // Every append after the genesis, and the checkpoint.
    assert_eq!(rest.len() as u64, entries, "{show}");
}
