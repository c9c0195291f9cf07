#!/usr/bin/env bash
# Write-throughput scaling sweep of a durable Rheo: shards x connections, one fresh server
# per point, measured by `rheo-bench put` (1 KiB records, 500-record PutRecords, random
# partition keys over --key-spread keys so every shard gets records). Prints a Markdown table
# with rec/s, MB/s, request latency, server and client CPU and a "limited by" verdict whose
# rule is printed under the table (see crates/rheo-bench/src/scaling.rs).
#
# Usage: scripts/bench-scaling.sh [options]
#   --shards "LIST"        shard counts (default "1 4 16 64 256")
#   --connections "LIST"   connection counts (default "1 8 32")
#   --duration S           measured seconds per point (default 6)
#   --warmup S             warm-up seconds per point (default 1)
#   --key-spread N         distinct partition keys (default 100000)
#   --threads N            client runtime threads (default 1)
#   --fsync POLICY         rheo --fsync (default: the server's default, group)
#   --out FILE             also write the Markdown table (and rule) to FILE
#   --json FILE            also write the raw `put --json` lines, one per point, to FILE
#   --work-dir DIR         where data dirs and logs go (default: a new dir under /tmp)
#   --no-build             use the binaries already in target/release
# About 8 s per point: the default 15 points take 2-2.5 minutes (plus two 3 s disk baselines).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARDS="1 4 16 64 256"
CONNS="1 8 32"
DURATION=6
WARMUP=1
KEY_SPREAD=100000
THREADS=1
FSYNC=""
OUT=""
JSON_OUT=""
WORK=""
BUILD=1

while [ $# -gt 0 ]; do
  case "$1" in
    --shards) SHARDS="$2"; shift ;;
    --connections) CONNS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --warmup) WARMUP="$2"; shift ;;
    --key-spread) KEY_SPREAD="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    --fsync) FSYNC="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --json) JSON_OUT="$2"; shift ;;
    --work-dir) WORK="$2"; shift ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

log() { printf '[bench-scaling] %s\n' "$*" >&2; }
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
if [ -z "$WORK" ]; then WORK="$(mktemp -d /tmp/rheo-scaling.XXXXXX)"; fi
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
BENCH="$REPO/target/release/rheo-bench"
RHEO="$REPO/target/release/rheo"

if [ "$BUILD" = 1 ]; then
  log "building rheo and rheo-bench (release)"
  (cd "$REPO" && cargo build --release -p rheo-server -p rheo-bench) >"$WORK/build.log" 2>&1 || {
    log "build failed; see $WORK/build.log"; exit 1; }
fi
[ -x "$BENCH" ] && [ -x "$RHEO" ] || { log "missing $BENCH or $RHEO"; exit 1; }

SERVER_PID=""
DATA=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [ -n "$DATA" ]; then rm -rf "$DATA"; DATA=""; fi
}
trap stop_server EXIT INT TERM

# start_server NAME -> SERVER_PID, ENDPOINT
start_server() {
  DATA="$WORK/data-$1"
  local fs=()
  [ -n "$FSYNC" ] && fs=(--fsync "$FSYNC")
  # Limits off: the sweep measures the server's ceiling, far past AWS's per-shard rates.
  "$RHEO" serve --port 0 --data-dir "$DATA" "${fs[@]}" --throughput-limits off --create-stream-ms 50 --delete-stream-ms 50 \
    >"$WORK/$1.server.out" 2>"$WORK/$1.server.err" &
  SERVER_PID=$!
  local i
  for i in $(seq 1 100); do
    grep -q 'rheo ready on' "$WORK/$1.server.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  ENDPOINT="$(grep -o 'http://[0-9.:]*' "$WORK/$1.server.out" | head -n 1 || true)"
  [ -n "$ENDPOINT" ] || { log "rheo did not start; see $WORK/$1.server.err"; return 1; }
}

# Synced disk bandwidth of the filesystem the data dirs live on: the reference of the
# "disk" verdict. 1 MiB per fdatasync is the order of one group commit under load. A shared
# disk is noisy, so it is measured before and after the sweep and the larger figure is used
# (the verdict asks what the disk CAN do).
disk_baseline() {
  local line
  line="$("$BENCH" --json disk-baseline --dir "$WORK" --chunk 1048576 --total-mb 512 --duration 3 2>/dev/null || true)"
  log "$(printf '%s\n' "$line" | head -n 1)"
  printf '%s\n' "$line" | tail -n 1 | sed -n 's/.*"mb_per_sec":\([0-9.eE+-]*\).*/\1/p'
}
max_of() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
log "disk baseline in $WORK (fdatasync after each 1 MiB)"
DISK_BEFORE="$(disk_baseline)"

RESULTS="$WORK/points.jsonl"
: >"$RESULTS"
for shards in $SHARDS; do
  for conns in $CONNS; do
    name="s${shards}-c${conns}"
    start_server "$name" || { stop_server; continue; }
    "$BENCH" --endpoint "$ENDPOINT" --stream scaling setup --shards "$shards" \
      >"$WORK/$name.setup" 2>&1 || { log "$name: setup failed (see $WORK/$name.setup)"; stop_server; continue; }
    set +e
    "$BENCH" --endpoint "$ENDPOINT" --stream scaling --server-pid "$SERVER_PID" --threads "$THREADS" --json \
      put --connections "$conns" --batch 500 --record-size 1024 --key-spread "$KEY_SPREAD" \
      --duration "$DURATION" --warmup "$WARMUP" >"$WORK/$name.out" 2>"$WORK/$name.err"
    rc=$?
    set -e
    stop_server
    [ $rc -eq 0 ] || log "$name: rheo-bench exited $rc (see $WORK/$name.err)"
    grep -v '^{' "$WORK/$name.out" | sed "s/^/[$name] /" >&2 || true
    tail -n 1 "$WORK/$name.out" | grep '^{' >>"$RESULTS" || log "$name: no result"
  done
done

[ -s "$RESULTS" ] || { log "no point produced a result"; exit 1; }
DISK_AFTER="$(disk_baseline)"
DISK_MBPS="$(max_of "$DISK_BEFORE" "$DISK_AFTER")"
DISK_ARGS=()
[ -n "$DISK_MBPS" ] && [ "$DISK_MBPS" != 0 ] && DISK_ARGS=(--disk-mbps "$DISK_MBPS")
[ -n "$JSON_OUT" ] && cp "$RESULTS" "$JSON_OUT"
TABLE_ARGS=(--cores "$(nproc)" --client-threads "$THREADS" "${DISK_ARGS[@]}")
[ -n "$OUT" ] && TABLE_ARGS+=(--out "$OUT")
echo "Write scaling of a durable rheo ($(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?'), fsync ${FSYNC:-default}): 1 KiB records, 500 per PutRecords, $KEY_SPREAD partition keys, ${DURATION} s measured after ${WARMUP} s warm-up, one fresh server per point; latency is per request; CPU is over the measured span."
echo
"$BENCH" scaling-table "${TABLE_ARGS[@]}" "$RESULTS"
log "raw results in $RESULTS"
