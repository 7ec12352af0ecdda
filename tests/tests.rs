//! End-to-end tests: they run the real `tinledger` binary.

mod util;

mod audit;
mod bench;
mod bulk;
mod certs;
mod concurrency;
mod corrections;
mod crash;
mod ed25519;
mod golden;
mod io;
mod keys;
mod keys_encrypted;
mod layout;
mod logkey;
mod messages;
mod migrate;
mod page;
mod portable;
mod props;
mod queries;
mod readme;
mod reindex;
mod remote;
mod rules;
mod scenario;
mod server;
mod snapshots;
mod storage;
mod tamper;
mod tiles;
mod units;
mod unix;
mod witness_net;
