//! Passphrase-protected keys against the real `openssl` binary, and
//! `key show` with and without a ledger (docs/keys.md).

use crate::keys::{chmod, genpkey, key_show, openssl, openssl_ok, openssl_public_key, AT};
use crate::util::*;
use assert_cmd::Command;
use serde_json::Value;
use std::process::Output;

/// A passphrase distinctive enough to find if it ever leaks into output.
const PASS: &str = "Muntok-smelter-Passphrase-7319";
/// The environment variable tests pass it in.
const VAR: &str = "TL_TEST_PASS";

/// Run `c` with the passphrase in $VAR; fail the test if the passphrase
/// appears on stdout or stderr.
fn run(mut c: Command) -> Output {
    let out = c.env(VAR, PASS).output().expect("run");
    for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(PASS), "the passphrase leaked on {name}: {text}");
    }
    out
}

fn ok(c: Command) -> String {
    let out = run(c);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Expect exit `code`; return stderr.
fn fails(c: Command, code: i32) -> String {
    let out = run(c);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(code), "stdout {} stderr {err}", String::from_utf8_lossy(&out.stdout));
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// `key show --json` with the passphrase available in $VAR.
fn show(env: &Env, file: &str) -> Value {
    let mut c = env.cmd();
    c.args(["--json", "--passphrase-env", VAR, "key", "show", file]);
    serde_json::from_str(&ok(c)).expect("key show --json prints JSON")
}

fn extract(env: &Env, key: &str, lot: &str, licence: &str) -> Command {
    let mut c = env.cmd();
    c.args(["record", "extract", "--key", key, "--at", AT, "--lot", lot, "--mass", "2kg"]).args([
        "--licence",
        licence,
        "--location=-2.49,106.41",
    ]);
    c
}

fn register_mine(env: &Env, id: &str, public_key: &str) -> Command {
    let mut c = env.cmd();
    c.args(["actor", "register", "--key"]).arg(env.key("AUTH-BABEL")).args([
        "--at",
        AT,
        "--id",
        id,
        "--name",
        "Encrypted-key mine",
        "--role",
        "mine",
        "--iup",
        &format!("IUP-{id}"),
        "--public-key",
        public_key,
    ]);
    c
}

#[test]
fn encrypted_keygen_roundtrips_with_openssl() {
    let env = Env::new();
    env.demo();
    let dir = env.tmp.path();
    let mut c = env.bare();
    c.args(["--json", "--passphrase-env", VAR, "keygen", "--out", "e.pem", "--encrypt"]);
    let v: Value = serde_json::from_str(&ok(c)).unwrap();
    assert_eq!(v["encrypted"], true, "{v}");
    let printed = v["public_key"].as_str().unwrap().to_string();

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.path("e.pem")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let pem = std::fs::read_to_string(env.path("e.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), "{pem}");
    // PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, as documented.
    let asn1 = String::from_utf8(openssl_ok(dir, &["asn1parse", "-in", "e.pem"])).unwrap();
    for needle in [":PBES2", ":PBKDF2", ":hmacWithSHA256", ":aes-256-cbc"] {
        assert!(asn1.contains(needle), "{needle} missing: {asn1}");
    }

    // OpenSSL decrypts it with the passphrase and finds the printed key...
    let passin = format!("env:{VAR}");
    let der = {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .env(VAR, PASS)
            .args(["pkey", "-in", "e.pem", "-passin", &passin, "-pubout", "-outform", "DER"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    assert_eq!(hex::encode(&der[12..]), printed);
    // ...and not without it.
    let (ok_wrong, _, _) = openssl(dir, &["pkey", "-in", "e.pem", "-passin", "pass:not-it", "-pubout"]);
    assert!(!ok_wrong, "openssl must not open the key with a wrong passphrase");

    // tinledger reads it back, and a plain copy OpenSSL decrypts is the same key.
    let mut c = env.bare();
    c.args(["--passphrase-env", VAR, "--json", "key", "show", "e.pem"]);
    let v: Value = serde_json::from_str(&ok(c)).unwrap();
    assert_eq!(v["public_key"].as_str(), Some(printed.as_str()));
    assert_eq!(v["source"], "encrypted-private-key");
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .env(VAR, PASS)
        .args(["pkey", "-in", "e.pem", "-passin", &passin, "-out", "plain.pem"])
        .output()
        .unwrap();
    assert!(out.status.success());
    chmod(&env.path("plain.pem"), 0o600);
    assert_eq!(key_show(&env, "plain.pem")["public_key"].as_str(), Some(printed.as_str()));

    // The authority registers it from the encrypted file (the passphrase
    // opens it), and it signs an event the ledger accepts.
    let mut c = register_mine(&env, "MINE-ENC", "e.pem");
    c.args(["--passphrase-env", VAR]);
    ok(c);
    let mut c = extract(&env, "e.pem", "ENC-1", "IUP-MINE-ENC");
    c.args(["--passphrase-env", VAR]);
    let out = ok(c);
    assert!(out.contains("recorded seq"), "{out}");
    assert_eq!(env.verify_json()["ok"], true);
    let v = show(&env, "e.pem");
    assert_eq!(v["registration"]["actor"], "MINE-ENC", "{v}");
}

#[test]
fn openssl_encrypted_keys_sign_events() {
    let env = Env::new();
    env.demo();
    let dir = env.tmp.path();
    let passout = format!("env:{VAR}");
    // `openssl genpkey -aes256`: PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC.
    let gen = std::process::Command::new("openssl")
        .current_dir(dir)
        .env(VAR, PASS)
        .args(["genpkey", "-algorithm", "ed25519", "-aes256", "-pass", &passout, "-out", "o.pem"])
        .output()
        .unwrap();
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    chmod(&env.path("o.pem"), 0o600);
    // The same kind of key re-encrypted with scrypt (`openssl pkcs8 -scrypt`).
    genpkey(dir, "s-plain.pem", &[]);
    let enc = std::process::Command::new("openssl")
        .current_dir(dir)
        .env(VAR, PASS)
        .args(["pkcs8", "-topk8", "-scrypt", "-in", "s-plain.pem", "-passout", &passout, "-out", "s.pem"])
        .output()
        .unwrap();
    assert!(enc.status.success(), "{}", String::from_utf8_lossy(&enc.stderr));
    chmod(&env.path("s.pem"), 0o600);
    assert!(String::from_utf8(openssl_ok(dir, &["asn1parse", "-in", "s.pem"])).unwrap().contains(":scrypt"));

    for (file, id) in [("o.pem", "MINE-OSSL-AES"), ("s.pem", "MINE-OSSL-SCRYPT")] {
        // Register from the public key OpenSSL extracts.
        let pubfile = format!("{id}.pub.pem");
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .env(VAR, PASS)
            .args(["pkey", "-in", file, "-passin", &passout, "-pubout", "-out", &pubfile])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let want = openssl_public_key(dir, &pubfile, true);
        ok(register_mine(&env, id, &pubfile));
        let v = show(&env, file);
        assert_eq!(v["public_key"].as_str(), Some(want.as_str()), "{file}: {v}");
        assert_eq!(v["registration"]["actor"], id, "{v}");
        assert_eq!(v["registration"]["key_status"], "current", "{v}");

        // Sign with the encrypted OpenSSL key; the signer is found from the key.
        let mut c = extract(&env, file, &format!("{id}-LOT"), &format!("IUP-{id}"));
        c.args(["--passphrase-env", VAR]);
        ok(c);
    }
    let v = env.verify_json();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], 53);
}

#[test]
fn wrong_or_missing_passphrase_is_a_one_line_error() {
    let env = Env::new();
    env.demo();
    let mut c = env.bare();
    c.args(["--passphrase-env", VAR, "keygen", "--out", "e.pem", "--encrypt"]);
    ok(c);
    let mut c = env.bare();
    c.args(["--passphrase-env", VAR, "--json", "key", "show", "e.pem"]);
    let v: Value = serde_json::from_str(&ok(c)).unwrap();
    let pk = v["public_key"].as_str().unwrap().to_string();
    ok(register_mine(&env, "MINE-ENC", &pk));
    let before = env.state();

    // Wrong passphrase: several, including one a character off.
    for wrong in ["x", "Muntok-smelter-Passphrase-7318", "", &PASS.to_lowercase()] {
        let mut c = extract(&env, "e.pem", "ENC-1", "IUP-MINE-ENC");
        c.args(["--passphrase-env", "TL_OTHER_VAR"]).env("TL_OTHER_VAR", wrong);
        let err = fails(c, 2);
        assert_eq!(err, "tinledger: wrong passphrase for key e.pem\n", "{wrong:?}");
    }
    // The variable named by --passphrase-env is not set.
    let mut c = extract(&env, "e.pem", "ENC-1", "IUP-MINE-ENC");
    c.args(["--passphrase-env", "TL_UNSET_VAR"]).env_remove("TL_UNSET_VAR");
    let err = fails(c, 2);
    assert!(
        err.starts_with("tinledger: --passphrase-env TL_UNSET_VAR: the environment variable TL_UNSET_VAR is not set\n"),
        "{err}"
    );
    // No --passphrase-env and stdin is not a terminal: no prompt, a clear error.
    let mut c = extract(&env, "e.pem", "ENC-1", "IUP-MINE-ENC");
    c.write_stdin(format!("{PASS}\n"));
    let err = fails(c, 2);
    let first = err.lines().next().unwrap();
    assert_eq!(
        first,
        "tinledger: key file e.pem is encrypted and no passphrase was given (no --passphrase-env, and no terminal to prompt on)"
    );
    assert!(err.lines().nth(1).unwrap().starts_with("hint: pass --passphrase-env VAR"), "{err}");
    assert!(err.lines().count() == 2, "{err}");
    // Same for key show, sign and checkpoint paths (every --key loader).
    let mut c = env.cmd();
    c.args(["key", "show", "e.pem"]);
    assert!(fails(c, 2).contains("is encrypted and no passphrase was given"));
    let mut c = env.bare();
    c.args(["sign", "extract", "--key", "e.pem", "--as", "MINE-ENC", "--ledger-id", &"00".repeat(16)])
        .args(["--at", AT, "--lot", "ENC-2", "--mass", "1kg", "--licence", "IUP-MINE-ENC", "--location=-2.49,106.41"])
        .args(["--out", "s.json", "--passphrase-env", "TL_OTHER_VAR"])
        .env("TL_OTHER_VAR", "nope");
    assert_eq!(fails(c, 2), "tinledger: wrong passphrase for key e.pem\n");
    assert!(!env.path("s.json").exists());

    // A world-readable encrypted key is refused before any passphrase is asked for.
    chmod(&env.path("e.pem"), 0o644);
    let mut c = extract(&env, "e.pem", "ENC-1", "IUP-MINE-ENC");
    c.args(["--passphrase-env", VAR]);
    let err = fails(c, 2);
    assert!(err.starts_with("tinledger: key file e.pem is readable by other users (mode 0644); run chmod 600 e.pem\n"));
    chmod(&env.path("e.pem"), 0o600);

    assert_eq!(env.state(), before, "nothing was appended");
    // With the right passphrase it works.
    let mut c = extract(&env, "e.pem", "ENC-1", "IUP-MINE-ENC");
    c.args(["--passphrase-env", VAR]);
    ok(c);
    assert_eq!(env.state().0, before.0 + 1);
}

#[test]
fn keygen_encrypt_needs_a_passphrase() {
    let env = Env::new();
    // No source of a passphrase (stdin is not a terminal).
    let mut c = env.bare();
    c.args(["keygen", "--out", "a.pem", "--encrypt"]);
    let err = fails(c, 2);
    assert!(err.starts_with("tinledger: keygen --encrypt needs a passphrase"), "{err}");
    assert!(!env.path("a.pem").exists());
    // An empty one.
    let mut c = env.bare();
    c.args(["--passphrase-env", "TL_EMPTY", "keygen", "--out", "a.pem", "--encrypt"]).env("TL_EMPTY", "");
    assert!(fails(c, 2).starts_with("tinledger: the passphrase is empty; nothing was written"));
    assert!(!env.path("a.pem").exists());
    // --passphrase-env without --encrypt would silently write a plain key: refused.
    let mut c = env.bare();
    c.args(["--passphrase-env", VAR, "keygen", "--out", "a.pem"]);
    assert!(fails(c, 2).starts_with("tinledger: --passphrase-env was given but not --encrypt"));
    assert!(!env.path("a.pem").exists());
    // Never overwrites, encrypted or not.
    let mut c = env.bare();
    c.args(["keygen", "--out", "a.pem"]);
    ok(c);
    let before = std::fs::read(env.path("a.pem")).unwrap();
    let mut c = env.bare();
    c.args(["--passphrase-env", VAR, "keygen", "--out", "a.pem", "--encrypt"]);
    assert!(fails(c, 2).contains("refusing to overwrite existing file a.pem"));
    assert_eq!(std::fs::read(env.path("a.pem")).unwrap(), before);
    // Text output says what was written.
    let mut c = env.bare();
    c.args(["--passphrase-env", VAR, "keygen", "--out", "b.pem", "--encrypt"]);
    assert!(ok(c).starts_with("wrote encrypted private key b.pem (mode 0600)\n"));
}

#[test]
fn key_show_reports_registration() {
    let env = Env::new();
    env.demo();
    let reg = |label: &str| key_show(&env, &format!("demo/keys/{label}.pem"))["registration"].clone();

    let v = reg("MINE-KOBA");
    assert_eq!(v["actor"], "MINE-KOBA", "{v}");
    assert_eq!(v["actor_status"], "active");
    assert_eq!(v["key_status"], "current");
    assert_eq!(v["until_seq"], Value::Null);
    assert_eq!(v["can_sign"], true);
    assert_eq!(v["is_authority"], false);
    assert_eq!(reg("AUTH-BABEL")["is_authority"], true);
    // The smelter's first key was rotated out for SMELTER-MUNTOK-2's key.
    let old = reg("SMELTER-MUNTOK");
    let new = reg("SMELTER-MUNTOK-2");
    assert_eq!(old["actor"], "SMELTER-MUNTOK");
    assert_eq!(new["actor"], "SMELTER-MUNTOK");
    assert_eq!(old["key_status"], "rotated-out", "{old}");
    assert_eq!(old["can_sign"], false);
    assert_eq!(new["key_status"], "current", "{new}");
    assert_eq!(old["until_seq"], new["from_seq"]);
    // MINE-JEBUS was revoked with its key reported compromised (docs/cli.md example).
    let v = reg("MINE-JEBUS");
    assert_eq!(v["actor_status"], "revoked", "{v}");
    assert_eq!(v["key_status"], "revoked");
    assert_eq!(v["compromised_since"], 16);
    assert_eq!(v["can_sign"], false);

    // The whole object for one key.
    let v = key_show(&env, "demo/keys/MINE-KOBA.pem");
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["file", "key_id", "ledger", "public_key", "public_key_base64", "public_key_pem", "registration", "source"]
    );
    assert_eq!(v["ledger"]["status"], "open");
    assert_eq!(v["ledger"]["message"], Value::Null);

    // A key the ledger does not know.
    env.bare().args(["keygen", "--out", "stranger.pem"]).assert().success();
    let v = key_show(&env, "stranger.pem");
    assert_eq!(v["registration"], Value::Null, "{v}");
    assert_eq!(v["ledger"]["status"], "open");
    let text = String::from_utf8(env.cmd().args(["key", "show", "stranger.pem"]).output().unwrap().stdout).unwrap();
    assert!(text.contains("actor       not registered in ledger "), "{text}");
    let text =
        String::from_utf8(env.cmd().args(["key", "show", "demo/keys/SMELTER-MUNTOK.pem"]).output().unwrap().stdout)
            .unwrap();
    assert!(text.contains("actor       SMELTER-MUNTOK (active)\n"), "{text}");
    assert!(text.contains("key status  rotated-out: held from seq "), "{text}");

    // No ledger at --ledger: the key is still shown.
    let mut c = env.bare();
    c.args(["--ledger", "nowhere", "--json", "key", "show", "stranger.pem"]);
    let v: Value = serde_json::from_str(&ok(c)).unwrap();
    assert_eq!(v["ledger"]["status"], "absent", "{v}");
    assert_eq!(v["ledger"]["message"], "no ledger at nowhere");
    assert_eq!(v["registration"], Value::Null);
    assert_eq!(v["public_key"].as_str().map(str::len), Some(64));
    let mut c = env.bare();
    c.args(["--ledger", "nowhere", "key", "show", "stranger.pem"]);
    assert!(ok(c).contains("actor       unknown: no ledger at nowhere\n"));

    // A ledger in use by another process: said so, key still shown, exit 0.
    let held = tinledger_ledger::Ledger::open(&env.ledger()).expect("open in the test process");
    let v = key_show(&env, "demo/keys/MINE-KOBA.pem");
    assert_eq!(v["ledger"]["status"], "locked", "{v}");
    assert!(v["ledger"]["message"].as_str().unwrap().contains("in use by another tinledger process"), "{v}");
    assert_eq!(v["registration"], Value::Null);
    drop(held);
    assert_eq!(key_show(&env, "demo/keys/MINE-KOBA.pem")["ledger"]["status"], "open");

    // Not a key at all.
    std::fs::write(env.path("junk.pem"), "not a key").unwrap();
    let mut c = env.cmd();
    c.args(["key", "show", "junk.pem"]);
    assert!(fails(c, 2).starts_with("tinledger: junk.pem holds no Ed25519 public or private key in PEM\n"));
}
