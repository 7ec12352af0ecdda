//! Key files for the commands: the file formats are `tinledger_formats::keyfile`;
//! this module only says where a passphrase comes from (`--passphrase-env
//! VAR`, else a terminal prompt) and hands it to the format.

use crate::error::CliError;
use ed25519_dalek::SigningKey;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::OnceLock;
use tinledger_core::event::PublicKey;
use tinledger_formats::keyfile::{self, KeySource};
use tinledger_formats::FormatError;
use zeroize::Zeroizing;

/// The environment variable named by the global `--passphrase-env` flag.
static PASSPHRASE_ENV: OnceLock<Option<String>> = OnceLock::new();

/// Record the global `--passphrase-env VAR` (called once, from main).
pub fn set_passphrase_env(var: Option<String>) {
    let _ = PASSPHRASE_ENV.set(var);
}

/// The `--passphrase-env` variable given, if any.
pub fn passphrase_env() -> Option<&'static str> {
    PASSPHRASE_ENV.get().and_then(|v| v.as_deref())
}

/// The passphrase from `--passphrase-env VAR`, else a terminal prompt.
fn passphrase_for(path: &Path) -> Result<Zeroizing<String>, CliError> {
    if let Some(var) = passphrase_env() {
        return passphrase_from_env(var);
    }
    if std::io::stdin().is_terminal() {
        return prompt(&format!("passphrase for key {}: ", path.display()));
    }
    Err(CliError::usage(format!(
        "key file {} is encrypted and no passphrase was given (no --passphrase-env, and no terminal to prompt on)",
        path.display()
    ))
    .hint("pass --passphrase-env VAR, naming an environment variable that holds the passphrase"))
}

fn passphrase_from_env(var: &str) -> Result<Zeroizing<String>, CliError> {
    match std::env::var_os(var) {
        None => Err(CliError::usage(format!("--passphrase-env {var}: the environment variable {var} is not set"))
            .hint("--passphrase-env takes the NAME of a variable that holds the passphrase, not the passphrase")),
        Some(v) => match v.into_string() {
            Ok(s) => Ok(Zeroizing::new(s)),
            Err(v) => {
                drop(Zeroizing::new(v.into_encoded_bytes()));
                Err(CliError::usage(format!("--passphrase-env {var}: the passphrase is not valid UTF-8")))
            }
        },
    }
}

fn prompt(text: &str) -> Result<Zeroizing<String>, CliError> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| CliError::usage(format!("cannot read the passphrase from the terminal: {e}")))
}

/// A passphrase for a new encrypted key: `--passphrase-env VAR`, or asked
/// twice on the terminal. Empty passphrases are refused.
pub fn new_passphrase(path: &Path) -> Result<Zeroizing<String>, CliError> {
    let pass = if let Some(var) = passphrase_env() {
        passphrase_from_env(var)?
    } else if std::io::stdin().is_terminal() {
        let a = prompt(&format!("passphrase for new key {}: ", path.display()))?;
        let b = prompt("repeat the passphrase: ")?;
        if a != b {
            return Err(CliError::usage("the two passphrases differ; nothing was written"));
        }
        a
    } else {
        return Err(CliError::usage(
            "keygen --encrypt needs a passphrase: no --passphrase-env, and no terminal to prompt on",
        )
        .hint("pass --passphrase-env VAR, naming an environment variable that holds the passphrase"));
    };
    if pass.is_empty() {
        return Err(CliError::usage("the passphrase is empty; nothing was written"));
    }
    Ok(pass)
}

/// The passphrase of an existing encrypted key file, for the format.
fn passphrase(path: &Path) -> Result<Zeroizing<String>, FormatError> {
    passphrase_for(path).map_err(|e| FormatError::Invalid { msg: e.msg, hint: e.hint })
}

/// Load a private key from a PKCS#8 PEM file, plain or encrypted.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, CliError> {
    Ok(keyfile::load_signing_key(path, &passphrase)?)
}

/// Write a new private key with mode 0600; never overwrites.
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<(), CliError> {
    Ok(keyfile::write_signing_key(path, key)?)
}

/// Write a new private key encrypted under `pass`, mode 0600; never overwrites.
pub fn write_encrypted_signing_key(path: &Path, key: &SigningKey, pass: &Zeroizing<String>) -> Result<(), CliError> {
    Ok(keyfile::write_encrypted_signing_key(path, key, pass)?)
}

/// The PEM text of a new private key, for `keygen --out -`.
pub fn signing_key_pem(key: &SigningKey) -> Result<Zeroizing<String>, CliError> {
    Ok(keyfile::signing_key_pem(key)?)
}

/// The encrypted PEM text of a new private key, for `keygen --out - --encrypt`.
pub fn encrypted_signing_key_pem(key: &SigningKey, pass: &Zeroizing<String>) -> Result<Zeroizing<String>, CliError> {
    Ok(keyfile::encrypted_signing_key_pem(key, pass)?)
}

/// A public key given as 64 hex digits or a PEM file, and what it was.
pub fn read_public_key(arg: &str) -> Result<(PublicKey, KeySource), CliError> {
    Ok(keyfile::read_public_key(arg, &passphrase)?)
}

/// A public key given as 64 hex digits or a PEM file.
pub fn parse_public_key(arg: &str) -> Result<PublicKey, CliError> {
    Ok(keyfile::parse_public_key(arg, &passphrase)?)
}

/// The SubjectPublicKeyInfo PEM of a public key.
pub fn public_key_pem(pk: &PublicKey) -> Result<String, CliError> {
    Ok(keyfile::public_key_pem(pk)?)
}

/// The passphrase source, for formats that read keys (bulk rows).
pub fn passphrase_source() -> keyfile::Passphrase<'static> {
    &passphrase
}
