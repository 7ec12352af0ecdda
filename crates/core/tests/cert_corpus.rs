//! The golden demo certificate verifies with the authority's TEST key, and
//! every file in fixtures/certificates/tampered fails with the error its
//! header states — checked with the core library alone.

use std::path::PathBuf;
use tinledger_core::cert::{self, Certificate};
use tinledger_core::checkpoint::origin_for;
use tinledger_core::event::PublicKey;
use tinledger_core::note::Verifier;
use tinledger_core::testkeys::test_key;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/certificates")
}

fn verifier(c: &Certificate) -> Verifier {
    Verifier::new(&origin_for(&c.ledger_id), PublicKey::from(&test_key("AUTH-BABEL")).0).unwrap()
}

#[test]
fn golden_certificate_verifies() {
    let text = std::fs::read_to_string(dir().join("demo-solder-007.cert.json")).unwrap();
    let c: Certificate = serde_json::from_str(&text).unwrap();
    let v = cert::verify(&c, &verifier(&c)).unwrap();
    assert_eq!(v.entries, c.entries.len());
    let shares: u64 = c.summary.origins.iter().map(|o| o.share_ppb).sum();
    assert_eq!(shares, cert::SHARE_DENOM);
}

#[test]
fn tampered_corpus() {
    let base: Certificate =
        serde_json::from_str(&std::fs::read_to_string(dir().join("demo-solder-007.cert.json")).unwrap()).unwrap();
    let mut n = 0;
    for e in std::fs::read_dir(dir().join("tampered")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        let expect = header.split(" | expect: ").nth(1).unwrap();
        let (code, needle) = expect.split_once(": ").unwrap();
        let c: Certificate = serde_json::from_str(body).unwrap();
        // Trust is the genuine authority key of the genuine ledger.
        let e = cert::verify(&c, &verifier(&base)).expect_err(&format!("{} verified", p.display()));
        assert_eq!(e.code, code, "{}: {}", p.display(), e.msg);
        assert!(e.msg.contains(needle), "{}: {}", p.display(), e.msg);
        n += 1;
    }
    assert!(n >= 15, "only {n} tampered certificates");
}
