#!/usr/bin/env bash
# Memory and restart benchmark of a durable release `rheo` (the issue-4 targets), in one run:
#   1. VmRSS of an empty server, and peak VmRSS (VmHWM) under a put load
#      (8 connections x 500 records x 1 KiB into 4 shards)                      target <= 256 MiB
#   2. VmRSS while data is retained: writes until the data directory holds GIB GiB, sampling VmRSS
#      at every GiB, then idle VmRSS after the fill and after a clean restart (flat = no growth),
#      and the idle server's CPU and read rate over 5 s (background work such as retention)
#   3. restart with GIB GiB retained:
#      a. SIGTERM: how long the shutdown takes, and from the new process's exec until ListShards
#         answers 200                                                            target <= 2 s
#         (once with the page cache warm, once with the data dir's pages dropped from it)
#      b. kill -9 during a put load: from the new exec until ListShards answers  target <= 10 s;
#         then GetRecords from TRIM_HORIZON on shard 0 must return records, and a PutRecord must work
#   4. STREAMS streams x 10 shards (one PutRecords of 10 records per stream): VmRSS target <= 1 GiB,
#      idle CPU and read rate, and the clean restart time with that many streams target <= 2 s
# Restart rows also give the MiB the new process had read (rchar) when it first answered: recovery
# plus whatever background work read in the meantime.
# Prints a Markdown table (metric | value | target | verdict); --json adds one JSON object as the
# last stdout line. Progress goes to stderr. Everything runs in a temp dir under /tmp, removed on exit.
#
# Usage: scripts/bench-memory.sh [--quick] [--gib N] [--streams N] [--json] [--no-build] [--catch-up]
#   --quick      fill 1 GiB, 2 s peak-load measurement, 100 streams (for development)
#   --gib N      GiB to retain in phase 2/3 (default 10)
#   --streams N  streams for phase 4 (default 1000; 0 skips phase 4)
#   --json       also print one JSON object with every figure as the last stdout line
#   --no-build   use target/release/{rheo,rheo-bench} as they are
#   --catch-up   after the clean restart, read everything back from TRIM_HORIZON and report peak VmRSS
# Needs curl and jq. Run it alone on the machine: it is timing-sensitive.
set -euo pipefail
cd "$(dirname "$0")/.."

gib=10
streams=1000
peak_secs=10
json=0
build=1
catch_up=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) gib=1; streams=100; peak_secs=2 ;;
    --gib) gib="$2"; shift ;;
    --streams) streams="$2"; shift ;;
    --json) json=1 ;;
    --no-build) build=0 ;;
    --catch-up) catch_up=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$gib$streams$peak_secs" in
  *[!0-9]*) echo "--gib and --streams take whole numbers" >&2; exit 2 ;;
esac
[ "$gib" -ge 1 ] || { echo "--gib must be at least 1" >&2; exit 2; }
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done
if [ "$build" = 1 ]; then
  cargo build --release -p rheo-server -p rheo-bench >&2
