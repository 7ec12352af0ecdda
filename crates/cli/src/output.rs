//! Printing: human text or one JSON object per command (docs/cli.md).

use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use tinledger_core::rules::{LotState, LotStatus};
use tinledger_core::{Entry, Event};

/// How much to say and whether to color it, from `-q`, `-v`, `--color`
/// and `NO_COLOR` (docs/cli.md §1.10). Set once by main.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mode {
    pub quiet: bool,
    pub verbose: bool,
    pub color: bool,
}

static MODE: OnceLock<Mode> = OnceLock::new();

/// Decide the mode for this run (called once, from main). `no_color` is
/// the value of `NO_COLOR`: any non-empty value turns `--color auto` off
/// (https://no-color.org); `--color always` and `never` win over it.
pub fn set_mode(cli: &crate::args::Cli, no_color: Option<std::ffi::OsString>) {
    let _ = MODE.set(Mode {
        quiet: cli.quiet,
        verbose: cli.verbose,
        color: color_on(cli.color, no_color.is_some_and(|v| !v.is_empty()), std::io::stdout().is_terminal()),
    });
}

/// `--color` resolved.
pub fn color_on(choice: crate::args::ColorChoice, no_color: bool, terminal: bool) -> bool {
    use crate::args::ColorChoice;
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color,
    }
}

/// This run's mode.
pub fn mode() -> Mode {
    MODE.get().copied().unwrap_or_default()
}

/// What a marker means, for its color.
#[derive(Clone, Copy, Debug)]
pub enum Paint {
    Good,
    Bad,
    Warn,
}

/// `word` in its color (bold green, bold red, yellow), or plain.
pub fn paint(p: Paint, word: &str) -> String {
    if !mode().color {
        return word.to_string();
    }
    let code = match p {
        Paint::Good => "1;32",
        Paint::Bad => "1;31",
        Paint::Warn => "33",
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

/// A progress bar template with its bar colored (cyan) when colors are on.
pub fn bar_template(tpl: &str) -> String {
    if mode().color {
        tpl.replace("{bar:40}", "{bar:40.cyan}").replace("{bar:25}", "{bar:25.cyan}")
    } else {
        tpl.to_string()
    }
}

/// Whether progress bars may be drawn: stderr is a terminal, not `--json`, not `-q`.
pub fn progress_on(json: bool) -> bool {
    !json && !mode().quiet && std::io::stderr().is_terminal()
}

/// A line of detail on stderr, only with `-v`.
pub fn detail(line: &str) {
    if mode().verbose {
        note(line);
    }
}

/// Write to stdout; a closed pipe (`tinledger log | head`) ends quietly
/// (exit 0), any other failure (`>/dev/full`, a closed stdout) ends with
/// exit 2 and one line on stderr (if stderr can take it). Never panics.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        note(&format!("tinledger: cannot write output: {e}"));
        std::process::exit(2);
    }
}

