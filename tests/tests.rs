//! End-to-end tests: they run the real `tinledger` binary.

mod util;

mod certs;
mod concurrency;
mod crash;
mod golden;
mod keys;
mod portable;
mod props;
mod reindex;
mod rules;
mod scenario;
mod tamper;
