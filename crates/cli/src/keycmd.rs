//! `keygen` and `key show`: make keys, and say what a key file holds and
//! whom the ledger knows it as (docs/cli.md, docs/keys.md).

use crate::args::Cli;
use crate::error::CliError;
use crate::keys;
use crate::output::{emit, emit_json};
use base64::Engine;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use tinledger_core::event::PublicKey;
use tinledger_core::rules::{ActorState, ActorStatus, StateView};
use tinledger_ledger::{Ledger, LedgerError};

/// Where `keygen --out FILE` puts the public key: `NAME.pem` becomes
/// `NAME.pub.pem`, any other name gets `.pub.pem` added.
pub fn public_path(out: &Path) -> PathBuf {
    let s = out.as_os_str().to_string_lossy();
    match s.strip_suffix(".pem") {
        Some(stem) => PathBuf::from(format!("{stem}.pub.pem")),
        None => PathBuf::from(format!("{s}.pub.pem")),
    }
}

pub fn keygen(cli: &Cli, out: &Path, encrypt: bool) -> Result<(), CliError> {
    if !encrypt && keys::passphrase_env().is_some() {
        return Err(CliError::usage("--passphrase-env was given but not --encrypt; nothing was written")
            .hint("add --encrypt to protect the new key with the passphrase, or drop --passphrase-env"));
    }
    let to_stdout = crate::input::is_std(out);
    if to_stdout && std::io::stdout().is_terminal() {
        return Err(CliError::usage(
            "refusing to print a private key to the terminal (--out -): it would stay in the scrollback and the screen",
        )
        .hint("write it to a file (--out smelter.pem), or pipe it where it belongs: tinledger keygen --out - | ..."));
    }
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let pk = PublicKey::from(&key);
    let pub_pem = keys::public_key_pem(&pk)?;
    let pub_path = (!to_stdout).then(|| public_path(out));
    if let Some(p) = &pub_path {
        // Checked before the private key is written, so that a refusal
        // leaves neither file (the private key's own check comes first).
        if std::fs::symlink_metadata(out).is_ok() {
            return Err(CliError::usage(format!("refusing to overwrite existing file {}", out.display()))
                .hint("choose another --out path, or move the old key away first"));
        }
        if std::fs::symlink_metadata(p).is_ok() {
            return Err(CliError::usage(format!("refusing to overwrite existing file {}", p.display())).hint(
                "keygen writes FILE and its public key FILE.pub.pem: choose another --out, or move the old files away",
            ));
        }
    }
    if to_stdout {
        let pem = if encrypt {
            let pass = keys::new_passphrase(out)?;
            keys::encrypted_signing_key_pem(&key, &pass)?
        } else {
            keys::signing_key_pem(&key)?
        };
        crate::output::write_stdout(pem.as_bytes())?;
    } else if encrypt {
        let pass = keys::new_passphrase(out)?;
        keys::write_encrypted_signing_key(out, &key, &pass)?;
    } else {
        keys::write_signing_key(out, &key)?;
    }
    // Crash window: killed here, the private key exists without its
    // public file; `key show FILE` prints the public key from it.
    if let Some(p) = &pub_path {
        crate::output::write_atomic(p, pub_pem.as_bytes(), false)?;
    }
    if cli.json {
        crate::output::report_json(
            out,
            &json!({"file": out, "public_key_file": pub_path, "public_key": pk.to_hex(), "key_id": pk.key_id(), "encrypted": encrypt}),
        );
    } else {
        let what = if encrypt { "encrypted private key" } else { "private key" };
        match &pub_path {
            Some(p) => {
                crate::output::emit(&format!("wrote {what} {} (mode 0600)", out.display()));
                crate::output::emit(&format!("wrote public key {}", p.display()));
            }
            None => crate::output::note(&format!("wrote {what} to standard output")),
        }
        crate::output::report(out, &format!("public key: {}", pk.to_hex()));
        crate::output::report(out, &format!("key id:     {}", pk.key_id()));
    }
    Ok(())
}

