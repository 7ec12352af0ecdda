//! The `tinledger` command: glue between typed arguments, the ledger and the
//! terminal. Exit codes: 0 success, 1 a check said no, 2 usage or I/O error.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod args;
mod build;
mod cert;
mod commands;
mod demo;
mod error;
mod keys;
mod output;
mod portable;
mod proofs;
mod render;

use args::{Cli, Command};
use clap::Parser;
use error::{CliError, EXIT_USAGE};
use std::process::ExitCode;

fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.cmd {
        Command::Keygen { out } => commands::keygen(cli, out),
        Command::Init(a) => commands::init(cli, a),
        Command::Actor(a) => commands::actor(cli, a),
        Command::Record { kind } => commands::record(cli, kind),
        Command::Sign { kind } => commands::sign(cli, kind),
        Command::Submit { files } => commands::submit(cli, files),
        Command::Show { seq } => commands::show(cli, *seq),
        Command::Log { from, to } => commands::log(cli, *from, *to),
        Command::Lot { id } => commands::lot(cli, id),
        Command::Verify { expect_head } => commands::verify(cli, expect_head),
        Command::Checkpoint { key, out, verifier_key } => {
            proofs::checkpoint(cli, key.as_deref(), out.as_deref(), *verifier_key)
        }
        Command::Prove(p) => proofs::prove(cli, p),
        Command::Check(c) => proofs::check(cli, c),
        Command::Cert(c) => cert::run(cli, c),
        Command::Reindex => commands::reindex(cli),
        Command::Export { out } => portable::export(cli, out),
        Command::ImportLedger { file, into, checkpoint, trust } => {
            portable::import(cli, file, into, checkpoint.as_deref(), trust)
        }
        Command::Demo { dir } => demo::demo(cli, dir),
    }
}

fn main() -> ExitCode {
    // Storage-engine panics on damaged files are caught and reported as
    // errors by the ledger crate; keep the default panic text off the screen.
    std::panic::set_hook(Box::new(|_| {}));
    let cli = Cli::parse();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&cli)));
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            if !e.msg.is_empty() {
                eprintln!("tinledger: {}", e.msg);
                if let Some(h) = &e.hint {
                    eprintln!("hint: {h}");
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
            eprintln!("tinledger: internal error: {msg} (please report this)");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
