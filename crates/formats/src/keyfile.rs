//! Key files: Ed25519 private keys as PKCS#8 PEM (what `openssl genpkey
//! -algorithm ed25519` writes), optionally encrypted (PKCS#8
//! `EncryptedPrivateKeyInfo`, PBES2, what `openssl genpkey ... -aes256`
//! writes); public keys as hex or SPKI PEM. docs/keys.md.
//!
//! Reading a key file is I/O on a path, and stays here because the checks
//! belong to the format's safety: a key path must be a regular file (opened
//! without blocking), at most 64 KiB, and a private key file must not be
//! readable by others. Where a passphrase comes from (an environment
//! variable, a terminal prompt) is the caller's business: it passes a
//! [`Passphrase`].
//!
//! Secrets never leave this module unprotected: file contents, passphrases
//! and decrypted DER live in `Zeroizing` buffers, `SigningKey` zeroizes on
//! drop, and no message ever contains a secret.

use crate::error::FormatError;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use pkcs8::pkcs5::pbes2;
use std::io::{Read, Write};
use std::path::Path;
use tinledger_core::event::PublicKey;
use zeroize::Zeroizing;

/// Largest key file we read.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// PBKDF2-HMAC-SHA256 iterations for keys we encrypt (OWASP 2023 advice).
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// Most PBKDF2 iterations we accept in a key file (a bound on the work a
/// hostile file can make us do).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Most scrypt memory (128·r·N bytes) we accept in a key file.
const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;

/// Where the passphrase of an encrypted key file comes from, given the
/// file's path (the CLI: `--passphrase-env VAR` or a terminal prompt).
pub type Passphrase<'a> = &'a (dyn Fn(&Path) -> Result<Zeroizing<String>, FormatError> + Sync);

/// What a key file or argument turned out to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// 64 hex digits on the command line.
    Hex,
    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo).
    PublicPem,
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8).
    PrivatePem,
    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PKCS#8, PBES2).
    EncryptedPrivatePem,
}

impl KeySource {
    /// The `source` value of `tinledger key show --json`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::Hex => "hex",
            KeySource::PublicPem => "public-key",
            KeySource::PrivatePem => "private-key",
            KeySource::EncryptedPrivatePem => "encrypted-private-key",
        }
    }
    /// What it is, for people.
    pub fn describe(self) -> &'static str {
        match self {
            KeySource::Hex => "public key in hex",
            KeySource::PublicPem => "public key",
            KeySource::PrivatePem => "private key",
            KeySource::EncryptedPrivatePem => "encrypted private key",
        }
    }
}

/// A key file's text (zeroized on drop) and its Unix permission bits.
struct KeyText {
    text: Zeroizing<String>,
    mode: Option<u32>,
}

fn read_small(path: &Path, what: &str) -> Result<KeyText, FormatError> {
    let cannot = |e: std::io::Error| FormatError::invalid(format!("cannot read {what} {}: {e}", path.display()));
    // A key is a regular file: a FIFO would block `open` until someone
    // writes to it, a device would never end. Look before opening, and open
    // without blocking in case the path was swapped in between.
    let not_regular = |m: &std::fs::Metadata| {
        (!m.is_file()).then(|| {
            FormatError::invalid(format!("{what} {} is not a regular file (it is {})", path.display(), file_kind(m)))
        })
    };
    if let Some(e) = not_regular(&std::fs::metadata(path).map_err(cannot)?) {
        return Err(e);
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let f = opts.open(path).map_err(cannot)?;
    // Size and mode from the open file, not the path: no race with a rename.
    let meta = f.metadata().map_err(cannot)?;
    if let Some(e) = not_regular(&meta) {
        return Err(e);
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(FormatError::invalid(format!("{what} {} is too large to be a key", path.display())));
    }
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode())
    };
    #[cfg(not(unix))]
    let mode = None;
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    f.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(FormatError::invalid(format!("{what} {} is too large to be a key", path.display())));
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(s) => Zeroizing::new(s.to_string()),
        Err(_) => {
            return Err(FormatError::invalid(format!("cannot read {what} {}: it is not text (PEM)", path.display())))
        }
    };
    Ok(KeyText { text, mode })
}

