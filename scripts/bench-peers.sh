#!/usr/bin/env bash
# Benchmarks Rheo against its peers (kinesalite, kinesis-mock, ferrokinesis) on
# this machine with one client (rheo-bench), one server at a time, and writes
# docs/benchmarks.md: the side-by-side table (`rheo-bench all`, medians of the
# runs), ratios to kinesalite and ferrokinesis, extra `rheo-bench put`
# workloads (100-byte records, 256 KiB records next to a synced-disk baseline
# with a matching chunk size, and for Rheo a paced run at half its own
# measured maximum), and the issue's targets checked for Rheo.
#
# Time on a 2-core machine (release builds up to date): about 5 minutes
# with --quick, about 25 minutes for the default 3 runs (the fan-out and
# limits phases take about 10 of them; --no-fanout --no-limits skip them).
#
# Peers are installed OUTSIDE the repository, under a work dir (default
# /tmp/rheo-peers). Rheo is skipped with a clear message when its server does
# not build yet.
#
# Usage: scripts/bench-peers.sh [options]
#   --quick               1 run per server, shorter phases (default: 3 runs, medians)
#   --runs N              runs per server (default 3; 1 with --quick)
#   --work-dir DIR        where peers are installed and results kept (default /tmp/rheo-peers)
#   --out FILE            Markdown output (default: <repo>/docs/benchmarks.md)
#   --port-base N         first TCP port to use (default 45670); one port per server
#   --no-kinesalite       skip kinesalite
#   --no-kinesis-mock     skip kinesis-mock (npm package kinesis-local)
#   --no-ferrokinesis     skip ferrokinesis (cargo install, slow to build)
#   --no-rheo             skip Rheo
#   --no-install          use what is already installed in the work dir
#   --no-extra            skip the extra put workloads (100 B, 256 KiB, half rate)
#   --no-fanout           skip the fan-out phase (SubscribeToShard put-to-push latency with
#                         1, 5 and 20 consumers on one shard, catch-up through SubscribeToShard
#                         vs GetRecords, the durable floor of one write per ms)
#   --no-limits           skip Rheo's put workload with --throughput-limits on vs off
#   --no-encryption       skip Rheo's put workload on an encrypted stream (rheo-bench
#                         --encrypt, records sealed at rest) vs a plain one, alternating
#   --no-sigv4            skip Rheo's put workload with every request signed and verified
#                         (rheo serve --auth sigv4 --credentials, rheo-bench --secret-key) vs
#                         the default permissive server, alternating
#   --baseline-rev REV    also run Rheo built from git revision REV (a worktree and a
#                         target dir under the work dir), just before today's Rheo, and
#                         add ratios to it: a regression check that peers' noise and the
#                         machine's speed cannot blur (main workload only)
#   -- ARGS...            extra arguments passed to every `rheo-bench all`
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK=/tmp/rheo-peers
OUT="$REPO/docs/benchmarks.md"
QUICK=0
RUNS=""
PORT_BASE=45670
DO_KINESALITE=1 DO_KMOCK=1 DO_FERRO=1 DO_RHEO=1 DO_INSTALL=1 DO_EXTRA=1 DO_FANOUT=1 DO_LIMITS=1 DO_ENCRYPTION=1 DO_SIGV4=1
EXTRA=()
SKIPPED=""
BASE_REV=""

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS="$2"; shift ;;
    --work-dir) WORK="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --port-base) PORT_BASE="$2"; shift ;;
    --no-kinesalite) DO_KINESALITE=0 ;;
    --no-kinesis-mock) DO_KMOCK=0 ;;
    --no-ferrokinesis) DO_FERRO=0 ;;
    --no-rheo) DO_RHEO=0 ;;
    --no-install) DO_INSTALL=0 ;;
    --) shift; EXTRA=("$@"); break ;;
    --no-extra) DO_EXTRA=0 ;;
    --no-fanout) DO_FANOUT=0 ;;
    --no-limits) DO_LIMITS=0 ;;
    --no-encryption) DO_ENCRYPTION=0 ;;
    --no-sigv4) DO_SIGV4=0 ;;
    --baseline-rev) BASE_REV="$2"; shift ;;
    -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

if [ -z "$RUNS" ]; then
  if [ "$QUICK" = 1 ]; then RUNS=1; else RUNS=3; fi
fi
# Workload: 1 KiB records, 4 shards, 8 connections x 500 records.
WORKLOAD=(--shards 4 --connections 8 --batch 500 --record-size 1024)
# kinesis-mock answers a 500-record PutRecords in seconds (~500 records/s in
# all) and cannot write 1000 records/s, so it gets smaller counts of the same
# shape: 2 connections x 100 records, e2e at 100 records/s.
KMOCK_WORKLOAD=(--shards 4 --connections 2 --batch 100 --record-size 1024)
if [ "$QUICK" = 1 ]; then
  PHASES=(--duration 4 --warmup 1 --e2e-duration 4 --rate 1000)
  KMOCK_PHASES=(--duration 4 --warmup 1 --e2e-duration 4 --rate 100)
  XPHASES=(--duration 3 --warmup 1)
else
  PHASES=(--duration 10 --warmup 2 --e2e-duration 10 --rate 1000)
  KMOCK_PHASES=(--duration 10 --warmup 2 --e2e-duration 10 --rate 100)
  XPHASES=(--duration 8 --warmup 2)
