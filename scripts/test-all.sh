#!/usr/bin/env bash
# Runs every test of the project: formatting and lints, the Rust unit/property/integration tests
# (including the aws-sdk-kinesis suite against the real binary), the black-box pytest suites with
# boto3, the AWS CLI and CBOR (including the kill -9 crash test), the JavaScript SDK v3 suite with
# its default (HTTP/2) client, and a benchmark smoke run that verifies its counts. Installs the
# Python test dependencies into ./.venv on first use and the Node ones with `npm ci` in tests/js.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build"
cargo build --workspace --locked

step "cargo test (the SDK suite's servers on the disk engine)"
RHEO_TEST_STORAGE=disk cargo test --workspace --locked

step "SDK suite in memory"
RHEO_TEST_STORAGE=memory cargo test -p rheo-server --test sdk --locked

step "python test environment"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import boto3, awscli, pytest, cbor2, pytest_timeout' 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
fi
export PATH="$PWD/.venv/bin:$PATH"

step "protocol answers parsed by botocore (no server)"
.venv/bin/python -m pytest tests/proto -q -p no:cacheprovider

step "black-box tests on the disk engine (boto3, AWS CLI, CBOR, crash)"
RHEO_BIN="$PWD/target/debug/rheo" RHEO_BLACKBOX_STORAGE=disk \
  .venv/bin/python -m pytest tests/blackbox -q -p no:cacheprovider

step "black-box tests in memory"
RHEO_BIN="$PWD/target/debug/rheo" RHEO_BLACKBOX_STORAGE=memory \
  .venv/bin/python -m pytest tests/blackbox -q -p no:cacheprovider

step "JavaScript SDK v3, default client (HTTP/2), on the disk engine"
# Not skipped when node is missing: .ci/run installs it, and a silent skip would hide the one
# client that speaks HTTP/2 by default.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "tests/js needs node >= 20 and npm (found: $(node --version 2>/dev/null || echo none)); .ci/run installs them" >&2
  exit 1
fi
rheo_bin="$PWD/target/debug/rheo"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error && RHEO_BIN="$rheo_bin" npm test)

step "benchmark smoke run"
scripts/bench-smoke.sh

step "cargo install --path crates/rheo-server, as the README says (debug profile: reuses the build above)"
scripts/install-smoke.sh
