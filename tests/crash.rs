//! Crash safety under SIGKILL, with the real storage (sled on the real disk).
//!
//! The parent test builds a ledger with the library, drops it (releasing the
//! directory lock), then starts a child process: this very test binary
//! (`std::env::current_exe()`) running one hidden, `#[ignore]`d test
//! (`crash::child_*`) that opens the ledger and appends. The child prints a
//! line for every append that returned `Ok`; the parent kills it with SIGKILL
//! at a random point, then opens the ledger (must succeed), audits it (must
//! pass) and checks every acknowledged append is there, with the acknowledged
//! hash. The next round starts from the killed state.
//!
//! What this does NOT test: power loss or a kernel crash. SIGKILL ends the
//! process, but everything it handed to the kernel (the page cache) survives
//! and reaches the disk later, whether or not it was fsynced. So these tests
//! prove that sled's on-disk state is consistent and recoverable at every
//! point where the *process* can die (atomicity of the append transaction,
//! recovery on open, the head check), and that nothing is acknowledged before
//! it is written; they cannot prove that the fsyncs of docs/storage.md §4 are
//! sufficient for durability across a power failure.
//!
//! Environment: `TINLEDGER_CRASH_SEED` overrides the random seed (printed on
//! every run, so a failure can be replayed).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use tinledger_core::event::{ActorAttrs, ActorRecord, PublicKey};
use tinledger_core::ids::LedgerId;
use tinledger_core::testkeys::test_key;
use tinledger_core::units::{GeoPoint, Material, Role, Timestamp};
use tinledger_core::{ActorId, Event, EventBody, LotId, SignedEvent};
use tinledger_ledger::{AuditOptions, Ledger, LedgerError};

const ENV_DIR: &str = "TINLEDGER_CRASH_DIR";
const ENV_TAG: &str = "TINLEDGER_CRASH_TAG";
const ENV_COUNT: &str = "TINLEDGER_CRASH_COUNT";
const AUTH: &str = "AUTH-CRASH";
const MINE: &str = "MINE-CRASH";
const IUP: &str = "IUP-OP 1/CRASH/2026";
const LEDGER_ID: LedgerId = LedgerId([0x5c; 16]);
/// Single appends per stream round are capped so a lost parent cannot leave
/// a child running for long.
const STREAM_CAP: u64 = 2_000;

/// Seeded xorshift64: no new dependencies, reproducible runs.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn from_env(default: u64) -> XorShift {
        let seed = std::env::var("TINLEDGER_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
        eprintln!("crash test seed {seed} (set TINLEDGER_CRASH_SEED to replay)");
        XorShift(seed.max(1))
    }
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn event(signer: &str, at: i64, body: EventBody) -> SignedEvent {
    Event { ledger_id: LEDGER_ID, signer: ActorId::new(signer).unwrap(), at: Timestamp(at), note: None, body }
        .sign(&key_of(signer))
        .unwrap()
}

/// [`test_key`], derived once per label: deriving a key costs as much as
/// signing, and the large ledgers of tests/storage.rs sign 100,000 events.
fn key_of(label: &str) -> ed25519_dalek::SigningKey {
    static KEYS: std::sync::Mutex<BTreeMap<String, ed25519_dalek::SigningKey>> = std::sync::Mutex::new(BTreeMap::new());
    let mut keys = KEYS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    keys.entry(label.to_string()).or_insert_with(|| test_key(label)).clone()
}

/// A new ledger in `dir`: genesis by AUTH, then MINE registered.
pub(crate) fn create_ledger(dir: &Path) {
    let genesis = event(
        AUTH,
        1_775_000_000,
        EventBody::Genesis {
            ledger_name: "crash test".into(),
            authority: ActorId::new(AUTH).unwrap(),
            authority_name: "Crash authority".into(),
            authority_key: PublicKey::from(&test_key(AUTH)),
        },
    );
    let (mut l, _) = Ledger::create(dir, &genesis).unwrap();
    let reg = event(
        AUTH,
        1_775_000_001,
        EventBody::RegisterActor {
            actor: ActorRecord {
                id: ActorId::new(MINE).unwrap(),
                name: "Crash mine".into(),
                roles: vec![Role::Mine],
                key: PublicKey::from(&test_key(MINE)),
                attrs: ActorAttrs { iup: Some(IUP.into()), ..ActorAttrs::default() },
            },
        },
    );
    l.append(&reg).unwrap();
}

