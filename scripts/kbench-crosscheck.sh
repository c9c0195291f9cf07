#!/usr/bin/env bash
# Cross-checks rheo-bench's headline figures with an independent client, kbench
# (../shared/kbench, not part of this repository): one fresh server at a time
# (Rheo durable, ferrokinesis and kinesalite in memory), a 4-shard stream, then
# kbench put (8 connections x 500 x 1 KiB, 10 s), get (every acknowledged record
# read back, --expect) and e2e (1000 records/s, 10 s). Prints a Markdown table.
#
# kbench is built in a copy outside the repository; the peers come from the work
# dir that scripts/bench-peers.sh installs them into (run that first).
#
# Usage: scripts/kbench-crosscheck.sh [--work-dir DIR] [--kbench-src DIR]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK=/tmp/rheo-peers
KSRC="$REPO/../shared/kbench"
while [ $# -gt 0 ]; do
  case "$1" in
    --work-dir) WORK="$2"; shift ;;
    --kbench-src) KSRC="$2"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 64 ;;
  esac
  shift
done
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
KDIR="$WORK/kbench"
if [ ! -x "$KDIR/target/release/kbench" ]; then
  rm -rf "$KDIR" && cp -r "$KSRC" "$KDIR" && chmod -R u+w "$KDIR"
  (cd "$KDIR" && cargo build --release >"$WORK/kbench-build.log" 2>&1)
fi
K="$KDIR/target/release/kbench"
(cd "$REPO" && cargo build --release -p rheo-server >/dev/null 2>&1)
RESULTS="$(mktemp -d)"
PID="" DATA=""
stop() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  PID=""
  if [ -n "$DATA" ]; then rm -rf "$DATA"; DATA=""; fi
}
trap 'stop; rm -rf "$RESULTS"' EXIT

port=46000
for name in rheo ferrokinesis kinesalite; do
  port=$((port + 1))
  case $name in
    rheo)
      DATA="$(mktemp -d "$WORK/rheo-data.XXXXXX")"
      # Limits off: kbench puts as fast as it can, past AWS's per-shard rates.
      "$REPO/target/release/rheo" serve --port "$port" --data-dir "$DATA" --throughput-limits off >/dev/null 2>&1 & ;;
    ferrokinesis)
      [ -x "$WORK/ferrokinesis/bin/ferrokinesis" ] || { echo "skip $name: not installed" >&2; continue; }
      "$WORK/ferrokinesis/bin/ferrokinesis" --port "$port" --create-stream-ms 50 \
        --delete-stream-ms 50 --update-stream-ms 50 >/dev/null 2>&1 & ;;
    kinesalite)
      [ -f "$WORK/node_modules/kinesalite/cli.js" ] || { echo "skip $name: not installed" >&2; continue; }
      node "$WORK/node_modules/kinesalite/cli.js" --port "$port" --createStreamMs 50 \
        --deleteStreamMs 50 --updateStreamMs 50 >/dev/null 2>&1 & ;;
  esac
  PID=$!
  E="--endpoint=http://127.0.0.1:$port"
  ready=0
  for _ in $(seq 1 100); do
    if "$K" setup "$E" --stream s --shards 4 >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.2
  done
  # A server that does not come up, or a put that fails, leaves its row out instead of
  # ending the whole run.
  if [ "$ready" = 0 ]; then echo "skip $name: no ACTIVE stream" >&2; stop; continue; fi
  "$K" put "$E" --stream s --duration 10 --warmup 2 --server-pid "$PID" --json 2>/dev/null | tail -n 1 >"$RESULTS/$name.put" || true
  if ! acked=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["acked_total"])' "$RESULTS/$name.put" 2>/dev/null); then
    echo "skip $name: put gave no result" >&2; stop; continue
  fi
  "$K" get "$E" --stream s --duration 120 --expect "$acked" --server-pid "$PID" --json 2>/dev/null | tail -n 1 >"$RESULTS/$name.get" || true
  "$K" e2e "$E" --stream s --duration 10 --rate 1000 --server-pid "$PID" --json 2>/dev/null | tail -n 1 >"$RESULTS/$name.e2e" || true
  stop
done

python3 - "$RESULTS" <<'PY'
import json, os, sys
d = sys.argv[1]
rows = {}
for name in ("rheo", "ferrokinesis", "kinesalite"):
    try:
        rows[name] = {k: json.load(open(os.path.join(d, f"{name}.{k}"))) for k in ("put", "get", "e2e")}
    except (OSError, ValueError):
        pass
print("| server | put rec/s | get rec/s | get verified | e2e p50 / p99 ms | e2e missing / dup | put duplicate seq |")
print("|---|---:|---:|---|---:|---:|---:|")
for name, r in rows.items():
    p, g, e = r["put"], r["get"], r["e2e"]
    lat = e.get("latency_ms", {})
    print(f"| {name} | {p['records_per_s']:.0f} | {g['records_per_s']:.0f} | {g.get('expect_ok')} | "
          f"{lat.get('p50', float('nan')):.2f} / {lat.get('p99', float('nan')):.2f} | "
          f"{e.get('missing')} / {e.get('duplicates')} | {p['duplicate_sequence_numbers']} |")
base = rows.get("kinesalite"), rows.get("ferrokinesis")
if "rheo" in rows:
    r = rows["rheo"]
    for label, b in zip(("kinesalite", "ferrokinesis"), base):
        if b:
            print(f"\nRheo / {label}: put {r['put']['records_per_s'] / b['put']['records_per_s']:.1f}x, "
                  f"get {r['get']['records_per_s'] / b['get']['records_per_s']:.1f}x")
PY
