//! Key files: Ed25519 private keys as PKCS#8 PEM (what `openssl genpkey
//! -algorithm ed25519` writes), public keys as hex or SPKI PEM.

use crate::error::CliError;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::io::Write;
use std::path::Path;
use tinledger_core::event::PublicKey;

/// Largest key file we read.
const MAX_KEY_FILE: u64 = 64 * 1024;

fn read_small(path: &Path, what: &str) -> Result<String, CliError> {
    let meta =
        std::fs::metadata(path).map_err(|e| CliError::usage(format!("cannot read {what} {}: {e}", path.display())))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(CliError::usage(format!("{what} {} is too large to be a key", path.display())));
    }
    std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// Load a private key from a PKCS#8 PEM file.
pub fn load_signing_key(path: &Path) -> Result<SigningKey, CliError> {
    let text = zeroize::Zeroizing::new(read_small(path, "key file")?);
    SigningKey::from_pkcs8_pem(&text).map_err(|_| {
        CliError::usage(format!("key file {} is not an Ed25519 private key in PKCS#8 PEM", path.display()))
            .hint("make one with `tinledger keygen --out FILE` or `openssl genpkey -algorithm ed25519 -out FILE`")
    })
}

/// Write a new private key with mode 0600; never overwrites.
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<(), CliError> {
    // PKCS#8 v1 without the public key (RFC 8410 §7), exactly what
    // `openssl genpkey -algorithm ed25519` writes; OpenSSL 3.0 rejects the
    // v2 form with an embedded public key.
    let pair = ed25519_dalek::pkcs8::KeypairBytes { secret_key: key.to_bytes(), public_key: None };
    let pem = pair.to_pkcs8_pem(LineEnding::LF).map_err(|e| CliError::usage(format!("cannot encode key: {e}")))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::usage(format!("refusing to overwrite existing file {}", path.display()))
                .hint("choose another --out path, or move the old key away first")
        } else {
            CliError::usage(format!("cannot create {}: {e}", path.display()))
        }
    })?;
    f.write_all(pem.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", path.display())))
}

/// A public key given as 64 hex digits, or a PEM file holding a public key
/// (SubjectPublicKeyInfo) or a private key.
pub fn parse_public_key(arg: &str) -> Result<PublicKey, CliError> {
    if arg.len() == 64 && arg.chars().all(|c| c.is_ascii_hexdigit()) {
        return arg.parse().map_err(CliError::usage);
    }
    let path = Path::new(arg);
    if !path.exists() {
        return Err(CliError::usage(format!("public key {arg:?} is neither 64 hex digits nor an existing PEM file")));
    }
    let text = zeroize::Zeroizing::new(read_small(path, "public key file")?);
    if let Ok(vk) = VerifyingKey::from_public_key_pem(&text) {
        return Ok(PublicKey(vk.to_bytes()));
    }
    if let Ok(sk) = SigningKey::from_pkcs8_pem(&text) {
        return Ok(PublicKey::from(&sk));
    }
    Err(CliError::usage(format!("{} holds no Ed25519 public or private key in PEM", path.display())))
}
