//! A random accepted event sequence through the real ledger: every
//! generated event is offered both to `rules::apply` on an in-memory
//! `Overlay` (as `Ledger::audit` replays) and to `Ledger::append` on a sled
//! ledger; both must accept or refuse it alike. Then `Ledger::audit` must
//! pass — it replays the chain and compares every stored index (lot and
//! actor states, history indices, key and event indices, hash tiles) with
//! what the replay rebuilds — and the stored lot and actor states must equal
//! the in-memory ones. The accepted sequence appended as one batch to a
//! second ledger must give the same head.
//!
//! The generator below is a copy of the one in crates/core/tests/props.rs
//! (this package has no proptest; ops come from a seeded xorshift instead).

use std::collections::HashMap;
use tinledger_core::rules::{self, LotState, Overlay};
use tinledger_ledger::{AuditOptions, Ledger};

#[path = "../crates/core/tests/gen/mod.rs"]
mod gen;
use gen::*;

#[test]
fn random_sequences_through_the_ledger_pass_audit() {
    const SEQUENCES: u64 = 6;
    const OPS: usize = 60;
    let seed: u64 = std::env::var("TINLEDGER_PROPS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x51de_2026);
    eprintln!("ledger props seed {seed} (set TINLEDGER_PROPS_SEED to replay)");
    let started = std::time::Instant::now();
    let (mut n_acc, mut n_ref) = (0usize, 0usize);
    let mut kinds: HashMap<&'static str, usize> = HashMap::new();
    for i in 0..SEQUENCES {
        let tmp = tempfile::tempdir().unwrap();
        let ops = xorshift_ops(seed.wrapping_add(i).wrapping_mul(0x9e37_79b9_7f4a_7c15), OPS);
        let setup = setup();
        let (mut l, _) = Ledger::create(&tmp.path().join("one"), &setup[0]).unwrap();
        let mut st = Overlay::empty();
        let mut accepted = Vec::new();
        for ev in &setup {
            let seq = accepted.len() as u64;
            let d = rules::apply(&st, seq, ev).unwrap();
            st.absorb(seq, &d);
            if seq > 0 {
                assert_eq!(l.append(ev).unwrap().seq, seq);
            }
            accepted.push(ev.clone());
        }
        for (n, op) in ops.iter().enumerate() {
            let Some(ev) = build(&st, n, *op) else { continue };
            let seq = accepted.len() as u64;
            let what = ev.event().describe();
            match (rules::apply(&st, seq, &ev), l.append(&ev)) {
                (Ok(d), Ok(r)) => {
                    assert_eq!(r.seq, seq, "sequence {i}: {what}");
                    assert_eq!(r.flags, d.flags, "sequence {i}: {what}");
                    st.absorb(seq, &d);
                    *kinds.entry(ev.event().body.kind()).or_default() += 1;
                    accepted.push(ev);
                    n_acc += 1;
                }
                (Err(m), Err(tinledger_ledger::LedgerError::Refused { source, .. })) => {
                    assert_eq!(m, source, "sequence {i}, seq {seq}: {what}: refused for another reason");
                    n_ref += 1;
                }
                (mem, disk) => panic!(
                    "sequence {i}, seq {seq}: {what}: in memory {:?}, ledger {:?}",
                    mem.map(|_| ()),
                    disk.map(|_| ())
                ),
            }
        }
        let rep = l.audit(&AuditOptions { indices: true, ..AuditOptions::default() });
        assert!(rep.ok, "sequence {i}: audit failed: {:?}", rep.fault);
        assert_eq!(rep.entries, accepted.len() as u64);
        let stored_lots = l.lots().unwrap();
        let mem_lots: Vec<LotState> = st.lots_sorted().into_iter().cloned().collect();
        assert_eq!(stored_lots, mem_lots, "sequence {i}: stored lot states differ from the replay");
        let mut mem_actors: Vec<_> = st.actors.values().cloned().collect();
        mem_actors.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        assert_eq!(l.actors().unwrap(), mem_actors, "sequence {i}: stored actor states differ");
        let head = l.head();
        drop(l);

        // The same accepted events as one batch: the same chain.
        let (mut b, _) = Ledger::create(&tmp.path().join("batch"), &accepted[0]).unwrap();
        b.append_batch(&accepted[1..]).unwrap();
        assert_eq!(b.head(), head, "sequence {i}: batch and single appends give different heads");
        assert!(b.audit(&AuditOptions { indices: true, ..AuditOptions::default() }).ok);
    }
    eprintln!(
        "ledger props: {SEQUENCES} sequences, {n_acc} accepted and {n_ref} refused appends ({kinds:?}) in {:.1?}",
        started.elapsed()
    );
}
