//! `tinledger serve` (docs/server.md): resolve the flags, the ledger and
//! the log key, then hand them to `tinledger-server`.

use crate::args::{Cli, ServeArgs};
use crate::error::CliError;
use crate::keys;
use std::net::SocketAddr;
use std::time::Duration;
use tinledger_core::checkpoint::origin_for;
use tinledger_core::event::PublicKey;
use tinledger_core::note::NoteSigner;
use tinledger_core::policy::Policy;
use tinledger_server::witnesses::WitnessSet;
use tinledger_server::Config;

pub(crate) fn secs(flag: &str, v: f64) -> Result<Duration, CliError> {
    if !v.is_finite() || !(0.001..=86_400.0).contains(&v) {
        return Err(CliError::usage(format!("--{flag} {v} is out of range: give 0.001 to 86400 seconds")));
    }
    Ok(Duration::from_secs_f64(v))
}

/// The witnesses of the policy file at `path` (read bounded: policies are
/// at most 1 MiB).
fn witness_set(path: &std::path::Path, timeout: Duration) -> Result<WitnessSet, CliError> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| CliError::usage(format!("--witnesses {}: cannot read it: {e}", path.display())))?;
    let mut src = Vec::new();
    f.take(1 << 20 | 1)
        .read_to_end(&mut src)
        .map_err(|e| CliError::usage(format!("--witnesses {}: cannot read it: {e}", path.display())))?;
    let policy = Policy::parse(&src).map_err(|e| CliError::usage(format!("--witnesses {}: {e}", path.display())))?;
    let log: tinledger_server::witnesses::Log = std::sync::Arc::new(|m: &str| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "{m}");
    });
    WitnessSet::from_policy(&policy, timeout, log)
        .map_err(|e| CliError::usage(format!("--witnesses {}: {e}", path.display())))
}

/// `--listen ADDR`: an IP address and port.
pub(crate) fn listen_addr(s: &str) -> Result<SocketAddr, CliError> {
    s.parse().map_err(|_| {
        CliError::usage(format!("--listen {}: not an address and port", tinledger_core::units::quoted(s)))
            .hint("for example --listen 127.0.0.1:8080 (port 0: any free port)")
    })
}

pub fn serve(cli: &Cli, a: &ServeArgs) -> Result<(), CliError> {
    let listen = listen_addr(&a.listen)?;
    let cfg = Config {
        listen,
        read_only: a.read_only,
        batch_size: usize::try_from(a.batch_size).unwrap_or(usize::MAX),
        batch_wait: Duration::from_millis(a.batch_wait_ms),
        checkpoint_interval: secs("checkpoint-interval", a.checkpoint_interval)?,
        max_body: usize::try_from(a.max_body).unwrap_or(usize::MAX),
        max_connections: usize::try_from(a.max_connections).unwrap_or(usize::MAX),
        queue: usize::try_from(a.queue).unwrap_or(usize::MAX),
        read_timeout: secs("read-timeout", a.timeouts.read_timeout)?,
        write_timeout: secs("write-timeout", a.timeouts.write_timeout)?,
        witnesses: match &a.witnesses {
            None => None,
            Some(p) => Some(std::sync::Arc::new(witness_set(p, secs("witness-timeout", a.witness_timeout)?)?)),
        },
    };
    // The key first: a wrong passphrase must not hold the ledger's lock.
    let key = match (&a.log_key, a.read_only) {
        (Some(p), false) => Some((p, keys::load_signing_key(p)?)),
        _ => None,
    };
    let l = crate::open::ledger(cli)?;
    let signer = match key {
        None => None,
        Some((path, key)) => {
            let info = l.info().ok_or_else(|| CliError::refused("ledger has no genesis entry"))?;
            let pk = PublicKey::from(&key);
            // The authority binds the log key (docs/server.md §5): a server
            // signing with any other key would serve checkpoints nobody
            // can check, so it does not start.
            if l.log_key() != Some(pk) {
                let bound = match l.log_key() {
                    Some(b) => format!("the bound log key is key id {}", b.key_id()),
                    None => "no log key is bound to it".to_string(),
                };
                return Err(CliError::refused(format!(
                    "{} (key id {}) is not this ledger's log key: {bound}",
                    path.display(),
                    pk.key_id()
                ))
                .hint(format!(
                    "with the server stopped, the authority binds it: tinledger --ledger {} record bind-log-key --key AUTHORITY.pem --public-key {}",
                    cli.ledger.display(),
                    pk.to_hex()
                )));
            }
            let ledger_id = info.ledger_id;
            Some(NoteSigner::new(&origin_for(&ledger_id), key).map_err(|e| CliError::usage(e.to_string()))?)
        }
    };
    tinledger_server::serve(l, signer, cfg, |addr| {
        // Always printed (even with -q): scripts and tests read the port here.
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "listening on http://{addr}");
    })
    .map_err(|e| CliError::usage(e.to_string()))
}
