//! The `tinledger` command: glue between typed arguments, the ledger and the
//! terminal. Exit codes: 0 success, 1 a check said no, 2 usage or I/O error.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod args;
mod bench;
mod build;
mod bulk;
mod cert;
mod commands;
mod demo;
mod error;
mod input;
mod keycmd;
mod keys;
mod migrate;
mod mirror;
mod monitor;
mod open;
mod output;
mod policyfile;
mod portable;
mod proofs;
mod publish;
mod queries;
mod remote;
mod remote_cmds;
mod remote_read;
mod serve;
mod shell;
mod splitview;
mod suggest;
mod tlogproof;
mod verify;
mod witness;

use args::{Cli, Command, KeyCmd};
use clap::{CommandFactory, FromArgMatches};
use error::{CliError, EXIT_USAGE};
use std::io::Write;
use std::process::ExitCode;
use tinledger_core::units::clip;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn run(cli: &Cli) -> Result<(), CliError> {
    if let Some(url) = cli.server.as_deref() {
        if let Some(r) = run_remote(cli, url) {
            return r;
        }
    }
    match &cli.cmd {
        Command::Keygen { out, encrypt, .. } => keycmd::keygen(cli, out, *encrypt),
        Command::Key(KeyCmd::Show { key, .. }) => keycmd::show(cli, key),
        Command::Init(a) => commands::init(cli, a),
        Command::Actor(a) => commands::actor(cli, a),
        Command::Record { kind } => match cli.server.as_deref() {
            Some(url) => remote::record(cli, kind, url),
            None => commands::record(cli, kind),
        },
        Command::Sign { kind } => commands::sign(cli, kind),
        Command::Submit { files } => match cli.server.as_deref() {
            Some(url) => remote::submit(cli, files, url),
            None => commands::submit(cli, files),
        },
        Command::Serve(a) => serve::serve(cli, a),
        Command::Witness(w) => witness::run(cli, w),
        Command::SignBatch(a) => bulk::sign_batch(cli, a),
        Command::Import(a) => bulk::import(cli, a),
        Command::Show { seq } => commands::show(cli, *seq),
        Command::Log(a) => queries::log(cli, a),
        Command::Lot(a) => queries::lot(cli, a),
        Command::Report(r) => queries::report(cli, r),
        Command::Verify(v) => verify::verify(cli, v),
        Command::Checkpoint { key, out, verifier_key, log_verifier_key, .. } => {
            proofs::checkpoint(cli, key.as_deref(), out.as_deref(), *verifier_key, *log_verifier_key)
        }
        Command::Prove(p) => proofs::prove(cli, p),
        Command::Check(c) => proofs::check(cli, c),
        Command::Cert(c) => cert::run(cli, c),
        Command::Publish { out } => publish::publish(cli, out),
        Command::Mirror { url, into, authority_key, policy } => {
            mirror::mirror(cli, url, into, authority_key, policy.policy.as_deref())
        }
        Command::Monitor(a) => monitor::monitor(cli, a),
        Command::Reindex => commands::reindex(cli),
        Command::Migrate => migrate::migrate(cli),
        Command::Export { out } => portable::export(cli, out),
        Command::ImportLedger { file, into, checkpoint, trust } => {
            portable::import(cli, file, into, checkpoint.as_deref(), trust)
        }
        Command::Demo { dir } => demo::demo(cli, dir),
        Command::Bench { events, dir, keep } => bench::bench(cli, *events, dir.as_deref(), *keep),
        Command::Completions { shell } => shell::completions(*shell),
        Command::Man { out } => shell::man(cli, out.as_deref()),
    }
}

