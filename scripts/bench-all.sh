#!/usr/bin/env bash
# Every issue-4 figure in one go, written into docs/benchmarks.md:
#   1. scripts/bench-peers.sh   Rheo beside kinesalite, kinesis-mock and ferrokinesis (medians of 3)
#   2. scripts/bench-scaling.sh put throughput and latency over shards x connections
#   3. scripts/bench-memory.sh  RSS idle / under load / with N GiB retained, restart times,
#                               1,000 streams x 10 shards
#   4. scripts/profile.sh       where a record's server CPU goes (put and catch-up get)
# Run it on an otherwise idle machine: every figure shares the same 2 cores.
#
# Usage: scripts/bench-all.sh [--quick] [--out FILE]
#   --quick     one peer run, short phases, 1 GiB retained (for checking the script)
#   --out FILE  where to write (default docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 out=docs/benchmarks.md
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 64 ;;
  esac
  shift
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo build --release -p rheo-server -p rheo-bench >/dev/null

peer_args=() mem_args=(--no-build)
if [ "$quick" = 1 ]; then peer_args=(--quick); mem_args+=(--quick); fi

echo "== 1/4 peers" >&2
scripts/bench-peers.sh "${peer_args[@]}" --out "$tmp/peers.md" >&2
echo "== 2/4 scaling" >&2
scripts/bench-scaling.sh --no-build --out "$tmp/scaling.md" >&2
echo "== 3/4 memory and restart" >&2
scripts/bench-memory.sh "${mem_args[@]}" >"$tmp/memory.md"
echo "== 4/4 profile" >&2
scripts/profile.sh --no-build >"$tmp/profile.md"

{
  cat "$tmp/peers.md"
  echo
  echo "## Scaling: put throughput and latency by shards and connections"
  echo
  echo "Reproduce: \`scripts/bench-scaling.sh\` (one fresh durable server per point)."
  echo
  cat "$tmp/scaling.md"
  echo
  echo "## Memory and restart"
  echo
  echo "Reproduce: \`scripts/bench-memory.sh${quick:+}$( [ "$quick" = 1 ] && echo ' --quick')\`."
  echo
  cat "$tmp/memory.md"
  echo
  echo "## Profile: where a record's server CPU goes"
  echo
  echo "Reproduce: \`scripts/profile.sh\` (perf self time grouped by symbol patterns in"
  echo "\`scripts/profile_categories.py\`; the design notes are in"
  echo "[docs/design/profile.md](design/profile.md))."
  echo
  sed 's/^## /### /' "$tmp/profile.md"
} >"$out"
echo "wrote $out" >&2
