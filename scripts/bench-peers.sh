#!/usr/bin/env bash
# Benchmarks Rheo against its peers (kinesalite, kinesis-mock, ferrokinesis) on
# this machine with one client (rheo-bench), one server at a time, and writes
# docs/benchmarks.md.
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
#   -- ARGS...            extra arguments passed to every `rheo-bench all`
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK=/tmp/rheo-peers
OUT="$REPO/docs/benchmarks.md"
QUICK=0
RUNS=""
PORT_BASE=45670
DO_KINESALITE=1 DO_KMOCK=1 DO_FERRO=1 DO_RHEO=1 DO_INSTALL=1
EXTRA=()
SKIPPED=""

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
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

if [ -z "$RUNS" ]; then
  if [ "$QUICK" = 1 ]; then RUNS=1; else RUNS=3; fi
fi
# Workload: 1 KiB records, 4 shards, 8 connections x 500 records.
WORKLOAD=(--shards 4 --connections 8 --batch 500 --record-size 1024)
if [ "$QUICK" = 1 ]; then
  PHASES=(--duration 4 --warmup 1 --e2e-duration 4 --rate 1000)
else
  PHASES=(--duration 10 --warmup 2 --e2e-duration 10 --rate 1000)
fi

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
BENCH="$REPO/target/release/rheo-bench"
RHEO="$REPO/target/release/rheo"
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

# ---------------------------------------------------------------- servers
SERVER_PID=""
SERVER_DIR=""

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until the endpoint answers ListStreams with HTTP 200.
wait_ready() {
  local port=$1 pid=$2 i
  for i in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/" \
        -H 'Content-Type: application/x-amz-json-1.1' \
        -H 'X-Amz-Target: Kinesis_20131202.ListStreams' \
        -H "X-Amz-Date: $(date -u +%Y%m%dT%H%M%SZ)" \
        -H "Authorization: AWS4-HMAC-SHA256 Credential=test/$(date -u +%Y%m%d)/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000" \
        -d '{}' 2>/dev/null | grep -q '^200$'; then
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
    rheo)
      SERVER_DIR="$(mktemp -d "$WORK/rheo-data.XXXXXX")"
      "$RHEO" serve --port "$port" --data-dir "$SERVER_DIR" \
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
[ "$DO_RHEO" = 1 ] && SERVERS+=(rheo)
if [ ${#SERVERS[@]} -eq 0 ]; then log "no server to benchmark"; exit 1; fi

COMPARE_ARGS=()
DONE=()
port=$PORT_BASE
for name in "${SERVERS[@]}"; do
  while ! port_free "$port"; do port=$((port + 1)); done
  log "== $name on port $port: $RUNS run(s)"
  : >"$RESULTS/$name.jsonl"
  for run in $(seq 1 "$RUNS"); do
    # A fresh server per run: runs do not inherit each other's data or heap.
    if ! start_server "$name" "$port"; then break; fi
    log "$name run $run/$RUNS"
    set +e
    "$BENCH" --endpoint "http://127.0.0.1:$port" --server-pid "$SERVER_PID" --label "$name" --json \
      all "${WORKLOAD[@]}" "${PHASES[@]}" "${EXTRA[@]}" \
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
  fi
  port=$((port + 1))
done
if [ ${#COMPARE_ARGS[@]} -eq 0 ]; then log "no server produced results"; exit 1; fi

log "disk baseline (fdatasync after each 1 MiB chunk, then each 4 KiB chunk)"
DISK_1M="$("$BENCH" disk-baseline --dir "$WORK" --chunk 1048576 --total-mb 256 --duration 10 2>/dev/null | head -n 1 || true)"
DISK_4K="$("$BENCH" disk-baseline --dir "$WORK" --chunk 4096 --total-mb 64 --duration 5 2>/dev/null | head -n 1 || true)"

TABLE="$("$BENCH" compare "${COMPARE_ARGS[@]}" --baseline kinesalite)"

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
VERSIONS=""
for name in "${DONE[@]}"; do
  case "$name" in
    kinesalite) v="$(node -p "require('$WORK/node_modules/kinesalite/package.json').version" 2>/dev/null || echo '?')" ;;
    kinesis-mock) v="kinesis-local $(node -p "require('$WORK/node_modules/kinesis-local/package.json').version" 2>/dev/null || echo '?')" ;;
    ferrokinesis) v="$(cargo install --list --root "$WORK/ferrokinesis" 2>/dev/null | sed -n 's/^ferrokinesis \(v[^:]*\):.*/\1/p' | head -n 1)"; v="${v:-?}" ;;
    rheo) v="$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?') (durable, default fsync)" ;;
  esac
  VERSIONS+="- $name: $v"$'\n'
done

mkdir -p "$(dirname "$OUT")"
cat >"$OUT" <<EOF
# Benchmarks: Rheo and its peers

Generated by \`$COMMAND\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Regenerate with the same
command; raw results (one JSON object per run) were kept in \`$RESULTS\`.

## Machine

- CPU: ${CPU_MODEL:-unknown}, $CORES cores (client and server share them)
- RAM: ${MEM:-unknown}
- Kernel: $KERNEL
- Disk under the work dir: $DISK_DEV ($DISK_FS${DISK_MODEL:+, $DISK_MODEL})
- Synced write bandwidth (\`rheo-bench disk-baseline\`):
  - ${DISK_1M:-n/a}
  - ${DISK_4K:-n/a}

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
- **e2e**: 1000 records/s written while one consumer per shard polls from LATEST (1 ms
  pause after an empty answer); latency = arrival at the consumer - PutRecords issued.
- **server CPU**: cores used by the server process during the put phase (utime+stime from
  /proc); **peak RSS**: largest VmRSS seen during any phase.

The e2e producer sends one request per 10 ms tick; a server whose PutRecords takes
longer than that cannot be driven at the target rate, and its e2e latency includes its
own queueing. The achieved rate is in the raw JSON (\`e2e.achieved_rate\`).

Figures are medians of $RUNS run(s). MB = 10^6 bytes of record payload.

## Results

$TABLE
EOF
log "wrote $OUT"