pub(crate) fn extract(lot: &str, n: u64) -> SignedEvent {
    event(
        MINE,
        1_775_000_100 + (n % 1_000_000) as i64,
        EventBody::Extract {
            lot: LotId::new(lot).unwrap(),
            material: Material::Concentrate,
            mass_g: 1_000 + n,
            grade_ppm: Some(700_000),
            licence: IUP.into(),
            location: GeoPoint { lat_micro: -2_490_000, lon_micro: 106_410_000 },
        },
    )
}

/// Open in a child: the parent has dropped its `Ledger`, and the previous
/// child was killed and reaped, so the lock should be free at once; retry
/// briefly anyway (and report it) in case a lock is released late.
fn open_retrying(dir: &Path) -> (Ledger, u32) {
    let start = Instant::now();
    let mut retries = 0;
    loop {
        match Ledger::open(dir) {
            Ok(l) => return (l, retries),
            Err(e @ (LedgerError::Locked { .. } | LedgerError::Storage(_) | LedgerError::Io { .. }))
                if start.elapsed() < Duration::from_secs(10) =>
            {
                if retries == 0 {
                    eprintln!("child: open failed, retrying: {e}");
                }
                retries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("child: cannot open {}: {e}", dir.display()),
        }
    }
}

/// Print one protocol line. libtest has already written
/// `test crash::child_... ` without a newline, so the first line starts
/// with a newline; the parent also looks for the keyword anywhere.
fn say(out: &mut std::io::StdoutLock<'_>, line: &str) -> bool {
    writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
}

/// The protocol message in a line of child output (from `word` on), if any.
fn message<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    line.find(word).map(|i| &line[i..])
}

/// Child of [`stream_of_single_appends_survives_sigkill`]: appends extracts
/// one at a time, printing `acked <seq> <hash>` after each `Ok`.
#[test]
#[ignore = "child process of crash::stream_of_single_appends_survives_sigkill"]
fn child_append_stream() {
    let Some(dir) = std::env::var_os(ENV_DIR).map(PathBuf::from) else { return };
    let (mut l, retries) = open_retrying(&dir);
    let mut out = std::io::stdout().lock();
    if !say(&mut out, &format!("\nopened {} {retries}", l.head().size)) {
        return;
    }
    for _ in 0..STREAM_CAP {
        let n = l.head().size;
        let r = l.append(&extract(&format!("CRASH-{n}"), n)).unwrap();
        if !say(&mut out, &format!("acked {} {}", r.seq, r.hash)) {
            return;
        }
    }
}

/// Child of [`batch_append_is_all_or_nothing_under_sigkill`]: one
/// `append_batch` of `TINLEDGER_CRASH_COUNT` extracts of lots `B<tag>-<i>`.
#[test]
#[ignore = "child process of crash::batch_append_is_all_or_nothing_under_sigkill"]
fn child_append_batch() {
    let Some(dir) = std::env::var_os(ENV_DIR).map(PathBuf::from) else { return };
    let tag = std::env::var(ENV_TAG).unwrap();
    let count: u64 = std::env::var(ENV_COUNT).unwrap().parse().unwrap();
    let (mut l, retries) = open_retrying(&dir);
    let evs: Vec<SignedEvent> = (0..count).map(|i| extract(&format!("B{tag}-{i}"), i)).collect();
    let mut out = std::io::stdout().lock();
    if !say(&mut out, &format!("\nstart {} {retries}", l.head().size)) {
        return;
    }
    let rs = l.append_batch(&evs).unwrap();
    let last = rs.last().unwrap();
    say(&mut out, &format!("acked {} {} {}", rs[0].seq, last.seq, last.hash));
}

