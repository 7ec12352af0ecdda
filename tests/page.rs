//! The certificate page (`tinledger cert render`, docs/certificates.md §13):
//! refused unless the certificate verifies or `--unverified` is given, what
//! the page shows, and how it prints in headless Chromium (A4, nothing lost).

use crate::util::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `cert render demo/certificate.json --html OUT` with extra arguments, run in the temp dir.
fn render(env: &Env, cert: &str, out: &str, extra: &[&str]) -> assert_cmd::Command {
    let mut c = env.bare();
    c.env("COLUMNS", "100").args(["cert", "render", cert, "--html", out]).args(extra);
    c
}

const AUTH: &[&str] = &["--authority-key", "demo/keys/AUTH-BABEL.pub.pem"];

/// The demo certificate with one hex digit of the exporter's signature changed.
fn tampered(env: &Env) -> &'static str {
    let text = std::fs::read_to_string(env.path("demo/certificate.json")).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let sig = v["signature"].as_str().unwrap().to_string();
    let flipped = format!("{}{}", if sig.starts_with('0') { '1' } else { '0' }, &sig[1..]);
    v["signature"] = Value::String(flipped);
    std::fs::write(env.path("bad.cert.json"), serde_json::to_string_pretty(&v).unwrap()).unwrap();
    "bad.cert.json"
}

