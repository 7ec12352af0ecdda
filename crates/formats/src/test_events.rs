//! Events for the unit tests of this crate's formats.

use tinledger_core::event::PublicKey;
use tinledger_core::testkeys::test_key;
use tinledger_core::units::Timestamp;
use tinledger_core::{ActorId, Event, EventBody, LedgerId, SignedEvent};

/// A genesis event of ledger `id`, signed with the test key `AUTH`.
pub(crate) fn genesis(id: LedgerId) -> SignedEvent {
    let key = test_key("AUTH");
    let body = EventBody::Genesis {
        ledger_name: "test".into(),
        authority: ActorId::new("AUTH").unwrap(),
        authority_name: "Authority".into(),
        authority_key: PublicKey::from(&key),
    };
    let ev =
        Event { ledger_id: id, signer: ActorId::new("AUTH").unwrap(), at: Timestamp(1_800_000_000), note: None, body };
    ev.sign(&key).unwrap()
}