/// What a file that is not a regular file is, for messages.
fn file_kind(m: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if m.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// Refuse a private key file that group or others may read or write, like ssh.
fn check_private_mode(path: &Path, mode: Option<u32>) -> Result<(), FormatError> {
    match mode {
        Some(m) if m & 0o077 != 0 => Err(FormatError::invalid(format!(
            "key file {} is readable by other users (mode {:04o}); run chmod 600 {}",
            path.display(),
            m & 0o7777,
            path.display()
        ))
        .hint("private key files must be readable and writable by their owner only")),
        _ => Ok(()),
    }
}

/// The PEM label of `text` (`PRIVATE KEY`, `PUBLIC KEY`, ...), if it is PEM.
fn pem_label(text: &str) -> Option<&str> {
    pkcs8::der::pem::decode_label(text.trim_start().as_bytes()).ok()
}

/// Why a private key could not be read.
enum PrivateError {
    /// The file does not hold an Ed25519 private key; the caller words it.
    NotAKey,
    /// Anything else, already worded (permissions, passphrase, ...).
    Other(FormatError),
}

impl From<FormatError> for PrivateError {
    fn from(e: FormatError) -> Self {
        PrivateError::Other(e)
    }
}

/// A private key from a key file's text: plain or encrypted PKCS#8.
fn private_from(path: &Path, kt: &KeyText, pass: Passphrase) -> Result<(SigningKey, KeySource), PrivateError> {
    match pem_label(&kt.text) {
        Some("ENCRYPTED PRIVATE KEY") => {
            let key = decrypt_private(path, kt, pass)?;
            Ok((key, KeySource::EncryptedPrivatePem))
        }
        Some("PRIVATE KEY") => {
            let key = SigningKey::from_pkcs8_pem(kt.text.trim_start()).map_err(|_| PrivateError::NotAKey)?;
            check_private_mode(path, kt.mode)?;
            Ok((key, KeySource::PrivatePem))
        }
        _ => Err(PrivateError::NotAKey),
    }
}

/// Decrypt an `ENCRYPTED PRIVATE KEY` (PBES2: PBKDF2 or scrypt, AES-CBC).
fn decrypt_private(path: &Path, kt: &KeyText, pass: Passphrase) -> Result<SigningKey, PrivateError> {
    let (_, doc) = pkcs8::Document::from_pem(kt.text.trim_start()).map_err(|_| PrivateError::NotAKey)?;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes()).map_err(|_| PrivateError::NotAKey)?;
    let unsupported = |what: &str| {
        FormatError::invalid(format!(
            "key file {} is encrypted with {what}, which tinledger does not read",
            path.display()
        ))
        .hint(format!(
            "re-encrypt it: openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256 -in {} -out NEW.pem",
            path.display()
        ))
    };
    let params = info.encryption_algorithm.pbes2().ok_or_else(|| unsupported("PBES1 (obsolete)"))?;
    match &params.kdf {
        pbes2::Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => {
            return Err(FormatError::invalid(format!(
                "key file {} asks for {} PBKDF2 iterations, more than the {MAX_PBKDF2_ITERATIONS} tinledger allows",
                path.display(),
                p.iteration_count
            ))
            .into())
        }
        pbes2::Kdf::Scrypt(s) => {
            let mem = 128u64.saturating_mul(u64::from(s.block_size)).saturating_mul(s.cost_parameter);
            if mem > MAX_SCRYPT_MEMORY || s.parallelization > 16 {
                return Err(FormatError::invalid(format!(
                    "key file {} asks for scrypt parameters (N={}, r={}, p={}) beyond what tinledger allows",
                    path.display(),
                    s.cost_parameter,
                    s.block_size,
                    s.parallelization
                ))
                .into());
            }
        }
        _ => {}
    }
    // Refuse a world-readable file before asking for its passphrase.
    check_private_mode(path, kt.mode)?;
    let pass = pass(path)?;
    let mut buf = Zeroizing::new(info.encrypted_data.to_vec());
    let plain = match params.decrypt_in_place(pass.as_bytes(), &mut buf) {
        Ok(p) => p,
        Err(pkcs8::pkcs5::Error::UnsupportedAlgorithm { oid }) => {
            return Err(unsupported(&format!("algorithm {oid}")).into())
        }
        Err(pkcs8::pkcs5::Error::AlgorithmParametersInvalid { oid }) => {
            return Err(FormatError::invalid(format!(
                "key file {} has invalid encryption parameters for algorithm {oid}",
                path.display()
            ))
            .into())
        }
        // Padding failures: almost always the wrong passphrase.
        Err(_) => return Err(wrong_passphrase(path).into()),
    };
    // A wrong passphrase can still yield valid padding (about 1 in 256):
    // the result then is not DER.
    let pki = pkcs8::PrivateKeyInfo::try_from(plain).map_err(|_| wrong_passphrase(path))?;
    if pki.algorithm.oid != ed25519_dalek::pkcs8::ALGORITHM_OID {
        return Err(PrivateError::NotAKey);
    }
    SigningKey::from_pkcs8_der(plain).map_err(|_| PrivateError::NotAKey)
}

fn wrong_passphrase(path: &Path) -> FormatError {
    FormatError::invalid(format!("wrong passphrase for key {}", path.display()))
}

/// Load a private key from a PKCS#8 PEM file, plain or encrypted.
pub fn load_signing_key(path: &Path, pass: Passphrase) -> Result<SigningKey, FormatError> {
    let kt = read_small(path, "key file")?;
    match private_from(path, &kt, pass) {
        Ok((key, _)) => Ok(key),
        Err(PrivateError::Other(e)) => Err(e),
        Err(PrivateError::NotAKey) => Err(FormatError::invalid(format!(
            "key file {} is not an Ed25519 private key in PKCS#8 PEM",
            path.display()
        ))
        .hint("make one with `tinledger keygen --out FILE` or `openssl genpkey -algorithm ed25519 -out FILE`")),
    }
}