/// stdout, stderr and exit code, with the temp dir replaced, for a snapshot.
fn transcript(env: &Env, mut c: assert_cmd::Command, shown: &str) -> String {
    let out = c.output().unwrap();
    let text = format!(
        "$ tinledger {shown}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("panicked"), "{text}");
    text.replace(&env.tmp.path().to_string_lossy().to_string(), "[TMP]")
}

#[test]
fn render_refuses_a_certificate_that_does_not_verify() {
    let env = Env::new();
    env.demo();
    let bad = tampered(&env);
    let text = transcript(
        &env,
        render(&env, bad, "bad.html", AUTH),
        "cert render bad.cert.json --html bad.html --authority-key demo/keys/AUTH-BABEL.pub.pem",
    );
    assert!(text.contains("\nexit: 1\n"), "{text}");
    assert!(!env.path("bad.html").exists(), "a page was written for a certificate that does not verify");
    insta::assert_snapshot!("cert_render_refuses_unverifiable", text);
    // A good certificate with the wrong authority key is refused too.
    let text = transcript(
        &env,
        render(&env, "demo/certificate.json", "wrong.html", &["--authority-key", "demo/keys/MINE-KOBA.pem"]),
        "cert render demo/certificate.json --html wrong.html --authority-key demo/keys/MINE-KOBA.pem",
    );
    assert!(!text.contains("\nexit: 0\n") && !env.path("wrong.html").exists(), "{text}");
    // Neither a key nor --unverified: a usage error naming both.
    let text = transcript(
        &env,
        render(&env, "demo/certificate.json", "none.html", &[]),
        "cert render demo/certificate.json --html none.html",
    );
    assert!(text.contains("\nexit: 2\n") && text.contains("--authority-key"), "{text}");
    assert!(!env.path("none.html").exists());
    insta::assert_snapshot!("cert_render_needs_a_key", text);
}

#[test]
fn render_unverified_says_so_on_the_page() {
    let env = Env::new();
    env.demo();
    let bad = tampered(&env);
    let text = transcript(
        &env,
        render(&env, bad, "bad.html", &["--unverified"]),
        "cert render bad.cert.json --html bad.html --unverified",
    );
    assert!(text.contains("\nexit: 0\n"), "{text}");
    insta::assert_snapshot!("cert_render_unverified", text);
    let html = std::fs::read_to_string(env.path("bad.html")).unwrap();
    assert!(html.contains("<div class=\"verdict bad\" role=\"alert\"><strong>NOT VERIFIED"));
    assert!(html.contains("TIDAK TERVERIFIKASI"));
    assert!(html.contains("<title>[NOT VERIFIED] Certificate of tin provenance"));
    assert!(html.contains("@top-center{content:\"NOT VERIFIED / TIDAK TERVERIFIKASI\""), "every printed page");
    assert!(html.contains("NOT VERIFIED when rendered"));
    assert!(!html.contains("Verified when rendered"));
    assert!(html.contains("as the certificate's entries state it (not checked)"));
    // --unverified and a key together make no sense.
    let c = render(&env, bad, "x.html", &["--unverified", "--authority-key", "demo/keys/AUTH-BABEL.pub.pem"]);
    fails_with(c, 2);
}

#[test]
fn verified_page_shows_authority_grades_balance_times_labels_and_hash() {
    let env = Env::new();
    env.demo();
    render(&env, "demo/certificate.json", "ok.html", AUTH).assert().success();
    let html = std::fs::read_to_string(env.path("ok.html")).unwrap();
    // The demo writes the same page.
    assert_eq!(html, std::fs::read_to_string(env.path("demo/certificate.html")).unwrap());
    let auth = tinledger_core::event::PublicKey::from(&tinledger_core::testkeys::test_key("AUTH-BABEL"));
    assert!(html.contains("<strong>Verified when rendered"));
    assert!(html.contains(&format!("<span class=\"mono fp\">{}</span>", auth.key_id())), "fingerprint");
    assert!(html.contains(&auth.to_hex()));
    assert!(html.contains("<span class=\"mono\">AUTH-BABEL</span>"));
    // Grades: the Koba assay used by the smelt, the mine's declared grade for AGG-2026-0002.
    assert!(html.contains("Assayed<span class=\"bi\" lang=\"id\"> / Hasil uji</span> by <span class=\"mono\">LAB-PANGKALPINANG</span><span class=\"sub\">entry 33"));
    assert!(html.contains("Declared<span class=\"bi\" lang=\"id\"> / Dinyatakan</span> by <span class=\"mono\">MINE-AIRGEGAS</span><span class=\"sub\">entry 13"));
    assert!(html.contains("mass-weighted mean of merge entry 28"));
    // The smelt's balance: 3,649.200 kg in.
    assert!(html.contains("Neraca massa peleburan"));
    assert!(html.contains("<td class=\"num\">3,649.200 kg</td>"), "mass in");
    assert!(html.contains("Rendemen"));
    // WIB beside UTC: the export at 02:00 UTC is 09:00 WIB; the issue at 00:00 UTC is 07:00 WIB.
    assert!(html.contains("2026-03-16 02:00 UTC \u{00b7} 09:00 WIB"));
    assert!(html.contains("<span class=\"sub\">07:00 WIB</span>"));
    for label in
        ["Sertifikat Asal Timah", "Massa", "Kadar", "Tambang asal", "Ekspor", "Smelter (peleburan)", "Kandungan timah"]
    {
        assert!(html.contains(label), "{label}");
    }
    // The file's SHA-256, in full and short, and the QR code.
    let full = hex::encode(Sha256::digest(std::fs::read(env.path("demo/certificate.json")).unwrap()));
    assert!(html.contains(&format!("SHA-256 {full}")));
    let short = format!("{} {} {} {}", &full[0..4], &full[4..8], &full[8..12], &full[12..16]);
    assert!(html.contains(&format!("<div class=\"short mono\">{short}</div>")));
    assert!(html.contains(&format!("aria-label=\"QR code: sha256:{full}\"")));
    assert!(html.contains("@media print") && html.contains("size:A4"));
}

/// Run `cmd` for at most `limit`, killing it after; true if it exited 0.
fn run_bounded(mut cmd: Command, limit: Duration) -> bool {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromium");
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.success();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn chromium() -> PathBuf {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh").args(["-c", &format!("command -v {c}")]).output() {
            if out.status.success() {
                return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            }
        }
    }
    panic!("chromium not found: install it (apt-get install chromium poppler-utils; .ci/run does)");
}

/// Headless Chromium with a throwaway profile; `--no-sandbox` because CI runs as root.
fn headless(env: &Env, html: &Path, out_flag: String, extra: &[&str]) -> Command {
    let mut c = Command::new(chromium());
    c.args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", env.path("chromium-profile").display()))
        .arg("--no-pdf-header-footer")
        .args(extra)
        .arg(out_flag)
        .arg(format!("file://{}", html.display()));
    c
}

