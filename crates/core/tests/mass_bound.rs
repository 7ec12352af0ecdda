//! The mass bound is field syntax (`EventBody::check`): an event over it can
//! be neither signed nor decoded, so `verify`'s replay, `import-ledger` and
//! certificate verification refuse it exactly where appending does.

use tinledger_core::codec;
use tinledger_core::event::{signing_message, Event, EventBody};
use tinledger_core::testkeys::test_key;
use tinledger_core::units::{Timestamp, MAX_MASS_G};
use tinledger_core::{ActorId, LedgerId, LotId, SignedEvent};

fn receive(mass_g: u64) -> Event {
    Event {
        ledger_id: LedgerId([7; 16]),
        signer: ActorId::new("SMELTER-MUNTOK").unwrap(),
        at: Timestamp(1_700_000_000),
        note: None,
        body: EventBody::Receive { lot: LotId::new("KOB-2026-0001").unwrap(), mass_g },
    }
}

#[test]
fn a_mass_over_the_bound_is_neither_signed_nor_decoded() {
    let key = test_key("mass bound");
    assert!(receive(MAX_MASS_G).sign(&key).is_ok());
    let e = receive(MAX_MASS_G + 1).sign(&key).unwrap_err();
    assert_eq!(e, "received mass 10,000,000.001 kg is more than 10,000,000.000 kg, the largest mass tinledger records");
    // Bytes made behind tinledger's back, correctly signed, still do not decode.
    let bytes = codec::encode(&receive(MAX_MASS_G + 1));
    use ed25519_dalek::Signer;
    let sig = key.sign(&signing_message(&bytes)).to_bytes();
    let e = SignedEvent::from_parts(bytes, sig).unwrap_err();
    assert!(e.to_string().contains("is more than 10,000,000.000 kg"), "{e}");
    let ok = codec::encode(&receive(MAX_MASS_G));
    let sig = key.sign(&signing_message(&ok)).to_bytes();
    assert!(SignedEvent::from_parts(ok, sig).is_ok());
}
