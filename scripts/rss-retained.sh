#!/usr/bin/env bash
# Measures the server's RSS with a given amount of data retained: starts a durable release
# `rheo`, writes until the data directory holds TARGET_MB (default 1024), then reports VmRSS
# idle, and peak VmRSS during a full catch-up read of everything.
# Usage: scripts/rss-retained.sh [TARGET_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
target_mb="${1:-1024}"
cargo build --release -p rheo-server -p rheo-bench >/dev/null
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/rheo serve --port 0 --data-dir "$work/data" --create-stream-ms 50 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do grep -q 'rheo ready on' "$work/out" 2>/dev/null && break; sleep 0.1; done
endpoint=$(grep -o 'http://[0-9.:]*' "$work/out" | head -n 1)
rss() { awk '/VmRSS/ {print $2 / 1024 " MiB"}' "/proc/$pid/status"; }
bench=(target/release/rheo-bench --endpoint "$endpoint" --stream rss)
"${bench[@]}" setup --shards 4 >/dev/null
echo "idle RSS, empty: $(rss)"
while [ "$(du -sm "$work/data" | cut -f1)" -lt "$target_mb" ]; do
  "${bench[@]}" put --duration 5 --connections 8 --batch 500 --record-size 1024 >/dev/null
done
echo "retained on disk: $(du -sh "$work/data" | cut -f1)"
sleep 2
echo "idle RSS with data retained: $(rss)"
"${bench[@]}" --server-pid "$pid" get --idle-ms 1000 | grep -E '^get'
echo "RSS after catch-up read: $(rss)"
# Restart on the same data: what memory the retained data itself costs (index, metadata).
kill -TERM "$pid"; wait "$pid" || true
target/release/rheo serve --port 0 --data-dir "$work/data" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do grep -q 'rheo ready on' "$work/out" 2>/dev/null && break; sleep 0.1; done
endpoint=$(grep -o 'http://[0-9.:]*' "$work/out" | head -n 1)
bench=(target/release/rheo-bench --endpoint "$endpoint" --stream rss)
echo "idle RSS after restart with data retained: $(rss)"
"${bench[@]}" --server-pid "$pid" get --idle-ms 1000 | grep -E '^get'
echo "RSS after restart and catch-up read: $(rss)"
