#!/usr/bin/env bash
# A few seconds of the benchmark against a durable Rheo: asserts only that it runs and that every
# acknowledged record is read back exactly once (rheo-bench exits non-zero otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/start-rheo.sh
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
# Limits off: the smoke run puts as fast as it can, far past a shard's 1,000 records/s.
start_rheo target/debug/rheo "$work" --create-stream-ms 50 --delete-stream-ms 50 --consumer-status-ms 50 --throughput-limits off
target/debug/rheo-bench --endpoint "$endpoint" --server-pid "$pid" --smoke all
# Paced put (open loop at a fixed offered rate): runs, reports its target rate and acknowledges
# records; latency from schedule is reported next to latency from send.
bench=(target/debug/rheo-bench --endpoint "$endpoint" --stream rheo-bench-paced --smoke)
"${bench[@]}" setup --shards 1 >/dev/null
"${bench[@]}" --json put --rate 400 --duration 1 --warmup 0 >"$work/paced"
grep -q '^put: paced at 400 rec/s offered' "$work/paced" || { cat "$work/paced"; echo "no paced line"; exit 1; }
tail -n 1 "$work/paced" | grep -q '"target_rate":400.0' || { tail -n 1 "$work/paced"; echo "no target_rate"; exit 1; }
tail -n 1 "$work/paced" | grep -Eq '"acked_total":[1-9]' || { tail -n 1 "$work/paced"; echo "nothing acknowledged"; exit 1; }
"${bench[@]}" teardown >/dev/null
# Fan-out: put-to-get, put-to-push with 1 and 2 SubscribeToShard consumers, and a catch-up of a
# few thousand records both ways; exits non-zero unless every sub-phase ran and verified.
target/debug/rheo-bench --endpoint "$endpoint" --server-pid "$pid" --smoke --json fanout >"$work/fanout" \
  || { cat "$work/fanout"; echo "fanout failed"; exit 1; }
grep -q '^fanout put-to-push (2 SubscribeToShard consumers): .* 0 lost, 0 dup' "$work/fanout" \
  || { cat "$work/fanout"; echo "no verified 2-consumer push phase"; exit 1; }
grep -q '^fanout catch-up SubscribeToShard: 5000 records' "$work/fanout" \
  || { cat "$work/fanout"; echo "no SubscribeToShard catch-up"; exit 1; }
