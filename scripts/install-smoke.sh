#!/usr/bin/env bash
# Installs the binary the way the README tells a new user to (`cargo install --path
# crates/rheo-server`, here with --debug so the test build is reused), then starts the installed
# `rheo` and talks to it with the AWS CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/start-rheo.sh
root=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$root"' EXIT
pid=
cargo install --locked --debug --quiet --path crates/rheo-server --root "$root"
"$root/bin/rheo" --version
start_rheo "$root/bin/rheo" "$root"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
aws="${AWS_CLI:-.venv/bin/aws}"
"$aws" kinesis create-stream --stream-name install-smoke --shard-count 1 --endpoint-url "$endpoint"
listed=$("$aws" kinesis list-streams --endpoint-url "$endpoint" --output text)
case "$listed" in
  *install-smoke*) ;;
  *) echo "the installed rheo does not list its stream: $listed"; exit 1 ;;
esac
echo "installed rheo works"