fi
# Extra put workloads (`rheo-bench put`, closed loop unless --rate).
SMALL=(--connections 8 --batch 500 --record-size 100)
# 16 x 256 KiB = 4 MiB of data per PutRecords (the API allows 5 MiB).
LARGE_BATCH=16 LARGE_SIZE=262144
LARGE=(--connections 8 --batch $LARGE_BATCH --record-size $LARGE_SIZE --bodies 4)
LARGE_CHUNK=$((LARGE_BATCH * LARGE_SIZE))
HALF=(--connections 8 --batch 500 --record-size 1024)
# Fan-out (`rheo-bench fanout`, a stream of one shard per sub-phase): 1,000 records/s of
# 1 KiB, one record per PutRecords every 1 ms, push with 1, 5 and 20 consumers next to
# GetRecords put-to-get, then 200k records read back from TRIM_HORIZON both ways.
# kinesis-mock cannot take 1,000 requests/s: 100 records/s and 5,000 catch-up records.
FANOUT_RATE=1000 FANOUT_SIZE=1024
if [ "$QUICK" = 1 ]; then
  FANOUT=(--rate $FANOUT_RATE --record-size $FANOUT_SIZE --interval-ms 1 --consumers 1,5,20 --duration 4 --catchup-records 100000)
  FLOOR_S=4
else
  FANOUT=(--rate $FANOUT_RATE --record-size $FANOUT_SIZE --interval-ms 1 --consumers 1,5,20 --duration 10 --catchup-records 200000)
  FLOOR_S=10
fi
KMOCK_FANOUT=(--rate 100 --record-size $FANOUT_SIZE --interval-ms 1 --consumers 1,5,20 --duration 10 --catchup-records 5000 --catchup-connections 2)
[ "$QUICK" = 1 ] && KMOCK_FANOUT=(--rate 100 --record-size $FANOUT_SIZE --interval-ms 1 --consumers 1,5,20 --duration 4 --catchup-records 2000 --catchup-connections 2)
# Limits on vs off: the main put shape against 1024 shards, partition keys spread wide and
# 32 distinct bodies (16,000 records per cycle) so no shard nears its 1,000 records/s at the
# rates this machine reaches; a throttled record shows in the errors column and the target.
LIMITS_SHARDS=1024
LIMITS=(--connections 8 --batch 500 --record-size 1024 --key-spread 65536 --bodies 32)

START_TS=$(date +%s)
mkdir -p "$WORK"
WORK="$(cd "$WORK" && pwd)"
RESULTS="$WORK/results-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS"
log() { printf '[bench-peers] %s\n' "$*" >&2; }
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

# ---------------------------------------------------------------- install
if [ "$DO_INSTALL" = 1 ]; then
  if [ ! -f "$WORK/package.json" ]; then
    (cd "$WORK" && npm init -y >/dev/null 2>&1)
  fi
  if [ "$DO_KINESALITE" = 1 ] && [ ! -f "$WORK/node_modules/kinesalite/cli.js" ]; then
    log "installing kinesalite in $WORK"
    (cd "$WORK" && npm i kinesalite >"$WORK/npm-kinesalite.log" 2>&1) || log "npm i kinesalite failed (see $WORK/npm-kinesalite.log)"
  fi
  if [ "$DO_KMOCK" = 1 ] && [ ! -f "$WORK/node_modules/kinesis-local/main.js" ]; then
    log "installing kinesis-local (kinesis-mock) in $WORK"
    (cd "$WORK" && npm i kinesis-local >"$WORK/npm-kinesis-local.log" 2>&1) || log "npm i kinesis-local failed (see $WORK/npm-kinesis-local.log)"
  fi
  if [ "$DO_FERRO" = 1 ] && [ ! -x "$WORK/ferrokinesis/bin/ferrokinesis" ]; then
    log "installing ferrokinesis into $WORK/ferrokinesis (cargo install; this takes a while)"
    cargo install ferrokinesis --locked --root "$WORK/ferrokinesis" >"$WORK/cargo-ferrokinesis.log" 2>&1 \
      || log "cargo install ferrokinesis failed (see $WORK/cargo-ferrokinesis.log)"
  fi
fi

# ---------------------------------------------------------------- build
log "building rheo-bench (release)"
(cd "$REPO" && cargo build --release -p rheo-bench >"$RESULTS/build-rheo-bench.log" 2>&1) || {
  log "rheo-bench does not build; see $RESULTS/build-rheo-bench.log"; exit 1; }
# Honour CARGO_TARGET_DIR (a worktree with its own target dir) like cargo does.
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
BENCH="$TARGET_DIR/release/rheo-bench"
RHEO="$TARGET_DIR/release/rheo"
if [ "$DO_RHEO" = 1 ]; then
  log "building rheo (release)"
  if (cd "$REPO" && cargo build --release -p rheo-server >"$RESULTS/build-rheo.log" 2>&1) && [ -x "$RHEO" ]; then
    # The binary may still be a placeholder that exits at once: start_server
    # notices that and skips it.
    :
  else
    log "SKIP rheo: target/release/rheo does not build yet (see $RESULTS/build-rheo.log)"
    SKIPPED+="- rheo: skipped, \`target/release/rheo\` did not build"$'\n'
    DO_RHEO=0
  fi
fi

BASE_NAME=""
if [ -n "$BASE_REV" ] && [ "$DO_RHEO" = 1 ]; then
  base_short="$(cd "$REPO" && git rev-parse --short "$BASE_REV^{commit}")" || {
    log "--baseline-rev $BASE_REV: not a revision"; exit 64; }
  BASE_TREE="$WORK/rheo-$base_short"
  RHEO_BASE="$WORK/target-baseline/release/rheo"
  if [ ! -d "$BASE_TREE" ]; then
    (cd "$REPO" && git worktree add --detach "$BASE_TREE" "$base_short" >/dev/null 2>&1) || {
      log "cannot check out $base_short into $BASE_TREE"; exit 1; }
  fi
  log "building rheo at $base_short (release, target dir $WORK/target-baseline)"
  if (cd "$BASE_TREE" && CARGO_TARGET_DIR="$WORK/target-baseline" \
        cargo build --release -p rheo-server >"$RESULTS/build-rheo-base.log" 2>&1) && [ -x "$RHEO_BASE" ]; then
    BASE_NAME="rheo-$base_short"
  else
    log "SKIP rheo at $base_short: it does not build (see $RESULTS/build-rheo-base.log)"
    SKIPPED+="- rheo at $base_short: skipped, it did not build"$'\n'
  fi
