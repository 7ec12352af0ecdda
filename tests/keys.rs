//! Key files against the real `openssl` binary: tinledger's keys are plain
//! PKCS#8/SPKI Ed25519, OpenSSL's keys work in tinledger, and tinledger's
//! signatures verify in OpenSSL over the documented message.

use crate::util::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command as Std;

pub(crate) const AT: &str = "2026-04-01T00:00:00Z";

/// Run openssl with `args` in `dir`; returns (success, stdout, stderr).
pub(crate) fn openssl(dir: &Path, args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = Std::new("openssl").current_dir(dir).args(args).output().expect("openssl is installed");
    (out.status.success(), out.stdout, String::from_utf8_lossy(&out.stderr).to_string())
}

pub(crate) fn openssl_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let (ok, out, err) = openssl(dir, args);
    assert!(ok, "openssl {args:?} failed: {err}");
    out
}

/// Set a file's Unix permission bits.
pub(crate) fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// `openssl genpkey -algorithm ed25519 -out FILE [extra...]`, then chmod 600:
/// tinledger refuses private key files that others can read (docs/keys.md),
/// and OpenSSL versions differ in the mode they create keys with.
pub(crate) fn genpkey(dir: &Path, file: &str, extra: &[&str]) {
    let mut args = vec!["genpkey", "-algorithm", "ed25519", "-out", file];
    args.extend_from_slice(extra);
    openssl_ok(dir, &args);
    chmod(&dir.join(file), 0o600);
}

/// The raw 32-byte public key of a PEM key file (private or public), via
/// OpenSSL: the last 32 bytes of the SubjectPublicKeyInfo DER.
pub(crate) fn openssl_public_key(dir: &Path, pem: &str, pubin: bool) -> String {
    let mut args = vec!["pkey", "-in", pem];
    if pubin {
        args.push("-pubin");
    }
    args.extend(["-pubout", "-outform", "DER"]);
    let der = openssl_ok(dir, &args);
    assert_eq!(der.len(), 44, "Ed25519 SPKI is 44 bytes");
    hex::encode(&der[12..])
}

