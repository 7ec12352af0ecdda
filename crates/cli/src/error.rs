//! One error type for the CLI, carrying its exit code, and the one place
//! where every library crate's typed error becomes an exit code.

use std::fmt;
use tinledger_formats::export::ExportError;
use tinledger_formats::proof::ProofError;
use tinledger_formats::FormatError;
use tinledger_ledger::LedgerError;
use tinledger_synth::SynthError;

/// Exit codes (docs/cli.md).
pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub msg: String,
    pub hint: Option<String>,
}

impl CliError {
    /// Bad usage, unreadable file, I/O failure: exit 2.
    pub fn usage(msg: impl Into<String>) -> Self {
        CliError { code: EXIT_USAGE, msg: msg.into(), hint: None }
    }
    /// A check said no: exit 1.
    pub fn refused(msg: impl Into<String>) -> Self {
        CliError { code: EXIT_REFUSED, msg: msg.into(), hint: None }
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    /// The same error with the file's name before the message
    /// (`FILE: line 3: …`), for format errors that name only the line.
    pub fn in_file(mut self, file: &std::path::Path) -> Self {
        self.msg = format!("{}: {}", file.display(), self.msg);
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

/// The hint of an event the rules refused: what to do, where the message
/// does not say it already.
fn refused_hint(e: &tinledger_core::RuleError) -> &'static str {
    use tinledger_core::RuleError::*;
    match e {
        TimeOrder { .. } => {
            "the ledger is unchanged; give --at the time the event really happened, at or after that entry's time"
        }
        FutureTime { .. } => {
            "the ledger is unchanged; check --at (an event is recorded once it has happened) and this machine's clock"
        }
        _ => "the ledger is unchanged",
    }
}

impl From<LedgerError> for CliError {
    fn from(e: LedgerError) -> Self {
        match &e {
            LedgerError::Refused { source, .. } => CliError::refused(format!("refused: {e}")).hint(refused_hint(source)),
            LedgerError::TooLarge { .. } => CliError::refused(format!("refused: {e}"))
                .hint("the ledger is unchanged; a stored entry is at most 65535 bytes (docs/formats.md §5.3)"),
            LedgerError::Corrupt { seq: None, .. } | LedgerError::Storage(_) => {
                CliError::refused(e.to_string()).hint(DAMAGED_HINT)
            }
            LedgerError::Corrupt { .. } => CliError::refused(e.to_string()),
            LedgerError::Locked { .. } => CliError::usage(e.to_string()).hint(
                "the ledger is unchanged: run the command again when the other one has finished, or wait longer with --wait SECONDS",
            ),
            LedgerError::NotFound(dir) => not_found(&e, dir),
            LedgerError::OldFormat { dir, .. } => CliError::usage(e.to_string()).hint(format!(
                "convert it once with `tinledger --ledger {} migrate` (the old data is kept as a backup); nothing was changed",
                dir.display()
            )),
            LedgerError::AlreadyCurrent { .. } => {
                CliError::usage(e.to_string()).hint("nothing to migrate; the ledger is unchanged")
            }
            LedgerError::BackupExists(_) => CliError::usage(e.to_string()).hint(
                "it is an earlier migration's backup: move it away (or delete it once the migrated ledger verifies), then run migrate again",
            ),
            LedgerError::Exists(_) => CliError::usage(e.to_string()).hint("choose another --ledger directory"),
            LedgerError::NotWritable { dir, .. } => CliError::usage(e.to_string()).hint(format!(
                "tinledger's storage engine must write to open a ledger, even to read it: copy it to writable \
                 storage (cp -a {} COPY) and run the command with --ledger COPY; nothing was changed",
                dir.display()
            )),
            LedgerError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                CliError::usage(e.to_string())
                    .hint("free space on the filesystem that holds the ledger, then run the command again")
            }
            _ => CliError::usage(e.to_string()),
        }
    }
}

/// What to do about damaged storage files (docs/storage.md §7).
pub const DAMAGED_HINT: &str = "nothing was changed; copy the ledger directory (cp -a DIR COPY) and run \
`tinledger --ledger COPY verify` on the copy, then restore from your latest export: \
tinledger import-ledger EXPORT.tlx --into NEWDIR --authority-key KEY";

/// No ledger at `dir`: say whether the directory exists at all, point at a
/// similarly named ledger beside it (a typo in --ledger), and phrase `init`
/// as what it is: the creation of a NEW, empty ledger.
fn not_found(e: &LedgerError, dir: &std::path::Path) -> CliError {
    let why = tinledger_ledger::explain_missing(dir);
    let msg = if why.dir_exists {
        format!("{e}: {} holds no tinledger ledger", dir.display())
    } else {
        format!("{e}: the directory does not exist")
    };
    let create =
        format!("to create a NEW, empty ledger there: tinledger --ledger {} init --authority-key KEY", dir.display());
    let hint = match why.similar {
        Some(p) => format!("did you mean --ledger {}? ({create})", p.display()),
        None => format!("pass --ledger DIR (or set TINLEDGER_LEDGER) to use an existing ledger; {create}"),
    };
    CliError::usage(msg).hint(hint)
}

impl From<FormatError> for CliError {
    fn from(e: FormatError) -> Self {
        match e {
            FormatError::Invalid { msg, hint } => CliError { code: EXIT_USAGE, msg, hint },
            FormatError::Refused { msg, hint } => CliError { code: EXIT_REFUSED, msg, hint },
        }
    }
}

/// Every refusal of an export file is exit 1: the file is readable but not
/// an export of a ledger that can be rebuilt.
impl From<ExportError> for CliError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::ForeignGenesis { .. } => CliError::refused(e.to_string()).hint("nothing was imported"),
            e => CliError::refused(e.to_string()),
        }
    }
}

/// A file that is not a proof file of the kind expected is exit 2; a proof
/// file whose contents do not check out, exit 1.
impl From<ProofError> for CliError {
    fn from(e: ProofError) -> Self {
        if e.is_invalid() {
            CliError::usage(e.to_string())
        } else {
            CliError::refused(e.to_string())
        }
    }
}

impl From<SynthError> for CliError {
    fn from(e: SynthError) -> Self {
        match e {
            SynthError::Ledger(e) => e.into(),
            SynthError::Refused(msg) => CliError::refused(msg),
            SynthError::Dir { msg, hint } => CliError::usage(msg).hint(hint),
            e => CliError::usage(e.to_string()),
        }
    }
}

/// Shorthand for `map_err(CliError::usage)` on string errors.
pub trait UsageExt<T> {
    fn usage(self) -> Result<T, CliError>;
}
impl<T> UsageExt<T> for Result<T, String> {
    fn usage(self) -> Result<T, CliError> {
        self.map_err(CliError::usage)
    }
}