fi
pid=""      # the server
load_pid="" # a background rheo-bench put
work=""
cleanup() {
  local p
  for p in "$load_pid" "$pid"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
      kill -KILL "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  [ -z "$work" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
work=$(mktemp -d /tmp/rheo-bench-memory.XXXXXX)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || rev+=" + uncommitted changes"
# Private copies: the target dir is shared, and a rebuild mid-run must not change what restarts.
mkdir "$work/bin"
cp target/release/rheo target/release/rheo-bench "$work/bin/"
rheo=$work/bin/rheo
bench_bin=$work/bin/rheo-bench

log() { printf '[bench-memory %s] %s\n' "$(date +%T)" "$*" >&2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$pid/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
rss_mib() { mib "$(kib VmRSS)"; }
hwm_mib() { mib "$(kib VmHWM)"; }
data_bytes() { du -sb "$1" | cut -f1; }
# idle_load SECS: prints "CPU-cores MiB/s-read" of the server over SECS seconds with no requests.
idle_load() {
  local c0 r0 c1 r1
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  r0=$(awk '$1 == "rchar:" {print $2}' "/proc/$pid/io")
  sleep "$1"
  c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  r1=$(awk '$1 == "rchar:" {print $2}' "/proc/$pid/io")
  awk -v c=$((c1 - c0)) -v r=$((r1 - r0)) -v s="$1" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%.2f %.1f", c / hz / s, r / 2^20 / s}'
}
# read_mib: bytes the server has read through read-like syscalls so far (rchar), in MiB.
read_mib() { awk '$1 == "rchar:" {printf "%.1f", $2 / 2^20}' "/proc/$pid/io"; }
# active_seg_mib DATA_DIR: size of the newest journal segment, the one recovery scans in full.
active_seg_mib() {
  local f
  f=$(find "$1/journal" -name '*.seg' | sort | tail -n 1)
  awk -v b="$(stat -c %s "$f")" 'BEGIN {printf "%.1f", b / 2^20}'
}
evict_cache() {
  sync -f "$1/journal" 2>/dev/null || sync
  find "$1" -type f -exec dd if={} iflag=nocache count=0 status=none \;
}

# --- results: kept in order for the table and the JSON object ---------------------------------
keys=()
declare -A val unit target verdict
# record KEY VALUE UNIT [TARGET-DESCRIPTION CMP LIMIT]: CMP is le or ge (numbers), or eq (strings).
record() {
  local ok=0
  keys+=("$1")
  val[$1]=$2
  unit[$1]=$3
  target[$1]=""
  verdict[$1]=""
  if [ $# -ge 6 ]; then
    target[$1]=$4
    case "$5" in
      le) awk -v v="$2" -v l="$6" 'BEGIN {exit !(v != "" && v + 0 <= l + 0)}' && ok=1 ;;
      ge) awk -v v="$2" -v l="$6" 'BEGIN {exit !(v != "" && v + 0 >= l + 0)}' && ok=1 ;;
      eq) [ "$2" = "$6" ] && ok=1 ;;
    esac
    if [ "$ok" = 1 ]; then verdict[$1]=met; else verdict[$1]=MISSED; fi
  fi
  log "$1: $2 $3 ${verdict[$1]}"
}

# --- server control ----------------------------------------------------------------------------
port=""
serve_args=()
# start_server DATA_DIR: starts rheo and sets pid and t_exec. The first start (port 0) waits for the
# ready line to learn the port; restarts reuse that port and return at once, so that wait_serving's
# probes measure from the exec.
start_server() {
  local data=$1 i
  : >"$work/out"
  : >"$work/err.cur"
  t_exec=$(now_ms)
  "$rheo" serve --port "${port:-0}" --data-dir "$data" "${serve_args[@]}" >"$work/out" 2>"$work/err.cur" &
  pid=$!
  [ -n "$port" ] && return 0
  for i in $(seq 1 3000); do
    grep -q 'rheo ready on' "$work/out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$work/err.cur" >&2; echo "rheo exited" >&2; exit 1; }
    [ "$i" = 3000 ] && { echo "rheo not ready after 30 s" >&2; exit 1; }
    sleep 0.01
  done
  endpoint=$(grep -o 'http://[0-9.:]*' "$work/out" | head -n 1)
  port=${endpoint##*:}
}
# ready_line_ms: ms from the last exec to the server's own "rheo ready" log line (its timestamp).
ready_line_ms() {
  local ts
  ts=$(sed 's/\x1b\[[0-9;]*m//g' "$work/err.cur" | grep -m 1 'rheo ready' | cut -d ' ' -f 1)
  echo $(($(date -d "$ts" +%s%N) / 1000000 - t_exec))
}
# stop_server SIGNAL: sends SIGNAL and waits; sets t_stop_ms to how long the exit took.
stop_server() {
  local t0
  t0=$(now_ms)
  kill "-$1" "$pid"
  wait "$pid" 2>/dev/null || true
  t_stop_ms=$(($(now_ms) - t0))
  pid=""
  cat "$work/err.cur" >>"$work/err"
}