fi

# ---------------------------------------------------------------- servers
SERVER_PID=""
SERVER_DIR=""
RHEO_LIMITS=off
RHEO_SERVE_EXTRA=()
# Global rheo-bench options for a run_put's setup (--encrypt for the encrypted workload).
SETUP_EXTRA=()
# Global rheo-bench options for both of a run_put's commands (the sigv4 workload's key and
# secret), and the label its JSON and row carry (default: the server's name).
BENCH_AUTH=()
PUT_LABEL=""
# The sigv4 workload: one principal allowed everything (an identity policy is needed for the
# puts to be authorized); the secret is the benchmark's own, not a credential of anyone's.
SIGV4_KEY=AKIDRHEOBENCH
SIGV4_SECRET=rheo-bench-not-a-secret
SIGV4_CREDS="$WORK/sigv4-credentials.toml"
cat >"$SIGV4_CREDS" <<EOF
[[principal]]
access_key_id = "$SIGV4_KEY"
secret_access_key = "$SIGV4_SECRET"
account = "123456789012"
arn = "arn:aws:iam::123456789012:user/rheo-bench"
policies = ["{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"]
EOF
# Set while the server under test verifies signatures: the readiness probe signs for real.
SERVER_SIGV4=0

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until the endpoint answers ListStreams with HTTP 200.
wait_ready() {
  local port=$1 pid=$2 i sign
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if [ "$SERVER_SIGV4" = 1 ]; then
      # curl signs the probe itself; a 200 also proves the credentials file was read right.
      sign=(--aws-sigv4 "aws:amz:us-east-1:kinesis" --user "$SIGV4_KEY:$SIGV4_SECRET")
    else
      sign=(-H "X-Amz-Date: $(date -u +%Y%m%dT%H%M%SZ)"
        -H "Authorization: AWS4-HMAC-SHA256 Credential=test/$(date -u +%Y%m%d)/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000")
    fi
    if curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/" \
        -H 'Content-Type: application/x-amz-json-1.1' \
        -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
        "${sign[@]}" -d '{}' 2>/dev/null | grep -q '^200$'; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# start_server NAME PORT -> sets SERVER_PID (the process that serves, so /proc
# sampling sees the server and not a wrapper).
start_server() {
  local name=$1 port=$2
  SERVER_DIR=""
  case "$name" in
    kinesalite)
      node "$WORK/node_modules/kinesalite/cli.js" --port "$port" \
        --createStreamMs 50 --deleteStreamMs 50 --updateStreamMs 50 \
        >"$RESULTS/$name.server.log" 2>&1 &
      ;;
    kinesis-mock)
      (cd "$WORK/node_modules/kinesis-local" && \
        KINESIS_MOCK_PLAIN_PORT="$port" KINESIS_MOCK_TLS_PORT="$((port + 1000))" \
        exec node main.js) >"$RESULTS/$name.server.log" 2>&1 &
      ;;
    ferrokinesis)
      "$WORK/ferrokinesis/bin/ferrokinesis" --port "$port" \
        --create-stream-ms 50 --delete-stream-ms 50 --update-stream-ms 50 \
        >"$RESULTS/$name.server.log" 2>&1 &
      ;;
    rheo|rheo-*)
      SERVER_DIR="$(mktemp -d "$WORK/rheo-data.XXXXXX")"
      # Today's Rheo runs with the throughput limits off (RHEO_LIMITS=on for the limits
      # workload); the baseline build may predate the flag and has them off anyway.
      bin="$RHEO" rheo_args=(--throughput-limits "${RHEO_LIMITS:-off}" "${RHEO_SERVE_EXTRA[@]}")
      [ "$name" = "$BASE_NAME" ] && bin="$RHEO_BASE" rheo_args=()
      "$bin" serve --port "$port" --data-dir "$SERVER_DIR" "${rheo_args[@]}" \
        >"$RESULTS/$name.server.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  if ! wait_ready "$port" "$SERVER_PID"; then
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "SKIP $name: no answer on port $port within 60 s (see $RESULTS/$name.server.log)"
    else
      log "SKIP $name: the server exited at once (not implemented yet?) (see $RESULTS/$name.server.log)"
    fi
    SKIPPED+="- $name: skipped, the server did not start or answer"$'\n'
    stop_server
    return 1
  fi
}

stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  if [ -n "$SERVER_DIR" ]; then rm -rf "$SERVER_DIR"; SERVER_DIR=""; fi
}
trap stop_server EXIT INT TERM

