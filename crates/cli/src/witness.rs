//! `tinledger witness serve|key` (docs/witness.md): resolve the flags, the
//! witness key and the trusted log keys, then hand them to `tinledger-witness`.

use crate::args::{Cli, WitnessCmd, WitnessServeArgs};
use crate::error::CliError;
use crate::keys;
use crate::serve::{listen_addr, secs};
use std::path::Path;
use tinledger_core::cosig::CosignatureSigner;
use tinledger_core::note::Verifier;
use tinledger_core::units::quoted;
use tinledger_core::witness::Witness;

pub fn run(cli: &Cli, c: &WitnessCmd) -> Result<(), CliError> {
    match c {
        WitnessCmd::Serve(a) => serve(a),
        WitnessCmd::Key { key, name, .. } => {
            let signer = signer(key, name)?;
            let vkey = signer.verifier().to_key_string();
            if cli.json {
                crate::output::emit_json(&serde_json::json!({"name": signer.name, "verifier_key": vkey}));
            } else {
                crate::output::emit(&vkey);
            }
            Ok(())
        }
    }
}

/// The witness's signer: its key file and `--name`.
fn signer(key: &Path, name: &str) -> Result<CosignatureSigner, CliError> {
    // The name first: a typo must not cost a passphrase prompt.
    tinledger_core::note::check_name(name).map_err(|_| {
        CliError::usage(format!("--name {}: a witness name must be non-empty, without spaces or '+'", quoted(name)))
            .hint("use a schema-less URL that identifies the witness, such as witness.example/w1")
    })?;
    let k = keys::load_signing_key(key)?;
    CosignatureSigner::new(name, k).map_err(|e| CliError::usage(e.to_string()))
}

fn serve(a: &WitnessServeArgs) -> Result<(), CliError> {
    let listen = listen_addr(&a.listen)?;
    let mut logs = Vec::with_capacity(a.logs.len());
    for s in &a.logs {
        let v = Verifier::parse(s).map_err(|e| {
            CliError::usage(format!("--log {}: {e}", quoted(s)))
                .hint("give a log's note verifier key name+hash+base64, as `tinledger checkpoint --log-verifier-key` prints it")
        })?;
        logs.push(v);
    }
    let cfg = tinledger_witness::Config {
        listen,
        state: a.state.clone(),
        max_connections: usize::try_from(a.max_connections).unwrap_or(usize::MAX),
        read_timeout: secs("read-timeout", a.timeouts.read_timeout)?,
        write_timeout: secs("write-timeout", a.timeouts.write_timeout)?,
    };
    let witness = Witness::new(signer(&a.key, &a.name)?, logs);
    tinledger_witness::serve(witness, cfg, |addr| {
        // Always printed (even with -q): scripts and tests read the port here.
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "listening on http://{addr}");
    })
    .map_err(|e| match e {
        tinledger_witness::WitnessError::State(tinledger_witness::store::StoreError::Corrupt { .. }) => {
            CliError::usage(e.to_string()).hint(
                "the witness refuses to start rather than forget what it cosigned; restore the file from the newest copy, never an older one (docs/witness.md)",
            )
        }
        tinledger_witness::WitnessError::State(tinledger_witness::store::StoreError::Locked(_)) => {
            CliError::usage(e.to_string()).hint("one witness process per state directory: stop the other one first")
        }
        _ => CliError::usage(e.to_string()),
    })
}