/// One line on stderr (progress, warnings; none with `-q`). A closed or
/// full stderr loses the line instead of panicking as `eprintln!` would.
pub fn note(line: &str) {
    if !mode().quiet {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// A command's confirmation on stdout ("recorded seq 12", "wrote FILE"):
/// none with `-q`.
pub fn done(line: &str) {
    if !mode().quiet {
        emit(line);
    }
}

/// Write raw bytes to stdout (completion scripts, manual pages); a closed
/// pipe ends quietly.
pub fn write_stdout(bytes: &[u8]) -> Result<(), crate::error::CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(crate::error::CliError::usage(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Width of a text column: the longest item, at least `min` (so the usual
/// layout stays put and long ids widen the column instead of breaking it).
pub fn col_width<'a>(min: usize, items: impl IntoIterator<Item = &'a str>) -> usize {
    items.into_iter().map(|s| s.chars().count()).fold(min, usize::max)
}

/// Set once a JSON object went to stdout: a command that reported its
/// failure as its own object (`import`'s row errors) gets no second one.
static JSON_EMITTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn emit_json(v: &Value) {
    JSON_EMITTED.store(true, std::sync::atomic::Ordering::Relaxed);
    emit(&v.to_string());
}

/// Whether this run already printed a JSON object on stdout.
pub fn json_emitted() -> bool {
    JSON_EMITTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// One line describing what an event does.
pub fn summary(ev: &Event) -> String {
    ev.describe()
}

pub fn entry_json(e: &Entry, ev: &Event) -> Value {
    serde_json::json!({
        "seq": e.seq,
        "hash": e.hash().to_hex(),
        "prev": hex::encode(e.prev),
        "leaf_hash": hex::encode(e.leaf_hash()),
        "kind": ev.body.kind(),
        "signer": ev.signer,
        "at": ev.at,
        "summary": summary(ev),
        "event": ev,
        "event_hex": hex::encode(&e.event),
        "signature": hex::encode(e.signature),
        "entry_hex": hex::encode(e.to_bytes()),
    })
}

/// `corrected_by` (an entry that was corrected) and `correction` (a
/// correction: the entry, old and new values) of a history item (docs/cli.md, `log`).
pub fn correction_fields(v: &mut serde_json::Value, corrections: &tinledger_core::correction::Corrections, seq: u64) {
    let by = corrections.corrected_by(seq);
    if !by.is_empty() {
        v["corrected_by"] = serde_json::json!(by);
    }
    if let Some(c) = corrections.change(seq) {
        v["correction"] = serde_json::to_value(c).unwrap_or_default();
    }
}

pub fn lot_status(l: &LotState) -> String {
    match &l.status {
        LotStatus::Active => format!("held by {}", l.custodian),
        LotStatus::InTransit { to, dispatched_seq, .. } => {
            format!("in transit from {} to {to} (dispatched at seq {dispatched_seq})", l.custodian)
        }
        LotStatus::Consumed { seq } => format!("fully consumed at seq {seq} (last custodian {})", l.custodian),
        LotStatus::Exported { seq, destination } => {
            format!("exported to {destination} at seq {seq} by {}", l.custodian)
        }
    }
}

/// This process's peak resident set size in bytes (Linux `VmHWM`), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// An output file being written (docs/cli.md §1.7): the bytes go to a
/// temporary file beside the target, `.NAME.tmp-XXXXXX`, and only
/// [`AtomicFile::commit`] makes them the target: fsync the file, rename it
/// into place (never over an existing file unless `replace`), fsync the
/// directory. Dropping it uncommitted (an error, a panic) removes the
/// temporary file. If the process is killed first, the target is absent (or
/// still the old file) and a stray temporary file may remain; it is never
/// taken for the output, and a rerun writes a fresh one.
///
/// The path `-` is standard output (docs/cli.md §1.8): the bytes are
/// written as they come and `commit` flushes them. A reader of the pipe
/// sees the output end early if the command fails; the exit code tells.
pub struct AtomicFile {
    path: std::path::PathBuf,
    written: u64,
    sink: Sink,
}

enum Sink {
    Temp { dir: std::path::PathBuf, replace: bool, w: std::io::BufWriter<tempfile::NamedTempFile> },
    Stdout(std::io::BufWriter<std::io::Stdout>),
}

impl AtomicFile {
    /// Start writing `path` (standard output for `-`). Everything that can
    /// be checked before the first byte is checked now: that `path` does not
    /// exist (unless `replace`), and that its directory exists and takes a
    /// new file.
    pub fn create(path: &std::path::Path, replace: bool) -> Result<AtomicFile, crate::error::CliError> {
        use crate::error::CliError;
        if crate::input::is_std(path) {
            return Ok(AtomicFile {
                path: path.to_path_buf(),
                written: 0,
                sink: Sink::Stdout(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout())),
            });
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        if !replace && std::fs::symlink_metadata(path).is_ok() {
            return Err(exists(path));
        }
        if path.file_name().is_none() || path.is_dir() {
            return Err(CliError::usage(format!("cannot write {}: it is a directory", path.display())));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!(".{name}.tmp-");
        let mut b = tempfile::Builder::new();
        b.prefix(&prefix);
        // Outputs are ordinary files (mode 0666 less the umask), not the
        // temporary file's private 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            b.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = b.tempfile_in(&dir).map_err(|e| CliError::usage(format!("cannot create {}: {e}", path.display())))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            written: 0,
            sink: Sink::Temp { dir, replace, w: std::io::BufWriter::with_capacity(1 << 16, tmp) },
        })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flush and fsync what was written so far (the target is not touched):
    /// a full disk shows here, before the caller commits to anything.
    /// Standard output is only flushed.
    pub fn sync(&mut self) -> std::io::Result<()> {
        match &mut self.sink {
            Sink::Temp { w, .. } => {
                w.flush()?;
                w.get_ref().as_file().sync_all()
            }
            Sink::Stdout(w) => w.flush(),
        }
    }

    /// The error for a failed write, naming the target.
    pub fn error(&self, e: std::io::Error) -> crate::error::CliError {
        crate::error::CliError::usage(format!("cannot write {}: {e}", out_name(&self.path)))
    }

    /// Make the written bytes the target, durably.
    pub fn commit(self) -> Result<(), crate::error::CliError> {
        use crate::error::CliError;
        let path = self.path;
        let fail = |e: std::io::Error| CliError::usage(format!("cannot write {}: {e}", out_name(&path)));
        let (dir, replace, w) = match self.sink {
            Sink::Temp { dir, replace, w } => (dir, replace, w),
            // A closed pipe (`… --out - | head`) is the reader's choice, not
            // an error of ours.
            Sink::Stdout(mut w) => {
                return match w.flush() {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(fail(e)),
                    _ => Ok(()),
                }
            }
        };
        let tmp = w.into_inner().map_err(|e| fail(e.into_error()))?;
        tmp.as_file().sync_all().map_err(fail)?;
        // Crash window: killed here, the target is absent (or the old file)
        // and the synced temporary file stays beside it.
        let persisted = if replace { tmp.persist(&path) } else { tmp.persist_noclobber(&path) };
        persisted.map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                exists(&path)
            } else {
                fail(e.error)
            }
        })?;
        // Crash window: killed here, the rename may not have reached the
        // disk; a power cut can then lose the target but never leaves part
        // of it. Syncing the directory closes the window before success.
        sync_dir(&dir).map_err(|e| CliError::usage(format!("cannot fsync directory {}: {e}", dir.display())))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = match &mut self.sink {
            Sink::Temp { w, .. } => w.write(buf)?,
            Sink::Stdout(w) => w.write(buf)?,
        };
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.sink {
            Sink::Temp { w, .. } => w.flush(),
            Sink::Stdout(w) => w.flush(),
        }
    }
}

/// How messages name an output: its path, or `standard output` for `-`.
pub fn out_name(path: &std::path::Path) -> String {
    if crate::input::is_std(path) {
        "standard output".into()
    } else {
        path.display().to_string()
    }
}

/// Where a command's own report goes when it also writes a file: stdout,
/// unless the file *is* stdout (`--out -`), where the report moves to
/// stderr so that the data stays clean.
pub fn report(out: &std::path::Path, line: &str) {
    if crate::input::is_std(out) {
        note(line);
    } else {
        done(line);
    }
}

/// [`report`] for a `--json` object.
pub fn report_json(out: &std::path::Path, v: &Value) {
    if crate::input::is_std(out) {
        let _ = writeln!(std::io::stderr().lock(), "{v}");
    } else {
        emit_json(v);
    }
}

fn exists(path: &std::path::Path) -> crate::error::CliError {
    crate::error::CliError::usage(format!("refusing to overwrite existing file {}", path.display()))
        .hint("choose another path, or move the old file away first")
}

/// fsync a directory, so that a rename in it is durable (a no-op where a
/// directory cannot be opened as a file).
pub fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if cfg!(unix) {
        std::fs::File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

/// Write `bytes` to `path` all at once through an [`AtomicFile`]: a crash
/// leaves the old file (or none) or the new one, never part of one.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8], replace: bool) -> Result<(), crate::error::CliError> {
    let mut f = AtomicFile::create(path, replace)?;
    f.write_all(bytes).map_err(|e| f.error(e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::color_on;
    use crate::args::ColorChoice;

    #[test]
    fn no_color_turns_auto_off_and_explicit_choices_win() {
        assert!(color_on(ColorChoice::Auto, false, true));
        assert!(!color_on(ColorChoice::Auto, true, true), "NO_COLOR set");
        assert!(!color_on(ColorChoice::Auto, false, false), "not a terminal");
        assert!(color_on(ColorChoice::Always, true, false));
        assert!(!color_on(ColorChoice::Never, false, true));
    }
}