#[test]
fn keygen_writes_a_private_pkcs8_key_once() {
    let env = Env::new();
    let dir = env.tmp.path();
    let out = env.bare().args(["keygen", "--out", "k.pem"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let printed = text
        .lines()
        .find_map(|l| l.strip_prefix("public key:"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no public key printed: {text}"));
    assert_eq!(printed.len(), 64, "{text}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("k.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
    }
    let pem = std::fs::read_to_string(env.path("k.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");

    // OpenSSL reads it as an Ed25519 key with the printed public key.
    let (ok, txt, err) = openssl(dir, &["pkey", "-in", "k.pem", "-noout", "-text"]);
    assert!(ok, "{err}");
    assert!(String::from_utf8_lossy(&txt).contains("ED25519"), "{}", String::from_utf8_lossy(&txt));
    assert_eq!(openssl_public_key(dir, "k.pem", false), printed);

    // --json reports the same key.
    let out = env.bare().args(["--json", "keygen", "--out", "k2.pem"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["public_key"].as_str().unwrap(), openssl_public_key(dir, "k2.pem", false));
    assert_ne!(v["public_key"].as_str().unwrap(), printed, "keys are random");

    // Never overwrites.
    let err = fails_with(
        {
            let mut c = env.bare();
            c.args(["keygen", "--out", "k.pem"]);
            c
        },
        2,
    );
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read_to_string(env.path("k.pem")).unwrap(), pem, "the old key is intact");
    assert_eq!(openssl_public_key(dir, "k.pem", false), printed);
}

#[test]
fn openssl_keys_register_and_sign() {
    let env = Env::new();
    env.demo();
    let dir = env.tmp.path();
    let auth = env.key("AUTH-BABEL");

    // A mine whose key OpenSSL made, registered from the private key file.
    genpkey(dir, "o.pem", &[]);
    // A collector registered from an OpenSSL public key file.
    genpkey(dir, "p.pem", &[]);
    openssl_ok(dir, &["pkey", "-in", "p.pem", "-pubout", "-out", "p.pub.pem"]);
    let o_pub = openssl_public_key(dir, "o.pem", false);
    let p_pub = openssl_public_key(dir, "p.pub.pem", true);

    let mut c = env.cmd();
    c.args(["actor", "register", "--key"]).arg(&auth).args([
        "--at",
        AT,
        "--id",
        "MINE-OSSL",
        "--name",
        "OpenSSL mine",
        "--role",
        "mine",
        "--iup",
        "IUP-OSSL-1",
        "--public-key",
        "o.pem",
    ]);
    c.assert().success();
    let mut c = env.cmd();
    c.args(["actor", "register", "--key"]).arg(&auth).args([
        "--at",
        AT,
        "--id",
        "COLLECTOR-OSSL",
        "--name",
        "OpenSSL collector",
        "--role",
        "collector",
        "--public-key",
        "p.pub.pem",
    ]);
    c.assert().success();
    for (id, want) in [("MINE-OSSL", &o_pub), ("COLLECTOR-OSSL", &p_pub)] {
        let out = env.cmd().args(["actor", "show", id, "--json"]).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["record"]["key"].as_str(), Some(want.as_str()), "{id}: {v}");
    }

    // Both sign with their OpenSSL private keys (signer found from the key).
    let run = |args: &[&str]| {
        let mut c = env.cmd();
        c.args(args);
        let out = c.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "record",
        "extract",
        "--key",
        "o.pem",
        "--at",
        AT,
        "--lot",
        "OSSL-1",
        "--mass",
        "500kg",
        "--grade",
        "65%",
        "--licence",
        "IUP-OSSL-1",
        "--location=-2.1,106.1",
    ]);
    run(&[
        "record",
        "dispatch",
        "--key",
        "o.pem",
        "--at",
        AT,
        "--lot",
        "OSSL-1",
        "--to",
        "COLLECTOR-OSSL",
        "--document",
        "SJ-OSSL-1",
    ]);
    run(&["record", "receive", "--key", "p.pem", "--at", AT, "--lot", "OSSL-1", "--mass", "500kg"]);
    let v = env.verify_json();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], 54);
    let out = env.cmd().args(["lot", "OSSL-1", "--json"]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["lot"]["custodian"], "COLLECTOR-OSSL");

    // Offline signing with an OpenSSL key, then submit.
    let id = {
        let out = env.cmd().args(["show", "0", "--json"]).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["event"]["ledger_id"].as_str().unwrap().to_string()
    };
    let mut c = env.bare();
    c.args([
        "sign",
        "dispatch",
        "--key",
        "p.pem",
        "--as",
        "COLLECTOR-OSSL",
        "--ledger-id",
        &id,
        "--at",
        AT,
        "--out",
        "d.json",
    ])
    .args(["--lot", "OSSL-1", "--to", "SMELTER-MUNTOK", "--document", "SJ-OSSL-2"]);
    c.assert().success();
    run(&["submit", "d.json"]);
    assert_eq!(env.state().0, 55);
}

#[test]
fn tinledger_signatures_verify_in_openssl() {
    let env = Env::new();
    env.demo();
    let dir = env.tmp.path();
    // Entries signed by the mine, the authority, and the smelter's rotated-in key.
    for (seq, key) in [(12u64, "MINE-AIRGEGAS"), (0, "AUTH-BABEL"), (35, "SMELTER-MUNTOK-2"), (42, "EXPORTER-MUNTOK")] {
        let out = env.cmd().args(["show", &seq.to_string(), "--json"]).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut msg = b"tinledger-event-v1\0".to_vec();
        msg.extend(hex::decode(v["event_hex"].as_str().unwrap()).unwrap());
        let sig = hex::decode(v["signature"].as_str().unwrap()).unwrap();
        assert_eq!(sig.len(), 64);
        std::fs::write(env.path("msg.bin"), &msg).unwrap();
        std::fs::write(env.path("sig.bin"), &sig).unwrap();
        let key_file = env.key(key).display().to_string();
        let pub_file = format!("{key}.pub.pem");
        let _ = std::fs::remove_file(env.path(&pub_file));
        openssl_ok(dir, &["pkey", "-in", &key_file, "-pubout", "-out", &pub_file]);
        let verify =
            ["pkeyutl", "-verify", "-pubin", "-inkey", &pub_file, "-rawin", "-in", "msg.bin", "-sigfile", "sig.bin"];
        let (ok, out, err) = openssl(dir, &verify);
        assert!(ok, "seq {seq}: openssl rejects tinledger's signature: {err}");
        assert!(String::from_utf8_lossy(&out).contains("Signature Verified Successfully"));

        // Control: one changed message byte, or the context prefix left out, fails.
        let mut bad = msg.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(env.path("msg.bin"), &bad).unwrap();
        assert!(!openssl(dir, &verify).0, "seq {seq}: a changed message must not verify");
        std::fs::write(env.path("msg.bin"), &msg[b"tinledger-event-v1\0".len()..]).unwrap();
        assert!(!openssl(dir, &verify).0, "seq {seq}: the signature covers the context prefix");
    }
}

#[test]
fn malformed_key_files_are_usage_errors() {
    let env = Env::new();
    env.demo();
    let dir = env.tmp.path();
    std::fs::write(env.path("garbage.pem"), "this is not a key\n").unwrap();
    std::fs::write(
        env.path("truncated.pem"),
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(env.path("empty.pem"), "").unwrap();
    std::fs::write(env.path("binary.pem"), [0xffu8, 0xfe, 0x00, 0x80, 0x12]).unwrap();
    openssl_ok(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem"]);
    openssl_ok(dir, &["genpkey", "-algorithm", "ed448", "-out", "ed448.pem"]);
    genpkey(dir, "good.pem", &[]);
    openssl_ok(dir, &["pkey", "-in", "good.pem", "-pubout", "-out", "good.pub.pem"]);
    let before = env.state();

    let one_line = |err: &str, what: &str| {
        let lines: Vec<&str> = err.lines().collect();
        assert!(!lines.is_empty(), "{what}: no message");
        assert!(lines[0].starts_with("tinledger: "), "{what}: {err}");
        // One line of message, optionally one `hint:` line.
        assert!(lines.len() == 1 || (lines.len() == 2 && lines[1].starts_with("hint: ")), "{what}: {err}");
    };

    // As a signing key.
    for (file, needle) in [
        ("garbage.pem", "is not an Ed25519 private key in PKCS#8 PEM"),
        ("truncated.pem", "is not an Ed25519 private key in PKCS#8 PEM"),
        ("empty.pem", "is not an Ed25519 private key in PKCS#8 PEM"),
        ("binary.pem", "binary.pem"),
        ("ec.pem", "is not an Ed25519 private key in PKCS#8 PEM"),
        ("ed448.pem", "is not an Ed25519 private key in PKCS#8 PEM"),
        ("good.pub.pem", "is not an Ed25519 private key in PKCS#8 PEM"),
        ("missing.pem", "missing.pem"),
    ] {
        let mut c = env.cmd();
        c.args([
            "record",
            "extract",
            "--key",
            file,
            "--at",
            AT,
            "--lot",
            "X-1",
            "--mass",
            "1kg",
            "--licence",
            "L",
            "--location=-2.1,106.1",
        ]);
        let err = fails_with(c, 2);
        assert!(err.contains(needle), "{file}: {err}");
        one_line(&err, file);
    }

    // As a public key to register.
    for (arg, needle) in [
        ("garbage.pem", "holds no Ed25519 public or private key in PEM"),
        ("truncated.pem", "holds no Ed25519 public or private key in PEM"),
        ("ec.pem", "holds no Ed25519 public or private key in PEM"),
        ("ed448.pem", "holds no Ed25519 public or private key in PEM"),
        ("missing.pem", "is neither 64 hex digits nor an existing PEM file"),
        ("abcd", "is neither 64 hex digits nor an existing PEM file"),
    ] {
        let mut c = env.cmd();
        c.args(["actor", "register", "--key"]).arg(env.key("AUTH-BABEL")).args([
            "--at",
            AT,
            "--id",
            "NEW-ACTOR",
            "--name",
            "n",
            "--role",
            "collector",
            "--public-key",
            arg,
        ]);
        let err = fails_with(c, 2);
        assert!(err.contains(needle), "{arg}: {err}");
        one_line(&err, arg);
    }
    // 64 hex digits of a weak (small-order) key: the identity point.
    let weak = format!("01{}", "00".repeat(31));
    let mut c = env.cmd();
    c.args(["actor", "register", "--key"]).arg(env.key("AUTH-BABEL")).args([
        "--at",
        AT,
        "--id",
        "NEW-ACTOR",
        "--name",
        "n",
        "--role",
        "collector",
        "--public-key",
        &weak,
    ]);
    let err = fails_with(c, 2);
    assert!(err.contains("weak (small-order) key"), "{err}");
    one_line(&err, "weak key");

    assert_eq!(env.state(), before, "nothing was appended");
}

/// `key show --json` of FILE, parsed.
pub(crate) fn key_show(env: &Env, file: &str) -> Value {
    let out = env.cmd().args(["--json", "key", "show", file]).output().unwrap();
    assert!(out.status.success(), "key show {file}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn key_show_prints_what_openssl_pubout_prints() {
    let env = Env::new();
    let dir = env.tmp.path();
    genpkey(dir, "o.pem", &[]);
    let pubout = String::from_utf8(openssl_ok(dir, &["pkey", "-in", "o.pem", "-pubout"])).unwrap();
    openssl_ok(dir, &["pkey", "-in", "o.pem", "-pubout", "-out", "o.pub.pem"]);
    let raw = openssl_public_key(dir, "o.pem", false);

    // The private key, the SPKI public key file and the hex all show the same key.
    for (arg, source) in [("o.pem", "private-key"), ("o.pub.pem", "public-key"), (raw.as_str(), "hex")] {
        let v = key_show(&env, arg);
        assert_eq!(v["public_key_pem"].as_str(), Some(pubout.as_str()), "{arg}: {v}");
        assert_eq!(v["public_key"].as_str(), Some(raw.as_str()), "{arg}: {v}");
        assert_eq!(v["source"], source, "{arg}: {v}");
        let b64 = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            v["public_key_base64"].as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(hex::encode(b64), raw);
        // key id: first 8 bytes of SHA-256 of the raw key (docs/cli.md 1.5).
        let id = hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(hex::decode(&raw).unwrap())[..8]);
        assert_eq!(v["key_id"].as_str(), Some(id.as_str()));
    }
    // The text output ends with the very PEM OpenSSL prints.
    let out = env.cmd().args(["key", "show", "o.pem"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.ends_with(&pubout), "{text}");
    assert!(text.contains(&format!("public key  {raw}")), "{text}");
}

#[test]
fn private_key_files_others_can_read_are_refused() {
    let env = Env::new();
    env.demo();
    let dir = env.tmp.path();
    let before = env.state();
    genpkey(dir, "o.pem", &[]);
    openssl_ok(dir, &["pkey", "-in", "o.pem", "-pubout", "-out", "o.pub.pem"]);
    std::fs::copy(env.key("MINE-KOBA"), env.path("koba.pem")).unwrap();
    let extract = |key: &str| {
        let mut c = env.cmd();
        c.args(["record", "extract", "--key", key, "--at", AT, "--lot", "PERM-1", "--mass", "1kg"]).args([
            "--licence",
            "IUP-OP 540/112/KOBA/2019",
            "--location=-2.49,106.41",
        ]);
        c
    };
    extract("koba.pem").assert().success();
    let after_ok = env.state();
    assert_eq!(after_ok.0, before.0 + 1);

    for (mode, shown) in [(0o644, "0644"), (0o640, "0640"), (0o604, "0604"), (0o620, "0620")] {
        chmod(&env.path("koba.pem"), mode);
        let err = fails_with(extract("koba.pem"), 2);
        assert_eq!(
            err.lines().next().unwrap(),
            format!("tinledger: key file koba.pem is readable by other users (mode {shown}); run chmod 600 koba.pem"),
            "{err}"
        );
        // Also as a --public-key source, and for key show, and for the OpenSSL key.
        chmod(&env.path("o.pem"), mode);
        let mut c = env.cmd();
        c.args(["key", "show", "o.pem"]);
        let err = fails_with(c, 2);
        assert!(err.contains("key file o.pem is readable by other users"), "{err}");
        let mut c = env.cmd();
        c.args(["actor", "register", "--key"]).arg(env.key("AUTH-BABEL")).args([
            "--at",
            AT,
            "--id",
            "PERM-ACTOR",
            "--name",
            "n",
            "--role",
            "collector",
            "--public-key",
            "o.pem",
        ]);
        let err = fails_with(c, 2);
        assert!(err.contains("key file o.pem is readable by other users"), "{err}");
    }
    assert_eq!(env.state(), after_ok, "nothing was appended");

    // Public key files are not checked.
    chmod(&env.path("o.pub.pem"), 0o644);
    assert_eq!(key_show(&env, "o.pub.pem")["source"], "public-key");
    // 0600 and 0400 are fine.
    for mode in [0o600, 0o400] {
        chmod(&env.path("o.pem"), mode);
        assert_eq!(key_show(&env, "o.pem")["source"], "private-key");
    }
}
