//! End-to-end tests: the real `rheo` binary driven by the official `aws-sdk-kinesis` client.
//!
//! Each test starts its own server on an ephemeral port (see `harness`), so the tests are
//! independent and run in parallel. Servers run on the disk engine in a temporary directory;
//! `RHEO_TEST_STORAGE=memory` runs them `--in-memory`. Set `RHEO_TEST_LOG=1` to see the servers' logs.

// Test code may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod errors;
mod h2;
mod harness;
mod limits;
mod records;
mod reshard;
mod streams;
mod subscribe;
mod util;
