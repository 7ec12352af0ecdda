//! End-to-end tests: they run the real `tinledger` binary.

mod util;

mod certs;
mod concurrency;
mod golden;
mod keys;
mod reindex;
mod rules;
mod scenario;
mod tamper;