/// The read commands that take `--server URL` (docs/server.md);
/// `None` for a command that does not read a served log.
fn run_remote(cli: &Cli, url: &str) -> Option<Result<(), CliError>> {
    use args::ProveCmd;
    Some(match &cli.cmd {
        Command::Show { seq } => remote_cmds::show(cli, url, *seq),
        Command::Log(a) => remote_cmds::log(cli, url, a),
        Command::Lot(a) if a.cmd.is_none() && !a.tree => {
            remote_cmds::lot(cli, url, a.id.as_deref().unwrap_or_default())
        }
        Command::Prove(ProveCmd::Inclusion { seq, checkpoint: None, out, tlog_proof: None }) => {
            remote_cmds::prove_inclusion(cli, url, *seq, out.as_deref())
        }
        Command::Prove(ProveCmd::Consistency { old, new: None, out }) => {
            remote_cmds::prove_consistency(cli, url, old, out.as_deref())
        }
        Command::Verify(v) => remote_cmds::verify(cli, url, v),
        // Commands that read or change a local ledger only: --server would
        // be silently ignored, so it is refused.
        Command::Lot(_)
        | Command::Prove(_)
        | Command::Report(_)
        | Command::Checkpoint { .. }
        | Command::Export { .. }
        | Command::Publish { .. }
        | Command::Reindex
        | Command::Migrate
        | Command::Sign { .. }
        | Command::Import(_)
        | Command::Actor(_)
        | Command::Serve(_)
        | Command::Witness(_)
        | Command::Mirror { .. }
        | Command::Init(_)
        | Command::ImportLedger { .. } => Err(CliError::usage(
            "--server is not supported here: it is for show, log, lot ID, prove inclusion SEQ, prove consistency --old CP, verify, cert issue, record, submit and sign-batch",
        )
        .hint("these forms read a local ledger (--ledger DIR); mirror the served log first: tinledger mirror URL --into DIR")),
        _ => return None,
    })
}

/// Longest error message printed (bytes): values quoted in messages are
/// capped where they are quoted (`units::quoted`); this also bounds text
/// that reaches a message through a library's own error.
const MAX_MESSAGE: usize = 4096;

/// One line on stderr. If stderr is closed or full the line is lost, but
/// never with a panic: the exit code still tells what happened.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Print clap's help, version or argument error. Help and version go to
/// stdout: a closed pipe there is not an error, any other failure to write
/// them is (exit 2).
fn clap_exit(e: clap::Error) -> ExitCode {
    match e.print() {
        Err(w) if !e.use_stderr() && w.kind() != std::io::ErrorKind::BrokenPipe => {
            say(&format!("tinledger: cannot write output: {w}"));
            ExitCode::from(EXIT_USAGE)
        }
        _ => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_USAGE)),
    }
}

/// `--passphrase-env VAR` before the command, or after a command that
/// reads a key (the innermost one wins).
fn passphrase_env(m: &clap::ArgMatches) -> Option<String> {
    let mut found = None;
    let mut cur = Some(m);
    while let Some(m) = cur {
        if let Ok(Some(v)) = m.try_get_one::<String>("passphrase_env") {
            found = Some(v.clone());
        }
        cur = m.subcommand().map(|(_, sub)| sub);
    }
    found
}

/// The `--json` form of an error (docs/cli.md §1.9).
fn error_json(e: &CliError) -> serde_json::Value {
    let code = if e.code == error::EXIT_REFUSED { "refused" } else { "usage" };
    serde_json::json!({"error": {
        "code": code,
        "exit": e.code,
        "message": clip(&e.msg, MAX_MESSAGE),
        "hint": e.hint.as_deref().map(|h| clip(h, MAX_MESSAGE)),
    }})
}

fn main() -> ExitCode {
    // Storage-engine panics on damaged files are caught and reported as
    // errors by the ledger crate; keep the default panic text off the screen.
    std::panic::set_hook(Box::new(|_| {}));
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_exit(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(e.format(&mut Cli::command())),
    };
    keys::set_passphrase_env(passphrase_env(&matches));
    output::set_mode(&cli, std::env::var_os("NO_COLOR"));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some(Err(e)) = commands::test_now() {
            return Err(e);
        }
        run(&cli)
    }));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            // docs/cli.md §1.9: with --json every error is also one object
            // on stdout (same exit code); stderr keeps the human lines. An
            // empty message, or a JSON report already printed (`import`'s
            // row errors), means the command reported it itself.
            if cli.json && !e.msg.is_empty() && !output::json_emitted() {
                // Not `emit`: a closed stdout must not change the exit code.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", error_json(&e)).and_then(|_| out.flush());
            }
            if !e.msg.is_empty() {
                say(&format!("tinledger: {}", clip(&e.msg, MAX_MESSAGE)));
                if let Some(h) = &e.hint {
                    say(&format!("hint: {}", clip(h, MAX_MESSAGE)));
                }
            }
            ExitCode::from(e.code)
        }
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            say(&format!("tinledger: internal error: {} (please report this)", clip(msg, MAX_MESSAGE)));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