sig=$(printf '0%.0s' $(seq 1 64))
auth="Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=$sig"
# kapi OPERATION JSON: one Kinesis JSON 1.1 call; prints the body; fails on a non-200 answer.
kapi() {
  local code
  code=$(curl -sS --max-time 10 -o "$work/resp" -w '%{http_code}' \
    -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: Kinesis_20131202.$1" \
    -H 'X-Amz-Date: 20260101T000000Z' -H "$auth" --data-binary "$2" "$endpoint/" 2>/dev/null) || code=000
  cat "$work/resp" 2>/dev/null || true
  [ "$code" = 200 ]
}
# probe STREAM: ListShards over bash's /dev/tcp, no fork, so that restart times are measured to a few
# ms rather than to curl's start-up time; succeeds on a 200 answer.
probe() {
  local body="{\"StreamName\":\"$1\"}" line="" host=${endpoint#http://}
  host=${host%:*}
  {
    printf 'POST / HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/x-amz-json-1.1\r\n' "$host" "$port"
    printf 'X-Amz-Target: Kinesis_20131202.ListShards\r\nX-Amz-Date: 20260101T000000Z\r\n%s\r\n' "$auth"
    printf 'Content-Length: %d\r\nConnection: close\r\n\r\n%s' "${#body}" "$body"
    read -r -t 10 line <&3
  } 2>/dev/null 3<>"/dev/tcp/$host/$port" >&3 || return 1
  [[ $line == "HTTP/1.1 200"* ]]
}
# wait_serving STREAM: probes until ListShards answers 200; prints ms since t_exec.
wait_serving() {
  local i
  for i in $(seq 1 30000); do
    if probe "$1"; then
      echo $(($(now_ms) - t_exec))
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$work/err.cur" >&2; echo "rheo exited" >&2; return 1; }
    [ "$i" = 30000 ] && { echo "not serving after 30000 probes" >&2; return 1; }
    sleep 0.002
  done
}

bench() { "$bench_bin" --endpoint "$endpoint" --stream "$1" "${@:2}"; }
# For `bench_bg ... &`: exec, so that $! is rheo-bench itself and a kill reaches it.
bench_bg() { exec "$bench_bin" --endpoint "$endpoint" --stream "$1" "${@:2}"; }

# --- phases 1-3 ----------------------------------------------------------------------------------
# Limits off: the put load runs far past AWS's per-shard rates.
serve_args=(--create-stream-ms 0 --throughput-limits off)
data="$work/data"
gib_bytes=$((1024 * 1024 * 1024))
log "phase 1: empty server, then ${peak_secs}s of put load"
start_server "$data"
sleep 1
record rss_idle_empty_mib "$(rss_mib)" MiB
bench mem setup --shards 4 >/dev/null 2>>"$work/bench.err"

# sample_marks: records VmRSS once the data dir first holds k GiB, for every k not yet sampled.
next_mark=1
sample_marks() {
  local b
  b=$(data_bytes "$data")
  while [ "$next_mark" -le "$gib" ] && [ "$b" -ge $((next_mark * gib_bytes)) ]; do
    record "rss_at_${next_mark}_gib_mib" "$(rss_mib)" MiB
    next_mark=$((next_mark + 1))
  done
}
# poll_load: samples the marks while the background load runs; stops it once the data dir holds
# $gib GiB when called with "fill".
poll_load() {
  while kill -0 "$load_pid" 2>/dev/null; do
    sample_marks
    if [ "${1:-}" = fill ] && [ "$next_mark" -gt "$gib" ]; then
      kill -TERM "$load_pid" 2>/dev/null || true
    fi
    sleep 0.2
  done
  wait "$load_pid" 2>/dev/null || true
  load_pid=""
}

bench_bg mem --server-pid "$pid" --json put --duration "$peak_secs" --warmup 2 \
  --connections 8 --batch 500 --record-size 1024 >"$work/peak.json" 2>>"$work/bench.err" &
load_pid=$!
poll_load
put_rate=$(tail -n 1 "$work/peak.json" | jq -r '.records_per_sec | floor')
record put_rec_per_sec_during_peak "$put_rate" rec/s
record rss_peak_under_put_mib "$(hwm_mib)" MiB "<= 256 MiB" le 256

log "phase 2: filling the data dir to $gib GiB"
if [ "$next_mark" -le "$gib" ]; then
  bench_bg mem put --duration 100000 --warmup 0 --connections 8 --batch 500 --record-size 1024 \
    >/dev/null 2>>"$work/bench.err" &
  load_pid=$!
  poll_load fill
fi
series=""
for k in $(seq 1 "$gib"); do
  series+="${series:+ / }${val[rss_at_${k}_gib_mib]:-?}"
done
record rss_series_mib "$series" MiB
record data_dir_gib "$(awk -v b="$(data_bytes "$data")" 'BEGIN {printf "%.2f", b / 2^30}')" GiB
record rss_peak_during_fill_mib "$(hwm_mib)" MiB
sleep 2
record rss_idle_after_fill_mib "$(rss_mib)" MiB
read -r cores mibs <<<"$(idle_load 5)"
record idle_cpu_cores_after_fill "$cores" cores
record idle_read_mib_per_s_after_fill "$mibs" MiB/s

log "phase 3a: SIGTERM and restart with $gib GiB retained"
stop_server TERM
record sigterm_shutdown_ms "$t_stop_ms" ms
record active_segment_mib "$(active_seg_mib "$data")" MiB
start_server "$data"
ms=$(wait_serving mem)
record restart_ready_line_ms "$(ready_line_ms)" ms
record restart_serving_ms "$ms" ms "<= 2000 ms" le 2000
record restart_read_mib "$(read_mib)" MiB
sleep 2
record rss_idle_after_restart_mib "$(rss_mib)" MiB
record rss_peak_during_restart_mib "$(hwm_mib)" MiB
# The same restart with the data dir's files out of the page cache (as after a reboot). Only this
# directory's pages are dropped (fadvise DONTNEED through dd), not the machine's whole cache.
stop_server TERM
evict_cache "$data"
start_server "$data"
ms=$(wait_serving mem)
record cold_restart_ready_line_ms "$(ready_line_ms)" ms
record cold_restart_serving_ms "$ms" ms "<= 2000 ms" le 2000
record cold_restart_read_mib "$(read_mib)" MiB
if [ "$catch_up" = 1 ]; then
  bench mem --server-pid "$pid" get --idle-ms 1000 --get-duration 1200 >"$work/get.out" 2>>"$work/bench.err"
  grep -E '^get' "$work/get.out" >&2 || true
  record rss_peak_after_catch_up_read_mib "$(hwm_mib)" MiB
fi

log "phase 3b: kill -9 during a put load, then restart"
bench_bg mem put --duration 100000 --warmup 0 --connections 8 --batch 500 --record-size 1024 \
  >/dev/null 2>>"$work/bench.err" &
load_pid=$!
sleep 3
stop_server KILL
# The client is stopped before the restart so that the figure is recovery time alone.
kill -TERM "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true
load_pid=""
record active_segment_mib_at_crash "$(active_seg_mib "$data")" MiB
record data_dir_gib_at_crash "$(awk -v b="$(data_bytes "$data")" 'BEGIN {printf "%.2f", b / 2^30}')" GiB
start_server "$data"
ms=$(wait_serving mem)
record crash_restart_ready_line_ms "$(ready_line_ms)" ms
record crash_restart_serving_ms "$ms" ms "<= 10000 ms" le 10000
record crash_restart_read_mib "$(read_mib)" MiB
got=0
if kapi GetShardIterator '{"StreamName":"mem","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}' >"$work/it.json"; then
  it=$(jq -r .ShardIterator "$work/it.json")
  if kapi GetRecords "{\"ShardIterator\":\"$it\",\"Limit\":100}" >"$work/recs.json"; then
    got=$(jq '.Records | length' "$work/recs.json")
  fi
fi
record crash_get_trim_horizon_records "$got" records ">= 1" ge 1
put_after=failed
if kapi PutRecord '{"StreamName":"mem","Data":"aGVsbG8=","PartitionKey":"after-crash"}' >/dev/null; then
  put_after=ok
fi
record crash_put_after_restart "$put_after" "" "answers 200" eq ok
sleep 2
record rss_idle_after_crash_restart_mib "$(rss_mib)" MiB
stop_server TERM
rm -rf "$data"

# --- phase 4: many streams -----------------------------------------------------------------------
if [ "$streams" -gt 0 ]; then
  log "phase 4: $streams streams x 10 shards"
  serve_args=(--create-stream-ms 0 --throughput-limits off --shard-limit $((streams * 10 + 100)))
  data="$work/data-streams"
  port=""
  start_server "$data"
  record rss_idle_empty_streams_server_mib "$(rss_mib)" MiB
  # One curl process per phase with a config of many requests: keep-alive, no fork per call.
  # curl_many OPERATION FILE: FILE has one JSON body per line.
  curl_many() {
    local body first=1
    while IFS= read -r body; do
      [ "$first" = 1 ] || echo next
      first=0
      printf 'url = "%s/"\n' "$endpoint"
      printf 'header = "Content-Type: application/x-amz-json-1.1"\n'
      printf 'header = "X-Amz-Target: Kinesis_20131202.%s"\n' "$1"
      printf 'header = "X-Amz-Date: 20260101T000000Z"\n'
      printf 'header = "%s"\n' "$auth"
      printf 'data-binary = "%s"\n' "${body//\"/\\\"}"
      printf 'write-out = "%%{http_code}\\n"\noutput = "/dev/null"\n'
    done <"$2" >"$work/curl.cfg"
    curl -sS -K "$work/curl.cfg" | sort | uniq -c | awk '{printf "%s x %s; ", $1, $2}'
  }
  for i in $(seq 1 "$streams"); do
    printf '{"StreamName":"s%05d","ShardCount":10}\n' "$i"
  done >"$work/create.lines"
  t0=$(now_ms)
  codes=$(curl_many CreateStream "$work/create.lines")
  record create_streams_s "$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN {printf "%.1f", ms / 1000}')" s
  log "CreateStream answers: $codes"
  # 10 records per stream, one at the middle of each shard's hash-key range: (2k+1) * 2^128 / 20.
  mids=(17014118346046923173168730371588410572 51042355038140769519506191114765231718
    85070591730234615865843651857942052864 119098828422328462212181112601118874009
    153127065114422308558518573344295695155 187155301806516154904856034087472516300
    221183538498610001251193494830649337446 255211775190703847597530955573826158592
    289240011882797693943868416317002979737 323268248574891540290205877060179800883)
  recs=""
  for k in $(seq 0 9); do
    recs+="${recs:+,}{\"Data\":\"cmhlby1tZW1vcnktYmVuY2g=\",\"PartitionKey\":\"p$k\",\"ExplicitHashKey\":\"${mids[$k]}\"}"
  done
  for i in $(seq 1 "$streams"); do
    printf '{"StreamName":"s%05d","Records":[%s]}\n' "$i" "$recs"
  done >"$work/put.lines"
  t0=$(now_ms)
  codes=$(curl_many PutRecords "$work/put.lines")
  record put_records_all_streams_s "$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN {printf "%.1f", ms / 1000}')" s
  log "PutRecords answers: $codes"
  last=$(printf 's%05d' "$streams")
  kapi DescribeStreamSummary "{\"StreamName\":\"$last\"}" >/dev/null ||
    { echo "stream $last missing" >&2; exit 1; }
  sleep 2
  record rss_streams_mib "$(rss_mib)" MiB "<= 1024 MiB" le 1024
  record rss_peak_streams_mib "$(hwm_mib)" MiB
  read -r cores mibs <<<"$(idle_load 5)"
  record streams_idle_cpu_cores "$cores" cores
  record streams_idle_read_mib_per_s "$mibs" MiB/s
  record data_dir_streams_mib "$(awk -v b="$(data_bytes "$data")" 'BEGIN {printf "%.1f", b / 2^20}')" MiB
  stop_server TERM
  record streams_sigterm_shutdown_ms "$t_stop_ms" ms
  start_server "$data"
  ms=$(wait_serving "$last")
  record streams_restart_ready_line_ms "$(ready_line_ms)" ms
  record streams_restart_serving_ms "$ms" ms "<= 2000 ms" le 2000
  record streams_restart_read_mib "$(read_mib)" MiB
  # ListStreams, page by page: how many streams the restarted server knows.
  n=0
  req='{"Limit":1000}'
  while kapi ListStreams "$req" >"$work/ls.json"; do
    n=$((n + $(jq '.StreamNames | length' "$work/ls.json")))
    [ "$(jq -r .HasMoreStreams "$work/ls.json")" = true ] || break
    req=$(jq -c '{Limit: 1000, ExclusiveStartStreamName: .StreamNames[-1]}' "$work/ls.json")
  done
  record streams_listed_after_restart "$n" streams
  sleep 2
  record rss_streams_after_restart_mib "$(rss_mib)" MiB
  stop_server TERM
fi

# --- report --------------------------------------------------------------------------------------
echo "### rheo memory and restart ($gib GiB retained, $streams streams x 10 shards, $(nproc) cores, $(date -u +%F), $rev)"
echo
echo "| metric | value | target | verdict |"
echo "|---|---|---|---|"
for k in "${keys[@]}"; do
  echo "| $k | ${val[$k]} ${unit[$k]} | ${target[$k]} | ${verdict[$k]} |"
done
if [ "$json" = 1 ]; then
  for k in "${keys[@]}"; do
    jq -cn --arg k "$k" --arg v "${val[$k]}" --arg u "${unit[$k]}" --arg t "${target[$k]}" \
      --arg r "${verdict[$k]}" \
      '{($k): {value: ($v | tonumber? // $v), unit: $u, target: $t, verdict: $r}}'
  done | jq -cs 'add'
fi
