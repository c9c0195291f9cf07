#!/usr/bin/env bash
# Where a record's server CPU goes, for PutRecords and for a catch-up GetRecords.
#
# Starts a durable release `rheo` on a fresh data dir, runs the put benchmark (1 KiB records,
# 4 shards, 8 connections x 500) under `perf record`, then a catch-up read of everything under
# `perf record`, and prints, for each phase, the server's CPU time per record and how it splits
# over categories of symbols (perf self time, grouped by name patterns below).
#
# Usage: scripts/profile.sh [--seconds N] [--record-size BYTES] [--no-build]
# Needs `perf` (Debian: linux-perf) and permission to profile (root, or perf_event_paranoid <= 1).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=6 size=1024 build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs="$2"; shift ;;
    --record-size) size="$2"; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 64 ;;
  esac
  shift
done
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 69; }
[ "$build" = 1 ] && cargo build --release -p rheo-server -p rheo-bench >/dev/null
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# Limits off: the profile puts and reads as fast as it can, past AWS's per-shard rates.
target/release/rheo serve --port 0 --data-dir "$work/data" --create-stream-ms 0 --throughput-limits off >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do grep -q 'rheo ready on' "$work/out" 2>/dev/null && break; sleep 0.1; done
endpoint=$(grep -o 'http://[0-9.:]*' "$work/out" | head -n 1)
bench=(target/release/rheo-bench --endpoint "$endpoint" --stream prof --server-pid "$pid")
"${bench[@]}" setup --shards 4 >/dev/null 2>&1

cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$pid/stat"; }

phase() { # name, then the rheo-bench arguments
  local name="$1"; shift
  local c0 c1 line
  c0=$(cpu_s)
  perf record -F 999 -g -o "$work/$name.data" -p "$pid" >/dev/null 2>&1 &
  local perf_pid=$!
  line=$("${bench[@]}" "$@" 2>/dev/null | grep -E "^(put|get):" || true)
  kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true
  c1=$(cpu_s)
  echo "$line"
  local records
  records=$(echo "$line" | sed -nE 's/^put: ([0-9]+) rec\/s.*/\1/p; s/^get: ([0-9]+) records in.*/\1/p')
  if [ "$name" = put ]; then records=$(awk -v r="$records" -v s="$secs" 'BEGIN{print r * s}'); fi
  perf report -i "$work/$name.data" --no-children -g none --sort symbol --stdio 2>/dev/null \
    | python3 scripts/profile_categories.py --phase "$name" --cpu-seconds "$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b - a}')" --records "$records"
}

echo "## PutRecords ($size-byte records, 4 shards, 8 x 500, ${secs} s)"
phase put put --duration "$secs" --warmup 0 --connections 8 --batch 500 --record-size "$size"
echo
echo "## GetRecords catch-up (everything written above, from TRIM_HORIZON)"
phase get get