fn spawn_child(test: &str, dir: &Path, envs: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut c = Command::new(exe);
    c.args(["--ignored", "--exact", test, "--nocapture", "--test-threads=1"])
        .env(ENV_DIR, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.spawn().expect("spawn child test process")
}

/// SIGKILL (what `Child::kill` sends on Unix), reap, and return the rest of
/// stdout (lines printed before death still count as acknowledgements) and
/// all of stderr.
fn kill_and_drain(mut child: Child, lines: &mut std::io::Lines<BufReader<ChildStdout>>) -> (Vec<String>, String) {
    // The child may have finished on its own (batch); kill then fails harmlessly.
    let _ = child.kill();
    child.wait().expect("wait for child");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (rest, err)
}

fn lot_exists(l: &Ledger, lot: &str) -> bool {
    use tinledger_core::rules::StateView;
    l.view().lot(&LotId::new(lot).unwrap()).unwrap().is_some()
}

/// After every kill: open must succeed, the audit must pass (also against
/// the last acknowledged head), and every acknowledged entry must be present
/// with exactly the acknowledged hash.
fn check_after_kill(dir: &Path, acked: &BTreeMap<u64, String>, round: usize, ctx: &str) -> Ledger {
    let l = open_parent(dir, &format!("round {round}: {ctx}"));
    let expect = acked.iter().next_back().map(|(s, h)| (*s, h.parse().unwrap()));
    let rep = l.audit(&AuditOptions { expect, indices: true });
    assert!(rep.ok, "round {round}: audit after SIGKILL failed: {:?}\n{ctx}", rep.fault);
    for (seq, hash) in acked {
        let got = l.get(*seq).unwrap().map(|e| e.hash().to_hex());
        assert_eq!(
            got.as_deref(),
            Some(hash.as_str()),
            "round {round}: acknowledged entry {seq} lost or changed\n{ctx}"
        );
    }
    l
}

/// Open in the parent. A `Locked` right after the child was reaped or the
/// parent dropped its own `Ledger` is possible when another test thread of
/// this binary is spawning a process at that moment: the forked process
/// holds a copy of the LOCK file descriptor (and so the `flock`) until it
/// execs, even though the descriptor is close-on-exec. Retry briefly.
pub(crate) fn open_parent(dir: &Path, ctx: &str) -> Ledger {
    let start = Instant::now();
    loop {
        match Ledger::open(dir) {
            Err(LedgerError::Locked { .. }) if start.elapsed() < Duration::from_secs(10) => {
                PARENT_LOCK_RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
            r => return r.unwrap_or_else(|e| panic!("open after SIGKILL failed: {e}\n{ctx}")),
        }
    }
}

static PARENT_LOCK_RETRIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One line of a stream child: collect `acked` lines, count open retries.
fn stream_line(line: &str, acks: &mut Vec<String>, open_retries: &mut u64) {
    if let Some(m) = message(line, "acked ") {
        acks.push(m.to_string());
    } else if let Some(m) = message(line, "opened ") {
        *open_retries += m.split(' ').nth(2).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
    }
}

/// (a) A stream of single appends, killed 25 times at random points.
#[test]
fn stream_of_single_appends_survives_sigkill() {
    const ROUNDS: usize = 25;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    create_ledger(&dir);
    let mut rng = XorShift::from_env(0x7157_c0de_2026);
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let (mut unacked_present, mut open_retries, mut early_kills) = (0u64, 0u64, 0u64);
    let started = Instant::now();
    for round in 0..ROUNDS {
        let size_before = open_parent(&dir, "").head().size; // dropped at once: lock released
        let child = spawn_child("crash::child_append_stream", &dir, &[]);
        let mut child = child;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut round_acks: Vec<String> = Vec::new();
        let mode = rng.below(5);
        let plan;
        if mode == 0 {
            // Kill at a random moment after spawning: often while the child
            // is still starting, opening or recovering sled, or mid-append.
            let ms = rng.below(60);
            plan = format!("kill {ms} ms after spawn");
            std::thread::sleep(Duration::from_millis(ms));
        } else {
            let target = 1 + rng.below(12) as usize;
            let us = rng.below(15_000);
            plan = format!("kill {us} us after ack #{target}");
            while round_acks.len() < target {
                match lines.next() {
                    Some(Ok(line)) => stream_line(&line, &mut round_acks, &mut open_retries),
                    _ => {
                        let (_, err) = kill_and_drain(child, &mut lines);
                        panic!("round {round}: child ended before {target} acks; stderr:\n{err}");
                    }
                }
            }
            std::thread::sleep(Duration::from_micros(us));
        }
        let (rest, err) = kill_and_drain(child, &mut lines);
        for line in rest {
            stream_line(&line, &mut round_acks, &mut open_retries);
        }
        assert!(!err.contains("panicked"), "round {round}: child panicked before the kill:\n{err}");
        if round_acks.is_empty() {
            early_kills += 1;
        }
        let mut max_acked = None;
        for line in &round_acks {
            let mut f = line.split(' ').skip(1);
            let seq: u64 = f.next().unwrap().parse().unwrap();
            let hash = f.next().unwrap().to_string();
            assert!(seq >= size_before, "round {round}: acked seq {seq} below the starting head {size_before}");
            assert!(acked.insert(seq, hash).is_none(), "round {round}: seq {seq} acknowledged twice");
            max_acked = Some(seq);
        }
        let ctx = format!("plan: {plan}; acks this round: {}; child stderr:\n{err}", round_acks.len());
        let l = check_after_kill(&dir, &acked, round, &ctx);
        let size = l.head().size;
        let expected_min = max_acked.map_or(size_before, |s| s + 1);
        assert!(size >= expected_min, "round {round}: head {size} is behind the acknowledged {expected_min}\n{ctx}");
        // A kill between sled's write and the ack leaves one unacknowledged
        // entry: allowed. More than one would mean appends ran ahead of acks.
        assert!(size <= expected_min + 1, "round {round}: {} unacknowledged entries\n{ctx}", size - expected_min);
        if size > expected_min {
            unacked_present += 1;
            assert!(lot_exists(&l, &format!("CRASH-{}", size - 1)));
        }
        drop(l);
    }
    let l = open_parent(&dir, "");
    eprintln!(
        "stream: {ROUNDS} kills in {:.1?}; {} acknowledged appends, all present; {unacked_present} rounds left an \
         unacknowledged entry; {early_kills} rounds killed before any ack; {open_retries} child open retries; {} parent open retries (all tests); final size {}",
        started.elapsed(),
        acked.len(),
        PARENT_LOCK_RETRIES.load(std::sync::atomic::Ordering::Relaxed),
        l.head().size
    );
}

/// Total size of the files under `dir` (sled's files under `db/`).
fn disk_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// When to kill a batch child, counted from its `start` line (printed
/// after it opened the ledger and signed the batch, just before
/// `append_batch`).
#[derive(Clone, Copy, Debug)]
enum Kill {
    Never,
    /// A fixed delay: anywhere in the run, mostly while the rules check.
    After(Duration),
    /// This long after sled's files first grow: the transaction's log
    /// records are reaching the file, so the kill lands while the batch is
    /// partly written, or during the flush and fsyncs that follow.
    AfterGrowth(Duration),
    /// This long after sled's files have grown by at least this many bytes:
    /// set near what the whole batch wrote in the calibration run (sled
    /// grows its files in 512 KiB segments, then the flush writes the
    /// rest; lot names differ in length between rounds), this lands
    /// after sled's flush wrote the last of the batch, during the syncs
    /// before the acknowledgement.
    AfterBytes(u64, Duration),
}

/// What one batch round saw.
struct BatchRun {
    /// `start` to ack (uninterrupted runs), else to the kill.
    took: Duration,
    /// `start` to the first growth of sled's files, if seen.
    grew: Option<Duration>,
    /// How much sled's files had grown when the child died.
    grown_bytes: u64,
    all: bool,
    acked: bool,
}

/// Run one batch child on the ledger in `dir`, kill it as `kill` says, then
/// check the ledger: it opens, audits clean, and holds all of the batch or
/// none of it (all of it if acknowledged).
fn batch_round(dir: &Path, n: u64, tag: &str, kill: Kill) -> BatchRun {
    let size_before = open_parent(dir, "").head().size;
    let db = dir.join("db");
    let mut child =
        spawn_child("crash::child_append_batch", dir, &[(ENV_TAG, tag.to_string()), (ENV_COUNT, n.to_string())]);
    // Read stdout on a thread so the parent can poll the disk meanwhile.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut start_line, mut ack, mut grew, mut deadline) = (None, None, None, None);
    let mut t0 = Instant::now();
    let mut base = 0;
    loop {
        match rx.try_recv() {
            Ok(line) => {
                if let Some(m) = message(&line, "start ") {
                    start_line = Some(m.to_string());
                    t0 = Instant::now();
                    base = disk_bytes(&db);
                    if let Kill::After(d) = kill {
                        deadline = Some(t0 + d);
                    }
                } else if let Some(m) = message(&line, "acked ") {
                    ack = Some(m.to_string());
                    break;
                }
                continue;
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
        }
        if start_line.is_some() {
            let now = disk_bytes(&db);
            if grew.is_none() && now != base {
                grew = Some(t0.elapsed());
                if let Kill::AfterGrowth(d) = kill {
                    deadline = Some(Instant::now() + d);
                }
            }
            if let Kill::AfterBytes(b, d) = kill {
                if deadline.is_none() && now.saturating_sub(base) >= b {
                    deadline = Some(Instant::now() + d);
                }
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let took = t0.elapsed();
    let _ = child.kill(); // SIGKILL; harmless if the child already exited
    child.wait().expect("wait for child");
    let grown_bytes = disk_bytes(&db).saturating_sub(base);
    reader.join().unwrap();
    // Lines printed before death still count.
    if ack.is_none() {
        ack = rx.try_iter().find_map(|l| message(&l, "acked ").map(str::to_string));
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(!err.contains("panicked"), "{tag}: batch child panicked:\n{err}");
    let Some(start_line) = start_line else {
        panic!("{tag}: batch child ended before starting; stderr:\n{err}");
    };
    let stored_size: u64 = start_line.split(' ').nth(1).unwrap().parse().unwrap();
    assert_eq!(stored_size, size_before, "{tag}: child saw another head");
    let mut acked = BTreeMap::new();
    if let Some(a) = &ack {
        let f: Vec<&str> = a.split(' ').collect();
        let (first, last): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        assert_eq!((first, last), (size_before, size_before + n - 1), "{tag}: {a}");
        acked.insert(last, f[3].to_string());
    }
    let ctx = format!(
        "{tag}: kill {kill:?}; files grew after {grew:?}, by {grown_bytes} bytes at death; acked: {ack:?}; child \
         stderr:\n{err}"
    );
    let l = check_after_kill(dir, &acked, 0, &ctx);
    let size = l.head().size;
    let present = (0..n).filter(|i| lot_exists(&l, &format!("B{tag}-{i}"))).count() as u64;
    let all = size == size_before + n && present == n;
    let none = size == size_before && present == 0;
    assert!(all || none, "partial batch: head {size_before} -> {size}, {present} of {n} lots\n{ctx}");
    assert!(ack.is_none() || all, "acknowledged batch missing\n{ctx}");
    BatchRun { took, grew, grown_bytes, all, acked: ack.is_some() }
}

/// (b) One `append_batch` of a few thousand events, killed at random points:
/// afterwards the ledger verifies and holds all of the batch or none of it.
/// Each round works on a fresh copy of the same small ledger, so that every
/// round has the timing the calibration run measured.
#[test]
fn batch_append_is_all_or_nothing_under_sigkill() {
    const ROUNDS: usize = 9;
    const N: u64 = 2_000;
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("template");
    create_ledger(&template);
    let fresh = |name: &str| {
        let d = tmp.path().join(name);
        crate::util::copy_dir(&template, &d);
        d
    };
    let mut rng = XorShift::from_env(0xba7c_2026);
    let started = Instant::now();

    // One uninterrupted batch, to learn its timing.
    let cal = batch_round(&fresh("cal"), N, "cal", Kill::Never);
    assert!(cal.all && cal.acked, "the uninterrupted batch must land and be acknowledged");
    let full_us = cal.took.as_micros() as u64;
    let grew_us = cal.grew.map_or(full_us / 2, |g| g.as_micros() as u64);
    let window_us = full_us.saturating_sub(grew_us).max(1_000);
    let (mut n_all, mut n_none, mut n_all_unacked) = (0, 0, 0);
    let mut lines = Vec::new();
    for round in 1..=ROUNDS {
        let kill = match round % 3 {
            0 => Kill::After(Duration::from_micros(rng.below(full_us * 6 / 5))),
            1 => Kill::AfterGrowth(Duration::from_micros(rng.below(window_us * 6 / 5))),
            _ => Kill::AfterBytes(cal.grown_bytes * 95 / 100, Duration::from_micros(rng.below(1_500))),
        };
        let tag = format!("r{round}");
        let r = batch_round(&fresh(&tag), N, &tag, kill);
        let outcome = match (r.all, r.acked) {
            (true, true) => {
                n_all += 1;
                "all, acked"
            }
            (true, false) => {
                n_all_unacked += 1;
                "all, unacked"
            }
            (false, _) => {
                n_none += 1;
                "none"
            }
        };
        lines.push(format!(
            "{kill:?} -> {outcome} (files grew at {:?}, by {} bytes when killed)",
            r.grew, r.grown_bytes
        ));
    }
    eprintln!(
        "batch of {N}: uninterrupted run {:.1?}, sled files first grew at {:?}, by {} bytes in all; {ROUNDS} kills: \
         {n_none} left none, {n_all_unacked} left all without an ack, {n_all} finished before the kill; {} parent \
         open retries (all tests); total {:.1?}\n  {}",
        cal.took,
        cal.grew,
        cal.grown_bytes,
        PARENT_LOCK_RETRIES.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed(),
        lines.join("\n  ")
    );
}