/// How a key relates to the ledger named by `--ledger`.
enum Lookup {
    /// The ledger could not be consulted: (status, message).
    NoLedger(&'static str, String),
    NotRegistered,
    Registered(Box<ActorState>),
}

fn lookup(dir: &Path, pk: &PublicKey) -> Lookup {
    let l = match Ledger::open(dir) {
        Ok(l) => l,
        Err(LedgerError::NotFound(_)) => return Lookup::NoLedger("absent", format!("no ledger at {}", dir.display())),
        Err(e @ LedgerError::Locked { .. }) => return Lookup::NoLedger("locked", e.to_string()),
        Err(e) => return Lookup::NoLedger("unreadable", e.to_string()),
    };
    let view = l.view();
    let found = view.actor_by_key(pk).and_then(|id| match id {
        Some(id) => view.actor(&id),
        None => Ok(None),
    });
    match found {
        Ok(Some(a)) => Lookup::Registered(Box::new(a)),
        Ok(None) => Lookup::NotRegistered,
        Err(e) => Lookup::NoLedger("unreadable", e.to_string()),
    }
}

fn actor_status(s: ActorStatus) -> &'static str {
    match s {
        ActorStatus::Active => "active",
        ActorStatus::Suspended => "suspended",
        ActorStatus::Revoked => "revoked",
    }
}

/// The key's standing with its actor: JSON for `registration`, and one line for people.
fn registration(a: &ActorState, pk: &PublicKey) -> (Value, String) {
    let epoch = a.keys.iter().rev().find(|k| k.key == *pk);
    let is_last = a.keys.last().is_some_and(|k| k.key == *pk);
    let key_status = match epoch.and_then(|e| e.until_seq) {
        None => "current",
        // Closed by the actor's revocation rather than by a rotation.
        Some(_) if is_last && a.status == ActorStatus::Revoked => "revoked",
        Some(_) => "rotated-out",
    };
    let from_seq = epoch.map(|e| e.from_seq);
    let until_seq = epoch.and_then(|e| e.until_seq);
    let compromised_since = epoch.and_then(|e| e.compromised_since);
    let can_sign = key_status == "current" && a.status == ActorStatus::Active;
    let v = json!({
        "actor": a.record.id,
        "actor_status": actor_status(a.status),
        "is_authority": a.is_authority,
        "key_status": key_status,
        "from_seq": from_seq,
        "until_seq": until_seq,
        "compromised_since": compromised_since,
        "can_sign": can_sign,
    });
    let mut line = key_status.to_string();
    match (from_seq, until_seq) {
        (Some(f), None) => line.push_str(&format!(" since seq {f}")),
        (Some(f), Some(u)) => line.push_str(&format!(": held from seq {f} until seq {u}")),
        _ => {}
    }
    if let Some(c) = compromised_since {
        line.push_str(&format!(", reported compromised since seq {c}"));
    }
    if !can_sign {
        line.push_str("; cannot sign new events");
    }
    let role = if a.is_authority { ", the ledger authority" } else { "" };
    let text = format!("{} ({}{role})\nkey status  {line}", a.record.id, actor_status(a.status));
    (v, text)
}

pub fn show(cli: &Cli, arg: &str) -> Result<(), CliError> {
    let (pk, source) = keys::read_public_key(arg)?;
    let pem = keys::public_key_pem(&pk)?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(pk.0);
    let found = lookup(&cli.ledger, &pk);
    if cli.json {
        let (status, message, reg) = match &found {
            Lookup::NoLedger(s, m) => (*s, Some(m.clone()), Value::Null),
            Lookup::NotRegistered => ("open", None, Value::Null),
            Lookup::Registered(a) => ("open", None, registration(a, &pk).0),
        };
        emit_json(&json!({
            "file": arg,
            "source": source.as_str(),
            "key_id": pk.key_id(),
            "public_key": pk.to_hex(),
            "public_key_base64": b64,
            "public_key_pem": pem,
            "ledger": {"dir": cli.ledger, "status": status, "message": message},
            "registration": reg,
        }));
        return Ok(());
    }
    emit(&format!("file        {arg} ({})", source.describe()));
    emit(&format!("key id      {}", pk.key_id()));
    emit(&format!("public key  {}", pk.to_hex()));
    emit(&format!("base64      {b64}"));
    emit(&format!("ledger      {}", cli.ledger.display()));
    let actor = match &found {
        Lookup::NoLedger(_, m) => format!("unknown: {m}"),
        Lookup::NotRegistered => format!("not registered in ledger {}", cli.ledger.display()),
        Lookup::Registered(a) => registration(a, &pk).1,
    };
    emit(&format!("actor       {actor}"));
    emit(pem.trim_end());
    Ok(())
}