fn pdf_text(pdf: &Path, page: Option<u32>) -> String {
    let mut c = Command::new("pdftotext");
    if let Some(p) = page {
        c.args(["-f", &p.to_string(), "-l", &p.to_string()]);
    }
    let out = c.arg(pdf).arg("-").output().expect("pdftotext (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// (pages, page size line) from pdfinfo.
fn pdf_info(pdf: &Path) -> (u32, String) {
    let out = Command::new("pdfinfo").arg(pdf).output().expect("pdfinfo (poppler-utils)");
    assert!(out.status.success());
    let info = String::from_utf8_lossy(&out.stdout).to_string();
    let field =
        |k: &str| info.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_string()).unwrap_or_default();
    (field("Pages:").parse().unwrap_or(0), field("Page size:"))
}

/// Render, screenshot and print the demo page; the PDF is A4 and its text
/// holds every part of the page. With TINLEDGER_BLESS=1 the screenshot, PDF
/// and page are copied to docs/ (docs/certificate-*).
#[test]
fn page_prints_on_a4_in_headless_chromium_without_losing_content() {
    let env = Env::new();
    env.demo();
    let html = env.path("demo/certificate.html");
    let pdf = env.path("page.pdf");
    let png = env.path("page.png");
    let limit = Duration::from_secs(120);
    assert!(run_bounded(headless(&env, &html, format!("--print-to-pdf={}", pdf.display()), &[]), limit));
    assert!(run_bounded(
        headless(
            &env,
            &html,
            format!("--screenshot={}", png.display()),
            &["--window-size=1280,5600", "--hide-scrollbars"]
        ),
        limit
    ));
    assert!(std::fs::metadata(&png).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot");
    let (pages, size) = pdf_info(&pdf);
    // A4 is 595.28 x 841.89 pt; Chromium rounds to its own units.
    let dims: Vec<f64> = size.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(dims.len() == 2 && (dims[0] - 595.28).abs() < 1.0 && (dims[1] - 841.89).abs() < 1.0, "not A4: {size}");
    assert!((2..=8).contains(&pages), "{pages} pages");
    let text = pdf_text(&pdf, None);
    // Headings are upper-cased and letter-spaced by CSS (pdftotext may split
    // their words; it drops the hyphen where an id wraps): compare without
    // case, white space or hyphens.
    let squash = |t: &str| -> String {
        t.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_lowercase()
    };
    let squashed = squash(&text);
    let c: Value = serde_json::from_str(&std::fs::read_to_string(env.path("demo/certificate.json")).unwrap()).unwrap();
    let full = hex::encode(Sha256::digest(std::fs::read(env.path("demo/certificate.json")).unwrap()));
    let mut want: Vec<String> = vec![
        "Certificate of tin provenance".into(),
        "Sertifikat Asal Timah".into(),
        "SOLDER-KEK-2026-007".into(),
        format!("{} {} {} {}", &full[0..4], &full[4..8], &full[8..12], &full[12..16]),
        "Neraca massa".into(),
        "Rendemen".into(),
        "Hasil uji".into(),
        "WIB".into(),
        "Cara memverifikasi".into(),
        "Verified when rendered".into(),
    ];
    for o in c["summary"]["origins"].as_array().unwrap() {
        want.push(o["mine"].as_str().unwrap().into());
    }
    for t in c["summary"]["timeline"].as_array().unwrap() {
        // The signer of every timeline row, and the last row's description.
        want.push(t["signer"].as_str().unwrap().into());
    }
    want.push("EXPORTER-MUNTOK exported SOLDER-KEK-2026-007".replace("EXPORTER-MUNTOK ", ""));
    for w in &want {
        assert!(squashed.contains(&squash(w)), "the printed page lost {w:?}");
    }
    // The exporter's signature is the page's last content: it must be there, whole.
    let sig_digits: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    assert!(sig_digits.contains(c["signature"].as_str().unwrap()), "signature cut off in print");
    // Every page carries the footer with its number.
    for p in 1..=pages {
        assert!(pdf_text(&pdf, Some(p)).contains(&format!("Page {p} of {pages}")), "page {p} footer");
    }
    if std::env::var_os("TINLEDGER_BLESS").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::copy(&png, docs.join("certificate-screenshot.png")).unwrap();
        std::fs::copy(&pdf, docs.join("certificate-example.pdf")).unwrap();
        std::fs::copy(&html, docs.join("certificate-example.html")).unwrap();
    }
}
