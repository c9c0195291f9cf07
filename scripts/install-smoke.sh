#!/usr/bin/env bash
# Installs the binary the way the README tells a new user to (`cargo install --path
# crates/rheo-server`, here with --debug so the test build is reused), then starts the installed
# `rheo` and talks to it with the AWS CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$root"' EXIT
pid=
cargo install --locked --debug --quiet --path crates/rheo-server --root "$root"
"$root/bin/rheo" --version
"$root/bin/rheo" serve --port 0 --data-dir "$root/data" >"$root/out" 2>"$root/err" &
pid=$!
for _ in $(seq 1 100); do
  grep -q 'rheo ready on' "$root/out" 2>/dev/null && break
  sleep 0.1
done
endpoint=$(grep -o 'http://[0-9.:]*' "$root/out" | head -n 1)
[ -n "$endpoint" ] || { cat "$root/err"; echo "the installed rheo did not start"; exit 1; }
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
aws="${AWS_CLI:-.venv/bin/aws}"
"$aws" kinesis create-stream --stream-name install-smoke --shard-count 1 --endpoint-url "$endpoint"
listed=$("$aws" kinesis list-streams --endpoint-url "$endpoint" --output text)
case "$listed" in
  *install-smoke*) ;;
  *) echo "the installed rheo does not list its stream: $listed"; exit 1 ;;
esac
echo "installed rheo works"