# ---------------------------------------------------------------- runs
SERVERS=()
[ "$DO_KINESALITE" = 1 ] && [ -f "$WORK/node_modules/kinesalite/cli.js" ] && SERVERS+=(kinesalite)
[ "$DO_KMOCK" = 1 ] && [ -f "$WORK/node_modules/kinesis-local/main.js" ] && SERVERS+=(kinesis-mock)
[ "$DO_FERRO" = 1 ] && [ -x "$WORK/ferrokinesis/bin/ferrokinesis" ] && SERVERS+=(ferrokinesis)
[ -n "$BASE_NAME" ] && SERVERS+=("$BASE_NAME")
[ "$DO_RHEO" = 1 ] && SERVERS+=(rheo)
if [ ${#SERVERS[@]} -eq 0 ]; then log "no server to benchmark"; exit 1; fi

COMPARE_ARGS=()
PUT_ARGS=()
DONE=()
XNOTES=""
HALF_RATE=""
# Every rheo-bench command line used, once each, for the report.
CMDS=()
note_cmd() {
  local c="rheo-bench $*" x
  for x in "${CMDS[@]}"; do [ "$x" = "$c" ] && return 0; done
  CMDS+=("$c")
}

# run_put NAME PORT WORKLOAD ARGS...: one fresh server, a 4-shard stream, one
# `rheo-bench put --json`; appends the JSON line to $RESULTS/NAME.WORKLOAD.jsonl.
run_put() {
  local name=$1 port=$2 wl=$3 run=$4; shift 4
  local out="$RESULTS/$name.$wl.run$run"
  start_server "$name" "$port" || return 1
  note_cmd "${BENCH_AUTH[*]:+${BENCH_AUTH[*]} }--stream rheo-bench-x ${SETUP_EXTRA[*]:+${SETUP_EXTRA[*]} }setup --shards ${SETUP_SHARDS:-4}"
  note_cmd "${BENCH_AUTH[*]:+${BENCH_AUTH[*]} }--stream rheo-bench-x put $* --json"
  set +e
  "$BENCH" --endpoint "http://127.0.0.1:$port" "${BENCH_AUTH[@]}" --stream rheo-bench-x "${SETUP_EXTRA[@]}" setup --shards "${SETUP_SHARDS:-4}" \
    >"$out.setup" 2>&1 \
  && "$BENCH" --endpoint "http://127.0.0.1:$port" "${BENCH_AUTH[@]}" --server-pid "$SERVER_PID" --label "${PUT_LABEL:-$name}" \
    --stream rheo-bench-x --json put "$@" >"$out.out" 2>"$out.err"
  local rc=$?
  set -e
  stop_server
  if [ $rc -ne 0 ]; then
    log "$name $wl run $run exited $rc; see $out.err"
    return 0
  fi
  tail -n 1 "$out.out" | grep '^{' >>"$RESULTS/$name.$wl.jsonl" || true
  grep -v '^{' "$out.out" >&2 || true
}

# disk_matched: write + fdatasync loops with the 256 KiB workload's record size
# and request size as chunks, just before each of its runs (the same disk, the
# same moment); the target is checked against the faster of the two.
disk_matched() {
  # Flush what the previous run left (its data dir was just removed) so the
  # baseline measures the disk, not the tail of someone else's writeback.
  sync
  local chunk
  for chunk in "$LARGE_SIZE" "$LARGE_CHUNK"; do
    note_cmd "disk-baseline --dir $WORK --chunk $chunk --total-mb 1024 --duration 3 --json"
    "$BENCH" --json disk-baseline --dir "$WORK" --chunk "$chunk" --total-mb 1024 --duration 3 \
      2>/dev/null | tee -a "$RESULTS/disk-matched.txt" | grep '^{' >>"$RESULTS/disk-matched.jsonl" || true
  done
}

# disk_floor: the durable floor of the fan-out phase, one record-sized write + fdatasync
# every 1 ms (the producer's pace), just before each of Rheo's fan-out runs.
disk_floor() {
  sync
  note_cmd "disk-baseline --dir $WORK --chunk $FANOUT_SIZE --interval-ms 1 --total-mb 64 --duration $FLOOR_S --json"
  "$BENCH" --json disk-baseline --dir "$WORK" --chunk "$FANOUT_SIZE" --interval-ms 1 --total-mb 64 \
    --duration "$FLOOR_S" 2>/dev/null | tee -a "$RESULTS/fanout-floor.txt" \
    | grep '^{' >>"$RESULTS/fanout-floor.jsonl" || true
}

# run_fanout NAME PORT RUN ARGS...: one fresh server, one `rheo-bench fanout --json`; the
# JSON line is kept whatever the exit status (2 = a sub-phase failed, which the report shows).
run_fanout() {
  local name=$1 port=$2 run=$3; shift 3
  local out="$RESULTS/$name.fanout.run$run"
  start_server "$name" "$port" || return 1
  note_cmd "--server-pid PID --label $name --json fanout $*"
  set +e
  "$BENCH" --endpoint "http://127.0.0.1:$port" --server-pid "$SERVER_PID" --label "$name" \
    --json fanout "$@" >"$out.out" 2>"$out.err"
  local rc=$?
  set -e
  stop_server
  [ $rc -ne 0 ] && log "$name fan-out run $run exited $rc (2 = a sub-phase failed); see $out.out"
  tail -n 1 "$out.out" | grep '^{' >>"$RESULTS/$name.fanout.jsonl" || true
  grep -v '^{' "$out.out" >&2 || true
}

FANOUT_ARGS=()
FANOUT_NOTES=""
port=$PORT_BASE
for name in "${SERVERS[@]}"; do
  while ! port_free "$port"; do port=$((port + 1)); done
  log "== $name on port $port: $RUNS run(s)"
  : >"$RESULTS/$name.jsonl"
  if [ "$name" = kinesis-mock ]; then
    W=("${KMOCK_WORKLOAD[@]}" "${KMOCK_PHASES[@]}")
  else
    W=("${WORKLOAD[@]}" "${PHASES[@]}")
  fi
  note_cmd "--server-pid PID --label $name --json all ${W[*]}${EXTRA[*]:+ ${EXTRA[*]}}"
  for run in $(seq 1 "$RUNS"); do
    # A fresh server per run: runs do not inherit each other's data or heap.
    if ! start_server "$name" "$port"; then break; fi
    log "$name run $run/$RUNS"
    set +e
    "$BENCH" --endpoint "http://127.0.0.1:$port" --server-pid "$SERVER_PID" --label "$name" --json \
      all "${W[@]}" "${EXTRA[@]}" \
      >"$RESULTS/$name.run$run.out" 2>"$RESULTS/$name.run$run.err"
    rc=$?
    set -e
    stop_server
    if [ $rc -ne 0 ]; then
      log "$name run $run exited $rc (2 = verification failed); see $RESULTS/$name.run$run.err"
    fi
    tail -n 1 "$RESULTS/$name.run$run.out" | grep '^{' >>"$RESULTS/$name.jsonl" || true
    grep -v '^{' "$RESULTS/$name.run$run.out" >&2 || true
  done
  if [ -s "$RESULTS/$name.jsonl" ]; then
    COMPARE_ARGS+=(--run "$name=$RESULTS/$name.jsonl")
    DONE+=("$name")
  else
    port=$((port + 1)); continue
  fi

  if [ "$DO_EXTRA" = 1 ] && [ "$name" != "$BASE_NAME" ]; then
    if [ "$name" = kinesis-mock ]; then
      XNOTES+="- kinesis-mock: not run with the 100-byte and 256 KiB workloads (at ~500 records/s of 1 KiB a run would measure little but its queue)."$'\n'
    else
      if [ "$name" = rheo ]; then
        # Half of Rheo's own maximum: the median put rate of its runs above.
        max="$("$BENCH" median --pointer /put/records_per_sec "$RESULTS/$name.jsonl" 2>/dev/null || true)"
        if [ -n "$max" ]; then
          HALF_RATE="$(awk -v m="$max" 'BEGIN { printf "%d", m / 2 }')"
          log "$name half-rate: $HALF_RATE rec/s (half of the median $max)"
          for run in $(seq 1 "$RUNS"); do
            run_put "$name" "$port" half-rate "$run" "${HALF[@]}" "${XPHASES[@]}" --rate "$HALF_RATE" || break
          done
        fi
      fi
      log "$name 100-byte records"
      for run in $(seq 1 "$RUNS"); do
        run_put "$name" "$port" 100B "$run" "${SMALL[@]}" "${XPHASES[@]}" || break
      done
      log "$name 256 KiB records"
      for run in $(seq 1 "$RUNS"); do
        [ "$name" = rheo ] && disk_matched
        run_put "$name" "$port" 256KiB "$run" "${LARGE[@]}" "${XPHASES[@]}" || break
      done
      for wl in half-rate 100B 256KiB; do
        if [ -s "$RESULTS/$name.$wl.jsonl" ]; then
          PUT_ARGS+=(--put-run "$name:$wl=$RESULTS/$name.$wl.jsonl")
        fi
      done
    fi
  fi

  if [ "$DO_FANOUT" = 1 ] && [ "$name" != "$BASE_NAME" ]; then
    if [ "$name" = kinesalite ]; then
      FANOUT_NOTES+="- kinesalite: not in the fan-out phase (it implements neither RegisterStreamConsumer nor SubscribeToShard)."$'\n'
    else
      log "$name fan-out"
      for run in $(seq 1 "$RUNS"); do
        if [ "$name" = rheo ]; then disk_floor; fi
        # The catch-up reads swap order run by run: the first may meet colder caches.
        order=(); [ $((run % 2)) = 0 ] && order=(--catchup-subscribe-first)
        if [ "$name" = kinesis-mock ]; then
          run_fanout "$name" "$port" "$run" "${KMOCK_FANOUT[@]}" "${order[@]}" || break
        else
          run_fanout "$name" "$port" "$run" "${FANOUT[@]}" "${order[@]}" || break
        fi
      done
      if [ -s "$RESULTS/$name.fanout.jsonl" ]; then
        FANOUT_ARGS+=(--fanout "$name=$RESULTS/$name.fanout.jsonl")
      fi
    fi
  fi

  if [ "$DO_LIMITS" = 1 ] && [ "$name" = rheo ]; then
    log "$name limits on vs off ($LIMITS_SHARDS shards)"
    for run in $(seq 1 "$RUNS"); do
      # Alternate which mode goes first, so a drift of the machine does not favour one.
      if [ $((run % 2)) = 1 ]; then modes="off on"; else modes="on off"; fi
      for mode in $modes; do
        RHEO_LIMITS=$mode RHEO_SERVE_EXTRA=(--shard-limit $((LIMITS_SHARDS * 2)))
        SETUP_SHARDS=$LIMITS_SHARDS run_put "$name" "$port" "limits-$mode" "$run" "${LIMITS[@]}" "${XPHASES[@]}" || true
        RHEO_LIMITS=off RHEO_SERVE_EXTRA=()
      done
    done
    for wl in limits-off limits-on; do
      if [ -s "$RESULTS/$name.$wl.jsonl" ]; then
        PUT_ARGS+=(--put-run "$name:$wl=$RESULTS/$name.$wl.jsonl")
      fi
    done
  fi

  if [ "$DO_ENCRYPTION" = 1 ] && [ "$name" = rheo ]; then
    # The main put shape on a durable server (every Rheo run is), one stream encrypted with
    # the AWS-managed key and one plain; the order alternates run by run.
    log "$name encrypted vs plain"
    for run in $(seq 1 "$RUNS"); do
      if [ $((run % 2)) = 1 ]; then modes="plain encrypted"; else modes="encrypted plain"; fi
      for mode in $modes; do
        # The key is given: a bare --encrypt before `setup` would take "setup" as its value.
        SETUP_EXTRA=(); [ "$mode" = encrypted ] && SETUP_EXTRA=(--encrypt alias/aws/kinesis)
        run_put "$name" "$port" "$mode" "$run" "${HALF[@]}" "${XPHASES[@]}" || true
        SETUP_EXTRA=()
      done
    done
    for wl in plain encrypted; do
      if [ -s "$RESULTS/$name.$wl.jsonl" ]; then
        PUT_ARGS+=(--put-run "$name:$wl=$RESULTS/$name.$wl.jsonl")
      fi
    done
  fi

  if [ "$DO_SIGV4" = 1 ] && [ "$name" = rheo ]; then
    # The main put shape on a durable server, once with every request signed by rheo-bench
    # (aws-sigv4, as the SDKs sign) and verified by `--auth sigv4`, once against the default
    # permissive server with the fake header; the order alternates run by run.
    log "$name sigv4 vs plain"
    for run in $(seq 1 "$RUNS"); do
      if [ $((run % 2)) = 1 ]; then modes="unsigned sigv4"; else modes="sigv4 unsigned"; fi
      for mode in $modes; do
        if [ "$mode" = sigv4 ]; then
          SERVER_SIGV4=1 RHEO_SERVE_EXTRA=(--auth sigv4 --credentials "$SIGV4_CREDS")
          BENCH_AUTH=(--access-key "$SIGV4_KEY" --secret-key "$SIGV4_SECRET") PUT_LABEL="Rheo (sigv4)"
        fi
        run_put "$name" "$port" "$mode" "$run" "${HALF[@]}" "${XPHASES[@]}" || true
        SERVER_SIGV4=0 RHEO_SERVE_EXTRA=() BENCH_AUTH=() PUT_LABEL=""
      done
    done
    for wl in unsigned sigv4; do
      if [ -s "$RESULTS/$name.$wl.jsonl" ]; then
        PUT_ARGS+=(--put-run "$name:$wl=$RESULTS/$name.$wl.jsonl")
      fi
    done
  fi
  port=$((port + 1))
done
if [ ${#COMPARE_ARGS[@]} -eq 0 ]; then log "no server produced results"; exit 1; fi

log "disk baseline (fdatasync after each 1 MiB chunk, then each 4 KiB chunk)"
DISK_1M="$("$BENCH" disk-baseline --dir "$WORK" --chunk 1048576 --total-mb 256 --duration 10 2>/dev/null | head -n 1 || true)"
DISK_4K="$("$BENCH" disk-baseline --dir "$WORK" --chunk 4096 --total-mb 64 --duration 5 2>/dev/null | head -n 1 || true)"
note_cmd "disk-baseline --dir $WORK --chunk 1048576 --total-mb 256 --duration 10"
note_cmd "disk-baseline --dir $WORK --chunk 4096 --total-mb 64 --duration 5"
# The e2e phase's durable floor: one tick's records (10 x 1 KiB at 1000/s, 10 ms
# ticks) written and fdatasynced once per tick. A durable server cannot answer
# a put, nor show its records to a reader, sooner than this.
log "disk floor at the e2e pace (10 KiB chunk + fdatasync every 10 ms)"
DISK_E2E="$("$BENCH" disk-baseline --dir "$WORK" --chunk 10240 --total-mb 64 --duration 5 --interval-ms 10 2>/dev/null | head -n 1 || true)"
note_cmd "disk-baseline --dir $WORK --chunk 10240 --total-mb 64 --duration 5 --interval-ms 10"

DISK_ARGS=()
[ -s "$RESULTS/disk-matched.jsonl" ] && DISK_ARGS=(--disk "$RESULTS/disk-matched.jsonl")
BASE_ARGS=()
[ -n "$BASE_NAME" ] && [ -s "$RESULTS/$BASE_NAME.jsonl" ] && BASE_ARGS=(--baseline "$BASE_NAME")
FLOOR_ARGS=()
[ -s "$RESULTS/fanout-floor.jsonl" ] && FLOOR_ARGS=(--fanout-floor "$RESULTS/fanout-floor.jsonl")
TABLE="$("$BENCH" compare "${COMPARE_ARGS[@]}" --baseline kinesalite --baseline ferrokinesis "${BASE_ARGS[@]}" \
  "${PUT_ARGS[@]}" "${DISK_ARGS[@]}" "${FANOUT_ARGS[@]}" "${FLOOR_ARGS[@]}" --targets rheo \
  --extra-out "$RESULTS/extra.md" --targets-out "$RESULTS/targets.md" --fanout-out "$RESULTS/fanout.md")"
FANOUT_TABLE="$(cat "$RESULTS/fanout.md" 2>/dev/null || echo '(not run)')"
FANOUT_FLOOR="$(grep -v '^{' "$RESULTS/fanout-floor.txt" 2>/dev/null | sed 's/^/  - /' || true)"
EXTRA_TABLE="$(cat "$RESULTS/extra.md" 2>/dev/null || echo '(not run)')"
TARGETS_TABLE="$(cat "$RESULTS/targets.md" 2>/dev/null || echo '(not computed)')"
DISK_MATCHED="$(grep -v '^{' "$RESULTS/disk-matched.txt" 2>/dev/null | sed 's/^/  - /' || true)"
CMD_LIST="$(printf '    %s\n' "${CMDS[@]}")"

# ---------------------------------------------------------------- report
CPU_MODEL="$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
CORES="$(nproc)"
MEM="$(free -h 2>/dev/null | awk '/^Mem:/ {print $2}')"
KERNEL="$(uname -sr)"
DISK_DEV="$(df -P "$WORK" | awk 'NR==2 {print $1}')"
DISK_FS="$(df -PT "$WORK" | awk 'NR==2 {print $2}')"
DISK_MODEL="$(lsblk -dno MODEL "$DISK_DEV" 2>/dev/null | head -n 1 | xargs || true)"
case "$(lsblk -dno ROTA "$DISK_DEV" 2>/dev/null | head -n 1 | xargs || true)" in
  0) DISK_MODEL="${DISK_MODEL:+$DISK_MODEL, }non-rotational" ;;
  1) DISK_MODEL="${DISK_MODEL:+$DISK_MODEL, }reported rotational (virtual disks often are)" ;;
esac
COMMAND="scripts/bench-peers.sh"
[ "$QUICK" = 1 ] && COMMAND+=" --quick"
[ "$RUNS" != 3 ] && [ "$QUICK" = 0 ] && COMMAND+=" --runs $RUNS"
[ "$DO_EXTRA" = 0 ] && COMMAND+=" --no-extra"
[ "$DO_FANOUT" = 0 ] && COMMAND+=" --no-fanout"
[ "$DO_LIMITS" = 0 ] && COMMAND+=" --no-limits"
[ "$DO_ENCRYPTION" = 0 ] && COMMAND+=" --no-encryption"
[ "$DO_SIGV4" = 0 ] && COMMAND+=" --no-sigv4"
[ "$DO_KMOCK" = 0 ] && COMMAND+=" --no-kinesis-mock"
[ "$DO_FERRO" = 0 ] && COMMAND+=" --no-ferrokinesis"
[ "$DO_KINESALITE" = 0 ] && COMMAND+=" --no-kinesalite"
[ -n "$BASE_REV" ] && COMMAND+=" --baseline-rev $BASE_REV"
ELAPSED=$(( $(date +%s) - START_TS ))
BANNER=""
if [ "$QUICK" = 1 ] || [ "$RUNS" -lt 3 ]; then
  BANNER="> **Quick run** (\`$COMMAND\`: $RUNS run(s) per server, short phases, on a shared
> machine): indicative only. The full run (\`scripts/bench-peers.sh\`, medians of 3)
> replaces this file."$'\n'
fi
VERSIONS=""
for name in "${DONE[@]}"; do
  case "$name" in
    kinesalite) v="$(node -p "require('$WORK/node_modules/kinesalite/package.json').version" 2>/dev/null || echo '?')" ;;
    kinesis-mock) v="kinesis-local $(node -p "require('$WORK/node_modules/kinesis-local/package.json').version" 2>/dev/null || echo '?')" ;;
    ferrokinesis) v="$(cargo install --list --root "$WORK/ferrokinesis" 2>/dev/null | sed -n 's/^ferrokinesis \(v[^:]*\):.*/\1/p' | head -n 1)"; v="${v:-?}" ;;
    rheo) v="$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?') (durable, default fsync)" ;;
    rheo-*) v="${name#rheo-}, an earlier build of Rheo run the same way, for the regression check" ;;
  esac
  VERSIONS+="- $name: $v"$'\n'
done

mkdir -p "$(dirname "$OUT")"
cat >"$OUT" <<EOF
# Benchmarks: Rheo and its peers

$BANNER
Generated by \`$COMMAND\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $((ELAPSED / 60)) min $((ELAPSED % 60)) s.
Regenerate with the same command; raw results (one JSON object per run) were kept in
\`$RESULTS\`.

## Machine

- CPU: ${CPU_MODEL:-unknown}, $CORES cores (client and server share them)
- RAM: ${MEM:-unknown}
- Kernel: $KERNEL
- Disk under the work dir: $DISK_DEV ($DISK_FS${DISK_MODEL:+, $DISK_MODEL})
- Synced write bandwidth (\`rheo-bench disk-baseline\`: write a chunk, fdatasync, repeat):
  - ${DISK_1M:-n/a}
  - ${DISK_4K:-n/a}
- One small durable write at the e2e phase's pace (a 10 KiB chunk + fdatasync every 10 ms),
  the floor under a durable server's put-to-get latency:
  - ${DISK_E2E:-n/a}
- Synced write bandwidth at the 256 KiB workload's record and request sizes ($((LARGE_SIZE / 1024)) and
  $((LARGE_CHUNK / 1024)) KiB chunks), measured just before each of Rheo's 256 KiB runs:
${DISK_MATCHED:-  - n/a}

## Servers

$VERSIONS$SKIPPED
The peers keep data in memory (their defaults: kinesalite without \`--path\`, kinesis-mock
without persistence, ferrokinesis without \`--state-dir\`); Rheo runs durable (\`--data-dir\` in a
temporary directory, default fsync policy), so its writes pay for the disk above.

## Workload

Each server is started fresh for each run and measured by the same client,
\`rheo-bench all ${WORKLOAD[*]} ${PHASES[*]}${EXTRA[*]:+ ${EXTRA[*]}}\`:

- **put**: closed loop, 8 connections each with one PutRecords of 500 x 1 KiB records in
  flight, random partition keys over 1024 keys; rates count acknowledged records after the
  warm-up; latency is per request.
- **get**: catch-up read of every shard from TRIM_HORIZON (GetRecords, Limit 10000) until
  every acknowledged record is read; verified: each acknowledged (shard, sequence number)
  read exactly once, sequence numbers strictly increasing per shard.
- **e2e**: 1000 records/s written while one consumer per shard polls from LATEST (0.5 ms
  pause after an empty answer); latency = arrival at the consumer - PutRecords issued.
- **server CPU**: cores used by the server process during the put phase (utime+stime from
  /proc); **peak RSS**: largest VmRSS seen during any phase.

**kinesis-mock** runs the same shape with its own smaller counts,
\`rheo-bench all ${KMOCK_WORKLOAD[*]} ${KMOCK_PHASES[*]}\` (2 connections x 100 records, e2e at
100 records/s): with 8 x 500 it answers each PutRecords in about 10 s (~500 records/s in all)
and cannot be driven at 1000 records/s, so its figures there would be its queue.

The e2e producer sends one request per 10 ms tick; a server whose PutRecords takes
longer than that cannot be driven at the target rate, and its e2e latency includes its
own queueing. The achieved rate is in the raw JSON (\`e2e.achieved_rate\`).

Figures are medians of $RUNS run(s). MB = 10^6 bytes of record payload.

## Results

$TABLE

kinesis-mock's row is from its smaller counts (see Workload).

## Extra put workloads

Each run is a fresh server, a 4-shard stream and one \`rheo-bench put\` (${XPHASES[*]}):

- **100B**: closed loop, \`${SMALL[*]}\` (100-byte records).
- **256KiB**: closed loop, \`${LARGE[*]}\`: 16 x 256 KiB = $((LARGE_CHUNK / 1024)) KiB of data per PutRecords
  (under the API's 5 MiB), compared with the synced disk bandwidth (Machine above) at the
  faster of its record size and its request size. That baseline is one writer, one chunk in
  flight, through the page cache; a server with several requests in flight (8 connections
  here) can keep more than one write queued at the disk, so more than 100% is possible.
- **half-rate** (Rheo only): \`${HALF[*]} --rate ${HALF_RATE:-n/a}\`, paced at half of Rheo's median put
  rate in the table above. Each connection sends on a fixed schedule; a request that cannot go
  out on time goes out as soon as the previous answer arrives. Latency "from schedule" counts
  from the instant a request was due (so a stall shows up in every request it delayed, not in
  one); "from send" counts from when it actually left.

- **limits-off / limits-on** (Rheo only): \`${LIMITS[*]} ${XPHASES[*]}\` against a stream of
  $LIMITS_SHARDS shards, Rheo started with \`--throughput-limits off\` and \`on\` (and
  \`--shard-limit $((LIMITS_SHARDS * 2))\`), the two alternating run by run. Enough shards that no
  shard reaches its 1,000 records/s or 1 MiB/s, so the difference is the cost of the admission
  checks, not throttling; a refused record would show in the errors column.
- **plain / encrypted** (Rheo only): \`${HALF[*]} ${XPHASES[*]}\` on a plain stream and on one
  encrypted at rest (\`rheo-bench --encrypt\`: StartStreamEncryption with alias/aws/kinesis),
  the two alternating run by run.
- **unsigned / sigv4** (Rheo only; the sigv4 row is labelled Rheo (sigv4)): \`${HALF[*]} ${XPHASES[*]}\`
  against the default permissive server (a well-formed fake signature, not checked) and against
  \`rheo serve --auth sigv4 --credentials FILE\` (one principal with an allow-all identity
  policy) with every request signed for real by rheo-bench (\`--secret-key\`: aws-sigv4 over the
  exact body, as the SDKs sign; the client remembers the SHA-256 of its pre-built bodies), the
  two alternating run by run. The server hashes every body, rebuilds the canonical request and
  checks the signature and the identity policy for each request.

$XNOTES
$EXTRA_TABLE

## Fan-out (SubscribeToShard)

Each run is a fresh server and one \`rheo-bench fanout ${FANOUT[*]}\` (kinesis-mock:
\`${KMOCK_FANOUT[*]}\`; it cannot take 1,000 requests/s). Every sub-phase uses a stream of
**one shard** of its own:

- **put-to-get (GetRecords)**: the producer sends one PutRecords of one $FANOUT_SIZE-byte record
  every 1 ms ($FANOUT_RATE records/s) while one consumer polls GetRecords from LATEST (0.5 ms
  pause after an empty answer): latency = arrival at the consumer - PutRecords issued.
- **push, N consumers**: the same producer, N consumers registered (RegisterStreamConsumer) and
  each subscribed with SubscribeToShard from LATEST: latency = arrival of the record's event at
  that consumer - PutRecords issued, over all N copies (every copy must arrive exactly once).
  Cells are p50 / p99 / max in ms, medians of the runs where the sub-phase verified; a server that
  fails a sub-phase shows why.
- **disk floor**: \`rheo-bench disk-baseline --chunk $FANOUT_SIZE --interval-ms 1\`: one record-sized
  write + fdatasync every 1 ms, the pace of the producer, measured just before each of Rheo's runs.
  A durable server cannot acknowledge a record, nor push it, sooner than this. The targets ask
  push p99 <= floor p99 + 1 ms (1 and 5 consumers) and + 3 ms (20 consumers).
- **catch-up**: N records of $FANOUT_SIZE bytes written to one shard, then read from TRIM_HORIZON
  once by one GetRecords reader (Limit 10000, back to back) and once by one SubscribeToShard
  consumer (GetRecords first in odd runs, SubscribeToShard first in even ones), each until every
  record is read once and in order; records/s and MB/s from the read's
  start to the last record's arrival. Rheo runs with its throughput limits off here (as for
  every workload but limits-on), so neither read is paced.

AWS quotes about 70 ms of typical propagation delay for enhanced fan-out (and 200 ms or more for
GetRecords polling, at AWS's 5 calls/s per shard); emulators do not have to pace either way.

$FANOUT_NOTES
Durable floor measured:
${FANOUT_FLOOR:-  - n/a}

$FANOUT_TABLE

## Targets (Rheo, durable, all figures from this run)

$TARGETS_TABLE

## Commands

Every \`rheo-bench\` invocation of this run (\`--endpoint http://127.0.0.1:PORT\` and, for
measured phases, \`--server-pid PID --label NAME\` added; the servers are started as in
\`scripts/bench-peers.sh\`):

$CMD_LIST

Servers (one fresh process per run, PORT from \`--port-base\`):

    node $WORK/node_modules/kinesalite/cli.js --port PORT --createStreamMs 50 --deleteStreamMs 50 --updateStreamMs 50
    (cd $WORK/node_modules/kinesis-local && KINESIS_MOCK_PLAIN_PORT=PORT KINESIS_MOCK_TLS_PORT=PORT+1000 node main.js)
    $WORK/ferrokinesis/bin/ferrokinesis --port PORT --create-stream-ms 50 --delete-stream-ms 50 --update-stream-ms 50
    target/release/rheo serve --port PORT --data-dir \$(mktemp -d) --throughput-limits off   (on for limits-on, with --shard-limit $((LIMITS_SHARDS * 2)); --auth sigv4 --credentials FILE for sigv4)
EOF
log "wrote $OUT"