/// The PKCS#8 v1 DER of `key`, without the public key (RFC 8410 §7), exactly
/// what `openssl genpkey -algorithm ed25519` writes; OpenSSL 3.0 rejects the
/// v2 form with an embedded public key.
fn pkcs8_v1(key: &SigningKey) -> Result<pkcs8::SecretDocument, FormatError> {
    let pair = ed25519_dalek::pkcs8::KeypairBytes { secret_key: key.to_bytes(), public_key: None };
    pair.to_pkcs8_der().map_err(|e| FormatError::invalid(format!("cannot encode key: {e}")))
}

/// Write a new private key with mode 0600; never overwrites.
pub fn write_signing_key(path: &Path, key: &SigningKey) -> Result<(), FormatError> {
    write_private_file(path, &signing_key_pem(key)?)
}

/// The PKCS#8 v1 PEM text of a private key (what [`write_signing_key`] writes).
pub fn signing_key_pem(key: &SigningKey) -> Result<Zeroizing<String>, FormatError> {
    let der = pkcs8_v1(key)?;
    der.to_pem("PRIVATE KEY", LineEnding::LF).map_err(|e| FormatError::invalid(format!("cannot encode key: {e}")))
}

/// Write a new private key encrypted under `pass` (PBES2: PBKDF2-HMAC-SHA256,
/// AES-256-CBC), mode 0600; never overwrites.
pub fn write_encrypted_signing_key(path: &Path, key: &SigningKey, pass: &Zeroizing<String>) -> Result<(), FormatError> {
    write_private_file(path, &encrypted_signing_key_pem(key, pass)?)
}

/// The encrypted PKCS#8 PEM text of a private key (what
/// [`write_encrypted_signing_key`] writes), with a fresh salt and IV.
pub fn encrypted_signing_key_pem(key: &SigningKey, pass: &Zeroizing<String>) -> Result<Zeroizing<String>, FormatError> {
    let der = pkcs8_v1(key)?;
    let pki = pkcs8::PrivateKeyInfo::try_from(der.as_bytes())
        .map_err(|e| FormatError::invalid(format!("cannot encode key: {e}")))?;
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut iv);
    let params = pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
        .map_err(|e| FormatError::invalid(format!("cannot encrypt key: {e}")))?;
    let enc = pki
        .encrypt_with_params(params, pass.as_bytes())
        .map_err(|e| FormatError::invalid(format!("cannot encrypt key: {e}")))?;
    enc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .map_err(|e| FormatError::invalid(format!("cannot encode key: {e}")))
}

fn write_private_file(path: &Path, pem: &str) -> Result<(), FormatError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            FormatError::invalid(format!("refusing to overwrite existing file {}", path.display()))
                .hint("choose another --out path, or move the old key away first")
        } else {
            FormatError::invalid(format!("cannot create {}: {e}", path.display()))
        }
    })?;
    f.write_all(pem.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| FormatError::invalid(format!("cannot write {}: {e}", path.display())))
}

/// A public key given as 64 hex digits, or a PEM file holding a public key
/// (SubjectPublicKeyInfo) or a private key (plain or encrypted), and what it was.
pub fn read_public_key(arg: &str, pass: Passphrase) -> Result<(PublicKey, KeySource), FormatError> {
    if arg.len() == 64 && arg.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok((arg.parse().map_err(FormatError::invalid)?, KeySource::Hex));
    }
    let path = Path::new(arg);
    if !path.exists() {
        return Err(FormatError::invalid(format!(
            "public key {} is neither 64 hex digits nor an existing PEM file",
            tinledger_core::units::quoted(arg)
        )));
    }
    let kt = read_small(path, "public key file")?;
    let none = || FormatError::invalid(format!("{} holds no Ed25519 public or private key in PEM", path.display()));
    if pem_label(&kt.text) == Some("PUBLIC KEY") {
        // Public key files are not secret: no permission check.
        let vk = VerifyingKey::from_public_key_pem(kt.text.trim_start()).map_err(|_| none())?;
        return Ok((PublicKey(vk.to_bytes()), KeySource::PublicPem));
    }
    match private_from(path, &kt, pass) {
        Ok((sk, source)) => Ok((PublicKey::from(&sk), source)),
        Err(PrivateError::Other(e)) => Err(e),
        Err(PrivateError::NotAKey) => Err(none()),
    }
}

/// A public key given as 64 hex digits or a PEM file (see [`read_public_key`]).
pub fn parse_public_key(arg: &str, pass: Passphrase) -> Result<PublicKey, FormatError> {
    read_public_key(arg, pass).map(|(pk, _)| pk)
}

/// The SubjectPublicKeyInfo PEM of a public key, as `openssl pkey -pubout` prints it.
pub fn public_key_pem(pk: &PublicKey) -> Result<String, FormatError> {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    let vk = pk.verifying_key().map_err(FormatError::invalid)?;
    vk.to_public_key_pem(LineEnding::LF).map_err(|e| FormatError::invalid(format!("cannot encode public key: {e}")))
}
